import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { once } from 'node:events';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree } from '../../src/client/device-factory.js';
import { parsePath } from '../../src/core/path.js';
import { ContentFormat } from '../../src/codec/content-format.js';
import { decode } from '../../src/codec/dispatch.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { createUdpSocket } from '../../src/transport/udp.js';
import { deviceBase, libcoapTool, registerDevice, requireLibcoapInCi, run } from '../helpers/libcoap.js';

const coapClient = libcoapTool('coap-client-notls');
const enabled = requireLibcoapInCi(coapClient);

describe.runIf(enabled)('a device answers an independent CoAP peer (libcoap coap-client-notls)', () => {
  let server: LwM2MServer;
  let client: LwM2MClient;
  let dispose: () => void;
  let base: string;

  beforeAll(async () => {
    server = new LwM2MServer({ socket: await createUdpSocket({ host: '127.0.0.1' }) });
    const dev = createDeviceTree({
      servers: [{ uri: `coap://127.0.0.1:${server.port}`, lifetime: 300 }],
      device: { manufacturer: 'Open Mobile Alliance', modelNumber: 'Lightweight M2M Client', serialNumber: '345000123', firmwareVersion: '1.0' },
    });
    dispose = dev.dispose;
    client = new LwM2MClient({
      endpoint: 'interop-1', tree: dev.tree,
      connections: new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) }),
    });
    base = await registerDevice(client, server);
  });

  afterAll(async () => {
    await client?.stop();
    dispose?.();
    await server?.close();
  });

  it('GET /3/0 with Accept TLV decodes to the Device instance', async () => {
    const r = await run(coapClient as string, ['-m', 'get', '-A', '11542', '-o', '-', '-B', '5', `${base}/3/0`]);
    expect(r.code, r.stderr).toBe(0);
    const node = decode(ContentFormat.TLV, r.stdout, { path: parsePath('/3/0'), models: client.tree });
    expect(node.kind === 'instance' && node.resources.get(0)).toEqual({ kind: 'resource', id: 0, value: 'Open Mobile Alliance' });
  });

  it('GET /3/0 with Accept SenML JSON is JSON naming every resource', async () => {
    const r = await run(coapClient as string, ['-m', 'get', '-A', '110', '-o', '-', '-B', '5', `${base}/3/0`]);
    expect(r.code, r.stderr).toBe(0);
    const pack = JSON.parse(r.stdout.toString('utf8')) as Array<{ bn?: string; n?: string; vs?: string }>;
    expect(pack[0]?.bn).toBe('/3/0/');
    expect(pack.find((e) => e.n === '2')?.vs).toBe('345000123');
  });

  it('PUT text to /3/0/14 writes it; to a read-only resource answers 4.05', async () => {
    const ok = await run(coapClient as string, ['-m', 'put', '-t', '0', '-e', '+05:00', '-B', '5', `${base}/3/0/14`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(client.tree.requireInstance(parsePath('/3/0')).get(14)).toBe('+05:00');
    const ro = await run(coapClient as string, ['-m', 'put', '-t', '0', '-e', 'x', '-B', '5', '-v', '6', `${base}/3/0/0`]);
    expect(ro.stdout.toString() + ro.stderr).toMatch(/\bc:4\.05\b/);
  });

  it('POST executes /3/0/4 (Reboot → a fresh Register)', async () => {
    const registered = once(server, 'registered');
    const r = await run(coapClient as string, ['-m', 'post', '-B', '5', `${base}/3/0/4`]);
    expect(r.code, r.stderr).toBe(0);
    await registered;
    base = deviceBase(client);
  });

  it('Observe /3/0/14 gets the first value and a notification when it changes', async () => {
    const child = run(coapClient as string, ['-m', 'get', '-s', '3', '-w', '-o', '-', '-B', '5', `${base}/3/0/14`], 20_000);
    // Change the value once the observation is in place (the device reports it to its observers).
    const dev = client.tree.requireInstance(parsePath('/3/0'));
    await vi.waitFor(() => expect(client.observations.size).toBeGreaterThan(0), { timeout: 5000, interval: 20 });
    dev.set(14, '+09:00');
    const r = await child;
    const lines = r.stdout.toString('utf8').split('\n').filter(Boolean);
    expect(lines[0]).toBe('+05:00');
    expect(lines).toContain('+09:00');
  });
});
