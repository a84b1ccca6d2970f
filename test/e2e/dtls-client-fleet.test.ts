import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateReport } from '../../simulators/report/json.js';
import { bins, root, runCli, type CliRun } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'dtls-fleet-'));

const cli = (args: readonly string[]): Promise<CliRun> => runCli(bins.fleet, args);

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
