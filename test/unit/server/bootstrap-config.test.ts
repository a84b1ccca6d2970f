import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { LwM2MError } from '../../../src/core/errors.js';
import { parsePath } from '../../../src/core/path.js';
import { ContentFormat } from '../../../src/codec/content-format.js';
import { parseDiscoverLinks } from '../../../src/codec/link.js';
import { loadBuiltinRegistry } from '../../../src/model/builtin.js';
import type { ResourceModel } from '../../../src/model/types.js';
import {
  BootstrapConfigError, DEFAULT_CONFIG_KEY, bootstrapConfigSchema, configKey, formatConfigIssue, parseBootstrapConfig,
  resolveBootstrapConfig, validateBootstrapConfig, type BootstrapConfig, type ConfigIssue,
} from '../../../src/server/bootstrap/config.js';
import { parseBootstrapConfigFile } from '../../../src/server/bootstrap/config-file.js';
import { MemoryBootstrapConfigStore, createBootstrapConfigStore, loadBootstrapConfigDir } from '../../../src/server/bootstrap/config-store.js';
import { BootstrapHistory, type BootstrapSessionRecord } from '../../../src/server/bootstrap/history.js';
import { assignInstanceIds, layoutFromDiscover } from '../../../src/server/bootstrap/instances.js';
import { chooseContentFormat, writeSteps } from '../../../src/server/bootstrap/plan.js';
import { toResourceValue } from '../../../src/server/bootstrap/resource-values.js';

/** The example of the issue: one DM server, the ACL instance, everything else defaulted. */
const EXAMPLE: BootstrapConfig = {
  endpoint: 'dev1',
  delete: ['/0', '/1'],
  servers: [{ shortServerId: 101, uri: 'coap://127.0.0.1:5683', lifetime: 300, binding: 'UQ', defaultPmin: 1, defaultPmax: 60, notificationStoring: false }],
  objects: [{ path: '/2/0', values: { '0': 3, '1': 0, '2': { '101': 15 }, '3': 101 } }],
  discover: true,
  read: ['/1', '/2/0'],
  contentFormat: 'senml-cbor',
};

function issuesOf(input: unknown): ConfigIssue[] {
  const r = validateBootstrapConfig(input);
  if (r.ok) throw new Error('expected validation to fail');
  return [...r.issues];
}
const pointers = (input: unknown): Record<string, string> =>
  Object.fromEntries(issuesOf(input).map((i) => [i.pointer, i.message]));

describe('validateBootstrapConfig', () => {
  it('accepts a full config and returns a copy', () => {
    const r = validateBootstrapConfig(EXAMPLE);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toEqual(EXAMPLE);
    expect(r.config).not.toBe(EXAMPLE);
    expect(validateBootstrapConfig({}).ok).toBe(true); // everything is optional
    const psk = { servers: [{ shortServerId: 1, uri: 'coaps://h:5684', pskIdentity: 'id', pskKey: '0x0A0b' }] };
    expect(validateBootstrapConfig(psk).ok).toBe(true); // psk inferred from pskKey
  });

  it('reports every shape problem with a JSON pointer (schema pass)', () => {
    expect(pointers({
      endpoint: '',
      servers: [{ shortServerId: 0, uri: 'coap://h', lifetimee: 3 }, { uri: 'coap://h' }],
      bootstrapServer: { uri: 7 },
      objects: [{ path: '/2/0', values: { '2': { '101': [15] } } }],
      discover: 'yes',
      contentFormat: 'xml',
    })).toEqual({
      '/endpoint': 'must NOT have fewer than 1 characters',
      '/servers/0/shortServerId': 'must be >= 1',
      '/servers/0/lifetimee': 'unknown property "lifetimee"',
      '/servers/1': 'missing required property "shortServerId"',
      '/bootstrapServer/uri': 'must be string',
      '/objects/0/values/2': 'must be a string, number or boolean (a multiple resource: a map of instance id → value, or a list)',
      '/discover': 'must be boolean',
      '/contentFormat': 'must be one of "tlv", "senml-cbor", "senml-json", "lwm2m-cbor"',
    });
    expect(issuesOf({ nope: 1 })).toEqual([{ pointer: '/nope', message: 'unknown property "nope"', atKey: true }]);
    expect(issuesOf([])[0]).toEqual({ pointer: '', message: 'must be object' });
  });

  it('checks accounts: URI scheme against the security mode, PSK identity and hex key, unique ids, binding, periods', () => {
    expect(pointers({
      servers: [
        { shortServerId: 1, uri: 'coaps://h:5684' },
        { shortServerId: 1, uri: 'coap://h', securityMode: 'psk', pskIdentity: 'i', pskKey: 'abc' },
        { shortServerId: 3, uri: 'http://h', binding: 'UU' },
        { shortServerId: 4, uri: 'coap://h', pskKey: '00', securityMode: 'nosec', defaultPmin: 10, defaultPmax: 5 },
        { shortServerId: 5, uri: 'not a uri', securityInstanceId: 2, serverInstanceId: 1 },
        { shortServerId: 6, uri: 'coap://h', securityInstanceId: 2, serverInstanceId: 1 },
      ],
    })).toEqual({
      '/servers/0/uri': 'a coaps:// URI needs securityMode psk (with pskIdentity and pskKey)',
      '/servers/1/shortServerId': 'shortServerId 1 is already used by /servers/0',
      '/servers/1/uri': 'securityMode psk needs a coaps:// URI, not "coap://h"',
      '/servers/1/pskKey': 'pskKey: "abc" is not an even-length hex string',
      '/servers/2/uri': 'scheme http: is not coap: or coaps:',
      '/servers/2/binding': 'binding "UU" is not a combination of U, T, S, N and Q',
      '/servers/3/pskKey': 'pskKey is set but securityMode is nosec',
      '/servers/3/defaultPmax': 'defaultPmax 5 is below defaultPmin 10',
      '/servers/4/uri': '"not a uri" is not a URI (coap://host:port or coaps://host:port)',
      '/servers/5/securityInstanceId': 'Security instance 2 is already used by /servers/4/securityInstanceId',
      '/servers/5/serverInstanceId': 'Server instance 1 is already used by /servers/4',
    });
    expect(pointers({ bootstrapServer: { uri: 'coaps://bs', securityMode: 'psk' } })).toEqual({
      '/bootstrapServer': 'securityMode psk needs pskKey',
    });
  });

  it('checks paths: delete up to instance level, read only /1 and /2, objects at instance level outside /0 and /1', () => {
    expect(pointers({
      delete: ['/', '/3/0', '/3/0/1', 'x'],
      read: ['/1', '/2/3', '/3', '/1/0/1'],
      objects: [
        { path: '/2', values: {} },
        { path: '/0/5', values: {} },
        { path: '/2/1', values: {} },
        { path: '/2/1', values: {} },
        { path: '/9999/0', values: {} },
      ],
    })).toEqual({
      '/delete/2': 'Bootstrap-Delete addresses "/", an object or an instance, not /3/0/1',
      '/delete/3': '"x" is not an LwM2M path',
      '/read/2': 'Bootstrap-Read is only allowed on /1, /2 and their instances, not /3',
      '/read/3': 'Bootstrap-Read is only allowed on /1, /2 and their instances, not /1/0/1',
      '/objects/0/path': 'objects address object instances ("/2/0"), not /2',
      '/objects/1/path': 'Security and Server instances come from "servers" and "bootstrapServer", not objects (/0/5)',
      '/objects/3/path': '/2/1 is already written by /objects/2',
      '/objects/4/path': 'no model for object 9999 (add its DDF to the server\'s models)',
    });
  });

  it('types objects values by the object model', () => {
    const issues = issuesOf({
      objects: [
        { path: '/2/0', values: { '0': 'three', '2': 15, '3': 70000, '9': 1 } },
        { path: '/3/0', values: { '4': true, '13': 'yesterday', '14': '+02:00' } },
        { path: '/5/0', values: { '0': 'zz' } },
      ],
    });
    expect(Object.fromEntries(issues.map((i) => [i.pointer, [i.message, i.atKey === true]]))).toEqual({
      '/objects/0/values/0': ['/2/0/0: "three" is not a valid integer', false],
      '/objects/0/values/2': ['/2/0/2: resource 2 (ACL) is multiple, give a map of instance id → value or a list', false],
      '/objects/0/values/3': ['/2/0/3 (Access Control Owner): 70000 is above the maximum 65535', false],
      '/objects/0/values/9': ['object 2 (LwM2M Access Control 1.1) has no resource 9', true],
      '/objects/1/values/4': ['/3/0/4: resource 4 (Reboot) is executable, it has no value to write', false],
      '/objects/1/values/13': ['/3/0/13: "yesterday" is not an ISO 8601 time (or give epoch seconds)', false],
      '/objects/2/values/0': ['/5/0/0: "zz" is not an even-length hex string', false],
    });
    expect(validateBootstrapConfig({ objects: [{ path: '3/0', values: { '13': '2024-01-02T03:04:05Z', '14': '+01:00' } }] }).ok).toBe(true);
  });

  it('converts config values: Opaque from hex, Time from ISO 8601 or seconds, Objlnk from "oid:iid"', () => {
    const models = loadBuiltinRegistry();
    const rm = (o: number, r: number): ResourceModel => {
      const m = models.getObject(o)?.resources.get(r);
      if (!m) throw new Error(`no resource model /${o}/x/${r}`);
      return m;
    };
    expect(toResourceValue(rm(5, 0), 'de:ad be ef', 'x')).toEqual(Uint8Array.from([0xde, 0xad, 0xbe, 0xef]));
    expect(toResourceValue(rm(3, 13), '2024-01-02T03:04:05Z', 'x')).toEqual(new Date('2024-01-02T03:04:05Z'));
    expect(toResourceValue(rm(3, 13), 1700000000, 'x')).toEqual(new Date(1700000000 * 1000));
    expect(toResourceValue(rm(1, 10), '4:0', 'x')).toEqual({ objectId: 4, instanceId: 0 });
    expect(() => toResourceValue(rm(1, 10), '4-0', 'x')).toThrow(/not an object link/);
  });

  it('parseBootstrapConfig throws one LWM2M_BAD_VALUE error listing every issue', () => {
    let err: unknown;
    try {
      parseBootstrapConfig({ servers: [{ shortServerId: 1, uri: 'coaps://h' }], read: ['/5'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BootstrapConfigError);
    expect(err).toBeInstanceOf(LwM2MError);
    const e = err as BootstrapConfigError;
    expect(e.code).toBe('LWM2M_BAD_VALUE');
    expect(e.issues).toHaveLength(2);
    expect(e.message).toBe([
      'invalid bootstrap config:',
      '  /read/0: Bootstrap-Read is only allowed on /1, /2 and their instances, not /5',
      '  /servers/0/uri: a coaps:// URI needs securityMode psk (with pskIdentity and pskKey)',
    ].join('\n'));
    expect(formatConfigIssue({ pointer: '', message: 'm', location: 'f:1:2' })).toBe('f:1:2: (root): m');
  });
});

describe('bootstrapConfigSchema', () => {
  it('is plain JSON that draft-07 and 2020-12 validators compile (HTTP validation, OpenAPI 3.1)', () => {
    const copy = JSON.parse(JSON.stringify(bootstrapConfigSchema)) as Record<string, unknown>;
    expect(copy).toEqual(bootstrapConfigSchema);
    expect(Object.isFrozen(bootstrapConfigSchema)).toBe(true);
    for (const v of [new Ajv({ strict: true }).compile(copy), new Ajv2020({ strict: true }).compile(copy)]) {
      expect(v(EXAMPLE)).toBe(true);
      expect(v({ servers: [{ uri: 'coap://h' }] })).toBe(false);
    }
  });
});

describe('config keys and resolution', () => {
  it('"default" and "*" are the default config; an endpoint without its own config gets it', async () => {
    expect([configKey('default'), configKey('*'), configKey('dev1')]).toEqual(['*', '*', 'dev1']);
    const store = new MemoryBootstrapConfigStore();
    expect(await resolveBootstrapConfig(store, 'dev1')).toBeUndefined();
    await store.put('default', { servers: [] });
    await store.put('dev1', { discover: true });
    expect(await store.get('*')).toEqual({ servers: [] });
    expect(await resolveBootstrapConfig(store, 'dev1')).toEqual({ key: 'dev1', config: { discover: true } });
    expect(await resolveBootstrapConfig(store, 'dev2')).toEqual({ key: DEFAULT_CONFIG_KEY, config: { servers: [] } });
    expect((await store.list()).map((e) => e.endpoint)).toEqual(['*', 'dev1']);
    expect(await store.delete('default')).toBe(true);
    expect(await store.delete('default')).toBe(false);
    expect(await resolveBootstrapConfig(store, 'dev2')).toBeUndefined();
  });

  it('the memory store validates what it is given and is bounded', async () => {
    const store = new MemoryBootstrapConfigStore([], { maxEntries: 2 });
    await expect(store.put('x', { read: ['/3'] } as BootstrapConfig)).rejects.toBeInstanceOf(BootstrapConfigError);
    await store.put('a', {});
    await store.put('b', {});
    await store.put('a', { discover: true }); // replacing is fine
    await expect(store.put('c', {})).rejects.toMatchObject({ code: 'LWM2M_ENTITY_TOO_LARGE' });
    expect(store.size).toBe(2);
  });
});

describe('parseBootstrapConfigFile (file:line:col)', () => {
  it('locates YAML problems at the offending key or value', () => {
    const yaml = [
      'servers:',
      '  - shortServerId: 101',
      '    uri: coap://127.0.0.1:5683',
      '    lifetim: 3',
      '    lifetime: "x"',
      'objects:',
      '  - path: /2/0',
      '    values: {0: 3, 2: {101: 15}, 3: 101, 7: 1}',
      'read: [/3]',
    ].join('\n');
    let err: BootstrapConfigError | undefined;
    try {
      parseBootstrapConfigFile(yaml, 'cfg/dev1.yaml');
    } catch (e) {
      err = e as BootstrapConfigError;
    }
    expect(err?.issues.map((i) => i.location)).toEqual(['cfg/dev1.yaml:4:5', 'cfg/dev1.yaml:5:15']);
    expect(err?.message).toContain('cfg/dev1.yaml:4:5: /servers/0/lifetim: unknown property "lifetim"');
    // Shape fixed: the semantic pass points into the flow map and the flow sequence.
    try {
      parseBootstrapConfigFile(yaml.replace('    lifetim: 3\n', '').replace('"x"', '60'), 'cfg/dev1.yaml');
    } catch (e) {
      err = e as BootstrapConfigError;
    }
    expect(err?.issues.map(formatConfigIssue)).toEqual([
      'cfg/dev1.yaml:8:8: /read/0: Bootstrap-Read is only allowed on /1, /2 and their instances, not /3',
      'cfg/dev1.yaml:7:42: /objects/0/values/7: object 2 (LwM2M Access Control 1.1) has no resource 7',
    ]);
  });

  it('locates JSON problems the same way, and syntax errors too', () => {
    const json = '{\n  "endpoint": "dev9",\n  "servers": [\n    {"shortServerId": 101, "uri": 5}\n  ]\n}\n';
    expect(() => parseBootstrapConfigFile(json, 'c/x.json')).toThrow('c/x.json:4:35: /servers/0/uri: must be string');
    expect(() => parseBootstrapConfigFile('{"servers": [}', 'c/bad.json')).toThrow(/^cannot parse c\/bad\.json:\n {2}c\/bad\.json:1:\d+: /);
    expect(() => parseBootstrapConfigFile('a: 1\na: 2\n', 'c/dup.yaml')).toThrow(/c\/dup\.yaml:2:1: \(root\): Map keys must be unique/);
  });

  it('takes the endpoint from the file name, "default" from default.*, and lists with endpoints', () => {
    expect(parseBootstrapConfigFile('discover: true', 'd/dev-7.yaml')).toEqual([
      { endpoint: 'dev-7', config: { discover: true }, source: 'd/dev-7.yaml:1:1' },
    ]);
    expect(parseBootstrapConfigFile('{}', 'd/default.json')[0]?.endpoint).toBe('*');
    expect(parseBootstrapConfigFile('{"endpoint": "*"}', 'd/whatever.json')[0]?.endpoint).toBe('*');
    const list = parseBootstrapConfigFile('- endpoint: a\n- endpoint: b\n  discover: true\n', 'd/many.yaml');
    expect(list.map((e) => [e.endpoint, e.source])).toEqual([['a', 'd/many.yaml:1:3'], ['b', 'd/many.yaml:2:3']]);
    expect(() => parseBootstrapConfigFile('- endpoint: a\n- discover: true\n- endpoint: a\n', 'd/many.yaml')).toThrow(
      /d\/many\.yaml:2:3: \/1: a config in a list needs "endpoint"\n {2}d\/many\.yaml:3:13: \/2\/endpoint: endpoint "a" is already configured at d\/many\.yaml:1:3/,
    );
  });
});

describe('loadBootstrapConfigDir', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  async function dir(files: Record<string, string>): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'lwm2m-bs-'));
    dirs.push(d);
    for (const [name, text] of Object.entries(files)) await writeFile(join(d, name), text);
    return d;
  }

  it('reads JSON and YAML files, the default config, and ignores other files', async () => {
    const d = await dir({
      'dev1.json': JSON.stringify(EXAMPLE, null, 2),
      'dev2.yaml': 'servers:\n  - shortServerId: 102\n    uri: coap://127.0.0.1:5683\ncontentFormat: tlv\n',
      'default.yml': 'endpoint: default\nservers:\n  - {shortServerId: 1, uri: "coap://127.0.0.1:5683"}\n',
      'README.md': '# not a config',
      'notes.txt': 'x',
    });
    await mkdir(join(d, 'sub.json'));
    const entries = await loadBootstrapConfigDir(d);
    expect(entries.map((e) => e.endpoint)).toEqual(['*', 'dev1', 'dev2']);
    expect(entries[1]?.config).toEqual(EXAMPLE);
    expect(entries[2]?.source).toBe(`${join(d, 'dev2.yaml')}:1:1`);

    const store = await createBootstrapConfigStore(d);
    expect((await resolveBootstrapConfig(store, 'dev2'))?.config.contentFormat).toBe('tlv');
    expect((await resolveBootstrapConfig(store, 'other'))?.key).toBe('*');
    expect(store.entry('dev1')?.source).toBe(`${join(d, 'dev1.json')}:1:1`);
    expect((await createBootstrapConfigStore()).size).toBe(0);
  });

  it('collects the problems of every file, duplicates across files included, before failing', async () => {
    const d = await dir({
      'a.yaml': 'servers:\n  - shortServerId: 1\n    uri: coaps://h\n',
      'b.json': '{"endpoint": "dev1", "discover": 1}',
      'c.yaml': 'endpoint: dev1\n',
      'dev1.yaml': 'discover: true\n',
      'e.yml': 'x: [',
    });
    let err: BootstrapConfigError | undefined;
    try {
      await loadBootstrapConfigDir(d);
    } catch (e) {
      err = e as BootstrapConfigError;
    }
    expect(err).toBeInstanceOf(BootstrapConfigError);
    const lines = err?.issues.map(formatConfigIssue) ?? [];
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(`${join(d, 'a.yaml')}:3:10: /servers/0/uri: a coaps:// URI needs securityMode psk (with pskIdentity and pskKey)`);
    expect(lines[1]).toBe(`${join(d, 'b.json')}:1:34: /discover: must be boolean`);
    expect(lines[2]).toBe(`${join(d, 'dev1.yaml')}:1:1: (root): endpoint "dev1" is already configured at ${join(d, 'c.yaml')}:1:1`);
    expect(lines[3]).toMatch(new RegExp(`^${join(d, 'e.yml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1:\\d+: `));
    expect(err?.message.startsWith(`invalid bootstrap config in ${d}:\n`)).toBe(true);
  });

  it('fails clearly on a missing directory', async () => {
    await expect(loadBootstrapConfigDir(join(tmpdir(), 'no-such-lwm2m-dir-xyz'))).rejects.toThrow(/cannot read bootstrap config directory/);
  });
});

describe('session planning helpers', () => {
  it('picks instance ids around the Bootstrap-Server account', () => {
    const two = { servers: [{ shortServerId: 1, uri: 'coap://a' }, { shortServerId: 2, uri: 'coap://b' }] };
    expect(assignInstanceIds(two)).toEqual({ bootstrapAccount: 0, servers: [{ security: 1, server: 0 }, { security: 2, server: 1 }] });
    const layout = layoutFromDiscover(parseDiscoverLinks('</>;lwm2m=1.1,</0/0>;ssid=101;uri="coap://x",</0/1>;uri="coap://bs",</1>;ver=1.1,</1/0>;ssid=101,</3/0>'));
    expect(layout).toEqual({ lwm2mVersion: '1.1', bootstrapAccountId: 1, versions: new Map([[1, '1.1']]), objects: [0, 1, 3] });
    expect(assignInstanceIds(two, layout).servers.map((s) => s.security)).toEqual([0, 2]);
    const explicit = { servers: [{ shortServerId: 1, uri: 'coap://a', securityInstanceId: 3 }, { shortServerId: 2, uri: 'coap://b', serverInstanceId: 0 }] };
    expect(assignInstanceIds(explicit)).toEqual({ bootstrapAccount: 0, servers: [{ security: 3, server: 1 }, { security: 1, server: 0 }] });
  });

  it('chooses the write format: config, else a pct that carries an instance, else TLV', () => {
    expect(chooseContentFormat({ contentFormat: 'senml-json' }, ContentFormat.SENML_CBOR)).toBe(ContentFormat.SENML_JSON);
    expect(chooseContentFormat({}, ContentFormat.LWM2M_CBOR)).toBe(ContentFormat.LWM2M_CBOR);
    expect(chooseContentFormat({}, ContentFormat.OMA_JSON)).toBe(ContentFormat.OMA_JSON);
    expect(chooseContentFormat({}, ContentFormat.TEXT)).toBe(ContentFormat.TLV);
    expect(chooseContentFormat({}, 9999)).toBe(ContentFormat.TLV);
    expect(chooseContentFormat({}, undefined)).toBe(ContentFormat.TLV);
  });

  it('plans delete, security, server and other writes in order', () => {
    const steps = writeSteps(EXAMPLE, ContentFormat.TLV, loadBuiltinRegistry());
    expect(steps.map((s) => `${s.request.method} ${s.path} ${s.expect}`)).toEqual([
      'DELETE /0 2.02', 'DELETE /1 2.02', 'PUT /0/1 2.04', 'PUT /1/0 2.04', 'PUT /2/0 2.04',
    ]);
    expect(steps[2]?.request).toMatchObject({ uriPath: ['0', '1'], contentFormat: ContentFormat.TLV });
    expect(parsePath(steps[4]?.path ?? '').toString()).toBe('/2/0');
  });
});

describe('BootstrapHistory', () => {
  const rec = (id: string, endpoint: string, outcome: 'ok' | 'failed'): BootstrapSessionRecord => ({
    id, endpoint, peer: { address: '127.0.0.1', port: 1 }, startedAt: 0, endedAt: 1, outcome, steps: [],
  });

  it('keeps the last N records, newest first, filterable', () => {
    const h = new BootstrapHistory(3);
    for (let i = 1; i <= 5; i++) h.add(rec(`bs-${i}`, i % 2 === 0 ? 'even' : 'odd', i === 4 ? 'failed' : 'ok'));
    expect(h.size).toBe(3);
    expect(h.list().map((r) => r.id)).toEqual(['bs-5', 'bs-4', 'bs-3']);
    expect(h.list({ endpoint: 'odd' }).map((r) => r.id)).toEqual(['bs-5', 'bs-3']);
    expect(h.list({ outcome: 'failed' }).map((r) => r.id)).toEqual(['bs-4']);
    expect(h.list({ limit: 1 }).map((r) => r.id)).toEqual(['bs-5']);
    expect(h.get('bs-1')).toBeUndefined();
    expect(h.get('bs-4')?.endpoint).toBe('even');
    expect(() => new BootstrapHistory(0)).toThrow(RangeError);
  });
});
