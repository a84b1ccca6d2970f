import type { LwM2MPath } from '../../core/path.js';
import { LwM2MError } from '../../core/errors.js';
import { parseAttributeQuery } from '../attributes.js';
import type { RequestContext } from '../context.js';
import { ok, type DeviceResponse } from '../request.js';
import { requireDepth, type DeviceEnv } from './env.js';

/** Write-Attributes (LwM2M-TS-Core 1.1 §6.3.4; Transport: PUT with Uri-Query and no payload). */
export function writeAttributes(env: DeviceEnv, ctx: RequestContext, path: LwM2MPath, query: readonly string[]): DeviceResponse {
  requireDepth(path, [1, 2, 3, 4], 'Write-Attributes');
  env.access.check(ctx, path, 'R');
  if (ctx.shortServerId === undefined) throw new LwM2MError('BAD_REQUEST', 'Write-Attributes needs a server account');
  // The target must exist (4.04 otherwise).
  if (path.depth === 1) env.tree.requireObject(path);
  else {
    const inst = env.tree.requireInstance(path);
    if (path.depth >= 3) inst.resourceModel(path.resourceId as number);
  }
  const update = parseAttributeQuery(query);
  env.attributesFor(ctx.shortServerId).write(path, update);
  return ok('2.04');
}
