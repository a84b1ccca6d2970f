import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../../core/clock.js';
import { isLwM2MError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { LwM2MServer } from '../lwm2m-server.js';
import { RequestQueue, RequestQueueError } from '../queue/request-queue.js';
import { resolveAwakeTime } from '../profiles/awake-time.js';
import type { Registration } from '../registration/registration.js';
import { errorResponse, type ApiResponse } from './errors.js';
import type { EventHub } from './events.js';

/**
 * Queue Mode at the API boundary (LwM2M-TS-Transport 1.1 §6.5 "Queue Mode Operation"). A request for a
 * client registered in queue mode goes through the {@link RequestQueue}: when the client is awake it is
 * sent at once (one at a time) and the HTTP call waits for the answer; when it sleeps the call answers
 * `202 {"requestId"}` and the request goes out when the client next sends Register, Update, a
 * notification or a Send. `GET /api/v1/requests/{id}` and the `request-done` event give the outcome.
 *
 * Awake tracking: a Register/Update/notification/Send from the client opens an awake window of its `at`
 * (or `awakeTimeMs`); any other traffic (its responses) extends it. The queued item is the whole typed
 * operation, so no hook inside the LwM2M server is needed.
 */

export interface QueueModeOptions {
  /** Clock of the queue (awake windows, expiry). Default the system clock. */
  clock?: Clock;
  /** Awake window after a message from a client that did not say (`at`), ms. Default 93 000 (MAX_TRANSMIT_WAIT). */
  awakeTimeMs?: number;
  /** Pending requests per endpoint. Default 32. */
  maxPending?: number;
  /** How long a request may wait for the client, ms. Default 24 h. */
  ttlMs?: number;
  /** Sends per request when the client turns out to be offline (times out). Default 3. */
  maxAttempts?: number;
  /** How long a call to an awake queue-mode client waits for the answer before it answers 202 after all, ms. Default 30 000. */
  waitMs?: number;
  /** Request outcomes kept for `GET /api/v1/requests/{id}`. Default 10 000. */
  maxRecords?: number;
  /**
   * The awake time (ms) a device list gives an endpoint — Cumulocity's `awakeTimeRegistrationParameter`.
   * It wins over the registration's `at` (Cumulocity's order, src/server/profiles/awake-time.ts), and a
   * value above 0 makes the endpoint's requests queued even when it did not register with Queue Mode
   * ("post-registration commands": sent after its next Register/Update). 0 = always online.
   */
  awakeTimeFor?: (endpoint: string) => number | undefined;
}

/** One DM operation as the API runs it: resolves with the API answer, rejects on errors (timeouts included). */
export interface DmJob {
  readonly endpoint: string;
  /** `read`, `write`, … */
  readonly operation: string;
  /** LwM2M path(s) the operation addresses, for the record. */
  readonly path: string;
  run(): Promise<ApiResponse>;
}

export type RequestStatus = 'pending' | 'done' | 'failed';

/** What `GET /api/v1/requests/{id}` answers. */
export interface RequestRecord {
  requestId: string;
  endpoint: string;
  operation: string;
  path: string;
  status: RequestStatus;
  createdAt: string;
  completedAt?: string;
  /** The HTTP status a direct call would have answered. */
  httpStatus?: number;
  /** The body a direct call would have answered (an error body when `failed`). */
  body?: unknown;
}

function isOffline(e: unknown): boolean {
  return isLwM2MError(e) && e.kind === 'TIMEOUT';
}

/** Runs a job; every outcome but "the client did not answer" becomes an API answer. */
async function runJob(job: DmJob): Promise<ApiResponse> {
  try {
    return await job.run();
  } catch (e) {
    if (isOffline(e)) throw e;
    return errorResponse(e);
  }
}

export class QueueModeDispatcher {
  readonly queue: RequestQueue<DmJob, ApiResponse>;
  private readonly records = new Map<string, RequestRecord>();
  /** The full answer (headers included) of a settled request. */
  private readonly answers = new WeakMap<RequestRecord, ApiResponse>();
  private readonly clock: Clock;
  private readonly awakeTimeMs: number;
  private readonly waitMs: number;
  private readonly maxRecords: number;
  private readonly maxPending: number;
  private readonly awakeTimeFor: (endpoint: string) => number | undefined;
  private readonly detach: () => void;

  constructor(
    lwm2m: LwM2MServer,
    private readonly events: EventHub,
    options: QueueModeOptions = {},
    private readonly log: Logger = silentLogger,
  ) {
    this.clock = options.clock ?? systemClock;
    this.awakeTimeMs = Math.max(0, options.awakeTimeMs ?? 93_000);
    this.waitMs = Math.max(0, options.waitMs ?? 30_000);
    this.maxRecords = Math.max(1, options.maxRecords ?? 10_000);
    this.maxPending = Math.max(1, Math.floor(options.maxPending ?? 32));
    this.awakeTimeFor = options.awakeTimeFor ?? (() => undefined);
    this.queue = new RequestQueue<DmJob, ApiResponse>({
      clock: this.clock,
      defaultAwakeTimeMs: this.awakeTimeMs,
      isOffline,
      maxPending: this.maxPending,
      ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    });

    const wake = (endpoint: string): void => {
      const reg = lwm2m.registrations.getByEndpoint(endpoint);
      if (!reg) return;
      if (!this.queued(reg) && this.queue.pendingCount(endpoint) === 0) return;
      const awakeTimeMs = resolveAwakeTime(this.awakeTimeFor(endpoint), reg, this.awakeTimeMs).ms;
      const n = this.queue.drain(endpoint, runJob, { awakeTimeMs });
      if (n > 0) this.log.debug({ ep: endpoint, pending: n }, 'queue-mode client awake: sending queued requests');
    };
    const onRegistered = (r: Registration): void => wake(r.endpoint);
    const onUpdated = (r: Registration): void => wake(r.endpoint);
    const onNotification = (e: { endpoint: string }): void => wake(e.endpoint);
    const onGone = (r: Registration): void => {
      // A replacement Register of the same endpoint keeps the queue (it is for the endpoint).
      if (!lwm2m.registrations.getByEndpoint(r.endpoint)) this.queue.clear(r.endpoint, 'registration ended');
    };
    const onTouched = (r: Registration): void => this.queue.touch(r.endpoint);
    lwm2m.on('registered', onRegistered);
    lwm2m.on('updated', onUpdated);
    lwm2m.on('notification', onNotification);
    lwm2m.on('send', onNotification);
    lwm2m.on('deregistered', onGone);
    lwm2m.on('expired', onGone);
    lwm2m.registrations.on('touched', onTouched);
    this.detach = () => {
      lwm2m.off('registered', onRegistered);
      lwm2m.off('updated', onUpdated);
      lwm2m.off('notification', onNotification);
      lwm2m.off('send', onNotification);
      lwm2m.off('deregistered', onGone);
      lwm2m.off('expired', onGone);
      lwm2m.registrations.off('touched', onTouched);
    };
  }

  /** Whether a queue-mode endpoint is asleep (no message from it within its awake window). */
  isAsleep(endpoint: string): boolean {
    return !this.queue.isAwake(endpoint);
  }

  /**
   * Runs `job` for the client of `reg`: directly when it is not in queue mode, else through the queue —
   * answering `202 {requestId}` when the client sleeps, or is awake but does not answer within `waitMs`.
   */
  async execute(reg: Registration, job: DmJob): Promise<ApiResponse> {
    if (!this.queued(reg) && this.queue.pendingCount(reg.endpoint) === 0) {
      try {
        return await job.run();
      } catch (e) {
        return errorResponse(e);
      }
    }
    if (this.queue.pendingCount(reg.endpoint) >= this.maxPending) {
      return errorResponse(new RequestQueueError('LWM2M_QUEUE_FULL', reg.endpoint, `queue for ${reg.endpoint} is full (${this.maxPending} pending requests)`));
    }
    const asleep = !this.queue.isAwake(reg.endpoint);
    const record: RequestRecord = {
      requestId: randomUUID(), endpoint: reg.endpoint, operation: job.operation, path: job.path,
      status: 'pending', createdAt: new Date(this.clock.now()).toISOString(),
    };
    this.remember(record);
    let announced = false;
    const settled = this.queue.enqueue(reg.endpoint, job).then(
      (res) => this.complete(record, res, announced),
      (e: unknown) => this.complete(record, errorResponse(e), announced),
    );
    if (!asleep) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        settled,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.waitMs);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      const direct = this.answers.get(record);
      if (direct) {
        this.records.delete(record.requestId);
        return direct;
      }
    }
    announced = true;
    this.log.debug({ ep: reg.endpoint, requestId: record.requestId, op: job.operation }, 'request queued for a sleeping client');
    const location = `/api/v1/requests/${record.requestId}`;
    return { statusCode: 202, body: { requestId: record.requestId, status: 'pending', endpoint: reg.endpoint, location }, headers: { location } };
  }

  /**
   * Whether requests for `reg` go through the queue: an awake time from the device list decides (0 =
   * always online, Cumulocity), else Queue Mode.
   */
  private queued(reg: Registration): boolean {
    const ms = this.awakeTimeFor(reg.endpoint);
    return ms !== undefined ? ms > 0 : reg.queueMode;
  }

  /** The record of a queued request (pending, done or failed). */
  request(requestId: string): RequestRecord | undefined {
    return this.records.get(requestId);
  }

  pendingCount(): number {
    return this.queue.stats().pending;
  }

  close(): void {
    this.detach();
    this.queue.close('HTTP API closing');
  }

  private complete(record: RequestRecord, res: ApiResponse, announced: boolean): void {
    record.status = res.statusCode < 400 ? 'done' : 'failed';
    record.httpStatus = res.statusCode;
    record.body = res.body;
    record.completedAt = new Date(this.clock.now()).toISOString();
    this.answers.set(record, res);
    // Only a request answered with 202 is announced: the caller of a direct answer already has it.
    if (announced) this.events.publish('request-done', { ...record }, record.endpoint);
  }

  private remember(record: RequestRecord): void {
    this.records.set(record.requestId, record);
    // Oldest first out (Map keeps insertion order); bounded by maxRecords.
    for (const id of this.records.keys()) {
      if (this.records.size <= this.maxRecords) break;
      this.records.delete(id);
    }
  }
}
