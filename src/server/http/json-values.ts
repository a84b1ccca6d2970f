import { LwM2MError } from '../../core/errors.js';
import { LwM2MPath, parsePath } from '../../core/path.js';
import { coerceValue, describe } from '../../codec/values.js';
import {
  recordsToNode, resourceModelAt, type LwM2MNode, type ObjectInstanceNode, type PathValue, type ResourceValue,
} from '../../model/node.js';
import type { ModelLookup, ResourceType } from '../../model/types.js';

/**
 * JSON → typed resource values, the inverse of the API's output conventions (`jsonValue` in
 * operations/values.ts): Opaque as base64 (or `{"hex"}`, `{"base64"}`, `{"text"}`), Time as epoch
 * seconds or an ISO 8601 string, Objlnk as `"3:0"` or `{objectId, instanceId}`, integers beyond 2^53 as
 * decimal strings. The model type of the path decides; without a model the JSON type does.
 */

/** At most this many values in one request body (schemas say so too; this bounds the loops). */
export const MAX_VALUES = 4096;

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const INT_RE = /^-?[0-9]{1,20}$/;

type JsonObject = Record<string, unknown>;

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `{"hex": "…"}`, `{"base64": "…"}` or `{"text": "…"}`: an explicit opaque literal. */
function opaqueLiteral(v: unknown): Uint8Array | undefined {
  if (!isPlainObject(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const [k] = keys;
  const s = v[k as string];
  if (typeof s !== 'string') return undefined;
  switch (k) {
    case 'hex':
      if (!HEX_RE.test(s)) throw new LwM2MError('BAD_VALUE', `"hex" value is not an even number of hex digits`);
      return new Uint8Array(Buffer.from(s, 'hex'));
    case 'base64':
      if (!BASE64_RE.test(s)) throw new LwM2MError('BAD_VALUE', `"base64" value is not base64`);
      return new Uint8Array(Buffer.from(s, 'base64'));
    case 'text':
      return new Uint8Array(Buffer.from(s, 'utf8'));
    default:
      return undefined;
  }
}

function isOpaqueLiteral(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'hex' || keys[0] === 'base64' || keys[0] === 'text') && typeof v[keys[0]] === 'string';
}

/** Converts one JSON value to the typed value of the resource at `path` (model type, else inferred). */
export function jsonToResourceValue(json: unknown, path: LwM2MPath, models: ModelLookup | undefined): ResourceValue {
  const type = resourceModelAt(models, path)?.type;
  return coerceValue(preconvert(json, type, path.toString()), type, path.toString());
}

function preconvert(json: unknown, type: ResourceType | undefined, where: string): ResourceValue {
  const bad = (what: string): LwM2MError =>
    new LwM2MError('BAD_VALUE', `${where}: ${what} is not a valid ${type ?? 'value'}`);
  const literal = opaqueLiteral(json);
  if (literal) {
    if (type === undefined || type === 'opaque' || type === 'none') return literal;
    throw bad('an opaque literal');
  }
  switch (type) {
    case 'opaque':
      if (typeof json === 'string') {
        if (!BASE64_RE.test(json)) throw bad(`${describe(json)} (opaque values are base64, or {"hex"|"base64"|"text": …})`);
        return new Uint8Array(Buffer.from(json, 'base64'));
      }
      throw bad(jsonDescribe(json));
    case 'integer':
    case 'unsignedInteger':
      if (typeof json === 'string' && INT_RE.test(json)) return BigInt(json);
      break;
    case 'time':
      if (typeof json === 'string') {
        const ms = Date.parse(json);
        if (Number.isNaN(ms)) throw bad(`${describe(json)} (time values are epoch seconds or ISO 8601)`);
        return new Date(Math.floor(ms / 1000) * 1000);
      }
      break;
    case 'objlnk':
      if (isPlainObject(json) && typeof json.objectId === 'number' && typeof json.instanceId === 'number') {
        return { objectId: json.objectId, instanceId: json.instanceId };
      }
      break;
    default:
      break;
  }
  if (typeof json === 'string' || typeof json === 'boolean') return json;
  if (typeof json === 'number') {
    if (!Number.isFinite(json)) throw bad(String(json));
    return json;
  }
  throw bad(jsonDescribe(json));
}

function jsonDescribe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return describe(v as ResourceValue);
}

/**
 * The leaf records of `json` found at `path`: a single value, or for a resource level path a map
 * `{"0": v, "1": w}` / array `[v, w]` of resource instances (multiple resource).
 */
export function jsonToRecords(path: LwM2MPath, json: unknown, models: ModelLookup | undefined, out: PathValue[] = []): PathValue[] {
  const multiple = path.depth === 3 && (Array.isArray(json) || (isPlainObject(json) && !isOpaqueLiteral(json)));
  if (!multiple) {
    if (path.depth < 3) throw new LwM2MError('BAD_VALUE', `${path.toString()} is not a resource: give its resources`);
    out.push({ path, value: jsonToResourceValue(json, path, models) });
    return out;
  }
  const entries: Array<[string, unknown]> = Array.isArray(json) ? json.map((v, i) => [String(i), v]) : Object.entries(json as JsonObject);
  if (out.length + entries.length > MAX_VALUES) throw new LwM2MError('BAD_REQUEST', `more than ${MAX_VALUES} values`);
  for (const [k, v] of entries) {
    if (!/^[0-9]{1,5}$/.test(k)) throw new LwM2MError('BAD_PATH', `${path.toString()}: resource instance id "${k}" is not a decimal id`);
    out.push({ path: path.child(Number(k)), value: jsonToResourceValue(v, path.child(Number(k)), models) });
  }
  return out;
}

/**
 * A values map to records. Keys are absolute paths (`"/3/0/14"`) or paths relative to `base`
 * (`"14"`, `"7/0"`); every path must lie under `base` (when given).
 */
export function valuesToRecords(values: Readonly<Record<string, unknown>>, models: ModelLookup | undefined, base?: LwM2MPath): PathValue[] {
  const entries = Object.entries(values);
  if (entries.length > MAX_VALUES) throw new LwM2MError('BAD_REQUEST', `more than ${MAX_VALUES} values`);
  const out: PathValue[] = [];
  for (const [key, v] of entries) {
    const path = keyPath(key, base);
    if (base && !base.contains(path)) {
      throw new LwM2MError('BAD_PATH', `"${key}" is not under ${base.toString()}`);
    }
    jsonToRecords(path, v, models, out);
  }
  return out;
}

function keyPath(key: string, base: LwM2MPath | undefined): LwM2MPath {
  if (key.startsWith('/') || !base) return parsePath(key);
  const rel = parsePath(key);
  if (base.depth + rel.depth > 4) throw new LwM2MError('BAD_PATH', `"${key}" under ${base.toString()} is deeper than a resource instance`);
  return LwM2MPath.of(...base.ids, ...rel.ids);
}

/** What a Write body holds: `value` for the target itself, or `values` keyed by (relative) path. */
export interface WriteBody {
  value?: unknown;
  values?: Record<string, unknown>;
}

/** The node a Write of `body` to `target` sends. */
export function writeBodyToNode(target: LwM2MPath, body: WriteBody, models: ModelLookup | undefined): LwM2MNode {
  if (target.depth < 2) throw new LwM2MError('BAD_PATH', `write needs an instance, resource or resource instance path, got ${target.toString()}`);
  const hasValue = body.value !== undefined;
  const hasValues = body.values !== undefined;
  if (hasValue === hasValues) throw new LwM2MError('BAD_REQUEST', 'give exactly one of "value" (for the target itself) or "values" (a map of paths)');
  const records = hasValue ? jsonToRecords(target, body.value, models) : valuesToRecords(body.values as Record<string, unknown>, models, target);
  if (records.length === 0 && target.depth !== 3) throw new LwM2MError('BAD_REQUEST', 'nothing to write');
  return recordsToNode(target, records, models);
}

/** The instance a Create or a Bootstrap-Write sends: `values` keyed by resource id (or path under `/oid/iid`). */
export function valuesToInstanceNode(path: LwM2MPath, values: Readonly<Record<string, unknown>>, models: ModelLookup | undefined): ObjectInstanceNode {
  if (path.depth !== 2) throw new LwM2MError('BAD_PATH', `${path.toString()} is not an object instance path`);
  const node = recordsToNode(path, valuesToRecords(values, models, path), models);
  if (node.kind !== 'instance') throw new LwM2MError('INTERNAL', 'records did not build an instance');
  return node;
}
