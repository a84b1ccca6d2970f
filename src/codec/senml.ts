/**
 * SenML (RFC 8428) as used by LwM2M 1.1 (LwM2M-TS-Core 1.1 §7.4.4 SenML JSON and the SenML CBOR clause after
 * it): the part shared by the JSON (content format 110) and CBOR (112) representations.
 *
 * - {@link SenMLRecord}: one record as found on the wire (base and regular fields).
 * - Resolution (RFC 8428 §4.6): {@link resolveSenML} for the generic form, {@link senmlToPathValues} /
 *   {@link senmlToPaths} / {@link senmlToNode} for the LwM2M view (names → paths, value fields → typed values).
 * - Encoding: {@link nodeToSenML}, {@link pathValuesToSenML}, {@link pathsToSenML} choose `bn`, `n`, `bt`, `t`
 *   and the value field for each resource type.
 *
 * Decisions (documented because the specs leave room):
 * - Names: LwM2M names are paths (`/3/0/1`), which start with `/` — this breaks the RFC 8428 §4.5.1 rule that a
 *   name starts with a letter or digit, but LwM2M-TS-Core 1.1 §7.4.4 mandates it. The LwM2M layer accepts exactly
 *   `/id(/id){0,3}` (ids 0..65535), plus the root `/` in path lists; the generic resolver does not check names.
 * - Relative times (RFC 8428 §4.5.3): a resolved time `bt + t` below 2^28 is relative to "now". The LwM2M layer
 *   converts it when given a `now` clock (the codecs pass their clock, by default the system clock); without
 *   one the sum is returned as is. Encoders cannot express absolute times before 2^28 (1978-07-04): such times
 *   are written as given and will read back as relative times.
 * - Base Value (`bv`, RFC 8428 §4.5.4) is added to `v` when `v` is present; LwM2M never sends it. Sum (`s`, `bs`),
 *   Update Time (`ut`) and units are validated for type and otherwise carry no LwM2M meaning.
 * - A record with no value field is a path-only record (the payload of a Read-/Observe-Composite request,
 *   LwM2M-TS-Core 1.1); elsewhere RFC 8428 §4.2 requires exactly one value field, so it is an error.
 * - Interop leniency: a `vs` holding "3:0" is accepted for a resource the model declares Objlnk (some
 *   implementations write object links as strings); encoders always use `vlo`.
 * - An empty pack `[]` is accepted and produced (an empty instance or multiple resource), although the RFC 8428
 *   §11 CDDL says `[1* record]`. An empty multiple resource inside an instance has no record, so it reads back
 *   absent.
 * - Performance: decoded names go through a bounded (bn, n) → LwM2MPath cache (paths are immutable; only valid
 *   names are stored), and node trees are built by {@link pathValuesToNode} rather than `recordsToNode`.
 */
import { LwM2MError } from '../core/errors.js';
import { LwM2MPath, formatPath, MAX_ID } from '../core/path.js';
import {
  checkNodeMatchesPath, recordsToNode, type LwM2MNode, type ObjectInstanceNode, type ObjectLink, type PathValue,
  type ResourceNode, type ResourceValue,
} from '../model/node.js';
import type { ModelLookup, ObjectModel, ResourceType } from '../model/types.js';
import { coerceValue, dateToSeconds, describe, formatObjectLink, inferType, normalizeInteger, parseObjectLink } from './values.js';

/** RFC 8428 §4.4: the SenML version this implementation understands (the default of `bver`). */
export const SENML_VERSION = 10;
/** RFC 8428 §4.5.3: resolved times below 2^28 seconds are relative to "now". */
export const RELATIVE_TIME_LIMIT = 2 ** 28;

/** One SenML record as carried on the wire (RFC 8428 §4.1–4.3, plus LwM2M's `vlo`). */
export interface SenMLRecord {
  /** Base Name (`bn`, CBOR -2). */
  bn?: string;
  /** Base Time (`bt`, CBOR -3), seconds. */
  bt?: number;
  /** Base Unit (`bu`, CBOR -4). */
  bu?: string;
  /** Base Value (`bv`, CBOR -5). */
  bv?: number;
  /** Base Version (`bver`, CBOR -1). */
  bver?: number;
  /** Name (`n`, CBOR 0). */
  n?: string;
  /** Unit (`u`, CBOR 1). */
  u?: string;
  /** Time (`t`, CBOR 6), seconds. */
  t?: number;
  /** Numeric Value (`v`, CBOR 2): integers beyond 2^53 are bigints. */
  v?: number | bigint;
  /** String Value (`vs`, CBOR 3). */
  vs?: string;
  /** Boolean Value (`vb`, CBOR 4). */
  vb?: boolean;
  /** Data Value (`vd`, CBOR 8): base64url in JSON, a byte string in CBOR. */
  vd?: Uint8Array;
  /** Object Link Value (`vlo`, text key in CBOR too): `"objectId:instanceId"` (LwM2M-TS-Core 1.1 §7.4.4). */
  vlo?: string;
}

/** A record after RFC 8428 §4.6 resolution: no base fields, name concatenated, time summed, unit applied. */
export interface ResolvedSenMLRecord {
  n?: string;
  u?: string;
  t?: number;
  v?: number | bigint;
  vs?: string;
  vb?: boolean;
  vd?: Uint8Array;
  vlo?: string;
  /** Only present when the pack's version is not {@link SENML_VERSION} (RFC 8428 §4.6). */
  bver?: number;
}

/** A record with every field present (undefined), so that all records share one shape. */
export function emptyRecord(): SenMLRecord {
  return {
    bn: undefined, bt: undefined, bu: undefined, bv: undefined, bver: undefined, n: undefined, u: undefined,
    t: undefined, v: undefined, vs: undefined, vb: undefined, vd: undefined, vlo: undefined,
  };
}

const senmlError = (detail: string, index?: number): LwM2MError =>
  new LwM2MError('BAD_SENML', detail, index === undefined ? {} : { location: `record ${index}` });

// ---- resolution ---------------------------------------------------------------------------------

/** Tracks the base fields of a pack while its records are read in order (RFC 8428 §4 and §4.6). */
class BaseState {
  bn: string | undefined = undefined;
  bt: number | undefined = undefined;
  bu: string | undefined = undefined;
  bv: number | undefined = undefined;
  version: number = SENML_VERSION;

  /** Applies the base fields of record `i`; returns its resolved name (undefined when it has none). */
  apply(r: SenMLRecord, i: number): string | undefined {
    this.applyBase(r, i);
    // RFC 8428 §4.5.1: the name is the Base Name concatenated with the Name.
    const n = r.n;
    if (n === undefined) return this.bn;
    return this.bn === undefined ? n : this.bn + n;
  }

  /** Applies the base fields of record `i` (RFC 8428 §4.1, §4.4). */
  applyBase(r: SenMLRecord, i: number): void {
    if (r.bver !== undefined) {
      // RFC 8428 §4.4: a version above ours MUST NOT be used; all records of a pack have the same version.
      if (!Number.isInteger(r.bver) || r.bver < 1) throw senmlError(`bver ${r.bver} is not a positive integer`, i);
      if (r.bver > SENML_VERSION) throw senmlError(`SenML version ${r.bver} is not supported (at most ${SENML_VERSION})`, i);
      if (i === 0) this.version = r.bver;
      else if (r.bver !== this.version) throw senmlError(`bver ${r.bver} differs from the pack's version ${this.version}`, i);
    }
    if (r.bn !== undefined) this.bn = r.bn;
    if (r.bt !== undefined) this.bt = r.bt;
    if (r.bu !== undefined) this.bu = r.bu;
    if (r.bv !== undefined) this.bv = r.bv;
  }

  /** The LwM2M path named by `bn + n` (RFC 8428 §4.5.1), through a cache keyed by (bn, n). */
  path(r: SenMLRecord, i: number, allowRoot: boolean): LwM2MPath {
    if (this.bn === undefined && r.n === undefined) throw senmlError('the record has no name (neither bn nor n)', i);
    const bn = this.bn ?? '';
    const n = r.n ?? '';
    let inner = this.inner !== undefined && this.innerBn === bn ? this.inner : pairCache.get(bn);
    let path = inner?.get(n);
    if (path === undefined) {
      const name = bn + n;
      path = nameToPath(name, true);
      if (path === undefined) throw senmlError(`name ${describe(name)} is not an LwM2M path`, i);
      // Only valid names are stored, so every key is short and every bn key holds at least one entry.
      if (pairCacheSize >= PATH_CACHE_LIMIT) {
        pairCache.clear();
        pairCacheSize = 0;
      }
      if (inner === undefined || pairCache.get(bn) !== inner) {
        inner = new Map();
        pairCache.set(bn, inner);
      }
      inner.set(n, path);
      pairCacheSize++;
    }
    this.inner = inner;
    this.innerBn = bn;
    if (path.objectId === undefined && !allowRoot) throw senmlError('name "/" is not an LwM2M path', i);
    return path;
  }

  private inner: Map<string, LwM2MPath> | undefined = undefined;
  private innerBn = '';

  /** RFC 8428 §4.5.3: missing Base Time or Time count as zero; undefined when the record has neither. */
  time(r: SenMLRecord): number | undefined {
    if (r.t === undefined) return this.bt;
    return this.bt === undefined ? r.t : this.bt + r.t;
  }

  /** RFC 8428 §4.5.4: the Base Value is added to the Value. */
  value(v: number | bigint): number | bigint {
    const bv = this.bv;
    if (bv === undefined) return v;
    if (typeof v === 'bigint') return Number.isInteger(bv) ? normalizeInteger(v + BigInt(bv)) : Number(v) + bv;
    return v + bv;
  }
}

/** Resolves relative times (RFC 8428 §4.5.3) with a lazily read "now" (one reading per pack). */
class Now {
  private seconds: number | undefined;
  constructor(private readonly clock: (() => number) | undefined) {}
  absolute(t: number): number {
    if (t >= RELATIVE_TIME_LIMIT || this.clock === undefined) return t;
    this.seconds ??= this.clock() / 1000;
    return this.seconds + t;
  }
}

/**
 * RFC 8428 §4.6: applies the base fields to every record, in order. Relative times (below 2^28) are turned into
 * absolute ones only when `now` (milliseconds since the epoch, like `Clock.now`) is given. Records are not
 * reordered (the RFC asks resolved packs to be chronological; LwM2M keeps the sender's order).
 */
export function resolveSenML(records: readonly SenMLRecord[], options: { now?: () => number } = {}): ResolvedSenMLRecord[] {
  const base = new BaseState();
  const now = new Now(options.now);
  const out: ResolvedSenMLRecord[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as SenMLRecord;
    const res: ResolvedSenMLRecord = {};
    const n = base.apply(r, i);
    if (n !== undefined) res.n = n;
    const u = r.u ?? base.bu;
    if (u !== undefined) res.u = u;
    const t = base.time(r);
    if (t !== undefined) res.t = now.absolute(t);
    if (r.v !== undefined) res.v = base.value(r.v);
    if (r.vs !== undefined) res.vs = r.vs;
    if (r.vb !== undefined) res.vb = r.vb;
    if (r.vd !== undefined) res.vd = r.vd;
    if (r.vlo !== undefined) res.vlo = r.vlo;
    if (base.version !== SENML_VERSION) res.bver = base.version;
    out.push(res);
  }
  return out;
}

// ---- names ↔ paths ------------------------------------------------------------------------------

const PATH_CACHE_LIMIT = 4096;
/** Valid names → paths (immutable), bounded: only names that parsed are stored, and it is cleared when full. */
const pathCache = new Map<string, LwM2MPath>();
/**
 * (bn, n) → path for valid names, so that decoding does not build and hash `bn + n` for every record.
 * Bounded to {@link PATH_CACHE_LIMIT} pairs in all (cleared when full); failures are not stored.
 */
const pairCache = new Map<string, Map<string, LwM2MPath>>();
let pairCacheSize = 0;

/**
 * Parses an LwM2M path used as a SenML name: `/` followed by 1–4 decimal ids (0..65535) separated by `/`,
 * or `/` alone (the root) when `allowRoot`. No trailing slash. Returns undefined when it is not one.
 */
export function nameToPath(name: string, allowRoot = false): LwM2MPath | undefined {
  const cached = pathCache.get(name);
  if (cached !== undefined) return cached.isRoot() && !allowRoot ? undefined : cached;
  const len = name.length;
  if (len === 0 || len > 24 || name.charCodeAt(0) !== 0x2f) return undefined;
  if (len === 1) return allowRoot ? LwM2MPath.ROOT : undefined;
  const ids: number[] = [];
  let id = 0;
  let digits = 0;
  for (let i = 1; i <= len; i++) {
    const c = i === len ? 0x2f : name.charCodeAt(i);
    if (c === 0x2f) {
      if (digits === 0 || id > MAX_ID || ids.length === 4) return undefined;
      ids.push(id);
      id = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (++digits > 5) return undefined;
      id = id * 10 + (c - 0x30);
    } else {
      return undefined;
    }
  }
  const path = LwM2MPath.of(...ids);
  if (pathCache.size >= PATH_CACHE_LIMIT) pathCache.clear();
  pathCache.set(name, path);
  return path;
}

// ---- decoding: records → LwM2M ------------------------------------------------------------------

export interface SenMLDecodeOptions {
  models?: ModelLookup;
  /** When given, every record must address this path or a path below it. */
  basePath?: LwM2MPath;
  /** Milliseconds since the epoch; when given, relative times (RFC 8428 §4.5.3) become absolute. */
  now?: () => number;
}

const F_V = 1;
const F_VS = 2;
const F_VB = 4;
const F_VD = 8;
const F_VLO = 16;

function valueFields(r: SenMLRecord): number {
  let f = 0;
  if (r.v !== undefined) f |= F_V;
  if (r.vs !== undefined) f |= F_VS;
  if (r.vb !== undefined) f |= F_VB;
  if (r.vd !== undefined) f |= F_VD;
  if (r.vlo !== undefined) f |= F_VLO;
  return f;
}

const FIELD_NAMES: Record<number, string> = { [F_V]: 'v', [F_VS]: 'vs', [F_VB]: 'vb', [F_VD]: 'vd', [F_VLO]: 'vlo' };

/** Caches the object model across consecutive records of the same object. */
class TypeLookup {
  private oid = -1;
  private obj: ObjectModel | undefined;
  constructor(private readonly models: ModelLookup | undefined) {}
  typeAt(oid: number, rid: number): ResourceType | undefined {
    if (this.models === undefined) return undefined;
    if (oid !== this.oid) {
      this.oid = oid;
      this.obj = this.models.getObject(oid);
    }
    return this.obj?.resources.get(rid)?.type;
  }
}

/**
 * LwM2M-TS-Core 1.1 §7.4.4 (value fields by data type): `v` Integer, Unsigned Integer, Float, Time; `vb` Boolean;
 * `vs` String, Corelnk; `vd` Opaque; `vlo` Objlnk. Without a model the field decides the type.
 */
function recordValue(r: SenMLRecord, fields: number, type: ResourceType | undefined, base: BaseState, path: LwM2MPath, i: number): ResourceValue {
  const mismatch = (): LwM2MError =>
    new LwM2MError('BAD_VALUE', `${path.toString()}: a ${type ?? 'value'} resource cannot be given in "${FIELD_NAMES[fields] ?? '?'}"`, { location: `record ${i}` });
  switch (type) {
    case undefined:
    case 'none':
      switch (fields) {
        case F_V: return normalizeInteger(base.value(r.v as number | bigint));
        case F_VS: return r.vs as string;
        case F_VB: return r.vb as boolean;
        case F_VD: return r.vd as Uint8Array;
        default: return parseObjectLink(r.vlo as string, path.toString());
      }
    case 'string':
    case 'corelnk':
      if (fields !== F_VS) throw mismatch();
      return r.vs as string;
    case 'integer':
    case 'unsignedInteger': {
      if (fields !== F_V) throw mismatch();
      const v = base.value(r.v as number | bigint);
      if (typeof v === 'number' && Number.isSafeInteger(v) && (type === 'integer' || v >= 0)) return v;
      return coerceValue(v, type, path.toString());
    }
    case 'float': {
      if (fields !== F_V) throw mismatch();
      const v = base.value(r.v as number | bigint);
      return typeof v === 'number' ? v : Number(v);
    }
    case 'time':
      if (fields !== F_V) throw mismatch();
      return coerceValue(base.value(r.v as number | bigint), 'time', path.toString());
    case 'boolean':
      if (fields !== F_VB) throw mismatch();
      return r.vb as boolean;
    case 'opaque':
      if (fields !== F_VD) throw mismatch();
      return r.vd as Uint8Array;
    case 'objlnk':
      if (fields === F_VLO) return parseObjectLink(r.vlo as string, path.toString());
      // Interop: some implementations put object links in "vs".
      if (fields === F_VS) return parseObjectLink(r.vs as string, path.toString());
      throw mismatch();
  }
}

/**
 * Resolves a pack (RFC 8428 §4.6) into LwM2M leaf values: every record needs a name that is a resource or
 * resource-instance path and exactly one value field (RFC 8428 §4.2). Times are `bt + t` (relative ones made
 * absolute when `options.now` is given). Throws `LwM2MError` 4.00 (BAD_SENML / BAD_VALUE) otherwise.
 */
export function senmlToPathValues(records: readonly SenMLRecord[], options: SenMLDecodeOptions = {}): PathValue[] {
  const base = new BaseState();
  const now = new Now(options.now);
  const types = new TypeLookup(options.models);
  const basePath = options.basePath;
  const out: PathValue[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as SenMLRecord;
    base.applyBase(r, i);
    const path = base.path(r, i, false);
    if (path.resourceId === undefined) {
      throw senmlError(`${path.toString()}: a value must address a resource or resource instance`, i);
    }
    if (basePath !== undefined && !containsPath(basePath, path)) {
      throw senmlError(`${path.toString()} is not under ${basePath.toString()}`, i);
    }
    const fields = valueFields(r);
    if (fields === 0) throw senmlError(`${path.toString()}: the record has no value (v, vs, vb, vd or vlo)`, i);
    if ((fields & (fields - 1)) !== 0) throw senmlError(`${path.toString()}: the record has more than one value field (RFC 8428 §4.2)`, i);
    const value = recordValue(r, fields, types.typeAt(path.objectId as number, path.resourceId), base, path, i);
    const t = base.time(r);
    out.push(t === undefined ? { path, value } : { path, value, time: now.absolute(t) });
  }
  return out;
}

/**
 * Read-/Observe-Composite request payload (LwM2M-TS-Core 1.1 §7.4.4): records with only names (`bn`/`n`).
 * Any path level, including `/`, is allowed; a record carrying a value is an error.
 */
export function senmlToPaths(records: readonly SenMLRecord[]): LwM2MPath[] {
  const base = new BaseState();
  const out: LwM2MPath[] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as SenMLRecord;
    base.applyBase(r, i);
    const path = base.path(r, i, true);
    if (valueFields(r) !== 0) throw senmlError(`${path.toString()}: a path-only record must not carry a value`, i);
    out.push(path);
  }
  return out;
}

/** Decodes the node at `path` (the request path): records must lie under it (LwM2M-TS-Core 1.1 §7.4.4). */
export function senmlToNode(records: readonly SenMLRecord[], path: LwM2MPath, models?: ModelLookup): LwM2MNode {
  if (path.isRoot()) throw new LwM2MError('BAD_REQUEST', 'SenML cannot carry a single node for the root path');
  return pathValuesToNode(path, senmlToPathValues(records, models ? { models, basePath: path } : { basePath: path }), models);
}

interface ResourceAcc {
  readonly iid: number;
  readonly rid: number;
  single: ResourceValue | undefined;
  multi: Map<number, ResourceValue> | undefined;
}

/**
 * Same result and same errors as `recordsToNode` (src/model/node.ts), which it replaces on the decode path
 * because that one allocates several arrays and strings per record (`LwM2MPath.ids`, `toString`) and dominated
 * the decode time of a /3/0 read. The equivalence is a property test in test/unit/codec/senml.test.ts.
 */
export function pathValuesToNode(target: LwM2MPath, records: readonly PathValue[], models?: ModelLookup): LwM2MNode {
  if (target.isRoot()) return recordsToNode(target, records, models); // its error
  const oid = target.objectId as number;
  // (iid << 16 | rid) → accumulated values; keys sort as (iid, rid).
  const accs = new Map<number, ResourceAcc>();
  let lastKey = -1;
  let ordered = true; // records arrive in path order (the usual case): no sort needed
  for (const rec of records) {
    const p = rec.path;
    if (p.resourceId === undefined || !containsPath(target, p)) return recordsToNode(target, records, models); // its error
    const iid = p.instanceId as number;
    const rid = p.resourceId;
    const key = iid * 65536 + rid;
    if (key < lastKey) ordered = false;
    lastKey = key;
    let acc = accs.get(key);
    if (acc === undefined) {
      acc = { iid, rid, single: undefined, multi: undefined };
      accs.set(key, acc);
    }
    const riid = p.resourceInstanceId;
    if (riid === undefined) {
      if (acc.single !== undefined) throw new LwM2MError('BAD_VALUE', `duplicate record for ${p.toString()}`);
      if (acc.multi) throw new LwM2MError('BAD_VALUE', `${p.toString()} is given both as a single and a multiple resource`);
      acc.single = rec.value;
    } else {
      if (acc.multi?.has(riid)) throw new LwM2MError('BAD_VALUE', `duplicate record for ${p.toString()}`);
      if (acc.single !== undefined) throw new LwM2MError('BAD_VALUE', `${p.toString()} is given both as a single and a multiple resource`);
      (acc.multi ??= new Map()).set(riid, rec.value);
    }
  }
  const objectModel = models?.getObject(oid);
  const buildResource = (acc: ResourceAcc): ResourceNode => {
    if (acc.multi) return { kind: 'multipleResource', id: acc.rid, instances: acc.multi };
    if (objectModel?.resources.get(acc.rid)?.multiple === true) {
      throw new LwM2MError('BAD_VALUE', `/${oid}/x/${acc.rid} is a multiple resource but was given a single value`);
    }
    return { kind: 'resource', id: acc.rid, value: acc.single as ResourceValue };
  };
  switch (depthOf(target)) {
    case 1:
    case 2: {
      const sorted = ordered ? accs.values() : [...accs.keys()].sort((a, b) => a - b).map((k) => accs.get(k) as ResourceAcc);
      const instances = new Map<number, ObjectInstanceNode>();
      let current: Map<number, ResourceNode> | undefined;
      let currentIid = -1;
      for (const acc of sorted) {
        if (acc.iid !== currentIid) {
          currentIid = acc.iid;
          current = new Map();
          instances.set(currentIid, { kind: 'instance', id: currentIid, resources: current });
        }
        (current as Map<number, ResourceNode>).set(acc.rid, buildResource(acc));
      }
      if (target.instanceId === undefined) return { kind: 'object', id: oid, instances };
      return instances.get(target.instanceId) ?? { kind: 'instance', id: target.instanceId, resources: new Map() };
    }
    case 3: {
      const acc = accs.values().next().value;
      if (acc === undefined) {
        if (objectModel?.resources.get(target.resourceId as number)?.multiple) {
          return { kind: 'multipleResource', id: target.resourceId as number, instances: new Map() };
        }
        throw new LwM2MError('BAD_VALUE', `no value for ${target.toString()}`);
      }
      return buildResource(acc);
    }
    default: {
      const v = accs.values().next().value?.multi?.get(target.resourceInstanceId as number);
      if (v === undefined) throw new LwM2MError('BAD_VALUE', `no value for ${target.toString()}`);
      return { kind: 'resourceInstance', id: target.resourceInstanceId as number, value: v };
    }
  }
}

// ---- encoding: LwM2M → records ------------------------------------------------------------------

const badValue = (where: string, what: string): LwM2MError => new LwM2MError('BAD_VALUE', `${where}: ${what}`);

/**
 * Sets the value field of `rec` for a value of model type `type` (inferred from the value without one),
 * per LwM2M-TS-Core 1.1 §7.4.4. `where` builds the error location only when needed.
 */
export function setSenMLValue(rec: SenMLRecord, value: ResourceValue, type: ResourceType | undefined, where: () => string): void {
  let t = type;
  let v = value;
  if (t === undefined || t === 'none') {
    t = inferType(v);
  } else if (!fastMatch(v, t)) {
    v = coerceValue(v, t, where());
  }
  switch (t) {
    case 'string':
    case 'corelnk':
      rec.vs = v as string;
      return;
    case 'integer':
    case 'unsignedInteger':
    case 'float':
      // NaN and ±Infinity are floats too: SenML CBOR carries them, the JSON serializer refuses them.
      rec.v = v as number | bigint;
      return;
    case 'time':
      rec.v = v instanceof Date ? dateToSeconds(v) : (v as number);
      if (!Number.isFinite(rec.v)) throw badValue(where(), 'an invalid time');
      return;
    case 'boolean':
      rec.vb = v as boolean;
      return;
    case 'opaque':
      rec.vd = v as Uint8Array;
      return;
    case 'objlnk':
      rec.vlo = formatObjectLink(v as ObjectLink);
      return;
    default:
      throw badValue(where(), `type ${String(t)} has no SenML value field`);
  }
}

/** True when `v` already has the representation `coerceValue` would return for `t` (the common case). */
function fastMatch(v: ResourceValue, t: ResourceType): boolean {
  switch (t) {
    case 'string':
    case 'corelnk': return typeof v === 'string';
    case 'integer': return typeof v === 'number' && Number.isSafeInteger(v);
    case 'unsignedInteger': return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
    case 'float': return typeof v === 'number';
    case 'boolean': return typeof v === 'boolean';
    case 'opaque': return v instanceof Uint8Array;
    case 'time': return v instanceof Date && !Number.isNaN(v.getTime());
    default: return false;
  }
}

function sortedKeys<V>(m: ReadonlyMap<number, V>): number[] {
  const keys = [...m.keys()];
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i] as number) < (keys[i - 1] as number)) return keys.sort((a, b) => a - b);
  }
  return keys;
}

/**
 * Encodes a node read from (or written to) `path` (LwM2M-TS-Core 1.1 §7.4.4 examples): the request path is the
 * Base Name of the first record — `/3/0/` with names `0`, `6/0`… for an instance, `/3/0/6/` with names `0`, `1`
 * for a multiple resource — and a single resource or resource instance is `bn` = its path with no name.
 * Records are in path order.
 */
export function nodeToSenML(path: LwM2MPath, node: LwM2MNode, models?: ModelLookup): SenMLRecord[] {
  checkNodeMatchesPath(path, node);
  const out: SenMLRecord[] = [];
  const prefix = formatPath(path);
  const oid = path.objectId as number;
  const types = new TypeLookup(models);
  const push = (n: string | undefined, value: ResourceValue, rid: number): void => {
    const rec = emptyRecord();
    if (out.length === 0) rec.bn = n === undefined ? prefix : `${prefix}/`;
    rec.n = n;
    setSenMLValue(rec, value, types.typeAt(oid, rid), () => (n === undefined ? prefix : `${prefix}/${n}`));
    out.push(rec);
  };
  const pushResource = (namePrefix: string, r: ResourceNode): void => {
    if (r.kind === 'resource') {
      push(namePrefix + r.id, r.value, r.id);
    } else {
      const rp = `${namePrefix}${r.id}/`;
      for (const riid of sortedKeys(r.instances)) push(rp + riid, r.instances.get(riid) as ResourceValue, r.id);
    }
  };
  switch (node.kind) {
    case 'object':
      for (const iid of sortedKeys(node.instances)) {
        const inst = node.instances.get(iid);
        if (inst === undefined) continue;
        for (const rid of sortedKeys(inst.resources)) pushResource(`${iid}/`, inst.resources.get(rid) as ResourceNode);
      }
      break;
    case 'instance':
      for (const rid of sortedKeys(node.resources)) pushResource('', node.resources.get(rid) as ResourceNode);
      break;
    case 'multipleResource':
      for (const riid of sortedKeys(node.instances)) push(String(riid), node.instances.get(riid) as ResourceValue, node.id);
      break;
    case 'resource':
    case 'resourceInstance':
      push(undefined, node.value, path.resourceId as number);
      break;
  }
  return out;
}

/** `p.depth` without allocating (LwM2MPath.depth builds the ids array). */
function depthOf(p: LwM2MPath): number {
  return p.objectId === undefined ? 0 : p.instanceId === undefined ? 1 : p.resourceId === undefined ? 2 : p.resourceInstanceId === undefined ? 3 : 4;
}

/** `base.contains(p)` without allocating. */
function containsPath(base: LwM2MPath, p: LwM2MPath): boolean {
  if (base.objectId === undefined) return true;
  if (base.objectId !== p.objectId) return false;
  if (base.instanceId === undefined) return true;
  if (base.instanceId !== p.instanceId) return false;
  if (base.resourceId === undefined) return true;
  if (base.resourceId !== p.resourceId) return false;
  return base.resourceInstanceId === undefined || base.resourceInstanceId === p.resourceInstanceId;
}

function idAt(p: LwM2MPath, level: number): number | undefined {
  switch (level) {
    case 0: return p.objectId;
    case 1: return p.instanceId;
    case 2: return p.resourceId;
    default: return p.resourceInstanceId;
  }
}

/**
 * How a list of paths is named: one path → `n` = the full path; all the same → `bn` = that path and no `n`;
 * otherwise `bn` = the deepest common ancestor (with a trailing `/`) and `n` = the rest, or full names in `n`
 * when the paths share no object.
 */
class Naming {
  readonly bn: string | undefined;
  private readonly k: number;
  private readonly single: boolean;
  private readonly same: boolean;

  constructor(paths: readonly LwM2MPath[]) {
    const first = paths[0];
    this.single = paths.length === 1;
    if (first === undefined || this.single) {
      this.same = false;
      this.k = 0;
      this.bn = undefined;
      return;
    }
    const firstDepth = depthOf(first);
    let k = firstDepth;
    let minDepth = k;
    let same = true;
    for (let i = 1; i < paths.length; i++) {
      const p = paths[i] as LwM2MPath;
      const d = depthOf(p);
      if (d !== firstDepth) same = false;
      if (d < minDepth) minDepth = d;
      let j = 0;
      const lim = Math.min(k, d);
      while (j < lim && idAt(p, j) === idAt(first, j)) j++;
      if (j < firstDepth || j < d) same = false;
      k = j;
    }
    this.same = same;
    if (same) {
      this.k = firstDepth;
      this.bn = formatPath(first);
      return;
    }
    if (k >= minDepth) k = minDepth - 1; // a path equal to the prefix would need an empty name
    this.k = Math.max(0, k);
    this.bn = this.k === 0 ? undefined : `${formatPath(prefixOf(first, this.k))}/`;
  }

  name(p: LwM2MPath): string | undefined {
    if (this.same) return undefined;
    const d = depthOf(p);
    if (this.k === 0) {
      if (d === 0) return '/';
      let s = `/${p.objectId as number}`;
      for (let j = 1; j < d; j++) s += `/${idAt(p, j) as number}`;
      return s;
    }
    let s = String(idAt(p, this.k));
    for (let j = this.k + 1; j < d; j++) s += `/${idAt(p, j) as number}`;
    return s;
  }
}

function prefixOf(p: LwM2MPath, depth: number): LwM2MPath {
  const ids: number[] = [];
  for (let j = 0; j < depth; j++) ids.push(idAt(p, j) as number);
  return LwM2MPath.of(...ids);
}

/**
 * Encodes leaf values (Read-Composite response, Write-Composite request, Send) in the given order. Names use a
 * common `bn` (see {@link Naming}). Times (LwM2M Send, RFC 8428 §4.5.3): when every record has one, the first
 * sets `bt` and the others carry `t` = time − bt (a new `bt` when the difference would not add back exactly);
 * when only some have one, those carry their absolute time in `t` and no `bt` is used, so that untimed records
 * stay untimed.
 */
export function pathValuesToSenML(values: readonly PathValue[], models?: ModelLookup): SenMLRecord[] {
  const naming = new Naming(values.map((v) => v.path));
  const types = new TypeLookup(models);
  let timed = 0;
  for (const pv of values) {
    if (pv.time !== undefined) {
      if (!Number.isFinite(pv.time)) throw badValue(pv.path.toString(), `time ${pv.time} is not a finite number`);
      timed++;
    }
  }
  const useBt = timed === values.length && timed > 0;
  let bt: number | undefined;
  const out: SenMLRecord[] = new Array<SenMLRecord>(values.length);
  for (let i = 0; i < values.length; i++) {
    const pv = values[i] as PathValue;
    const p = pv.path;
    if (p.resourceId === undefined) throw badValue(p.toString(), 'a SenML value must address a resource or resource instance');
    const rec = emptyRecord();
    if (i === 0) rec.bn = naming.bn;
    rec.n = naming.name(p);
    const time = pv.time;
    if (time !== undefined) {
      if (!useBt) {
        rec.t = time;
      } else if (bt === undefined) {
        rec.bt = bt = time;
      } else if (time !== bt) {
        const d = time - bt;
        if (bt + d === time) rec.t = d;
        else rec.bt = bt = time;
      }
    }
    setSenMLValue(rec, pv.value, types.typeAt(p.objectId as number, p.resourceId), () => p.toString());
    out[i] = rec;
  }
  return out;
}

/** Read-/Observe-Composite request payload: path-only records, named like {@link pathValuesToSenML}. */
export function pathsToSenML(paths: readonly LwM2MPath[]): SenMLRecord[] {
  const naming = new Naming(paths);
  const out: SenMLRecord[] = new Array<SenMLRecord>(paths.length);
  for (let i = 0; i < paths.length; i++) {
    const rec = emptyRecord();
    if (i === 0) rec.bn = naming.bn;
    rec.n = naming.name(paths[i] as LwM2MPath);
    out[i] = rec;
  }
  return out;
}
