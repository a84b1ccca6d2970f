/**
 * What a deviceWISE-style Bootstrap-Server writes, and the key shares it makes first.
 *
 * - {@link deviceWiseBootstrapConfig}: one DM account for the platform server (id_dm/psk_dm) and one per
 *   custom server (id_dm_custom/psk_dm_custom), all coaps:// PSK, plus the Access Control object (/2):
 *   one ACL instance per object instance the device has (LwM2M-TS-Core 1.1 §E.3; 1.0.2 Appendix E.3),
 *   owned by the platform server (full rights), with each custom server's rights from the profile's
 *   `access` — an object a custom server is not given has no entry for it, so the client answers 4.01
 *   (LwM2M-TS-Core 1.1 §7.3.2 access control flow).
 * - {@link shareKeys}: `POST {endpoint, identity, key}` to each custom server's key-share endpoint,
 *   bounded by the profile's timeout; the first refusal or timeout is returned as the reason to refuse
 *   the bootstrap (so no device gets credentials a server does not know).
 */
import { randomBytes } from 'node:crypto';
import type { BootstrapConfig, BootstrapObjectConfig, BootstrapServerAccount } from '../../bootstrap/config.js';
import { dwIdentity, type DeviceWiseProfile } from './profile.js';

/** Full rights (R, W, E, D, C) of the Access Control Owner. */
const ALL_RIGHTS = 31;

export interface DeviceWiseKeys {
  /** psk_dm (hex). */
  readonly platform: string;
  /** psk_dm_custom (hex) by custom server name. */
  readonly custom: Readonly<Record<string, string>>;
}

/** Fresh random 16-byte PSKs for every DM connection of one device. */
export function newDeviceWiseKeys(profile: DeviceWiseProfile, random: (n: number) => Buffer = randomBytes): DeviceWiseKeys {
  return {
    platform: random(16).toString('hex'),
    custom: Object.fromEntries(profile.customServers.map((c) => [c.name, random(16).toString('hex')])),
  };
}

export interface DeviceWiseTargets {
  /** coaps:// URI of the platform's DM server. */
  readonly platformUri: string;
  /** coaps:// URI of each custom server, by name (else the profile's `uri`). */
  readonly customUris?: Readonly<Record<string, string>>;
}

/** Object instances the device has, `[objectId, instanceId]` (ACL instances are written for these). */
export type InstanceList = ReadonlyArray<readonly [number, number]>;

export function deviceWiseBootstrapConfig(profile: DeviceWiseProfile, endpoint: string, keys: DeviceWiseKeys, targets: DeviceWiseTargets, instances: InstanceList): BootstrapConfig {
  const p = profile.platform;
  const servers: BootstrapServerAccount[] = [{
    shortServerId: p.shortServerId, uri: targets.platformUri, securityMode: 'psk',
    pskIdentity: dwIdentity(p.identity, endpoint), pskKey: keys.platform, lifetime: p.lifetime, binding: p.binding,
  }];
  for (const c of profile.customServers) {
    const uri = targets.customUris?.[c.name] ?? c.uri;
    const key = keys.custom[c.name];
    if (uri === undefined || key === undefined) throw new Error(`custom server "${c.name}": no URI or key`);
    servers.push({ shortServerId: c.shortServerId, uri, securityMode: 'psk', pskIdentity: dwIdentity(c.identity, endpoint), pskKey: key, lifetime: c.lifetime, binding: c.binding });
  }
  const objects: BootstrapObjectConfig[] = [];
  // Security (0) is never reachable by a DM server, Access Control (2) instances are readable by all.
  const governed = instances.filter(([o]) => o !== 0 && o !== 2);
  governed.forEach(([objectId, instanceId], i) => {
    const acl: Record<string, number> = { [String(p.shortServerId)]: ALL_RIGHTS };
    for (const c of profile.customServers) {
      const rights = objectId === 1 ? undefined : c.access[String(objectId)];
      if (rights !== undefined && rights > 0) acl[String(c.shortServerId)] = rights;
    }
    objects.push({ path: `/2/${i}`, values: { 0: objectId, 1: instanceId, 2: acl, 3: p.shortServerId } });
  });
  return { delete: ['/0', '/1', '/2'], servers, objects };
}

export interface KeyShareTarget {
  readonly name: string;
  readonly url: string;
  readonly token?: string;
  readonly timeoutMs: number;
}

/** The key-share endpoints of a profile's custom servers (`urls` by name override the profile's). */
export function keyShareTargets(profile: DeviceWiseProfile, urls: Readonly<Record<string, string>> = {}, tokens: Readonly<Record<string, string>> = {}): KeyShareTarget[] {
  const out: KeyShareTarget[] = [];
  for (const c of profile.customServers) {
    const url = urls[c.name] ?? c.keyShare.url;
    if (url === undefined) throw new Error(`custom server "${c.name}" has no key-share URL`);
    const token = tokens[c.name] ?? c.keyShare.token;
    out.push({ name: c.name, url, ...(token !== undefined ? { token } : {}), timeoutMs: c.keyShare.timeoutMs });
  }
  return out;
}

/**
 * POSTs each custom server's `{endpoint, identity, key}` (one after the other, each bounded by its
 * timeout). Resolves undefined when every server took its key, else why the bootstrap must not go on.
 */
export async function shareKeys(profile: DeviceWiseProfile, endpoint: string, keys: DeviceWiseKeys, targets: readonly KeyShareTarget[], fetchImpl: typeof fetch = fetch): Promise<string | undefined> {
  for (const t of targets) {
    const c = profile.customServers.find((s) => s.name === t.name);
    const key = keys.custom[t.name];
    if (!c || key === undefined) return `custom server "${t.name}" is not in the profile`;
    try {
      const res = await fetchImpl(t.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(t.token !== undefined ? { authorization: `Bearer ${t.token}` } : {}) },
        body: JSON.stringify({ endpoint, identity: dwIdentity(c.identity, endpoint), key }),
        signal: AbortSignal.timeout(t.timeoutMs),
      });
      if (!res.ok) {
        const text = (await res.text().catch(() => '')).slice(0, 200);
        return `key share with custom server "${t.name}" refused: HTTP ${res.status}${text ? ` ${text}` : ''}`;
      }
    } catch (e) {
      const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
      return timeout ? `key share with custom server "${t.name}" timed out after ${t.timeoutMs} ms` : `key share with custom server "${t.name}" failed: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  return undefined;
}
