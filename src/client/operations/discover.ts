import type { LwM2MPath } from '../../core/path.js';
import { ContentFormat } from '../../codec/content-format.js';
import { formatDiscoverLinks, type DiscoverEntry } from '../../codec/link.js';
import type { RequestContext } from '../context.js';
import type { ObjectInstance } from '../instance.js';
import { ok, type DeviceResponse } from '../request.js';
import { requireDepth, type DeviceEnv } from './env.js';

const utf8 = new TextEncoder();

/**
 * Discover (LwM2M-TS-Core 1.1 §6.3.2; Transport: GET with Accept 40). Lists the object (with `ver`
 * when not 1.0), its instances and their present resources with the attributes written *at that level*
 * by this server, `dim` for multiple resources; at resource level also its resource instances (1.1).
 */
export function discover(env: DeviceEnv, ctx: RequestContext, path: LwM2MPath): DeviceResponse {
  requireDepth(path, [1, 2, 3], 'Discover');
  env.access.check(ctx, path, 'R');
  const object = env.tree.requireObject(path);
  const attrs = ctx.shortServerId === undefined ? undefined : env.attributesFor(ctx.shortServerId);
  const entries: DiscoverEntry[] = [];
  const at = (p: LwM2MPath): DiscoverEntry['attributes'] => ({ ...(attrs?.get(p) ?? {}) });
  const resources = (inst: ObjectInstance, only?: number): void => {
    for (const rid of inst.resourceIds()) {
      if (only !== undefined && rid !== only) continue;
      const rp = inst.path.child(rid);
      const data = inst.get(rid);
      const a = at(rp);
      if (data instanceof Map) a.dim = data.size;
      entries.push({ path: rp, attributes: a });
      if (only !== undefined && data instanceof Map) {
        for (const riid of [...data.keys()].sort((x, y) => x - y)) entries.push({ path: rp.child(riid), attributes: at(rp.child(riid)) });
      }
    }
  };
  if (path.depth === 1) {
    const a = at(path);
    if (object.model.version !== '1.0') a.ver = object.model.version;
    entries.push({ path, attributes: a });
    for (const inst of object.instanceList()) {
      if (!env.access.canRead(ctx, inst)) continue;
      entries.push({ path: inst.path, attributes: at(inst.path) });
      resources(inst);
    }
  } else {
    const inst = env.tree.requireInstance(path);
    if (path.depth === 2) {
      entries.push({ path: inst.path, attributes: at(inst.path) });
      resources(inst);
    } else {
      inst.resourceModel(path.resourceId as number);
      if (!inst.has(path.resourceId as number)) {
        return ok('4.04');
      }
      resources(inst, path.resourceId as number);
    }
  }
  return ok('2.05', utf8.encode(formatDiscoverLinks(entries)), ContentFormat.LINK);
}
