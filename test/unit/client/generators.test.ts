import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { LwM2MError } from '../../../src/core/errors.js';
import {
  CsvError, GeneratorSpecError, MAX_CATCH_UP_STEPS, constant, createGenerator, createNumberGenerator, createPrng, csvColumn,
  fromCsv, hashSeed, parseCsv, parseCsvRecords, randomWalk, sample, sequence, sine, type Generator,
} from '../../../src/client/generators.js';

function take<T>(g: Generator<T>, n: number, t0 = 0, dtMs = 0): T[] {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(g.next(t0 + i * dtMs));
  return out;
}

function specError(fn: () => unknown): GeneratorSpecError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GeneratorSpecError) return e;
    throw new Error(`expected a GeneratorSpecError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a GeneratorSpecError, nothing was thrown');
}

function csvError(fn: () => unknown): CsvError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CsvError) return e;
    throw new Error(`expected a CsvError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a CsvError, nothing was thrown');
}

describe('seeded PRNG', () => {
  it('is reproducible from a seed and differs between seeds', () => {
    const a = createPrng(42);
    const b = createPrng(42);
    const c = createPrng(43);
    const xa = Array.from({ length: 100 }, () => a.next());
    const xb = Array.from({ length: 100 }, () => b.next());
    const xc = Array.from({ length: 100 }, () => c.next());
    expect(xa).toEqual(xb);
    expect(xa).not.toEqual(xc);
    for (const x of xa) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it('accepts string seeds and spreads values over [0, 1)', () => {
    const p = createPrng('device-17');
    const xs = Array.from({ length: 10_000 }, () => p.next());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
    const buckets = new Array<number>(10).fill(0);
    for (const x of xs) buckets[Math.floor(x * 10)] = (buckets[Math.floor(x * 10)] ?? 0) + 1;
    for (const b of buckets) expect(b).toBeGreaterThan(850);
    expect(createPrng('device-17').next()).toBe(xs[0]);
  });

  it('hashSeed is stable FNV-1a and separates its parts', () => {
    expect(hashSeed('')).toBe(0x811c9dc5);
    expect(hashSeed('a')).toBe(0xe40c292c);
    expect(hashSeed('ab', 'c')).not.toBe(hashSeed('a', 'bc'));
    expect(hashSeed('run', 1)).toBe(hashSeed('run', '1'));
  });
});

describe('constant and sample', () => {
  it('always returns the value', () => {
    const clock = new ManualClock(5_000);
    const g = constant(3.5);
    expect(sample(g, clock)).toBe(3.5);
    clock.advance(1_000_000);
    expect(sample(g, clock)).toBe(3.5);
  });
});

describe('randomWalk', () => {
  const base = { start: 50, step: 2, min: 0, max: 100 };

  it('is reproducible from a seed and depends on it', () => {
    expect(take(randomWalk({ ...base, seed: 7 }), 500)).toEqual(take(randomWalk({ ...base, seed: 7 }), 500));
    expect(take(randomWalk({ ...base, seed: 7 }), 500)).not.toEqual(take(randomWalk({ ...base, seed: 8 }), 500));
  });

  it('starts at start, stays within [min, max] over 10 000 steps and moves by at most step', () => {
    const g = randomWalk({ start: 1, step: 3, min: 0, max: 10, seed: 'bounded' });
    const xs = take(g, 10_001);
    expect(xs[0]).toBe(1);
    let touchedLow = false;
    let touchedHigh = false;
    let lo = Infinity;
    let hi = -Infinity;
    let maxJump = 0;
    for (let i = 1; i < xs.length; i++) {
      const x = xs[i] as number;
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      maxJump = Math.max(maxJump, Math.abs(x - (xs[i - 1] as number)));
      if (x < 1) touchedLow = true;
      if (x > 9) touchedHigh = true;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(10);
    expect(maxJump).toBeLessThanOrEqual(3 + 1e-9);
    // It explores the whole range (reflection, not sticking to a bound).
    expect(touchedLow && touchedHigh).toBe(true);
    expect(new Set(xs).size).toBeGreaterThan(5_000);
  });

  it('stays in range even when step is larger than the range', () => {
    const xs = take(randomWalk({ start: 0.5, step: 50, min: 0, max: 1, seed: 3 }), 10_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(1);
    // …without sticking to a bound (the internal state never leaves the range either).
    expect(xs.filter((x) => x === 0 || x === 1).length).toBeLessThan(100);
  });

  it('rounds to decimals (integers with 0)', () => {
    const xs = take(randomWalk({ ...base, seed: 1, decimals: 0 }), 2_000);
    expect(xs.every((x) => Number.isInteger(x))).toBe(true);
    const ys = take(randomWalk({ ...base, seed: 1, decimals: 1 }), 200);
    for (const y of ys) expect(Math.round(y * 10) / 10).toBe(y);
  });

  it('with intervalS its value is a function of clock time, not of how often it is read', () => {
    const a = randomWalk({ ...base, seed: 11, intervalS: 10, startMs: 0 });
    const b = randomWalk({ ...base, seed: 11, intervalS: 10, startMs: 0 });
    for (let t = 0; t <= 600_000; t += 1_000) a.next(t); // read every second
    expect(b.next(600_000)).toBe(a.next(600_000)); // read once at the end
    // Reading twice at the same time gives the same value; within one interval it does not move.
    expect(a.next(605_000)).toBe(a.next(609_999));
    const later = new Set<number>();
    for (let k = 61; k < 81; k++) later.add(a.next(k * 10_000));
    expect(later.size).toBeGreaterThan(15); // one step per interval
  });

  it('bounds its catch-up work after a very long pause', () => {
    const g = randomWalk({ ...base, seed: 2, intervalS: 0.001, startMs: 0 });
    const t0 = performance.now();
    const v = g.next(1e12); // 1e12 steps due: only MAX_CATCH_UP_STEPS are walked
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(100);
    expect(MAX_CATCH_UP_STEPS).toBeLessThanOrEqual(1_000_000);
  });

  it('refuses bad options naming the field', () => {
    expect(specError(() => randomWalk({ ...base, max: -1 })).field).toBe('max');
    expect(specError(() => randomWalk({ ...base, start: 200 })).field).toBe('start');
    expect(specError(() => randomWalk({ ...base, step: -1 })).field).toBe('step');
    expect(specError(() => randomWalk({ ...base, intervalS: 0 })).field).toBe('intervalS');
    expect(specError(() => randomWalk({ ...base, min: Number.NaN })).field).toBe('min');
    const e = specError(() => randomWalk({ ...base, decimals: 1.5 }));
    expect(e.code).toBe('LWM2M_BAD_VALUE');
    expect(e.message).toMatch(/^decimals: /);
  });
});

describe('sine', () => {
  it('follows the clock: mid at t=0, max at a quarter period, periodic', () => {
    const g = sine({ min: 10, max: 30, periodS: 60 });
    expect(g.next(0)).toBeCloseTo(20, 9);
    expect(g.next(15_000)).toBeCloseTo(30, 9);
    expect(g.next(45_000)).toBeCloseTo(10, 9);
    for (let t = 0; t < 120_000; t += 7_000) expect(g.next(t + 60_000)).toBeCloseTo(g.next(t), 9);
  });

  it('phase is a fraction of the period', () => {
    expect(sine({ min: 0, max: 2, periodS: 100, phase: 0.25 }).next(0)).toBeCloseTo(2, 9);
    expect(specError(() => sine({ min: 0, max: 2, periodS: 100, phase: 1 })).field).toBe('phase');
  });

  it('noise is seeded and clamped to [min, max]', () => {
    const a = take(sine({ min: 0, max: 1, periodS: 10, noise: 0.5, seed: 5 }), 2_000, 0, 37);
    const b = take(sine({ min: 0, max: 1, periodS: 10, noise: 0.5, seed: 5 }), 2_000, 0, 37);
    expect(a).toEqual(b);
    for (const x of a) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(1);
    }
  });

  it('refuses a non-positive period and max < min', () => {
    expect(specError(() => sine({ min: 0, max: 1, periodS: 0 })).field).toBe('periodS');
    expect(specError(() => sine({ min: 2, max: 1, periodS: 5 })).field).toBe('max');
  });
});

describe('sequence', () => {
  it('plays values per call, looping by default', () => {
    expect(take(sequence({ values: ['a', 'b', 'c'] }), 7)).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  });

  it('holds the last value without loop', () => {
    expect(take(sequence({ values: [1, 2, 3], loop: false }), 5)).toEqual([1, 2, 3, 3, 3]);
  });

  it('with intervalS follows time from startMs', () => {
    const g = sequence({ values: [1, 2, 3], intervalS: 10, startMs: 1_000 });
    expect(g.next(0)).toBe(1);
    expect(g.next(10_999)).toBe(1);
    expect(g.next(11_000)).toBe(2);
    expect(g.next(31_000)).toBe(1);
  });

  it('refuses an empty list', () => {
    expect(specError(() => sequence({ values: [] })).field).toBe('values');
  });
});

describe('CSV parser', () => {
  it('handles quoted fields, commas, doubled quotes, CRLF and embedded line breaks', () => {
    const text = '\uFEFFname,value\r\n"Smith, J",1.5\r\n"say ""hi""","multi\r\nline"\r\n\r\nlast,\r\n';
    expect(parseCsv(text)).toEqual([
      ['name', 'value'],
      ['Smith, J', '1.5'],
      ['say "hi"', 'multi\r\nline'],
      ['last', ''],
    ]);
  });

  it('accepts LF and lone CR line ends and no final line break', () => {
    expect(parseCsv('a,b\nc,d\re,f')).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f']]);
    expect(parseCsv('')).toEqual([]);
    expect(parseCsv('\n\n')).toEqual([]);
  });

  it('records line and column of every field (after quoted line breaks too)', () => {
    const recs = parseCsvRecords('a,"x\ny",z\nq,r');
    expect(recs.map((r) => r.line)).toEqual([1, 3]);
    const z = recs[0]?.fields[2];
    expect(z).toMatchObject({ value: 'z', line: 2, col: 4 });
    expect(recs[1]?.fields[1]).toMatchObject({ value: 'r', line: 3, col: 3 });
  });

  it('names line:col for an unterminated quote (where it opened)', () => {
    const e = csvError(() => parseCsv('a,b\n1,"open\n2,3\n', { source: 'data.csv' }));
    expect(e.code).toBe('LWM2M_BAD_VALUE');
    expect([e.line, e.col]).toEqual([2, 3]);
    expect(e.message).toMatch(/^data\.csv:2:3: unterminated quoted field/);
  });

  it('names line:col for text after a closing quote and for a stray quote', () => {
    const e1 = csvError(() => parseCsv('a,b\r\n"x"y,2'));
    expect([e1.line, e1.col]).toEqual([2, 4]);
    expect(e1.message).toMatch(/^2:4: unexpected "y" after a closing quote/);
    const e2 = csvError(() => parseCsv('a,b\n1,2\n3,4"5'));
    expect([e2.line, e2.col]).toEqual([3, 4]);
    expect(e2.message).toMatch(/^3:4: a quote inside an unquoted field/);
  });

  it('supports another delimiter and refuses a bad one', () => {
    expect(parseCsv('a;b\n"1;2";3', { delimiter: ';' })).toEqual([['a', 'b'], ['1;2', '3']]);
    expect(specError(() => parseCsv('a', { delimiter: '"' })).field).toBe('delimiter');
  });
});

describe('fromCsv', () => {
  const text = 'time,temp,label\n0,21.5,a\n60, 22 ,b\n120,-1e1,c\n';

  it('plays a column by header name as numbers', () => {
    expect(take(fromCsv({ text, column: 'temp' }), 4)).toEqual([21.5, 22, -10, 21.5]);
    expect(take(fromCsv({ text, column: 'label', as: 'string', loop: false }), 4)).toEqual(['a', 'b', 'c', 'c']);
  });

  it('plays a column by index, with or without header', () => {
    expect(take(fromCsv({ text: '1,2\n3,4\n', column: 1 }), 2)).toEqual([2, 4]);
    expect(take(fromCsv({ text, column: 0, header: true, intervalS: 60, startMs: 0 }), 3, 0, 60_000)).toEqual([0, 60, 120]);
  });

  it('accepts pre-split rows', () => {
    expect(take(fromCsv({ rows: [['v'], ['1'], ['2']], column: 'v' }), 3)).toEqual([1, 2, 1]);
  });

  it('names line:col of a non-numeric cell', () => {
    const e = csvError(() => fromCsv({ text: 'time,temp\n0,21\n60,warm\n', column: 'temp', source: 'temps.csv' }));
    expect([e.line, e.col]).toEqual([3, 4]);
    expect(e.message).toBe('temps.csv:3:4: "warm" is not a number');
  });

  it('names the row of a missing cell and an unknown column', () => {
    const e = csvError(() => csvColumn({ text: 'a,b\n1,2\n3\n', column: 'b' }));
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/row has 1 field\(s\), column "b" \(#2\) is missing/);
    const e2 = csvError(() => csvColumn({ text: 'a,b\n1,2\n', column: 'c' }));
    expect(e2.message).toMatch(/^1:1: no column "c" in the header \(columns: "a", "b"\)/);
    expect(csvError(() => csvColumn({ text: 'a,b\n', column: 'a' })).message).toMatch(/no data rows/);
  });
});

describe('createGenerator (JSON-like specs)', () => {
  it('builds every type', () => {
    const clock = new ManualClock(1_000_000);
    expect(createGenerator({ type: 'constant', value: 'on' }, { clock }).next(0)).toBe('on');
    const walk = createNumberGenerator({ type: 'randomWalk', start: 5, step: 1, min: 0, max: 10 }, { seed: 9, clock });
    const same = randomWalk({ start: 5, step: 1, min: 0, max: 10, seed: 9 });
    expect(take(walk, 50)).toEqual(take(same, 50));
    const s = createNumberGenerator({ type: 'sine', min: 0, max: 10, periodS: 40, decimals: 2 });
    expect(s.next(10_000)).toBe(10);
    const q = createGenerator({ type: 'sequence', values: [1, 'two', true], intervalS: 5 }, { clock });
    expect(sample(q, clock)).toBe(1);
    clock.advance(5_000);
    expect(sample(q, clock)).toBe('two'); // counted from clock.now() at creation
    clock.advance(5_000);
    expect(sample(q, clock)).toBe(true);
    const c = createNumberGenerator({ type: 'csv', text: 'v\n3\n4\n', column: 'v', loop: false });
    expect(take(c, 3)).toEqual([3, 4, 4]);
  });

  it('uses the spec seed over the option seed', () => {
    const spec = { type: 'randomWalk', start: 5, step: 1, min: 0, max: 10, seed: 'own' };
    expect(take(createNumberGenerator(spec, { seed: 1 }), 30)).toEqual(take(createNumberGenerator(spec, { seed: 2 }), 30));
    const noSeed = { type: 'randomWalk', start: 5, step: 1, min: 0, max: 10 };
    expect(take(createNumberGenerator(noSeed, { seed: 1 }), 30)).not.toEqual(take(createNumberGenerator(noSeed, { seed: 2 }), 30));
  });

  it('names the offending field', () => {
    expect(specError(() => createGenerator(null)).field).toBe('');
    expect(specError(() => createGenerator({ type: 'gauss' })).message).toMatch(/^type: must be one of constant, randomWalk, sine, sequence, csv/);
    expect(specError(() => createGenerator({ type: 'randomWalk', start: 1, step: 1, min: 0 })).message).toBe('max: is required');
    expect(specError(() => createGenerator({ type: 'randomWalk', start: '1', step: 1, min: 0, max: 2 })).field).toBe('start');
    expect(specError(() => createGenerator({ type: 'sine', min: 0, max: 1, periodS: 1, period: 2 })).message).toMatch(/^period: unknown field/);
    expect(specError(() => createGenerator({ type: 'sequence', values: [1, null] })).field).toBe('values[1]');
    expect(specError(() => createGenerator({ type: 'sequence', values: [1], loop: 'yes' })).field).toBe('loop');
    expect(specError(() => createGenerator({ type: 'csv', text: 'a\n1' })).field).toBe('column');
    expect(specError(() => createGenerator({ type: 'constant', value: { x: 1 } })).field).toBe('value');
    expect(specError(() => createNumberGenerator({ type: 'sequence', values: [1, 'x'] })).field).toBe('values[1]');
    expect(specError(() => createNumberGenerator({ type: 'constant', value: 'x' })).field).toBe('value');
    const e = specError(() => createGenerator({ type: 'randomWalk', start: 1, step: 1, min: 5, max: 0 }));
    expect(e).toBeInstanceOf(LwM2MError);
    expect(e.code).toBe('LWM2M_BAD_VALUE');
  });

  it('reports CSV content errors from specs with line:col', () => {
    const e = csvError(() => createGenerator({ type: 'csv', text: 'v\n1\nx\n', column: 'v', source: 'f.csv' }));
    expect(e.message).toBe('f.csv:3:1: "x" is not a number');
  });
});
