/**
 * Automatic process sharding: when one process cannot hold a run's devices (file descriptors: one UDP
 * socket per device), the orchestrator forks `lwm2m-fleet run … --shard i/n` children (the same scenario
 * and overrides), pointed at the parent's server. Each child streams its merged metrics snapshot over the
 * IPC channel (for the parent's progress line and /metrics) and writes its JSON report to a temp file;
 * the parent merges the reports (`mergeReports`).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { LogLevel } from '../src/core/logger.js';
import type { MetricsSnapshot } from './metrics/registry.js';
import { checkSnapshot } from './metrics/registry.js';
import type { ScenarioOverrides } from './scenario/load.js';

/** Messages a forked child sends its parent. */
export type ChildMessage = { readonly type: 'snapshot'; readonly snapshot: MetricsSnapshot };
/** Messages a parent sends a forked child. */
export type ParentMessage = { readonly type: 'stop' };

export function isChildMessage(m: unknown): m is ChildMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'snapshot' && 'snapshot' in m;
}

export function isParentMessage(m: unknown): m is ParentMessage {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'stop';
}

/** The CLI launcher (bin/lwm2m-fleet.js), from dist/simulators or simulators. */
export function fleetBin(): string {
  const candidates = ['../../bin/lwm2m-fleet.js', '../bin/lwm2m-fleet.js'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new Error(`lwm2m-fleet launcher not found (looked at ${candidates.join(', ')})`);
  return found;
}

/**
 * The shard of child `i` of `n` inside this process's shard `parent` (devices are dealt by ordinal
 * modulo the shard count): ordinals ≡ parent.index (mod parent.count) split n ways.
 */
export function childShard(parent: { index: number; count: number }, i: number, n: number): { index: number; count: number } {
  return { index: parent.index + parent.count * i, count: parent.count * n };
}

export interface ForkOptions {
  readonly scenarioFile: string;
  /** Overrides the children apply (devices, duration, seed, time scale); target and metrics port are ignored. */
  readonly overrides: ScenarioOverrides;
  readonly processes: number;
  readonly shard: { index: number; count: number };
  readonly serverUri?: string;
  readonly bootstrapUri?: string;
  readonly workersPerProcess: number;
  readonly logLevel: LogLevel;
  /** Directory for the children's JSON reports. */
  readonly reportDir: string;
  /** Bound on the whole run; children still running then get SIGTERM, 10 s later SIGKILL. */
  readonly timeoutMs: number;
  readonly onSnapshot: (child: number, snapshot: MetricsSnapshot) => void;
}

export interface ChildOutcome {
  readonly index: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The parsed JSON report, or undefined when the child wrote none. */
  readonly report?: unknown;
  readonly reportFile: string;
}

export interface ForkedRun {
  readonly children: readonly ChildProcess[];
  /** Asks every child to stop gracefully (devices de-register, reports are still written). */
  stop(): void;
  readonly done: Promise<ChildOutcome[]>;
}

/** The `run` arguments of child `i`. */
export function childArgs(opts: ForkOptions, i: number, reportFile: string): string[] {
  const s = childShard(opts.shard, i, opts.processes);
  const o = opts.overrides;
  const args = ['run', opts.scenarioFile, '--shard', `${s.index}/${s.count}`, '--processes', '1', '--workers', String(opts.workersPerProcess),
    '--log-level', opts.logLevel, '--out', `json=${reportFile}`, '--ipc-progress'];
  if (o.devices !== undefined) args.push('--devices', String(o.devices));
  if (o.durationMs !== undefined) args.push('--duration', `${o.durationMs}ms`);
  if (o.seed !== undefined) args.push('--seed', String(o.seed));
  if (o.timeScale !== undefined) args.push('--time-scale', String(o.timeScale));
  if (opts.serverUri !== undefined) args.push('--target', opts.serverUri);
  if (opts.bootstrapUri !== undefined) args.push('--bootstrap-target', opts.bootstrapUri);
  return args;
}

/** Forks the children and resolves when every one has exited (bounded by `timeoutMs`). */
export function forkProcesses(opts: ForkOptions): ForkedRun {
  const bin = fleetBin();
  const children: ChildProcess[] = [];
  const outcomes: Array<Promise<ChildOutcome>> = [];
  for (let i = 0; i < opts.processes; i++) {
    const reportFile = join(opts.reportDir, `r-${i}.json`);
    const child = fork(bin, childArgs(opts, i, reportFile), {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, NO_COLOR: '1' },
      serialization: 'json',
    });
    children.push(child);
    child.on('message', (m: unknown) => {
      if (!isChildMessage(m)) return;
      try {
        opts.onSnapshot(i, checkSnapshot(m.snapshot));
      } catch {
        // a malformed progress message only costs a progress update
      }
    });
    outcomes.push(new Promise<ChildOutcome>((resolve) => {
      let kill: NodeJS.Timeout | undefined;
      const term = setTimeout(() => {
        child.kill('SIGTERM');
        kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      }, opts.timeoutMs);
      const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
        clearTimeout(term);
        if (kill) clearTimeout(kill);
        let report: unknown;
        try {
          report = JSON.parse(readFileSync(reportFile, 'utf8')) as unknown;
        } catch {
          report = undefined;
        }
        resolve({ index: i, code, signal, reportFile, ...(report !== undefined ? { report } : {}) });
      };
      child.once('error', () => finish(null, null));
      child.once('exit', finish);
    }));
  }
  return {
    children,
    stop: () => {
      for (const c of children) {
        if (c.connected) c.send({ type: 'stop' } satisfies ParentMessage);
        else if (c.exitCode === null) c.kill('SIGINT');
      }
    },
    done: Promise.all(outcomes),
  };
}
