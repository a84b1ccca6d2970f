/**
 * OMA TLV (application/vnd.oma.lwm2m+tlv, content formats 11542 and the pre-registration 1542),
 * LwM2M-TS-Core 1.1 §7.4.3 (LwM2M 1.0 §6.4.3).
 *
 * Wire layout of one TLV (§7.4.3):
 *
 *   type byte | identifier (8 or 16 bit) | length (0, 8, 16 or 24 bit) | value
 *
 *   type byte bits 7-6: 00 object instance, 01 resource instance, 10 multiple resource, 11 resource with value
 *             bit  5  : identifier length, 0 = 8 bit, 1 = 16 bit
 *             bits 4-3: length type, 00 = the length is bits 2-0, 01/10/11 = an 8/16/24-bit length field follows
 *             bits 2-0: the length when bits 4-3 are 00
 *
 * Object instance and multiple resource TLVs contain further TLVs; resource and resource instance TLVs
 * carry a value encoded per Appendix C (data types). The nesting is therefore at most three deep
 * (instance → multiple resource → resource instance); the decoder follows that structure and never
 * recurses on anything else.
 *
 * Decoding never allocates from a declared length before checking that the bytes are there, and every
 * failure is an LwM2MError `LWM2M_BAD_TLV` (4.00) naming the byte offset.
 */
import { LwM2MError, decodeError } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import {
  checkNodeMatchesPath, isObjectLink,
  type LwM2MNode, type MultipleResourceNode, type ObjectInstanceNode, type ObjectLink, type ObjectNode,
  type ResourceInstanceNode, type ResourceNode, type ResourceValue,
} from '../model/node.js';
import type { ObjectModel, ResourceModel, ResourceType } from '../model/types.js';
import { decodeUtf8Strict } from './text.js';
import type { CodecContext, NodeCodec } from './types.js';
import { coerceValue, dateToSeconds } from './values.js';

// ---- low level: TLV headers ---------------------------------------------------------------------

/** The identifier type, bits 7-6 of the type byte (§7.4.3). */
export const TlvType = {
  OBJECT_INSTANCE: 0,
  RESOURCE_INSTANCE: 1,
  MULTIPLE_RESOURCE: 2,
  RESOURCE_VALUE: 3,
} as const;
export type TlvType = (typeof TlvType)[keyof typeof TlvType];

const TLV_TYPE_NAMES = ['object instance', 'resource instance', 'multiple resource', 'resource'] as const;

/** One decoded TLV header. The value (or the contained TLVs) is `payload[start, end)`. */
export interface TlvEntry {
  readonly type: TlvType;
  readonly id: number;
  /** Offset of the type byte in the payload. */
  readonly offset: number;
  readonly start: number;
  readonly end: number;
}

/** The 24-bit length field caps a TLV value at 16 MiB - 1 (§7.4.3). */
export const TLV_MAX_LENGTH = 0xffffff;

/**
 * Decodes the sequence of TLV headers in `payload[start, end)` (one level, not recursive). Every declared
 * length is checked against the bytes that remain before it is used. Throws `LWM2M_BAD_TLV` (4.00).
 */
export function decodeTlvEntries(payload: Uint8Array, start = 0, end = payload.length): TlvEntry[] {
  if (!(start >= 0 && end <= payload.length && start <= end)) {
    throw new LwM2MError('INTERNAL', `decodeTlvEntries: bad range [${start}, ${end}) of ${payload.length} bytes`);
  }
  const out: TlvEntry[] = [];
  let p = start;
  while (p < end) {
    const offset = p;
    const t = payload[p++] as number;
    const idLen = (t & 0x20) === 0 ? 1 : 2;
    const lenType = (t >> 3) & 0x03;
    if (p + idLen + lenType > end) {
      throw decodeError('BAD_TLV', `truncated TLV header (needs ${1 + idLen + lenType} bytes, ${end - offset} left)`, offset);
    }
    let id = payload[p++] as number;
    if (idLen === 2) id = (id << 8) | (payload[p++] as number);
    let length: number;
    if (lenType === 0) {
      length = t & 0x07;
    } else {
      // §7.4.3: bits 2-0 give the length only when bits 4-3 are 00. With a length field they carry nothing;
      // the encoder writes 0 there, the decoder ignores them (as Leshan does).
      length = 0;
      for (let k = 0; k < lenType; k++) length = (length << 8) | (payload[p++] as number);
    }
    if (length > end - p) {
      throw decodeError('BAD_TLV', `TLV declares ${length} value bytes but only ${end - p} remain`, offset);
    }
    out.push({ type: (t >> 6) as TlvType, id, offset, start: p, end: p + length });
    p += length;
  }
  return out;
}

/** Bytes taken by a TLV header for identifier `id` and value length `length`. */
export function tlvHeaderSize(id: number, length: number): number {
  const lenBytes = length < 8 ? 0 : length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
  return 1 + (id > 0xff ? 2 : 1) + lenBytes;
}

/** Writes a TLV header at `off`; returns the offset after it. `length` must be ≤ {@link TLV_MAX_LENGTH}. */
function writeHeader(out: Uint8Array, off: number, type: TlvType, id: number, length: number): number {
  let t = type << 6;
  const wide = id > 0xff;
  if (wide) t |= 0x20;
  let lenBytes: number;
  if (length < 8) {
    t |= length;
    lenBytes = 0;
  } else {
    lenBytes = length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
    t |= lenBytes << 3;
  }
  out[off++] = t;
  if (wide) out[off++] = id >> 8;
  out[off++] = id & 0xff;
  for (let k = lenBytes - 1; k >= 0; k--) out[off++] = (length >> (8 * k)) & 0xff;
  return off;
}

// ---- values (Appendix C, TLV column) ------------------------------------------------------------

/**
 * Where a value sits, for error messages only. The node encoder/decoder keep one mutable {@link PathSite}
 * instead of allocating a closure per value.
 */
interface Site {
  where(): string;
}
const VALUE_SITE: Site = { where: () => 'value' };

class PathSite implements Site {
  iid = -1;
  rid = -1;
  riid = -1;
  constructor(readonly oid: number) {}
  at(iid: number, rid: number, riid = -1): this {
    this.iid = iid;
    this.rid = rid;
    this.riid = riid;
    return this;
  }
  where(): string {
    let s = `/${this.oid}`;
    for (const id of [this.iid, this.rid, this.riid]) {
      if (id < 0) break;
      s += `/${id}`;
    }
    return s;
  }
}

/** A value ready to be written: its wire representation and byte size. */
type Prepared =
  | { readonly t: 'int'; readonly v: number | bigint; readonly size: number }
  | { readonly t: 'uint64'; readonly v: bigint; readonly size: 8 }
  | { readonly t: 'f32' | 'f64'; readonly v: number; readonly size: number }
  | { readonly t: 'bool'; readonly v: boolean; readonly size: 1 }
  | { readonly t: 'str'; readonly v: string; readonly size: number }
  | { readonly t: 'bytes'; readonly v: Uint8Array; readonly size: number }
  | { readonly t: 'objlnk'; readonly v: ObjectLink; readonly size: 4 };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const INT32_MIN_N = -(2n ** 31n);
const INT32_MAX_N = 2n ** 31n - 1n;
const TWO_32 = 4294967296;

/** Smallest of 1, 2, 4, 8 bytes holding `v` as big-endian two's complement (Appendix C, Integer). */
function intSize(v: number | bigint): number {
  if (typeof v === 'number') {
    if (v >= -0x80 && v <= 0x7f) return 1;
    if (v >= -0x8000 && v <= 0x7fff) return 2;
    if (v >= -0x80000000 && v <= 0x7fffffff) return 4;
    return 8;
  }
  return v >= INT32_MIN_N && v <= INT32_MAX_N ? intSize(Number(v)) : 8;
}

function prepareInt(v: number | bigint, site: Site): Prepared {
  if (typeof v === 'bigint' && (v < INT64_MIN || v > INT64_MAX)) {
    throw new LwM2MError('BAD_VALUE', `${site.where()}: ${v} is outside the 64-bit integer range`);
  }
  return { t: 'int', v, size: intSize(v) };
}

function prepareFloat(v: number): Prepared {
  // Appendix C: Float is 4 or 8 bytes (IEEE 754 big-endian). Use 4 when float32 holds the value exactly.
  return Math.fround(v) === v || Number.isNaN(v) ? { t: 'f32', v, size: 4 } : { t: 'f64', v, size: 8 };
}

/** The value as the model type dictates, or (no model / type `none`) as its natural JS type dictates. */
function prepareValue(value: ResourceValue, type: ResourceType | undefined, site: Site): Prepared {
  if (type === undefined || type === 'none') return prepareNatural(value, site);
  const p = prepareTyped(value, type, site);
  if (p !== undefined) return p;
  // Slow path: loose inputs (a whole float for Integer, "3:0" for Objlnk, seconds for Time…) or an error.
  const coerced = coerceValue(value, type, site.where());
  return prepareTyped(coerced, type, site) ?? prepareNatural(coerced, site);
}

function prepareTyped(value: ResourceValue, type: ResourceType, site: Site): Prepared | undefined {
  switch (type) {
    case 'string':
    case 'corelnk':
      if (typeof value === 'string') return { t: 'str', v: value, size: Buffer.byteLength(value, 'utf8') };
      return undefined;
    case 'integer':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return { t: 'int', v: value, size: intSize(value) };
      if (typeof value === 'number' && Number.isInteger(value)) return prepareInt(BigInt(value), site);
      if (typeof value === 'bigint') return prepareInt(value, site);
      return undefined;
    case 'unsignedInteger': {
      // Per 1.1 Appendix C the Unsigned Integer TLV is big-endian in 1, 2, 4 or 8 bytes. The value is written in
      // the smallest size whose *signed* reading is the same number, so that a peer decoding it as a (1.0)
      // Integer agrees; only 2^63..2^64-1 needs the full 8 unsigned bytes (as Leshan does).
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return { t: 'int', v: value, size: intSize(value) };
      const big = typeof value === 'bigint' ? value : typeof value === 'number' && Number.isInteger(value) ? BigInt(value) : undefined;
      if (big === undefined) return undefined;
      if (big < 0n || big > UINT64_MAX) throw new LwM2MError('BAD_VALUE', `${site.where()}: ${big} is outside the unsigned 64-bit range`);
      return big > INT64_MAX ? { t: 'uint64', v: big, size: 8 } : { t: 'int', v: big, size: intSize(big) };
    }
    case 'float':
      if (typeof value === 'number') return prepareFloat(value);
      return undefined;
    case 'boolean':
      if (typeof value === 'boolean') return { t: 'bool', v: value, size: 1 };
      return undefined;
    case 'opaque':
      if (value instanceof Uint8Array) return { t: 'bytes', v: value, size: value.length };
      return undefined;
    case 'time':
      // Appendix C: Time has the Integer representation (seconds since the epoch).
      if (value instanceof Date && !Number.isNaN(value.getTime())) {
        const s = dateToSeconds(value);
        return { t: 'int', v: s, size: intSize(s) };
      }
      return undefined;
    case 'objlnk':
      if (isObjectLink(value)) return prepareObjlnk(value, site);
      return undefined;
    case 'none':
      return prepareNatural(value, site);
  }
}

function prepareObjlnk(v: ObjectLink, site: Site): Prepared {
  const ok = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffff;
  if (!ok(v.objectId) || !ok(v.instanceId)) {
    throw new LwM2MError('BAD_VALUE', `${site.where()}: object link ${v.objectId}:${v.instanceId} has an id outside 0..65535`);
  }
  return { t: 'objlnk', v, size: 4 };
}

function prepareNatural(value: ResourceValue, site: Site): Prepared {
  if (typeof value === 'string') return { t: 'str', v: value, size: Buffer.byteLength(value, 'utf8') };
  if (typeof value === 'boolean') return { t: 'bool', v: value, size: 1 };
  if (typeof value === 'bigint') {
    if (value > INT64_MAX && value <= UINT64_MAX) return { t: 'uint64', v: value, size: 8 };
    return prepareInt(value, site);
  }
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return { t: 'int', v: value, size: intSize(value) };
    // A whole number beyond 2^53 is still an integer (values.inferType); beyond int64 it can only be a float.
    if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) return prepareInt(BigInt(value), site);
    return prepareFloat(value);
  }
  if (value instanceof Uint8Array) return { t: 'bytes', v: value, size: value.length };
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new LwM2MError('BAD_VALUE', `${site.where()}: invalid date`);
    const s = dateToSeconds(value);
    return { t: 'int', v: s, size: intSize(s) };
  }
  if (isObjectLink(value)) return prepareObjlnk(value, site);
  throw new LwM2MError('BAD_VALUE', `${site.where()}: unsupported value ${String(value)}`);
}

function writeValue(out: Buffer, dv: DataView, off: number, p: Prepared): void {
  switch (p.t) {
    case 'int': {
      const v = p.v;
      if (typeof v === 'bigint') {
        if (p.size === 8) dv.setBigInt64(off, v);
        else writeSmallInt(dv, off, Number(v), p.size);
      } else if (p.size === 8) {
        const hi = Math.floor(v / TWO_32);
        dv.setInt32(off, hi);
        dv.setUint32(off + 4, v - hi * TWO_32);
      } else {
        writeSmallInt(dv, off, v, p.size);
      }
      return;
    }
    case 'uint64':
      dv.setBigUint64(off, p.v);
      return;
    case 'f32':
      dv.setFloat32(off, p.v);
      return;
    case 'f64':
      dv.setFloat64(off, p.v);
      return;
    case 'bool':
      out[off] = p.v ? 1 : 0;
      return;
    case 'str':
      if (p.size === p.v.length && p.size <= 64) {
        // ASCII (byte length = UTF-16 length): a plain loop beats the native call for short strings.
        for (let i = 0; i < p.size; i++) out[off + i] = p.v.charCodeAt(i);
      } else if (p.size > 0) {
        out.write(p.v, off, p.size, 'utf8');
      }
      return;
    case 'bytes':
      out.set(p.v, off);
      return;
    case 'objlnk':
      dv.setUint16(off, p.v.objectId);
      dv.setUint16(off + 2, p.v.instanceId);
      return;
  }
}

function writeSmallInt(dv: DataView, off: number, v: number, size: number): void {
  if (size === 1) dv.setInt8(off, v);
  else if (size === 2) dv.setInt16(off, v);
  else dv.setInt32(off, v);
}

/**
 * Encodes one value as the body of a resource / resource instance TLV (Appendix C, TLV column), typed by
 * `type` (or by its JS type without one). Throws `LWM2M_BAD_VALUE` when the value does not fit the type.
 */
export function encodeTlvValue(value: ResourceValue, type?: ResourceType): Uint8Array {
  const p = prepareValue(value, type, VALUE_SITE);
  const out = new Uint8Array(p.size);
  writeValue(Buffer.from(out.buffer), new DataView(out.buffer), 0, p);
  return out;
}

/**
 * Decodes the value bytes `payload[start, end)` of a resource / resource instance TLV as `type`; without a
 * type (no model, or `none`) the bytes are returned as opaque. Throws `LWM2M_BAD_TLV` (4.00).
 */
export function decodeTlvValue(
  payload: Uint8Array, start: number, end: number, type: ResourceType | undefined, where = 'value',
): ResourceValue {
  if (!(start >= 0 && end <= payload.length && start <= end)) {
    throw new LwM2MError('INTERNAL', `decodeTlvValue: bad range [${start}, ${end}) of ${payload.length} bytes`);
  }
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return readValue(asBuffer(payload), dv, start, end, type, { where: () => where });
}

/** A Buffer view of the same bytes (no copy), for the fast latin1/utf8 paths. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function readValue(
  buf: Buffer, dv: DataView, start: number, end: number, type: ResourceType | undefined, site: Site,
): ResourceValue {
  const len = end - start;
  const bad = (what: string): LwM2MError => decodeError('BAD_TLV', `${site.where()}: ${what}`, start);
  switch (type) {
    case 'string':
    case 'corelnk': {
      const s = decodeUtf8Strict(buf, start, end);
      if (s === undefined) throw bad('string value is not valid UTF-8');
      return s;
    }
    case 'integer':
    case 'time': {
      if (len !== 1 && len !== 2 && len !== 4 && len !== 8) throw bad(`an integer is 1, 2, 4 or 8 bytes, not ${len}`);
      const v = readSignedInt(dv, start, len);
      if (type === 'integer') return v;
      // Appendix C: Time is an Integer of seconds. A Date holds ±8.64e15 ms.
      const ms = Number(v) * 1000;
      if (!(Math.abs(ms) <= 8.64e15)) throw bad(`time ${v} s is outside the representable date range`);
      return new Date(ms);
    }
    case 'unsignedInteger': {
      if (len !== 1 && len !== 2 && len !== 4 && len !== 8) throw bad(`an unsigned integer is 1, 2, 4 or 8 bytes, not ${len}`);
      // Read unsigned: whether the peer wrote 255 as `FF` (unsigned) or `00 FF` (integer style), it is 255.
      return readUnsignedInt(dv, start, len);
    }
    case 'float':
      if (len === 4) return dv.getFloat32(start);
      if (len === 8) return dv.getFloat64(start);
      throw bad(`a float is 4 or 8 bytes, not ${len}`);
    case 'boolean': {
      if (len !== 1) throw bad(`a boolean is 1 byte, not ${len}`);
      const b = buf[start];
      if (b === 0) return false;
      if (b === 1) return true;
      throw bad(`a boolean is 0 or 1, not ${String(b)}`);
    }
    case 'objlnk':
      // Appendix C: two 16-bit unsigned integers, object id then object instance id.
      if (len !== 4) throw bad(`an object link is 4 bytes, not ${len}`);
      return { objectId: dv.getUint16(start), instanceId: dv.getUint16(start + 2) };
    case 'opaque':
    case 'none':
    case undefined:
    {
      // A copy, and a plain Uint8Array even when the payload is a Buffer: the payload may be a reused I/O buffer.
      const copy = new Uint8Array(len);
      copy.set(buf.subarray(start, end));
      return copy;
    }
  }
}

function readSignedInt(dv: DataView, off: number, len: number): number | bigint {
  switch (len) {
    case 1: return dv.getInt8(off);
    case 2: return dv.getInt16(off);
    case 4: return dv.getInt32(off);
    default: {
      const hi = dv.getInt32(off);
      // |hi| < 2^21 keeps hi * 2^32 + lo a safe integer.
      if (hi >= -0x200000 && hi < 0x200000) return hi * TWO_32 + dv.getUint32(off + 4);
      return dv.getBigInt64(off);
    }
  }
}

function readUnsignedInt(dv: DataView, off: number, len: number): number | bigint {
  switch (len) {
    case 1: return dv.getUint8(off);
    case 2: return dv.getUint16(off);
    case 4: return dv.getUint32(off);
    default: {
      const hi = dv.getUint32(off);
      if (hi < 0x200000) return hi * TWO_32 + dv.getUint32(off + 4);
      return dv.getBigUint64(off);
    }
  }
}

// ---- encoding nodes ------------------------------------------------------------------------------

/** One TLV to write: a container (`p` undefined, its children follow it in the plan) or a leaf. */
interface PlanItem {
  readonly type: TlvType;
  readonly id: number;
  len: number;
  readonly p: Prepared | undefined;
}

class Planner {
  readonly items: PlanItem[] = [];
  private readonly site: PathSite;
  constructor(private readonly objectModel: ObjectModel | undefined, objectId: number) {
    this.site = new PathSite(objectId);
  }

  private model(rid: number): ResourceModel | undefined {
    return this.objectModel?.resources.get(rid);
  }

  /** Adds an object instance TLV with its resources; returns its encoded size (header included). */
  instance(inst: ObjectInstanceNode): number {
    checkId(inst.id, this.site.at(inst.id, -1));
    const item: PlanItem = { type: TlvType.OBJECT_INSTANCE, id: inst.id, len: 0, p: undefined };
    this.items.push(item);
    item.len = checkLength(this.resources(inst.id, inst.resources));
    return tlvHeaderSize(item.id, item.len) + item.len;
  }

  /** Adds the resource TLVs of an instance (sorted by id); returns their total size. */
  resources(iid: number, resources: ReadonlyMap<number, ResourceNode>): number {
    let size = 0;
    for (const r of sortedValues(resources)) size += this.resource(iid, r);
    return size;
  }

  resource(iid: number, r: ResourceNode): number {
    const m = this.model(r.id);
    const site = this.site.at(iid, r.id);
    checkId(r.id, site);
    if (m !== undefined && m.multiple !== (r.kind === 'multipleResource')) {
      throw new LwM2MError('BAD_VALUE', `${site.where()} is a ${m.multiple ? 'multiple' : 'single'} resource but was given a ${r.kind} node`);
    }
    if (r.kind === 'resource') return this.leaf(TlvType.RESOURCE_VALUE, r.id, r.value, m?.type, site);
    return this.multiple(iid, r, m?.type);
  }

  multiple(iid: number, r: MultipleResourceNode, type: ResourceType | undefined): number {
    const item: PlanItem = { type: TlvType.MULTIPLE_RESOURCE, id: r.id, len: 0, p: undefined };
    this.items.push(item);
    let size = 0;
    for (const [riid, v] of sortedEntries(r.instances)) {
      size += this.leaf(TlvType.RESOURCE_INSTANCE, riid, v, type, this.site.at(iid, r.id, riid));
    }
    item.len = checkLength(size);
    return tlvHeaderSize(item.id, item.len) + item.len;
  }

  /** A resource instance addressed directly (path /o/i/r/ri). */
  resourceInstance(iid: number, rid: number, node: ResourceInstanceNode): number {
    const m = this.model(rid);
    const site = this.site.at(iid, rid, node.id);
    if (m !== undefined && !m.multiple) {
      throw new LwM2MError('BAD_VALUE', `${site.where()}: /${this.site.oid}/${iid}/${rid} is a single resource, it has no instances`);
    }
    return this.leaf(TlvType.RESOURCE_INSTANCE, node.id, node.value, m?.type, site);
  }

  leaf(type: TlvType, id: number, value: ResourceValue, rtype: ResourceType | undefined, site: Site): number {
    checkId(id, site);
    const p = prepareValue(value, rtype, site);
    const len = checkLength(p.size);
    this.items.push({ type, id, len, p });
    return tlvHeaderSize(id, len) + len;
  }

  write(total: number): Uint8Array {
    // A plain Uint8Array for the caller, written through a Buffer view of the same memory (for utf8 writes).
    const out = new Uint8Array(total);
    const buf = Buffer.from(out.buffer, 0, total);
    const dv = new DataView(out.buffer);
    let off = 0;
    for (const it of this.items) {
      off = writeHeader(out, off, it.type, it.id, it.len);
      if (it.p !== undefined) {
        writeValue(buf, dv, off, it.p);
        off += it.len;
      }
    }
    if (off !== total) throw new LwM2MError('INTERNAL', `TLV encoder wrote ${off} bytes, planned ${total}`);
    return out;
  }
}

function checkLength(len: number): number {
  if (len > TLV_MAX_LENGTH) {
    throw new LwM2MError('ENTITY_TOO_LARGE', `a TLV value of ${len} bytes exceeds the 24-bit length field (§7.4.3)`);
  }
  return len;
}

function checkId(id: number, site: Site): void {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
    throw new LwM2MError('BAD_VALUE', `${site.where()}: id ${id} is not in 0..65535`);
  }
}

/** Map values in ascending key order (no copy when already sorted, the usual case). */
function sortedValues<V>(m: ReadonlyMap<number, V>): Iterable<V> {
  let prev = -1;
  for (const k of m.keys()) {
    if (k <= prev) return [...m].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    prev = k;
  }
  return m.values();
}

function sortedEntries<V>(m: ReadonlyMap<number, V>): Iterable<[number, V]> {
  let prev = -1;
  for (const k of m.keys()) {
    if (k <= prev) return [...m].sort((a, b) => a[0] - b[0]);
    prev = k;
  }
  return m.entries();
}

function encodeNode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
  const path = ctx.path;
  // A Create on /{object} carries one instance: the path is one level above the node (§7.4.3 lets the
  // instance TLV be present; we always emit it then).
  const createOnObject = node.kind === 'instance' && path.depth === 1;
  if (!createOnObject) checkNodeMatchesPath(path, node);
  const oid = path.objectId as number;
  const planner = new Planner(ctx.models?.getObject(oid), oid);
  let total: number;
  switch (node.kind) {
    case 'object':
      // Always one object instance TLV per instance, also for single-instance objects: the §7.4.3 examples
      // show the wrapper for object-level reads and every decoder accepts it.
      total = 0;
      for (const inst of sortedValues(node.instances)) total += planner.instance(inst);
      break;
    case 'instance':
      total = createOnObject ? planner.instance(node) : planner.resources(node.id, node.resources);
      break;
    case 'resource':
    case 'multipleResource':
      total = planner.resource(path.instanceId as number, node);
      break;
    case 'resourceInstance':
      total = planner.resourceInstance(path.instanceId as number, path.resourceId as number, node);
      break;
  }
  return planner.write(total);
}

// ---- decoding nodes ------------------------------------------------------------------------------

class NodeDecoder {
  readonly buf: Buffer;
  readonly dv: DataView;
  readonly objectModel: ObjectModel | undefined;
  readonly oid: number;
  readonly site: PathSite;

  constructor(payload: Uint8Array, readonly ctx: CodecContext) {
    this.buf = asBuffer(payload);
    this.dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    this.oid = ctx.path.objectId as number;
    this.objectModel = ctx.models?.getObject(this.oid);
    this.site = new PathSite(this.oid);
  }

  fail(what: string, offset: number): LwM2MError {
    return decodeError('BAD_TLV', what, offset);
  }

  entries(start: number, end: number): TlvEntry[] {
    return decodeTlvEntries(this.buf, start, end);
  }

  object(entries: readonly TlvEntry[]): ObjectNode {
    const instances = new Map<number, ObjectInstanceNode>();
    const first = entries[0];
    if (first !== undefined && first.type !== TlvType.OBJECT_INSTANCE) {
      // Resources without an instance TLV at object level: some clients answer a Read of a single-instance
      // object that way (Leshan tolerates it too). Only meaningful when the object has one instance (id 0).
      if (this.objectModel?.multiple === true) {
        throw this.fail(`/${this.oid} is a multiple-instance object: resources need an object instance TLV`, first.offset);
      }
      instances.set(0, this.instance(0, entries));
      return { kind: 'object', id: this.oid, instances };
    }
    for (const e of entries) {
      if (e.type !== TlvType.OBJECT_INSTANCE) {
        throw this.fail(`expected an object instance TLV in /${this.oid}, got a ${TLV_TYPE_NAMES[e.type]} TLV`, e.offset);
      }
      if (instances.has(e.id)) throw this.fail(`duplicate object instance /${this.oid}/${e.id}`, e.offset);
      instances.set(e.id, this.instance(e.id, this.entries(e.start, e.end)));
    }
    return { kind: 'object', id: this.oid, instances };
  }

  /** Decodes resource TLVs (resource with value or multiple resource) into an instance. */
  instance(iid: number, entries: readonly TlvEntry[]): ObjectInstanceNode {
    const resources = new Map<number, ResourceNode>();
    for (const e of entries) {
      if (resources.has(e.id)) throw this.fail(`duplicate resource /${this.oid}/${iid}/${e.id}`, e.offset);
      resources.set(e.id, this.resource(iid, e));
    }
    return { kind: 'instance', id: iid, resources };
  }

  resource(iid: number, e: TlvEntry): ResourceNode {
    const m = this.objectModel?.resources.get(e.id);
    const site = this.site.at(iid, e.id);
    if (e.type === TlvType.RESOURCE_VALUE) {
      if (m?.multiple === true) throw this.fail(`${site.where()} is a multiple resource but is encoded as a single resource TLV`, e.offset);
      return { kind: 'resource', id: e.id, value: readValue(this.buf, this.dv, e.start, e.end, m?.type, site) };
    }
    if (e.type === TlvType.MULTIPLE_RESOURCE) {
      if (m?.multiple === false) throw this.fail(`${site.where()} is a single resource but is encoded as a multiple resource TLV`, e.offset);
      return this.instances(iid, e.id, m?.type, this.entries(e.start, e.end));
    }
    throw this.fail(`expected a resource TLV for ${site.where()}, got a ${TLV_TYPE_NAMES[e.type]} TLV`, e.offset);
  }

  /** Resource instance TLVs into a multiple resource. */
  instances(iid: number, rid: number, type: ResourceType | undefined, entries: readonly TlvEntry[]): MultipleResourceNode {
    const instances = new Map<number, ResourceValue>();
    for (const e of entries) {
      const site = this.site.at(iid, rid, e.id);
      if (e.type !== TlvType.RESOURCE_INSTANCE) {
        throw this.fail(`expected a resource instance TLV for ${site.where()}, got a ${TLV_TYPE_NAMES[e.type]} TLV`, e.offset);
      }
      if (instances.has(e.id)) throw this.fail(`duplicate resource instance ${site.where()}`, e.offset);
      instances.set(e.id, readValue(this.buf, this.dv, e.start, e.end, type, site));
    }
    return { kind: 'multipleResource', id: rid, instances };
  }

  /** Strips an object instance TLV wrapping the payload when its id is the path's instance id. */
  unwrapInstance(entries: TlvEntry[], path: LwM2MPath): TlvEntry[] {
    const only = entries[0];
    if (entries.length === 1 && only !== undefined && only.type === TlvType.OBJECT_INSTANCE) {
      if (only.id !== path.instanceId) {
        throw this.fail(`object instance TLV ${only.id} does not match path ${path.toString()}`, only.offset);
      }
      return this.entries(only.start, only.end);
    }
    return entries;
  }

  decode(): LwM2MNode {
    const path = this.ctx.path;
    let entries = this.entries(0, this.buf.length);
    switch (path.depth) {
      case 0:
        throw this.fail('a TLV payload cannot be addressed to the root path', 0);
      case 1:
        return this.object(entries);
      case 2: {
        // §7.4.3: the resources of one instance, optionally wrapped in that instance's TLV.
        entries = this.unwrapInstance(entries, path);
        const inst = this.instance(path.instanceId as number, entries);
        return inst;
      }
      case 3: {
        // Tolerated like Leshan does: an instance TLV around the resource, when consistent with the path.
        entries = this.unwrapInstance(entries, path);
        const iid = path.instanceId as number;
        const rid = path.resourceId as number;
        const m = this.objectModel?.resources.get(rid);
        const only = entries[0];
        if (entries.length === 1 && only !== undefined && only.type !== TlvType.RESOURCE_INSTANCE) {
          if (only.id !== rid) throw this.fail(`resource TLV ${only.id} does not match path ${path.toString()}`, only.offset);
          return this.resource(iid, only);
        }
        // Zero or more bare resource instance TLVs: the instances of a multiple resource (accepted by Leshan
        // and seen from constrained clients writing /o/i/r).
        if (m?.multiple === false) {
          throw this.fail(`${path.toString()} is a single resource: expected exactly one resource TLV`, only?.offset ?? 0);
        }
        return this.instances(iid, rid, m?.type, entries);
      }
      default: {
        const only = entries[0];
        if (entries.length !== 1 || only === undefined) {
          throw this.fail(`expected exactly one resource instance TLV for ${path.toString()}, got ${entries.length}`, entries[1]?.offset ?? 0);
        }
        if (only.type !== TlvType.RESOURCE_INSTANCE) {
          throw this.fail(`expected a resource instance TLV for ${path.toString()}, got a ${TLV_TYPE_NAMES[only.type]} TLV`, only.offset);
        }
        if (only.id !== path.resourceInstanceId) {
          throw this.fail(`resource instance TLV ${only.id} does not match path ${path.toString()}`, only.offset);
        }
        const m = this.objectModel?.resources.get(path.resourceId as number);
        if (m?.multiple === false) throw this.fail(`${path.parent().toString()} is a single resource: it has no instances`, 0);
        const node: ResourceInstanceNode = {
          kind: 'resourceInstance', id: only.id,
          value: readValue(this.buf, this.dv, only.start, only.end, m?.type, this.site.at(path.instanceId as number, path.resourceId as number, only.id)),
        };
        return node;
      }
    }
  }
}

/**
 * The TLV codec for content formats 11542 and 1542. Typed by `ctx.models`; without a model values decode
 * as opaque `Uint8Array` and a resource is multiple exactly when it is encoded as a multiple resource TLV.
 */
export const tlvCodec: NodeCodec = {
  encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
    if (ctx.path.isRoot()) throw new LwM2MError('NOT_ACCEPTABLE', 'TLV cannot carry the root path');
    return encodeNode(node, ctx);
  },
  decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
    return new NodeDecoder(payload, ctx).decode();
  },
};
