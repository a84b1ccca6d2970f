import { describe, expect, it } from 'vitest';
import { ProfileFileError, formatIssue } from '../../../../src/server/profiles/issues.js';
import { dwIdentity, parseDeviceWiseProfile } from '../../../../src/server/profiles/devicewise/profile.js';
import { deviceWiseBootstrapConfig, newDeviceWiseKeys } from '../../../../src/server/profiles/devicewise/bootstrap.js';
import { validateBootstrapConfig } from '../../../../src/server/bootstrap/config.js';
import { fuzzDecoder } from '../../../helpers/fuzz.js';

const GOOD = `platform:
  shortServerId: 1
  identity: "id_dm-{ep}"
  lifetime: 600
  binding: UQ
customServers:
  - name: partner
    shortServerId: 7
    identity: "id_dm_custom-{ep}"
    uri: coaps://partner.example:5684
    keyShare: { url: "https://partner.example/api/v1/key-share", token: s3cret, timeout: 1500ms }
    access:
      3: [R]
      3303: [R, W]
      5: RWE
locationReporting: true
read: [/3/0/0, /3303/0]
attributes:
  /3303/0/5700: { pmin: 5, pmax: 60, st: 0.5 }
fota: { protocol: https, deliveryMethod: both }
`;

function issuesOf(text: string): string[] {
  try {
    parseDeviceWiseProfile(text, 'p.yaml');
  } catch (e) {
    if (e instanceof ProfileFileError) return e.issues.map((i) => formatIssue('p.yaml', i));
    throw e;
  }
  return [];
}

describe('deviceWISE device profile', () => {
  it('parses every field', () => {
    const p = parseDeviceWiseProfile(GOOD, 'p.yaml');
    expect(p.platform).toEqual({ shortServerId: 1, identity: 'id_dm-{ep}', lifetime: 600, binding: 'UQ' });
    expect(p.customServers).toEqual([{
      name: 'partner', shortServerId: 7, identity: 'id_dm_custom-{ep}', lifetime: 300, binding: 'U', uri: 'coaps://partner.example:5684',
      keyShare: { url: 'https://partner.example/api/v1/key-share', token: 's3cret', timeoutMs: 1500 },
      access: { 3: 1, 3303: 3, 5: 7 },
    }]);
    expect(p.locationReporting).toBe(true);
    expect(p.read).toEqual(['/3/0/0', '/3303/0']);
    expect(p.attributes).toEqual({ '/3303/0/5700': { pmin: 5, pmax: 60, st: 0.5 } });
    expect(p.fota).toEqual({ protocol: 'https', deliveryMethod: 'both' });
    expect(dwIdentity(p.customServers[0]?.identity ?? '', 'dev-1')).toBe('id_dm_custom-dev-1');
  });

  it('defaults: location off, nothing read, fota coap/pull, key share 2 s', () => {
    const p = parseDeviceWiseProfile('platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b }]\n');
    expect([p.locationReporting, p.read, p.attributes, p.fota, p.customServers[0]?.keyShare, p.customServers[0]?.access])
      .toEqual([false, [], {}, { protocol: 'coap', deliveryMethod: 'pull' }, { timeoutMs: 2000 }, {}]);
  });

  it.each([
    ['platform: { shortServerId: 1, identity: a }\n', /^p\.yaml:1:1: customServers must list 1\.\.16/],
    ['platform: { shortServerId: 0, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b }]\n', /^p\.yaml:1:28: platform\.shortServerId must be an integer in 1\.\.65534, got 0/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 1, identity: b }]\n', /^p\.yaml:2:43: .*shortServerId 1 is used by another server/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b, uri: "coap://x" }]\n', /customServers\[0\]\.uri must be a coaps:\/\/ URI/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b, access: { 0: [R] } }]\n', /^p\.yaml:2:69: .*access: 0 is not an object id/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b, access: { 3: [X] } }]\n', /access\.3: rights must be a list of R, W, E, D, C/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b, keyShare: { timeout: 5m } }]\n', /keyShare\.timeout must be a duration/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b }]\nread: [/x/1]\n', /^p\.yaml:3:8: read: "\/x\/1" is not/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b }]\nattributes: { /3/0/9: { pmin: 9, pmax: 2 } }\n', /pmax 2 is below pmin 9/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b }]\nfota: { deliveryMethod: carrier-pigeon }\n', /fota\.deliveryMethod must be push, pull or both/],
    ['platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b }]\nlocation: true\n', /^p\.yaml:3:1: unknown field "location"/],
    ['platform: [1\n', /^p\.yaml:\d+:\d+: /],
  ])('reports %j at file:line:col', (text, want) => {
    const lines = issuesOf(text);
    expect(lines.some((l) => want.test(l)), lines.join('\n')).toBe(true);
  });

  it('lists every problem of a file at once', () => {
    const lines = issuesOf('platform: { shortServerId: 0, identity: "" }\ncustomServers: [{ name: "bad name", shortServerId: 2, identity: b }]\nfota: { protocol: ftp }\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
  });
});

describe('deviceWISE bootstrap config', () => {
  const profile = parseDeviceWiseProfile(GOOD);
  const keys = newDeviceWiseKeys(profile, (n) => Buffer.alloc(n, 0xab));
  const cfg = deviceWiseBootstrapConfig(profile, 'dev-1', keys, { platformUri: 'coaps://platform:5684' }, [[3, 0], [4, 0], [5, 0], [3303, 0], [3303, 1], [1, 0], [0, 0]]);

  it('a PSK account per DM server, each with its own identity and key; the ACL owned by the platform', () => {
    expect(cfg.servers).toEqual([
      { shortServerId: 1, uri: 'coaps://platform:5684', securityMode: 'psk', pskIdentity: 'id_dm-dev-1', pskKey: 'ab'.repeat(16), lifetime: 600, binding: 'UQ' },
      { shortServerId: 7, uri: 'coaps://partner.example:5684', securityMode: 'psk', pskIdentity: 'id_dm_custom-dev-1', pskKey: 'ab'.repeat(16), lifetime: 300, binding: 'U' },
    ]);
    expect(cfg.delete).toEqual(['/0', '/1', '/2']);
    const acl = Object.fromEntries((cfg.objects ?? []).map((o) => [`${String(o.values['0'])}/${String(o.values['1'])}`, o.values]));
    expect(acl['3/0']).toEqual({ 0: 3, 1: 0, 2: { 1: 31, 7: 1 }, 3: 1 });
    expect(acl['3303/1']).toEqual({ 0: 3303, 1: 1, 2: { 1: 31, 7: 3 }, 3: 1 });
    expect(acl['5/0']).toEqual({ 0: 5, 1: 0, 2: { 1: 31, 7: 7 }, 3: 1 });
    // Withheld: Connectivity Monitoring has no entry for the custom server (the client answers 4.01).
    expect(acl['4/0']).toEqual({ 0: 4, 1: 0, 2: { 1: 31 }, 3: 1 });
    // Server instances: the platform only; Security never gets an ACL instance.
    expect(acl['1/0']).toEqual({ 0: 1, 1: 0, 2: { 1: 31 }, 3: 1 });
    expect(acl['0/0']).toBeUndefined();
  });

  it('is a valid Bootstrap-Server config (the reference server\'s own validation)', () => {
    const v = validateBootstrapConfig(cfg);
    expect(v.ok ? [] : v.issues).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('fresh keys per device and per connection', () => {
    const a = newDeviceWiseKeys(profile);
    const b = newDeviceWiseKeys(profile);
    expect(a.platform).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set([a.platform, a.custom['partner'], b.platform, b.custom['partner']]).size).toBe(4);
  });
});

describe('deviceWISE profile parser under fuzzing', () => {
  it('any bytes: a profile or a located ProfileFileError, never another exception', () => {
    const seeds = [GOOD, 'platform: { shortServerId: 1, identity: a }\ncustomServers: [{ name: c, shortServerId: 2, identity: b, access: { 3: RW } }]\n', '{"platform": {"shortServerId": 1, "identity": "x"}}']
      .map((t) => new TextEncoder().encode(t));
    const r = fuzzDecoder((b) => parseDeviceWiseProfile(new TextDecoder().decode(b), 'fuzz.yaml'), seeds, { seed: 9, runs: 2000, maxLength: 600 });
    expect(r.ok + r.rejected).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  });
});
