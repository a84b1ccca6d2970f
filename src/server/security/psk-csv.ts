/**
 * The PSK file of `lwm2m-server --psk-file psks.csv`: one `endpoint,identity,hexkey` line per device.
 *
 * - A header line (`endpoint,identity,key`; `hexkey` or `psk` for the last column) is optional.
 * - Blank lines and lines whose first non-blank character is `#` are skipped.
 * - Fields are separated by commas (src/core/csv.ts `splitCsvLine`); a field may be quoted (RFC 4180 §2: `"a,b"`, `""` for a quote)
 *   and then keeps its spaces; an unquoted field is trimmed. A quoted field cannot span lines.
 * - The key is hex (`0x` prefix allowed). A UTF-8 BOM and CRLF line ends are accepted.
 *
 * Parsing never stops at the first problem: every bad row is an issue `file:line:column: message` and
 * the good rows are returned (a duplicate endpoint or identity: the first row wins).
 */
import { readFile, stat } from 'node:fs/promises';
import { PskStore, checkPskIdentity, checkPskKey, isPskStoreError, parseHexKey, type PskEntry } from './psk-store.js';
import { checkEndpointName } from '../registration/parse.js';
import { splitCsvLine, type CsvLineField as Field } from '../../core/csv.js';

export { splitCsvLine };

export interface PskFileIssue {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based, in UTF-16 code units of the line (what editors show for text without astral characters). */
  readonly column: number;
  readonly message: string;
}

/** `file:line:column: message`. */
export function formatPskFileIssue(i: PskFileIssue): string {
  return `${i.file}:${i.line}:${i.column}: ${i.message}`;
}

export interface PskFileResult {
  readonly entries: PskEntry[];
  readonly issues: PskFileIssue[];
}

export interface PskCsvOptions {
  /** Bound on data rows read; the rest is one issue. Default 1 000 000. */
  maxRows?: number;
}

const HEADER_LAST = new Set(['key', 'hexkey', 'psk', 'hex key', 'pskkey', 'psk key']);

function isHeader(fields: readonly Field[]): boolean {
  return fields.length === 3
    && fields[0]?.value.toLowerCase() === 'endpoint'
    && fields[1]?.value.toLowerCase() === 'identity'
    && HEADER_LAST.has(fields[2]?.value.toLowerCase() ?? '');
}

/** Parses the text of a PSK file; `file` names it in issues. */
export function parsePskCsv(text: string, file: string, options: PskCsvOptions = {}): PskFileResult {
  const maxRows = options.maxRows ?? 1_000_000;
  const entries: PskEntry[] = [];
  const issues: PskFileIssue[] = [];
  const issue = (line: number, column0: number, message: string): void => {
    issues.push({ file, line, column: column0 + 1, message });
  };
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split(/\r\n|\n|\r/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const endpoints = new Map<string, number>();
  const identities = new Map<string, { endpoint: string; line: number }>();
  let rows = 0;
  let sawHeaderCandidate = false;
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n] as string;
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const split = splitCsvLine(line);
    if ('error' in split) {
      issue(lineNo, split.column, split.error);
      continue;
    }
    const fields = split.fields;
    if (!sawHeaderCandidate) {
      sawHeaderCandidate = true;
      if (isHeader(fields)) continue;
    }
    if (rows >= maxRows) {
      issue(lineNo, 0, `more than ${maxRows} rows: this row and the rest are not read`);
      break;
    }
    rows++;
    if (fields.length < 3) {
      const names = ['endpoint', 'identity', 'key'];
      issue(lineNo, line.length, `missing column: expected 3 fields (endpoint,identity,key), found ${fields.length} (no ${names.slice(fields.length).join(', ')})`);
      continue;
    }
    if (fields.length > 3) {
      issue(lineNo, (fields[3] as Field).column, `expected 3 fields (endpoint,identity,key), found ${fields.length}`);
      continue;
    }
    const [ep, id, key] = fields as [Field, Field, Field];
    const badEp = checkEndpointName(ep.value);
    if (badEp) {
      issue(lineNo, ep.valueColumn, badEp.diagnostic.replace(/^ep /, 'endpoint '));
      continue;
    }
    const badId = checkPskIdentity(id.value);
    if (badId !== undefined) {
      issue(lineNo, id.valueColumn, badId);
      continue;
    }
    const bytes = parseHexKey(key.value);
    if (!(bytes instanceof Uint8Array)) {
      issue(lineNo, key.valueColumn + bytes.index, bytes.error);
      continue;
    }
    const badKey = checkPskKey(bytes);
    if (badKey !== undefined) {
      issue(lineNo, key.valueColumn, badKey);
      continue;
    }
    const epLine = endpoints.get(ep.value);
    if (epLine !== undefined) {
      issue(lineNo, ep.valueColumn, `duplicate endpoint ${JSON.stringify(ep.value)}: already given at line ${epLine}`);
      continue;
    }
    const idOwner = identities.get(id.value);
    if (idOwner !== undefined) {
      issue(lineNo, id.valueColumn, `duplicate identity ${JSON.stringify(id.value)}: already used by endpoint ${JSON.stringify(idOwner.endpoint)} at line ${idOwner.line}`);
      continue;
    }
    endpoints.set(ep.value, lineNo);
    identities.set(id.value, { endpoint: ep.value, line: lineNo });
    entries.push({ endpoint: ep.value, identity: id.value, key: bytes, source: `${file}:${lineNo}` });
  }
  if (entries.length === 0 && issues.length === 0) issue(1, 0, 'no PSK entries (expected lines endpoint,identity,hexkey)');
  return { entries, issues };
}

export interface LoadPskFileOptions extends PskCsvOptions {
  /** Bound on the file's size. Default 64 MiB. */
  maxFileBytes?: number;
}

/** Reads and parses a PSK file; a file that cannot be read is one issue at 1:1. */
export async function readPskFile(file: string, options: LoadPskFileOptions = {}): Promise<PskFileResult> {
  const maxBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) return { entries: [], issues: [{ file, line: 1, column: 1, message: 'not a regular file' }] };
    if (st.size > maxBytes) return { entries: [], issues: [{ file, line: 1, column: 1, message: `file is ${st.size} bytes, at most ${maxBytes} are read` }] };
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { entries: [], issues: [{ file, line: 1, column: 1, message: `cannot read: ${e instanceof Error ? e.message : String(e)}` }] };
  }
  return parsePskCsv(text, file, options);
}

/**
 * Puts parsed entries into `store`; an entry the store refuses (its identity is another endpoint's
 * already) becomes an issue at its row. Returns the issues.
 */
export function addPskEntries(store: PskStore, entries: readonly PskEntry[]): PskFileIssue[] {
  const issues: PskFileIssue[] = [];
  for (const entry of entries) {
    try {
      store.put(entry);
    } catch (e) {
      if (!isPskStoreError(e)) throw e;
      const m = entry.source !== undefined ? /^(.*):(\d+)$/.exec(entry.source) : null;
      issues.push({ file: m?.[1] ?? entry.source ?? '(entries)', line: m ? Number(m[2]) : 1, column: 1, message: e.message });
    }
  }
  return issues;
}

/** {@link readPskFile} then {@link addPskEntries}: every issue of the file and of the store. */
export async function loadPskFile(store: PskStore, file: string, options: LoadPskFileOptions = {}): Promise<PskFileResult> {
  const parsed = await readPskFile(file, options);
  const refused = addPskEntries(store, parsed.entries);
  const refusedSources = new Set(refused.map((i) => `${i.file}:${i.line}`));
  return {
    entries: parsed.entries.filter((e) => !refusedSources.has(e.source ?? '')),
    issues: [...parsed.issues, ...refused],
  };
}
