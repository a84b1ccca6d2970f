/**
 * Running the built CLIs (bin/*.js → dist/) as separate processes in e2e tests.
 *
 * - `runCli`: runs a command to completion, bounded by a timeout (then SIGKILL); never rejects, resolves
 *   with `{ code, signal, stdout, stderr, timedOut }`.
 * - `startCli`: starts a long-running process (a server, a fleet run being watched) and waits, by event,
 *   for a line matching `ready` on stdout or stderr — or for the process to end first (then `match` is
 *   null and the caller looks at the exit code). Bounded: a process that neither matches nor exits within
 *   `timeoutMs` is killed and the promise rejects with what it printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..', '..');
export const bins = {
  fleet: join(root, 'bin', 'lwm2m-fleet.js'),
  server: join(root, 'bin', 'lwm2m-server.js'),
  client: join(root, 'bin', 'lwm2m-client.js'),
} as const;

/** Child environment: no colours, CI mode (no interactive progress). */
const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CI: 'true', NO_COLOR: '1' });

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the process was killed because it outlived `timeoutMs`. */
  timedOut: boolean;
}

export interface CliOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs `node <bin> ...args` to completion (killed after `timeoutMs`). Never rejects. */
export function runCli(bin: string, args: readonly string[], opts: CliOptions = {}): Promise<CliRun> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [bin, ...args], { cwd: root, env: opts.env ?? cliEnv() });
    } catch (e) {
      resolve({ code: null, signal: null, stdout, stderr: String(e), timedOut });
      return;
    }
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const t = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(t);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e), timedOut });
    });
    child.once('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

export interface StartOptions extends CliOptions {
  /** The start line to wait for. */
  ready: RegExp;
  /** Where the start line appears (default stdout). */
  stream?: 'stdout' | 'stderr';
}

export interface StartedCli {
  child: ChildProcess;
  /** The `ready` match, or null when the process ended before printing it. */
  match: RegExpExecArray | null;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once `stream` (all of it so far) matches `re`; rejects after `timeoutMs` or when the process ends first. */
  waitFor: (stream: 'stdout' | 'stderr', re: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>;
  /** Resolves with the exit status once the process has ended and its pipes are drained. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the exit code once the process ends by itself; SIGKILL after `timeoutMs` (then code null). */
  exit: (timeoutMs?: number) => Promise<number | null>;
  /** Sends `signal` (unless already ended), then as `exit`. */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>;
}

/** Starts `node <bin> ...args` and waits (event-driven, bounded) for `ready` or the process's end. */
export async function startCli(bin: string, args: readonly string[], opts: StartOptions): Promise<StartedCli> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: opts.env ?? cliEnv() });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => { out.stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out.stderr += d.toString(); });
  let ended = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => { ended = true; resolve({ code: null, signal: null }); });
    child.once('close', (code, signal) => { ended = true; resolve({ code, signal }); });
  });

  const waitFor = (stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const pipe = child[stream];
      const cleanup = (): void => {
        clearTimeout(t);
        pipe.off('data', check);
        child.off('close', onClose);
      };
      const check = (): void => {
        const m = re.exec(out[stream]);
        if (m) {
          cleanup();
          resolve(m);
        }
      };
      const onClose = (): void => {
        cleanup();
        reject(new Error(`${bin} ended before ${stream} matched ${re}; stdout: ${out.stdout} stderr: ${out.stderr}`));
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`${stream} did not match ${re} within ${timeoutMs} ms; stdout: ${out.stdout} stderr: ${out.stderr}`));
      }, timeoutMs);
      // Listeners are added after the collectors above, so `out` already holds the chunk when `check` runs.
      pipe.on('data', check);
      child.once('close', onClose);
      check();
      if (ended) onClose();
    });

  const exit = async (timeoutMs = 60_000): Promise<number | null> => {
    if (!ended) {
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await closed;
      clearTimeout(t);
    }
    return (await closed).code;
  };
  const stop = (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<number | null> => {
    if (!ended) child.kill(signal);
    return exit(timeoutMs);
  };

  let match: RegExpExecArray | null;
  try {
    match = await waitFor(opts.stream ?? 'stdout', opts.ready, opts.timeoutMs ?? 20_000);
  } catch (e) {
    if (!ended) {
      child.kill('SIGKILL');
      throw e;
    }
    match = null;
  }
  return { child, match, stdout: () => out.stdout, stderr: () => out.stderr, waitFor, closed, exit, stop };
}

/** lwm2m-server's start line (src/cli/server.ts): its URIs, printed once every listener is bound. */
export const serverReady = /^lwm2m-server: LwM2M .*$/m;
