import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { LwM2MPath } from '../../../../src/core/path.js';
import { ProfileFileError, formatIssue } from '../../../../src/server/profiles/issues.js';
import { formatTbPath, parseTbPath } from '../../../../src/server/profiles/thingsboard/path.js';
import { loadThingsBoardProfile, parseThingsBoardProfile } from '../../../../src/server/profiles/thingsboard/profile.js';

const FIXTURE = new URL('../../../fixtures/profiles/thingsboard-profile.json', import.meta.url).pathname;
const fixtureText = readFileSync(FIXTURE, 'utf8');

/** The profile of ThingsBoard's LwM2M docs (older releases): bootstrap as an object, boolean strategy. */
const LEGACY = {
  observeAttr: {
    keyName: { '/3/0/2': 'serialNumber', '/3/0/9': 'batLevel', '/3303/0/5700': 'sensorValue00' },
    observe: ['/3/0/9', '/3303/0/5700'],
    attribute: ['/3/0/2'],
    telemetry: ['/3/0/9', '/3303/0/5700'],
  },
  bootstrap: {
    servers: { binding: 'UQ', shortId: 123, lifetime: 600, notifIfDisabled: false, defaultMinPeriod: 5 },
    LWM2MServer: { host: 'localhost', port: 5685, serverId: 123, securityMode: 'NO_SEC', serverPublicKey: '', bootstrapServerIs: false, clientHoldOffTime: 1, bootstrapServerAccountTimeout: 0 },
    bootstrapServer: { host: '0.0.0.0', port: 5687, serverId: 111, securityMode: 'NO_SEC', serverPublicKey: '', clientHoldOffTime: 1, bootstrapServerAccountTimeout: 0 },
  },
  clientLWM2MSettings: { clientOnlyObserveAfterConnect: false, clientUpdateValueAfterConnect: true },
};

function errorsOf(value: unknown): string[] {
  try {
    parseThingsBoardProfile(typeof value === 'string' ? value : JSON.stringify(value, null, 2), 'p.json');
  } catch (e) {
    expect(e).toBeInstanceOf(ProfileFileError);
    return (e as ProfileFileError).issues.filter((i) => i.severity === 'error').map((i) => formatIssue('p.json', i));
  }
  throw new Error('expected the profile to be rejected');
}

describe('ThingsBoard versioned paths', () => {
  it('parses /3_1.2/0/9 and /3/0/9 at every level', () => {
    expect(parseTbPath('/3_1.2/0/9')).toEqual({ key: '/3_1.2/0/9', path: LwM2MPath.of(3, 0, 9), objectVersion: '1.2' });
    expect(parseTbPath('/3/0/9')).toEqual({ key: '/3/0/9', path: LwM2MPath.of(3, 0, 9) });
    expect(parseTbPath('/3303_1.1')?.path.depth).toBe(1);
    expect(parseTbPath('/3_1.0/0/6/1')?.path).toEqual(LwM2MPath.of(3, 0, 6, 1));
    expect(parseTbPath('3_01.2/0')?.objectVersion).toBe('1.2');
    for (const bad of ['', '/', '/x/0', '/3_1/0', '/3_1.2.3/0', '/3/0/9/1/2', '/70000/0', '/3 /0']) expect(parseTbPath(bad), bad).toBeUndefined();
    expect(formatTbPath(LwM2MPath.of(3, 0, 9), '1.2')).toBe('/3_1.2/0/9');
    expect(formatTbPath(LwM2MPath.of(3303))).toBe('/3303');
  });
});

describe('ThingsBoard LwM2M device profile', () => {
  it('parses the sample profile (current transport configuration shape)', async () => {
    const { profile, warnings } = await loadThingsBoardProfile(FIXTURE);
    expect(warnings).toEqual([]);
    const t = profile.telemetry;
    expect(t.keyNames.find((k) => k.name === 'batteryLevel')?.target).toEqual({ key: '/3_1.2/0/9', path: LwM2MPath.of(3, 0, 9), objectVersion: '1.2' });
    expect(t.observe.map((p) => p.key)).toContain('/3303_1.1/12/5700');
    expect(t.attribute).toHaveLength(4);
    expect(t.telemetry).toHaveLength(6);
    expect(t.attributeLwm2m).toEqual([
      { target: expect.objectContaining({ key: '/3_1.2/0/9' }), attributes: { pmin: 5, pmax: 60 } },
      { target: expect.objectContaining({ key: '/3303_1.1' }), attributes: { pmin: 10, pmax: 120, st: 0.5 } },
    ]);
    expect(t.observeStrategy).toBe('SINGLE');
    expect(profile.bootstrapServerUpdateEnable).toBe(true);
    expect(profile.servers).toEqual([
      { bootstrapServerIs: false, host: '127.0.0.1', port: 5685, securityMode: 'NO_SEC', shortServerId: 123, lifetime: 300, defaultMinPeriod: 1, notifIfDisabled: true, binding: 'U', clientHoldOffTime: 1, bootstrapServerAccountTimeout: 0 },
      { bootstrapServerIs: true, host: '127.0.0.1', port: 5687, securityMode: 'NO_SEC', shortServerId: 111, lifetime: 300, defaultMinPeriod: 1, notifIfDisabled: true, binding: 'U', clientHoldOffTime: 1, bootstrapServerAccountTimeout: 0 },
    ]);
    expect(profile.settings).toEqual({
      clientOnlyObserveAfterConnect: 1, useObject19ForOtaInfo: false, fwUpdateStrategy: 1, swUpdateStrategy: 1, powerMode: 'DRX',
      edrxCycle: 81000, pagingTransmissionWindow: 10000, psmActivityTimer: 10000, defaultObjectIDVer: '1.0',
    });
  });

  it('parses the older documented shape (bootstrap {servers, LWM2MServer, bootstrapServer}, clientLWM2MSettings, boolean strategy)', () => {
    const { profile, warnings } = parseThingsBoardProfile(JSON.stringify(LEGACY));
    expect(warnings).toEqual([]);
    expect(profile.settings.clientOnlyObserveAfterConnect).toBe(2);
    expect(profile.servers).toEqual([
      expect.objectContaining({ bootstrapServerIs: false, host: 'localhost', port: 5685, shortServerId: 123, binding: 'UQ', lifetime: 600, notifIfDisabled: false, defaultMinPeriod: 5 }),
      expect.objectContaining({ bootstrapServerIs: true, host: '0.0.0.0', port: 5687, shortServerId: 111, binding: 'U', lifetime: 300 }),
    ]);
    expect(profile.telemetry.keyNames.map((k) => [k.target.key, k.name])).toEqual([['/3/0/2', 'serialNumber'], ['/3/0/9', 'batLevel'], ['/3303/0/5700', 'sensorValue00']]);
    expect(parseThingsBoardProfile(JSON.stringify({ ...LEGACY, clientLWM2MSettings: { clientOnlyObserveAfterConnect: true } })).profile.settings.clientOnlyObserveAfterConnect).toBe(1);
  });

  it('accepts a whole device profile ({profileData: {transportConfiguration}}) and {transportConfiguration}', () => {
    const transport = JSON.parse(fixtureText) as unknown;
    const a = parseThingsBoardProfile(JSON.stringify({ name: 'lwm2m', transportType: 'LWM2M', profileData: { configuration: { type: 'DEFAULT' }, transportConfiguration: transport } }));
    expect(a.profile.telemetry.observe).toHaveLength(6);
    expect(parseThingsBoardProfile(JSON.stringify({ transportConfiguration: transport })).profile.servers).toHaveLength(2);
  });

  it('accepts observeStrategy by name or id and initAttrTelAsObsStrategy', () => {
    const p = (s: unknown): string => parseThingsBoardProfile(JSON.stringify({ observeAttr: { observeStrategy: s } })).profile.telemetry.observeStrategy;
    expect(p('COMPOSITE_ALL')).toBe('COMPOSITE_ALL');
    expect(p(2)).toBe('COMPOSITE_BY_OBJECT');
    expect(p(undefined)).toBe('SINGLE');
    expect(errorsOf({ observeAttr: { observeStrategy: 'BULK' } })).toEqual([expect.stringMatching(/^p\.json:\d+:\d+: observeStrategy must be one of SINGLE, COMPOSITE_ALL, COMPOSITE_BY_OBJECT, got "BULK"$/)]);
  });

  it('warns about unknown fields, keys without keyName and observed paths that are not reported — without failing', () => {
    const text = JSON.stringify({
      observeAttr: { keyName: { '/3/0/9': 'bat' }, observe: ['/3/0/9', '/3/0/13', '/3/0/13'], telemetry: ['/3/0/9', '/3/0/1'], futureField: 1 },
      clientLwM2mSettings: { clientOnlyObserveAfterConnect: 1, newSetting: 'x' },
      somethingNew: {},
    }, null, 2);
    const { profile, warnings } = parseThingsBoardProfile(text, 'p.json');
    expect(profile.telemetry.observe.map((p) => p.key)).toEqual(['/3/0/9', '/3/0/13']);
    expect(warnings.map((w) => formatIssue('p.json', w))).toEqual([
      expect.stringMatching(/\/3\/0\/13 is observed but is neither an attribute nor telemetry/),
      expect.stringMatching(/\/3\/0\/13 is listed twice in observe/),
      expect.stringMatching(/\/3\/0\/1 has no keyName: its values are stored under the path itself/),
      expect.stringMatching(/unknown observeAttr field "futureField"/),
      expect.stringMatching(/unknown client settings field "newSetting"/),
      expect.stringMatching(/^p\.json:\d+:\d+: warning: unknown transport configuration field "somethingNew" is ignored$/),
    ]);
    // The unknown key is located at the key itself.
    const w = warnings.find((x) => x.message.includes('somethingNew'));
    const line = text.split('\n').findIndex((l) => l.includes('somethingNew')) + 1;
    expect(w).toMatchObject({ line, column: 3, pointer: '/somethingNew' });
  });

  it('rejects bad values, each at its line and column', () => {
    const text = `{
  "observeAttr": {
    "keyName": { "/3_1.2/0": "notAResource", "/3/0/9": 7, "/3/0/1": " " },
    "observe": ["/3_x/0/9", 5],
    "attribute": "/3/0/1",
    "attributeLwm2m": { "/3/0/9": { "pmin": -1, "gt": "high" } }
  },
  "bootstrap": [{ "securityMode": "PSK2", "port": 70000, "shortServerId": 0, "binding": "UU" }],
  "clientLwM2mSettings": { "clientOnlyObserveAfterConnect": 3, "fwUpdateStrategy": 4, "powerMode": "SLEEPY", "defaultObjectIDVer": "one" }
}`;
    expect(errorsOf(text)).toEqual([
      'p.json:3:18: "/3_1.2/0" must name a resource (/object/instance/resource)',
      'p.json:3:56: keyName of /3/0/9 must be a string, got 7',
      'p.json:3:69: keyName of /3/0/1 is empty',
      'p.json:4:17: "/3_x/0/9" is not a path (/objectId_version/instance/resource, e.g. "/3_1.2/0/9", or "/3/0/9")',
      'p.json:4:29: a path must be a string like "/3_1.2/0/9", got 5',
      'p.json:5:18: attribute must be a list of paths like "/3_1.2/0/9"',
      'p.json:6:45: pmin must be an integer in 0..4294967295, got -1',
      'p.json:6:55: gt must be a number, got "high"',
      'p.json:8:35: securityMode must be one of NO_SEC, PSK, RPK, X509, got "PSK2"',
      'p.json:8:51: port must be an integer in 1..65535, got 70000',
      'p.json:8:75: shortServerId must be an integer in 1..65534, got 0',
      'p.json:8:89: binding "UU" is not a combination of U, T, S, N and Q',
      'p.json:9:61: clientOnlyObserveAfterConnect must be 1 (only observe) or 2 (read all, then observe), got 3',
      'p.json:9:84: fwUpdateStrategy must be an integer in 1..3, got 4',
      'p.json:9:100: powerMode must be one of PSM, DRX, E_DRX, got "SLEEPY"',
      'p.json:9:132: defaultObjectIDVer "one" is not a version like "1.0"',
    ]);
  });

  it('rejects what is not a profile: not JSON, not an object, another transport type, no observeAttr', () => {
    const syntax = errorsOf('{ "observeAttr": ');
    expect(syntax.length).toBeGreaterThan(0);
    for (const m of syntax) expect(m).toMatch(/^p\.json:1:\d+: /);
    expect(errorsOf('[1]')).toEqual(['p.json:1:1: the profile must be an object']);
    expect(errorsOf('null')).toEqual(['p.json:1:1: the profile is empty']);
    expect(errorsOf({ type: 'MQTT', observeAttr: {} })).toEqual([expect.stringMatching(/transport type is "MQTT", not LWM2M/)]);
    expect(errorsOf({ bootstrap: [] })).toEqual(['p.json:1:1: missing "observeAttr" (the telemetry mapping)']);
    expect(errorsOf('{"observeAttr": {}, "observeAttr": {}}')).toEqual([expect.stringMatching(/unique/i)]);
  });

  it('warns that RPK/X509 servers are not supported by the reference server', () => {
    const { warnings } = parseThingsBoardProfile(JSON.stringify({ observeAttr: {}, bootstrap: [{ securityMode: 'X509', shortServerId: 1, host: 'h', port: 1 }] }));
    expect(warnings.map((w) => w.message)).toEqual(['securityMode X509 is not supported by the reference server (NO_SEC and PSK are)']);
  });
});
