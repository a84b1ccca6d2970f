/**
 * Robustness: 10 000 seeded mutations of real records and handshake flights, garbage and ClientHello
 * floods. The server must never throw or log an internal error, state must stay bounded, no per-peer
 * state may exist before a valid cookie, and an established session must keep working throughout.
 */
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, type MemorySocket } from '../../../src/transport/memory.js';
import type { DatagramSocket, RemoteInfo } from '../../../src/transport/datagram.js';
import { EventEmitter } from 'node:events';
import { createDtlsServer, type DtlsServerOptions, type DtlsServerSocket } from '../../../src/transport/dtls/server/index.js';
import { ContentType, HandshakeType } from '../../../src/transport/dtls/server/constants.js';
import { encodeHandshake } from '../../../src/transport/dtls/server/handshake-codec.js';
import { encodeRecord } from '../../../src/transport/dtls/server/record.js';
import { PskTestClient } from './psk-client.js';
import { mulberry32 as prng } from '../../../src/core/prng.js';
import { mutate } from '../../helpers/fuzz.js';

const KEY = Buffer.from('secret-key-0123');

function gcFn(): () => void {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
}

let net: MemoryNetwork;
let raw: MemorySocket;
let server: DtlsServerSocket;
let internalErrors: string[];

function setup(opts: Partial<DtlsServerOptions> = {}): void {
  net = new MemoryNetwork();
  raw = net.createSocket({ address: '127.0.0.1', port: 5684 });
  internalErrors = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { internalErrors.push(chunk.toString()); cb(); } });
  server = createDtlsServer(raw, { psk: (id) => (id === 'dev1' ? KEY : undefined), logger: pino({ level: 'error' }, sink), ...opts });
  server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
}

function client(): PskTestClient {
  return new PskTestClient(net.createSocket('127.0.0.1'), { address: '127.0.0.1', port: 5684 });
}

/** Delivers a datagram to the server synchronously, as if from `port`. */
function inject(buf: Buffer, port: number): void {
  const rinfo: RemoteInfo = { address: '127.0.0.1', family: 'IPv4', port, size: buf.length };
  raw.emit('message', buf, rinfo);
}

afterEach(() => net?.close());

describe('DTLS server robustness', () => {
  it('survives 10 000 mutated records and handshake flights; state stays bounded; sessions keep working', async () => {
    setup({ limits: { maxHandshakes: 200 } });
    const rnd = prng(0xd715);
    const x = client();
    await x.handshake();
    let mutations = 0;
    for (let round = 0; round < 100; round++) {
      const y = client();
      const cookie = await y.getCookie();
      const hello = y.sendHello(cookie);
      await y.readFlight4();
      const f5 = y.flight5();
      const seeds = [
        Buffer.concat(f5), f5[0] as Buffer, f5[2] as Buffer, hello,
        x.record(ContentType.applicationData, 1, Buffer.from(`data ${round}`)),
        // A plaintext fatal alert must never end x's authenticated session.
        encodeRecord(ContentType.alert, 0xfefd, 0, 3, Buffer.from([2, 40])),
        x.record(ContentType.handshake, 1, encodeHandshake(HandshakeType.clientHello, 9, x.helloBody())),
        encodeRecord(ContentType.handshake, 0xfefd, 0, 7, encodeHandshake(HandshakeType.clientHello, 0, y.helloBody())),
      ];
      for (let i = 0; i < 100; i++) {
        const seed = seeds[Math.floor(rnd() * seeds.length)] as Buffer;
        const r = rnd();
        const port = r < 0.4 ? y.port : r < 0.7 ? x.port : 40000 + Math.floor(rnd() * 64);
        inject(Buffer.from(mutate(seed, rnd)), port);
        mutations++;
      }
      expect(server.stats().handshakesInProgress).toBeLessThanOrEqual(101);
      expect(server.stats().sessions).toBeLessThanOrEqual(2 + round);
    }
    expect(mutations).toBe(10_000);
    expect(internalErrors).toEqual([]);
    // The established session was never disturbed by forged or mutated records.
    x.seq1 += 1000;
    await net.idle(2000);
    while (x.pending > 0) await x.receive();
    x.sendApp('alive');
    expect((await x.receiveApp()).toString()).toBe('echo:alive');
    // Both the silent-drop and the fatal-alert paths were exercised.
    expect(server.stats().recordsDropped).toBeGreaterThan(1000);
    expect(server.stats().handshakesFailed).toBeGreaterThan(10);
  });

  it('a ClientHello flood without cookies allocates no per-peer state (heap bounded)', () => {
    // The server over a sink socket, so the measurement is the server's, not the network's queues.
    const sink = new EventEmitter() as EventEmitter & DatagramSocket;
    let sent = 0;
    Object.assign(sink, {
      type: 'udp4',
      send: (_m: Buffer, _o: number, _l: number, _p: number, _a: string, cb?: (e: Error | null, n: number) => void) => { sent++; cb?.(null, 0); },
      address: () => ({ address: '127.0.0.1', family: 'IPv4', port: 5684 }),
      close: () => undefined,
    });
    net = new MemoryNetwork();
    raw = sink as unknown as MemorySocket;
    internalErrors = [];
    server = createDtlsServer(sink, { psk: () => KEY });
    const gc = gcFn();
    const probe = client();
    const hello = encodeRecord(ContentType.handshake, 0xfefd, 0, 0, encodeHandshake(HandshakeType.clientHello, 0, probe.helloBody()));
    for (let i = 0; i < 2000; i++) inject(hello, 1024 + i); // warm-up (JIT, pools)
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) inject(hello, 10_000 + (i % 50_000));
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(server.stats()).toMatchObject({ sessions: 0, handshakesInProgress: 0, helloVerifyRequests: 22_000 });
    expect(sent).toBe(22_000);
    expect(grown).toBeLessThan(512 * 1024); // nothing per peer: 20 000 peers would be megabytes
    expect(internalErrors).toEqual([]);
  });

  it('garbage datagrams leave no state and no error', () => {
    setup();
    const rnd = prng(7);
    for (let i = 0; i < 10_000; i++) {
      const len = Math.floor(rnd() * 200);
      const b = Buffer.alloc(len);
      for (let j = 0; j < len; j++) b[j] = Math.floor(rnd() * 256);
      if (len > 0 && rnd() < 0.5) b[0] = 20 + Math.floor(rnd() * 4); // plausible content type
      inject(b, 20_000 + (i % 100));
    }
    expect(server.stats()).toMatchObject({ sessions: 0, handshakesInProgress: 0 });
    expect(internalErrors).toEqual([]);
  });

  it('ClientHellos with valid cookies from many ports stop at maxHandshakes', async () => {
    setup({ limits: { maxHandshakes: 20, handshakesPerSecond: 1e6 } });
    const cs = Array.from({ length: 40 }, () => client());
    for (const c of cs) c.sendHello(await c.getCookie());
    await net.idle(2000);
    expect(server.stats()).toMatchObject({ handshakesInProgress: 20, handshakesRejected: 20, sessions: 0 });
  });
});
