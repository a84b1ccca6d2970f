// The README's SDK example, run as written (imports from the package entry) against our server on UDP.
import { afterAll, expect, it } from 'vitest';
import { once } from 'node:events';
import {
  CoapConnectionFactory, LwM2MClient, createDeviceTree, createUdpSocket, loadBuiltinRegistry, parsePath,
} from '../../src/index.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => { for (const c of cleanups.reverse()) await c(); });

it('README: an IPSO 3303 temperature sensor in < 30 lines registers and is read', async () => {
  const server = new LwM2MServer({ socket: await createUdpSocket({ host: '127.0.0.1' }) });
  cleanups.push(() => server.close());
  const resets: number[] = [];
  // ---- the example (server URI and endpoint aside) ----
  const temperature = loadBuiltinRegistry().get(3303)!;
  const device = createDeviceTree({
    servers: [{ uri: `coap://127.0.0.1:${server.port}`, lifetime: 300 }],
    device: { manufacturer: 'ACME', modelNumber: 'T-1000', serialNumber: 'T1000-0001', firmwareVersion: '1.0' },
    objects: [{
      model: temperature,
      sampleIntervalS: 5,
      instances: [{ values: {
        5700: { type: 'randomWalk', start: 21, step: 0.2, min: 15, max: 30, intervalS: 5, decimals: 1 },
        5701: 'Cel',
      } }],
      handlers: { execute: (_iid, rid) => { if (rid === 5605) resets.push(rid); } },
    }],
  });
  const client = new LwM2MClient({
    endpoint: 'thermo-1',
    tree: device.tree,
    connections: new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) }),
  });
  // ----
  cleanups.push(async () => { await client.stop(); device.dispose(); });
  const registered = once(server, 'registered');
  await client.start();
  await registered;
  const r = await server.read('thermo-1', parsePath('/3303/0'));
  expect(r.ok).toBe(true);
  expect(r.values?.['/3303/0/5701']).toBe('Cel');
  expect(r.values?.['/3303/0/5700']).toBe(21);
  expect((await server.execute('thermo-1', parsePath('/3303/0/5605'))).code).toBe('2.04');
  expect(resets).toEqual([5605]);
});
