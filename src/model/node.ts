import { LwM2MError } from '../core/errors.js';
import { LwM2MPath, comparePaths } from '../core/path.js';
import type { ModelLookup, ResourceModel, ResourceType } from './types.js';

/** An Object Link value (LwM2M-TS-Core 1.1 §C.1 `Objlnk`): `objectId:instanceId`. */
export interface ObjectLink {
  readonly objectId: number;
  readonly instanceId: number;
}

/**
 * A typed resource value.
 * - string (String, Corelnk); number (Integer, Unsigned, Float; integers beyond 2^53 use bigint);
 * - boolean; Uint8Array (Opaque); Date (Time, whole seconds on the wire); ObjectLink (Objlnk).
 */
export type ResourceValue = string | number | bigint | boolean | Uint8Array | Date | ObjectLink;

export interface SingleResourceNode {
  readonly kind: 'resource';
  readonly id: number;
  readonly value: ResourceValue;
}

export interface MultipleResourceNode {
  readonly kind: 'multipleResource';
  readonly id: number;
  /** Resource instances by id. */
  readonly instances: ReadonlyMap<number, ResourceValue>;
}

export type ResourceNode = SingleResourceNode | MultipleResourceNode;

export interface ResourceInstanceNode {
  readonly kind: 'resourceInstance';
  readonly id: number;
  readonly value: ResourceValue;
}

export interface ObjectInstanceNode {
  readonly kind: 'instance';
  readonly id: number;
  readonly resources: ReadonlyMap<number, ResourceNode>;
}

export interface ObjectNode {
  readonly kind: 'object';
  readonly id: number;
  readonly instances: ReadonlyMap<number, ObjectInstanceNode>;
}

export type LwM2MNode = ObjectNode | ObjectInstanceNode | ResourceNode | ResourceInstanceNode;

// ---- constructors -------------------------------------------------------------------------------

export function resource(id: number, value: ResourceValue): SingleResourceNode {
  return { kind: 'resource', id, value };
}

export function multipleResource(
  id: number,
  instances: ReadonlyMap<number, ResourceValue> | Record<number, ResourceValue> | readonly ResourceValue[],
): MultipleResourceNode {
  let map: Map<number, ResourceValue>;
  if (instances instanceof Map) map = new Map(instances);
  else if (Array.isArray(instances)) map = new Map(instances.map((v, i) => [i, v] as [number, ResourceValue]));
  else map = new Map(Object.entries(instances).map(([k, v]) => [Number(k), v as ResourceValue]));
  return { kind: 'multipleResource', id, instances: map };
}

export function resourceInstance(id: number, value: ResourceValue): ResourceInstanceNode {
  return { kind: 'resourceInstance', id, value };
}

export function objectInstance(id: number, resources: Iterable<ResourceNode>): ObjectInstanceNode {
  return { kind: 'instance', id, resources: new Map([...resources].map((r) => [r.id, r])) };
}

export function objectNode(id: number, instances: Iterable<ObjectInstanceNode>): ObjectNode {
  return { kind: 'object', id, instances: new Map([...instances].map((i) => [i.id, i])) };
}

export function isObjectLink(v: unknown): v is ObjectLink {
  return (
    typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !(v instanceof Date) &&
    typeof (v as ObjectLink).objectId === 'number' && typeof (v as ObjectLink).instanceId === 'number'
  );
}

/** The node level a path addresses. */
export function nodeLevelOf(path: LwM2MPath): LwM2MNode['kind'] | 'root' {
  switch (path.depth) {
    case 0: return 'root';
    case 1: return 'object';
    case 2: return 'instance';
    case 3: return 'resource';
    default: return 'resourceInstance';
  }
}

// ---- flat records: the common form of SenML, OMA JSON and LwM2M CBOR -----------------------------

/** One leaf value at a full path (resource or resource instance), optionally timestamped (seconds). */
export interface PathValue {
  readonly path: LwM2MPath;
  readonly value: ResourceValue;
  /** Absolute time in seconds since the epoch (SenML `bt + t`), when the format carried one. */
  readonly time?: number;
}

/** Flattens a node found at `path` into leaf records, in path order. */
export function nodeToRecords(path: LwM2MPath, node: LwM2MNode): PathValue[] {
  const out: PathValue[] = [];
  const pushResource = (base: LwM2MPath, r: ResourceNode): void => {
    const rp = base.child(r.id);
    if (r.kind === 'resource') out.push({ path: rp, value: r.value });
    else for (const [riid, v] of r.instances) out.push({ path: rp.child(riid), value: v });
  };
  switch (node.kind) {
    case 'object': {
      const op = path.depth >= 1 ? path : LwM2MPath.of(node.id);
      for (const inst of node.instances.values()) {
        const ip = op.child(inst.id);
        for (const r of inst.resources.values()) pushResource(ip, r);
      }
      break;
    }
    case 'instance':
      for (const r of node.resources.values()) pushResource(path, r);
      break;
    case 'resource':
    case 'multipleResource':
      pushResource(path.parent(), node);
      break;
    case 'resourceInstance':
      out.push({ path, value: node.value });
      break;
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/** True when the model declares the resource at `path` (object/instance/resource) multiple-instance. */
export function isMultipleResource(models: ModelLookup | undefined, path: LwM2MPath): boolean | undefined {
  if (path.objectId === undefined || path.resourceId === undefined) return undefined;
  return models?.getObject(path.objectId)?.resources.get(path.resourceId)?.multiple;
}

export function resourceModelAt(models: ModelLookup | undefined, path: LwM2MPath): ResourceModel | undefined {
  if (path.objectId === undefined || path.resourceId === undefined) return undefined;
  return models?.getObject(path.objectId)?.resources.get(path.resourceId);
}

export function resourceTypeAt(models: ModelLookup | undefined, path: LwM2MPath): ResourceType | undefined {
  return resourceModelAt(models, path)?.type;
}

/**
 * Builds the node addressed by `target` from leaf records (all of which must lie under `target`).
 * A resource is multiple when the model says so, or — without a model — when any record addresses one of
 * its resource instances. Throws `LWM2M_BAD_VALUE` (4.00) for records outside `target` or duplicated paths.
 */
export function recordsToNode(target: LwM2MPath, records: readonly PathValue[], models?: ModelLookup): LwM2MNode {
  if (target.isRoot()) throw new LwM2MError('BAD_REQUEST', 'cannot build a single node for the root path');
  const seen = new Set<string>();
  // objectId -> instanceId -> resourceId -> (single value | instances)
  const tree = new Map<number, Map<number, Map<number, ResourceAcc>>>();
  for (const rec of records) {
    const p = rec.path;
    if (!target.contains(p) || p.depth < 3) {
      throw new LwM2MError('BAD_VALUE', `record ${p.toString()} is not a resource under ${target.toString()}`);
    }
    const key = p.toString();
    if (seen.has(key)) throw new LwM2MError('BAD_VALUE', `duplicate record for ${key}`);
    seen.add(key);
    const o = getOrCreate(tree, p.objectId as number, () => new Map());
    const i = getOrCreate(o, p.instanceId as number, () => new Map());
    const r = getOrCreate(i, p.resourceId as number, (): ResourceAcc => ({}));
    if (p.resourceInstanceId === undefined) {
      if (r.multi) throw new LwM2MError('BAD_VALUE', `${key} is given both as a single and a multiple resource`);
      r.single = rec.value;
    } else {
      if (r.single !== undefined) throw new LwM2MError('BAD_VALUE', `${key} is given both as a single and a multiple resource`);
      (r.multi ??= new Map()).set(p.resourceInstanceId, rec.value);
    }
  }
  const buildResource = (oid: number, rid: number, r: ResourceAcc): ResourceNode => {
    const modelMultiple = models?.getObject(oid)?.resources.get(rid)?.multiple;
    if (r.multi) return { kind: 'multipleResource', id: rid, instances: r.multi };
    if (modelMultiple === true) {
      throw new LwM2MError('BAD_VALUE', `/${oid}/x/${rid} is a multiple resource but was given a single value`);
    }
    return { kind: 'resource', id: rid, value: r.single as ResourceValue };
  };
  const buildInstance = (oid: number, iid: number, res: Map<number, ResourceAcc>): ObjectInstanceNode => ({
    kind: 'instance',
    id: iid,
    resources: new Map([...res].sort((a, b) => a[0] - b[0]).map(([rid, r]) => [rid, buildResource(oid, rid, r)])),
  });

  const oid = target.objectId as number;
  const objectTree = tree.get(oid) ?? new Map();
  switch (target.depth) {
    case 1:
      return {
        kind: 'object',
        id: oid,
        instances: new Map([...objectTree].sort((a, b) => a[0] - b[0]).map(([iid, res]) => [iid, buildInstance(oid, iid, res)])),
      };
    case 2: {
      const iid = target.instanceId as number;
      return buildInstance(oid, iid, objectTree.get(iid) ?? new Map());
    }
    case 3: {
      const rid = target.resourceId as number;
      const r = objectTree.get(target.instanceId as number)?.get(rid);
      if (!r) {
        if (models?.getObject(oid)?.resources.get(rid)?.multiple) return { kind: 'multipleResource', id: rid, instances: new Map() };
        throw new LwM2MError('BAD_VALUE', `no value for ${target.toString()}`);
      }
      return buildResource(oid, rid, r);
    }
    default: {
      const r = objectTree.get(target.instanceId as number)?.get(target.resourceId as number);
      const v = r?.multi?.get(target.resourceInstanceId as number);
      if (v === undefined) throw new LwM2MError('BAD_VALUE', `no value for ${target.toString()}`);
      return { kind: 'resourceInstance', id: target.resourceInstanceId as number, value: v };
    }
  }
}

interface ResourceAcc {
  single?: ResourceValue;
  multi?: Map<number, ResourceValue>;
}

function getOrCreate<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
}

/** Checks that a node's kind matches the level of the path it is read from/written to. */
export function checkNodeMatchesPath(path: LwM2MPath, node: LwM2MNode): void {
  const level = nodeLevelOf(path);
  const ok =
    (level === 'object' && node.kind === 'object') ||
    (level === 'instance' && node.kind === 'instance') ||
    (level === 'resource' && (node.kind === 'resource' || node.kind === 'multipleResource')) ||
    (level === 'resourceInstance' && node.kind === 'resourceInstance');
  if (!ok) throw new LwM2MError('BAD_VALUE', `a ${node.kind} node does not fit path ${path.toString()}`);
  if (node.id !== path.ids[path.depth - 1]) {
    throw new LwM2MError('BAD_VALUE', `node id ${node.id} does not match path ${path.toString()}`);
  }
}
