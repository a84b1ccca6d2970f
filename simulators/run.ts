import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { createLogger, type Logger, type LogLevel } from '../src/core/logger.js';
import { CliError, ExitCode } from '../src/cli/exit.js';
import { EmbeddedServer } from './embedded.js';
import { checkCapacity } from './limits.js';
import { mergeSnapshots, type MetricsSnapshot } from './metrics/registry.js';
import { renderSummary, statusFromSnapshots, statusLine, useColor } from './report/console.js';
import { buildReport, serializeReport, type FleetReport } from './report/json.js';
import { renderJUnit } from './report/junit.js';
import { applyOverrides, isScenarioError, loadScenario, type ScenarioOverrides } from './scenario/load.js';
import { formatIssue, type Scenario } from './scenario/types.js';
import { modelsFor, runShardTask, type ShardMessage, type ShardTask } from './shard-task.js';

export interface FleetOutputs {
  json?: string;
  junit?: string;
}

export interface RunFleetOptions {
  scenarioFile: string;
  overrides?: ScenarioOverrides;
  outputs?: FleetOutputs;
  /** `--shard i/n`: this process runs shard i (0-based) of n. */
  shard?: { index: number; count: number };
  /** Worker threads; 0 runs the shard in this thread (no piscina). Default: cores. */
  workers?: number;
  logLevel?: LogLevel;
  /** Where the status lines and the summary go (default process.stderr / process.stdout). */
  status?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  out?: NodeJS.WritableStream;
  /** Resolves when the run should stop early (Ctrl-C); the report is still written. */
  interrupt?: Promise<void>;
  /** Status period when not a TTY (ms). Default 5000. */
  plainStatusEveryMs?: number;
}

/** Loads and checks a scenario; a bad file is a CliError with every `file:line:col: message`. */
export async function loadForRun(file: string, overrides: ScenarioOverrides = {}): Promise<Scenario> {
  try {
    return applyOverrides(await loadScenario(file), overrides);
  } catch (e) {
    if (isScenarioError(e)) throw new CliError(e.issues.map(formatIssue).join('\n'), ExitCode.INVALID_INPUT);
    throw e;
  }
}

/**
 * Runs a scenario: starts the embedded server when the target is `embedded`, runs the devices in
 * worker threads (one shard each), shows progress, and writes the summary and the reports. Resolves with
 * the report (whose exitCode is 0, or 99 when a threshold failed).
 */
export async function runFleet(opts: RunFleetOptions): Promise<FleetReport> {
  const scenario = await loadForRun(opts.scenarioFile, opts.overrides);
  const logLevel = opts.logLevel ?? scenario.options.logLevel;
  const log: Logger = createLogger({ level: logLevel, name: 'lwm2m-fleet' });
  const status = opts.status ?? process.stderr;
  const out = opts.out ?? process.stdout;
  const shard = opts.shard ?? { index: 0, count: 1 };
  const devicesHere = Math.ceil(scenario.expectedArrivals / shard.count);
  const workers = Math.max(0, Math.min(opts.workers ?? scenario.options.workers ?? availableParallelism(), Math.max(1, devicesHere)));

  const capacity = checkCapacity(devicesHere, 1);
  if (!capacity.ok) throw new CliError(`this run does not fit here:\n  ${capacity.problems.join('\n  ')}`);

  let embedded: EmbeddedServer | undefined;
  let serverUri: string | undefined;
  let bootstrapUri: string | undefined;
  if (scenario.target.kind === 'embedded') {
    // The embedded server logs its routine (sessions, registrations) only when asked for debug output.
    const serverLog = logLevel === 'debug' || logLevel === 'trace' ? log : log.child({}, { level: 'warn' });
    embedded = await EmbeddedServer.start(scenario, serverLog, modelsFor(scenario));
    serverUri = embedded.serverUri;
    bootstrapUri = embedded.bootstrapUri;
  } else {
    serverUri = scenario.target.server?.uri;
    bootstrapUri = scenario.target.bootstrap?.uri;
  }
  status.write(`lwm2m-fleet: ${scenario.name}: ${devicesHere} devices${shard.count > 1 ? ` (shard ${shard.index}/${shard.count})` : ''} ` +
    `→ ${serverUri ?? bootstrapUri ?? '?'}${embedded ? ' (embedded server)' : ''}, ${workers || 'no'} worker thread${workers === 1 ? '' : 's'}, ` +
    `${Math.round(scenario.durationMs / 1000)} s\n`);

  const startedAt = Date.now();
  const latest = new Map<number, MetricsSnapshot>();
  const stops: Array<() => void> = [];
  const subShards = Math.max(1, workers);
  const tasks: Array<Promise<MetricsSnapshot>> = [];
  let pool: Piscina | undefined;
  const baseTask = (i: number): Omit<ShardTask, 'port'> => ({
    scenario,
    shardIndex: shard.index * subShards + i,
    shardCount: shard.count * subShards,
    ...(serverUri ? { serverUri } : {}),
    ...(bootstrapUri ? { bootstrapUri } : {}),
    startedAt,
    logLevel,
    snapshotIntervalMs: 1000,
  });
  const onMessage = (m: ShardMessage): void => {
    if (m.type === 'snapshot') latest.set(m.shardIndex, m.snapshot);
  };
  if (workers === 0) {
    const channel = new MessageChannel();
    channel.port1.on('message', onMessage);
    stops.push(() => channel.port1.postMessage({ type: 'stop' }));
    tasks.push(runShardTask({ ...baseTask(0), port: channel.port2 }).finally(() => channel.port1.close()));
  } else {
    pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: workers,
      maxThreads: workers,
      idleTimeout: 1000,
      atomics: 'disabled',
    });
    for (let i = 0; i < workers; i++) {
      const channel = new MessageChannel();
      channel.port1.on('message', onMessage);
      stops.push(() => channel.port1.postMessage({ type: 'stop' }));
      const task: ShardTask = { ...baseTask(i), port: channel.port2 };
      tasks.push((pool.run(task, { transferList: [channel.port2] }) as Promise<MetricsSnapshot>).finally(() => channel.port1.close()));
    }
  }

  // Live progress: one updating line on a TTY, a plain line every few seconds otherwise.
  const tty = status.isTTY === true;
  let previous: MetricsSnapshot | null = null;
  const every = tty ? 1000 : opts.plainStatusEveryMs ?? 5000;
  const progress = setInterval(() => {
    if (latest.size === 0) return;
    const merged = mergeSnapshots([...latest.values()]);
    status.write(statusLine(statusFromSnapshots(previous, merged, devicesHere), { tty, color: useColor(status), ...(status.columns ? { columns: status.columns } : {}) }));
    previous = merged;
  }, every);
  progress.unref();

  let interrupted = false;
  void opts.interrupt?.then(() => {
    interrupted = true;
    status.write('\nlwm2m-fleet: stopping (devices de-register, the report is still written)…\n');
    for (const s of stops) s();
  });

  let crashed: unknown;
  const finals: MetricsSnapshot[] = [];
  for (const r of await Promise.allSettled(tasks)) {
    if (r.status === 'fulfilled') finals.push(r.value);
    else crashed ??= r.reason;
  }
  clearInterval(progress);
  if (tty) status.write('\n');
  await pool?.destroy();
  await embedded?.close();
  if (finals.length === 0) throw crashed instanceof Error ? crashed : new Error(String(crashed));

  const snapshot = mergeSnapshots(finals);
  const report = buildReport({
    scenario: { name: scenario.name, file: scenario.file },
    snapshot,
    thresholds: scenario.thresholds.map((t) => t.expression),
    devicesTarget: devicesHere,
    ...(shard.count > 1 ? { shard: { index: shard.index, total: shard.count } } : {}),
    ...(crashed !== undefined ? { failureExitCode: ExitCode.CRASH } : {}),
  });
  if (crashed !== undefined) log.error({ err: crashed instanceof Error ? crashed.message : String(crashed) }, 'a worker crashed');
  if (interrupted) log.warn('run interrupted');
  out.write(renderSummary(report, { color: useColor(out as { isTTY?: boolean }) }));
  if (opts.outputs?.json) writeFileSync(opts.outputs.json, serializeReport(report));
  if (opts.outputs?.junit) writeFileSync(opts.outputs.junit, renderJUnit(report));
  return report;
}
