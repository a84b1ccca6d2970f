/**
 * text/plain (content format 0), LwM2M-TS-Core 1.1 §7.4.1 and Appendix C (data types, "Text" column).
 * Carries one value: a single resource or one resource instance.
 *
 * Also home of the helpers the other single-value formats (opaque, CBOR) share: strict UTF-8 decoding
 * and the level checks of a single-value payload.
 */
import { LwM2MError, decodeError, type ErrorKind } from '../core/errors.js';
import { checkNodeMatchesPath, resourceModelAt, type LwM2MNode, type ResourceValue } from '../model/node.js';
import type { ResourceType } from '../model/types.js';
import type { CodecContext, NodeCodec } from './types.js';
import { coerceValue, dateToSeconds, formatObjectLink, inferType, parseObjectLink } from './values.js';

// ---- shared helpers -------------------------------------------------------------------------------

const UTF8 = new TextEncoder();
const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes `bytes[start, end)` as UTF-8, or returns undefined when they are not valid UTF-8 (overlong forms,
 * surrogates, truncated sequences…). A leading BOM is kept as U+FEFF: the bytes are the value.
 */
export function decodeUtf8Strict(bytes: Uint8Array, start = 0, end = bytes.length): string | undefined {
  let i = start;
  while (i < end && (bytes[i] as number) < 0x80) i++;
  if (i === end) {
    // ASCII, the common case for LwM2M strings: every decoding agrees, so take the cheapest one.
    if (Buffer.isBuffer(bytes)) return bytes.toString('latin1', start, end);
    if (end - start <= 64) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1', start, end);
  }
  try {
    return FATAL_UTF8.decode(bytes.subarray(start, end));
  } catch {
    return undefined;
  }
}

/** The value and model type a single-value format (text, opaque, CBOR) encodes for `node` at `ctx.path`. */
export interface SingleValue {
  readonly value: ResourceValue;
  readonly type: ResourceType | undefined;
}

/**
 * Checks that `node` is a single resource or a resource instance at `ctx.path` — the only nodes text, opaque
 * and CBOR can carry — and returns its value with the model type. Other node kinds →
 * `LWM2M_NOT_ACCEPTABLE` (4.06); a node inconsistent with the path or the model → `LWM2M_BAD_VALUE`.
 */
export function singleValueOf(node: LwM2MNode, ctx: CodecContext, format: string): SingleValue {
  if (node.kind !== 'resource' && node.kind !== 'resourceInstance') {
    throw new LwM2MError('NOT_ACCEPTABLE', `${format} carries one resource value, not a ${node.kind} node`);
  }
  checkNodeMatchesPath(ctx.path, node);
  const m = resourceModelAt(ctx.models, ctx.path);
  if (m !== undefined && node.kind === 'resource' && m.multiple) {
    throw new LwM2MError('NOT_ACCEPTABLE', `${ctx.path.toString()} is a multiple resource: ${format} cannot carry it`);
  }
  if (m !== undefined && node.kind === 'resourceInstance' && !m.multiple) {
    throw new LwM2MError('BAD_VALUE', `${ctx.path.parent().toString()} is a single resource: it has no instances`);
  }
  return { value: node.value, type: m?.type };
}

/**
 * For decoding a single-value payload: the model type at `ctx.path` and how to wrap the value. Paths that
 * are not a single resource / resource instance → `kind` (4.00 for text and CBOR, 4.15 for opaque).
 */
export function singleValueTarget(
  ctx: CodecContext, kind: ErrorKind, format: string,
): { type: ResourceType | undefined; wrap(value: ResourceValue): LwM2MNode } {
  const path = ctx.path;
  const fail = (what: string): LwM2MError => new LwM2MError(kind, `${format}: ${what}`);
  if (path.depth < 3) throw fail(`a ${path.level} (${path.toString()}) cannot be carried by a single value`);
  const m = resourceModelAt(ctx.models, path);
  if (path.depth === 3) {
    if (m?.multiple === true) throw fail(`${path.toString()} is a multiple resource: it cannot be carried by a single value`);
    const id = path.resourceId as number;
    return { type: m?.type, wrap: (value) => ({ kind: 'resource', id, value }) };
  }
  if (m?.multiple === false) throw fail(`${path.parent().toString()} is a single resource: it has no instances`);
  const id = path.resourceInstanceId as number;
  return { type: m?.type, wrap: (value) => ({ kind: 'resourceInstance', id, value }) };
}

// ---- base64 (RFC 4648 §4, padded, no whitespace) -------------------------------------------------

function isB64Char(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
}

/**
 * Strict base64: alphabet of RFC 4648 §4, length a multiple of 4, `=` padding only at the end, and canonical
 * (the unused bits of the last character are zero). Returns undefined for anything else.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  const n = text.length;
  if (n % 4 !== 0) return undefined;
  let pad = 0;
  if (n > 0 && text.charCodeAt(n - 1) === 0x3d) pad = text.charCodeAt(n - 2) === 0x3d ? 2 : 1;
  for (let i = 0; i < n - pad; i++) if (!isB64Char(text.charCodeAt(i))) return undefined;
  const buf = Buffer.from(text, 'base64');
  // Canonical check: non-zero pad bits ("AQ==" vs "AR==") would otherwise decode silently.
  if (buf.toString('base64') !== text) return undefined;
  return new Uint8Array(buf); // a plain copy, not a view into Buffer's shared pool
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

// ---- values (Appendix C, Text column) -------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
/** No valid numeric text is longer (a double written out in full has < 800 significant characters). */
const MAX_NUMBER_TEXT = 1100;

/** `[+-]?digits` → its value as a number when safe, else a bigint; undefined when not that shape. */
function parseDecimalInteger(text: string): number | bigint | undefined {
  const n = text.length;
  if (n === 0 || n > MAX_NUMBER_TEXT) return undefined;
  let i = 0;
  const c0 = text.charCodeAt(0);
  if (c0 === 0x2b || c0 === 0x2d) i = 1;
  if (i === n) return undefined;
  for (let k = i; k < n; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  if (n - i <= 15) {
    const v = Number(text);
    return v === 0 ? 0 : v; // "-0" is 0
  }
  const big = BigInt(c0 === 0x2b ? text.slice(1) : text);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

const FLOAT_TEXT = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/**
 * Parses the text form of a value of model type `type` (Appendix C). Without a type the text is the value.
 * Throws `LWM2M_BAD_TEXT` (4.00).
 */
export function decodeTextValue(text: string, type: ResourceType | undefined, where = 'value'): ResourceValue {
  const bad = (what: string): LwM2MError => decodeError('BAD_TEXT', `${where}: ${what}`);
  const show = (): string => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  switch (type) {
    case undefined:
    case 'none':
    case 'string':
    case 'corelnk':
      return text;
    case 'integer': {
      const v = parseDecimalInteger(text);
      if (v === undefined) throw bad(`${show()} is not a decimal integer`);
      if (typeof v === 'bigint' && (v < INT64_MIN || v > INT64_MAX)) throw bad(`${show()} is outside the 64-bit integer range`);
      return v;
    }
    case 'unsignedInteger': {
      const v = parseDecimalInteger(text);
      if (v === undefined || (text.charCodeAt(0) === 0x2d && v !== 0)) throw bad(`${show()} is not an unsigned decimal integer`);
      if (typeof v === 'bigint' && v > UINT64_MAX) throw bad(`${show()} is outside the unsigned 64-bit range`);
      return v;
    }
    case 'float': {
      if (text.length > MAX_NUMBER_TEXT || !FLOAT_TEXT.test(text)) throw bad(`${show()} is not a decimal number`);
      const v = Number(text);
      if (!Number.isFinite(v)) throw bad(`${show()} is outside the 64-bit float range`);
      return v;
    }
    case 'boolean':
      // Appendix C: Boolean text is "0" or "1" only.
      if (text === '1') return true;
      if (text === '0') return false;
      throw bad(`${show()} is not a boolean ("0" or "1")`);
    case 'time': {
      // Appendix C: Time text is the decimal number of seconds since the epoch.
      const v = parseDecimalInteger(text);
      if (v === undefined) throw bad(`${show()} is not a decimal number of seconds`);
      const ms = Number(v) * 1000;
      if (!(Math.abs(ms) <= 8.64e15)) throw bad(`${show()} seconds is outside the representable date range`);
      return new Date(ms);
    }
    case 'objlnk':
      try {
        return parseObjectLink(text, where);
      } catch (e) {
        throw decodeError('BAD_TEXT', e instanceof LwM2MError ? e.detail : String(e));
      }
    case 'opaque': {
      // §7.4.1 (1.1): an Opaque value in text/plain is base64 encoded.
      const bytes = decodeBase64Strict(text);
      if (bytes === undefined) throw bad('opaque text is not strict base64 (RFC 4648 §4, padded)');
      return bytes;
    }
  }
}

/** The text form of `value` as model type `type` (or its natural type). Throws `LWM2M_BAD_VALUE`. */
export function encodeTextValue(value: ResourceValue, type: ResourceType | undefined, where = 'value'): string {
  // Without a model the JS type decides; a bigint above int64 can only be an unsigned integer.
  const t = type === undefined || type === 'none'
    ? typeof value === 'bigint' && value > INT64_MAX ? 'unsignedInteger' : inferType(value)
    : type;
  const v = coerceValue(value, t, where);
  switch (t) {
    case 'string':
    case 'corelnk':
      return v as string;
    case 'integer':
    case 'unsignedInteger':
      if (typeof v === 'number' && !Number.isSafeInteger(v)) return BigInt(v).toString();
      return String(v);
    case 'float': {
      const f = v as number;
      if (!Number.isFinite(f)) throw new LwM2MError('BAD_VALUE', `${where}: ${f} has no text/plain form`);
      return Object.is(f, -0) ? '-0' : String(f);
    }
    case 'boolean':
      return v ? '1' : '0';
    case 'time':
      return String(dateToSeconds(v as Date));
    case 'objlnk':
      return formatObjectLink(v as { objectId: number; instanceId: number });
    case 'opaque':
      return encodeBase64(v as Uint8Array);
  }
  throw new LwM2MError('INTERNAL', `${where}: no encoding for type ${t}`);
}

// ---- codec ----------------------------------------------------------------------------------------

/** text/plain: one single resource or resource instance; without a model a value decodes as a string. */
export const textCodec: NodeCodec = {
  encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
    const { value, type } = singleValueOf(node, ctx, 'text/plain');
    return UTF8.encode(encodeTextValue(value, type, ctx.path.toString()));
  },
  decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
    const target = singleValueTarget(ctx, 'BAD_TEXT', 'text/plain');
    const text = decodeUtf8Strict(payload);
    if (text === undefined) throw decodeError('BAD_TEXT', `${ctx.path.toString()}: text/plain payload is not valid UTF-8`, 0);
    return target.wrap(decodeTextValue(text, target.type, ctx.path.toString()));
  },
};
