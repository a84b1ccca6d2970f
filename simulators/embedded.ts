import { LwM2MError, isLwM2MError } from '../src/core/errors.js';
import type { Logger } from '../src/core/logger.js';
import { parsePath, type LwM2MPath } from '../src/core/path.js';
import { ContentFormat } from '../src/codec/content-format.js';
import type { ModelRegistry } from '../src/model/registry.js';
import { createServer, type ReferenceServer } from '../src/server/create.js';
import type { LwM2MServer } from '../src/server/lwm2m-server.js';
import type { Registration } from '../src/server/registration/registration.js';
import { resolveDevice, type Scenario, type Step } from './scenario/types.js';
import { startCumulocity } from './cumulocity.js';
import { randomBytes } from 'node:crypto';
import type { DeviceWiseProfile } from '../src/server/profiles/devicewise/profile.js';
import { deviceWiseBootstrapConfig, keyShareTargets, newDeviceWiseKeys, shareKeys, type InstanceList } from '../src/server/profiles/devicewise/bootstrap.js';

/** What the embedded server does with each registration so the scenario's `expect` steps can pass. */
export interface EmbeddedPolicy {
  readonly observe: readonly LwM2MPath[];
  readonly read: readonly LwM2MPath[];
  readonly write: readonly LwM2MPath[];
  readonly execute: readonly LwM2MPath[];
}

function collect(steps: readonly Step[], out: Record<'observe' | 'read' | 'write' | 'execute', Set<string>>, depth = 0): void {
  for (const s of steps) {
    if (s.kind === 'expect') out[s.operation].add(s.path);
    else if (s.kind === 'loop' && depth < 8) collect(s.steps, out, depth + 1);
  }
}

/** What the embedded server does on each registration: what the flows `expect`, and observing every configured value. */
export function policyFor(scenario: Scenario): EmbeddedPolicy {
  const sets = { observe: new Set<string>(), read: new Set<string>(), write: new Set<string>(), execute: new Set<string>() };
  for (const f of scenario.flows) collect(f.steps, sets);
  // Like a ThingsBoard profile (strategy 1): observe every resource the scenario gives a value to.
  for (const o of scenario.devices.objects) {
    for (const i of o.instances) for (const v of i.values) sets.observe.add(`/${o.id}/${i.id}/${v.resourceId}`);
  }
  const list = (s: Set<string>): LwM2MPath[] => [...s].sort().map(parsePath);
  return { observe: list(sets.observe), read: list(sets.read), write: list(sets.write), execute: list(sets.execute) };
}

function hasPath(reg: Registration, p: LwM2MPath): boolean {
  return reg.objectLinks.objects.some((o) => o.objectId === p.objectId && (p.instanceId === undefined || o.instances.includes(p.instanceId)));
}

/**
 * The reference server started in-process for `target: embedded`, applying a policy on every
 * registration (observe, read, write-back, execute the paths the flows expect).
 */
/** Test and tooling knobs of the embedded server. */
export interface EmbeddedOptions {
  /** Run the HTTP API on this port (0: a free one); default none. */
  readonly httpPort?: number;
}

export class EmbeddedServer {
  /** deviceWISE-style platforms: the custom DM servers (started with the main one, closed with it). */
  private readonly extra: Array<{ readonly name: string; readonly server: ReferenceServer }> = [];
  /** NoSec and PSK devices together (no bootstrap): NoSec devices use coap://, PSK devices coaps://. */
  private mixed = false;
  /** NoSec and PSK devices that bootstrap (Cumulocity-style): NoSec devices bootstrap on coap://, PSK devices on coaps://. */
  private bootstrapMixed = false;

  private constructor(readonly reference: ReferenceServer, private readonly log: Logger, readonly secure = false) {}

  /** @internal deviceWISE start-up: the main server plus its custom DM servers. */
  static assemble(reference: ReferenceServer, log: Logger, scenario: Scenario, extra: ReadonlyArray<{ name: string; server: ReferenceServer }>): EmbeddedServer {
    const e = EmbeddedServer.ready(reference, log, scenario, true);
    e.extra.push(...extra);
    return e;
  }

  /** @internal Cumulocity start-up: NoSec and PSK devices side by side, for the bootstrap as for the DM server. */
  static mixedSecurity(reference: ReferenceServer, log: Logger, scenario: Scenario): EmbeddedServer {
    const e = EmbeddedServer.ready(reference, log, scenario, false);
    e.mixed = true;
    e.bootstrapMixed = true;
    return e;
  }

  /** With NoSec and PSK devices that bootstrap: where the PSK devices bootstrap (coaps://). */
  get secureBootstrapUri(): string | undefined {
    return this.bootstrapMixed ? this.reference.bootstrapCoapsUri : undefined;
  }

  /** A custom DM server of a deviceWISE-style platform, by the profile's name. */
  customServer(name: string): ReferenceServer | undefined {
    return this.extra.find((e) => e.name === name)?.server;
  }

  /**
   * Starts the reference server (createServer) on free ports of 127.0.0.1 — with a Bootstrap-Server
   * whose default config points every device at the LwM2M server when the devices bootstrap.
   */
  static async start(scenario: Scenario, log: Logger, models: ModelRegistry, options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
    const platform = scenario.target.kind === 'embedded' ? scenario.target.platform : undefined;
    if (platform?.profile === 'devicewise') return startDeviceWise(scenario, platform.deviceWise, log, models, options);
    if (platform?.profile === 'cumulocity') return startCumulocity(scenario, platform, log, models, options);
    const bootstrap = scenario.devices.bootstrap;
    const secure = pskDevices(scenario);
    const reference = await createServer({
      coapPort: 0, bsCoapPort: bootstrap ? 0 : false, httpPort: options.httpPort ?? false, logger: log, models,
      ...(secure ? { coapsPort: 0, ...(bootstrap ? { bsCoapsPort: 0 } : {}) } : {}),
      ...(platform?.profile === 'thingsboard' ? { thingsBoardProfile: platform.thingsBoard } : {}),
    });
    if (secure && secure.length < scenario.devices.count && !bootstrap) {
      // ThingsBoard-style device lists: NoSec and PSK devices side by side, each on its listener.
      for (const dev of secure) reference.psks.put({ endpoint: dev.endpoint, identity: dev.identity, key: Buffer.from(dev.key, 'hex'), source: 'scenario' });
      const embedded = EmbeddedServer.ready(reference, log, scenario, false);
      embedded.mixed = true;
      return embedded;
    }
    if (secure) {
      try {
        await provisionPsks(reference, scenario, secure);
      } catch (e) {
        await reference.close();
        throw e;
      }
      return EmbeddedServer.ready(reference, log, scenario, true);
    }
    if (bootstrap) {
      await reference.bootstrapConfigs.put('*', {
        servers: [{
          shortServerId: scenario.devices.shortServerId ?? 101,
          uri: reference.coapUri,
          lifetime: scenario.devices.lifetimeS,
          binding: scenario.devices.binding,
        }],
      });
    }
    return EmbeddedServer.ready(reference, log, scenario, false);
  }

  private static ready(reference: ReferenceServer, log: Logger, scenario: Scenario, secure: boolean): EmbeddedServer {
    const embedded = new EmbeddedServer(reference, log, secure);
    const full = policyFor(scenario);
    // A ThingsBoard profile decides what is observed (the scenario's `expect: observe` steps check it did).
    const policy = scenario.target.kind === 'embedded' && scenario.target.platform?.profile === 'thingsboard' ? { ...full, observe: [] } : full;
    reference.lwm2m.on('registered', (reg) => { void embedded.apply(reg, policy); });
    return embedded;
  }

  get server(): LwM2MServer {
    return this.reference.lwm2m;
  }

  /** With NoSec and PSK devices together: where the PSK devices register (coaps://). */
  get secureServerUri(): string | undefined {
    return this.mixed ? this.reference.coapsUri : undefined;
  }

  /** Where the devices register: the coaps:// listener when the devices use PSK, else coap://. */
  get serverUri(): string {
    return this.secure ? (this.reference.coapsUri as string) : this.reference.coapUri;
  }

  get bootstrapUri(): string | undefined {
    return this.secure ? this.reference.bootstrapCoapsUri : this.reference.bootstrapUri;
  }

  private async apply(reg: Registration, policy: EmbeddedPolicy): Promise<void> {
    const ep = reg.endpoint;
    const guard = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        if (!isLwM2MError(e)) throw e;
        this.log.debug({ ep, what, err: e.message }, 'embedded policy request failed');
      }
    };
    for (const p of policy.observe) if (hasPath(reg, p)) await guard('observe', () => this.server.observe(ep, p));
    for (const p of policy.read) if (hasPath(reg, p)) await guard('read', () => this.server.read(ep, p));
    for (const p of policy.write) {
      if (!hasPath(reg, p)) continue;
      await guard('write', async () => {
        const r = await this.server.read(ep, p, ContentFormat.SENML_CBOR);
        if (r.ok && r.node) await this.server.write(ep, p, r.node, ContentFormat.SENML_CBOR);
      });
    }
    for (const p of policy.execute) if (hasPath(reg, p)) await guard('execute', () => this.server.execute(ep, p));
  }

  async close(): Promise<void> {
    for (const e of this.extra.splice(0)) await e.server.close().catch(() => undefined);
    await this.reference.close();
  }
}

interface DevicePsk {
  readonly endpoint: string;
  readonly identity: string;
  readonly key: string;
}

/**
 * The PSK of every device when the devices use DTLS (every device resolved as in the engine:
 * resolveDevice is deterministic, so the server knows each device's identity and key); undefined when
 * they use NoSec. A device list mixing NoSec and PSK is refused: the embedded target gives every device
 * one server URI.
 */
export function pskDevices(scenario: Scenario): DevicePsk[] | undefined {
  const d = scenario.devices;
  if (d.security.mode !== 'psk' && !d.csv?.rows.some((r) => r.securityMode === 'psk')) return undefined;
  const out: DevicePsk[] = [];
  let nosec = 0;
  for (let i = 0; i < d.count; i++) {
    const r = resolveDevice(scenario, i);
    if (r.security.mode === 'psk') out.push({ endpoint: r.endpoint, identity: r.security.identity, key: r.security.key });
    else nosec++;
  }
  if (nosec > 0 && out.length > 0 && d.bootstrap) {
    throw new LwM2MError('BAD_VALUE', `target: embedded bootstraps all devices on one security mode, but ${out.length} use PSK and ${nosec} NoSec`);
  }
  return out.length > 0 ? out : undefined;
}

/**
 * Gives the embedded server the devices' credentials: with bootstrap, each device's bootstrap PSK to
 * the Bootstrap-Server and a per-device bootstrap config that hands out the DM server's coaps:// URI
 * with the same PSK (createServer binds that PSK for the LwM2M server's listener); without, the PSKs
 * straight into the LwM2M server's store.
 */
async function provisionPsks(reference: ReferenceServer, scenario: Scenario, devices: readonly DevicePsk[]): Promise<void> {
  const d = scenario.devices;
  for (const dev of devices) {
    const key = Buffer.from(dev.key, 'hex');
    if (!d.bootstrap) {
      reference.psks.put({ endpoint: dev.endpoint, identity: dev.identity, key, source: 'scenario' });
      continue;
    }
    reference.bootstrapPsks.put({ endpoint: dev.endpoint, identity: dev.identity, key, source: 'scenario' });
    await reference.bootstrapConfigs.put(dev.endpoint, {
      servers: [{
        shortServerId: d.shortServerId ?? 101,
        uri: reference.coapsUri as string,
        securityMode: 'psk',
        pskIdentity: dev.identity,
        pskKey: dev.key,
        lifetime: d.lifetimeS,
        binding: d.binding,
      }],
    });
  }
}

/** The object instances every device of the scenario has (ACL instances are written for them). */
function deviceInstances(scenario: Scenario): InstanceList {
  const d = scenario.devices;
  const configured = new Map(d.objects.map((o) => [o.id, o.instances.map((i) => i.id)]));
  const out: Array<readonly [number, number]> = [];
  for (const id of d.objectIds) {
    if (id <= 2) continue;
    for (const iid of configured.get(id) ?? [0]) out.push([id, iid]);
  }
  return out;
}

/**
 * deviceWISE-style embedded target: the platform's DM server (with the Bootstrap-Server) and one
 * reference server per custom DM server of the profile, each with a key-share endpoint. Every device
 * bootstraps with its scenario PSK (id_bs/psk_bs) and gets fresh PSKs for the platform (id_dm/psk_dm)
 * and each custom server (id_dm_custom/psk_dm_custom) plus the profile's ACL; each custom server's key
 * is shared with it (POST /api/v1/key-share) before the session starts, and a failed share refuses the
 * bootstrap. After each registration the platform server reads the profile's read set, writes its
 * attributes and, with locationReporting, observes /6/0.
 */
async function startDeviceWise(scenario: Scenario, profile: DeviceWiseProfile, log: Logger, models: ModelRegistry, options: EmbeddedOptions): Promise<EmbeddedServer> {
  const d = scenario.devices;
  if (!d.bootstrap || d.security.mode !== 'psk') {
    throw new LwM2MError('BAD_VALUE', 'a deviceWISE-style target needs PSK devices that bootstrap (devices.bootstrap: true, devices.security.mode: psk)');
  }
  const customs: Array<{ name: string; server: ReferenceServer; token: string }> = [];
  const closeCustoms = async (): Promise<void> => {
    for (const c of customs) await c.server.close().catch(() => undefined);
  };
  let main: ReferenceServer;
  try {
    for (const c of profile.customServers) {
      const token = c.keyShare.token ?? randomBytes(16).toString('hex');
      const server = await createServer({ coapPort: 0, coapsPort: 0, bsCoapPort: false, httpPort: 0, logger: log, models, keyShareToken: token });
      customs.push({ name: c.name, server, token });
    }
    const targets = keyShareTargets(
      profile,
      Object.fromEntries(customs.map((c) => [c.name, `${c.server.httpUrl ?? ''}/api/v1/key-share`])),
      Object.fromEntries(customs.map((c) => [c.name, c.token])),
    );
    main = await createServer({
      coapPort: 0, coapsPort: 0, bsCoapPort: 0, bsCoapsPort: 0, httpPort: options.httpPort ?? false, logger: log, models,
      // The profile's FOTA settings are the platform's firmware-update defaults (both → push, as Cumulocity's BOTH).
      fotaDefaults: () => ({ method: profile.fota.deliveryMethod === 'pull' ? 'pull' : 'push', protocol: profile.fota.protocol }),
      beforeBootstrap: async (endpoint, resolved) => {
        const custom: Record<string, string> = {};
        for (const c of profile.customServers) {
          const key = resolved.config.servers?.find((s) => s.shortServerId === c.shortServerId)?.pskKey;
          if (key === undefined) return `the bootstrap config of "${endpoint}" has no credentials for custom server "${c.name}"`;
          custom[c.name] = key;
        }
        return shareKeys(profile, endpoint, { platform: '', custom }, targets);
      },
    });
  } catch (e) {
    await closeCustoms();
    throw e;
  }
  try {
    const instances = deviceInstances(scenario);
    const customUris = Object.fromEntries(customs.map((c) => [c.name, c.server.coapsUri as string]));
    for (let i = 0; i < d.count; i++) {
      const r = resolveDevice(scenario, i);
      if (r.security.mode !== 'psk') continue;
      main.bootstrapPsks.put({ endpoint: r.endpoint, identity: r.security.identity, key: Buffer.from(r.security.key, 'hex'), source: 'scenario' });
      await main.bootstrapConfigs.put(r.endpoint, deviceWiseBootstrapConfig(profile, r.endpoint, newDeviceWiseKeys(profile), { platformUri: main.coapsUri as string, customUris }, instances));
    }
  } catch (e) {
    await main.close();
    await closeCustoms();
    throw e;
  }
  const embedded = EmbeddedServer.assemble(main, log, scenario, customs);
  main.lwm2m.on('registered', (reg) => {
    void (async () => {
      const ep = reg.endpoint;
      try {
        for (const p of profile.read) if (hasPath(reg, parsePath(p))) await main.lwm2m.read(ep, parsePath(p));
        for (const [p, attrs] of Object.entries(profile.attributes)) if (hasPath(reg, parsePath(p))) await main.lwm2m.writeAttributes(ep, parsePath(p), attrs);
        if (profile.locationReporting && hasPath(reg, parsePath('/6/0'))) await main.lwm2m.observe(ep, parsePath('/6/0'));
      } catch (e) {
        if (!isLwM2MError(e)) throw e;
        log.debug({ ep, err: e.message }, 'deviceWISE platform request failed');
      }
    })();
  });
  return embedded;
}
