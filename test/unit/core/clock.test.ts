import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../../src/core/clock.js';

describe('ManualClock', () => {
  it('fires timers in time order, ties in creation order, only when advanced', () => {
    const c = new ManualClock(1000);
    const fired: string[] = [];
    c.setTimeout(() => fired.push('b@20'), 20);
    c.setTimeout(() => fired.push('a@10'), 10);
    c.setTimeout(() => fired.push('c@20'), 20);
    expect(fired).toEqual([]);
    c.advance(9);
    expect(fired).toEqual([]);
    expect(c.now()).toBe(1009);
    c.advance(11);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(c.now()).toBe(1020);
  });

  it('runs timers set by timers within the same advance, at the right time', () => {
    const c = new ManualClock();
    const times: number[] = [];
    const tick = (): void => {
      times.push(c.now());
      if (times.length < 5) c.setTimeout(tick, 100);
    };
    c.setTimeout(tick, 100);
    c.advance(1000);
    expect(times).toEqual([100, 200, 300, 400, 500]);
    expect(c.pendingCount).toBe(0);
  });

  it('cancelled timers never fire', () => {
    const c = new ManualClock();
    let n = 0;
    const h = c.setTimeout(() => n++, 5);
    h.cancel();
    c.advance(10);
    expect(n).toBe(0);
  });

  it('bounds runaway timer loops', () => {
    const c = new ManualClock();
    const loop = (): void => { c.setTimeout(loop, 0); };
    c.setTimeout(loop, 0);
    expect(() => c.advance(1, 1000)).toThrow(/more than 1000 timers/);
  });

  it('systemClock fires a real timer', async () => {
    const t0 = systemClock.now();
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    expect(systemClock.now()).toBeGreaterThanOrEqual(t0);
  });
});
