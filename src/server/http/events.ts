/**
 * The server's event log for `GET /api/v1/events`: every event gets the next integer id and is kept in
 * a bounded ring buffer, so a Server-Sent Events client that reconnects with `Last-Event-ID` resumes
 * where it stopped (WHATWG HTML §9.2 "Server-sent events"), as long as the buffer still holds it.
 * Each event is serialised once, when published; connections pull frames from the ring (no per-connection
 * queue).
 */

/** The event types the server itself publishes. */
export const API_EVENT_TYPES = [
  'registration', 'update', 'deregistration', 'expiry', 'notification', 'send', 'request-done', 'bootstrap', 'security', 'firmware',
] as const;
export type ApiEventType = (typeof API_EVENT_TYPES)[number];

const TYPE_RE = /^[a-z][a-z0-9._-]{0,63}$/;

export interface ApiEvent {
  readonly id: number;
  readonly type: string;
  /** Epoch ms. */
  readonly time: number;
  /** The endpoint it concerns, for `?endpoint=` filtering. */
  readonly endpoint: string | undefined;
  /** The whole SSE frame: `id:`, `event:`, `data:` lines and the blank line. */
  readonly frame: string;
}

export interface EventHubOptions {
  /** Events kept for resumption. Default 10 000. */
  capacity?: number;
  now?: () => number;
}

export class EventHub {
  readonly capacity: number;
  private readonly ring: Array<ApiEvent | undefined>;
  private last = 0;
  private readonly listeners = new Set<() => void>();
  private readonly now: () => number;

  constructor(options: EventHubOptions = {}) {
    this.capacity = Math.max(1, Math.floor(options.capacity ?? 10_000));
    this.ring = new Array<ApiEvent | undefined>(this.capacity);
    this.now = options.now ?? Date.now;
  }

  /** Id of the newest event (0 before the first). */
  get lastId(): number {
    return this.last;
  }

  /** Id of the oldest event still buffered (`lastId + 1` when there is none). */
  get oldestId(): number {
    return Math.max(1, this.last - this.capacity + 1);
  }

  /**
   * Publishes an event to every connected stream and the resume buffer. `data` must be JSON-serialisable;
   * its JSON is the `data:` line (JSON has no raw newlines). Returns the event.
   */
  publish(type: ApiEventType | (string & {}), data: unknown, endpoint?: string): ApiEvent {
    if (!TYPE_RE.test(type)) throw new RangeError(`event type must match ${TYPE_RE.source}, got ${JSON.stringify(type)}`);
    const json = JSON.stringify(data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
    const id = this.last + 1;
    const event: ApiEvent = { id, type, time: this.now(), endpoint, frame: `id: ${id}\nevent: ${type}\ndata: ${json}\n\n` };
    this.ring[(id - 1) % this.capacity] = event;
    this.last = id;
    for (const l of [...this.listeners]) {
      try {
        l();
      } catch {
        // a broken stream must not stop the others
      }
    }
    return event;
  }

  /** The buffered event with this id, if it is still in the ring. */
  get(id: number): ApiEvent | undefined {
    if (!Number.isInteger(id) || id < this.oldestId || id > this.last) return undefined;
    return this.ring[(id - 1) % this.capacity];
  }

  /** Called (without arguments) after every publish; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
