import fc from 'fast-check';
import { expect } from 'vitest';
import { isLwM2MError } from '../../src/core/errors.js';

export interface FuzzOptions {
  /** Number of inputs (random + mutated seeds). Default 10 000. */
  runs?: number;
  /** fast-check seed so a failure is reproducible. */
  seed?: number;
  maxLength?: number;
}

/** Applies 1–4 random mutations (bit flip, byte set, insert, delete, truncate, duplicate) to `input`. */
export function mutate(input: Uint8Array, rnd: () => number): Uint8Array {
  const b = Array.from(input);
  const ops = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < ops; k++) {
    const pos = b.length === 0 ? 0 : Math.floor(rnd() * b.length);
    switch (Math.floor(rnd() * 6)) {
      case 0: if (b.length) b[pos] = (b[pos] as number) ^ (1 << Math.floor(rnd() * 8)); break;
      case 1: if (b.length) b[pos] = Math.floor(rnd() * 256); break;
      case 2: b.splice(pos, 0, Math.floor(rnd() * 256)); break;
      case 3: b.splice(pos, 1); break;
      case 4: b.length = pos; break;
      default: b.splice(pos, 0, ...b.slice(pos, pos + 1 + Math.floor(rnd() * 8))); break;
    }
  }
  return Uint8Array.from(b);
}

/**
 * Feeds `runs` inputs to `decode`: half purely random bytes, half mutations of the `seeds` (valid
 * encodings). Each call must return or throw an LwM2MError with a 4.00 or 4.15 code — never another
 * exception. Seeded and reproducible. Returns how many inputs decoded successfully and how many were
 * rejected, so a test can check both paths were exercised.
 */
export function fuzzDecoder(
  decode: (input: Uint8Array) => unknown,
  seeds: readonly Uint8Array[],
  options: FuzzOptions = {},
): { ok: number; rejected: number } {
  const runs = options.runs ?? 10_000;
  const seed = options.seed ?? 0x1f2e3d;
  const counts = { ok: 0, rejected: 0 };
  const check = (input: Uint8Array): void => {
    try {
      decode(input);
      counts.ok++;
    } catch (e) {
      if (!isLwM2MError(e) || (e.coapCode !== '4.00' && e.coapCode !== '4.15')) {
        throw new Error(
          `decoder threw a non-LwM2M error for input ${Buffer.from(input).toString('hex')}: ${String(e)}`,
          { cause: e },
        );
      }
      counts.rejected++;
    }
  };
  const random = fc.uint8Array({ maxLength: options.maxLength ?? 256 });
  const mutated = fc.tuple(fc.nat({ max: Math.max(0, seeds.length - 1) }), fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true })))
    .map(([i, stream]) => {
      const it = stream[Symbol.iterator]();
      const rnd = (): number => it.next().value as number;
      return mutate(seeds[i] ?? new Uint8Array(), rnd);
    });
  const arb = seeds.length > 0 ? fc.oneof(random, mutated) : random;
  fc.assert(fc.property(arb, (input) => { check(input); }), { numRuns: runs, seed });
  expect(counts.ok + counts.rejected).toBe(runs);
  return counts;
}
