import { LwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import { decode } from '../../codec/dispatch.js';
import type { LwM2MNode } from '../../model/node.js';
import type { RequestContext } from '../context.js';
import { requireDecodable } from '../negotiate.js';
import { ok, type DeviceResponse } from '../request.js';
import { requireDepth, type DeviceEnv } from './env.js';

/**
 * Write (LwM2M-TS-Core 1.1 §6.3.3): PUT = Replace, POST on an instance = Partial Update.
 * Replace works on an instance, a resource or a resource instance; Partial Update on an instance (and,
 * in 1.1, on a multiple resource: its instances are merged).
 */
export function write(
  env: DeviceEnv, ctx: RequestContext, path: LwM2MPath, payload: Uint8Array, contentFormat: number | undefined, replace: boolean,
): DeviceResponse {
  requireDepth(path, replace ? [2, 3, 4] : [2, 3], replace ? 'Write (replace)' : 'Write (partial update)');
  env.access.check(ctx, path, 'W');
  const format = requireDecodable(contentFormat);
  const node = decode(format, payload, { path, models: env.tree });
  applyWrite(env, ctx, path, node, replace);
  return ok('2.04');
}

export function applyWrite(env: DeviceEnv, ctx: RequestContext, path: LwM2MPath, node: LwM2MNode, replace: boolean): void {
  const instance = env.tree.requireInstance(path);
  switch (node.kind) {
    case 'instance':
      if (node.id !== path.instanceId) throw new LwM2MError('BAD_REQUEST', `payload instance ${node.id} ≠ ${path.toString()}`);
      instance.writeInstance(node, ctx, replace);
      return;
    case 'resource':
    case 'multipleResource':
      if (path.depth !== 3 || node.id !== path.resourceId) {
        throw new LwM2MError('BAD_REQUEST', `payload resource ${node.id} does not match ${path.toString()}`);
      }
      instance.writeResource(node, ctx, replace);
      return;
    case 'resourceInstance':
      if (path.depth !== 4 || node.id !== path.resourceInstanceId) {
        throw new LwM2MError('BAD_REQUEST', `payload resource instance ${node.id} does not match ${path.toString()}`);
      }
      instance.writeResourceInstance(path.resourceId as number, node, ctx);
      return;
    default:
      throw new LwM2MError('BAD_REQUEST', `cannot write a ${node.kind} to ${path.toString()}`);
  }
}
