import { LwM2MClient, type RequestInfo } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import type { ConnectionFactory, ServerConnection } from '../../src/client/connection.js';
import { createDeviceTree, type DeviceTree } from '../../src/client/device-factory.js';
import { createGenerator, createPrng, hashSeed, randomWalk, type GeneratedValue } from '../../src/client/generators.js';
import { FirmwareObject } from '../../src/client/objects/firmware.js';
import { startSampling, toResourceValue, type GenericValue } from '../../src/client/objects/generic.js';
import type { ObjectInstance } from '../../src/client/instance.js';
import type { Clock, TimerHandle } from '../../src/core/clock.js';
import { isLwM2MError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { parsePath } from '../../src/core/path.js';
import type { ModelRegistry } from '../../src/model/registry.js';
import type { ResourceValue } from '../../src/model/node.js';
import type { DatagramSocket } from '../../src/transport/datagram.js';
import type { SocketFaults } from '../../src/transport/gated.js';
import { createDtlsClientSocket, isDtlsClientError } from '../../src/transport/dtls/client.js';
import { Counters, Gauges, TIMEOUT_CODE, type MetricsRegistry } from '../metrics/registry.js';
import type { Flow, ResolvedDevice, Scenario, Step, ValueSpec } from '../scenario/types.js';

export interface DeviceEnvironment {
  readonly scenario: Scenario;
  /** DM server and bootstrap server URIs for this run. */
  readonly serverUri?: string;
  readonly bootstrapUri?: string;
  /** coaps:// DM server URI for the PSK devices of a fleet mixing NoSec and PSK devices (embedded target). */
  readonly secureServerUri?: string;
  /** coaps:// Bootstrap-Server URI for the PSK devices of a fleet mixing NoSec and PSK devices that bootstrap (Cumulocity-style). */
  readonly secureBootstrapUri?: string;
  readonly clock: Clock;
  readonly metrics: MetricsRegistry;
  readonly log: Logger;
  readonly models: ModelRegistry;
  readonly createSocket: () => Promise<DatagramSocket>;
  /** Set when the run is stopping: flows end at the next step boundary. */
  readonly stopping: () => boolean;
}

/** `op` outcomes: a CoAP code, a timeout, or another failure word. */
function codeOf(e: unknown): string {
  if (isLwM2MError(e)) return e.coapCode === '5.04' ? TIMEOUT_CODE : e.coapCode;
  return 'error';
}

function toGeneric(v: ValueSpec): GenericValue {
  switch (v.kind) {
    case 'constant': return v.value;
    case 'list': return v.values as readonly ResourceValue[];
    case 'generator': return v.spec as unknown as GenericValue;
  }
}

/**
 * One simulated device: an LwM2M client over its own UDP socket, built from the scenario, running one
 * flow step by step and reporting every exchange into the metrics registry.
 */
export class SimDevice {
  readonly client: LwM2MClient;
  readonly device: DeviceTree;
  private readonly seen = new Map<string, number>();
  private readonly waiters = new Set<{ key: string; resolve: (ok: boolean) => void }>();
  private readonly timers = new Set<TimerHandle>();
  private readonly random: () => number;
  private registered = false;
  private everRegistered = false;
  private online = false;
  private readonly downloads = new Set<ServerConnection>();
  private downloadFaults: SocketFaults | undefined;
  private downloadsOffline = false;

  constructor(readonly env: DeviceEnvironment, readonly resolved: ResolvedDevice) {
    const s = env.scenario;
    const d = s.devices;
    const sec = resolved.security;
    const psk = sec.mode === 'psk' ? { pskIdentity: sec.identity, pskKey: sec.key } : {};
    // The Bootstrap-Server credentials of a device list that has them (Cumulocity's `bootstrap psk_id`/`psk_key`), else the device's PSK.
    const row = resolved.csvRow;
    const bsPsk = sec.mode === 'psk' && row?.bootstrapIdentity !== undefined && row.bootstrapKey !== undefined
      ? { pskIdentity: row.bootstrapIdentity, pskKey: row.bootstrapKey } : psk;
    this.random = (() => {
      const p = createPrng(hashSeed('device', s.options.seed, resolved.index));
      return () => p.next();
    })();
    const builtin = new Set([0, 1, 2, 3, 4, 5, 6, 7]);
    const connections = new CoapConnectionFactory({
      createSocket: env.createSocket, clock: env.clock, logger: env.log,
      // coaps:// (PSK devices): every DTLS handshake is timed as `dtls-handshake` (failures by code).
      createSecureSocket: async (peer) => {
        const t0 = env.clock.now();
        try {
          const socket = await createDtlsClientSocket({ ...peer, clock: env.clock, logger: env.log });
          env.metrics.recordSuccess('dtls-handshake', env.clock.now() - t0);
          if (socket.stats.retransmissions > 0) env.metrics.increment('dtls-handshake.retransmissions', socket.stats.retransmissions);
          return socket;
        } catch (e) {
          env.metrics.recordFailure('dtls-handshake', isDtlsClientError(e) ? (e.code === 'DTLS_HANDSHAKE_TIMEOUT' ? TIMEOUT_CODE : 'dtls-failed') : 'error');
          throw e;
        }
      },
    });
    const m = env.metrics;
    this.device = createDeviceTree({
      lwm2mVersion: d.lwm2m,
      models: env.models,
      clock: env.clock,
      seed: hashSeed('values', s.options.seed, resolved.index),
      servers: d.bootstrap || !env.serverUri ? [] : [{
        uri: sec.mode === 'psk' && env.secureServerUri !== undefined ? env.secureServerUri : env.serverUri,
        lifetime: resolved.lifetimeS,
        binding: resolved.binding,
        ...(resolved.shortServerId !== undefined ? { shortServerId: resolved.shortServerId } : {}),
        ...psk,
      }],
      ...(d.bootstrap && env.bootstrapUri ? { bootstrap: { uri: sec.mode === 'psk' && env.secureBootstrapUri !== undefined ? env.secureBootstrapUri : env.bootstrapUri, ...bsPsk } } : {}),
      device: {
        manufacturer: d.device.manufacturer ?? 'lwm2m-fleet',
        modelNumber: d.device.modelNumber ?? 'simulator',
        serialNumber: resolved.serialNumber ?? resolved.endpoint,
        firmwareVersion: d.device.firmwareVersion ?? '1.0.0',
        supportedBinding: 'UQ',
        batteryLevel: randomWalk({ start: 90, step: 1, min: 5, max: 100, intervalS: 60, seed: hashSeed('battery', s.options.seed, resolved.index) }),
        memoryFree: 512,
      },
      // FOTA (issue 7): push to /5/0/0, pull from /5/0/1 over CoAP (this device's sockets) or HTTP; the
      // `apply-firmware` step arms how Execute /5/0/2 ends.
      firmware: {
        pkgVersion: d.device.firmwareVersion ?? '1.0.0',
        protocols: ['coap', 'http'],
        update: {
          connections: this.downloadLinks(connections),
          logger: env.log,
          failure: { seed: hashSeed('firmware', s.options.seed, resolved.index) },
          onOutcome: (o) => m.increment(`firmware.${o.kind}.${o.result <= 1 ? 'ok' : 'failed'}`),
        },
      },
      location: d.objectIds.includes(6) ? { latitude: 48.8566, longitude: 2.3522 } : false,
      connectivityStats: d.objectIds.includes(7),
      objects: d.objects.filter((o) => !builtin.has(o.id)).map((o) => ({
        model: env.models.get(o.id) ?? (() => { throw new Error(`no model for object ${o.id}`); })(),
        instances: o.instances.map((i) => ({ id: i.id, values: Object.fromEntries(i.values.map((v) => [v.resourceId, toGeneric(v.value)])) })),
        ...(o.sampleIntervalMs !== undefined ? { sampleIntervalS: o.sampleIntervalMs / 1000 } : {}),
      })),
    });
    // Scenario values for the built-in objects (3–7) go onto the instances the factory built.
    for (const o of d.objects.filter((x) => builtin.has(x.id))) {
      for (const i of o.instances) {
        const inst = this.device.tree.object(o.id)?.instance(i.id);
        if (!inst) continue;
        for (const v of i.values) this.applyValue(inst, v.resourceId, v.value, hashSeed('values', s.options.seed, resolved.index, o.id, v.resourceId));
      }
      const managed = this.device.objects.find((m) => m.id === o.id);
      const live = (inst: ObjectInstance): number[] =>
        o.instances.find((i) => i.id === inst.id)?.values.filter((v) => v.value.kind === 'generator').map((v) => v.resourceId) ?? [];
      if (managed && o.sampleIntervalMs !== undefined) startSampling(managed, env.clock, o.sampleIntervalMs / 1000, live);
    }
    this.client = new LwM2MClient({
      endpoint: resolved.endpoint,
      lwm2mVersion: d.lwm2m,
      tree: this.device.tree,
      clock: env.clock,
      logger: env.log,
      ...(resolved.awakeTimeMs !== undefined ? { queueModeTimeoutS: resolved.awakeTimeMs / 1000 } : {}),
      ...(resolved.msisdn !== undefined ? { msisdn: resolved.msisdn } : {}),
      connections,
    });
    this.client.on('exchange', (op, ms, code) => {
      if (code.startsWith('2.')) m.recordSuccess(op, ms);
      else m.recordFailure(op, code === '5.04' ? TIMEOUT_CODE : code);
    });
    this.client.on('request', (r) => this.onRequest(r));
    this.client.on('notification', (_ssid, bytes) => m.recordNotification(bytes));
    this.client.on('registered', () => {
      if (!this.everRegistered) {
        this.everRegistered = true;
        m.increment(Counters.devicesRegistered); // devices that registered at least once
      }
      if (!this.registered) {
        this.registered = true;
        m.addGauge(Gauges.devicesRegistered, 1); // devices registered now
      }
    });
    this.client.on('state', (_ssid, st) => {
      if (this.registered && (st === 'idle' || st === 'stopped' || st === 'failed' || st === 'disabled')) {
        this.registered = false;
        m.addGauge(Gauges.devicesRegistered, -1);
      }
    });
  }

  /**
   * The firmware updater's connections (pull over CoAP): tracked so the device's network conditions —
   * `fault` loss/delay/duplication, `go-offline` — apply to them too; a download lost that way retries
   * and resumes, or ends with Update Result 4.
   */
  private downloadLinks(base: ConnectionFactory): ConnectionFactory {
    return {
      connect: async (uri, security) => {
        const c = await base.connect(uri, security);
        this.downloads.add(c);
        if (this.downloadsOffline) {
          c.setAsleep(true);
          c.setFaults?.({ loss: 1, random: this.random });
        } else if (this.downloadFaults) {
          c.setFaults?.(this.downloadFaults);
        }
        const close = c.close.bind(c);
        c.close = async () => {
          this.downloads.delete(c);
          await close();
        };
        return c;
      },
    };
  }

  private setDownloadsOffline(offline: boolean): void {
    this.downloadsOffline = offline;
    for (const c of this.downloads) {
      c.setAsleep(offline);
      c.setFaults?.(offline ? { loss: 1, random: this.random } : this.downloadFaults);
    }
  }

  /** Gives a resource a constant, a list, or a generator (a live value from then on). */
  private applyValue(inst: ObjectInstance, rid: number, v: ValueSpec, seed: number): void {
    if (v.kind === 'constant') inst.set(rid, v.value as ResourceValue);
    else if (v.kind === 'list') inst.set(rid, new Map(v.values.map((x, i) => [i, x as ResourceValue])));
    else {
      const gen = createGenerator(v.spec, { seed, clock: this.env.clock });
      const model = inst.resourceModel(rid);
      inst.behave(rid, { read: () => toResourceValue(gen.next(this.env.clock.now()) as GeneratedValue, model) });
      inst.touch(rid);
    }
  }

  private onRequest(r: RequestInfo): void {
    const m = this.env.metrics;
    // Bootstrap-Server requests are part of the `bootstrap` operation, timed as a whole (see start()).
    if (r.operation === 'bootstrap') return;
    if (r.code.startsWith('2.')) m.recordSuccess(r.operation, r.ms);
    else m.recordFailure(r.operation, r.code);
    const kind = r.operation === 'observe' ? 'observe' : r.operation === 'read' ? 'read' : r.operation === 'execute' ? 'execute'
      : r.operation === 'write' ? 'write' : undefined;
    if (!kind || !r.code.startsWith('2.')) return;
    const key = `${kind} ${r.path}`;
    this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
    for (const w of [...this.waiters]) if (w.key === key) w.resolve(true);
  }

  /** Comes online (bootstrap when configured, then register) and runs the flow. */
  async run(flow: Flow): Promise<void> {
    this.env.metrics.increment(Counters.devicesStarted);
    this.online = true;
    this.env.metrics.addGauge(Gauges.devicesConnected, 1);
    const startsWithRegistration = flow.steps[0]?.kind === 'register' || flow.steps[0]?.kind === 'bootstrap';
    if (!startsWithRegistration) await this.start();
    await this.steps(flow.steps, 0);
  }

  private async start(): Promise<void> {
    const t0 = this.env.clock.now();
    let bootstrapped = false;
    const onBootstrapped = (): void => {
      bootstrapped = true;
      this.env.metrics.recordSuccess('bootstrap', this.env.clock.now() - t0);
    };
    this.client.once('bootstrapped', onBootstrapped);
    try {
      await this.client.start();
    } catch (e) {
      if (this.env.scenario.devices.bootstrap && !bootstrapped) this.env.metrics.recordFailure('bootstrap', codeOf(e));
      this.env.metrics.increment(Counters.devicesFailed);
      this.env.log.warn({ ep: this.resolved.endpoint, err: e instanceof Error ? e.message : String(e) }, 'device failed to come online');
    } finally {
      this.client.off('bootstrapped', onBootstrapped);
    }
  }

  private async steps(steps: readonly Step[], depth: number): Promise<void> {
    for (const step of steps) {
      if (this.env.stopping()) return;
      await this.step(step, depth);
    }
  }

  private sleepMs(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.env.clock.setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private async step(step: Step, depth: number): Promise<void> {
    const m = this.env.metrics;
    switch (step.kind) {
      case 'register':
      case 'bootstrap':
        if (!this.client.isRunning()) await this.start();
        return;
      case 'update':
        await Promise.all(this.client.sessionList().map((s) => s.update()));
        return;
      case 'deregister':
        await this.client.stop({ deregister: true });
        return;
      case 'wait':
        await this.sleepMs(step.durationMs);
        return;
      case 'think':
        await this.sleepMs(step.minMs + this.random() * (step.maxMs - step.minMs));
        return;
      case 'set': {
        const path = parsePath(step.path);
        this.applyValue(this.client.tree.requireInstance(path), path.resourceId as number, step.value,
          hashSeed('set', this.env.scenario.options.seed, this.resolved.index));
        return;
      }
      case 'send': {
        const t0 = this.env.clock.now();
        try {
          const codes = await this.client.send(step.paths.map(parsePath));
          const bad = codes.find((c) => !c.startsWith('2.'));
          if (bad) m.recordFailure('send', bad);
          else m.recordSuccess('send', this.env.clock.now() - t0);
          m.increment(Counters.sends);
        } catch (e) {
          m.recordFailure('send', codeOf(e));
        }
        return;
      }
      case 'expect': {
        const key = `${step.operation} ${step.path}`;
        const ok = (this.seen.get(key) ?? 0) > 0 || await this.waitFor(key, step.withinMs);
        m.recordExpect(step.label, ok);
        return;
      }
      case 'sleep':
        this.client.sleep();
        return;
      case 'wake':
        await this.client.wakeUp();
        return;
      case 'reboot':
        await this.client.reboot(step.downtimeMs);
        return;
      case 'go-offline':
        for (const s of this.client.sessionList()) s.connection.setAsleep(true);
        for (const s of this.client.sessionList()) s.connection.setFaults?.({ loss: 1, random: this.random });
        this.setDownloadsOffline(true);
        await this.sleepMs(step.durationMs);
        for (const s of this.client.sessionList()) {
          s.connection.setFaults?.(undefined);
          s.connection.setAsleep(false);
        }
        this.setDownloadsOffline(false);
        await this.client.wakeUp();
        return;
      case 'fault': {
        for (const s of this.client.sessionList()) {
          if (step.loss !== undefined || step.delayMs !== undefined || step.duplicate !== undefined) {
            s.connection.setFaults?.({
              ...(step.loss !== undefined ? { loss: step.loss } : {}),
              ...(step.delayMs !== undefined ? { delayMs: step.delayMs } : {}),
              ...(step.duplicate !== undefined ? { duplicate: step.duplicate } : {}),
              random: this.random,
              setTimeout: (fn, ms) => { this.env.clock.setTimeout(fn, ms); },
            });
          }
          if (step.rebind && s.connection.rebind) {
            await s.connection.rebind();
            await s.update(); // the server must follow the new source port (LwM2M-TS-Transport 1.1 §6.2)
          }
        }
        if (step.loss !== undefined || step.delayMs !== undefined || step.duplicate !== undefined) {
          // Firmware downloads (pull) share the device's network: same faults, now and for new ones.
          this.downloadFaults = {
            ...this.downloadFaults,
            ...(step.loss !== undefined ? { loss: step.loss } : {}),
            ...(step.delayMs !== undefined ? { delayMs: step.delayMs } : {}),
            ...(step.duplicate !== undefined ? { duplicate: step.duplicate } : {}),
            random: this.random,
            setTimeout: (fn, ms) => { this.env.clock.setTimeout(fn, ms); },
          };
          for (const c of this.downloads) c.setFaults?.(this.downloadFaults);
        }
        return;
      }
      case 'apply-firmware': {
        // Arms the device: the next updates (Execute /5/0/2 after a package arrived) spend durationMs in
        // Updating and end with step.result (1 = success → reboot with the new version).
        const fw = this.device.objects.find((o) => o.id === 5);
        if (fw instanceof FirmwareObject) fw.updater.configure({ flashMs: step.durationMs, failure: { forcedResult: step.result } });
        m.increment('firmware.armed');
        return;
      }
      case 'loop': {
        const until = step.durationMs !== undefined ? this.env.clock.now() + step.durationMs : Number.POSITIVE_INFINITY;
        const count = step.count ?? Number.MAX_SAFE_INTEGER;
        for (let i = 0; i < count && this.env.clock.now() < until && !this.env.stopping(); i++) {
          await this.steps(step.steps, depth + 1);
        }
        return;
      }
    }
  }

  private waitFor(key: string, withinMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const w = {
        key,
        resolve: (ok: boolean) => {
          t.cancel();
          this.waiters.delete(w);
          resolve(ok);
        },
      };
      const t = this.env.clock.setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, withinMs);
      this.waiters.add(w);
    });
  }

  /** Leaves: de-registers (or just vanishes) and releases the socket and timers. */
  async stop(leave: 'deregister' | 'drop'): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    for (const w of [...this.waiters]) w.resolve(false);
    await this.client.stop({ deregister: leave === 'deregister' });
    this.device.dispose();
    if (this.online) {
      this.online = false;
      this.env.metrics.addGauge(Gauges.devicesConnected, -1);
    }
  }
}
