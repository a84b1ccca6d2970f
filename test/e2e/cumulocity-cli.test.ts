/**
 * `lwm2m-server --profile cumulocity --import cumulocity:FILE` as a separate process: the import's
 * bootstrap configs and PSKs are served, the shell route is up, and the exit code is 0 for a clean CSV
 * and 2 when a row was refused (reported as file:line:column). Ports: the profile's layout overridden
 * with 0 (free ports), as a test must not take 5683/5684/5783/5784.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bins, root, serverReady, startCli, type StartedCli } from '../helpers/cli.js';

const ports = ['--coap-port', '0', '--coaps-port', '0', '--bs-coap-port', '0', '--bs-coaps-port', '0', '--http-port', '0'];

const start = (args: string[]): Promise<StartedCli> =>
  startCli(bins.server, ['--log-level', 'error', '--profile', 'cumulocity', ...ports, ...args], { ready: serverReady });

describe('lwm2m-server --profile cumulocity --import cumulocity:…', () => {
  it('serves the CSV\'s bootstrap configs and PSKs, the shell route, exit 0', async () => {
    const s = await start(['--import', 'cumulocity:scenarios/cumulocity-devices.csv', '--max-queued', '4']);
    try {
      // The two PSK devices: their DM PSKs and their bootstrap PSKs.
      expect(s.match?.[0]).toMatch(/DTLS LwM2M coaps:\/\/127\.0\.0\.1:\d+ \(2 PSKs\), bootstrap coaps:\/\/127\.0\.0\.1:\d+ \(2 PSKs\)/);
      const http = /HTTP (http:\/\/[^\s,]+)/.exec(s.match?.[0] ?? '')?.[1] as string;
      const configs = (await (await fetch(`${http}/api/v1/bootstrap/configs`)).json()) as unknown;
      expect(JSON.stringify(configs)).toContain('c8yPsk0001');
      expect(JSON.stringify(configs)).toContain('c8yNoSec0002');
      const doc = (await (await fetch(`${http}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths)).toContain('/api/v1/clients/{ep}/shell');
      const notThere = await fetch(`${http}/api/v1/clients/c8yPsk0001/shell`, { method: 'POST', body: 'read /3/0/0', headers: { 'content-type': 'text/plain' } });
      expect(notThere.status).toBe(404);
    } finally {
      expect(await s.stop(), s.stderr()).toBe(0);
    }
  });

  it('a refused row: file:line:column on stderr, the others load, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'c8y-cli-'));
    const file = join(dir, 'devices.csv');
    const lines = readFileSync(join(root, 'scenarios', 'cumulocity-devices.csv'), 'utf8').split('\n');
    lines[4] = (lines[4] as string).replace(';NO_SEC;', ';X509;');
    writeFileSync(file, lines.join('\n'));
    const s = await start(['--import', `cumulocity:${file}`]);
    const code = await s.stop();
    expect(s.stderr()).toMatch(new RegExp(`${file.replace(/[.\\/]/g, '\\$&')}:5:\\d+: .*securityMode`));
    expect(code).toBe(2);
  });
});
