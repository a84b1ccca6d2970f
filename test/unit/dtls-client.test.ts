import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/core/clock.js';
import { DtlsClientSocket, isDtlsClientError, type DtlsClientOptions } from '../../src/transport/dtls/client.js';
import { peekAlert, peekStage, type DtlsSession, type DtlsSessionOptions, type HandshakeStage } from '../../src/transport/dtls/psk-session.js';
import { isTransportError } from '../../src/transport/datagram.js';
import { fuzzDecoder } from '../helpers/fuzz.js';

/** A DtlsSession the test drives by hand. */
class FakeSession extends EventEmitter implements DtlsSession {
  stage: HandshakeStage = 'hello';
  rejected = false;
  retransmitted = 0;
  sent: Buffer[] = [];
  closedWith: 'close_notify' | 'abort' | undefined;
  constructor(readonly options: DtlsSessionOptions, readonly port: number) {
    super();
  }
  send(data: Buffer, cb: (err: Error | null) => void): void {
    this.sent.push(data);
    cb(null);
  }
  localAddress(): AddressInfo | undefined {
    return this.closedWith ? undefined : { address: '127.0.0.1', family: 'IPv4', port: this.port };
  }
  close(): void {
    if (this.closedWith) return;
    this.closedWith = 'close_notify';
    queueMicrotask(() => this.emit('closed'));
  }
  abort(): void {
    if (this.closedWith) return;
    this.closedWith = 'abort';
    this.emit('closed');
  }
  retransmit(): void {
    this.retransmitted++;
  }
}

function setup(extra: Partial<DtlsClientOptions> = {}) {
  const clock = new ManualClock();
  const sessions: FakeSession[] = [];
  const socket = new DtlsClientSocket({
    host: '10.0.0.1', port: 5684, identity: 'dev-1', key: Uint8Array.of(1, 2, 3, 0xff), clock,
    handshakeTimeoutMs: 1000, handshakeAttempts: 4, maxHandshakeTimeoutMs: 8000,
    createSession: (o) => {
      const s = new FakeSession(o, 40000 + sessions.length);
      sessions.push(s);
      return s;
    },
    ...extra,
  });
  return { clock, sessions, socket };
}

/** Lets promise continuations run (the handshake loop awaits each attempt). */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('DtlsClientSocket handshake retry (ManualClock, fake session)', () => {
  it('passes identity bytes, key, suites and the local address to the session', () => {
    const { socket, sessions } = setup({ cipherSuites: ['TLS_PSK_WITH_AES_128_GCM_SHA256'] });
    void socket.connect();
    const o = sessions[0]?.options;
    expect(Buffer.from(o?.identity ?? []).toString()).toBe('dev-1');
    expect([...(o?.key ?? [])]).toEqual([1, 2, 3, 0xff]);
    expect(o?.cipherSuites).toEqual(['TLS_PSK_WITH_AES_128_GCM_SHA256']);
    expect(o).toMatchObject({ address: '10.0.0.1', port: 5684, localAddress: '127.0.0.1' });
  });

  it('defaults to TLS_PSK_WITH_AES_128_CCM_8', () => {
    const { socket, sessions } = setup();
    void socket.connect();
    expect(sessions[0]?.options.cipherSuites).toEqual(['TLS_PSK_WITH_AES_128_CCM_8']);
  });

  it('retransmits the last flight when the timer expires, doubling the timer, on the same session', async () => {
    const { socket, sessions, clock } = setup();
    const done = socket.connect();
    const s = sessions[0] as FakeSession;
    clock.advance(999);
    expect(s.retransmitted).toBe(0);
    clock.advance(1);
    expect(s.retransmitted).toBe(1);
    clock.advance(1999);
    expect(s.retransmitted).toBe(1);
    clock.advance(1);
    expect(s.retransmitted).toBe(2);
    s.emit('connected');
    await done;
    expect(sessions).toHaveLength(1);
    expect(s.closedWith).toBeUndefined();
    expect(socket.connected).toBe(true);
    expect(socket.stats).toMatchObject({ handshakes: 1, attempts: 1, retransmissions: 2, lastHandshakeMs: 3000 });
    expect(socket.address().port).toBe(40000);
    expect(clock.pendingCount).toBe(0);
  });

  it('gives up with DTLS_HANDSHAKE_TIMEOUT after the configured timer periods (1+2+4+8 s)', async () => {
    const { socket, sessions, clock } = setup();
    const done = socket.connect().catch((e: unknown) => e);
    clock.advance(14_999);
    await settle();
    expect(sessions[0]?.closedWith).toBeUndefined();
    clock.advance(1);
    const err = await done;
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_TIMEOUT');
    expect((err as Error).message).toMatch(/no answer/);
    expect((err as { attempts: number }).attempts).toBe(4);
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.retransmitted).toBe(3);
    expect(sessions[0]?.closedWith).toBe('abort');
    expect(clock.pendingCount).toBe(0);
  });

  it('caps the timer', async () => {
    const { socket, sessions, clock } = setup({ handshakeAttempts: 3, maxHandshakeTimeoutMs: 1500 });
    const done = socket.connect().catch((e: unknown) => e);
    clock.advance(1000 + 1500);
    expect(sessions[0]?.retransmitted).toBe(2);
    clock.advance(1499);
    await settle();
    expect(sessions[0]?.closedWith).toBeUndefined();
    clock.advance(1);
    expect(isDtlsClientError(await done)).toBe(true);
  });

  it('a fatal alert fails at once with DTLS_HANDSHAKE_FAILED and the alert description', async () => {
    const { socket, sessions } = setup();
    const done = socket.connect().catch((e: unknown) => e);
    sessions[0]?.emit('alert', 'handshake_failure');
    const err = await done;
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
    expect((err as { alert?: string }).alert).toBe('handshake_failure');
    expect((err as Error).message).toMatch(/fatal alert handshake_failure/);
    expect(sessions).toHaveLength(1);
  });

  it('a server re-sending its ServerHelloDone instead of a Finished for 2 periods means a rejected key (DTLS_HANDSHAKE_FAILED)', async () => {
    const { socket, sessions, clock } = setup();
    const done = socket.connect().catch((e: unknown) => e);
    Object.assign(sessions[0] as FakeSession, { stage: 'finished', rejected: true });
    clock.advance(1000);
    expect(sessions[0]?.retransmitted).toBe(1);
    clock.advance(2000);
    const err = await done;
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
    expect((err as Error).message).toMatch(/re-sent its ServerHelloDone.*wrong PSK identity or key/);
    expect((err as { alert?: string }).alert).toBe('decrypt_error');
    expect(sessions).toHaveLength(1);
  });

  it('a slow server (our key exchange sent, no Finished yet, nothing re-sent) is waited for, not declared a wrong key', async () => {
    const { socket, sessions, clock } = setup();
    const done = socket.connect();
    (sessions[0] as FakeSession).stage = 'finished';
    clock.advance(1000 + 2000 + 4000);
    expect(sessions[0]?.retransmitted).toBe(3);
    sessions[0]?.emit('connected');
    await expect(done).resolves.toBeUndefined();
  });

  it("no Finished by the last expiry after the server had our key exchange (GnuTLS is silent on a bad Finished) → DTLS_HANDSHAKE_FAILED", async () => {
    const { socket, sessions, clock } = setup();
    const done = socket.connect().catch((e: unknown) => e);
    (sessions[0] as FakeSession).stage = 'finished';
    clock.advance(15_000);
    const err = await done;
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
    expect((err as Error).message).toMatch(/never sent its Finished in 4 timer periods/);
  });

  it('one period with a re-sent ServerHelloDone (our flight was lost) is recovered by the retransmission', async () => {
    const { socket, sessions, clock } = setup();
    const done = socket.connect();
    Object.assign(sessions[0] as FakeSession, { stage: 'finished', rejected: true });
    clock.advance(1000);
    sessions[0]?.emit('connected');
    await expect(done).resolves.toBeUndefined();
  });

  it('a socket failure starts a new session, within the same bound; the last cause is reported', async () => {
    const { socket, sessions, clock } = setup({ handshakeAttempts: 2 });
    const done = socket.connect().catch((e: unknown) => e);
    sessions[0]?.emit('failed', new Error('EADDRNOTAVAIL'));
    await settle();
    expect(sessions).toHaveLength(2);
    sessions[1]?.emit('failed', new Error('EADDRNOTAVAIL'));
    const err = await done;
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
    expect((err as Error).message).toMatch(/EADDRNOTAVAIL/);
    expect(clock.pendingCount).toBe(0);
  });

  it('a session factory that throws fails the handshake with a DtlsClientError', async () => {
    const clock = new ManualClock();
    const socket = new DtlsClientSocket({
      host: '10.0.0.1', port: 5684, identity: 'x', key: Uint8Array.of(1), clock, handshakeAttempts: 2,
      createSession: () => { throw new Error('bad options'); },
    });
    const err: unknown = await socket.connect().catch((e: unknown) => e);
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_HANDSHAKE_FAILED');
    expect((err as Error).message).toMatch(/bad options/);
  });

  it('concurrent connect() calls share one handshake', async () => {
    const { socket, sessions } = setup();
    const a = socket.connect();
    const b = socket.connect();
    expect(sessions).toHaveLength(1);
    sessions[0]?.emit('connected');
    await Promise.all([a, b]);
  });

  it('close() during a handshake rejects it with DTLS_CLOSED', async () => {
    const { socket, sessions } = setup();
    const done = socket.connect().catch((e: unknown) => e);
    socket.close();
    const err = await done;
    expect(isDtlsClientError(err) && err.code).toBe('DTLS_CLOSED');
    expect(sessions[0]?.closedWith).toBe('abort');
  });
});

describe('DtlsClientSocket as a DatagramSocket', () => {
  async function connected() {
    const t = setup();
    const p = t.socket.connect();
    t.sessions[0]?.emit('connected');
    await p;
    return t;
  }

  it('send() encrypts to the peer in both dgram call forms; another address is refused', async () => {
    const { socket, sessions } = await connected();
    const results: Array<[Error | null, number]> = [];
    socket.send(Buffer.from('xxabcxx'), 2, 3, 5684, '10.0.0.1', (e, n) => results.push([e, n]));
    socket.send(Buffer.from('hello'), 5684, '10.0.0.1', (e, n) => results.push([e, n]));
    socket.send(Buffer.from('nope'), 5685, '10.0.0.1', (e, n) => results.push([e, n]));
    expect(sessions[0]?.sent.map(String)).toEqual(['abc', 'hello']);
    expect(results[0]).toEqual([null, 3]);
    expect(results[1]).toEqual([null, 5]);
    expect(isDtlsClientError(results[2]?.[0]) && (results[2]?.[0] as { code: string }).code).toBe('DTLS_NOT_PEER');
  });

  it("'message' delivers decrypted datagrams with rinfo = the peer", async () => {
    const { socket, sessions } = await connected();
    const got: unknown[] = [];
    socket.on('message', (msg, rinfo) => got.push([msg.toString(), rinfo]));
    sessions[0]?.emit('message', Buffer.from('data'));
    expect(got).toEqual([['data', { address: '10.0.0.1', family: 'IPv4', port: 5684, size: 4 }]]);
  });

  it('after an alert ends the session the next send re-handshakes and then delivers the queued datagrams', async () => {
    const { socket, sessions } = await connected();
    const lost: string[] = [];
    socket.on('session-lost', (why) => lost.push(why));
    sessions[0]?.emit('alert', 'close_notify');
    expect(lost).toEqual(['alert close_notify']);
    expect(socket.connected).toBe(false);
    const cbs: Array<Error | null> = [];
    socket.send(Buffer.from('one'), 5684, '10.0.0.1', (e) => cbs.push(e));
    socket.send(Buffer.from('two'), 5684, '10.0.0.1', (e) => cbs.push(e));
    expect(sessions).toHaveLength(2);
    expect(cbs).toEqual([]);
    sessions[1]?.emit('connected');
    await settle();
    expect(sessions[1]?.sent.map(String)).toEqual(['one', 'two']);
    expect(cbs).toEqual([null, null]);
    expect(socket.stats.handshakes).toBe(2);
    // Datagrams of the old session are not delivered any more.
    const got: string[] = [];
    socket.on('message', (m) => got.push(m.toString()));
    sessions[0]?.emit('message', Buffer.from('stale'));
    sessions[1]?.emit('message', Buffer.from('fresh'));
    expect(got).toEqual(['fresh']);
  });

  it('queued datagrams fail with the handshake error when the re-handshake fails; the queue is bounded', async () => {
    const { socket, sessions } = await connected();
    sessions[0]?.emit('closed');
    const errs: Array<string | undefined> = [];
    const note = (e: Error | null): void => {
      errs.push(e ? (e as { code?: string }).code : undefined);
    };
    for (let i = 0; i < 3; i++) socket.send(Buffer.from([i]), 5684, '10.0.0.1', note);
    expect(errs).toEqual([]);
    sessions[1]?.emit('alert', 'handshake_failure');
    await settle();
    expect(errs).toEqual(['DTLS_HANDSHAKE_FAILED', 'DTLS_HANDSHAKE_FAILED', 'DTLS_HANDSHAKE_FAILED']);

    const small = await (async () => {
      const t = setup({ maxQueuedDatagrams: 2 });
      const p = t.socket.connect();
      t.sessions[0]?.emit('connected');
      await p;
      t.sessions[0]?.emit('closed');
      const codes: Array<string | undefined> = [];
      for (let i = 0; i < 3; i++) t.socket.send(Buffer.from([i]), 5684, '10.0.0.1', (e) => codes.push(e ? (e as { code?: string }).code : undefined));
      return codes;
    })();
    expect(small).toEqual(['DTLS_QUEUE_FULL']);
  });

  it('reconnect() sends close_notify on the old session and handshakes on a new one', async () => {
    const { socket, sessions } = await connected();
    const p = socket.reconnect();
    expect(sessions[0]?.closedWith).toBe('close_notify');
    expect(sessions).toHaveLength(2);
    sessions[1]?.emit('connected');
    await p;
    expect(socket.address().port).toBe(40001);
  });

  it("close() sends close_notify, emits 'close' once, and address() then throws TRANSPORT_CLOSED", async () => {
    const { socket, sessions } = await connected();
    let closes = 0;
    socket.on('close', () => closes++);
    await new Promise<void>((r) => socket.close(r));
    expect(sessions[0]?.closedWith).toBe('close_notify');
    await new Promise<void>((r) => socket.close(r));
    expect(closes).toBe(1);
    let err: unknown;
    try {
      socket.address();
    } catch (e) {
      err = e;
    }
    expect(isTransportError(err) && err.code).toBe('TRANSPORT_CLOSED');
    const cb: Array<Error | null> = [];
    socket.send(Buffer.from('x'), 5684, '10.0.0.1', (e) => cb.push(e));
    expect(isTransportError(cb[0])).toBe(true);
  });

  it('close() does not hang when the session never reports closing (bounded by the clock)', async () => {
    const t = setup();
    const p = t.socket.connect();
    const s = t.sessions[0] as FakeSession;
    s.emit('connected');
    await p;
    s.close = () => { /* a stuck close_notify */ };
    const closed = new Promise<void>((r) => t.socket.close(r));
    t.clock.advance(1000);
    await closed;
    expect(s.closedWith).toBe('abort');
  });
});

describe('record peeking (RFC 6347 §4.1)', () => {
  const record = (type: number, epoch: number, body: number[]): Buffer =>
    Buffer.from([type, 0xfe, 0xfd, 0, epoch, 0, 0, 0, 0, 0, 1, 0, body.length, ...body]);

  it('ServerHelloDone in a multi-record datagram moves the stage to finished', () => {
    const d = Buffer.concat([record(22, 0, [2, 0, 0, 0]), record(22, 0, [14, 0, 0, 0])]);
    expect(peekStage(d, 'hello')).toBe('finished');
    expect(peekStage(record(22, 0, [3, 0, 0]), 'hello')).toBe('cookie');
    expect(peekStage(record(22, 1, [14, 0]), 'hello')).toBe('hello'); // encrypted: not looked into
  });

  it('finds a plaintext fatal alert and ignores warnings and truncated records', () => {
    expect(peekAlert(record(21, 0, [2, 40]))).toBe(40);
    expect(peekAlert(record(21, 0, [1, 0]))).toBeUndefined();
    expect(peekAlert(Buffer.from([21, 0xfe, 0xfd, 0]))).toBeUndefined();
    expect(peekStage(Buffer.alloc(0), 'cookie')).toBe('cookie');
  });

  it('never throws on arbitrary bytes (fuzz)', () => {
    const seeds = [
      Buffer.concat([record(22, 0, [2, 0, 0, 0]), record(22, 0, [14, 0, 0, 0])]),
      record(21, 0, [2, 40]),
      record(22, 0, [3, 0, 0]),
    ];
    const r = fuzzDecoder((b) => [peekStage(Buffer.from(b), 'hello'), peekAlert(Buffer.from(b))], seeds, { seed: 7, runs: 5000 });
    expect(r.rejected).toBe(0);
  });
});
