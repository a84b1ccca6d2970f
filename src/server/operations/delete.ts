import type { LwM2MPath } from '../../core/path.js';
import { failed, pathSegments, type DeviceAnswer, type OperationResult, type ServerRequest } from './types.js';

/** Delete (LwM2M-TS-Core 1.1 §6.3.7): DELETE on an instance. */
export function deleteRequest(path: LwM2MPath, rootPath?: string): ServerRequest {
  return { method: 'DELETE', uriPath: pathSegments(path, rootPath) };
}

export function deleteResult(answer: DeviceAnswer): OperationResult {
  return answer.code === '2.02' ? { ok: true, code: answer.code } : failed(answer);
}
