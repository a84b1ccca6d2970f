/**
 * application/cbor (content format 60), LwM2M-TS-Core 1.1 §7.4.6: one single resource or resource instance
 * value as exactly one CBOR data item (RFC 8949).
 *
 * Type mapping (model type → CBOR):
 *   Integer, Unsigned Integer → major type 0/1 (64-bit values as bigint); tags 2/3 (bignums) are accepted on decode
 *   Float                     → major type 7 float, shortest of half/single/double that is exact (RFC 8949 §4.2.2);
 *                                an integer item is accepted on decode (encoders such as cbor-x write 3.0 as 3)
 *   Boolean                   → true / false
 *   String, Corelnk           → text string (major 3)
 *   Opaque                    → byte string (major 2)
 *   Time                      → tag 1 + integer seconds (RFC 8949 §3.4.2); a plain integer is accepted on decode
 *   Objlnk                    → text string "3:0"
 *
 * Hand-written rather than cbor-x: a single primitive item needs ~150 lines, and cbor-x 1.6 does things a
 * decoder of untrusted input must not: it instantiates global constructors named in tag 27 (`Error`, …),
 * replaces invalid UTF-8 silently, recurses without bound on nested arrays (RangeError from the stack),
 * decodes shared-structure / record tags, and rejects valid indefinite-length strings; its encoder wraps
 * Uint8Array in tag 64 and writes whole floats as integers. Here arrays, maps, unknown tags and simple values
 * are rejected at their first byte, so there is no nesting at all, and lengths are checked against the bytes
 * that remain before anything is sliced. Every failure is `LWM2M_BAD_CBOR` (4.00).
 */
import { LwM2MError, decodeError } from '../core/errors.js';
import type { LwM2MNode, ResourceValue } from '../model/node.js';
import type { ResourceType } from '../model/types.js';
import { decodeUtf8Strict, singleValueOf, singleValueTarget } from './text.js';
import type { CodecContext, NodeCodec } from './types.js';
import { coerceValue, dateToSeconds, formatObjectLink, inferType, normalizeInteger, parseObjectLink } from './values.js';

const FORMAT = 'application/cbor';
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const TWO_32 = 4294967296;
/** Bignum (tags 2/3) contents longer than this cannot be an LwM2M integer, even with leading zeros. */
const MAX_BIGNUM_BYTES = 16;

// ---- decoding -------------------------------------------------------------------------------------

/** The one data item of a payload, before it is matched against the model type. */
export type CborItem =
  | { readonly kind: 'int'; readonly value: number | bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'bytes'; readonly value: Uint8Array }
  /** Tag 1 (epoch seconds) around an integer or a whole float. */
  | { readonly kind: 'time'; readonly value: number | bigint };

class Reader {
  pos = 0;
  readonly dv: DataView;
  constructor(readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(what: string, at = this.pos): LwM2MError {
    return decodeError('BAD_CBOR', what, at);
  }

  need(n: number, what: string): void {
    if (n > this.buf.length - this.pos) {
      throw this.fail(`${what}: needs ${n} bytes, ${this.buf.length - this.pos} left`);
    }
  }

  /**
   * Reads the argument of an initial byte with additional information `ai` (RFC 8949 §3): a number when it
   * is below 2^53, else a bigint. `ai` 31 (indefinite) is handled by the caller.
   */
  argument(ai: number, at: number): number | bigint {
    if (ai < 24) return ai;
    switch (ai) {
      case 24: this.need(1, 'argument'); return this.buf[this.pos++] as number;
      case 25: { this.need(2, 'argument'); const v = this.dv.getUint16(this.pos); this.pos += 2; return v; }
      case 26: { this.need(4, 'argument'); const v = this.dv.getUint32(this.pos); this.pos += 4; return v; }
      case 27: {
        this.need(8, 'argument');
        const hi = this.dv.getUint32(this.pos);
        const lo = this.dv.getUint32(this.pos + 4);
        const v = hi < 0x200000 ? hi * TWO_32 + lo : this.dv.getBigUint64(this.pos);
        this.pos += 8;
        return v;
      }
      default:
        throw this.fail(`reserved additional information ${ai}`, at);
    }
  }

  /** A string length: must fit in what remains (no allocation from an unverified length). */
  length(ai: number, at: number): number {
    const n = this.argument(ai, at);
    if (typeof n === 'bigint' || n > this.buf.length - this.pos) {
      throw this.fail(`string declares ${n} bytes but only ${this.buf.length - this.pos} remain`, at);
    }
    return n;
  }

  /** Byte (major 2) or text (major 3) string contents, definite or indefinite (RFC 8949 §3.2.3). */
  stringBytes(major: 2 | 3, ai: number, at: number): Uint8Array {
    if (ai !== 31) {
      const n = this.length(ai, at);
      const s = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      return s;
    }
    // Indefinite length: definite chunks of the same major type until a break (0xff). Chunks cannot nest.
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      this.need(1, 'indefinite-length string');
      const cat = this.pos;
      const ib = this.buf[this.pos++] as number;
      if (ib === 0xff) break;
      if (ib >> 5 !== major || (ib & 0x1f) === 31) {
        throw this.fail('an indefinite-length string chunk must be a definite string of the same type', cat);
      }
      const n = this.length(ib & 0x1f, cat);
      // RFC 8949 §3.2.3: a text chunk starts and ends at a code point boundary, so each chunk is valid UTF-8.
      if (major === 3 && decodeUtf8Strict(this.buf, this.pos, this.pos + n) === undefined) {
        throw this.fail('text string chunk is not valid UTF-8', cat);
      }
      chunks.push(this.buf.subarray(this.pos, this.pos + n));
      this.pos += n;
      total += n;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  text(ai: number, at: number): string {
    const bytes = this.stringBytes(3, ai, at);
    const s = decodeUtf8Strict(bytes);
    if (s === undefined) throw this.fail('text string is not valid UTF-8', at);
    return s;
  }

  /** One data item; only the primitive kinds an LwM2M value can be. */
  item(): CborItem {
    this.need(1, 'data item');
    const at = this.pos;
    const ib = this.buf[this.pos++] as number;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    switch (major) {
      case 0:
        if (ai === 31) throw this.fail('an integer cannot have indefinite length', at);
        return { kind: 'int', value: this.argument(ai, at) };
      case 1: {
        if (ai === 31) throw this.fail('an integer cannot have indefinite length', at);
        const n = this.argument(ai, at);
        // -1 - n; exact as a number only while n < 2^53 - 1.
        return { kind: 'int', value: typeof n === 'number' && n < Number.MAX_SAFE_INTEGER ? -1 - n : -1n - BigInt(n) };
      }
      case 2: {
        const s = this.stringBytes(2, ai, at);
        const copy = new Uint8Array(s.length);
        copy.set(s);
        return { kind: 'bytes', value: copy };
      }
      case 3:
        return { kind: 'text', value: this.text(ai, at) };
      case 4:
      case 5:
        throw this.fail(`a ${major === 4 ? 'array' : 'map'} is not a single LwM2M value`, at);
      case 6:
        return this.tagged(ai, at);
      default:
        return this.simple(ai, at);
    }
  }

  tagged(ai: number, at: number): CborItem {
    if (ai === 31) throw this.fail('a tag cannot have indefinite length', at);
    const tag = this.argument(ai, at);
    this.need(1, `content of tag ${tag}`);
    const cat = this.pos;
    const ib = this.buf[this.pos++] as number;
    const major = ib >> 5;
    const cai = ib & 0x1f;
    if (tag === 1) {
      // RFC 8949 §3.4.2: epoch-based date/time, an integer or a float number of seconds.
      if ((major === 0 || major === 1) && cai !== 31) {
        const n = this.argument(cai, cat);
        const v = major === 0 ? n : typeof n === 'number' && n < Number.MAX_SAFE_INTEGER ? -1 - n : -1n - BigInt(n);
        return { kind: 'time', value: v };
      }
      if (major === 7 && cai >= 25 && cai <= 27) {
        const f = this.float(cai);
        if (!Number.isInteger(f)) throw this.fail(`tag 1 time ${f} is not a whole number of seconds`, cat);
        return { kind: 'time', value: f };
      }
      throw this.fail('tag 1 (epoch time) must contain a number', cat);
    }
    if (tag === 2 || tag === 3) {
      // RFC 8949 §3.4.3 bignums, as some encoders write every bigint (node-cbor does).
      if (major !== 2 || cai === 31) throw this.fail(`tag ${tag} (bignum) must contain a definite byte string`, cat);
      const n = this.length(cai, cat);
      if (n > MAX_BIGNUM_BYTES) throw this.fail(`bignum of ${n} bytes is too large for an LwM2M integer`, cat);
      let v = 0n;
      for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.buf[this.pos + i] as number);
      this.pos += n;
      return { kind: 'int', value: tag === 2 ? v : -1n - v };
    }
    throw this.fail(`tag ${tag} is not used by LwM2M values`, at);
  }

  float(ai: number): number {
    switch (ai) {
      case 25: { this.need(2, 'half float'); const v = halfToNumber(this.dv.getUint16(this.pos)); this.pos += 2; return v; }
      case 26: { this.need(4, 'single float'); const v = this.dv.getFloat32(this.pos); this.pos += 4; return v; }
      default: { this.need(8, 'double float'); const v = this.dv.getFloat64(this.pos); this.pos += 8; return v; }
    }
  }

  simple(ai: number, at: number): CborItem {
    if (ai === 20) return { kind: 'bool', value: false };
    if (ai === 21) return { kind: 'bool', value: true };
    if (ai >= 25 && ai <= 27) return { kind: 'float', value: this.float(ai) };
    if (ai === 22) throw this.fail('null is not an LwM2M value', at);
    if (ai === 23) throw this.fail('undefined is not an LwM2M value', at);
    if (ai === 31) throw this.fail('unexpected break (0xff)', at);
    if (ai >= 28) throw this.fail(`reserved additional information ${ai}`, at);
    throw this.fail(`simple value ${ai === 24 ? 'with a 1-byte argument' : ai} is not an LwM2M value`, at);
  }
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f === 0 ? sign * Infinity : NaN;
  return sign * (1024 + f) * 2 ** (e - 25);
}

/**
 * Decodes exactly one CBOR data item of a kind an LwM2M value can be; anything else (arrays, maps, other
 * tags, null, trailing bytes, truncation) throws `LWM2M_BAD_CBOR` (4.00).
 */
export function decodeCborItem(payload: Uint8Array): CborItem {
  const r = new Reader(payload);
  const item = r.item();
  if (r.pos !== payload.length) throw r.fail(`${payload.length - r.pos} trailing bytes after the data item`);
  return item;
}

/** Matches a decoded item against the model type (or, without one, returns its natural value). */
export function cborItemToValue(item: CborItem, type: ResourceType | undefined, where = 'value'): ResourceValue {
  const bad = (): LwM2MError =>
    decodeError('BAD_CBOR', `${where}: a CBOR ${item.kind === 'int' ? 'integer' : item.kind} is not a valid ${type ?? 'value'}`);
  const range = (v: number | bigint, min: bigint, max: bigint): number | bigint => {
    if (typeof v === 'bigint' ? v < min || v > max : v < Number(min) || v > Number(max)) {
      throw decodeError('BAD_CBOR', `${where}: ${v} is outside the range of ${type ?? 'a 64-bit integer'}`);
    }
    return normalizeInteger(v);
  };
  const toDate = (v: number | bigint): Date => {
    const ms = Number(v) * 1000;
    if (!(Math.abs(ms) <= 8.64e15)) throw decodeError('BAD_CBOR', `${where}: time ${v} s is outside the representable date range`);
    return new Date(ms);
  };
  switch (type) {
    case 'string':
    case 'corelnk':
      if (item.kind === 'text') return item.value;
      throw bad();
    case 'integer':
      if (item.kind === 'int') return range(item.value, INT64_MIN, INT64_MAX);
      throw bad();
    case 'unsignedInteger':
      if (item.kind === 'int') return range(item.value, 0n, UINT64_MAX);
      throw bad();
    case 'float':
      if (item.kind === 'float') return item.value;
      if (item.kind === 'int') return Number(item.value);
      throw bad();
    case 'boolean':
      if (item.kind === 'bool') return item.value;
      throw bad();
    case 'opaque':
      if (item.kind === 'bytes') return item.value;
      throw bad();
    case 'time':
      if (item.kind === 'time' || item.kind === 'int') return toDate(item.value);
      throw bad();
    case 'objlnk':
      if (item.kind !== 'text') throw bad();
      try {
        return parseObjectLink(item.value, where);
      } catch (e) {
        throw decodeError('BAD_CBOR', e instanceof LwM2MError ? e.detail : String(e));
      }
    case undefined:
    case 'none':
      switch (item.kind) {
        case 'int': return range(item.value, -(2n ** 64n), UINT64_MAX);
        case 'time': return toDate(item.value);
        default: return item.value;
      }
  }
}

// ---- encoding -------------------------------------------------------------------------------------

function headSize(arg: number | bigint): number {
  if (arg < 24) return 1;
  if (arg <= 0xff) return 2;
  if (arg <= 0xffff) return 3;
  if (arg <= 0xffffffff) return 5;
  return 9;
}

function writeHead(out: Uint8Array, dv: DataView, off: number, major: number, arg: number | bigint): number {
  const m = major << 5;
  if (arg < 24) {
    out[off] = m | Number(arg);
    return off + 1;
  }
  if (arg <= 0xff) {
    out[off] = m | 24;
    out[off + 1] = Number(arg);
    return off + 2;
  }
  if (arg <= 0xffff) {
    out[off] = m | 25;
    dv.setUint16(off + 1, Number(arg));
    return off + 3;
  }
  if (arg <= 0xffffffff) {
    out[off] = m | 26;
    dv.setUint32(off + 1, Number(arg));
    return off + 5;
  }
  out[off] = m | 27;
  if (typeof arg === 'bigint') {
    dv.setBigUint64(off + 1, arg);
  } else {
    const hi = Math.floor(arg / TWO_32);
    dv.setUint32(off + 1, hi);
    dv.setUint32(off + 5, arg - hi * TWO_32);
  }
  return off + 9;
}

/** Half-float bits for `v` when a half holds it exactly, else undefined (RFC 8949 §4.2.2 preferred floats). */
function toHalf(v: number): number | undefined {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) {
    const m = a * 2 ** 24; // subnormal: a = m * 2^-24, m in 1..1023
    return Number.isInteger(m) ? sign | m : undefined;
  }
  if (a > 65504) return undefined;
  const e = Math.floor(Math.log2(a));
  // Guard Math.log2 rounding at powers of two.
  const exp = 2 ** e > a ? e - 1 : 2 ** (e + 1) <= a ? e + 1 : e;
  const frac = a / 2 ** exp - 1; // in [0, 1)
  const f = frac * 1024;
  if (!Number.isInteger(f)) return undefined;
  return sign | ((exp + 15) << 10) | f;
}

function encodeIntItem(v: number | bigint): Uint8Array {
  const negative = v < 0;
  const arg = negative ? (typeof v === 'bigint' ? -1n - v : -1 - v) : v;
  const out = new Uint8Array(headSize(arg));
  writeHead(out, new DataView(out.buffer), 0, negative ? 1 : 0, arg);
  return out;
}

function encodeFloatItem(v: number): Uint8Array {
  const h = toHalf(v);
  if (h !== undefined) return Uint8Array.of(0xf9, h >> 8, h & 0xff);
  if (Math.fround(v) === v) {
    const out = new Uint8Array(5);
    out[0] = 0xfa;
    new DataView(out.buffer).setFloat32(1, v);
    return out;
  }
  const out = new Uint8Array(9);
  out[0] = 0xfb;
  new DataView(out.buffer).setFloat64(1, v);
  return out;
}

function encodeStringItem(major: 2 | 3, bytes: Uint8Array | string): Uint8Array {
  const n = typeof bytes === 'string' ? Buffer.byteLength(bytes, 'utf8') : bytes.length;
  const hs = headSize(n);
  const out = new Uint8Array(hs + n);
  writeHead(out, new DataView(out.buffer), 0, major, n);
  if (typeof bytes === 'string') Buffer.from(out.buffer, hs, n).write(bytes, 0, n, 'utf8');
  else out.set(bytes, hs);
  return out;
}

/** The type a value has without a model; a bigint above int64 can only be an unsigned integer. */
function naturalType(value: ResourceValue): ResourceType {
  return typeof value === 'bigint' && value > INT64_MAX ? 'unsignedInteger' : inferType(value);
}

/**
 * Encodes one value as a single CBOR data item, typed by `type` (or by its JS type without one).
 * Throws `LWM2M_BAD_VALUE` when the value does not fit the type.
 */
export function encodeCborValue(value: ResourceValue, type?: ResourceType, where = 'value'): Uint8Array {
  const t = type === undefined || type === 'none' ? naturalType(value) : type;
  const v = coerceValue(value, t, where);
  switch (t) {
    case 'string':
    case 'corelnk':
      return encodeStringItem(3, v as string);
    case 'integer':
    case 'unsignedInteger': {
      const n = v as number | bigint;
      if (typeof n === 'number' && !Number.isSafeInteger(n)) return encodeIntItem(BigInt(n));
      if (typeof n === 'bigint' && (n < -(2n ** 64n) || n > UINT64_MAX)) {
        throw new LwM2MError('BAD_VALUE', `${where}: ${n} does not fit a CBOR integer`);
      }
      return encodeIntItem(n);
    }
    case 'float':
      return encodeFloatItem(v as number);
    case 'boolean':
      return Uint8Array.of(v ? 0xf5 : 0xf4);
    case 'opaque':
      return encodeStringItem(2, v as Uint8Array);
    case 'time': {
      // Tag 1 (0xc1) + integer seconds.
      const body = encodeIntItem(dateToSeconds(v as Date));
      const out = new Uint8Array(body.length + 1);
      out[0] = 0xc1;
      out.set(body, 1);
      return out;
    }
    case 'objlnk':
      return encodeStringItem(3, formatObjectLink(v as { objectId: number; instanceId: number }));
  }
  throw new LwM2MError('INTERNAL', `${where}: no encoding for type ${t}`);
}

/** Decodes a payload holding one value of model type `type`. Throws `LWM2M_BAD_CBOR` (4.00). */
export function decodeCborValue(payload: Uint8Array, type?: ResourceType, where = 'value'): ResourceValue {
  return cborItemToValue(decodeCborItem(payload), type, where);
}

// ---- codec ----------------------------------------------------------------------------------------

/** application/cbor: one single resource or resource instance value. */
export const cborCodec: NodeCodec = {
  encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
    const { value, type } = singleValueOf(node, ctx, FORMAT);
    return encodeCborValue(value, type, ctx.path.toString());
  },
  decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
    const target = singleValueTarget(ctx, 'BAD_CBOR', FORMAT);
    return target.wrap(decodeCborValue(payload, target.type, ctx.path.toString()));
  },
};
