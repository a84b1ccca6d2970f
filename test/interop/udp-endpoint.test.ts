/**
 * The same basics as test/protocol/coap-endpoint.test.ts over real UDP sockets, on 127.0.0.1 (and ::1
 * when the host has IPv6 loopback) only.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapEndpoint, type ServerObservation } from '../../src/coap/endpoint.js';
import { isTransportError, type DatagramSocket } from '../../src/transport/datagram.js';
import { SERVER_RECV_BUFFER_SIZE, createUdpSocket } from '../../src/transport/udp.js';

const TIMING = { ackTimeoutMs: 250, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 500 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function udpEndpoint(host = '127.0.0.1'): Promise<CoapEndpoint> {
  const ep = new CoapEndpoint({ socket: await createUdpSocket({ host }), timing: TIMING });
  cleanups.push(() => ep.close());
  return ep;
}

function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// Compile-time: a plain dgram socket satisfies the DatagramSocket contract.
const contract: (s: ReturnType<typeof createSocket>) => DatagramSocket = (s) => s;

describe('createUdpSocket', () => {
  it('returns a bound, listening socket on 127.0.0.1 with an error listener', async () => {
    const socket = await createUdpSocket();
    cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
    expect(contract(socket)).toBe(socket);
    const a = socket.address();
    expect(a.address).toBe('127.0.0.1');
    expect(a.port).toBeGreaterThan(0);
    expect(socket.listenerCount('error')).toBeGreaterThanOrEqual(1);
    socket.emit('error', new Error('must not crash the process'));
  });

  it('fails with TRANSPORT_ADDRESS_IN_USE when the port is taken', async () => {
    const first = await createUdpSocket();
    cleanups.push(() => new Promise<void>((r) => first.close(() => r())));
    const port = first.address().port;
    let error: unknown;
    try {
      await createUdpSocket({ port });
    } catch (e) {
      error = e;
    }
    expect(isTransportError(error)).toBe(true);
    expect(isTransportError(error) && [error.code, error.errno, error.port]).toEqual(['TRANSPORT_ADDRESS_IN_USE', 'EADDRINUSE', port]);
    expect(String(error)).toMatch(/already in use/);
  });

  it('applies the 4 MiB receive buffer for server sockets (up to the kernel limit)', async () => {
    const plain = await createUdpSocket();
    const big = await createUdpSocket({ recvBufferSize: SERVER_RECV_BUFFER_SIZE });
    cleanups.push(() => new Promise<void>((r) => plain.close(() => r())));
    cleanups.push(() => new Promise<void>((r) => big.close(() => r())));
    expect(big.getRecvBufferSize()).toBeGreaterThanOrEqual(plain.getRecvBufferSize());
    let rmemMax = 0;
    try {
      rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
    } catch {
      // not Linux
    }
    if (rmemMax >= SERVER_RECV_BUFFER_SIZE) expect(big.getRecvBufferSize()).toBeGreaterThanOrEqual(SERVER_RECV_BUFFER_SIZE);
  });
});

describe('CoapEndpoint over UDP', () => {
  it('request/response in both directions on one socket each, concurrently', async () => {
    const a = await udpEndpoint();
    const b = await udpEndpoint();
    a.onRequest((req) => ({ code: '2.05', payload: `A${req.path}` }));
    b.onRequest(async (req) => ({ code: '2.01', payload: `B${req.path}`, locationPath: ['rd', 'x1'] }));
    const jobs: Array<Promise<void>> = [];
    for (let i = 0; i < 20; i++) {
      jobs.push(a.request({ host: '127.0.0.1', port: b.address().port, method: 'POST', path: `/rd/${i}` }).then((r) => {
        expect(r.code).toBe('2.01');
        expect(r.payload.toString()).toBe(`B/rd/${i}`);
        expect(r.locationPath).toEqual(['rd', 'x1']);
      }));
      jobs.push(b.request({ host: '127.0.0.1', port: a.address().port, path: `/3/0/${i}` }).then((r) => {
        expect(r.payload.toString()).toBe(`A/3/0/${i}`);
      }));
    }
    await Promise.all(jobs);
  });

  it('resolves a host name to the socket family', async () => {
    const a = await udpEndpoint();
    const b = await udpEndpoint();
    b.onRequest(() => ({ code: '2.05', payload: 'named' }));
    const r = await a.request({ host: 'localhost', port: b.address().port, path: '/x' });
    expect(r.payload.toString()).toBe('named');
  });

  it('Block2 (10 KB response) and Block1 (10 KB request)', async () => {
    const a = await udpEndpoint();
    const b = await udpEndpoint();
    const body = Buffer.from(Array.from({ length: 10 * 1024 }, (_, i) => (i * 17 + 3) & 0xff));
    let received: Buffer | undefined;
    b.onRequest((req) => {
      if (req.method === 'GET') return { code: '2.05', payload: body, contentFormat: 42 };
      received = req.payload;
      return { code: '2.04' };
    });
    const get = await a.request({ host: '127.0.0.1', port: b.address().port, path: '/5/0/0' });
    expect(get.payload.equals(body)).toBe(true);
    expect(get.contentFormat).toBe(42);
    const put = await a.request({ host: '127.0.0.1', port: b.address().port, method: 'PUT', path: '/5/0/0', payload: body });
    expect(put.code).toBe('2.04');
    expect(received?.equals(body)).toBe(true);
  });

  it('observe: notifications, then cancel', async () => {
    const a = await udpEndpoint();
    const b = await udpEndpoint();
    let handle: ServerObservation | undefined;
    const ended = new Promise<string>((resolve) => {
      b.onRequest((req) => {
        if (req.observation) {
          handle = req.observation;
          req.observation.onEnd(resolve);
        }
        return { code: '2.05', payload: 'v0' };
      });
    });
    const obs = await a.observe({ host: '127.0.0.1', port: b.address().port, path: '/3/0/13' });
    expect(obs.active).toBe(true);
    const it = obs[Symbol.asyncIterator]();
    handle?.notify({ payload: 'v1' });
    handle?.notify({ payload: 'v2', confirmable: true });
    const n1 = await within(it.next(), 'first notification');
    const n2 = await within(it.next(), 'second notification');
    expect([n1.value?.payload.toString(), n2.value?.payload.toString()]).toEqual(['v1', 'v2']);
    await obs.cancel();
    expect(await within(ended, 'deregistration')).toBe('deregistered');
  });

  it('a retransmitted CON request is handled once', async () => {
    const ep = await udpEndpoint();
    let handled = 0;
    ep.onRequest(() => ({ code: '2.05', payload: String(++handled) }));
    const raw = await createUdpSocket();
    cleanups.push(() => new Promise<void>((r) => raw.close(() => r())));
    const replies: ParsedPacket[] = [];
    const arrived = (n: number) => new Promise<void>((resolve) => {
      const check = (): void => {
        if (replies.length >= n) {
          raw.removeListener('message', onMsg);
          resolve();
        }
      };
      const onMsg = (msg: Buffer): void => {
        replies.push(parse(msg));
        check();
      };
      raw.on('message', onMsg);
      check();
    });
    const request = generate({ code: 'GET', confirmable: true, messageId: 321, token: Buffer.from([7, 7]) });
    raw.send(request, ep.address().port, '127.0.0.1');
    await within(arrived(1), 'first reply');
    raw.send(request, ep.address().port, '127.0.0.1');
    await within(arrived(2), 'replayed reply');
    expect(handled).toBe(1);
    expect(replies.map((r) => r.payload.toString())).toEqual(['1', '1']);
  });

  it('works over ::1 when IPv6 loopback is available', async (ctx) => {
    let a: CoapEndpoint;
    try {
      a = await udpEndpoint('::1');
    } catch (e) {
      if (isTransportError(e)) ctx.skip();
      throw e;
    }
    const b = await udpEndpoint('::1');
    b.onRequest(() => ({ code: '2.05', payload: 'six' }));
    const r = await a.request({ host: '::1', port: b.address().port, path: '/v6' });
    expect(r.payload.toString()).toBe('six');
    expect(r.source.address).toBe('::1');
  });
});
