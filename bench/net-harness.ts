/** Shared pieces of the network benches: the load-generator worker, memory snapshots, options, tables. */
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LoadCommand, LoadReply, LoadResult } from './coap-load.js';

/** The load generator in its own worker thread (own core, own heap). One command at a time. */
export class LoadGenerator {
  private readonly worker: Worker;
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.worker = new Worker(new URL('./coap-load.js', import.meta.url));
    this.worker.on('error', (e) => console.error('load generator failed:', e));
  }

  private send(cmd: LoadCommand): Promise<LoadReply> {
    const next = this.queue.then(() => new Promise<LoadReply>((resolve, reject) => {
      this.worker.once('message', (r: LoadReply) => (r.type === 'error' ? reject(new Error(r.message)) : resolve(r)));
      this.worker.postMessage(cmd);
    }));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async open(count: number): Promise<number[]> {
    const r = await this.send({ type: 'open', count });
    return r.type === 'opened' ? r.ports : [];
  }

  async run(cmd: Exclude<LoadCommand, { type: 'open' | 'close' | 'observers' }>): Promise<LoadResult> {
    const r = await this.send(cmd);
    if (r.type !== 'result') throw new Error(`unexpected reply ${r.type}`);
    return r.result;
  }

  async observers(target: number): Promise<number> {
    const r = await this.send({ type: 'observers', target });
    return r.type === 'observers' ? r.count : 0;
  }

  async close(): Promise<void> {
    await this.send({ type: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

export interface MemSnapshot {
  heapUsed: number;
  rss: number;
  external: number;
}

/** Memory after full GCs (needs --expose-gc; without it the figures include garbage and say so). */
export async function settledMemory(): Promise<MemSnapshot> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    gc?.();
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external };
}

export function hasGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** `--name N` or env BENCH_NAME, else the default. */
export function numberOption(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** Runs `fn` for every item with at most `limit` at once. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : (s[Math.floor(s.length / 2)] as number);
}

export function machine(): string {
  return `${cpus().length}× ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}`;
}

export function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms); }),
  ]);
}

/** Round r of an interleaved comparison: baseline first on even rounds, ours first on odd ones (ABBA). */
export async function abba<T>(round: number, baseline: () => Promise<T>, ours: () => Promise<T>): Promise<[baseline: T, ours: T]> {
  if (round % 2 === 0) {
    const b = await baseline();
    return [b, await ours()];
  }
  const o = await ours();
  return [await baseline(), o];
}
