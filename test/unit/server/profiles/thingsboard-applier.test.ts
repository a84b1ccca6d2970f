import { describe, expect, it, vi } from 'vitest';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { RegisteredObject } from '../../../../src/codec/link.js';
import { ManualClock } from '../../../../src/core/clock.js';
import { LwM2MError } from '../../../../src/core/errors.js';
import { LwM2MPath } from '../../../../src/core/path.js';
import type { LwM2MServer, ServerEvents } from '../../../../src/server/lwm2m-server.js';
import type { OperationResult, ReadResult } from '../../../../src/server/operations/types.js';
import type { Registration } from '../../../../src/server/registration/registration.js';
import { TelemetryStore } from '../../../../src/server/profiles/telemetry-store.js';
import { ThingsBoardProfileAdapter, type ProfileServer } from '../../../../src/server/profiles/thingsboard/adapter.js';
import { TelemetryMapper, planProfileOperations, type ProfileOperation } from '../../../../src/server/profiles/thingsboard/applier.js';
import { parseThingsBoardProfile, type ThingsBoardProfile } from '../../../../src/server/profiles/thingsboard/profile.js';

const FIXTURE = readFileSync(new URL('../../../fixtures/profiles/thingsboard-profile.json', import.meta.url), 'utf8');
const SAMPLE = parseThingsBoardProfile(FIXTURE).profile;

/** The sample profile with other settings / mapping fields. */
function variant(patch: { settings?: Record<string, unknown>; observeAttr?: Record<string, unknown> }): ThingsBoardProfile {
  const raw = JSON.parse(FIXTURE) as Record<string, Record<string, unknown>>;
  raw.clientLwM2mSettings = { ...raw.clientLwM2mSettings, ...(patch.settings ?? {}) };
  raw.observeAttr = { ...raw.observeAttr, ...(patch.observeAttr ?? {}) };
  return parseThingsBoardProfile(JSON.stringify(raw)).profile;
}

/** Objects as the sample device registers them: </3>;ver=1.2, </4>;ver=1.3, 3303 (1.1) instances 0, 1, 12. */
const OBJECTS: RegisteredObject[] = [
  { objectId: 1, instances: [0] },
  { objectId: 3, version: '1.2', instances: [0] },
  { objectId: 4, version: '1.3', instances: [0] },
  { objectId: 3303, version: '1.1', instances: [0, 1, 12] },
];

const show = (ops: readonly ProfileOperation[]): string[] => ops.map((o) => ('path' in o ? `${o.kind} ${o.path.toString()}` : `${o.kind} ${o.paths.map(String).join(',')}`));

describe('planProfileOperations', () => {
  it('strategy 1: write-attributes, observe the observe paths, read the other attributes/telemetry', () => {
    const plan = planProfileOperations(SAMPLE, OBJECTS);
    expect(show(plan.operations)).toEqual([
      'writeAttributes /3/0/9', 'writeAttributes /3303',
      'observe /3/0/9', 'observe /3/0/13', 'observe /4/0/2', 'observe /3303/0/5700', 'observe /3303/1/5700', 'observe /3303/12/5700',
      'read /3/0/0', 'read /3/0/2', 'read /3/0/3', 'read /3303/0/5701',
    ]);
    expect(plan.operations[0]).toMatchObject({ kind: 'writeAttributes', attributes: { pmin: 5, pmax: 60 } });
    expect(plan.operations[1]).toMatchObject({ attributes: { pmin: 10, pmax: 120, st: 0.5 } });
    expect(plan.skipped).toEqual([]);
  });

  it('strategy 2: read every registered object instance first, then observe (no separate attribute reads)', () => {
    const plan = planProfileOperations(variant({ settings: { clientOnlyObserveAfterConnect: 2 } }), OBJECTS);
    expect(show(plan.operations)).toEqual([
      'writeAttributes /3/0/9', 'writeAttributes /3303',
      'read /1/0', 'read /3/0', 'read /4/0', 'read /3303/0', 'read /3303/1', 'read /3303/12',
      'observe /3/0/9', 'observe /3/0/13', 'observe /4/0/2', 'observe /3303/0/5700', 'observe /3303/1/5700', 'observe /3303/12/5700',
    ]);
  });

  it('skips paths of objects, versions or instances the client did not register, saying why', () => {
    const objects: RegisteredObject[] = [{ objectId: 3, version: '1.1', instances: [0] }, { objectId: 3303, version: '1.1', instances: [0] }];
    const plan = planProfileOperations(SAMPLE, objects);
    expect(show(plan.operations)).toEqual(['writeAttributes /3303', 'observe /3303/0/5700', 'read /3303/0/5701']);
    expect(plan.skipped).toEqual([
      { key: '/3_1.2/0/9', reason: 'object 3 is registered at version 1.1, the profile names 1.2' },
      { key: '/3_1.2/0/13', reason: 'object 3 is registered at version 1.1, the profile names 1.2' },
      { key: '/4_1.3/0/2', reason: 'object 4 is not registered' },
      { key: '/3303_1.1/1/5700', reason: 'instance /3303/1 is not registered' },
      { key: '/3303_1.1/12/5700', reason: 'instance /3303/12 is not registered' },
      { key: '/3_1.2/0/0', reason: 'object 3 is registered at version 1.1, the profile names 1.2' },
      { key: '/3_1.2/0/2', reason: 'object 3 is registered at version 1.1, the profile names 1.2' },
      { key: '/3_1.2/0/3', reason: 'object 3 is registered at version 1.1, the profile names 1.2' },
    ]);
    // An object without `ver` is 1.0; unversioned profile paths match any version.
    const legacy = parseThingsBoardProfile(JSON.stringify({ observeAttr: { keyName: { '/3/0/9': 'b' }, observe: ['/3/0/9', '/3_1.0/0/13', '/3_1.1/0/14'], telemetry: ['/3/0/9'] } })).profile;
    expect(show(planProfileOperations(legacy, [{ objectId: 3, instances: [0] }]).operations)).toEqual(['observe /3/0/9', 'observe /3/0/13']);
  });

  it('defaultObjectIDVer is the version of objects registered without ver', () => {
    const p = parseThingsBoardProfile(JSON.stringify({
      observeAttr: { keyName: { '/3_1.1/0/9': 'bat' }, observe: ['/3_1.1/0/9'], telemetry: ['/3_1.1/0/9'] },
      clientLwM2mSettings: { defaultObjectIDVer: '1.1' },
    })).profile;
    expect(show(planProfileOperations(p, [{ objectId: 3, instances: [0] }]).operations)).toEqual(['observe /3/0/9']);
    expect(new TelemetryMapper(p).map({ '/3/0/9': 5 }).telemetry).toEqual([{ key: 'bat', value: 5, path: '/3/0/9' }]);
    expect(planProfileOperations(SAMPLE, [{ objectId: 3, instances: [0] }]).skipped[0]?.reason).toBe('object 3 is registered at version 1.0, the profile names 1.2');
  });

  it('composite strategies group the observes (and, with initAttrTelAsObsStrategy, the reads)', () => {
    const all = planProfileOperations(variant({ observeAttr: { observeStrategy: 'COMPOSITE_ALL', initAttrTelAsObsStrategy: true } }), OBJECTS);
    expect(show(all.operations)).toEqual([
      'writeAttributes /3/0/9', 'writeAttributes /3303',
      'observeComposite /3/0/9,/3/0/13,/4/0/2,/3303/0/5700,/3303/1/5700,/3303/12/5700',
      'readComposite /3/0/0,/3/0/2,/3/0/3,/3303/0/5701',
    ]);
    const byObject = planProfileOperations(variant({ observeAttr: { observeStrategy: 'COMPOSITE_BY_OBJECT' } }), OBJECTS);
    expect(show(byObject.operations).slice(2)).toEqual([
      'observeComposite /3/0/9,/3/0/13', 'observeComposite /4/0/2', 'observeComposite /3303/0/5700,/3303/1/5700,/3303/12/5700',
      'read /3/0/0', 'read /3/0/2', 'read /3/0/3', 'read /3303/0/5701',
    ]);
  });

  it('a profile with nothing to do plans nothing', () => {
    const empty = parseThingsBoardProfile('{"observeAttr": {}}').profile;
    expect(planProfileOperations(empty, OBJECTS)).toEqual({ operations: [], skipped: [] });
  });
});

describe('TelemetryMapper', () => {
  const versions = new Map([[3, '1.2'], [4, '1.3'], [3303, '1.1']]);

  it('names values by keyName: attributes, telemetry, both', () => {
    const m = new TelemetryMapper(SAMPLE);
    const r = m.map({ '/3/0/0': 'ACME', '/3/0/9': 87, '/3303/12/5700': 21.5, '/3/0/1': 'not mapped', '/5/0/3': 1 }, versions);
    expect(r.attributes).toEqual([{ key: 'manufacturer', value: 'ACME', path: '/3/0/0' }]);
    expect(r.telemetry).toEqual([{ key: 'batteryLevel', value: 87, path: '/3/0/9' }, { key: 'temperature12', value: 21.5, path: '/3303/12/5700' }]);
  });

  it('a key for another object version does not match; an unversioned key matches any version', () => {
    const m = new TelemetryMapper(SAMPLE);
    expect(m.map({ '/3/0/9': 87 }, new Map([[3, '1.1']])).telemetry).toEqual([]);
    expect(m.map({ '/3/0/9': 87 }).telemetry).toEqual([]); // no ver = 1.0
    const legacy = new TelemetryMapper(parseThingsBoardProfile(JSON.stringify({ observeAttr: { keyName: { '/3/0/9': 'bat' }, telemetry: ['/3/0/9'], attribute: ['/3/0/9'] } })).profile);
    const r = legacy.map({ '/3/0/9': 50 }, new Map([[3, '1.2']]));
    expect(r).toEqual({ attributes: [{ key: 'bat', value: 50, path: '/3/0/9' }], telemetry: [{ key: 'bat', value: 50, path: '/3/0/9' }] });
  });

  it('picks the entry of the registered version when a profile names two versions of a path', () => {
    const p = parseThingsBoardProfile(JSON.stringify({ observeAttr: { keyName: { '/3_1.0/0/9': 'bat10', '/3_1.2/0/9': 'bat12' }, telemetry: ['/3_1.0/0/9', '/3_1.2/0/9'] } })).profile;
    const m = new TelemetryMapper(p);
    expect(m.map({ '/3/0/9': 1 }).telemetry.map((t) => t.key)).toEqual(['bat10']);
    expect(m.map({ '/3/0/9': 1 }, new Map([[3, '1.2']])).telemetry.map((t) => t.key)).toEqual(['bat12']);
  });

  it('multiple resources: instances gather into one object unless an instance has its own key; a path without keyName keeps its path', () => {
    const p = parseThingsBoardProfile(JSON.stringify({ observeAttr: {
      keyName: { '/3/0/6': 'powerSources', '/3/0/7/1': 'voltage1' }, attribute: ['/3/0/6', '/3/0/7/1'], telemetry: ['/3/0/10'],
    } })).profile;
    const r = new TelemetryMapper(p).map({ '/3/0/6/0': 1, '/3/0/6/1': 5, '/3/0/7/0': 3800, '/3/0/7/1': 5000, '/3/0/10': 15 });
    expect(r.attributes).toEqual([{ key: 'voltage1', value: 5000, path: '/3/0/7/1' }, { key: 'powerSources', value: { 0: 1, 1: 5 }, path: '/3/0/6' }]);
    expect(r.telemetry).toEqual([{ key: '/3/0/10', value: 15, path: '/3/0/10' }]);
  });
});

describe('TelemetryStore', () => {
  it('keeps the newest points of each key in a bounded ring, attributes as latest', () => {
    const s = new TelemetryStore({ pointsPerKey: 3 });
    for (let i = 1; i <= 5; i++) s.addTelemetry('ep', 'temp', i * 1000, 20 + i);
    s.setAttribute('ep', 'fw', 1, '1.0');
    s.setAttribute('ep', 'fw', 2, '1.1');
    expect(s.telemetry('ep', 'temp')).toEqual([{ ts: 3000, value: 23 }, { ts: 4000, value: 24 }, { ts: 5000, value: 25 }]);
    expect(s.telemetry('ep', 'temp', { limit: 2 })).toEqual([{ ts: 4000, value: 24 }, { ts: 5000, value: 25 }]);
    expect(s.telemetry('ep', 'temp', { limit: 0 })).toEqual([]);
    expect(s.telemetry('ep', 'nope')).toEqual([]);
    expect(s.latest('ep')).toEqual({ attributes: { fw: { ts: 2, value: '1.1' } }, telemetry: { temp: { ts: 5000, value: 25 } } });
    expect(s.latest('unknown')).toEqual({ attributes: {}, telemetry: {} });
    expect(s.telemetryKeys('ep')).toEqual(['temp']);
  });

  it('bounds keys per endpoint and endpoints (least recently written forgotten)', () => {
    const s = new TelemetryStore({ keysPerEndpoint: 2, maxEndpoints: 2 });
    s.addTelemetry('a', 'k1', 1, 1);
    s.setAttribute('a', 'k2', 1, 2);
    s.addTelemetry('a', 'k3', 1, 3);
    expect(s.droppedValues).toBe(1);
    s.addTelemetry('a', 'k1', 2, 4); // a known key still takes points
    expect(s.telemetry('a', 'k1')).toHaveLength(2);
    s.addTelemetry('b', 'k', 1, 1);
    s.addTelemetry('a', 'k1', 3, 5); // a is now the most recent
    s.addTelemetry('c', 'k', 1, 1);
    expect(s.endpoints().sort()).toEqual(['a', 'c']);
    expect(s.forget('a')).toBe(true);
    expect(() => new TelemetryStore({ pointsPerKey: 0 })).toThrow(LwM2MError);
  });
});

// ---- the adapter, against a fake server ------------------------------------------------------------

class FakeServer extends EventEmitter<ServerEvents> implements ProfileServer {
  readonly calls: string[] = [];
  /** Path → value answered by reads and observes; a missing path answers 4.04. */
  values: Record<string, unknown> = {};
  fail = new Set<string>();
  gate?: Promise<void>;

  private answer(path: LwM2MPath): ReadResult {
    const p = path.toString();
    if (this.fail.has(p)) throw new LwM2MError('TIMEOUT', `${p}: no answer`);
    const values = Object.fromEntries(Object.entries(this.values).filter(([k]) => k === p || k.startsWith(`${p}/`)));
    return Object.keys(values).length > 0 ? { ok: true, code: '2.05', values } : { ok: false, code: '4.04' };
  }

  read = vi.fn(async (ep: string, path: LwM2MPath): Promise<ReadResult> => {
    this.calls.push(`${ep} read ${path.toString()}`);
    await this.gate;
    return this.answer(path);
  });

  observe = vi.fn(async (ep: string, path: LwM2MPath): Promise<ReadResult> => {
    this.calls.push(`${ep} observe ${path.toString()}`);
    await this.gate;
    return this.answer(path);
  });

  writeAttributes = vi.fn(async (ep: string, path: LwM2MPath): Promise<OperationResult> => {
    this.calls.push(`${ep} writeAttributes ${path.toString()}`);
    return { ok: true, code: '2.04' };
  });

  readComposite = vi.fn(async (ep: string, paths: readonly LwM2MPath[], format: number): Promise<ReadResult> => {
    this.calls.push(`${ep} readComposite ${paths.map(String).join(',')} ${format}`);
    return { ok: true, code: '2.05', values: {} };
  });

  observeComposite = vi.fn(async (ep: string, paths: readonly LwM2MPath[], format: number): Promise<ReadResult> => {
    this.calls.push(`${ep} observeComposite ${paths.map(String).join(',')} ${format}`);
    return { ok: true, code: '2.05', values: {} };
  });
}

function registration(endpoint: string, objects: RegisteredObject[] = OBJECTS, id = `r-${endpoint}`, formats: number[] = []): Registration {
  return {
    registrationId: id, endpoint, address: '127.0.0.1', port: 5683, transport: 'udp', lifetime: 300, lwm2mVersion: '1.1', binding: 'U',
    queueMode: false, objectLinks: { rootPath: '/', supportedContentFormats: formats, objects }, rootPath: '/', supportedContentFormats: formats,
    registeredAt: 0, lastUpdate: 0, lastSeen: 0,
  };
}

describe('ThingsBoardProfileAdapter', () => {
  const DEVICE_VALUES = {
    '/3/0/0': 'ACME', '/3/0/2': 'SN-1', '/3/0/3': '1.0.0', '/3/0/9': 87, '/3/0/13': 1_700_000_000,
    '/4/0/2': -71, '/3303/0/5700': 20.5, '/3303/0/5701': 'Cel', '/3303/1/5700': 21, '/3303/12/5700': 22,
  };

  it('strategy 1 after registration: runs the plan in order and lands values as named attributes and telemetry', async () => {
    const server = new FakeServer();
    server.values = DEVICE_VALUES;
    const clock = new ManualClock(1000);
    const adapter = new ThingsBoardProfileAdapter(server, { profile: SAMPLE, clock });
    server.emit('registered', registration('LwNoSec00000000'));
    const report = await adapter.whenIdle('LwNoSec00000000');
    expect(server.calls).toEqual([
      'LwNoSec00000000 writeAttributes /3/0/9', 'LwNoSec00000000 writeAttributes /3303',
      'LwNoSec00000000 observe /3/0/9', 'LwNoSec00000000 observe /3/0/13', 'LwNoSec00000000 observe /4/0/2',
      'LwNoSec00000000 observe /3303/0/5700', 'LwNoSec00000000 observe /3303/1/5700', 'LwNoSec00000000 observe /3303/12/5700',
      'LwNoSec00000000 read /3/0/0', 'LwNoSec00000000 read /3/0/2', 'LwNoSec00000000 read /3/0/3', 'LwNoSec00000000 read /3303/0/5701',
    ]);
    expect(report?.outcomes.every((o) => o.ok)).toBe(true);
    expect(report).toMatchObject({ endpoint: 'LwNoSec00000000', startedAt: 1000, finishedAt: 1000, skipped: [] });
    const latest = adapter.store.latest('LwNoSec00000000');
    expect(latest.attributes).toEqual({
      manufacturer: { ts: 1000, value: 'ACME' }, serialNumber: { ts: 1000, value: 'SN-1' }, firmwareVersion: { ts: 1000, value: '1.0.0' }, sensorUnits: { ts: 1000, value: 'Cel' },
    });
    expect(Object.keys(latest.telemetry).sort()).toEqual(['batteryLevel', 'currentTime', 'radioSignalStrength', 'temperature', 'temperature1', 'temperature12']);

    // Notifications and Sends append telemetry.
    clock.advance(5000);
    server.emit('notification', { endpoint: 'LwNoSec00000000', path: '/3/0/9', result: { ok: true, code: '2.05', values: { '/3/0/9': 86 } } });
    clock.advance(5000);
    server.emit('send', { endpoint: 'LwNoSec00000000', records: [], values: { '/3/0/9': 85, '/3303/0/5700': 19 } });
    expect(adapter.store.telemetry('LwNoSec00000000', 'batteryLevel')).toEqual([{ ts: 1000, value: 87 }, { ts: 6000, value: 86 }, { ts: 11000, value: 85 }]);
    expect(adapter.store.telemetry('LwNoSec00000000', 'batteryLevel', { limit: 1 })).toEqual([{ ts: 11000, value: 85 }]);
    // An endpoint without a registration seen by the adapter is ignored.
    server.emit('notification', { endpoint: 'stranger', path: '/3/0/9', result: { ok: true, code: '2.05', values: { '/3/0/9': 1 } } });
    expect(adapter.store.endpoints()).toEqual(['LwNoSec00000000']);
    adapter.detach();
    expect(server.listenerCount('registered') + server.listenerCount('notification') + server.listenerCount('send')).toBe(0);
  });

  it('strategy 2 reads all instances first; failures are reported and do not stop the run', async () => {
    const server = new FakeServer();
    server.values = DEVICE_VALUES;
    server.fail.add('/4/0');
    const adapter = new ThingsBoardProfileAdapter(server, { profile: variant({ settings: { clientOnlyObserveAfterConnect: 2 } }) });
    server.emit('registered', registration('ep2'));
    const report = await adapter.whenIdle('ep2');
    expect(server.calls.slice(2, 8)).toEqual(['ep2 read /1/0', 'ep2 read /3/0', 'ep2 read /4/0', 'ep2 read /3303/0', 'ep2 read /3303/1', 'ep2 read /3303/12']);
    expect(report?.outcomes.filter((o) => !o.ok)).toEqual([
      { kind: 'read', target: '/1/0', ok: false, code: '4.04' },
      { kind: 'read', target: '/4/0', ok: false, error: '/4/0: no answer' },
    ]);
    expect(adapter.store.latest('ep2').attributes.sensorUnits?.value).toBe('Cel');
  });

  it('composite observe uses a composite format the client announced', async () => {
    const server = new FakeServer();
    const adapter = new ThingsBoardProfileAdapter(server, { profile: variant({ observeAttr: { observeStrategy: 'COMPOSITE_ALL', initAttrTelAsObsStrategy: true } }) });
    server.emit('registered', registration('c', OBJECTS, 'r-c', [110]));
    await adapter.whenIdle('c');
    expect(server.calls.filter((c) => c.includes('Composite'))).toEqual([
      'c observeComposite /3/0/9,/3/0/13,/4/0/2,/3303/0/5700,/3303/1/5700,/3303/12/5700 110', 'c readComposite /3/0/0,/3/0/2,/3/0/3,/3303/0/5701 110',
    ]);
  });

  it('a new registration supersedes a running plan; de-registration cancels it; profileFor picks per device', async () => {
    const server = new FakeServer();
    let open!: () => void;
    server.gate = new Promise<void>((r) => (open = r));
    const other = parseThingsBoardProfile('{"observeAttr": {"observe": ["/3/0/9"]}}').profile;
    const adapter = new ThingsBoardProfileAdapter(server, { profileFor: (reg) => (reg.endpoint.startsWith('tb-') ? SAMPLE : reg.endpoint === 'x' ? other : undefined) });
    server.emit('registered', registration('tb-1', OBJECTS, 'first'));
    await Promise.resolve();
    const first = adapter.report('tb-1');
    server.emit('registered', registration('tb-1', OBJECTS, 'second'));
    server.emit('registered', registration('nobody'));
    server.emit('registered', registration('x', [{ objectId: 3, instances: [0] }]));
    server.emit('deregistered', registration('x'));
    open();
    const second = await adapter.whenIdle('tb-1');
    expect(first?.cancelled).toBe(true);
    expect(first?.outcomes.length).toBeLessThan(3);
    expect(second).toMatchObject({ registrationId: 'second' });
    expect(second?.cancelled).toBeUndefined();
    expect(adapter.report('nobody')).toBeUndefined();
    expect(adapter.report('x')).toBeUndefined();
    expect(server.calls.filter((c) => c.startsWith('nobody'))).toEqual([]);
  });

  it('an Update that changes the object list re-plans; one that does not only refreshes versions', async () => {
    const server = new FakeServer();
    const adapter = new ThingsBoardProfileAdapter(server, { profile: SAMPLE });
    server.emit('registered', registration('u', [{ objectId: 3, version: '1.2', instances: [0] }]));
    await adapter.whenIdle('u');
    const before = server.calls.length;
    server.emit('updated', registration('u', [{ objectId: 3, version: '1.2', instances: [0] }]), false);
    expect(server.calls.length).toBe(before);
    server.emit('updated', registration('u', OBJECTS), true);
    await adapter.whenIdle('u');
    expect(server.calls.slice(before)).toContain('u observe /3303/12/5700');
  });
});

it('the real LwM2MServer is a ProfileServer (checked by the compiler)', () => {
  const fits = (s: LwM2MServer): ProfileServer => s;
  expect(typeof fits).toBe('function');
});
