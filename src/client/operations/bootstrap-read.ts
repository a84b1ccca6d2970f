import { LwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import { encode } from '../../codec/dispatch.js';
import { BOOTSTRAP_CONTEXT } from '../context.js';
import { pickReadFormat } from '../negotiate.js';
import { ok, type DeviceResponse } from '../request.js';
import type { DeviceEnv } from './env.js';

/**
 * Bootstrap-Read (LwM2M-TS-Core 1.1 §6.1.7.2, new in 1.1): only the Server (1) and Access Control (2)
 * objects may be read, at object or instance level; anything else is 4.01 Unauthorized.
 */
export function bootstrapRead(env: DeviceEnv, path: LwM2MPath, accept: number | undefined): DeviceResponse {
  if ((path.objectId !== 1 && path.objectId !== 2) || path.depth > 2) {
    throw new LwM2MError('UNAUTHORIZED', `Bootstrap-Read is only allowed on /1 and /2 (and their instances), not ${path.toString()}`);
  }
  const node = env.tree.read(path, BOOTSTRAP_CONTEXT);
  const format = pickReadFormat(node, path, accept, env.tree);
  return ok('2.05', encode(format, node, { path, models: env.tree }), format);
}
