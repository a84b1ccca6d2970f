/**
 * JSON/YAML values of a bootstrap config → typed LwM2M resource values, by the object model: the
 * conversions a config file needs on top of the codecs' {@link coerceValue} (Opaque as hex, Time as ISO
 * 8601 text), plus the model's range (numbers) or length (strings, opaque) bounds, checked here so a bad
 * config fails when it is loaded rather than on a device.
 */
import { LwM2MError } from '../../core/errors.js';
import { coerceValue } from '../../codec/values.js';
import type { ObjectInstanceNode, ResourceNode, ResourceValue } from '../../model/node.js';
import type { ObjectModel, ResourceModel } from '../../model/types.js';

export type BootstrapScalar = string | number | boolean;
/** A single value, or for a multiple resource a map of resource instance id → value (or a list, ids 0…n-1). */
export type BootstrapResourceValue = BootstrapScalar | readonly BootstrapScalar[] | Readonly<Record<string, BootstrapScalar>>;

const HEX = /^[0-9a-fA-F]*$/;

/** `"0a1B…"` (optional `0x`, `:` and spaces ignored) → bytes; else BAD_VALUE naming `where`. */
export function hexBytes(text: string, where: string): Uint8Array {
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || !HEX.test(clean)) {
    throw new LwM2MError('BAD_VALUE', `${where}: "${text.length > 40 ? `${text.slice(0, 40)}…` : text}" is not an even-length hex string`);
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

/** One scalar converted to the resource's type and checked against its range. */
export function toResourceValue(model: ResourceModel, raw: BootstrapScalar, where: string): ResourceValue {
  let v: ResourceValue = raw;
  if (model.type === 'opaque' && typeof raw === 'string') v = hexBytes(raw, where);
  else if (model.type === 'time' && typeof raw === 'string') {
    const d = new Date(raw);
    if (Number.isNaN(d.getTime())) throw new LwM2MError('BAD_VALUE', `${where}: "${raw}" is not an ISO 8601 time (or give epoch seconds)`);
    v = d;
  } else if (model.type === 'none') {
    throw new LwM2MError('BAD_VALUE', `${where}: resource ${model.id} (${model.name}) has no value type (an executable?)`);
  }
  const out = coerceValue(v, model.type, where);
  checkBounds(model, out, where);
  return out;
}

function checkBounds(model: ResourceModel, v: ResourceValue, where: string): void {
  const r = model.range;
  const bad = (what: string): LwM2MError => new LwM2MError('BAD_VALUE', `${where} (${model.name}): ${what}`);
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (r?.min !== undefined && v < r.min) throw bad(`${String(v)} is below the minimum ${r.min}`);
    if (r?.max !== undefined && v > r.max) throw bad(`${String(v)} is above the maximum ${r.max}`);
    return;
  }
  if (r !== undefined && (typeof v === 'string' || v instanceof Uint8Array)) {
    const unit = typeof v === 'string' ? 'characters' : 'bytes';
    if (r.min !== undefined && v.length < r.min) throw bad(`at least ${r.min} ${unit}, got ${v.length}`);
    if (r.max !== undefined && v.length > r.max) throw bad(`at most ${r.max} ${unit}, got ${v.length}`);
  }
}

function isScalar(v: unknown): v is BootstrapScalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** A resource node (single or multiple, as the model says) from a config value. */
export function toResourceNode(model: ResourceModel, raw: BootstrapResourceValue, where: string): ResourceNode {
  if (model.operations === 'E') {
    throw new LwM2MError('BAD_VALUE', `${where}: resource ${model.id} (${model.name}) is executable, it has no value to write`);
  }
  if (!model.multiple) {
    if (!isScalar(raw)) throw new LwM2MError('BAD_VALUE', `${where}: resource ${model.id} (${model.name}) is single-instance, give one value`);
    return { kind: 'resource', id: model.id, value: toResourceValue(model, raw, where) };
  }
  if (isScalar(raw)) {
    throw new LwM2MError('BAD_VALUE', `${where}: resource ${model.id} (${model.name}) is multiple, give a map of instance id → value or a list`);
  }
  const entries: [string, BootstrapScalar][] = Array.isArray(raw)
    ? (raw as readonly BootstrapScalar[]).map((v, i): [string, BootstrapScalar] => [String(i), v])
    : Object.entries(raw as Readonly<Record<string, BootstrapScalar>>);
  const instances = new Map<number, ResourceValue>();
  for (const [key, v] of entries) {
    const riid = Number(key);
    if (!/^[0-9]+$/.test(key) || riid > 65535) throw new LwM2MError('BAD_VALUE', `${where}: "${key}" is not a resource instance id 0..65535`);
    instances.set(riid, toResourceValue(model, v, `${where}/${riid}`));
  }
  return { kind: 'multipleResource', id: model.id, instances };
}

/**
 * An object instance node from `{ "0": 3, "2": { "101": 15 } }`. `where` prefixes errors; each error
 * names the resource (`…/values/2`), so callers can point at it.
 */
export function toInstanceNode(model: ObjectModel, instanceId: number, values: Readonly<Record<string, BootstrapResourceValue>>, where: string): ObjectInstanceNode {
  const resources = new Map<number, ResourceNode>();
  for (const [key, raw] of Object.entries(values)) {
    const rid = Number(key);
    const rm = /^[0-9]+$/.test(key) ? model.resources.get(rid) : undefined;
    if (!rm) {
      throw new LwM2MError('BAD_VALUE', `${where}/${key}: object ${model.id} (${model.name} ${model.version}) has no resource ${key}`);
    }
    resources.set(rid, toResourceNode(rm, raw, `${where}/${key}`));
  }
  return { kind: 'instance', id: instanceId, resources: new Map([...resources].sort((a, b) => a[0] - b[0])) };
}
