import { LwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import { encode } from '../../codec/dispatch.js';
import type { LwM2MNode, ObjectInstanceNode } from '../../model/node.js';
import type { RequestContext } from '../context.js';
import { pickReadFormat } from '../negotiate.js';
import { ok, type DeviceResponse } from '../request.js';
import { requireDepth, type DeviceEnv } from './env.js';

const READ_DEPTHS: readonly number[] = [1, 2, 3, 4];

/**
 * Reads the node at `path` with access control applied: an object-level read only includes the
 * instances the server may read (LwM2M-TS-Core 1.1 §E.1); Security is never readable by a DM server.
 */
export function readNode(env: DeviceEnv, ctx: RequestContext, path: LwM2MPath): LwM2MNode {
  if (path.depth === 0) requireDepth(path, READ_DEPTHS, 'Read');
  env.access.check(ctx, path, 'R');
  if (path.depth === 1) {
    const object = env.tree.requireObject(path);
    const instances = new Map<number, ObjectInstanceNode>();
    for (const inst of object.instanceList()) {
      if (env.access.canRead(ctx, inst)) instances.set(inst.id, inst.readInstance(ctx));
    }
    return { kind: 'object', id: object.id, instances };
  }
  return env.tree.read(path, ctx);
}

/** Read (LwM2M-TS-Core 1.1 §6.3.1; Transport §6.4: GET without Observe, Accept ≠ 40). */
export function read(env: DeviceEnv, ctx: RequestContext, path: LwM2MPath, accept: number | undefined): DeviceResponse {
  const node = readNode(env, ctx, path);
  const format = pickReadFormat(node, path, accept, env.tree, env.preferredFormat?.(ctx.shortServerId));
  return ok('2.05', encode(format, node, { path, models: env.tree }), format);
}

export function notReadable(path: LwM2MPath): never {
  throw new LwM2MError('METHOD_NOT_ALLOWED', `${path.toString()} cannot be read`);
}
