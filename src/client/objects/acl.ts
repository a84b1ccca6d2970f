/**
 * LwM2M Access Control object (/2, LwM2M-TS-Core 1.1 §E.3 and §7.3): one instance per protected object
 * instance (or per object, instance id 65535, for the Create right). The rules themselves are applied by
 * access.ts; this file builds and validates the instances.
 */
import { LwM2MError } from '../../core/errors.js';
import type { ResourceValue } from '../../model/node.js';
import type { ObjectModel } from '../../model/types.js';
import { ACL_OBJECT_LEVEL, Rights, type Right } from '../access.js';
import { ObjectInstance, type ResourceData } from '../instance.js';
import {
  ManagedObject, configuredObject, checkInt, guardWrites, requireObjectModel, type InstanceValues, type WriteHook,
} from './generic.js';

export const AclResource = { OBJECT_ID: 0, OBJECT_INSTANCE_ID: 1, ACL: 2, ACCESS_CONTROL_OWNER: 3 } as const;

/** /2/x/3 = 65535: the instance is managed during bootstrap only (LwM2M-TS-Core 1.1 §E.3). */
export const BOOTSTRAP_OWNER = 65535;
/** /2/x/2 resource instance 0 holds the default rights for servers without their own entry. */
export const DEFAULT_ACL_ENTRY = 0;

/** Rights as a bit field, a list (`['R', 'W']`) or letters (`'RWE'`). */
export type RightsSpec = number | readonly Right[] | string;

/** Converts a {@link RightsSpec} to the ACL bit field (R=1, W=2, E=4, D=8, C=16; §E.3). */
export function rightsOf(spec: RightsSpec, field = 'rights'): number {
  if (typeof spec === 'number') {
    checkInt(spec, field, 0, 31);
    return spec;
  }
  const letters = typeof spec === 'string' ? [...spec] : spec;
  let bits = 0;
  for (const l of letters) {
    if (!Object.hasOwn(Rights, l)) throw new LwM2MError('BAD_VALUE', `${field}: "${l}" is not one of R, W, E, D, C`);
    bits |= Rights[l as Right];
  }
  return bits;
}

/** The letters of a bit field, e.g. 7 → `'RWE'`. */
export function rightsToString(bits: number): string {
  return (Object.keys(Rights) as Right[]).filter((r) => (bits & Rights[r]) !== 0).join('');
}

export interface AclInstanceOptions {
  id?: number;
  /** /2/x/0 the protected object, 1..65534. */
  objectId: number;
  /** /2/x/1 the protected instance, or 65535 for the object itself (Create right). */
  instanceId: number;
  /** /2/x/2 rights by Short Server ID (0 = default for every other server). */
  acl?: Readonly<Record<number, RightsSpec>> | ReadonlyMap<number, RightsSpec>;
  /** /2/x/3 Access Control Owner: a Short Server ID, or 65535 (bootstrap only). */
  owner: number;
}

/** The resources of one ACL instance, validated (ids in range, rights 0..31). */
export function aclInstance(o: AclInstanceOptions): InstanceValues {
  checkInt(o.objectId, 'objectId', 1, 65534);
  checkInt(o.instanceId, 'instanceId', 0, 65535);
  checkInt(o.owner, 'owner', 0, 65535);
  if (o.objectId === undefined || o.instanceId === undefined || o.owner === undefined) {
    throw new LwM2MError('BAD_VALUE', 'objectId, instanceId and owner are required');
  }
  const entries = new Map<number, ResourceValue>();
  const list: [number, RightsSpec][] = o.acl instanceof Map
    ? [...(o.acl as ReadonlyMap<number, RightsSpec>)]
    : Object.entries(o.acl ?? {}).map(([k, v]) => [Number(k), v as RightsSpec]);
  for (const [ssid, rights] of list) {
    checkInt(ssid, 'acl key (Short Server ID)', 0, 65534);
    const bits = rightsOf(rights, `acl[${ssid}]`);
    // §E.3 / §7.3.1: the Create right only means something on the object-level instance (65535).
    if ((bits & Rights.C) !== 0 && o.instanceId !== ACL_OBJECT_LEVEL) {
      throw new LwM2MError('BAD_VALUE', `acl[${ssid}]: the C (Create) right applies only to instanceId 65535`);
    }
    entries.set(ssid, bits);
  }
  const v = new Map<number, ResourceData>([
    [AclResource.OBJECT_ID, o.objectId],
    [AclResource.OBJECT_INSTANCE_ID, o.instanceId],
    [AclResource.ACCESS_CONTROL_OWNER, o.owner],
  ]);
  if (entries.size > 0) v.set(AclResource.ACL, entries);
  return o.id === undefined ? { values: v } : { id: o.id, values: v };
}

export interface AclObjectOptions {
  instances?: readonly InstanceValues[];
}

/**
 * The ACL object. Instances are created by the client (access.ts, after a DM server's Create), by the
 * Bootstrap-Server, or from factory configuration; writes are range-checked (rights 0..31).
 */
export function createAclObject(model: ObjectModel, options: AclObjectOptions = {}): ManagedObject {
  requireObjectModel(model, 2, 'createAclObject');
  return configuredObject(model, options.instances ?? [], configureAcl);
}

/** /2/x/2 resource instance ids are Short Server IDs (§E.3); one hook for every ACL instance. */
const ACL_WRITE_HOOKS: Readonly<Record<number, WriteHook>> = {
  [AclResource.ACL]: (v, _ctx, inst) => {
    if (!(v instanceof Map)) return;
    for (const riid of (v as ReadonlyMap<number, ResourceValue>).keys()) {
      if (riid > 65534) throw new LwM2MError('BAD_VALUE', `${inst.path.toString()}/2/${riid}: the resource instance id is a Short Server ID (0..65534)`);
    }
  },
};

function configureAcl(inst: ObjectInstance): void {
  guardWrites(inst, ACL_WRITE_HOOKS);
}
