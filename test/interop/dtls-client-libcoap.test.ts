import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { createDtlsClientSocket, isDtlsClientError, type DtlsClientSocket } from '../../src/transport/dtls/client.js';
import type { PskCipherSuite } from '../../src/transport/dtls/psk-session.js';
import { libcoapTool, requireLibcoapInCi } from '../helpers/libcoap.js';
import { freePortPair, startLibcoapServer, type LibcoapServer } from '../../bench/libcoap-server.js';

// A key with bytes above 0x7f (its UTF-8 encoding): they must reach the PSK unchanged (not as 'ascii').
const KEY = 'secretPSK-clé';

/** What Debian's libcoap3 builds accept (measured): OpenSSL offers no CBC suite, GnuTLS no AES_256_CCM_8. */
const SERVERS = [
  // A bad Finished: OpenSSL re-sends its ServerHelloDone flight (~1 s later), GnuTLS stays silent.
  { name: 'coap-server-openssl', accepted: ['TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_PSK_WITH_AES_256_CCM'], refused: 'TLS_PSK_WITH_AES_128_CBC_SHA256', wrongKey: /re-sent its ServerHelloDone/ },
  { name: 'coap-server-gnutls', accepted: ['TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_PSK_WITH_AES_128_CBC_SHA256'], refused: 'TLS_PSK_WITH_AES_256_CCM_8', wrongKey: /never sent its Finished in 4 timer periods/ },
] as const satisfies ReadonlyArray<{ name: 'coap-server-openssl' | 'coap-server-gnutls'; accepted: readonly PskCipherSuite[]; refused: PskCipherSuite; wrongKey: RegExp }>;

for (const { name, accepted, refused, wrongKey } of SERVERS) {
  const tool = libcoapTool(name);
  const enabled = requireLibcoapInCi(tool);

  describe.runIf(enabled)(`DTLS PSK client against ${name}`, () => {
    let server: LibcoapServer;

    beforeAll(async () => {
      server = await startLibcoapServer(tool as string, KEY);
    });
    afterAll(async () => {
      await server?.stop();
    });

    async function getRoot(socket: DtlsClientSocket): Promise<{ code: string; text: string }> {
      const ep = new CoapEndpoint({ socket, timing: { ackTimeoutMs: 500 } });
      try {
        const res = await ep.request({ host: '127.0.0.1', port: server.dtlsPort, method: 'GET', path: '/' });
        return { code: res.code, text: Buffer.from(res.payload).toString('utf8') };
      } finally {
        await ep.close();
      }
    }

    it('completes a TLS_PSK_WITH_AES_128_CCM_8 handshake and GETs / through a CoapEndpoint', async () => {
      const socket = await createDtlsClientSocket({
        host: '127.0.0.1', port: server.dtlsPort, identity: 'lwm2m-fleet', key: Buffer.from(KEY), handshakeTimeoutMs: 1000,
      });
      expect(socket.stats.handshakes).toBe(1);
      expect(socket.address()).toMatchObject({ address: '127.0.0.1' });
      expect(socket.address().port).toBeGreaterThan(0);
      const res = await getRoot(socket);
      expect(res.code).toBe('2.05');
      expect(res.text).toMatch(/libcoap/i);
    });

    it.each<PskCipherSuite>(accepted)('negotiates %s when configured', async (suite) => {
      const socket = await createDtlsClientSocket({
        host: '127.0.0.1', port: server.dtlsPort, identity: 'lwm2m-fleet', key: Buffer.from(KEY), cipherSuites: [suite],
      });
      expect((await getRoot(socket)).code).toBe('2.05');
    });

    it(`a suite the server refuses (${refused}) fails at once with its alert`, async () => {
      const err: unknown = await createDtlsClientSocket({
        host: '127.0.0.1', port: server.dtlsPort, identity: 'lwm2m-fleet', key: Buffer.from(KEY), cipherSuites: [refused],
      }).catch((e: unknown) => e);
      expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
      expect((err as { alert?: string }).alert).toBe('handshake_failure');
      expect((err as { attempts: number }).attempts).toBe(1);
    });

    it('a wrong key fails with DTLS_HANDSHAKE_FAILED within the configured attempts (no hang)', async () => {
      const t0 = Date.now();
      const err: unknown = await createDtlsClientSocket({
        host: '127.0.0.1', port: server.dtlsPort, identity: 'lwm2m-fleet', key: Buffer.from('wrong-key'),
        handshakeTimeoutMs: 300, handshakeAttempts: 4, keyRejectedAfter: 2,
      }).catch((e: unknown) => e);
      expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
      expect((err as Error).message).toMatch(/wrong PSK identity or key/);
      expect((err as Error).message).toMatch(wrongKey);
      // OpenSSL re-sends its flight ~1 s after our bad Finished (attempts 3 and 4 see it); GnuTLS stays
      // silent (all 4 attempts end without its Finished): either way within the 4 attempts' 4.5 s.
      expect(Date.now() - t0).toBeLessThan(300 + 600 + 1200 + 2400 + 1000);
    });
  });
}

describe.runIf(requireLibcoapInCi(libcoapTool('coap-server-openssl')))('DTLS session lost (server restart)', () => {
  it.each<NodeJS.Signals>(['SIGKILL', 'SIGTERM'])('after %s and a restart (session gone) the connection re-handshakes; requests work again', async (signal) => {
    const tool = libcoapTool('coap-server-openssl') as string;
    let server = await startLibcoapServer(tool, KEY);
    const sockets: DtlsClientSocket[] = [];
    const factory = new CoapConnectionFactory({
      createSocket: () => Promise.reject(new Error('unused')),
      createSecureSocket: async (peer) => {
        const s = await createDtlsClientSocket({ ...peer, handshakeTimeoutMs: 300 });
        sockets.push(s);
        return s;
      },
      timing: { ackTimeoutMs: 150, ackRandomFactor: 1, maxRetransmit: 1 },
    });
    const conn = await factory.connect(`coaps://127.0.0.1:${server.dtlsPort}`, { mode: 'psk', identity: 'restart', key: Buffer.from(KEY) });
    try {
      expect((await conn.request({ method: 'GET', uriPath: [] })).code).toBe('2.05');
      await server.stop(signal);
      server = await startLibcoapServer(tool, KEY, server.port);
      // The new server process knows no session: the first request may go unanswered (→ re-handshake).
      let code: string | undefined;
      for (let i = 0; i < 3 && code === undefined; i++) {
        code = await conn.request({ method: 'GET', uriPath: [] }).then((r) => r.code, () => undefined);
      }
      expect(code).toBe('2.05');
      expect(sockets).toHaveLength(1);
      expect(sockets[0]?.stats.handshakes).toBe(2);
    } finally {
      await conn.close();
      await server.stop();
    }
  });
});

/**
 * A UDP relay between our client and the server that drops datagrams chosen by `drop` (direction, the
 * datagram, how many such datagrams were seen before).
 */
async function lossyRelay(serverPort: number, drop: (fromClient: boolean, d: Buffer) => boolean) {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', r));
  let client: { port: number; address: string } | undefined;
  const dropped = { client: 0, server: 0 };
  front.on('message', (m, rinfo) => {
    client = rinfo;
    if (drop(true, m)) dropped.client++;
    else back.send(m, serverPort, '127.0.0.1');
  });
  back.on('message', (m) => {
    if (drop(false, m)) dropped.server++;
    else if (client) front.send(m, client.port, client.address);
  });
  return { port: front.address().port, dropped, close: () => { front.close(); back.close(); } };
}

/** True when a datagram holds a ChangeCipherSpec record (content type 20): our flight 5 or the server's last. */
function hasChangeCipherSpec(d: Buffer): boolean {
  for (let o = 0, n = 0; o + 13 <= d.length && n < 16; n++) {
    if (d[o] === 20) return true;
    o += 13 + d.readUInt16BE(o + 11);
  }
  return false;
}

describe.runIf(requireLibcoapInCi(libcoapTool('coap-server-openssl')))('DTLS handshake over a lossy link (coap-server-openssl)', () => {
  it('recovers lost flights by retransmission on one session, even when the server re-sends its own flight meanwhile', async () => {
    const server = await startLibcoapServer(libcoapTool('coap-server-openssl') as string, KEY);
    // Drop our flight 5 (ClientKeyExchange, ChangeCipherSpec, Finished) three times: OpenSSL re-sends its
    // flight 4 in between (~1 s), which the library alone would choke on (stale messages).
    let flight5 = 0;
    const relay = await lossyRelay(server.dtlsPort, (fromClient, d) => fromClient && hasChangeCipherSpec(d) && ++flight5 <= 3);
    try {
      const socket = await createDtlsClientSocket({
        host: '127.0.0.1', port: relay.port, identity: 'lossy', key: Buffer.from(KEY), handshakeTimeoutMs: 300, handshakeAttempts: 6,
      });
      expect(relay.dropped.client).toBe(3);
      expect(socket.stats.attempts).toBe(1);
      expect(socket.stats.retransmissions).toBeGreaterThanOrEqual(2);
      const ep = new CoapEndpoint({ socket, timing: { ackTimeoutMs: 500 } });
      try {
        expect((await ep.request({ host: '127.0.0.1', port: relay.port, method: 'GET', path: '/' })).code).toBe('2.05');
      } finally {
        await ep.close();
      }
    } finally {
      relay.close();
      await server.stop();
    }
  });
});

describe('DTLS PSK client against a hostile or absent peer', () => {
  it('garbage and truncated handshake records from the peer never crash it', async () => {
    const peer = createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
    const hellos: number[] = [];
    // Answers every ClientHello with a malformed "ServerHello" flight (valid record header, broken body).
    peer.on('message', (_m, rinfo) => {
      hellos.push(rinfo.port);
      const body = Buffer.from([2, 0, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 0x30, 0xfe, 0xfd, 1, 2, 3]);
      const header = Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, body.length]);
      peer.send(Buffer.concat([header, body]), rinfo.port, rinfo.address);
      peer.send(Buffer.from([22, 0xfe, 0xfd, 0, 0]), rinfo.port, rinfo.address);
    });
    try {
      const err: unknown = await createDtlsClientSocket({
        host: '127.0.0.1', port: peer.address().port, identity: 'x', key: Buffer.from('k'), handshakeTimeoutMs: 150, handshakeAttempts: 2,
      }).catch((e: unknown) => e);
      expect(isDtlsClientError(err)).toBe(true);
      expect(['DTLS_HANDSHAKE_FAILED', 'DTLS_HANDSHAKE_TIMEOUT']).toContain((err as { code: string }).code);
      expect(hellos).toHaveLength(2); // one ClientHello per attempt, each from a fresh socket
    } finally {
      peer.close();
    }
  });

  it('ignores a fatal alert from a stranger (only the peer may end a handshake)', async () => {
    const stranger = createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', r));
    const silentPeer = createSocket('udp4');
    await new Promise<void>((r) => silentPeer.bind(0, '127.0.0.1', r));
    silentPeer.on('message', (_m, rinfo) => {
      stranger.send(Buffer.from([21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 2, 40]), rinfo.port, rinfo.address);
    });
    try {
      const err: unknown = await createDtlsClientSocket({
        host: '127.0.0.1', port: silentPeer.address().port, identity: 'x', key: Buffer.from('k'), handshakeTimeoutMs: 100, handshakeAttempts: 2,
      }).catch((e: unknown) => e);
      expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_TIMEOUT');
    } finally {
      stranger.close();
      silentPeer.close();
    }
  });

  it('times out with DTLS_HANDSHAKE_TIMEOUT after the configured attempts', async () => {
    const port = await freePortPair(); // nobody listens there
    const t0 = Date.now();
    const err: unknown = await createDtlsClientSocket({
      host: '127.0.0.1', port, identity: 'x', key: Buffer.from('k'), handshakeTimeoutMs: 100, handshakeAttempts: 3,
    }).catch((e: unknown) => e);
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_TIMEOUT');
    expect((err as { attempts: number }).attempts).toBe(3);
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(100 + 200 + 400 - 20);
    expect(ms).toBeLessThan(5000);
  });
});
