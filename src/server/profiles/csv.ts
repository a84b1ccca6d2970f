/**
 * CSV reading for the platform importers, on top of the one CSV parser of the code base
 * ({@link parseCsvRecords}, RFC 4180 with line/column tracking, in src/client/generators.ts):
 * delimiter detection (Cumulocity's own templates use `;`, its docs show `,`) and recovery from a
 * syntax error, so that one broken row fails alone and the rows after it still import.
 */
import { CsvError, parseCsvRecords, type CsvRecord } from '../../client/generators.js';

export type { CsvField, CsvRecord } from '../../client/generators.js';

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
