import { LwM2MError, isLwM2MError } from '../src/core/errors.js';
import type { Logger } from '../src/core/logger.js';
import { parsePath, type LwM2MPath } from '../src/core/path.js';
import { ContentFormat } from '../src/codec/content-format.js';
import type { ModelRegistry } from '../src/model/registry.js';
import { createServer, type ReferenceServer } from '../src/server/create.js';
import type { LwM2MServer } from '../src/server/lwm2m-server.js';
import type { Registration } from '../src/server/registration/registration.js';
import { resolveDevice, type Scenario, type Step } from './scenario/types.js';

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
export class EmbeddedServer {
  private constructor(readonly reference: ReferenceServer, private readonly log: Logger, readonly secure = false) {}

  /**
   * Starts the reference server (createServer) on free ports of 127.0.0.1 — with a Bootstrap-Server
   * whose default config points every device at the LwM2M server when the devices bootstrap.
   */
  static async start(scenario: Scenario, log: Logger, models: ModelRegistry): Promise<EmbeddedServer> {
    const bootstrap = scenario.devices.bootstrap;
    const secure = pskDevices(scenario);
    const reference = await createServer({
      coapPort: 0, bsCoapPort: bootstrap ? 0 : false, httpPort: false, logger: log, models,
      ...(secure ? { coapsPort: 0, ...(bootstrap ? { bsCoapsPort: 0 } : {}) } : {}),
    });
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
    const policy = policyFor(scenario);
    reference.lwm2m.on('registered', (reg) => { void embedded.apply(reg, policy); });
    return embedded;
  }

  get server(): LwM2MServer {
    return this.reference.lwm2m;
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
  if (nosec > 0 && out.length > 0) {
    throw new LwM2MError('BAD_VALUE', `target: embedded needs all devices on one security mode, but ${out.length} use PSK and ${nosec} NoSec`);
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
