import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetricsRegistry, type MetricsSnapshot } from '../../../simulators/metrics/registry.js';
import {
  evaluateThresholds, OPERATORS, parseThreshold, parseThresholds, STATS, statValue, thresholdExitCode,
  ThresholdParseError, type ParsedThreshold, type ThresholdOperator, type ThresholdStat,
} from '../../../simulators/metrics/thresholds.js';

describe('parseThreshold: every form', () => {
  const cases: [string, Partial<ParsedThreshold>][] = [
    ['register.p99 < 500ms', { metric: 'register', stat: 'p99', op: '<', limit: 500, unit: 'ms', implicitStat: false }],
    ['register.avg<=200', { metric: 'register', stat: 'avg', op: '<=', limit: 200, unit: null }],
    ['errors.rate < 0.01', { metric: 'errors', stat: 'rate', op: '<', limit: 0.01 }],
    ['notifications.count > 1000', { metric: 'notifications', stat: 'count', op: '>', limit: 1000 }],
    ['expect.failed == 0', { metric: 'expect.failed', stat: 'count', op: '==', limit: 0, implicitStat: true }],
    ['send.p95 < 1s', { metric: 'send', stat: 'p95', limit: 1000, unit: 's' }],
    ['read.max < 2s', { metric: 'read', stat: 'max', limit: 2000 }],
    ['firmware.p50 <= 1.5m', { metric: 'firmware', stat: 'p50', limit: 90_000, unit: 'm' }],
    ['register.p99.9 < 800', { metric: 'register', stat: 'p99.9', limit: 800 }],
    ['register.p90 >= 0.5 ms', { stat: 'p90', op: '>=', limit: 0.5 }],
    ['update.min > 0', { metric: 'update', stat: 'min', op: '>' }],
    ['read.count != 3', { stat: 'count', op: '!=', limit: 3 }],
    ['  devices.registered.value>=100  ', { metric: 'devices.registered', stat: 'value', op: '>=', limit: 100 }],
    ['errors.4.04 == 0', { metric: 'errors.4.04', stat: 'count', implicitStat: true }],
    ['errors.4.04.count < 5', { metric: 'errors.4.04', stat: 'count', implicitStat: false }],
    ['errors.timeout<1e2', { metric: 'errors.timeout', stat: 'count', limit: 100 }],
    ['register.errors.rate < .5', { metric: 'register.errors', stat: 'rate', limit: 0.5 }],
    ['timeouts == 0', { metric: 'timeouts', stat: 'count', implicitStat: true }],
    ['custom-op/x.p50<1', { metric: 'custom-op/x', stat: 'p50' }],
  ];
  it.each(cases)('%s', (text, expected) => {
    const p = parseThreshold(text);
    expect(p).toMatchObject(expected);
    expect(p.expression).toBe(text);
  });

  it('parses every stat × operator × unit combination, with any spacing', () => {
    const durationStats = STATS.filter((s) => ['p50', 'p90', 'p95', 'p99', 'p99.9', 'avg', 'min', 'max'].includes(s));
    const space = fc.constantFrom('', ' ', '  ', '\t');
    fc.assert(fc.property(
      fc.constantFrom('register', 'read', 'notifications', 'errors.4.04', 'a_b-c'),
      fc.constantFrom(...STATS),
      fc.constantFrom(...OPERATORS),
      fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.double({ min: 0, max: 1000, noNaN: true }).map((d) => Math.round(d * 1000) / 1000)),
      fc.constantFrom('', 'ms', 's', 'm'),
      space, space, space, space,
      (metric, stat, op, n, unit, s1, s2, s3, s4) => {
        const u = durationStats.includes(stat) ? unit : '';
        const text = `${s1}${metric}.${stat}${s2}${op}${s3}${n}${u}${s4}`;
        const p = parseThreshold(text);
        const factor = u === 's' ? 1000 : u === 'm' ? 60_000 : 1;
        expect(p).toMatchObject({ metric, stat, op, unit: u === '' ? null : u, implicitStat: false });
        expect(p.limit).toBeCloseTo(n * factor, 9);
      },
    ), { numRuns: 500 });
  });
});

describe('parseThreshold: errors carry the column', () => {
  const cases: [string, number, string][] = [
    ['register.p98 < 500ms', 10, 'unknown stat "p98"'],
    ['register.p99.5 < 1', 10, 'unknown stat "p99.5"'],
    ['register.mean < 1', 10, 'unknown stat "mean"'],
    ['register.median<1', 10, 'unknown stat "median"'],
    ['register. < 1', 10, 'missing stat'],
    ['.p99 < 1', 1, 'missing metric'],
    ['p99 < 1', 1, 'missing metric'],
    ['', 1, 'empty threshold'],
    ['   ', 4, 'empty threshold'],
    ['< 5', 1, 'expected a metric name'],
    ['register.p99', 13, 'missing operator'],
    ['register.p99 500', 14, 'expected an operator'],
    ['register.p99 = 500', 14, 'unknown operator "="'],
    ['register.p99 => 500', 14, 'unknown operator "=>"'],
    ['register.p99 <> 500', 14, 'unknown operator "<>"'],
    ['register.p99 <', 15, 'missing limit'],
    ['register.p99 < fast', 16, 'expected a number'],
    ['register.p99 < 500us', 19, 'unknown unit "us"'],
    ['register.p99 < 5h', 17, 'unknown unit "h"'],
    ['errors.rate < 1ms', 16, 'unit "ms" needs a duration stat'],
    ['expect.failed == 0s', 19, 'no stat given'],
    ['register.p99 < 500ms x', 22, 'unexpected "x"'],
    ['register.p99 < 500 ms ms', 23, 'unexpected "ms"'],
    ['register.p99 < 1e999', 16, 'not a finite number'],
  ];
  it.each(cases)('%s → col %i', (text, col, reason) => {
    let error: unknown;
    try {
      parseThreshold(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ThresholdParseError);
    const e = error as ThresholdParseError;
    expect(e.column).toBe(col);
    expect(e.reason).toContain(reason);
    expect(e.message).toBe(`col ${col}: ${e.reason}`);
    expect(e.expression).toBe(text);
  });

  it('names the index in a list: thresholds[2]: col 14: unknown stat "p98"', () => {
    expect(() => parseThresholds(['register.p99 < 500ms', 'errors.rate < 0.01', 'notification.p98 < 5']))
      .toThrow(/^thresholds\[2\]: col 14: unknown stat "p98" \(expected one of p50 p90 p95 p99 p99\.9 avg min max count rate value\)$/);
    let caught: unknown;
    try {
      parseThresholds(['a.count > 1', 'b.p97 < 1']);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ThresholdParseError);
    expect((caught as ThresholdParseError).index).toBe(1);
    expect((caught as ThresholdParseError).column).toBe(3);
    expect(parseThresholds(['a.count > 1', 'b.p95 < 1s'])).toHaveLength(2);
  });

  it('never throws anything but ThresholdParseError, and columns stay inside the text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (text) => {
      try {
        const p = parseThreshold(text);
        expect(STATS).toContain(p.stat);
        expect(OPERATORS).toContain(p.op);
        expect(Number.isFinite(p.limit)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(ThresholdParseError);
        const col = (e as ThresholdParseError).column;
        expect(col).toBeGreaterThanOrEqual(1);
        expect(col).toBeLessThanOrEqual(text.length + 1);
      }
    }), { numRuns: 1000 });
  });
});

/** A run of 10 s: 100 registrations of 1..100 ms, 5 failed reads, 2000 notifications, gauges. */
function runSnapshot(): MetricsSnapshot {
  let now = 0;
  const r = new MetricsRegistry({ now: () => now, startedAt: 0 });
  for (let i = 1; i <= 100; i++) r.recordSuccess('register', i);
  for (let i = 0; i < 95; i++) r.recordSuccess('read', 2);
  for (let i = 0; i < 4; i++) r.recordFailure('read', '4.04');
  r.recordFailure('read', 'timeout');
  for (let i = 0; i < 2000; i++) r.recordNotification(10);
  r.recordExpect('obs', true);
  r.recordExpect('obs', false);
  r.increment('devices.registered', 100);
  r.setGauge('devices.registered', 98);
  r.setGauge('devices.connected', 99);
  r.histogram('bootstrap'); // registered but empty
  now = 10_000;
  return r.snapshot();
}

describe('evaluateThresholds', () => {
  const snap = runSnapshot();
  const one = (expr: string) => evaluateThresholds([expr], snap)[0]!;

  it('reads histogram stats (ms) and rates per second', () => {
    expect(one('register.p50 < 51')).toMatchObject({ ok: true, metric: 'register', stat: 'p50', op: '<', limit: 51 });
    expect(Math.abs(one('register.p50 < 51').actual! - 50)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(one('register.p99 < 1s').actual! - 99)).toBeLessThanOrEqual(0.99);
    expect(one('register.p99.9 > 0').actual).toBe(100); // the 100th of 100 values, clamped to max
    expect(one('register.avg == 50.5')).toMatchObject({ actual: 50.5, ok: true });
    expect(one('register.min == 1')).toMatchObject({ actual: 1, ok: true });
    expect(one('register.max < 100ms')).toMatchObject({ actual: 100, ok: false });
    expect(one('register.max <= 0.1s')).toMatchObject({ actual: 100, ok: true, limit: 100 });
    expect(one('register.count == 100')).toMatchObject({ actual: 100, ok: true });
    expect(one('register.rate == 10')).toMatchObject({ actual: 10, ok: true });
    expect(one('read.count == 95')).toMatchObject({ actual: 95, ok: true }); // failures are not timed
  });

  it('errors.rate is the failed fraction of operations, not errors per second', () => {
    // 5 errors out of 100 + 100 operations
    expect(one('errors.rate < 0.01')).toMatchObject({ actual: 5 / 200, ok: false });
    expect(one('errors.rate <= 0.025')).toMatchObject({ ok: true });
    expect(one('errors.count == 5')).toMatchObject({ actual: 5, ok: true });
    expect(one('read.errors.rate == 0.5')).toMatchObject({ actual: 0.5, ok: true }); // per second
    expect(one('errors.4.04 == 4')).toMatchObject({ actual: 4, ok: true });
    expect(one('errors.timeout.count != 1')).toMatchObject({ actual: 1, ok: false });
    expect(one('timeouts == 1')).toMatchObject({ ok: true });
    const empty = new MetricsRegistry({ now: () => 5, startedAt: 0 }).snapshot();
    expect(evaluateThresholds(['errors.rate < 0.01'], empty)[0]).toMatchObject({ actual: 0, ok: true, note: 'no operations' });
  });

  it('reads counters, gauges and expects', () => {
    expect(one('notifications.count > 1000')).toMatchObject({ actual: 2000, ok: true });
    expect(one('notifications.rate >= 200')).toMatchObject({ actual: 200, ok: true });
    expect(one('notifications.bytes.count == 20000')).toMatchObject({ ok: true });
    expect(one('expect.failed == 0')).toMatchObject({ actual: 1, ok: false });
    expect(one('expect.passed.count >= 1')).toMatchObject({ actual: 1, ok: true });
    expect(one('devices.registered == 100')).toMatchObject({ actual: 100, ok: true }); // the counter
    expect(one('devices.registered.value == 98')).toMatchObject({ actual: 98, ok: true }); // the gauge
    expect(one('expect.failed.value == 1')).toMatchObject({ actual: 1, ok: true }); // a counter's value
    expect(one('devices.connected == 99')).toMatchObject({ actual: 99, ok: true }); // gauge
    expect(one('devices.connected.value > 50')).toMatchObject({ actual: 99, ok: true });
    expect(one('devices.connected.rate > 0')).toMatchObject({ actual: null, ok: false });
  });

  it('unknown metrics: 0 for count/rate/value, no data (failing) for duration stats', () => {
    expect(one('nothing.count > 1000')).toMatchObject({ actual: 0, ok: false, note: 'no data for "nothing" (counts as 0)' });
    expect(one('nothing.failed == 0')).toMatchObject({ actual: 0, ok: true });
    expect(one('nothing.rate < 1')).toMatchObject({ actual: 0, ok: true });
    expect(one('nothing.p99 < 500ms')).toMatchObject({ actual: null, ok: false, note: 'no data for "nothing"' });
    expect(one('nothing.p99 > 500ms')).toMatchObject({ actual: null, ok: false });
    expect(one('bootstrap.p95 < 1s')).toMatchObject({ actual: null, ok: false });
    expect(one('bootstrap.p95 < 1s').note).toContain('no data for "bootstrap"');
    expect(one('bootstrap.count == 0')).toMatchObject({ actual: 0, ok: true });
    expect(one('notifications.p95 < 1')).toMatchObject({ actual: null, ok: false });
    expect(one('notifications.p95 < 1').note).toContain('is a counter');
    expect(one('register.value > 1')).toMatchObject({ actual: null, ok: false });
  });

  it('every operator compares as documented', () => {
    const ops: [ThresholdOperator, boolean, boolean, boolean][] = [
      // op, actual<limit, actual==limit, actual>limit
      ['<', true, false, false], ['<=', true, true, false], ['>', false, false, true],
      ['>=', false, true, true], ['==', false, true, false], ['!=', true, false, true],
    ];
    for (const [op, below, equal, above] of ops) {
      expect(one(`register.count ${op} 101`).ok, `${op} below`).toBe(below);
      expect(one(`register.count ${op} 100`).ok, `${op} equal`).toBe(equal);
      expect(one(`register.count ${op} 99`).ok, `${op} above`).toBe(above);
    }
  });

  it('returns one result per threshold, in order, with the expression; exit code 99 on any failure', () => {
    const results = evaluateThresholds(['register.p99 < 500ms', parseThreshold('expect.failed == 0'), 'notifications.count > 1000'], snap);
    expect(results.map((r) => r.expression)).toEqual(['register.p99 < 500ms', 'expect.failed == 0', 'notifications.count > 1000']);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(thresholdExitCode(results)).toBe(99);
    expect(thresholdExitCode(results.filter((r) => r.ok))).toBe(0);
    expect(thresholdExitCode([])).toBe(0);
    expect(() => evaluateThresholds(['ok.count > 1', 'bad.p98 < 1'], snap)).toThrow('thresholds[1]: col 5');
  });

  it('statValue: rate is 0 over a zero-length run', () => {
    const r = new MetricsRegistry({ now: () => 0, startedAt: 0 });
    r.recordSuccess('read', 1);
    const s = r.snapshot();
    const stats: ThresholdStat[] = ['rate', 'count'];
    expect(stats.map((st) => statValue(s, 'read', st).actual)).toEqual([0, 1]);
  });
});
