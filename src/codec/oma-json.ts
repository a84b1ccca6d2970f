/**
 * OMA LwM2M JSON — content format 11543 `application/vnd.oma.lwm2m+json` (LwM2M-TS-Core 1.1 §7.4.5;
 * LwM2M 1.0 §6.4.4 under the pre-registration number 1543, the same format: one codec serves both).
 *
 *     {"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"6/0","v":1},{"n":"13","v":1367491215}]}
 *
 * Root: `bn` base name (optional), `bt` base time (optional), `e` the entries (required). Entry: `n`
 * name, one value — `v` number (Integer, Unsigned Integer, Float, and Time as seconds), `bv` boolean,
 * `ov` object link `"oid:iid"`, `sv` string (String, Corelnk, and Opaque as base64) — and `t`, time
 * relative to `bt`. Nothing else is accepted: unknown or repeated keys, a second value, a value of the
 * wrong JSON type, trailing text are all `LWM2M_BAD_JSON` (4.00).
 *
 * Names. An entry's path is its name joined to the base: `bn` when present, else the request path
 * (`basePath`; wakaama `data/json.c` resolves names against the request URI when `bn` is absent), else
 * `/`. Leshan (`LwM2mNodeJsonDecoder`) concatenates `bn + n`, wakaama strips a leading `/` from `n`
 * and treats it as relative: both read the same way under our join, which puts exactly one `/` between
 * base and name. Ids must be canonical decimals (no leading zeros, ≤ 65535), at most 4 levels.
 *
 * Encoding. Node reads use the request path as `bn` — `/3/0/` with names `0`, `6/0`… (Leshan
 * `LwM2mNodeJsonEncoder` does the same); a single resource or resource instance gets its full path as
 * `bn` and an entry without `n`. Record lists (composite, Send) take the longest common path as `bn`.
 * Object links go out as `ov` (wakaama writes `ov`; Leshan writes `sv`, which we also read when the
 * model says Objlnk). Opaque is base64 with padding, which decoding requires canonically.
 *
 * Time. A record's absolute time is `bt + t` (either may be absent, counting as 0; with neither the
 * record has no time). When every record has a time we write `bt` = the earliest and `t` as offsets
 * (omitted when 0); when only some have one, absolute `t` values without `bt`, so "no time" survives.
 *
 * Path lists (Read-/Observe-Composite): entries with a name and nothing else, `{"e":[{"n":"/3/0/1"}]}`.
 *
 * Bounds: a single forward scan over the text, shape-directed (only one level of objects in an array in
 * an object is ever accepted, so there is no recursion to exhaust); every loop consumes input.
 */
import { LwM2MError } from '../core/errors.js';
import { LwM2MPath, MAX_ID } from '../core/path.js';
import {
  isObjectLink, type LwM2MNode, type PathValue, type ResourceValue,
} from '../model/node.js';
import type { ModelLookup, ResourceType } from '../model/types.js';
import { Leaves, TypeLookup, leavesToNode, nodeToLeaves } from './lwm2m-cbor.js';
import type { CodecContext, NodeCodec, RecordsCodec } from './types.js';
import { coerceValue, dateToSeconds, formatObjectLink, normalizeInteger, parseObjectLink } from './values.js';

// ---- parsing --------------------------------------------------------------------------------------

type ValueKey = 'v' | 'sv' | 'bv' | 'ov';
type Raw = number | bigint | string | boolean;

/**
 * A parsed document in flat form: entry k's full path is leaf k of `leaves` (whose `vals` hold the raw
 * JSON values until they are converted), with its value key, `t` and source position alongside.
 */
interface Parsed {
  bt: number | undefined;
  leaves: Leaves;
  keys: (ValueKey | undefined)[];
  ts: (number | undefined)[];
  ats: number[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function jsonError(msg: string, at?: number, cause?: unknown): LwM2MError {
  return new LwM2MError('BAD_JSON', msg, at === undefined ? { cause } : { location: `char ${at}`, cause });
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/** A strict reader of exactly the OMA JSON shape (RFC 8259 tokens). */
class Reader {
  i = 0;
  // per entry, in document order: names as relative ids (stride 4), value key and raw value, t, position
  readonly rel: number[] = [];
  readonly relLen: number[] = [];
  readonly keys: (ValueKey | undefined)[] = [];
  readonly raws: Raw[] = [];
  readonly ts: (number | undefined)[] = [];
  readonly ats: number[] = [];

  constructor(readonly s: string) {}

  fail(msg: string, at = this.i): LwM2MError {
    return jsonError(msg, at);
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  /** Skips whitespace, then requires `ch`. */
  expect(ch: string): void {
    this.ws();
    if (this.s[this.i] !== ch) throw this.fail(this.i >= this.s.length ? `unexpected end, "${ch}" expected` : `"${ch}" expected`);
    this.i++;
  }

  /** After a member: true for `,` (another follows), false for the closing `close`. */
  more(close: string): boolean {
    this.ws();
    const c = this.s[this.i];
    if (c === ',') {
      this.i++;
      return true;
    }
    if (c === close) {
      this.i++;
      return false;
    }
    throw this.fail(this.i >= this.s.length ? 'unexpected end' : `"," or "${close}" expected`);
  }

  /** `{` then either `}` (returns false) or the first member follows (returns true). */
  open(): boolean {
    this.expect('{');
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return false;
    }
    return true;
  }

  /** A member name and its colon. Names of one or two plain characters (all OMA JSON has) skip `string`. */
  key(): string {
    this.ws();
    const s = this.s;
    const i = this.i;
    let k: string;
    const c1 = s.charCodeAt(i + 1);
    const c2 = s.charCodeAt(i + 2);
    const plain = (c: number): boolean => c >= 0x20 && c !== 0x22 && c !== 0x5c;
    if (s.charCodeAt(i) === 0x22 && plain(c1) && c2 === 0x22) {
      k = s[i + 1] as string;
      this.i = i + 3;
    } else if (s.charCodeAt(i) === 0x22 && plain(c1) && plain(c2) && s.charCodeAt(i + 3) === 0x22) {
      k = s.slice(i + 1, i + 3);
      this.i = i + 4;
    } else {
      k = this.string('a member name');
    }
    this.expect(':');
    this.ws();
    return k;
  }

  string(what: string): string {
    const s = this.s;
    if (s.charCodeAt(this.i) !== 0x22) throw this.fail(`${what} must be a string`);
    let i = ++this.i;
    let start = i;
    let out = '';
    for (;;) {
      if (i >= s.length) throw this.fail('unterminated string', i);
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        out += s.slice(start, i);
        this.i = i + 1;
        return out;
      }
      if (c === 0x5c) {
        out += s.slice(start, i);
        switch (s[i + 1]) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            let code = 0;
            for (let k = i + 2; k < i + 6; k++) {
              const h = s.charCodeAt(k);
              const d = h >= 0x30 && h <= 0x39 ? h - 0x30 : h >= 0x41 && h <= 0x46 ? h - 0x37 : h >= 0x61 && h <= 0x66 ? h - 0x57 : -1;
              if (d < 0) throw this.fail('bad \\u escape', i);
              code = code * 16 + d;
            }
            out += String.fromCharCode(code);
            i += 4;
            break;
          }
          default:
            throw this.fail('bad escape', i);
        }
        i += 2;
        start = i;
        continue;
      }
      if (c < 0x20) throw this.fail('control character in string', i);
      i++;
    }
  }

  /** A JSON number: integers keep full precision (bigint beyond 2^53), others are doubles. */
  number(what: string): number | bigint {
    const s = this.s;
    const start = this.i;
    let i = start;
    const digit = (k: number): boolean => {
      const c = s.charCodeAt(k);
      return c >= 0x30 && c <= 0x39;
    };
    if (s.charCodeAt(i) === 0x2d) i++;
    if (s.charCodeAt(i) === 0x30) i++;
    else if (digit(i)) while (digit(i)) i++;
    else throw this.fail(`${what} must be a number`, start);
    let integer = true;
    if (s.charCodeAt(i) === 0x2e) {
      i++;
      if (!digit(i)) throw this.fail('digit expected after "."', i);
      while (digit(i)) i++;
      integer = false;
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      if (!digit(i)) throw this.fail('digit expected in exponent', i);
      while (digit(i)) i++;
      integer = false;
    }
    this.i = i;
    const text = s.slice(start, i);
    if (integer) return i - start <= 15 ? Number(text) : normalizeInteger(BigInt(text));
    const v = Number(text);
    if (!Number.isFinite(v)) throw this.fail(`number ${clip(text)} is out of range`, start);
    return v;
  }

  boolean(what: string): boolean {
    const s = this.s;
    if (s.startsWith('true', this.i)) {
      this.i += 4;
      return true;
    }
    if (s.startsWith('false', this.i)) {
      this.i += 5;
      return false;
    }
    throw this.fail(`${what} must be true or false`);
  }

  /** The whole document; names resolve against `bn`, else `base` (the request path), else `/`. */
  document(base: readonly number[] | undefined): Parsed {
    let bn: string | undefined;
    let bt: number | undefined;
    let hasE = false;
    let seen = 0;
    if (this.open()) {
      do {
        const at = this.i;
        const k = this.key();
        const bit = k === 'bn' ? 1 : k === 'bt' ? 2 : k === 'e' ? 4 : 0;
        if (bit === 0) throw this.fail(`unknown member "${clip(k)}" (only "bn", "bt" and "e")`, at);
        if (seen & bit) throw this.fail(`duplicate "${k}"`, at);
        seen |= bit;
        if (bit === 1) bn = this.string('"bn"');
        else if (bit === 2) bt = Number(this.number('"bt"'));
        else {
          this.entries();
          hasE = true;
        }
      } while (this.more('}'));
    }
    this.ws();
    if (this.i !== this.s.length) throw this.fail('trailing characters after the JSON object');
    if (!hasE) throw jsonError('missing "e" (the entries)');

    const baseIds = bn !== undefined ? parseBaseName(bn) : base ?? [];
    const leaves = new Leaves();
    const ids = [0, 0, 0, 0];
    for (let k = 0; k < this.relLen.length; k++) {
      const n = this.relLen[k] as number;
      const len = baseIds.length + n;
      if (len > 4) throw jsonError('entry path deeper than 4 levels', this.ats[k]);
      for (let j = 0; j < baseIds.length; j++) ids[j] = baseIds[j] as number;
      for (let j = 0; j < n; j++) ids[baseIds.length + j] = this.rel[k * 4 + j] as number;
      for (let j = len; j < 4; j++) ids[j] = 0;
      leaves.push(ids[0] as number, ids[1] as number, ids[2] as number, ids[3] as number, len, this.raws[k] as ResourceValue);
    }
    return { bt, leaves, keys: this.keys, ts: this.ts, ats: this.ats };
  }

  entries(): void {
    this.expect('[');
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return;
    }
    do {
      this.ws();
      this.entry();
    } while (this.more(']'));
  }

  entry(): void {
    const at = this.i;
    let key: ValueKey | undefined;
    let raw: Raw = false;
    let t: number | undefined;
    let seen = 0;
    const slot = this.relLen.length;
    this.rel.push(0, 0, 0, 0);
    this.relLen.push(0);
    if (this.open()) {
      do {
        const kat = this.i;
        const k = this.key();
        const bit = k === 'n' ? 1 : k === 't' ? 2 : k === 'v' ? 4 : k === 'sv' ? 8 : k === 'bv' ? 16 : k === 'ov' ? 32 : 0;
        if (bit === 0) throw this.fail(`unknown entry member "${clip(k)}"`, kat);
        if (seen & bit) throw this.fail(`duplicate "${k}"`, kat);
        seen |= bit;
        if (bit >= 4 && key !== undefined) throw this.fail(`an entry carries one value, "${key}" and "${k}" given`, kat);
        switch (bit) {
          case 1: {
            const nat = this.i;
            this.relLen[slot] = parseName(this.string('"n"'), this.rel, slot * 4, nat);
            break;
          }
          case 2: t = Number(this.number('"t"')); break;
          case 4: key = 'v'; raw = this.number('"v"'); break;
          case 8: key = 'sv'; raw = this.string('"sv"'); break;
          case 16: key = 'bv'; raw = this.boolean('"bv"'); break;
          default: key = 'ov'; raw = this.string('"ov"'); break;
        }
      } while (this.more('}'));
    }
    this.keys.push(key);
    this.raws.push(raw);
    this.ts.push(t);
    this.ats.push(at);
  }
}

/** `0` or a decimal without leading zeros, ≤ 65535; -1 if not. */
function canonicalId(s: string, from: number, to: number): number {
  const n = to - from;
  if (n < 1 || n > 5) return -1;
  if (n > 1 && s.charCodeAt(from) === 0x30) return -1;
  let v = 0;
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v <= MAX_ID ? v : -1;
}

/** Writes the slash-separated canonical ids of `s` (from `from`) into `out[at..]`; returns how many. */
function parseIds(s: string, from: number, out: number[], at: number, what: string, pos: number | undefined): number {
  let n = 0;
  let start = from;
  for (let k = from; k <= s.length; k++) {
    if (k === s.length || s.charCodeAt(k) === 0x2f) {
      const id = canonicalId(s, start, k);
      if (id < 0) throw jsonError(`${what} "${clip(s)}" is not a path of ids in 0..65535`, pos);
      if (n === 4) throw jsonError(`${what} "${clip(s)}" is deeper than 4 levels`, pos);
      out[at + n++] = id;
      start = k + 1;
    }
  }
  return n;
}

/** `bn`: an absolute path, optionally with a trailing `/` ("/", "/3/0/", "/3/0/1"). */
function parseBaseName(bn: string): number[] {
  if (bn === '/') return [];
  if (bn[0] !== '/') throw jsonError(`"bn" "${clip(bn)}" must start with "/"`);
  const body = bn.endsWith('/') ? bn.slice(0, -1) : bn;
  const ids: number[] = [];
  parseIds(body, 1, ids, 0, '"bn"', undefined);
  return ids;
}

/** `n`: ids relative to the base, optionally with a leading `/`; "" and "/" name the base itself. */
function parseName(n: string, out: number[], at: number, pos: number): number {
  const from = n.charCodeAt(0) === 0x2f ? 1 : 0;
  if (from === n.length) return 0;
  return parseIds(n, from, out, at, '"n"', pos);
}

function parseDocument(payload: Uint8Array, base: readonly number[] | undefined): Parsed {
  if (!(payload instanceof Uint8Array)) throw jsonError('payload must be bytes');
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch (cause) {
    throw jsonError('payload is not valid UTF-8', undefined, cause);
  }
  const r = new Reader(text);
  try {
    return r.document(base);
  } catch (e) {
    if (e instanceof LwM2MError) throw e;
    throw jsonError(`malformed OMA JSON: ${String(e)}`, r.i, e);
  }
}

// ---- values ---------------------------------------------------------------------------------------

/** Strict base64 (RFC 4648 §4, padded, canonical): it must re-encode to the very same text. */
function base64ToBytes(s: string, at: number | undefined): Uint8Array {
  const buf = Buffer.from(s, 'base64');
  if (buf.toString('base64') !== s) throw jsonError('"sv" of an Opaque resource is not canonical base64', at);
  const out = new Uint8Array(buf.byteLength);
  out.set(buf);
  return out;
}

function bytesToBase64(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

/**
 * Entry k's value in the model type, or in its natural form without one (§7.4.5: `sv` string, `v`
 * number, `bv` boolean, `ov` object link). LWM2M_BAD_VALUE (4.00) when the model type cannot be met.
 */
function entryValue(doc: Parsed, k: number, types: TypeLookup): ResourceValue {
  const L = doc.leaves;
  const key = doc.keys[k];
  const raw = L.vals[k] as Raw;
  const type = types.typeOf(L.id(k, 0), L.id(k, 2));
  if (type === undefined || type === 'none') {
    return key === 'ov' ? parseObjectLink(raw as string, L.pathText(k)) : raw;
  }
  switch (type) {
    case 'string':
    case 'corelnk':
      if (key === 'sv') return raw;
      break;
    case 'opaque':
      if (key === 'sv') return base64ToBytes(raw as string, doc.ats[k]);
      break;
    case 'objlnk':
      // "ov" per the spec; Leshan writes object links as "sv"
      if (key === 'ov' || key === 'sv') return parseObjectLink(raw as string, L.pathText(k));
      break;
    case 'float':
      if (key === 'v') return typeof raw === 'bigint' ? Number(raw) : raw;
      break;
    case 'boolean':
      if (key === 'bv') return raw;
      break;
    case 'integer':
    case 'unsignedInteger':
    case 'time':
      if (key !== 'v') break;
      if (type === 'time' || typeof raw !== 'number' || !Number.isSafeInteger(raw) || (type === 'unsignedInteger' && raw < 0)) {
        return coerceValue(raw, type, L.pathText(k));
      }
      return raw;
  }
  throw new LwM2MError('BAD_VALUE', `${L.pathText(k)}: "${key ?? '?'}" cannot carry a ${type} value`);
}

// ---- decoding -------------------------------------------------------------------------------------

/** Checks the entries are values at resource level or below, under `basePath`; converts the values. */
function checkValues(doc: Parsed, models: ModelLookup | undefined, basePath: LwM2MPath | undefined): void {
  const L = doc.leaves;
  const base = basePath?.ids ?? [];
  const types = new TypeLookup(models);
  for (let k = 0; k < L.count; k++) {
    if (doc.keys[k] === undefined) throw jsonError(`entry ${L.pathText(k)} has no value ("v", "sv", "bv" or "ov")`, doc.ats[k]);
    if (L.length(k) < 3) throw jsonError(`entry ${L.pathText(k)}: values belong to resources or resource instances`, doc.ats[k]);
    let inside = L.length(k) >= base.length;
    for (let j = 0; inside && j < base.length; j++) inside = L.id(k, j) === base[j];
    if (!inside) throw jsonError(`entry ${L.pathText(k)} lies outside the request path ${basePath?.toString() ?? '/'}`, doc.ats[k]);
  }
  for (let k = 0; k < L.count; k++) L.vals[k] = entryValue(doc, k, types);
}

function timeOf(doc: Parsed, k: number): number | undefined {
  const t = doc.ts[k];
  return doc.bt === undefined && t === undefined ? undefined : (doc.bt ?? 0) + (t ?? 0);
}

/** Entry indexes in path order (stable: one path's history keeps its order). */
function pathOrder(L: Leaves): number[] {
  const order = Array.from({ length: L.count }, (_, k) => k);
  let sorted = true;
  for (let k = 1; k < L.count && sorted; k++) if (L.compare(k - 1, k) > 0) sorted = false;
  return sorted ? order : order.sort((a, b) => L.compare(a, b));
}

/**
 * Checks sorted entries: none below another one's value, and a path repeats only at different times
 * (a history, as in Send or notifications). `time(k)` is entry k's time.
 */
function checkRepeats(L: Leaves, order: number[], time: (k: number) => number | undefined, fail: (msg: string, k: number) => LwM2MError): void {
  for (let o = 1; o < order.length; o++) {
    const prev = order[o - 1] as number;
    const k = order[o] as number;
    if (L.isPrefix(prev, k)) throw fail(`${L.pathText(prev)} is given a value and so is ${L.pathText(k)} below it`, k);
    if (L.compare(prev, k) !== 0) continue;
    const t = time(k);
    for (let j = o - 1; j >= 0 && L.compare(order[j] as number, k) === 0; j--) {
      if (time(order[j] as number) === t) throw fail(`duplicate entry for ${L.pathText(k)}${t === undefined ? '' : ` at time ${t}`}`, k);
    }
  }
}

function decodeRecords(payload: Uint8Array, models: ModelLookup | undefined, basePath: LwM2MPath | undefined): PathValue[] {
  const doc = parseDocument(payload, basePath?.ids);
  checkValues(doc, models, basePath);
  const L = doc.leaves;
  const order = pathOrder(L);
  checkRepeats(L, order, (k) => timeOf(doc, k), (msg, k) => jsonError(msg, doc.ats[k]));
  const out: PathValue[] = new Array<PathValue>(order.length);
  for (let o = 0; o < order.length; o++) {
    const k = order[o] as number;
    const time = timeOf(doc, k);
    const path = L.toPath(k);
    const value = L.vals[k] as ResourceValue;
    out[o] = time === undefined ? { path, value } : { path, value, time };
  }
  return out;
}

function decodeNode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
  const doc = parseDocument(payload, ctx.path.ids);
  checkValues(doc, ctx.models, ctx.path);
  const L = doc.leaves;
  L.prepare(false, (msg) => jsonError(msg)); // a node holds one value a path: no history here
  // the values are already in the model type: take them as they are
  return leavesToNode(L, ctx.path, ctx.models, 'BAD_JSON', (leaves, i) => leaves.vals[i] as ResourceValue);
}

// ---- encoding -------------------------------------------------------------------------------------

const TWO_63 = 9223372036854775808;
const TWO_64 = 18446744073709551616;
const textEncoder = new TextEncoder();

function badValue(where: string, what: string): LwM2MError {
  return new LwM2MError('BAD_VALUE', `${where}: ${what}`);
}

function numberText(v: number, L: Leaves, k: number): string {
  if (!Number.isFinite(v)) throw badValue(L.pathText(k), `${v} cannot be written in JSON`);
  return Object.is(v, -0) ? '-0' : String(v); // "-0" is a JSON number, and keeps the sign
}

function objlnkText(v: { objectId: number; instanceId: number }, L: Leaves, k: number): string {
  const ok = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= MAX_ID;
  if (!ok(v.objectId) || !ok(v.instanceId)) throw badValue(L.pathText(k), `object link ${formatObjectLink(v)} has an id outside 0..65535`);
  return `"ov":"${formatObjectLink(v)}"`;
}

function timeText(d: Date, L: Leaves, k: number): string {
  if (Number.isNaN(d.getTime())) throw badValue(L.pathText(k), 'invalid Date');
  return `"v":${dateToSeconds(d)}`;
}

function naturalText(v: ResourceValue, L: Leaves, k: number): string {
  if (typeof v === 'string') return `"sv":${JSON.stringify(v)}`;
  if (typeof v === 'number') return `"v":${numberText(v, L, k)}`;
  if (typeof v === 'bigint') return `"v":${v}`;
  if (typeof v === 'boolean') return v ? '"bv":true' : '"bv":false';
  if (v instanceof Uint8Array) return `"sv":"${bytesToBase64(v)}"`;
  if (v instanceof Date) return timeText(v, L, k);
  if (isObjectLink(v)) return objlnkText(v, L, k);
  throw badValue(L.pathText(k), 'unsupported value');
}

function inInteger(v: number | bigint, type: 'integer' | 'unsignedInteger'): boolean {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return false;
    return type === 'integer' ? v >= -TWO_63 && v < TWO_63 : v >= 0 && v < TWO_64;
  }
  return type === 'integer' ? v >= -(2n ** 63n) && v < 2n ** 63n : v >= 0n && v < 2n ** 64n;
}

/** `"key":value` for `v` as the model type says, or undefined when `v` is not that type's JS form. */
function typedText(v: ResourceValue, type: ResourceType, L: Leaves, k: number): string | undefined {
  switch (type) {
    case 'string':
    case 'corelnk':
      return typeof v === 'string' ? `"sv":${JSON.stringify(v)}` : undefined;
    case 'integer':
    case 'unsignedInteger':
      if ((typeof v === 'number' || typeof v === 'bigint') && inInteger(v, type)) {
        return typeof v === 'number' && !Number.isSafeInteger(v) ? `"v":${BigInt(v)}` : `"v":${v}`;
      }
      return undefined;
    case 'float':
      return typeof v === 'number' ? `"v":${numberText(v, L, k)}` : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? (v ? '"bv":true' : '"bv":false') : undefined;
    case 'opaque':
      return v instanceof Uint8Array ? `"sv":"${bytesToBase64(v)}"` : undefined;
    case 'time':
      return v instanceof Date ? timeText(v, L, k) : undefined;
    case 'objlnk':
      return isObjectLink(v) ? objlnkText(v, L, k) : undefined;
    case 'none':
      return naturalText(v, L, k);
  }
}

function valueText(L: Leaves, k: number, types: TypeLookup): string {
  const v = L.vals[k] as ResourceValue;
  const type = types.typeOf(L.id(k, 0), L.id(k, 2));
  if (type === undefined) return naturalText(v, L, k);
  const direct = typedText(v, type, L, k);
  if (direct !== undefined) return direct;
  const converted = coerceValue(v, type, L.pathText(k)); // "3:0" → objlnk, seconds → Time, or BAD_VALUE
  const text = typedText(converted, type, L, k);
  if (text === undefined) throw badValue(L.pathText(k), `value does not fit type ${type}`);
  return text;
}

/** Serialises leaves (in their order) under `base`, the path they all share: names are relative to it. */
function write(L: Leaves, times: readonly (number | undefined)[] | undefined, base: number, models: ModelLookup | undefined): Uint8Array {
  const types = new TypeLookup(models);
  const n = L.count;
  let anyNamed = false;
  for (let k = 0; k < n && !anyNamed; k++) if (L.length(k) > base) anyNamed = true;
  let bn = '';
  for (let j = 0; j < base; j++) bn += `/${n > 0 ? L.id(0, j) : 0}`;
  if (bn === '') bn = '/';
  else if (anyNamed) bn += '/';
  let out = `{"bn":"${bn}"`;

  // time: bt + t (see the header)
  let bt: number | undefined;
  let timed = 0;
  if (times !== undefined) {
    let min = Infinity;
    for (let k = 0; k < n; k++) {
      const t = times[k];
      if (t === undefined) continue;
      if (!Number.isFinite(t)) throw badValue(L.pathText(k), `time ${t} cannot be written in JSON`);
      timed++;
      if (t < min) min = t;
    }
    if (timed === n && n > 0) {
      bt = min;
      // a common base only when every offset adds back exactly
      for (let k = 0; k < n && bt !== undefined; k++) if (min + ((times[k] as number) - min) !== times[k]) bt = undefined;
    }
  }
  if (bt !== undefined) out += `,"bt":${String(bt)}`;
  out += ',"e":[';
  for (let k = 0; k < n; k++) {
    out += k === 0 ? '{' : ',{';
    const len = L.length(k);
    if (len > base) {
      out += `"n":"${L.id(k, base)}`;
      for (let j = base + 1; j < len; j++) out += `/${L.id(k, j)}`;
      out += '",';
    }
    out += valueText(L, k, types);
    const t = times?.[k];
    if (t !== undefined) {
      const rel = bt === undefined ? t : t - bt;
      if (bt === undefined || rel !== 0) out += `,"t":${String(rel)}`;
    }
    out += '}';
  }
  out += ']}';
  return textEncoder.encode(out);
}

/** Number of leading ids all leaves share. */
function commonDepth(L: Leaves): number {
  if (L.count === 0) return 0;
  let d = L.length(0);
  for (let k = 1; k < L.count; k++) {
    let j = 0;
    while (j < d && j < L.length(k) && L.id(k, j) === L.id(0, j)) j++;
    d = j;
  }
  return d;
}

// ---- the codec ------------------------------------------------------------------------------------

export const omaJsonCodec: NodeCodec & RecordsCodec = {
  encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
    const L = nodeToLeaves(ctx.path, node);
    L.prepare(false, (msg) => new LwM2MError('BAD_VALUE', msg));
    if (L.count === 0) return textEncoder.encode(`{"bn":"${ctx.path.toString()}","e":[]}`);
    return write(L, undefined, ctx.path.depth, ctx.models);
  },

  decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
    return decodeNode(payload, ctx);
  },

  encodeRecords(records: readonly PathValue[], options: { models?: ModelLookup } = {}): Uint8Array {
    const L = new Leaves();
    const times: (number | undefined)[] = [];
    for (const r of records) {
      const p = r.path;
      if (p.resourceId === undefined) throw new LwM2MError('BAD_VALUE', `record ${p.toString()} is not a resource or resource instance`);
      const riid = p.resourceInstanceId;
      L.push(p.objectId as number, p.instanceId as number, p.resourceId, riid ?? 0, riid === undefined ? 3 : 4, r.value);
      times.push(r.time);
    }
    checkRepeats(L, pathOrder(L), (k) => times[k], (msg) => new LwM2MError('BAD_VALUE', msg));
    return write(L, times, commonDepth(L), options.models);
  },

  decodeRecords(payload: Uint8Array, options: { models?: ModelLookup; basePath?: LwM2MPath } = {}): PathValue[] {
    return decodeRecords(payload, options.models, options.basePath);
  },

  encodePaths(paths: readonly LwM2MPath[]): Uint8Array {
    const seen = new Set<string>();
    let out = '{"e":[';
    paths.forEach((p, k) => {
      const text = p.toString();
      if (seen.has(text)) throw new LwM2MError('BAD_VALUE', `duplicate path ${text}`);
      seen.add(text);
      out += `${k === 0 ? '' : ','}{"n":"${text}"}`;
    });
    return textEncoder.encode(`${out}]}`);
  },

  decodePaths(payload: Uint8Array): LwM2MPath[] {
    const doc = parseDocument(payload, undefined);
    if (doc.bt !== undefined) throw jsonError('a path list carries no "bt"');
    const L = doc.leaves;
    const seen = new Set<string>();
    const out: LwM2MPath[] = new Array<LwM2MPath>(L.count);
    for (let k = 0; k < L.count; k++) {
      const text = L.pathText(k);
      if (doc.keys[k] !== undefined || doc.ts[k] !== undefined) throw jsonError(`a path list entry carries only "n" (${text})`, doc.ats[k]);
      if (seen.has(text)) throw jsonError(`duplicate path ${text}`, doc.ats[k]);
      seen.add(text);
      out[k] = L.toPath(k);
    }
    return out;
  },
};
