import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LwM2MError } from '../../../../src/core/errors.js';
import { ProfileFileError } from '../../../../src/server/profiles/issues.js';
import { loadPlatformImports, parseImportSpec } from '../../../../src/server/profiles/platform-import.js';

const fx = (name: string): string => new URL(`../../../fixtures/profiles/${name}`, import.meta.url).pathname;

describe('--import KIND:FILE', () => {
  it('parses the specs', () => {
    expect(parseImportSpec('cumulocity:devices.csv')).toEqual({ kind: 'cumulocity', file: 'devices.csv' });
    expect(parseImportSpec('c8y:a,b.csv')).toEqual({ kind: 'cumulocity', file: 'a,b.csv' });
    expect(parseImportSpec('thingsboard:creds.json')).toEqual({ kind: 'thingsboard', file: 'creds.json' });
    expect(parseImportSpec('TB:creds.json,profile.json')).toEqual({ kind: 'thingsboard', file: 'creds.json', profile: 'profile.json' });
    expect(() => parseImportSpec('devicewise:x')).toThrow(/expected cumulocity:FILE\.csv or thingsboard:/);
    expect(() => parseImportSpec('cumulocity:')).toThrow(LwM2MError);
  });

  it('merges the sample files of both platforms', async () => {
    const r = await loadPlatformImports([`cumulocity:${fx('cumulocity-devices.csv')}`, `thingsboard:${fx('thingsboard-credentials.json')},${fx('thingsboard-profile.json')}`]);
    expect(r).toMatchObject({ issues: [], failed: false, counts: [3, 2] });
    expect(r.psks.map((p) => p.endpoint)).toEqual(['c8y-psk-0001', 'LwPSK00000000']);
    expect(r.bsPsks.map((p) => p.identity)).toEqual(['c8y-psk-0001-bs', 'LwPSK00000000-bs-identity']);
    expect(Object.keys(r.bootstrapConfigs)).toEqual(['c8y-nosec-0001', 'c8y-nosec-0002', 'c8y-psk-0001', 'LwNoSec00000000', 'LwPSK00000000']);
    expect(r.awakeTimesMs).toEqual({ 'c8y-nosec-0002': 180000, 'c8y-psk-0001': 60000 });
    expect([...r.profiles.keys()]).toEqual([fx('thingsboard-profile.json')]);
  });

  it('bad rows are issues (failed), unreadable files and bad profiles throw', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'imp-'));
    try {
      const csv = join(dir, 'd.csv');
      await writeFile(csv, 'endpoint id,securityMode,colour\na,NO_SEC,red\nb,WEP,blue\n');
      const r = await loadPlatformImports([`cumulocity:${csv}`]);
      expect(r.failed).toBe(true);
      expect(r.counts).toEqual([1]);
      expect(r.issues).toEqual([`${csv}:3:3: securityMode "WEP" is not one of NO_SEC, PSK`, `${csv}:1:26: warning: unknown column "colour" is ignored`]);
      await expect(loadPlatformImports([`cumulocity:${join(dir, 'none.csv')}`])).rejects.toThrow(/none\.csv: cannot read: ENOENT/);
      const badProfile = join(dir, 'p.json');
      await writeFile(badProfile, '{"observeAttr": {"observe": [1]}}');
      await expect(loadPlatformImports([`thingsboard:${fx('thingsboard-credentials.json')},${badProfile}`])).rejects.toThrow(ProfileFileError);
      const creds = join(dir, 'c.json');
      await writeFile(creds, '[{"client": {"securityConfigClientMode": "PSK", "endpoint": "x"}}]');
      const t = await loadPlatformImports([`thingsboard:${creds}`]);
      expect(t.failed).toBe(true);
      expect(t.issues).toEqual([`${creds}:1:13: PSK needs identity (the PSK identity)`, `${creds}:1:13: PSK needs key (the key, hex)`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
