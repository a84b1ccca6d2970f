/**
 * k6-style thresholds: `<metric>.<stat> <op> <limit>[unit]`, e.g. `register.p99 < 500ms`,
 * `errors.rate < 0.01`, `notifications.count > 1000`, `expect.failed == 0`.
 *
 * Grammar (whitespace allowed between the parts):
 * - metric: any run of characters other than whitespace and `< > = !`; it may contain dots
 *   (`errors.4.04`, `devices.connected`).
 * - stat: the last dot-separated part when it is one of {@link STATS}. When the last part is not a stat
 *   the whole name is a counter or gauge and the stat is `count` (so `expect.failed == 0` and
 *   `errors.4.04 == 0` read the counter); when the last part *looks* like a stat (`p98`, `mean`,
 *   `median`, …) it is an "unknown stat" error rather than a silent counter lookup.
 * - op: `<` `<=` `>` `>=` `==` `!=`.
 * - limit: a number; for the duration stats (percentiles, avg, min, max) an optional unit `ms`, `s` or
 *   `m` (a bare number is ms). Units are refused for `count`, `rate` and `value`.
 *
 * Stats:
 * - histograms (operations): `p50 p90 p95 p99 p99.9 avg min max` in ms, `count` (successful
 *   operations), `rate` (count per second over the run);
 * - counters: `count`, `rate` (per second over the run), `value` (= count when no gauge has the name);
 * - gauges: `value`, and `count` when no counter has the same name (`devices.registered` is both: the
 *   counter of devices that ever registered, and with `.value` the gauge of those registered now);
 * - `errors.rate` is special, like k6's `http_req_failed`: the fraction of operations that failed,
 *   `errors / operations` (0 when there were no operations), not errors per second — use
 *   `errors.count` with a duration in mind, or a per-operation counter such as `register.errors.rate`,
 *   for a per-second figure.
 *
 * Missing data: an unknown metric reads as 0 for `count`, `rate` and `value` (so
 * `notifications.count > 1000` fails with actual 0 and `expect.failed == 0` holds); a duration stat of
 * an unknown or empty histogram has no value: the threshold fails with actual `null` and a "no data"
 * note (a latency limit with nothing measured must not pass silently).
 */
import { Histogram } from './histogram.js';
import type { MetricsSnapshot } from './registry.js';

export const STATS = ['p50', 'p90', 'p95', 'p99', 'p99.9', 'avg', 'min', 'max', 'count', 'rate', 'value'] as const;
export type ThresholdStat = (typeof STATS)[number];
export const OPERATORS = ['<', '<=', '>', '>=', '==', '!='] as const;
export type ThresholdOperator = (typeof OPERATORS)[number];
export type DurationUnit = 'ms' | 's' | 'm';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000 };
const QUANTILES: Partial<Record<ThresholdStat, number>> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99, 'p99.9': 0.999 };
const DURATION_STATS: ReadonlySet<ThresholdStat> = new Set(['p50', 'p90', 'p95', 'p99', 'p99.9', 'avg', 'min', 'max']);
/** Words that are taken as (unknown) stats rather than as the last part of a counter name. */
const STAT_LIKE = new Set(['mean', 'median', 'med', 'average', 'sum', 'total', 'minimum', 'maximum',
  'stddev', 'std', 'percentile', 'p', 'pct', 'rps']);

export function isDurationStat(stat: ThresholdStat): boolean {
  return DURATION_STATS.has(stat);
}

export interface ParsedThreshold {
  /** The expression as written. */
  expression: string;
  metric: string;
  stat: ThresholdStat;
  /** True when the expression named no stat (`expect.failed == 0`). */
  implicitStat: boolean;
  op: ThresholdOperator;
  /** The limit, in ms for duration stats. */
  limit: number;
  /** The unit as written, if any. */
  unit: DurationUnit | null;
}

/** A threshold that does not parse; `column` is 1-based within the expression. */
export class ThresholdParseError extends Error {
  override readonly name = 'ThresholdParseError';
  constructor(
    readonly expression: string,
    readonly column: number,
    readonly reason: string,
    /** Position in the scenario's `thresholds` list, when known. */
    readonly index?: number,
  ) {
    super(`${index !== undefined ? `thresholds[${index}]: ` : ''}col ${column}: ${reason}`);
  }
}

const OP_CHARS = new Set(['<', '>', '=', '!']);
const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);

/** Parses one threshold expression; throws {@link ThresholdParseError}. */
export function parseThreshold(expression: string, index?: number): ParsedThreshold {
  const fail = (col0: number, reason: string): never => {
    throw new ThresholdParseError(expression, col0 + 1, reason, index);
  };
  const s = expression;
  let i = 0;
  while (i < s.length && isSpace(s[i])) i++;
  if (i >= s.length) return fail(i, 'empty threshold (expected e.g. "register.p99 < 500ms")');

  // metric[.stat]
  const nameStart = i;
  while (i < s.length && !isSpace(s[i]) && !OP_CHARS.has(s[i] as string)) i++;
  const name = s.slice(nameStart, i);
  if (name.length === 0) return fail(nameStart, `expected a metric name before "${s[nameStart] ?? ''}"`);
  const { metric, stat, implicit } = splitStat(name, nameStart, fail);

  // operator
  while (i < s.length && isSpace(s[i])) i++;
  const opStart = i;
  while (i < s.length && OP_CHARS.has(s[i] as string)) i++;
  const opText = s.slice(opStart, i);
  if (opText.length === 0) {
    return fail(opStart, opStart >= s.length
      ? 'missing operator (expected one of < <= > >= == !=)'
      : `expected an operator (< <= > >= == !=), found "${s[opStart] ?? ''}"`);
  }
  if (!(OPERATORS as readonly string[]).includes(opText)) {
    return fail(opStart, `unknown operator "${opText}" (expected one of < <= > >= == !=)`);
  }
  const op = opText as ThresholdOperator;

  // limit
  while (i < s.length && isSpace(s[i])) i++;
  const numStart = i;
  const numMatch = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(s.slice(i));
  if (numMatch === null) {
    return fail(numStart, numStart >= s.length ? 'missing limit (a number)' : `expected a number, found "${s.slice(numStart)}"`);
  }
  let limit = Number(numMatch[0]);
  i += numMatch[0].length;
  if (!Number.isFinite(limit)) return fail(numStart, `limit ${numMatch[0]} is not a finite number`);

  // unit
  while (i < s.length && isSpace(s[i])) i++;
  let unit: DurationUnit | null = null;
  const unitMatch = /^[A-Za-zµ]+/.exec(s.slice(i));
  if (unitMatch !== null) {
    const u = unitMatch[0];
    if (u !== 'ms' && u !== 's' && u !== 'm') return fail(i, `unknown unit "${u}" (use ms, s or m)`);
    if (!isDurationStat(stat)) {
      return fail(i, `unit "${u}" needs a duration stat (p50 p90 p95 p99 p99.9 avg min max), not "${stat}"`
        + (implicit ? ` (no stat given: "${metric}" reads as a counter)` : ''));
    }
    unit = u;
    limit *= UNIT_MS[u];
    i += u.length;
  }
  while (i < s.length && isSpace(s[i])) i++;
  if (i < s.length) return fail(i, `unexpected "${s.slice(i)}" after the limit`);
  return { expression, metric, stat, implicitStat: implicit, op, limit, unit };
}

function splitStat(
  name: string,
  nameStart: number,
  fail: (col0: number, reason: string) => never,
): { metric: string; stat: ThresholdStat; implicit: boolean } {
  const expected = `expected one of ${STATS.join(' ')}`;
  // p<digits>[.<digits>] at the end: a percentile, known or not.
  const pct = /\.(p\d+(?:\.\d+)?)$/.exec(name);
  if (pct !== null && pct[1] !== undefined) {
    const metric = name.slice(0, pct.index);
    const statCol = nameStart + pct.index + 1;
    if (!(STATS as readonly string[]).includes(pct[1])) return fail(statCol, `unknown stat "${pct[1]}" (${expected})`);
    if (metric.length === 0) return fail(nameStart, 'missing metric name before the stat');
    return { metric, stat: pct[1] as ThresholdStat, implicit: false };
  }
  const dot = name.lastIndexOf('.');
  if (dot < 0) {
    if ((STATS as readonly string[]).includes(name) || STAT_LIKE.has(name)) {
      return fail(nameStart, `missing metric name before "${name}"`);
    }
    return { metric: name, stat: 'count', implicit: true };
  }
  const last = name.slice(dot + 1);
  const metric = name.slice(0, dot);
  const statCol = nameStart + dot + 1;
  if (last.length === 0) return fail(statCol, `missing stat after "${metric}." (${expected})`);
  if (metric.length === 0) return fail(nameStart, 'missing metric name before the stat');
  if ((STATS as readonly string[]).includes(last)) return { metric, stat: last as ThresholdStat, implicit: false };
  if (STAT_LIKE.has(last.toLowerCase()) || (STATS as readonly string[]).includes(last.toLowerCase()) || /^p\d/i.test(last)) {
    return fail(statCol, `unknown stat "${last}" (${expected})`);
  }
  return { metric: name, stat: 'count', implicit: true };
}

/** Parses a scenario's list; the first error thrown names its index (`thresholds[2]: col 14: …`). */
export function parseThresholds(expressions: readonly string[]): ParsedThreshold[] {
  return expressions.map((e, i) => parseThreshold(e, i));
}

export interface ThresholdResult {
  expression: string;
  metric: string;
  stat: ThresholdStat;
  op: ThresholdOperator;
  /** In ms for duration stats. */
  limit: number;
  /** null when there is no data for a duration stat. */
  actual: number | null;
  ok: boolean;
  /** Why the actual value is missing or how it was read (e.g. "no data for \"register\""). */
  note?: string;
}

interface StatValue {
  actual: number | null;
  note?: string;
}

function compare(actual: number, op: ThresholdOperator, limit: number): boolean {
  switch (op) {
    case '<': return actual < limit;
    case '<=': return actual <= limit;
    case '>': return actual > limit;
    case '>=': return actual >= limit;
    case '==': return actual === limit;
    case '!=': return actual !== limit;
  }
}

/** The value of one stat of one metric in a snapshot (see the module comment for the rules). */
export function statValue(
  snapshot: MetricsSnapshot,
  metric: string,
  stat: ThresholdStat,
  cache: Map<string, Histogram> = new Map(),
): StatValue {
  const seconds = Math.max(0, snapshot.endedAt - snapshot.startedAt) / 1000;
  const perSecond = (n: number): number => (seconds > 0 ? n / seconds : 0);
  const has = (r: Record<string, unknown>): boolean => Object.prototype.hasOwnProperty.call(r, metric);

  if (metric === 'errors' && stat === 'rate') {
    const ops = snapshot.counters['operations'] ?? 0;
    const errors = snapshot.counters['errors'] ?? 0;
    return ops > 0 ? { actual: errors / ops } : { actual: 0, note: 'no operations' };
  }
  if (stat === 'value' && has(snapshot.gauges)) return { actual: snapshot.gauges[metric] ?? 0 };
  if (has(snapshot.histograms)) {
    let h = cache.get(metric);
    if (h === undefined) {
      h = Histogram.fromJSON(snapshot.histograms[metric]);
      cache.set(metric, h);
    }
    const q = QUANTILES[stat];
    if (stat === 'count') return { actual: h.count };
    if (stat === 'rate') return { actual: perSecond(h.count) };
    if (stat === 'value') return { actual: null, note: `"${metric}" is an operation histogram; "value" applies to gauges and counters` };
    if (h.count === 0) return { actual: null, note: `no data for "${metric}" (no successful operation)` };
    if (q !== undefined) return { actual: h.quantile(q) };
    if (stat === 'avg') return { actual: h.mean };
    if (stat === 'min') return { actual: h.min };
    return { actual: h.max };
  }
  if (has(snapshot.counters)) {
    const n = snapshot.counters[metric] ?? 0;
    if (stat === 'count' || stat === 'value') return { actual: n };
    if (stat === 'rate') return { actual: perSecond(n) };
    return { actual: null, note: `"${metric}" is a counter; "${stat}" needs an operation histogram` };
  }
  if (has(snapshot.gauges)) {
    const n = snapshot.gauges[metric] ?? 0;
    if (stat === 'count' || stat === 'value') return { actual: n };
    return { actual: null, note: `"${metric}" is a gauge; "${stat}" needs a counter or an operation histogram` };
  }
  if (stat === 'count' || stat === 'rate' || stat === 'value') {
    return { actual: 0, note: `no data for "${metric}" (counts as 0)` };
  }
  return { actual: null, note: `no data for "${metric}"` };
}

/**
 * Evaluates thresholds against a (merged) snapshot. Strings are parsed first (a parse error throws —
 * validate scenarios with {@link parseThresholds} before running).
 */
export function evaluateThresholds(
  thresholds: readonly (string | ParsedThreshold)[],
  snapshot: MetricsSnapshot,
): ThresholdResult[] {
  const cache = new Map<string, Histogram>();
  return thresholds.map((t, i) => {
    const p = typeof t === 'string' ? parseThreshold(t, i) : t;
    const v = statValue(snapshot, p.metric, p.stat, cache);
    const result: ThresholdResult = {
      expression: p.expression,
      metric: p.metric,
      stat: p.stat,
      op: p.op,
      limit: p.limit,
      actual: v.actual,
      ok: v.actual !== null && compare(v.actual, p.op, p.limit),
    };
    if (v.note !== undefined) result.note = v.note;
    return result;
  });
}

/** 0 when every threshold held, 99 otherwise (as k6). */
export function thresholdExitCode(results: readonly ThresholdResult[]): 0 | 99 {
  return results.every((r) => r.ok) ? 0 : 99;
}
