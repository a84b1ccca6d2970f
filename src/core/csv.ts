/**
 * The one CSV module of the code base (RFC 4180 with 1-based line/column tracking):
 *
 * - {@link parseCsvRecords}: the record parser (quoted fields may span lines) — device lists, CSV
 *   value generators, platform imports;
 * - {@link detectDelimiter}: `,`, `;` (Cumulocity's own templates) or tab, from the header line;
 * - {@link parseCsvTolerant}: recovery from syntax errors, so one broken record fails alone and the
 *   records after it are still read;
 * - {@link splitCsvLine}: one line into trimmed fields (PSK files: one record per line).
 */
import { LwM2MError } from './errors.js';

/**
 * A CSV syntax or content error. `message` reads `source:line:col: detail` (1-based), or `line:col: …`
 * without a source.
 */
export class CsvError extends LwM2MError {
  readonly line: number;
  readonly col: number;
  constructor(detail: string, line: number, col: number, source?: string) {
    super('BAD_VALUE', detail, { location: `${source !== undefined ? `${source}:` : ''}${line}:${col}` });
    this.line = line;
    this.col = col;
  }
}


/** A delimiter that cannot separate CSV fields. */
export class CsvDelimiterError extends LwM2MError {
  readonly field = 'delimiter';
  constructor(detail: string) {
    super('BAD_VALUE', `delimiter: ${detail}`);
  }
}


export interface CsvField {
  readonly value: string;
  /** 1-based line and column of the field's first character (its opening quote when quoted). */
  readonly line: number;
  readonly col: number;
  readonly quoted: boolean;
}

export interface CsvRecord {
  readonly line: number;
  readonly fields: readonly CsvField[];
}

export interface CsvParseOptions {
  /** File name for error messages (`source:line:col: …`). */
  source?: string;
  /** Field separator, one character other than `"`, CR, LF. Default `,`. */
  delimiter?: string;
}

/**
 * Parses CSV (RFC 4180, tolerant of LF or lone CR line ends and a UTF-8 BOM): quoted fields may hold
 * delimiters, line breaks and doubled quotes (`""`). Blank lines are skipped. Errors (an unterminated
 * quote, text after a closing quote, a quote inside an unquoted field) throw {@link CsvError} naming the
 * line and column. One pass over the text: linear time.
 */
export function parseCsvRecords(text: string, options: CsvParseOptions = {}): CsvRecord[] {
  const delim = options.delimiter ?? ',';
  if (delim.length !== 1 || delim === '"' || delim === '\r' || delim === '\n') {
    throw new CsvDelimiterError(`must be one character other than a quote or line break, got ${JSON.stringify(delim)}`);
  }
  const src = options.source;
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let col = 1;
  const n = text.length;
  let fields: CsvField[] = [];
  let recordLine = 1;
  const endRecord = (): void => {
    const only = fields[0];
    const blank = fields.length === 1 && only !== undefined && !only.quoted && only.value.trim() === '';
    if (!blank) records.push({ line: recordLine, fields });
    fields = [];
  };
  /** Consumes a line break at i (CRLF, LF or CR); true if there was one. */
  const lineBreak = (): boolean => {
    const c = text[i];
    if (c === '\r') {
      i += text[i + 1] === '\n' ? 2 : 1;
    } else if (c === '\n') {
      i += 1;
    } else {
      return false;
    }
    line++;
    col = 1;
    return true;
  };
  if (i >= n) return records;
  recordLine = line;
  // Each iteration consumes one field and the separator after it: i strictly increases or the loop ends.
  while (i <= n) {
    const fLine = line;
    const fCol = col;
    if (text[i] === '"') {
      i++;
      col++;
      let value = '';
      let closed = false;
      while (i < n) {
        const c = text[i] as string;
        if (c === '"') {
          if (text[i + 1] === '"') {
            value += '"';
            i += 2;
            col += 2;
            continue;
          }
          i++;
          col++;
          closed = true;
          break;
        }
        if (c === '\r' || c === '\n') {
          value += c === '\r' && text[i + 1] === '\n' ? '\r\n' : c;
          lineBreak();
          continue;
        }
        value += c;
        i++;
        col++;
      }
      if (!closed) throw new CsvError('unterminated quoted field (no closing ")', fLine, fCol, src);
      fields.push({ value, line: fLine, col: fCol, quoted: true });
      if (i < n && text[i] !== delim && text[i] !== '\r' && text[i] !== '\n') {
        throw new CsvError(`unexpected ${JSON.stringify(text[i])} after a closing quote (expected "${delim}" or end of line)`, line, col, src);
      }
    } else {
      const start = i;
      while (i < n) {
        const c = text[i];
        if (c === delim || c === '\r' || c === '\n') break;
        if (c === '"') throw new CsvError('a quote inside an unquoted field (quote the whole field and double the quote)', line, col, src);
        i++;
        col++;
      }
      fields.push({ value: text.slice(start, i), line: fLine, col: fCol, quoted: false });
    }
    if (i >= n) {
      endRecord();
      break;
    }
    if (text[i] === delim) {
      i++;
      col++;
      continue;
    }
    lineBreak();
    endRecord();
    if (i >= n) break;
    recordLine = line;
  }
  return records;
}

/** {@link parseCsvRecords} as plain rows of strings. */
export function parseCsv(text: string, options: CsvParseOptions = {}): string[][] {
  return parseCsvRecords(text, options).map((r) => r.fields.map((f) => f.value));
}

export interface CsvSyntaxIssue {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

const CANDIDATES = [',', ';', '\t'] as const;

/**
 * The delimiter of a CSV file: the one of `,` `;` and tab that occurs most often outside quotes in its
 * first non-blank line (the header); `,` when none does.
 */
export function detectDelimiter(text: string): string {
  const counts = new Map<string, number>(CANDIDATES.map((c) => [c, 0]));
  let quoted = false;
  let seen = false;
  for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length && i < 65_536; i++) {
    const c = text[i] as string;
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) {
      if (seen) break;
    } else if (!quoted && counts.has(c)) counts.set(c, (counts.get(c) as number) + 1);
    if (c.trim() !== '') seen = true;
  }
  let best = ',';
  let bestCount = 0;
  for (const [c, n] of counts) {
    if (n > bestCount) {
      best = c;
      bestCount = n;
    }
  }
  return best;
}

/** Offsets of the start of each line (index 0 = line 1), plus the text length at the end. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) starts.push(i + 1);
    else if (c === 13) {
      if (text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    }
  }
  starts.push(text.length);
  return starts;
}

function shift(records: readonly CsvRecord[], by: number): CsvRecord[] {
  if (by === 0) return [...records];
  return records.map((r) => ({ line: r.line + by, fields: r.fields.map((f) => ({ ...f, line: f.line + by })) }));
}

/**
 * Parses CSV, recovering from syntax errors: each error is reported at its line and column, the records
 * before it are kept, and parsing goes on at the next line. Lines are 1-based in the whole text. At most
 * one pass per line: the loop ends.
 */
export function parseCsvTolerant(text: string, delimiter: string): { records: CsvRecord[]; errors: CsvSyntaxIssue[] } {
  const starts = lineStarts(text);
  const lineCount = starts.length - 1;
  const slice = (from: number, to: number): string => text.slice(starts[from - 1] as number, starts[Math.min(to, lineCount + 1) - 1] as number);
  const records: CsvRecord[] = [];
  const errors: CsvSyntaxIssue[] = [];
  let start = 1;
  for (let guard = 0; start <= lineCount && guard <= lineCount; guard++) {
    try {
      records.push(...shift(parseCsvRecords(slice(start, lineCount + 1), { delimiter }), start - 1));
      break;
    } catch (e) {
      if (!(e instanceof CsvError)) throw e;
      const errLine = start + e.line - 1;
      errors.push({ line: errLine, column: e.col, message: `CSV syntax: ${e.detail}` });
      // Keep what parses before the broken record; each retry ends on an earlier line.
      let end = errLine;
      for (let inner = 0; end > start && inner <= lineCount; inner++) {
        try {
          records.push(...shift(parseCsvRecords(slice(start, end), { delimiter }), start - 1));
          break;
        } catch (e2) {
          if (!(e2 instanceof CsvError)) throw e2;
          end = Math.min(end - 1, start + e2.line - 1);
        }
      }
      start = errLine + 1;
    }
  }
  return { records, errors };
}

export interface CsvLineField {
  readonly value: string;
  /** 0-based column where the field starts (its quote, when quoted). */
  readonly column: number;
  /** 0-based column of the value's first character. */
  readonly valueColumn: number;
}

export type CsvLineSplit = { fields: CsvLineField[] } | { error: string; column: number };

/**
 * Splits one line into fields (RFC 4180 §2 quoting, no line breaks inside quotes), trimming spaces and
 * tabs around fields — the line-oriented flavour used by PSK files, where each line is one record.
 */
export function splitCsvLine(line: string, delimiter = ','): CsvLineSplit {
  const fields: CsvLineField[] = [];
  let i = 0;
  // Bounded: every iteration consumes at least one character or ends the loop.
  for (;;) {
    const start = i;
    while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
    if (line[i] === '"') {
      const quoteAt = i;
      i++;
      let value = '';
      for (;;) {
        if (i >= line.length) return { error: 'unterminated quoted field (a quoted field cannot span lines)', column: quoteAt };
        const c = line[i] as string;
        if (c === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += c;
        i++;
      }
      while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
      if (i < line.length && line[i] !== delimiter) return { error: `unexpected ${JSON.stringify(line[i])} after a quoted field (expected ${delimiter} or the end of the line)`, column: i };
      fields.push({ value, column: quoteAt, valueColumn: quoteAt + 1 });
    } else {
      let end = line.indexOf(delimiter, i);
      if (end < 0) end = line.length;
      const raw = line.slice(start, end);
      const quote = raw.indexOf('"');
      if (quote >= 0) return { error: 'a quote inside an unquoted field (quote the whole field and write "" for a quote)', column: start + quote };
      const lead = raw.length - raw.trimStart().length;
      fields.push({ value: raw.trim(), column: start, valueColumn: start + lead });
      i = end;
    }
    if (i >= line.length) return { fields };
    i++; // the delimiter
  }
}

