/**
 * Arrival schedule of an Artillery-style phase list: in a phase of `durationMs` devices arrive at
 * `arrivalRate` per second, ramping linearly to `rampTo` when given; a `pause` phase adds none.
 */
export interface PhaseSpec {
  readonly name?: string;
  readonly durationMs: number;
  readonly arrivalRate?: number;
  readonly rampTo?: number;
  readonly pause?: boolean;
}

export interface Arrival {
  /** Offset from the start of the run, ms. */
  readonly atMs: number;
  readonly phase: number;
}

/**
 * The arrival times of at most `limit` devices (bounded: the schedule never exceeds `limit` entries).
 * With rate r(t) = r0 + (r1 − r0)·t/d, the cumulative count is N(t) = r0·t + (r1 − r0)·t²/(2d); the k-th
 * device arrives when N(t) = k (k = 0, 1, …), solved in closed form.
 */
export function arrivalSchedule(phases: readonly PhaseSpec[], limit: number): Arrival[] {
  const out: Arrival[] = [];
  let phaseStart = 0;
  for (let p = 0; p < phases.length && out.length < limit; p++) {
    const ph = phases[p] as PhaseSpec;
    const d = ph.durationMs / 1000;
    const r0 = ph.pause ? 0 : ph.arrivalRate ?? 0;
    const r1 = ph.pause ? 0 : ph.rampTo ?? r0;
    const total = d * (r0 + r1) / 2;
    const n = Math.min(Math.floor(total + 1e-9), limit - out.length);
    for (let k = 0; k < n; k++) {
      out.push({ atMs: phaseStart + solve(k, r0, r1, d) * 1000, phase: p });
    }
    phaseStart += ph.durationMs;
  }
  return out;
}

/** Time t in [0, d] at which N(t) = k. */
function solve(k: number, r0: number, r1: number, d: number): number {
  if (k === 0) return 0;
  const a = (r1 - r0) / (2 * d);
  if (Math.abs(a) < 1e-12) return k / r0;
  // a·t² + r0·t − k = 0 → t = (−r0 + √(r0² + 4ak)) / 2a
  const disc = r0 * r0 + 4 * a * k;
  return (-r0 + Math.sqrt(Math.max(0, disc))) / (2 * a);
}

/** Total run length of the phases, ms. */
export function phasesDurationMs(phases: readonly PhaseSpec[]): number {
  return phases.reduce((s, p) => s + p.durationMs, 0);
}
