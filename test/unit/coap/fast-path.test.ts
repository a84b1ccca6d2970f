import { generate, parse, type Packet } from 'coap-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { LwM2MError } from '../../../src/core/errors.js';
import { CoapEndpoint, type CoapReply, type IncomingCoapRequest } from '../../../src/coap/endpoint.js';
import { encodeUint } from '../../../src/coap/message.js';
import { MemoryNetwork, type MemorySocket } from '../../../src/transport/memory.js';

const HOST = '127.0.0.1';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A handler answering from the request path, so every row of the table gets a different reply. */
function handler(seen: IncomingCoapRequest[]) {
  return (req: IncomingCoapRequest): CoapReply | Promise<CoapReply> => {
    seen.push(req);
    switch (req.path) {
      case '/3/0/0': return { code: '2.05', payload: 'Open Mobile Alliance', contentFormat: 0 };
      case '/rd': return { code: '2.01', locationPath: ['rd', 'abc'] };
      case '/etag': return { code: '2.05', payload: Buffer.of(1, 2, 3), etag: Buffer.of(9, 9), maxAge: 30, contentFormat: 11542 };
      case '/empty': return { code: '2.04' };
      case '/throw': throw new LwM2MError('NOT_FOUND', 'no such thing');
      case '/async': return Promise.resolve({ code: '2.05', payload: `async ${req.query.join('&')}` });
      case '/big': return { code: '2.05', payload: Buffer.alloc(1500, 7) };
      case '/query': return { code: '2.05', payload: `${req.method} ${req.query.join('&')} cf=${req.contentFormat} accept=${req.accept} ${req.payload.toString()}` };
      default: return { code: '4.04' };
    }
  };
}

function request(p: Partial<Packet> & { path: string; query?: string[] }): Buffer {
  const options: NonNullable<Packet['options']> = [];
  for (const s of p.path.split('/').filter((x) => x !== '')) options.push({ name: 'Uri-Path', value: Buffer.from(s) });
  for (const q of p.query ?? []) options.push({ name: 'Uri-Query', value: Buffer.from(q) });
  for (const o of p.options ?? []) options.push(o);
  return generate({ code: p.code ?? '0.01', messageId: p.messageId ?? 1, token: p.token ?? Buffer.of(0xab, 0xcd), confirmable: p.confirmable ?? true, options, ...(p.payload ? { payload: p.payload } : {}) });
}

const TABLE: Array<{ name: string; msg: Buffer }> = [
  { name: 'CON GET text', msg: request({ path: '/3/0/0', messageId: 10, options: [{ name: 'Accept', value: encodeUint(0) }] }) },
  { name: 'NON GET text', msg: request({ path: '/3/0/0', messageId: 11, confirmable: false, token: Buffer.of(1) }) },
  { name: 'CON POST register-like', msg: request({ code: '0.02', path: '/rd', query: ['ep=x', 'lt=60'], messageId: 12, payload: Buffer.from('</1/0>'), options: [{ name: 'Content-Format', value: encodeUint(40) }] }) },
  { name: 'ETag, Max-Age, CF', msg: request({ path: '/etag', messageId: 13, token: Buffer.alloc(0) }) },
  { name: 'empty 2.04', msg: request({ code: '0.03', path: '/empty', messageId: 14, payload: Buffer.from('v') }) },
  { name: 'throwing handler', msg: request({ path: '/throw', messageId: 15 }) },
  { name: 'async handler (node-coap path)', msg: request({ path: '/async', query: ['a=1'], messageId: 16 }) },
  { name: '1500-byte reply (Block2 by node-coap)', msg: request({ path: '/big', messageId: 17 }) },
  { name: 'FETCH with CF and payload', msg: request({ code: '0.05', path: '/query', query: ['q'], messageId: 18, payload: Buffer.from('{}'), options: [{ name: 'Content-Format', value: encodeUint(11543) }, { name: 'Accept', value: encodeUint(112) }] }) },
  { name: 'unknown path', msg: request({ code: '0.04', path: '/nothing', messageId: 19 }) },
  { name: 'elective unknown option (node-coap path)', msg: request({ path: '/3/0/0', messageId: 20, options: [{ name: '2048' as 'ETag', value: Buffer.of(1) }] }) },
];

async function answers(fastPath: boolean): Promise<{ replies: Buffer[]; seen: IncomingCoapRequest[]; server: boolean; peer: MemorySocket; port: number; net: MemoryNetwork; ep: CoapEndpoint }> {
  const net = new MemoryNetwork({ clock: systemClock });
  cleanups.push(() => net.close());
  const seen: IncomingCoapRequest[] = [];
  const ep = new CoapEndpoint({ socket: net.createSocket(), fastPath, handler: handler(seen) });
  cleanups.push(() => ep.close());
  const peer = net.createSocket();
  const replies: Buffer[] = [];
  peer.on('message', (m: Buffer) => replies.push(m));
  const port = ep.address().port;
  for (const row of TABLE) {
    const before = replies.length;
    peer.send(row.msg, 0, row.msg.length, port, HOST);
    const deadline = Date.now() + 2000;
    while (replies.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    expect(replies.length, row.name).toBe(before + 1);
  }
  return { replies, seen, server: ep.nodeCoapHalves.server, peer, port, net, ep };
}

/** Everything but the MID of a NON response (each endpoint draws its own, RFC 7252 §4.4). */
function semantics(b: Buffer) {
  const p = parse(b);
  return {
    code: p.code, confirmable: p.confirmable, ack: p.ack, reset: p.reset,
    messageId: p.ack ? p.messageId : 'fresh', token: p.token.toString('hex'),
    options: p.options.map((o) => [o.name, o.value.toString('hex')]), payload: p.payload.toString('hex'),
  };
}

describe('CoapEndpoint fast path', () => {
  it('answers a table of requests with the same messages as node-coap\'s Server, and the handler sees the same requests', async () => {
    const fast = await answers(true);
    const slow = await answers(false);
    for (const [i, row] of TABLE.entries()) {
      expect(semantics(fast.replies[i] as Buffer), row.name).toEqual(semantics(slow.replies[i] as Buffer));
      const req = parse(row.msg);
      if (req.ack === false && req.confirmable) expect(parse(fast.replies[i] as Buffer).messageId, row.name).toBe(req.messageId);
    }
    // The piggybacked ones are byte for byte the same.
    for (const [i] of TABLE.entries()) {
      if (parse(fast.replies[i] as Buffer).ack) expect((fast.replies[i] as Buffer).equals(slow.replies[i] as Buffer), TABLE[i]?.name).toBe(true);
    }
    const strip = (r: IncomingCoapRequest) => ({ ...r, observation: undefined, block2: undefined, payload: r.payload.toString('hex'), token: r.token.toString('hex') });
    expect(fast.seen.map(strip)).toEqual(slow.seen.map(strip));
    expect(fast.seen).toHaveLength(TABLE.length); // every row calls the handler exactly once
  });

  it('calls the handler once for a request it leaves to node-coap (async answer, large reply)', async () => {
    const fast = await answers(true);
    expect(fast.seen.map((r) => r.path)).toEqual(TABLE.map((r) => parse(r.msg).options.filter((o) => o.name === 'Uri-Path').map((o) => `/${o.value.toString()}`).join('')).map((p) => p.replace(/\/\//g, '/')));
    expect(fast.server).toBe(true); // created only for the rows the fast path left to it
  });

  it('replays the same piggybacked ACK for a retransmitted CON without calling the handler again (RFC 7252 §4.5)', async () => {
    const net = new MemoryNetwork({ clock: systemClock });
    cleanups.push(() => net.close());
    const seen: IncomingCoapRequest[] = [];
    const ep = new CoapEndpoint({ socket: net.createSocket(), handler: handler(seen) });
    cleanups.push(() => ep.close());
    const peer = net.createSocket();
    const replies: Buffer[] = [];
    peer.on('message', (m: Buffer) => replies.push(m));
    const msg = request({ path: '/3/0/0', messageId: 777 });
    for (let n = 1; n <= 2; n++) {
      peer.send(msg, 0, msg.length, ep.address().port, HOST);
      const deadline = Date.now() + 2000;
      while (replies.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    }
    expect(replies).toHaveLength(2);
    expect((replies[0] as Buffer).equals(replies[1] as Buffer)).toBe(true);
    expect(parse(replies[0] as Buffer)).toMatchObject({ ack: true, messageId: 777, code: '2.05' });
    expect(seen).toHaveLength(1);
    expect(ep.messageStats.duplicatesAnswered).toBe(1);
    expect(ep.nodeCoapHalves.server).toBe(false);
  });
});
