/**
 * A libcoap coap-server-{openssl,gnutls} (Debian libcoap3-bin) in its own process, for bench:dtls-client
 * and test/interop/dtls-client-libcoap.test.ts. Lives under bench/ (built by tsconfig.build.json) and
 * imports nothing from test/ or vitest, so both can use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';

/** A UDP port P with P+1 free too (libcoap serves plain CoAP on P, DTLS on P+1). Bounded: 20 tries. */
export async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const a = createSocket('udp4');
    await new Promise<void>((r) => a.bind(0, '127.0.0.1', r));
    const p = a.address().port;
    const b = createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      b.once('error', () => r(false));
      b.bind(p + 1, '127.0.0.1', () => r(true));
    });
    a.close();
    if (ok) b.close();
    if (ok && p < 65534) return p;
  }
  throw new Error('no free UDP port pair');
}

/** One plain CoAP ping (empty CON, RFC 7252 §4.3) to 127.0.0.1:port; true when anything answers within `ms`. */
export async function coapPings(port: number, ms = 200): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const answered = new Promise<boolean>((r) => {
      const t = setTimeout(() => r(false), ms);
      s.once('message', () => {
        clearTimeout(t);
        r(true);
      });
    });
    s.send(Buffer.from([0x40, 0x00, 0x12, 0x34]), port, '127.0.0.1');
    return await answered;
  } finally {
    s.close();
  }
}

export interface LibcoapServer {
  /** Plain CoAP port. */
  port: number;
  /** DTLS port (port + 1). */
  dtlsPort: number;
  /** SIGTERM by default; SIGKILL ends it without a close_notify to anyone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `tool -A 127.0.0.1 -p PORT -k KEY` (on `fixedPort`, or a free port pair) and resolves once its
 * plain CoAP side answers a ping — bounded polling within `timeoutMs`, no fixed sleep. Rejects if the
 * process exits first or does not answer in time (and then kills it).
 */
export async function startLibcoapServer(tool: string, key: string, fixedPort?: number, timeoutMs = 10_000): Promise<LibcoapServer> {
  const port = fixedPort ?? await freePortPair();
  const child: ChildProcess = spawn(tool, ['-A', '127.0.0.1', '-p', String(port), '-k', key], { stdio: 'ignore' });
  const exited = once(child, 'exit');
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await exited;
    }
  };
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${tool} exited with ${child.exitCode}`);
    if (await coapPings(port)) break;
    if (Date.now() >= end) {
      await stop('SIGKILL');
      throw new Error(`${tool}: nothing answers on 127.0.0.1:${port} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, dtlsPort: port + 1, stop };
}
