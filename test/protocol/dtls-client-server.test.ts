/**
 * Our client ↔ our reference server over DTLS on real sockets (127.0.0.1): bootstrap over coaps with
 * the bootstrap PSK, registration over coaps with the PSK the bootstrap wrote, then the server reads
 * and observes over the DTLS session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree } from '../../src/client/device-factory.js';
import { parsePath } from '../../src/core/path.js';
import { createServer, type ReferenceServer } from '../../src/server/create.js';
import { createDtlsClientSocket, isDtlsClientError } from '../../src/transport/dtls/client.js';
import { createDtlsServer } from '../../src/transport/dtls/server/index.js';
import { createUdpSocket } from '../../src/transport/udp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BS_KEY = Uint8Array.from([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
const DM_KEY_HEX = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';

async function server(endpoint: string): Promise<ReferenceServer> {
  const s = await createServer({
    coapPort: 0, bsCoapPort: 0, coapsPort: 0, bsCoapsPort: 0, httpPort: false,
    bsPsks: [{ endpoint, identity: `bs-${endpoint}`, key: BS_KEY }],
  });
  cleanups.push(() => s.close());
  // The bootstrap config hands out the DM server's coaps URI and a PSK; createServer binds that PSK in s.psks.
  await s.bootstrapConfigs.put(endpoint, {
    servers: [{ shortServerId: 101, uri: s.coapsUri as string, securityMode: 'psk', pskIdentity: `dm-${endpoint}`, pskKey: DM_KEY_HEX, lifetime: 60 }],
  });
  return s;
}

function client(endpoint: string, bootstrapUri: string, key: Uint8Array = BS_KEY): LwM2MClient {
  const dev = createDeviceTree({
    bootstrap: { uri: bootstrapUri, pskIdentity: `bs-${endpoint}`, pskKey: key },
    device: { manufacturer: 'lwm2m-fleet', modelNumber: 'dtls', serialNumber: endpoint },
  });
  cleanups.push(() => dev.dispose());
  const c = new LwM2MClient({
    endpoint, tree: dev.tree, bootstrapTimeoutS: 10,
    connections: new CoapConnectionFactory({
      createSocket: () => createUdpSocket({ host: '127.0.0.1' }),
      dtls: { handshakeTimeoutMs: 500, handshakeAttempts: 3 },
    }),
  });
  cleanups.push(() => c.stop({ deregister: false }));
  return c;
}

describe('DTLS client ↔ reference server (bootstrap and registration over coaps)', () => {
  it('bootstraps over DTLS, registers over DTLS, and is read and observed over the DTLS session', async () => {
    const s = await server('dtls-1');
    expect(s.bootstrapCoapsUri).toMatch(/^coaps:\/\/127\.0\.0\.1:\d+$/);
    const c = client('dtls-1', s.bootstrapCoapsUri as string);
    const registered = once(s.lwm2m, 'registered');
    const bootstrapped = once(c, 'bootstrapped');
    await c.start();
    await bootstrapped;
    const [reg] = await registered;
    expect(reg.endpoint).toBe('dtls-1');
    expect(reg.transport).toBe('dtls');
    expect(reg.pskIdentity).toBe('dm-dtls-1');
    // The DM Security instance the bootstrap wrote: PSK mode, identity and key.
    const sec = c.tree.object(0)?.instanceList().find((i) => i.get(1) === false);
    expect(sec?.get(2)).toBe(0);
    expect(Buffer.from(sec?.get(3) as Uint8Array).toString()).toBe('dm-dtls-1');
    expect(Buffer.from(sec?.get(5) as Uint8Array).toString('hex')).toBe(DM_KEY_HEX);
    expect(reg.port).toBe(c.sessionList()[0]?.connection.localPort);

    const read = await s.lwm2m.read('dtls-1', parsePath('/3/0/2'));
    expect(read.values?.['/3/0/2']).toBe('dtls-1');

    expect((await s.lwm2m.writeAttributes('dtls-1', parsePath('/1/0/1'), { pmin: 0 })).code).toBe('2.04');
    const obs = await s.lwm2m.observe('dtls-1', parsePath('/1/0/1'));
    expect(obs.values?.['/1/0/1']).toBe(60);
    const note = once(s.lwm2m, 'notification');
    c.tree.requireInstance(parsePath('/1/0')).set(1, 90);
    const [ev] = await note;
    expect(ev.result.values['/1/0/1']).toBe(90);
  });

  it('a wrong bootstrap key fails the start with DTLS_HANDSHAKE_FAILED (no hang)', async () => {
    const s = await server('dtls-2');
    const c = client('dtls-2', s.bootstrapCoapsUri as string, Uint8Array.from([1, 2, 3, 4]));
    const err: unknown = await c.start().catch((e: unknown) => e);
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
  });

  it('a UTF-8 identity and a key with bytes ≥ 0x80 reach the server as given (factory-configured coaps:// account)', async () => {
    const key = Uint8Array.from([0x80, 0xff, 0x00, 0xc3, 0xa9, 0x7f, 0x10, 0xfe]);
    const s = await createServer({ coapPort: 0, bsCoapPort: false, coapsPort: 0, httpPort: false, psks: [{ endpoint: 'utf8-dev', identity: 'capteur-é', key }] });
    cleanups.push(() => s.close());
    const dev = createDeviceTree({
      servers: [{ uri: s.coapsUri as string, lifetime: 60, pskIdentity: 'capteur-é', pskKey: key }],
      device: { manufacturer: 'x', modelNumber: 'y', serialNumber: 'utf8-dev' },
    });
    cleanups.push(() => dev.dispose());
    const c = new LwM2MClient({
      endpoint: 'utf8-dev', tree: dev.tree,
      connections: new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }), dtls: { handshakeTimeoutMs: 500 } }),
    });
    cleanups.push(() => c.stop({ deregister: false }));
    const registered = once(s.lwm2m, 'registered');
    await c.start();
    const [reg] = await registered;
    expect(reg.transport).toBe('dtls');
    expect(reg.pskIdentity).toBe('capteur-é');
  });
});

describe('DTLS client ↔ our DTLS server: closing', () => {
  async function pair() {
    const udp = await createUdpSocket({ host: '127.0.0.1' });
    const server = createDtlsServer(udp, { psk: (id) => (id === 'closer' ? Buffer.from('close-key') : undefined) });
    cleanups.push(() => new Promise<void>((r) => {
      try {
        server.close(() => r());
      } catch {
        r(); // closed by the test already
      }
    }));
    const established = new Promise<void>((r) => server.once('session', () => r()));
    const client = await createDtlsClientSocket({ host: '127.0.0.1', port: server.address().port, identity: 'closer', key: Buffer.from('close-key') });
    await established;
    return { server, client };
  }

  it('close() sends close_notify: the server ends the session for that reason', async () => {
    const { server, client } = await pair();
    const closed = new Promise<[unknown, string]>((r) => server.once('session-closed', (sess, reason) => r([sess, reason])));
    await new Promise<void>((r) => client.close(r));
    const [, reason] = await closed;
    expect(reason).toBe('close_notify');
  });

  it("the server's close_notify ends our session ('session-lost'); the next datagram handshakes again", async () => {
    const { server, client } = await pair();
    cleanups.push(() => new Promise<void>((r) => client.close(r)));
    const lost = once(client, 'session-lost');
    const port = server.address().port;
    await new Promise<void>((r) => server.close(() => r()));
    await lost;
    expect(client.connected).toBe(false);
    // A new server on the same port: the next send re-handshakes and is delivered.
    const udp = await createUdpSocket({ host: '127.0.0.1', port });
    const again = createDtlsServer(udp, { psk: () => Buffer.from('close-key') });
    cleanups.push(() => new Promise<void>((r) => again.close(() => r())));
    const got = new Promise<[Buffer]>((r) => again.once('message', (m) => r([m])));
    client.send(Buffer.from('after'), 0, 5, port, '127.0.0.1');
    const [msg] = await got;
    expect(String(msg)).toBe('after');
    expect(client.stats.handshakes).toBe(2);
  });
});
