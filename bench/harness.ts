/** Minimal, dependency-free micro-benchmark harness: ops/s as the median of several timed rounds. */
import { performance } from 'node:perf_hooks';

export interface BenchResult {
  name: string;
  opsPerSec: number;
  rounds: number[];
}

export interface BenchOptions {
  /** Duration of one round in ms. */
  roundMs?: number;
  rounds?: number;
  warmupMs?: number;
}

export function bench(name: string, fn: () => void, opts: BenchOptions = {}): BenchResult {
  const roundMs = opts.roundMs ?? 400;
  const roundsN = opts.rounds ?? 5;
  const warmupMs = opts.warmupMs ?? 200;
  runFor(fn, warmupMs);
  const rounds: number[] = [];
  for (let r = 0; r < roundsN; r++) rounds.push(runFor(fn, roundMs));
  const sorted = [...rounds].sort((a, b) => a - b);
  return { name, opsPerSec: sorted[Math.floor(sorted.length / 2)] as number, rounds };
}

/** Runs fn in batches until `ms` elapsed; returns ops/s. Bounded by time. */
function runFor(fn: () => void, ms: number): number {
  let ops = 0;
  let batch = 1;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    elapsed = performance.now() - start;
    if (elapsed < ms / 20) batch *= 2;
  }
  return (ops * 1000) / elapsed;
}

export function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(0);
}
