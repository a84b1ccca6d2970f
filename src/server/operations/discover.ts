import type { LwM2MPath } from '../../core/path.js';
import { isLwM2MError } from '../../core/errors.js';
import { ContentFormat } from '../../codec/content-format.js';
import { parseDiscoverLinks, type DiscoverEntry } from '../../codec/link.js';
import { failed, pathSegments, type DeviceAnswer, type OperationResult, type ServerRequest } from './types.js';

export interface DiscoverResult extends OperationResult {
  readonly links?: DiscoverEntry[];
}

/** Discover (LwM2M-TS-Core 1.1 §6.3.2): GET with Accept: application/link-format. */
export function discoverRequest(path: LwM2MPath, rootPath?: string): ServerRequest {
  return { method: 'GET', uriPath: pathSegments(path, rootPath), accept: ContentFormat.LINK };
}

export function discoverResult(answer: DeviceAnswer, rootPath?: string): DiscoverResult {
  if (answer.code !== '2.05') return failed(answer);
  try {
    return { ok: true, code: answer.code, links: parseDiscoverLinks(answer.payload, rootPath ? { rootPath } : {}) };
  } catch (e) {
    if (!isLwM2MError(e)) throw e;
    return { ok: false, code: answer.code, diagnostic: e.message };
  }
}
