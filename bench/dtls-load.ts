/**
 * The DTLS bench's client side, in a child process (its own core, heap and CPU accounting, so the
 * server's figures in the bench process are the server's alone): N node-dtls-client sessions (or N plain UDP sockets for the baseline),
 * handshakes with bounded concurrency and retries (node-dtls-client has no retransmission), then a
 * closed loop of tiny CoAP GETs, one outstanding per client.
 */
import { createSocket, type Socket } from 'node:dgram';
import { parentPort } from 'node:worker_threads';
import { dtls } from 'node-dtls-client';

export type DtlsLoadCommand =
  | { type: 'connect'; port: number; count: number; concurrency: number; prefix: string; timeoutMs: number }
  | { type: 'udp'; count: number }
  | { type: 'rtt'; mode: 'dtls' | 'udp'; port: number; durationMs: number }
  | { type: 'disconnect' }
  | { type: 'close' };

export type DtlsLoadReply =
  | { type: 'connected'; ok: number; failed: number; retries: number; elapsedMs: number; cpuMs: number }
  | { type: 'rtt'; done: number; timeouts: number; elapsedMs: number }
  | { type: 'done' }
  | { type: 'error'; message: string };

/** The PSK of bench identity `id` (the server derives it the same way). */
export function benchKey(id: string): string {
  return `k-${id}-0123456789`;
}

/** CON GET /t with a 4-byte token. */
export function coapGet(mid: number, token: number): Buffer {
  const b = Buffer.from([0x44, 0x01, 0, 0, 0, 0, 0, 0, 0xb1, 0x74]);
  b.writeUInt16BE(mid & 0xffff, 2);
  b.writeUInt32BE(token >>> 0, 4);
  return b;
}

/** ACK 2.05 "ok" for a CON request (same message ID and token); undefined when it is not one. */
export function coapAnswer(req: Buffer): Buffer | undefined {
  if (req.length < 4 || req[0] === undefined || (req[0] & 0xf0) !== 0x40) return undefined;
  const tkl = req[0] & 0x0f;
  if (tkl > 8 || req.length < 4 + tkl) return undefined;
  return Buffer.concat([Buffer.from([0x60 | tkl, 0x45, req[2] as number, req[3] as number]), req.subarray(4, 4 + tkl), Buffer.from([0xff, 0x6f, 0x6b])]);
}

interface Client {
  send(b: Buffer): void;
  onMessage(fn: (b: Buffer) => void): void;
  close(): void;
}

let dtlsClients: Client[] = [];
let udpClients: Client[] = [];

function connectOne(port: number, id: string, timeoutMs: number): Promise<dtls.Socket> {
  return new Promise((resolve, reject) => {
    const s = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { [id]: benchKey(id) }, timeout: timeoutMs, ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'] });
    s.once('connected', () => resolve(s));
    s.once('error', (e: Error) => {
      try {
        s.close();
      } catch {
        /* already closed */
      }
      reject(e);
    });
  });
}

async function connect(cmd: Extract<DtlsLoadCommand, { type: 'connect' }>): Promise<DtlsLoadReply> {
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let next = 0;
  let failed = 0;
  let retries = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < cmd.count; i = next++) {
      const id = `${cmd.prefix}${i}`;
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          const s = await connectOne(cmd.port, id, cmd.timeoutMs);
          const handlers: Array<(b: Buffer) => void> = [];
          s.on('message', (b: Buffer) => { for (const h of handlers) h(b); });
          s.on('error', () => undefined);
          dtlsClients.push({ send: (b) => s.send(b), onMessage: (fn) => handlers.push(fn), close: () => s.close() });
          break;
        } catch {
          if (attempt === 3) failed++;
          else retries++;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.count) }, lane));
  const cpu = process.cpuUsage(cpu0);
  return { type: 'connected', ok: cmd.count - failed, failed, retries, elapsedMs: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function openUdp(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const s: Socket = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    s.on('error', () => undefined);
    udpClients.push({ send: (b) => s.send(b, portForUdp, '127.0.0.1'), onMessage: (fn) => s.on('message', fn), close: () => s.close() });
  }
}
let portForUdp = 0;

/** Closed loop: every client keeps one GET outstanding until `durationMs` has passed (bounded). */
async function rtt(cmd: Extract<DtlsLoadCommand, { type: 'rtt' }>): Promise<DtlsLoadReply> {
  portForUdp = cmd.port;
  const clients = cmd.mode === 'dtls' ? dtlsClients : udpClients;
  const start = performance.now();
  const end = start + cmd.durationMs;
  let done = 0;
  let timeouts = 0;
  await Promise.all(clients.map((c, idx) => new Promise<void>((resolve) => {
    let mid = idx * 97;
    let waiting: ((b: Buffer) => void) | undefined;
    c.onMessage((b) => waiting?.(b));
    const once = (): void => {
      if (performance.now() >= end) {
        waiting = undefined;
        resolve();
        return;
      }
      mid = (mid + 1) & 0xffff;
      const timer = setTimeout(() => {
        timeouts++;
        once();
      }, 2000);
      waiting = (b) => {
        if (b.length >= 4 && b.readUInt16BE(2) === mid) {
          clearTimeout(timer);
          waiting = undefined;
          done++;
          once();
        }
      };
      c.send(coapGet(mid, idx));
    };
    once();
  })));
  return { type: 'rtt', done, timeouts, elapsedMs: performance.now() - start };
}

/** Runs as a worker thread (parentPort) or as a forked child process (process.send). */
const port = parentPort ?? (process.send ? {
  on: (event: 'message', fn: (cmd: DtlsLoadCommand) => void): void => { process.on(event, fn); },
  postMessage: (r: DtlsLoadReply): void => { process.send?.(r); },
  close: (): void => { process.disconnect?.(); },
} : null);
if (port) {
  port.on('message', (cmd: DtlsLoadCommand) => {
    const reply = (r: DtlsLoadReply): void => port.postMessage(r);
    void (async () => {
      try {
        if (cmd.type === 'connect') reply(await connect(cmd));
        else if (cmd.type === 'udp') {
          await openUdp(cmd.count);
          reply({ type: 'done' });
        } else if (cmd.type === 'rtt') reply(await rtt(cmd));
        else if (cmd.type === 'disconnect') {
          for (const c of dtlsClients.splice(0)) c.close();
          reply({ type: 'done' });
        } else {
          for (const c of [...dtlsClients.splice(0), ...udpClients.splice(0)]) c.close();
          dtlsClients = [];
          udpClients = [];
          reply({ type: 'done' });
          port.close();
        }
      } catch (e) {
        reply({ type: 'error', message: e instanceof Error ? e.message : String(e) });
      }
    })();
  });
}
