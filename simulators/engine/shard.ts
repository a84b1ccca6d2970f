import type { Clock, TimerHandle } from '../../src/core/clock.js';
import type { Logger } from '../../src/core/logger.js';
import type { ModelRegistry } from '../../src/model/registry.js';
import type { DatagramSocket } from '../../src/transport/datagram.js';
import type { MetricsRegistry } from '../metrics/registry.js';
import { pickFlow, resolveDevice, type Scenario } from '../scenario/types.js';
import { SimDevice } from './device.js';
import { arrivalSchedule } from './phases.js';

export interface ShardOptions {
  readonly scenario: Scenario;
  /** This shard runs the devices whose ordinal ≡ shardIndex (mod shardCount). */
  readonly shardIndex: number;
  readonly shardCount: number;
  readonly serverUri?: string;
  readonly bootstrapUri?: string;
  /** coaps:// DM server URI for the PSK devices when the fleet mixes NoSec and PSK devices. */
  readonly secureServerUri?: string;
  /** coaps:// Bootstrap-Server URI for the PSK devices when the fleet mixes NoSec and PSK devices that bootstrap. */
  readonly secureBootstrapUri?: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly models: ModelRegistry;
  readonly metrics: MetricsRegistry;
  readonly createSocket: () => Promise<DatagramSocket>;
  /** Bound on the wait for each device's De-register at the end (ms). Default 5000. */
  readonly leaveTimeoutMs?: number;
}

/**
 * Runs one shard of a scenario's devices: brings them online on the arrival schedule of the phases,
 * runs each device's flow, keeps them online through the hold, then lets every device leave.
 */
export class ShardRunner {
  private readonly devices = new Set<SimDevice>();
  private readonly timers = new Set<TimerHandle>();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private finished: Promise<void> | undefined;
  private resolveFinished: (() => void) | undefined;
  /** Devices scheduled for this shard. */
  readonly planned: number;

  constructor(private readonly opts: ShardOptions) {
    this.planned = this.schedule().length;
  }

  private schedule(): Array<{ atMs: number; ordinal: number }> {
    const s = this.opts.scenario;
    const arrivals = arrivalSchedule(
      s.phases.map((p) => ({ durationMs: p.durationMs, arrivalRate: p.fromRate, rampTo: p.toRate, pause: p.pause })),
      s.devices.count,
    );
    return arrivals
      .map((a, ordinal) => ({ atMs: a.atMs, ordinal }))
      .filter((a) => a.ordinal % this.opts.shardCount === this.opts.shardIndex);
  }

  get activeDevices(): number {
    return this.devices.size;
  }

  /** Starts the arrivals; resolves when the run's duration is over (or stop() was called) and all left. */
  run(): Promise<void> {
    if (this.finished) return this.finished;
    this.finished = new Promise<void>((resolve) => { this.resolveFinished = resolve; });
    const s = this.opts.scenario;
    const clock = this.opts.clock;
    for (const a of this.schedule()) {
      const t = clock.setTimeout(() => {
        this.timers.delete(t);
        this.launch(a.ordinal);
      }, a.atMs);
      this.timers.add(t);
    }
    const end = clock.setTimeout(() => { void this.stop(); }, s.durationMs);
    this.timers.add(end);
    return this.finished;
  }

  private launch(ordinal: number): void {
    if (this.stopping) return;
    const s = this.opts.scenario;
    let dev: SimDevice;
    try {
      dev = new SimDevice({
        scenario: s,
        ...(this.opts.serverUri ? { serverUri: this.opts.serverUri } : {}),
        ...(this.opts.bootstrapUri ? { bootstrapUri: this.opts.bootstrapUri } : {}),
        ...(this.opts.secureServerUri ? { secureServerUri: this.opts.secureServerUri } : {}),
        ...(this.opts.secureBootstrapUri ? { secureBootstrapUri: this.opts.secureBootstrapUri } : {}),
        clock: this.opts.clock,
        metrics: this.opts.metrics,
        log: this.opts.log,
        models: this.opts.models,
        createSocket: this.opts.createSocket,
        stopping: () => this.stopping,
      }, resolveDevice(s, ordinal, this.opts.shardIndex));
    } catch (e) {
      this.opts.metrics.increment('devices.failed');
      this.opts.log.error({ ordinal, err: e instanceof Error ? e.message : String(e) }, 'device could not be built');
      return;
    }
    this.devices.add(dev);
    const p = dev.run(pickFlow(s, ordinal)).catch((e: unknown) => {
      this.opts.metrics.increment('devices.failed');
      this.opts.log.warn({ ep: dev.resolved.endpoint, err: e instanceof Error ? e.message : String(e) }, 'flow failed');
    });
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Ends the run now: no more arrivals, flows stop at their next step, every device leaves. */
  async stop(): Promise<void> {
    if (this.stopping) return this.finished;
    this.stopping = true;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    const leave = this.opts.scenario.end.leave;
    const bound = this.opts.leaveTimeoutMs ?? 5000;
    await Promise.all([...this.devices].map((d) => new Promise<void>((resolve) => {
      const t = this.opts.clock.setTimeout(resolve, bound);
      d.stop(leave).catch(() => undefined).finally(() => {
        t.cancel();
        resolve();
      });
    })));
    this.devices.clear();
    this.resolveFinished?.();
  }
}
