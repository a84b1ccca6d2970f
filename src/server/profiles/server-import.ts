/**
 * Imported platform files → what the reference server takes: PSK entries for its DM and Bootstrap-Server
 * stores, bootstrap configs by endpoint, awake times. Pure functions (`createServer({ psks, bsPsks,
 * bootstrapConfigs })` takes their output), plus {@link putCredentials} for stores of a running server.
 */
import type { BootstrapConfig, BootstrapServerAccount } from '../bootstrap/config.js';
import { isPskStoreError, type PskEntry as StoreEntry, type PskStore } from '../security/psk-store.js';
import { pskEntries, type ConnectionSecurity, type DeviceCredentialRecord } from './credentials.js';
import type { CumulocityDevice, CumulocityFotaSettings } from './cumulocity.js';
import { toHex } from './issues.js';
import type { TbServer, ThingsBoardProfile } from './thingsboard/profile.js';

export interface ImportedServerOptions {
  /** For the DM server's PSK store (`createServer({ psks })`). */
  readonly psks: StoreEntry[];
  /** For the Bootstrap-Server's PSK store (`createServer({ bsPsks })`). */
  readonly bsPsks: StoreEntry[];
  readonly bootstrapConfigs: Record<string, BootstrapConfig>;
  /** Endpoint → awake time (ms) the platform file sets (Cumulocity `awakeTimeRegistrationParameter`). */
  readonly awakeTimesMs: Record<string, number>;
  /** Endpoint → Cumulocity FOTA settings (the flow `fwupdate` and the orchestrator default use). */
  readonly fotaSettings?: Record<string, CumulocityFotaSettings>;
}

function split(records: Iterable<DeviceCredentialRecord>, source: (r: DeviceCredentialRecord) => string): { psks: StoreEntry[]; bsPsks: StoreEntry[] } {
  const list = [...records];
  const bySource = new Map(list.map((r) => [r.endpoint, source(r)]));
  const psks: StoreEntry[] = [];
  const bsPsks: StoreEntry[] = [];
  for (const e of pskEntries(list)) {
    const entry = { endpoint: e.endpoint, identity: e.identity, key: e.key, source: bySource.get(e.endpoint) as string };
    (e.role === 'dm' ? psks : bsPsks).push(entry);
  }
  // A bootstrap connection with the DM identity: the Bootstrap-Server knows the same key.
  for (const r of list) {
    if (r.bootstrap?.mode === 'psk' && r.dm.mode === 'psk' && r.bootstrap.identity !== undefined && r.bootstrap.identity === r.dm.identity && r.bootstrap.key) {
      bsPsks.push({ endpoint: r.endpoint, identity: r.bootstrap.identity, key: r.bootstrap.key, source: bySource.get(r.endpoint) as string });
    }
  }
  return { psks, bsPsks };
}

/** The devices of a Cumulocity CSV import as server options. */
export function cumulocityServerOptions(devices: readonly CumulocityDevice[], file = 'cumulocity.csv'): ImportedServerOptions {
  const { psks, bsPsks } = split(devices, (r) => `${file}:${(r as CumulocityDevice).line}`);
  const bootstrapConfigs: Record<string, BootstrapConfig> = {};
  const awakeTimesMs: Record<string, number> = {};
  const fotaSettings: Record<string, CumulocityFotaSettings> = {};
  for (const d of devices) {
    if (d.bootstrapConfig) bootstrapConfigs[d.endpoint] = d.bootstrapConfig;
    if (d.awakeTimeMs !== undefined) awakeTimesMs[d.endpoint] = d.awakeTimeMs;
    fotaSettings[d.endpoint] = d.fota;
  }
  return { psks, bsPsks, bootstrapConfigs, awakeTimesMs, fotaSettings };
}

/** ThingsBoard's port layout: LwM2M server 5685 (CoAP) / 5686 (DTLS), Bootstrap-Server 5687 / 5688. */
export const THINGSBOARD_PORTS = { server: { nosec: 5685, psk: 5686 }, bootstrap: { nosec: 5687, psk: 5688 } } as const;

export interface ThingsBoardBootstrapOptions {
  /** Host written into the URIs instead of the profile's (ThingsBoard's default "0.0.0.0" is no address for a device). */
  host?: string;
}

function uriOf(server: TbServer, mode: ConnectionSecurity['mode'], role: 'server' | 'bootstrap', host: string | undefined): string {
  const profileMode = server.securityMode === 'PSK' ? 'psk' : 'nosec';
  // The profile's port is for its own security mode; for the other mode use ThingsBoard's port of it.
  const port = server.port !== undefined && profileMode === mode ? server.port : THINGSBOARD_PORTS[role][mode];
  const h = host ?? (server.host === undefined || server.host === '0.0.0.0' ? '127.0.0.1' : server.host);
  return `${mode === 'psk' ? 'coaps' : 'coap'}://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/**
 * The bootstrap config ThingsBoard's Bootstrap-Server would apply to a device: its DM server account
 * from the profile's `bootstrap` entry (lifetime, binding, default pmin, notification storing) with the
 * device's `lwm2mServer` credentials (else its `client` ones), and — when the profile sets
 * `bootstrapServerUpdateEnable` — the Bootstrap-Server account with the device's bootstrap credentials.
 */
export function thingsBoardBootstrapConfig(
  profile: ThingsBoardProfile, device: DeviceCredentialRecord & { lwm2mServer?: ConnectionSecurity }, options: ThingsBoardBootstrapOptions = {},
): BootstrapConfig {
  const sec = device.lwm2mServer ?? device.dm;
  const servers: BootstrapServerAccount[] = profile.servers.filter((s) => !s.bootstrapServerIs).map((s) => ({
    shortServerId: s.shortServerId ?? 123,
    uri: uriOf(s, sec.mode, 'server', options.host),
    securityMode: sec.mode,
    ...(sec.mode === 'psk' && sec.identity !== undefined && sec.key !== undefined ? { pskIdentity: sec.identity, pskKey: toHex(sec.key) } : {}),
    lifetime: s.lifetime,
    binding: s.binding,
    defaultPmin: s.defaultMinPeriod,
    notificationStoring: s.notifIfDisabled,
  }));
  const config: BootstrapConfig = { endpoint: device.endpoint, servers };
  const bs = profile.servers.find((s) => s.bootstrapServerIs);
  if (profile.bootstrapServerUpdateEnable && bs) {
    const b = device.bootstrap ?? { mode: 'nosec' as const };
    config.bootstrapServer = {
      uri: uriOf(bs, b.mode, 'bootstrap', options.host),
      securityMode: b.mode,
      ...(b.mode === 'psk' && b.identity !== undefined && b.key !== undefined ? { pskIdentity: b.identity, pskKey: toHex(b.key) } : {}),
      clientHoldOffTime: bs.clientHoldOffTime,
      accountTimeout: bs.bootstrapServerAccountTimeout,
    };
  }
  return config;
}

/** ThingsBoard credentials (and optionally their profile) as server options. */
export function thingsBoardServerOptions(
  devices: ReadonlyArray<DeviceCredentialRecord & { lwm2mServer?: ConnectionSecurity; line?: number }>,
  profile?: ThingsBoardProfile, file = 'credentials.json', options: ThingsBoardBootstrapOptions = {},
): ImportedServerOptions {
  const { psks, bsPsks } = split(devices, (r) => `${file}:${(r as { line?: number }).line ?? 1}`);
  const bootstrapConfigs: Record<string, BootstrapConfig> = {};
  if (profile && profile.servers.some((s) => !s.bootstrapServerIs)) {
    for (const d of devices) bootstrapConfigs[d.endpoint] = thingsBoardBootstrapConfig(profile, d, options);
  }
  return { psks, bsPsks, bootstrapConfigs, awakeTimesMs: {} };
}

export interface PutFailure {
  readonly endpoint: string;
  readonly role: 'dm' | 'bootstrap';
  readonly message: string;
}

/**
 * Puts imported entries into the stores of a running server. An entry a store refuses (its identity
 * belongs to another endpoint, the store is full) is reported; the others go in.
 */
export function putCredentials(options: Pick<ImportedServerOptions, 'psks' | 'bsPsks'>, stores: { dm: PskStore; bootstrap?: PskStore }): PutFailure[] {
  const failures: PutFailure[] = [];
  const put = (store: PskStore, entries: readonly StoreEntry[], role: 'dm' | 'bootstrap'): void => {
    for (const e of entries) {
      try {
        store.put(e);
      } catch (err) {
        if (!isPskStoreError(err)) throw err;
        failures.push({ endpoint: e.endpoint, role, message: `${e.source ?? e.endpoint}: ${err.message}` });
      }
    }
  };
  put(stores.dm, options.psks, 'dm');
  if (stores.bootstrap) put(stores.bootstrap, options.bsPsks, 'bootstrap');
  return failures;
}
