import { describe, expect, it } from 'vitest';
import { arrivalSchedule, phasesDurationMs } from '../../../simulators/engine/phases.js';

describe('arrival schedule', () => {
  it('constant rate: one device every 1/r seconds', () => {
    const a = arrivalSchedule([{ durationMs: 10_000, arrivalRate: 2 }], 1000);
    expect(a).toHaveLength(20);
    expect(a.slice(0, 4).map((x) => x.atMs)).toEqual([0, 500, 1000, 1500]);
    expect(a[19]?.atMs).toBe(9500);
  });

  it('ramp from 0 to 10/s over 10 s brings 50 devices, later ones closer together', () => {
    const a = arrivalSchedule([{ durationMs: 10_000, arrivalRate: 0, rampTo: 10 }], 1000);
    expect(a).toHaveLength(50);
    const gaps = a.slice(1).map((x, i) => x.atMs - (a[i]?.atMs ?? 0));
    expect(gaps[0]).toBeGreaterThan(gaps[gaps.length - 1] as number);
    for (const x of a) expect(x.atMs).toBeLessThanOrEqual(10_000);
    // N(t) = t²/2 → the 8th device (k=8) at t = 4 s
    expect(a[8]?.atMs).toBeCloseTo(4000, 6);
  });

  it('pause phases add no device but move later phases', () => {
    const a = arrivalSchedule([
      { durationMs: 1000, arrivalRate: 5 },
      { durationMs: 5000, pause: true },
      { durationMs: 1000, arrivalRate: 5 },
    ], 1000);
    expect(a).toHaveLength(10);
    expect(a[5]?.atMs).toBe(6000);
    expect(a[5]?.phase).toBe(2);
    expect(phasesDurationMs([{ durationMs: 1000 }, { durationMs: 5000, pause: true }])).toBe(6000);
  });

  it('never schedules more than the limit', () => {
    expect(arrivalSchedule([{ durationMs: 60_000, arrivalRate: 1000 }], 100)).toHaveLength(100);
    expect(arrivalSchedule([{ durationMs: 60_000, arrivalRate: 1000 }], 0)).toHaveLength(0);
  });
});
