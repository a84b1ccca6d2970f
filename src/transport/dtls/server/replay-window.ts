/**
 * The 64-entry sliding anti-replay window of RFC 6347 §4.1.2.6 (RFC 4303 §3.4.3 style), kept in three
 * numbers so an idle session costs no extra allocation: `top` is the highest sequence number accepted,
 * `lo`/`hi` are the bits for top-0…top-31 and top-32…top-63 (bit set = seen).
 *
 * Check with `mayAccept()` before decrypting, `accept()` only after the record authenticated, so a
 * forged record cannot move the window.
 */
export const REPLAY_WINDOW_SIZE = 64;

export interface ReplayState {
  top: number;
  lo: number;
  hi: number;
}

export function newReplayState(): ReplayState {
  return { top: -1, lo: 0, hi: 0 };
}

/** false for a duplicate or a record older than the window. */
export function mayAccept(w: ReplayState, seq: number): boolean {
  if (seq > w.top) return true;
  const d = w.top - seq;
  if (d >= REPLAY_WINDOW_SIZE) return false;
  return d < 32 ? ((w.lo >>> d) & 1) === 0 : ((w.hi >>> (d - 32)) & 1) === 0;
}

/** Marks `seq` as received (assumes `mayAccept(w, seq)`), sliding the window forward when it is newer. */
export function accept(w: ReplayState, seq: number): void {
  if (seq > w.top) {
    const shift = w.top < 0 ? REPLAY_WINDOW_SIZE : seq - w.top;
    if (shift >= REPLAY_WINDOW_SIZE) {
      w.hi = 0;
      w.lo = 0;
    } else if (shift >= 32) {
      w.hi = (w.lo << (shift - 32)) >>> 0;
      w.lo = 0;
    } else {
      w.hi = ((w.hi << shift) | (shift === 0 ? 0 : w.lo >>> (32 - shift))) >>> 0;
      w.lo = (w.lo << shift) >>> 0;
    }
    w.lo = (w.lo | 1) >>> 0;
    w.top = seq;
    return;
  }
  const d = w.top - seq;
  if (d >= REPLAY_WINDOW_SIZE) return;
  if (d < 32) w.lo = (w.lo | (1 << d)) >>> 0;
  else w.hi = (w.hi | (1 << (d - 32))) >>> 0;
}
