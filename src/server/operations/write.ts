import type { LwM2MPath } from '../../core/path.js';
import { encode } from '../../codec/dispatch.js';
import type { LwM2MNode } from '../../model/node.js';
import { failed, pathSegments, type DeviceAnswer, type OperationContext, type OperationResult, type ServerRequest } from './types.js';

/** Write (LwM2M-TS-Core 1.1 §6.3.3): PUT = replace, POST = partial update (instance level). */
export function writeRequest(
  path: LwM2MPath, node: LwM2MNode, format: number, ctx: OperationContext, mode: 'replace' | 'update' = 'replace', rootPath?: string,
): ServerRequest {
  return {
    method: mode === 'replace' ? 'PUT' : 'POST',
    uriPath: pathSegments(path, rootPath),
    payload: encode(format, node, { path, models: ctx.models }),
    contentFormat: format,
  };
}

export function writeResult(answer: DeviceAnswer): OperationResult {
  return answer.code === '2.04' ? { ok: true, code: answer.code } : failed(answer);
}
