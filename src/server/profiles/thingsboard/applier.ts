/**
 * What a ThingsBoard profile makes the server do — pure logic, no I/O:
 *
 * - {@link planProfileOperations}: the operations to run after a registration, from the registered
 *   objects and the profile. Order: Write-Attributes of `attributeLwm2m`; with strategy 2
 *   (`clientOnlyObserveAfterConnect` = 2) a Read of every registered object instance; the Observes of
 *   `observe` (one per path for SINGLE, Observe-Composite for COMPOSITE_ALL / COMPOSITE_BY_OBJECT);
 *   with strategy 1 a Read of each `attribute`/`telemetry` path that is not observed. A path is planned
 *   only when the client registered its object (at the version the path names, "1.0" when the client
 *   gives none — LwM2M-TS-Core 1.1 §7.2.2 object versioning) and, for instance paths, that instance.
 * - {@link TelemetryMapper}: values by path (`/3/0/9` → 87) → named attributes and telemetry by
 *   `keyName`, for the object versions the client registered.
 */
import type { RegisteredObject } from '../../../codec/link.js';
import { LwM2MPath } from '../../../core/path.js';
import type { AttributeChanges } from '../../operations/write-attributes.js';
import type { TbPath } from './path.js';
import type { TbObjectAttributes, ThingsBoardProfile } from './profile.js';

export type ProfileOperation =
  | { readonly kind: 'writeAttributes'; readonly path: LwM2MPath; readonly attributes: AttributeChanges; readonly key: string }
  | { readonly kind: 'read'; readonly path: LwM2MPath; readonly key: string }
  | { readonly kind: 'readComposite'; readonly paths: readonly LwM2MPath[]; readonly keys: readonly string[] }
  | { readonly kind: 'observe'; readonly path: LwM2MPath; readonly key: string }
  | { readonly kind: 'observeComposite'; readonly paths: readonly LwM2MPath[]; readonly keys: readonly string[] };

export interface SkippedTarget {
  readonly key: string;
  readonly reason: string;
}

export interface ProfilePlan {
  readonly operations: readonly ProfileOperation[];
  /** Profile paths left out because the client does not have them. */
  readonly skipped: readonly SkippedTarget[];
}

/**
 * The version a client registered an object at; without `ver` the profile's `defaultObjectIDVer`
 * (ThingsBoard), else 1.0 (LwM2M-TS-Core 1.1 §7.2.2).
 */
function registeredVersion(o: RegisteredObject, defaultVersion: string): string {
  return o.version ?? defaultVersion;
}

/** Why `target` cannot be addressed on this client, or undefined when it can. */
export function unsupportedReason(target: TbPath, objects: ReadonlyMap<number, RegisteredObject>, defaultVersion = '1.0'): string | undefined {
  const oid = target.path.objectId as number;
  const o = objects.get(oid);
  if (!o) return `object ${oid} is not registered`;
  const v = registeredVersion(o, defaultVersion);
  if (target.objectVersion !== undefined && target.objectVersion !== v) {
    return `object ${oid} is registered at version ${v}, the profile names ${target.objectVersion}`;
  }
  const iid = target.path.instanceId;
  if (iid !== undefined && !o.instances.includes(iid)) return `instance /${oid}/${iid} is not registered`;
  return undefined;
}

function attributeChanges(a: TbObjectAttributes): AttributeChanges {
  const out: AttributeChanges = {};
  if (a.pmin !== undefined) out.pmin = a.pmin;
  if (a.pmax !== undefined) out.pmax = a.pmax;
  if (a.gt !== undefined) out.gt = a.gt;
  if (a.lt !== undefined) out.lt = a.lt;
  if (a.st !== undefined) out.st = a.st;
  if (a.epmin !== undefined) out.epmin = a.epmin;
  if (a.epmax !== undefined) out.epmax = a.epmax;
  return out;
}

/** The operations to run after a Register (or an Update that changed the object list). */
export function planProfileOperations(profile: ThingsBoardProfile, registered: readonly RegisteredObject[]): ProfilePlan {
  const objects = new Map(registered.map((o) => [o.objectId, o]));
  const skipped: SkippedTarget[] = [];
  const seenSkip = new Set<string>();
  const defaultVersion = profile.settings.defaultObjectIDVer ?? '1.0';
  const usable = (targets: readonly TbPath[]): TbPath[] => targets.filter((t) => {
    const why = unsupportedReason(t, objects, defaultVersion);
    if (why !== undefined && !seenSkip.has(t.key)) {
      seenSkip.add(t.key);
      skipped.push({ key: t.key, reason: why });
    }
    return why === undefined;
  });
  const m = profile.telemetry;
  const ops: ProfileOperation[] = [];

  for (const { target, attributes } of m.attributeLwm2m) {
    const changes = attributeChanges(attributes);
    if (Object.keys(changes).length === 0 || usable([target]).length === 0) continue;
    ops.push({ kind: 'writeAttributes', path: target.path, attributes: changes, key: target.key });
  }

  if (profile.settings.clientOnlyObserveAfterConnect === 2) {
    // Strategy 2: read all resource values of every registered object instance first.
    for (const o of [...registered].sort((a, b) => a.objectId - b.objectId)) {
      for (const iid of o.instances) ops.push({ kind: 'read', path: LwM2MPath.of(o.objectId, iid), key: `/${o.objectId}/${iid}` });
    }
  }

  const observed = usable(dedupe(m.observe));
  ops.push(...grouped(observed, m.observeStrategy, 'observe'));

  if (profile.settings.clientOnlyObserveAfterConnect === 1) {
    const observedKeys = new Set(observed.map((t) => t.path.toString()));
    const toRead = usable(dedupe([...m.attribute, ...m.telemetry])).filter((t) => !observedKeys.has(t.path.toString()));
    ops.push(...grouped(toRead, m.initAttrTelAsObsStrategy ? m.observeStrategy : 'SINGLE', 'read'));
  }
  return { operations: ops, skipped };
}

function dedupe(targets: readonly TbPath[]): TbPath[] {
  const seen = new Set<string>();
  return targets.filter((t) => {
    const k = `${t.path.toString()}|${t.objectVersion ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function grouped(targets: readonly TbPath[], strategy: ThingsBoardProfile['telemetry']['observeStrategy'], kind: 'observe' | 'read'): ProfileOperation[] {
  if (targets.length === 0) return [];
  if (strategy === 'SINGLE') return targets.map((t) => ({ kind, path: t.path, key: t.key }));
  const composite = kind === 'observe' ? 'observeComposite' as const : 'readComposite' as const;
  if (strategy === 'COMPOSITE_ALL') return [{ kind: composite, paths: targets.map((t) => t.path), keys: targets.map((t) => t.key) }];
  const byObject = new Map<number, TbPath[]>();
  for (const t of targets) {
    const oid = t.path.objectId as number;
    const list = byObject.get(oid);
    if (list) list.push(t);
    else byObject.set(oid, [t]);
  }
  return [...byObject.entries()].sort(([a], [b]) => a - b)
    .map(([, ts]) => ({ kind: composite, paths: ts.map((t) => t.path), keys: ts.map((t) => t.key) }));
}

// ---- values → named keys ---------------------------------------------------------------------------

export interface NamedValue {
  readonly key: string;
  readonly value: unknown;
  /** The LwM2M path the value came from. */
  readonly path: string;
}

export interface MappedValues {
  readonly attributes: NamedValue[];
  readonly telemetry: NamedValue[];
}

interface MapEntry {
  readonly name: string;
  readonly version?: string;
  readonly attribute: boolean;
  readonly telemetry: boolean;
}

/**
 * Maps values by path to ThingsBoard keys. A resource path of `attribute` or `telemetry` is reported
 * under its `keyName` (or the path itself when it has none); the values of a multiple resource
 * (`/3/0/6/0`, `/3/0/6/1`) are reported together as one object `{ "0": …, "1": … }` unless the
 * resource instance has a key of its own. Paths the profile does not report are ignored.
 */
export class TelemetryMapper {
  /** Plain path (`/3/0/9`) → entries (one per object version the profile names). */
  private readonly entries = new Map<string, MapEntry[]>();
  private readonly defaultVersion: string;

  constructor(profile: ThingsBoardProfile) {
    this.defaultVersion = profile.settings.defaultObjectIDVer ?? '1.0';
    const m = profile.telemetry;
    const names = new Map(m.keyNames.map((k) => [k.target.key, k.name]));
    const add = (t: TbPath, role: 'attribute' | 'telemetry'): void => {
      const plain = t.path.toString();
      const list = this.entries.get(plain) ?? [];
      const i = list.findIndex((e) => e.version === t.objectVersion);
      const prev = i >= 0 ? list[i] : undefined;
      const entry: MapEntry = {
        name: prev?.name ?? names.get(t.key) ?? t.key,
        ...(t.objectVersion !== undefined ? { version: t.objectVersion } : {}),
        attribute: (prev?.attribute ?? false) || role === 'attribute',
        telemetry: (prev?.telemetry ?? false) || role === 'telemetry',
      };
      if (i >= 0) list[i] = entry;
      else list.push(entry);
      this.entries.set(plain, list);
    };
    for (const t of m.attribute) add(t, 'attribute');
    for (const t of m.telemetry) add(t, 'telemetry');
  }

  /** Number of paths whose values are reported. */
  get size(): number {
    return this.entries.size;
  }

  private entryFor(plain: string, versions: ReadonlyMap<number, string>): MapEntry | undefined {
    const list = this.entries.get(plain);
    if (!list) return undefined;
    const oid = Number(plain.split('/')[1]);
    const v = versions.get(oid) ?? this.defaultVersion;
    return list.find((e) => e.version === v) ?? list.find((e) => e.version === undefined);
  }

  /**
   * `values` as the server reports them (full path → JSON value); `versions` the object versions the
   * client registered (object id → "1.2"; absent = the profile's `defaultObjectIDVer`, else 1.0).
   */
  map(values: Readonly<Record<string, unknown>>, versions: ReadonlyMap<number, string> = new Map()): MappedValues {
    const attributes: NamedValue[] = [];
    const telemetry: NamedValue[] = [];
    const emit = (e: MapEntry, path: string, value: unknown): void => {
      if (e.attribute) attributes.push({ key: e.name, value, path });
      if (e.telemetry) telemetry.push({ key: e.name, value, path });
    };
    const multi = new Map<string, { entry: MapEntry; value: Record<string, unknown> }>();
    for (const [path, value] of Object.entries(values)) {
      const own = this.entryFor(path, versions);
      if (own) {
        emit(own, path, value);
        continue;
      }
      const slash = path.lastIndexOf('/');
      const parent = path.slice(0, slash);
      if (parent.split('/').length !== 4) continue; // only /o/i/r/ri has a resource parent
      const pe = this.entryFor(parent, versions);
      if (!pe) continue;
      const agg = multi.get(parent) ?? { entry: pe, value: {} };
      agg.value[path.slice(slash + 1)] = value;
      multi.set(parent, agg);
    }
    for (const [path, { entry, value }] of multi) emit(entry, path, value);
    return { attributes, telemetry };
  }
}

/** Object id → registered version, for {@link TelemetryMapper.map}. */
export function objectVersions(objects: readonly RegisteredObject[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const o of objects) if (o.version !== undefined) out.set(o.objectId, o.version);
  return out;
}
