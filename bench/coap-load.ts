/**
 * The load generator of bench:client and bench:server, run in a worker thread so that it has its own
 * core and its own heap (the main thread's heap then holds only what is measured).
 *
 * It speaks CoAP directly with coap-packet (node-coap's own codec) over plain dgram sockets on
 * 127.0.0.1: no retransmissions, one bounded pool of outstanding CON requests, every run bounded in count
 * and time. The same generator drives our stack and the raw node-coap baseline in the same run.
 *
 * Roles, per command from the main thread:
 * - `read`: CON GET /3/0/0 from socket 0 to a list of target ports, round robin.
 * - `register` / `update`: client i (its own socket) sends POST /rd?ep=… / POST /rd/<location>.
 * - `notify`: client i sends a CON 2.05 notification for the observation a server established on it.
 * - device role, always on: answers GET /3/0/0 with Observe 0 (2.05, Observe, text) and remembers the
 *   observer's token, so that `notify` can notify it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { generate, parse, type ParsedPacket } from 'coap-packet';

export type LoadCommand =
  | { type: 'open'; count: number }
  | { type: 'read'; targets: number[]; concurrency: number; durationMs: number; maxCount: number }
  | { type: 'register'; target: number; from: number; to: number; epPrefix: string; concurrency: number; durationMs: number }
  | { type: 'update'; target: number; concurrency: number; durationMs: number; maxCount: number }
  | { type: 'notify'; target: number; concurrency: number; durationMs: number; maxCount: number }
  | { type: 'observers'; target: number }
  | { type: 'close' };

export interface LoadResult {
  ok: number;
  failed: number;
  timeouts: number;
  elapsedMs: number;
  perSec: number;
  codes: Record<string, number>;
}

export type LoadReply =
  | { type: 'opened'; ports: number[] }
  | { type: 'result'; result: LoadResult }
  | { type: 'observers'; count: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };

/** A request gets this long before it counts as a timeout (no retransmission: loopback, bounded load). */
const REQUEST_TIMEOUT_MS = 3000;
const LINKS = Buffer.from('</1/0>,</3/0>,</4/0>,</5/0>');
const TEXT = Buffer.from('Open Mobile Alliance');
const EMPTY = Buffer.alloc(0);

interface Client {
  index: number;
  socket: Socket;
  mid: number;
  /** Location (`rd/<id>` segments) per server port. */
  location: Map<number, Buffer[]>;
  /** Observation token per observer port. */
  observers: Map<number, Buffer>;
  observeSeq: number;
}

type Done = (code: string | undefined) => void;

const clients: Client[] = [];
/** By 4-byte token: responses (piggybacked or separate). */
const byToken = new Map<number, Done>();
/** By client index × 65536 + MID: ACK/RST of our CON notifications. */
const byMid = new Map<number, Done>();
let tokenCounter = Math.floor(Math.random() * 0x7fffffff);
/** Per target port: next MID (a device sees consecutive MIDs from us, so duplicate detection never fires). */
const targetMid = new Map<number, number>();

function nextToken(): { token: Buffer; key: number } {
  tokenCounter = (tokenCounter + 1) >>> 0;
  const token = Buffer.allocUnsafe(4);
  token.writeUInt32BE(tokenCounter);
  return { token, key: tokenCounter };
}

function uintBuf(n: number): Buffer {
  if (n === 0) return EMPTY;
  if (n < 0x100) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([n >> 8, n & 0xff]);
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

function onMessage(index: number, msg: Buffer, rinfo: { port: number }): void {
  const c = clients[index];
  if (!c) return;
  let p: ParsedPacket;
  try {
    p = parse(msg);
  } catch {
    return;
  }
  if (p.code === '0.00') {
    // Empty ACK or RST: ours to match only for notifications (an empty ACK to a request means "separate").
    const done = byMid.get(index * 65536 + p.messageId);
    if (done) {
      byMid.delete(index * 65536 + p.messageId);
      done(p.reset ? 'RST' : 'ACK');
    }
    return;
  }
  if (p.code.startsWith('0.')) {
    deviceRequest(c, p, rinfo.port);
    return;
  }
  if (p.confirmable) c.socket.send(generate({ code: '0.00', ack: true, messageId: p.messageId }), rinfo.port, '127.0.0.1');
  if (p.token.length !== 4) return;
  const key = p.token.readUInt32BE(0);
  const done = byToken.get(key);
  if (!done) return;
  byToken.delete(key);
  if (p.code === '2.01') {
    const loc = p.options.filter((o) => o.name === 'Location-Path').map((o) => o.value);
    c.location.set(rinfo.port, loc);
  }
  done(p.code);
}

/** Device role: GET /3/0/0 with Observe 0 → 2.05 with Observe; Observe 1 → forget; else 4.04. */
function deviceRequest(c: Client, p: ParsedPacket, port: number): void {
  const path = p.options.filter((o) => o.name === 'Uri-Path').map((o) => o.value.toString()).join('/');
  const observe = p.options.find((o) => o.name === 'Observe');
  const reply = (code: string, options: Array<{ name: string; value: Buffer }>, payload: Buffer): void => {
    c.socket.send(generate({
      code, token: p.token, messageId: p.messageId, ack: p.confirmable, confirmable: false, options, payload,
    }), port, '127.0.0.1');
  };
  if (p.code !== '0.01' || path !== '3/0/0') {
    reply('4.04', [], EMPTY);
    return;
  }
  const obsValue = observe ? (observe.value.length === 0 ? 0 : observe.value.readUIntBE(0, observe.value.length)) : undefined;
  if (obsValue === 0) {
    c.observers.set(port, Buffer.from(p.token));
    c.observeSeq = (c.observeSeq + 1) & 0xffffff;
    reply('2.05', [{ name: 'Observe', value: uintBuf(c.observeSeq) }, { name: 'Content-Format', value: EMPTY }], TEXT);
    return;
  }
  if (obsValue === 1) c.observers.delete(port);
  reply('2.05', [{ name: 'Content-Format', value: EMPTY }], TEXT);
}

async function open(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const index = clients.length;
    const socket = createSocket({ type: 'udp4', recvBufferSize: index === 0 ? 4 * 1024 * 1024 : 64 * 1024 });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: '127.0.0.1', port: 0 }, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    });
    socket.on('error', () => undefined);
    socket.on('message', (msg, rinfo) => onMessage(index, msg, rinfo));
    clients.push({ index, socket, mid: Math.floor(Math.random() * 0x10000), location: new Map(), observers: new Map(), observeSeq: 0 });
    ports.push(socket.address().port);
  }
  return ports;
}

/**
 * Keeps up to `concurrency` exchanges outstanding until `maxCount` were issued or `durationMs` elapsed,
 * then waits for the outstanding ones (each bounded by REQUEST_TIMEOUT_MS).
 */
function drive(
  concurrency: number, durationMs: number, maxCount: number,
  issue: (n: number, done: Done) => boolean,
): Promise<LoadResult> {
  return new Promise((resolve) => {
    const result: LoadResult = { ok: 0, failed: 0, timeouts: 0, elapsedMs: 0, perSec: 0, codes: {} };
    const start = performance.now();
    let issued = 0;
    let inFlight = 0;
    let stopped = false;
    const finishIfIdle = (): void => {
      if (inFlight > 0) return;
      result.elapsedMs = performance.now() - start;
      result.perSec = (result.ok * 1000) / result.elapsedMs;
      resolve(result);
    };
    const pump = (): void => {
      while (!stopped && inFlight < concurrency) {
        if (issued >= maxCount || performance.now() - start >= durationMs) {
          stopped = true;
          break;
        }
        const n = issued++;
        inFlight++;
        let settled = false;
        const timer = setTimeout(() => complete(undefined), REQUEST_TIMEOUT_MS);
        const complete: Done = (code) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          inFlight--;
          if (code === undefined) result.timeouts++;
          else {
            result.codes[code] = (result.codes[code] ?? 0) + 1;
            if (code.startsWith('2.') || code === 'ACK') result.ok++;
            else result.failed++;
          }
          if (stopped) finishIfIdle();
          else queueMicrotask(pump);
        };
        if (!issue(n, complete)) {
          // Nothing to send for n (e.g. no observation): counts as failed, without waiting.
          complete('none');
        }
      }
      if (stopped) finishIfIdle();
    };
    pump();
  });
}

function request(c: Client, port: number, code: string, options: Array<{ name: string; value: Buffer }>, payload: Buffer, done: Done, mid?: number): void {
  const { token, key } = nextToken();
  byToken.set(key, (r) => done(r));
  const messageId = mid ?? (c.mid = (c.mid + 1) & 0xffff);
  const timer = setTimeout(() => byToken.delete(key), REQUEST_TIMEOUT_MS + 100);
  timer.unref();
  c.socket.send(generate({ code, confirmable: true, messageId, token, options, payload }), port, '127.0.0.1');
}

function run(cmd: Exclude<LoadCommand, { type: 'open' | 'close' | 'observers' }>): Promise<LoadResult> {
  switch (cmd.type) {
    case 'read': {
      const c = clients[0] as Client;
      const opts = [{ name: 'Uri-Path', value: Buffer.from('3') }, { name: 'Uri-Path', value: Buffer.from('0') }, { name: 'Uri-Path', value: Buffer.from('0') }];
      return drive(cmd.concurrency, cmd.durationMs, cmd.maxCount, (n, done) => {
        const port = cmd.targets[n % cmd.targets.length] as number;
        const mid = ((targetMid.get(port) ?? Math.floor(Math.random() * 0x10000)) + 1) & 0xffff;
        targetMid.set(port, mid);
        request(c, port, 'GET', opts, EMPTY, done, mid);
        return true;
      });
    }
    case 'register': {
      const count = cmd.to - cmd.from;
      return drive(cmd.concurrency, cmd.durationMs, count, (n, done) => {
        const i = cmd.from + n;
        const c = clients[i];
        if (!c) return false;
        request(c, cmd.target, 'POST', [
          { name: 'Uri-Path', value: Buffer.from('rd') },
          { name: 'Content-Format', value: uintBuf(40) },
          { name: 'Uri-Query', value: Buffer.from(`ep=${cmd.epPrefix}${i}`) },
          { name: 'Uri-Query', value: Buffer.from('lt=86400') },
          { name: 'Uri-Query', value: Buffer.from('lwm2m=1.1') },
          { name: 'Uri-Query', value: Buffer.from('b=U') },
        ], LINKS, done);
        return true;
      });
    }
    case 'update': {
      const registered = clients.filter((c) => c.location.has(cmd.target));
      return drive(cmd.concurrency, cmd.durationMs, cmd.maxCount, (n, done) => {
        const c = registered[n % registered.length];
        const loc = c?.location.get(cmd.target);
        if (!c || !loc) return false;
        request(c, cmd.target, 'POST', loc.map((value) => ({ name: 'Uri-Path', value })), EMPTY, done);
        return true;
      });
    }
    case 'notify': {
      const observed = clients.filter((c) => c.observers.has(cmd.target));
      return drive(cmd.concurrency, cmd.durationMs, cmd.maxCount, (n, done) => {
        const c = observed[n % observed.length];
        const token = c?.observers.get(cmd.target);
        if (!c || !token) return false;
        const index = c.index;
        const mid = (c.mid = (c.mid + 1) & 0xffff);
        c.observeSeq = (c.observeSeq + 1) & 0xffffff;
        const key = index * 65536 + mid;
        byMid.set(key, done);
        const timer = setTimeout(() => byMid.delete(key), REQUEST_TIMEOUT_MS + 100);
        timer.unref();
        c.socket.send(generate({
          code: '2.05', confirmable: true, messageId: mid, token,
          options: [{ name: 'Observe', value: uintBuf(c.observeSeq) }, { name: 'Content-Format', value: EMPTY }],
          payload: Buffer.from(String(n % 1000)),
        }), cmd.target, '127.0.0.1');
        return true;
      });
    }
  }
}

const port = parentPort;
if (port) {
  port.on('message', (cmd: LoadCommand) => {
    const reply = (r: LoadReply): void => port.postMessage(r);
    void (async () => {
      try {
        if (cmd.type === 'open') reply({ type: 'opened', ports: await open(cmd.count) });
        else if (cmd.type === 'observers') reply({ type: 'observers', count: clients.filter((c) => c.observers.has(cmd.target)).length });
        else if (cmd.type === 'close') {
          for (const c of clients.splice(0)) c.socket.close();
          reply({ type: 'closed' });
          port.close();
        } else reply({ type: 'result', result: await run(cmd) });
      } catch (e) {
        reply({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      }
    })();
  });
}
