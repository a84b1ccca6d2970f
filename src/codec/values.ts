import { LwM2MError } from '../core/errors.js';
import { isObjectLink, type ObjectLink, type ResourceValue } from '../model/node.js';
import type { ResourceType } from '../model/types.js';

/** Shared value conversions for every codec (LwM2M-TS-Core 1.1 Appendix C, data types). */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Returns a number when the integer is safe, else a bigint (integers beyond 2^53 keep full precision). */
export function normalizeInteger(v: number | bigint): number | bigint {
  if (typeof v === 'number') return v;
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** `3:0` → {objectId: 3, instanceId: 0} (Objlnk text form, LwM2M-TS-Core 1.1 §C.1). */
export function parseObjectLink(text: string, where = 'objlnk'): ObjectLink {
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  if (!m) throw new LwM2MError('BAD_VALUE', `${where}: "${text}" is not an object link "objectId:instanceId"`);
  const objectId = Number(m[1]);
  const instanceId = Number(m[2]);
  if (objectId > 65535 || instanceId > 65535) {
    throw new LwM2MError('BAD_VALUE', `${where}: object link "${text}" has an id above 65535`);
  }
  return { objectId, instanceId };
}

export function formatObjectLink(v: ObjectLink): string {
  return `${v.objectId}:${v.instanceId}`;
}

/** Time values travel as integer seconds since the epoch. */
export function dateToSeconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}
export function secondsToDate(s: number | bigint): Date {
  return new Date(Number(s) * 1000);
}

/** Which model type a value naturally has when no model says otherwise. */
export function inferType(v: ResourceValue): ResourceType {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'bigint') return 'integer';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'float';
  if (v instanceof Uint8Array) return 'opaque';
  if (v instanceof Date) return 'time';
  return 'objlnk';
}

/**
 * Converts a decoded value to the model type, or throws `LWM2M_BAD_VALUE` (4.00) naming `where`.
 * Loose inputs that formats legitimately produce are accepted (a number for Time, `"3:0"` for Objlnk,
 * a whole float for Integer); anything else is an error, never silently kept.
 */
export function coerceValue(value: ResourceValue, type: ResourceType | undefined, where: string): ResourceValue {
  const bad = (what: string): LwM2MError =>
    new LwM2MError('BAD_VALUE', `${where}: ${what} is not a valid ${type ?? 'value'}`);
  switch (type) {
    case undefined:
    case 'none':
      return value;
    case 'string':
    case 'corelnk':
      if (typeof value === 'string') return value;
      throw bad(describe(value));
    case 'integer':
    case 'unsignedInteger': {
      let n: number | bigint;
      if (typeof value === 'bigint') n = value;
      else if (typeof value === 'number' && Number.isInteger(value)) n = value;
      else throw bad(describe(value));
      const big = BigInt(n);
      if (type === 'integer' && (big < INT64_MIN || big > INT64_MAX)) throw bad(`${big} (outside int64)`);
      if (type === 'unsignedInteger' && (big < 0n || big > UINT64_MAX)) throw bad(`${big} (outside uint64)`);
      return normalizeInteger(n);
    }
    case 'float':
      if (typeof value === 'number') return value;
      if (typeof value === 'bigint') return Number(value);
      throw bad(describe(value));
    case 'boolean':
      if (typeof value === 'boolean') return value;
      throw bad(describe(value));
    case 'opaque':
      if (value instanceof Uint8Array) return value;
      throw bad(describe(value));
    case 'time':
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw bad('an invalid date');
        return value;
      }
      if (typeof value === 'number' && Number.isFinite(value)) return secondsToDate(Math.trunc(value));
      if (typeof value === 'bigint' && value >= -8640000000000n && value <= 8640000000000n) return secondsToDate(value);
      throw bad(describe(value));
    case 'objlnk':
      if (isObjectLink(value)) return value;
      if (typeof value === 'string') return parseObjectLink(value, where);
      throw bad(describe(value));
  }
}

export function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `opaque(${v.length} bytes)`;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'time(invalid)' : `time(${v.toISOString()})`;
  if (isObjectLink(v)) return `objlnk(${formatObjectLink(v)})`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v}(${String(v)})`;
}
