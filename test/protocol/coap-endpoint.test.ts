/**
 * CoapEndpoint over the in-memory network. node-coap runs its retransmission timers on real time
 * (setTimeout/Date.now), so these tests use MemoryNetwork with systemClock and small CoAP timings;
 * every wait is on an event or a promise (bounded by vitest's timeout), never a fixed sleep.
 */
import { createServer, parameters } from 'coap';
import { generate, parse, type Packet, type ParsedPacket } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { LwM2MError } from '../../src/core/errors.js';
import { CoapEndpoint, type CoapEndpointOptions, type CoapResponse, type ObservationEndReason, type ServerObservation } from '../../src/coap/endpoint.js';
import { decodeBlock, encodeBlock, encodeUint, isCoapError, type BlockValue } from '../../src/coap/message.js';
import type { CoapTiming } from '../../src/coap/timing.js';
import type { RemoteInfo } from '../../src/transport/datagram.js';
import { MemoryNetwork, type MemoryNetworkOptions, type MemorySocket } from '../../src/transport/memory.js';

/**
 * Lossless tests: an ACK_TIMEOUT long enough that a loaded machine does not retransmit (the wire
 * assertions below still tolerate retransmissions by looking at distinct MIDs). Lossy tests shorten it.
 */
const FAST: Partial<CoapTiming> = { ackTimeoutMs: 250, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 500 };
const HOST = '127.0.0.1';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function network(options: MemoryNetworkOptions = {}): MemoryNetwork {
  const net = new MemoryNetwork({ clock: systemClock, ...options });
  cleanups.push(() => net.close());
  return net;
}

function endpoint(net: MemoryNetwork, options: Partial<CoapEndpointOptions> = {}): CoapEndpoint {
  const ep = new CoapEndpoint({ socket: net.createSocket(), timing: FAST, ...options });
  cleanups.push(() => ep.close());
  return ep;
}

interface Wire {
  from: number;
  to: number;
  packet: ParsedPacket;
}

/** Every datagram put on the wire, parsed. */
function wire(net: MemoryNetwork): Wire[] {
  const seen: Wire[] = [];
  net.tap((e) => {
    if (e.kind === 'sent') seen.push({ from: e.from.port, to: e.to.port, packet: parse(e.data) });
  });
  return seen;
}

/** One entry per (sender, MID): retransmissions and replays from the message cache collapse. */
const distinct = (ws: Wire[]): Wire[] => {
  const seen = new Set<string>();
  return ws.filter((w) => {
    const k = `${w.from}|${w.packet.messageId}|${typeOf(w.packet)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
};
const typeOf = (p: ParsedPacket): string => (p.reset ? 'RST' : p.ack ? 'ACK' : p.confirmable ? 'CON' : 'NON');
const option = (p: ParsedPacket, name: string): Buffer | undefined => p.options.find((o) => o.name === name)?.value;
const blockOf = (p: ParsedPacket, name: 'Block1' | 'Block2'): BlockValue | undefined => {
  const v = option(p, name);
  return v === undefined ? undefined : decodeBlock(v);
};

/** A hand-driven peer: a raw socket that sends and awaits parsed CoAP messages. */
class ScriptedPeer {
  readonly socket: MemorySocket;
  private readonly inbox: Array<{ packet: ParsedPacket; rinfo: RemoteInfo }> = [];
  private readonly waiters: Array<() => void> = [];

  constructor(net: MemoryNetwork) {
    this.socket = net.createSocket();
    this.socket.on('message', (msg, rinfo) => {
      this.inbox.push({ packet: parse(msg), rinfo });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get port(): number {
    return this.socket.localPort;
  }

  send(packet: Packet, port: number): void {
    const bytes = generate(packet, 65_000);
    this.socket.send(bytes, port, HOST);
  }

  /** Next received message matching `match` (earlier non-matching ones are discarded). */
  async next(match: (p: ParsedPacket) => boolean = () => true, timeoutMs = 5000): Promise<{ packet: ParsedPacket; rinfo: RemoteInfo }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.inbox.length > 0) {
        const m = this.inbox.shift() as { packet: ParsedPacket; rinfo: RemoteInfo };
        if (match(m.packet)) return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('ScriptedPeer: no matching message in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** Awaits `p` but fails the test after `ms` instead of hanging until vitest's timeout. */
function within<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CoapEndpoint: requests and responses', () => {
  it('carries method, path, query, formats, payload and a multi-segment Location-Path', async () => {
    const net = network();
    const client = endpoint(net);
    const server = endpoint(net);
    const seen: unknown[] = [];
    server.onRequest((req) => {
      seen.push({ method: req.method, path: req.path, segments: req.pathSegments, query: req.query, cf: req.contentFormat, accept: req.accept, body: req.payload.toString(), con: req.confirmable, src: req.source.port });
      return { code: '2.01', locationPath: ['rd', 'a1b2'], payload: 'ok', contentFormat: 0 };
    });
    const res = await client.request({
      host: HOST, port: server.address().port, method: 'POST', path: '/rd',
      query: { ep: 'dev-1', lt: 300, lwm2m: '1.1', b: 'U', Q: true, sms: undefined },
      payload: '</1/0>,</3/0>', contentFormat: 40, accept: 11542,
    });
    expect(res).toMatchObject({ code: '2.01', contentFormat: 0, locationPath: ['rd', 'a1b2'], source: { address: HOST, port: server.address().port } });
    expect(res.payload.toString()).toBe('ok');
    expect(seen).toEqual([{
      method: 'POST', path: '/rd', segments: ['rd'], query: ['ep=dev-1', 'lt=300', 'lwm2m=1.1', 'b=U', 'Q'],
      cf: 40, accept: 11542, body: '</1/0>,</3/0>', con: true, src: client.address().port,
    }]);
  });

  it('answers a NON request with a NON response and unknown content formats stay numeric', async () => {
    const net = network();
    const log = wire(net);
    const client = endpoint(net);
    const server = endpoint(net);
    server.onRequest((req) => ({ code: '2.05', payload: String(req.contentFormat), contentFormat: 1543 }));
    const res = await client.request({ host: HOST, port: server.address().port, path: '/3/0/0', confirmable: false, contentFormat: 1542 });
    expect(res.code).toBe('2.05');
    expect(res.payload.toString()).toBe('1542');
    expect(res.contentFormat).toBe(1543);
    expect(log.map((w) => typeOf(w.packet))).toEqual(['NON', 'NON']);
  });

  it('sends an empty ACK then a separate CON response when the handler is slow', async () => {
    const net = network();
    const log = wire(net);
    const client = endpoint(net);
    const server = endpoint(net, { piggybackReplyMs: 10 });
    const release = deferred<void>();
    server.onRequest(async () => {
      await release.promise;
      return { code: '2.04' };
    });
    const pending = client.request({ host: HOST, port: server.address().port, method: 'POST', path: '/1/0/8' });
    // Wait for the empty ACK to be on the wire, then let the handler finish.
    await expect.poll(() => log.some((w) => w.packet.ack && w.packet.code === '0.00'), { timeout: 2000, interval: 5 }).toBe(true);
    release.resolve();
    const res = await pending;
    expect(res.code).toBe('2.04');
    await net.idle(2000);
    const fromServer = distinct(log.filter((w) => w.from === server.address().port)).map((w) => `${typeOf(w.packet)} ${w.packet.code}`);
    expect(fromServer).toEqual(['ACK 0.00', 'CON 2.04']);
    // …and the client acknowledged the separate response.
    expect(distinct(log.filter((w) => w.from === client.address().port)).map((w) => `${typeOf(w.packet)} ${w.packet.code}`)).toEqual(['CON 0.02', 'ACK 0.00']);
  });

  it('turns handler errors into 5.00, and an LwM2MError into its code with a diagnostic payload', async () => {
    const net = network();
    const client = endpoint(net);
    const server = endpoint(net);
    server.onRequest((req) => {
      if (req.path === '/boom') throw new Error('secret detail');
      throw new LwM2MError('NOT_FOUND', 'no object 9');
    });
    const boom = await client.request({ host: HOST, port: server.address().port, path: '/boom' });
    expect(boom.code).toBe('5.00');
    expect(boom.payload.toString()).not.toContain('secret');
    const nf = await client.request({ host: HOST, port: server.address().port, path: '/9' });
    expect(nf.code).toBe('4.04');
    expect(nf.payload.toString()).toBe('no object 9');
  });

  it('answers a CoAP ping (empty CON) with RST and ignores an empty NON', async () => {
    const net = network();
    const ep = endpoint(net);
    const peer = new ScriptedPeer(net);
    peer.send({ code: '0.00', messageId: 77, confirmable: true }, ep.address().port);
    const { packet } = await peer.next();
    expect(packet).toMatchObject({ code: '0.00', reset: true, messageId: 77 });
    peer.send({ code: '0.00', messageId: 78, confirmable: false }, ep.address().port);
    await net.idle(2000);
    expect(ep.messageStats).toMatchObject({ pings: 1, malformed: 1 });
  });

  it('close() fails pending requests with COAP_CLOSED and frees the port', async () => {
    const net = network();
    const client = endpoint(net);
    const peer = new ScriptedPeer(net); // never answers
    const port = client.address().port;
    const pending = client.request({ host: HOST, port: peer.port, path: '/x' });
    await peer.next();
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'COAP_CLOSED' });
    expect(net.isBound(HOST, port)).toBe(false);
    await expect(client.request({ host: HOST, port: peer.port })).rejects.toMatchObject({ code: 'COAP_CLOSED' });
  });
});

describe('CoapEndpoint: bounded state', () => {
  it('leaves no request state behind and keeps the MID tables within their bound', async () => {
    const net = network();
    const client = endpoint(net, { messageCacheEntries: 16 });
    const server = endpoint(net, { messageCacheEntries: 16 });
    // Small and Block2-sized responses, to CON and NON requests.
    server.onRequest((req) => ({ code: '2.05', payload: Buffer.alloc(Number(req.pathSegments[0]) % 3 === 0 ? 1500 : 10) }));
    const jobs: Array<Promise<CoapResponse>> = [];
    for (let i = 0; i < 60; i++) jobs.push(client.request({ host: HOST, port: server.address().port, path: `/${i}`, confirmable: i % 2 === 0 }));
    expect((await Promise.all(jobs)).map((r) => r.payload.length)).toEqual(Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 1500 : 10)));
    await net.idle(2000);
    for (const ep of [client, server]) {
      const sizes = ep.messageTableSizes;
      expect(sizes.seen).toBeLessThanOrEqual(16);
      expect(sizes.outstanding).toBeLessThanOrEqual(16);
      expect(sizes.agentByMessageId).toBe(0);
      expect(sizes.agentByToken).toBe(0);
    }
  });
});

describe('CoapEndpoint: node-coap halves on demand', () => {
  it('creates the Agent for a request and the Server for an incoming request, and releases the idle Agent', async () => {
    const net = network();
    const a = endpoint(net, { agentIdleMs: 20 });
    const b = endpoint(net);
    b.onRequest(() => ({ code: '2.05', payload: 'x' }));
    expect(a.nodeCoapHalves).toEqual({ agent: false, server: false });
    expect(b.nodeCoapHalves).toEqual({ agent: false, server: false });
    expect((await a.request({ host: HOST, port: b.address().port, path: '/1' })).code).toBe('2.05');
    // A plain request is answered by the fast path: no node-coap Server yet.
    expect(b.nodeCoapHalves).toEqual({ agent: false, server: false });
    // An Explicit Block2 request is not plain: node-coap's Server is created for it.
    expect((await a.request({ host: HOST, port: b.address().port, path: '/1', block2: { num: 0, szx: 6 } })).code).toBe('2.05');
    expect(b.nodeCoapHalves).toEqual({ agent: false, server: true });
    expect(a.nodeCoapHalves.server).toBe(false);
    const deadline = Date.now() + 3000;
    while (a.nodeCoapHalves.agent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(a.nodeCoapHalves.agent).toBe(false);
    // A new Agent for the next request, NON this time.
    expect((await a.request({ host: HOST, port: b.address().port, path: '/2', confirmable: false })).code).toBe('2.05');
    expect(a.messageTableSizes).toMatchObject({ agentByMessageId: 0, agentByToken: 0 });
  });

  it('still rejects a CON response matching no request with RST (RFC 7252 §4.2) when no Agent exists', async () => {
    const net = network();
    const ep = endpoint(net);
    const peer = new ScriptedPeer(net);
    peer.send({ code: '2.05', messageId: 91, confirmable: true, token: Buffer.from('feedbeef', 'hex') }, ep.address().port);
    const { packet } = await peer.next();
    expect(packet).toMatchObject({ code: '0.00', reset: true, messageId: 91 });
  });
});

describe('CoapEndpoint: one socket, both directions', () => {
  it('routes interleaved requests in both directions (CON and NON) without RST or mix-ups', async () => {
    const net = network({ delayMs: [0, 3], reorder: true, seed: 11 });
    const log = wire(net);
    const a = endpoint(net);
    const b = endpoint(net);
    let handledByA = 0;
    let handledByB = 0;
    a.onRequest(async (req) => {
      handledByA++;
      return { code: '2.05', payload: `A:${req.path}:${req.payload.toString()}` };
    });
    b.onRequest((req) => {
      handledByB++;
      return { code: '2.05', payload: `B:${req.path}:${req.payload.toString()}` };
    });
    const N = 40;
    const jobs: Array<Promise<[string, CoapResponse]>> = [];
    for (let i = 0; i < N; i++) {
      const confirmable = i % 4 !== 0;
      jobs.push(a.request({ host: HOST, port: b.address().port, method: 'PUT', path: `/b/${i}`, payload: `a${i}`, confirmable }).then((r) => [`B:/b/${i}:a${i}`, r]));
      jobs.push(b.request({ host: HOST, port: a.address().port, method: 'PUT', path: `/a/${i}`, payload: `b${i}`, confirmable }).then((r) => [`A:/a/${i}:b${i}`, r]));
    }
    for (const [expected, res] of await Promise.all(jobs)) {
      expect(res.code).toBe('2.05');
      expect(res.payload.toString()).toBe(expected);
    }
    expect(handledByA).toBe(N);
    expect(handledByB).toBe(N);
    await net.idle(2000);
    expect(log.filter((w) => w.packet.reset)).toEqual([]);
    // Late duplicate ACKs are dropped as unmatched; there can be no more of them than retransmissions.
    const cons = log.filter((w) => w.packet.confirmable).map((w) => `${w.from}|${w.packet.messageId}`);
    const retransmissions = cons.length - new Set(cons).size;
    expect(a.messageStats.unmatched + b.messageStats.unmatched).toBeLessThanOrEqual(retransmissions);
  });

  it('keeps an ACK for our request apart from a peer request that reuses the same MID', async () => {
    const net = network();
    const ep = endpoint(net);
    const peer = new ScriptedPeer(net);
    let handled = 0;
    ep.onRequest((req) => {
      handled++;
      return { code: '2.05', payload: `served ${req.path}` };
    });
    const pending = ep.request({ host: HOST, port: peer.port, path: '/ours' });
    const { packet: ours } = await peer.next();
    // The peer sends its own CON request carrying the very MID of our pending request…
    peer.send({ code: 'GET', confirmable: true, messageId: ours.messageId, token: Buffer.from('peer'), options: [{ name: 'Uri-Path', value: Buffer.from('theirs') }] }, ep.address().port);
    const { packet: served } = await peer.next((p) => p.ack);
    expect(served).toMatchObject({ code: '2.05', messageId: ours.messageId });
    expect(served.token.toString()).toBe('peer');
    // …then acknowledges ours (empty ACK) and answers separately.
    peer.send({ code: '0.00', ack: true, messageId: ours.messageId }, ep.address().port);
    peer.send({ code: '2.05', confirmable: true, messageId: 4242, token: ours.token, payload: Buffer.from('late') }, ep.address().port);
    const res = await pending;
    expect(res.payload.toString()).toBe('late');
    const { packet: ack } = await peer.next((p) => p.ack);
    expect(ack).toMatchObject({ code: '0.00', messageId: 4242 });
    expect(handled).toBe(1);
  });

  it('draws the MIDs of both halves from one generator (RFC 7252 §4.4)', async () => {
    const net = network();
    const log = wire(net);
    const a = endpoint(net, { piggybackReplyMs: 5 });
    const b = endpoint(net);
    let handle: ServerObservation | undefined;
    a.onRequest(async (req) => {
      if (req.observation) handle = req.observation;
      else await new Promise<void>((r) => setImmediate(r)); // forces a separate response sometimes
      return { code: '2.05', payload: 'x' };
    });
    b.onRequest(() => ({ code: '2.04' }));
    const obs = await b.observe({ host: HOST, port: a.address().port, path: '/obs' });
    expect(obs.active).toBe(true);
    for (let i = 0; i < 5; i++) {
      await a.request({ host: HOST, port: b.address().port, method: 'POST', path: `/r/${i}` });
      handle?.notify({ payload: String(i), confirmable: i % 2 === 0 });
      await b.request({ host: HOST, port: a.address().port, path: `/get/${i}` });
    }
    await net.idle(2000);
    // Every CON/NON that A originated (requests, notifications, separate responses) in send order.
    const mids = distinct(log.filter((w) => w.from === a.address().port && !w.packet.ack && !w.packet.reset)).map((w) => w.packet.messageId);
    expect(mids.length).toBeGreaterThanOrEqual(10);
    mids.slice(1).forEach((m, i) => expect(m).toBe(((mids[i] as number) + 1) & 0xffff));
  });
});

describe('CoapEndpoint: reliability and deduplication', () => {
  it('completes requests under 30 % loss by retransmission, handling each once', async () => {
    const net = network({ loss: 0.3, seed: 2024 });
    const client = endpoint(net, { timing: { ...FAST, ackTimeoutMs: 15, maxRetransmit: 8 } });
    const server = endpoint(net, { timing: { ...FAST, ackTimeoutMs: 15, maxRetransmit: 8 } });
    let handled = 0;
    server.onRequest((req) => {
      handled++;
      return { code: '2.04', payload: req.payload };
    });
    for (let i = 0; i < 12; i++) {
      const res = await client.request({ host: HOST, port: server.address().port, method: 'PUT', path: '/3/0/13', payload: `v${i}` });
      expect(res.code).toBe('2.04');
      expect(res.payload.toString()).toBe(`v${i}`);
    }
    expect(handled).toBe(12);
    expect(net.stats.lost).toBeGreaterThan(0);
    expect(net.stats.sent).toBeGreaterThan(24); // retransmissions happened
  });

  it('answers a retransmitted CON from the message cache instead of handling it twice', async () => {
    const net = network();
    const ep = endpoint(net);
    const peer = new ScriptedPeer(net);
    let handled = 0;
    ep.onRequest(() => {
      handled++;
      return { code: '2.05', payload: `call ${handled}` };
    });
    const request: Packet = { code: 'GET', confirmable: true, messageId: 1000, token: Buffer.from([1, 2, 3]), options: [{ name: 'Uri-Path', value: Buffer.from('3') }] };
    peer.send(request, ep.address().port);
    const first = await peer.next();
    peer.send(request, ep.address().port); // the ACK "was lost": same MID again (RFC 7252 §4.5)
    const second = await peer.next();
    expect(handled).toBe(1);
    expect(second.packet.payload.toString()).toBe('call 1');
    expect(generate(second.packet)).toEqual(generate(first.packet));
    expect(ep.messageStats.duplicatesAnswered).toBe(1);
  });

  it('keeps MIDs per peer: the same MID from two peers is two requests, and many peers stay within the bound', async () => {
    const net = network();
    const ep = endpoint(net, { messageCacheEntries: 8 });
    expect(ep.messageTableSizes).toMatchObject({ seen: 0, outstanding: 0 });
    let handled = 0;
    ep.onRequest(() => ({ code: '2.05', payload: `call ${++handled}` }));
    const peers = Array.from({ length: 6 }, () => new ScriptedPeer(net));
    // RFC 7252 §4.5: a duplicate is the same MID from the same endpoint — not from another one.
    for (const [i, p] of peers.entries()) {
      for (const mid of [7, 8]) {
        p.send({ code: 'GET', confirmable: true, messageId: mid, token: Buffer.from([i, mid]), options: [{ name: 'Uri-Path', value: Buffer.from('3') }] }, ep.address().port);
        await p.next();
      }
    }
    expect(handled).toBe(12);
    expect(ep.messageStats.duplicatesAnswered).toBe(0);
    expect(ep.messageTableSizes.seen).toBeLessThanOrEqual(8);
    // The last peer's entries are still there: its retransmission is answered from the cache.
    const last = peers[5] as ScriptedPeer;
    last.send({ code: 'GET', confirmable: true, messageId: 8, token: Buffer.from([5, 8]), options: [{ name: 'Uri-Path', value: Buffer.from('3') }] }, ep.address().port);
    expect((await last.next()).packet.payload.toString()).toBe('call 12');
    expect(handled).toBe(12);
    expect(ep.messageStats.duplicatesAnswered).toBe(1);
  });

  it('answers a synchronous handler inside the same turn and a Block2-sized one with all its options', async () => {
    const net = network();
    const ep = endpoint(net);
    const client = endpoint(net);
    ep.onRequest((req) => (req.path === '/big'
      ? { code: '2.05', contentFormat: 42, payload: Buffer.alloc(3000, 1) }
      : { code: '2.05', contentFormat: 0, payload: 'small' }));
    const small = await client.request({ host: HOST, port: ep.address().port, path: '/small' });
    expect([small.code, small.contentFormat, small.payload.toString()]).toEqual(['2.05', 0, 'small']);
    const big = await client.request({ host: HOST, port: ep.address().port, path: '/big' });
    expect([big.code, big.contentFormat, big.payload.length]).toEqual(['2.05', 42, 3000]);
  });

  it('drops a duplicate that arrives while the first copy is still being handled', async () => {
    const net = network();
    const ep = endpoint(net, { piggybackReplyMs: 1000 });
    const peer = new ScriptedPeer(net);
    const release = deferred<void>();
    let handled = 0;
    ep.onRequest(async () => {
      handled++;
      await release.promise;
      return { code: '2.05' };
    });
    const request: Packet = { code: 'GET', confirmable: true, messageId: 5, token: Buffer.from([9]) };
    peer.send(request, ep.address().port);
    peer.send(request, ep.address().port);
    await expect.poll(() => ep.messageStats.duplicatesDropped, { timeout: 2000, interval: 5 }).toBe(1);
    release.resolve();
    await peer.next();
    await net.idle(2000);
    expect(handled).toBe(1);
  });

  it('node-coap alone (canary): over a non-dgram socket its server handles a retransmitted CON twice', async () => {
    // Why src/coap/mux.ts does duplicate detection itself: server.js replays its cache only when
    // `sock instanceof dgram.Socket`. If this starts failing, node-coap changed and mux.ts may simplify.
    const net = network();
    const socket = net.createSocket();
    const server = createServer({ cacheSize: 65536 });
    let handled = 0;
    server.on('request', (_req: unknown, res: { end(p?: Buffer): void }) => {
      handled++;
      res.end(Buffer.from('x'));
    });
    server.listen(socket);
    cleanups.push(() => void server.close());
    const peer = new ScriptedPeer(net);
    const request: Packet = { code: 'GET', confirmable: true, messageId: 1, token: Buffer.from([1]) };
    peer.send(request, socket.localPort);
    await peer.next();
    peer.send(request, socket.localPort);
    await peer.next();
    expect(handled).toBe(2);
  });

  it('survives a network that duplicates every datagram (requests, Block2, Block1)', async () => {
    const net = network({ duplicate: 1, delayMs: [0, 2], reorder: true, seed: 5 });
    const client = endpoint(net);
    const server = endpoint(net);
    const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));
    let handled = 0;
    server.onRequest((req) => {
      handled++;
      if (req.method === 'GET') return { code: '2.05', payload: big, contentFormat: 42 };
      return { code: '2.04', payload: req.payload.equals(big) ? 'same' : 'different' };
    });
    for (let i = 0; i < 3; i++) {
      const get = await client.request({ host: HOST, port: server.address().port, path: '/5/0/0' });
      expect(get.payload.equals(big)).toBe(true);
      const put = await client.request({ host: HOST, port: server.address().port, method: 'PUT', path: '/5/0/0', payload: big });
      expect(put.payload.toString()).toBe('same');
    }
    expect(handled).toBe(6);
    expect(net.stats.duplicated).toBeGreaterThan(0);
  });
});

describe('CoapEndpoint: block-wise transfers', () => {
  it('Block2: a 10 KB response arrives whole, in 10 blocks, keeping its Content-Format', async () => {
    const net = network();
    const log = wire(net);
    const client = endpoint(net);
    const server = endpoint(net);
    const body = Buffer.from(Array.from({ length: 10 * 1024 }, (_, i) => (i * 31 + 7) & 0xff));
    let handled = 0;
    server.onRequest(async () => {
      handled++;
      return { code: '2.05', payload: body, contentFormat: 11542 };
    });
    const res = await client.request({ host: HOST, port: server.address().port, path: '/3' });
    expect(res.code).toBe('2.05');
    expect(res.payload.equals(body)).toBe(true);
    expect(res.contentFormat).toBe(11542);
    expect(handled).toBe(1);
    const responses = distinct(log.filter((w) => w.from === server.address().port));
    expect(responses.map((w) => blockOf(w.packet, 'Block2'))).toEqual(
      Array.from({ length: 10 }, (_, num) => ({ num, more: num < 9, szx: 6 })),
    );
    // Every block carries the Content-Format (node-coap alone drops it from the third block on).
    expect(responses.every((w) => option(w.packet, 'Content-Format')?.equals(encodeUint(11542)))).toBe(true);
  });

  it('Block1: a 10 KB request goes out in 10 blocks with one token and is handled once', async () => {
    const net = network();
    const log = wire(net);
    const client = endpoint(net);
    const server = endpoint(net);
    const body = Buffer.from(Array.from({ length: 10 * 1024 }, (_, i) => (i * 13) & 0xff));
    const received: Buffer[] = [];
    server.onRequest((req) => {
      received.push(req.payload);
      return { code: '2.04' };
    });
    const res = await client.request({ host: HOST, port: server.address().port, method: 'PUT', path: '/5/0/0', payload: body, contentFormat: 42 });
    expect(res.code).toBe('2.04');
    expect(received).toHaveLength(1);
    expect(received[0]?.equals(body)).toBe(true);
    const requests = distinct(log.filter((w) => w.from === client.address().port && w.packet.code === '0.03'));
    expect(requests.map((w) => blockOf(w.packet, 'Block1'))).toEqual(Array.from({ length: 10 }, (_, num) => ({ num, more: num < 9, szx: 6 })));
    expect(new Set(requests.map((w) => w.packet.token.toString('hex'))).size).toBe(1);
    expect(option(requests[0]!.packet, 'Size1')).toEqual(encodeUint(10 * 1024)); // RFC 7959 §4
    const continues = distinct(log.filter((w) => w.from === server.address().port && w.packet.code === '2.31'));
    expect(continues).toHaveLength(9);
  });

  it('Block1 with a configured block size of 256', async () => {
    const net = network();
    const log = wire(net);
    const client = endpoint(net, { block1Size: 256 });
    const server = endpoint(net);
    const body = Buffer.alloc(3000, 0x5a);
    server.onRequest((req) => ({ code: '2.04', payload: String(req.payload.length) }));
    const res = await client.request({ host: HOST, port: server.address().port, method: 'POST', path: '/5/0/0', payload: body });
    expect(res.payload.toString()).toBe('3000');
    const blocks = distinct(log.filter((w) => w.from === client.address().port && option(w.packet, 'Block1'))).map((w) => blockOf(w.packet, 'Block1'));
    expect(blocks).toHaveLength(12);
    expect(blocks.every((b) => b?.szx === 4)).toBe(true);
  });

  it('Block1 follows a server that asks for smaller blocks in 2.31 (RFC 7959 §2.5)', async () => {
    const net = network();
    const client = endpoint(net);
    const peer = new ScriptedPeer(net);
    const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
    const pending = client.request({ host: HOST, port: peer.port, method: 'PUT', path: '/5/0/0', payload: body });
    const assembled: Buffer[] = [];
    const seen: Array<[number, number, number]> = [];
    for (let round = 0; round < 20; round++) {
      const { packet } = await peer.next();
      const b = blockOf(packet, 'Block1') as BlockValue;
      seen.push([b.num, b.szx, packet.payload.length]);
      assembled.push(packet.payload);
      if (!b.more) {
        peer.send({ code: '2.04', ack: true, messageId: packet.messageId, token: packet.token, options: [{ name: 'Block1', value: encodeBlock(b) }] }, client.address().port);
        break;
      }
      // Always prefer 256-byte blocks.
      const ack = encodeBlock({ num: b.num, more: true, szx: Math.min(b.szx, 4) });
      peer.send({ code: '2.31', ack: true, messageId: packet.messageId, token: packet.token, options: [{ name: 'Block1', value: ack }] }, client.address().port);
    }
    const res = await pending;
    expect(res.code).toBe('2.04');
    expect(Buffer.concat(assembled).equals(body)).toBe(true);
    // Block 0 of 1024 bytes, then 256-byte blocks numbered from byte offset 1024 (num 4).
    expect(seen.slice(0, 3)).toEqual([[0, 6, 1024], [4, 4, 256], [5, 4, 256]]);
    expect(seen.at(-1)).toEqual([11, 4, 3000 - 11 * 256]);
  });

  it('Block1 restarts smaller after 4.13 with a Block1 hint, and gives up when Size1 is too small', async () => {
    const net = network();
    const client = endpoint(net);
    const peer = new ScriptedPeer(net);
    const body = Buffer.alloc(2048, 1);
    const pending = client.request({ host: HOST, port: peer.port, method: 'PUT', path: '/5/0/0', payload: body });
    const first = (await peer.next()).packet;
    expect(blockOf(first, 'Block1')).toEqual({ num: 0, more: true, szx: 6 });
    // RFC 7959 §2.9.3: too large per block, 512 preferred.
    peer.send({ code: '4.13', ack: true, messageId: first.messageId, token: first.token, options: [{ name: 'Block1', value: encodeBlock({ num: 0, more: false, szx: 5 }) }] }, client.address().port);
    const tokens = new Set<string>([first.token.toString('hex')]);
    for (let round = 0; round < 10; round++) {
      const { packet } = await peer.next();
      const b = blockOf(packet, 'Block1') as BlockValue;
      expect(b.szx).toBe(5);
      tokens.add(packet.token.toString('hex'));
      peer.send({ code: b.more ? '2.31' : '2.04', ack: true, messageId: packet.messageId, token: packet.token, options: [{ name: 'Block1', value: encodeBlock(b) }] }, client.address().port);
      if (!b.more) break;
    }
    expect((await pending).code).toBe('2.04');
    expect(tokens.size).toBe(2); // the restart is a new transfer with a new token

    const tooBig = client.request({ host: HOST, port: peer.port, method: 'PUT', path: '/5/0/0', payload: body });
    const again = (await peer.next()).packet;
    peer.send({ code: '4.13', ack: true, messageId: again.messageId, token: again.token, options: [{ name: 'Size1', value: encodeUint(1000) }] }, client.address().port);
    const res = await tooBig;
    expect(res.code).toBe('4.13');
    expect(res.size1).toBe(1000);
  });

  it('an endpoint refuses a Block1 body above maxRequestBodySize with 4.13 and Size1', async () => {
    const net = network();
    const client = endpoint(net);
    const server = endpoint(net, { maxRequestBodySize: 4096 });
    let handled = 0;
    server.onRequest(() => {
      handled++;
      return { code: '2.04' };
    });
    const res = await client.request({ host: HOST, port: server.address().port, method: 'PUT', path: '/5/0/0', payload: Buffer.alloc(10_000) });
    expect(res.code).toBe('4.13');
    expect(res.size1).toBe(4096);
    expect(handled).toBe(0);
    const ok = await client.request({ host: HOST, port: server.address().port, method: 'PUT', path: '/5/0/0', payload: Buffer.alloc(4000) });
    expect(ok.code).toBe('2.04');
  });
});

describe('CoapEndpoint: observe', () => {
  async function observed(net: MemoryNetwork, options: Partial<CoapEndpointOptions> = {}) {
    const client = endpoint(net);
    const server = endpoint(net, options);
    const registered = deferred<ServerObservation>();
    const ended = deferred<ObservationEndReason>();
    let value = 20;
    server.onRequest((req) => {
      if (req.observation) {
        req.observation.onEnd((r) => ended.resolve(r));
        registered.resolve(req.observation);
      }
      return { code: '2.05', payload: String(value++), contentFormat: 0 };
    });
    const obs = await client.observe({ host: HOST, port: server.address().port, path: '/3303/0/5700', accept: 0 });
    const handle = await within(registered.promise, 'registration');
    return { client, server, obs, handle, ended: ended.promise };
  }

  it('delivers notifications in order (CON and NON) and cancels proactively', async () => {
    const net = network();
    const { obs, handle, ended } = await observed(net);
    expect(obs.active).toBe(true);
    expect(obs.response).toMatchObject({ code: '2.05', contentFormat: 0 });
    expect(obs.response.payload.toString()).toBe('20');
    expect(obs.response.observe).toBeDefined();
    expect(handle.active).toBe(true);

    const received: CoapResponse[] = [];
    const iterator = obs[Symbol.asyncIterator]();
    handle.notify({ payload: '21', contentFormat: 0 });
    handle.notify({ payload: '22', confirmable: true });
    handle.notify({ payload: '23' });
    for (let i = 0; i < 3; i++) {
      const next = await within(iterator.next(), 'notification');
      if (!next.done) received.push(next.value);
    }
    expect(received.map((n) => n.payload.toString())).toEqual(['21', '22', '23']);
    const seqs = received.map((n) => n.observe as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(3);

    const final = await obs.cancel();
    expect(final?.code).toBe('2.05');
    expect(final?.observe).toBeUndefined();
    expect(await within(ended, 'end of observation')).toBe('deregistered');
    expect(handle.active).toBe(false);
    expect(obs.active).toBe(false);
    expect(() => handle.notify({ payload: 'x' })).toThrow(/not active/);
    expect((await within(iterator.next(), 'end of iteration')).done).toBe(true);
  });

  it('reactive cancel: the next NON notification is answered with RST and ends the observation', async () => {
    const net = network();
    const log = wire(net);
    const { obs, handle, ended, client } = await observed(net);
    await obs.cancel({ proactive: false });
    handle.notify({ payload: 'after' });
    expect(await within(ended, 'reset')).toBe('reset');
    expect(log.some((w) => w.from === client.address().port && w.packet.reset)).toBe(true);
  });

  it('reactive cancel of a CON notification', async () => {
    const net = network();
    const { obs, handle, ended } = await observed(net);
    await obs.cancel({ proactive: false });
    handle.notify({ payload: 'after', confirmable: true });
    expect(await within(ended, 'reset')).toBe('reset');
  });

  it('the server ends an observation with a non-2.xx notification', async () => {
    const net = network();
    const { obs, handle, ended } = await observed(net);
    const notes: CoapResponse[] = [];
    obs.onNotification((n) => notes.push(n));
    handle.end({ code: '4.04', payload: 'gone' });
    await within(obs.ended, 'client side end');
    expect(await within(ended, 'server side end')).toBe('ended');
    expect(notes.map((n) => [n.code, n.payload.toString(), n.observe])).toEqual([['4.04', 'gone', undefined]]);
    expect(obs.active).toBe(false);
  });

  it('an error answer does not establish an observation', async () => {
    const net = network();
    const client = endpoint(net);
    const server = endpoint(net);
    server.onRequest(() => ({ code: '4.04' }));
    const obs = await client.observe({ host: HOST, port: server.address().port, path: '/9/9' });
    expect(obs.active).toBe(false);
    expect(obs.response.code).toBe('4.04');
    expect((await within(obs[Symbol.asyncIterator]().next(), 'iteration end')).done).toBe(true);
  });

  it('a slow observe handler gets an empty ACK, then a separate CON with Observe', async () => {
    const net = network();
    const log = wire(net);
    const client = endpoint(net);
    const server = endpoint(net, { piggybackReplyMs: 10 });
    const release = deferred<void>();
    server.onRequest(async () => {
      await release.promise;
      return { code: '2.05', payload: 'slow' };
    });
    const pending = client.observe({ host: HOST, port: server.address().port, path: '/3/0/13' });
    await expect.poll(() => log.some((w) => w.packet.ack && w.packet.code === '0.00'), { timeout: 2000, interval: 5 }).toBe(true);
    release.resolve();
    const obs = await pending;
    expect(obs.active).toBe(true);
    expect(obs.response.payload.toString()).toBe('slow');
    const first = log.find((w) => w.from === server.address().port && w.packet.code === '2.05');
    expect(first && typeOf(first.packet)).toBe('CON');
    expect(first && option(first.packet, 'Observe')).toBeDefined();
  });

  it('refuses notifications larger than one message', async () => {
    const net = network();
    const { handle } = await observed(net);
    let error: unknown;
    try {
      handle.notify({ payload: Buffer.alloc(2000) });
    } catch (e) {
      error = e;
    }
    expect(isCoapError(error) && error.code).toBe('COAP_TOO_LARGE');
    expect(handle.active).toBe(true);
  });
});

describe('CoapEndpoint: timing per endpoint', () => {
  it('retransmits on its own schedule, gives up after MAX_RETRANSMIT and leaves node-coap globals untouched', async () => {
    const net = network();
    const sends = new Map<number, number[]>();
    const silent = new ScriptedPeer(net); // never answers
    net.tap((e) => {
      if (e.kind === 'sent' && e.to.port === silent.port) {
        const list = sends.get(e.from.port) ?? [];
        list.push(performance.now());
        sends.set(e.from.port, list);
      }
    });
    const quick = endpoint(net, { timing: { ackTimeoutMs: 20, ackRandomFactor: 1, maxRetransmit: 3, maxLatencyMs: 500 } });
    const slow = endpoint(net, { timing: { ackTimeoutMs: 80, ackRandomFactor: 1, maxRetransmit: 2, maxLatencyMs: 500 } });
    const results = await Promise.allSettled([
      quick.request({ host: HOST, port: silent.port, path: '/q' }),
      slow.request({ host: HOST, port: silent.port, path: '/s' }),
    ]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(r.status === 'rejected' && isCoapError(r.reason) && r.reason.code).toBe('COAP_TIMEOUT');
    }
    const q = sends.get(quick.address().port) ?? [];
    const s = sends.get(slow.address().port) ?? [];
    expect(q).toHaveLength(4); // 1 + MAX_RETRANSMIT
    expect(s).toHaveLength(3);
    const gaps = (t: number[]) => t.slice(1).map((v, i) => v - (t[i] as number));
    // Exponential back-off from each endpoint's own ACK_TIMEOUT (timer slack allowed upwards).
    gaps(q).forEach((g, i) => expect(g).toBeGreaterThanOrEqual(20 * 2 ** i - 2));
    gaps(s).forEach((g, i) => expect(g).toBeGreaterThanOrEqual(80 * 2 ** i - 2));
    expect(gaps(q)[0]).toBeLessThan(80);
    expect(parameters.ackTimeout).toBe(2);
    expect(parameters.maxRetransmit).toBe(4);
  });
});
