import type { LwM2MPath } from '../../core/path.js';
import { isLwM2MError } from '../../core/errors.js';
import { decode } from '../../codec/dispatch.js';
import { failed, pathSegments, type DeviceAnswer, type OperationContext, type ReadResult, type ServerRequest } from './types.js';
import { flatValues } from './values.js';

/** Read (LwM2M-TS-Core 1.1 §6.3.1): GET, Accept = the wanted content format (or none: the client picks). */
export function readRequest(path: LwM2MPath, format?: number, rootPath?: string): ServerRequest {
  return { method: 'GET', uriPath: pathSegments(path, rootPath), ...(format !== undefined ? { accept: format } : {}) };
}

/** Decodes a Read (or notification) answer; a payload that does not decode is a failed result, not a throw. */
export function readResult(path: LwM2MPath, answer: DeviceAnswer, ctx: OperationContext): ReadResult {
  if (answer.code !== '2.05') return failed(answer);
  if (answer.contentFormat === undefined) {
    return { ok: false, code: answer.code, diagnostic: 'response has no Content-Format' };
  }
  try {
    const node = decode(answer.contentFormat, answer.payload, { path, models: ctx.models });
    return { ok: true, code: answer.code, node, values: flatValues(path, node), contentFormat: answer.contentFormat };
  } catch (e) {
    if (!isLwM2MError(e)) throw e;
    return { ok: false, code: answer.code, diagnostic: `undecodable ${answer.contentFormat} payload: ${e.message}`, contentFormat: answer.contentFormat };
  }
}
