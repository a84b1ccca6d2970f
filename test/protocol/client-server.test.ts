import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree, type DeviceConfig } from '../../src/client/device-factory.js';
import { parsePath } from '../../src/core/path.js';
import { ContentFormat } from '../../src/codec/content-format.js';
import { resource } from '../../src/model/node.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { MemoryNetwork } from '../../src/transport/memory.js';

const fast = { ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 200 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(opts: { loss?: number; device?: Partial<DeviceConfig>; lifetime?: number } = {}) {
  const net = new MemoryNetwork({ seed: 7, loss: 0, delayMs: [0, 2] });
  const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }), timing: fast });
  cleanups.push(() => server.close());
  const dev = createDeviceTree({
    servers: [{ uri: 'coap://127.0.0.1:5683', lifetime: opts.lifetime ?? 300 }],
    device: { manufacturer: 'Open Mobile Alliance', modelNumber: 'Lightweight M2M Client', serialNumber: '345000123', firmwareVersion: '1.0' },
    ...opts.device,
  });
  cleanups.push(() => dev.dispose());
  const client = new LwM2MClient({
    endpoint: 'dev1', tree: dev.tree,
    connections: new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: fast }),
  });
  cleanups.push(() => client.stop({ deregister: false }));
  net.setConditions({ loss: opts.loss ?? 0, delayMs: [0, 2] });
  return { net, server, client, dev };
}

describe('our client ↔ our server over the in-memory network', () => {
  it('registers with the objects link payload and the peer port, then answers reads in every format', async () => {
    const { server, client } = await setup();
    const registered = once(server, 'registered');
    await client.start();
    const [reg] = await registered;
    expect(reg.endpoint).toBe('dev1');
    expect(reg.lwm2mVersion).toBe('1.1');
    expect(reg.lifetime).toBe(300);
    expect(reg.port).toBe(client.sessionList()[0]?.connection.localPort);
    expect(reg.objectLinks.objects.map((o: { objectId: number }) => o.objectId)).toEqual([1, 2, 3, 4, 5]);
    expect(reg.objectLinks.objects.find((o: { objectId: number }) => o.objectId === 3)?.version).toBe('1.2');
    for (const f of [ContentFormat.TLV, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR, ContentFormat.OMA_JSON]) {
      const r = await server.read('dev1', parsePath('/3/0'), f);
      expect(r.ok, `format ${f}: ${r.diagnostic}`).toBe(true);
      expect(r.contentFormat).toBe(f);
      expect(r.values?.['/3/0/0']).toBe('Open Mobile Alliance');
      expect(r.values?.['/3/0/2']).toBe('345000123');
    }
    const single = await server.read('dev1', parsePath('/3/0/1'));
    expect([single.contentFormat, single.values?.['/3/0/1']]).toEqual([ContentFormat.TEXT, 'Lightweight M2M Client']);
  });

  it('writes, executes, observes with attributes and de-registers', async () => {
    const { server, client } = await setup();
    await client.start();
    const w = await server.write('dev1', parsePath('/3/0/14'), resource(14, '+05:00'), ContentFormat.TEXT);
    expect(w).toEqual({ ok: true, code: '2.04' });
    expect((await server.read('dev1', parsePath('/3/0/14'))).values?.['/3/0/14']).toBe('+05:00');
    const bad = await server.write('dev1', parsePath('/3/0/0'), resource(0, 'x'), ContentFormat.TEXT);
    expect(bad.code).toBe('4.05');
    const reRegistered = once(server, 'registered');
    const exec = await server.execute('dev1', parsePath('/3/0/4'));
    expect(exec.code).toBe('2.04');
    await reRegistered; // Reboot → a fresh Register

    expect((await server.writeAttributes('dev1', parsePath('/1/0/1'), { pmin: 0 })).code).toBe('2.04');
    const obs = await server.observe('dev1', parsePath('/1/0/1'));
    expect(obs.values?.['/1/0/1']).toBe(300);
    const note = once(server, 'notification');
    client.tree.requireInstance(parsePath('/1/0')).set(1, 600); // lifetime change → notification (+ Update)
    const [ev] = await note;
    expect(ev.result.values['/1/0/1']).toBe(600);
    expect((await server.cancelObserve('dev1', parsePath('/1/0/1'))).ok).toBe(true);

    const gone = once(server, 'deregistered');
    await client.stop();
    const [reg] = await gone;
    expect(reg.endpoint).toBe('dev1');
    expect(server.registrations.getByEndpoint('dev1')).toBeUndefined();
  });

  it('registers and is read despite 30 % loss (CoAP retransmission)', async () => {
    const { server, client, net } = await setup({ loss: 0.3 });
    await client.start();
    expect(server.registrations.getByEndpoint('dev1')).toBeDefined();
    let ok = 0;
    for (let i = 0; i < 10; i++) if ((await server.read('dev1', parsePath('/3/0/2'))).ok) ok++;
    expect(ok).toBeGreaterThanOrEqual(9);
    expect(net.stats.lost).toBeGreaterThan(0);
  });
});
