/**
 * SenML CBOR, content format 112 (RFC 8428 §6; the SenML CBOR clause of LwM2M-TS-Core 1.1 §7.4, next to
 * SenML JSON §7.4.4).
 *
 * Map labels are the integers of RFC 8428 Table 4 (bver -1, bn -2, bt -3, bu -4, bv -5, bs -6, n 0, u 1, v 2,
 * vs 3, vb 4, s 5, t 6, ut 7, vd 8). LwM2M's Object Link value uses the *text* key "vlo": RFC 8428 §6 says the
 * integer table is conclusive and "any extensions will use string map keys", and Leshan (SenMLCborPackSerDes)
 * reads and writes `"vlo"` as a text key.
 *
 * The decoder is hand-written instead of cbor-x because cbor-x is unsafe on hostile input here: it pre-allocates
 * `new Array(declaredLength)` for definite arrays (up to 112 810 000 elements from a 5-byte header), keeps global
 * decoder state, and interprets extension tags (shared references, records) that SenML never uses. This decoder
 * reads only what SenML needs, checks every declared length against the bytes left before using it (nothing is
 * allocated from a declared length), bounds nesting when skipping unknown values, rejects trailing bytes, and
 * reports byte offsets. Malformed CBOR is `LWM2M_BAD_CBOR`, valid CBOR that is not SenML `LWM2M_BAD_SENML`,
 * unconvertible values `LWM2M_BAD_VALUE` — all CoAP 4.00.
 *
 * Accepted numbers (RFC 8428 §6): integers (64-bit; bignums, tags 2/3, up to 16 bytes), half/single/double
 * floats and decimal fractions (tag 4). Strings must be definite-length (RFC 8428 §6); the pack array and the
 * record maps may be indefinite-length (SensML streaming style).
 */
import { decodeError, LwM2MError, type ErrorKind } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import type { LwM2MNode, PathValue } from '../model/node.js';
import type { ModelLookup } from '../model/types.js';
import {
  emptyRecord, nodeToSenML, pathsToSenML, pathValuesToSenML, senmlToNode, senmlToPaths, senmlToPathValues,
  type SenMLRecord,
} from './senml.js';
import type { SenMLCodecOptions } from './senml-json.js';
import type { CodecContext, NodeCodec, RecordsCodec } from './types.js';
import { normalizeInteger } from './values.js';

/** Deepest nesting accepted inside the value of an unknown label. */
export const SENML_CBOR_MAX_DEPTH = 32;
/** Largest bignum (tags 2/3) accepted, in bytes. */
const MAX_BIGNUM_BYTES = 16;
/** Largest decimal-fraction exponent magnitude accepted (beyond it a double is 0 or infinite anyway). */
const MAX_DECFRAC_EXPONENT = 400;

/** RFC 8428 Table 4. */
export const SenMLCborLabel = {
  bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, bs: -6, n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8,
} as const;
/** LwM2M-TS-Core 1.1 (SenML CBOR, §7.4): the Object Link value's label is the text string "vlo". */
export const VLO_LABEL = 'vlo';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();
const TWO_32 = 2 ** 32;
const UINT64_MAX = 2n ** 64n - 1n;

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/**
 * Short ASCII strings (names like "6/0", "/3/0/", short values) repeat across records and packs: a small
 * direct-mapped cache returns the same string without building a new one. Bounded (a fixed array of slots).
 */
const SHORT_STRING = 16;
const STRING_SLOTS = 1024;
const stringCache: Array<string | undefined> = new Array<string | undefined>(STRING_SLOTS).fill(undefined);

/** The string of ASCII bytes b[start..end), or undefined when one of them is not ASCII. */
function shortAscii(b: Uint8Array, start: number, end: number): string | undefined {
  let h = end - start;
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    if (c > 0x7f) return undefined;
    h = (Math.imul(h, 31) + c) | 0;
  }
  const slot = h & (STRING_SLOTS - 1);
  const cand = stringCache[slot];
  if (cand !== undefined && cand.length === end - start) {
    let same = true;
    for (let i = start, j = 0; i < end; i++, j++) {
      if (cand.charCodeAt(j) !== b[i]) {
        same = false;
        break;
      }
    }
    if (same) return cand;
  }
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i] as number);
  stringCache[slot] = s;
  return s;
}

class CborSenMLReader {
  private p = 0;
  private readonly view: DataView;
  private readonly buf: Buffer;
  // Result of head(): major type, argument (as a number; `big` holds it exactly when it exceeds 2^53).
  private major = 0;
  private arg = 0;
  private big: bigint | undefined = undefined;
  private indef = false;

  constructor(private readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }

  private fail(kind: ErrorKind, detail: string, at = this.p): LwM2MError {
    return decodeError(kind, detail, at);
  }

  private need(n: number, at: number): void {
    if (at + n > this.b.length) throw this.fail('BAD_CBOR', 'unexpected end of CBOR data', this.b.length);
  }

  /** Reads an initial byte and its argument (RFC 8949 §3). Major type 7 is left to the callers. */
  private head(): void {
    const b = this.b;
    const p = this.p;
    if (p >= b.length) throw this.fail('BAD_CBOR', 'unexpected end of CBOR data');
    const ib = b[p] as number;
    const ai = ib & 31;
    this.major = ib >> 5;
    this.big = undefined;
    this.indef = false;
    if (ai < 24) {
      this.arg = ai;
      this.p = p + 1;
      return;
    }
    switch (ai) {
      case 24:
        this.need(2, p);
        this.arg = b[p + 1] as number;
        this.p = p + 2;
        return;
      case 25:
        this.need(3, p);
        this.arg = this.view.getUint16(p + 1);
        this.p = p + 3;
        return;
      case 26:
        this.need(5, p);
        this.arg = this.view.getUint32(p + 1);
        this.p = p + 5;
        return;
      case 27: {
        this.need(9, p);
        const hi = this.view.getUint32(p + 1);
        const lo = this.view.getUint32(p + 5);
        if (hi < 0x200000) {
          this.arg = hi * TWO_32 + lo;
        } else {
          this.big = (BigInt(hi) << 32n) | BigInt(lo);
          this.arg = Number(this.big);
        }
        this.p = p + 9;
        return;
      }
      case 31:
        if (this.major >= 2 && this.major <= 5) {
          this.indef = true;
          this.arg = 0;
          this.p = p + 1;
          return;
        }
        throw this.fail('BAD_CBOR', ib === 0xff ? 'unexpected break' : `indefinite length is not allowed for major type ${this.major}`);
      default:
        throw this.fail('BAD_CBOR', `reserved additional information ${ai}`);
    }
  }

  /** True (and consumes it) when the next byte is a break (0xff); errors at the end of data. */
  private atBreak(): boolean {
    if (this.p >= this.b.length) throw this.fail('BAD_CBOR', 'unexpected end of CBOR data (missing break)');
    if (this.b[this.p] === 0xff) {
      this.p++;
      return true;
    }
    return false;
  }

  parse(): SenMLRecord[] {
    const at = this.p;
    if (at < this.b.length && (this.b[at] as number) >> 5 !== 4) {
      this.skip(0); // malformed CBOR is a CBOR error; well-formed but not an array a SenML one
      throw this.fail('BAD_SENML', 'a SenML pack must be a CBOR array (RFC 8428 §6)', at);
    }
    this.head();
    const indef = this.indef;
    const count = this.arg;
    if (!indef && count > this.b.length - this.p) throw this.fail('BAD_CBOR', `array of ${count} items exceeds the data`, at);
    const out: SenMLRecord[] = [];
    for (let k = 0; indef || k < count; k++) {
      if (indef && this.atBreak()) break;
      out.push(this.record(out.length));
    }
    if (this.p !== this.b.length) throw this.fail('BAD_CBOR', `${this.b.length - this.p} trailing bytes after the SenML pack`);
    return out;
  }

  private record(index: number): SenMLRecord {
    const at = this.p;
    if (at < this.b.length && (this.b[at] as number) >> 5 !== 5) {
      this.skip(0);
      throw this.fail('BAD_SENML', `SenML record ${index} must be a CBOR map`, at);
    }
    this.head();
    const indef = this.indef;
    const count = this.arg;
    if (!indef && count > (this.b.length - this.p) / 2) throw this.fail('BAD_CBOR', `map of ${count} pairs exceeds the data`, at);
    const rec = emptyRecord();
    let seen = 0;
    for (let k = 0; indef || k < count; k++) {
      if (indef && this.atBreak()) break;
      const keyAt = this.p;
      const km = this.peekMajor();
      let label: number; // -6..8, 9 for "vlo", 10 for unknown
      if (km === 0 || km === 1) {
        this.head();
        label = this.big !== undefined || this.arg > 8 ? 10 : km === 0 ? this.arg : -1 - this.arg;
        if (label < -6) label = 10;
      } else if (km === 3) {
        const name = this.text('a label');
        if (name === VLO_LABEL) {
          label = 9;
        } else {
          // RFC 8428 §4.4: unknown labels are ignored unless they end with '_' (must-understand).
          if (name.endsWith('_')) throw this.fail('BAD_SENML', `record ${index}: must-understand label "${name}" is not supported (RFC 8428 §4.4)`, keyAt);
          label = 10;
        }
      } else {
        this.skip(0);
        throw this.fail('BAD_SENML', `record ${index}: a label must be an integer or a text string`, keyAt);
      }
      if (label !== 10) {
        const bit = 1 << (label + 6);
        if ((seen & bit) !== 0) throw this.fail('BAD_SENML', `record ${index}: duplicate label ${label === 9 ? VLO_LABEL : label}`, keyAt);
        seen |= bit;
      }
      switch (label) {
        case -1: {
          const vat = this.p;
          const v = this.uint();
          if (v === undefined) throw this.fail('BAD_SENML', `record ${index}: bver must be an unsigned integer (RFC 8428 §6)`, vat);
          rec.bver = v;
          break;
        }
        case -2: rec.bn = this.text('bn'); break;
        case -3: rec.bt = this.finite('bt'); break;
        case -4: rec.bu = this.text('bu'); break;
        case -5: rec.bv = this.finite('bv'); break;
        case -6: this.number('bs', false); break;
        case 0: rec.n = this.text('n'); break;
        case 1: rec.u = this.text('u'); break;
        case 2: rec.v = this.number('v', true); break;
        case 3: rec.vs = this.text('vs'); break;
        case 4: rec.vb = this.bool('vb'); break;
        case 5: this.number('s', false); break;
        case 6: rec.t = this.finite('t'); break;
        case 7: this.number('ut', false); break;
        case 8: rec.vd = this.bytes('vd'); break;
        case 9: rec.vlo = this.text('vlo'); break;
        default: this.skip(0);
      }
    }
    return rec;
  }

  /** The next item must be of `major` type; well-formed items of another type are SenML errors. */
  private wrongType(what: string, expected: string): LwM2MError {
    const at = this.p;
    this.skip(0);
    return this.fail('BAD_SENML', `${what} must be ${expected}`, at);
  }

  private peekMajor(): number {
    if (this.p >= this.b.length) throw this.fail('BAD_CBOR', 'unexpected end of CBOR data');
    return (this.b[this.p] as number) >> 5;
  }

  /** A definite-length payload of `this.arg` bytes starting at `this.p`, bounds-checked. */
  private payloadEnd(what: string, at: number): number {
    if (this.indef) throw this.fail('BAD_SENML', `${what} must be a definite-length string (RFC 8428 §6)`, at);
    if (this.big !== undefined || this.arg > this.b.length - this.p) {
      throw this.fail('BAD_CBOR', `string of ${this.big ?? this.arg} bytes exceeds the data`, at);
    }
    return this.p + this.arg;
  }

  private text(what: string): string {
    const at = this.p;
    if (this.peekMajor() !== 3) throw this.wrongType(what, 'a text string');
    this.head();
    const end = this.payloadEnd(what, at);
    const b = this.b;
    const start = this.p;
    this.p = end;
    if (end - start <= SHORT_STRING) {
      const cached = shortAscii(b, start, end);
      if (cached !== undefined) return cached;
    } else if (end - start <= 64) {
      let ascii = true;
      for (let i = start; i < end; i++) {
        if ((b[i] as number) > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) return this.buf.toString('latin1', start, end);
    }
    try {
      return utf8.decode(b.subarray(start, end));
    } catch (e) {
      throw new LwM2MError('BAD_CBOR', `${what} is not valid UTF-8`, { location: `byte ${at}`, cause: e });
    }
  }

  private bytes(what: string): Uint8Array {
    const at = this.p;
    if (this.peekMajor() !== 2) throw this.wrongType(what, 'a byte string');
    this.head();
    const end = this.payloadEnd(what, at);
    const out = this.b.slice(this.p, end);
    this.p = end;
    return out;
  }

  private bool(what: string): boolean {
    const c = this.b[this.p];
    if (c === 0xf5 || c === 0xf4) {
      this.p++;
      return c === 0xf5;
    }
    throw this.wrongType(what, 'a boolean');
  }

  /** An unsigned integer that fits in a number, else undefined (after skipping a well-formed item). */
  private uint(): number | undefined {
    if (this.peekMajor() !== 0) {
      this.skip(0);
      return undefined;
    }
    this.head();
    return this.big === undefined ? this.arg : undefined;
  }

  /** An integer from major type 0/1 (exact: bigint beyond 2^53). */
  private integer(): number | bigint {
    const neg = this.major === 1;
    if (this.big !== undefined) return neg ? -1n - this.big : this.big;
    if (!neg) return this.arg;
    return this.arg < Number.MAX_SAFE_INTEGER ? -1 - this.arg : normalizeInteger(-1n - BigInt(this.arg));
  }

  /**
   * A SenML number (RFC 8428 §6): integer, float, bignum or decimal fraction. With `allowBig` integers beyond
   * 2^53 stay exact bigints, otherwise they become numbers.
   */
  private number(what: string, allowBig: boolean): number | bigint {
    const at = this.p;
    const b = this.b;
    if (at >= b.length) throw this.fail('BAD_CBOR', 'unexpected end of CBOR data');
    const ib = b[at] as number;
    switch (ib) {
      case 0xf9:
        this.need(3, at);
        this.p = at + 3;
        return halfToNumber(this.view.getUint16(at + 1));
      case 0xfa:
        this.need(5, at);
        this.p = at + 5;
        return this.view.getFloat32(at + 1);
      case 0xfb:
        this.need(9, at);
        this.p = at + 9;
        return this.view.getFloat64(at + 1);
    }
    const major = ib >> 5;
    if (major === 0 || major === 1) {
      this.head();
      const v = this.integer();
      return allowBig || typeof v === 'number' ? v : Number(v);
    }
    if (major === 6) {
      this.head();
      const tag = this.big === undefined ? this.arg : -1;
      if (tag === 2 || tag === 3) {
        const v = this.bignum(tag, at);
        return allowBig ? v : Number(v);
      }
      if (tag === 4) return this.decimalFraction(what, allowBig, at);
      this.p = at;
    }
    throw this.wrongType(what, 'a number');
  }

  /** A time or base value: a finite number. */
  private finite(what: string): number {
    const at = this.p;
    const v = this.number(what, false) as number;
    if (!Number.isFinite(v)) throw this.fail('BAD_SENML', `${what} must be a finite number`, at);
    return v;
  }

  /** RFC 8949 §3.4.3: the byte string after tag 2/3, as an integer (normalized: number when safe). */
  private bignum(tag: number, at: number): number | bigint {
    if (this.peekMajor() !== 2) throw this.wrongType('a bignum', 'a byte string');
    this.head();
    const end = this.payloadEnd('a bignum', at);
    if (end - this.p > MAX_BIGNUM_BYTES) throw this.fail('BAD_SENML', `bignum longer than ${MAX_BIGNUM_BYTES} bytes`, at);
    let n = 0n;
    for (let i = this.p; i < end; i++) n = (n << 8n) | BigInt(this.b[i] as number);
    this.p = end;
    return normalizeInteger(tag === 3 ? -1n - n : n);
  }

  /** RFC 8949 §3.4.4: tag 4 [exponent, mantissa] = mantissa × 10^exponent. */
  private decimalFraction(what: string, allowBig: boolean, at: number): number | bigint {
    const bad = (): LwM2MError => this.fail('BAD_SENML', `${what}: malformed decimal fraction`, at);
    if (this.peekMajor() !== 4) throw bad();
    this.head();
    if (this.indef || this.arg !== 2) throw bad();
    const em = this.peekMajor();
    if (em !== 0 && em !== 1) throw bad();
    this.head();
    const e = this.integer();
    if (typeof e !== 'number' || Math.abs(e) > MAX_DECFRAC_EXPONENT) throw bad();
    const mm = this.peekMajor();
    let m: number | bigint;
    if (mm === 0 || mm === 1) {
      this.head();
      m = this.integer();
    } else if (mm === 6) {
      const tat = this.p;
      this.head();
      if (this.big !== undefined || (this.arg !== 2 && this.arg !== 3)) throw bad();
      m = this.bignum(this.arg, tat);
    } else {
      throw bad();
    }
    if (allowBig && e >= 0 && e <= 20) return normalizeInteger(BigInt(m) * 10n ** BigInt(e));
    const v = Number(`${m}e${e}`);
    if (!Number.isFinite(v)) throw this.fail('BAD_SENML', `${what}: decimal fraction out of range`, at);
    return v;
  }

  /** Skips one well-formed data item of any type (RFC 8949 §3), bounded in depth. */
  private skip(depth: number): void {
    if (depth > SENML_CBOR_MAX_DEPTH) throw this.fail('BAD_SENML', `CBOR nested deeper than ${SENML_CBOR_MAX_DEPTH}`);
    const b = this.b;
    const at = this.p;
    if (at >= b.length) throw this.fail('BAD_CBOR', 'unexpected end of CBOR data');
    const ib = b[at] as number;
    if (ib >> 5 === 7) {
      const ai = ib & 31;
      if (ai < 24) this.p = at + 1;
      else if (ai === 24) {
        this.need(2, at);
        // RFC 8949 §3.3: simple values below 32 in two bytes are not well-formed
        if ((b[at + 1] as number) < 32) throw this.fail('BAD_CBOR', 'invalid two-byte simple value');
        this.p = at + 2;
      } else if (ai === 25) { this.need(3, at); this.p = at + 3; }
      else if (ai === 26) { this.need(5, at); this.p = at + 5; }
      else if (ai === 27) { this.need(9, at); this.p = at + 9; }
      else if (ai === 31) throw this.fail('BAD_CBOR', 'unexpected break');
      else throw this.fail('BAD_CBOR', `reserved additional information ${ai}`);
      return;
    }
    this.head();
    const major = this.major;
    switch (major) {
      case 0:
      case 1:
        return;
      case 2:
      case 3:
        if (this.indef) {
          while (!this.atBreak()) {
            const cat = this.p;
            this.head();
            if (this.major !== major || this.indef) throw this.fail('BAD_CBOR', 'invalid chunk in an indefinite-length string', cat);
            this.p = this.payloadEnd('a chunk', cat);
          }
        } else {
          this.p = this.payloadEnd('a string', at);
        }
        return;
      case 4:
      case 5: {
        const per = major === 5 ? 2 : 1;
        if (this.indef) {
          while (!this.atBreak()) for (let j = 0; j < per; j++) this.skip(depth + 1);
        } else {
          const count = this.arg;
          if (this.big !== undefined || count * per > b.length - this.p) throw this.fail('BAD_CBOR', 'container length exceeds the data', at);
          for (let k = 0; k < count * per; k++) this.skip(depth + 1);
        }
        return;
      }
      default: // 6: tag, then its content
        this.skip(depth + 1);
    }
  }
}

/** Parses a SenML CBOR pack into raw records (base fields not yet applied). Throws LwM2MError 4.00. */
export function parseSenMLCbor(payload: Uint8Array): SenMLRecord[] {
  return new CborSenMLReader(payload).parse();
}

// ---- encoder ------------------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE 754 half-precision bits of `n` when it is exactly representable, else -1. */
function halfBits(n: number): number {
  f32[0] = n;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : 0x7e00;
  if (exp === 0 && mant === 0) return sign;
  const e = exp - 127;
  if (e > 15) return -1;
  if (e >= -14) return (mant & 0x1fff) === 0 ? sign | ((e + 15) << 10) | (mant >>> 13) : -1;
  if (e < -24 || exp === 0) return -1;
  const full = mant | 0x800000;
  const shift = -e - 1; // half subnormal: value = h × 2^-24, h = full × 2^(e - 23 + 24)
  return (full & ((1 << shift) - 1)) === 0 ? sign | (full >>> shift) : -1;
}

class CborWriter {
  buf: Uint8Array;
  view: DataView;
  p = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(n: number): void {
    if (this.p + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.p + n));
    next.set(this.buf.subarray(0, this.p));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  head(major: number, n: number): void {
    this.ensure(9);
    const m = major << 5;
    const b = this.buf;
    if (n < 24) {
      b[this.p++] = m | n;
    } else if (n < 0x100) {
      b[this.p++] = m | 24;
      b[this.p++] = n;
    } else if (n < 0x10000) {
      b[this.p++] = m | 25;
      this.view.setUint16(this.p, n);
      this.p += 2;
    } else if (n < TWO_32) {
      b[this.p++] = m | 26;
      this.view.setUint32(this.p, n);
      this.p += 4;
    } else {
      b[this.p++] = m | 27;
      this.view.setUint32(this.p, Math.floor(n / TWO_32));
      this.view.setUint32(this.p + 4, n >>> 0);
      this.p += 8;
    }
  }

  headBig(major: number, n: bigint): void {
    if (n <= BigInt(Number.MAX_SAFE_INTEGER)) {
      this.head(major, Number(n));
      return;
    }
    this.ensure(9);
    this.buf[this.p++] = (major << 5) | 27;
    this.view.setBigUint64(this.p, n);
    this.p += 8;
  }

  int(n: number): void {
    if (n >= 0) this.head(0, n);
    else this.head(1, -1 - n);
  }

  text(s: string): void {
    const len = s.length;
    if (len < 24) {
      this.ensure(1 + len);
      const start = this.p;
      const b = this.buf;
      b[start] = 0x60 | len;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        b[start + 1 + i] = c;
      }
      if (i === len) {
        this.p = start + 1 + len;
        return;
      }
    }
    const bytes = textEncoder.encode(s);
    this.head(3, bytes.length);
    this.raw(bytes);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.p);
    this.p += bytes.length;
  }

  /** A number in its shortest exact form: integer, or half/single/double float (RFC 8428 §6). */
  number(v: number | bigint): void {
    if (typeof v === 'bigint') {
      if (v >= 0n) {
        if (v <= UINT64_MAX) this.headBig(0, v);
        else this.bignum(2, v);
      } else {
        const m = -1n - v;
        if (m <= UINT64_MAX) this.headBig(1, m);
        else this.bignum(3, m);
      }
      return;
    }
    if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
      this.int(v);
      return;
    }
    this.ensure(9);
    const b = this.buf;
    if (Math.fround(v) === v || Number.isNaN(v)) {
      const h = halfBits(v);
      if (h >= 0) {
        b[this.p] = 0xf9;
        this.view.setUint16(this.p + 1, h);
        this.p += 3;
      } else {
        b[this.p] = 0xfa;
        this.view.setFloat32(this.p + 1, v);
        this.p += 5;
      }
    } else {
      b[this.p] = 0xfb;
      this.view.setFloat64(this.p + 1, v);
      this.p += 9;
    }
  }

  private bignum(tag: number, n: bigint): void {
    let hex = n.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    this.head(6, tag);
    const bytes = Buffer.from(hex, 'hex');
    this.head(2, bytes.length);
    this.raw(bytes);
  }
}

function checkFinite(v: number, label: string): number {
  if (!Number.isFinite(v)) throw new LwM2MError('BAD_VALUE', `"${label}" must be a finite number, got ${v}`);
  return v;
}

/**
 * Serializes records as a SenML CBOR pack: a definite-length array of maps with the RFC 8428 Table 4 integer
 * labels, in the order bn, bt, bu, bv, bver, n, u, t, then the value (`"vlo"` as a text key).
 */
export function serializeSenMLCbor(records: readonly SenMLRecord[]): Uint8Array {
  const w = new CborWriter(16 + records.length * 32);
  w.head(4, records.length);
  for (const r of records) {
    let count = 0;
    if (r.bn !== undefined) count++;
    if (r.bt !== undefined) count++;
    if (r.bu !== undefined) count++;
    if (r.bv !== undefined) count++;
    if (r.bver !== undefined) count++;
    if (r.n !== undefined) count++;
    if (r.u !== undefined) count++;
    if (r.t !== undefined) count++;
    if (r.v !== undefined) count++;
    if (r.vs !== undefined) count++;
    if (r.vb !== undefined) count++;
    if (r.vd !== undefined) count++;
    if (r.vlo !== undefined) count++;
    w.head(5, count);
    if (r.bn !== undefined) { w.int(-2); w.text(r.bn); }
    if (r.bt !== undefined) { w.int(-3); w.number(checkFinite(r.bt, 'bt')); }
    if (r.bu !== undefined) { w.int(-4); w.text(r.bu); }
    if (r.bv !== undefined) { w.int(-5); w.number(checkFinite(r.bv, 'bv')); }
    if (r.bver !== undefined) {
      if (!Number.isSafeInteger(r.bver) || r.bver < 0) throw new LwM2MError('BAD_VALUE', `bver ${r.bver} is not an unsigned integer`);
      w.int(-1);
      w.int(r.bver);
    }
    if (r.n !== undefined) { w.int(0); w.text(r.n); }
    if (r.u !== undefined) { w.int(1); w.text(r.u); }
    if (r.t !== undefined) { w.int(6); w.number(checkFinite(r.t, 't')); }
    if (r.v !== undefined) { w.int(2); w.number(r.v); }
    if (r.vs !== undefined) { w.int(3); w.text(r.vs); }
    if (r.vb !== undefined) { w.int(4); w.ensure(1); w.buf[w.p++] = r.vb ? 0xf5 : 0xf4; }
    if (r.vd !== undefined) { w.int(8); w.head(2, r.vd.length); w.raw(r.vd); }
    if (r.vlo !== undefined) { w.text(VLO_LABEL); w.text(r.vlo); }
  }
  return w.buf.slice(0, w.p);
}

/** A SenML CBOR codec whose `decodeRecords` resolves relative times against `options.now`. */
export function createSenmlCborCodec(options: SenMLCodecOptions = {}): NodeCodec & RecordsCodec {
  const now = options.now ?? Date.now;
  return {
    encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
      return serializeSenMLCbor(nodeToSenML(ctx.path, node, ctx.models));
    },
    decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
      return senmlToNode(parseSenMLCbor(payload), ctx.path, ctx.models);
    },
    encodeRecords(records: readonly PathValue[], opts?: { models?: ModelLookup }): Uint8Array {
      return serializeSenMLCbor(pathValuesToSenML(records, opts?.models));
    },
    decodeRecords(payload: Uint8Array, opts?: { models?: ModelLookup; basePath?: LwM2MPath }): PathValue[] {
      return senmlToPathValues(parseSenMLCbor(payload), { models: opts?.models, basePath: opts?.basePath, now });
    },
    encodePaths(paths: readonly LwM2MPath[]): Uint8Array {
      return serializeSenMLCbor(pathsToSenML(paths));
    },
    decodePaths(payload: Uint8Array): LwM2MPath[] {
      return senmlToPaths(parseSenMLCbor(payload));
    },
  };
}

/** SenML CBOR (112): every node level, composite records, Send (bt/t), composite request paths. */
export const senmlCborCodec: NodeCodec & RecordsCodec = createSenmlCborCodec();
