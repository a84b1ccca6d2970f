import type { Clock, TimerHandle } from '../core/clock.js';
import type { LwM2MNode } from '../model/node.js';
import type { NotificationAttributes } from './attributes.js';
import { sameData } from './instance.js';

export interface NotifierOptions {
  clock: Clock;
  /** Effective attributes, re-read at every decision (Write-Attributes may change them while observed). */
  attributes: () => NotificationAttributes;
  /** Reads the observed node now; throws when it disappeared (the observation then ends). */
  read: () => LwM2MNode;
  /** Sends a notification carrying `node`. */
  send: (node: LwM2MNode) => void;
  /** Called when the observed node can no longer be read. */
  onGone?: (error: unknown) => void;
}

/**
 * Decides when one observation notifies, applying the attributes exactly (LwM2M-TS-Core 1.1 §5.1.2):
 * - a notification is sent only when at least `pmin` seconds passed since the last one;
 * - it is sent when `pmax` seconds passed since the last one, changed or not (pmax absent/0: never);
 * - a change counts when the value differs, and — for a numeric single value with `gt`/`lt`/`st` —
 *   only when it crosses `gt` or `lt` (in either direction) or moved by ≥ `st` from the last notified value;
 * - `epmin`: changes are not evaluated sooner than epmin after the last evaluation; `epmax`: the value is
 *   re-sampled at least every epmax seconds (for values the device does not push, e.g. sensors).
 * A qualifying change inside pmin is held and sent when pmin elapses (with the value at that time).
 */
export class Notifier {
  private lastSentAt = 0;
  private lastSent: LwM2MNode | undefined;
  private lastEvalAt = 0;
  private pending = false;
  private pminTimer: TimerHandle | undefined;
  private pmaxTimer: TimerHandle | undefined;
  private epmaxTimer: TimerHandle | undefined;
  private epminTimer: TimerHandle | undefined;
  private stopped = false;
  /** Number of notifications sent (for tests/metrics). */
  sent = 0;

  constructor(private readonly opts: NotifierOptions) {}

  /** The observe response itself counts as the first notification (RFC 7641 §3.2). */
  start(initial: LwM2MNode): void {
    const now = this.opts.clock.now();
    this.lastSent = initial;
    this.lastSentAt = now;
    this.lastEvalAt = now;
    this.armPeriodic();
  }

  stop(): void {
    this.stopped = true;
    for (const t of [this.pminTimer, this.pmaxTimer, this.epmaxTimer, this.epminTimer]) t?.cancel();
  }

  /** The device says the observed value may have changed. */
  changed(): void {
    if (this.stopped) return;
    const a = this.opts.attributes();
    const now = this.opts.clock.now();
    const epminMs = (a.epmin ?? 0) * 1000;
    if (epminMs > 0 && now - this.lastEvalAt < epminMs) {
      this.epminTimer ??= this.opts.clock.setTimeout(() => {
        this.epminTimer = undefined;
        this.changed();
      }, this.lastEvalAt + epminMs - now);
      return;
    }
    this.evaluate();
  }

  /** Another path of the same (composite) observation was just notified: its value counts as sent. */
  markSent(): void {
    if (this.stopped) return;
    try {
      this.lastSent = this.opts.read();
    } catch {
      return;
    }
    this.lastSentAt = this.opts.clock.now();
    this.pending = false;
    this.armPeriodic();
  }

  /** Attributes changed: re-arm the periodic timers. */
  attributesChanged(): void {
    if (!this.stopped) this.armPeriodic();
  }

  private evaluate(): void {
    const now = this.opts.clock.now();
    this.lastEvalAt = now;
    const node = this.readOrEnd();
    if (node === undefined || !this.qualifies(node)) return;
    this.pending = true;
    this.flushWhenAllowed();
  }

  private qualifies(node: LwM2MNode): boolean {
    const prev = this.lastSent;
    if (!prev) return true;
    const a = this.opts.attributes();
    const cur = numericValue(node);
    const old = numericValue(prev);
    if (cur !== undefined && old !== undefined && (a.gt !== undefined || a.lt !== undefined || a.st !== undefined)) {
      // §5.1.2: gt/lt — notify when the value crosses the threshold; st — when it changed by at least st.
      if (a.gt !== undefined && (old <= a.gt) !== (cur <= a.gt)) return true;
      if (a.lt !== undefined && (old < a.lt) !== (cur < a.lt)) return true;
      if (a.st !== undefined && Math.abs(cur - old) >= a.st) return true;
      return false;
    }
    return !sameNode(prev, node);
  }

  private flushWhenAllowed(): void {
    if (!this.pending || this.stopped) return;
    const a = this.opts.attributes();
    const now = this.opts.clock.now();
    const pminMs = (a.pmin ?? 0) * 1000;
    const wait = this.lastSentAt + pminMs - now;
    if (wait > 0) {
      this.pminTimer ??= this.opts.clock.setTimeout(() => {
        this.pminTimer = undefined;
        this.flushWhenAllowed();
      }, wait);
      return;
    }
    this.notifyNow();
  }

  /** Reads the observed node; when it cannot be read any more, the observation ends (undefined). */
  private readOrEnd(): LwM2MNode | undefined {
    try {
      return this.opts.read();
    } catch (e) {
      this.stop();
      this.opts.onGone?.(e);
      return undefined;
    }
  }

  private notifyNow(): void {
    const node = this.readOrEnd();
    if (node === undefined) return;
    this.pending = false;
    this.lastSent = node;
    this.lastSentAt = this.opts.clock.now();
    this.sent++;
    this.opts.send(node);
    this.armPeriodic();
  }

  private armPeriodic(): void {
    this.pmaxTimer?.cancel();
    this.pmaxTimer = undefined;
    this.epmaxTimer?.cancel();
    this.epmaxTimer = undefined;
    const a = this.opts.attributes();
    const pmin = a.pmin ?? 0;
    // §5.1.2: a pmax lower than pmin is ignored; 0 or absent means no periodic notification.
    if (a.pmax !== undefined && a.pmax > 0 && a.pmax >= pmin) {
      const due = this.lastSentAt + a.pmax * 1000 - this.opts.clock.now();
      this.pmaxTimer = this.opts.clock.setTimeout(() => {
        this.pmaxTimer = undefined;
        this.pending = true;
        this.notifyNow();
      }, Math.max(0, due));
    }
    if (a.epmax !== undefined && a.epmax > 0) {
      this.epmaxTimer = this.opts.clock.setTimeout(() => {
        this.epmaxTimer = undefined;
        this.evaluate();
        if (!this.stopped && !this.epmaxTimer) this.armPeriodic();
      }, a.epmax * 1000);
    }
  }
}

function numericValue(node: LwM2MNode): number | undefined {
  if (node.kind !== 'resource' && node.kind !== 'resourceInstance') return undefined;
  const v = node.value;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function sameNode(a: LwM2MNode, b: LwM2MNode): boolean {
  if (a.kind !== b.kind) return false;
  if ((a.kind === 'resource' || a.kind === 'resourceInstance') && (b.kind === 'resource' || b.kind === 'resourceInstance')) {
    return sameData(a.value, b.value);
  }
  if (a.kind === 'multipleResource' && b.kind === 'multipleResource') return sameData(a.instances, b.instances);
  // Instances/objects: compare resource by resource.
  if (a.kind === 'instance' && b.kind === 'instance') {
    if (a.resources.size !== b.resources.size) return false;
    for (const [rid, r] of a.resources) {
      const s = b.resources.get(rid);
      if (!s || !sameNode(r, s)) return false;
    }
    return true;
  }
  if (a.kind === 'object' && b.kind === 'object') {
    if (a.instances.size !== b.instances.size) return false;
    for (const [iid, i] of a.instances) {
      const j = b.instances.get(iid);
      if (!j || !sameNode(i, j)) return false;
    }
    return true;
  }
  return false;
}
