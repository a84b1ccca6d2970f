import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { parse as parseCoap } from 'coap-packet';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree } from '../../src/client/device-factory.js';
import { CoapEndpoint, type CoapReply, type IncomingCoapRequest } from '../../src/coap/endpoint.js';
import { ManualClock } from '../../src/core/clock.js';
import { parsePath } from '../../src/core/path.js';
import { ContentFormat } from '../../src/codec/content-format.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';
import { BootstrapServer, createBootstrapServer } from '../../src/server/bootstrap/bootstrap-server.js';
import type { BootstrapConfig } from '../../src/server/bootstrap/config.js';
import { MemoryBootstrapConfigStore } from '../../src/server/bootstrap/config-store.js';
import type { BootstrapSessionRecord } from '../../src/server/bootstrap/history.js';
import { BootstrapSession, type BootstrapTransport } from '../../src/server/bootstrap/session.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import type { DeviceAnswer, ServerRequest } from '../../src/server/operations/types.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { createUdpSocket } from '../../src/transport/udp.js';

const fast = { ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 200 };
const BS_URI = 'coap://127.0.0.1:5783';
const DM_URI = 'coap://127.0.0.1:5683';
const utf8 = new TextEncoder();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ACL = { path: '/2/0', values: { '0': 3, '1': 0, '2': { '101': 15 }, '3': 101 } };

function setup(configs: Record<string, BootstrapConfig>, opts: { stepTimeoutMs?: number } = {}) {
  const net = new MemoryNetwork({ seed: 11, loss: 0, delayMs: [0, 2] });
  const dm = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }), timing: fast });
  cleanups.push(() => dm.close());
  const store = new MemoryBootstrapConfigStore(Object.entries(configs).map(([endpoint, config]) => ({ endpoint, config })));
  const bs = new BootstrapServer({
    socket: net.createSocket({ address: '127.0.0.1', port: 5783 }), configs: store, timing: fast,
    stepTimeoutMs: opts.stepTimeoutMs ?? 5000,
  });
  cleanups.push(() => bs.close());
  const events: Array<[string, BootstrapSessionRecord]> = [];
  for (const e of ['bootstrap-started', 'bootstrap-finished', 'bootstrap-failed'] as const) bs.on(e, (r) => events.push([e, r]));

  const device = (endpoint: string, o: { preferredFormat?: number; lwm2mVersion?: '1.0' | '1.1' } = {}) => {
    const dev = createDeviceTree({
      bootstrap: { uri: BS_URI },
      ...(o.lwm2mVersion ? { lwm2mVersion: o.lwm2mVersion } : {}),
      device: { manufacturer: 'Open Mobile Alliance', modelNumber: 'Lightweight M2M Client', serialNumber: endpoint },
    });
    cleanups.push(() => dev.dispose());
    const client = new LwM2MClient({
      endpoint, tree: dev.tree, bootstrapTimeoutS: 5,
      ...(o.preferredFormat !== undefined ? { preferredFormat: o.preferredFormat } : {}),
      ...(o.lwm2mVersion ? { lwm2mVersion: o.lwm2mVersion } : {}),
      connections: new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: fast }),
    });
    cleanups.push(() => client.stop({ deregister: false }));
    return client;
  };

  /** A bare CoAP endpoint for hand-made requests and hand-made answers. */
  const raw = (handler?: (req: IncomingCoapRequest) => CoapReply | Promise<CoapReply>) => {
    const ep = new CoapEndpoint({ socket: net.createSocket({ address: '127.0.0.1' }), timing: fast, ...(handler ? { handler } : {}) });
    cleanups.push(() => ep.close());
    const post = (query: string[], path = '/bs', method: 'POST' | 'GET' = 'POST') =>
      ep.request({ host: '127.0.0.1', port: 5783, method, path, query });
    return { ep, post };
  };

  const outcome = (endpoint: string) => new Promise<BootstrapSessionRecord>((resolve) => {
    const on = (r: BootstrapSessionRecord) => {
      if (r.endpoint !== endpoint) return;
      bs.off('bootstrap-finished', on);
      bs.off('bootstrap-failed', on);
      resolve(r);
    };
    bs.on('bootstrap-finished', on);
    bs.on('bootstrap-failed', on);
  });

  /** Client-side bootstrap, then the server's record (the server sees the Finish answer a little later). */
  const bootstrapped = async (client: LwM2MClient) => {
    const done = outcome(client.endpoint);
    await client.bootstrap();
    return done;
  };

  return { net, dm, bs, store, events, device, raw, outcome, bootstrapped };
}

const steps = (r: BootstrapSessionRecord) => r.steps.map((s) => `${s.operation} ${s.path} ${s.code ?? '-'}`);

describe('Bootstrap-Server ↔ our client over the in-memory network', () => {
  it('bootstraps a device with only a bootstrap account (delete, write security/server/ACL, finish), which then registers', async () => {
    const { dm, events, device, outcome } = setup({
      dev1: { servers: [{ shortServerId: 101, uri: DM_URI, lifetime: 120, binding: 'U', defaultPmin: 1, defaultPmax: 60 }], objects: [ACL] },
    });
    const client = device('dev1');
    const registered = once(dm, 'registered');
    const done = outcome('dev1');
    await client.start();
    const [reg] = await registered;
    expect(reg.endpoint).toBe('dev1');
    expect(reg.lifetime).toBe(120);

    const record = await done;
    expect(record?.outcome).toBe('ok');
    expect(steps(record as BootstrapSessionRecord)).toEqual([
      'delete /0 2.02', 'delete /1 2.02', 'write /0/1 2.04', 'write /1/0 2.04', 'write /2/0 2.04', 'finish /bs 2.04',
    ]);
    expect(record?.configKey).toBe('dev1');
    expect(record?.contentFormat).toBe(ContentFormat.TLV);
    expect(record?.endedAt).toBeGreaterThanOrEqual(record?.startedAt ?? Infinity);
    expect(events.map(([e, r]) => `${e} ${r.endpoint}`)).toEqual(['bootstrap-started dev1', 'bootstrap-finished dev1']);

    // What was written is on the device; the Bootstrap-Server account survived Bootstrap-Delete /0.
    const tree = client.tree;
    const bsAccount = tree.requireInstance(parsePath('/0/0'));
    expect([bsAccount.get(0), bsAccount.get(1)]).toEqual([BS_URI, true]);
    const sec = tree.requireInstance(parsePath('/0/1'));
    expect([sec.get(0), sec.get(1), sec.get(2), sec.get(10)]).toEqual([DM_URI, false, 3, 101]);
    const srv = tree.requireInstance(parsePath('/1/0'));
    expect([srv.get(0), srv.get(1), srv.get(2), srv.get(3), srv.get(6), srv.get(7)]).toEqual([101, 120, 1, 60, true, 'U']);
    const acl = tree.requireInstance(parsePath('/2/0'));
    expect([acl.get(0), acl.get(1), acl.get(2), acl.get(3)]).toEqual([3, 0, new Map([[101, 15]]), 101]);
  });

  it('discovers, rewrites the bootstrap account, writes PSK accounts and Bootstrap-Reads before finishing', async () => {
    const { device, bootstrapped } = setup({
      dev2: {
        discover: true,
        delete: ['/'],
        bootstrapServer: { uri: BS_URI, clientHoldOffTime: 5 },
        servers: [
          { shortServerId: 101, uri: DM_URI },
          { shortServerId: 102, uri: 'coaps://127.0.0.1:5684', pskIdentity: 'dev2-identity', pskKey: '00:01:02:03:a0:ff', lifetime: 600 },
        ],
        objects: [ACL],
        read: ['/1', '/2/0'],
      },
    });
    const client = device('dev2');
    const record = await bootstrapped(client); // bootstrap only: a PSK account needs DTLS, which comes later
    expect(record?.outcome).toBe('ok');
    expect(steps(record as BootstrapSessionRecord)).toEqual([
      'discover / 2.05', 'delete / 2.02', 'write /0/0 2.04', 'write /0/1 2.04', 'write /0/2 2.04',
      'write /1/0 2.04', 'write /1/1 2.04', 'write /2/0 2.04', 'read /1 2.05', 'read /2/0 2.05', 'finish /bs 2.04',
    ]);
    expect(record?.lwm2mVersion).toBe('1.1');
    expect(record?.steps[0]?.links).toContain('</>;lwm2m=1.1');
    const readServers = record?.steps.find((s) => s.operation === 'read' && s.path === '/1');
    expect(readServers?.values).toMatchObject({ '/1/0/0': 101, '/1/1/0': 102, '/1/1/1': 600 });
    expect(record?.steps.find((s) => s.path === '/2/0' && s.operation === 'read')?.values).toMatchObject({ '/2/0/2/101': 15 });

    const tree = client.tree;
    const bsAccount = tree.requireInstance(parsePath('/0/0'));
    expect([bsAccount.get(0), bsAccount.get(1), bsAccount.get(11)]).toEqual([BS_URI, true, 5]);
    const psk = tree.requireInstance(parsePath('/0/2'));
    expect(psk.get(0)).toBe('coaps://127.0.0.1:5684');
    expect(psk.get(2)).toBe(0); // PSK
    expect(Buffer.from(psk.get(3) as Uint8Array).toString('utf8')).toBe('dev2-identity');
    expect(Buffer.from(psk.get(5) as Uint8Array).toString('hex')).toBe('00010203a0ff');
    expect(psk.get(10)).toBe(102);
    expect(tree.requireInstance(parsePath('/1/1')).get(1)).toBe(600);
  });

  it('refuses an unknown endpoint without a default config with 4.00, records it and keeps serving', async () => {
    const { bs, events, device, raw, bootstrapped } = setup({ dev1: { servers: [{ shortServerId: 101, uri: DM_URI }] } });
    const stranger = device('stranger');
    await expect(stranger.bootstrap()).rejects.toThrow(/Bootstrap-Request answered 4\.00/);
    const [refused] = bs.sessions({ endpoint: 'stranger' });
    expect(refused).toMatchObject({ outcome: 'failed', steps: [] });
    expect(refused?.reason).toMatch(/no bootstrap config for endpoint "stranger"/);
    expect(events.map(([e]) => e)).toEqual(['bootstrap-failed']);

    // Bad requests: 4.00 with a diagnostic, 4.05, 4.04 — and the server stays up.
    const { post } = raw();
    const noEp = await post(['pct=112']);
    expect([noEp.code, noEp.payload.toString()]).toEqual(['4.00', 'missing ep (Endpoint Client Name), mandatory in Bootstrap-Request']);
    expect((await post(['ep='])).code).toBe('4.00');
    expect((await post(['ep=a', 'ep=b'])).code).toBe('4.00');
    const badPct = await post(['ep=dev1', 'pct=json']);
    expect([badPct.code, badPct.payload.toString()]).toEqual(['4.00', 'pct "json" is not a content format number 0..65535']);
    expect((await post(['ep=dev1'], '/bs', 'GET')).code).toBe('4.05');
    expect((await post(['ep=dev1'], '/rd')).code).toBe('4.04');
    expect(bs.activeSessions()).toEqual([]);

    expect((await bootstrapped(device('dev1'))).outcome).toBe('ok');
  });

  it('applies the default config ("default" / "*") to endpoints without their own', async () => {
    const { device, bootstrapped } = setup({ default: { servers: [{ shortServerId: 7, uri: DM_URI }] } });
    const client = device('any-device-42');
    expect(await bootstrapped(client)).toMatchObject({ endpoint: 'any-device-42', configKey: '*', outcome: 'ok' });
    expect(client.tree.requireInstance(parsePath('/0/1')).get(10)).toBe(7);
    // An LwM2M 1.0 client (no pct) gets TLV.
    const old = device('old-device', { lwm2mVersion: '1.0' });
    const record = await bootstrapped(old);
    expect(record).toMatchObject({ configKey: '*', outcome: 'ok', contentFormat: ContentFormat.TLV });
    expect(record.preferredContentFormat).toBeUndefined();
    expect(old.tree.requireInstance(parsePath('/1/0')).get(0)).toBe(7);
  });

  it('records the session failed when the client answers Bootstrap-Finish with 4.06 (no server in the config)', async () => {
    const { bs, device, outcome } = setup({ empty: { servers: [] } });
    const client = device('empty');
    const done = outcome('empty');
    void client.bootstrap().catch(() => undefined); // the client keeps waiting for a good Finish until its own timeout
    const record = await done;
    expect(record.outcome).toBe('failed');
    expect(steps(record)).toEqual(['delete /0 2.02', 'delete /1 2.02', 'finish /bs 4.06']);
    expect(record.reason).toMatch(/^Bootstrap-Finish answered 4\.06: .*no usable server account/);
    expect(record.steps.at(-1)?.diagnostic).toMatch(/no usable server account/);
    expect(bs.sessions({ outcome: 'failed' })).toHaveLength(1);
  });

  it("honours the client's pct for the writes, unless the config names a format", async () => {
    const { net, dm, device, bootstrapped, outcome } = setup({
      cbor: { servers: [{ shortServerId: 101, uri: DM_URI }], objects: [ACL] },
      forced: { servers: [{ shortServerId: 101, uri: DM_URI }], contentFormat: 'lwm2m-cbor' },
      plain: { servers: [{ shortServerId: 101, uri: DM_URI }] },
    });
    const putFormats: number[] = [];
    net.tap((e) => {
      if (e.kind !== 'delivered' || e.from.port !== 5783) return;
      const p = parseCoap(e.data);
      if (p.code !== '0.03') return; // PUT
      const cf = p.options.find((o) => o.name === 'Content-Format');
      if (cf) putFormats.push(cf.value.length === 0 ? 0 : cf.value.readUIntBE(0, cf.value.length));
    });

    const client = device('cbor', { preferredFormat: ContentFormat.SENML_CBOR });
    const registered = once(dm, 'registered');
    const done = outcome('cbor');
    await client.start();
    await registered;
    const r1 = await done;
    expect(r1).toMatchObject({ outcome: 'ok', preferredContentFormat: 112, contentFormat: 112 });
    expect(r1?.steps.filter((s) => s.operation === 'write').map((s) => s.contentFormat)).toEqual([112, 112, 112]);
    expect(putFormats).toEqual([112, 112, 112]);
    expect(client.tree.requireInstance(parsePath('/2/0')).get(2)).toEqual(new Map([[101, 15]]));

    putFormats.length = 0;
    expect(await bootstrapped(device('forced', { preferredFormat: ContentFormat.SENML_JSON }))).toMatchObject({ preferredContentFormat: 110, contentFormat: 11544, outcome: 'ok' });
    expect(putFormats).toEqual([11544, 11544]);

    putFormats.length = 0;
    // text/plain cannot carry an instance → TLV
    expect(await bootstrapped(device('plain', { preferredFormat: ContentFormat.TEXT }))).toMatchObject({ preferredContentFormat: 0, contentFormat: 11542, outcome: 'ok' });
    expect(putFormats).toEqual([11542, 11542]);
  });

  it('bootstraps two devices concurrently, each with its own config, and both register', async () => {
    const { dm, bs, device, outcome } = setup({
      'dev-a': { servers: [{ shortServerId: 101, uri: DM_URI, lifetime: 111 }] },
      'dev-b': { servers: [{ shortServerId: 202, uri: DM_URI, lifetime: 222 }], contentFormat: 'senml-json' },
    });
    const a = device('dev-a');
    const b = device('dev-b', { preferredFormat: ContentFormat.LWM2M_CBOR });
    const seen = new Map<string, number>();
    const both = new Promise<void>((resolve) => {
      dm.on('registered', (r) => {
        seen.set(r.endpoint, r.lifetime);
        if (seen.size === 2) resolve();
      });
    });
    const sessions = Promise.all([outcome('dev-a'), outcome('dev-b')]);
    await Promise.all([a.start(), b.start()]);
    await both;
    expect(Object.fromEntries(seen)).toEqual({ 'dev-a': 111, 'dev-b': 222 });
    const records = await sessions;
    expect(records.map((r) => `${r.endpoint} ${r.outcome} ${r.contentFormat}`)).toEqual(['dev-a ok 11542', 'dev-b ok 110']);
    // They overlapped: each started before the other finished.
    expect(records[0].startedAt).toBeLessThanOrEqual(records[1].endedAt as number);
    expect(records[1].startedAt).toBeLessThanOrEqual(records[0].endedAt as number);
    expect(bs.sessions()).toHaveLength(2);
    expect(a.tree.requireInstance(parsePath('/0/1')).get(10)).toBe(101);
    expect(b.tree.requireInstance(parsePath('/0/1')).get(10)).toBe(202);
    expect(new Set(records.map((r) => r.id)).size).toBe(2);
  });

  it('a new Bootstrap-Request from the same endpoint cancels the running session and starts again', async () => {
    const { bs, raw, outcome } = setup({ dup: { servers: [{ shortServerId: 101, uri: DM_URI }] } }, { stepTimeoutMs: 10_000 });
    let answering = false;
    const seen: string[] = [];
    const { post } = raw((req) => {
      seen.push(`${req.method} ${req.path}`);
      if (!answering) return new Promise<CoapReply>(() => undefined); // a client that hangs
      return { code: req.method === 'DELETE' ? '2.02' : '2.04' };
    });
    const first = outcome('dup');
    expect((await post(['ep=dup'])).code).toBe('2.04');
    await new Promise((r) => setTimeout(r, 100)); // the first Bootstrap-Delete is waiting for an answer
    expect(bs.activeSessions().map((s) => s.endpoint)).toEqual(['dup']);
    answering = true;
    const second = (async () => {
      const r1 = await first;
      return [r1, await outcome('dup')] as const;
    })();
    expect((await post(['ep=dup'])).code).toBe('2.04');
    const [cancelled, done] = await second;
    expect(cancelled.outcome).toBe('failed');
    expect(cancelled.reason).toMatch(/^Bootstrap-Delete \/0: cancelled: superseded by a new Bootstrap-Request/);
    expect(done.outcome).toBe('ok');
    expect(done.id).not.toBe(cancelled.id);
    expect(seen.filter((s) => s === 'POST /bs')).toHaveLength(1);
    expect(bs.sessions({ endpoint: 'dup' }).map((r) => r.outcome)).toEqual(['ok', 'failed']);
  });

  it('gives up on a step after the step timeout, and close() ends running sessions', async () => {
    const { bs, raw, outcome } = setup({ mute: { servers: [{ shortServerId: 101, uri: DM_URI }] }, slow: {} }, { stepTimeoutMs: 300 });
    const hang = () => new Promise<CoapReply>(() => undefined);
    const { post } = raw(hang);
    const done = outcome('mute');
    await post(['ep=mute']);
    const record = await done;
    expect(record.outcome).toBe('failed');
    expect(record.reason).toBe('Bootstrap-Delete /0: no answer within 300 ms');
    expect(record.steps).toEqual([expect.objectContaining({ operation: 'delete', path: '/0', ok: false, diagnostic: 'no answer within 300 ms' })]);
    expect(record.steps[0]?.code).toBeUndefined();

    const closing = outcome('slow');
    const other = raw(hang);
    await other.post(['ep=slow']);
    await new Promise((r) => setTimeout(r, 50));
    await bs.close();
    expect((await closing).reason).toMatch(/cancelled: bootstrap server closing/);
  });
});

describe('BootstrapSession with an injected Clock (no network)', () => {
  const answers = (codes: Record<string, string>, log: string[]): BootstrapTransport => ({
    send: (req: ServerRequest, { signal }) => {
      const key = `${req.method} /${req.uriPath.join('/')}`;
      log.push(key);
      const code = codes[key];
      if (code === undefined) {
        return new Promise<DeviceAnswer>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
      }
      const payload = code.startsWith('2.') ? new Uint8Array(0) : utf8.encode(`refused ${key}`);
      return Promise.resolve({ code, payload });
    },
  });
  const session = (clock: ManualClock, transport: BootstrapTransport, config: BootstrapConfig) => new BootstrapSession({
    id: 't', endpoint: 'ep', peer: { address: '127.0.0.1', port: 1 }, configKey: 'ep', config,
    models: loadBuiltinRegistry(), clock, stepTimeoutMs: 30_000, transport,
  });

  it('times a step out on the Clock, not on wall time', async () => {
    const clock = new ManualClock(1_000);
    const log: string[] = [];
    const s = session(clock, answers({ 'DELETE /0': '2.02' }, log), { servers: [] });
    const run = s.run();
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['DELETE /0', 'DELETE /1']);
    expect(s.outcome).toBe('running');
    clock.advance(29_999);
    await new Promise((r) => setImmediate(r));
    expect(s.outcome).toBe('running');
    clock.advance(1);
    const record = await run;
    expect(record).toMatchObject({ outcome: 'failed', reason: 'Bootstrap-Delete /1: no answer within 30000 ms', startedAt: 1_000, endedAt: 31_000 });
    expect(record.steps.map((x) => x.durationMs)).toEqual([0, 30_000]);
    expect(clock.pendingCount).toBe(0);
  });

  it('stops at the first refused write: no Bootstrap-Finish is sent', async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const record = await session(clock, answers({ 'DELETE /0': '2.02', 'DELETE /1': '2.02', 'PUT /0/1': '4.00' }, log), {
      servers: [{ shortServerId: 101, uri: DM_URI }],
    }).run();
    expect(log).toEqual(['DELETE /0', 'DELETE /1', 'PUT /0/1']);
    expect(record.reason).toBe('Bootstrap-Write /0/1 answered 4.00: refused PUT /0/1');
    expect(record.steps.at(-1)).toMatchObject({ operation: 'write', code: '4.00', ok: false, contentFormat: ContentFormat.TLV });
  });

  it('goes on after a failed Bootstrap-Discover (a client without it) and uses the default ids', async () => {
    const clock = new ManualClock();
    const log: string[] = [];
    const record = await session(clock, answers({
      'GET /': '4.04', 'DELETE /0': '2.02', 'DELETE /1': '2.02', 'PUT /0/1': '2.04', 'PUT /1/0': '2.04', 'POST /bs': '2.04',
    }, log), { discover: true, servers: [{ shortServerId: 101, uri: DM_URI }] }).run();
    expect(record.outcome).toBe('ok');
    expect(steps(record)).toEqual(['discover / 4.04', 'delete /0 2.02', 'delete /1 2.02', 'write /0/1 2.04', 'write /1/0 2.04', 'finish /bs 2.04']);
  });
});

describe('createBootstrapServer on real UDP (127.0.0.1)', () => {
  it('bootstraps a client over node:dgram', async () => {
    const configs = new MemoryBootstrapConfigStore([{ endpoint: 'udp-dev', config: { servers: [{ shortServerId: 101, uri: 'coap://127.0.0.1:1' }] } }]);
    const bs = await createBootstrapServer({ port: 0, configs, timing: fast });
    cleanups.push(() => bs.close());
    const dev = createDeviceTree({ bootstrap: { uri: `coap://127.0.0.1:${bs.port}` } });
    cleanups.push(() => dev.dispose());
    const client = new LwM2MClient({
      endpoint: 'udp-dev', tree: dev.tree, bootstrapTimeoutS: 5,
      connections: new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }), timing: fast }),
    });
    cleanups.push(() => client.stop({ deregister: false }));
    const done = once(bs, 'bootstrap-finished');
    await client.bootstrap();
    const [record] = await done;
    expect(record.outcome).toBe('ok');
    expect(record.peer.address).toBe('127.0.0.1');
    expect(dev.tree.requireInstance(parsePath('/0/1')).get(0)).toBe('coap://127.0.0.1:1');
  });
});
