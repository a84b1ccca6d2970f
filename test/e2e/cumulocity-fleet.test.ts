/**
 * scenarios/cumulocity-like.yaml end to end through the built CLI (shortened like the other example
 * scenarios): the embedded server imports the same `;`-separated bulk-registration CSV the fleet reads
 * as its device list; PSK and NoSec devices bootstrap (PSK over DTLS with their bootstrap PSK), register,
 * sleep, and the reads created while they slept are delivered after each wake. A CSV with a row the
 * import refuses: the row is reported at its line and column, the others run, the exit code is 2.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateReport } from '../../simulators/report/json.js';
import { bins, root, runCli, type CliRun } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'c8y-e2e-'));

const cli = (args: readonly string[]): Promise<CliRun> => runCli(bins.fleet, args);

// Waits of 8 s become 4 s: longer than the CSV's 2 s awake time, so each read waits in the server's queue.
const short = ['--time-scale', '0.5', '--workers', '1', '--log-level', 'error'];

describe('scenarios/cumulocity-like.yaml (embedded server with the Cumulocity profile)', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist', 'src', 'cli', 'fleet.js'))) throw new Error('dist/ is missing: run npm run build (npm ci does it)');
  });

  it('validates', async () => {
    const r = await cli(['validate', 'scenarios/cumulocity-like.yaml']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: ok — 4 devices/);
  });

  it('PSK and NoSec devices bootstrap, register, and get the reads queued while they slept; exit 0', async () => {
    const json = join(tmp, 'c8y.json');
    const r = await cli(['run', 'scenarios/cumulocity-like.yaml', ...short, '--out', `json=${json}`]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices).toMatchObject({ target: 4, started: 4, registered: 4, failed: 0 });
    expect(report.metrics['bootstrap']?.count).toBe(4);
    expect(report.metrics['register']?.count).toBe(4);
    // The two PSK devices: one handshake with the Bootstrap-Server, one with the LwM2M server.
    expect(report.metrics['dtls-handshake']?.count).toBe(4);
    expect(r.stdout).toMatch(/expect read \/3\/0\/9 within [0-9.]+m?s\s+12 passed\s+0 failed/);
  });

  it('a row the import refuses: reported as file:line:column, the other rows run, exit 2', async () => {
    const csv = readFileSync(join(root, 'scenarios', 'cumulocity-devices.csv'), 'utf8').split('\n');
    csv[2] = (csv[2] as string).replace(';PULL;', ';SOMETIMES;'); // line 3: c8yPsk0002
    writeFileSync(join(tmp, 'cumulocity-devices.csv'), csv.join('\n'));
    copyFileSync(join(root, 'scenarios', 'cumulocity-like.yaml'), join(tmp, 'cumulocity-like.yaml'));
    writeFileSync(join(tmp, 'schema.json'), readFileSync(join(root, 'scenarios', 'schema.json')));
    const json = join(tmp, 'bad.json');
    const r = await cli(['run', join(tmp, 'cumulocity-like.yaml'), ...short, '--out', `json=${json}`]);
    expect(r.stderr).toMatch(new RegExp(`${join(tmp, 'cumulocity-devices.csv').replace(/[.\\/]/g, '\\$&')}:3:\\d+: row not imported: .*fwUpdateDeliveryMethod`));
    expect(r.code, r.stderr + r.stdout).toBe(2);
    const report = validateReport(JSON.parse(readFileSync(json, 'utf8')));
    expect(report.devices).toMatchObject({ target: 3, registered: 3, failed: 0 });
  });
});
