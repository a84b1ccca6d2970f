/**
 * Problems found in a platform file (a ThingsBoard profile or credentials JSON, a Cumulocity CSV): each
 * one has a 1-based line and column, and — in JSON files — the JSON pointer it is about. Errors make the
 * item (the file, a device, a row) fail; warnings (an unknown field, an ignored column) never do.
 */
import { LineCounter, parseDocument } from 'yaml';
import { escapePointer, yamlNodeAt } from '../../core/yaml-pointer.js';
import { LwM2MError } from '../../core/errors.js';

export type IssueSeverity = 'error' | 'warning';

export interface ProfileIssue {
  readonly severity: IssueSeverity;
  /** 1-based. */
  readonly line: number;
  /** 1-based (characters). */
  readonly column: number;
  readonly message: string;
  /** JSON files: the pointer the issue is about (`/observeAttr/observe/2`). */
  readonly pointer?: string;
}

/** `file:line:column: message` (warnings say so). */
export function formatIssue(file: string | undefined, issue: Pick<ProfileIssue, 'line' | 'column' | 'message'> & { severity?: IssueSeverity }): string {
  const where = `${file !== undefined ? `${file}:` : ''}${issue.line}:${issue.column}`;
  return `${where}: ${issue.severity === 'warning' ? 'warning: ' : ''}${issue.message}`;
}

/** A platform file that cannot be used; `issues` lists every error (and the warnings found on the way). */
export class ProfileFileError extends LwM2MError {
  readonly issues: readonly ProfileIssue[];
  readonly file: string | undefined;

  constructor(issues: readonly ProfileIssue[], file: string | undefined, what: string) {
    const errors = issues.filter((i) => i.severity === 'error');
    const shown = errors.slice(0, 50).map((i) => formatIssue(file, i));
    const more = errors.length > shown.length ? `\n  … and ${errors.length - shown.length} more` : '';
    super('BAD_VALUE', `invalid ${what}${file !== undefined ? ` ${file}` : ''}:\n  ${shown.join('\n  ')}${more}`);
    this.issues = issues;
    this.file = file;
  }
}

export { escapePointer };

/** A parsed JSON text with positions: `value` plus `locate(pointer)` → line and column. */
export interface LocatedJson {
  readonly value: unknown;
  locate(pointer: string, atKey?: boolean): { line: number; column: number };
}

/** Bound on a JSON file read by the importers (a profile or a credentials list). */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/**
 * Parses JSON text through `yaml` (its JSON schema) to keep node positions, so that a problem found in
 * the value can be reported at its line and column. Syntax errors throw {@link ProfileFileError}.
 */
export function parseLocatedJson(text: string, file: string | undefined, what: string): LocatedJson {
  if (text.length > MAX_JSON_BYTES) {
    throw new ProfileFileError([{ severity: 'error', line: 1, column: 1, message: `${text.length} characters, at most ${MAX_JSON_BYTES} are read` }], file, what);
  }
  const lc = new LineCounter();
  const body = text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text; // keep offsets: a BOM becomes a space
  const doc = parseDocument(body, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, schema: 'json' });
  const pos = (offset: number): { line: number; column: number } => {
    const { line, col } = lc.linePos(offset);
    return { line: Math.max(line, 1), column: Math.max(col, 1) };
  };
  if (doc.errors.length > 0) {
    throw new ProfileFileError(doc.errors.map((e) => ({ severity: 'error' as const, ...pos(e.pos[0]), message: e.message.split('\n')[0] ?? e.message })), file, what);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (e) {
    throw new ProfileFileError([{ severity: 'error', line: 1, column: 1, message: e instanceof Error ? e.message : String(e) }], file, what);
  }
  return { value, locate: (pointer, atKey = false) => pos(yamlNodeAt(doc, pointer, atKey)?.range?.[0] ?? 0) };
}

/**
 * Collects issues while reading an untyped JSON value: typed getters that record an error (with the
 * pointer) and return undefined when a field has the wrong type, and a check for unknown fields.
 */
export class IssueCollector {
  readonly issues: Array<{ severity: IssueSeverity; pointer: string; message: string; atKey?: boolean }> = [];

  error(pointer: string, message: string, atKey = false): void {
    this.issues.push({ severity: 'error', pointer, message, ...(atKey ? { atKey } : {}) });
  }

  warn(pointer: string, message: string, atKey = false): void {
    this.issues.push({ severity: 'warning', pointer, message, ...(atKey ? { atKey } : {}) });
  }

  get errorCount(): number {
    let n = 0;
    for (const i of this.issues) if (i.severity === 'error') n++;
    return n;
  }

  /** Warns about every key of `obj` not in `known` (a platform adds fields over releases: never fatal). */
  unknownKeys(obj: Record<string, unknown>, at: string, known: ReadonlySet<string>, what: string): void {
    for (const k of Object.keys(obj)) {
      if (!known.has(k)) this.warn(`${at}/${escapePointer(k)}`, `unknown ${what} field "${k}" is ignored`, true);
    }
  }

  object(v: unknown, at: string, what: string): Record<string, unknown> | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.error(at, `${what} must be an object`);
      return undefined;
    }
    return v as Record<string, unknown>;
  }

  string(v: unknown, at: string, what: string): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      this.error(at, `${what} must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  boolean(v: unknown, at: string, what: string): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      this.error(at, `${what} must be true or false, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  integer(v: unknown, at: string, what: string, min: number, max: number): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.error(at, `${what} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  number(v: unknown, at: string, what: string): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.error(at, `${what} must be a number, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  /** Located issues, errors and warnings, in file order. */
  located(json: LocatedJson, prefix = ''): ProfileIssue[] {
    return this.issues.map((i) => {
      const pointer = `${prefix}${i.pointer}`;
      return { severity: i.severity, ...json.locate(pointer, i.atKey === true), message: i.message, pointer };
    }).sort((a, b) => a.line - b.line || a.column - b.column); // stable: same place keeps the order found
  }
}

const HEX = /^[0-9a-fA-F]*$/;

/** Hex text (no separators: the platforms store keys as plain hex) → bytes, or a reason. */
export function parseHexKey(text: string): { ok: true; bytes: Uint8Array } | { ok: false; reason: string } {
  const t = text.trim();
  if (t.length === 0) return { ok: false, reason: 'is empty' };
  if (!HEX.test(t)) return { ok: false, reason: `"${short(t)}" is not hex (0-9, a-f)` };
  if (t.length % 2 !== 0) return { ok: false, reason: `"${short(t)}" has an odd number of hex digits` };
  if (t.length > 128) return { ok: false, reason: `is ${t.length / 2} bytes, at most 64 are allowed` };
  return { ok: true, bytes: Uint8Array.from(Buffer.from(t, 'hex')) };
}

export function short(s: string, n = 40): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
