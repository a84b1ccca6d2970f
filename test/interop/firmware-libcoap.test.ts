/**
 * FOTA against an independent CoAP implementation over real UDP on 127.0.0.1 (libcoap3-bin):
 * coap-client-notls pushes an image block-wise to the device's /5/0/0 (our streamed Block1 receiver),
 * and the device pulls an image from coap-server-openssl (our explicit Block2 GETs against libcoap's
 * block-wise server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory, type CoapServerConnection } from '../../src/client/coap-connection.js';
import type { ConnectionFactory } from '../../src/client/connection.js';
import { createDeviceTree, type DeviceTree } from '../../src/client/device-factory.js';
import type { FirmwareObject } from '../../src/client/objects/firmware.js';
import type { FirmwareUpdater } from '../../src/client/firmware/updater.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { createUdpSocket } from '../../src/transport/udp.js';
import { libcoapTool, registerDevice, requireLibcoapInCi, run } from '../helpers/libcoap.js';

const coapClient = libcoapTool('coap-client-notls');
const coapServer = libcoapTool('coap-server-openssl');
const coapClientTls = libcoapTool('coap-client-openssl');
const enabled = requireLibcoapInCi(coapClient) && requireLibcoapInCi(coapServer) && requireLibcoapInCi(coapClientTls);

const IMAGE = encodeFirmwareImage({ name: 'libcoap-fw', version: '4.2.0', body: randomBytes(30_000) });

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe.runIf(enabled)('firmware update with libcoap as the peer (real UDP)', () => {
  let server: LwM2MServer;
  let client: LwM2MClient;
  let dev: DeviceTree;
  let updater: FirmwareUpdater;
  const connections: CoapServerConnection[] = [];
  let dir: string;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fota-libcoap-'));
    server = new LwM2MServer({ socket: await createUdpSocket({ host: '127.0.0.1' }) });
    const factory = new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) });
    const recording: ConnectionFactory = {
      connect: async (uri, security) => {
        const c = await factory.connect(uri, security);
        connections.push(c as CoapServerConnection);
        return c;
      },
    };
    dev = createDeviceTree({
      servers: [{ uri: `coap://127.0.0.1:${server.port}`, lifetime: 300 }],
      device: { manufacturer: 'ACME', modelNumber: 'M', serialNumber: 'S', firmwareVersion: '1.0.0' },
      firmware: { update: { connections: recording, retryDelayMs: 100, flashMs: 10 } },
    });
    updater = (dev.objects.find((o) => o.id === 5) as FirmwareObject).updater;
    client = new LwM2MClient({ endpoint: 'fota-libcoap', tree: dev.tree, connections: recording });
    base = await registerDevice(client, server);
  });

  afterAll(async () => {
    await client?.stop();
    dev?.dispose();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('coap-client PUTs the image block-wise (-b 64) to /5/0/0: streamed, verified, Downloaded', async () => {
    const file = join(dir, 'image.bin');
    writeFileSync(file, IMAGE);
    const r = await run(coapClient as string, ['-m', 'put', '-t', '42', '-b', '64', '-f', file, '-B', '20', `${base}/5/0/0`], 30_000);
    expect(r.code, r.stderr).toBe(0);
    expect([updater.state, updater.result]).toEqual([2, 0]);
    expect(updater.downloadedImage).toMatchObject({ name: 'libcoap-fw', version: '4.2.0' });
    const stats = connections[0]?.endpoint.block1StreamStats;
    expect(stats?.peakBufferedBytes).toBe(64);
    expect(stats?.blocks).toBe(Math.ceil(IMAGE.length / 64));
    // reset for the next test
    const reset = await run(coapClient as string, ['-m', 'put', '-t', '0', '-e', '', '-B', '5', `${base}/5/0/1`]);
    expect(reset.code, reset.stderr).toBe(0);
    expect([updater.state, updater.result]).toEqual([0, 0]);
  }, 40_000);

  it('the device pulls the image from coap-server-openssl with explicit Block2 GETs', async () => {
    const port = await freeUdpPort();
    const child: ChildProcess = spawn(coapServer as string, ['-A', '127.0.0.1', '-p', String(port), '-d', '5'], { stdio: 'ignore' });
    try {
      const file = join(dir, 'pull.bin');
      writeFileSync(file, IMAGE);
      // Store the image on the server (dynamic resource); retried until the server listens (bounded).
      let stored = false;
      for (let i = 0; i < 50 && !stored; i++) {
        await run(coapClient as string, ['-m', 'put', '-b', '1024', '-f', file, '-B', '1', `coap://127.0.0.1:${port}/fw.bin`], 5000);
        const get = await run(coapClient as string, ['-m', 'get', '-b', '1024', '-o', '-', '-B', '1', `coap://127.0.0.1:${port}/fw.bin`], 5000);
        stored = get.code === 0 && get.stdout.equals(IMAGE);
      }
      expect(stored).toBe(true);
      updater.writePackageUri(`coap://127.0.0.1:${port}/fw.bin`);
      await expect.poll(() => updater.state, { timeout: 20_000, interval: 20 }).not.toBe(1);
      expect([updater.state, updater.result]).toEqual([2, 0]);
      expect(updater.downloadedImage?.bodyLength).toBe(30_000);
    } finally {
      child.kill('SIGTERM');
    }
  }, 40_000);

  it('coaps:// pull: DTLS-PSK to coap-server-openssl through the CoapConnectionFactory (node-dtls-client)', async () => {
    const port = await freeUdpPort();
    const key = 'fota-psk-key';
    const child: ChildProcess = spawn(coapServer as string, ['-A', '127.0.0.1', '-p', String(port), '-k', key, '-d', '5'], { stdio: 'ignore' });
    const tls = createDeviceTree({
      servers: [{ uri: 'coap://127.0.0.1:1' }],
      firmware: {
        protocols: ['coaps'],
        update: {
          connections: new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) }),
          security: () => ({ mode: 'psk', identity: 'fota-device', key: Buffer.from(key) }),
          retryDelayMs: 100,
        },
      },
    });
    try {
      const file = join(dir, 'secure.bin');
      writeFileSync(file, IMAGE);
      const url = `coaps://127.0.0.1:${port + 1}/fw.bin`;
      const psk = ['-u', 'uploader', '-k', key];
      let stored = false;
      for (let i = 0; i < 50 && !stored; i++) {
        await run(coapClientTls as string, [...psk, '-m', 'put', '-b', '1024', '-f', file, '-B', '1', url], 5000);
        const get = await run(coapClientTls as string, [...psk, '-m', 'get', '-b', '1024', '-o', '-', '-B', '1', url], 5000);
        stored = get.code === 0 && get.stdout.equals(IMAGE);
      }
      expect(stored).toBe(true);
      const fw = (tls.objects.find((o) => o.id === 5) as FirmwareObject).updater;
      fw.writePackageUri(url);
      await expect.poll(() => fw.state, { timeout: 20_000, interval: 20 }).not.toBe(1);
      expect([fw.state, fw.result]).toEqual([2, 0]);
      expect(fw.downloadedImage?.version).toBe('4.2.0');
    } finally {
      tls.dispose();
      child.kill('SIGTERM');
    }
  }, 40_000);
});
