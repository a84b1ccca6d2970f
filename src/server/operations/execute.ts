import type { LwM2MPath } from '../../core/path.js';
import { failed, pathSegments, type DeviceAnswer, type OperationResult, type ServerRequest } from './types.js';

const utf8 = new TextEncoder();

/** Execute (LwM2M-TS-Core 1.1 §6.3.5): POST on a resource, arguments as text (`0='a',1`). */
export function executeRequest(path: LwM2MPath, args = '', rootPath?: string): ServerRequest {
  return { method: 'POST', uriPath: pathSegments(path, rootPath), ...(args ? { payload: utf8.encode(args), contentFormat: 0 } : {}) };
}

export function executeResult(answer: DeviceAnswer): OperationResult {
  return answer.code === '2.04' ? { ok: true, code: answer.code } : failed(answer);
}
