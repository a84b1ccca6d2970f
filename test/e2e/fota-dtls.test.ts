/**
 * FOTA over DTLS on real sockets (127.0.0.1): a device registered over coaps is updated by push (Block1
 * over its DTLS session) and by pull from `coaps://…/fw/{id}` (the server's DTLS listener).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree } from '../../src/client/device-factory.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { createServer, type ReferenceServer } from '../../src/server/create.js';
import type { FotaService } from '../../src/server/fota/service.js';
import { createUdpSocket } from '../../src/transport/udp.js';

const KEY = Uint8Array.from(randomBytes(16));
let ref: ReferenceServer;
let fota: FotaService;
let client: LwM2MClient;
let dispose: () => void;

beforeAll(async () => {
  ref = await createServer({
    coapPort: 0, coapsPort: 0, bsCoapPort: false, httpPort: 0,
    psks: [{ endpoint: 'sec-1', identity: 'sec-1-id', key: KEY }],
  });
  fota = ref.http?.fota as FotaService;
  fota.store.add(encodeFirmwareImage({ name: 'sec', version: '2.0', body: randomBytes(30_000) }));
  fota.store.add(encodeFirmwareImage({ name: 'sec', version: '3.0', body: randomBytes(30_000) }));
  const factory = new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }), dtls: { handshakeTimeoutMs: 1000, handshakeAttempts: 3 } });
  const dev = createDeviceTree({
    servers: [{ uri: ref.coapsUri as string, pskIdentity: 'sec-1-id', pskKey: KEY, lifetime: 300 }],
    firmware: {
      protocols: ['coap', 'coaps'], pkgName: 'sec', pkgVersion: '1.0',
      update: { connections: factory, flashMs: 10, security: () => ({ mode: 'psk', identity: 'sec-1-id', key: KEY }) },
    },
  });
  dispose = dev.dispose;
  client = new LwM2MClient({ endpoint: 'sec-1', tree: dev.tree, connections: factory });
  const registered = new Promise<void>((resolve) => ref.lwm2m.once('registered', () => resolve()));
  await client.start();
  await registered;
}, 30_000);

afterAll(async () => {
  await client?.stop({ deregister: false });
  dispose?.();
  await ref?.close();
});

describe('FOTA over DTLS', () => {
  it('push: Block1 over the device\'s DTLS session', async () => {
    expect(ref.lwm2m.registrations.getByEndpoint('sec-1')?.transport).toBe('dtls');
    const job = await fota.start('sec-1', 'sec@2.0', { method: 'push', blockSize: 1024 });
    const o = await job.done;
    expect(o, o.reason).toMatchObject({ status: 'success', updateResult: 1 });
  }, 60_000);

  it('pull from coaps://…/fw/{id} on the server\'s DTLS listener', async () => {
    const job = await fota.start('sec-1', 'sec@3.0', { method: 'pull', protocol: 'coaps' });
    expect(job.uri).toMatch(new RegExp(`^coaps://127\\.0\\.0\\.1:${ref.lwm2m.securePort}/fw/[0-9a-f]{16}\\?ep=sec-1$`));
    const o = await job.done;
    expect(o, o.reason).toMatchObject({ status: 'success', updateResult: 1 });
    expect(job.snapshot().bytesSent).toBe(job.image.size);
  }, 60_000);
});
