import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { validateBootstrapConfig } from '../../../../src/server/bootstrap/config.js';
import { PskStore } from '../../../../src/server/security/psk-store.js';
import { importCumulocityCsv } from '../../../../src/server/profiles/cumulocity.js';
import { cumulocityServerOptions, putCredentials, thingsBoardBootstrapConfig, thingsBoardServerOptions } from '../../../../src/server/profiles/server-import.js';
import { parseThingsBoardCredentials } from '../../../../src/server/profiles/thingsboard/credentials.js';
import { parseThingsBoardProfile } from '../../../../src/server/profiles/thingsboard/profile.js';

const read = (name: string): string => readFileSync(new URL(`../../../fixtures/profiles/${name}`, import.meta.url), 'utf8');
const KEY = '011b69a96ba580f57b3ca8718da03b906ea39b3add998c4ce0e25464be12494d';

describe('imported files → reference server options', () => {
  it('Cumulocity: DM and bootstrap PSKs, bootstrap configs and awake times by endpoint', () => {
    const r = importCumulocityCsv(read('cumulocity-devices.csv'));
    const o = cumulocityServerOptions(r.imported, 'devices.csv');
    expect(o.psks).toEqual([{ endpoint: 'c8y-psk-0001', identity: 'c8y-psk-0001', key: expect.any(Uint8Array), source: 'devices.csv:4' }]);
    expect(o.bsPsks.map((e) => [e.endpoint, e.identity])).toEqual([['c8y-psk-0001', 'c8y-psk-0001-bs']]);
    expect(Object.keys(o.bootstrapConfigs)).toEqual(['c8y-nosec-0001', 'c8y-nosec-0002', 'c8y-psk-0001']);
    expect(o.awakeTimesMs).toEqual({ 'c8y-nosec-0002': 180000, 'c8y-psk-0001': 60000 });
  });

  it('ThingsBoard: PSKs from credentials; bootstrap configs from the profile with each device\'s credentials', () => {
    const profile = parseThingsBoardProfile(read('thingsboard-profile.json')).profile;
    const creds = parseThingsBoardCredentials(read('thingsboard-credentials.json')).devices;
    const o = thingsBoardServerOptions(creds, profile, 'creds.json');
    expect(o.psks.map((e) => [e.endpoint, e.identity, e.source])).toEqual([['LwPSK00000000', 'LwPSK00000000-identity', 'creds.json:12']]);
    expect(o.bsPsks.map((e) => e.identity)).toEqual(['LwPSK00000000-bs-identity']);
    expect(o.bootstrapConfigs.LwNoSec00000000).toEqual({
      endpoint: 'LwNoSec00000000',
      servers: [{ shortServerId: 123, uri: 'coap://127.0.0.1:5685', securityMode: 'nosec', lifetime: 300, binding: 'U', defaultPmin: 1, notificationStoring: true }],
      bootstrapServer: { uri: 'coap://127.0.0.1:5687', securityMode: 'nosec', clientHoldOffTime: 1, accountTimeout: 0 },
    });
    // A PSK device gets ThingsBoard's DTLS ports (the profile's entries are NO_SEC ones).
    expect(o.bootstrapConfigs.LwPSK00000000?.servers?.[0]).toMatchObject({ uri: 'coaps://127.0.0.1:5686', securityMode: 'psk', pskIdentity: 'LwPSK00000000-identity', pskKey: KEY });
    expect(o.bootstrapConfigs.LwPSK00000000?.bootstrapServer).toMatchObject({ uri: 'coaps://127.0.0.1:5688', securityMode: 'psk', pskIdentity: 'LwPSK00000000-bs-identity' });
    for (const c of Object.values(o.bootstrapConfigs)) expect(validateBootstrapConfig(c).ok).toBe(true);
    expect(thingsBoardServerOptions(creds).bootstrapConfigs).toEqual({});
  });

  it('ThingsBoard: a host option replaces the profile\'s; without bootstrapServerUpdateEnable no Bootstrap-Server account is written', () => {
    const raw = JSON.parse(read('thingsboard-profile.json')) as Record<string, unknown>;
    const profile = parseThingsBoardProfile(JSON.stringify({ ...raw, bootstrapServerUpdateEnable: false })).profile;
    const c = thingsBoardBootstrapConfig(profile, { endpoint: 'e', dm: { mode: 'nosec' } }, { host: '::1' });
    expect(c.servers?.[0]?.uri).toBe('coap://[::1]:5685');
    expect(c.bootstrapServer).toBeUndefined();
  });

  it('putCredentials fills running stores and reports what a store refuses', () => {
    const creds = parseThingsBoardCredentials(read('thingsboard-credentials.json')).devices;
    const o = thingsBoardServerOptions(creds);
    const dm = new PskStore();
    const bs = new PskStore();
    dm.put({ endpoint: 'someone-else', identity: 'LwPSK00000000-identity', key: new Uint8Array([1]) });
    const failures = putCredentials(o, { dm, bootstrap: bs });
    expect(failures).toEqual([{ endpoint: 'LwPSK00000000', role: 'dm', message: expect.stringMatching(/^credentials\.json:12: identity "LwPSK00000000-identity" is already used by endpoint "someone-else"/) }]);
    expect(bs.byIdentity('LwPSK00000000-bs-identity')?.endpoint).toBe('LwPSK00000000');
  });
});

describe('awake time precedence (Cumulocity)', () => {
  it('CSV parameter, else the at attribute, else the server default', async () => {
    const { resolveAwakeTime } = await import('../../../../src/server/profiles/awake-time.js');
    expect(resolveAwakeTime(0, { awakeTime: 30 }, 10_000)).toEqual({ ms: 0, source: 'registration-parameter' });
    expect(resolveAwakeTime(180_000, { awakeTime: 30 }, 10_000)).toEqual({ ms: 180_000, source: 'registration-parameter' });
    expect(resolveAwakeTime(undefined, { awakeTime: 30 }, 10_000)).toEqual({ ms: 30_000, source: 'at-attribute' });
    expect(resolveAwakeTime(undefined, {}, 10_000)).toEqual({ ms: 10_000, source: 'server-default' });
    expect(resolveAwakeTime(undefined, undefined, 10_000)).toEqual({ ms: 10_000, source: 'server-default' });
  });
});
