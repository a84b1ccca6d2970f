import type { LwM2MPath } from '../../core/path.js';
import { pathSegments, type ServerRequest } from './types.js';

/** Observe (LwM2M-TS-Core 1.1 §6.4.1; RFC 7641): GET with Observe=0. Notifications decode like a Read. */
export function observeRequest(path: LwM2MPath, format?: number, rootPath?: string): ServerRequest {
  return { method: 'GET', uriPath: pathSegments(path, rootPath), observe: 0, ...(format !== undefined ? { accept: format } : {}) };
}

/** Active cancel (RFC 7641 §3.6): GET with Observe=1 on the same target. */
export function cancelObserveRequest(path: LwM2MPath, format?: number, rootPath?: string): ServerRequest {
  return { method: 'GET', uriPath: pathSegments(path, rootPath), observe: 1, ...(format !== undefined ? { accept: format } : {}) };
}
