/**
 * CoapConnectionFactory with `coaps://` + PSK, on the in-memory network: createSecureSocket is injected
 * (a MemorySocket stands in for the DTLS socket, so what is checked is which peer and PSK each
 * connection asks for, and the reconnect/rebind behaviour — the DTLS itself is tested in
 * test/interop/dtls-client-libcoap.test.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { once } from 'node:events';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory, type SecureDatagramSocket, type SecurePeer } from '../../src/client/coap-connection.js';
import { createDeviceTree } from '../../src/client/device-factory.js';
import { isLwM2MError } from '../../src/core/errors.js';
import { BootstrapServer } from '../../src/server/bootstrap/bootstrap-server.js';
import { MemoryBootstrapConfigStore } from '../../src/server/bootstrap/config-store.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { MemoryNetwork, type MemorySocket } from '../../src/transport/memory.js';

const fast = { ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 1, maxLatencyMs: 100 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function network(): MemoryNetwork {
  const net = new MemoryNetwork({ seed: 3, loss: 0, delayMs: [0, 1] });
  cleanups.push(() => net.close());
  return net;
}

/** A factory whose secure sockets are plain MemorySockets, with a record of what was asked for. */
function factory(net: MemoryNetwork) {
  const peers: SecurePeer[] = [];
  const reconnects = vi.fn(async () => {});
  const f = new CoapConnectionFactory({
    createSocket: async () => net.createSocket({ address: '127.0.0.1' }),
    createSecureSocket: async (peer) => {
      peers.push(peer);
      const s: MemorySocket & SecureDatagramSocket = net.createSocket({ address: '127.0.0.1' });
      s.reconnect = reconnects;
      return s;
    },
    timing: fast,
  });
  return { f, peers, reconnects };
}

const PSK = { mode: 'psk', identity: 'dev-1', key: Uint8Array.of(0xde, 0xad) } as const;

describe('CoapConnectionFactory with coaps:// and PSK', () => {
  it('coap:// with PSK and coaps:// with NoSec are clear BAD_REQUEST errors', async () => {
    const { f, peers } = factory(network());
    const e1: unknown = await f.connect('coap://127.0.0.1:5683', PSK).catch((e: unknown) => e);
    expect(isLwM2MError(e1) && e1.kind).toBe('BAD_REQUEST');
    expect((e1 as Error).message).toMatch(/needs a coaps:\/\/ URI/);
    const e2: unknown = await f.connect('coaps://127.0.0.1:5684', { mode: 'nosec' }).catch((e: unknown) => e);
    expect(isLwM2MError(e2) && e2.kind).toBe('BAD_REQUEST');
    expect((e2 as Error).message).toMatch(/coaps:\/\/ needs PSK/);
    expect(peers).toEqual([]);
  });

  it('opens the secure socket for the URI host and port (default 5684) with the identity and key', async () => {
    const { f, peers } = factory(network());
    const conn = await f.connect('coaps://127.0.0.1', PSK);
    cleanups.push(() => conn.close());
    expect(peers).toEqual([{ host: '127.0.0.1', port: 5684, identity: 'dev-1', key: PSK.key }]);
    expect(conn.localPort).toBeGreaterThan(0);
  });

  it('a failed handshake rejects connect() with the DTLS error and its code', async () => {
    const f = new CoapConnectionFactory({
      createSocket: async () => { throw new Error('unused'); },
      createSecureSocket: async () => {
        throw Object.assign(new Error('DTLS handshake with 127.0.0.1:5684 timed out'), { code: 'DTLS_HANDSHAKE_TIMEOUT' });
      },
    });
    await expect(f.connect('coaps://127.0.0.1:5684', PSK)).rejects.toMatchObject({ code: 'DTLS_HANDSHAKE_TIMEOUT' });
  });

  it('re-handshakes after a CoAP timeout (the server lost the session)', async () => {
    const { f, reconnects } = factory(network());
    const conn = await f.connect('coaps://127.0.0.1:5684', PSK); // nobody listens: every request times out
    cleanups.push(() => conn.close());
    await expect(conn.request({ method: 'GET', uriPath: ['x'] })).rejects.toMatchObject({ kind: 'TIMEOUT' });
    expect(reconnects).toHaveBeenCalledTimes(1);
  });

  it('dtlsReconnectAfterTimeouts: N counts consecutive timeouts', async () => {
    const net = network();
    const reconnects = vi.fn(async () => {});
    const f = new CoapConnectionFactory({
      createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: fast, dtlsReconnectAfterTimeouts: 2,
      createSecureSocket: async () => {
        const s: MemorySocket & SecureDatagramSocket = net.createSocket({ address: '127.0.0.1' });
        s.reconnect = reconnects;
        return s;
      },
    });
    const conn = await f.connect('coaps://127.0.0.1:5684', PSK);
    cleanups.push(() => conn.close());
    await expect(conn.request({ method: 'GET', uriPath: ['x'] })).rejects.toMatchObject({ kind: 'TIMEOUT' });
    expect(reconnects).not.toHaveBeenCalled();
    await expect(conn.request({ method: 'GET', uriPath: ['x'] })).rejects.toMatchObject({ kind: 'TIMEOUT' });
    expect(reconnects).toHaveBeenCalledTimes(1);
  });

  it('rebind() opens a new secure socket (a new handshake) with the same peer and PSK', async () => {
    const { f, peers } = factory(network());
    const conn = await f.connect('coaps://127.0.0.1:5684', PSK);
    cleanups.push(() => conn.close());
    const before = conn.localPort;
    await conn.rebind?.();
    expect(peers).toHaveLength(2);
    expect(peers[1]).toEqual(peers[0]);
    expect(conn.localPort).not.toBe(before);
  });
});

describe('bootstrap and registration over coaps:// each use their own Security instance', () => {
  it('the Bootstrap-Server connection gets the bootstrap PSK, the DM connection the PSK the bootstrap wrote', async () => {
    const net = network();
    const dm = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5684 }), timing: fast });
    cleanups.push(() => dm.close());
    const bs = new BootstrapServer({
      socket: net.createSocket({ address: '127.0.0.1', port: 5784 }), timing: fast, stepTimeoutMs: 5000,
      configs: new MemoryBootstrapConfigStore([{
        endpoint: 'dev-psk',
        config: { servers: [{ shortServerId: 101, uri: 'coaps://127.0.0.1:5684', pskIdentity: 'dm-identity', pskKey: '0a0b0c0d', lifetime: 60 }] },
      }]),
    });
    cleanups.push(() => bs.close());
    const dev = createDeviceTree({
      bootstrap: { uri: 'coaps://127.0.0.1:5784', pskIdentity: 'bs-identity', pskKey: '01020304' },
      device: { manufacturer: 'x', modelNumber: 'y', serialNumber: 'dev-psk' },
    });
    cleanups.push(() => dev.dispose());
    const { f, peers } = factory(net);
    const client = new LwM2MClient({ endpoint: 'dev-psk', tree: dev.tree, bootstrapTimeoutS: 5, connections: f });
    cleanups.push(() => client.stop({ deregister: false }));
    const registered = once(dm, 'registered');
    await client.start();
    await registered;
    expect(peers.map((p) => [p.port, p.identity, Buffer.from(p.key).toString('hex')])).toEqual([
      [5784, 'bs-identity', '01020304'],
      [5684, 'dm-identity', '0a0b0c0d'],
    ]);
  });
});
