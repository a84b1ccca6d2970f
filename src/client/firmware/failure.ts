/**
 * Failure injection for simulated firmware updates (the fleet's `apply-firmware` step, tests): how an
 * Update (/5/0/2) ends. Seeded, so a run is reproducible.
 */
import { LwM2MError } from '../../core/errors.js';
import { createPrng, hashSeed } from '../generators.js';

export interface FailureInjection {
  /** Probability in [0, 1] that an update fails with Update Result 8 (Firmware update failed). */
  readonly failureProbability?: number;
  /** Every update ends with this Update Result (1 = success; 2–11 a failure). Wins over the probability. */
  readonly forcedResult?: number;
  /** Random source in [0, 1); default a PRNG seeded with `seed`. */
  readonly rng?: () => number;
  readonly seed?: number | string;
}

export function checkFailureInjection(f: FailureInjection): void {
  const p = f.failureProbability;
  if (p !== undefined && !(p >= 0 && p <= 1)) throw new LwM2MError('BAD_VALUE', `failureProbability: must be within [0, 1], got ${String(p)}`);
  const r = f.forcedResult;
  if (r !== undefined && !(Number.isInteger(r) && r >= 1 && r <= 11)) {
    throw new LwM2MError('BAD_VALUE', `forcedResult: must be an Update Result 1..11, got ${String(r)}`);
  }
}

/** Decides the Update Result of each update: 1 (success) or a failure. */
export function outcomeOf(f: FailureInjection, rng: () => number): number {
  if (f.forcedResult !== undefined) return f.forcedResult;
  const p = f.failureProbability ?? 0;
  return p > 0 && rng() < p ? 8 : 1;
}

export function rngOf(f: FailureInjection): () => number {
  if (f.rng) return f.rng;
  const prng = createPrng(hashSeed('firmware', f.seed ?? 0));
  return () => prng.next();
}
