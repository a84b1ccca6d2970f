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
