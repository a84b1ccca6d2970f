import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { isLwM2MError } from '../../../src/core/errors.js';
import { parseRegister } from '../../../src/server/registration/parse.js';
import {
  applyUpdate,
  createRegistration,
  hasObject,
  sameObjectLinks,
  touchRegistration,
  type Registration,
} from '../../../src/server/registration/registration.js';
import type { RegistrationRequest } from '../../../src/server/registration/request.js';
import {
  RegistrationService,
  type RegistrationServiceOptions,
  type RegistrationUpdatedEvent,
} from '../../../src/server/registration/service.js';
import { MemoryRegistrationStore, type ExpiredOptions } from '../../../src/server/registration/store.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const LINKS = '</1/0>,</3/0>';

function registerReq(ep: string, query: string[] = [], over: Partial<RegistrationRequest> = {}): RegistrationRequest {
  return {
    method: 'POST',
    uriPath: ['rd'],
    uriQuery: [`ep=${ep}`, ...query],
    payload: enc(LINKS),
    contentFormat: 40,
    source: { address: '10.0.0.1', port: 40000 },
    ...over,
  };
}

function updateReq(id: string, query: string[] = [], payload = '', over: Partial<RegistrationRequest> = {}): RegistrationRequest {
  return {
    method: 'POST',
    uriPath: ['rd', id],
    uriQuery: query,
    payload: enc(payload),
    ...(payload ? { contentFormat: 40 } : {}),
    source: { address: '10.0.0.1', port: 40000 },
    ...over,
  };
}

function counterIds(prefix = 'r'): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

interface Harness {
  clock: ManualClock;
  service: RegistrationService;
  events: string[];
}

function setup(options: Partial<RegistrationServiceOptions> = {}): Harness {
  const clock = new ManualClock(1_000_000);
  const service = new RegistrationService({ clock, idGenerator: counterIds(), ...options });
  const events: string[] = [];
  service.on('registered', (r, replaced) => events.push(`registered ${r.endpoint} ${r.registrationId}${replaced ? ` (replaces ${replaced.registrationId})` : ''}`));
  service.on('updated', (e) => events.push(`updated ${e.registration.registrationId}`));
  service.on('deregistered', (r) => events.push(`deregistered ${r.registrationId}`));
  service.on('expired', (r) => events.push(`expired ${r.registrationId}`));
  service.on('replaced', (prev, cur) => events.push(`replaced ${prev.registrationId} by ${cur.registrationId}`));
  return { clock, service, events };
}

function registered(h: Harness, ep: string, query: string[] = [], over: Partial<RegistrationRequest> = {}): Registration {
  const r = h.service.register(registerReq(ep, query, over));
  if (!r.ok) throw new Error(`register failed: ${r.code} ${r.diagnostic}`);
  return r.registration;
}

describe('RegistrationService: Register', () => {
  it('answers 2.01 with Location-Path rd/<id>, stores the registration, emits registered', () => {
    const h = setup();
    const r = h.service.register(registerReq('dev-1', ['lt=300', 'lwm2m=1.1', 'b=U', 'Q']));
    expect(r).toMatchObject({ ok: true, code: '2.01', location: ['rd', 'r1'] });
    if (!r.ok) return;
    expect(r.replaced).toBeUndefined();
    expect(r.registration).toMatchObject({
      registrationId: 'r1',
      endpoint: 'dev-1',
      address: '10.0.0.1',
      port: 40000,
      transport: 'udp',
      lifetime: 300,
      lwm2mVersion: '1.1',
      binding: 'U',
      queueMode: true,
      rootPath: '/',
      supportedContentFormats: [],
      registeredAt: 1_000_000,
      lastUpdate: 1_000_000,
      lastSeen: 1_000_000,
    });
    expect(h.service.get('r1')).toBe(r.registration);
    expect(h.service.getByEndpoint('dev-1')).toBe(r.registration);
    expect(h.service.store.getByAddress('10.0.0.1', 40000)).toBe(r.registration);
    expect(h.events).toEqual(['registered dev-1 r1']);
  });

  it('a validation failure is returned as is and changes nothing', () => {
    const h = setup();
    expect(h.service.register(registerReq('dev-1', ['lt=0']))).toEqual({ ok: false, code: '4.00', diagnostic: 'lt=0 is out of range 1..4294967295' });
    expect(h.service.register(registerReq('dev-1', ['lwm2m=1.2']))).toMatchObject({ ok: false, code: '4.12' });
    expect(h.service.store.count()).toBe(0);
    expect(h.events).toEqual([]);
  });

  it('a second Register of the same endpoint replaces the first: replaced, then registered; the old id is gone', () => {
    const h = setup();
    const first = registered(h, 'dev-1');
    const r = h.service.register(registerReq('dev-1', [], { source: { address: '10.0.0.9', port: 50000 } }));
    expect(r).toMatchObject({ ok: true, code: '2.01', location: ['rd', 'r2'] });
    if (!r.ok) return;
    expect(r.replaced).toBe(first);
    expect(h.events).toEqual(['registered dev-1 r1', 'replaced r1 by r2', 'registered dev-1 r2 (replaces r1)']);
    expect(h.service.store.count()).toBe(1);
    expect(h.service.get('r1')).toBeUndefined();
    expect(h.service.store.getByAddress('10.0.0.1', 40000)).toBeUndefined();
    expect(h.service.store.getByAddress('10.0.0.9', 50000)?.registrationId).toBe('r2');
    expect(h.service.update('r1', updateReq('r1'))).toMatchObject({ ok: false, code: '4.04' });
    // The replaced registration does not expire later on its own.
    h.clock.advance(86_400_000);
    expect(h.events.filter((e) => e.startsWith('expired'))).toEqual(['expired r2']);
  });

  it('ids: collisions are retried, an invalid or throwing generator gives 5.00', () => {
    const ids = ['a', 'a', 'a', 'b'];
    const h = setup({ idGenerator: () => ids.shift() ?? 'z' });
    expect(registered(h, 'x').registrationId).toBe('a');
    expect(registered(h, 'y').registrationId).toBe('b');
    expect(setup({ idGenerator: () => 'has/slash' }).service.register(registerReq('x'))).toMatchObject({ ok: false, code: '5.00' });
    expect(setup({ idGenerator: () => '' }).service.register(registerReq('x'))).toMatchObject({ ok: false, code: '5.00' });
    expect(
      setup({
        idGenerator: () => {
          throw new Error('boom');
        },
      }).service.register(registerReq('x')),
    ).toMatchObject({ ok: false, code: '5.00' });
    const stuck = setup({ idGenerator: () => 'same' });
    registered(stuck, 'x');
    expect(stuck.service.register(registerReq('y'))).toMatchObject({ ok: false, code: '5.00', diagnostic: expect.stringContaining('8 attempts') });
  });

  it('default ids are 8 base64url characters and distinct', () => {
    const service = new RegistrationService({ clock: new ManualClock() });
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const r = service.register(registerReq(`ep${i}`));
      if (!r.ok) throw new Error(r.diagnostic);
      expect(r.registration.registrationId).toMatch(/^[A-Za-z0-9_-]{8}$/);
      seen.add(r.registration.registrationId);
    }
    expect(seen.size).toBe(200);
    service.close();
  });

  it('maxRegistrations: new endpoints beyond it get 5.03, a replacement is still accepted', () => {
    const h = setup({ maxRegistrations: 2 });
    registered(h, 'a');
    registered(h, 'b');
    expect(h.service.register(registerReq('c'))).toMatchObject({ ok: false, code: '5.03' });
    expect(h.service.register(registerReq('a'))).toMatchObject({ ok: true, code: '2.01' });
  });

  it('a throwing listener is contained; once listeners fire once', () => {
    const h = setup();
    let onceCalls = 0;
    h.service.on('registered', () => {
      throw new Error('listener bug');
    });
    h.service.once('registered', () => onceCalls++);
    expect(h.service.register(registerReq('a'))).toMatchObject({ ok: true });
    expect(h.service.register(registerReq('b'))).toMatchObject({ ok: true });
    expect(h.events).toEqual(['registered a r1', 'registered b r2']);
    expect(onceCalls).toBe(1);
  });
});

describe('RegistrationService: Update', () => {
  it('unknown id → 4.04', () => {
    const h = setup();
    expect(h.service.update('nope', updateReq('nope'))).toEqual({ ok: false, code: '4.04', diagnostic: 'no registration "nope"' });
  });

  it('applies what was sent, restarts the lifetime, emits updated with what changed', () => {
    const h = setup();
    const reg = registered(h, 'dev', ['lt=60', 'lwm2m=1.1']);
    const updates: RegistrationUpdatedEvent[] = [];
    h.service.on('updated', (e) => updates.push(e));
    h.clock.advance(10_000);
    const r = h.service.update(reg.registrationId, updateReq(reg.registrationId, ['lt=120', 'b=UT', 'Q', 'sms=123', 'at=20']));
    expect(r).toMatchObject({ ok: true, code: '2.04', objectsChanged: false });
    if (!r.ok) return;
    expect(r.registration).toMatchObject({ lifetime: 120, binding: 'UT', queueMode: true, sms: '123', awakeTime: 20, lastUpdate: 1_010_000, lastSeen: 1_010_000, registeredAt: 1_000_000 });
    expect(r.changes).toEqual({ lifetime: true, binding: true, queueMode: true, sms: true, awakeTime: true, objects: false, address: false });
    expect(r.previous).toBe(reg);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.registration).toBe(r.registration);
    expect(h.service.get(reg.registrationId)).toBe(r.registration);
  });

  it('objectsChanged only when the payload lists different objects', () => {
    const h = setup();
    const reg = registered(h, 'dev');
    const same = h.service.update(reg.registrationId, updateReq(reg.registrationId, [], '</3/0>, </1/0>'));
    expect(same).toMatchObject({ ok: true, objectsChanged: false });
    const changed = h.service.update(reg.registrationId, updateReq(reg.registrationId, [], '</1/0>,</3/0>,</5/0>'));
    expect(changed).toMatchObject({ ok: true, objectsChanged: true });
    if (changed.ok) expect(hasObject(changed.registration, 5, 0)).toBe(true);
    const none = h.service.update(reg.registrationId, updateReq(reg.registrationId));
    expect(none).toMatchObject({ ok: true, objectsChanged: false });
    if (none.ok) expect(hasObject(none.registration, 5)).toBe(true);
  });

  it('NAT rebinding: the registration follows the Update to its new address and port', () => {
    const h = setup();
    const reg = registered(h, 'dev');
    const r = h.service.update(reg.registrationId, updateReq(reg.registrationId, [], '', { source: { address: '192.0.2.7', port: 61000 } }));
    expect(r).toMatchObject({ ok: true, registration: { address: '192.0.2.7', port: 61000 }, changes: { address: true } });
    expect(h.service.store.getByAddress('10.0.0.1', 40000)).toBeUndefined();
    expect(h.service.store.getByAddress('192.0.2.7', 61000)?.registrationId).toBe(reg.registrationId);
  });

  it('a bad Update changes nothing', () => {
    const h = setup();
    const reg = registered(h, 'dev', ['lt=60']);
    h.clock.advance(1000);
    expect(h.service.update(reg.registrationId, updateReq(reg.registrationId, ['lt=abc']))).toMatchObject({ ok: false, code: '4.00' });
    expect(h.service.get(reg.registrationId)).toBe(reg);
    h.clock.advance(59_000);
    expect(h.service.get(reg.registrationId)).toBeUndefined();
  });

  it('touch moves lastSeen only; touchPeer finds the registration by address', () => {
    const h = setup();
    const reg = registered(h, 'dev', ['lt=60']);
    const touched: Registration[] = [];
    h.service.on('touched', (r) => touched.push(r));
    h.clock.advance(30_000);
    expect(h.service.touch(reg.registrationId)?.lastSeen).toBe(1_030_000);
    h.clock.advance(10_000);
    expect(h.service.touchPeer('10.0.0.1', 40000)?.lastSeen).toBe(1_040_000);
    expect(h.service.touchPeer('10.0.0.1', 1)).toBeUndefined();
    expect(h.service.touch('nope')).toBeUndefined();
    expect(touched.map((r) => r.lastSeen)).toEqual([1_030_000, 1_040_000]);
    expect(h.service.get(reg.registrationId)?.lastUpdate).toBe(1_000_000);
    h.clock.advance(20_000); // t = 60 s after Register: traffic did not renew the lifetime
    expect(h.service.get(reg.registrationId)).toBeUndefined();
  });
});

describe('RegistrationService: De-register', () => {
  it('2.02 and deregistered; then 4.04', () => {
    const h = setup();
    const reg = registered(h, 'dev');
    expect(h.service.deregister(reg.registrationId)).toMatchObject({ ok: true, code: '2.02', registration: reg });
    expect(h.service.deregister(reg.registrationId)).toMatchObject({ ok: false, code: '4.04' });
    expect(h.events).toEqual(['registered dev r1', 'deregistered r1']);
    expect(h.service.store.count()).toBe(0);
  });

  it('handle() routes POST /rd, POST /rd/<id>, DELETE /rd/<id>, and refuses the rest', () => {
    const h = setup();
    expect(h.service.handle(registerReq('dev'))).toMatchObject({ code: '2.01' });
    expect(h.service.handle(updateReq('r1'))).toMatchObject({ code: '2.04' });
    expect(h.service.handle({ ...updateReq('r1'), method: 'GET' })).toMatchObject({ ok: false, code: '4.05' });
    expect(h.service.handle({ ...updateReq('r1'), uriPath: ['rd', 'r1', 'x'] })).toMatchObject({ ok: false, code: '4.04' });
    expect(h.service.handle({ ...updateReq('r1'), method: 'DELETE' })).toMatchObject({ code: '2.02' });
  });
});

describe('RegistrationService: security context (default authorizer)', () => {
  const dtls = (identity: string): Partial<RegistrationRequest> => ({ transport: 'dtls', pskIdentity: identity });

  it('a DTLS registration only accepts Update/De-register from the same PSK identity over DTLS', () => {
    const h = setup();
    const reg = registered(h, 'dev', [], dtls('dev-identity'));
    expect(reg).toMatchObject({ transport: 'dtls', pskIdentity: 'dev-identity' });
    const id = reg.registrationId;
    expect(h.service.update(id, updateReq(id))).toMatchObject({ ok: false, code: '4.00', diagnostic: expect.stringContaining('over plain UDP refused') });
    expect(h.service.update(id, updateReq(id, [], '', dtls('mallory')))).toMatchObject({ ok: false, code: '4.00', diagnostic: expect.stringContaining('another PSK identity') });
    expect(h.service.update(id, updateReq(id, [], '', dtls('dev-identity')))).toMatchObject({ ok: true });
    expect(h.service.deregister(id, { source: { address: 'x', port: 1 } })).toMatchObject({ ok: false, code: '4.00' });
    expect(h.service.deregister(id, { source: { address: 'x', port: 1 }, ...dtls('dev-identity') })).toMatchObject({ ok: true, code: '2.02' });
  });

  it('a Register from another identity or over UDP cannot replace a DTLS registration (4.03)', () => {
    const h = setup();
    registered(h, 'dev', [], dtls('dev-identity'));
    expect(h.service.register(registerReq('dev'))).toMatchObject({ ok: false, code: '4.03' });
    expect(h.service.register(registerReq('dev', [], dtls('other')))).toMatchObject({ ok: false, code: '4.03' });
    expect(h.service.register(registerReq('dev', [], dtls('dev-identity')))).toMatchObject({ ok: true, code: '2.01' });
  });

  it('a custom authorizer replaces the policy', () => {
    const h = setup({
      authorize: (input) =>
        input.operation === 'register' && input.endpoint.startsWith('blocked') ? { ok: false, code: '4.03', diagnostic: 'not provisioned' } : undefined,
    });
    expect(h.service.register(registerReq('blocked-1'))).toEqual({ ok: false, code: '4.03', diagnostic: 'not provisioned' });
    expect(h.service.register(registerReq('fine'))).toMatchObject({ ok: true });
  });
});

describe('RegistrationService: expiry', () => {
  it('expires at exactly lastUpdate + lifetime, not a millisecond before (grace 0, as Leshan)', () => {
    const h = setup();
    const reg = registered(h, 'dev', ['lt=60']);
    expect(h.service.expiresAt(reg)).toBe(1_060_000);
    h.clock.advance(59_999);
    expect(h.service.get(reg.registrationId)).toBeDefined();
    expect(h.events).toEqual(['registered dev r1']);
    h.clock.advance(1);
    expect(h.service.get(reg.registrationId)).toBeUndefined();
    expect(h.events).toEqual(['registered dev r1', 'expired r1']);
  });

  it('with a grace period: at exactly lastUpdate + lifetime + grace', () => {
    const h = setup({ graceMs: 5000 });
    const reg = registered(h, 'dev', ['lt=60']);
    h.clock.advance(64_999);
    expect(h.service.get(reg.registrationId)).toBeDefined();
    h.clock.advance(1);
    expect(h.service.get(reg.registrationId)).toBeUndefined();
    expect(h.events.at(-1)).toBe('expired r1');
  });

  it('an Update restarts the lifetime; a shorter lifetime brings the expiry forward', () => {
    const h = setup();
    const reg = registered(h, 'dev', ['lt=60']);
    h.clock.advance(50_000);
    h.service.update(reg.registrationId, updateReq(reg.registrationId));
    h.clock.advance(59_999);
    expect(h.service.get(reg.registrationId)).toBeDefined();
    h.clock.advance(1);
    expect(h.service.get(reg.registrationId)).toBeUndefined();

    const long = registered(h, 'long'); // 86400 s
    h.clock.advance(1000);
    h.service.update(long.registrationId, updateReq(long.registrationId, ['lt=10']));
    h.clock.advance(9_999);
    expect(h.service.get(long.registrationId)).toBeDefined();
    h.clock.advance(1);
    expect(h.service.get(long.registrationId)).toBeUndefined();
  });

  it('registrations expire in order, each at its own time', () => {
    const h = setup();
    registered(h, 'a', ['lt=30']);
    registered(h, 'b', ['lt=10']);
    h.clock.advance(5000);
    registered(h, 'c', ['lt=10']);
    const times: Array<[string, number]> = [];
    h.service.on('expired', (r) => times.push([r.endpoint, h.clock.now() - 1_000_000]));
    h.clock.advance(60_000);
    expect(times).toEqual([
      ['b', 10_000],
      ['c', 15_000],
      ['a', 30_000],
    ]);
  });

  it('bounded work: at most sweepBatch expirations per timer callback, the rest on follow-up timers', () => {
    const clock = new ManualClock(0);
    const batches: number[] = [];
    class SpyStore extends MemoryRegistrationStore {
      override expired(now: number, options?: ExpiredOptions): Registration[] {
        const out = super.expired(now, options);
        batches.push(out.length);
        return out;
      }
    }
    const service = new RegistrationService({ clock, store: new SpyStore(), sweepBatch: 10, idGenerator: counterIds() });
    for (let i = 0; i < 25; i++) service.register(registerReq(`ep${i}`, ['lt=10']));
    let expired = 0;
    service.on('expired', () => expired++);
    clock.advance(10_000);
    expect(expired).toBe(25);
    expect(Math.max(...batches)).toBeLessThanOrEqual(10);
    expect(batches.filter((n) => n > 0)).toEqual([10, 10, 5]);
    expect(service.store.count()).toBe(0);
  });

  it('a lifetime beyond the timer range (2^32−1 s) is re-checked in steps and never fires early', () => {
    const h = setup();
    const reg = registered(h, 'dev', ['lt=4294967295']);
    h.clock.advance(30 * 24 * 3600 * 1000); // 30 days
    expect(h.service.get(reg.registrationId)).toBeDefined();
    expect(h.clock.pendingCount).toBe(1);
  });

  it('a store handed in with registrations is swept too', () => {
    const clock = new ManualClock(0);
    const store = new MemoryRegistrationStore();
    const parsed = parseRegister(registerReq('old', ['lt=5']));
    if (!parsed.ok) throw new Error(parsed.diagnostic);
    store.add(createRegistration(parsed.value, { registrationId: 'x', source: { address: 'a', port: 1 }, now: 0 }));
    const service = new RegistrationService({ clock, store });
    const expired: string[] = [];
    service.on('expired', (r) => expired.push(r.registrationId));
    clock.advance(5000);
    expect(expired).toEqual(['x']);
  });

  it('close() stops the timer and refuses new registrations', () => {
    const h = setup();
    registered(h, 'dev', ['lt=10']);
    h.service.close();
    expect(h.clock.pendingCount).toBe(0);
    expect(h.service.register(registerReq('x'))).toMatchObject({ ok: false, code: '5.03' });
    h.clock.advance(20_000);
    expect(h.events).toEqual(['registered dev r1']);
    expect(h.service.expireDue()).toBe(1);
  });
});

describe('registration record functions', () => {
  const base = (): Registration => {
    const p = parseRegister(registerReq('dev', ['lwm2m=1.1', 'lt=60', 'x=1']));
    if (!p.ok) throw new Error(p.diagnostic);
    return createRegistration(p.value, { registrationId: 'id', source: { address: 'a', port: 1 }, now: 100 });
  };

  it('applyUpdate is pure and merges additional attributes', () => {
    const reg = base();
    const frozen = JSON.stringify(reg);
    const out = applyUpdate(reg, { additionalAttributes: { y: '2' } }, { source: { address: 'a', port: 1 }, now: 200 });
    expect(JSON.stringify(reg)).toBe(frozen);
    expect(out.registration.additionalAttributes).toEqual({ x: '1', y: '2' });
    expect(out.registration.lastUpdate).toBe(200);
    expect(out.changes).toEqual({ lifetime: false, binding: false, queueMode: false, sms: false, awakeTime: false, objects: false, address: false });
  });

  it('touchRegistration never moves lastSeen backwards', () => {
    const reg = base();
    expect(touchRegistration(reg, 50)).toBe(reg);
    expect(touchRegistration(reg, 150).lastSeen).toBe(150);
  });

  it('sameObjectLinks compares root path, content formats, versions and instances', () => {
    const links = base().objectLinks;
    expect(sameObjectLinks(links, { ...links })).toBe(true);
    expect(sameObjectLinks(links, { ...links, rootPath: '/x' })).toBe(false);
    expect(sameObjectLinks(links, { ...links, supportedContentFormats: [60] })).toBe(false);
    expect(sameObjectLinks(links, { ...links, objects: [{ objectId: 1, instances: [0] }, { objectId: 3, version: '1.1', instances: [0] }] })).toBe(false);
    expect(sameObjectLinks(links, { ...links, objects: [{ objectId: 1, instances: [0] }, { objectId: 3, instances: [0, 1] }] })).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------

function makeReg(ep: string, id: string, now = 0, lifetime = 60, port = 1000): Registration {
  const p = parseRegister(registerReq(ep, [`lt=${lifetime}`]));
  if (!p.ok) throw new Error(p.diagnostic);
  return createRegistration(p.value, { registrationId: id, source: { address: '10.1.1.1', port }, now });
}

function walk(store: MemoryRegistrationStore, limit: number, between: (page: number) => void = () => undefined): string[] {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100_000; page++) {
    const res = store.list({ limit, ...(cursor !== undefined ? { cursor } : {}) });
    expect(res.items.length).toBeLessThanOrEqual(limit);
    seen.push(...res.items.map((r) => r.registrationId));
    if (res.nextCursor === undefined) return seen;
    cursor = res.nextCursor;
    between(page);
  }
  throw new Error('pagination did not end');
}

describe('MemoryRegistrationStore', () => {
  it('lookups by id, endpoint and address; add returns the replaced registration', () => {
    const s = new MemoryRegistrationStore();
    const a = makeReg('a', 'i1');
    expect(s.add(a)).toBeUndefined();
    expect(s.getById('i1')).toBe(a);
    expect(s.getByEndpoint('a')).toBe(a);
    expect(s.getByAddress('10.1.1.1', 1000)).toBe(a);
    const a2 = makeReg('a', 'i2', 0, 60, 2000);
    expect(s.add(a2)).toBe(a);
    expect(s.getById('i1')).toBeUndefined();
    expect(s.getByAddress('10.1.1.1', 1000)).toBeUndefined();
    expect(s.count()).toBe(1);
    expect(() => s.add(makeReg('b', 'i2'))).toThrow(/already used/);
    expect(s.update(makeReg('zzz', 'nope'))).toBeUndefined();
    expect(() => s.update(makeReg('b', 'i2'))).toThrow(/changes the endpoint/);
    expect(s.remove('i2')).toBe(a2);
    expect(s.remove('i2')).toBeUndefined();
    expect(s.count()).toBe(0);
  });

  it('two registrations behind one NAT address: the address index points to the latest, removal keeps the other', () => {
    const s = new MemoryRegistrationStore();
    s.add(makeReg('a', 'i1', 0, 60, 5));
    s.add(makeReg('b', 'i2', 0, 60, 5));
    expect(s.getByAddress('10.1.1.1', 5)?.endpoint).toBe('b');
    s.remove('i1');
    expect(s.getByAddress('10.1.1.1', 5)?.endpoint).toBe('b');
  });

  it('list: pages in registration order, nextCursor absent on the last page', () => {
    const s = new MemoryRegistrationStore();
    for (let i = 0; i < 10; i++) s.add(makeReg(`e${i}`, `i${i}`));
    const p1 = s.list({ limit: 4 });
    expect(p1.items.map((r) => r.registrationId)).toEqual(['i0', 'i1', 'i2', 'i3']);
    const p3 = s.list({ limit: 4, cursor: s.list({ limit: 4, cursor: p1.nextCursor as string }).nextCursor as string });
    expect(p3.items.map((r) => r.registrationId)).toEqual(['i8', 'i9']);
    expect(p3.nextCursor).toBeUndefined();
    expect(s.list({ limit: 10 }).nextCursor).toBeUndefined();
    expect(new MemoryRegistrationStore().list()).toEqual({ items: [] });
  });

  it('list: a malformed cursor or limit is a 4.00 LwM2MError', () => {
    const s = new MemoryRegistrationStore();
    for (const opts of [{ cursor: 'NOT VALID' }, { cursor: '' }, { limit: 0 }, { limit: 1.5 }, { limit: 1001 }]) {
      let err: unknown;
      try {
        s.list(opts);
      } catch (e) {
        err = e;
      }
      expect(isLwM2MError(err) && err.coapCode).toBe('4.00');
    }
  });

  it('list: no duplicates and no misses while registrations are added and removed between pages', () => {
    const s = new MemoryRegistrationStore();
    for (let i = 0; i < 250; i++) s.add(makeReg(`e${i}`, `i${i}`));
    const stable = new Set<string>();
    for (let i = 0; i < 250; i++) if (i % 3 !== 0) stable.add(`i${i}`); // never touched during the walk
    let next = 250;
    const seen = walk(s, 40, (page) => {
      // remove some not yet seen and some already seen, add new ones, replace one endpoint
      // (multiples of 3 only: the others must all be listed)
      s.remove(`i${page * 30}`); // not yet seen or already seen, depending on the page
      s.remove(`i${240 - page * 6}`); // ahead of the cursor
      for (let k = 0; k < 7; k++, next++) s.add(makeReg(`e${next}`, `i${next}`));
      s.add(makeReg('e0', `re${page}`));
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of stable) expect(seen).toContain(id);
  });

  it('list: property — any interleaving of adds/removes between pages gives no duplicates and no misses', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.tuple(fc.nat(200), fc.nat(5)), { maxLength: 40 }),
        (initial, limit, ops) => {
          const s = new MemoryRegistrationStore();
          let next = 0;
          for (; next < initial; next++) s.add(makeReg(`e${next}`, `i${next}`));
          const protectedIds = new Set<string>();
          for (let i = 0; i < initial; i += 2) protectedIds.add(`i${i}`);
          let op = 0;
          const seen = walk(s, limit, () => {
            const o = ops[op++];
            if (!o) return;
            const [target, adds] = o;
            const victim = `i${target}`;
            if (!protectedIds.has(victim)) s.remove(victim);
            for (let k = 0; k < adds; k++, next++) s.add(makeReg(`e${next}`, `i${next}`));
          });
          expect(new Set(seen).size).toBe(seen.length);
          for (const id of protectedIds) expect(seen).toContain(id);
          for (const id of seen) expect(id).toMatch(/^i\d+$/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('list survives tombstone compaction in the middle of a walk', () => {
    const s = new MemoryRegistrationStore();
    for (let i = 0; i < 5000; i++) s.add(makeReg(`e${i}`, `i${i}`));
    const keep = new Set<string>();
    for (let i = 0; i < 5000; i += 10) keep.add(`i${i}`);
    let removedAll = false;
    const seen = walk(s, 100, () => {
      if (removedAll) return;
      removedAll = true;
      for (let i = 0; i < 5000; i++) if (!keep.has(`i${i}`)) s.remove(`i${i}`); // forces compaction
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of keep) expect(seen).toContain(id);
    expect(s.count()).toBe(500);
  });

  it('expired(): earliest first, grace and limit honoured, nothing removed', () => {
    const s = new MemoryRegistrationStore();
    s.add(makeReg('a', 'a', 0, 30));
    s.add(makeReg('b', 'b', 0, 10));
    s.add(makeReg('c', 'c', 5000, 10));
    expect(s.nextExpiry()).toBe(10_000);
    expect(s.expired(9_999)).toEqual([]);
    expect(s.expired(15_000).map((r) => r.registrationId)).toEqual(['b', 'c']);
    expect(s.expired(15_000, { graceMs: 1 }).map((r) => r.registrationId)).toEqual(['b']);
    expect(s.expired(60_000, { limit: 2 }).map((r) => r.registrationId)).toEqual(['b', 'c']);
    expect(s.count()).toBe(3);
    s.remove('b');
    expect(s.nextExpiry()).toBe(15_000);
    expect(s.expired(60_000).map((r) => r.registrationId)).toEqual(['c', 'a']);
  });

  it('expiry index stays correct and small under many Updates', () => {
    const s = new MemoryRegistrationStore();
    let reg = makeReg('a', 'a', 0, 60);
    s.add(reg);
    s.add(makeReg('b', 'b', 0, 100_000));
    for (let t = 1; t <= 20_000; t++) {
      reg = { ...reg, lastUpdate: t * 1000 };
      s.update(reg);
    }
    expect(s.nextExpiry()).toBe(20_000_000 + 60_000);
    expect(s.expired(20_060_000 - 1)).toEqual([]);
    expect(s.expired(20_060_000).map((r) => r.registrationId)).toEqual(['a']);
    const heap = (s as unknown as { heap: unknown[] }).heap;
    expect(heap.length).toBeLessThanOrEqual(2 * s.count() + 1024);
  });
});
