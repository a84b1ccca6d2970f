import type { LwM2MPath } from '../../core/path.js';
import { isLwM2MError } from '../../core/errors.js';
import { decodeRecords, encodePaths, encodeRecords } from '../../codec/dispatch.js';
import type { PathValue } from '../../model/node.js';
import { failed, type DeviceAnswer, type OperationContext, type ReadResult, type ServerRequest, type OperationResult } from './types.js';
import { recordsToFlat } from './values.js';

export interface CompositeReadResult extends ReadResult {
  readonly records?: PathValue[];
}

/** Read-Composite (LwM2M-TS-Core 1.1 §6.3.8): FETCH / with the path list; `observe` for Observe-Composite. */
export function compositeReadRequest(paths: readonly LwM2MPath[], format: number, responseFormat = format, observe?: 0 | 1): ServerRequest {
  return {
    method: 'FETCH', uriPath: [], payload: encodePaths(format, paths), contentFormat: format, accept: responseFormat,
    ...(observe !== undefined ? { observe } : {}),
  };
}

export function compositeReadResult(answer: DeviceAnswer, ctx: OperationContext): CompositeReadResult {
  if (answer.code !== '2.05') return failed(answer);
  if (answer.contentFormat === undefined) return { ok: false, code: answer.code, diagnostic: 'response has no Content-Format' };
  try {
    const records = decodeRecords(answer.contentFormat, answer.payload, ctx.models);
    return { ok: true, code: answer.code, records, values: recordsToFlat(records), contentFormat: answer.contentFormat };
  } catch (e) {
    if (!isLwM2MError(e)) throw e;
    return { ok: false, code: answer.code, diagnostic: e.message };
  }
}

/** Write-Composite (LwM2M-TS-Core 1.1 §6.3.9): iPATCH / with the records. */
export function compositeWriteRequest(records: readonly PathValue[], format: number, ctx: OperationContext): ServerRequest {
  return { method: 'iPATCH', uriPath: [], payload: encodeRecords(format, records, ctx.models), contentFormat: format };
}

export function compositeWriteResult(answer: DeviceAnswer): OperationResult {
  return answer.code === '2.04' ? { ok: true, code: answer.code } : failed(answer);
}
