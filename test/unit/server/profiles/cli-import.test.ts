/** `lwm2m-server --import …` through runServer (sources, no dist/): issues on stderr, exit code 2 when a row failed. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runServer } from '../../../../src/cli/server.js';
import { CliError } from '../../../../src/cli/exit.js';

const fx = (name: string): string => new URL(`../../../fixtures/profiles/${name}`, import.meta.url).pathname;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the server with `args` until it announces itself, stops it (SIGINT) and returns the exit code and output. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  let announced!: () => void;
  const started = new Promise<void>((r) => (announced = r));
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    if (out.includes('lwm2m-server: LwM2M')) announced();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  const done = runServer(['--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--log-level', 'silent', ...args]);
  await Promise.race([started, done]);
  process.emit('SIGINT');
  const code = await done;
  return { code, out, err };
}

describe('lwm2m-server --import', () => {
  it('loads the sample files of both platforms and exits 0', async () => {
    const r = await run(['--import', `cumulocity:${fx('cumulocity-devices.csv')}`, '--import', `thingsboard:${fx('thingsboard-credentials.json')},${fx('thingsboard-profile.json')}`]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('createServer with a ThingsBoard profile serves its telemetry routes', async () => {
    const { createServer } = await import('../../../../src/server/create.js');
    const { loadThingsBoardProfile } = await import('../../../../src/server/profiles/thingsboard/profile.js');
    const { profile } = await loadThingsBoardProfile(fx('thingsboard-profile.json'));
    const server = await createServer({ coapPort: 0, bsCoapPort: false, httpPort: 0, thingsBoardProfile: profile });
    try {
      server.profileAdapter?.store.setAttribute('LwNoSec00000000', 'serialNumber', 1, 'SN');
      const res = await fetch(`${server.httpUrl}/api/v1/clients/LwNoSec00000000/telemetry`);
      expect(await res.json()).toEqual({ attributes: { serialNumber: { ts: 1, value: 'SN' } }, telemetry: {} });
    } finally {
      await server.close();
    }
  });

  it('reports bad rows as file:line:column, loads the rest and exits 2; an unreadable file is one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-imp-'));
    try {
      const csv = join(dir, 'devices.csv');
      await writeFile(csv, 'endpoint id;securityMode\ngood;NO_SEC\nbad;X509\n');
      const r = await run(['--import', `cumulocity:${csv}`]);
      expect(r.err).toBe(`lwm2m-server: ${csv}:3:5: securityMode "X509" is not one of NO_SEC, PSK\n`);
      expect(r.code).toBe(2);
      await expect(runServer(['--import', `cumulocity:${join(dir, 'missing.csv')}`])).rejects.toThrow(CliError);
      await expect(runServer(['--import', 'nothing:x'])).rejects.toThrow(/expected cumulocity:FILE\.csv/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
