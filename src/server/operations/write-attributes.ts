import type { LwM2MPath } from '../../core/path.js';
import { LwM2MError } from '../../core/errors.js';
import type { NotificationAttributes } from '../../codec/link.js';
import { failed, pathSegments, type DeviceAnswer, type OperationResult, type ServerRequest } from './types.js';

/** An attribute set, `null` to unset one (`?pmin`, LwM2M-TS-Core 1.1 §5.4.4). */
export type AttributeChanges = { [K in keyof NotificationAttributes]?: number | null };

/** Write-Attributes (LwM2M-TS-Core 1.1 §6.3.4): PUT with Uri-Query, no payload. */
export function writeAttributesRequest(path: LwM2MPath, attrs: AttributeChanges, rootPath?: string): ServerRequest {
  const query: string[] = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (v !== null && !Number.isFinite(v)) throw new LwM2MError('BAD_REQUEST', `attribute ${k} must be a finite number`);
    query.push(v === null ? k : `${k}=${v}`);
  }
  if (query.length === 0) throw new LwM2MError('BAD_REQUEST', 'Write-Attributes needs at least one attribute');
  return { method: 'PUT', uriPath: pathSegments(path, rootPath), uriQuery: query };
}

export function writeAttributesResult(answer: DeviceAnswer): OperationResult {
  return answer.code === '2.04' ? { ok: true, code: answer.code } : failed(answer);
}
