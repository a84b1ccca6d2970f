import { LwM2MError } from '../../core/errors.js';
import { LwM2MPath } from '../../core/path.js';
import { ContentFormat } from '../../codec/content-format.js';
import { formatDiscoverLinks, type DiscoverEntry } from '../../codec/link.js';
import { ok, type DeviceResponse } from '../request.js';
import type { DeviceEnv } from './env.js';

const utf8 = new TextEncoder();

/**
 * Bootstrap-Discover (LwM2M-TS-Core 1.1 §6.1.7.3): `</>;lwm2m=1.1` then every object (with `ver` when
 * not 1.0) and instance; Security instances carry `ssid` (non-bootstrap) and `uri`, Server instances
 * carry `ssid`. On `/oid` only that object's links (and no `</>` link).
 */
export function bootstrapDiscover(env: DeviceEnv, path: LwM2MPath, lwm2mVersion: string): DeviceResponse {
  if (path.depth > 1) throw new LwM2MError('BAD_REQUEST', `Bootstrap-Discover on ${path.toString()} is not allowed`);
  const entries: DiscoverEntry[] = [];
  if (path.isRoot()) entries.push({ path, attributes: { lwm2m: lwm2mVersion } });
  const objects = path.isRoot() ? env.tree.objectList() : [env.tree.requireObject(path)];
  for (const object of objects) {
    // An object gets its own link when it has no instance or a version other than 1.0 (§6.1.7.3 example).
    if (object.instanceIds().length === 0 || object.model.version !== '1.0') {
      entries.push({ path: LwM2MPath.of(object.id), attributes: object.model.version !== '1.0' ? { ver: object.model.version } : {} });
    }
    for (const inst of object.instanceList()) {
      const a: DiscoverEntry['attributes'] = {};
      if (object.id === 0) {
        const isBs = inst.get(1) === true;
        const ssid = inst.get(10);
        if (!isBs && typeof ssid === 'number') a.ssid = ssid;
        const uri = inst.get(0);
        if (typeof uri === 'string') a.uri = uri;
      } else if (object.id === 1) {
        const ssid = inst.get(0);
        if (typeof ssid === 'number') a.ssid = ssid;
      }
      entries.push({ path: inst.path, attributes: a });
    }
  }
  return ok('2.05', utf8.encode(formatDiscoverLinks(entries)), ContentFormat.LINK);
}
