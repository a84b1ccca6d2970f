/**
 * `createServer({ fotaDefaults })`: a platform profile's FOTA settings (the deviceWISE-style profile's
 * `fota: { protocol, deliveryMethod }`) become the defaults of `POST /api/v1/clients/{ep}/firmware`.
 * Real sockets on 127.0.0.1, a client SDK device that updates for real.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { createServer, type ReferenceServer } from '../../src/server/create.js';
import { startUdpDevice, type UdpDevice } from '../helpers/udp-device.js';
import { until } from '../helpers/until.js';

type Json = Record<string, unknown>;
let ref: ReferenceServer;
let base: string;
const devices: UdpDevice[] = [];

beforeAll(async () => {
  ref = await createServer({
    coapPort: 0, bsCoapPort: false, httpPort: 0,
    fotaDefaults: (ep) => (ep.startsWith('dw-') ? { method: 'pull', protocol: 'coap' } : undefined),
  });
  base = ref.httpUrl as string;
  for (const ep of ['dw-1', 'plain-1']) {
    devices.push(await startUdpDevice(ref, ep, (connections) => ({
      device: { manufacturer: 'fleet', modelNumber: 'm', serialNumber: ep, firmwareVersion: '1.0.0' },
      firmware: { protocols: ['coap'], deliveryMethod: 'pull', pkgName: 'app', pkgVersion: '1.0.0', update: { connections, flashMs: 5 } },
    })));
  }
  const image = encodeFirmwareImage({ name: 'app', version: '3.0.0', body: randomBytes(4096) });
  const up = await fetch(`${base}/api/v1/firmware/images`, { method: 'POST', body: image, headers: { 'content-type': 'application/octet-stream' } });
  expect(up.status).toBe(201);
});

afterAll(async () => {
  for (const d of devices) {
    await d.client.stop({ deregister: false }).catch(() => undefined);
    d.dispose();
  }
  await ref?.close();
});

async function post(ep: string, body: Json): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}/api/v1/clients/${ep}/firmware`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: (await res.json()) as Json };
}

it("a device with profile defaults updates by the profile's method (pull over CoAP) when the request names none", async () => {
  const started = await post('dw-1', { image: 'app@3.0.0' });
  expect(started.status).toBe(202);
  expect(started.json).toMatchObject({ method: 'pull', protocol: 'coap' });
  const ended = await until(async () => {
    const g = (await (await fetch(`${base}/api/v1/clients/dw-1/firmware`)).json()) as Json;
    return g.outcome ? g : undefined;
  }, 1200, 25);
  expect(ended).toMatchObject({ phase: 'succeeded', outcome: { status: 'success', updateResult: 1 } });
});

it('a device without defaults still has to name the method (400)', async () => {
  const other = await post('plain-1', { image: 'app@3.0.0' });
  expect(other.status).toBe(400);
  expect(String(other.json.message)).toContain('method must be push or pull');
});
