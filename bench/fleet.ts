/**
 * `npm run bench:fleet` — the device fleet's figures:
 *
 * A. 10 000 NoSec devices in this process (the fleet engine's ShardRunner, one thread) registering
 *    against the reference server (createServer, in a forked process so the device-side heap is the
 *    devices' alone) and, in the same run, against a raw node-coap sink answering 2.01 Created (ratio):
 *    time to all registered, heap and RSS per device, and notifications/s with the server observing
 *    /3303/0/5700 on every device while each device changes it every second.
 * B. The largest fleet one machine holds with automatic process sharding: `lwm2m-fleet run` (embedded
 *    server, forks as the open-file limit needs) at 20 000, 30 000, … up to 60 000 devices; stops at the
 *    first failure; each attempt bounded in time.
 *
 * Prints a markdown table (date, machine) and writes .bench-out/fleet.json. All traffic on 127.0.0.1.
 * Options (env): BENCH_FLEET_DEVICES (default 10000), BENCH_FLEET_SIZES (e.g. "20000,50000"; "" skips B),
 * BENCH_FLEET_RATE (B's arrivals/s, default 500: the embedded server on 2 cores answers ~500–1 000
 * Registers/s; faster arrivals pile up CoAP retransmissions).
 * B needs local UDP ports for every device: widen net.ipv4.ip_local_port_range past ~27 000 devices.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import coap from 'coap';
import { systemClock } from '../src/core/clock.js';
import { createLogger } from '../src/core/logger.js';
import { parsePath } from '../src/core/path.js';
import { createServer } from '../src/server/create.js';
import { createUdpSocket } from '../src/transport/udp.js';
import { ShardRunner } from '../simulators/engine/shard.js';
import { ephemeralPorts, openFileLimit } from '../simulators/limits.js';
import { MetricsRegistry } from '../simulators/metrics/registry.js';
import { loadScenario } from '../simulators/scenario/load.js';
import { modelsFor } from '../simulators/shard-task.js';
import type { Scenario } from '../simulators/scenario/types.js';

const ROLE_ENV = 'LWM2M_BENCH_FLEET_ROLE';
const here = fileURLToPath(import.meta.url);
const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

type ServerStats = { type: 'stats'; registered: number; observed: number; notifications: number; rss: number };
type ServerReady = { type: 'ready'; uri: string };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every `everyMs` until true or `timeoutMs`; resolves with the elapsed ms or undefined. */
async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<number | undefined> {
  const start = performance.now();
  const max = Math.ceil(timeoutMs / everyMs) + 1;
  for (let i = 0; i < max; i++) {
    if (await cond()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) break;
    await sleep(everyMs);
  }
  return undefined;
}

// ---------------------------------------------------------------- child roles: server and sink
async function serverRole(kind: string): Promise<void> {
  const send = (m: ServerReady | ServerStats): void => { process.send?.(m); };
  let registered = 0;
  let observed = 0;
  let notifications = 0;
  let close: () => Promise<void>;
  if (kind === 'server') {
    const log = createLogger({ level: 'error', name: 'bench-server' });
    const ref = await createServer({ coapPort: 0, bsCoapPort: false, httpPort: false, logger: log });
    const path = parsePath('/3303/0/5700');
    ref.lwm2m.on('registered', (reg) => {
      registered++;
      ref.lwm2m.observe(reg.endpoint, path).then(() => { observed++; }, () => undefined);
    });
    ref.lwm2m.on('notification', () => { notifications++; });
    close = () => ref.close();
    send({ type: 'ready', uri: ref.coapUri });
  } else {
    // A raw node-coap sink: 2.01 Created with a Location-Path for every Register, 2.02/2.04 for the rest.
    const server = coap.createServer({ type: 'udp4' });
    server.on('request', (req: coap.IncomingMessage, res: coap.OutgoingMessage) => {
      if (req.method === 'POST' && req.url.startsWith('/rd?')) {
        registered++;
        res.code = '2.01';
        res.setOption('Location-Path', [Buffer.from('rd'), Buffer.from(String(registered))]);
      } else {
        res.code = req.method === 'DELETE' ? '2.02' : '2.04';
      }
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const sock = server._sock;
    const port = sock !== null && 'address' in sock ? sock.address().port : 0;
    close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    send({ type: 'ready', uri: `coap://127.0.0.1:${port}` });
  }
  process.on('message', (m: unknown) => {
    const t = (m as { type?: string }).type;
    if (t === 'stats') send({ type: 'stats', registered, observed, notifications, rss: process.memoryUsage().rss });
    if (t === 'close') void close().finally(() => process.exit(0));
  });
  process.once('disconnect', () => process.exit(0));
}

class Peer {
  private pending: Array<(s: ServerStats) => void> = [];
  private constructor(readonly child: ChildProcess, readonly uri: string) {
    child.on('message', (m: unknown) => {
      if ((m as { type?: string }).type === 'stats') this.pending.shift()?.(m as ServerStats);
    });
  }

  static async start(kind: 'server' | 'sink'): Promise<Peer> {
    const child = fork(here, [], { env: { ...process.env, [ROLE_ENV]: kind }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const uri = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${kind} did not start`)), 20_000);
      child.once('message', (m: unknown) => {
        clearTimeout(t);
        resolve((m as ServerReady).uri);
      });
      child.once('exit', (code) => reject(new Error(`${kind} exited with ${String(code)}`)));
    });
    return new Peer(child, uri);
  }

  stats(): Promise<ServerStats> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no stats')), 10_000);
      this.pending.push((s) => {
        clearTimeout(t);
        resolve(s);
      });
      this.child.send({ type: 'stats' });
    });
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'close' });
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------- scenarios
function scenarioYaml(devices: number, arrivalRate: number, holdS: number, changeEveryS: number): string {
  const rampS = Math.max(1, Math.ceil(devices / arrivalRate));
  return `name: bench-fleet
target: embedded
devices:
  count: ${devices}
  endpoint: bench-{index:06}
  lwm2m: "1.1"
  lifetime: 3600
  binding: U
  security: nosec
  objects:
    3303:
      instances:
        - values:
            5700: { type: sequence, values: [20.5, 21, 21.5, 22, 22.5, 23], intervalS: ${changeEveryS} }
      sampleInterval: ${changeEveryS}s
phases:
  - name: arrive
    duration: ${rampS}s
    arrivalRate: ${Math.ceil(devices / rampS)}
  - name: hold
    duration: ${holdS}s
    pause: true
end:
  hold: 0s
  leave: deregister
flows:
  - name: register
    steps:
      - register
thresholds:
  - errors.rate < 0.01
`;
}

const gc = (globalThis as { gc?: () => void }).gc;
function collect(): void {
  for (let i = 0; i < 3; i++) gc?.();
}

interface RegisterRun {
  target: string;
  devices: number;
  registered: number;
  timeToAllMs: number | null;
  heapPerDeviceB?: number;
  rssPerDeviceB?: number;
  notificationsPerS?: number;
  notificationsOfferedPerS?: number;
  observed?: number;
  errors: number;
}

async function registerRun(scenario: Scenario, peer: Peer, label: string, measure: boolean): Promise<RegisterRun> {
  const devices = scenario.devices.count;
  collect();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const metrics = new MetricsRegistry();
  const runner = new ShardRunner({
    scenario,
    shardIndex: 0,
    shardCount: 1,
    serverUri: peer.uri,
    clock: systemClock,
    log: createLogger({ level: 'error', name: 'bench-fleet' }),
    models: modelsFor(scenario),
    metrics,
    createSocket: () => createUdpSocket({ host: '127.0.0.1', port: 0 }),
  });
  const done = runner.run();
  const t = await until(() => metrics.counter('devices.registered') >= devices, 180_000, 20);
  const out: RegisterRun = { target: label, devices, registered: metrics.counter('devices.registered'), timeToAllMs: t === undefined ? null : Math.round(t), errors: metrics.counter('errors') };
  process.stderr.write(`  ${label}: ${out.registered}/${devices} registered in ${t === undefined ? 'timeout' : `${(t / 1000).toFixed(2)} s`}\n`);
  if (measure) {
    await until(async () => (await peer.stats()).observed >= devices, 60_000, 500);
    collect();
    const m = process.memoryUsage();
    out.heapPerDeviceB = Math.round((m.heapUsed - heap0) / devices);
    out.rssPerDeviceB = Math.round((m.rss - rss0) / devices);
    const s0 = await peer.stats();
    out.observed = s0.observed;
    const windowMs = 10_000;
    const n0 = metrics.counter('notifications');
    const start = performance.now();
    await sleep(windowMs);
    const s1 = await peer.stats();
    const secs = (performance.now() - start) / 1000;
    out.notificationsPerS = Math.round((s1.notifications - s0.notifications) / secs);
    out.notificationsOfferedPerS = Math.round((metrics.counter('notifications') - n0) / secs);
    process.stderr.write(`  ${label}: ${s0.observed} observed; ${out.notificationsPerS} notifications/s received by the server ` +
      `(${out.notificationsOfferedPerS}/s sent by the devices); heap ${out.heapPerDeviceB} B, RSS ${out.rssPerDeviceB} B per device\n`);
  }
  await runner.stop();
  await Promise.race([done, sleep(30_000)]);
  out.errors = metrics.counter('errors');
  return out;
}

// ---------------------------------------------------------------- B: largest sharded fleet
interface ShardAttempt {
  devices: number;
  ok: boolean;
  exitCode: number | null;
  processes: number | null;
  registered: number;
  registerP95Ms: number | null;
  errors: number;
  wallS: number;
  note?: string;
}

async function shardedAttempt(devices: number, dir: string, rate: number): Promise<ShardAttempt> {
  const file = join(dir, `fleet-${devices}.yaml`);
  const json = join(dir, `fleet-${devices}.json`);
  // `rate` arrivals/s, 20 s hold; each device changes /3303/0/5700 every 30 s (the embedded server observes it).
  writeFileSync(file, scenarioYaml(devices, rate, 20, 30));
  const timeoutMs = (Math.ceil(devices / rate) + 20) * 1000 + 180_000;
  const start = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin', 'lwm2m-fleet.js'), 'run', file, '--log-level', 'error', '--out', `json=${json}`],
    { cwd: root, env: { ...process.env, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.resume();
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const kill = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  const hardKill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(kill);
  clearTimeout(hardKill);
  const wallS = Math.round((performance.now() - start) / 100) / 10;
  const forked = /forking (\d+) processes/.exec(stderr);
  let registered = 0;
  let p95: number | null = null;
  let errors = 0;
  try {
    const r = JSON.parse(readFileSync(json, 'utf8')) as { devices: { registered: number }; metrics: Record<string, { p95: number }>; counters: Record<string, number> };
    registered = r.devices.registered;
    p95 = r.metrics['register']?.p95 ?? null;
    errors = r.counters['errors'] ?? 0;
  } catch {
    // no report: a failure
  }
  const ok = code === 0 && registered === devices;
  const lastLine = stderr.trim().split('\n').filter((l) => !l.startsWith('{')).slice(-1)[0];
  return {
    devices, ok, exitCode: code, processes: forked ? Number(forked[1]) : 1, registered, registerP95Ms: p95 === null ? null : Math.round(p95 * 10) / 10, errors, wallS,
    ...(ok || lastLine === undefined ? {} : { note: lastLine.slice(0, 300) }),
  };
}

// ---------------------------------------------------------------- main
async function main(): Promise<void> {
  const devices = Number(process.env['BENCH_FLEET_DEVICES'] ?? 10_000);
  const sizesEnv = process.env['BENCH_FLEET_SIZES'];
  const rate = Math.max(1, Number(process.env['BENCH_FLEET_RATE'] ?? 500));
  const sizes = (sizesEnv ?? '20000,30000,40000,50000,60000').split(',').filter((x) => x.trim() !== '').map(Number).filter((n) => n > 0 && n <= 60_000);
  if (gc === undefined) process.stderr.write('note: run with node --expose-gc for steadier heap figures\n');
  const dir = mkdtempSync(join(tmpdir(), 'bench-fleet-'));
  const machine = `${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, ` +
    `ulimit -n ${openFileLimit() ?? '?'}, ${ephemeralPorts() ?? '?'} ephemeral ports`;
  const date = new Date().toISOString();
  process.stderr.write(`bench:fleet ${date} — ${machine}\n`);

  // A: one process, the reference server vs a raw node-coap sink.
  const yamlFile = join(dir, 'one-process.yaml');
  writeFileSync(yamlFile, scenarioYaml(devices, 10_000, 600, 1));
  const scenario = await loadScenario(yamlFile);
  process.stderr.write(`A. ${devices} devices in one process (arrivals ${Math.ceil(devices / Math.max(1, Math.ceil(devices / 10_000)))}/s)\n`);
  const server = await Peer.start('server');
  const ref = await registerRun(scenario, server, 'reference server', true);
  await server.close();
  const sink = await Peer.start('sink');
  const raw = await registerRun(scenario, sink, 'node-coap 2.01 sink', false);
  await sink.close();

  // B: the largest fleet with automatic process sharding.
  const attempts: ShardAttempt[] = [];
  if (sizes.length > 0) process.stderr.write(`B. largest fleet with automatic process sharding (lwm2m-fleet run, embedded server, ${rate} arrivals/s)\n`);
  for (const n of sizes.slice(0, 10)) {
    const a = await shardedAttempt(n, dir, rate);
    attempts.push(a);
    process.stderr.write(`  ${n}: ${a.ok ? 'held' : 'FAILED'} — ${a.processes} process(es), ${a.registered} registered, p95 ${a.registerP95Ms ?? '?'} ms, ` +
      `errors ${a.errors}, exit ${String(a.exitCode)}, ${a.wallS} s${a.note ? ` (${a.note})` : ''}\n`);
    if (!a.ok) break;
  }
  const held = attempts.filter((a) => a.ok).reduce((m, a) => Math.max(m, a.devices), 0);

  const ratio = ref.timeToAllMs !== null && raw.timeToAllMs !== null && raw.timeToAllMs > 0 ? ref.timeToAllMs / raw.timeToAllMs : null;
  const kib = (b: number | undefined): string => (b === undefined ? '?' : `${(b / 1024).toFixed(1)} KiB`);
  const secs = (ms: number | null): string => (ms === null ? 'timeout' : `${(ms / 1000).toFixed(2)} s`);
  const lines = [
    `### bench:fleet — ${date.slice(0, 10)}`,
    '',
    `Machine: ${machine}`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| ${devices} NoSec devices, one process: all registered, reference server | ${secs(ref.timeToAllMs)} (${ref.registered}/${devices}) |`,
    `| same, raw node-coap 2.01 sink | ${secs(raw.timeToAllMs)} (${raw.registered}/${devices}) |`,
    `| ratio reference server / sink | ${ratio === null ? '?' : `${ratio.toFixed(2)}×`} |`,
    `| heap per device (device process) | ${kib(ref.heapPerDeviceB)} |`,
    `| RSS per device (device process) | ${kib(ref.rssPerDeviceB)} |`,
    `| notifications/s, every device observed on /3303/0/5700, changed every 1 s | ${ref.notificationsPerS ?? '?'} received (${ref.notificationsOfferedPerS ?? '?'} sent; ${ref.observed ?? '?'} observed) |`,
    ...attempts.map((a) => `| sharded run, ${a.devices} devices (${rate} arrivals/s, 20 s hold) | ${a.ok ? 'held' : 'failed'}: ${a.processes} process(es), ${a.registered} registered, register p95 ${a.registerP95Ms ?? '?'} ms, ${a.wallS} s |`),
    `| largest fleet held (2-core goal ≥ 50 000) | ${held > 0 ? held : sizes.length === 0 ? 'not run' : 'none'} |`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(root, '.bench-out'), { recursive: true });
  writeFileSync(join(root, '.bench-out', 'fleet.json'), `${JSON.stringify({ date, machine, oneProcess: { reference: ref, sink: raw, ratio }, sharded: { arrivalsPerS: rate, attempts, largestHeld: held } }, null, 2)}\n`);
}

const role = process.env[ROLE_ENV];
if (role === 'server' || role === 'sink') {
  await serverRole(role);
} else {
  await main();
  process.exit(0);
}
