import { LwM2MPath } from '../../core/path.js';
import { encode } from '../../codec/dispatch.js';
import type { ObjectInstanceNode } from '../../model/node.js';
import { failed, pathSegments, type DeviceAnswer, type OperationContext, type OperationResult, type ServerRequest } from './types.js';

export interface CreateResult extends OperationResult {
  readonly location?: LwM2MPath;
}

/** Create (LwM2M-TS-Core 1.1 §6.3.6): POST on an object with the new instance. */
export function createRequest(objectId: number, instance: ObjectInstanceNode, format: number, ctx: OperationContext, rootPath?: string): ServerRequest {
  const path = LwM2MPath.of(objectId);
  return {
    method: 'POST',
    uriPath: pathSegments(path, rootPath),
    payload: encode(format, { kind: 'object', id: objectId, instances: new Map([[instance.id, instance]]) }, { path, models: ctx.models }),
    contentFormat: format,
  };
}

export function createResult(objectId: number, instanceId: number, answer: DeviceAnswer): CreateResult {
  if (answer.code !== '2.01') return failed(answer);
  const loc = answer.locationPath ?? [];
  const last = loc.length > 0 ? Number(loc[loc.length - 1]) : instanceId;
  return { ok: true, code: answer.code, location: LwM2MPath.of(objectId, Number.isInteger(last) ? last : instanceId) };
}
