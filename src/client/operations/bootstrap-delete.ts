import { LwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import type { ObjectInstance } from '../instance.js';
import { ok, type DeviceResponse } from '../request.js';
import type { DeviceEnv } from './env.js';

/** The Bootstrap-Server account: the Security instance with Bootstrap-Server /0/x/1 = true. */
export function isBootstrapAccount(inst: ObjectInstance): boolean {
  return inst.objectId === 0 && inst.get(1) === true;
}

/**
 * Bootstrap-Delete (LwM2M-TS-Core 1.1 §6.1.7.5): `/` deletes every instance of every object except the
 * Bootstrap-Server account and the Device instance; `/0` every Security instance but the Bootstrap-Server
 * account; `/x/y` one instance. Deleting the Bootstrap-Server account itself is a 4.00.
 */
export function bootstrapDelete(env: DeviceEnv, path: LwM2MPath): DeviceResponse {
  if (path.depth > 2) throw new LwM2MError('BAD_REQUEST', `Bootstrap-Delete on ${path.toString()} is not allowed`);
  const keep = (i: ObjectInstance): boolean => isBootstrapAccount(i) || i.objectId === 3;
  if (path.isRoot()) {
    for (const o of env.tree.objectList()) o.deleteAll(keep);
    return ok('2.02');
  }
  const object = env.tree.requireObject(path);
  if (path.depth === 1) {
    object.deleteAll(keep);
    return ok('2.02');
  }
  const inst = object.instance(path.instanceId as number);
  if (!inst) return ok('2.02'); // deleting what is not there succeeds (idempotent, as Leshan/Anjay do)
  if (keep(inst)) throw new LwM2MError('BAD_REQUEST', `${path.toString()} cannot be deleted during bootstrap`);
  object.delete(inst.id);
  return ok('2.02');
}
