import { describe, expect, it } from 'vitest';
import { CsvError, detectDelimiter, parseCsv, parseCsvRecords, parseCsvTolerant, splitCsvLine } from '../../../src/core/csv.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

describe('core CSV', () => {
  it('parses RFC 4180 records with positions, quoted line breaks and ; delimiters', () => {
    const recs = parseCsvRecords('a;b\n"x;\ny";2\n', { delimiter: ';' });
    expect(recs.map((r) => r.fields.map((f) => f.value))).toEqual([['a', 'b'], ['x;\ny', '2']]);
    expect(recs[1]?.fields[1]).toMatchObject({ line: 3, col: 4 });
  });

  it('detects , ; and tab from the header line, ignoring quoted delimiters', () => {
    expect(detectDelimiter('ID;IDTYPE;endpoint id\n1,2,3\n')).toBe(';');
    expect(detectDelimiter('\ufeff"a;b",c,d\n')).toBe(',');
    expect(detectDelimiter('a\tb\tc')).toBe('\t');
    expect(detectDelimiter('single')).toBe(',');
  });

  it('recovers after a syntax error: the broken record is an error at its line and column, later ones are read', () => {
    const { records, errors } = parseCsvTolerant('h1;h2\nok;1\nbad;x"y\nafter;2\n', ';');
    expect(records.map((r) => [r.line, r.fields[0]?.value])).toEqual([[1, 'h1'], [2, 'ok'], [4, 'after']]);
    expect(errors).toEqual([{ line: 3, column: 6, message: expect.stringContaining('CSV syntax') as string }]);
  });

  it('throws CsvError with line and column; a bad delimiter is refused', () => {
    expect(() => parseCsvRecords('a,"b')).toThrow(CsvError);
    expect(() => parseCsv('a', { delimiter: '"' })).toThrow(/delimiter/);
  });

  it('splitCsvLine trims and honours another delimiter', () => {
    expect(splitCsvLine(' a ; "b;c" ', ';')).toEqual({ fields: [{ value: 'a', column: 0, valueColumn: 1 }, { value: 'b;c', column: 5, valueColumn: 6 }] });
    expect(splitCsvLine('a;"b"x', ';')).toMatchObject({ column: 5 });
  });

  it('the tolerant parser never throws; the strict one only CsvError (fuzz)', () => {
    const seeds = ['ID;endpoint id;securityMode\n1;"a;b";PSK\r\n', 'a,"b\nc",d\n"e""f",g'].map((t) => new Uint8Array(Buffer.from(t)));
    fuzzDecoder((bytes) => {
      const text = Buffer.from(bytes).toString('latin1');
      const r = parseCsvTolerant(text, detectDelimiter(text));
      for (const e of r.errors) expect(e.line).toBeGreaterThanOrEqual(1);
      return parseCsvRecords(text, { delimiter: ';' });
    }, seeds, { runs: 3000 });
  });
});
