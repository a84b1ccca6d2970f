import { LwM2MError } from '../../core/errors.js';
import { LwM2MPath } from '../../core/path.js';
import { decode } from '../../codec/dispatch.js';
import type { ObjectInstanceNode } from '../../model/node.js';
import type { RequestContext } from '../context.js';
import { requireDecodable } from '../negotiate.js';
import { ok, type DeviceResponse } from '../request.js';
import { requireDepth, type DeviceEnv } from './env.js';

/**
 * Create (LwM2M-TS-Core 1.1 §6.3.6; Transport: POST on an object). The payload holds one instance
 * (with its id: TLV object-instance / SenML names) or only resources (TLV without wrapper → the client
 * picks the id). Answers 2.01 with Location-Path of the new instance.
 */
export function create(
  env: DeviceEnv, ctx: RequestContext, path: LwM2MPath, payload: Uint8Array, contentFormat: number | undefined,
): DeviceResponse & { location?: LwM2MPath } {
  requireDepth(path, [1], 'Create');
  env.access.check(ctx, path, 'C');
  const object = env.tree.requireObject(path);
  let node: ObjectInstanceNode | undefined;
  if (payload.length > 0) {
    const format = requireDecodable(contentFormat);
    const decoded = decode(format, payload, { path, models: env.tree });
    if (decoded.kind === 'object') {
      if (decoded.instances.size > 1) throw new LwM2MError('BAD_REQUEST', 'Create carries exactly one instance');
      node = [...decoded.instances.values()][0];
    } else if (decoded.kind === 'instance') {
      node = decoded;
    } else {
      throw new LwM2MError('BAD_REQUEST', `Create payload must be an object instance, got a ${decoded.kind}`);
    }
  }
  const inst = object.create(node, ctx, node?.id);
  env.access.onCreated(ctx, object.id, inst.id);
  return { ...ok('2.01'), location: LwM2MPath.of(object.id, inst.id) };
}
