import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fuzzDecoder } from '../../../helpers/fuzz.js';
import { importCumulocityCsv } from '../../../../src/server/profiles/cumulocity.js';
import { parseThingsBoardCredentials } from '../../../../src/server/profiles/thingsboard/credentials.js';
import { parseThingsBoardProfile } from '../../../../src/server/profiles/thingsboard/profile.js';

const fixture = (name: string): Uint8Array => Uint8Array.from(readFileSync(new URL(`../../../fixtures/profiles/${name}`, import.meta.url)));
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('platform importers under fuzzing: a result or an LwM2MError (4.00), never a crash', () => {
  it('ThingsBoard profile', () => {
    const r = fuzzDecoder((b) => parseThingsBoardProfile(text(b), 'p.json'), [fixture('thingsboard-profile.json')], { runs: 2000, seed: 11, maxLength: 4096 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  });

  it('ThingsBoard credentials', () => {
    const r = fuzzDecoder((b) => parseThingsBoardCredentials(text(b), 'c.json'), [fixture('thingsboard-credentials.json')], { runs: 2000, seed: 12, maxLength: 4096 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  });

  it('Cumulocity CSV (never throws: every problem is a failed row)', () => {
    let failedSome = 0;
    const r = fuzzDecoder((b) => {
      const res = importCumulocityCsv(text(b), { file: 'd.csv' });
      if (res.failed.length > 0) failedSome++;
      for (const f of res.failed) if (f.line < 1 || f.column < 1) throw new Error(`bad position ${f.line}:${f.column}`);
    }, [fixture('cumulocity-devices.csv')], { runs: 2000, seed: 13, maxLength: 4096 });
    expect(r.rejected).toBe(0);
    expect(failedSome).toBeGreaterThan(0);
  });
});
