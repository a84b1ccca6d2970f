/**
 * LwM2M CBOR — content format 11544, `application/vnd.oma.lwm2m+cbor` (LwM2M-TS-Core 1.2 §7.4.7).
 *
 * The payload is one CBOR map (RFC 8949) whose nesting follows the path tree:
 *
 *     {[3, 0]: {0: "Open Mobile Alliance", 6: {0: 1, 1: 5}, 13: 1(1367491215)}}
 *
 * - A map key is either one path id (unsigned integer) or an array of ids standing for several levels at
 *   once; both forms may be mixed freely, at any level (`{13: {26: {1: 42}}}`, `{[13, 26, 1]: 42}`,
 *   `{[13, 26]: {1: 42}, [13, 26, 2]: 21}` all decode the same way).
 * - Paths are absolute: the first-level keys of the root map start at the Object ID whatever the request
 *   path was (a Read of /13/26/1 answers `{[13, 26, 1]: 42}`), and every decoded path must lie under the
 *   request path. Confirmed against AVSystem Anjay `src/core/io/anjay_lwm2m_cbor_{in,out}.c` and its
 *   tests `tests/core/io/lwm2m_cbor_{in,out}.c`, and Anjay Lite `src/anj/io/lwm2m_cbor_{encoder,decoder}.c`.
 * - Leaves are CBOR values: integer (major 0/1), float, boolean, text (String, Corelnk, and Objlnk as
 *   `"oid:iid"`), byte string (Opaque), Time as tag 1 over an integer (we also read tag 1 over a float,
 *   and a bare integer for a Time resource). Anjay Lite `_anj_cbor_encode_value` (src/anj/io/cbor_encoder.c)
 *   writes exactly these. Decimal fractions (tag 4, which Anjay's decoder also takes) are not read.
 * - `null` leaves carry no value: they are the path list of Read-/Observe-Composite requests
 *   ({@link lwm2mCborCodec.encodePaths}/{@link lwm2mCborCodec.decodePaths}); a value payload must not
 *   contain them, and a path list must contain nothing else.
 * - There is no timestamp in this format (SenML exists for that), so records with a `time` are refused.
 *
 * Encoder form. We emit the *compact* form: every chain of single-child levels is merged into one array
 * key, so a Read of /3/0 gives `{[3, 0]: {…}}`, a single resource `{[3, 0, 1]: v}`, a composite of
 * /3/0/1 and /5/0/3 gives `{[3, 0, 1]: a, [5, 0, 3]: b}`. That is what Anjay writes for the request
 * path (its `encode_base_path`: `{[13, 26]: {1: 42, 2: 21}}` for a Read of /13/26), generalised to
 * every level; it is never larger than the plain nested form (Anjay Lite writes that one), and every
 * peer must read both anyway. Maps are definite-length (RFC 8949 §4.2.1 preferred serialisation; Anjay
 * writes indefinite maps, which we read); integers and lengths use the shortest head, floats the
 * shortest of half/single/double that holds the value exactly.
 *
 * Strictness. Rejected with LWM2M_BAD_CBOR (4.00): anything but one map, trailing bytes, keys that are
 * not ids or arrays of ids, ids above 65535, more than 4 path levels, empty maps below the root, a map
 * with the same key twice (RFC 8949 §5.6), two keys reaching the same path, a value both at a resource
 * and below it, values above resource level, tags other than 1, simple values other than
 * false/true/null, arrays as values, invalid UTF-8, and paths outside the request path.
 *
 * Why not cbor-x. We decode and encode by hand. With `{useRecords: false, mapsAsObjects: false}`
 * cbor-x still (1) keeps only the last of two equal map keys (`a2 01 01 01 02` → `Map {1 => 2}`), so a
 * duplicated path is silently lost instead of rejected; (2) interprets every tag it knows (28/29 shared
 * references build cyclic structures, 27/258/64… build Errors, Sets, typed arrays), so a hostile payload
 * would hand us objects our walker would have to defend against; (3) gives no byte offset for errors.
 * A purpose-built reader also walks the payload once, straight into flat path/value arrays, and
 * never builds the intermediate Map tree — which matters for the /3/0 encode+decode benchmark.
 *
 * Limits (all decoders are bounded by the payload length): at most 4 path levels in total (the object,
 * instance, resource and resource-instance ids; LwM2M 1.2 gateway prefixes — text keys — are not
 * supported and rejected), ids 0..65535, so maps nest at most 5 deep; every loop consumes at least one
 * byte; no length is trusted before it is checked against the bytes left.
 */
import { LwM2MError, decodeError } from '../core/errors.js';
import { LwM2MPath, MAX_ID } from '../core/path.js';
import {
  checkNodeMatchesPath, isObjectLink,
  type LwM2MNode, type ObjectInstanceNode, type PathValue, type ResourceNode, type ResourceValue,
} from '../model/node.js';
import type { ModelLookup, ObjectModel, ResourceType } from '../model/types.js';
import type { CodecContext, NodeCodec, RecordsCodec } from './types.js';
import { coerceValue, dateToSeconds, formatObjectLink, normalizeInteger } from './values.js';

// ---- flat leaves ---------------------------------------------------------------------------------

/**
 * Leaves (full path + value) in flat form: ids in a stride-4 array, so sorting, grouping and duplicate
 * checks never allocate path objects. `null` values are path-only entries.
 * Internal: exported for oma-json.ts only.
 */
export class Leaves {
  ids: number[] = [];
  len: number[] = [];
  vals: (ResourceValue | null)[] = [];

  get count(): number {
    return this.len.length;
  }

  push(a: number, b: number, c: number, d: number, n: number, v: ResourceValue | null): void {
    this.ids.push(a, b, c, d);
    this.len.push(n);
    this.vals.push(v);
  }

  id(i: number, level: number): number {
    return this.ids[i * 4 + level] as number;
  }

  length(i: number): number {
    return this.len[i] as number;
  }

  /** Lexicographic order; a path sorts before the paths below it. */
  compare(i: number, j: number): number {
    const li = this.length(i);
    const lj = this.length(j);
    const n = li < lj ? li : lj;
    for (let k = 0; k < n; k++) {
      const d = this.id(i, k) - this.id(j, k);
      if (d !== 0) return d;
    }
    return li - lj;
  }

  /** True when leaf i's path is a proper prefix of leaf j's. */
  isPrefix(i: number, j: number): boolean {
    const li = this.length(i);
    if (li >= this.length(j)) return false;
    for (let k = 0; k < li; k++) if (this.id(i, k) !== this.id(j, k)) return false;
    return true;
  }

  pathText(i: number): string {
    let s = '';
    for (let k = 0; k < this.length(i); k++) s += `/${this.id(i, k)}`;
    return s === '' ? '/' : s;
  }

  toPath(i: number): LwM2MPath {
    const b = i * 4;
    const ids = this.ids;
    return cachedPath(ids[b] as number, ids[b + 1] as number, ids[b + 2] as number, ids[b + 3] as number, this.length(i));
  }

  /**
   * Sorts (only when needed — encoders and well-behaved peers already send path order) and checks that
   * no path repeats and, unless `overlapOk`, that no leaf lies below another leaf (a value at /3/0/6
   * and one at /3/0/6/0 cannot both hold). `fail` builds the error to throw.
   */
  prepare(overlapOk: boolean, fail: (msg: string) => LwM2MError): void {
    const n = this.count;
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) if (this.compare(i - 1, i) > 0) sorted = false;
    if (!sorted) {
      const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => this.compare(x, y));
      const ids: number[] = [];
      const len: number[] = [];
      const vals: (ResourceValue | null)[] = [];
      for (const i of order) {
        ids.push(this.id(i, 0), this.id(i, 1), this.id(i, 2), this.id(i, 3));
        len.push(this.length(i));
        vals.push(this.vals[i] as ResourceValue | null);
      }
      this.ids = ids;
      this.len = len;
      this.vals = vals;
    }
    for (let i = 1; i < n; i++) {
      if (this.compare(i - 1, i) === 0) throw fail(`duplicate path ${this.pathText(i)}`);
      if (!overlapOk && this.isPrefix(i - 1, i)) {
        throw fail(`${this.pathText(i - 1)} is given a value and so is ${this.pathText(i)} below it`);
      }
    }
  }
}

// ---- path cache -----------------------------------------------------------------------------------

/*
 * LwM2MPath objects are immutable, so decoders can share them. `LwM2MPath.of` validates eagerly and is
 * the dominant cost of a small decode (~0.5 µs a path), hence a bounded cache keyed by the ids: a device
 * answers the same few paths again and again. Cleared wholesale when full, so hostile traffic with
 * ever-new ids costs churn, never unbounded memory.
 */
const PATHS = new Map<number, LwM2MPath>(); // depth 1..3: key packs o, i, r (16 bits each) and the depth
const PATHS4 = new Map<number, Map<number, LwM2MPath>>(); // depth 4: (o, i, r) → resource instance id → path
const PATH_CACHE_MAX = 8192;
let pathsCached = 0;

/** The path with the given ids (unused trailing ids are ignored); ids are known to be in 0..65535. */
function cachedPath(o: number, i: number, r: number, ri: number, depth: number): LwM2MPath {
  if (depth === 0) return LwM2MPath.ROOT;
  if (pathsCached >= PATH_CACHE_MAX) {
    PATHS.clear();
    PATHS4.clear();
    pathsCached = 0;
  }
  if (depth < 4) {
    const key = ((depth > 2 ? r : 0) * 65536 + (depth > 1 ? i : 0)) * 262144 + o * 4 + depth;
    let p = PATHS.get(key);
    if (p === undefined) {
      p = depth === 1 ? LwM2MPath.of(o) : depth === 2 ? LwM2MPath.of(o, i) : LwM2MPath.of(o, i, r);
      PATHS.set(key, p);
      pathsCached++;
    }
    return p;
  }
  const key = (r * 65536 + i) * 65536 + o;
  let bucket = PATHS4.get(key);
  if (bucket === undefined) {
    bucket = new Map();
    PATHS4.set(key, bucket);
  }
  let p = bucket.get(ri);
  if (p === undefined) {
    p = LwM2MPath.of(o, i, r, ri);
    bucket.set(ri, p);
    pathsCached++;
  }
  return p;
}

// ---- model types ----------------------------------------------------------------------------------

/** Resource type lookup with a one-object cache (payloads are mostly one object). Internal. */
export class TypeLookup {
  private oid = -1;
  private obj: ObjectModel | undefined;
  constructor(private readonly models: ModelLookup | undefined) {}

  typeOf(oid: number, rid: number): ResourceType | undefined {
    if (this.models === undefined) return undefined;
    if (oid !== this.oid) {
      this.oid = oid;
      this.obj = this.models.getObject(oid);
    }
    return this.obj?.resources.get(rid)?.type;
  }

  isMultiple(oid: number, rid: number): boolean {
    if (this.models === undefined) return false;
    if (oid !== this.oid) {
      this.oid = oid;
      this.obj = this.models.getObject(oid);
    }
    return this.obj?.resources.get(rid)?.multiple === true;
  }
}

// ---- writer ---------------------------------------------------------------------------------------

const TWO_32 = 4294967296;
const TWO_63 = 9223372036854775808; // 2^63 as a double (exact)
const TWO_64 = 18446744073709551616; // 2^64 as a double (exact)
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const textEncoder = new TextEncoder();

/** A scratch buffer reused across encodes (one copy out per payload); dropped if it grew large. */
let scratch: Uint8Array | undefined = new Uint8Array(1024);
const SCRATCH_KEEP = 64 * 1024;

class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor() {
    const s = scratch;
    scratch = undefined; // taken: a re-entrant encode (impossible today) would get its own buffer
    this.buf = s ?? new Uint8Array(1024);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.release();
    return out;
  }

  /** Gives the buffer back for the next encode. */
  release(): void {
    if (this.buf.byteLength <= SCRATCH_KEEP) scratch = this.buf;
    else scratch = new Uint8Array(1024);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Initial byte + argument in its shortest form (RFC 8949 §3, §4.2.1); `n` is an integer in 0..2^64-1. */
  head(major: number, n: number): void {
    this.ensure(9);
    const m = major << 5;
    const b = this.buf;
    if (n < 24) {
      b[this.pos++] = m | n;
    } else if (n < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = m | 25;
      b[this.pos++] = n >>> 8;
      b[this.pos++] = n & 0xff;
    } else if (n < TWO_32) {
      b[this.pos++] = m | 26;
      this.view.setUint32(this.pos, n);
      this.pos += 4;
    } else {
      b[this.pos++] = m | 27;
      const hi = Math.floor(n / TWO_32);
      this.view.setUint32(this.pos, hi);
      this.view.setUint32(this.pos + 4, n - hi * TWO_32);
      this.pos += 8;
    }
  }

  headBig(major: number, n: bigint): void {
    if (n < 0x100000000n) {
      this.head(major, Number(n));
      return;
    }
    this.ensure(9);
    this.buf[this.pos++] = (major << 5) | 27;
    this.view.setBigUint64(this.pos, n);
    this.pos += 8;
  }

  /** An integer; the caller has checked it lies in -2^64..2^64-1. */
  int(v: number | bigint): void {
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) {
        if (v >= 0) this.head(0, v);
        else this.head(1, -1 - v);
        return;
      }
      v = BigInt(v);
    }
    if (v >= 0n) this.headBig(0, v);
    else this.headBig(1, -1n - v);
  }

  /** Shortest float that holds `v` exactly (RFC 8949 §4.2.2); NaN as the canonical half 0x7e00. */
  float(v: number): void {
    this.ensure(9);
    const half = toHalf(v);
    if (half >= 0) {
      this.buf[this.pos++] = 0xf9;
      this.buf[this.pos++] = half >>> 8;
      this.buf[this.pos++] = half & 0xff;
    } else if (Math.fround(v) === v) {
      this.buf[this.pos++] = 0xfa;
      this.view.setFloat32(this.pos, v);
      this.pos += 4;
    } else {
      this.buf[this.pos++] = 0xfb;
      this.view.setFloat64(this.pos, v);
      this.pos += 8;
    }
  }

  text(s: string): void {
    const n = s.length;
    this.ensure(9 + n * 3);
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      this.head(3, n);
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
      this.pos = p;
      return;
    }
    const len = utf8Length(s);
    this.head(3, len);
    const r = textEncoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + len));
    this.pos += r.written;
  }

  bytes(v: Uint8Array): void {
    this.head(2, v.byteLength);
    this.ensure(v.byteLength);
    this.buf.set(v, this.pos);
    this.pos += v.byteLength;
  }
}

/** UTF-8 length of a string; lone surrogates cannot be text in CBOR, so they are refused. */
function utf8Length(s: string): number {
  let len = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) len += 1;
    else if (c < 0x800) len += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new LwM2MError('BAD_VALUE', 'string contains a lone UTF-16 surrogate');
      len += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      throw new LwM2MError('BAD_VALUE', 'string contains a lone UTF-16 surrogate');
    } else len += 3;
  }
  return len;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE 754 binary16 bits of `v` when it is exactly representable (or ±Infinity/NaN), else -1. */
function toHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  if (Math.fround(v) !== v) return -1;
  f32[0] = v;
  const bits = u32[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00; // ±Infinity (NaN handled above)
  if (exp === 0) return mant === 0 ? sign : -1; // ±0; binary32 subnormals are far below binary16 range
  const e = exp - 127;
  if (e >= -14 && e <= 15) {
    if ((mant & 0x1fff) !== 0) return -1;
    return sign | ((e + 15) << 10) | (mant >>> 13);
  }
  if (e >= -24 && e < -14) {
    // binary16 subnormal: value = m × 2^-24 with m < 1024
    const sig = mant | 0x800000; // 24-bit significand, value = sig × 2^(e-23)
    const shift = -(e + 1); // m = sig × 2^(e+1)
    if ((sig & ((1 << shift) - 1)) !== 0) return -1;
    return sign | (sig >>> shift);
  }
  return -1;
}

// ---- encoding -------------------------------------------------------------------------------------

function badValue(where: string, what: string): LwM2MError {
  return new LwM2MError('BAD_VALUE', `${where}: ${what}`);
}

function checkInteger(v: number | bigint, type: 'integer' | 'unsignedInteger'): boolean {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return false;
    return type === 'integer' ? v >= -TWO_63 && v < TWO_63 : v >= 0 && v < TWO_64;
  }
  return type === 'integer' ? v >= INT64_MIN && v <= INT64_MAX : v >= 0n && v <= UINT64_MAX;
}

function writeObjlnk(w: Writer, v: { objectId: number; instanceId: number }, where: () => string): void {
  const ok = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= MAX_ID;
  if (!ok(v.objectId) || !ok(v.instanceId)) throw badValue(where(), `object link ${formatObjectLink(v)} has an id outside 0..65535`);
  w.text(formatObjectLink(v));
}

function writeTime(w: Writer, d: Date, where: () => string): void {
  if (Number.isNaN(d.getTime())) throw badValue(where(), 'invalid Date');
  w.byte(0xc1); // tag 1: epoch-based date/time (RFC 8949 §3.4.2), integer seconds as LwM2M Time
  w.int(dateToSeconds(d));
}

/** A value with no model type: its JavaScript type decides (see `inferType`). */
function writeNatural(w: Writer, v: ResourceValue, where: () => string): void {
  if (typeof v === 'string') w.text(v);
  else if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -TWO_64 && v < TWO_64) w.int(v);
    else w.float(v);
  } else if (typeof v === 'boolean') w.byte(v ? 0xf5 : 0xf4);
  else if (typeof v === 'bigint') {
    if (v < -(2n ** 64n) || v > UINT64_MAX) throw badValue(where(), `${v} does not fit a 64-bit CBOR integer`);
    w.int(v);
  } else if (v instanceof Uint8Array) w.bytes(v);
  else if (v instanceof Date) writeTime(w, v, where);
  else if (isObjectLink(v)) writeObjlnk(w, v, where);
  else throw badValue(where(), 'unsupported value');
}

/** Writes `v` as the model type says; returns false when `v` does not have that type's JS form. */
function writeTyped(w: Writer, v: ResourceValue, type: ResourceType, where: () => string): boolean {
  switch (type) {
    case 'string':
    case 'corelnk':
      if (typeof v !== 'string') return false;
      w.text(v);
      return true;
    case 'integer':
    case 'unsignedInteger':
      if ((typeof v !== 'number' && typeof v !== 'bigint') || !checkInteger(v, type)) return false;
      w.int(v);
      return true;
    case 'float':
      if (typeof v !== 'number') return false;
      w.float(v);
      return true;
    case 'boolean':
      if (typeof v !== 'boolean') return false;
      w.byte(v ? 0xf5 : 0xf4);
      return true;
    case 'opaque':
      if (!(v instanceof Uint8Array)) return false;
      w.bytes(v);
      return true;
    case 'time':
      if (!(v instanceof Date)) return false;
      writeTime(w, v, where);
      return true;
    case 'objlnk':
      if (!isObjectLink(v)) return false;
      writeObjlnk(w, v, where);
      return true;
    case 'none':
      writeNatural(w, v, where);
      return true;
  }
}

function writeValue(w: Writer, L: Leaves, i: number, types: TypeLookup): void {
  const v = L.vals[i];
  if (v === null || v === undefined) {
    w.byte(0xf6);
    return;
  }
  const type = L.length(i) >= 3 ? types.typeOf(L.id(i, 0), L.id(i, 2)) : undefined;
  const where = (): string => L.pathText(i);
  if (type === undefined) {
    writeNatural(w, v, where);
    return;
  }
  if (writeTyped(w, v, type, where)) return;
  // Not the JS form of the model type: let the shared rules convert ("3:0" → objlnk, 5 → Time…) or throw.
  const converted = coerceValue(v, type, where());
  if (!writeTyped(w, converted, type, where)) throw badValue(where(), `value does not fit type ${type}`);
}

function writeKey(w: Writer, L: Leaves, i: number, from: number, n: number, forceArray: boolean): void {
  if (n === 1 && !forceArray) {
    w.head(0, L.id(i, from));
    return;
  }
  w.head(4, n);
  for (let k = from; k < from + n; k++) w.head(0, L.id(i, k));
}

/** End of the run of leaves [a, hi) sharing id `d` with leaf a. */
function groupEnd(L: Leaves, a: number, hi: number, d: number): number {
  const id = L.id(a, d);
  let b = a + 1;
  while (b < hi && L.id(b, d) === id) b++;
  return b;
}

/** Number of ids, from level d, that leaves a and z share (they are the first and last of a sorted run). */
function commonIds(L: Leaves, a: number, z: number, d: number): number {
  const max = Math.min(L.length(a), L.length(z));
  let k = d;
  while (k < max && L.id(a, k) === L.id(z, k)) k++;
  return k - d;
}

/**
 * Writes the map for sorted leaves [lo, hi), which share ids [0, d) and all go deeper than d.
 * Single-child chains become array keys. A leaf that ends at d+1 while others continue below it (only
 * possible in a path list: /3/0 and /3/0/1) keeps the plain key and the others get an array key, so the
 * two keys still differ: `{0: null, [0, 1]: null}`.
 */
function writeMap(w: Writer, L: Leaves, lo: number, hi: number, d: number, types: TypeLookup): void {
  let keys = 0;
  for (let a = lo; a < hi;) {
    const b = groupEnd(L, a, hi, d);
    keys += b - a > 1 && L.length(a) === d + 1 ? 2 : 1;
    a = b;
  }
  w.head(5, keys);
  for (let a = lo; a < hi;) {
    const b = groupEnd(L, a, hi, d);
    if (b - a > 1 && L.length(a) === d + 1) {
      writeKey(w, L, a, d, 1, false);
      writeValue(w, L, a, types);
      writeGroup(w, L, a + 1, b, d, true, types);
    } else {
      writeGroup(w, L, a, b, d, false, types);
    }
    a = b;
  }
}

function writeGroup(
  w: Writer, L: Leaves, a: number, b: number, d: number, forceArray: boolean, types: TypeLookup,
): void {
  if (b - a === 1) {
    writeKey(w, L, a, d, L.length(a) - d, forceArray);
    writeValue(w, L, a, types);
    return;
  }
  let n = commonIds(L, a, b - 1, d);
  // The first (shortest) leaf may end where the common part ends: stop one level above it.
  if (n >= L.length(a) - d) n = L.length(a) - d - 1;
  writeKey(w, L, a, d, n, forceArray);
  writeMap(w, L, a, b, d + n, types);
}

function encodeLeaves(L: Leaves, models: ModelLookup | undefined, overlapOk: boolean): Uint8Array {
  L.prepare(overlapOk, (msg) => new LwM2MError('BAD_VALUE', msg));
  const w = new Writer();
  try {
    writeMap(w, L, 0, L.count, 0, new TypeLookup(models));
  } catch (e) {
    w.release();
    throw e;
  }
  return w.finish();
}

function checkNodeId(id: number, what: string): number {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new LwM2MError('BAD_VALUE', `${what} id ${id} is not in 0..65535`);
  return id;
}

function pushResource(L: Leaves, oid: number, iid: number, r: ResourceNode): void {
  const rid = checkNodeId(r.id, 'resource');
  if (r.kind === 'resource') {
    L.push(oid, iid, rid, 0, 3, r.value);
  } else {
    for (const [riid, v] of r.instances) L.push(oid, iid, rid, checkNodeId(riid, 'resource instance'), 4, v);
  }
}

/** The leaves of `node` read at `path` (checked to match), in tree order. Internal: shared with oma-json.ts. */
export function nodeToLeaves(path: LwM2MPath, node: LwM2MNode): Leaves {
  checkNodeMatchesPath(path, node);
  const L = new Leaves();
  const oid = path.objectId as number;
  switch (node.kind) {
    case 'object':
      for (const inst of node.instances.values()) {
        const iid = checkNodeId(inst.id, 'instance');
        for (const r of inst.resources.values()) pushResource(L, oid, iid, r);
      }
      break;
    case 'instance':
      for (const r of node.resources.values()) pushResource(L, oid, node.id, r);
      break;
    case 'resource':
    case 'multipleResource':
      pushResource(L, oid, path.instanceId as number, node);
      break;
    case 'resourceInstance':
      L.push(oid, path.instanceId as number, path.resourceId as number, node.id, 4, node.value);
      break;
  }
  return L;
}

// ---- reader ---------------------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decoder state: the payload, the cursor, the path being walked and the leaves found. */
class Reader {
  readonly b: Uint8Array;
  readonly end: number;
  readonly view: DataView;
  pos = 0;
  /** Argument of the last head read; -1 for an indefinite length. Above 2^53 it is approximate… */
  arg = 0;
  /** …and this holds it exactly. */
  big: bigint | undefined;
  readonly path = [0, 0, 0, 0];
  depth = 0;
  readonly leaves = new Leaves();

  constructor(payload: Uint8Array, readonly pathsOnly: boolean) {
    this.b = payload;
    this.end = payload.byteLength;
    this.view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  }

  fail(msg: string, at = this.pos): LwM2MError {
    return decodeError('BAD_CBOR', msg, at);
  }

  need(n: number): void {
    if (this.end - this.pos < n) throw this.fail(`truncated: ${n} more byte(s) expected`);
  }

  peek(): number {
    if (this.pos >= this.end) throw this.fail('unexpected end of payload');
    return this.b[this.pos] as number;
  }

  /** Reads an initial byte and its argument (RFC 8949 §3); returns the major type. */
  head(): number {
    const ib = this.peek();
    const b = this.b;
    this.pos++;
    const info = ib & 31;
    this.big = undefined;
    if (info < 24) {
      this.arg = info;
    } else if (info === 24) {
      this.need(1);
      this.arg = b[this.pos++] as number;
    } else if (info === 25) {
      this.need(2);
      this.arg = ((b[this.pos] as number) << 8) | (b[this.pos + 1] as number);
      this.pos += 2;
    } else if (info === 26) {
      this.need(4);
      this.arg = this.view.getUint32(this.pos);
      this.pos += 4;
    } else if (info === 27) {
      this.need(8);
      const hi = this.view.getUint32(this.pos);
      const lo = this.view.getUint32(this.pos + 4);
      this.pos += 8;
      this.arg = hi * TWO_32 + lo;
      if (hi >= 0x200000) this.big = (BigInt(hi) << 32n) | BigInt(lo);
    } else if (info === 31) {
      this.arg = -1;
    } else {
      throw this.fail(`reserved additional information ${info}`, this.pos - 1);
    }
    return ib >> 5;
  }

  /** A definite length that must fit in what is left (`unit` bytes per element at least). */
  definite(what: string, unit: number): number {
    if (this.arg < 0) throw this.fail(`indefinite-length ${what} not allowed here`);
    if (this.arg > (this.end - this.pos) / unit) throw this.fail(`${what} of length ${this.arg} exceeds the payload`);
    return this.arg;
  }

  pushId(): void {
    const at = this.pos;
    if (this.peek() >> 5 !== 0) throw this.fail('a path id must be an unsigned integer');
    this.head();
    if (this.arg < 0) throw this.fail('a path id must be an unsigned integer', at);
    if (this.arg > MAX_ID) throw this.fail(`path id ${this.arg} exceeds ${MAX_ID}`, at);
    if (this.depth >= 4) throw this.fail('path deeper than 4 levels (object/instance/resource/resource instance)', at);
    this.path[this.depth++] = this.arg;
  }

  /**
   * A map key: one id, or an array of ids (LwM2M-TS-Core 1.2 §7.4.7: several path levels at once).
   * Returns true for an array key.
   */
  key(): boolean {
    const at = this.pos;
    const major = this.peek() >> 5;
    if (major === 0) {
      this.pushId();
      return false;
    }
    if (major !== 4) throw this.fail('a map key must be a path id or an array of path ids');
    this.head();
    if (this.arg === -1) {
      let n = 0;
      while (this.peek() !== 0xff) {
        this.pushId();
        n++;
      }
      this.pos++;
      if (n === 0) throw this.fail('empty path array as map key', at);
    } else {
      const n = this.definite('path array', 1);
      if (n === 0) throw this.fail('empty path array as map key', at);
      for (let k = 0; k < n; k++) this.pushId();
    }
    return true;
  }

  /** A map of path keys; nested maps descend, anything else is a leaf. */
  map(root: boolean): void {
    const at = this.pos;
    if (this.peek() >> 5 !== 5) throw this.fail('the payload must be a CBOR map');
    this.head();
    const indefinite = this.arg === -1;
    const count = indefinite ? 0 : this.definite('map', 2);
    if (!root && count === 0 && !indefinite) throw this.fail('empty map below the root', at);
    let n = 0;
    let first: number | string = 0;
    let seen: Set<number | string> | undefined;
    for (;;) {
      if (indefinite) {
        if (this.peek() === 0xff) {
          this.pos++;
          break;
        }
      } else if (n === count) break;
      const depth = this.depth;
      const kat = this.pos;
      const isArray = this.key();
      // RFC 8949 §5.6: a map with two equal keys is invalid (`3` and `[3]` are different data items;
      // two keys reaching the same leaf path are caught as duplicate paths afterwards).
      const code = this.keyCode(depth, isArray);
      if (n === 0) first = code;
      else {
        seen ??= new Set([first]);
        if (seen.has(code)) throw this.fail(`duplicate map key for ${this.pathText()}`, kat);
        seen.add(code);
      }
      const major = this.peek() >> 5;
      if (major === 5) this.map(false);
      else this.leaf();
      this.depth = depth;
      n++;
    }
    if (!root && n === 0) throw this.fail('empty map below the root', at);
  }

  /** The key just read, levels [from, depth), in a comparable form: the id itself for an integer key. */
  keyCode(from: number, isArray: boolean): number | string {
    if (!isArray) return this.path[from] as number;
    let code = '';
    for (let k = from; k < this.depth; k++) code += `${this.path[k] as number},`;
    return code;
  }

  leaf(): void {
    const at = this.pos;
    const p = this.path;
    const depth = this.depth;
    if (this.peek() === 0xf6) {
      this.pos++;
      if (!this.pathsOnly) throw this.fail(`null at ${this.pathText()}: a path without value belongs in a path list, not in a value payload`, at);
      this.leaves.push(p[0] as number, p[1] as number, p[2] as number, p[3] as number, depth, null);
      return;
    }
    if (this.pathsOnly) throw this.fail(`value at ${this.pathText()}: a path list carries null values only`, at);
    if (depth < 3) throw this.fail(`value at ${this.pathText()}: values belong to resources or resource instances`, at);
    const v = this.value();
    this.leaves.push(p[0] as number, p[1] as number, p[2] as number, p[3] as number, depth, v);
  }

  pathText(): string {
    let s = '';
    for (let k = 0; k < this.depth; k++) s += `/${this.path[k] as number}`;
    return s === '' ? '/' : s;
  }

  value(): ResourceValue {
    const at = this.pos;
    const ib = this.peek();
    const major = ib >> 5;
    switch (major) {
      case 0:
        this.head();
        if (this.arg === -1) throw this.fail('indefinite length on an integer', at);
        return this.big !== undefined ? normalizeInteger(this.big) : this.arg;
      case 1:
        this.head();
        if (this.arg === -1) throw this.fail('indefinite length on an integer', at);
        // -1 - n; exact as a number only while n < 2^53 - 1
        if (this.big !== undefined || this.arg >= Number.MAX_SAFE_INTEGER) {
          return normalizeInteger(-1n - (this.big ?? BigInt(this.arg)));
        }
        return -1 - this.arg;
      case 2:
        return this.byteString();
      case 3:
        return this.textString();
      case 4:
        throw this.fail('an array is not an LwM2M value');
      case 6:
        return this.tagged();
      default:
        return this.simple();
    }
  }

  /** Tag 1 (epoch time, RFC 8949 §3.4.2) over an integer or float is LwM2M Time; no other tag is known. */
  tagged(): Date {
    const at = this.pos;
    this.head();
    if (this.arg !== 1) throw this.fail(`unsupported CBOR tag ${this.big ?? this.arg}`, at);
    const vat = this.pos;
    const major = this.peek() >> 5;
    let seconds: number;
    if (major === 0 || major === 1) {
      const v = this.value();
      if (typeof v !== 'number') throw this.fail('time out of range', vat);
      seconds = v;
    } else if (major === 7 && this.peek() >= 0xf9 && this.peek() <= 0xfb) {
      seconds = this.simple() as number;
    } else {
      throw this.fail('tag 1 (time) must hold an integer or a float', vat);
    }
    const ms = seconds * 1000;
    if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) throw this.fail('time out of range', vat);
    return new Date(ms);
  }

  simple(): number | boolean {
    const at = this.pos;
    const ib = this.peek();
    this.pos++;
    switch (ib) {
      case 0xf4: return false;
      case 0xf5: return true;
      case 0xf9: {
        this.need(2);
        const h = this.view.getUint16(this.pos);
        this.pos += 2;
        return halfToNumber(h);
      }
      case 0xfa: {
        this.need(4);
        const v = this.view.getFloat32(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xfb: {
        this.need(8);
        const v = this.view.getFloat64(this.pos);
        this.pos += 8;
        return v;
      }
      case 0xf6: throw this.fail('null is not a value here', at);
      case 0xff: throw this.fail('unexpected break', at);
      default: throw this.fail(`unsupported simple value 0x${ib.toString(16)}`, at);
    }
  }

  /** The content of a definite or indefinite string (RFC 8949 §3.2.3: chunks of the same major type). */
  chunks(major: number, onChunk: (start: number, end: number) => void): void {
    this.head();
    if (this.arg !== -1) {
      const n = this.definite('string', 1);
      onChunk(this.pos, this.pos + n);
      this.pos += n;
      return;
    }
    while (this.peek() !== 0xff) {
      const cat = this.pos;
      if (this.peek() >> 5 !== major) throw this.fail('indefinite string chunk of another type', cat);
      this.head();
      if (this.arg === -1) throw this.fail('nested indefinite string chunk', cat);
      const n = this.definite('string chunk', 1);
      onChunk(this.pos, this.pos + n);
      this.pos += n;
    }
    this.pos++;
  }

  byteString(): Uint8Array {
    const parts: Array<[number, number]> = [];
    let total = 0;
    this.chunks(2, (s, e) => {
      parts.push([s, e]);
      total += e - s;
    });
    const out = new Uint8Array(total);
    let p = 0;
    for (const [s, e] of parts) {
      out.set(this.b.subarray(s, e), p);
      p += e - s;
    }
    return out;
  }

  textString(): string {
    let out = '';
    this.chunks(3, (s, e) => {
      out += this.utf8(s, e);
    });
    return out;
  }

  utf8(s: number, e: number): string {
    const b = this.b;
    if (e - s <= 64) {
      let out = '';
      let i = s;
      for (; i < e; i++) {
        const c = b[i] as number;
        if (c > 0x7f) break;
        out += String.fromCharCode(c);
      }
      if (i === e) return out;
    }
    try {
      return utf8.decode(b.subarray(s, e));
    } catch (cause) {
      throw new LwM2MError('BAD_CBOR', 'text string is not valid UTF-8', { location: `byte ${s}`, cause });
    }
  }
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** Parses the whole payload into sorted, checked leaves; any failure is BAD_CBOR (4.00). */
function readLeaves(payload: Uint8Array, pathsOnly: boolean): Leaves {
  if (!(payload instanceof Uint8Array)) throw decodeError('BAD_CBOR', 'payload must be bytes');
  if (payload.byteLength === 0) throw decodeError('BAD_CBOR', 'empty payload (expected a CBOR map)');
  const r = new Reader(payload, pathsOnly);
  try {
    r.map(true);
    if (r.pos !== r.end) throw r.fail(`${r.end - r.pos} trailing byte(s) after the CBOR map`);
    r.leaves.prepare(pathsOnly, (msg) => decodeError('BAD_CBOR', msg));
  } catch (e) {
    if (e instanceof LwM2MError) throw e;
    throw new LwM2MError('BAD_CBOR', `malformed LwM2M CBOR: ${String(e)}`, { location: `byte ${r.pos}`, cause: e });
  }
  return r.leaves;
}

/** Every leaf must lie under the request path (Anjay: "parsed path would be outside of uri-path"). */
function checkUnder(L: Leaves, basePath: LwM2MPath | undefined, kind: DecodeErrorKind): void {
  if (basePath === undefined || basePath.isRoot()) return;
  const base = basePath.ids;
  for (let i = 0; i < L.count; i++) {
    let inside = L.length(i) >= base.length;
    for (let k = 0; inside && k < base.length; k++) inside = L.id(i, k) === base[k];
    if (!inside) throw decodeError(kind, `${L.pathText(i)} lies outside the request path ${basePath.toString()}`);
  }
}

/** The value of leaf i, converted to the model type when there is one (LWM2M_BAD_VALUE, 4.00, if it cannot be). */
function leafValue(L: Leaves, i: number, types: TypeLookup): ResourceValue {
  const raw = L.vals[i] as ResourceValue;
  const type = types.typeOf(L.id(i, 0), L.id(i, 2));
  return type === undefined || fits(raw, type) ? raw : coerceValue(raw, type, L.pathText(i));
}

function leavesToRecords(L: Leaves, models: ModelLookup | undefined, basePath: LwM2MPath | undefined): PathValue[] {
  checkUnder(L, basePath, 'BAD_CBOR');
  const types = new TypeLookup(models);
  const out: PathValue[] = new Array<PathValue>(L.count);
  for (let i = 0; i < L.count; i++) out[i] = { path: L.toPath(i), value: leafValue(L, i, types) };
  return out;
}

type DecodeErrorKind = 'BAD_CBOR' | 'BAD_JSON';

/**
 * Builds the node at `target` straight from the sorted, checked leaves — the same result and errors as
 * `recordsToNode(target, leavesToRecords(…))` (a test holds the two together), without the intermediate
 * records, string keys and re-sorting. `value` gives leaf i's final value (by default: converted to the
 * model type). Internal: exported for oma-json.ts only.
 */
export function leavesToNode(
  L: Leaves, target: LwM2MPath, models: ModelLookup | undefined, kind: DecodeErrorKind = 'BAD_CBOR',
  value: (L: Leaves, i: number, types: TypeLookup) => ResourceValue = leafValue,
): LwM2MNode {
  if (target.isRoot()) throw new LwM2MError('BAD_REQUEST', 'cannot build a single node for the root path');
  checkUnder(L, target, kind);
  const types = new TypeLookup(models);
  const oid = target.objectId as number;
  const n = L.count;

  // leaves [a, b) share object, instance and resource; sorted, so instances come in id order
  const resourceAt = (a: number, b: number): ResourceNode => {
    const rid = L.id(a, 2);
    if (L.length(a) === 4) {
      const instances = new Map<number, ResourceValue>();
      for (let k = a; k < b; k++) instances.set(L.id(k, 3), value(L, k, types));
      return { kind: 'multipleResource', id: rid, instances };
    }
    if (types.isMultiple(oid, rid)) {
      throw new LwM2MError('BAD_VALUE', `/${oid}/x/${rid} is a multiple resource but was given a single value`);
    }
    return { kind: 'resource', id: rid, value: value(L, a, types) };
  };
  const instanceAt = (iid: number, a: number, b: number): ObjectInstanceNode => {
    const resources = new Map<number, ResourceNode>();
    for (let k = a; k < b;) {
      const e = groupEnd(L, k, b, 2);
      resources.set(L.id(k, 2), resourceAt(k, e));
      k = e;
    }
    return { kind: 'instance', id: iid, resources };
  };

  switch (target.depth) {
    case 1: {
      const instances = new Map<number, ObjectInstanceNode>();
      for (let k = 0; k < n;) {
        const e = groupEnd(L, k, n, 1);
        instances.set(L.id(k, 1), instanceAt(L.id(k, 1), k, e));
        k = e;
      }
      return { kind: 'object', id: oid, instances };
    }
    case 2:
      return instanceAt(target.instanceId as number, 0, n);
    case 3:
      if (n === 0) {
        const rid = target.resourceId as number;
        if (types.isMultiple(oid, rid)) return { kind: 'multipleResource', id: rid, instances: new Map() };
        throw new LwM2MError('BAD_VALUE', `no value for ${target.toString()}`);
      }
      return resourceAt(0, n);
    default:
      if (n === 0) throw new LwM2MError('BAD_VALUE', `no value for ${target.toString()}`);
      return { kind: 'resourceInstance', id: target.resourceInstanceId as number, value: value(L, 0, types) };
  }
}

/** True when a decoded value already has the JS form of `type` (so coercion can be skipped). */
function fits(v: ResourceValue, type: ResourceType): boolean {
  switch (type) {
    case 'string':
    case 'corelnk': return typeof v === 'string';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'unsignedInteger': return typeof v === 'number' && Number.isInteger(v) && v >= 0;
    case 'float': return typeof v === 'number';
    case 'boolean': return typeof v === 'boolean';
    case 'opaque': return v instanceof Uint8Array;
    case 'time': return v instanceof Date;
    case 'objlnk': return false;
    case 'none': return true;
  }
}

// ---- the codec ------------------------------------------------------------------------------------

export const lwm2mCborCodec: NodeCodec & RecordsCodec = {
  encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
    return encodeLeaves(nodeToLeaves(ctx.path, node), ctx.models, false);
  },

  decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
    return leavesToNode(readLeaves(payload, false), ctx.path, ctx.models);
  },

  encodeRecords(records: readonly PathValue[], options: { models?: ModelLookup } = {}): Uint8Array {
    const L = new Leaves();
    for (const rec of records) {
      const p = rec.path;
      if (p.resourceId === undefined) {
        throw new LwM2MError('BAD_VALUE', `record ${p.toString()} is not a resource or resource instance`);
      }
      if (rec.time !== undefined) {
        throw new LwM2MError('BAD_VALUE', `record ${p.toString()} is timestamped; LwM2M CBOR carries no time (use SenML)`);
      }
      const riid = p.resourceInstanceId;
      L.push(p.objectId as number, p.instanceId as number, p.resourceId, riid ?? 0, riid === undefined ? 3 : 4, rec.value);
    }
    return encodeLeaves(L, options.models, false);
  },

  decodeRecords(payload: Uint8Array, options: { models?: ModelLookup; basePath?: LwM2MPath } = {}): PathValue[] {
    return leavesToRecords(readLeaves(payload, false), options.models, options.basePath);
  },

  encodePaths(paths: readonly LwM2MPath[]): Uint8Array {
    const L = new Leaves();
    for (const p of paths) {
      if (p.isRoot()) throw new LwM2MError('BAD_PATH', 'the root path cannot be expressed in LwM2M CBOR (keys start at the object id)');
      const ids = p.ids;
      L.push(ids[0] as number, ids[1] ?? 0, ids[2] ?? 0, ids[3] ?? 0, ids.length, null);
    }
    return encodeLeaves(L, undefined, true);
  },

  decodePaths(payload: Uint8Array): LwM2MPath[] {
    const L = readLeaves(payload, true);
    const out: LwM2MPath[] = new Array<LwM2MPath>(L.count);
    for (let i = 0; i < L.count; i++) out[i] = L.toPath(i);
    return out;
  },
};
