import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { LwM2MError } from '../../../src/core/errors.js';
import { resource, type LwM2MNode } from '../../../src/model/node.js';
import type { NotificationAttributes } from '../../../src/client/attributes.js';
import { Notifier } from '../../../src/client/notifier.js';

function setup(attrs: NotificationAttributes, initial = 20) {
  const clock = new ManualClock(1_000_000);
  let value: number | undefined = initial;
  const sent: Array<{ at: number; value: unknown }> = [];
  let gone: unknown;
  const n = new Notifier({
    clock,
    attributes: () => attrs,
    read: (): LwM2MNode => {
      if (value === undefined) throw new LwM2MError('NOT_FOUND', 'gone');
      return resource(5700, value);
    },
    send: (node) => sent.push({ at: (clock.now() - 1_000_000) / 1000, value: node.kind === 'resource' ? node.value : undefined }),
    onGone: (e) => { gone = e; },
  });
  n.start(resource(5700, initial));
  const set = (v: number | undefined): void => { value = v; n.changed(); };
  const setSilently = (v: number): void => { value = v; };
  return { clock, n, sent, set, setSilently, gone: () => gone, advance: (s: number) => clock.advance(s * 1000) };
}

describe('Notifier applies notification attributes exactly', () => {
  it('without attributes notifies every change at once, and never for an unchanged value', () => {
    const t = setup({});
    t.set(21);
    t.set(21);
    t.advance(1);
    t.set(22);
    expect(t.sent).toEqual([{ at: 0, value: 21 }, { at: 1, value: 22 }]);
  });

  it('pmin holds a change until pmin elapsed and then sends the latest value', () => {
    const t = setup({ pmin: 10 });
    t.advance(3);
    t.set(21);
    t.advance(2);
    t.set(23);
    expect(t.sent).toEqual([]);
    t.advance(4.999);
    expect(t.sent).toEqual([]);
    t.advance(0.001);
    expect(t.sent).toEqual([{ at: 10, value: 23 }]);
  });

  it('pmax sends the value even when unchanged, measured from the last notification', () => {
    const t = setup({ pmax: 30 });
    t.advance(29.999);
    expect(t.sent).toHaveLength(0);
    t.advance(0.001);
    expect(t.sent).toEqual([{ at: 30, value: 20 }]);
    t.advance(10);
    t.set(25); // resets the pmax period
    t.advance(29.9);
    expect(t.sent.map((s) => s.at)).toEqual([30, 40]);
    t.advance(0.1);
    expect(t.sent.map((s) => s.at)).toEqual([30, 40, 70]);
  });

  it('a pmax below pmin is ignored', () => {
    const t = setup({ pmin: 20, pmax: 10 });
    t.advance(100);
    expect(t.sent).toHaveLength(0);
  });

  it('gt notifies on crossing, in both directions, and not while staying on one side', () => {
    const t = setup({ gt: 25 });
    t.set(24);
    t.set(26);
    t.set(30);
    t.set(25);
    expect(t.sent.map((s) => s.value)).toEqual([26, 25]);
  });

  it('lt notifies on crossing below and back', () => {
    const t = setup({ lt: 10 });
    t.set(15);
    t.set(9);
    t.set(5);
    t.set(10);
    expect(t.sent.map((s) => s.value)).toEqual([9, 10]);
  });

  it('st notifies when the value moved by at least st from the last notified value', () => {
    const t = setup({ st: 2 });
    t.set(21);
    t.set(21.9);
    t.set(22);
    t.set(23.5);
    t.set(24);
    expect(t.sent.map((s) => s.value)).toEqual([22, 24]);
  });

  it('pmin with st: a qualifying change waits for pmin', () => {
    const t = setup({ pmin: 5, st: 1 });
    t.set(25);
    expect(t.sent).toHaveLength(0);
    t.advance(5);
    expect(t.sent).toEqual([{ at: 5, value: 25 }]);
  });

  it('epmin defers evaluation; epmax re-samples', () => {
    const t = setup({ epmin: 4 });
    t.advance(1);
    t.set(30);
    expect(t.sent).toHaveLength(0);
    t.advance(3);
    expect(t.sent).toEqual([{ at: 4, value: 30 }]);

    // A value that changes without the device telling us is only seen by epmax sampling.
    const u = setup({ epmax: 10 });
    u.setSilently(27);
    u.advance(9.999);
    expect(u.sent).toHaveLength(0);
    u.advance(0.001);
    expect(u.sent).toEqual([{ at: 10, value: 27 }]);
    u.advance(10);
    expect(u.sent).toHaveLength(1); // sampled again, unchanged: nothing sent
    u.setSilently(28);
    u.advance(10);
    expect(u.sent.map((s) => s.at)).toEqual([10, 30]);
  });

  it('ends the observation when the resource disappears', () => {
    const t = setup({});
    t.set(undefined);
    expect(t.gone()).toBeInstanceOf(LwM2MError);
    expect(t.clock.pendingCount).toBe(0);
  });

  it('stop cancels every timer', () => {
    const t = setup({ pmin: 5, pmax: 10, epmax: 3 });
    t.set(30);
    t.n.stop();
    t.advance(100);
    expect(t.sent).toHaveLength(0);
  });
});
