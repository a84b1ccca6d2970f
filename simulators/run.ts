import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { platformRowWarnings, platformRowsFailed } from './cumulocity.js';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { createLogger, type Logger, type LogLevel } from '../src/core/logger.js';
import { CliError, ExitCode } from '../src/cli/exit.js';
import { EmbeddedServer } from './embedded.js';
import { forkProcesses, type ChildOutcome } from './fork.js';
import { checkCapacity, planProcesses } from './limits.js';
import { startMetricsServer, type MetricsEndpoint } from './prometheus.js';
import { mergeSnapshots, type MetricsSnapshot } from './metrics/registry.js';
import { renderSummary, statusFromSnapshots, statusLine, useColor } from './report/console.js';
import { buildReport, mergeReports, reportToSnapshot as reportSnapshotOf, serializeReport, type FleetReport } from './report/json.js';
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
  /**
   * `--processes N`: run the devices in N forked processes (1 = this process only). Default: as many as
   * the file-descriptor limit needs (one UDP socket per device), usually 1.
   */
  processes?: number;
  /**
   * Servers to target instead of the scenario's (`--target` with `--bootstrap-target`; forked children get
   * their parent's embedded server here). No embedded server is started when set.
   */
  endpoints?: { serverUri?: string; bootstrapUri?: string; secureServerUri?: string; secureBootstrapUri?: string };
  /** Receives the merged metrics snapshot about every second while running (forked children: IPC). */
  progressSink?: (snapshot: MetricsSnapshot) => void;
  /** Called once the /metrics endpoint listens (with `--metrics-port`). */
  onMetricsEndpoint?: (endpoint: MetricsEndpoint) => void;
}

/** A writable stream that drops everything (forked children: the parent shows progress and the summary). */
export function nullStream(): NodeJS.WritableStream {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
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
 * worker threads (one shard each) — or, when one process cannot hold them (open-file limit) or
 * `processes` asks for it, in forked `lwm2m-fleet run --shard` processes aimed at this process's server
 * (simulators/fork.ts) — shows progress, serves Prometheus `/metrics` when a metrics port is set, and
 * writes the summary and the reports. Resolves with the report (whose exitCode is 0, or 99 when a
 * threshold failed; 1 when a worker or a forked process crashed).
 */
export async function runFleet(opts: RunFleetOptions): Promise<FleetReport> {
  const scenario = await loadForRun(opts.scenarioFile, opts.overrides);
  const logLevel = opts.logLevel ?? scenario.options.logLevel;
  const log: Logger = createLogger({ level: logLevel, name: 'lwm2m-fleet' });
  const status = opts.status ?? process.stderr;
  const out = opts.out ?? process.stdout;
  // Rows of a platform device list that were not imported (Cumulocity CSV): reported, the others run.
  for (const w of platformRowWarnings(scenario)) status.write(`warning: ${w}\n`);
  const shard = opts.shard ?? { index: 0, count: 1 };
  const devicesHere = Math.ceil(scenario.expectedArrivals / shard.count);
  const workers = Math.max(0, Math.min(opts.workers ?? scenario.options.workers ?? availableParallelism(), Math.max(1, devicesHere)));

  const plan = planProcesses(devicesHere, opts.processes);
  const processes = Math.min(plan.processes, Math.max(1, devicesHere));
  const capacity = checkCapacity(devicesHere, processes);
  if (!capacity.ok) throw new CliError(`this run does not fit here:\n  ${capacity.problems.join('\n  ')}`);

  let embedded: EmbeddedServer | undefined;
  let serverUri: string | undefined;
  let bootstrapUri: string | undefined;
  let secureServerUri: string | undefined;
  let secureBootstrapUri: string | undefined;
  if (opts.endpoints !== undefined) {
    serverUri = opts.endpoints.serverUri;
    bootstrapUri = opts.endpoints.bootstrapUri;
    secureServerUri = opts.endpoints.secureServerUri;
    secureBootstrapUri = opts.endpoints.secureBootstrapUri;
  } else if (scenario.target.kind === 'embedded') {
    // The embedded server logs its routine (sessions, registrations) only when asked for debug output.
    const serverLog = logLevel === 'debug' || logLevel === 'trace' ? log : log.child({}, { level: 'warn' });
    embedded = await EmbeddedServer.start(scenario, serverLog, modelsFor(scenario));
    serverUri = embedded.serverUri;
    bootstrapUri = embedded.bootstrapUri;
    secureServerUri = embedded.secureServerUri;
    secureBootstrapUri = embedded.secureBootstrapUri;
  } else {
    serverUri = scenario.target.server?.uri;
    bootstrapUri = scenario.target.bootstrap?.uri;
  }
  const childWorkers = opts.workers ?? scenario.options.workers ?? Math.max(1, Math.floor(availableParallelism() / processes));
  const how = processes > 1
    ? `${processes} processes × ${childWorkers} worker thread${childWorkers === 1 ? '' : 's'}`
    : `${workers || 'no'} worker thread${workers === 1 ? '' : 's'}`;
  status.write(`lwm2m-fleet: ${scenario.name}: ${devicesHere} devices${shard.count > 1 ? ` (shard ${shard.index}/${shard.count})` : ''} ` +
    `→ ${serverUri ?? bootstrapUri ?? '?'}${embedded ? ' (embedded server)' : ''}, ${how}, ` +
    `${Math.round(scenario.durationMs / 1000)} s\n`);
  if (processes > 1) {
    status.write(`lwm2m-fleet: forking ${processes} processes: ${plan.reason === '--processes' ? `asked for (--processes ${processes})` : plan.reason}; ` +
      `about ${Math.ceil(devicesHere / processes)} devices each, one embedded server here\n`);
  }

  const startedAt = Date.now();
  const latest = new Map<number, MetricsSnapshot>();
  const merged = (): MetricsSnapshot | undefined => (latest.size === 0 ? undefined : mergeSnapshots([...latest.values()]));

  let metricsEndpoint: MetricsEndpoint | undefined;
  const metricsPort = scenario.options.metricsPort;
  if (metricsPort !== undefined) {
    try {
      metricsEndpoint = await startMetricsServer(metricsPort, merged, { devicesTarget: devicesHere, scenario: scenario.name });
    } catch (e) {
      await embedded?.close();
      throw new CliError(`--metrics-port ${metricsPort}: ${e instanceof Error ? e.message : String(e)}`);
    }
    status.write(`lwm2m-fleet: Prometheus metrics on ${metricsEndpoint.url}\n`);
    opts.onMetricsEndpoint?.(metricsEndpoint);
  }

  const stops: Array<() => void> = [];
  let pool: Piscina | undefined;
  let threadTasks: Array<Promise<MetricsSnapshot>> = [];
  let forked: Promise<ChildOutcome[]> | undefined;
  let reportDir: string | undefined;
  if (processes > 1) {
    reportDir = mkdtempSync(join(tmpdir(), 'lwm2m-fleet-'));
    const run = forkProcesses({
      scenarioFile: opts.scenarioFile,
      overrides: opts.overrides ?? {},
      processes,
      shard,
      ...(serverUri ? { serverUri } : {}),
      ...(bootstrapUri ? { bootstrapUri } : {}),
      workersPerProcess: Math.max(0, childWorkers),
      logLevel,
      reportDir,
      // The scenario's duration, the devices' leave and the startup of N processes; then they are killed.
      timeoutMs: scenario.durationMs + 60_000 + 5_000 * processes,
      onSnapshot: (child, snapshot) => { latest.set(child, snapshot); },
    });
    stops.push(() => run.stop());
    forked = run.done;
  } else {
    threadTasks = runThreads();
  }

  function runThreads(): Array<Promise<MetricsSnapshot>> {
    const tasks: Array<Promise<MetricsSnapshot>> = [];
    const subShards = Math.max(1, workers);
    // Devices are dealt by ordinal modulo the shard count: sub-shard i of this process's shard s of n
    // takes the ordinals ≡ s + n·i (mod n·subShards), a partition of the ordinals ≡ s (mod n).
    const baseTask = (i: number): Omit<ShardTask, 'port'> => ({
      scenario,
      shardIndex: shard.index + shard.count * i,
      shardCount: shard.count * subShards,
      ...(serverUri ? { serverUri } : {}),
      ...(bootstrapUri ? { bootstrapUri } : {}),
      ...(secureServerUri ? { secureServerUri } : {}),
      ...(secureBootstrapUri ? { secureBootstrapUri } : {}),
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
    return tasks;
  }

  // Live progress: one updating line on a TTY, a plain line every few seconds otherwise.
  const tty = status.isTTY === true;
  let previous: MetricsSnapshot | null = null;
  const every = tty ? 1000 : opts.plainStatusEveryMs ?? 5000;
  const progress = setInterval(() => {
    const now = merged();
    if (now === undefined) return;
    status.write(statusLine(statusFromSnapshots(previous, now, devicesHere), { tty, color: useColor(status), ...(status.columns ? { columns: status.columns } : {}) }));
    previous = now;
  }, every);
  progress.unref();
  const sink = opts.progressSink;
  const streaming = sink === undefined ? undefined : setInterval(() => {
    const now = merged();
    if (now !== undefined) sink(now);
  }, 1000);
  streaming?.unref();

  let interrupted = false;
  void opts.interrupt?.then(() => {
    interrupted = true;
    status.write('\nlwm2m-fleet: stopping (devices de-register, the report is still written)…\n');
    for (const s of stops) s();
  });

  let crashed: unknown;
  let report: FleetReport;
  try {
    if (forked !== undefined) {
      const outcomes = await forked;
      const reports: unknown[] = [];
      for (const o of outcomes) {
        if (o.report !== undefined) reports.push(o.report);
        if (o.report === undefined || (o.code !== 0 && o.code !== 99)) {
          crashed ??= new Error(`process ${o.index + 1}/${processes} ended with ${o.signal ?? `exit code ${String(o.code)}`}${o.report === undefined ? ' without a report' : ''}`);
        }
      }
      if (reports.length === 0) throw crashed instanceof Error ? crashed : new Error('no process wrote a report');
      const m = mergeReports(reports);
      const { merged: mergedInfo, ...rest } = m;
      report = {
        ...rest,
        devices: { ...m.devices, target: devicesHere },
        ...(shard.count > 1 ? { shards: { index: shard.index, total: shard.count } } : {}),
        ...(mergedInfo !== undefined && shard.count === 1 ? { merged: mergedInfo } : {}),
        ...(crashed !== undefined ? { exitCode: ExitCode.CRASH } : {}),
      };
    } else {
      const finals: MetricsSnapshot[] = [];
      for (const r of await Promise.allSettled(threadTasks)) {
        if (r.status === 'fulfilled') finals.push(r.value);
        else crashed ??= r.reason;
      }
      if (finals.length === 0) throw crashed instanceof Error ? crashed : new Error(String(crashed));
      report = buildReport({
        scenario: { name: scenario.name, file: scenario.file },
        snapshot: mergeSnapshots(finals),
        thresholds: scenario.thresholds.map((t) => t.expression),
        devicesTarget: devicesHere,
        ...(shard.count > 1 ? { shard: { index: shard.index, total: shard.count } } : {}),
        ...(crashed !== undefined ? { failureExitCode: ExitCode.CRASH } : {}),
      });
    }
  } finally {
    clearInterval(progress);
    if (streaming !== undefined) clearInterval(streaming);
    if (tty) status.write('\n');
    await pool?.destroy();
    await metricsEndpoint?.close();
    await embedded?.close();
    if (reportDir !== undefined) rmSync(reportDir, { recursive: true, force: true });
  }
  // A platform device list with bad rows (Cumulocity CSV): the good rows ran, the exit code says some failed.
  if (report.exitCode === ExitCode.OK && platformRowsFailed(scenario)) report = { ...report, exitCode: ExitCode.INVALID_INPUT };
  // The last streamed snapshot (forked children: the parent's progress ends on the final figures).
  sink?.(reportSnapshotOf(report));

  if (crashed !== undefined) log.error({ err: crashed instanceof Error ? crashed.message : String(crashed) }, processes > 1 ? 'a process failed' : 'a worker crashed');
  if (interrupted) log.warn('run interrupted');
  out.write(renderSummary(report, { color: useColor(out as { isTTY?: boolean }) }));
  if (opts.outputs?.json) writeFileSync(opts.outputs.json, serializeReport(report));
  if (opts.outputs?.junit) writeFileSync(opts.outputs.junit, renderJUnit(report));
  return report;
}
