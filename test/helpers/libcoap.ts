import { execFile } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { LwM2MClient } from '../../src/client/client.js';

/** Path of a libcoap3-bin tool, or undefined when it is not installed (CI installs it: .ci/run). */
export function libcoapTool(name: 'coap-client-notls' | 'coap-client-openssl' | 'coap-client-gnutls' | 'coap-server-openssl' | 'coap-server-gnutls'): string | undefined {
  for (const dir of ['/usr/bin', '/usr/local/bin']) {
    const p = `${dir}/${name}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** In CI the tool must be there (a missing peer must fail the run, not skip it). */
export function requireLibcoapInCi(tool: string | undefined): boolean {
  if (!tool && process.env.CI === 'true') throw new Error('libcoap3-bin is not installed (.ci/run installs it)');
  return tool !== undefined;
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a command with a hard time bound; never rejects. */
export function run(cmd: string, args: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, [...args], { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err && typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number'
        ? ((err as unknown as { code: number }).code) : err ? null : 0;
      resolve({ code, stdout, stderr: stderr.toString('utf8') });
    });
  });
}

/** The device's own CoAP base URI (the local port of its first server session), for a libcoap tool to reach it. */
export function deviceBase(client: LwM2MClient): string {
  return `coap://127.0.0.1:${client.sessionList()[0]?.connection.localPort}`;
}

/** Starts `client`, waits (by event) for `server` to see its Register, and returns {@link deviceBase}. */
export async function registerDevice(client: LwM2MClient, server: EventEmitter): Promise<string> {
  const registered = once(server, 'registered');
  await client.start();
  await registered;
  return deviceBase(client);
}
