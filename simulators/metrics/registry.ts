/**
 * The fleet's metrics: latency histograms by operation, integer counters, integer gauges and per-`expect`
 * tallies. A worker owns one registry and posts `snapshot()` (plain JSON, cumulative since the start) on
 * its MessagePort; the main thread keeps the latest snapshot per worker and `mergeSnapshots` them. The
 * same merge combines the reports of `--shard i/n` processes. Every part merges exactly (integer counts,
 * log-bucket histograms), so the merge is associative and commutative and a sharded run equals a single
 * run.
 *
 * Naming conventions (the thresholds and reports rely on them):
 * - histograms are named by operation ({@link Ops}): the time from request sent to response received,
 *   for successful operations only (a fast 4.04 or a 30 s timeout would distort the latency);
 * - a failed operation counts in `operations`, `errors`, `errors.<code>` (`errors.4.04`,
 *   `errors.timeout`), `<op>.errors`, and `timeouts` when its code is `timeout`;
 * - notifications are counted, not timed: `notifications` and `notifications.bytes` (the device sends
 *   them; no request/response round trip to time);
 * - `devices.registered` exists as a counter (devices that registered at least once) and as a gauge
 *   (devices registered now); thresholds read the counter, or the gauge with the `value` stat.
 */
import { Histogram, type HistogramJSON } from './histogram.js';

/** Version of {@link MetricsSnapshot}. */
export const SNAPSHOT_VERSION = 1;

/** Standard operation (histogram) names; any other string works too. */
export const Ops = {
  register: 'register',
  update: 'update',
  deregister: 'deregister',
  bootstrap: 'bootstrap',
  read: 'read',
  write: 'write',
  execute: 'execute',
  observe: 'observe',
  send: 'send',
  firmware: 'firmware',
} as const;

/** Standard counter names. */
export const Counters = {
  operations: 'operations',
  errors: 'errors',
  timeouts: 'timeouts',
  notifications: 'notifications',
  notificationBytes: 'notifications.bytes',
  sends: 'sends',
  expectPassed: 'expect.passed',
  expectFailed: 'expect.failed',
  devicesStarted: 'devices.started',
  devicesRegistered: 'devices.registered',
  devicesFailed: 'devices.failed',
} as const;

/** Standard gauge names (merged by sum across workers and shards). */
export const Gauges = {
  devicesConnected: 'devices.connected',
  devicesRegistered: 'devices.registered',
} as const;

/** The error code used for timeouts (`errors.timeout`, also counted in `timeouts`). */
export const TIMEOUT_CODE = 'timeout';

export interface ExpectTally {
  passed: number;
  failed: number;
}

/** Plain JSON, cumulative since `startedAt`; keys sorted so equal snapshots serialise equally. */
export interface MetricsSnapshot {
  version: 1;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms (the snapshot time while running). */
  endedAt: number;
  histograms: Record<string, HistogramJSON>;
  counters: Record<string, number>;
  gauges: Record<string, number>;
  expects: Record<string, ExpectTally>;
}

export interface MetricsRegistryOptions {
  /** Epoch ms clock (default `Date.now`); a `Clock` from src/core/clock fits. */
  now?: () => number;
  /** Start of the run (default `now()` at construction). */
  startedAt?: number;
}

/** A snapshot that cannot be read or merged. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}

function checkName(kind: string, name: string): void {
  if (name.length === 0 || /\s/.test(name)) {
    throw new RangeError(`${kind} name must be non-empty without whitespace, got ${JSON.stringify(name)}`);
  }
}

function checkInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be a safe integer, got ${value}`);
}

function sortedRecord<T>(map: ReadonlyMap<string, T>, f: (v: T) => T = (v) => v): Record<string, T> {
  const out: Record<string, T> = {};
  for (const key of [...map.keys()].sort()) out[key] = f(map.get(key) as T);
  return out;
}

export class MetricsRegistry {
  private readonly now: () => number;
  private startedAt: number;
  private endedAt: number | undefined;
  private readonly histograms = new Map<string, Histogram>();
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, number>();
  private readonly expects = new Map<string, ExpectTally>();

  constructor(options: MetricsRegistryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.startedAt = options.startedAt ?? this.now();
  }

  /** The histogram of an operation, created empty on first use. */
  histogram(op: string): Histogram {
    let h = this.histograms.get(op);
    if (h === undefined) {
      checkName('operation', op);
      h = new Histogram();
      this.histograms.set(op, h);
    }
    return h;
  }

  /** A successful operation that took `durationMs`: its histogram and `operations`. */
  recordSuccess(op: string, durationMs: number): void {
    this.histogram(op).record(durationMs);
    this.increment(Counters.operations);
  }

  /**
   * A failed operation: `operations`, `errors`, `errors.<code>`, `<op>.errors`, and `timeouts` for
   * {@link TIMEOUT_CODE}. `code` is a CoAP code (`4.04`) or a word (`timeout`, `reset`). The operation's
   * histogram is created (empty) so the operation shows in reports even when every attempt failed.
   */
  recordFailure(op: string, code: string): void {
    checkName('error code', code);
    this.histogram(op);
    this.increment(Counters.operations);
    this.increment(Counters.errors);
    this.increment(`${Counters.errors}.${code}`);
    this.increment(`${op}.errors`);
    if (code === TIMEOUT_CODE) this.increment(Counters.timeouts);
  }

  /** A notification sent by a device: `notifications` and `notifications.bytes`. */
  recordNotification(bytes: number): void {
    this.increment(Counters.notifications);
    this.increment(Counters.notificationBytes, bytes);
  }

  /** One `expect` step outcome: its tally and `expect.passed` / `expect.failed`. */
  recordExpect(name: string, passed: boolean): void {
    if (name.length === 0) throw new RangeError('expect name must be non-empty');
    let t = this.expects.get(name);
    if (t === undefined) {
      t = { passed: 0, failed: 0 };
      this.expects.set(name, t);
    }
    if (passed) t.passed += 1;
    else t.failed += 1;
    this.increment(passed ? Counters.expectPassed : Counters.expectFailed);
  }

  /** Adds a non-negative integer to a counter (created at 0). */
  increment(name: string, by = 1): void {
    checkInteger('counter increment', by);
    if (by < 0) throw new RangeError(`counter increment must be ≥ 0, got ${by}`);
    const cur = this.counters.get(name);
    if (cur === undefined) checkName('counter', name);
    this.counters.set(name, (cur ?? 0) + by);
  }

  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** Sets a gauge to an integer. */
  setGauge(name: string, value: number): void {
    checkInteger('gauge value', value);
    if (!this.gauges.has(name)) checkName('gauge', name);
    this.gauges.set(name, value);
  }

  /** Adds an integer (possibly negative) to a gauge. */
  addGauge(name: string, delta: number): void {
    checkInteger('gauge delta', delta);
    this.setGauge(name, this.gauge(name) + delta);
  }

  gauge(name: string): number {
    return this.gauges.get(name) ?? 0;
  }

  markStarted(at: number = this.now()): void {
    this.startedAt = at;
    this.endedAt = undefined;
  }

  /** Freezes `endedAt` (otherwise each snapshot takes `now()`). */
  markEnded(at: number = this.now()): void {
    this.endedAt = at;
  }

  snapshot(): MetricsSnapshot {
    const endedAt = this.endedAt ?? this.now();
    return {
      version: SNAPSHOT_VERSION,
      startedAt: this.startedAt,
      endedAt: Math.max(endedAt, this.startedAt),
      histograms: Object.fromEntries(
        [...this.histograms.keys()].sort().map((k) => [k, (this.histograms.get(k) as Histogram).toJSON()]),
      ),
      counters: sortedRecord(this.counters),
      gauges: sortedRecord(this.gauges),
      expects: sortedRecord(this.expects, (t) => ({ passed: t.passed, failed: t.failed })),
    };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function integerRecord(what: string, value: unknown, nonNegative: boolean): Record<string, number> {
  if (!isRecord(value)) throw new SnapshotError(`${what} must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || (nonNegative && v < 0)) {
      throw new SnapshotError(`${what}.${k} must be ${nonNegative ? 'an integer ≥ 0' : 'an integer'}`);
    }
  }
  return value as Record<string, number>;
}

/** Checks the shape of a snapshot (e.g. one read from a report file); throws {@link SnapshotError}. */
export function checkSnapshot(value: unknown): MetricsSnapshot {
  if (!isRecord(value)) throw new SnapshotError('snapshot must be an object');
  if (value['version'] !== SNAPSHOT_VERSION) throw new SnapshotError(`unsupported snapshot version ${String(value['version'])}`);
  const { startedAt, endedAt, histograms, counters, gauges, expects } = value;
  if (typeof startedAt !== 'number' || typeof endedAt !== 'number' || !Number.isFinite(startedAt)
    || !Number.isFinite(endedAt) || endedAt < startedAt) {
    throw new SnapshotError('startedAt and endedAt must be finite with startedAt ≤ endedAt');
  }
  if (!isRecord(histograms)) throw new SnapshotError('histograms must be an object');
  for (const [k, h] of Object.entries(histograms)) {
    try {
      Histogram.fromJSON(h);
    } catch (e) {
      throw new SnapshotError(`histograms.${k}: ${(e as Error).message}`);
    }
  }
  integerRecord('counters', counters, true);
  integerRecord('gauges', gauges, false);
  if (!isRecord(expects)) throw new SnapshotError('expects must be an object');
  for (const [k, t] of Object.entries(expects)) {
    if (!isRecord(t)) throw new SnapshotError(`expects.${k} must be an object`);
    integerRecord(`expects.${k}`, { passed: t['passed'], failed: t['failed'] }, true);
  }
  return value as unknown as MetricsSnapshot;
}

function sumInto(target: Map<string, number>, source: Record<string, number>): void {
  for (const [k, v] of Object.entries(source)) target.set(k, (target.get(k) ?? 0) + v);
}

/**
 * Merges snapshots (of workers, processes or machines): the earliest start, the latest end, histograms
 * merged bucket by bucket, counters, gauges and expect tallies summed. Associative and commutative, and
 * exact. Throws {@link SnapshotError} on an empty list or a malformed snapshot.
 */
export function mergeSnapshots(snapshots: readonly MetricsSnapshot[]): MetricsSnapshot {
  if (snapshots.length === 0) throw new SnapshotError('nothing to merge');
  const histograms = new Map<string, Histogram>();
  const counters = new Map<string, number>();
  const gauges = new Map<string, number>();
  const expects = new Map<string, ExpectTally>();
  let startedAt = Infinity;
  let endedAt = -Infinity;
  for (const raw of snapshots) {
    const s = checkSnapshot(raw);
    startedAt = Math.min(startedAt, s.startedAt);
    endedAt = Math.max(endedAt, s.endedAt);
    for (const [k, json] of Object.entries(s.histograms)) {
      const h = Histogram.fromJSON(json);
      const cur = histograms.get(k);
      if (cur === undefined) histograms.set(k, h);
      else cur.merge(h);
    }
    sumInto(counters, s.counters);
    sumInto(gauges, s.gauges);
    for (const [k, t] of Object.entries(s.expects)) {
      const cur = expects.get(k) ?? { passed: 0, failed: 0 };
      expects.set(k, { passed: cur.passed + t.passed, failed: cur.failed + t.failed });
    }
  }
  return {
    version: SNAPSHOT_VERSION,
    startedAt,
    endedAt,
    histograms: Object.fromEntries([...histograms.keys()].sort().map((k) => [k, (histograms.get(k) as Histogram).toJSON()])),
    counters: sortedRecord(counters),
    gauges: sortedRecord(gauges),
    expects: sortedRecord(expects),
  };
}
