import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateReport } from '../../simulators/report/json.js';

const root = join(import.meta.dirname, '..', '..');
const fleetBin = join(root, 'bin', 'lwm2m-fleet.js');
const tmp = mkdtempSync(join(tmpdir(), 'dtls-fleet-'));

interface Run { code: number | null; stdout: string; stderr: string }

function cli(args: readonly string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [fleetBin, ...args], { cwd: root, env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('lwm2m-fleet with PSK devices over DTLS (built package)', () => {
  it('validate scenarios/bootstrap-psk.yaml → exit 0', async () => {
    if (!existsSync(join(root, 'dist', 'src', 'cli', 'fleet.js'))) throw new Error('dist/ is missing: run npm run build');
    const r = await cli(['validate', 'scenarios/bootstrap-psk.yaml']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: ok — 20 devices/);
  });

  it('bootstrap-psk (shortened): every device bootstraps over DTLS and registers over DTLS, exit 0', async () => {
    const json = join(tmp, 'bootstrap-psk.json');
    const r = await cli(['run', 'scenarios/bootstrap-psk.yaml', '--devices', '12', '--time-scale', '0.25', '--workers', '1', '--log-level', 'error', '--out', `json=${json}`]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/→ coaps:\/\/127\.0\.0\.1:\d+ \(embedded server\)/);
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices.registered).toBe(12);
    expect(report.metrics['bootstrap']?.count).toBe(12);
    expect(report.metrics['register']?.count).toBe(12);
    expect(report.metrics['deregister']?.count).toBe(12);
    // One handshake with the Bootstrap-Server and one with the LwM2M server per device, none failed.
    expect(report.metrics['dtls-handshake']).toMatchObject({ count: 24, errors: 0 });
  });
});
