/**
 * Scenario loader: YAML text → `yaml` document with source positions → JSON Schema validation
 * (`scenarios/schema.json`, ajv draft 2020-12) → semantic checks and normalisation into the typed model
 * of ./types.ts.
 *
 * Every problem becomes a {@link ScenarioIssue} printed as `file:line:col: message`, pointing at the
 * offending YAML node (a CSV or XML file's own line and column for problems inside those files). All
 * problems are collected; if there is any, {@link ScenarioError} carries the whole list.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve as resolvePath } from 'node:path';
import { Ajv2020, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import scenarioSchemaJson from '../../scenarios/schema.json' with { type: 'json' };
import { detectDelimiter } from '../../src/core/csv.js';
import {
  CsvError, GeneratorSpecError, createGenerator, createNumberGenerator, parseCsvRecords, type CsvRecord, type GeneratorSpec,
} from '../../src/client/generators.js';
import { LWM2M_1_0_BINDINGS, bindingProblem } from '../../src/client/binding.js';
import { modelFor } from '../../src/client/device-factory.js';
import { ProfileFileError } from '../../src/server/profiles/issues.js';
import { parseThingsBoardProfile } from '../../src/server/profiles/thingsboard/profile.js';
import { parseThingsBoardCredentials } from '../../src/server/profiles/thingsboard/credentials.js';
import { parseDeviceWiseProfile } from '../../src/server/profiles/devicewise/profile.js';
import { cumulocityPlatform, withoutRefusedRows } from '../cumulocity.js';
import { LwM2MError, isLwM2MError } from '../../src/core/errors.js';
import { LOG_LEVELS, type LogLevel } from '../../src/core/logger.js';
import { formatPath, parsePath, type LwM2MPath } from '../../src/core/path.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';
import { loadDdfFile } from '../../src/model/ddf-loader.js';
import type { ModelRegistry } from '../../src/model/registry.js';
import type { ObjectModel, ResourceModel } from '../../src/model/types.js';
import {
  DEFAULT_AWAKE_TIME_MS, DEFAULT_ENDPOINT_PATTERN, DEFAULT_EXPECT_WITHIN_MS, DEFAULT_LIFETIME_S, DEFAULT_SEED,
  FIRMWARE_OUTCOMES, MAX_CSV_BYTES, MAX_DEVICES, MAX_DURATION_MS, MAX_LOOP_COUNT, MAX_LOOP_DEPTH, MAX_SCENARIO_BYTES,
  MAX_TOTAL_STEPS, arrivalsBy, formatIssue, formatPattern, isQueueBinding,
  type BindingMode, type CoapUri, type EmbeddedPlatform, type CompiledPattern, type DeviceCsv, type DeviceCsvRow, type DeviceInfo,
  type DevicesSpec, type EndSpec, type ExpectOperation, type FirmwareOutcome, type Flow, type InstanceSpec,
  type LwM2MVersion, type ObjectSpec, type PatternPart, type PatternVars, type Phase, type PlaceholderName,
  type PskKeySource, type ResourceValueSpec, type RunOptions, type ScalarValue, type Scenario, type ScenarioIssue,
  type SecuritySpec, type SourcePos, type Step, type Target, type Threshold, type ValueSpec,
} from './types.js';

export * from './types.js';

/** The scenario JSON Schema (draft 2020-12), as shipped in `scenarios/schema.json`. */
export const SCENARIO_SCHEMA: SchemaObject = scenarioSchemaJson;

// ---- errors --------------------------------------------------------------------------------------

/** An invalid scenario: every problem found, in file order. `message` lists them one per line. */
export class ScenarioError extends LwM2MError {
  readonly issues: readonly ScenarioIssue[];
  constructor(issues: readonly ScenarioIssue[]) {
    const lines = issues.map(formatIssue);
    super('BAD_VALUE', lines.length === 1 ? (lines[0] as string) : `${lines.length} problems:\n${lines.join('\n')}`);
    this.issues = issues;
  }

  /** The issues as `file:line:col: message` lines. */
  lines(): string[] {
    return this.issues.map(formatIssue);
  }
}

export function isScenarioError(e: unknown): e is ScenarioError {
  return e instanceof ScenarioError;
}

// ---- durations and percentages -------------------------------------------------------------------

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)/y;

/**
 * Parses a duration into milliseconds: `500ms`, `1.5s`, `30s`, `2m`, `1h`, compounds such as `1m30s`;
 * a number is seconds (Artillery convention). With `allowNegative`, a leading `-` (`-5s`). The result
 * must be a whole number of milliseconds. Throws `LwM2MError` (BAD_VALUE) with a message for users.
 */
export function parseDuration(input: string | number, options: { allowNegative?: boolean } = {}): number {
  let ms: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new LwM2MError('BAD_VALUE', `${String(input)} is not a duration`);
    ms = input * 1000;
  } else {
    let text = input.trim();
    let sign = 1;
    if (options.allowNegative && text.startsWith('-')) {
      sign = -1;
      text = text.slice(1).trim();
    }
    if (text === '') throw new LwM2MError('BAD_VALUE', `"${input}" is not a duration (such as 500ms, 1.5s, 2m, 1h)`);
    let total = 0;
    let pos = 0;
    // Each iteration consumes at least one character (a digit and a unit) or stops.
    while (pos < text.length) {
      DURATION_PART.lastIndex = pos;
      const m = DURATION_PART.exec(text);
      if (!m) throw new LwM2MError('BAD_VALUE', `"${input}" is not a duration (such as 500ms, 1.5s, 2m, 1h, 1m30s)`);
      total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
      pos = DURATION_PART.lastIndex;
      while (pos < text.length && /\s/.test(text[pos] as string)) pos++;
    }
    ms = sign * total;
  }
  if (!options.allowNegative && ms < 0) throw new LwM2MError('BAD_VALUE', `a duration cannot be negative, got ${String(input)}`);
  const rounded = Math.round(ms);
  if (Math.abs(ms - rounded) > 1e-6) {
    throw new LwM2MError('BAD_VALUE', `${JSON.stringify(input)} is ${ms} ms: durations have millisecond resolution`);
  }
  return rounded === 0 ? 0 : rounded;
}

/** `90500` → `1m30.5s`, `500` → `500ms`, `3600000` → `1h`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${rest}ms`;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = rest / 1000;
  return `${sign}${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${Number(s.toFixed(3))}s` : ''}`;
}

/** `10%` → 0.1, `0.5%` → 0.005; a number must already be a fraction in [0, 1]. */
export function parsePercent(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0 || input > 1) {
      throw new LwM2MError('BAD_VALUE', `${input} is not a fraction in [0, 1] (write ${input}% for a percentage)`);
    }
    return input;
  }
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$/.exec(input);
  if (!m) throw new LwM2MError('BAD_VALUE', `"${input}" is not a percentage (such as 10% or 0.5%)`);
  const pct = Number(m[1]);
  if (pct > 100) throw new LwM2MError('BAD_VALUE', `${input} is over 100%`);
  return pct / 100;
}

// ---- patterns ------------------------------------------------------------------------------------

/** A pattern syntax error at character `offset` of the pattern. */
export class PatternError extends LwM2MError {
  readonly offset: number;
  constructor(detail: string, offset: number) {
    super('BAD_VALUE', detail);
    this.offset = offset;
  }
}

const ALL_PLACEHOLDERS: readonly PlaceholderName[] = ['index', 'shard', 'seed', 'endpoint', 'csv'];
const MAX_PAD_WIDTH = 32;

/**
 * Compiles a pattern: literal text with `{name}` or `{name:spec}` placeholders, `{{` / `}}` for
 * literal braces. `spec` is `0N` (zero-pad to N characters), `x`/`X` (hexadecimal) or both (`08x`).
 * Names: `index`, `shard`, `seed`, `endpoint`, `csv:column` — restricted to `allowed`. Throws
 * {@link PatternError} at the offending character.
 */
export function compilePattern(source: string, allowed: readonly PlaceholderName[] = ALL_PLACEHOLDERS): CompiledPattern {
  const parts: PatternPart[] = [];
  const used: PlaceholderName[] = [];
  let literal = '';
  let i = 0;
  const n = source.length;
  // Each iteration consumes at least one character.
  while (i < n) {
    const c = source[i] as string;
    if (c === '}') {
      if (source[i + 1] === '}') {
        literal += '}';
        i += 2;
        continue;
      }
      throw new PatternError('unmatched "}" (write "}}" for a literal brace)', i);
    }
    if (c !== '{') {
      literal += c;
      i++;
      continue;
    }
    if (source[i + 1] === '{') {
      literal += '{';
      i += 2;
      continue;
    }
    const close = source.indexOf('}', i + 1);
    if (close < 0) throw new PatternError('unclosed "{" (write "{{" for a literal brace)', i);
    const body = source.slice(i + 1, close);
    let name: string;
    let column: string | undefined;
    let spec = '';
    if (body.startsWith('csv:')) {
      name = 'csv';
      column = body.slice(4);
      if (column.trim() === '') throw new PatternError('{csv:…} needs a column name, e.g. {csv:key}', i);
    } else {
      const colon = body.indexOf(':');
      name = colon < 0 ? body : body.slice(0, colon);
      spec = colon < 0 ? '' : body.slice(colon + 1);
      if (name === 'ep') name = 'endpoint'; // {ep}: the LwM2M name of the endpoint parameter
    }
    if (!(ALL_PLACEHOLDERS as readonly string[]).includes(name)) {
      const hint = suggest(name, ALL_PLACEHOLDERS.filter((p) => allowed.includes(p)));
      throw new PatternError(
        `unknown placeholder {${body}}${hint ? ` (did you mean {${hint}}?)` : ''}; placeholders: ${allowed.map((p) => (p === 'csv' ? '{csv:column}' : `{${p}}`)).join(', ')}`,
        i,
      );
    }
    const pname = name as PlaceholderName;
    if (!allowed.includes(pname)) {
      throw new PatternError(`{${pname === 'csv' ? 'csv:…' : pname}} cannot be used here (placeholders: ${allowed.map((p) => (p === 'csv' ? '{csv:column}' : `{${p}}`)).join(', ')})`, i);
    }
    let width = 0;
    let hex: 'lower' | 'upper' | undefined;
    if (spec !== '') {
      const m = /^(0[0-9]{1,2})?([xX])?$/.exec(spec);
      if (!m || (m[1] === undefined && m[2] === undefined)) {
        if (/^[1-9][0-9]?$/.test(spec)) throw new PatternError(`bad format "${spec}" in {${body}}: write {${name}:0${spec}} to zero-pad to ${spec} digits`, i);
        throw new PatternError(`bad format "${spec}" in {${body}}: use 0N to zero-pad to N digits (e.g. {index:06}), x for hex`, i);
      }
      if (m[1] !== undefined) width = Number(m[1]);
      if (width > MAX_PAD_WIDTH) throw new PatternError(`width ${width} in {${body}} is over ${MAX_PAD_WIDTH}`, i);
      if (m[2] !== undefined) hex = m[2] === 'X' ? 'upper' : 'lower';
      if (pname === 'endpoint' || pname === 'csv') throw new PatternError(`{${body}}: {${pname}} is text, it takes no format`, i);
    }
    if (literal !== '') {
      parts.push({ kind: 'literal', text: literal });
      literal = '';
    }
    parts.push({ kind: 'placeholder', name: pname, width, ...(column !== undefined ? { column } : {}), ...(hex ? { hex } : {}) });
    if (!used.includes(pname)) used.push(pname);
    i = close + 1;
  }
  if (literal !== '') parts.push({ kind: 'literal', text: literal });
  return { source, parts, placeholders: used };
}

/** Formats an endpoint pattern (`sim-{index:06}` with index 42 → `sim-000042`). */
export function formatEndpoint(pattern: string | CompiledPattern, vars: PatternVars): string {
  const compiled = typeof pattern === 'string' ? compilePattern(pattern, ['index', 'shard', 'seed', 'csv']) : pattern;
  return formatPattern(compiled, vars);
}

// ---- small helpers -------------------------------------------------------------------------------

type Seg = string | number;
type JsonMap = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function isScalarValue(v: unknown): v is ScalarValue {
  return (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' || typeof v === 'boolean';
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] as number;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j] as number;
      prev[j] = Math.min((prev[j] as number) + 1, (prev[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length] as number;
}

/** The closest candidate within a small edit distance, for "did you mean". */
function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD < word.length && bestD <= Math.max(2, Math.min(3, Math.floor(word.length / 3))) ? best : undefined;
}

function show(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') {
    const s = JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}…"` : s;
  }
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return String(v);
}

function errMessage(e: unknown): string {
  if (isLwM2MError(e)) return e.detail;
  return e instanceof Error ? e.message : String(e);
}

function nodeErrorWhy(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return errMessage(e);
}

// ---- YAML positions ------------------------------------------------------------------------------

interface Located {
  /** The value node at the path (undefined when the path does not exist). */
  readonly value: YamlNode | undefined;
  /** The key node when the value is an entry of a map. */
  readonly key: YamlNode | undefined;
  /** The deepest existing node on the way. */
  readonly deepest: YamlNode | undefined;
}

class Positions {
  constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lc: LineCounter,
    private readonly text: string,
  ) {}

  private deref(node: unknown): YamlNode | undefined {
    let n: unknown = node;
    // Alias chains are short (an alias cannot point at another alias in YAML 1.2); bound anyway.
    for (let i = 0; i < 8 && isAlias(n); i++) n = n.resolve(this.doc);
    return isMap(n) || isSeq(n) || isScalar(n) ? (n as YamlNode) : undefined;
  }

  /** The entry `key` of a map's items, looking through `<<` merge keys (nested at most 4 deep). */
  private findPair(items: readonly { key: unknown; value: unknown }[], key: string, depth: number): { key: unknown; value: unknown } | undefined {
    const own = items.find((p) => isScalar(p.key) && typeof p.key.value !== 'symbol' && String(p.key.value) === key);
    if (own || depth >= 4) return own;
    for (const p of items) {
      if (!isScalar(p.key) || typeof p.key.value !== 'symbol') continue;
      const sources: unknown[] = isSeq(p.value) ? p.value.items : [p.value];
      for (const src of sources) {
        const m = this.deref(src);
        const found = isMap(m) ? this.findPair(m.items, key, depth + 1) : undefined;
        if (found) return found;
      }
    }
    return undefined;
  }

  locate(path: readonly Seg[]): Located {
    let value: YamlNode | undefined = this.deref(this.doc.contents);
    let key: YamlNode | undefined;
    let deepest = value;
    for (const seg of path) {
      const cur = this.deref(value);
      if (cur === undefined) return { value: undefined, key: undefined, deepest };
      deepest = value;
      if (isMap(cur)) {
        const pair = this.findPair(cur.items, String(seg), 0);
        if (!pair) return { value: undefined, key: undefined, deepest };
        key = isScalar(pair.key) ? (pair.key as YamlNode) : undefined;
        value = (pair.value ?? undefined) as YamlNode | undefined;
        if (value === undefined) return { value: undefined, key, deepest: key };
      } else if (isSeq(cur)) {
        const item: unknown = cur.items[Number(seg)];
        if (item === undefined) return { value: undefined, key: undefined, deepest };
        key = undefined;
        value = item as YamlNode;
      } else {
        return { value: undefined, key: undefined, deepest };
      }
    }
    return { value, key, deepest: value ?? deepest };
  }

  private posOf(offset: number): { line: number; col: number } {
    const p = this.lc.linePos(offset);
    return { line: p.line, col: p.col };
  }

  private start(node: YamlNode | undefined): number | undefined {
    const r = node?.range;
    return r ? r[0] : undefined;
  }

  private isEmpty(node: YamlNode | undefined): boolean {
    const r = node?.range;
    return r === undefined || r === null || r[0] === r[1];
  }

  /**
   * Position of the node at `path`: its value (`mode: value`, an empty value falls back to its key) or
   * its key (`mode: key`); a missing node falls back to the deepest existing ancestor. `offset`: a
   * character offset inside a string value (used when the scalar's source maps 1:1 onto its value).
   */
  at(path: readonly Seg[], mode: 'value' | 'key' = 'value', offset?: number): SourcePos {
    const loc = this.locate(path);
    let node: YamlNode | undefined;
    if (mode === 'key') node = loc.key ?? loc.value;
    else node = !this.isEmpty(loc.value) ? loc.value : loc.key ?? loc.value;
    node ??= loc.deepest;
    let start = this.start(node);
    if (start === undefined) return { file: this.file, line: 1, col: 1 };
    if (offset !== undefined && node === loc.value && isScalar(node) && typeof node.value === 'string' && node.range) {
      const raw = this.text.slice(node.range[0], node.range[1]);
      const value = node.value;
      if (node.type === 'PLAIN' && raw === value) start += offset;
      else if ((node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') && raw.slice(1, -1) === value) start += 1 + offset;
    }
    const p = this.posOf(start);
    return { file: this.file, line: p.line, col: p.col };
  }
}

// ---- JSON Schema validation ----------------------------------------------------------------------

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictTypes: true, allowUnionTypes: true });
    ajv.addKeyword('errorMessage');
    ajv.addKeyword('x-noun');
    compiled = ajv.compile(SCENARIO_SCHEMA);
  }
  return compiled;
}

function pointerToPath(pointer: string): Seg[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** `devices.objects.3303.instances[0]` for a path into `data`. */
function dotted(path: readonly Seg[], data: unknown): string {
  let out = '';
  let cur: unknown = data;
  for (const seg of path) {
    if (Array.isArray(cur)) {
      out += `[${seg}]`;
      cur = cur[Number(seg)];
    } else {
      out += out === '' ? String(seg) : `.${String(seg)}`;
      cur = isObj(cur) ? cur[String(seg)] : undefined;
    }
  }
  return out;
}

function prefixed(where: string, message: string): string {
  return where === '' ? message : `${where}: ${message}`;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false', null: 'empty',
  array: 'a list', object: 'a map',
};

function typeOf(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return String(v);
  return `the string ${show(v)}`;
}

interface SchemaProblem {
  readonly path: Seg[];
  readonly mode: 'value' | 'key';
  readonly message: string;
  /** Value-level problems make semantic checks of the same path (and below) redundant. */
  readonly valueLevel: boolean;
}

function parentSchemaString(e: ErrorObject, keyword: string): string | undefined {
  const ps: unknown = e.parentSchema;
  if (!isObj(ps)) return undefined;
  const v = ps[keyword];
  return typeof v === 'string' ? v : undefined;
}

function translate(e: ErrorObject, data: unknown): SchemaProblem | undefined {
  if (e.keyword === 'if' || e.keyword === 'propertyNames') return undefined;
  const path = pointerToPath(e.instancePath);
  const where = dotted(path, data);
  const custom = parentSchemaString(e, 'errorMessage');
  const params: Readonly<Record<string, unknown>> = e.params;
  const got = e.data;
  if (e.propertyName !== undefined) {
    // A propertyNames sub-error: the key itself is wrong.
    const msg = custom ?? `key "${e.propertyName}" is not allowed`;
    return { path: [...path, e.propertyName], mode: 'key', message: prefixed(where, `"${e.propertyName}": ${msg}`), valueLevel: false };
  }
  switch (e.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      return { path, mode: 'key', message: prefixed(where, `missing required field "${missing}"`), valueLevel: false };
    }
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const noun = parentSchemaString(e, 'x-noun') ?? 'field';
      const props = isObj(e.parentSchema) && isObj(e.parentSchema.properties) ? Object.keys(e.parentSchema.properties) : [];
      const hint = suggest(extra, props);
      const tail = hint !== undefined ? ` (did you mean "${hint}"?)` : props.length > 0 ? ` (expected one of: ${props.join(', ')})` : '';
      return { path: [...path, extra], mode: 'key', message: prefixed(where, `unknown ${noun} "${extra}"${tail}`), valueLevel: false };
    }
    case 'minProperties':
    case 'maxProperties':
      return { path, mode: 'key', message: prefixed(where, custom ?? `must have ${e.keyword === 'minProperties' ? 'at least' : 'at most'} ${String(params.limit)} field(s)`), valueLevel: false };
    case 'type': {
      const expected = String(params.type).split(',').map((t) => TYPE_NAMES[t] ?? t);
      const msg = custom ?? `must be ${expected.length > 1 ? `${expected.slice(0, -1).join(', ')} or ${expected[expected.length - 1] ?? ''}` : expected[0] ?? ''}`;
      return { path, mode: 'value', message: prefixed(where, `${msg}, got ${typeOf(got)}`), valueLevel: true };
    }
    case 'enum': {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.filter((v: unknown) => typeof v === 'string') : [];
      const hint = typeof got === 'string' ? suggest(got, allowed) : undefined;
      const msg = custom ?? `must be one of ${allowed.join(', ')}`;
      return { path, mode: 'value', message: prefixed(where, `${msg}, got ${show(got)}${hint !== undefined ? ` (did you mean ${hint}?)` : ''}`), valueLevel: true };
    }
    case 'const':
      return { path, mode: 'value', message: prefixed(where, `${custom ?? `must be ${show(params.allowedValue)}`}, got ${show(got)}`), valueLevel: true };
    case 'minItems':
    case 'maxItems':
      return { path, mode: 'value', message: prefixed(where, `must have ${e.keyword === 'minItems' ? 'at least' : 'at most'} ${String(params.limit)} item(s)`), valueLevel: true };
    case 'minLength':
    case 'maxLength':
      return {
        path, mode: 'value', valueLevel: true,
        message: prefixed(where, e.keyword === 'minLength' && params.limit === 1 ? 'must not be empty' : `must be ${e.keyword === 'minLength' ? 'at least' : 'at most'} ${String(params.limit)} characters long`),
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const msg = custom ?? `must be ${String(params.comparison)} ${String(params.limit)}`;
      return { path, mode: 'value', message: prefixed(where, `${msg}, got ${show(got)}`), valueLevel: true };
    }
    case 'pattern':
      return { path, mode: 'value', message: prefixed(where, `${custom ?? `must match ${String(params.pattern)}`}, got ${show(got)}`), valueLevel: true };
    default:
      return { path, mode: 'value', message: prefixed(where, custom ?? e.message ?? `fails ${e.keyword}`), valueLevel: true };
  }
}

// ---- the checking context ------------------------------------------------------------------------

const pathKey = (path: readonly Seg[]): string => path.map(String).join('\u0000');

class Ctx {
  readonly issues: ScenarioIssue[] = [];
  readonly warnings: ScenarioIssue[] = [];
  /** Paths with value-level schema errors: semantic checks there (and below) stay quiet. */
  private readonly quiet = new Set<string>();
  private readonly seen = new Set<string>();
  private readonly fileCache = new Map<string, Promise<string>>();

  constructor(
    readonly file: string,
    readonly baseDir: string,
    readonly pos: Positions,
    readonly data: unknown,
  ) {}

  quieten(path: readonly Seg[]): void {
    this.quiet.add(pathKey(path));
  }

  private isQuiet(path: readonly Seg[]): boolean {
    for (let i = path.length; i >= 0; i--) if (this.quiet.has(pathKey(path.slice(0, i)))) return true;
    return false;
  }

  private add(list: ScenarioIssue[], issue: ScenarioIssue): void {
    const k = formatIssue(issue);
    if (this.seen.has(k)) return;
    this.seen.add(k);
    list.push(issue);
  }

  /** An error at the YAML node of `path` (prefixed with the dotted path). */
  error(path: readonly Seg[], message: string, opts: { mode?: 'value' | 'key'; offset?: number; bare?: boolean } = {}): void {
    if (this.isQuiet(path)) return;
    const p = this.pos.at(path, opts.mode ?? 'value', opts.offset);
    this.add(this.issues, { file: p.file, line: p.line, col: p.col, message: opts.bare ? message : prefixed(dotted(path, this.data), message) });
  }

  schemaError(pr: SchemaProblem): void {
    const p = this.pos.at(pr.path, pr.mode);
    this.add(this.issues, { file: p.file, line: p.line, col: p.col, message: pr.message });
  }

  warn(path: readonly Seg[], message: string): void {
    const p = this.pos.at(path, 'key');
    this.add(this.warnings, { file: p.file, line: p.line, col: p.col, message: prefixed(dotted(path, this.data), message) });
  }

  /** An error inside another file (CSV, XML). */
  external(file: string, line: number | undefined, col: number | undefined, message: string): void {
    this.add(this.issues, { file, ...(line !== undefined ? { line, col: col ?? 1 } : {}), message });
  }

  at(path: readonly Seg[]): SourcePos {
    return this.pos.at(path, 'value');
  }

  get failed(): boolean {
    return this.issues.length > 0;
  }

  /** Reads a file relative to the scenario (cached); undefined (and an error at `path`) when unreadable. */
  async readText(rel: string, path: readonly Seg[], what: string, maxBytes: number): Promise<{ abs: string; text: string } | undefined> {
    const abs = resolvePath(this.baseDir, rel);
    let pending = this.fileCache.get(abs);
    if (pending === undefined) {
      pending = (async () => {
        const st = await stat(abs);
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
        if (st.size > maxBytes) throw new Error(`${st.size} bytes, over the ${maxBytes}-byte limit`);
        return readFile(abs, 'utf8');
      })();
      this.fileCache.set(abs, pending);
    }
    try {
      return { abs, text: await pending };
    } catch (e) {
      this.error(path, `cannot read ${what} ${rel}: ${nodeErrorWhy(e)}`);
      return undefined;
    }
  }
}

/** Runs `fn`, turning an `LwM2MError` into an error at `path`; returns undefined on error. */
function attempt<T>(ctx: Ctx, path: readonly Seg[], fn: () => T, opts: { mode?: 'value' | 'key' } = {}): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof PatternError) ctx.error(path, e.detail, { offset: e.offset, ...opts });
    else ctx.error(path, errMessage(e), opts);
    return undefined;
  }
}

function duration(ctx: Ctx, v: unknown, path: readonly Seg[], opts: { allowNegative?: boolean; positive?: boolean } = {}): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const ms = attempt(ctx, path, () => parseDuration(v, opts));
  if (ms === undefined) return undefined;
  if (Math.abs(ms) > MAX_DURATION_MS) {
    ctx.error(path, `${formatDuration(ms)} is longer than the ${formatDuration(MAX_DURATION_MS)} limit`);
    return undefined;
  }
  if (opts.positive && ms <= 0) {
    ctx.error(path, 'must be longer than 0s');
    return undefined;
  }
  return ms;
}

// ---- target and options --------------------------------------------------------------------------

function parseCoapUri(ctx: Ctx, v: unknown, path: readonly Seg[]): CoapUri | undefined {
  const text = str(v);
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.error(path, `${show(text)} is not a valid URI`);
    return undefined;
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (scheme !== 'coap' && scheme !== 'coaps') {
    ctx.error(path, `must be a coap:// or coaps:// URI, got ${show(text)}`);
    return undefined;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') {
    ctx.error(path, `${show(text)} has no host`);
    return undefined;
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    ctx.error(path, `${show(text)}: a server URI has no path, query or fragment`);
    return undefined;
  }
  const port = url.port === '' ? (scheme === 'coap' ? 5683 : 5684) : Number(url.port);
  return { uri: text.replace(/\/$/, ''), scheme, host, port };
}

function normTarget(ctx: Ctx, v: unknown): Target | undefined {
  const path = ['target'];
  if (v === undefined || v === 'embedded') return { kind: 'embedded' };
  if (typeof v === 'string') {
    const server = parseCoapUri(ctx, v, path);
    return server ? { kind: 'remote', server } : undefined;
  }
  if (!isObj(v)) return undefined;
  if (v.embedded !== undefined) return { kind: 'embedded' }; // its platform: normPlatform
  const server = v.server === undefined ? undefined : parseCoapUri(ctx, v.server, [...path, 'server']);
  const bootstrap = v.bootstrap === undefined ? undefined : parseCoapUri(ctx, v.bootstrap, [...path, 'bootstrap']);
  if ((v.server !== undefined && !server) || (v.bootstrap !== undefined && !bootstrap)) return undefined;
  if (!server && !bootstrap) return undefined;
  return { kind: 'remote', ...(server ? { server } : {}), ...(bootstrap ? { bootstrap } : {}) };
}

/** `target: { embedded: { profile, deviceProfile } }`: reads and validates the platform's device profile. */
async function normPlatform(ctx: Ctx, v: unknown): Promise<EmbeddedPlatform | undefined> {
  if (!isObj(v) || !isObj(v.embedded)) return undefined;
  const e = v.embedded;
  const path = ['target', 'embedded', 'deviceProfile'];
  const rel = str(e.deviceProfile);
  if (rel === undefined) return undefined; // the schema reported it
  const read = await ctx.readText(rel, path, 'device profile', MAX_SCENARIO_BYTES);
  if (!read) return undefined;
  try {
    if (e.profile === 'thingsboard') return { profile: 'thingsboard', file: read.abs, thingsBoard: parseThingsBoardProfile(read.text, read.abs).profile };
    if (e.profile === 'devicewise') return { profile: 'devicewise', file: read.abs, deviceWise: parseDeviceWiseProfile(read.text, read.abs) };
    if (e.profile === 'cumulocity') return cumulocityPlatform(ctx, read.abs, read.text);
  } catch (err) {
    if (!(err instanceof ProfileFileError)) throw err;
    for (const i of err.issues) if (i.severity === 'error') ctx.external(read.abs, i.line, i.column, i.message);
  }
  return undefined;
}

function normOptions(v: unknown): RunOptions {
  const o = isObj(v) ? v : {};
  const seedRaw = o.seed;
  const seed = typeof seedRaw === 'string' || (typeof seedRaw === 'number' && Number.isInteger(seedRaw)) ? seedRaw : DEFAULT_SEED;
  const workers = num(o.workers);
  const metricsPort = num(o.metricsPort);
  const level = str(o.logLevel);
  const logLevel: LogLevel = level !== undefined && (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : 'info';
  return {
    seed,
    ...(workers !== undefined ? { workers } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    logLevel,
  };
}

function hasBootstrapServer(target: Target | undefined): boolean {
  return target === undefined || target.kind === 'embedded' || target.bootstrap !== undefined;
}

// ---- device CSV ----------------------------------------------------------------------------------

type CsvFieldName =
  | 'endpoint' | 'securityMode' | 'identity' | 'key' | 'bootstrapIdentity' | 'bootstrapKey' | 'shortServerId'
  | 'lifetime' | 'binding' | 'awakeTime' | 'awakeTimeMs';

/** Accepted header names (lower case, single spaces), ours first, then Cumulocity's bulk-registration ones. */
export const DEVICE_CSV_COLUMNS: Readonly<Record<CsvFieldName, readonly string[]>> = {
  endpoint: ['endpoint', 'endpoint id', 'endpoint name', 'ep'],
  securityMode: ['securitymode', 'security mode'],
  identity: ['identity', 'psk identity', 'lwm2m psk_id', 'psk_id'],
  key: ['key', 'psk key', 'lwm2m psk_key', 'psk_key'],
  bootstrapIdentity: ['bootstrap identity', 'bootstrap psk_id'],
  bootstrapKey: ['bootstrap key', 'bootstrap psk_key'],
  shortServerId: ['shortserverid', 'short server id', 'lwm2mshortserverid'],
  lifetime: ['lifetime', 'registrationlifetime'],
  binding: ['binding', 'bindingmode'],
  /** Seconds. */
  awakeTime: ['awaketime'],
  /** Milliseconds (Cumulocity's awakeTimeRegistrationParameter). */
  awakeTimeMs: ['awaketimeregistrationparameter'],
};

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const SPACE_OR_CONTROL = /[\s\p{Cc}]/u;

const normHeader = (h: string): string => h.trim().toLowerCase().replace(/\s+/g, ' ');

interface LoadedCsv extends DeviceCsv {
  /** Our field → header name (lower-cased) in this file. */
  readonly fieldColumns: Readonly<Partial<Record<CsvFieldName, string>>>;
}

/**
 * `devices.csv: credentials.json`: ThingsBoard LwM2M device credentials as the device list (endpoint,
 * NO_SEC/PSK, identity, key; the bootstrap server's PSK when given) — the file the platform imports. Bad
 * devices are errors at their line and column (the run does not start with a half list).
 */
async function loadThingsBoardDeviceList(ctx: Ctx, rel: string, path: readonly Seg[]): Promise<LoadedCsv | undefined> {
  const read = await ctx.readText(rel, path, 'ThingsBoard credentials', MAX_CSV_BYTES);
  if (!read) return undefined;
  let parsed: ReturnType<typeof parseThingsBoardCredentials>;
  try {
    parsed = parseThingsBoardCredentials(read.text, read.abs);
  } catch (e) {
    if (!(e instanceof ProfileFileError)) throw e;
    for (const i of e.issues) if (i.severity === 'error') ctx.external(read.abs, i.line, i.column, i.message);
    return undefined;
  }
  for (const i of parsed.errors) ctx.external(read.abs, i.line, i.column, i.message);
  if (parsed.errors.length > 0) return undefined;
  if (parsed.devices.length === 0) {
    ctx.external(read.abs, 1, 1, 'the ThingsBoard credentials list no device');
    return undefined;
  }
  const hex = (k: Uint8Array | undefined): string | undefined => (k ? Buffer.from(k).toString('hex') : undefined);
  const columns = ['endpoint', 'securityMode', 'identity', 'key'];
  const rows: DeviceCsvRow[] = parsed.devices.map((d) => {
    const psk = d.dm.mode === 'psk';
    const bs = d.bootstrap?.mode === 'psk' ? d.bootstrap : undefined;
    const cells: Record<string, string> = { endpoint: d.endpoint, securitymode: psk ? 'PSK' : 'NO_SEC', identity: d.dm.identity ?? '', key: hex(d.dm.key) ?? '' };
    return {
      line: d.line, endpoint: d.endpoint, securityMode: psk ? 'psk' : 'nosec',
      ...(psk && d.dm.identity !== undefined ? { identity: d.dm.identity } : {}),
      ...(psk && d.dm.key ? { key: hex(d.dm.key) as string } : {}),
      ...(bs?.identity !== undefined && bs.key ? { bootstrapIdentity: bs.identity, bootstrapKey: hex(bs.key) as string } : {}),
      cells,
    };
  });
  return { file: read.abs, columns, rows, fieldColumns: { endpoint: 'endpoint', securityMode: 'securitymode', identity: 'identity', key: 'key' } };
}

async function loadDeviceCsv(ctx: Ctx, rel: string, path: readonly Seg[]): Promise<LoadedCsv | undefined> {
  const read = await ctx.readText(rel, path, 'device CSV', MAX_CSV_BYTES);
  if (!read) return undefined;
  const { abs, text } = read;
  let records: CsvRecord[];
  try {
    // Cumulocity's bulk-registration templates are `;`-separated: the delimiter comes from the header.
    records = parseCsvRecords(text, { source: abs, delimiter: detectDelimiter(text) });
  } catch (e) {
    if (e instanceof CsvError) ctx.external(abs, e.line, e.col, e.detail);
    else ctx.error(path, `cannot parse ${rel}: ${errMessage(e)}`);
    return undefined;
  }
  const head = records[0];
  if (!head) {
    ctx.external(abs, 1, 1, 'the device CSV is empty (it needs a header row: endpoint, securityMode, identity, key, …)');
    return undefined;
  }
  const columns = head.fields.map((f) => f.value.trim());
  const lower = columns.map(normHeader);
  const fieldColumns: Partial<Record<CsvFieldName, string>> = {};
  const fieldIndex: Partial<Record<CsvFieldName, number>> = {};
  for (const [field, names] of Object.entries(DEVICE_CSV_COLUMNS) as [CsvFieldName, readonly string[]][]) {
    const i = lower.findIndex((h) => names.includes(h));
    if (i >= 0) {
      fieldColumns[field] = lower[i] as string;
      fieldIndex[field] = i;
    }
  }
  const dupHeader = lower.findIndex((h, i) => h !== '' && lower.indexOf(h) !== i);
  if (dupHeader >= 0) {
    const f = head.fields[dupHeader];
    ctx.external(abs, f?.line ?? head.line, f?.col ?? 1, `duplicate column "${columns[dupHeader] ?? ''}"`);
  }
  const body = records.slice(1);
  if (body.length === 0) {
    ctx.external(abs, head.line, 1, 'the device CSV has a header but no device rows');
    return undefined;
  }
  if (body.length > MAX_DEVICES) {
    ctx.external(abs, head.line, 1, `the device CSV has ${body.length} rows, over the ${MAX_DEVICES} limit`);
    return undefined;
  }
  const rows: DeviceCsvRow[] = [];
  const endpoints = new Map<string, number>();
  let bad = 0;
  for (const rec of body) {
    if (bad >= 50) break; // enough to fix; do not drown the user
    const before = ctx.issues.length;
    const cellAt = (field: CsvFieldName): { value: string; line: number; col: number } | undefined => {
      const i = fieldIndex[field];
      if (i === undefined) return undefined;
      const f = rec.fields[i];
      if (!f || f.value.trim() === '') return undefined;
      return { value: f.value.trim(), line: f.line, col: f.col };
    };
    const rowError = (c: { line: number; col: number } | undefined, message: string): void => {
      ctx.external(abs, c?.line ?? rec.line, c?.col ?? 1, message);
    };
    if (rec.fields.length > columns.length) {
      const f = rec.fields[columns.length];
      rowError(f, `row has ${rec.fields.length} fields, the header ${columns.length}`);
    }
    const cells: Record<string, string> = {};
    lower.forEach((h, i) => {
      if (h !== '' && !Object.hasOwn(cells, h)) cells[h] = (rec.fields[i]?.value ?? '').trim();
    });
    const ep = cellAt('endpoint');
    if (ep !== undefined) {
      const first = endpoints.get(ep.value);
      if (first !== undefined) rowError(ep, `duplicate endpoint "${ep.value}" (first on line ${first})`);
      else endpoints.set(ep.value, rec.line);
      if (SPACE_OR_CONTROL.test(ep.value)) rowError(ep, `endpoint "${ep.value}" contains white space or control characters`);
    }
    const sm = cellAt('securityMode');
    let securityMode: 'nosec' | 'psk' | undefined;
    if (sm !== undefined) {
      const m = sm.value.toUpperCase().replace(/[-_\s]/g, '');
      if (m === 'NOSEC') securityMode = 'nosec';
      else if (m === 'PSK') securityMode = 'psk';
      else rowError(sm, `securityMode "${sm.value}" is not supported (NO_SEC or PSK)`);
    }
    const hexCell = (field: CsvFieldName): string | undefined => {
      const c = cellAt(field);
      if (c === undefined) return undefined;
      if (!HEX.test(c.value) || c.value.length > 128) {
        rowError(c, `${field === 'key' ? 'key' : 'bootstrap key'} must be hex (1 to 64 bytes), got "${c.value}"`);
        return undefined;
      }
      return c.value.toLowerCase();
    };
    const key = hexCell('key');
    const bootstrapKey = hexCell('bootstrapKey');
    const identity = cellAt('identity')?.value;
    const bootstrapIdentity = cellAt('bootstrapIdentity')?.value;
    const intCell = (field: CsvFieldName, min: number, max: number, what: string): number | undefined => {
      const c = cellAt(field);
      if (c === undefined) return undefined;
      const n = /^[0-9]+$/.test(c.value) ? Number(c.value) : NaN;
      if (!Number.isInteger(n) || n < min || n > max) {
        rowError(c, `${what} must be an integer in ${min}..${max}, got "${c.value}"`);
        return undefined;
      }
      return n;
    };
    const shortServerId = intCell('shortServerId', 1, 65534, 'shortServerId');
    const lifetimeS = intCell('lifetime', 1, MAX_DURATION_MS / 1000, 'lifetime (seconds)');
    const awakeS = intCell('awakeTime', 0, MAX_DURATION_MS / 1000, 'awakeTime (seconds)');
    const awakeMsCell = intCell('awakeTimeMs', 0, MAX_DURATION_MS, 'awakeTimeRegistrationParameter (milliseconds)');
    const awakeTimeMs = awakeS !== undefined ? awakeS * 1000 : awakeMsCell;
    const b = cellAt('binding');
    let binding: BindingMode | undefined;
    if (b !== undefined) {
      const v = b.value.toUpperCase();
      if (v === 'U' || v === 'UQ') binding = v;
      else rowError(b, `binding "${b.value}" is not supported (U or UQ)`);
    }
    if (ctx.issues.length > before) {
      bad++;
      continue;
    }
    rows.push({
      line: rec.line,
      ...(ep !== undefined ? { endpoint: ep.value } : {}),
      ...(securityMode !== undefined ? { securityMode } : {}),
      ...(identity !== undefined ? { identity } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(bootstrapIdentity !== undefined ? { bootstrapIdentity } : {}),
      ...(bootstrapKey !== undefined ? { bootstrapKey } : {}),
      ...(shortServerId !== undefined ? { shortServerId } : {}),
      ...(lifetimeS !== undefined ? { lifetimeS } : {}),
      ...(binding !== undefined ? { binding } : {}),
      ...(awakeTimeMs !== undefined ? { awakeTimeMs } : {}),
      cells,
    });
  }
  if (bad > 0) return undefined;
  return { file: abs, columns, rows, fieldColumns };
}

// ---- values and generators -----------------------------------------------------------------------

const NUMERIC_TYPES = new Set(['integer', 'unsignedInteger', 'float', 'time']);

/** Turns a GeneratorSpecError field (`values[2]`, `max`) into path segments. */
function fieldPath(field: string): Seg[] {
  const out: Seg[] = [];
  for (const part of field.split('.')) {
    const m = /^([^[\]]*)((?:\[[0-9]+\])*)$/.exec(part);
    if (!m) return out;
    if (m[1] !== '') out.push(m[1] as string);
    for (const idx of (m[2] ?? '').matchAll(/\[([0-9]+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/**
 * Normalises a resource value (constant, list or generator spec); `resource` (when known) adds type
 * checks. A CSV generator's `file` is read and inlined as `text` + `source`.
 */
async function normValue(ctx: Ctx, v: unknown, path: readonly Seg[], resource: ResourceModel | undefined, what: string): Promise<ValueSpec | undefined> {
  if (resource && resource.operations === 'E') {
    ctx.error(path, `${what} is executable: it has no value`);
    return undefined;
  }
  if (resource && resource.type === 'none') {
    ctx.error(path, `${what} has no value type`);
    return undefined;
  }
  const numeric = resource !== undefined && NUMERIC_TYPES.has(resource.type);
  const checkScalar = (x: ScalarValue, p: readonly Seg[]): boolean => {
    if (!resource) return true;
    if (numeric && typeof x !== 'number') {
      ctx.error(p, `${what} is ${resource.type === 'time' ? 'a time (seconds since the epoch)' : `a number (${resource.type})`}, got ${show(x)}`);
      return false;
    }
    if ((resource.type === 'integer' || resource.type === 'unsignedInteger') && typeof x === 'number' && !Number.isInteger(x)) {
      ctx.error(p, `${what} is an integer, got ${x}`);
      return false;
    }
    if (resource.type === 'unsignedInteger' && typeof x === 'number' && x < 0) {
      ctx.error(p, `${what} is an unsigned integer, got ${x}`);
      return false;
    }
    if (resource.type === 'boolean' && typeof x !== 'boolean') {
      ctx.error(p, `${what} is a boolean (true or false), got ${show(x)}`);
      return false;
    }
    if (!numeric && resource.type !== 'boolean' && typeof x !== 'string') {
      ctx.error(p, `${what} is a ${resource.type === 'string' ? 'string' : `${resource.type} (written as a string)`}: quote the value, got ${show(x)}`);
      return false;
    }
    return true;
  };
  if (Array.isArray(v)) {
    if (resource && !resource.multiple) {
      ctx.error(path, `${what} is a single resource: give one value, not a list`);
      return undefined;
    }
    const values = v.filter(isScalarValue);
    if (values.length !== v.length) return undefined; // the schema reported it
    let ok = true;
    values.forEach((x, i) => { ok = checkScalar(x, [...path, i]) && ok; });
    return ok ? { kind: 'list', values } : undefined;
  }
  if (resource && resource.multiple) {
    ctx.error(path, `${what} is a multiple resource: give a list of values (instances 0, 1, …)`);
    return undefined;
  }
  if (isScalarValue(v)) return checkScalar(v, path) ? { kind: 'constant', value: v } : undefined;
  if (!isObj(v)) return undefined;
  // A generator spec: inline a CSV file, then dry-run createGenerator for its semantic checks.
  let spec: Record<string, unknown> = { ...v };
  if (spec.type === 'csv' && spec.file !== undefined) {
    const rel = str(spec.file);
    if (rel === undefined) return undefined;
    if (spec.text !== undefined || spec.rows !== undefined) {
      ctx.error([...path, 'file'], 'give a CSV file, text or rows — only one');
      return undefined;
    }
    const read = await ctx.readText(rel, [...path, 'file'], 'CSV file', MAX_CSV_BYTES);
    if (!read) return undefined;
    const { file: _file, ...rest } = spec;
    spec = { ...rest, text: read.text, source: read.abs };
  } else if (spec.type === 'csv' && spec.text === undefined && spec.rows === undefined) {
    ctx.error(path, 'a csv generator needs file (a CSV file), text or rows');
    return undefined;
  }
  try {
    if (numeric) createNumberGenerator(spec, { seed: 0 });
    else createGenerator(spec, { seed: 0 });
    if (resource?.type === 'boolean') {
      const t = spec.type;
      const okBool = (t === 'constant' && typeof spec.value === 'boolean') ||
        (t === 'sequence' && Array.isArray(spec.values) && spec.values.every((x: unknown) => typeof x === 'boolean'));
      if (!okBool) {
        ctx.error(path, `${what} is a boolean: use a constant or a sequence of true/false`);
        return undefined;
      }
    }
  } catch (e) {
    if (e instanceof CsvError) {
      const src = str(spec.source) ?? ctx.file;
      ctx.external(src, e.line, e.col, e.detail);
    } else if (e instanceof GeneratorSpecError) {
      const fp = fieldPath(e.field);
      ctx.error([...path, ...fp], `${numeric && resource ? `${what}: ` : ''}${e.detail}`);
    } else {
      ctx.error(path, errMessage(e));
    }
    return undefined;
  }
  return { kind: 'generator', spec: spec as unknown as GeneratorSpec };
}

// ---- devices -------------------------------------------------------------------------------------

/** Objects 0–5 are always there (device-factory: Security, Server, ACL, Device, Connectivity, Firmware). */
const ALWAYS_PRESENT = [0, 1, 2, 3, 4, 5];

interface DeviceModels {
  /** Object id → the model a device of this scenario uses. */
  readonly byId: ReadonlyMap<number, ObjectModel>;
  /** Object id → instance ids a device starts with. */
  readonly instances: ReadonlyMap<number, readonly number[]>;
}

function modelOf(registry: ModelRegistry, id: number, version: LwM2MVersion): ObjectModel | undefined {
  try {
    return modelFor(registry, id, version);
  } catch {
    return registry.get(id);
  }
}

function resourceName(model: ObjectModel, r: ResourceModel): string {
  return `resource ${model.id}/${r.id} (${r.name})`;
}

async function normObjects(
  ctx: Ctx, v: unknown, path: readonly Seg[], version: LwM2MVersion,
): Promise<{ objects: ObjectSpec[]; models: DeviceModels; ok: boolean; broken: Set<number> }> {
  const registry = loadBuiltinRegistry();
  const broken = new Set<number>();
  const byId = new Map<number, ObjectModel>();
  const instances = new Map<number, number[]>();
  for (const id of ALWAYS_PRESENT) {
    const m = modelOf(registry, id, version);
    if (m) byId.set(id, m);
    if (id >= 3) instances.set(id, [0]);
  }
  const objects: ObjectSpec[] = [];
  let ok = true;
  const entries = isObj(v) ? Object.entries(v) : [];
  for (const [key, raw] of entries) {
    const opath = [...path, key];
    if (!/^[0-9]{1,5}$/.test(key)) { ok = false; continue; } // the schema reported it
    const id = Number(key);
    broken.add(id); // until its model is known
    if (id > 65534) {
      ctx.error(opath, `object id ${id} is over 65534`, { mode: 'key' });
      ok = false;
      continue;
    }
    if (id <= 2) {
      ctx.error(opath, `object ${id} (${['Security', 'Server', 'Access Control'][id] ?? ''}) is built from target, security and bootstrap settings; it cannot be configured here`, { mode: 'key' });
      ok = false;
      continue;
    }
    const o = isObj(raw) ? raw : {};
    let model: ObjectModel | undefined;
    let modelFile: string | undefined;
    const rel = str(o.model);
    if (rel !== undefined) {
      const mpath = [...opath, 'model'];
      const abs = resolvePath(ctx.baseDir, rel);
      try {
        const st = await stat(abs);
        if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
      } catch (e) {
        ctx.error(mpath, `cannot read model file ${rel}: ${nodeErrorWhy(e)}`);
        ok = false;
        continue;
      }
      let defs: ObjectModel[];
      try {
        defs = await loadDdfFile(abs);
      } catch (e) {
        const loc = isLwM2MError(e) ? e.location : undefined;
        const m = loc !== undefined ? /^(.*):([0-9]+):([0-9]+)$/.exec(loc) : null;
        if (m) ctx.external(m[1] as string, Number(m[2]), Number(m[3]), errMessage(e));
        else ctx.error(mpath, `${rel}: ${errMessage(e)}`);
        ok = false;
        continue;
      }
      model = defs.find((d) => d.id === id);
      if (!model) {
        ctx.error(mpath, `${rel} defines object${defs.length > 1 ? 's' : ''} ${defs.map((d) => d.id).join(', ')}, not ${id}`);
        ok = false;
        continue;
      }
      modelFile = abs;
    } else {
      model = modelOf(registry, id, version);
      if (!model) {
        ctx.error(opath, `object ${id} is not shipped with lwm2m-fleet: give its OMA DDF XML file with model: path/to/${id}.xml`, { mode: 'key' });
        ok = false;
        continue;
      }
    }
    byId.set(id, model);
    broken.delete(id);
    const rawInstances = Array.isArray(o.instances) ? o.instances : [{}];
    const specs: InstanceSpec[] = [];
    const ids = new Set<number>();
    for (let i = 0; i < rawInstances.length; i++) {
      const ipath = [...opath, 'instances', i];
      const inst: unknown = rawInstances[i];
      const ii = isObj(inst) ? inst : {};
      const iid = num(ii.id) ?? i;
      if (ids.has(iid)) {
        ctx.error(ii.id !== undefined ? [...ipath, 'id'] : ipath, `instance ${iid} appears twice`);
        ok = false;
        continue;
      }
      if (!model.multiple && (iid !== 0 || i > 0)) {
        ctx.error(ii.id !== undefined ? [...ipath, 'id'] : ipath, `object ${id} (${model.name}) is single-instance: only instance 0`);
        ok = false;
        continue;
      }
      ids.add(iid);
      const values: ResourceValueSpec[] = [];
      const rawValues = isObj(ii.values) ? Object.entries(ii.values) : [];
      for (const [rkey, rv] of rawValues) {
        const rpath = [...ipath, 'values', rkey];
        if (!/^[0-9]{1,5}$/.test(rkey)) { ok = false; continue; }
        const rid = Number(rkey);
        const res = model.resources.get(rid);
        if (!res) {
          ctx.error(rpath, `object ${id} (${model.name} ${model.version}) has no resource ${rid}`, { mode: 'key' });
          ok = false;
          continue;
        }
        const value = await normValue(ctx, rv, rpath, res, resourceName(model, res));
        if (!value) { ok = false; continue; }
        values.push({ resourceId: rid, value, at: ctx.at(rpath) });
      }
      values.sort((a, b) => a.resourceId - b.resourceId);
      specs.push({ id: iid, values });
    }
    specs.sort((a, b) => a.id - b.id);
    instances.set(id, specs.map((s) => s.id));
    const sampleIntervalMs = o.sampleInterval === undefined ? undefined : duration(ctx, o.sampleInterval, [...opath, 'sampleInterval'], { positive: true });
    if (o.sampleInterval !== undefined && sampleIntervalMs === undefined) ok = false;
    objects.push({
      id, name: model.name, ...(modelFile !== undefined ? { modelFile } : {}), instances: specs,
      ...(sampleIntervalMs !== undefined ? { sampleIntervalMs } : {}), at: ctx.pos.at(opath, 'key'),
    });
  }
  objects.sort((a, b) => a.id - b.id);
  return { objects, models: { byId, instances }, ok, broken };
}

/** What the flow checks need to know about the devices, even when `devices` has errors of its own. */
interface DeviceFacts {
  /** The normalised devices; undefined when they have errors. */
  readonly spec: DevicesSpec | undefined;
  readonly lwm2m: LwM2MVersion;
  readonly binding: BindingMode;
  /** The CSV has a binding column (per-device queue mode). */
  readonly csvBinding: boolean;
  readonly bootstrap: boolean;
  readonly models: DeviceModels;
  readonly objectIds: readonly number[];
  /** Configured objects whose model could not be determined: paths into them are not checked. */
  readonly broken: ReadonlySet<number>;
}

function pattern(ctx: Ctx, v: string, path: readonly Seg[], allowed: readonly PlaceholderName[], csv: LoadedCsv | undefined): CompiledPattern | undefined {
  const compiledPattern = attempt(ctx, path, () => compilePattern(v, allowed));
  if (!compiledPattern) return undefined;
  let ok = true;
  let offset = 0;
  for (const part of compiledPattern.parts) {
    if (part.kind === 'placeholder' && part.name === 'csv') {
      const col = normHeader(part.column ?? '');
      const at = v.indexOf(`{csv:${part.column ?? ''}`, offset);
      if (!csv) {
        ctx.error(path, '{csv:…} needs a device list: devices.csv', { offset: Math.max(0, at) });
        ok = false;
      } else if (!csv.columns.map(normHeader).includes(col)) {
        ctx.error(path, `the device CSV has no column "${part.column ?? ''}" (columns: ${csv.columns.join(', ')})`, { offset: Math.max(0, at) });
        ok = false;
      }
      if (at >= 0) offset = at + 1;
    }
  }
  return ok ? compiledPattern : undefined;
}

async function normDevices(ctx: Ctx, v: unknown, target: Target | undefined): Promise<DeviceFacts | undefined> {
  const path = ['devices'];
  if (!isObj(v)) return undefined;
  let ok = true;
  const fail = (): undefined => { ok = false; return undefined; };

  const csvRel = str(v.csv);
  const csvLoaded = csvRel === undefined ? undefined
    : /\.json$/i.test(csvRel) ? await loadThingsBoardDeviceList(ctx, csvRel, [...path, 'csv'])
      : await loadDeviceCsv(ctx, csvRel, [...path, 'csv']);
  // A Cumulocity target imports the same file: the rows its import refused (warnings at their line) do not run.
  const csv = csvLoaded && target?.kind === 'embedded' ? withoutRefusedRows(csvLoaded, target.platform) : csvLoaded;
  if (csvRel !== undefined && !csv) ok = false;

  const start = num(v.start) ?? 0;
  let count = num(v.count);
  if (csv) {
    const available = csv.rows.length - start;
    if (available <= 0) {
      ctx.error([...path, v.start !== undefined ? 'start' : 'csv'], `the device CSV has ${csv.rows.length} rows; start ${start} leaves none`);
      ok = false;
    } else if (count === undefined) {
      count = available;
    } else if (count > available) {
      ctx.error([...path, 'count'], `the device CSV has ${csv.rows.length} rows${start > 0 ? ` (${available} from start ${start})` : ''}, fewer than count ${count}`);
      ok = false;
    }
  } else if (count === undefined && v.count === undefined && csvRel === undefined) {
    ctx.error(path, 'missing required field "count" (or give a device list: csv)', { mode: 'key' });
    ok = false;
  }

  const lwRaw = v.lwm2m;
  const lwm2m: LwM2MVersion = lwRaw === '1.0' || lwRaw === 1 ? '1.0' : '1.1';

  // endpoint
  let endpoint: CompiledPattern | undefined;
  const epRaw = str(v.endpoint);
  if (epRaw !== undefined) {
    endpoint = pattern(ctx, epRaw, [...path, 'endpoint'], ['index', 'shard', 'seed', 'csv'], csv);
    if (!endpoint) ok = false;
    else {
      const lit = endpoint.parts.find((p) => p.kind === 'literal' && SPACE_OR_CONTROL.test(p.text));
      if (lit) {
        ctx.error([...path, 'endpoint'], 'an endpoint name cannot contain white space or control characters');
        ok = false;
      } else if ((count ?? 0) > 1 && !endpoint.placeholders.includes('index') && !endpoint.placeholders.includes('csv')) {
        ctx.error([...path, 'endpoint'], `all ${count ?? 0} devices would be named "${epRaw}": add {index} (e.g. ${epRaw}{index:06})`);
        ok = false;
      }
    }
  } else if (csv) {
    const col = csv.fieldColumns.endpoint;
    if (col === undefined) {
      ctx.error([...path, 'csv'], `the device CSV has no endpoint column (endpoint or "endpoint id"); add one or give devices.endpoint`);
      ok = false;
    } else {
      endpoint = compilePattern(`{csv:${col}}`, ['csv']);
      const missing = csv.rows.find((r) => r.endpoint === undefined);
      if (missing) {
        ctx.external(csv.file, missing.line, 1, 'the endpoint cell is empty');
        ok = false;
      }
    }
  } else {
    endpoint = compilePattern(DEFAULT_ENDPOINT_PATTERN);
  }

  // lifetime, binding, awake time, update interval
  let lifetimeS = DEFAULT_LIFETIME_S;
  if (v.lifetime !== undefined) {
    const ms = duration(ctx, v.lifetime, [...path, 'lifetime'], { positive: true });
    if (ms === undefined) fail();
    else if (ms % 1000 !== 0) {
      ctx.error([...path, 'lifetime'], `the lifetime is sent in whole seconds, got ${formatDuration(ms)}`);
      ok = false;
    } else lifetimeS = ms / 1000;
  }
  // A binding or a list of them (devices take them in turn by index); 1.0 values checked against the version.
  const bindingList: BindingMode[] = [];
  for (const [i, b] of (Array.isArray(v.binding) ? v.binding : v.binding === undefined ? [] : [v.binding]).entries()) {
    if (typeof b !== 'string' || !(LWM2M_1_0_BINDINGS as readonly string[]).includes(b)) continue; // the schema reported it
    const problem = bindingProblem(b, lwm2m);
    if (problem !== undefined) {
      ctx.error(Array.isArray(v.binding) ? [...path, 'binding', i] : [...path, 'binding'], problem);
      ok = false;
    } else bindingList.push(b as BindingMode);
  }
  const binding: BindingMode = bindingList[0] ?? 'U';
  const csvBinding = csv?.fieldColumns.binding !== undefined || bindingList.some(isQueueBinding);
  let msisdn: CompiledPattern | undefined;
  const msisdnRaw = str(v.msisdn);
  if (msisdnRaw !== undefined) {
    msisdn = pattern(ctx, msisdnRaw, [...path, 'msisdn'], ['index', 'shard', 'seed', 'endpoint', 'csv'], csv);
    if (!msisdn) ok = false;
    else if (!bindingList.some((b) => b.includes('S'))) {
      ctx.error([...path, 'msisdn'], 'msisdn is sent as sms= with an SMS binding: set devices.binding to S, SQ, US or UQS', { mode: 'key' });
      ok = false;
    }
  }
  let awakeTimeMs: number | undefined;
  if (v.awakeTime !== undefined) {
    awakeTimeMs = duration(ctx, v.awakeTime, [...path, 'awakeTime']);
    if (awakeTimeMs === undefined) fail();
    else if (!isQueueBinding(binding) && !csvBinding) {
      ctx.error([...path, 'awakeTime'], 'awakeTime is for queue mode: set binding: UQ', { mode: 'key' });
      ok = false;
    }
  } else if (isQueueBinding(binding)) {
    awakeTimeMs = DEFAULT_AWAKE_TIME_MS;
  }
  let updateIntervalMs: number | undefined;
  if (v.updateInterval !== undefined) {
    updateIntervalMs = duration(ctx, v.updateInterval, [...path, 'updateInterval'], { positive: true });
    if (updateIntervalMs === undefined) fail();
    else if (updateIntervalMs >= lifetimeS * 1000) {
      ctx.error([...path, 'updateInterval'], `must be shorter than the lifetime (${formatDuration(lifetimeS * 1000)}), or registrations expire between updates`);
      ok = false;
    }
  }

  // bootstrap
  const bootstrap = v.bootstrap === true;
  if (bootstrap && !hasBootstrapServer(target)) {
    ctx.error([...path, 'bootstrap'], 'devices bootstrap first but the target has no bootstrap server: set target.bootstrap (or target: embedded)');
    ok = false;
  }
  if (!bootstrap && target?.kind === 'remote' && !target.server) {
    ctx.error(['target'], 'no DM server: give target.server, or let devices bootstrap first (devices.bootstrap: true)', { mode: 'key' });
    ok = false;
  }

  // security
  let security: SecuritySpec = { mode: 'nosec' };
  const secRaw = v.security;
  const spath = [...path, 'security'];
  if (secRaw === 'psk' || (isObj(secRaw) && secRaw.mode === 'psk')) {
    const sec = isObj(secRaw) ? secRaw : {};
    const idRaw = str(sec.identity) ?? '{endpoint}';
    const identity = sec.identity !== undefined
      ? pattern(ctx, idRaw, [...spath, 'identity'], ['index', 'shard', 'seed', 'endpoint', 'csv'], csv)
      : compilePattern(idRaw);
    let key: PskKeySource | undefined;
    const keyRaw = sec.key;
    const kpath = [...spath, 'key'];
    if (keyRaw === undefined) key = { kind: 'seeded', lengthBytes: 16 };
    else if (keyRaw === 'derive') key = { kind: 'derived' };
    else if (isObj(keyRaw)) key = { kind: 'seeded', lengthBytes: num(keyRaw.length) ?? 16 };
    else if (typeof keyRaw === 'string' && keyRaw.includes('{')) {
      const p = pattern(ctx, keyRaw, kpath, ['index', 'shard', 'seed', 'endpoint', 'csv'], csv);
      if (p) key = { kind: 'pattern', pattern: p };
    } else if (typeof keyRaw === 'string' && HEX.test(keyRaw) && keyRaw.length <= 128) {
      key = { kind: 'hex', hex: keyRaw.toLowerCase() };
    }
    if (!identity || !key) ok = false;
    else security = { mode: 'psk', identity, key };
  } else if (isObj(secRaw) && secRaw.mode === 'nosec' && (secRaw.identity !== undefined || secRaw.key !== undefined)) {
    ctx.error(spath, 'identity and key are for mode: psk', { mode: 'key' });
    ok = false;
  }
  if (target?.kind === 'remote') {
    const uris = [target.server, target.bootstrap].filter((u): u is CoapUri => u !== undefined);
    const csvSec = csv?.fieldColumns.securityMode !== undefined;
    if (!csvSec && security.mode === 'psk' && uris.some((u) => u.scheme === 'coap')) {
      ctx.error(spath, 'PSK devices need coaps:// URIs in the target', { mode: 'key' });
      ok = false;
    }
    if (!csvSec && security.mode === 'nosec' && uris.some((u) => u.scheme === 'coaps')) {
      ctx.error(['target'], 'coaps:// needs PSK devices (devices.security: psk)', { mode: 'key' });
      ok = false;
    }
  }
  if (csv && security.mode === 'nosec') {
    const pskRow = csv.rows.find((r) => r.securityMode === 'psk' && (r.identity === undefined || r.key === undefined));
    if (pskRow) {
      ctx.external(csv.file, pskRow.line, 1, 'a PSK row needs identity and key cells (or devices.security with mode: psk)');
      ok = false;
    }
  }

  // device information
  const info: Record<string, unknown> = isObj(v.device) ? { ...v.device } : {};
  let serialNumber: CompiledPattern | undefined;
  const serialRaw = str(info.serial);
  if (serialRaw !== undefined) {
    serialNumber = pattern(ctx, serialRaw, [...path, 'device', 'serial'], ['index', 'shard', 'seed', 'endpoint', 'csv'], csv);
    if (!serialNumber) ok = false;
  }
  const text = (k: string): string | undefined => str(info[k]);
  const device: DeviceInfo = {
    ...(text('manufacturer') !== undefined ? { manufacturer: text('manufacturer') } : {}),
    ...(text('model') !== undefined ? { modelNumber: text('model') } : {}),
    ...(serialNumber ? { serialNumber } : {}),
    ...(text('firmwareVersion') !== undefined ? { firmwareVersion: text('firmwareVersion') } : {}),
    ...(text('deviceType') !== undefined ? { deviceType: text('deviceType') } : {}),
    ...(text('hardwareVersion') !== undefined ? { hardwareVersion: text('hardwareVersion') } : {}),
    ...(text('softwareVersion') !== undefined ? { softwareVersion: text('softwareVersion') } : {}),
  };

  const objs = await normObjects(ctx, v.objects, [...path, 'objects'], lwm2m);
  if (!objs.ok) ok = false;
  const objectIds = [...new Set([...ALWAYS_PRESENT, ...objs.models.byId.keys()])].sort((a, b) => a - b);
  const shortServerId = num(v.shortServerId);
  const facts = { lwm2m, binding, csvBinding, bootstrap, models: objs.models, objectIds, broken: objs.broken };
  if (!ok || !endpoint || count === undefined) return { ...facts, spec: undefined };
  return {
    ...facts,
    spec: {
      count,
      start,
      endpoint,
      lwm2m,
      lifetimeS,
      binding,
      ...(bindingList.length > 1 ? { bindings: bindingList } : {}),
      ...(msisdn ? { msisdn } : {}),
      ...(awakeTimeMs !== undefined ? { awakeTimeMs } : {}),
      bootstrap,
      security,
      ...(shortServerId !== undefined ? { shortServerId } : {}),
      ...(csv ? { csv: { file: csv.file, columns: csv.columns, rows: csv.rows } } : {}),
      device,
      objects: objs.objects,
      objectIds,
      ...(updateIntervalMs !== undefined ? { updateIntervalMs } : {}),
    },
  };
}

// ---- phases --------------------------------------------------------------------------------------

function normPhases(ctx: Ctx, v: unknown): Phase[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const phases: Phase[] = [];
  let ok = true;
  let startMs = 0;
  for (let i = 0; i < v.length; i++) {
    const path = ['phases', i];
    const raw: unknown = v[i];
    if (!isObj(raw)) { ok = false; continue; }
    const durationMs = duration(ctx, raw.duration, [...path, 'duration'], { positive: true });
    if (durationMs === undefined) { ok = false; continue; }
    const pause = raw.pause === true;
    const rate = num(raw.arrivalRate);
    const rampTo = num(raw.rampTo);
    const arrivalCount = num(raw.arrivalCount);
    const invalid = (k: string, x: number | undefined): boolean => raw[k] !== undefined && (x === undefined || x < 0);
    if (invalid('arrivalRate', rate) || invalid('rampTo', rampTo) || invalid('arrivalCount', arrivalCount)) {
      ok = false; // the schema reported it
      continue;
    }
    let fromRate = 0;
    let toRate = 0;
    if (pause) {
      const extra = ['arrivalRate', 'rampTo', 'arrivalCount'].find((k) => raw[k] !== undefined);
      if (extra) {
        ctx.error([...path, extra], `a pause phase brings no devices: remove ${extra} or pause`, { mode: 'key' });
        ok = false;
        continue;
      }
    } else if (arrivalCount !== undefined) {
      if (rate !== undefined || rampTo !== undefined) {
        ctx.error([...path, 'arrivalCount'], 'give arrivalCount or arrivalRate (with rampTo), not both', { mode: 'key' });
        ok = false;
        continue;
      }
      fromRate = toRate = arrivalCount / (durationMs / 1000);
    } else if (rate !== undefined) {
      fromRate = rate;
      toRate = rampTo ?? rate;
    } else if (rampTo !== undefined) {
      ctx.error([...path, 'rampTo'], 'rampTo needs arrivalRate (the rate at the start of the phase, 0 is fine)', { mode: 'key' });
      ok = false;
      continue;
    } else {
      ctx.error(path, 'a phase needs arrivalRate, arrivalCount or pause: true');
      ok = false;
      continue;
    }
    const arrivals = ((fromRate + toRate) / 2) * (durationMs / 1000);
    phases.push({
      index: i, name: str(raw.name) ?? `phase ${i + 1}`, startMs, durationMs, fromRate, toRate, pause, arrivals, at: ctx.at(path),
    });
    startMs += durationMs;
  }
  if (startMs > MAX_DURATION_MS) {
    ctx.error(['phases'], `the phases last ${formatDuration(startMs)}, longer than the ${formatDuration(MAX_DURATION_MS)} limit`, { mode: 'key' });
    ok = false;
  }
  if (!ok) return undefined;
  if (!phases.some((p) => p.arrivals > 0)) {
    ctx.error(['phases'], 'no phase brings devices online: give a phase an arrivalRate or arrivalCount above 0', { mode: 'key' });
    return undefined;
  }
  return phases;
}

function normEnd(ctx: Ctx, v: unknown): EndSpec | undefined {
  if (v === undefined) return { holdMs: 0, leave: 'deregister' };
  if (!isObj(v)) return undefined;
  const holdMs = v.hold === undefined ? 0 : duration(ctx, v.hold, ['end', 'hold']);
  if (holdMs === undefined) return undefined;
  return { holdMs, leave: v.leave === 'drop' ? 'drop' : 'deregister' };
}

// ---- flows ---------------------------------------------------------------------------------------

interface FlowCtx {
  readonly ctx: Ctx;
  readonly devices: DeviceFacts | undefined;
  readonly target: Target | undefined;
  steps: number;
  /** Where each normalised step came from. */
  readonly paths: WeakMap<Step, readonly Seg[]>;
}

const BARE_STEPS = new Set(['bootstrap', 'register', 'update', 'sleep', 'wake', 'deregister', 'reboot']);
const EXPECT_OPS: readonly ExpectOperation[] = ['observe', 'write', 'read', 'execute'];

function checkPathOnDevice(
  fc: FlowCtx, path: LwM2MPath, at: readonly Seg[], purpose: 'set' | 'send',
): ResourceModel | undefined | false {
  const dev = fc.devices;
  if (!dev) return undefined;
  const oid = path.objectId;
  if (oid === undefined) {
    if (purpose === 'set') {
      fc.ctx.error(at, 'set needs a resource path such as /3303/0/5700');
      return false;
    }
    return undefined;
  }
  if (purpose === 'set' && oid <= 2) {
    fc.ctx.error(at, `object ${oid} belongs to bootstrap and registration; set cannot change it`);
    return false;
  }
  if (dev.broken.has(oid)) return undefined;
  const model = dev.models.byId.get(oid);
  if (!model || !dev.objectIds.includes(oid)) {
    fc.ctx.error(at, `object ${oid} is not on the devices (add it under devices.objects)`);
    return false;
  }
  const iid = path.instanceId;
  const insts = dev.models.instances.get(oid);
  if (iid !== undefined && insts !== undefined && !insts.includes(iid)) {
    fc.ctx.error(at, `object ${oid} (${model.name}) has no instance ${iid} (instances: ${insts.join(', ')})`);
    return false;
  }
  const rid = path.resourceId;
  if (rid === undefined) {
    if (purpose === 'set') {
      fc.ctx.error(at, 'set needs a resource path such as /3303/0/5700');
      return false;
    }
    return undefined;
  }
  const res = model.resources.get(rid);
  if (!res) {
    fc.ctx.error(at, `object ${oid} (${model.name} ${model.version}) has no resource ${rid}`);
    return false;
  }
  if (path.resourceInstanceId !== undefined && !res.multiple) {
    fc.ctx.error(at, `${resourceName(model, res)} is a single resource: it has no resource instances`);
    return false;
  }
  return res;
}

function lwm2mPath(fc: FlowCtx, v: unknown, at: readonly Seg[]): LwM2MPath | undefined {
  const text = str(v);
  if (text === undefined) return undefined;
  return attempt(fc.ctx, at, () => parsePath(text));
}

/** True when the steps (recursively) contain a step that takes time: wait, think, go-offline, reboot. */
function takesTime(steps: readonly Step[]): boolean {
  return steps.some((s) =>
    (s.kind === 'wait' && s.durationMs > 0) || (s.kind === 'think' && s.maxMs > 0) ||
    (s.kind === 'go-offline' && s.durationMs > 0) || (s.kind === 'reboot' && s.downtimeMs > 0) ||
    (s.kind === 'loop' && takesTime(s.steps)));
}

async function normSteps(fc: FlowCtx, v: unknown, path: readonly Seg[], depth: number): Promise<Step[] | undefined> {
  if (!Array.isArray(v)) return undefined;
  const out: Step[] = [];
  let ok = true;
  for (let i = 0; i < v.length; i++) {
    const step = await normStep(fc, v[i], [...path, i], depth);
    if (step) {
      out.push(step);
      fc.paths.set(step, [...path, i]);
    } else {
      ok = false;
    }
  }
  return ok ? out : undefined;
}

async function normStep(fc: FlowCtx, raw: unknown, path: readonly Seg[], depth: number): Promise<Step | undefined> {
  const { ctx } = fc;
  fc.steps++;
  if (fc.steps === MAX_TOTAL_STEPS + 1) {
    ctx.error(path, `more than ${MAX_TOTAL_STEPS} steps in all flows`);
  }
  let name: string;
  let arg: unknown;
  if (typeof raw === 'string') {
    if (!BARE_STEPS.has(raw)) return undefined; // the schema reported it
    name = raw;
    arg = null;
  } else if (isObj(raw)) {
    const keys = Object.keys(raw);
    if (keys.length !== 1) return undefined;
    name = keys[0] as string;
    arg = raw[name];
  } else {
    return undefined;
  }
  const at = ctx.at(path);
  const apath = typeof raw === 'string' ? path : [...path, name];
  const dev = fc.devices;
  const a = isObj(arg) ? arg : {};
  switch (name) {
    case 'bootstrap':
      if (!hasBootstrapServer(fc.target)) {
        ctx.error(apath, 'bootstrap needs a bootstrap server: set target.bootstrap (or target: embedded)', { mode: 'key' });
        return undefined;
      }
      return { kind: 'bootstrap', at };
    case 'register':
    case 'update':
    case 'deregister':
      return { kind: name, at };
    case 'sleep':
    case 'wake':
      if (dev && !isQueueBinding(dev.binding) && !dev.csvBinding) {
        ctx.error(apath, `${name} is for queue mode: set devices.binding: UQ`, { mode: 'key' });
        return undefined;
      }
      return { kind: name, at };
    case 'wait': {
      const durationMs = duration(ctx, arg, apath);
      return durationMs === undefined ? undefined : { kind: 'wait', durationMs, at };
    }
    case 'think': {
      const minMs = duration(ctx, a.min, [...apath, 'min']);
      const maxMs = duration(ctx, a.max, [...apath, 'max']);
      if (minMs === undefined || maxMs === undefined) return undefined;
      if (maxMs < minMs) {
        ctx.error([...apath, 'max'], `must not be shorter than min (${formatDuration(minMs)})`);
        return undefined;
      }
      return { kind: 'think', minMs, maxMs, at };
    }
    case 'set': {
      const p = lwm2mPath(fc, a.path, [...apath, 'path']);
      if (!p) return undefined;
      const res = checkPathOnDevice(fc, p, [...apath, 'path'], 'set');
      if (res === false) return undefined;
      if (res && p.resourceInstanceId === undefined && res.multiple && !Array.isArray(a.value)) {
        ctx.error([...apath, 'value'], `${formatPath(p)} is a multiple resource: give a list, or set one instance (${formatPath(p)}/0)`);
        return undefined;
      }
      // A resource instance takes a single value: check it against the resource as if it were single.
      const check = res && p.resourceInstanceId !== undefined ? { ...res, multiple: false } : res;
      const value = await normValue(ctx, a.value, [...apath, 'value'], check, formatPath(p));
      return value ? { kind: 'set', path: formatPath(p), value, at } : undefined;
    }
    case 'send': {
      if (dev && dev.lwm2m !== '1.1') {
        ctx.error(apath, 'send is an LwM2M 1.1 operation: set devices.lwm2m: 1.1', { mode: 'key' });
        return undefined;
      }
      const list = Array.isArray(a.paths) ? a.paths : [];
      const paths: string[] = [];
      let ok = true;
      list.forEach((pv: unknown, j: number) => {
        const p = lwm2mPath(fc, pv, [...apath, 'paths', j]);
        if (!p) { ok = false; return; }
        if (p.isRoot()) {
          ctx.error([...apath, 'paths', j], 'send needs an object, instance or resource path');
          ok = false;
          return;
        }
        if (checkPathOnDevice(fc, p, [...apath, 'paths', j], 'send') === false) ok = false;
        paths.push(formatPath(p));
      });
      return ok && paths.length > 0 ? { kind: 'send', paths, at } : undefined;
    }
    case 'expect': {
      const ops = EXPECT_OPS.filter((op) => a[op] !== undefined);
      if (ops.length !== 1) {
        ctx.error(apath, ops.length === 0
          ? 'expect needs one of observe, write, read, execute (with a path)'
          : `expect takes one operation, got ${ops.join(' and ')}: use one expect step each`, { mode: 'key' });
        return undefined;
      }
      const operation = ops[0] as ExpectOperation;
      const p = lwm2mPath(fc, a[operation], [...apath, operation]);
      const withinMs = a.within === undefined ? DEFAULT_EXPECT_WITHIN_MS : duration(ctx, a.within, [...apath, 'within'], { positive: true });
      if (!p || withinMs === undefined) return undefined;
      if (operation === 'execute' && !p.isResource()) {
        ctx.error([...apath, operation], 'execute targets a resource path such as /3/0/4');
        return undefined;
      }
      const label = `expect ${operation} ${formatPath(p)} within ${formatDuration(withinMs)}`;
      return { kind: 'expect', operation, path: formatPath(p), withinMs, label, at };
    }
    case 'reboot': {
      const downtimeMs = a.downtime === undefined ? 0 : duration(ctx, a.downtime, [...apath, 'downtime']);
      return downtimeMs === undefined ? undefined : { kind: 'reboot', downtimeMs, at };
    }
    case 'go-offline': {
      const durationMs = duration(ctx, a.duration, [...apath, 'duration'], { positive: true });
      return durationMs === undefined ? undefined : { kind: 'go-offline', durationMs, at };
    }
    case 'apply-firmware': {
      const outcome = str(a.outcome);
      if (outcome === undefined || !Object.hasOwn(FIRMWARE_OUTCOMES, outcome)) return undefined;
      const durationMs = a.duration === undefined ? 0 : duration(ctx, a.duration, [...apath, 'duration']);
      if (durationMs === undefined) return undefined;
      const o = outcome as FirmwareOutcome;
      return { kind: 'apply-firmware', outcome: o, result: FIRMWARE_OUTCOMES[o], durationMs, at };
    }
    case 'fault': {
      let ok = true;
      const pct = (k: 'loss' | 'duplicate'): number | undefined => {
        const x = a[k];
        if (x === undefined) return undefined;
        if (typeof x !== 'string' && typeof x !== 'number') { ok = false; return undefined; }
        const r = attempt(ctx, [...apath, k], () => parsePercent(x));
        if (r === undefined) ok = false;
        return r;
      };
      const loss = pct('loss');
      const duplicate = pct('duplicate');
      const delayMs = a.delay === undefined ? undefined : duration(ctx, a.delay, [...apath, 'delay']);
      if (a.delay !== undefined && delayMs === undefined) ok = false;
      const clockSkewMs = a.clockSkew === undefined ? undefined : duration(ctx, a.clockSkew, [...apath, 'clockSkew'], { allowNegative: true });
      if (a.clockSkew !== undefined && clockSkewMs === undefined) ok = false;
      if (loss === 1) {
        ctx.error([...apath, 'loss'], '100% loss is going offline: use a go-offline step');
        ok = false;
      }
      if (!ok) return undefined;
      return {
        kind: 'fault',
        ...(loss !== undefined ? { loss } : {}),
        ...(duplicate !== undefined ? { duplicate } : {}),
        ...(delayMs !== undefined ? { delayMs } : {}),
        rebind: a.rebind === true,
        ...(clockSkewMs !== undefined ? { clockSkewMs } : {}),
        at,
      };
    }
    case 'loop': {
      if (depth + 1 > MAX_LOOP_DEPTH) {
        ctx.error(apath, `loops nest at most ${MAX_LOOP_DEPTH} deep`, { mode: 'key' });
        return undefined;
      }
      const count = num(a.count);
      if (count !== undefined && (!Number.isInteger(count) || count < 1 || count > MAX_LOOP_COUNT)) return undefined;
      const durationMs = a.duration === undefined ? undefined : duration(ctx, a.duration, [...apath, 'duration'], { positive: true });
      if (a.duration !== undefined && durationMs === undefined) return undefined;
      if (count === undefined && durationMs === undefined) {
        ctx.error(apath, 'a loop needs count, duration or both (every loop ends)', { mode: 'key' });
        return undefined;
      }
      const steps = await normSteps(fc, a.steps, [...apath, 'steps'], depth + 1);
      if (!steps) return undefined;
      if (count === undefined && !takesTime(steps)) {
        ctx.error(apath, 'a loop bounded only by duration needs a wait, think, go-offline or reboot step (it would spin)', { mode: 'key' });
        return undefined;
      }
      return {
        kind: 'loop', ...(count !== undefined ? { count } : {}), ...(durationMs !== undefined ? { durationMs } : {}), steps, at,
      };
    }
    default:
      return undefined; // the schema reported the unknown step
  }
}

/** The first bootstrap or register step of a list, in execution order (loops entered). */
function firstConnect(steps: readonly Step[]): Step | undefined {
  for (const s of steps) {
    if (s.kind === 'bootstrap' || s.kind === 'register') return s;
    if (s.kind === 'loop') {
      const inner = firstConnect(s.steps);
      if (inner) return inner;
    }
  }
  return undefined;
}

async function normFlows(ctx: Ctx, v: unknown, devices: DeviceFacts | undefined, target: Target | undefined): Promise<Flow[] | undefined> {
  const fc: FlowCtx = { ctx, devices, target, steps: 0, paths: new WeakMap() };
  if (v === undefined) {
    const at = ctx.at([]);
    const steps: Step[] = devices?.bootstrap ? [{ kind: 'bootstrap', at }, { kind: 'register', at }] : [{ kind: 'register', at }];
    return [{ name: 'default', weight: 1, cumulativeWeight: 1, steps, at }];
  }
  if (!Array.isArray(v)) return undefined;
  const flows: Flow[] = [];
  const names = new Map<string, number>();
  let cumulative = 0;
  let ok = true;
  for (let i = 0; i < v.length; i++) {
    const path = ['flows', i];
    const raw: unknown = v[i];
    if (!isObj(raw)) { ok = false; continue; }
    const name = str(raw.name) ?? `flow ${i + 1}`;
    const first = names.get(name);
    if (first !== undefined) {
      ctx.error([...path, 'name'], `flow name "${name}" is already used by flows[${first}]`);
      ok = false;
    } else {
      names.set(name, i);
    }
    const weight = num(raw.weight) ?? 1;
    const steps = await normSteps(fc, raw.steps, [...path, 'steps'], 0);
    if (!steps || !(weight > 0)) { ok = false; continue; }
    if (devices?.bootstrap) {
      const firstStep = firstConnect(steps);
      const firstPath = firstStep ? fc.paths.get(firstStep) : undefined;
      if (firstStep?.kind === 'register' && firstPath) {
        ctx.error(firstPath, 'devices bootstrap first (devices.bootstrap: true): add a bootstrap step before register');
        ok = false;
      }
    }
    cumulative += weight;
    flows.push({ name, weight, cumulativeWeight: cumulative, steps, at: ctx.at(path) });
  }
  if (fc.steps > MAX_TOTAL_STEPS) ok = false;
  return ok ? flows : undefined;
}

// ---- whole scenario ------------------------------------------------------------------------------

export interface ParseOptions {
  /** Directory for relative CSV and XML paths (default: the scenario file's directory). */
  baseDir?: string;
}

/** Parses, validates and normalises scenario text. `file` names it in messages. Throws {@link ScenarioError}. */
export async function parseScenario(text: string, file: string, options: ParseOptions = {}): Promise<Scenario> {
  const baseDir = options.baseDir ?? dirname(resolvePath(file));
  if (text.length > MAX_SCENARIO_BYTES) {
    throw new ScenarioError([{ file, message: `the scenario is ${text.length} characters long, over the ${MAX_SCENARIO_BYTES} limit` }]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e): ScenarioIssue => {
      const lp = lc.linePos(Math.min(e.pos[0], text.length));
      const message = e.message.split('\n')[0]?.replace(/ at line [0-9]+, column [0-9]+:?$/, '') ?? e.message;
      return { file, line: lp.line, col: lp.col, message: `YAML: ${message}` };
    });
    throw new ScenarioError(issues);
  }
  if (doc.contents === null) throw new ScenarioError([{ file, line: 1, col: 1, message: 'the scenario is empty' }]);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    throw new ScenarioError([{ file, line: 1, col: 1, message: `YAML: ${errMessage(e)}` }]);
  }
  const pos = new Positions(file, doc, lc, text);
  const ctx = new Ctx(file, baseDir, pos, data);
  for (const w of doc.warnings) {
    const lp = lc.linePos(Math.min(w.pos[0], text.length));
    ctx.warnings.push({ file, line: lp.line, col: lp.col, message: `YAML: ${w.message.split('\n')[0] ?? ''}` });
  }

  const validate = schemaValidator();
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      const pr = translate(e, data);
      if (!pr) continue;
      ctx.schemaError(pr);
      if (pr.valueLevel) ctx.quieten(pr.path);
    }
  }
  if (!isObj(data)) throw new ScenarioError(sortIssues(ctx.issues));

  const platform = await normPlatform(ctx, data.target);
  const plain = normTarget(ctx, data.target);
  const target: Target | undefined = plain?.kind === 'embedded' && platform ? { kind: 'embedded', platform } : plain;
  const options2 = normOptions(data.options);
  const devices = await normDevices(ctx, data.devices, target);
  const phases = normPhases(ctx, data.phases);
  const end = normEnd(ctx, data.end);
  const flows = await normFlows(ctx, data.flows, devices, target);
  const thresholds: Threshold[] = [];
  if (Array.isArray(data.thresholds)) {
    data.thresholds.forEach((t: unknown, i: number) => {
      const expression = str(t)?.trim();
      if (expression === undefined) return;
      if (expression === '') {
        ctx.error(['thresholds', i], 'a threshold cannot be blank');
        return;
      }
      thresholds.push({ expression, at: ctx.at(['thresholds', i]) });
    });
  }

  if (ctx.failed || !target || !devices?.spec || !phases || !end || !flows) {
    if (!ctx.failed) ctx.external(file, 1, 1, 'the scenario is invalid'); // defensive: never silent
    throw new ScenarioError(sortIssues(ctx.issues));
  }
  const phasesMs = phases.reduce((s, p) => s + p.durationMs, 0);
  const totalArrivals = arrivalsBy(phases, phasesMs);
  const expectedArrivals = Math.min(devices.spec.count, Math.floor(totalArrivals + 1e-9));
  if (expectedArrivals < devices.spec.count) {
    ctx.warn(['phases'], `the phases bring about ${expectedArrivals} of the ${devices.spec.count} devices online (raise an arrivalRate or a duration)`);
  }
  const totalWeight = flows.reduce((s, f) => s + f.weight, 0);
  const description = str(data.description);
  return {
    file,
    baseDir,
    name: str(data.name) ?? basename(file, extname(file)),
    ...(description !== undefined ? { description } : {}),
    target,
    devices: devices.spec,
    phases,
    end,
    flows,
    totalWeight,
    thresholds,
    options: options2,
    phasesMs,
    durationMs: phasesMs + end.holdMs,
    expectedArrivals,
    warnings: sortIssues(ctx.warnings),
  };
}

function sortIssues(issues: readonly ScenarioIssue[]): ScenarioIssue[] {
  return [...issues].sort((a, b) =>
    a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0) : a.file < b.file ? -1 : 1);
}

/** Reads and parses a scenario file. Throws {@link ScenarioError} (also when the file cannot be read). */
export async function loadScenario(file: string, options: ParseOptions = {}): Promise<Scenario> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    if (st.size > MAX_SCENARIO_BYTES) throw new Error(`${st.size} bytes, over the ${MAX_SCENARIO_BYTES}-byte limit`);
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ScenarioError([{ file, message: `cannot read the scenario: ${nodeErrorWhy(e)}` }]);
  }
  return parseScenario(text, file, options);
}

// ---- command-line overrides ----------------------------------------------------------------------

export interface ScenarioOverrides {
  /**
   * `--devices N`: the device count. Arrival rates scale by N / count, so the same phases bring N devices
   * online. With a CSV, N must not exceed its rows (after `start`).
   */
  devices?: number;
  /**
   * `--duration`: the length of the whole run. Longer than the phases: the hold after them grows. Shorter:
   * the phases are cut there (a ramp stops at the rate it had reached) and there is no hold.
   */
  durationMs?: number;
  /**
   * Compresses (< 1) or stretches (> 1) the scenario's timeline: phase durations, hold, wait, think,
   * expect `within`, reboot downtime, go-offline, firmware duration and loop durations are multiplied,
   * arrival rates divided (same arrivals). Protocol timers (lifetime, awake time, update and sample
   * intervals, fault delay, clock skew) are unchanged. Applied before `durationMs`.
   */
  timeScale?: number;
  seed?: number | string;
  /** `--target`: `embedded` or a coap:// / coaps:// server URI. */
  target?: string;
  workers?: number;
  metricsPort?: number;
  logLevel?: LogLevel;
}

function overrideError(scenario: Scenario, message: string): ScenarioError {
  return new ScenarioError([{ file: scenario.file, message }]);
}

function rebuildPhases(phases: readonly Omit<Phase, 'startMs' | 'arrivals'>[]): Phase[] {
  let startMs = 0;
  return phases.map((p) => {
    const out: Phase = { ...p, startMs, arrivals: p.pause ? 0 : ((p.fromRate + p.toRate) / 2) * (p.durationMs / 1000) };
    startMs += p.durationMs;
    return out;
  });
}

function scaleSteps(steps: readonly Step[], k: number): Step[] {
  const t = (ms: number): number => Math.round(ms * k);
  return steps.map((s): Step => {
    switch (s.kind) {
      case 'wait': return { ...s, durationMs: t(s.durationMs) };
      case 'think': return { ...s, minMs: t(s.minMs), maxMs: t(s.maxMs) };
      case 'expect': {
        const withinMs = Math.max(1, t(s.withinMs));
        return { ...s, withinMs, label: `expect ${s.operation} ${s.path} within ${formatDuration(withinMs)}` };
      }
      case 'reboot': return { ...s, downtimeMs: t(s.downtimeMs) };
      case 'go-offline': return { ...s, durationMs: Math.max(1, t(s.durationMs)) };
      case 'apply-firmware': return { ...s, durationMs: t(s.durationMs) };
      case 'loop': return { ...s, ...(s.durationMs !== undefined ? { durationMs: Math.max(1, t(s.durationMs)) } : {}), steps: scaleSteps(s.steps, k) };
      default: return s;
    }
  });
}

function withPhases(s: Scenario, phases: Phase[], holdMs: number): Scenario {
  const phasesMs = phases.reduce((sum, p) => sum + p.durationMs, 0);
  const expectedArrivals = Math.min(s.devices.count, Math.floor(arrivalsBy(phases, phasesMs) + 1e-9));
  return { ...s, phases, phasesMs, end: { ...s.end, holdMs }, durationMs: phasesMs + holdMs, expectedArrivals };
}

/**
 * Applies command-line overrides (`--devices`, `--duration`, `--seed`, `--target`, …) to a loaded
 * scenario; returns a new scenario. Throws {@link ScenarioError} for an impossible override.
 */
export function applyOverrides(scenario: Scenario, overrides: ScenarioOverrides): Scenario {
  let s = scenario;
  if (overrides.devices !== undefined) {
    const n = overrides.devices;
    if (!Number.isInteger(n) || n < 1 || n > MAX_DEVICES) throw overrideError(s, `--devices: must be an integer in 1..${MAX_DEVICES}, got ${n}`);
    const csv = s.devices.csv;
    if (csv && n > csv.rows.length - s.devices.start) {
      throw overrideError(s, `--devices ${n}: the device CSV ${csv.file} has only ${csv.rows.length - s.devices.start} devices`);
    }
    const endpoint = s.devices.endpoint;
    if (n > 1 && !endpoint.placeholders.includes('index') && !endpoint.placeholders.includes('csv')) {
      throw overrideError(s, `--devices ${n}: the endpoint pattern "${endpoint.source}" has no {index}, every device would get the same name`);
    }
    const k = n / s.devices.count;
    const phases = rebuildPhases(s.phases.map((p) => ({ ...p, fromRate: p.fromRate * k, toRate: p.toRate * k })));
    s = withPhases({ ...s, devices: { ...s.devices, count: n } }, phases, s.end.holdMs);
  }
  if (overrides.timeScale !== undefined) {
    const k = overrides.timeScale;
    if (!Number.isFinite(k) || k <= 0) throw overrideError(s, `timeScale: must be a number above 0, got ${k}`);
    const phases = rebuildPhases(s.phases.map((p) => ({
      ...p, durationMs: Math.max(1, Math.round(p.durationMs * k)), fromRate: p.fromRate / k, toRate: p.toRate / k,
    })));
    const flows = s.flows.map((f) => ({ ...f, steps: scaleSteps(f.steps, k) }));
    s = withPhases({ ...s, flows }, phases, Math.round(s.end.holdMs * k));
  }
  if (overrides.durationMs !== undefined) {
    const d = overrides.durationMs;
    if (!Number.isInteger(d) || d <= 0 || d > MAX_DURATION_MS) {
      throw overrideError(s, `--duration: must be between 1ms and ${formatDuration(MAX_DURATION_MS)}, got ${d} ms`);
    }
    if (d >= s.phasesMs) {
      s = withPhases(s, [...s.phases], d - s.phasesMs);
    } else {
      const kept: Omit<Phase, 'startMs' | 'arrivals'>[] = [];
      for (const p of s.phases) {
        if (p.startMs >= d) break;
        const cut = Math.min(p.durationMs, d - p.startMs);
        const toRate = p.fromRate + ((p.toRate - p.fromRate) * cut) / p.durationMs;
        kept.push({ ...p, durationMs: cut, toRate });
      }
      s = withPhases(s, rebuildPhases(kept), 0);
    }
  }
  if (overrides.seed !== undefined) s = { ...s, options: { ...s.options, seed: overrides.seed } };
  if (overrides.target !== undefined) {
    const t = overrides.target.trim();
    let target: Target;
    if (t === 'embedded') {
      target = { kind: 'embedded' };
    } else {
      let url: URL;
      try {
        url = new URL(t);
      } catch {
        throw overrideError(s, `--target: ${show(t)} is neither "embedded" nor a coap:// URI`);
      }
      const scheme = url.protocol.replace(/:$/, '');
      if ((scheme !== 'coap' && scheme !== 'coaps') || url.hostname === '') {
        throw overrideError(s, `--target: ${show(t)} is neither "embedded" nor a coap:// / coaps:// URI`);
      }
      const port = url.port === '' ? (scheme === 'coap' ? 5683 : 5684) : Number(url.port);
      const server: CoapUri = { uri: t.replace(/\/$/, ''), scheme, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
      const bootstrap = s.target.kind === 'remote' ? s.target.bootstrap : undefined;
      if (s.devices.bootstrap && !bootstrap) {
        throw overrideError(s, '--target: the devices bootstrap first (devices.bootstrap: true); give the bootstrap server in the scenario\'s target.bootstrap');
      }
      target = { kind: 'remote', server, ...(bootstrap ? { bootstrap } : {}) };
    }
    s = { ...s, target };
  }
  if (overrides.workers !== undefined) {
    if (!Number.isInteger(overrides.workers) || overrides.workers < 1) throw overrideError(s, `--workers: must be an integer ≥ 1, got ${overrides.workers}`);
    s = { ...s, options: { ...s.options, workers: overrides.workers } };
  }
  if (overrides.metricsPort !== undefined) {
    const p = overrides.metricsPort;
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw overrideError(s, `--metrics-port: must be a port in 0..65535, got ${p}`);
    s = { ...s, options: { ...s.options, metricsPort: p } };
  }
  if (overrides.logLevel !== undefined) {
    if (!(LOG_LEVELS as readonly string[]).includes(overrides.logLevel)) throw overrideError(s, `--log-level: must be one of ${LOG_LEVELS.join(', ')}`);
    s = { ...s, options: { ...s.options, logLevel: overrides.logLevel } };
  }
  return s;
}
