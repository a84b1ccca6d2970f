/**
 * Human output: the closing table (`renderSummary`) and the live status line (`statusLine`). Pure string
 * builders; the caller writes them. Colours only when {@link useColor} says so (a TTY, and `NO_COLOR`
 * unset or empty, see https://no-color.org).
 */
import { Histogram } from '../metrics/histogram.js';
import { Ops, type MetricsSnapshot } from '../metrics/registry.js';
import { isDurationStat, type ThresholdResult } from '../metrics/thresholds.js';
import type { FleetReport, OperationMetrics } from './json.js';

export interface ColorOptions {
  color?: boolean;
}

/** True when `stream` is a TTY and NO_COLOR is not set to a non-empty value. */
export function useColor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const noColor = env['NO_COLOR'];
  return stream.isTTY === true && (noColor === undefined || noColor === '');
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m' } as const;
type Style = Exclude<keyof typeof ANSI, 'reset'>;

function paint(on: boolean, style: Style, text: string): string {
  return on ? `${ANSI[style]}${text}${ANSI.reset}` : text;
}

/** A latency or duration in ms, e.g. `0.532ms`, `4.21ms`, `123.4ms`, `1.23s`, `5m02s`, `1h02m`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const a = Math.abs(ms);
  if (a < 1) return `${ms.toFixed(3)}ms`;
  if (a < 10) return `${ms.toFixed(2)}ms`;
  if (a < 1000) return `${ms.toFixed(1)}ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const totalS = Math.round(a / 1000);
  const sign = ms < 0 ? '-' : '';
  if (totalS < 3600) return `${sign}${Math.floor(totalS / 60)}m${String(totalS % 60).padStart(2, '0')}s`;
  const totalM = Math.round(a / 60_000);
  return `${sign}${Math.floor(totalM / 60)}h${String(totalM % 60).padStart(2, '0')}m`;
}

/** Elapsed time as `HH:MM:SS`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(Math.floor(s / 3600))}:${p2(Math.floor(s / 60) % 60)}:${p2(s % 60)}`;
}

/** A per-second rate: 2 decimals below 10, 1 above. */
export function formatRate(perSecond: number): string {
  return perSecond < 10 ? perSecond.toFixed(2) : perSecond.toFixed(1);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)} %`;
}

/** The actual value of a threshold, in the unit of its stat. */
export function formatThresholdActual(r: ThresholdResult): string {
  if (r.actual === null) return 'no data';
  if (isDurationStat(r.stat)) return formatMs(r.actual);
  if (r.metric === 'errors' && r.stat === 'rate') return `${r.actual.toFixed(4)} (${formatPercent(r.actual)})`;
  if (r.stat === 'rate') return `${formatRate(r.actual)}/s`;
  return String(r.actual);
}

const CANONICAL: readonly string[] = Object.values(Ops);

/** Operations in a stable order: the standard ones first (register, update, …), then the rest by name. */
export function orderOperations(names: readonly string[]): string[] {
  const std = CANONICAL.filter((n) => names.includes(n));
  const rest = names.filter((n) => !CANONICAL.includes(n)).sort();
  return [...std, ...rest];
}

function table(rows: readonly (readonly string[])[], rightAlign: (col: number) => boolean): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row
    .map((cell, i) => (rightAlign(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
    .join('  ')
    .trimEnd());
}

/**
 * The closing summary: run header, devices, per-operation table (count, rate/s, errors, p50 p90 p95 p99
 * max), errors by code, totals, expects and thresholds with ✓/✗ and the actual values.
 */
export function renderSummary(report: FleetReport, options: ColorOptions = {}): string {
  const c = options.color === true;
  const out: string[] = [];
  const file = report.scenario.file !== null ? ` (${report.scenario.file})` : '';
  const shard = report.shards !== undefined ? ` · shard ${report.shards.index}/${report.shards.total}` : '';
  const merged = report.merged !== undefined ? ` · merged from ${report.merged.reports} reports` : '';
  out.push(paint(c, 'bold', `lwm2m-fleet · ${report.scenario.name}${file} · ${formatMs(report.durationMs)}${shard}${merged}`));
  const d = report.devices;
  out.push(`devices: target ${d.target} · started ${d.started} · registered ${d.registered} · failed ${d.failed}`);
  out.push('');

  const ops = orderOperations(Object.keys(report.metrics));
  if (ops.length === 0) {
    out.push('no operations recorded');
  } else {
    const rows: string[][] = [['operation', 'count', 'rate/s', 'errors', 'p50', 'p90', 'p95', 'p99', 'max']];
    for (const op of ops) {
      const m = report.metrics[op] as OperationMetrics;
      const lat = (v: number): string => (m.count === 0 ? '-' : formatMs(v));
      rows.push([op, String(m.count), formatRate(m.rate), String(m.errors), lat(m.p50), lat(m.p90), lat(m.p95), lat(m.p99), lat(m.max)]);
    }
    const lines = table(rows, (i) => i > 0);
    out.push(paint(c, 'dim', lines[0] ?? ''), ...lines.slice(1));
  }

  const counters = report.counters;
  const operations = counters['operations'] ?? 0;
  const errors = counters['errors'] ?? 0;
  const totals = [`operations ${operations}`, `errors ${errors}${operations > 0 ? ` (${formatPercent(errors / operations)})` : ''}`];
  if ((counters['timeouts'] ?? 0) > 0) totals.push(`timeouts ${counters['timeouts'] ?? 0}`);
  if (counters['notifications'] !== undefined) {
    const bytes = counters['notifications.bytes'];
    totals.push(`notifications ${counters['notifications']}${bytes !== undefined ? ` (${formatBytes(bytes)})` : ''}`);
  }
  if (counters['sends'] !== undefined) totals.push(`sends ${counters['sends']}`);
  out.push('', totals.join(' · '));

  const byCode = Object.entries(counters)
    .filter(([k]) => k.startsWith('errors.'))
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (byCode.length > 0) {
    out.push('', 'errors by code:');
    out.push(...table(byCode.map(([k, n]) => [`  ${k.slice('errors.'.length)}`, String(n)]), (i) => i > 0)
      .map((l) => paint(c, 'red', l)));
  }

  if (report.expects.length > 0) {
    out.push('', 'expects:');
    const rows = report.expects.map((e) => [e.failed === 0 ? '✓' : '✗', e.name, `${e.passed} passed`, `${e.failed} failed`]);
    table(rows, (i) => i > 1).forEach((line, i) => {
      const ok = (report.expects[i] as { failed: number }).failed === 0;
      out.push(`  ${paint(c, ok ? 'green' : 'red', line)}`);
    });
  }

  if (report.thresholds.length > 0) {
    out.push('', 'thresholds:');
    const rows = report.thresholds.map((t) => [
      t.ok ? '✓' : '✗', t.expression, `actual ${formatThresholdActual(t)}`, t.note !== undefined ? `(${t.note})` : '',
    ]);
    table(rows, () => false).forEach((line, i) => {
      const ok = (report.thresholds[i] as ThresholdResult).ok;
      out.push(`  ${paint(c, ok ? 'green' : 'red', line)}`);
    });
  }
  out.push('');
  const exit = report.exitCode === 0 ? paint(c, 'green', 'exit 0: all thresholds held')
    : report.exitCode === 99 ? paint(c, 'red', 'exit 99: a threshold failed')
      : paint(c, 'red', `exit ${report.exitCode}`);
  out.push(exit);
  return `${out.join('\n')}\n`;
}

export interface StatusInput {
  elapsedMs: number;
  devices: { connected: number; registered: number; target: number };
  reqPerSec: number;
  errors: number;
  /** p95 latency in ms over all operations so far; null before the first. */
  p95Ms: number | null;
}

export interface StatusOptions extends ColorOptions {
  /** TTY: returns `\r` + erase-line + text (no newline) to overwrite in place; else a plain line + `\n`. */
  tty: boolean;
  /** Terminal width: the TTY line is cut to `columns - 1` so it never wraps (and `\r` keeps working). */
  columns?: number;
}

/** The live status line, e.g. `00:01:05  devices 812/1000 registered, 830 connected  req/s 1234.5  errors 3  p95 42.1ms`. */
export function statusLine(s: StatusInput, options: StatusOptions): string {
  const c = options.color === true && options.tty;
  const p95 = s.p95Ms === null ? '-' : formatMs(s.p95Ms);
  const errors = `errors ${s.errors}`;
  const parts = [
    formatElapsed(s.elapsedMs),
    `devices ${s.devices.registered}/${s.devices.target} registered, ${s.devices.connected} connected`,
    `req/s ${formatRate(s.reqPerSec)}`,
    errors,
    `p95 ${p95}`,
  ];
  if (!options.tty) return `${parts.join('  ')}\n`;
  let text = parts.join('  ');
  if (options.columns !== undefined && options.columns > 1 && text.length > options.columns - 1) {
    text = text.slice(0, options.columns - 1);
  } else if (c && s.errors > 0) {
    text = text.replace(errors, paint(true, 'red', errors));
  }
  return `\r\x1b[2K${text}`;
}

/**
 * Status figures from two successive cumulative snapshots: req/s over the interval between them (over
 * the whole run when `previous` is null), errors so far, p95 over all operations so far.
 */
export function statusFromSnapshots(previous: MetricsSnapshot | null, current: MetricsSnapshot, target: number): StatusInput {
  const ops = current.counters['operations'] ?? 0;
  const prevOps = previous?.counters['operations'] ?? 0;
  const from = previous?.endedAt ?? current.startedAt;
  const seconds = (current.endedAt - from) / 1000;
  const all = new Histogram();
  for (const h of Object.values(current.histograms)) all.merge(Histogram.fromJSON(h));
  return {
    elapsedMs: current.endedAt - current.startedAt,
    devices: {
      connected: current.gauges['devices.connected'] ?? 0,
      registered: current.gauges['devices.registered'] ?? 0,
      target,
    },
    reqPerSec: seconds > 0 ? Math.max(0, ops - prevOps) / seconds : 0,
    errors: current.counters['errors'] ?? 0,
    p95Ms: all.count === 0 ? null : all.quantile(0.95),
  };
}
