/**
 * npm run bench:dtls-client — handshake time per device of our DTLS PSK client socket
 * (src/transport/dtls/client.ts) against two independent servers, each in its own process:
 *   - libcoap's coap-server-openssl (Debian libcoap3-bin; skipped when not installed),
 *   - our reference server (bin/lwm2m-server.js --coaps-port, PSKs from a CSV).
 * For each: `--devices N` (default 100) handshakes one after another, then N at once; min / median /
 * p95 / max of the time from createDtlsClientSocket() to its resolve, sessions and flight
 * retransmissions (the library itself retransmits nothing), and the same with bare node-dtls-client
 * (dtls.createSocket → 'connected') as the baseline measured in the same run, as a ratio.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { dtls } from 'node-dtls-client';
import { createDtlsClientSocket, type DtlsClientSocket } from '../src/transport/dtls/client.js';
import { startLibcoapServer } from './libcoap-server.js';
import { machine, median, numberOption } from './net-harness.js';

const N = numberOption('devices', 100);
const KEY = 'bench-psk-key-16';
const identity = (i: number): string => `bench-${i}`;

interface Series { ms: number[]; attempts: number; retransmissions: number; failures: number; wallMs: number }

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.floor(s.length * p))] as number);
}

function row(name: string, s: Series, base?: Series): string {
  const f = (n: number): string => `${n.toFixed(1)} ms`;
  const ratio = base ? `  ×${(median(s.ms) / median(base.ms)).toFixed(2)} of bare median` : '';
  return `  ${name.padEnd(34)} min ${f(Math.min(...s.ms))}  median ${f(median(s.ms))}  p95 ${f(pct(s.ms, 0.95))}  max ${f(Math.max(...s.ms))}`
    + `  wall ${f(s.wallMs)}  sessions ${s.attempts}/${s.ms.length + s.failures}  retransmitted ${s.retransmissions}${s.failures ? `  FAILED ${s.failures}` : ''}${ratio}`;
}

/** Ours: createDtlsClientSocket (resolve host, handshake with retry), then close (close_notify). */
async function ours(port: number, i: number, out: Series): Promise<void> {
  const t0 = performance.now();
  let s: DtlsClientSocket | undefined;
  try {
    s = await createDtlsClientSocket({ host: '127.0.0.1', port, identity: identity(i), key: Buffer.from(KEY), handshakeTimeoutMs: 1000, handshakeAttempts: 5 });
    out.ms.push(performance.now() - t0);
    out.attempts += s.stats.attempts;
    out.retransmissions += s.stats.retransmissions;
  } catch (e) {
    out.failures++;
    out.attempts += (e as { attempts?: number }).attempts ?? 0;
  }
  if (s) await new Promise<void>((r) => s.close(r));
}

/** Baseline: bare node-dtls-client, one attempt (it has no retry), 5 s library timeout. */
function bare(port: number, i: number, out: Series): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    out.attempts++;
    const s = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { [identity(i)]: Buffer.from(KEY) }, timeout: 5000, ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'] });
    s.on('connected', () => {
      out.ms.push(performance.now() - t0);
      s.close(() => resolve());
    });
    s.on('error', () => {
      out.failures++;
      resolve();
    });
  });
}

async function series(port: number, fn: (port: number, i: number, out: Series) => Promise<void>, concurrent: boolean): Promise<Series> {
  const out: Series = { ms: [], attempts: 0, retransmissions: 0, failures: 0, wallMs: 0 };
  const t0 = performance.now();
  if (concurrent) await Promise.all(Array.from({ length: N }, (_, i) => fn(port, i, out)));
  else for (let i = 0; i < N; i++) await fn(port, i, out);
  out.wallMs = performance.now() - t0;
  return out;
}

function pool2(a: Series, b: Series): Series {
  return {
    ms: [...a.ms, ...b.ms], attempts: a.attempts + b.attempts, retransmissions: a.retransmissions + b.retransmissions,
    failures: a.failures + b.failures, wallMs: (a.wallMs + b.wallMs) / 2,
  };
}

async function measure(name: string, port: number): Promise<void> {
  console.log(`\n${name} (DTLS port ${port}), ${N} devices, TLS_PSK_WITH_AES_128_CCM_8`);
  // Warm-up (JIT, the server's first sessions), not reported.
  await series(port, ours, false);
  for (const concurrent of [false, true]) {
    // ABBA: the second burst meets a busier server (sessions closing, its handshake rate limiter), so
    // each side goes first once; samples of both rounds are pooled.
    const b1 = await series(port, bare, concurrent);
    const o1 = await series(port, ours, concurrent);
    const o2 = await series(port, ours, concurrent);
    const b2 = await series(port, bare, concurrent);
    const b = pool2(b1, b2);
    const o = pool2(o1, o2);
    const label = concurrent ? `${N} concurrent ×2` : `${N} sequential ×2`;
    console.log(row(`${label}, bare node-dtls-client`, b));
    console.log(row(`${label}, createDtlsClientSocket`, o, b));
  }
}

/** Resolves once the process printed a line matching `re` (bounded). */
function lineOf(child: ChildProcess, re: RegExp, ms = 20_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms: ${out}`)), ms);
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

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

console.log(`bench:dtls-client — ${machine()}`);

const libcoap = ['/usr/bin/coap-server-openssl', '/usr/local/bin/coap-server-openssl'].find((p) => existsSync(p));
if (libcoap) {
  const coapServer = await startLibcoapServer(libcoap, KEY);
  try {
    await measure('coap-server-openssl (libcoap)', coapServer.dtlsPort);
  } finally {
    await coapServer.stop();
  }
} else {
  console.log('\ncoap-server-openssl not installed (apt-get install libcoap3-bin): skipped');
}

const dir = mkdtempSync(join(tmpdir(), 'bench-dtls-client-'));
const csv = join(dir, 'psks.csv');
// One PSK per device (identities must be unique per endpoint); +N for the warm-up reuses the same ones.
writeFileSync(csv, Array.from({ length: N }, (_, i) => `ep-${i},${identity(i)},${Buffer.from(KEY).toString('hex')}`).join('\n') + '\n');
const serverBin = fileURLToPath(new URL('../../bin/lwm2m-server.js', import.meta.url));
const server = spawn(process.execPath, [serverBin, '--coap-port', '0', '--bs-coap-port', '0', '--http-port', '0', '--coaps-port', '0', '--psk-file', csv, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'inherit'] });
try {
  const m = await lineOf(server, /DTLS LwM2M coaps:\/\/127\.0\.0\.1:(\d+)/);
  await measure('lwm2m-server (ours, separate process)', Number(m[1]));
} finally {
  await stop(server);
}
