/**
 * Client behaviour over the in-memory network (issue 4, "Tests"): multi-server with ACL and Disable,
 * queue mode, lifetime Updates, registration retries, notification storing (/1/x/6), Send, Observe-Composite.
 * Our LwM2MClient ↔ our LwM2MServer with fast CoAP timing; LwM2M timers in (fractions of) seconds.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { once } from 'node:events';
import { LwM2MClient, MAX_STORED_NOTIFICATIONS, type ClientOptions } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { INTERNAL_CONTEXT } from '../../src/client/context.js';
import { createDeviceTree, type DeviceConfig, type ServerAccountConfig } from '../../src/client/device-factory.js';
import { parsePath } from '../../src/core/path.js';
import { ContentFormat } from '../../src/codec/content-format.js';
import { resource } from '../../src/model/node.js';
import { LwM2MServer, type NotificationEvent } from '../../src/server/lwm2m-server.js';
import type { Registration } from '../../src/server/registration/registration.js';
import { MemoryNetwork, type TapEvent } from '../../src/transport/memory.js';

const fast = { ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 200 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const A = 'coap://127.0.0.1:5683';
const B = 'coap://127.0.0.1:5684';
const DEVICE = {
  manufacturer: 'Open Mobile Alliance', modelNumber: 'Lightweight M2M Client', serialNumber: '345000123', firmwareVersion: '1.0', utcOffset: '+00:00',
};

function network(): MemoryNetwork {
  const net = new MemoryNetwork({ seed: 11, loss: 0, delayMs: [0, 2] });
  cleanups.push(() => net.close());
  return net;
}

function lwm2mServer(net: MemoryNetwork, port = 5683): LwM2MServer {
  const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port }), timing: fast });
  cleanups.push(() => server.close());
  return server;
}

function device(net: MemoryNetwork, servers: readonly ServerAccountConfig[], opts: {
  config?: Partial<DeviceConfig>; client?: Partial<Omit<ClientOptions, 'tree' | 'connections'>>;
} = {}): LwM2MClient {
  const dev = createDeviceTree({ servers, device: DEVICE, ...opts.config });
  cleanups.push(() => dev.dispose());
  const client = new LwM2MClient({
    endpoint: 'dev1', tree: dev.tree,
    connections: new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: fast }),
    ...opts.client,
  });
  cleanups.push(() => client.stop({ deregister: false }));
  return client;
}

/** An ACL instance (/2/x) created by the device itself (factory configuration). */
function addAcl(client: LwM2MClient, objectId: number, instanceId: number, rights: ReadonlyMap<number, number>, owner: number): void {
  const acl = client.tree.object(2);
  if (!acl) throw new Error('no ACL object');
  const inst = acl.create(undefined, INTERNAL_CONTEXT);
  inst.set(0, objectId);
  inst.set(1, instanceId);
  inst.set(2, rights);
  inst.set(3, owner);
}

function setAclRights(client: LwM2MClient, objectId: number, instanceId: number, rights: ReadonlyMap<number, number>): void {
  const inst = client.tree.object(2)?.instanceList().find((i) => i.get(0) === objectId && i.get(1) === instanceId);
  if (!inst) throw new Error(`no ACL instance for /${objectId}/${instanceId}`);
  inst.set(2, rights);
}

/** Collects server events from now on. */
function collect(server: LwM2MServer, event: 'registered' | 'updated' | 'deregistered' | 'expired'): Registration[] {
  const out: Registration[] = [];
  const push = (r: Registration): void => { out.push(r); };
  switch (event) {
    case 'registered': server.on('registered', push); break;
    case 'updated': server.on('updated', push); break;
    case 'deregistered': server.on('deregistered', push); break;
    case 'expired': server.on('expired', push); break;
  }
  return out;
}

function notifications(server: LwM2MServer, path: string): NotificationEvent[] {
  const out: NotificationEvent[] = [];
  server.on('notification', (e) => { if (e.path === path) out.push(e); });
  return out;
}

const R = 1;
const W = 2;
const E = 4;

describe('client behaviour over the in-memory network', () => {
  it('registers with two servers at once; ACL per short server id (4.01); Disable de-registers from one server and comes back after Disable Timeout', async () => {
    const net = network();
    const serverA = lwm2mServer(net, 5683);
    const serverB = lwm2mServer(net, 5684);
    const client = device(net, [{ uri: A, shortServerId: 101, lifetime: 300 }, { uri: B, shortServerId: 102, lifetime: 300 }]);
    addAcl(client, 3, 0, new Map([[101, R], [102, R]]), 101);
    addAcl(client, 1, 0, new Map([[101, R | W | E]]), 101);
    addAcl(client, 1, 1, new Map([[102, R | W | E]]), 102);
    const regA = once(serverA, 'registered');
    const regB = once(serverB, 'registered');
    await client.start();
    await Promise.all([regA, regB]);
    expect(client.sessionList().map((s) => [s.shortServerId, s.state]).sort()).toEqual([[101, 'registered'], [102, 'registered']]);
    // One socket per server account: each server sees its own peer port.
    expect(serverA.registrations.getByEndpoint('dev1')?.port).toBe(client.session(101)?.connection.localPort);
    expect(serverB.registrations.getByEndpoint('dev1')?.port).toBe(client.session(102)?.connection.localPort);

    for (const server of [serverA, serverB]) {
      const r = await server.read('dev1', parsePath('/3/0'));
      expect(r.ok, r.diagnostic).toBe(true);
      expect(r.values?.['/3/0/2']).toBe('345000123');
    }

    // ACL /3/0: 101 read only, nothing for 102 (LwM2M-TS-Core 1.1 §7.3.2 → 4.01 Unauthorized).
    setAclRights(client, 3, 0, new Map([[101, R]]));
    expect((await serverB.read('dev1', parsePath('/3/0'))).code).toBe('4.01');
    expect((await serverB.read('dev1', parsePath('/3/0/2'))).code).toBe('4.01');
    expect((await serverA.read('dev1', parsePath('/3/0/2'))).values?.['/3/0/2']).toBe('345000123');
    expect((await serverA.write('dev1', parsePath('/3/0/14'), resource(14, '+05:00'), ContentFormat.TEXT)).code).toBe('4.01');
    // Security is never reachable (4.04), and B cannot touch A's Server instance.
    expect((await serverA.read('dev1', parsePath('/0/0'))).code).toBe('4.04');
    expect((await serverB.read('dev1', parsePath('/1/0'))).code).toBe('4.01');

    // Disable from A with Disable Timeout 1 s: de-register from A only, register again after it.
    expect((await serverA.write('dev1', parsePath('/1/0/5'), resource(5, 1), ContentFormat.TEXT)).code).toBe('2.04');
    const deregB = collect(serverB, 'deregistered');
    const goneA = once(serverA, 'deregistered');
    // CoAP codes the device sends to A, in order (byte 1 of the header: 0x44 = 2.04, 0x04 = DELETE).
    const toA: number[] = [];
    cleanups.push(net.tap((e: TapEvent) => { if (e.kind === 'sent' && e.to.port === 5683) toA.push(e.data[1] ?? 0); }));
    const t0 = Date.now();
    expect((await serverA.execute('dev1', parsePath('/1/0/4'))).code).toBe('2.04');
    await goneA;
    // §E.2 /1/x/4: "the LwM2M Client MUST send response of the operation and perform de-registration process".
    expect(toA.indexOf(0x44)).toBeGreaterThanOrEqual(0);
    expect(toA.indexOf(0x44)).toBeLessThan(toA.indexOf(0x04));
    expect(serverA.registrations.getByEndpoint('dev1')).toBeUndefined();
    await vi.waitFor(() => { expect(client.session(101)?.state).toBe('disabled'); }, { timeout: 2000, interval: 10 });
    expect(client.session(102)?.state).toBe('registered');
    expect((await serverB.read('dev1', parsePath('/4/0'))).code).toBe('4.01'); // still answering B (no ACL for /4/0)
    const [back] = await once(serverA, 'registered') as [Registration];
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(back.endpoint).toBe('dev1');
    await vi.waitFor(() => { expect(client.session(101)?.state).toBe('registered'); }, { timeout: 2000, interval: 10 });
    expect(deregB).toHaveLength(0);
    expect(serverB.registrations.getByEndpoint('dev1')).toBeDefined();
    expect((await serverA.read('dev1', parsePath('/3/0/2'))).values?.['/3/0/2']).toBe('345000123');
  });

  it('queue mode: registers with b=U and Q, sleeps after the queue-mode timeout (datagrams dropped), wakes with an Update', async () => {
    const net = network();
    const server = lwm2mServer(net);
    const client = device(net, [{ uri: A, shortServerId: 101, lifetime: 300, binding: 'UQ' }], { client: { queueModeTimeoutS: 0.5 } });
    const sent: string[] = [];
    const untap = net.tap((e: TapEvent) => {
      if (e.kind === 'sent' && e.to.port === 5683) sent.push(e.data.toString('latin1'));
    });
    cleanups.push(untap);
    const registered = once(server, 'registered');
    await client.start();
    const [reg] = await registered as [Registration];
    expect(reg.queueMode).toBe(true);
    expect(reg.binding).toBe('U');
    // LwM2M 1.1 §6.2.1: "b=U" and a bare "Q" (not the 1.0 "b=UQ").
    const register = sent.find((d) => d.includes('ep=dev1'));
    expect(register).toContain('b=U');
    expect(register).not.toContain('b=UQ');
    expect(register?.includes('\u0001Q')).toBe(true); // the last Uri-Query option: delta 0, length 1, "Q"

    const asleep = once(client, 'asleep');
    expect(await asleep).toEqual([101, true]);
    expect(client.isAsleep(101)).toBe(true);
    const clientPort = client.session(101)?.connection.localPort;
    let delivered = 0;
    const untap2 = net.tap((e: TapEvent) => { if (e.kind === 'delivered' && e.to.port === clientPort) delivered++; });
    cleanups.push(untap2);
    const answered: string[] = [];
    client.on('request', (info) => answered.push(info.path));
    await expect(server.read('dev1', parsePath('/3/0/2'), undefined, 400)).rejects.toThrow();
    expect(delivered).toBeGreaterThanOrEqual(1); // the read reached the device's socket…
    expect(answered).toEqual([]); // …and was dropped there

    const updated = once(server, 'updated');
    await client.wakeUp();
    await updated;
    expect(client.isAsleep(101)).toBe(false);
    const r = await server.read('dev1', parsePath('/3/0/2'), undefined, 2000);
    expect(r.values?.['/3/0/2']).toBe('345000123');
    expect(answered).toContain('/3/0/2');
    // …and it falls asleep again after the timeout.
    expect(await once(client, 'asleep')).toEqual([101, true]);
  });

  it('sends Update before the lifetime expires, stays registered past 2× lifetime, and registers again when an Update gets 4.04', async () => {
    const net = network();
    const server = lwm2mServer(net);
    const lifetime = 2;
    const client = device(net, [{ uri: A, shortServerId: 101, lifetime }]);
    const expired = collect(server, 'expired');
    const updates = collect(server, 'updated');
    const t0 = Date.now();
    await client.start();
    const first = server.registrations.getByEndpoint('dev1');
    expect(first).toBeDefined();
    await vi.waitFor(() => { expect(updates.length).toBeGreaterThanOrEqual(4); }, { timeout: 7000, interval: 50 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2 * lifetime * 1000 - 200);
    expect(expired).toHaveLength(0);
    expect(server.registrations.getByEndpoint('dev1')?.registrationId).toBe(first?.registrationId);
    // Updates carry neither lt nor b nor the objects (nothing changed, §6.2.2).
    expect(updates.every((r) => r.lifetime === lifetime)).toBe(true);

    // The server forgets the registration behind the client's back: the next Update gets 4.04 → Register.
    server.registrations.deregister(first?.registrationId ?? '');
    const [again] = await once(server, 'registered') as [Registration];
    expect(again.endpoint).toBe('dev1');
    expect(again.registrationId).not.toBe(first?.registrationId);
    await vi.waitFor(() => { expect(client.session(101)?.state).toBe('registered'); }, { timeout: 2000, interval: 10 });
    expect(server.registrations.getByEndpoint('dev1')?.registrationId).toBe(again.registrationId);
  });

  it('Registration Update Trigger /1/x/8 sends an Update', async () => {
    const net = network();
    const server = lwm2mServer(net);
    const client = device(net, [{ uri: A, shortServerId: 101, lifetime: 300 }]);
    await client.start();
    const updated = once(server, 'updated');
    expect((await server.execute('dev1', parsePath('/1/0/8'))).code).toBe('2.04');
    const [reg] = await updated as [Registration];
    expect(reg.endpoint).toBe('dev1');
  });

  it('retries Register per /1/x/17–18 while the server does not answer, and registers once the link is back', async () => {
    const net = network();
    const server = lwm2mServer(net);
    const client = device(net, [{
      uri: A, shortServerId: 101, lifetime: 300, communicationRetryCount: 3, communicationRetryTimer: 1, bootstrapOnRegistrationFailure: false,
    }]);
    // First transmission time of every Register (by CoAP message id).
    const firstSent = new Map<number, number>();
    cleanups.push(net.tap((e: TapEvent) => {
      if (e.kind === 'sent' && e.to.port === 5683 && e.data.toString('latin1').includes('ep=dev1')) {
        const mid = e.data.readUInt16BE(2);
        if (!firstSent.has(mid)) firstSent.set(mid, Date.now());
      }
    }));
    const server127 = { address: '127.0.0.1', port: 5683 };
    net.setLinkConditions(server127, '127.0.0.1', { loss: 1 }, { bidirectional: true });
    const failures: string[] = [];
    client.on('exchange', (op, _ms, code) => { if (op === 'register' && code !== '2.01') failures.push(code); });
    const registered = once(server, 'registered');
    const started = client.start();
    await vi.waitFor(() => { expect(failures.length).toBeGreaterThanOrEqual(1); }, { timeout: 5000, interval: 20 });
    net.setLinkConditions(server127, '127.0.0.1', null, { bidirectional: true });
    await registered;
    await started;
    expect(client.session(101)?.state).toBe('registered');
    const times = [...firstSent.values()];
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(times.length).toBeLessThanOrEqual(3);
    // §6.2.1.1: the second attempt waits Communication Retry Timer (1 s) after the first failed.
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(net.stats.lost).toBeGreaterThan(0);
  });

  describe('Notification Storing When Disabled or Offline (/1/x/6)', () => {
    async function observed(storing: boolean): Promise<{ server: LwM2MServer; client: LwM2MClient; seen: NotificationEvent[] }> {
      const net = network();
      const server = lwm2mServer(net);
      const client = device(net, [{ uri: A, shortServerId: 101, lifetime: 300, notificationStoring: storing, disableTimeout: 1 }]);
      await client.start();
      expect((await server.writeAttributes('dev1', parsePath('/3/0/14'), { pmin: 0 })).code).toBe('2.04');
      const first = await server.observe('dev1', parsePath('/3/0/14'));
      expect(first.ok, `${first.code} ${first.diagnostic ?? ''}`).toBe(true);
      return { server, client, seen: notifications(server, '/3/0/14') };
    }
    const utcOffset = (client: LwM2MClient, v: string): void => client.tree.requireInstance(parsePath('/3/0')).set(14, v);
    const values = (seen: NotificationEvent[]): unknown[] => seen.map((e) => e.result.values?.['/3/0/14']);

    it('true: notifications while offline are stored and sent in order when the device is back online', async () => {
      const { server, client, seen } = await observed(true);
      utcOffset(client, '+01:00');
      await vi.waitFor(() => { expect(values(seen)).toEqual(['+01:00']); }, { timeout: 3000, interval: 10 });
      client.goOffline();
      for (const v of ['+02:00', '+03:00', '+04:00']) utcOffset(client, v);
      expect(client.storedNotifications(101)).toBe(3);
      expect(values(seen)).toEqual(['+01:00']);
      const updated = once(server, 'updated');
      await client.goOnline();
      await updated;
      await vi.waitFor(() => { expect(values(seen)).toEqual(['+01:00', '+02:00', '+03:00', '+04:00']); }, { timeout: 3000, interval: 10 });
      expect(client.storedNotifications(101)).toBe(0);
    });

    it('true: the store is bounded (the newest MAX_STORED_NOTIFICATIONS per server)', async () => {
      const { client, seen } = await observed(true);
      client.goOffline();
      const n = MAX_STORED_NOTIFICATIONS + 6;
      const offset = (i: number): string => `+${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`;
      for (let i = 0; i < n; i++) utcOffset(client, offset(i));
      expect(client.storedNotifications(101)).toBe(MAX_STORED_NOTIFICATIONS);
      await client.goOnline();
      await vi.waitFor(() => { expect(seen.length).toBe(MAX_STORED_NOTIFICATIONS); }, { timeout: 3000, interval: 10 });
      expect(values(seen)[0]).toBe(offset(6));
      expect(values(seen).at(-1)).toBe(offset(n - 1));
    });

    it('false: notifications while offline are dropped; the observation goes on afterwards', async () => {
      const { server, client, seen } = await observed(false);
      client.goOffline();
      for (const v of ['+02:00', '+03:00']) utcOffset(client, v);
      expect(client.storedNotifications(101)).toBe(0);
      const updated = once(server, 'updated');
      await client.goOnline();
      await updated;
      utcOffset(client, '+09:00');
      await vi.waitFor(() => { expect(values(seen)).toContain('+09:00'); }, { timeout: 3000, interval: 10 });
      expect(values(seen)).toEqual(['+09:00']);
    });

    it('true: notifications while the account is disabled (/1/x/4) are stored and reported after it registers again', async () => {
      const { server, client } = await observed(true);
      const sentBy101: number[] = [];
      client.on('notification', (ssid) => { sentBy101.push(ssid); });
      const gone = once(server, 'deregistered');
      expect((await server.execute('dev1', parsePath('/1/0/4'))).code).toBe('2.04');
      await gone;
      await vi.waitFor(() => { expect(client.session(101)?.state).toBe('disabled'); }, { timeout: 2000, interval: 10 });
      utcOffset(client, '+02:00');
      utcOffset(client, '+03:00');
      expect(client.storedNotifications(101)).toBe(2);
      expect(sentBy101).toEqual([]);
      await once(server, 'registered');
      await vi.waitFor(() => { expect(sentBy101).toEqual([101, 101]); }, { timeout: 2000, interval: 10 });
      expect(client.storedNotifications(101)).toBe(0);
    });

    it('false: Disable cancels the observations; nothing is stored or reported', async () => {
      const { server, client } = await observed(false);
      const sent: number[] = [];
      client.on('notification', (ssid) => { sent.push(ssid); });
      const gone = once(server, 'deregistered');
      expect((await server.execute('dev1', parsePath('/1/0/4'))).code).toBe('2.04');
      await gone;
      await vi.waitFor(() => { expect(client.session(101)?.state).toBe('disabled'); }, { timeout: 2000, interval: 10 });
      utcOffset(client, '+02:00');
      expect(client.storedNotifications(101)).toBe(0);
      expect(client.observations.size).toBe(0);
      await once(server, 'registered');
      utcOffset(client, '+03:00');
      expect(sent).toEqual([]);
    });
  });

  it('Send (/dp) in SenML CBOR reaches the server with the values; a 1.0 client refuses Send locally', async () => {
    const net = network();
    const server = lwm2mServer(net);
    const client = device(net, [{ uri: A, shortServerId: 101, lifetime: 300 }]);
    await client.start();
    const got = once(server, 'send');
    expect(await client.send([parsePath('/3/0/0'), parsePath('/3/0/2')])).toEqual(['2.04']);
    const [ev] = await got as [{ endpoint: string; values: Record<string, unknown> }];
    expect(ev.endpoint).toBe('dev1');
    expect(ev.values['/3/0/0']).toBe('Open Mobile Alliance');
    expect(ev.values['/3/0/2']).toBe('345000123');
    expect(server.latestValues('dev1')['/3/0/2']).toBe('345000123');

    // A 1.0 client (second network, own server): Send does not exist in 1.0.
    const net10 = network();
    const server10 = lwm2mServer(net10);
    const client10 = device(net10, [{ uri: A, shortServerId: 101, lifetime: 300 }], {
      config: { lwm2mVersion: '1.0' }, client: { lwm2mVersion: '1.0' },
    });
    await client10.start();
    expect(server10.registrations.getByEndpoint('dev1')?.lwm2mVersion).toBe('1.0');
    const before = net10.stats.sent;
    let sends = 0;
    server10.on('send', () => { sends++; });
    await expect(client10.send([parsePath('/3/0/0')])).rejects.toThrow(/1\.1/);
    expect(net10.stats.sent).toBe(before);
    expect(sends).toBe(0);
  });

  it('answers Observe-Composite from the server and notifies the combined values', async () => {
    const net = network();
    const server = lwm2mServer(net);
    const client = device(net, [{ uri: A, shortServerId: 101, lifetime: 300 }]);
    await client.start();
    expect((await server.writeAttributes('dev1', parsePath('/3/0/14'), { pmin: 0 })).code).toBe('2.04');
    const paths = [parsePath('/3/0/14'), parsePath('/3/0/2')];
    const first = await server.observeComposite('dev1', paths, ContentFormat.SENML_CBOR);
    expect(first.ok, `${first.code} ${first.diagnostic ?? ''}`).toBe(true);
    expect(first.values?.['/3/0/2']).toBe('345000123');
    const note = once(server, 'notification');
    client.tree.requireInstance(parsePath('/3/0')).set(14, '+07:00');
    const [ev] = await note as [NotificationEvent];
    expect(ev.paths).toEqual(['/3/0/14', '/3/0/2']);
    expect(ev.result.values?.['/3/0/14']).toBe('+07:00');
    expect(ev.result.values?.['/3/0/2']).toBe('345000123');
    expect((await server.cancelObserveComposite('dev1', paths, ContentFormat.SENML_CBOR)).ok).toBe(true);
    expect(client.observations.size).toBe(0);
  });
});
