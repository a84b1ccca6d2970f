/**
 * `lwm2m-server --coaps-port --bs-coaps-port --psk-file` as a separate process (dist/): DTLS listeners
 * with the file's PSKs, bad rows reported as `file:line:col` with the good rows loaded and exit code 2
 * at the end, a port in use or an unreadable PSK file as one line and exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createSocket, type Socket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { dtls } from 'node-dtls-client';
import { bins, root, serverReady, startCli, type StartedCli } from '../helpers/cli.js';

const KEY1 = '000102030405060708090a0b0c0d0e0f';

let tmp: string;
beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'server.js'))) throw new Error('dist/ is missing: run npm run build (npm ci does it)');
  tmp = await mkdtemp(join(tmpdir(), 'server-dtls-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Starts lwm2m-server and waits (bounded, by event) for its start line, or its exit. */
const start = (args: string[]): Promise<StartedCli> => startCli(bins.server, ['--log-level', 'error', ...args], { ready: serverReady });

/** Resolves once stderr contains `text` (stdout and stderr are separate pipes: no order between them). */
const stderrContains = (s: StartedCli, text: string): Promise<unknown> =>
  s.waitFor('stderr', new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 10_000);

/** One CON request over a fresh node-dtls-client session. */
async function dtlsRequest(port: number, identity: string, keyHex: string, path: string[], query: string[], payload: string): Promise<ParsedPacket> {
  const socket = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { [identity]: Buffer.from(keyHex, 'hex') }, timeout: 3000 });
  try {
    await new Promise<void>((res, rej) => {
      socket.once('connected', () => res());
      socket.once('error', (e: Error) => rej(e));
    });
    const token = randomBytes(4);
    const answered = new Promise<ParsedPacket>((res, rej) => {
      const t = setTimeout(() => rej(new Error('no answer')), 5000);
      socket.on('message', (m: Buffer) => {
        const p = parse(m);
        if (p.token.equals(token)) {
          clearTimeout(t);
          res(p);
        }
      });
    });
    socket.send(generate({
      messageId: randomBytes(2).readUInt16BE(0), token, code: 'POST', confirmable: true, payload: Buffer.from(payload),
      options: [...path.map((p) => ({ name: 'Uri-Path', value: Buffer.from(p) })), { name: 'Content-Format', value: Buffer.from([40]) }, ...query.map((q) => ({ name: 'Uri-Query', value: Buffer.from(q) }))],
    }));
    return await answered;
  } finally {
    await new Promise<void>((res) => socket.close(() => res()));
  }
}

describe('lwm2m-server with DTLS', () => {
  it('listens on coaps with the PSK file\'s entries; a bad row is reported and exit code 2 says so at the end', async () => {
    const file = join(tmp, 'psks.csv');
    await writeFile(file, `endpoint,identity,key\ncli-dev1,cli-id1,${KEY1}\ncli-dev2,cli-id2,00zz\ncli-dev3,cli-id3,0a0b\n`);
    const s = await start(['--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--coaps-port', '0', '--bs-coaps-port', '0', '--psk-file', file]);
    try {
      expect(s.match?.[0]).toMatch(/DTLS LwM2M coaps:\/\/127\.0\.0\.1:\d+ \(2 PSKs\), bootstrap coaps:\/\/127\.0\.0\.1:\d+ \(0 PSKs\)/);
      await stderrContains(s, `lwm2m-server: ${file}:3:20: key: "z" is not a hex digit`);
      const coapsPort = Number(/LwM2M coaps:\/\/127\.0\.0\.1:(\d+)/.exec(s.match?.[0] ?? '')?.[1]);
      const httpUrl = /HTTP (http:\/\/\S+?),/.exec(s.match?.[0] ?? '')?.[1] as string;

      const ok = await dtlsRequest(coapsPort, 'cli-id1', KEY1, ['rd'], ['ep=cli-dev1', 'lt=60'], '</3/0>');
      expect(ok.code).toBe('2.01');
      const other = await dtlsRequest(coapsPort, 'cli-id1', KEY1, ['rd'], ['ep=cli-dev3', 'lt=60'], '</3/0>');
      expect(other.code).toBe('4.03');

      const clients = (await (await fetch(`${httpUrl}/api/v1/clients/cli-dev1`)).json()) as Record<string, unknown>;
      expect(clients).toMatchObject({ endpoint: 'cli-dev1' });
      const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/lwm2m_dtls_handshakes_total\{listener="lwm2m",outcome="completed"\} 2/);
      expect(metrics).toMatch(/lwm2m_dtls_sessions\{listener="bootstrap"\} 0/);
      const list = (await (await fetch(`${httpUrl}/api/v1/security`)).json()) as { items: unknown[] };
      expect(list.items).toEqual([
        { endpoint: 'cli-dev1', identity: 'cli-id1', keyLength: 16, source: `${file}:2` },
        { endpoint: 'cli-dev3', identity: 'cli-id3', keyLength: 2, source: `${file}:4` },
      ]);
    } finally {
      expect(await s.stop()).toBe(2);
    }
  }, 60_000);

  it('a clean PSK file: exit code 0 on SIGTERM', async () => {
    const file = join(tmp, 'clean.csv');
    await writeFile(file, `cli-dev1,cli-id1,${KEY1}\n`);
    const s = await start(['--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--coaps-port', '0', '--psk-file', file]);
    expect(s.match?.[0]).toMatch(/DTLS LwM2M coaps:\/\/127\.0\.0\.1:\d+ \(1 PSKs\)/);
    expect(s.stderr()).toBe('');
    expect(await s.stop()).toBe(0);
  }, 30_000);

  it('a coaps port in use: one line, exit 2', async () => {
    const busy: Socket = createSocket('udp4');
    await new Promise<void>((res) => busy.bind(0, '127.0.0.1', () => res()));
    try {
      const port = busy.address().port;
      const s = await start(['--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--coaps-port', String(port)]);
      const code = await s.exit(20_000);
      expect(code).toBe(2);
      expect(s.match).toBeNull();
      const lines = s.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^lwm2m-server: .*${port}.*in use`));
    } finally {
      busy.close();
    }
  }, 30_000);

  it('an unreadable PSK file: one line, exit 2', async () => {
    const s = await start(['--coap-port', '0', '--coaps-port', '0', '--psk-file', join(tmp, 'missing.csv')]);
    const code = await s.exit(20_000);
    expect(code).toBe(2);
    expect(s.stderr().trim()).toMatch(/^lwm2m-server: --psk-file .*missing\.csv: cannot read: .*ENOENT/);
    expect(s.stderr().trim().split('\n')).toHaveLength(1);
  }, 30_000);
});
