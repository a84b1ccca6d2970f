import type { Clock, TimerHandle } from '../../core/clock.js';
import type { CoapCode } from '../../core/errors.js';

/**
 * Queue Mode request buffer (LwM2M "Queue Mode Operation": 1.0 Transport Layer chapter, 1.1 Transport;
 * `Q` in Core 1.1 Table 6.2.1-1): a client in queue mode is only reachable for a while after it sent
 * something (Register, Update, Notify, a response). Requests for it wait here, per endpoint, bounded and
 * with an expiry, and go out when it wakes — "serially, waiting for each request to be acknowledged"
 * (RFC 7252 §4.7 NSTART = 1), in order. A request for a client that is awake and idle is sent at once.
 * "If a request is unsuccessful then it is returned to the queue" and the server "stops emptying the
 * queue" until the client is online again: a send that fails because the client is offline puts the
 * request back at the head (at most `maxAttempts` sends per request).
 *
 * Transport-independent: whoever drains hands in the `send` function (the CoAP request to the client's
 * current address). Wiring: `drain(ep, send, { awakeTimeMs })` on Register/Update/Notify of a queue-mode
 * client, `touch(ep)` on any other traffic from it, `clear(ep)` when its registration ends.
 */

const MAX_TIMER_MS = 6 * 3600 * 1000;

export type RequestQueueErrorCode =
  | 'LWM2M_QUEUE_FULL'
  | 'LWM2M_QUEUE_EXPIRED'
  | 'LWM2M_QUEUE_CLEARED'
  | 'LWM2M_QUEUE_ABORTED';

const COAP_CODES: Readonly<Record<RequestQueueErrorCode, CoapCode>> = {
  LWM2M_QUEUE_FULL: '5.03',
  LWM2M_QUEUE_EXPIRED: '5.04',
  LWM2M_QUEUE_CLEARED: '4.04',
  LWM2M_QUEUE_ABORTED: '5.03',
};

/** Why a queued request was not sent. `coapCode` is what an HTTP/CoAP front end may answer with. */
export class RequestQueueError extends Error {
  override readonly name = 'RequestQueueError';
  readonly code: RequestQueueErrorCode;
  readonly coapCode: CoapCode;
  readonly endpoint: string;

  constructor(code: RequestQueueErrorCode, endpoint: string, detail: string) {
    super(detail);
    this.code = code;
    this.coapCode = COAP_CODES[code];
    this.endpoint = endpoint;
  }
}

export function isRequestQueueError(e: unknown): e is RequestQueueError {
  return e instanceof RequestQueueError;
}

/** Sends one request to the client and resolves with its response (rejects on transport failure). */
export type QueueSender<Req, Res> = (request: Req) => Promise<Res>;

export interface RequestQueueOptions {
  clock: Clock;
  /** Pending requests per endpoint; one more is refused (`LWM2M_QUEUE_FULL`). Default 32. */
  maxPending?: number;
  /** How long a request may wait, ms (`LWM2M_QUEUE_EXPIRED` after). Default 86 400 000: the default lifetime. */
  ttlMs?: number;
  /**
   * How long a client stays awake after its last message, ms, when neither `drain` nor the registration
   * says (`at`). Default 93 000: CoAP MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2), what Core 1.1 §6.5 has the
   * client wait for and Leshan's default awake time.
   */
  defaultAwakeTimeMs?: number;
  /**
   * Whether a rejected send means the client is offline: then it counts as asleep, the request goes back
   * to the head of the queue (until `maxAttempts`) and the rest wait for the next wake-up. Otherwise the
   * request rejects with the error and the drain goes on. Default: always — `send` rejects on timeouts
   * and transport errors; a CoAP error response (4.04…) is a resolved response, not a rejection.
   */
  isOffline?: (error: unknown) => boolean;
  /** Sends per request before it rejects with the last send error. Default 3. */
  maxAttempts?: number;
}

export interface EnqueueOptions {
  /** Overrides the queue's `ttlMs` for this request. */
  ttlMs?: number;
  /** Abort: the request leaves the queue (if still there) and the promise rejects with `LWM2M_QUEUE_ABORTED`. */
  signal?: AbortSignal;
}

export interface DrainOptions {
  /** Awake window from now, ms (from the registration's `at`); default the last one given, else the queue default. */
  awakeTimeMs?: number;
}

interface Pending<Req, Res> {
  readonly request: Req;
  readonly expiresAt: number;
  readonly resolve: (res: Res) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  attempts: number;
  settled: boolean;
  cleanup: (() => void) | undefined;
}

interface EndpointQueue<Req, Res> {
  readonly endpoint: string;
  pending: Array<Pending<Req, Res>>;
  awakeUntil: number;
  awakeTimeMs: number;
  send: QueueSender<Req, Res> | undefined;
  /** A request is in flight (NSTART = 1). */
  busy: boolean;
  timer: TimerHandle | undefined;
  timerAt: number;
}

export interface RequestQueueStats {
  endpoints: number;
  pending: number;
}

export class RequestQueue<Req, Res> {
  private readonly clock: Clock;
  private readonly maxPending: number;
  private readonly ttlMs: number;
  private readonly defaultAwakeTimeMs: number;
  private readonly isOffline: (error: unknown) => boolean;
  private readonly maxAttempts: number;
  private readonly queues = new Map<string, EndpointQueue<Req, Res>>();

  constructor(options: RequestQueueOptions) {
    this.clock = options.clock;
    this.maxPending = Math.max(1, Math.floor(options.maxPending ?? 32));
    this.ttlMs = Math.max(0, options.ttlMs ?? 86_400_000);
    this.defaultAwakeTimeMs = Math.max(0, options.defaultAwakeTimeMs ?? 93_000);
    this.isOffline = options.isOffline ?? (() => true);
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 3));
  }

  /**
   * Queues `request` for `endpoint`; resolves with the response once sent, rejects with a
   * {@link RequestQueueError} when the queue is full, the request expires, is aborted or cleared, or
   * with `send`'s own error. Sent at once when the client is awake and nothing is ahead of it.
   */
  enqueue(endpoint: string, request: Req, options: EnqueueOptions = {}): Promise<Res> {
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(new RequestQueueError('LWM2M_QUEUE_ABORTED', endpoint, `request for ${endpoint} aborted before it was queued`));
    }
    const q = this.queueFor(endpoint);
    // The request in flight counts: it may come back to the queue.
    if (q.pending.length + (q.busy ? 1 : 0) >= this.maxPending) {
      return Promise.reject(
        new RequestQueueError('LWM2M_QUEUE_FULL', endpoint, `queue for ${endpoint} is full (${this.maxPending} pending requests)`),
      );
    }
    const ttl = Math.max(0, options.ttlMs ?? this.ttlMs);
    return new Promise<Res>((resolve, reject) => {
      const item: Pending<Req, Res> = {
        request,
        expiresAt: this.clock.now() + ttl,
        resolve,
        reject,
        signal,
        attempts: 0,
        settled: false,
        cleanup: undefined,
      };
      if (signal) {
        const onAbort = (): void => {
          const i = q.pending.indexOf(item);
          if (i < 0) return; // already sent: the response will settle it
          q.pending.splice(i, 1);
          this.settle(item, new RequestQueueError('LWM2M_QUEUE_ABORTED', endpoint, `request for ${endpoint} aborted while queued`));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        item.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      q.pending.push(item);
      this.pump(q);
      if (q.pending.includes(item)) this.arm(q);
    });
  }

  /**
   * The client is awake (it just sent a Register, Update or Notify): it stays so for `awakeTimeMs`
   * (renewed by every response it sends). Pending requests go out one at a time through `send`, which
   * also serves requests enqueued while it stays awake. Returns how many requests were pending.
   */
  drain(endpoint: string, send: QueueSender<Req, Res>, options: DrainOptions = {}): number {
    const q = this.queueFor(endpoint);
    q.send = send;
    if (options.awakeTimeMs !== undefined) q.awakeTimeMs = Math.max(0, options.awakeTimeMs);
    q.awakeUntil = this.clock.now() + q.awakeTimeMs;
    const n = q.pending.length;
    this.pump(q);
    return n;
  }

  /** Other traffic from the client: extends its awake window (if it was drained before) and resumes sending. */
  touch(endpoint: string): void {
    const q = this.queues.get(endpoint);
    if (!q || !q.send) return;
    q.awakeUntil = Math.max(q.awakeUntil, this.clock.now() + q.awakeTimeMs);
    this.pump(q);
  }

  /** The client is asleep from now on (e.g. it said so, or the transport knows); pending requests wait. */
  sleep(endpoint: string): void {
    const q = this.queues.get(endpoint);
    if (q) q.awakeUntil = Math.min(q.awakeUntil, this.clock.now());
  }

  isAwake(endpoint: string): boolean {
    const q = this.queues.get(endpoint);
    return q !== undefined && q.awakeUntil > this.clock.now();
  }

  pendingCount(endpoint: string): number {
    return this.queues.get(endpoint)?.pending.length ?? 0;
  }

  /**
   * Forgets `endpoint` (De-register, expiry): pending requests reject with `LWM2M_QUEUE_CLEARED`; one in
   * flight still settles with its response. Returns how many were rejected.
   */
  clear(endpoint: string, reason = 'registration ended'): number {
    const q = this.queues.get(endpoint);
    if (!q) return 0;
    this.queues.delete(endpoint);
    q.timer?.cancel();
    q.timer = undefined;
    q.send = undefined;
    q.awakeUntil = 0;
    const items = q.pending;
    q.pending = [];
    for (const item of items) {
      this.settle(item, new RequestQueueError('LWM2M_QUEUE_CLEARED', endpoint, `request for ${endpoint} dropped: ${reason}`));
    }
    return items.length;
  }

  /** Clears every endpoint (shutdown). */
  close(reason = 'server shutting down'): void {
    for (const endpoint of [...this.queues.keys()]) this.clear(endpoint, reason);
  }

  stats(): RequestQueueStats {
    let pending = 0;
    for (const q of this.queues.values()) pending += q.pending.length;
    return { endpoints: this.queues.size, pending };
  }

  // -------------------------------------------------------------------------------------------------

  private queueFor(endpoint: string): EndpointQueue<Req, Res> {
    let q = this.queues.get(endpoint);
    if (!q) {
      q = {
        endpoint,
        pending: [],
        awakeUntil: 0,
        awakeTimeMs: this.defaultAwakeTimeMs,
        send: undefined,
        busy: false,
        timer: undefined,
        timerAt: Number.POSITIVE_INFINITY,
      };
      this.queues.set(endpoint, q);
    }
    return q;
  }

  private fulfil(item: Pending<Req, Res>, response: Res): void {
    if (this.finish(item)) item.resolve(response);
  }

  private settle(item: Pending<Req, Res>, error: unknown): void {
    if (this.finish(item)) item.reject(error);
  }

  /** Marks `item` settled; false if it already was. */
  private finish(item: Pending<Req, Res>): boolean {
    if (item.settled) return false;
    item.settled = true;
    item.cleanup?.();
    item.cleanup = undefined;
    return true;
  }

  /** Sends the head of the queue if the client is awake and nothing is in flight. */
  private pump(q: EndpointQueue<Req, Res>): void {
    if (q.busy || !q.send || q.awakeUntil <= this.clock.now()) return;
    const item = q.pending.shift();
    if (!item) return;
    const send = q.send;
    q.busy = true;
    item.attempts++;
    let sent: Promise<Res>;
    try {
      sent = send(item.request);
    } catch (e) {
      sent = Promise.reject(e);
    }
    void sent.then(
      (res) => {
        // A response is traffic from the client: it is awake for another window.
        q.awakeUntil = Math.max(q.awakeUntil, this.clock.now() + q.awakeTimeMs);
        this.fulfil(item, res);
      },
      (err: unknown) => this.sendFailed(q, item, err),
    ).finally(() => {
      q.busy = false;
      if (this.queues.get(q.endpoint) === q) this.pump(q);
    });
  }

  private sendFailed(q: EndpointQueue<Req, Res>, item: Pending<Req, Res>, err: unknown): void {
    let offline: boolean;
    try {
      offline = this.isOffline(err);
    } catch {
      offline = false; // a broken classifier must not wedge the queue
    }
    if (!offline) {
      this.settle(item, err);
      return;
    }
    const now = this.clock.now();
    q.awakeUntil = Math.min(q.awakeUntil, now);
    const current = this.queues.get(q.endpoint) === q;
    if (!current || item.attempts >= this.maxAttempts || item.expiresAt <= now || item.signal?.aborted) {
      this.settle(item, err);
      return;
    }
    q.pending.unshift(item);
    this.arm(q);
  }

  /** Keeps one timer per endpoint, at the earliest expiry among its pending requests. */
  private arm(q: EndpointQueue<Req, Res>): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const item of q.pending) if (item.expiresAt < earliest) earliest = item.expiresAt;
    if (earliest === Number.POSITIVE_INFINITY || earliest >= q.timerAt) return;
    q.timer?.cancel();
    const now = this.clock.now();
    // Node timers overflow past 2^31−1 ms: a far expiry is re-checked in steps.
    const delay = Math.min(Math.max(0, earliest - now), MAX_TIMER_MS);
    q.timerAt = now + delay;
    q.timer = this.clock.setTimeout(() => this.expire(q), delay);
  }

  private expire(q: EndpointQueue<Req, Res>): void {
    q.timer = undefined;
    q.timerAt = Number.POSITIVE_INFINITY;
    if (this.queues.get(q.endpoint) !== q) return;
    const now = this.clock.now();
    const keep: Array<Pending<Req, Res>> = [];
    const dead: Array<Pending<Req, Res>> = [];
    for (const item of q.pending) (item.expiresAt <= now ? dead : keep).push(item);
    q.pending = keep;
    for (const item of dead) {
      this.settle(item, new RequestQueueError('LWM2M_QUEUE_EXPIRED', q.endpoint, `request for ${q.endpoint} expired after waiting in the queue`));
    }
    this.arm(q);
  }
}
