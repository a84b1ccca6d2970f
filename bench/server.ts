/**
 * npm run bench:server — registrations/s, updates/s and CON notifications/s ingested by LwM2MServer from
 * many raw CoAP clients (each its own UDP socket, driven by the load-generator worker with a bounded
 * number of outstanding exchanges), beside a raw node-coap baseline measured with the same generator in
 * the same run: a node-coap server that only answers 2.01 + Location-Path (Register) / 2.04 (Update), and
 * a node-coap Agent observing the same number of clients (notifications). Plus heap per registration
 * after 10 000 registrations (`--clients N` / BENCH_CLIENTS). Everything on 127.0.0.1, bounded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type IncomingMessage, type ObserveReadStream, type OutgoingMessage } from 'coap';
import { parsePath } from '../src/core/path.js';
import { loadBuiltinRegistry } from '../src/model/builtin.js';
import { LwM2MServer } from '../src/server/lwm2m-server.js';
import { RegistrationService } from '../src/server/registration/service.js';
import { systemClock } from '../src/core/clock.js';
import { createUdpSocket, SERVER_RECV_BUFFER_SIZE } from '../src/transport/udp.js';
import type { LoadResult } from './coap-load.js';
import { fmt } from './harness.js';
import { LoadGenerator, abba, hasGc, kb, machine, mb, median, numberOption, pool, settledMemory, withTimeout } from './net-harness.js';

const N = numberOption('clients', 10_000);
const OBSERVED = Math.min(N, numberOption('observed', 2000));
const CONCURRENCY = numberOption('concurrency', 64);
const ROUNDS = numberOption('rounds', 5);
const ROUND_MS = numberOption('round-ms', 2000);
const WARMUP = Math.min(500, N);
const PHASE_BOUND_MS = 120_000;
const CACHE_SIZE = 256 * 1024;

if (!hasGc()) console.warn('warning: run with node --expose-gc (npm run bench:server does); memory figures include garbage');
const started = Date.now();
const log = (msg: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);

// ---- ours
const models = loadBuiltinRegistry();
const server = new LwM2MServer({ socket: await createUdpSocket({ host: '127.0.0.1', recvBufferSize: SERVER_RECV_BUFFER_SIZE }), models });
let notificationsSeen = 0;
server.on('notification', () => { notificationsSeen++; });

// ---- raw node-coap: 2.01 + Location-Path / 2.04 / 2.02, and an Agent on its own socket that observes
const rawSocket = await createUdpSocket({ host: '127.0.0.1', recvBufferSize: SERVER_RECV_BUFFER_SIZE });
let rawRegistrations = 0;
const raw = createServer({ cacheSize: CACHE_SIZE }, (req: IncomingMessage, res: OutgoingMessage) => {
  const path = (req.url.split('?')[0] ?? '').split('/').filter(Boolean);
  if (req.method === 'POST' && path.length === 1 && path[0] === 'rd') {
    res.code = '2.01';
    res.setOption('Location-Path', [Buffer.from('rd'), Buffer.from(String(++rawRegistrations))]);
  } else if (req.method === 'POST' && path[0] === 'rd') res.code = '2.04';
  else if (req.method === 'DELETE' && path[0] === 'rd') res.code = '2.02';
  else res.code = '4.04';
  res.end();
});
raw.on('error', () => undefined);
raw.listen(rawSocket);
const observerSocket = await createUdpSocket({ host: '127.0.0.1', recvBufferSize: SERVER_RECV_BUFFER_SIZE });
const rawAgent = new Agent({ socket: observerSocket });
rawAgent.on('error', () => undefined);
const rawStreams: ObserveReadStream[] = [];
let rawNotificationsSeen = 0;

const ourPort = server.port;
const rawPort = rawSocket.address().port;
const observerPort = observerSocket.address().port;
const generator = new LoadGenerator();
let report: Record<string, unknown> | undefined;

const sum = (rs: LoadResult[]): { ok: number; failed: number; timeouts: number; ms: number } =>
  rs.reduce((a, r) => ({ ok: a.ok + r.ok, failed: a.failed + r.failed, timeouts: a.timeouts + r.timeouts, ms: a.ms + r.elapsedMs }), { ok: 0, failed: 0, timeouts: 0, ms: 0 });

try {
  log(`opening ${N + WARMUP} client sockets in the load generator`);
  await generator.open(N + WARMUP);

  // ---- warm-up (JIT) on both, from sockets not used later
  for (const target of [rawPort, ourPort]) {
    await generator.run({ type: 'register', target, from: N, to: N + WARMUP, epPrefix: 'warm-', concurrency: CONCURRENCY, durationMs: PHASE_BOUND_MS });
  }

  // ---- registrations: N from N sockets, in 4 chunks, raw/ours in ABBA order (cancels drift); heap
  // measured around each chunk of ours
  const before = await settledMemory();
  const regRaw: LoadResult[] = [];
  const regOurs: LoadResult[] = [];
  let ourHeapDelta = 0;
  let rawHeapDelta = 0;
  const chunkDeltas: number[] = [];
  const chunks = 4;
  for (let c = 0; c < chunks; c++) {
    const from = Math.floor((N * c) / chunks);
    const to = Math.floor((N * (c + 1)) / chunks);
    const runRaw = async (): Promise<void> => {
      const b = await settledMemory();
      regRaw.push(await generator.run({ type: 'register', target: rawPort, from, to, epPrefix: 'bench-', concurrency: CONCURRENCY, durationMs: PHASE_BOUND_MS }));
      const a = await settledMemory();
      rawHeapDelta += a.heapUsed - b.heapUsed;
    };
    const runOurs = async (): Promise<void> => {
      const b = await settledMemory();
      regOurs.push(await generator.run({ type: 'register', target: ourPort, from, to, epPrefix: 'bench-', concurrency: CONCURRENCY, durationMs: PHASE_BOUND_MS }));
      const a = await settledMemory();
      ourHeapDelta += a.heapUsed - b.heapUsed;
      chunkDeltas.push((a.heapUsed - b.heapUsed) / (to - from));
    };
    if (c % 2 === 0) { await runRaw(); await runOurs(); } else { await runOurs(); await runRaw(); }
  }
  const after = await settledMemory();
  const regR = sum(regRaw);
  const regO = sum(regOurs);
  const regRawRate = (regR.ok * 1000) / regR.ms;
  const regOurRate = (regO.ok * 1000) / regO.ms;
  const heapPerRegistration = ourHeapDelta / N;
  const registeredAtOurs = Array.from({ length: N }, (_, i) => server.registrations.getByEndpoint(`bench-${i}`)).filter(Boolean).length;
  log(`registrations: ${registeredAtOurs} held by ours; raw ${fmt(regRawRate)}/s (${regR.ok} ok), ours ${fmt(regOurRate)}/s (${regO.ok} ok, ${regO.failed} failed, ${regO.timeouts} timeouts); ` +
    `heap +${mb(ourHeapDelta)} (${kb(heapPerRegistration)}/registration; whole process incl. raw: +${mb(after.heapUsed - before.heapUsed)})`);

  // ---- updates: rounds interleaved
  const updRaw: number[] = [];
  const updOurs: number[] = [];
  const updProblems = { failed: 0, timeouts: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const upd = (target: number) => generator.run({ type: 'update', target, concurrency: CONCURRENCY, durationMs: ROUND_MS, maxCount: 10_000_000 });
    const [a, b] = await abba(r, () => upd(rawPort), () => upd(ourPort));
    updRaw.push(a.perSec);
    updOurs.push(b.perSec);
    updProblems.failed += a.failed + b.failed;
    updProblems.timeouts += a.timeouts + b.timeouts;
    log(`update round ${r + 1}: raw ${fmt(a.perSec)}/s, ours ${fmt(b.perSec)}/s (codes ours ${JSON.stringify(b.codes)})`);
  }

  // ---- notifications: both observe /3/0/0 on the same OBSERVED clients, which then send CON notifications
  log(`observing /3/0/0 on ${OBSERVED} clients from both`);
  const path = parsePath('/3/0/0');
  const ids = Array.from({ length: OBSERVED }, (_, i) => i);
  await withTimeout(pool(ids, 50, async (i) => { await server.observe(`bench-${i}`, path); }), PHASE_BOUND_MS, 'observing (ours)');
  const generatorPorts = portsOfClients(OBSERVED);
  await withTimeout(pool(generatorPorts, 50, (port) => new Promise<void>((resolve, reject) => {
    const req = request({ hostname: '127.0.0.1', port, pathname: '/3/0/0', observe: true, agent: rawAgent });
    req.on('response', (res: ObserveReadStream) => {
      rawStreams.push(res);
      res.on('data', () => { rawNotificationsSeen++; });
      resolve();
    });
    req.on('error', reject);
    req.end();
  })), PHASE_BOUND_MS, 'observing (raw)');
  const observedOurs = await generator.observers(ourPort);
  const observedRaw = await generator.observers(observerPort);
  log(`observations held by the clients: ours ${observedOurs}, raw ${observedRaw}`);
  const notRaw: number[] = [];
  const notOurs: number[] = [];
  const notProblems = { failed: 0, timeouts: 0 };
  let ackedOurs = 0;
  let ackedRaw = 0;
  const seen0 = notificationsSeen;
  const rawSeen0 = rawNotificationsSeen;
  for (let r = 0; r < ROUNDS; r++) {
    const not = (target: number) => generator.run({ type: 'notify', target, concurrency: CONCURRENCY, durationMs: ROUND_MS, maxCount: 10_000_000 });
    const [a, b] = await abba(r, () => not(observerPort), () => not(ourPort));
    notRaw.push(a.perSec);
    notOurs.push(b.perSec);
    ackedRaw += a.ok;
    ackedOurs += b.ok;
    notProblems.failed += a.failed + b.failed;
    notProblems.timeouts += a.timeouts + b.timeouts;
    log(`notification round ${r + 1}: raw ${fmt(a.perSec)}/s, ours ${fmt(b.perSec)}/s (codes ours ${JSON.stringify(b.codes)})`);
  }
  await new Promise((r) => setTimeout(r, 200));
  const emittedOurs = notificationsSeen - seen0;
  const emittedRaw = rawNotificationsSeen - rawSeen0;

  // ---- breakdown: the same N registrations in a bare RegistrationService (no CoAP, no server)
  const bare = new RegistrationService({ clock: systemClock });
  const bareBefore = await settledMemory();
  const links = new TextEncoder().encode('</1/0>,</3/0>,</4/0>,</5/0>');
  for (let i = 0; i < N; i++) {
    bare.handle({
      method: 'POST', uriPath: ['rd'], uriQuery: [`ep=bare-${i}`, 'lt=86400', 'lwm2m=1.1', 'b=U'], payload: links, contentFormat: 40,
      source: { address: '127.0.0.1', port: 20000 + (i % 40000) },
    });
  }
  const bareAfter = await settledMemory();
  const heapPerBareRegistration = (bareAfter.heapUsed - bareBefore.heapUsed) / N;
  bare.close();

  const rows = [
    { op: `registrations (${N} clients, ${CONCURRENCY} outstanding)`, ours: regOurRate, raw: regRawRate, goal: '≥ 0.6×', holds: regOurRate / regRawRate >= 0.6 },
    { op: `updates (POST /rd/<id>, no payload, ${CONCURRENCY} outstanding)`, ours: median(updOurs), raw: median(updRaw), goal: '—', holds: undefined },
    { op: `CON notifications /3/0/0 (${OBSERVED} observations, ${CONCURRENCY} outstanding)`, ours: median(notOurs), raw: median(notRaw), goal: '—', holds: undefined },
  ];
  const date = new Date().toISOString().slice(0, 10);
  const m = machine();
  console.log(`\nbench:server — LwM2MServer vs raw node-coap, ${date}, ${m}\n`);
  console.log('| measure | LwM2MServer | raw node-coap | ratio | goal | holds |');
  console.log('|---|---:|---:|---:|---|---|');
  for (const r of rows) {
    console.log(`| ${r.op} /s | ${fmt(r.ours)} | ${fmt(r.raw)} | ${(r.ours / r.raw).toFixed(2)}× | ${r.goal} | ${r.holds === undefined ? '—' : r.holds ? 'yes' : 'no'} |`);
  }
  console.log(`| heap per registration (${N} registrations, after GC) | ${kb(heapPerRegistration)} | ${kb(rawHeapDelta / N)} (2.01 only, nothing stored) | — | ≤ 5 KB | ${heapPerRegistration <= 5 * 1024 ? 'yes' : 'no'} |`);
  console.log(`\nRegistrations ok: ours ${regO.ok}/${N} (failed ${regO.failed}, timeouts ${regO.timeouts}), raw ${regR.ok}/${N}. ` +
    `Update rounds/s ours [${updOurs.map(fmt).join(', ')}], raw [${updRaw.map(fmt).join(', ')}] (failed ${updProblems.failed}, timeouts ${updProblems.timeouts}). ` +
    `Notification rounds/s ours [${notOurs.map(fmt).join(', ')}], raw [${notRaw.map(fmt).join(', ')}] (failed ${notProblems.failed}, timeouts ${notProblems.timeouts}); ` +
    `Heap per registration in a bare RegistrationService (no CoAP): ${kb(heapPerBareRegistration)}; per chunk of ${Math.floor(N / chunks)} ` +
    `through LwM2MServer: [${chunkDeltas.map(kb).join(', ')}]. ` +
    `ACKed → emitted: ours ${ackedOurs} → ${emittedOurs} 'notification' events, raw ${ackedRaw} → ${emittedRaw} 'data' events.`);
  report = {
    date, machine: m, clients: N, observed: OBSERVED, concurrency: CONCURRENCY, roundMs: ROUND_MS,
    registrations: { oursPerSec: regOurRate, rawPerSec: regRawRate, ratio: regOurRate / regRawRate, ours: regO, raw: regR, registeredAtOurs },
    updates: { oursRounds: updOurs, rawRounds: updRaw, oursPerSec: median(updOurs), rawPerSec: median(updRaw), ratio: median(updOurs) / median(updRaw), ...updProblems },
    notifications: {
      kind: 'CON 2.05 notifications for GET /3/0/0 Observe', oursRounds: notOurs, rawRounds: notRaw,
      oursPerSec: median(notOurs), rawPerSec: median(notRaw), ratio: median(notOurs) / median(notRaw), ...notProblems,
      ackedOurs, emittedOurs, ackedRaw, emittedRaw, observedOurs, observedRaw,
    },
    heapPerRegistrationBytes: heapPerRegistration, heapPerBareRegistrationBytes: heapPerBareRegistration, rawHeapPerRegistrationBytes: rawHeapDelta / N, heapPerRegistrationByChunkBytes: chunkDeltas,
    goals: { registrationRatioMin: 0.6, registrationHolds: regOurRate / regRawRate >= 0.6, heapPerRegistrationMaxBytes: 5 * 1024, heapHolds: heapPerRegistration <= 5 * 1024 },
  };
  mkdirSync('.bench-out', { recursive: true });
  writeFileSync('.bench-out/server.json', JSON.stringify(report, null, 2));
} finally {
  log('closing');
  for (const s of rawStreams) s.close();
  await server.close();
  raw.close();
  rawAgent.close();
  for (const s of [rawSocket, observerSocket]) { try { s.close(); } catch { /* already closed */ } }
  await generator.close();
}
if (!report) process.exitCode = 1;

/** Ports of the generator's first n client sockets, as our server knows them from their registrations. */
function portsOfClients(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const reg = server.registrations.getByEndpoint(`bench-${i}`);
    if (reg) out.push(reg.port);
  }
  return out;
}
