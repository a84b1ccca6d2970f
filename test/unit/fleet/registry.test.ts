import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Histogram } from '../../../simulators/metrics/histogram.js';
import {
  checkSnapshot, Counters, Gauges, mergeSnapshots, MetricsRegistry, SnapshotError, type MetricsSnapshot,
} from '../../../simulators/metrics/registry.js';

/** One thing a device or worker can report. */
type Event =
  | { kind: 'ok'; op: string; ms: number }
  | { kind: 'fail'; op: string; code: string }
  | { kind: 'notify'; bytes: number }
  | { kind: 'expect'; name: string; passed: boolean }
  | { kind: 'count'; name: string; by: number }
  | { kind: 'gauge'; name: string; delta: number };

const opName = fc.constantFrom('register', 'update', 'read', 'observe', 'send', 'firmware', 'custom-op');
const event: fc.Arbitrary<Event> = fc.oneof(
  fc.record({ kind: fc.constant('ok' as const), op: opName, ms: fc.double({ min: 0, max: 1e7, noNaN: true }) }),
  fc.record({ kind: fc.constant('fail' as const), op: opName, code: fc.constantFrom('4.04', '4.00', '5.03', 'timeout', 'reset') }),
  fc.record({ kind: fc.constant('notify' as const), bytes: fc.integer({ min: 0, max: 2000 }) }),
  fc.record({ kind: fc.constant('expect' as const), name: fc.constantFrom('observe /3/0/9', 'write', 'fw'), passed: fc.boolean() }),
  fc.record({ kind: fc.constant('count' as const), name: fc.constantFrom('devices.started', 'devices.registered', 'sends'), by: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ kind: fc.constant('gauge' as const), name: fc.constantFrom(Gauges.devicesConnected, Gauges.devicesRegistered), delta: fc.integer({ min: -3, max: 3 }) }),
);

function apply(r: MetricsRegistry, events: readonly Event[]): void {
  for (const e of events) {
    switch (e.kind) {
      case 'ok': r.recordSuccess(e.op, e.ms); break;
      case 'fail': r.recordFailure(e.op, e.code); break;
      case 'notify': r.recordNotification(e.bytes); break;
      case 'expect': r.recordExpect(e.name, e.passed); break;
      case 'count': r.increment(e.name, e.by); break;
      case 'gauge': r.addGauge(e.name, e.delta); break;
    }
  }
}

function snapshotOf(events: readonly Event[], startedAt: number, endedAt: number): MetricsSnapshot {
  const r = new MetricsRegistry({ now: () => endedAt, startedAt });
  apply(r, events);
  return r.snapshot();
}

const timedSnapshot = fc.record({
  events: fc.array(event, { maxLength: 60 }),
  start: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 }),
  length: fc.integer({ min: 0, max: 600_000 }),
}).map(({ events, start, length }) => snapshotOf(events, start, start + length));

describe('MetricsRegistry', () => {
  it('records successes in histograms and failures in counters, by the documented names', () => {
    let now = 1000;
    const r = new MetricsRegistry({ now: () => now });
    r.recordSuccess('register', 12);
    r.recordSuccess('register', 30);
    r.recordFailure('register', '4.03');
    r.recordFailure('read', 'timeout');
    r.recordNotification(120);
    r.recordNotification(80);
    r.recordExpect('observe /3/0/9', true);
    r.recordExpect('observe /3/0/9', false);
    r.increment(Counters.devicesStarted, 2);
    r.setGauge(Gauges.devicesConnected, 5);
    r.addGauge(Gauges.devicesConnected, -2);
    now = 4000;
    const s = r.snapshot();
    expect(s.startedAt).toBe(1000);
    expect(s.endedAt).toBe(4000);
    expect(Object.keys(s.histograms)).toEqual(['read', 'register']);
    expect(s.histograms['register']?.count).toBe(2);
    expect(s.histograms['read']?.count).toBe(0); // exists, so the operation shows with its errors
    expect(s.counters).toEqual({
      'devices.started': 2,
      errors: 2,
      'errors.4.03': 1,
      'errors.timeout': 1,
      'expect.failed': 1,
      'expect.passed': 1,
      notifications: 2,
      'notifications.bytes': 200,
      operations: 4,
      'read.errors': 1,
      'register.errors': 1,
      timeouts: 1,
    });
    expect(Object.keys(s.counters)).toEqual(Object.keys(s.counters).sort());
    expect(s.gauges).toEqual({ 'devices.connected': 3 });
    expect(s.expects).toEqual({ 'observe /3/0/9': { passed: 1, failed: 1 } });
    expect(r.counter('operations')).toBe(4);
    expect(r.gauge('devices.connected')).toBe(3);
    expect(r.histogram('register').quantile(1)).toBe(30);
  });

  it('freezes endedAt with markEnded and restarts with markStarted', () => {
    let now = 10;
    const r = new MetricsRegistry({ now: () => now });
    now = 50;
    r.markEnded();
    now = 90;
    expect(r.snapshot()).toMatchObject({ startedAt: 10, endedAt: 50 });
    r.markStarted(60);
    expect(r.snapshot()).toMatchObject({ startedAt: 60, endedAt: 90 });
  });

  it('keeps counters and gauges integral so merges stay exact', () => {
    const r = new MetricsRegistry({ now: () => 0 });
    expect(() => r.increment('x', 0.5)).toThrow(RangeError);
    expect(() => r.increment('x', -1)).toThrow(RangeError);
    expect(() => r.setGauge('g', 1.5)).toThrow(RangeError);
    expect(() => r.addGauge('g', Number.NaN)).toThrow(RangeError);
    expect(() => r.increment('has space')).toThrow(RangeError);
    expect(() => r.recordFailure('read', '')).toThrow(RangeError);
    expect(() => r.histogram('')).toThrow(RangeError);
    expect(() => r.recordSuccess('read', -5)).toThrow(RangeError);
    expect(r.snapshot().counters).toEqual({});
  });
});

describe('mergeSnapshots', () => {
  it('is commutative', () => {
    fc.assert(fc.property(timedSnapshot, timedSnapshot, (a, b) => {
      expect(JSON.stringify(mergeSnapshots([a, b]))).toBe(JSON.stringify(mergeSnapshots([b, a])));
    }), { numRuns: 200 });
  });

  it('is associative, and a list merge equals the pairwise merges', () => {
    fc.assert(fc.property(timedSnapshot, timedSnapshot, timedSnapshot, (a, b, c) => {
      const left = mergeSnapshots([mergeSnapshots([a, b]), c]);
      const right = mergeSnapshots([a, mergeSnapshots([b, c])]);
      const flat = mergeSnapshots([a, b, c]);
      expect(JSON.stringify(left)).toBe(JSON.stringify(right));
      expect(JSON.stringify(flat)).toBe(JSON.stringify(left));
    }), { numRuns: 200 });
  });

  it('a sharded run equals a single run (same events spread over workers)', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(event, fc.integer({ min: 0, max: 3 })), { maxLength: 150 }),
      (tagged) => {
        const shards = [0, 1, 2, 3].map((w) => snapshotOf(tagged.filter(([, t]) => t === w).map(([e]) => e), 1000, 61_000));
        const single = snapshotOf(tagged.map(([e]) => e), 1000, 61_000);
        const merged = mergeSnapshots(shards);
        expect(merged.counters).toEqual(single.counters);
        expect(merged.gauges).toEqual(single.gauges);
        expect(merged.expects).toEqual(single.expects);
        expect(merged.histograms).toEqual(single.histograms);
        expect(JSON.stringify(merged)).toBe(JSON.stringify(single));
      },
    ), { numRuns: 150 });
  });

  it('takes the earliest start and the latest end, and sums gauges', () => {
    const a = snapshotOf([{ kind: 'gauge', name: 'devices.connected', delta: 3 }], 100, 500);
    const b = snapshotOf([{ kind: 'gauge', name: 'devices.connected', delta: 4 }], 50, 400);
    const m = mergeSnapshots([a, b]);
    expect([m.startedAt, m.endedAt]).toEqual([50, 500]);
    expect(m.gauges).toEqual({ 'devices.connected': 7 });
    expect(mergeSnapshots([a])).toEqual(a);
  });

  it('merges histograms bucket by bucket', () => {
    const a = snapshotOf([{ kind: 'ok', op: 'register', ms: 10 }, { kind: 'ok', op: 'register', ms: 20 }], 0, 1000);
    const b = snapshotOf([{ kind: 'ok', op: 'register', ms: 400 }], 0, 1000);
    const h = Histogram.fromJSON(mergeSnapshots([a, b]).histograms['register']);
    expect(h.count).toBe(3);
    expect(h.max).toBe(400);
    expect(h.min).toBe(10);
  });

  it('rejects an empty list and malformed snapshots', () => {
    const good = snapshotOf([{ kind: 'ok', op: 'read', ms: 1 }], 0, 10);
    expect(() => mergeSnapshots([])).toThrow(SnapshotError);
    const bad: unknown[] = [
      null,
      { ...good, version: 2 },
      { ...good, endedAt: -1 },
      { ...good, counters: { x: 1.5 } },
      { ...good, counters: { x: -1 } },
      { ...good, gauges: { x: 'a' } },
      { ...good, histograms: { read: { v: 1 } } },
      { ...good, expects: { e: { passed: 1 } } },
    ];
    for (const b of bad) {
      expect(() => checkSnapshot(b), JSON.stringify(b)).toThrow(SnapshotError);
      expect(() => mergeSnapshots([good, b as MetricsSnapshot])).toThrow(SnapshotError);
    }
    expect(checkSnapshot(JSON.parse(JSON.stringify(good)))).toEqual(good);
  });
});
