/**
 * A mergeable latency histogram with logarithmic buckets (DDSketch, Masson et al., VLDB 2019).
 *
 * Why DDSketch rather than HDR:
 * - the guarantee is a *relative* error (1 % here) on every quantile, uniformly from 1 µs to 1 h, which
 *   is what latency percentiles need (1 % of 2 ms and 1 % of 20 s are both fine);
 * - the bucket of a value depends on the value alone (`ceil(log_γ v)`), so buckets of two histograms
 *   always line up: merging is a bucket-wise addition of integer counts, exactly equal to recording both
 *   inputs into one histogram — a sharded run (workers, processes, machines) equals a single run;
 * - the bucket count is fixed and small: γ = (1 + α) / (1 − α) with α = 0.01 gives 1 101 buckets for
 *   1 µs … 1 h (one Float64Array of 8.8 kB per histogram), no dependency and no configuration to
 *   mismatch. HDR with 2 significant digits would need ~2 300 counters for the same range and merges
 *   only between histograms of identical configuration.
 *
 * Values are in milliseconds. Values below 1 µs fall into an underflow bucket (reported as the exact
 * minimum, absolute error < 1 µs); values above 1 h into an overflow bucket (reported as the exact
 * maximum). `min` and `max` are exact; `sum` is kept as an integer count of microseconds, so it merges
 * exactly too (exact while the total stays below 2^53 µs ≈ 285 years of summed latency).
 *
 * Quantiles use the nearest-rank definition: `quantile(q)` estimates the smallest recorded value `x` such
 * that at least `q · count` values are ≤ `x` (see {@link nearestRank}); the estimate is within 1 %
 * (relative) of that exact value, and always within [min, max].
 */

/** Relative accuracy α of every quantile. */
export const RELATIVE_ACCURACY = 0.01;
/** Smallest value (ms) with relative accuracy: 1 µs. Smaller values go to the underflow bucket. */
export const MIN_TRACKED_MS = 0.001;
/** Largest value (ms) with relative accuracy: 1 h. Larger values go to the overflow bucket. */
export const MAX_TRACKED_MS = 3_600_000;
/** Version of {@link HistogramJSON}. */
export const HISTOGRAM_FORMAT_VERSION = 1;

const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const INV_LOG_GAMMA = 1 / Math.log(GAMMA);

function rawIndex(valueMs: number): number {
  return Math.ceil(Math.log(valueMs) * INV_LOG_GAMMA);
}

/** Index of the bucket holding 1 µs (−345). */
export const MIN_INDEX = rawIndex(MIN_TRACKED_MS);
/** Index of the bucket holding 1 h (755). */
export const MAX_INDEX = rawIndex(MAX_TRACKED_MS);
/** Number of log buckets (1 101), plus the underflow and overflow buckets. */
export const BUCKET_COUNT = MAX_INDEX - MIN_INDEX + 1;

/** The value reported for log bucket `index`: within α of every value in (γ^(i−1), γ^i]. */
function bucketValue(index: number): number {
  return (2 * Math.pow(GAMMA, index)) / (GAMMA + 1);
}

/**
 * The 1-based rank of the nearest-rank `q` quantile among `n` sorted values: `max(1, ceil(q·n))`, with
 * `q·n` snapped to the nearest integer when it is one up to floating-point noise (so 0.07 · 100 gives
 * rank 7, not 8).
 */
export function nearestRank(q: number, n: number): number {
  const x = q * n;
  const r = Math.round(x);
  const k = Math.abs(x - r) <= 1e-9 * Math.max(1, x) ? r : Math.ceil(x);
  return Math.min(n, Math.max(1, k));
}

/** The serialised form: compact (trimmed contiguous counts), stable (fixed key order), versioned. */
export interface HistogramJSON {
  /** Format version, {@link HISTOGRAM_FORMAT_VERSION}. */
  v: 1;
  type: 'ddsketch';
  /** Relative accuracy; only histograms of equal accuracy merge (always 0.01 in version 1). */
  alpha: number;
  count: number;
  /** Sum of all values in integer microseconds. */
  sumUs: number;
  /** Exact minimum / maximum in ms; null when empty. */
  min: number | null;
  max: number | null;
  /** Values below 1 µs. */
  underflow: number;
  /** Values above 1 h. */
  overflow: number;
  /** Bucket index of `counts[0]`. */
  offset: number;
  /** Counts of buckets `offset`, `offset + 1`, … (first and last non-zero). */
  counts: number[];
}

/** A serialised histogram that cannot be read. */
export class HistogramFormatError extends Error {
  override readonly name = 'HistogramFormatError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export class Histogram {
  private readonly buckets = new Float64Array(BUCKET_COUNT);
  /** Lowest / highest non-empty position in `buckets` (lo > hi when none). */
  private lo = BUCKET_COUNT;
  private hi = -1;
  private n = 0;
  private sumMicros = 0;
  private minMs = Infinity;
  private maxMs = -Infinity;
  private under = 0;
  private over = 0;

  /** Records one value in milliseconds. Throws a RangeError for negative or non-finite values. */
  record(valueMs: number): void {
    if (!Number.isFinite(valueMs) || valueMs < 0) {
      throw new RangeError(`histogram value must be a finite number ≥ 0 (ms), got ${valueMs}`);
    }
    this.n += 1;
    this.sumMicros += Math.round(valueMs * 1000);
    if (valueMs < this.minMs) this.minMs = valueMs;
    if (valueMs > this.maxMs) this.maxMs = valueMs;
    if (valueMs < MIN_TRACKED_MS) {
      this.under += 1;
      return;
    }
    if (valueMs > MAX_TRACKED_MS) {
      this.over += 1;
      return;
    }
    // Clamp against floating-point noise at the range ends.
    const pos = Math.min(BUCKET_COUNT - 1, Math.max(0, rawIndex(valueMs) - MIN_INDEX));
    this.addAt(pos, 1);
  }

  private addAt(pos: number, c: number): void {
    this.buckets[pos] = (this.buckets[pos] ?? 0) + c;
    if (pos < this.lo) this.lo = pos;
    if (pos > this.hi) this.hi = pos;
  }

  /** Adds every value of `other` into this histogram (exactly as if recorded here). Returns `this`. */
  merge(other: Histogram): this {
    if (other === this) {
      const copy = other.clone();
      return this.merge(copy);
    }
    if (other.n === 0) return this;
    this.n += other.n;
    this.sumMicros += other.sumMicros;
    if (other.minMs < this.minMs) this.minMs = other.minMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
    this.under += other.under;
    this.over += other.over;
    for (let pos = other.lo; pos <= other.hi; pos++) {
      const c = other.buckets[pos] ?? 0;
      if (c > 0) this.addAt(pos, c);
    }
    return this;
  }

  clone(): Histogram {
    return Histogram.fromJSON(this.toJSON());
  }

  get count(): number {
    return this.n;
  }

  /** Exact minimum in ms; 0 when empty (check `count`). */
  get min(): number {
    return this.n === 0 ? 0 : this.minMs;
  }

  /** Exact maximum in ms; 0 when empty. */
  get max(): number {
    return this.n === 0 ? 0 : this.maxMs;
  }

  /** Sum in ms (kept exactly in integer microseconds). */
  get sum(): number {
    return this.sumMicros / 1000;
  }

  /** Mean in ms; 0 when empty. */
  get mean(): number {
    return this.n === 0 ? 0 : this.sumMicros / 1000 / this.n;
  }

  /**
   * The nearest-rank quantile `q` ∈ [0, 1] in ms, within 1 % of the exact value (0 when empty).
   * `quantile(0)` is the exact minimum, `quantile(1)` the exact maximum.
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
    if (this.n === 0) return 0;
    if (q === 0) return this.minMs;
    if (q === 1) return this.maxMs;
    const rank = nearestRank(q, this.n);
    let seen = this.under;
    if (rank <= seen) return this.minMs;
    for (let pos = this.lo; pos <= this.hi; pos++) {
      seen += this.buckets[pos] ?? 0;
      if (rank <= seen) {
        const estimate = bucketValue(pos + MIN_INDEX);
        return Math.min(this.maxMs, Math.max(this.minMs, estimate));
      }
    }
    return this.maxMs; // in the overflow bucket
  }

  toJSON(): HistogramJSON {
    const counts: number[] = [];
    for (let pos = this.lo; pos <= this.hi; pos++) counts.push(this.buckets[pos] ?? 0);
    return {
      v: HISTOGRAM_FORMAT_VERSION,
      type: 'ddsketch',
      alpha: RELATIVE_ACCURACY,
      count: this.n,
      sumUs: this.sumMicros,
      min: this.n === 0 ? null : this.minMs,
      max: this.n === 0 ? null : this.maxMs,
      underflow: this.under,
      overflow: this.over,
      offset: this.hi < 0 ? 0 : this.lo + MIN_INDEX,
      counts,
    };
  }

  /** Reads a {@link HistogramJSON}, checking every field; throws {@link HistogramFormatError}. */
  static fromJSON(json: unknown): Histogram {
    const fail = (why: string): never => {
      throw new HistogramFormatError(`invalid histogram: ${why}`);
    };
    if (!isRecord(json)) return fail('not an object');
    if (json['v'] !== HISTOGRAM_FORMAT_VERSION) return fail(`unsupported version ${String(json['v'])}`);
    if (json['type'] !== 'ddsketch') return fail(`unsupported type ${String(json['type'])}`);
    if (json['alpha'] !== RELATIVE_ACCURACY) {
      return fail(`relative accuracy ${String(json['alpha'])} differs from ${RELATIVE_ACCURACY}`);
    }
    const { count, sumUs, underflow, overflow, offset, counts, min, max } = json;
    if (!isCount(count)) return fail('count must be an integer ≥ 0');
    if (!isCount(sumUs)) return fail('sumUs must be an integer ≥ 0');
    if (!isCount(underflow)) return fail('underflow must be an integer ≥ 0');
    if (!isCount(overflow)) return fail('overflow must be an integer ≥ 0');
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) return fail('offset must be an integer');
    if (!Array.isArray(counts)) return fail('counts must be an array');
    if (counts.length > 0 && (offset < MIN_INDEX || offset + counts.length - 1 > MAX_INDEX)) {
      return fail(`buckets ${offset}…${offset + counts.length - 1} outside ${MIN_INDEX}…${MAX_INDEX}`);
    }
    const h = new Histogram();
    let total = underflow + overflow;
    for (let i = 0; i < counts.length; i++) {
      const c: unknown = counts[i];
      if (!isCount(c)) return fail(`counts[${i}] must be an integer ≥ 0`);
      if (c > 0) h.addAt(offset - MIN_INDEX + i, c);
      total += c;
    }
    if (total !== count) return fail(`count ${count} differs from the bucket total ${total}`);
    if (count === 0) {
      if (min !== null || max !== null) return fail('min and max must be null when empty');
      if (sumUs !== 0) return fail('sumUs must be 0 when empty');
      return h;
    }
    if (typeof min !== 'number' || typeof max !== 'number' || !Number.isFinite(min) || !Number.isFinite(max)
      || min < 0 || min > max) {
      return fail('min and max must be finite numbers with 0 ≤ min ≤ max');
    }
    h.n = count;
    h.sumMicros = sumUs;
    h.minMs = min;
    h.maxMs = max;
    h.under = underflow;
    h.over = overflow;
    return h;
  }
}
