import { LwM2MError } from '../../core/errors.js';
import { expiresAt, type Registration } from './registration.js';

/**
 * Where registrations live (Aedes-style persistence behind an interface). Synchronous by design: the
 * Register → replace → respond sequence must be atomic per request without locks, which a synchronous
 * store gives for free on Node's single thread. A durable store implements this interface over an
 * in-memory index and persists write-behind.
 */
export interface RegistrationStore {
  /**
   * Adds a registration. If its endpoint is already registered, that registration is removed and
   * returned (Core 1.1 §6.2.1: a second Register for the same endpoint replaces the first).
   * Throws `LWM2M_INTERNAL` if the registration id is already used by another registration.
   */
  add(registration: Registration): Registration | undefined;
  getById(registrationId: string): Registration | undefined;
  getByEndpoint(endpoint: string): Registration | undefined;
  /** The most recent registration whose Register/Update came from this address and port. */
  getByAddress(address: string, port: number): Registration | undefined;
  /**
   * Replaces the stored record with the same id (endpoint must not change) and returns the previous one;
   * undefined (and nothing stored) when the id is unknown.
   */
  update(registration: Registration): Registration | undefined;
  /** Removes by id; returns what was removed. */
  remove(registrationId: string): Registration | undefined;
  /**
   * One page of registrations in registration order. Stable under concurrent adds and removes: walking
   * all pages returns every registration present for the whole walk exactly once; one added during the
   * walk is returned at most once; one removed during the walk at most once. (A re-Register is a new
   * registration with a new id, so the endpoint may show up under both ids.)
   * Throws `LWM2M_BAD_REQUEST` (4.00) for a malformed cursor or limit.
   */
  list(options?: ListOptions): ListPage;
  count(): number;
  /**
   * Registrations whose `lastUpdate + lifetime + grace` is at or before `now` (Leshan: alive iff
   * expiration > now), earliest first, at most `limit`. A query: nothing is removed.
   */
  expired(now: number, options?: ExpiredOptions): Registration[];
  /** The earliest `lastUpdate + lifetime` (ms, without grace) among stored registrations. */
  nextExpiry(): number | undefined;
}

export interface ListOptions {
  /** 1..{@link MAX_PAGE_LIMIT}, default {@link DEFAULT_PAGE_LIMIT}. */
  limit?: number;
  /** `nextCursor` of the previous page; absent for the first page. */
  cursor?: string;
}

export interface ListPage {
  items: Registration[];
  /** Absent on the last page. */
  nextCursor?: string;
}

export interface ExpiredOptions {
  /** Added to every expiry, ms (default 0). */
  graceMs?: number;
  /** Default unbounded. */
  limit?: number;
}

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

interface Entry {
  reg: Registration;
  /** Registration order; cursors are seqs. */
  readonly seq: number;
  removed: boolean;
  /** Identifies the entry's only valid heap node (older nodes are stale and skipped). */
  heapVersion: number;
  addressKey: string;
}

interface HeapNode {
  at: number;
  entry: Entry;
  version: number;
}

function addressKey(address: string, port: number): string {
  return `${port}|${address}`;
}

function badRequest(detail: string): LwM2MError {
  return new LwM2MError('BAD_REQUEST', detail);
}

/**
 * In-memory store: O(1) lookups by id, endpoint and address (Maps); `list` in O(log n + page) from an
 * append-only sequence array with tombstones; `expired`/`nextExpiry` from a min-heap on expiry time with
 * lazy deletion. Both auxiliary structures are compacted when dead slots outnumber live ones, so memory
 * stays O(live registrations) whatever the Update rate.
 */
export class MemoryRegistrationStore implements RegistrationStore {
  private readonly byId = new Map<string, Entry>();
  private readonly byEndpoint = new Map<string, Entry>();
  private readonly byAddress = new Map<string, Entry>();
  /** Entries by ascending seq, including removed ones until compaction. */
  private order: Entry[] = [];
  private tombstones = 0;
  private nextSeq = 1;
  private heap: HeapNode[] = [];

  add(registration: Registration): Registration | undefined {
    const clash = this.byId.get(registration.registrationId);
    if (clash && clash.reg.endpoint !== registration.endpoint) {
      throw new LwM2MError('INTERNAL', `registration id ${registration.registrationId} is already used by endpoint ${clash.reg.endpoint}`);
    }
    const previous = this.byEndpoint.get(registration.endpoint);
    if (previous) this.unlink(previous);
    const entry: Entry = {
      reg: registration,
      seq: this.nextSeq++,
      removed: false,
      heapVersion: 0,
      addressKey: addressKey(registration.address, registration.port),
    };
    this.byId.set(registration.registrationId, entry);
    this.byEndpoint.set(registration.endpoint, entry);
    this.byAddress.set(entry.addressKey, entry);
    this.order.push(entry);
    this.pushHeap(entry);
    return previous?.reg;
  }

  getById(registrationId: string): Registration | undefined {
    return this.byId.get(registrationId)?.reg;
  }

  getByEndpoint(endpoint: string): Registration | undefined {
    return this.byEndpoint.get(endpoint)?.reg;
  }

  getByAddress(address: string, port: number): Registration | undefined {
    return this.byAddress.get(addressKey(address, port))?.reg;
  }

  update(registration: Registration): Registration | undefined {
    const entry = this.byId.get(registration.registrationId);
    if (!entry) return undefined;
    const previous = entry.reg;
    if (previous.endpoint !== registration.endpoint) {
      throw new LwM2MError('INTERNAL', `update of ${registration.registrationId} changes the endpoint ${previous.endpoint} → ${registration.endpoint}`);
    }
    entry.reg = registration;
    const key = addressKey(registration.address, registration.port);
    if (key !== entry.addressKey) {
      if (this.byAddress.get(entry.addressKey) === entry) this.byAddress.delete(entry.addressKey);
      entry.addressKey = key;
      this.byAddress.set(key, entry);
    }
    if (expiresAt(registration) !== expiresAt(previous)) this.pushHeap(entry);
    return previous;
  }

  remove(registrationId: string): Registration | undefined {
    const entry = this.byId.get(registrationId);
    if (!entry) return undefined;
    this.unlink(entry);
    return entry.reg;
  }

  count(): number {
    return this.byId.size;
  }

  list(options: ListOptions = {}): ListPage {
    const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
      throw badRequest(`limit must be an integer in 1..${MAX_PAGE_LIMIT}, got ${String(limit)}`);
    }
    let after = 0;
    if (options.cursor !== undefined) {
      if (typeof options.cursor !== 'string' || !/^[0-9a-z]{1,10}$/.test(options.cursor)) {
        throw badRequest(`malformed cursor ${JSON.stringify(String(options.cursor).slice(0, 20))}`);
      }
      after = parseInt(options.cursor, 36);
    }
    const order = this.order;
    // First index with seq > after (seqs are strictly increasing).
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((order[mid] as Entry).seq <= after) lo = mid + 1;
      else hi = mid;
    }
    const items: Registration[] = [];
    let i = lo;
    let last = 0;
    for (; i < order.length && items.length < limit; i++) {
      const e = order[i] as Entry;
      if (e.removed) continue;
      items.push(e.reg);
      last = e.seq;
    }
    // Is there anything live after the page? (Skips at most the tombstones, bounded by compaction.)
    for (; i < order.length; i++) {
      if (!(order[i] as Entry).removed) return { items, nextCursor: last.toString(36) };
    }
    return { items };
  }

  expired(now: number, options: ExpiredOptions = {}): Registration[] {
    const grace = options.graceMs ?? 0;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const out: Registration[] = [];
    const kept: HeapNode[] = [];
    // Every iteration pops one node: bounded by the heap size.
    while (out.length < limit && this.heap.length > 0) {
      const top = this.heap[0] as HeapNode;
      if (!this.isLive(top)) {
        this.popHeap();
        continue;
      }
      if (top.at + grace > now) break;
      this.popHeap();
      kept.push(top);
      out.push(top.entry.reg);
    }
    for (const node of kept) this.siftUpPush(node);
    return out;
  }

  nextExpiry(): number | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0] as HeapNode;
      if (this.isLive(top)) return top.at;
      this.popHeap();
    }
    return undefined;
  }

  // -------------------------------------------------------------------------------------------------

  private unlink(entry: Entry): void {
    entry.removed = true;
    entry.heapVersion++; // its heap node goes stale
    this.byId.delete(entry.reg.registrationId);
    if (this.byEndpoint.get(entry.reg.endpoint) === entry) this.byEndpoint.delete(entry.reg.endpoint);
    if (this.byAddress.get(entry.addressKey) === entry) this.byAddress.delete(entry.addressKey);
    this.tombstones++;
    if (this.tombstones > 1024 && this.tombstones > this.order.length / 2) {
      this.order = this.order.filter((e) => !e.removed);
      this.tombstones = 0;
    }
  }

  private isLive(node: HeapNode): boolean {
    return !node.entry.removed && node.version === node.entry.heapVersion;
  }

  private pushHeap(entry: Entry): void {
    entry.heapVersion++;
    this.siftUpPush({ at: expiresAt(entry.reg), entry, version: entry.heapVersion });
    // Stale nodes (from Updates and removals) may pile up; rebuild when they outnumber live ones.
    if (this.heap.length > 2 * this.byId.size + 1024) this.rebuildHeap();
  }

  private rebuildHeap(): void {
    const live = this.heap.filter((n) => this.isLive(n));
    this.heap = live;
    for (let i = (live.length >>> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftUpPush(node: HeapNode): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(node);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      const p = heap[parent] as HeapNode;
      if (p.at <= node.at) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = node;
  }

  private popHeap(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    this.siftDown(0);
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const n = heap.length;
    const node = heap[start] as HeapNode;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && (heap[r] as HeapNode).at < (heap[l] as HeapNode).at ? r : l;
      const child = heap[c] as HeapNode;
      if (child.at >= node.at) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = node;
  }
}
