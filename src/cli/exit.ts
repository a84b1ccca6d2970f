/** Exit codes shared by every CLI (k6 conventions for the fleet: 99 = a threshold failed). */
export const ExitCode = {
  OK: 0,
  CRASH: 1,
  INVALID_INPUT: 2,
  THRESHOLD_FAILED: 99,
} as const;

/** An error a CLI reports as one clear line and an exit code, without a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode: number = ExitCode.INVALID_INPUT) {
    super(message);
  }
}

/**
 * The `main` of every CLI: runs it, turns a CliError into one line on stderr and its exit code, anything
 * else into a stack trace and exit 1. `exitWhenDone` ends the process once the exit code is set (sockets
 * and workers are closed by then; stray timers must not keep it alive).
 */
export async function runCli(name: string, run: () => Promise<number>, exitWhenDone = true): Promise<void> {
  try {
    process.exitCode = await run();
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`${name}: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else {
      process.stderr.write(`${name}: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exitCode = ExitCode.CRASH;
    }
  }
  if (exitWhenDone) setImmediate(() => process.exit());
}
