/**
 * Value generators for simulated sensors (battery level, signal strength, temperature, …).
 *
 * Everything here is deterministic: randomness comes from a seeded PRNG (sfc32, seeded through
 * splitmix32) and time comes from the caller (`next(nowMs)`, normally `clock.now()` of an injected
 * {@link Clock}). The same seed and the same sequence of `next` times always give the same values, so a
 * fleet run is reproducible and a unit test can assert exact numbers.
 *
 * Scenario files describe generators as plain JSON-like specs (`{ type: 'randomWalk', min: 0, … }`);
 * {@link createGenerator} validates one and names the offending field in its error
 * ({@link GeneratorSpecError.field}), so the scenario loader can point at the YAML line.
 */
import type { Clock } from '../core/clock.js';
import { LwM2MError } from '../core/errors.js';
import { CsvDelimiterError, CsvError, parseCsvRecords as coreParseCsvRecords, type CsvParseOptions, type CsvRecord } from '../core/csv.js';

// ---- seeded PRNG ---------------------------------------------------------------------------------

/** A source of uniformly distributed numbers in [0, 1). */
export interface Prng {
  next(): number;
}

/** 32-bit FNV-1a over the parts (joined with NUL): turns `('fleet', 42, '/3/0/9')` into a seed. */
export function hashSeed(...parts: readonly (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.map(String).join('\u0000');
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter, 128-bit state) seeded from a number or string.
 * Integer seeds are used modulo 2^32; strings and non-integers go through {@link hashSeed}.
 */
export function createPrng(seed: number | string): Prng {
  const s32 = typeof seed === 'number' && Number.isInteger(seed) ? seed >>> 0 : hashSeed(seed);
  const init = splitmix32(s32);
  let a = init();
  let b = init();
  let c = init();
  let d = init() | 1;
  const next32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) next32(); // let the state mix before the first output
  return { next: () => next32() / 4294967296 };
}

// ---- generators ----------------------------------------------------------------------------------

/** A value that depends on time (and, for random ones, on a seed). `nowMs` is `clock.now()`. */
export interface Generator<T> {
  next(nowMs: number): T;
}

export type GeneratedValue = number | string | boolean;

/** Samples a generator at the clock's current time. */
export function sample<T>(gen: Generator<T>, clock: Clock): T {
  return gen.next(clock.now());
}

export function isGenerator(v: unknown): v is Generator<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { next?: unknown }).next === 'function';
}

/** A validation failure of a generator spec or options; `field` is the dotted path (`values[2]`). */
export class GeneratorSpecError extends LwM2MError {
  readonly field: string;
  constructor(field: string, detail: string) {
    super('BAD_VALUE', detail, field === '' ? {} : { location: field });
    this.field = field;
  }
}

/** At most this many random-walk steps are computed per call (a long pause only replays the last ones). */
export const MAX_CATCH_UP_STEPS = 100_000;

function finite(v: number, field: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new GeneratorSpecError(field, `must be a finite number, got ${String(v)}`);
}

function positive(v: number, field: string): void {
  finite(v, field);
  if (v <= 0) throw new GeneratorSpecError(field, `must be > 0, got ${v}`);
}

function checkDecimals(v: number | undefined, field = 'decimals'): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 0 || v > 12) throw new GeneratorSpecError(field, `must be an integer in 0..12, got ${String(v)}`);
}

function roundTo(v: number, decimals: number | undefined): number {
  if (decimals === undefined) return v;
  const f = 10 ** decimals;
  const r = Math.round(v * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

function clamp(v: number, min: number, max: number): number {
  return v < min ? min : v > max ? max : v;
}

/** Tracks "how many intervals have elapsed since the origin" (the origin is the first call unless given). */
class Ticker {
  private origin: number | undefined;
  constructor(private readonly intervalMs: number | undefined, startMs: number | undefined) {
    this.origin = startMs;
  }
  /** Ticks elapsed at `nowMs`, or undefined in per-call mode (no interval). */
  ticks(nowMs: number): number | undefined {
    this.origin ??= nowMs;
    if (this.intervalMs === undefined) return undefined;
    return nowMs <= this.origin ? 0 : Math.floor((nowMs - this.origin) / this.intervalMs);
  }
}

/** Always `value`. */
export function constant<T>(value: T): Generator<T> {
  return { next: () => value };
}

export interface RandomWalkOptions {
  /** First value; must lie in [min, max]. */
  start: number;
  /** Largest change per step: each step adds a uniform value in [-step, +step]. */
  step: number;
  min: number;
  max: number;
  seed?: number | string;
  /**
   * Seconds per step: the walk takes one step per elapsed interval since `startMs` (or the first call),
   * so its value is a function of clock time. Without it, every `next` call after the first takes a step.
   */
  intervalS?: number;
  /** Round outputs to this many decimals (0 = integers). The walk itself keeps full precision. */
  decimals?: number;
  /** Time origin for `intervalS` (default: the time of the first `next` call). */
  startMs?: number;
}

/**
 * A bounded random walk: uniform steps in [-step, step], reflected at `min`/`max` so it never sticks to a
 * bound, and always within [min, max] (even when `step` exceeds the range).
 */
export function randomWalk(opts: RandomWalkOptions): Generator<number> {
  finite(opts.min, 'min');
  finite(opts.max, 'max');
  if (opts.max < opts.min) throw new GeneratorSpecError('max', `must be ≥ min (${opts.min}), got ${opts.max}`);
  finite(opts.start, 'start');
  if (opts.start < opts.min || opts.start > opts.max) {
    throw new GeneratorSpecError('start', `must lie in [min, max] = [${opts.min}, ${opts.max}], got ${opts.start}`);
  }
  finite(opts.step, 'step');
  if (opts.step < 0) throw new GeneratorSpecError('step', `must be ≥ 0, got ${opts.step}`);
  if (opts.intervalS !== undefined) positive(opts.intervalS, 'intervalS');
  checkDecimals(opts.decimals);
  const { min, max, step, decimals } = opts;
  const prng = createPrng(opts.seed ?? 0);
  const ticker = new Ticker(opts.intervalS === undefined ? undefined : opts.intervalS * 1000, opts.startMs);
  let value = opts.start;
  let taken = 0;
  let calls = 0;
  const span = max - min;
  const stepOnce = (): void => {
    const v = value + (prng.next() * 2 - 1) * step;
    if (span === 0) return;
    // Reflect at the bounds (fold with period 2·span: right even when a step is larger than the range).
    let u = (v - min) % (2 * span);
    if (u < 0) u += 2 * span;
    if (u > span) u = 2 * span - u;
    value = clamp(min + u, min, max);
  };
  return {
    next(nowMs: number): number {
      const due = ticker.ticks(nowMs) ?? calls++;
      if (due > taken) {
        let n = due - taken;
        // Bounded catch-up: after a very long pause only the last MAX_CATCH_UP_STEPS steps are walked.
        if (n > MAX_CATCH_UP_STEPS) n = MAX_CATCH_UP_STEPS;
        for (let i = 0; i < n; i++) stepOnce();
        taken = due;
      }
      return clamp(roundTo(value, decimals), min, max);
    },
  };
}

export interface SineOptions {
  min: number;
  max: number;
  /** Period in seconds. */
  periodS: number;
  /** Phase as a fraction of the period, in [0, 1) (0.25 starts at the maximum). Default 0. */
  phase?: number;
  /** Adds uniform noise in [-noise, +noise] (seeded), clamped to [min, max]. Default 0. */
  noise?: number;
  seed?: number | string;
  decimals?: number;
}

/**
 * `mid + amp·sin(2π(t/periodS + phase))` where t is the absolute clock time in seconds: two devices with
 * the same options read the same value at the same instant, whenever they were created.
 */
export function sine(opts: SineOptions): Generator<number> {
  finite(opts.min, 'min');
  finite(opts.max, 'max');
  if (opts.max < opts.min) throw new GeneratorSpecError('max', `must be ≥ min (${opts.min}), got ${opts.max}`);
  positive(opts.periodS, 'periodS');
  const phase = opts.phase ?? 0;
  finite(phase, 'phase');
  if (phase < 0 || phase >= 1) throw new GeneratorSpecError('phase', `must be a fraction of the period in [0, 1), got ${phase}`);
  const noise = opts.noise ?? 0;
  finite(noise, 'noise');
  if (noise < 0) throw new GeneratorSpecError('noise', `must be ≥ 0, got ${noise}`);
  checkDecimals(opts.decimals);
  const { min, max, periodS, decimals } = opts;
  const mid = (min + max) / 2;
  const amp = (max - min) / 2;
  const prng = noise > 0 ? createPrng(opts.seed ?? 0) : undefined;
  return {
    next(nowMs: number): number {
      const cycles = (nowMs / 1000 / periodS + phase) % 1;
      let v = mid + amp * Math.sin(2 * Math.PI * cycles);
      if (prng) v += (prng.next() * 2 - 1) * noise;
      return clamp(roundTo(v, decimals), min, max);
    },
  };
}

export interface SequenceOptions<T> {
  values: readonly T[];
  /** Seconds per value; without it, each `next` call moves to the next value. */
  intervalS?: number;
  /** Start again after the last value (default true); otherwise hold the last value. */
  loop?: boolean;
  /** Time origin for `intervalS` (default: the time of the first `next` call). */
  startMs?: number;
}

/** Plays `values` in order. */
export function sequence<T>(opts: SequenceOptions<T>): Generator<T> {
  if (!Array.isArray(opts.values) || opts.values.length === 0) {
    throw new GeneratorSpecError('values', 'must be a non-empty list');
  }
  if (opts.intervalS !== undefined) positive(opts.intervalS, 'intervalS');
  const values = [...opts.values];
  const loop = opts.loop ?? true;
  const ticker = new Ticker(opts.intervalS === undefined ? undefined : opts.intervalS * 1000, opts.startMs);
  let calls = 0;
  return {
    next(nowMs: number): T {
      const i = ticker.ticks(nowMs) ?? calls++;
      const idx = loop ? i % values.length : Math.min(i, values.length - 1);
      return values[idx] as T;
    },
  };
}

// ---- CSV (the parser lives in src/core/csv.ts) -----------------------------------------------------

export { CsvError, type CsvField, type CsvParseOptions, type CsvRecord } from '../core/csv.js';

/** {@link coreParseCsvRecords}; a bad delimiter is a {@link GeneratorSpecError} on `delimiter`. */
export function parseCsvRecords(text: string, options: CsvParseOptions = {}): CsvRecord[] {
  try {
    return coreParseCsvRecords(text, options);
  } catch (e) {
    if (e instanceof CsvDelimiterError) throw new GeneratorSpecError('delimiter', e.detail.replace(/^delimiter: /, ''));
    throw e;
  }
}

/** {@link parseCsvRecords} as plain rows of strings. */
export function parseCsv(text: string, options: CsvParseOptions = {}): string[][] {
  return parseCsvRecords(text, options).map((r) => r.fields.map((f) => f.value));
}

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

export interface CsvGeneratorOptions {
  /** CSV text (give this or `rows`). */
  text?: string;
  /** Already split rows (give this or `text`); positions in errors are row and field numbers. */
  rows?: readonly (readonly string[])[];
  /** A header name (the first row is then a header) or a 0-based column index. */
  column: string | number;
  /** Whether the first row is a header. Default: true when `column` is a name, else false. */
  header?: boolean;
  /** Convert cells to numbers (default) or keep the strings. */
  as?: 'number' | 'string';
  intervalS?: number;
  loop?: boolean;
  startMs?: number;
  /** File name for error messages. */
  source?: string;
  delimiter?: string;
}

/**
 * Plays one column of a CSV table, row by row (like {@link sequence}). Every cell is checked up front:
 * a missing cell or (with `as: 'number'`) a non-numeric one throws {@link CsvError} at its line:col.
 */
export function fromCsv(opts: CsvGeneratorOptions & { as?: 'number' }): Generator<number>;
export function fromCsv(opts: CsvGeneratorOptions & { as: 'string' }): Generator<string>;
export function fromCsv(opts: CsvGeneratorOptions): Generator<number> | Generator<string>;
export function fromCsv(opts: CsvGeneratorOptions): Generator<number> | Generator<string> {
  const values = csvColumn(opts);
  const seqOpts = { intervalS: opts.intervalS, loop: opts.loop, startMs: opts.startMs };
  return typeof values[0] === 'number'
    ? sequence<number>({ values: values as number[], ...seqOpts })
    : sequence<string>({ values: values as string[], ...seqOpts });
}

/** The cells of one CSV column, converted and checked (see {@link fromCsv}). */
export function csvColumn(opts: CsvGeneratorOptions): number[] | string[] {
  const src = opts.source;
  let records: CsvRecord[];
  if (opts.text !== undefined && opts.rows !== undefined) throw new GeneratorSpecError('text', 'give either text or rows, not both');
  if (typeof opts.text === 'string') {
    records = parseCsvRecords(opts.text, { ...(src !== undefined ? { source: src } : {}), ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}) });
  } else if (Array.isArray(opts.rows)) {
    records = opts.rows.map((row, r) => {
      if (!Array.isArray(row)) throw new GeneratorSpecError(`rows[${r}]`, 'must be a list of strings');
      return {
        line: r + 1,
        fields: row.map((v, c) => {
          if (typeof v !== 'string') throw new GeneratorSpecError(`rows[${r}][${c}]`, `must be a string, got ${typeof v}`);
          return { value: v, line: r + 1, col: c + 1, quoted: false };
        }),
      };
    });
  } else {
    throw new GeneratorSpecError('text', 'a CSV generator needs text (a string) or rows (a list of lists)');
  }
  const column = opts.column;
  const header = opts.header ?? typeof column === 'string';
  if (typeof column === 'string' && !header) throw new GeneratorSpecError('column', 'a column name needs a header row (header: true)');
  let index: number;
  let body = records;
  if (header) {
    const head = records[0];
    if (!head) throw new CsvError('the CSV is empty (no header row)', 1, 1, src);
    body = records.slice(1);
    if (typeof column === 'string') {
      const found = head.fields.findIndex((f) => f.value.trim() === column);
      if (found < 0) {
        throw new CsvError(`no column "${column}" in the header (columns: ${head.fields.map((f) => JSON.stringify(f.value.trim())).join(', ')})`, head.line, 1, src);
      }
      index = found;
    } else {
      index = column;
    }
  } else {
    index = column as number;
  }
  if (!Number.isInteger(index) || index < 0) throw new GeneratorSpecError('column', `must be a header name or a 0-based index, got ${String(column)}`);
  if (body.length === 0) throw new CsvError('the CSV has no data rows', records[0]?.line ?? 1, 1, src);
  const as = opts.as ?? 'number';
  if (as !== 'number' && as !== 'string') throw new GeneratorSpecError('as', `must be "number" or "string", got ${String(as)}`);
  const cells = body.map((rec) => {
    const f = rec.fields[index];
    if (!f) {
      const last = rec.fields[rec.fields.length - 1];
      throw new CsvError(
        `row has ${rec.fields.length} field(s), column ${typeof column === 'string' ? `"${column}" (#${index + 1})` : `#${index + 1}`} is missing`,
        rec.line, last ? last.col + last.value.length : 1, src,
      );
    }
    return f;
  });
  if (as === 'string') return cells.map((f) => f.value);
  return cells.map((f) => {
    const t = f.value.trim();
    if (!NUMBER.test(t)) throw new CsvError(`${JSON.stringify(f.value)} is not a number`, f.line, f.col, src);
    return Number(t);
  });
}

// ---- specs ---------------------------------------------------------------------------------------

/** The JSON-like generator specs scenario files use. */
export type GeneratorSpec =
  | { type: 'constant'; value: GeneratedValue }
  | ({ type: 'randomWalk' } & Omit<RandomWalkOptions, 'startMs'>)
  | ({ type: 'sine' } & SineOptions)
  | ({ type: 'sequence' } & Omit<SequenceOptions<GeneratedValue>, 'startMs'>)
  | ({ type: 'csv' } & Omit<CsvGeneratorOptions, 'startMs'>);

export type GeneratorType = GeneratorSpec['type'];

export interface CreateGeneratorOptions {
  /** Seed for random generators whose spec has no `seed` of its own (per device: `hashSeed(run, index)`). */
  seed?: number | string;
  /** Interval-based generators start counting at `clock.now()` when given. */
  clock?: Clock;
}

const FIELDS: Record<GeneratorType, readonly string[]> = {
  constant: ['value'],
  randomWalk: ['start', 'step', 'min', 'max', 'seed', 'intervalS', 'decimals'],
  sine: ['min', 'max', 'periodS', 'phase', 'noise', 'seed', 'decimals'],
  sequence: ['values', 'intervalS', 'loop'],
  csv: ['text', 'rows', 'column', 'header', 'as', 'intervalS', 'loop', 'source', 'delimiter'],
};

type Spec = Readonly<Record<string, unknown>>;

function isPlainObject(v: unknown): v is Spec {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function reqNumber(spec: Spec, k: string): number {
  const v = spec[k];
  if (v === undefined) throw new GeneratorSpecError(k, 'is required');
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new GeneratorSpecError(k, `must be a finite number, got ${JSON.stringify(v)}`);
  return v;
}

function optNumber(spec: Spec, k: string): number | undefined {
  return spec[k] === undefined ? undefined : reqNumber(spec, k);
}

function optBoolean(spec: Spec, k: string): boolean | undefined {
  const v = spec[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new GeneratorSpecError(k, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function optString(spec: Spec, k: string): string | undefined {
  const v = spec[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new GeneratorSpecError(k, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function optSeed(spec: Spec, fallback: number | string | undefined): number | string | undefined {
  const v = spec.seed;
  if (v === undefined) return fallback;
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string') return v;
  throw new GeneratorSpecError('seed', `must be a number or a string, got ${JSON.stringify(v)}`);
}

function isGeneratedValue(v: unknown): v is GeneratedValue {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean';
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Validates a JSON-like spec and builds its generator. Errors are {@link GeneratorSpecError}s whose
 * `field` names the bad field (`type`, `max`, `values[3]`) and whose message says what was expected.
 */
export function createGenerator(spec: unknown, options: CreateGeneratorOptions = {}): Generator<GeneratedValue> {
  if (!isPlainObject(spec)) throw new GeneratorSpecError('', `a generator spec must be an object with a "type", got ${JSON.stringify(spec)}`);
  const type = spec.type;
  if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) {
    throw new GeneratorSpecError('type', `must be one of ${Object.keys(FIELDS).join(', ')}, got ${JSON.stringify(type)}`);
  }
  const t = type as GeneratorType;
  const allowed = FIELDS[t];
  for (const k of Object.keys(spec)) {
    if (k !== 'type' && !allowed.includes(k)) {
      throw new GeneratorSpecError(k, `unknown field for a ${t} generator (allowed: ${allowed.join(', ')})`);
    }
  }
  const startMs = options.clock?.now();
  switch (t) {
    case 'constant': {
      if (!isGeneratedValue(spec.value)) throw new GeneratorSpecError('value', `must be a number, string or boolean, got ${JSON.stringify(spec.value)}`);
      return constant(spec.value);
    }
    case 'randomWalk':
      return randomWalk(withoutUndefined({
        start: reqNumber(spec, 'start'), step: reqNumber(spec, 'step'), min: reqNumber(spec, 'min'), max: reqNumber(spec, 'max'),
        seed: optSeed(spec, options.seed), intervalS: optNumber(spec, 'intervalS'), decimals: optNumber(spec, 'decimals'), startMs,
      }));
    case 'sine':
      return sine(withoutUndefined({
        min: reqNumber(spec, 'min'), max: reqNumber(spec, 'max'), periodS: reqNumber(spec, 'periodS'), phase: optNumber(spec, 'phase'),
        noise: optNumber(spec, 'noise'), seed: optSeed(spec, options.seed), decimals: optNumber(spec, 'decimals'),
      }));
    case 'sequence': {
      const values = spec.values;
      if (!Array.isArray(values) || values.length === 0) throw new GeneratorSpecError('values', 'must be a non-empty list');
      values.forEach((v, i) => {
        if (!isGeneratedValue(v)) throw new GeneratorSpecError(`values[${i}]`, `must be a number, string or boolean, got ${JSON.stringify(v)}`);
      });
      return sequence<GeneratedValue>(withoutUndefined({
        values: values as GeneratedValue[], intervalS: optNumber(spec, 'intervalS'), loop: optBoolean(spec, 'loop'), startMs,
      }));
    }
    case 'csv': {
      const column = spec.column;
      if (column === undefined) throw new GeneratorSpecError('column', 'is required (a header name or a 0-based index)');
      if (typeof column !== 'string' && typeof column !== 'number') {
        throw new GeneratorSpecError('column', `must be a header name or a 0-based index, got ${JSON.stringify(column)}`);
      }
      const as = optString(spec, 'as');
      if (as !== undefined && as !== 'number' && as !== 'string') throw new GeneratorSpecError('as', `must be "number" or "string", got ${JSON.stringify(as)}`);
      const rows = spec.rows;
      if (rows !== undefined && !Array.isArray(rows)) throw new GeneratorSpecError('rows', 'must be a list of lists of strings');
      return fromCsv(withoutUndefined({
        text: optString(spec, 'text'), rows: rows as readonly (readonly string[])[] | undefined, column, header: optBoolean(spec, 'header'),
        as, intervalS: optNumber(spec, 'intervalS'), loop: optBoolean(spec, 'loop'), source: optString(spec, 'source'),
        delimiter: optString(spec, 'delimiter'), startMs,
      }));
    }
  }
}

/** {@link createGenerator} for specs that must produce numbers (sensor values, battery level, …). */
export function createNumberGenerator(spec: unknown, options: CreateGeneratorOptions = {}): Generator<number> {
  if (isPlainObject(spec)) {
    if (spec.type === 'constant' && spec.value !== undefined && typeof spec.value !== 'number') {
      throw new GeneratorSpecError('value', `must be a number, got ${JSON.stringify(spec.value)}`);
    }
    if (spec.type === 'sequence' && Array.isArray(spec.values)) {
      spec.values.forEach((v: unknown, i: number) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new GeneratorSpecError(`values[${i}]`, `must be a number, got ${JSON.stringify(v)}`);
      });
    }
    if (spec.type === 'csv' && spec.as === 'string') throw new GeneratorSpecError('as', 'must be "number" for a numeric value');
  }
  return createGenerator(spec, options) as Generator<number>;
}

/** JSON Schema (draft 2020-12) of {@link GeneratorSpec}, for the scenario schema. */
export const GENERATOR_SPEC_SCHEMA = {
  $id: 'lwm2m-fleet:generator',
  oneOf: [
    {
      type: 'object', additionalProperties: false, required: ['type', 'value'],
      properties: { type: { const: 'constant' }, value: { type: ['number', 'string', 'boolean'] } },
    },
    {
      type: 'object', additionalProperties: false, required: ['type', 'start', 'step', 'min', 'max'],
      properties: {
        type: { const: 'randomWalk' }, start: { type: 'number' }, step: { type: 'number', minimum: 0 }, min: { type: 'number' },
        max: { type: 'number' }, seed: { type: ['number', 'string'] }, intervalS: { type: 'number', exclusiveMinimum: 0 },
        decimals: { type: 'integer', minimum: 0, maximum: 12 },
      },
    },
    {
      type: 'object', additionalProperties: false, required: ['type', 'min', 'max', 'periodS'],
      properties: {
        type: { const: 'sine' }, min: { type: 'number' }, max: { type: 'number' }, periodS: { type: 'number', exclusiveMinimum: 0 },
        phase: { type: 'number', minimum: 0, exclusiveMaximum: 1 }, noise: { type: 'number', minimum: 0 },
        seed: { type: ['number', 'string'] }, decimals: { type: 'integer', minimum: 0, maximum: 12 },
      },
    },
    {
      type: 'object', additionalProperties: false, required: ['type', 'values'],
      properties: {
        type: { const: 'sequence' }, values: { type: 'array', minItems: 1, items: { type: ['number', 'string', 'boolean'] } },
        intervalS: { type: 'number', exclusiveMinimum: 0 }, loop: { type: 'boolean' },
      },
    },
    {
      type: 'object', additionalProperties: false, required: ['type', 'column'],
      properties: {
        type: { const: 'csv' }, text: { type: 'string' }, rows: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
        column: { type: ['string', 'integer'] }, header: { type: 'boolean' }, as: { enum: ['number', 'string'] },
        intervalS: { type: 'number', exclusiveMinimum: 0 }, loop: { type: 'boolean' }, source: { type: 'string' },
        delimiter: { type: 'string', minLength: 1, maxLength: 1 },
      },
    },
  ],
} as const;
