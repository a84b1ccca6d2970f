/**
 * Handshake message reassembly (RFC 6347 §4.2.3), bounded: a message longer than `maxMessageLength`,
 * more than `maxMessages` messages in progress, or more than `maxFragments` fragments for one message
 * are refused (the caller drops the fragment; the peer retransmits or the handshake times out).
 *
 * Received byte ranges are kept as a sorted, merged list, so overlapping and duplicated fragments
 * are fine (fragments "may overlap", §4.2.3).
 */
export interface AssembledMessage {
  readonly msgType: number;
  readonly messageSeq: number;
  readonly body: Buffer;
}

interface Partial {
  msgType: number;
  length: number;
  body: Buffer;
  /** Merged, sorted [start, end) ranges received. */
  ranges: Array<[number, number]>;
  fragments: number;
}

export interface ReassemblyLimits {
  maxMessageLength: number;
  maxMessages: number;
  maxFragments: number;
}

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { maxMessageLength: 8192, maxMessages: 4, maxFragments: 64 };

export type FragmentVerdict = AssembledMessage | 'incomplete' | 'refused';

export class Reassembler {
  private readonly partial = new Map<number, Partial>();

  constructor(private readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /** Bytes held for incomplete messages. */
  get bufferedBytes(): number {
    let n = 0;
    for (const p of this.partial.values()) n += p.body.length;
    return n;
  }

  clear(): void {
    this.partial.clear();
  }

  /** Adds one fragment. Returns the whole message once every byte arrived. */
  add(msgType: number, length: number, messageSeq: number, offset: number, fragment: Buffer): FragmentVerdict {
    if (offset === 0 && fragment.length === length) {
      this.partial.delete(messageSeq);
      return { msgType, messageSeq, body: Buffer.from(fragment) };
    }
    if (length > this.limits.maxMessageLength) return 'refused';
    let p = this.partial.get(messageSeq);
    if (p && (p.msgType !== msgType || p.length !== length)) return 'refused'; // inconsistent headers
    if (!p) {
      if (this.partial.size >= this.limits.maxMessages) return 'refused';
      p = { msgType, length, body: Buffer.alloc(length), ranges: [], fragments: 0 };
      this.partial.set(messageSeq, p);
    }
    if (++p.fragments > this.limits.maxFragments) {
      this.partial.delete(messageSeq);
      return 'refused';
    }
    fragment.copy(p.body, offset);
    p.ranges = mergeRange(p.ranges, offset, offset + fragment.length);
    const first = p.ranges[0];
    if (p.ranges.length === 1 && first && first[0] === 0 && first[1] === length) {
      this.partial.delete(messageSeq);
      return { msgType, messageSeq, body: p.body };
    }
    return 'incomplete';
  }
}

function mergeRange(ranges: Array<[number, number]>, start: number, end: number): Array<[number, number]> {
  if (end <= start) return ranges;
  const out: Array<[number, number]> = [];
  let s = start;
  let e = end;
  let placed = false;
  for (const r of ranges) {
    if (r[1] < s) out.push(r);
    else if (r[0] > e) {
      if (!placed) {
        out.push([s, e]);
        placed = true;
      }
      out.push(r);
    } else {
      s = Math.min(s, r[0]);
      e = Math.max(e, r[1]);
    }
  }
  if (!placed) out.push([s, e]);
  return out;
}
