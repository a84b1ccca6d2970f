import { isLwM2MError } from '../../core/errors.js';
import { LwM2MError } from '../../core/errors.js';
import { LwM2MPath, MAX_ID, parsePath } from '../../core/path.js';
import type { AccessControl } from '../access.js';
import type { AttributeStore } from '../attributes.js';
import type { ObjectTree } from '../object-tree.js';
import { fail, type DeviceRequest, type DeviceResponse } from '../request.js';

/** What every DM/bootstrap operation handler needs from the device. */
export interface DeviceEnv {
  readonly tree: ObjectTree;
  readonly access: AccessControl;
  /** Write-Attributes store of one server (attributes are per server, LwM2M-TS-Core 1.1 §5.1.1). */
  attributesFor(shortServerId: number): AttributeStore;
  /** The server's Preferred Content Format (/1/x/22) or the configured default. */
  preferredFormat?(shortServerId: number | undefined): number | undefined;
}

/** Uri-Path segments → LwM2MPath; a bad path is a 4.00 (never a 4.04: it is not a path at all). */
export function pathOf(req: DeviceRequest): LwM2MPath {
  const segs = req.uriPath;
  if (segs.length === 0) return LwM2MPath.ROOT;
  // Every request carries a path: plain decimal ids go straight to LwM2MPath.of (which range-checks them);
  // anything else is parsed as text for its precise error.
  if (segs.length <= 4) {
    const ids: number[] = [];
    for (const seg of segs) {
      if (!DECIMAL_ID.test(seg)) return parsePath(`/${segs.join('/')}`);
      ids.push(Number(seg));
    }
    if (ids.every((id) => id <= MAX_ID)) return LwM2MPath.of(...ids);
  }
  return parsePath(`/${segs.join('/')}`);
}

const DECIMAL_ID = /^[0-9]{1,5}$/;

/** Runs an operation; an LwM2MError becomes its CoAP code with a diagnostic payload, anything else 5.00. */
export async function guard(op: () => DeviceResponse | Promise<DeviceResponse>): Promise<DeviceResponse> {
  try {
    return await op();
  } catch (e) {
    if (isLwM2MError(e)) return fail(e.coapCode, e.detail);
    return fail('5.00', e instanceof Error ? e.message : String(e));
  }
}

export function guardSync(op: () => DeviceResponse): DeviceResponse {
  try {
    return op();
  } catch (e) {
    if (isLwM2MError(e)) return fail(e.coapCode, e.detail);
    return fail('5.00', e instanceof Error ? e.message : String(e));
  }
}

export function requireDepth(path: LwM2MPath, allowed: readonly number[], op: string): void {
  if (!allowed.includes(path.depth)) {
    throw new LwM2MError('METHOD_NOT_ALLOWED', `${op} is not allowed on ${path.toString()}`);
  }
}
