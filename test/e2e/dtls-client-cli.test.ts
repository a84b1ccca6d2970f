import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bins, root, runCli, startCli, type StartedCli } from '../helpers/cli.js';

const clientBin = bins.client;
const tmp = mkdtempSync(join(tmpdir(), 'dtls-cli-'));
const cli = (bin: string, args: readonly string[]): ReturnType<typeof runCli> => runCli(bin, args, { timeoutMs: 30_000 });

describe('lwm2m-client DTLS flags (built package)', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist', 'src', 'cli', 'client.js'))) throw new Error('dist/ is missing: run npm run build');
  });

  it.each([
    [['--server', 'coaps://127.0.0.1:5684', '--endpoint', 'e'], /--server is coaps:\/\/ \(DTLS\): give --psk-identity and --psk-key/],
    [['--server', 'coap://127.0.0.1:5683', '--endpoint', 'e', '--psk-identity', 'a', '--psk-key', '0011'], /need a coaps:\/\/ URI/],
    [['--server', 'coaps://127.0.0.1:5684', '--endpoint', 'e', '--psk-identity', 'a'], /--psk-identity and --psk-key go together/],
    [['--server', 'coaps://127.0.0.1:5684', '--endpoint', 'e', '--psk-key', '0011'], /--psk-identity and --psk-key go together/],
    [['--server', 'coaps://127.0.0.1:5684', '--endpoint', 'e', '--psk-identity', 'a', '--psk-key', '0g11'], /--psk-key must be hex/],
    [['--server', 'coaps://127.0.0.1:5684', '--endpoint', 'e', '--psk-identity', 'a', '--psk-key', '001'], /--psk-key must be hex/],
    [['--server', 'coaps://127.0.0.1:5684', '--endpoint', 'e', '--psk-identity', 'a', '--psk-key', '0011', '--dtls-cipher', 'RC4'], /dtls-cipher/],
  ])('%j → exit 2 with a clear message', async (args, message) => {
    const r = await cli(clientBin, args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('lwm2m-client registers over DTLS with lwm2m-server (separate processes)', () => {
  let server: StartedCli | undefined;
  let coapsPort = 0;

  beforeAll(async () => {
    const pskFile = join(tmp, 'psks.csv');
    writeFileSync(pskFile, 'cli-dtls-1,cli-identity,000102030405060708090a0b0c0d0e0f\n');
    server = await startCli(bins.server, [
      '--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--coaps-port', '0', '--psk-file', pskFile, '--log-level', 'warn',
    ], { ready: /DTLS LwM2M coaps:\/\/127\.0\.0\.1:(\d+)/ });
    coapsPort = Number(server.match?.[1]);
    expect(coapsPort, server.stderr()).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('registers with --psk-identity/--psk-key, de-registers on SIGINT, exit 0', async () => {
    const client = await startCli(clientBin, [
      '--server', `coaps://127.0.0.1:${coapsPort}`, '--endpoint', 'cli-dtls-1',
      '--psk-identity', 'cli-identity', '--psk-key', '000102030405060708090a0b0c0d0e0f', '--log-level', 'warn',
    ], { ready: /registered cli-dtls-1/ });
    expect(client.match, client.stderr()).not.toBeNull();
    const code = await client.stop('SIGINT');
    expect(code).toBe(0);
    expect(client.stdout()).toMatch(/de-registered cli-dtls-1/);
  });

  it('a wrong key → one line naming DTLS_HANDSHAKE_FAILED, exit 1', async () => {
    const r = await cli(clientBin, [
      '--server', `coaps://127.0.0.1:${coapsPort}`, '--endpoint', 'cli-dtls-1',
      '--psk-identity', 'cli-identity', '--psk-key', 'ffff', '--log-level', 'silent',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lwm2m-client: DTLS handshake with 127\.0\.0\.1:\d+ failed.*\[DTLS_HANDSHAKE_FAILED\]\n$/);
  });
});
