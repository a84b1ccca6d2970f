/**
 * The machine-readable fleet report (`--out json=report.json`), schema version 1.
 *
 * Stability: fields are only ever added (optional) within a schema version; a renamed or removed field, or
 * a changed meaning, bumps `schemaVersion`. {@link reportSchema} (also shipped as
 * `simulators/report/report.schema.json`, kept identical by a test) describes it.
 *
 * Units: times are epoch milliseconds, durations and latencies milliseconds, rates per second over the
 * run. A report carries every histogram serialised, so reports merge exactly: `mergeReports` (behind
 * `lwm2m-fleet merge r1.json r2.json`) merges the metric snapshots, sums the device counts and
 * re-evaluates the thresholds on the merged data. In a shard's report, `devices.target` is that shard's
 * share of the fleet; merged reports sum them.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { Histogram, type HistogramJSON } from '../metrics/histogram.js';
import { checkSnapshot, mergeSnapshots, SNAPSHOT_VERSION, type MetricsSnapshot } from '../metrics/registry.js';
import {
  evaluateThresholds, OPERATORS, STATS, thresholdExitCode,
  type ParsedThreshold, type ThresholdResult,
} from '../metrics/thresholds.js';

export const REPORT_SCHEMA_VERSION = 1;
export const TOOL_NAME = 'lwm2m-fleet';

/** Exit code when every threshold held / when one failed (as k6). */
export const EXIT_OK = 0;
export const EXIT_THRESHOLD_FAILED = 99;

/** Per-operation figures, computed from `histogram` (successful operations; `errors` counts the failures). */
export interface OperationMetrics {
  count: number;
  errors: number;
  /** Successful operations per second over the run. */
  rate: number;
  min: number;
  avg: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  /** p99.9 */
  p999: number;
  max: number;
  histogram: HistogramJSON;
}

export interface ExpectResult {
  name: string;
  passed: number;
  failed: number;
}

export interface ShardInfo {
  index: number;
  total: number;
}

export interface FleetReport {
  schemaVersion: 1;
  tool: 'lwm2m-fleet';
  toolVersion?: string;
  scenario: { name: string; file: string | null };
  startedAt: number;
  endedAt: number;
  durationMs: number;
  /** 0 thresholds held, 99 a threshold failed, 1 crash, 2 invalid input, other engine codes as given. */
  exitCode: number;
  devices: { target: number; started: number; registered: number; failed: number };
  /** Set in the report of one shard (`--shard i/n`). */
  shards?: ShardInfo;
  /** Set in a report produced by `mergeReports`. */
  merged?: { reports: number; shards: ShardInfo[] };
  metrics: Record<string, OperationMetrics>;
  counters: Record<string, number>;
  gauges: Record<string, number>;
  thresholds: ThresholdResult[];
  expects: ExpectResult[];
}

export interface BuildReportInput {
  scenario: { name: string; file?: string | null };
  /** The merged snapshot of the run. */
  snapshot: MetricsSnapshot;
  thresholds?: readonly (string | ParsedThreshold)[];
  /** Devices this process was asked to run. */
  devicesTarget: number;
  shard?: ShardInfo;
  /**
   * A non-threshold outcome that decides the exit code (1 crash, 2 invalid input, an interrupt code…).
   * Without it (or with 0 / 99) the thresholds decide: 0 or 99.
   */
  failureExitCode?: number;
  toolVersion?: string;
}

/** A report that cannot be read or merged. */
export class ReportError extends Error {
  override readonly name = 'ReportError';
}

function operationMetrics(json: HistogramJSON, errors: number, seconds: number): OperationMetrics {
  const h = Histogram.fromJSON(json);
  return {
    count: h.count,
    errors,
    rate: seconds > 0 ? h.count / seconds : 0,
    min: h.min,
    avg: h.mean,
    p50: h.quantile(0.5),
    p90: h.quantile(0.9),
    p95: h.quantile(0.95),
    p99: h.quantile(0.99),
    p999: h.quantile(0.999),
    max: h.max,
    histogram: h.toJSON(),
  };
}

function decideExitCode(failure: number | undefined, results: readonly ThresholdResult[]): number {
  if (failure !== undefined && failure !== EXIT_OK && failure !== EXIT_THRESHOLD_FAILED) return failure;
  return thresholdExitCode(results);
}

/** Builds the report of a run (or of one shard) from its merged snapshot. */
export function buildReport(input: BuildReportInput): FleetReport {
  const snapshot = checkSnapshot(input.snapshot);
  const seconds = (snapshot.endedAt - snapshot.startedAt) / 1000;
  const thresholds = evaluateThresholds(input.thresholds ?? [], snapshot);
  const metrics: Record<string, OperationMetrics> = {};
  for (const op of Object.keys(snapshot.histograms).sort()) {
    metrics[op] = operationMetrics(snapshot.histograms[op] as HistogramJSON, snapshot.counters[`${op}.errors`] ?? 0, seconds);
  }
  const report: FleetReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: TOOL_NAME,
    ...(input.toolVersion !== undefined ? { toolVersion: input.toolVersion } : {}),
    scenario: { name: input.scenario.name, file: input.scenario.file ?? null },
    startedAt: snapshot.startedAt,
    endedAt: snapshot.endedAt,
    durationMs: snapshot.endedAt - snapshot.startedAt,
    exitCode: decideExitCode(input.failureExitCode, thresholds),
    devices: {
      target: input.devicesTarget,
      started: snapshot.counters['devices.started'] ?? 0,
      registered: snapshot.counters['devices.registered'] ?? 0,
      failed: snapshot.counters['devices.failed'] ?? 0,
    },
    ...(input.shard !== undefined ? { shards: { index: input.shard.index, total: input.shard.total } } : {}),
    metrics,
    counters: { ...snapshot.counters },
    gauges: { ...snapshot.gauges },
    thresholds,
    expects: Object.keys(snapshot.expects).sort().map((name) => {
      const t = snapshot.expects[name] as { passed: number; failed: number };
      return { name, passed: t.passed, failed: t.failed };
    }),
  };
  return report;
}

/** The metrics of a report as a snapshot (for merging). */
export function reportToSnapshot(report: FleetReport): MetricsSnapshot {
  const histograms: Record<string, HistogramJSON> = {};
  for (const op of Object.keys(report.metrics).sort()) histograms[op] = (report.metrics[op] as OperationMetrics).histogram;
  const expects: MetricsSnapshot['expects'] = {};
  for (const e of [...report.expects].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const cur = expects[e.name] ?? { passed: 0, failed: 0 };
    expects[e.name] = { passed: cur.passed + e.passed, failed: cur.failed + e.failed };
  }
  return checkSnapshot({
    version: SNAPSHOT_VERSION,
    startedAt: report.startedAt,
    endedAt: report.endedAt,
    histograms,
    counters: { ...report.counters },
    gauges: { ...report.gauges },
    expects,
  });
}

/**
 * Merges the reports of shards (or of separate runs of one scenario): metrics merged exactly, device
 * targets summed, thresholds (the union of all reports' expressions, in first-seen order) re-evaluated on
 * the merged metrics. The exit code is the first non-threshold failure code of an input (a crashed
 * shard stays a crash), else 0 / 99 from the re-evaluated thresholds. Throws {@link ReportError} on an
 * empty list, an invalid report, different scenario names, or the same shard twice.
 */
export function mergeReports(reports: readonly unknown[]): FleetReport {
  if (reports.length === 0) throw new ReportError('nothing to merge');
  const valid = reports.map((r, i) => {
    try {
      return validateReport(r);
    } catch (e) {
      throw new ReportError(`report ${i + 1}: ${(e as Error).message}`);
    }
  });
  const first = valid[0] as FleetReport;
  const names = new Set(valid.map((r) => r.scenario.name));
  if (names.size > 1) {
    throw new ReportError(`reports of different scenarios: ${[...names].map((n) => JSON.stringify(n)).join(', ')}`);
  }
  const shards: ShardInfo[] = [];
  const seen = new Set<string>();
  for (const r of valid) {
    const parts = r.merged !== undefined ? r.merged.shards : r.shards !== undefined ? [r.shards] : [];
    for (const s of parts) {
      const key = `${s.index}/${s.total}`;
      if (seen.has(key)) throw new ReportError(`shard ${key} appears twice: its metrics would be counted twice`);
      seen.add(key);
      shards.push({ index: s.index, total: s.total });
    }
  }
  shards.sort((a, b) => a.total - b.total || a.index - b.index);
  const expressions: string[] = [];
  const known = new Set<string>();
  for (const r of valid) {
    for (const t of r.thresholds) {
      if (!known.has(t.expression)) {
        known.add(t.expression);
        expressions.push(t.expression);
      }
    }
  }
  const snapshot = mergeSnapshots(valid.map(reportToSnapshot));
  const failure = valid.map((r) => r.exitCode).find((c) => c !== EXIT_OK && c !== EXIT_THRESHOLD_FAILED);
  const files = new Set(valid.map((r) => r.scenario.file));
  const merged = buildReport({
    scenario: { name: first.scenario.name, file: files.size === 1 ? first.scenario.file : null },
    snapshot,
    thresholds: expressions,
    devicesTarget: valid.reduce((n, r) => n + r.devices.target, 0),
    ...(failure !== undefined ? { failureExitCode: failure } : {}),
    ...(first.toolVersion !== undefined ? { toolVersion: first.toolVersion } : {}),
  });
  const inputs = valid.reduce((n, r) => n + (r.merged?.reports ?? 1), 0);
  merged.merged = { reports: inputs, shards };
  return merged;
}

/** The report as written to disk: 2-space JSON with a final newline. */
export function serializeReport(report: FleetReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

let validator: ValidateFunction | undefined;

/**
 * Checks a parsed report against {@link reportSchema} and its histograms' consistency; returns it typed.
 * Throws {@link ReportError} listing the schema violations.
 */
export function validateReport(value: unknown): FleetReport {
  if (validator === undefined) validator = new Ajv({ allErrors: true, strict: true }).compile(reportSchema);
  if (!validator(value)) {
    const errors = (validator.errors ?? []).slice(0, 10)
      .map((e) => `${e.instancePath === '' ? '/' : e.instancePath} ${e.message ?? 'is invalid'}`);
    throw new ReportError(`not a lwm2m-fleet report (schema version ${REPORT_SCHEMA_VERSION}): ${errors.join('; ')}`);
  }
  const report = value as FleetReport;
  for (const [op, m] of Object.entries(report.metrics)) {
    try {
      Histogram.fromJSON(m.histogram);
    } catch (e) {
      throw new ReportError(`/metrics/${op}/histogram: ${(e as Error).message}`);
    }
  }
  if (report.endedAt < report.startedAt) throw new ReportError('endedAt is before startedAt');
  return report;
}

/** Parses and validates report text (a `report.json` file). */
export function parseReport(text: string): FleetReport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ReportError(`not JSON: ${(e as Error).message}`);
  }
  return validateReport(value);
}

const count = { type: 'integer', minimum: 0 } as const;
const nonNegative = { type: 'number', minimum: 0 } as const;
const ms = { type: 'number', minimum: 0, description: 'milliseconds' } as const;

/** JSON Schema (draft-07) of {@link FleetReport}; identical to simulators/report/report.schema.json. */
export const reportSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'lwm2m-fleet report',
  description: 'Machine-readable report of an lwm2m-fleet run (schema version 1). Times are epoch ms, '
    + 'durations and latencies ms, rates per second over the run.',
  type: 'object',
  required: ['schemaVersion', 'tool', 'scenario', 'startedAt', 'endedAt', 'durationMs', 'exitCode', 'devices',
    'metrics', 'counters', 'gauges', 'thresholds', 'expects'],
  additionalProperties: false,
  properties: {
    schemaVersion: { const: 1 },
    tool: { const: 'lwm2m-fleet' },
    toolVersion: { type: 'string' },
    scenario: {
      type: 'object',
      required: ['name', 'file'],
      additionalProperties: false,
      properties: {
        name: { type: 'string' },
        file: { anyOf: [{ type: 'string' }, { type: 'null' }] },
      },
    },
    startedAt: { type: 'number', description: 'epoch ms' },
    endedAt: { type: 'number', description: 'epoch ms' },
    durationMs: ms,
    exitCode: { type: 'integer', minimum: 0, maximum: 255 },
    devices: {
      type: 'object',
      required: ['target', 'started', 'registered', 'failed'],
      additionalProperties: false,
      properties: { target: count, started: count, registered: count, failed: count },
    },
    shards: { $ref: '#/definitions/shard' },
    merged: {
      type: 'object',
      required: ['reports', 'shards'],
      additionalProperties: false,
      properties: {
        reports: { type: 'integer', minimum: 1 },
        shards: { type: 'array', items: { $ref: '#/definitions/shard' } },
      },
    },
    metrics: { type: 'object', additionalProperties: { $ref: '#/definitions/operation' } },
    counters: { type: 'object', additionalProperties: count },
    gauges: { type: 'object', additionalProperties: { type: 'integer' } },
    thresholds: { type: 'array', items: { $ref: '#/definitions/threshold' } },
    expects: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'passed', 'failed'],
        additionalProperties: false,
        properties: { name: { type: 'string' }, passed: count, failed: count },
      },
    },
  },
  definitions: {
    shard: {
      type: 'object',
      required: ['index', 'total'],
      additionalProperties: false,
      properties: { index: { type: 'integer', minimum: 0 }, total: { type: 'integer', minimum: 1 } },
    },
    operation: {
      type: 'object',
      required: ['count', 'errors', 'rate', 'min', 'avg', 'p50', 'p90', 'p95', 'p99', 'p999', 'max', 'histogram'],
      additionalProperties: false,
      properties: {
        count, errors: count, rate: nonNegative,
        min: ms, avg: ms, p50: ms, p90: ms, p95: ms, p99: ms, p999: ms, max: ms,
        histogram: { $ref: '#/definitions/histogram' },
      },
    },
    histogram: {
      description: 'DDSketch log buckets, relative accuracy alpha; bucket i holds values in (γ^(i-1), γ^i], '
        + 'γ = (1+alpha)/(1-alpha), values in ms.',
      type: 'object',
      required: ['v', 'type', 'alpha', 'count', 'sumUs', 'min', 'max', 'underflow', 'overflow', 'offset', 'counts'],
      additionalProperties: false,
      properties: {
        v: { const: 1 },
        type: { const: 'ddsketch' },
        alpha: { const: 0.01 },
        count,
        sumUs: count,
        min: { anyOf: [ms, { type: 'null' }] },
        max: { anyOf: [ms, { type: 'null' }] },
        underflow: count,
        overflow: count,
        offset: { type: 'integer' },
        counts: { type: 'array', items: count },
      },
    },
    threshold: {
      type: 'object',
      required: ['expression', 'metric', 'stat', 'op', 'limit', 'actual', 'ok'],
      additionalProperties: false,
      properties: {
        expression: { type: 'string' },
        metric: { type: 'string' },
        stat: { enum: [...STATS] },
        op: { enum: [...OPERATORS] },
        limit: { type: 'number', description: 'ms for duration stats' },
        actual: { anyOf: [{ type: 'number' }, { type: 'null' }] },
        ok: { type: 'boolean' },
        note: { type: 'string' },
      },
    },
  },
} as const;
