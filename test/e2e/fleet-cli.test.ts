import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLValidator } from 'fast-xml-parser';
import { validateReport } from '../../simulators/report/json.js';
import { bins, root, runCli, serverReady, startCli, type CliRun, type StartedCli } from '../helpers/cli.js';

const fleetBin = bins.fleet;
const tmp = mkdtempSync(join(tmpdir(), 'fleet-e2e-'));

const cli = (bin: string, args: readonly string[], timeoutMs = 120_000): Promise<CliRun> => runCli(bin, args, { timeoutMs });

const short = ['--devices', '12', '--time-scale', '0.25', '--workers', '1', '--log-level', 'error'];

describe('lwm2m-fleet CLI (built package, separate processes)', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist', 'src', 'cli', 'fleet.js'))) throw new Error('dist/ is missing: run npm run build (npm ci does it)');
  });

  it.each(['quickstart', 'telemetry', 'queue-mode', 'churn', 'bootstrap'])('validate scenarios/%s.yaml → exit 0', async (name) => {
    const r = await cli(fleetBin, ['validate', `scenarios/${name}.yaml`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: ok — \d+ devices/);
  });

  it('an invalid scenario → every error as file:line:col, exit 2, nothing runs', async () => {
    const f = join(tmp, 'bad.yaml');
    writeFileSync(f, 'name: bad\ntarget: embedded\ndevices:\n  count: -5\nphases:\n  - duration: 10x\n    arrivalRate: 1\n');
    const r = await cli(fleetBin, ['run', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:4:`);
    expect(r.stderr).toContain(`${f}:6:`);
    expect(r.stdout).toBe('');
  });

  it('bad flags → exit 2', async () => {
    expect((await cli(fleetBin, ['run', 'scenarios/quickstart.yaml', '--shard', '3/2'])).code).toBe(2);
    expect((await cli(fleetBin, ['run', 'scenarios/quickstart.yaml', '--out', 'xml=a'])).code).toBe(2);
    expect((await cli(fleetBin, ['frobnicate'])).code).toBe(2);
  });

  it('runs quickstart against the embedded server, writes JSON and JUnit holding the right numbers', async () => {
    const json = join(tmp, 'quick.json');
    const junit = join(tmp, 'quick.xml');
    const r = await cli(fleetBin, ['run', 'scenarios/quickstart.yaml', ...short, '--out', `json=${json}`, '--out', `junit=${junit}`]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/register\s+12\s/);
    expect(r.stdout).toContain('exit 0');
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices).toMatchObject({ target: 12, started: 12, registered: 12, failed: 0 });
    expect(report.metrics['register']?.count).toBe(12);
    expect(report.metrics['deregister']?.count).toBe(12);
    expect(report.counters['notifications'] ?? 0).toBeGreaterThan(0);
    expect(report.thresholds.every((t) => t.ok)).toBe(true);
    const xml = readFileSync(junit, 'utf8');
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('tests="2" failures="0"');
  });

  it('a failed threshold → exit 99 and a JUnit failure', async () => {
    const f = join(tmp, 'strict.yaml');
    writeFileSync(f, readFileSync(join(root, 'scenarios', 'quickstart.yaml'), 'utf8')
      .replace('  - errors.rate < 0.01', '  - errors.rate < 0.01\n  - register.count > 1000000')
      .replace('$schema=./schema.json', `$schema=${join(root, 'scenarios', 'schema.json')}`));
    const junit = join(tmp, 'strict.xml');
    const r = await cli(fleetBin, ['run', f, ...short, '--out', `junit=${junit}`]);
    expect(r.code, r.stderr).toBe(99);
    expect(readFileSync(junit, 'utf8')).toMatch(/<failure[^>]*register\.count > 1000000|register\.count &gt; 1000000[\s\S]*<failure/);
  });

  it.each(['telemetry', 'bootstrap', 'queue-mode', 'churn'])('scenarios/%s.yaml runs shortened: every device comes online', async (name) => {
    const json = join(tmp, `${name}.json`);
    const r = await cli(fleetBin, ['run', `scenarios/${name}.yaml`, ...short, '--duration', '12s', '--out', `json=${json}`]);
    expect([0, 99], r.stderr + r.stdout).toContain(r.code);
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices.started).toBe(12);
    expect(report.devices.registered).toBe(12);
    expect(report.metrics['register']?.count ?? 0).toBeGreaterThanOrEqual(12);
  }, 90_000);
});

describe('lwm2m-fleet against lwm2m-server started as a separate process', () => {
  let server: StartedCli | undefined;
  let coapPort = 0;

  beforeAll(async () => {
    server = await startCli(bins.server, ['--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--log-level', 'warn'], { ready: serverReady });
    coapPort = Number(/LwM2M coap:\/\/127\.0\.0\.1:(\d+)/.exec(server.match?.[0] ?? '')?.[1]);
    expect(coapPort, server.stderr()).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('quickstart registers every device with it and exits 0', async () => {
    const json = join(tmp, 'remote.json');
    const r = await cli(fleetBin, ['run', 'scenarios/quickstart.yaml', ...short, '--target', `coap://127.0.0.1:${coapPort}`, '--out', `json=${json}`]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices.registered).toBe(12);
    expect(report.metrics['register']?.count).toBe(12);
  });

  it('a run sharded over 2 processes merges into one report with the same counts', async () => {
    const parts = [0, 1].map((i) => join(tmp, `shard-${i}.json`));
    const runs = await Promise.all([0, 1].map((i) => cli(fleetBin, [
      'run', 'scenarios/quickstart.yaml', ...short, '--target', `coap://127.0.0.1:${coapPort}`, '--shard', `${i}/2`, '--out', `json=${parts[i]}`,
    ])));
    for (const r of runs) expect(r.code, r.stderr + r.stdout).toBe(0);
    const merged = join(tmp, 'merged.json');
    const m = await cli(fleetBin, ['merge', ...parts, '--out', `json=${merged}`]);
    expect(m.code, m.stderr).toBe(0);
    const report = validateReport(JSON.parse(readFileSync(merged, 'utf8')));
    expect(report.devices).toMatchObject({ started: 12, registered: 12 });
    expect(report.metrics['register']?.count).toBe(12);
    expect(report.metrics['deregister']?.count).toBe(12);
    expect(report.merged?.reports).toBe(2);
  });
});

describe('lwm2m-fleet run --metrics-port (Prometheus while running)', () => {
  it('serves /metrics during the run: counters, gauges and per-operation latency', async () => {
    const run = await startCli(fleetBin, ['run', 'scenarios/quickstart.yaml', '--devices', '12', '--time-scale', '0.5', '--workers', '1', '--log-level', 'error', '--metrics-port', '0'],
      { ready: /Prometheus metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/, stream: 'stderr' });
    const { child } = run;
    try {
      const url = run.match?.[1];
      if (url === undefined) throw new Error(`ended before announcing the metrics URL: ${run.stderr()}`);
      // Bounded poll: until the first snapshot with a register latency arrives (≤ 100 × 100 ms).
      let body = '';
      for (let i = 0; i < 100 && !/operation_duration_seconds_count\{operation="register"\} [1-9]/.test(body); i++) {
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
          expect(res.status).toBe(200);
          expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
          body = await res.text();
        } catch (e) {
          if (child.exitCode !== null) throw e;
        }
        if (!/operation_duration_seconds_count\{operation="register"\} [1-9]/.test(body)) await new Promise((r) => setTimeout(r, 100));
      }
      expect(body).toMatch(/^# TYPE lwm2m_fleet_operation_duration_seconds summary$/m);
      expect(body).toMatch(/^lwm2m_fleet_operation_duration_seconds\{operation="register",quantile="0\.95"\} [0-9.e-]+$/m);
      expect(body).toMatch(/^lwm2m_fleet_devices_started_total [1-9]\d*$/m);
      expect(body).toMatch(/^lwm2m_fleet_devices_connected -?\d+$/m);
      expect(body).toMatch(/^lwm2m_fleet_devices_target 12$/m);
      expect(await run.exit(60_000), run.stderr()).toBe(0);
      // closed at the end of the run
      await expect(fetch(url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('lwm2m-fleet run --processes (automatic process sharding)', () => {
  it.each(['quickstart', 'bootstrap'])('scenarios/%s.yaml over 2 forked processes → one merged report with every device', async (name) => {
    const json = join(tmp, `forked-${name}.json`);
    const r = await cli(fleetBin, ['run', `scenarios/${name}.yaml`, ...short, '--duration', '12s', '--processes', '2', '--out', `json=${json}`], 90_000);
    expect([0, 99], r.stderr + r.stdout).toContain(r.code);
    expect(r.stderr).toContain('forking 2 processes');
    expect(r.stdout).toContain('merged from 2 reports');
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices).toMatchObject({ target: 12, started: 12, registered: 12, failed: 0 });
    expect(report.metrics['register']?.count ?? 0).toBeGreaterThanOrEqual(12);
    expect(report.merged?.reports).toBe(2);
    expect(report.merged?.shards.map((s) => `${s.index}/${s.total}`).sort()).toEqual(['0/2', '1/2']);
    expect(report.exitCode).toBe(r.code);
  }, 120_000);

  it('--processes out of range → exit 2', async () => {
    expect((await cli(fleetBin, ['run', 'scenarios/quickstart.yaml', '--processes', '0'])).code).toBe(2);
  });
});

describe('lwm2m-fleet run: Ctrl-C', () => {
  it('SIGINT stops gracefully: devices de-register and the report is still written', async () => {
    const json = join(tmp, 'interrupted.json');
    const run = await startCli(fleetBin, ['run', 'scenarios/quickstart.yaml', '--devices', '10', '--workers', '1',
      '--duration', '10m', '--log-level', 'error', '--out', `json=${json}`], { ready: /devices [1-9]\d*\/10 registered/, stream: 'stderr', timeoutMs: 60_000 });
    // Devices are online (a plain status line with registered devices): interrupt.
    expect(run.match, run.stderr()).not.toBeNull();
    const code = await run.stop('SIGINT', 60_000);
    expect([0, 99]).toContain(code);
    expect(run.stderr()).toContain('stopping');
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices.registered).toBeGreaterThan(0);
    expect(report.metrics['deregister']?.count).toBe(report.devices.started);
  }, 90_000);
});
