/**
 * npm run bench:client — N LwM2M clients (default 10 000; `--devices N` / BENCH_DEVICES) in this one
 * process, each on its own UDP socket, registered to a minimal CoAP sink (raw node-coap: 2.01 with
 * Location-Path rd/<n> to POST /rd, 2.04 to updates). Reports heap and RSS per idle registered device
 * (after GC) and reads/s of /3/0/0 served through the full client stack, beside raw node-coap servers
 * answering the same reads, measured with the same load generator (a worker thread) in the same run.
 * A third series, bare CoapEndpoints (src/coap, one per socket, answering the read from a constant
 * handler, no LwM2M), splits the gap to raw node-coap between the CoAP layer and the LwM2M client.
 * Everything is on 127.0.0.1; every loop is bounded in count and time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import { LwM2MClient } from '../src/client/client.js';
import { CoapConnectionFactory } from '../src/client/coap-connection.js';
import { CoapEndpoint } from '../src/coap/endpoint.js';
import { GatedSocket } from '../src/transport/gated.js';
import { createDeviceTree, type DeviceTree } from '../src/client/device-factory.js';
import { loadBuiltinRegistry } from '../src/model/builtin.js';
import { createUdpSocket, SERVER_RECV_BUFFER_SIZE } from '../src/transport/udp.js';
import { fmt } from './harness.js';
import {
  LoadGenerator, abba, hasGc, kb, machine, mb, median, numberOption, pool, settledMemory, withTimeout,
} from './net-harness.js';

const N = numberOption('devices', 10_000);
/** How many devices (and as many raw node-coap servers) the reads are spread over, round robin. */
const TARGETS = Math.min(N, numberOption('targets', 1000));
const CONCURRENCY = numberOption('concurrency', 64);
const ROUNDS = numberOption('rounds', 5);
const ROUND_MS = numberOption('round-ms', 3000);
const START_CONCURRENCY = 100;
const REGISTER_BOUND_MS = 150_000;
/**
 * How long the devices stay untouched after the last Register before the heap is measured: a device is
 * idle once its CoAP endpoint released node-coap's Agent (agentIdleMs 1 s, re-checked after ACK_TIMEOUT).
 */
const SETTLE_MS = 3000;
/** Same bound as CoapEndpoint's default, for the raw servers too. */
const CACHE_SIZE = 256 * 1024;
const MANUFACTURER = 'Open Mobile Alliance';

if (!hasGc()) console.warn('warning: run with node --expose-gc (npm run bench:client does); memory figures include garbage');

const started = Date.now();
const log = (msg: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);

// ---- the sink: raw node-coap, 2.01 + Location-Path to Register, 2.04 to Update, 2.02 to De-register
const sinkSocket = await createUdpSocket({ host: '127.0.0.1', recvBufferSize: SERVER_RECV_BUFFER_SIZE });
let nextRegistration = 0;
const sink = createServer({ cacheSize: CACHE_SIZE }, (req: IncomingMessage, res: OutgoingMessage) => {
  const path = (req.url.split('?')[0] ?? '').split('/').filter(Boolean);
  if (req.method === 'POST' && path.length === 1 && path[0] === 'rd') {
    res.code = '2.01';
    res.setOption('Location-Path', [Buffer.from('rd'), Buffer.from(String(++nextRegistration))]);
  } else if (req.method === 'POST' && path[0] === 'rd') res.code = '2.04';
  else if (req.method === 'DELETE' && path[0] === 'rd') res.code = '2.02';
  else res.code = '4.04';
  res.end();
});
sink.on('error', () => undefined);
sink.listen(sinkSocket);
const sinkUri = `coap://127.0.0.1:${sinkSocket.address().port}`;

const generator = new LoadGenerator();
await generator.open(1);
const models = loadBuiltinRegistry();
const connections = new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) });

const devices: Array<{ tree: DeviceTree; client: LwM2MClient }> = [];
const rawServers: Server[] = [];
const bareEndpoints: CoapEndpoint[] = [];
const rawSockets: Array<{ close: () => void }> = [];
let report: Record<string, unknown> | undefined;

try {
  // ---- N idle registered devices
  const before = await settledMemory();
  log(`starting ${N} devices (${START_CONCURRENCY} at a time) against the sink ${sinkUri}`);
  const t0 = performance.now();
  let failedStarts = 0;
  const indexes = Array.from({ length: N }, (_, i) => i);
  await withTimeout(pool(indexes, START_CONCURRENCY, async (i) => {
    const tree = createDeviceTree({
      models,
      servers: [{ uri: sinkUri, lifetime: 86_400 }],
      device: { manufacturer: MANUFACTURER, modelNumber: 'Lightweight M2M Client', serialNumber: `SN-${i}`, firmwareVersion: '1.0' },
    });
    const client = new LwM2MClient({ endpoint: `bench-${i}`, tree: tree.tree, connections });
    client.on('failed', () => undefined);
    devices.push({ tree, client });
    await client.start();
    if (client.sessionList()[0]?.connection.localPort === undefined) failedStarts++;
  }), REGISTER_BOUND_MS, 'starting the devices');
  const startSeconds = (performance.now() - t0) / 1000;
  const registeredOk = nextRegistration;
  log(`${devices.length} devices started in ${startSeconds.toFixed(1)} s; the sink saw ${registeredOk} registrations`);
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  // The sink's response cache (node-coap keeps every 2.01 for EXCHANGE_LIFETIME, ~5 KB per Register with
  // its retransmission state) is the server's memory, not the devices': measured, then released by closing
  // the sink (an idle device sends nothing to it for a day; the reads below do not involve it).
  const withSink = await settledMemory();
  sink.close();
  const after = await settledMemory();
  const sinkCachePerDevice = (withSink.heapUsed - after.heapUsed) / N;
  const heapPerDevice = (after.heapUsed - before.heapUsed) / N;
  const rssPerDevice = (after.rss - before.rss) / N;
  const externalPerDevice = (after.external - before.external) / N;
  log(`heap ${mb(after.heapUsed - before.heapUsed)} (${kb(heapPerDevice)}/device), RSS ${mb(after.rss - before.rss)} (${kb(rssPerDevice)}/device); ` +
    `the sink's response cache held ${kb(sinkCachePerDevice)}/device more (released before measuring)`);

  // ---- raw node-coap servers answering the same read, one socket each, as many as read targets
  const beforeRaw = await settledMemory();
  const rawPorts: number[] = [];
  for (let i = 0; i < TARGETS; i++) {
    const socket = await createUdpSocket({ host: '127.0.0.1' });
    const server = createServer({ cacheSize: CACHE_SIZE }, (req: IncomingMessage, res: OutgoingMessage) => {
      if (req.method === 'GET' && req.url === '/3/0/0') {
        res.code = '2.05';
        res.setOption('Content-Format', 'text/plain');
        res.end(MANUFACTURER);
      } else {
        res.code = '4.04';
        res.end();
      }
    });
    server.on('error', () => undefined);
    server.listen(socket);
    rawServers.push(server);
    rawSockets.push(socket);
    rawPorts.push(socket.address().port);
  }
  const afterRaw = await settledMemory();
  const heapPerRawServer = (afterRaw.heapUsed - beforeRaw.heapUsed) / TARGETS;

  // ---- bare CoapEndpoints (the client's CoAP layer: GatedSocket + mux + node-coap halves) answering it
  const endpointPorts: number[] = [];
  const readPayload = Buffer.from(MANUFACTURER);
  for (let i = 0; i < TARGETS; i++) {
    const socket = new GatedSocket(await createUdpSocket({ host: '127.0.0.1' }));
    bareEndpoints.push(new CoapEndpoint({
      socket, cacheSize: 32 * 1024,
      handler: (req) => (req.method === 'GET' && req.path === '/3/0/0' ? { code: '2.05', contentFormat: 0, payload: readPayload } : { code: '4.04' }),
    }));
    endpointPorts.push(socket.address().port);
  }

  // ---- reads: the same generator against both, rounds interleaved; the median round counts
  const ourPorts = devices.slice(0, TARGETS).map((d) => d.client.sessionList()[0]?.connection.localPort)
    .filter((p): p is number => p !== undefined);
  /**
   * One read round; also the main thread's busy time per answered read (event-loop utilisation: the load
   * generator runs in its worker), which varies far less with the machine's load than reads/s does.
   */
  const read = async (targets: number[], durationMs: number) => {
    const elu0 = performance.eventLoopUtilization();
    const r = await generator.run({ type: 'read', targets, concurrency: CONCURRENCY, durationMs, maxCount: 10_000_000 });
    const elu = performance.eventLoopUtilization(elu0);
    const answered = Object.values(r.codes).reduce((a, b) => a + b, 0);
    return { ...r, busyUsPerRead: answered > 0 ? (elu.active * 1000) / answered : Number.NaN };
  };
  log(`reads: GET /3/0/0 over ${TARGETS} targets, ${CONCURRENCY} outstanding, ${ROUNDS} rounds × ${ROUND_MS} ms each`);
  await read(rawPorts, 1000);
  await read(ourPorts, 1000);
  await read(endpointPorts, 1000);
  const rawRounds: number[] = [];
  const ourRounds: number[] = [];
  const endpointRounds: number[] = [];
  const busy = { ours: [] as number[], raw: [] as number[], bare: [] as number[] };
  let readProblems = { failed: 0, timeouts: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const [raw, ours] = await abba(r, () => read(rawPorts, ROUND_MS), () => read(ourPorts, ROUND_MS));
    const bare = await read(endpointPorts, ROUND_MS);
    rawRounds.push(raw.perSec);
    ourRounds.push(ours.perSec);
    endpointRounds.push(bare.perSec);
    busy.ours.push(ours.busyUsPerRead);
    busy.raw.push(raw.busyUsPerRead);
    busy.bare.push(bare.busyUsPerRead);
    readProblems = {
      failed: readProblems.failed + raw.failed + ours.failed + bare.failed,
      timeouts: readProblems.timeouts + raw.timeouts + ours.timeouts + bare.timeouts,
    };
    log(`round ${r + 1}: raw ${fmt(raw.perSec)}/s, ours ${fmt(ours.perSec)}/s, bare CoapEndpoint ${fmt(bare.perSec)}/s (codes ours ${JSON.stringify(ours.codes)})`);
  }
  const rawRate = median(rawRounds);
  const ourRate = median(ourRounds);
  const endpointRate = median(endpointRounds);
  // Rounds of one kind drift with the machine's load; a round's raw and ours run back to back (ABBA).
  const pairedRatio = median(ourRounds.map((o, i) => o / (rawRounds[i] ?? Number.NaN)));
  const busyUs = { ours: median(busy.ours), raw: median(busy.raw), bare: median(busy.bare) };

  // ---- breakdown: what one device tree alone costs (1 000 trees, no sockets)
  const sample = Math.min(N, 1000);
  const beforeTrees = await settledMemory();
  const trees = Array.from({ length: sample }, (_, i) => createDeviceTree({
    models,
    servers: [{ uri: sinkUri, lifetime: 86_400 }],
    device: { manufacturer: MANUFACTURER, modelNumber: 'Lightweight M2M Client', serialNumber: `SN-${i}`, firmwareVersion: '1.0' },
  }));
  const afterTrees = await settledMemory();
  const heapPerTree = (afterTrees.heapUsed - beforeTrees.heapUsed) / sample;
  for (const t of trees) t.dispose();

  const readRatio = ourRate / rawRate;
  const date = new Date().toISOString().slice(0, 10);
  const m = machine();
  console.log(`\nbench:client — ${N} idle registered devices in one process, ${date}, ${m}\n`);
  console.log('| measure | lwm2m-fleet client | raw node-coap | ratio | goal | holds |');
  console.log('|---|---:|---:|---:|---|---|');
  console.log(`| heap per idle registered device (after GC) | ${kb(heapPerDevice)} | ${kb(heapPerRawServer)} (server + socket only) | — | ≤ 20 KB | ${heapPerDevice <= 20 * 1024 ? 'yes' : 'no'} |`);
  console.log(`| RSS per idle registered device | ${kb(rssPerDevice)} | — | — | — | — |`);
  console.log(`| reads/s, CON GET /3/0/0 over ${TARGETS} devices, ${CONCURRENCY} outstanding | ${fmt(ourRate)} | ${fmt(rawRate)} | ${readRatio.toFixed(2)}× | ≥ 0.8× | ${readRatio >= 0.8 ? 'yes' : 'no'} |`);
  console.log(`| reads/s, the same against bare CoapEndpoints (no LwM2M) | ${fmt(endpointRate)} | ${fmt(rawRate)} | ${(endpointRate / rawRate).toFixed(2)}× | — | — |`);
  console.log(`| main-thread busy µs per read (bare CoapEndpoint: ${busyUs.bare.toFixed(0)} µs) | ${busyUs.ours.toFixed(0)} µs | ${busyUs.raw.toFixed(0)} µs | ${(busyUs.raw / busyUs.ours).toFixed(2)}× | — | — |`);
  console.log(`\nPer-device heap breakdown: device tree (objects 0–5, no socket) ${kb(heapPerTree)}; raw node-coap server on a socket ${kb(heapPerRawServer)}; ` +
    `the rest (client, session, CoapEndpoint: mux + node-coap agent + server) ${kb(heapPerDevice - heapPerTree)}. ` +
    `External (Buffers) per device ${kb(externalPerDevice)}. The sink's response cache (not counted above) held ${kb(sinkCachePerDevice)} per registration. Start-up: ${N} devices registered in ${startSeconds.toFixed(1)} s ` +
    `(${fmt(N / startSeconds)}/s, ${START_CONCURRENCY} at a time). Read rounds/s ours [${ourRounds.map(fmt).join(', ')}], raw [${rawRounds.map(fmt).join(', ')}], ` +
    `bare CoapEndpoint [${endpointRounds.map(fmt).join(', ')}]; median of the per-round ours/raw ratios ${pairedRatio.toFixed(2)}×; ` +
    `the LwM2M client answers at ${(ourRate / endpointRate).toFixed(2)}× its bare CoAP endpoint's rate; ` +
    `failed ${readProblems.failed}, timeouts ${readProblems.timeouts}.`);
  report = {
    date, machine: m, devices: N, registeredAtSink: registeredOk, failedStarts, startSeconds,
    heapPerDeviceBytes: heapPerDevice, rssPerDeviceBytes: rssPerDevice, externalPerDeviceBytes: externalPerDevice,
    heapPerTreeBytes: heapPerTree, heapPerRawServerBytes: heapPerRawServer, sinkCachePerDeviceBytes: sinkCachePerDevice,
    reads: {
      targets: TARGETS, concurrency: CONCURRENCY, roundMs: ROUND_MS, ourRounds, rawRounds, endpointRounds, ourPerSec: ourRate, rawPerSec: rawRate,
      endpointPerSec: endpointRate, ratio: readRatio, pairedRatio, busyUsPerRead: busyUs, ...readProblems,
    },
    goals: { heapPerDeviceMaxBytes: 20 * 1024, heapHolds: heapPerDevice <= 20 * 1024, readRatioMin: 0.8, readHolds: readRatio >= 0.8 },
  };
  mkdirSync('.bench-out', { recursive: true });
  writeFileSync('.bench-out/client.json', JSON.stringify(report, null, 2));
} finally {
  log('closing');
  await withTimeout(pool(devices, 500, async (d) => {
    await d.client.stop({ deregister: false }).catch(() => undefined);
    d.tree.dispose();
  }), 60_000, 'stopping the devices').catch((e: unknown) => console.error(e));
  for (const s of rawServers) s.close();
  await Promise.all(bareEndpoints.map((e) => e.close()));
  for (const s of rawSockets) { try { s.close(); } catch { /* already closed */ } }
  sink.close();
  try { sinkSocket.close(); } catch { /* already closed */ }
  await generator.close();
}
if (!report) process.exitCode = 1;
