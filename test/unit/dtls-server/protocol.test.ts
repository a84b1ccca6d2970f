/**
 * The DTLS server's protocol over the in-memory network, driven by a scriptable PSK client
 * (psk-client.ts): handshakes with both suites, cookies, every alert path, replay, close_notify,
 * renegotiation refusal, a new handshake replacing a session, retransmission, idle eviction and limits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { MemoryNetwork } from '../../../src/transport/memory.js';
import { isTransportError } from '../../../src/transport/datagram.js';
import { createDtlsServer, type DtlsServerOptions, type DtlsServerSocket } from '../../../src/transport/dtls/server/index.js';
import { AlertDescription, ContentType, DTLS_1_0, HandshakeType } from '../../../src/transport/dtls/server/constants.js';
import { CIPHER_SUITES } from '../../../src/transport/dtls/server/cipher-suites.js';
import { encodeHandshake } from '../../../src/transport/dtls/server/handshake-codec.js';
import { AlertError, PskTestClient, alertsOf, handshakeOf } from './psk-client.js';

const KEY = Buffer.from('secret-key-0123');
const CCM8 = CIPHER_SUITES.TLS_PSK_WITH_AES_128_CCM_8.id;
const GCM = CIPHER_SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256.id;

let net: MemoryNetwork;
let server: DtlsServerSocket;

function setup(opts: Partial<DtlsServerOptions> = {}): DtlsServerSocket {
  net = new MemoryNetwork();
  const sock = net.createSocket({ address: '127.0.0.1', port: 5684 });
  server = createDtlsServer(sock, { psk: (id) => (id === 'dev1' || id === 'dev2' ? KEY : undefined), ...opts });
  server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  return server;
}

function client(opts: ConstructorParameters<typeof PskTestClient>[2] = {}): PskTestClient {
  return new PskTestClient(net.createSocket('127.0.0.1'), { address: '127.0.0.1', port: 5684 }, opts);
}

function failures(): Array<{ port: number; reason: string }> {
  const out: Array<{ port: number; reason: string }> = [];
  server.on('handshake-failed', (p, reason) => out.push({ port: p.port, reason }));
  return out;
}

afterEach(() => {
  net?.close();
});

describe('handshake', () => {
  it.each([['CCM_8', CCM8, 'TLS_PSK_WITH_AES_128_CCM_8'], ['GCM', GCM, 'TLS_PSK_WITH_AES_128_GCM_SHA256']] as const)(
    'completes with %s and carries application data both ways', async (_n, id, name) => {
      setup();
      const sessions: string[] = [];
      server.on('session', (s) => sessions.push(`${s.identity}/${s.cipherSuite}`));
      const c = client({ cipherSuites: [id] });
      await c.handshake();
      expect(sessions).toEqual([`dev1/${name}`]);
      expect(server.sessionOf('127.0.0.1', c.port)).toEqual({ identity: 'dev1', cipherSuite: name, address: '127.0.0.1', port: c.port });
      c.sendApp('ping');
      expect((await c.receiveApp()).toString()).toBe('echo:ping');
      expect(server.stats()).toMatchObject({ sessions: 1, handshakesInProgress: 0, handshakesCompleted: 1, handshakesFailed: 0, helloVerifyRequests: 1 });
    });

  it('follows the server preference order and sends the identity hint in a ServerKeyExchange', async () => {
    setup({ identityHint: 'lwm2m-fleet', cipherSuites: ['TLS_PSK_WITH_AES_128_GCM_SHA256', 'TLS_PSK_WITH_AES_128_CCM_8'] });
    const c = client({ cipherSuites: [CCM8, GCM] });
    const flight = await c.helloWithCookie(await c.getCookie());
    expect(flight.map((m) => m.msgType)).toEqual([HandshakeType.serverHello, HandshakeType.serverKeyExchange, HandshakeType.serverHelloDone]);
    expect(flight[1]?.body.subarray(2).toString()).toBe('lwm2m-fleet');
    expect(c.suite?.name).toBe('TLS_PSK_WITH_AES_128_GCM_SHA256');
    // ServerHello reuses the ClientHello's message_seq (1 after the cookie exchange).
    expect(flight.map((m) => m.messageSeq)).toEqual([1, 2, 3]);
    c.raw(Buffer.concat(c.flight5()));
    await c.readFlight6();
  });

  it('negotiates the extended master secret (RFC 7627) and echoes renegotiation_info (RFC 5746)', async () => {
    setup();
    const c = client({ extensions: [{ type: 0x0017, data: Buffer.alloc(0) }, { type: 0xff01, data: Buffer.from([0]) }] });
    const flight = await c.helloWithCookie(await c.getCookie());
    const sh = flight[0]?.body as Buffer;
    expect(sh.includes(Buffer.from('ff01000100', 'hex'))).toBe(true);
    expect(c.ems).toBe(true);
    c.raw(Buffer.concat(c.flight5()));
    await c.readFlight6();
    c.sendApp('x');
    expect((await c.receiveApp()).toString()).toBe('echo:x');
  });

  it('reassembles a fragmented ClientKeyExchange sent out of order', async () => {
    setup();
    const c = client();
    await c.helloWithCookie(await c.getCookie());
    const [cke, ccs, fin] = c.flight5() as [Buffer, Buffer, Buffer];
    // Re-fragment the CKE (record header 13, handshake header 12) into 3 fragments, last first.
    const msg = cke.subarray(13);
    const body = msg.subarray(12);
    const frag = (off: number, len: number): Buffer => {
      const h = Buffer.from(msg.subarray(0, 12));
      h.writeUIntBE(off, 6, 3);
      h.writeUIntBE(len, 9, 3);
      return c.record(ContentType.handshake, 0, Buffer.concat([h, body.subarray(off, off + len)]));
    };
    c.raw(frag(4, body.length - 4));
    c.raw(frag(0, 2));
    c.raw(Buffer.concat([frag(1, 3), ccs, fin]));
    await c.readFlight6();
    expect(server.stats().sessions).toBe(1);
  });
});

describe('stateless cookie (RFC 6347 §4.2.1)', () => {
  it('answers every ClientHello without a valid cookie with a HelloVerifyRequest and keeps no state', async () => {
    setup();
    const clients = Array.from({ length: 50 }, () => client());
    for (const c of clients) c.sendHello();
    for (const c of clients) {
      const r = await c.receive();
      expect(handshakeOf(r)[0]?.msgType).toBe(HandshakeType.helloVerifyRequest);
      expect(r.records[0]?.seq).toBe(0); // the ClientHello's record sequence number
    }
    expect(server.stats()).toMatchObject({ sessions: 0, handshakesInProgress: 0, helloVerifyRequests: 50 });
    // A wrong cookie, or one made for another port, gets another HVR and no state either.
    const a = clients[0] as PskTestClient;
    const b = clients[1] as PskTestClient;
    const cookieA = await a.getCookie();
    b.sendHello(cookieA);
    expect(handshakeOf(await b.receive())[0]?.msgType).toBe(HandshakeType.helloVerifyRequest);
    a.sendHello(Buffer.from(cookieA).fill(0, 0, 4));
    expect(handshakeOf(await a.receive())[0]?.msgType).toBe(HandshakeType.helloVerifyRequest);
    expect(server.stats().handshakesInProgress).toBe(0);
  });

  it('accepts a cookie across one secret rotation, not two', async () => {
    const clock = new ManualClock(1_000_000);
    setup({ clock, cookieSecret: Buffer.alloc(32, 7) });
    const c = client();
    const cookie = await c.getCookie();
    clock.advance(5 * 60_000); // rotated once: still accepted
    await c.helloWithCookie(cookie);
    expect(server.stats().handshakesInProgress).toBe(1);
    const d = client();
    const old = await d.getCookie();
    clock.advance(10 * 60_000 + 1);
    d.sendHello(old);
    expect(handshakeOf(await d.receive())[0]?.msgType).toBe(HandshakeType.helloVerifyRequest);
  });
});

describe('alerts', () => {
  async function expectAlert(c: PskTestClient, run: () => Promise<unknown>, description: number): Promise<void> {
    await expect(run()).rejects.toEqual(new AlertError(description));
    void c;
  }

  it('unknown PSK identity → unknown_psk_identity', async () => {
    setup();
    const f = failures();
    const c = client({ identity: 'nobody' });
    await c.helloWithCookie(await c.getCookie());
    c.raw(Buffer.concat(c.flight5()));
    await expectAlert(c, () => c.readFlight6(), AlertDescription.unknownPskIdentity);
    expect(f[0]?.reason).toMatch(/^unknown_psk_identity/);
    expect(server.stats()).toMatchObject({ sessions: 0, handshakesInProgress: 0, handshakesFailed: 1 });
  });

  it('wrong key → fatal bad_record_mac on the Finished record; others are still served', async () => {
    setup();
    const f = failures();
    const bad = client({ psk: Buffer.from('not-the-key') });
    await bad.helloWithCookie(await bad.getCookie());
    bad.raw(Buffer.concat(bad.flight5()));
    await expectAlert(bad, () => bad.readFlight6(), AlertDescription.badRecordMac);
    expect(f[0]?.reason).toMatch(/^bad_record_mac/);
    const good = client();
    await good.handshake();
    good.sendApp('still here');
    expect((await good.receiveApp()).toString()).toBe('echo:still here');
  });

  it('a Finished that decrypts but does not verify → decrypt_error', async () => {
    setup();
    const c = client();
    await c.helloWithCookie(await c.getCookie());
    c.raw(Buffer.concat(c.flight5({ finished: Buffer.alloc(12, 1) })));
    await expectAlert(c, () => c.readFlight6(), AlertDescription.decryptError);
  });

  it.each([
    ['no common cipher suite → handshake_failure', { cipherSuites: [0x008c] }, AlertDescription.handshakeFailure],
    ['DTLS 1.0 only → protocol_version', { clientVersion: DTLS_1_0 }, AlertDescription.protocolVersion],
    ['no null compression → illegal_parameter', { compression: [1] }, AlertDescription.illegalParameter],
    ['non-empty renegotiation_info → handshake_failure', { extensions: [{ type: 0xff01, data: Buffer.from([4, 1, 2, 3, 4]) }] }, AlertDescription.handshakeFailure],
  ] as const)('%s', async (_name, opts, description) => {
    setup();
    const f = failures();
    const c = client(opts as ConstructorParameters<typeof PskTestClient>[2]);
    const cookie = await c.getCookie();
    await expectAlert(c, () => c.helloWithCookie(cookie), description);
    expect(f).toHaveLength(1);
    expect(server.stats().handshakesInProgress).toBe(0);
  });

  it('malformed ClientKeyExchange → decode_error; Finished in epoch 0 → unexpected_message', async () => {
    setup();
    const c = client();
    await c.helloWithCookie(await c.getCookie());
    c.raw(c.record(ContentType.handshake, 0, encodeHandshake(HandshakeType.clientKeyExchange, c.msgSeq++, Buffer.from([0, 9, 1]))));
    expect(alertsOf(await c.receive())).toEqual([{ level: 2, description: AlertDescription.decodeError, epoch: 0 }]);
    const d = client();
    await d.helloWithCookie(await d.getCookie());
    d.raw(d.record(ContentType.handshake, 0, encodeHandshake(HandshakeType.finished, d.msgSeq++, Buffer.alloc(12))));
    expect(alertsOf(await d.receive())).toEqual([{ level: 2, description: AlertDescription.unexpectedMessage, epoch: 0 }]);
    expect(server.stats()).toMatchObject({ handshakesFailed: 2, handshakesInProgress: 0 });
  });

  it('a fatal alert from the peer ends its handshake', async () => {
    setup();
    const f = failures();
    const c = client();
    await c.helloWithCookie(await c.getCookie());
    c.raw(c.record(ContentType.alert, 0, Buffer.from([2, AlertDescription.handshakeFailure])));
    await net.idle(1000);
    expect(f[0]?.reason).toBe('peer alert: handshake_failure');
    expect(server.stats().handshakesInProgress).toBe(0);
  });
});

describe('established session', () => {
  it('drops a replayed record (RFC 6347 §4.1.2.6) and a forged one, silently', async () => {
    setup();
    const c = client();
    await c.handshake();
    const got: string[] = [];
    server.on('message', (m) => got.push(m.toString()));
    const rec = c.sendApp('once');
    await c.receiveApp();
    c.raw(rec);
    const forged = Buffer.from(c.record(ContentType.applicationData, 1, Buffer.from('forged')));
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    c.raw(forged);
    c.sendApp('twice');
    expect((await c.receiveApp()).toString()).toBe('echo:twice');
    expect(got).toEqual(['once', 'twice']);
    expect(server.stats()).toMatchObject({ recordsReplayed: 1, recordsDropped: 2 });
    expect(c.pending).toBe(0); // no alert for either
  });

  it('close_notify from the peer is answered and ends the session', async () => {
    setup();
    const closed: string[] = [];
    server.on('session-closed', (_s, reason) => closed.push(reason));
    const c = client();
    await c.handshake();
    c.raw(c.record(ContentType.alert, 1, Buffer.from([1, 0])));
    expect(alertsOf(await c.receive())).toEqual([{ level: 1, description: 0, epoch: 1 }]);
    expect(closed).toEqual(['close_notify']);
    expect(server.sessionOf('127.0.0.1', c.port)).toBeUndefined();
  });

  it('close() sends close_notify to every peer, then closes the socket', async () => {
    setup();
    const a = client();
    const b = client();
    await a.handshake();
    await b.handshake();
    await new Promise<void>((resolve) => server.close(resolve));
    for (const c of [a, b]) expect(alertsOf(await c.receive())).toEqual([{ level: 1, description: 0, epoch: 1 }]);
    expect(() => server.address()).toThrow();
  });

  it('refuses renegotiation with a no_renegotiation warning and keeps the session', async () => {
    setup();
    const c = client();
    await c.handshake();
    c.raw(c.record(ContentType.handshake, 1, encodeHandshake(HandshakeType.clientHello, 5, c.helloBody())));
    expect(alertsOf(await c.receive())).toEqual([{ level: 1, description: AlertDescription.noRenegotiation, epoch: 1 }]);
    c.sendApp('after');
    expect((await c.receiveApp()).toString()).toBe('echo:after');
  });

  it('a new handshake from the same peer replaces the session only when it completes (RFC 6347 §4.2.8)', async () => {
    setup();
    const closed: string[] = [];
    server.on('session-closed', (_s, reason) => closed.push(reason));
    const sock = net.createSocket('127.0.0.1');
    const old = new PskTestClient(sock, { address: '127.0.0.1', port: 5684 });
    await old.handshake();
    const fresh = new PskTestClient(sock, { address: '127.0.0.1', port: 5684 }, { identity: 'dev2' });
    await fresh.helloWithCookie(await fresh.getCookie());
    await old.receive().catch(() => undefined); // both clients share the socket's inbox: drain the copies
    // The old session still works while the new handshake is in progress.
    old.sendApp('old');
    const r = await fresh.receive(); // same socket: the reply lands in both inboxes
    void r;
    expect((await old.receiveApp()).toString()).toBe('echo:old');
    expect(server.sessionOf('127.0.0.1', sock.localPort)?.identity).toBe('dev1');
    fresh.raw(Buffer.concat(fresh.flight5()));
    await fresh.readFlight6();
    expect(server.sessionOf('127.0.0.1', sock.localPort)?.identity).toBe('dev2');
    expect(closed).toEqual(['replaced by a new handshake']);
  });

  it('send() without a session reports TRANSPORT_NO_SESSION and sends nothing', async () => {
    setup();
    const before = net.stats.sent;
    const err = await new Promise<Error | null>((resolve) => server.send(Buffer.from('x'), 0, 1, 40000, '127.0.0.1', (e) => resolve(e)));
    expect(isTransportError(err) && err.code).toBe('TRANSPORT_NO_SESSION');
    expect(net.stats.sent).toBe(before);
  });
});

describe('retransmission (RFC 6347 §4.2.4)', () => {
  it('resends flight 4 on a doubling timer, then gives up', async () => {
    const clock = new ManualClock();
    setup({ clock });
    const f = failures();
    const c = client();
    await c.helloWithCookie(await c.getCookie());
    const seen: number[] = [];
    for (const step of [1000, 2000, 4000, 8000]) {
      clock.advance(step - 1);
      await net.idle(1000);
      expect(c.pending).toBe(0);
      clock.advance(1);
      const r = await c.receive();
      expect(handshakeOf(r)[0]?.msgType).toBe(HandshakeType.serverHello);
      seen.push(r.records[0]?.seq as number);
    }
    expect(new Set(seen).size).toBe(4); // new record sequence numbers each time
    clock.advance(16_000 + 32_000 + 60_000 + 60_000);
    await net.idle(1000);
    expect(f[0]?.reason).toMatch(/timeout/);
    expect(server.stats().handshakesInProgress).toBe(0);
  });

  it('resends flight 4 when the ClientHello is retransmitted, and flight 6 when flight 5 is', async () => {
    setup();
    const c = client();
    const cookie = await c.getCookie();
    const hello = c.sendHello(cookie);
    await c.readFlight4();
    c.raw(hello); // flight 4 "lost": the same ClientHello again
    const again4 = await c.receive();
    expect(handshakeOf(again4).map((m) => m.msgType)).toEqual([HandshakeType.serverHello, HandshakeType.serverHelloDone]);
    const flight5 = c.flight5();
    c.raw(Buffer.concat(flight5));
    await c.readFlight6();
    // Flight 6 "lost": the client sends flight 5 again (new record numbers) and gets it again.
    c.seq1 = 1;
    c.raw(Buffer.concat([flight5[0] as Buffer, flight5[1] as Buffer]));
    const again = await c.receive();
    expect(again.plain.map((p) => p.type)).toEqual([ContentType.changeCipherSpec, ContentType.handshake]);
    expect(server.stats().retransmissions).toBeGreaterThanOrEqual(2);
  });
});

describe('duplicates', () => {
  it('a repeated ClientKeyExchange (current flight) is not answered; a late duplicate of the session\'s ClientHello starts nothing', async () => {
    setup();
    const c = client();
    const hello = c.sendHello(await c.getCookie());
    await c.readFlight4();
    const [cke, ccs, fin] = c.flight5() as [Buffer, Buffer, Buffer];
    c.raw(cke);
    c.raw(cke);
    await net.idle(1000);
    expect(c.pending).toBe(0);
    c.raw(Buffer.concat([ccs, fin]));
    await c.readFlight6();
    c.raw(hello);
    await net.idle(1000);
    expect(c.pending).toBe(0);
    expect(server.stats()).toMatchObject({ handshakesInProgress: 0, sessions: 1, retransmissions: 0 });
  });
});

describe('limits', () => {
  it('evicts idle sessions on the shared sweep', async () => {
    const clock = new ManualClock();
    setup({ clock, limits: { idleTimeoutMs: 60_000 } });
    const closed: string[] = [];
    server.on('session-closed', (s, reason) => closed.push(`${s.port}:${reason}`));
    const a = client();
    const b = client();
    await a.handshake();
    clock.advance(40_000);
    await b.handshake();
    clock.advance(30_000); // a idle 70 s, b idle 30 s
    expect(closed).toEqual([`${a.port}:idle`]);
    expect(server.stats().sessions).toBe(1);
  });

  it('evicts the least recently active session when the table is full (order exact to 1 s)', async () => {
    const clock = new ManualClock();
    setup({ clock, limits: { maxSessions: 2 } });
    const closed: string[] = [];
    server.on('session-closed', (s, reason) => closed.push(`${s.port}:${reason}`));
    const [a, b, c] = [client(), client(), client()] as [PskTestClient, PskTestClient, PskTestClient];
    await a.handshake();
    clock.advance(2000);
    await b.handshake();
    clock.advance(2000);
    a.sendApp('keep me');
    await a.receiveApp();
    clock.advance(2000);
    await c.handshake();
    expect(closed).toEqual([`${b.port}:evicted: session table full`]);
    expect(server.stats()).toMatchObject({ sessions: 2, sessionsEvicted: 1 });
  });

  it('rate-limits new handshakes and caps concurrent ones', async () => {
    const clock = new ManualClock();
    setup({ clock, limits: { handshakesPerSecond: 2, maxHandshakes: 100 } });
    const cs = [client(), client(), client()];
    for (const c of cs) {
      c.sendHello(await c.getCookie());
    }
    await net.idle(1000);
    expect(server.stats()).toMatchObject({ handshakesInProgress: 2, handshakesRejected: 1 });
    setup({ limits: { maxHandshakes: 1 } });
    const ds = [client(), client()];
    for (const d of ds) d.sendHello(await d.getCookie());
    await net.idle(1000);
    expect(server.stats()).toMatchObject({ handshakesInProgress: 1, handshakesRejected: 1 });
  });
});
