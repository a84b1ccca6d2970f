import { describe, expect, it } from 'vitest';
import { pskEntries } from '../../../../src/server/profiles/credentials.js';
import { ProfileFileError, formatIssue } from '../../../../src/server/profiles/issues.js';
import { loadThingsBoardCredentials, parseThingsBoardCredentials } from '../../../../src/server/profiles/thingsboard/credentials.js';

const FIXTURE = new URL('../../../fixtures/profiles/thingsboard-credentials.json', import.meta.url).pathname;
const KEY = '011b69a96ba580f57b3ca8718da03b906ea39b3add998c4ce0e25464be12494d';
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));

const psk = (endpoint: string, identity = `${endpoint}-identity`, key = KEY): Record<string, unknown> => ({
  client: { securityConfigClientMode: 'PSK', endpoint, identity, key },
});

function messages(text: string | unknown): { devices: string[]; errors: string[]; warnings: string[] } {
  const r = parseThingsBoardCredentials(typeof text === 'string' ? text : JSON.stringify(text, null, 2), 'c.json');
  return {
    devices: r.devices.map((d) => d.endpoint),
    errors: r.errors.map((i) => formatIssue('c.json', i)),
    warnings: r.warnings.map((i) => formatIssue('c.json', i)),
  };
}

describe('ThingsBoard LwM2M device credentials', () => {
  it('reads the sample list into neutral records and PSK entries', async () => {
    const r = await loadThingsBoardCredentials(FIXTURE);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.devices).toEqual([
      { endpoint: 'LwNoSec00000000', dm: { mode: 'nosec' }, bootstrap: { mode: 'nosec' }, lwm2mServer: { mode: 'nosec' }, pointer: '/0', line: 2 },
      {
        endpoint: 'LwPSK00000000',
        dm: { mode: 'psk', identity: 'LwPSK00000000-identity', key: bytes(KEY) },
        bootstrap: { mode: 'psk', identity: 'LwPSK00000000-bs-identity', key: bytes('3da00dcd8b6cbfd3b4aa9e5d6b1b1c1f0c8b4c2a9e1d3f5a7b9c0d2e4f6a8b0c') },
        lwm2mServer: { mode: 'psk', identity: 'LwPSK00000000-identity', key: bytes(KEY) },
        pointer: '/1', line: 12,
      },
    ]);
    expect(pskEntries(r.devices).map((e) => [e.endpoint, e.identity, e.role])).toEqual([
      ['LwPSK00000000', 'LwPSK00000000-identity', 'dm'], ['LwPSK00000000', 'LwPSK00000000-bs-identity', 'bootstrap'],
    ]);
  });

  it('reads one object, ThingsBoard\'s {credentialsType, credentialsValue} wrapper (object or JSON text) and {device, credentials}', () => {
    expect(parseThingsBoardCredentials(JSON.stringify(psk('a'))).devices[0]).toMatchObject({ endpoint: 'a', pointer: '', line: 1 });
    const value = psk('b');
    expect(messages({ credentialsType: 'LWM2M_CREDENTIALS', credentialsValue: value }).devices).toEqual(['b']);
    expect(messages({ credentialsType: 'LWM2M_CREDENTIALS', credentialsValue: JSON.stringify(value) }).devices).toEqual(['b']);
    expect(messages({ device: { name: 'c' }, credentials: { credentialsType: 'LWM2M_CREDENTIALS', credentialsValue: JSON.stringify(psk('c')) } }).devices).toEqual(['c']);
    const bad = messages({ credentialsType: 'LWM2M_CREDENTIALS', credentialsValue: JSON.stringify({ client: { securityConfigClientMode: 'PSK', endpoint: 'd' } }) });
    expect(bad.devices).toEqual([]);
    expect(bad.errors).toEqual([expect.stringMatching(/^c\.json:3:\d+: in credentialsValue\/client: PSK needs identity/), expect.stringMatching(/in credentialsValue\/client: PSK needs key/)]);
    expect(messages({ credentialsType: 'ACCESS_TOKEN', credentialsValue: 'x' }).errors).toEqual([expect.stringMatching(/credentialsType is "ACCESS_TOKEN", not "LWM2M_CREDENTIALS"/)]);
    expect(messages({ credentialsType: 'LWM2M_CREDENTIALS', credentialsValue: '{not json' }).errors).toEqual([expect.stringMatching(/credentialsValue is not JSON/)]);
  });

  it('each bad device is reported at its line and column and skipped; the others are kept', () => {
    const text = `[
  { "client": { "securityConfigClientMode": "PSK", "endpoint": "ok-1", "identity": "id-1", "key": "${KEY}" } },
  { "client": { "securityConfigClientMode": "PSK", "endpoint": "bad-key", "identity": "id-2", "key": "xyz" } },
  { "client": { "securityConfigClientMode": "RPK", "endpoint": "rpk" } },
  { "client": { "securityConfigClientMode": "NO_SEC", "endpoint": "" } },
  { "client": { "securityConfigClientMode": "NO_SEC", "endpoint": "ok-1" } },
  { "client": { "securityConfigClientMode": "PSK", "endpoint": "dup-id", "identity": "id-1", "key": "${KEY}" } },
  { "bootstrap": {} },
  { "client": { "securityConfigClientMode": "NO_SEC", "endpoint": "ok-2" },
    "bootstrap": { "bootstrapServer": { "securityMode": "PSK", "clientPublicKeyOrId": "bs-2", "clientSecretKey": "abc" } } },
  { "client": { "securityConfigClientMode": "NO_SEC", "endpoint": "ok-3" } },
  42
]`;
    const r = messages(text);
    expect(r.devices).toEqual(['ok-1', 'ok-3']);
    expect(r.errors).toEqual([
      'c.json:3:102: key "xyz" is not hex (0-9, a-f)',
      'c.json:4:45: securityConfigClientMode "RPK" is not supported by the reference server (NO_SEC or PSK)',
      'c.json:5:67: client.endpoint is missing or empty',
      'c.json:6:67: duplicate endpoint "ok-1" (first on line 2)',
      'c.json:7:64: PSK identity "id-1" is already used by the device on line 2',
      'c.json:8:3: missing "client" (securityConfigClientMode, endpoint, identity, key)',
      'c.json:10:114: clientSecretKey "abc" has an odd number of hex digits',
      'c.json:12:3: a device must be an object',
    ]);
  });

  it('warns about unknown fields, NO_SEC keys and an lwm2mServer entry that differs from the client', () => {
    const r = messages([{
      client: { securityConfigClientMode: 'NO_SEC', endpoint: 'e', identity: 'x', x509: false, extra: 1 },
      bootstrap: { lwm2mServer: { securityMode: 'PSK', clientPublicKeyOrId: 'i', clientSecretKey: 'aa' }, other: {} },
    }]);
    expect(r.devices).toEqual(['e']);
    expect(r.warnings.map((w) => w.replace(/^c\.json:\d+:\d+: warning: /, ''))).toEqual([
      'identity is ignored in NO_SEC mode',
      'unknown client field "extra" is ignored',
      'differs from "client": the Bootstrap-Server would give the device credentials the LwM2M server does not accept',
      'unknown bootstrap field "other" is ignored',
    ]);
  });

  it('the older documented form (LWM2MServer, empty NO_SEC strings) reads the same', () => {
    const r = parseThingsBoardCredentials(JSON.stringify({
      client: { securityConfigClientMode: 'NO_SEC', endpoint: 'LwNoSec00000000', identity: '', key: '', x509: false },
      bootstrap: {
        bootstrapServer: { securityMode: 'NO_SEC', clientPublicKeyOrId: '', clientSecretKey: '' },
        LWM2MServer: { securityMode: 'NO_SEC', clientPublicKeyOrId: '', clientSecretKey: '' },
      },
    }));
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.devices[0]).toMatchObject({ endpoint: 'LwNoSec00000000', dm: { mode: 'nosec' }, lwm2mServer: { mode: 'nosec' } });
  });

  it('a file that is not JSON throws with its position', () => {
    expect(() => parseThingsBoardCredentials('[{"client": }]', 'c.json')).toThrow(ProfileFileError);
    try {
      parseThingsBoardCredentials('[{"client": }]', 'c.json');
    } catch (e) {
      expect((e as ProfileFileError).issues[0]).toMatchObject({ line: 1 });
      expect((e as Error).message).toMatch(/^invalid ThingsBoard LwM2M credentials c\.json:\n {2}c\.json:1:\d+: /);
    }
  });
});
