/**
 * What a bootstrap session leaves behind: its record (endpoint, times, every step with its code, the
 * outcome), kept in a bounded history — the oldest records go first.
 */
import type { PeerAddress } from '../../coap/types.js';
import type { BootstrapOperation } from './plan.js';

export interface BootstrapStepRecord {
  readonly operation: BootstrapOperation;
  /** `/0/1`, `/`, `/bs`… */
  readonly path: string;
  /** Response code; absent when no answer came (timeout, cancelled). */
  readonly code?: string;
  readonly ok: boolean;
  /** The client's diagnostic payload of an error answer, or why there was no answer. */
  readonly diagnostic?: string;
  /** Content-Format of the request (writes) or of the answer (discover, read). */
  readonly contentFormat?: number;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** Bootstrap-Read: flat path → value map (as the HTTP API shows reads). */
  readonly values?: Readonly<Record<string, unknown>>;
  /** Bootstrap-Discover: the link-format answer (truncated to 4 KiB). */
  readonly links?: string;
}

export type BootstrapOutcome = 'running' | 'ok' | 'failed';

export interface BootstrapSessionRecord {
  /** Unique per server process. */
  readonly id: string;
  readonly endpoint: string;
  /** Where the Bootstrap-Request came from (and the requests went). */
  readonly peer: PeerAddress;
  /** The config applied: the endpoint's own, or "*" (the default); absent when refused for lack of one. */
  readonly configKey?: string;
  /** `pct` of the Bootstrap-Request. */
  readonly preferredContentFormat?: number;
  /** Format of the Bootstrap-Writes. */
  readonly contentFormat?: number;
  /** LwM2M version from Bootstrap-Discover (`</>;lwm2m=…`), when discovered. */
  readonly lwm2mVersion?: string;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly endedAt?: number;
  readonly outcome: BootstrapOutcome;
  /** Why it failed. */
  readonly reason?: string;
  readonly steps: readonly BootstrapStepRecord[];
}

export interface HistoryQuery {
  endpoint?: string;
  outcome?: BootstrapOutcome;
  /** Default: all kept. */
  limit?: number;
}

/** A ring of the last `capacity` records. */
export class BootstrapHistory {
  private readonly ring: (BootstrapSessionRecord | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`history capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array<BootstrapSessionRecord | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  add(record: BootstrapSessionRecord): void {
    this.ring[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Newest first. */
  list(query: HistoryQuery = {}): BootstrapSessionRecord[] {
    const limit = query.limit ?? this.count;
    const out: BootstrapSessionRecord[] = [];
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const rec = this.ring[(this.next - i + this.capacity) % this.capacity];
      if (!rec) continue;
      if (query.endpoint !== undefined && rec.endpoint !== query.endpoint) continue;
      if (query.outcome !== undefined && rec.outcome !== query.outcome) continue;
      out.push(rec);
    }
    return out;
  }

  get(id: string): BootstrapSessionRecord | undefined {
    for (let i = 0; i < this.count; i++) {
      const rec = this.ring[i];
      if (rec?.id === id) return rec;
    }
    return undefined;
  }

  clear(): void {
    this.ring.fill(undefined);
    this.next = 0;
    this.count = 0;
  }
}
