import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_COUNT, Histogram, HistogramFormatError, MAX_INDEX, MAX_TRACKED_MS, MIN_INDEX, MIN_TRACKED_MS,
  nearestRank, RELATIVE_ACCURACY, type HistogramJSON,
} from '../../../simulators/metrics/histogram.js';

/** Latencies spread evenly over the log scale 1 µs … 1 h, plus round numbers. */
const tracked = fc.oneof(
  fc.double({ min: -3, max: Math.log10(MAX_TRACKED_MS), noNaN: true }).map((e) => Math.min(MAX_TRACKED_MS, Math.max(MIN_TRACKED_MS, 10 ** e))),
  fc.integer({ min: 1, max: 60_000 }),
  fc.constantFrom(MIN_TRACKED_MS, MAX_TRACKED_MS, 1, 10, 100, 1000),
);
/** Any valid input, including 0, sub-µs and over-1-h values. */
const anyValue = fc.oneof(
  tracked,
  fc.constantFrom(0, 0.0004, MAX_TRACKED_MS * 2, 1e9),
  fc.double({ min: 0, max: 0.001, noNaN: true }),
);

function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[nearestRank(q, sorted.length) - 1] as number;
}

function fill(values: readonly number[]): Histogram {
  const h = new Histogram();
  for (const v of values) h.record(v);
  return h;
}

// Relative accuracy α, with room only for floating-point noise at bucket boundaries.
const TOLERANCE = RELATIVE_ACCURACY * (1 + 1e-9);

describe('Histogram: range and memory', () => {
  it('has a bounded number of buckets covering 1 µs … 1 h', () => {
    expect(MIN_INDEX).toBe(-345);
    expect(MAX_INDEX).toBe(755);
    expect(BUCKET_COUNT).toBe(1101);
    const h = fill([MIN_TRACKED_MS, MAX_TRACKED_MS]);
    const json = h.toJSON();
    expect(json.underflow).toBe(0);
    expect(json.overflow).toBe(0);
    expect(json.counts.length).toBe(BUCKET_COUNT);
    expect(json.offset).toBe(MIN_INDEX);
  });

  it('keeps the serialised size bounded whatever is recorded', () => {
    fc.assert(fc.property(fc.array(anyValue, { maxLength: 300 }), (values) => {
      const json = fill(values).toJSON();
      expect(json.counts.length).toBeLessThanOrEqual(BUCKET_COUNT);
      if (json.counts.length > 0) {
        expect(json.counts[0]).toBeGreaterThan(0);
        expect(json.counts[json.counts.length - 1]).toBeGreaterThan(0);
      }
    }));
  });

  it('puts values below 1 µs in the underflow and above 1 h in the overflow bucket', () => {
    const h = fill([0, 0.0005, 5, MAX_TRACKED_MS + 1, 7_200_000]);
    const json = h.toJSON();
    expect(json.underflow).toBe(2);
    expect(json.overflow).toBe(2);
    expect(json.counts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(h.quantile(0.2)).toBe(0); // underflow reports the exact minimum
    expect(h.quantile(0.4)).toBe(0);
    expect(h.quantile(1)).toBe(7_200_000);
    expect(h.quantile(0.8)).toBe(7_200_000); // overflow reports the exact maximum
  });
});

describe('Histogram: quantiles', () => {
  it('nearestRank follows the nearest-rank definition without floating-point drift', () => {
    expect(nearestRank(0.07, 100)).toBe(7); // 0.07 * 100 = 7.000000000000001
    expect(nearestRank(0.57, 100)).toBe(57);
    expect(nearestRank(0.5, 3)).toBe(2);
    expect(nearestRank(0.5, 4)).toBe(2);
    expect(nearestRank(0.99, 100)).toBe(99);
    expect(nearestRank(0.999, 1000)).toBe(999);
    expect(nearestRank(0.999, 10)).toBe(10);
    expect(nearestRank(0, 10)).toBe(1);
    expect(nearestRank(1, 10)).toBe(10);
    expect(nearestRank(0.01, 1)).toBe(1);
  });

  it('estimates p50 p90 p95 p99 p99.9 within 1 % of the exact quantile', () => {
    fc.assert(fc.property(fc.array(tracked, { minLength: 1, maxLength: 2000 }), (values) => {
      const h = fill(values);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
        const exact = exactQuantile(sorted, q);
        const estimate = h.quantile(q);
        expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(exact * TOLERANCE);
      }
    }), { numRuns: 200 });
  });

  it('estimates any quantile within 1 %, and never outside [min, max]', () => {
    fc.assert(fc.property(
      fc.array(tracked, { minLength: 1, maxLength: 500 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (values, q) => {
        const h = fill(values);
        const sorted = [...values].sort((a, b) => a - b);
        const exact = exactQuantile(sorted, q);
        const estimate = h.quantile(q);
        expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(exact * TOLERANCE);
        expect(estimate).toBeGreaterThanOrEqual(sorted[0] as number);
        expect(estimate).toBeLessThanOrEqual(sorted[sorted.length - 1] as number);
      },
    ), { numRuns: 300 });
  });

  it('is not exact (buckets really are 1 % wide), but is close', () => {
    // 1000 distinct values 100.0, 100.1, …: p50 is the 500th (149.9); the bucket gives ≠ but within 1 %.
    const values = Array.from({ length: 1000 }, (_, i) => 100 + i / 10);
    const h = fill(values);
    const p50 = h.quantile(0.5);
    expect(p50).not.toBe(149.9);
    expect(Math.abs(p50 - 149.9) / 149.9).toBeLessThanOrEqual(RELATIVE_ACCURACY);
    expect(h.toJSON().counts.length).toBeLessThan(120); // ~log(200/100)/log(γ) ≈ 35 buckets
  });

  it('gives exact min, max, count, sum and mean', () => {
    fc.assert(fc.property(fc.array(anyValue, { minLength: 1, maxLength: 300 }), (values) => {
      const h = fill(values);
      expect(h.count).toBe(values.length);
      expect(h.min).toBe(Math.min(...values));
      expect(h.max).toBe(Math.max(...values));
      expect(h.quantile(0)).toBe(h.min);
      expect(h.quantile(1)).toBe(h.max);
      const sumUs = values.reduce((a, v) => a + Math.round(v * 1000), 0);
      expect(h.sum).toBe(sumUs / 1000);
      const exactMean = values.reduce((a, v) => a + v, 0) / values.length;
      expect(Math.abs(h.mean - exactMean)).toBeLessThanOrEqual(0.0005 + exactMean * 1e-12);
    }));
  });

  it('reports 0 for an empty histogram and rejects bad input', () => {
    const h = new Histogram();
    expect([h.count, h.min, h.max, h.mean, h.sum, h.quantile(0.99)]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(() => h.record(-1)).toThrow(RangeError);
    expect(() => h.record(Number.NaN)).toThrow(RangeError);
    expect(() => h.record(Infinity)).toThrow(RangeError);
    expect(() => h.quantile(1.5)).toThrow(RangeError);
    expect(() => h.quantile(Number.NaN)).toThrow(RangeError);
    expect(h.count).toBe(0);
  });
});

describe('Histogram: merge', () => {
  it('merge(A, B) is exactly the histogram of A ∪ B', () => {
    fc.assert(fc.property(fc.array(anyValue, { maxLength: 300 }), fc.array(anyValue, { maxLength: 300 }), (a, b) => {
      const merged = fill(a).merge(fill(b));
      const single = fill([...a, ...b]);
      expect(merged.toJSON()).toEqual(single.toJSON());
      expect(JSON.stringify(merged)).toBe(JSON.stringify(single));
    }), { numRuns: 200 });
  });

  it('equals a single run for any sharding of the values (commutative, associative)', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(anyValue, fc.integer({ min: 0, max: 4 })), { maxLength: 400 }),
      (tagged) => {
        const shards = [0, 1, 2, 3, 4].map((s) => fill(tagged.filter(([, t]) => t === s).map(([v]) => v)));
        const forward = new Histogram();
        for (const s of shards) forward.merge(s);
        const backward = new Histogram();
        for (const s of [...shards].reverse()) backward.merge(s);
        const tree = shards[0]!.clone().merge(shards[1]!).merge(shards[2]!.clone().merge(shards[3]!.clone().merge(shards[4]!)));
        const single = fill(tagged.map(([v]) => v)).toJSON();
        expect(forward.toJSON()).toEqual(single);
        expect(backward.toJSON()).toEqual(single);
        expect(tree.toJSON()).toEqual(single);
      },
    ), { numRuns: 100 });
  });

  it('merging with itself doubles every count; merging an empty one changes nothing', () => {
    const h = fill([1, 2, 3, 0, 5e6]);
    const before = h.toJSON();
    h.merge(new Histogram());
    expect(h.toJSON()).toEqual(before);
    h.merge(h);
    const after = h.toJSON();
    expect(after.count).toBe(10);
    expect(after.counts).toEqual(before.counts.map((c) => c * 2));
    expect(after.underflow).toBe(2);
    expect(after.overflow).toBe(2);
    expect(after.sumUs).toBe(before.sumUs * 2);
    expect(new Histogram().merge(fill([7])).toJSON()).toEqual(fill([7]).toJSON());
  });
});

describe('Histogram: serialisation', () => {
  it('round-trips through JSON text exactly', () => {
    fc.assert(fc.property(fc.array(anyValue, { maxLength: 300 }), (values) => {
      const h = fill(values);
      const text = JSON.stringify(h.toJSON());
      const back = Histogram.fromJSON(JSON.parse(text));
      expect(JSON.stringify(back.toJSON())).toBe(text);
      for (const q of [0.5, 0.9, 0.99]) expect(back.quantile(q)).toBe(h.quantile(q));
      // the restored histogram keeps merging exactly
      expect(back.merge(fill([3])).toJSON()).toEqual(fill([...values, 3]).toJSON());
    }));
  });

  it('has a compact, stable, versioned shape', () => {
    const json = fill([1, 1, 1.5, 0]).toJSON();
    expect(Object.keys(json)).toEqual(['v', 'type', 'alpha', 'count', 'sumUs', 'min', 'max', 'underflow', 'overflow', 'offset', 'counts']);
    expect(json).toMatchObject({ v: 1, type: 'ddsketch', alpha: 0.01, count: 4, sumUs: 3500, min: 0, max: 1.5, underflow: 1, overflow: 0, offset: 0 });
    // 1 → bucket 0, 1.5 → bucket ceil(ln 1.5 / ln γ) = 21: 22 counts
    expect(json.counts).toHaveLength(22);
    expect(json.counts[0]).toBe(2);
    expect(json.counts[21]).toBe(1);
    expect(new Histogram().toJSON()).toEqual({
      v: 1, type: 'ddsketch', alpha: 0.01, count: 0, sumUs: 0, min: null, max: null, underflow: 0, overflow: 0, offset: 0, counts: [],
    });
  });

  it('rejects malformed input with HistogramFormatError', () => {
    const good: HistogramJSON = fill([1, 2, 3]).toJSON();
    const bad: unknown[] = [
      null, [], 'x',
      { ...good, v: 2 },
      { ...good, type: 'hdr' },
      { ...good, alpha: 0.02 },
      { ...good, count: 4 },
      { ...good, count: -1 },
      { ...good, sumUs: 1.5 },
      { ...good, counts: [...good.counts.slice(0, -1), -1] },
      { ...good, counts: 'nope' },
      { ...good, offset: MAX_INDEX },
      { ...good, offset: MIN_INDEX - 1 },
      { ...good, offset: 0.5 },
      { ...good, min: 5, max: 1 },
      { ...good, min: null },
      { ...good, min: -1 },
      { ...fill([]).toJSON(), min: 0 },
    ];
    for (const b of bad) expect(() => Histogram.fromJSON(b), JSON.stringify(b)).toThrow(HistogramFormatError);
    expect(() => Histogram.fromJSON(good)).not.toThrow();
  });
});
