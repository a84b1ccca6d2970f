import { LwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import type { RequestContext } from '../context.js';
import { ok, type DeviceResponse } from '../request.js';
import { requireDepth, type DeviceEnv } from './env.js';

/** Delete (LwM2M-TS-Core 1.1 §6.3.7): an object instance only; Security/Device are not deletable by DM servers. */
export function del(env: DeviceEnv, ctx: RequestContext, path: LwM2MPath): DeviceResponse {
  requireDepth(path, [2], 'Delete');
  env.access.check(ctx, path, 'D');
  if (path.objectId === 3) throw new LwM2MError('METHOD_NOT_ALLOWED', 'the Device instance cannot be deleted');
  const object = env.tree.requireObject(path);
  env.tree.requireInstance(path);
  object.delete(path.instanceId as number);
  env.access.onDeleted(object.id, path.instanceId as number);
  if (ctx.shortServerId !== undefined) env.attributesFor(ctx.shortServerId).clear(path);
  return ok('2.02');
}
