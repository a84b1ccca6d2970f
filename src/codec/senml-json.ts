/**
 * SenML JSON, content format 110 (RFC 8428 §5; LwM2M-TS-Core 1.1 §7.4.4).
 *
 * The parser is a strict single-pass JSON parser that builds {@link SenMLRecord}s directly (no generic JSON
 * tree), rather than `JSON.parse`, because:
 * - integer values beyond 2^53 (LwM2M Integer is int64, Unsigned Integer uint64) must keep full precision, and
 *   `JSON.parse` on Node 20 cannot hand back the source text of a number;
 * - duplicate members (which `JSON.parse` silently collapses) are rejected for the SenML labels;
 * - errors name the byte offset.
 * Unknown members are skipped (nesting bounded to {@link SENML_JSON_MAX_DEPTH}), except labels ending in `_`, which are
 * must-understand and rejected (RFC 8428 §4.4). Syntax errors are `LWM2M_BAD_JSON`, structural ones
 * `LWM2M_BAD_SENML`, value conversions `LWM2M_BAD_VALUE` — all CoAP 4.00.
 */
import { decodeError, LwM2MError, type ErrorKind } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import type { LwM2MNode, PathValue } from '../model/node.js';
import type { ModelLookup } from '../model/types.js';
import {
  emptyRecord, nodeToSenML, pathsToSenML, pathValuesToSenML, senmlToNode, senmlToPaths, senmlToPathValues,
  type SenMLRecord,
} from './senml.js';
import type { CodecContext, NodeCodec, RecordsCodec } from './types.js';
import { normalizeInteger } from './values.js';

/** Deepest nesting accepted inside the value of an unknown member. */
export const SENML_JSON_MAX_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const textEncoder = new TextEncoder();

// Member labels (RFC 8428 Table 2, plus LwM2M's vlo) → bit used for duplicate detection.
const K_BN = 1 << 0;
const K_BT = 1 << 1;
const K_BU = 1 << 2;
const K_BV = 1 << 3;
const K_BS = 1 << 4;
const K_BVER = 1 << 5;
const K_N = 1 << 6;
const K_U = 1 << 7;
const K_V = 1 << 8;
const K_VS = 1 << 9;
const K_VB = 1 << 10;
const K_VD = 1 << 11;
const K_S = 1 << 12;
const K_T = 1 << 13;
const K_UT = 1 << 14;
const K_VLO = 1 << 15;
const LABELS = new Map<string, number>([
  ['bn', K_BN], ['bt', K_BT], ['bu', K_BU], ['bv', K_BV], ['bs', K_BS], ['bver', K_BVER], ['n', K_N], ['u', K_U],
  ['v', K_V], ['vs', K_VS], ['vb', K_VB], ['vd', K_VD], ['s', K_S], ['t', K_T], ['ut', K_UT], ['vlo', K_VLO],
]);

const LABEL_NAMES = new Map<number, string>([...LABELS].map(([k, v]) => [v, k]));
/** 10^0 … 10^22: the powers of ten a double holds exactly. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

class JsonSenMLParser {
  private i = 0;

  constructor(private readonly s: string, private readonly bytes: Uint8Array) {}

  /** Byte offset of character index `at` (differs from it only for non-ASCII text or a BOM). */
  private byteOffset(at: number): number {
    const bom = this.bytes[0] === 0xef && this.bytes[1] === 0xbb && this.bytes[2] === 0xbf ? 3 : 0;
    if (this.bytes.length === this.s.length + bom) return at + bom;
    return Buffer.byteLength(this.s.slice(0, at), 'utf8') + bom;
  }

  private fail(kind: ErrorKind, detail: string, at = this.i): LwM2MError {
    return decodeError(kind, detail, this.byteOffset(Math.min(at, this.s.length)));
  }

  private syntax(expected: string): LwM2MError {
    if (this.i >= this.s.length) return this.fail('BAD_JSON', `unexpected end of JSON, expected ${expected}`);
    return this.fail('BAD_JSON', `expected ${expected}, found ${JSON.stringify(this.s.charAt(this.i))}`);
  }

  private ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  parse(): SenMLRecord[] {
    const s = this.s;
    this.ws();
    if (s.charCodeAt(this.i) !== 0x5b) {
      if (this.i < s.length && '{"-0123456789tfn'.includes(s.charAt(this.i))) {
        throw this.fail('BAD_SENML', 'a SenML pack must be a JSON array (RFC 8428 §5)');
      }
      throw this.syntax('"["');
    }
    this.i++;
    this.ws();
    const out: SenMLRecord[] = [];
    if (s.charCodeAt(this.i) === 0x5d) {
      this.i++;
    } else {
      for (;;) {
        this.ws();
        const c = s.charCodeAt(this.i);
        if (c !== 0x7b) {
          if (this.i < s.length && c !== 0x5d && c !== 0x2c) {
            // Still well-formed JSON possibly, but not a record: skip-check it to give the right error kind.
            const at = this.i;
            this.skip(0);
            throw this.fail('BAD_SENML', `SenML record ${out.length} must be a JSON object`, at);
          }
          throw this.syntax('a SenML record "{"');
        }
        out.push(this.record(out.length));
        this.ws();
        const d = s.charCodeAt(this.i);
        if (d === 0x2c) {
          this.i++;
        } else if (d === 0x5d) {
          this.i++;
          break;
        } else {
          throw this.syntax('"," or "]"');
        }
      }
    }
    this.ws();
    if (this.i !== s.length) throw this.fail('BAD_JSON', 'trailing data after the SenML pack');
    return out;
  }

  private record(index: number): SenMLRecord {
    const s = this.s;
    this.i++; // '{'
    const rec = emptyRecord();
    let seen = 0;
    this.ws();
    if (s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return rec;
    }
    for (;;) {
      if (s.charCodeAt(this.i) !== 0x22) throw this.syntax('a member name');
      const keyAt = this.i;
      let bit = this.knownLabel();
      let key = '';
      if (bit < 0) {
        key = this.string();
        bit = LABELS.get(key) ?? 0;
      }
      this.ws();
      if (s.charCodeAt(this.i) !== 0x3a) throw this.syntax('":"');
      this.i++;
      this.ws();
      if (bit !== 0) {
        if ((seen & bit) !== 0) throw this.fail('BAD_SENML', `record ${index}: duplicate "${LABEL_NAMES.get(bit) ?? ''}"`, keyAt);
        seen |= bit;
        key = LABEL_NAMES.get(bit) ?? '';
      }
      switch (bit) {
        case K_BN: rec.bn = this.stringField(key, index); break;
        case K_BU: rec.bu = this.stringField(key, index); break;
        case K_N: rec.n = this.stringField(key, index); break;
        case K_U: rec.u = this.stringField(key, index); break;
        case K_VS: rec.vs = this.stringField(key, index); break;
        case K_VLO: rec.vlo = this.stringField(key, index); break;
        case K_VD: {
          const at = this.i;
          const text = this.stringField(key, index);
          const bytes = base64urlDecode(text);
          if (bytes === undefined) throw this.fail('BAD_SENML', `record ${index}: "vd" is not base64url (RFC 8428 §5)`, at);
          rec.vd = bytes;
          break;
        }
        case K_BT: rec.bt = this.numberField(key, index, false) as number; break;
        case K_BV: rec.bv = this.numberField(key, index, false) as number; break;
        case K_T: rec.t = this.numberField(key, index, false) as number; break;
        case K_V: rec.v = this.numberField(key, index, true); break;
        case K_BS:
        case K_S:
        case K_UT:
          this.numberField(key, index, false); // RFC 8428: numbers, no LwM2M meaning
          break;
        case K_BVER: {
          const at = this.i;
          const v = this.numberField(key, index, false) as number;
          if (!Number.isInteger(v) || v < 0) throw this.fail('BAD_SENML', `record ${index}: "bver" must be an unsigned integer`, at);
          rec.bver = v;
          break;
        }
        case K_VB: {
          if (s.startsWith('true', this.i)) {
            rec.vb = true;
            this.i += 4;
          } else if (s.startsWith('false', this.i)) {
            rec.vb = false;
            this.i += 5;
          } else {
            throw this.typeError(key, index, 'a boolean');
          }
          break;
        }
        default:
          // RFC 8428 §4.4: unknown labels are ignored unless they end with '_' (must-understand).
          if (key.endsWith('_')) throw this.fail('BAD_SENML', `record ${index}: must-understand label "${key}" is not supported (RFC 8428 §4.4)`, keyAt);
          this.skip(0);
      }
      this.ws();
      const c = s.charCodeAt(this.i);
      if (c === 0x2c) {
        this.i++;
        this.ws();
      } else if (c === 0x7d) {
        this.i++;
        return rec;
      } else {
        throw this.syntax('"," or "}"');
      }
    }
  }

  /**
   * Fast path for the member names of RFC 8428 Table 2 (and vlo) written without escapes: returns the label's
   * bit and moves past the closing quote without building a string, or returns -1 and moves nothing.
   */
  private knownLabel(): number {
    const s = this.s;
    const i = this.i + 1;
    const c0 = s.charCodeAt(i);
    const c1 = s.charCodeAt(i + 1);
    if (c1 === 0x22) {
      let bit: number;
      switch (c0) {
        case 0x6e: bit = K_N; break;
        case 0x76: bit = K_V; break;
        case 0x74: bit = K_T; break;
        case 0x75: bit = K_U; break;
        case 0x73: bit = K_S; break;
        default: return -1;
      }
      this.i = i + 2;
      return bit;
    }
    const c2 = s.charCodeAt(i + 2);
    if (c2 === 0x22) {
      let bit: number;
      switch ((c0 << 8) | c1) {
        case 0x626e: bit = K_BN; break; // bn
        case 0x6274: bit = K_BT; break; // bt
        case 0x7673: bit = K_VS; break; // vs
        case 0x7662: bit = K_VB; break; // vb
        case 0x7664: bit = K_VD; break; // vd
        case 0x6275: bit = K_BU; break; // bu
        case 0x6276: bit = K_BV; break; // bv
        case 0x6273: bit = K_BS; break; // bs
        case 0x7574: bit = K_UT; break; // ut
        default: return -1;
      }
      this.i = i + 3;
      return bit;
    }
    if (c0 === 0x76 && c1 === 0x6c && c2 === 0x6f && s.charCodeAt(i + 3) === 0x22) {
      this.i = i + 4;
      return K_VLO;
    }
    return -1;
  }

  /** A value that is well-formed JSON but of the wrong type is a SenML error; malformed JSON a JSON one. */
  private typeError(key: string, index: number, expected: string): LwM2MError {
    const at = this.i;
    this.skip(0);
    return this.fail('BAD_SENML', `record ${index}: "${key}" must be ${expected}`, at);
  }

  private stringField(key: string, index: number): string {
    if (this.s.charCodeAt(this.i) !== 0x22) throw this.typeError(key, index, 'a string');
    return this.string();
  }

  private numberField(key: string, index: number, allowBig: boolean): number | bigint {
    const c = this.s.charCodeAt(this.i);
    if (c !== 0x2d && !isDigit(c)) throw this.typeError(key, index, 'a number');
    return this.number(allowBig);
  }

  /** A JSON string at `this.i` (the opening quote). */
  private string(): string {
    const s = this.s;
    const start = this.i + 1;
    let i = start;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return s.slice(start, i);
      }
      if (c === 0x5c) return this.stringWithEscapes(start, i);
      if (!(c >= 0x20)) {
        this.i = i;
        throw i >= s.length ? this.fail('BAD_JSON', 'unterminated string') : this.fail('BAD_JSON', 'control character in a string');
      }
      i++;
    }
  }

  private stringWithEscapes(start: number, firstEscape: number): string {
    const s = this.s;
    let out = s.slice(start, firstEscape);
    let i = firstEscape;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.i = i + 1;
        return out;
      }
      if (c === 0x5c) {
        const e = s.charCodeAt(i + 1);
        switch (e) {
          case 0x22: out += '"'; break;
          case 0x5c: out += '\\'; break;
          case 0x2f: out += '/'; break;
          case 0x62: out += '\b'; break;
          case 0x66: out += '\f'; break;
          case 0x6e: out += '\n'; break;
          case 0x72: out += '\r'; break;
          case 0x74: out += '\t'; break;
          case 0x75: {
            let code = 0;
            for (let k = 2; k < 6; k++) {
              const h = s.charCodeAt(i + k);
              const d = isDigit(h) ? h - 0x30 : h >= 0x61 && h <= 0x66 ? h - 0x57 : h >= 0x41 && h <= 0x46 ? h - 0x37 : -1;
              if (d < 0) {
                this.i = i;
                throw this.fail('BAD_JSON', 'invalid \\u escape');
              }
              code = code * 16 + d;
            }
            out += String.fromCharCode(code);
            i += 6;
            continue;
          }
          default:
            this.i = i;
            throw this.fail('BAD_JSON', 'invalid escape in a string');
        }
        i += 2;
        continue;
      }
      if (!(c >= 0x20)) {
        this.i = i;
        throw i >= s.length ? this.fail('BAD_JSON', 'unterminated string') : this.fail('BAD_JSON', 'control character in a string');
      }
      let j = i + 1;
      for (;;) {
        const d = s.charCodeAt(j);
        if (d === 0x22 || d === 0x5c || !(d >= 0x20)) break;
        j++;
      }
      out += s.slice(i, j);
      i = j;
    }
  }

  // Results of scanNumber (fields rather than a returned object: no allocation per number).
  private numIsInt = true;
  /** The significant digits as an integer, exact while {@link numSlow} is false (at most 15 digits). */
  private numMant = 0;
  private numFrac = 0;
  private numExp = 0;
  private numSlow = false;

  /** Scans a JSON number (RFC 8259 §6 grammar) from `this.i`, collecting its digits on the way. */
  private scanNumber(): void {
    const s = this.s;
    let i = this.i;
    if (s.charCodeAt(i) === 0x2d) i++;
    let c = s.charCodeAt(i);
    let mant = 0;
    let sig = 0;
    let frac = 0;
    let slow = false;
    if (c === 0x30) {
      c = s.charCodeAt(++i);
    } else if (c >= 0x31 && c <= 0x39) {
      while (isDigit(c)) {
        if (++sig > 15) slow = true;
        else mant = mant * 10 + (c - 0x30);
        c = s.charCodeAt(++i);
      }
    } else {
      this.i = i;
      throw this.syntax('a digit');
    }
    let isInt = true;
    if (c === 0x2e) {
      isInt = false;
      c = s.charCodeAt(++i);
      if (!isDigit(c)) {
        this.i = i;
        throw this.syntax('a digit after "."');
      }
      while (isDigit(c)) {
        if (mant !== 0 || c !== 0x30) sig++;
        if (sig > 15) slow = true;
        else mant = mant * 10 + (c - 0x30);
        frac++;
        c = s.charCodeAt(++i);
      }
    }
    let exp = 0;
    if (c === 0x65 || c === 0x45) {
      isInt = false;
      c = s.charCodeAt(++i);
      let expNeg = false;
      if (c === 0x2b || c === 0x2d) {
        expNeg = c === 0x2d;
        c = s.charCodeAt(++i);
      }
      if (!isDigit(c)) {
        this.i = i;
        throw this.syntax('a digit in the exponent');
      }
      let digits = 0;
      while (isDigit(c)) {
        if (++digits > 4) slow = true;
        else exp = exp * 10 + (c - 0x30);
        c = s.charCodeAt(++i);
      }
      if (expNeg) exp = -exp;
    }
    this.i = i;
    this.numIsInt = isInt;
    this.numMant = mant;
    this.numFrac = frac;
    this.numExp = exp;
    this.numSlow = slow;
  }

  /** A JSON number; integer literals beyond 2^53 become bigints when `allowBig`. Non-finite values are errors. */
  private number(allowBig: boolean): number | bigint {
    const start = this.i;
    const neg = this.s.charCodeAt(start) === 0x2d;
    this.scanNumber();
    if (!this.numSlow) {
      // At most 15 significant digits and 10^|e| ≤ 10^22: both operands are exact doubles, so one IEEE
      // multiplication or division gives the correctly rounded value (the same as Number(text)).
      const e = this.numExp - this.numFrac;
      const m = this.numMant;
      let v: number | undefined;
      if (e === 0) v = m;
      else if (e < 0 && e >= -22) v = m / (POW10[-e] as number);
      else if (e > 0 && e <= 22) v = m * (POW10[e] as number);
      if (v !== undefined) return neg ? -v : v;
    }
    const text = this.s.slice(start, this.i);
    const n = Number(text);
    // Exact integers up to 20 digits (uint64 needs 20); longer literals are read as floats, which also keeps
    // BigInt parsing (superlinear) off attacker-sized digit strings.
    if (this.numIsInt && allowBig && !Number.isSafeInteger(n) && text.length <= 21) return normalizeInteger(BigInt(text));
    if (!Number.isFinite(n)) throw this.fail('BAD_SENML', `number ${text.length > 40 ? `${text.slice(0, 40)}…` : text} is out of range`, start);
    return n;
  }

  /** Skips one JSON value (any type), bounded in depth. */
  private skip(depth: number): void {
    if (depth > SENML_JSON_MAX_DEPTH) throw this.fail('BAD_SENML', `JSON nested deeper than ${SENML_JSON_MAX_DEPTH}`);
    const s = this.s;
    const c = s.charCodeAt(this.i);
    switch (c) {
      case 0x22:
        this.string();
        return;
      case 0x7b: {
        this.i++;
        this.ws();
        if (s.charCodeAt(this.i) === 0x7d) {
          this.i++;
          return;
        }
        for (;;) {
          if (s.charCodeAt(this.i) !== 0x22) throw this.syntax('a member name');
          this.string();
          this.ws();
          if (s.charCodeAt(this.i) !== 0x3a) throw this.syntax('":"');
          this.i++;
          this.ws();
          this.skip(depth + 1);
          this.ws();
          const d = s.charCodeAt(this.i);
          if (d === 0x7d) {
            this.i++;
            return;
          }
          if (d !== 0x2c) throw this.syntax('"," or "}"');
          this.i++;
          this.ws();
        }
      }
      case 0x5b: {
        this.i++;
        this.ws();
        if (s.charCodeAt(this.i) === 0x5d) {
          this.i++;
          return;
        }
        for (;;) {
          this.skip(depth + 1);
          this.ws();
          const d = s.charCodeAt(this.i);
          if (d === 0x5d) {
            this.i++;
            return;
          }
          if (d !== 0x2c) throw this.syntax('"," or "]"');
          this.i++;
          this.ws();
        }
      }
      case 0x74:
        if (!s.startsWith('true', this.i)) throw this.syntax('a JSON value');
        this.i += 4;
        return;
      case 0x66:
        if (!s.startsWith('false', this.i)) throw this.syntax('a JSON value');
        this.i += 5;
        return;
      case 0x6e:
        if (!s.startsWith('null', this.i)) throw this.syntax('a JSON value');
        this.i += 4;
        return;
      default:
        if (c === 0x2d || isDigit(c)) {
          this.scanNumber();
          return;
        }
        throw this.syntax('a JSON value');
    }
  }
}

// base64url (RFC 4648 §5), padding optional on input; the standard alphabet's '+' and '/' are tolerated.
const B64 = new Int8Array(128).fill(-1);
for (let k = 0; k < 64; k++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(k)] = k;
B64[0x2b] = 62;
B64[0x2f] = 63;

/** Decodes base64url text (RFC 8428 §5: URL-safe alphabet, no padding); undefined when it is not valid. */
export function base64urlDecode(text: string): Uint8Array | undefined {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  const pad = text.length - end;
  if (pad > 2 || (pad > 0 && text.length % 4 !== 0) || end % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const d = c < 128 ? (B64[c] as number) : -1;
    if (d < 0) return undefined;
    acc = ((acc << 6) | d) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

export function base64urlEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Parses a SenML JSON pack into raw records (base fields not yet applied). Throws LwM2MError 4.00. */
export function parseSenMLJson(payload: Uint8Array): SenMLRecord[] {
  let text: string;
  try {
    text = utf8.decode(payload); // RFC 8428 §5: only UTF-8; a leading BOM is dropped
  } catch (e) {
    throw new LwM2MError('BAD_JSON', 'SenML JSON payload is not valid UTF-8', { cause: e });
  }
  return new JsonSenMLParser(text, payload).parse();
}

/**
 * Number → JSON text. Floats with at most 6 decimals (most sensor readings) take a fast exact path: m = v·10^k
 * rounded, accepted only when m / 10^k === v, which (both operands exact, one correctly rounded division) means
 * the decimal text m·10^-k reads back as exactly v. Everything else uses String(v) (shortest round-trip form).
 */
function jsonNumber(v: number | bigint, label: string): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isInteger(v)) {
    if (Number.isSafeInteger(v)) return String(v);
  } else if (Number.isFinite(v)) {
    const a = Math.abs(v);
    if (a >= 1e-4 && a < 1e9) {
      for (let k = 1; k <= 6; k++) {
        const p = POW10[k] as number;
        const m = Math.round(a * p);
        if (m / p === a) {
          const digits = String(m).padStart(k + 1, '0');
          const cut = digits.length - k;
          return `${v < 0 ? '-' : ''}${digits.slice(0, cut)}.${digits.slice(cut)}`;
        }
      }
    }
  } else {
    throw new LwM2MError('BAD_VALUE', `SenML JSON cannot carry ${v} in "${label}"`);
  }
  return String(v);
}

/** Writes JSON text straight into bytes (no intermediate string, no final UTF-8 encoding pass). */
class JsonWriter {
  buf: Uint8Array;
  p = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  private ensure(n: number): void {
    if (this.p + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.p + n));
    next.set(this.buf.subarray(0, this.p));
    this.buf = next;
  }

  /** Text known to be ASCII (labels, numbers, base64url). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.buf;
    let p = this.p;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.p = p;
  }

  /** A JSON string literal (RFC 8259 §7); plain ASCII is copied, anything else goes through JSON.stringify. */
  string(s: string): void {
    const n = s.length;
    this.ensure(n + 2);
    const b = this.buf;
    let p = this.p;
    b[p++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) {
        this.utf8(JSON.stringify(s));
        return;
      }
      b[p++] = c;
    }
    b[p++] = 0x22;
    this.p = p;
  }

  private utf8(text: string): void {
    this.ensure(text.length * 3);
    this.p += textEncoder.encodeInto(text, this.buf.subarray(this.p)).written;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.p);
  }
}

/** Serializes records as a SenML JSON pack (labels in the order bn, bt, bu, bv, bver, n, u, t, value). */
export function serializeSenMLJson(records: readonly SenMLRecord[]): Uint8Array {
  const w = new JsonWriter(16 + records.length * 32);
  w.ascii('[');
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as SenMLRecord;
    w.ascii(i === 0 ? '{' : ',{');
    let sep = '"';
    if (r.bn !== undefined) { w.ascii(`${sep}bn":`); w.string(r.bn); sep = ',"'; }
    if (r.bt !== undefined) { w.ascii(`${sep}bt":${jsonNumber(r.bt, 'bt')}`); sep = ',"'; }
    if (r.bu !== undefined) { w.ascii(`${sep}bu":`); w.string(r.bu); sep = ',"'; }
    if (r.bv !== undefined) { w.ascii(`${sep}bv":${jsonNumber(r.bv, 'bv')}`); sep = ',"'; }
    if (r.bver !== undefined) { w.ascii(`${sep}bver":${jsonNumber(r.bver, 'bver')}`); sep = ',"'; }
    if (r.n !== undefined) { w.ascii(`${sep}n":`); w.string(r.n); sep = ',"'; }
    if (r.u !== undefined) { w.ascii(`${sep}u":`); w.string(r.u); sep = ',"'; }
    if (r.t !== undefined) { w.ascii(`${sep}t":${jsonNumber(r.t, 't')}`); sep = ',"'; }
    if (r.v !== undefined) { w.ascii(`${sep}v":${jsonNumber(r.v, 'v')}`); sep = ',"'; }
    if (r.vs !== undefined) { w.ascii(`${sep}vs":`); w.string(r.vs); sep = ',"'; }
    if (r.vb !== undefined) { w.ascii(`${sep}vb":${r.vb ? 'true' : 'false'}`); sep = ',"'; }
    if (r.vd !== undefined) { w.ascii(`${sep}vd":"${base64urlEncode(r.vd)}"`); sep = ',"'; }
    if (r.vlo !== undefined) { w.ascii(`${sep}vlo":`); w.string(r.vlo); }
    w.ascii('}');
  }
  w.ascii(']');
  return w.result();
}

export interface SenMLCodecOptions {
  /**
   * Milliseconds since the epoch (like `Clock.now`), read once per decoded pack to resolve relative times
   * (RFC 8428 §4.5.3) in `decodeRecords`. Default `Date.now`.
   */
  now?: () => number;
}

/** A SenML JSON codec whose `decodeRecords` resolves relative times against `options.now`. */
export function createSenmlJsonCodec(options: SenMLCodecOptions = {}): NodeCodec & RecordsCodec {
  const now = options.now ?? Date.now;
  return {
    encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
      return serializeSenMLJson(nodeToSenML(ctx.path, node, ctx.models));
    },
    decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
      return senmlToNode(parseSenMLJson(payload), ctx.path, ctx.models);
    },
    encodeRecords(records: readonly PathValue[], opts?: { models?: ModelLookup }): Uint8Array {
      return serializeSenMLJson(pathValuesToSenML(records, opts?.models));
    },
    decodeRecords(payload: Uint8Array, opts?: { models?: ModelLookup; basePath?: LwM2MPath }): PathValue[] {
      return senmlToPathValues(parseSenMLJson(payload), { models: opts?.models, basePath: opts?.basePath, now });
    },
    encodePaths(paths: readonly LwM2MPath[]): Uint8Array {
      return serializeSenMLJson(pathsToSenML(paths));
    },
    decodePaths(payload: Uint8Array): LwM2MPath[] {
      return senmlToPaths(parseSenMLJson(payload));
    },
  };
}

/** SenML JSON (110): every node level, composite records, Send (bt/t), composite request paths. */
export const senmlJsonCodec: NodeCodec & RecordsCodec = createSenmlJsonCodec();
