import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const clientBin = join(root, 'bin', 'lwm2m-client.js');
const serverBin = join(root, 'bin', 'lwm2m-server.js');
const tmp = mkdtempSync(join(tmpdir(), 'dtls-cli-'));

interface Run { code: number | null; stdout: string; stderr: string }

function cli(bin: string, args: readonly string[], timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
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

/** Resolves with the first stdout text matching `re` (bounded). */
function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${timeoutMs} ms; got: ${out}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    });
  });
}

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
  let server: ChildProcess;
  let coapsPort = 0;

  beforeAll(async () => {
    const pskFile = join(tmp, 'psks.csv');
    writeFileSync(pskFile, 'cli-dtls-1,cli-identity,000102030405060708090a0b0c0d0e0f\n');
    server = spawn(process.execPath, [
      serverBin, '--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--coaps-port', '0', '--psk-file', pskFile, '--log-level', 'warn',
    ], { cwd: root });
    const m = await waitForLine(server, /DTLS LwM2M coaps:\/\/127\.0\.0\.1:(\d+)/);
    coapsPort = Number(m[1]);
  });

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const closed = once(server, 'close');
      server.kill('SIGTERM');
      await closed;
    }
  });

  it('registers with --psk-identity/--psk-key, de-registers on SIGINT, exit 0', async () => {
    const child = spawn(process.execPath, [
      clientBin, '--server', `coaps://127.0.0.1:${coapsPort}`, '--endpoint', 'cli-dtls-1',
      '--psk-identity', 'cli-identity', '--psk-key', '000102030405060708090a0b0c0d0e0f', '--log-level', 'warn',
    ], { cwd: root });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    const closed = once(child, 'close');
    await waitForLine(child, /registered cli-dtls-1/);
    child.kill('SIGINT');
    const [code] = (await closed) as [number | null];
    expect(code).toBe(0);
    expect(stdout).toMatch(/de-registered cli-dtls-1/);
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
