import type { ServerResponse } from 'node:http';
import type { EventHub } from './events.js';

/**
 * Server-Sent Events streams over the {@link EventHub} (WHATWG HTML §9.2). Each connection only keeps a
 * cursor into the hub's ring buffer: it writes frames while the socket accepts them, waits for `drain`
 * when the kernel and Node buffers hold `maxBufferedBytes`, and when the ring has overwritten frames it
 * had not yet sent — a consumer slower than the event rate — it gets a final `dropped` event and is
 * closed. Memory per connection is thus bounded by `maxBufferedBytes` plus one frame.
 */

export interface SseOptions {
  /** Interval of `: heartbeat` comments, ms (keeps proxies and idle timeouts away). Default 15 000. */
  heartbeatMs?: number;
  /** Bytes a connection may have waiting in its socket buffers before it waits for `drain`. Default 256 KiB. */
  maxBufferedBytes?: number;
  /** Simultaneous streams. Default 1000. */
  maxClients?: number;
  /** `retry:` sent to clients, ms. Default 2000. */
  retryMs?: number;
}

export interface StreamFilter {
  /** Resume after this event id (`Last-Event-ID`); absent: only events from now on. */
  lastEventId?: number;
  /** Only these event types. */
  types?: ReadonlySet<string>;
  /** Only events about this endpoint. */
  endpoint?: string;
}

class SseConnection {
  /** Id of the last event sent or skipped. */
  private cursor: number;
  private waitingDrain = false;
  private closed = false;
  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.pump();
  };

  constructor(
    private readonly hub: EventHub,
    private readonly res: ServerResponse,
    private readonly filter: StreamFilter,
    private readonly maxBuffered: number,
    private readonly onClose: (c: SseConnection) => void,
  ) {
    const last = hub.lastId;
    const requested = filter.lastEventId;
    if (requested === undefined || requested >= last) {
      this.cursor = last;
    } else if (requested < hub.oldestId - 1) {
      // The buffer no longer holds everything after `requested`: say so, then replay what it has.
      this.write(`event: gap\ndata: ${JSON.stringify({ lastEventId: requested, oldestAvailable: hub.oldestId })}\n\n`);
      this.cursor = hub.oldestId - 1;
    } else {
      this.cursor = Math.max(0, requested);
    }
    res.on('close', () => this.finish());
    res.on('error', () => this.finish());
  }

  /** Sends what the hub has beyond the cursor, as far as the socket buffers allow. */
  pump(): void {
    if (this.closed || this.waitingDrain) return;
    // Bounded: at most one pass over the ring.
    for (let n = 0; n < this.hub.capacity && this.cursor < this.hub.lastId; n++) {
      const next = this.cursor + 1;
      const event = this.hub.get(next);
      if (!event) {
        // Overwritten before we could send it: this consumer is slower than the event rate.
        this.drop(`fell behind the ${this.hub.capacity}-event buffer`);
        return;
      }
      if (this.res.writableLength >= this.maxBuffered) {
        this.waitingDrain = true;
        this.res.once('drain', this.onDrain);
        return;
      }
      this.cursor = next;
      if (this.filter.types && !this.filter.types.has(event.type)) continue;
      if (this.filter.endpoint !== undefined && event.endpoint !== this.filter.endpoint) continue;
      this.write(event.frame);
    }
    if (this.cursor < this.hub.lastId) setImmediate(() => this.pump());
  }

  heartbeat(): void {
    if (!this.closed && !this.waitingDrain) this.write(': heartbeat\n\n');
  }

  /** Final `dropped` event, then the stream ends; the client may reconnect with Last-Event-ID. */
  drop(reason: string): void {
    if (this.closed) return;
    this.write(`event: dropped\ndata: ${JSON.stringify({ reason, lastEventId: this.cursor })}\n\n`);
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.finish();
    this.res.end();
  }

  private write(chunk: string): void {
    try {
      this.res.write(chunk);
    } catch {
      this.finish();
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.off('drain', this.onDrain);
    this.onClose(this);
  }
}

export class SseBroker {
  private readonly connections = new Set<SseConnection>();
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly maxBuffered: number;
  private readonly maxClients: number;
  private readonly retryMs: number;
  private readonly unsubscribe: () => void;

  constructor(private readonly hub: EventHub, options: SseOptions = {}) {
    this.maxBuffered = Math.max(1024, options.maxBufferedBytes ?? 256 * 1024);
    this.maxClients = Math.max(1, options.maxClients ?? 1000);
    this.retryMs = Math.max(0, options.retryMs ?? 2000);
    this.heartbeatTimer = setInterval(() => {
      for (const c of this.connections) c.heartbeat();
    }, Math.max(10, options.heartbeatMs ?? 15_000));
    this.heartbeatTimer.unref();
    this.unsubscribe = hub.subscribe(() => {
      for (const c of this.connections) c.pump();
    });
  }

  get size(): number {
    return this.connections.size;
  }

  get full(): boolean {
    return this.connections.size >= this.maxClients;
  }

  /** Turns `res` into an event stream (headers are written here) and starts replay/streaming. */
  attach(res: ServerResponse, filter: StreamFilter): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    res.write(`retry: ${this.retryMs}\n: connected, last event id ${this.hub.lastId}\n\n`);
    const conn = new SseConnection(this.hub, res, filter, this.maxBuffered, (c) => this.connections.delete(c));
    this.connections.add(conn);
    conn.pump();
  }

  /** Ends every stream (shutdown). */
  close(): void {
    clearInterval(this.heartbeatTimer);
    this.unsubscribe();
    for (const c of [...this.connections]) c.end();
    this.connections.clear();
  }
}
