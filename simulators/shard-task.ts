import type { MessagePort } from 'node:worker_threads';
import { systemClock } from '../src/core/clock.js';
import { createLogger, type LogLevel } from '../src/core/logger.js';
import { loadBuiltinRegistry } from '../src/model/builtin.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadDdfFileSync } from '../src/model/ddf-loader.js';
import { createUdpSocket } from '../src/transport/udp.js';
import { ShardRunner } from './engine/shard.js';
import { MetricsRegistry, type MetricsSnapshot } from './metrics/registry.js';
import type { Scenario } from './scenario/types.js';

/** What the orchestrator hands one worker: plain data (structured-cloned) plus a MessagePort. */
export interface ShardTask {
  readonly scenario: Scenario;
  readonly shardIndex: number;
  readonly shardCount: number;
  readonly serverUri?: string;
  readonly bootstrapUri?: string;
  /** coaps:// DM server URI for the PSK devices when the fleet mixes NoSec and PSK devices. */
  readonly secureServerUri?: string;
  /** coaps:// Bootstrap-Server URI for the PSK devices when the fleet mixes NoSec and PSK devices that bootstrap. */
  readonly secureBootstrapUri?: string;
  /** Common start of the run (epoch ms), so every shard's snapshot covers the same interval. */
  readonly startedAt: number;
  readonly logLevel: LogLevel;
  readonly snapshotIntervalMs: number;
  readonly port?: MessagePort;
}

/** Messages a shard sends on its port. */
export type ShardMessage =
  | { readonly type: 'snapshot'; readonly shardIndex: number; readonly snapshot: MetricsSnapshot; readonly active: number }
  | { readonly type: 'done'; readonly shardIndex: number };

/** Messages a shard receives. */
export type ShardCommand = { readonly type: 'stop' };

/** The models a scenario needs: the shipped ones plus its XML files. */
export function modelsFor(scenario: Scenario): ModelRegistry {
  const registry = loadBuiltinRegistry();
  for (const o of scenario.devices.objects) {
    if (o.modelFile) for (const m of loadDdfFileSync(o.modelFile)) registry.add(m, { replace: true });
  }
  return registry;
}

/**
 * Runs one shard of devices to the end of the scenario (or until told to stop) and returns its final
 * metrics snapshot; progress snapshots go out on the port while it runs. Used in worker threads
 * (piscina) and in-process alike.
 */
export async function runShardTask(task: ShardTask): Promise<MetricsSnapshot> {
  const log = createLogger({ level: task.logLevel, name: 'lwm2m-fleet', base: { shard: task.shardIndex } });
  const metrics = new MetricsRegistry({ startedAt: task.startedAt });
  const runner = new ShardRunner({
    scenario: task.scenario,
    shardIndex: task.shardIndex,
    shardCount: task.shardCount,
    ...(task.serverUri ? { serverUri: task.serverUri } : {}),
    ...(task.bootstrapUri ? { bootstrapUri: task.bootstrapUri } : {}),
    ...(task.secureServerUri ? { secureServerUri: task.secureServerUri } : {}),
    ...(task.secureBootstrapUri ? { secureBootstrapUri: task.secureBootstrapUri } : {}),
    clock: systemClock,
    log,
    models: modelsFor(task.scenario),
    metrics,
    createSocket: () => createUdpSocket({ host: '127.0.0.1', port: 0 }),
  });
  const post = (m: ShardMessage): void => task.port?.postMessage(m);
  const tick = setInterval(() => {
    post({ type: 'snapshot', shardIndex: task.shardIndex, snapshot: metrics.snapshot(), active: runner.activeDevices });
  }, task.snapshotIntervalMs);
  task.port?.on('message', (cmd: ShardCommand) => {
    if (cmd.type === 'stop') void runner.stop();
  });
  try {
    await runner.run();
  } finally {
    clearInterval(tick);
  }
  metrics.markEnded();
  const final = metrics.snapshot();
  post({ type: 'snapshot', shardIndex: task.shardIndex, snapshot: final, active: 0 });
  post({ type: 'done', shardIndex: task.shardIndex });
  task.port?.close();
  return final;
}
