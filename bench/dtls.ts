/**
 * npm run bench:dtls — our DTLS 1.2 PSK server (src/transport/dtls/server) on 127.0.0.1 against N
 * node-dtls-client sessions (`--clients N`, default 1 000) driven from `--procs P` child processes
 * (default 1; bench/dtls-load.ts: their own processes, so the CPU time and heap measured here are the
 * server's alone):
 *   - handshakes/s (client-bound: node-dtls-client is the slower side) and the server's own capacity,
 *     handshakes per second of server CPU time (process.cpuUsage of this process, user + system);
 *   - heap per established idle session (global.gc, heapUsed delta / N);
 *   - round trips/s of a tiny CoAP GET answered with 2.05, encrypted (CCM_8), beside the same clients
 *     against plain UDP (same responder on a dgram socket) in the same run, ABBA order.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createUdpSocket, SERVER_RECV_BUFFER_SIZE } from '../src/transport/udp.js';
import { createDtlsServer } from '../src/transport/dtls/server/index.js';
import { benchKey, coapAnswer, type DtlsLoadCommand, type DtlsLoadReply } from './dtls-load.js';
import { fmt } from './harness.js';
import { abba, hasGc, kb, machine, median, numberOption, settledMemory } from './net-harness.js';

const N = numberOption('clients', 1000);
const CONCURRENCY = numberOption('concurrency', 64);
const ROUNDS = numberOption('rounds', 4);
const RTT_MS = numberOption('rtt-ms', 2000);
const WARMUP = Math.min(200, N);

if (!hasGc()) console.warn('warning: run with node --expose-gc (npm run bench:dtls does); memory figures include garbage');
const started = Date.now();
const log = (msg: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);

// ---- servers: DTLS (ours) and plain UDP (baseline), the same tiny CoAP responder on both
const udp = await createUdpSocket({ host: '127.0.0.1', recvBufferSize: SERVER_RECV_BUFFER_SIZE });
const server = createDtlsServer(udp, {
  psk: (id) => Buffer.from(benchKey(id), 'ascii'),
  limits: { handshakesPerSecond: 1_000_000, maxHandshakes: 100_000 },
});
server.on('error', () => undefined);
server.on('message', (m, r) => {
  const a = coapAnswer(m);
  if (a) server.send(a, 0, a.length, r.port, r.address);
});
const plain = await createUdpSocket({ host: '127.0.0.1', recvBufferSize: SERVER_RECV_BUFFER_SIZE });
plain.on('message', (m, r) => {
  const a = coapAnswer(m);
  if (a) plain.send(a, 0, a.length, r.port, r.address);
});

// ---- the load generators: `--procs P` child processes (default 1), the clients split between them
const PROCS = numberOption('procs', 1);
const children = Array.from({ length: PROCS }, () => {
  const c = fork(fileURLToPath(new URL('./dtls-load.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  c.on('error', (e) => console.error('load generator failed:', e));
  return { proc: c, queue: Promise.resolve() as Promise<unknown> };
});
function commandOne(i: number, cmd: DtlsLoadCommand): Promise<DtlsLoadReply> {
  const child = children[i] as (typeof children)[number];
  const next = child.queue.then(() => new Promise<DtlsLoadReply>((resolve, reject) => {
    child.proc.once('message', (r: DtlsLoadReply) => (r.type === 'error' ? reject(new Error(r.message)) : resolve(r)));
    child.proc.send(cmd);
  }));
  child.queue = next.catch(() => undefined);
  return next;
}
const share = (n: number, i: number): number => Math.floor(n / PROCS) + (i < n % PROCS ? 1 : 0);
/** Sends `cmd` to every generator (counts split between them) and merges the replies. */
async function command(cmd: DtlsLoadCommand): Promise<DtlsLoadReply> {
  const replies = await Promise.all(children.map((_c, i) => commandOne(i,
    cmd.type === 'connect' ? { ...cmd, count: share(cmd.count, i), concurrency: Math.max(1, share(cmd.concurrency, i)), prefix: `${cmd.prefix}${i}-` }
      : cmd.type === 'udp' ? { ...cmd, count: share(cmd.count, i) } : cmd)));
  const first = replies[0] as DtlsLoadReply;
  if (first.type === 'connected') {
    const rs = replies as Array<Extract<DtlsLoadReply, { type: 'connected' }>>;
    return { type: 'connected', ok: rs.reduce((a, r) => a + r.ok, 0), failed: rs.reduce((a, r) => a + r.failed, 0),
      retries: rs.reduce((a, r) => a + r.retries, 0), elapsedMs: Math.max(...rs.map((r) => r.elapsedMs)), cpuMs: rs.reduce((a, r) => a + r.cpuMs, 0) };
  }
  if (first.type === 'rtt') {
    const rs = replies as Array<Extract<DtlsLoadReply, { type: 'rtt' }>>;
    return { type: 'rtt', done: rs.reduce((a, r) => a + r.done, 0), timeouts: rs.reduce((a, r) => a + r.timeouts, 0), elapsedMs: Math.max(...rs.map((r) => r.elapsedMs)) };
  }
  return first;
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

try {
  // ---- warm-up (JIT on both sides), then those sessions are closed (close_notify)
  log(`warm-up: ${WARMUP} handshakes`);
  await command({ type: 'connect', port: udp.address().port, count: WARMUP, concurrency: CONCURRENCY, prefix: 'warm-', timeoutMs: 5000 });
  await command({ type: 'disconnect' });
  await until(() => server.stats().sessions === 0, 5000);
  const before = await settledMemory();

  // ---- handshakes
  log(`${N} handshakes, ${CONCURRENCY} at a time`);
  const cpu0 = process.cpuUsage();
  const hs = await command({ type: 'connect', port: udp.address().port, count: N, concurrency: CONCURRENCY, prefix: 'dev-', timeoutMs: 5000 });
  const cpu = process.cpuUsage(cpu0);
  if (hs.type !== 'connected') throw new Error('unexpected reply');
  await until(() => server.stats().sessions >= hs.ok, 5000);
  const sessions = server.stats().sessions;
  const after = await settledMemory();
  const perSession = (after.heapUsed - before.heapUsed) / Math.max(1, sessions);
  const handshakesPerSec = hs.ok / (hs.elapsedMs / 1000);
  const serverCpuMs = (cpu.user + cpu.system) / 1000;
  const serverHandshakesPerCpuSec = hs.ok / (serverCpuMs / 1000);
  log(`${hs.ok} sessions (${hs.failed} failed, ${hs.retries} retries) in ${hs.elapsedMs.toFixed(0)} ms; server CPU ${serverCpuMs.toFixed(0)} ms (user ${(cpu.user / 1000).toFixed(0)}, system ${(cpu.system / 1000).toFixed(0)}), clients' CPU ${hs.cpuMs.toFixed(0)} ms`);

  // ---- round trips: same clients' count on plain UDP vs DTLS, ABBA
  await command({ type: 'udp', count: N });
  const rttUdp: number[] = [];
  const rttDtls: number[] = [];
  const cpuUdp: number[] = [];
  const cpuDtls: number[] = [];
  let timeouts = 0;
  /** One closed-loop phase; also the server CPU µs per round trip. */
  const phase = async (mode: 'udp' | 'dtls'): Promise<{ r: DtlsLoadReply; cpuUs: number }> => {
    const c0 = process.cpuUsage();
    const r = await command({ type: 'rtt', mode, port: mode === 'udp' ? plain.address().port : udp.address().port, durationMs: RTT_MS });
    const c = process.cpuUsage(c0);
    return { r, cpuUs: c.user + c.system };
  };
  for (let round = 0; round < ROUNDS; round++) {
    const [pu, pd] = await abba(round, () => phase('udp'), () => phase('dtls'));
    const u = pu.r;
    const d = pd.r;
    if (u.type !== 'rtt' || d.type !== 'rtt') throw new Error('unexpected reply');
    rttUdp.push(u.done / (u.elapsedMs / 1000));
    rttDtls.push(d.done / (d.elapsedMs / 1000));
    cpuUdp.push(pu.cpuUs / Math.max(1, u.done));
    cpuDtls.push(pd.cpuUs / Math.max(1, d.done));
    timeouts += u.timeouts + d.timeouts;
    log(`round ${round + 1}: UDP ${fmt(rttUdp.at(-1) as number)}/s, DTLS ${fmt(rttDtls.at(-1) as number)}/s`);
  }
  // Heap again once every session has carried traffic (its last handshake flight is released then).
  const afterTraffic = await settledMemory();
  const perSessionAfterTraffic = (afterTraffic.heapUsed - before.heapUsed) / Math.max(1, server.stats().sessions);
  const u = median(rttUdp);
  const d = median(rttDtls);
  const cu = median(cpuUdp);
  const cd = median(cpuDtls);
  const stats = server.stats();

  const rows = [
    ['handshakes/s (node-dtls-client in child processes, client-bound)', `${fmt(handshakesPerSec)}/s`, '≥ 1 000/s', handshakesPerSec >= 1000 ? 'met' : 'not met'],
    ['server handshakes per second of server CPU', `${fmt(serverHandshakesPerCpuSec)}/s`, '≥ 1 000/s', serverHandshakesPerCpuSec >= 1000 ? 'met' : 'not met'],
    ['heap per established idle session (server)', kb(perSession), '≤ 10 KB', perSession <= 10 * 1024 ? 'met' : 'not met'],
    ['heap per session after traffic, idle again (server)', kb(perSessionAfterTraffic), '≤ 10 KB', perSessionAfterTraffic <= 10 * 1024 ? 'met' : 'not met'],
    ['CoAP GET round trips/s, plain UDP (baseline)', `${fmt(u)}/s`, '', ''],
    ['CoAP GET round trips/s, DTLS CCM_8 (ours)', `${fmt(d)}/s`, '', `${(d / u).toFixed(2)}× UDP`],
    ['server CPU per round trip, plain UDP', `${cu.toFixed(1)} µs`, '', ''],
    ['server CPU per round trip, DTLS CCM_8', `${cd.toFixed(1)} µs`, '', `${(cd / cu).toFixed(2)}× UDP`],
  ];
  const table = [
    `DTLS server bench — ${N} clients in ${PROCS} process(es), ${new Date().toISOString().slice(0, 10)}, ${machine()}`,
    '',
    '| measure | value | goal | |',
    '|---|---:|---:|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `${hs.ok} handshakes: server CPU ${serverCpuMs.toFixed(0)} ms, node-dtls-client CPU ${hs.cpuMs.toFixed(0)} ms, wall ${hs.elapsedMs.toFixed(0)} ms; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    `sessions ${sessions}, failed handshakes ${hs.failed} (client retries ${hs.retries}), RTT timeouts ${timeouts}, `
      + `records dropped ${stats.recordsDropped}, retransmissions ${stats.retransmissions}`,
  ].join('\n');
  console.log(`\n${table}\n`);
  mkdirSync('.bench-out', { recursive: true });
  writeFileSync('.bench-out/dtls.json', JSON.stringify({
    clients: N, procs: PROCS, clientCpuMs: hs.cpuMs, handshakesPerSec, serverHandshakesPerCpuSec, serverCpuMs, heapPerSessionBytes: perSession, heapPerSessionAfterTrafficBytes: perSessionAfterTraffic,
    rttUdp: u, rttDtls: d, ratio: d / u, serverCpuUsPerRttUdp: cu, serverCpuUsPerRttDtls: cd, failed: hs.failed, retries: hs.retries, timeouts, stats, machine: machine(),
  }, null, 2));
} finally {
  await command({ type: 'close' }).catch(() => undefined);
  for (const c of children) c.proc.kill();
  await new Promise<void>((r) => server.close(r));
  plain.close();
}
