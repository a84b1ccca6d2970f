import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LwM2MError } from '../../../../src/core/errors.js';
import {
  addPskEntries, formatPskFileIssue, loadPskFile, parsePskCsv, readPskFile, splitCsvLine,
} from '../../../../src/server/security/psk-csv.js';
import { PskStore } from '../../../../src/server/security/psk-store.js';
import { fuzzDecoder } from '../../../helpers/fuzz.js';

const F = 'psks.csv';
const msgs = (text: string): string[] => parsePskCsv(text, F).issues.map(formatPskFileIssue);

describe('splitCsvLine', () => {
  it('splits, trims unquoted fields, keeps quoted ones verbatim', () => {
    const r = splitCsvLine(' a , "b, c" ,"d""e",');
    expect('fields' in r && r.fields.map((f) => f.value)).toEqual(['a', 'b, c', 'd"e', '']);
    expect('fields' in r && r.fields.map((f) => f.valueColumn)).toEqual([1, 6, 14, 20]);
  });
  it('reports quoting errors with the column', () => {
    expect(splitCsvLine('a,"bc')).toEqual({ error: 'unterminated quoted field (a quoted field cannot span lines)', column: 2 });
    expect(splitCsvLine('a,"b"x,c')).toMatchObject({ column: 5 });
    expect(splitCsvLine('a,b"c,d')).toMatchObject({ column: 3 });
  });
});

describe('parsePskCsv', () => {
  it('reads rows with and without a header, skipping comments and blank lines', () => {
    const text = '# PSKs of the test fleet\nendpoint,identity,key\n\ndev1,id1,000102\n  # indented comment\ndev2 , id2 , 0xA0B1\n';
    const r = parsePskCsv(text, F);
    expect(r.issues).toEqual([]);
    expect(r.entries).toEqual([
      { endpoint: 'dev1', identity: 'id1', key: Uint8Array.from([0, 1, 2]), source: 'psks.csv:4' },
      { endpoint: 'dev2', identity: 'id2', key: Uint8Array.from([0xa0, 0xb1]), source: 'psks.csv:6' },
    ]);
    expect(parsePskCsv('dev1,id1,00', F).entries).toHaveLength(1);
    expect(parsePskCsv('Endpoint,Identity,HexKey\ndev1,id1,00', F).entries).toHaveLength(1);
    expect(parsePskCsv('endpoint,identity,psk\r\ndev1,id1,00\r\n', F).entries).toHaveLength(1);
  });

  it('only the first row may be the header', () => {
    expect(msgs('dev1,id1,00\nendpoint,identity,key\n')).toEqual(['psks.csv:2:19: key: "k" is not a hex digit']);
  });

  it('quoted fields keep commas, quotes and spaces', () => {
    const r = parsePskCsv('"urn:dev,1","id ""one"" ",  "0011"\n', F);
    expect(r.issues).toEqual([]);
    expect(r.entries[0]).toMatchObject({ endpoint: 'urn:dev,1', identity: 'id "one" ', key: Uint8Array.from([0, 0x11]) });
  });

  it('a UTF-8 BOM is skipped and does not shift columns', () => {
    const r = parsePskCsv('\ufeffendpoint,identity,key\ndev1,id1,0g\n', F);
    expect(r.entries).toEqual([]);
    expect(r.issues.map(formatPskFileIssue)).toEqual(['psks.csv:2:11: key: "g" is not a hex digit']);
    expect(parsePskCsv('\ufeffdev1,id1,00', F).entries[0]?.endpoint).toBe('dev1');
  });

  it('bad hex: the column of the offending digit; odd length; empty', () => {
    expect(msgs('dev1,id1,00zz\n')).toEqual(['psks.csv:1:12: key: "z" is not a hex digit']);
    expect(msgs('dev1,id1,0x0\n')).toEqual(['psks.csv:1:12: key has an odd number (1) of hex digits']);
    expect(msgs('dev1,id1,\n')).toEqual(['psks.csv:1:10: key is empty']);
    expect(msgs('dev1,id1,"  00"\n')).toEqual(['psks.csv:1:11: key: " " is not a hex digit']);
  });

  it('missing and extra columns', () => {
    expect(msgs('dev1,id1\n')).toEqual(['psks.csv:1:9: missing column: expected 3 fields (endpoint,identity,key), found 2 (no key)']);
    expect(msgs('dev1\n')).toEqual(['psks.csv:1:5: missing column: expected 3 fields (endpoint,identity,key), found 1 (no identity, key)']);
    expect(msgs('dev1,id1,00,extra\n')).toEqual(['psks.csv:1:13: expected 3 fields (endpoint,identity,key), found 4']);
  });

  it('duplicate endpoint and duplicate identity: reported at the later row, the first row wins', () => {
    const r = parsePskCsv('dev1,id1,00\ndev2,id2,01\ndev1,id3,02\ndev3,id2,03\ndev4,id4,04\n', F);
    expect(r.issues.map(formatPskFileIssue)).toEqual([
      'psks.csv:3:1: duplicate endpoint "dev1": already given at line 1',
      'psks.csv:4:6: duplicate identity "id2": already used by endpoint "dev2" at line 2',
    ]);
    expect(r.entries.map((e) => e.endpoint)).toEqual(['dev1', 'dev2', 'dev4']);
  });

  it('bad rows are reported and good rows still load', () => {
    const r = parsePskCsv('dev1,id1,00\n"dev2,id2,01\ndev3,,02\n,id4,03\ndev5,id5,' + '00'.repeat(65) + '\ndev6,id6,06\n', F);
    expect(r.issues.map(formatPskFileIssue)).toEqual([
      'psks.csv:2:1: unterminated quoted field (a quoted field cannot span lines)',
      'psks.csv:3:6: identity is empty',
      'psks.csv:4:1: endpoint (Endpoint Client Name) is empty',
      'psks.csv:5:10: key is 65 bytes long, at most 64 are allowed (RFC 4279 §5.3)',
    ]);
    expect(r.entries.map((e) => e.endpoint)).toEqual(['dev1', 'dev6']);
  });

  it('an empty file, or one with only comments and a header, is an issue', () => {
    expect(msgs('')).toEqual(['psks.csv:1:1: no PSK entries (expected lines endpoint,identity,hexkey)']);
    expect(msgs('\ufeff# nothing\n\nendpoint,identity,key\n')).toEqual(['psks.csv:1:1: no PSK entries (expected lines endpoint,identity,hexkey)']);
  });

  it('bounds the rows it reads', () => {
    const r = parsePskCsv('a,ia,00\nb,ib,00\nc,ic,00\n', F, { maxRows: 2 });
    expect(r.entries).toHaveLength(2);
    expect(r.issues.map(formatPskFileIssue)).toEqual(['psks.csv:3:1: more than 2 rows: this row and the rest are not read']);
  });

  it('never throws, and every issue points inside the text (fuzz)', () => {
    const dec = new TextDecoder();
    const seeds = ['endpoint,identity,key\ndev1,id1,000102\n', '"a,b","c""d",0x00ff\r\n# c\n', 'x,y,zz\n,,\n'].map((s) => new TextEncoder().encode(s));
    const r = fuzzDecoder((bytes) => {
      const text = dec.decode(bytes);
      const res = parsePskCsv(text, F);
      const lines = text.replace(/^\ufeff/, '').split(/\r\n|\n|\r/);
      for (const i of res.issues) {
        expect(i.line).toBeGreaterThanOrEqual(1);
        expect(i.line).toBeLessThanOrEqual(Math.max(1, lines.length));
        expect(i.column).toBeGreaterThanOrEqual(1);
        expect(i.column).toBeLessThanOrEqual((lines[i.line - 1]?.length ?? 0) + 1);
      }
      if (res.issues.length > 0) throw new LwM2MError('BAD_VALUE', formatPskFileIssue(res.issues[0] as never));
      return res;
    }, seeds, { runs: 3000, seed: 7 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  });
});

describe('PSK files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'psk-csv-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a file into a store; identities already in the store are issues at their row', async () => {
    const file = join(dir, 'psks.csv');
    await writeFile(file, 'endpoint,identity,key\ndev1,id1,00\ndev2,taken,01\ndev3,id3,zz\n');
    const store = new PskStore([{ endpoint: 'api-dev', identity: 'taken', key: Uint8Array.of(9), source: 'api' }]);
    const r = await loadPskFile(store, file);
    expect(r.issues.map(formatPskFileIssue)).toEqual([
      `${file}:4:10: key: "z" is not a hex digit`,
      `${file}:3:1: identity "taken" is already used by endpoint "api-dev" (api)`,
    ]);
    expect(r.entries.map((e) => e.endpoint)).toEqual(['dev1']);
    expect(store.list().map((e) => [e.endpoint, e.source])).toEqual([['api-dev', 'api'], ['dev1', `${file}:2`]]);
  });

  it('a missing file is one issue at 1:1', async () => {
    const r = await readPskFile(join(dir, 'nope.csv'));
    expect(r.entries).toEqual([]);
    expect(r.issues).toHaveLength(1);
    expect(formatPskFileIssue(r.issues[0] as never)).toMatch(/nope\.csv:1:1: cannot read: .*ENOENT/);
    expect((await readPskFile(dir)).issues[0]?.message).toBe('not a regular file');
  });

  it('a file above the size bound is refused', async () => {
    const file = join(dir, 'big.csv');
    await writeFile(file, 'dev1,id1,00\n'.repeat(10));
    expect((await readPskFile(file, { maxFileBytes: 50 })).issues[0]?.message).toBe('file is 120 bytes, at most 50 are read');
  });

  it('addPskEntries names entries without a file source', () => {
    const store = new PskStore([{ endpoint: 'a', identity: 'x', key: Uint8Array.of(1) }]);
    const issues = addPskEntries(store, [{ endpoint: 'b', identity: 'x', key: Uint8Array.of(1) }]);
    expect(issues).toEqual([{ file: '(entries)', line: 1, column: 1, message: 'identity "x" is already used by endpoint "a"' }]);
  });
});
