import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import {
  RD_PATH,
  parseRegister,
  parseUpdate,
  routeRegistrationRequest,
  type RegistrationParseOptions,
} from './parse.js';
import {
  applyUpdate,
  createRegistration,
  expiresAt,
  touchRegistration,
  type Registration,
  type RegistrationChanges,
} from './registration.js';
import { failure, type RegistrationFailure, type RegistrationRequest } from './request.js';
import { MemoryRegistrationStore, type RegistrationStore } from './store.js';

/**
 * The Client Registration Interface of the server (LwM2M-TS-Core 1.1 §6.2): Register, Update,
 * De-register, lifetime expiry, replacement of a registration by a new Register of the same endpoint.
 * Transport-independent: the CoAP layer hands requests in and turns results into responses.
 *
 * Events are emitted synchronously, after the store changed and before the method returns. A listener
 * that sends requests to the client (observe after registration, queue drain) should let the CoAP layer
 * send the 2.01/2.04 first — e.g. defer with `setImmediate` — as Leshan fires its listeners "when sent".
 * A throwing listener is logged and does not disturb the others or the result.
 */

export interface RegistrationUpdatedEvent {
  readonly previous: Registration;
  readonly registration: Registration;
  readonly changes: RegistrationChanges;
  readonly objectsChanged: boolean;
}

export interface RegistrationEvents {
  /** A new registration; `replaced` is the one it replaced (also announced by `replaced`). */
  registered: [registration: Registration, replaced: Registration | undefined];
  updated: [event: RegistrationUpdatedEvent];
  deregistered: [registration: Registration];
  /** Lifetime (+ grace) elapsed without an Update (Core 1.1 §6.2.2: the server removes the registration). */
  expired: [registration: Registration];
  /** A Register for an endpoint already registered: `previous` is gone; cancel its observations. Fired before `registered`. */
  replaced: [previous: Registration, current: Registration];
  /** Traffic from the client (lastSeen moved). */
  touched: [registration: Registration];
}

export interface RegisterSuccess {
  readonly ok: true;
  readonly code: '2.01';
  /** Location-Path segments for the 2.01: `['rd', '<id>']` (set as an array of Buffers in node-coap). */
  readonly location: readonly [string, string];
  readonly registration: Registration;
  readonly replaced?: Registration;
}

export interface UpdateSuccess {
  readonly ok: true;
  readonly code: '2.04';
  readonly registration: Registration;
  readonly previous: Registration;
  readonly changes: RegistrationChanges;
  readonly objectsChanged: boolean;
}

export interface DeregisterSuccess {
  readonly ok: true;
  readonly code: '2.02';
  readonly registration: Registration;
}

export type RegisterResult = RegisterSuccess | RegistrationFailure;
export type UpdateResult = UpdateSuccess | RegistrationFailure;
export type DeregisterResult = DeregisterSuccess | RegistrationFailure;
export type RegistrationResult = RegisterResult | UpdateResult | DeregisterResult;

/** The security context a request arrived in (what an authorizer compares). */
export type RequestContext = Pick<RegistrationRequest, 'source' | 'transport' | 'pskIdentity'>;

export type AuthorizationInput =
  | { readonly operation: 'register'; readonly endpoint: string; readonly request: RegistrationRequest; readonly existing: Registration | undefined }
  | { readonly operation: 'update' | 'deregister'; readonly request: RequestContext; readonly existing: Registration };

/** Returns a failure to refuse the operation, undefined to allow it. */
export type RegistrationAuthorizer = (input: AuthorizationInput) => RegistrationFailure | undefined;

/**
 * Default policy: a registration made over DTLS belongs to its PSK identity. Update and De-register must
 * come over DTLS with the same identity — 4.00, as the Update/De-register response tables have no 4.03
 * (Leshan answers `badRequest("forbidden")` too) — and a Register from another identity or over plain
 * UDP cannot replace it (4.03 Forbidden, Core 1.1 §6.2.1 response table). Which identity may use which
 * endpoint name at all is the security layer's business (bootstrap data, ThingsBoard's `<ep>-identity`).
 */
export const defaultAuthorizer: RegistrationAuthorizer = (input) => {
  const existing = input.existing;
  if (!existing || existing.transport !== 'dtls') return undefined;
  const req = input.request;
  if (req.transport === 'dtls' && req.pskIdentity === existing.pskIdentity) return undefined;
  const how = req.transport === 'dtls' ? 'another PSK identity' : 'plain UDP';
  if (input.operation === 'register') {
    return failure('4.03', `endpoint ${existing.endpoint} is registered over DTLS; a Register over ${how} cannot replace it`);
  }
  return failure('4.00', `forbidden: registration ${existing.registrationId} was made over DTLS; ${input.operation} over ${how} refused`);
};

export interface RegistrationServiceOptions {
  clock: Clock;
  /** Default a new {@link MemoryRegistrationStore}. */
  store?: RegistrationStore;
  /**
   * Registration id generator (the `<id>` of `/rd/<id>`). Default 8 random base64url characters (48 bits).
   * Ids must be 1–64 URI-unreserved characters; collisions are retried.
   */
  idGenerator?: () => string;
  /**
   * Added to `lastUpdate + lifetime` before a registration expires, ms. Default 0, as Leshan's in-memory
   * store (alive iff `lastUpdate + lifetime > now`): Core 1.1 §6.2.2 says the server removes a registration
   * whose lifetime elapsed, and a compliant client updates early enough (ours: lifetime − min(lifetime/2,
   * MAX_TRANSMIT_WAIT)). Raise it for clients that update at the last second over lossy links.
   */
  graceMs?: number;
  /** At most this many expirations per timer callback; the rest follow on the next (0 ms) timer. Default 1000. */
  sweepBatch?: number;
  parse?: RegistrationParseOptions;
  /** New registrations beyond this get 5.03 (a replacement is always accepted). Default unlimited. */
  maxRegistrations?: number;
  /** Default {@link defaultAuthorizer}. */
  authorize?: RegistrationAuthorizer;
  log?: Logger;
}

/** Node timers overflow past 2^31−1 ms (and then fire at once); long deadlines are re-checked in steps. */
const MAX_TIMER_MS = 6 * 3600 * 1000;
const ID_RE = /^[A-Za-z0-9._~-]{1,64}$/;
const MAX_ID_ATTEMPTS = 8;

function defaultId(): string {
  return randomBytes(6).toString('base64url');
}

/** A registration id from a request path, safe to echo in a diagnostic. */
function showId(id: string): string {
  return JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id);
}

export class RegistrationService extends EventEmitter<RegistrationEvents> {
  readonly store: RegistrationStore;
  private readonly clock: Clock;
  private readonly graceMs: number;
  private readonly sweepBatch: number;
  private readonly parseOptions: RegistrationParseOptions;
  private readonly maxRegistrations: number;
  private readonly idGenerator: () => string;
  private readonly authorize: RegistrationAuthorizer;
  private readonly log: Logger;
  private timer: TimerHandle | undefined;
  /** When the pending timer fires (Infinity when none). */
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(options: RegistrationServiceOptions) {
    super();
    this.clock = options.clock;
    this.store = options.store ?? new MemoryRegistrationStore();
    this.graceMs = Math.max(0, options.graceMs ?? 0);
    this.sweepBatch = Math.max(1, Math.floor(options.sweepBatch ?? 1000));
    this.parseOptions = options.parse ?? {};
    this.maxRegistrations = options.maxRegistrations ?? Number.POSITIVE_INFINITY;
    this.idGenerator = options.idGenerator ?? defaultId;
    this.authorize = options.authorize ?? defaultAuthorizer;
    this.log = options.log ?? silentLogger;
    // A store may come pre-filled (durable store): arm expiry for what is already there.
    const next = this.store.nextExpiry();
    if (next !== undefined) this.schedule(next + this.graceMs);
  }

  /** Dispatches a request on `/rd…` to Register, Update or De-register (4.04/4.05 for anything else). */
  handle(req: RegistrationRequest): RegistrationResult {
    const route = routeRegistrationRequest(req);
    if ('ok' in route) return route;
    switch (route.kind) {
      case 'register':
        return this.register(req);
      case 'update':
        return this.update(route.registrationId, req);
      case 'deregister':
        return this.deregister(route.registrationId, req);
    }
  }

  /** Register (Core 1.1 §6.2.1): 2.01 with Location-Path `rd/<id>`, or a failure. */
  register(req: RegistrationRequest): RegisterResult {
    if (this.closed) return failure('5.03', 'registration service is closed');
    const parsed = parseRegister(req, this.parseOptions);
    if (!parsed.ok) return parsed;
    const endpoint = parsed.value.endpoint;
    const existing = this.store.getByEndpoint(endpoint);
    const denied = this.authorize({ operation: 'register', endpoint, request: req, existing });
    if (denied) return denied;
    if (!existing && this.store.count() >= this.maxRegistrations) {
      return failure('5.03', `server is at its limit of ${this.maxRegistrations} registrations`);
    }
    const registrationId = this.newId();
    if (typeof registrationId !== 'string') return registrationId;
    const now = this.clock.now();
    const registration = createRegistration(parsed.value, {
      registrationId,
      source: req.source,
      ...(req.transport !== undefined ? { transport: req.transport } : {}),
      ...(req.pskIdentity !== undefined ? { pskIdentity: req.pskIdentity } : {}),
      now,
    });
    const replaced = this.store.add(registration);
    this.schedule(expiresAt(registration) + this.graceMs);
    if (replaced) this.fire('replaced', replaced, registration);
    this.fire('registered', registration, replaced);
    return {
      ok: true,
      code: '2.01',
      location: [RD_PATH, registrationId],
      registration,
      ...(replaced ? { replaced } : {}),
    };
  }

  /**
   * Update (Core 1.1 §6.2.2): 2.04, 4.04 for an unknown id (the client then registers again). The
   * registration's address follows the request's source: after a NAT rebinding the Update is what tells
   * the server where the client now is (Transport 1.1 §6.2).
   */
  update(registrationId: string, req: RegistrationRequest): UpdateResult {
    const previous = this.store.getById(registrationId);
    if (!previous) return failure('4.04', `no registration ${showId(registrationId)}`);
    const denied = this.authorize({ operation: 'update', request: req, existing: previous });
    if (denied) return denied;
    const parsed = parseUpdate(req, previous.lwm2mVersion, this.parseOptions);
    if (!parsed.ok) return parsed;
    const outcome = applyUpdate(previous, parsed.value, { source: req.source, now: this.clock.now() });
    this.store.update(outcome.registration);
    this.schedule(expiresAt(outcome.registration) + this.graceMs);
    const event: RegistrationUpdatedEvent = {
      previous,
      registration: outcome.registration,
      changes: outcome.changes,
      objectsChanged: outcome.objectsChanged,
    };
    this.fire('updated', event);
    return { ok: true, code: '2.04', ...event };
  }

  /** De-register (Core 1.1 §6.2.3): 2.02, or 4.04 for an unknown id. `req` enables the authorizer's check. */
  deregister(registrationId: string, req?: RequestContext): DeregisterResult {
    const registration = this.store.getById(registrationId);
    if (!registration) return failure('4.04', `no registration ${showId(registrationId)}`);
    if (req) {
      const denied = this.authorize({ operation: 'deregister', request: req, existing: registration });
      if (denied) return denied;
    }
    this.store.remove(registrationId);
    this.fire('deregistered', registration);
    return { ok: true, code: '2.02', registration };
  }

  /** Records traffic from a registered client (lastSeen; does not renew the lifetime). */
  touch(registrationId: string): Registration | undefined {
    const reg = this.store.getById(registrationId);
    return reg ? this.touchRecord(reg) : undefined;
  }

  /**
   * Same as {@link touch}, for a datagram from `address:port` (the registration last seen there). With
   * `over`, only a registration made over that transport — over DTLS, by that PSK identity — counts: a
   * plain datagram from the address of a DTLS registration is not that client.
   */
  touchPeer(address: string, port: number, over?: Pick<RequestContext, 'transport' | 'pskIdentity'>): Registration | undefined {
    const reg = this.store.getByAddress(address, port);
    if (!reg) return undefined;
    if (over && ((over.transport ?? 'udp') !== reg.transport || (reg.transport === 'dtls' && over.pskIdentity !== reg.pskIdentity))) return undefined;
    return this.touchRecord(reg);
  }

  get(registrationId: string): Registration | undefined {
    return this.store.getById(registrationId);
  }

  getByEndpoint(endpoint: string): Registration | undefined {
    return this.store.getByEndpoint(endpoint);
  }

  /** When `registration` expires (ms), grace included. */
  expiresAt(registration: Registration): number {
    return expiresAt(registration) + this.graceMs;
  }

  /**
   * Removes registrations whose lifetime (+ grace) has elapsed, at most `limit`, emitting `expired` for
   * each; returns how many. The timer calls this; tests and shutdown paths may too.
   */
  expireDue(limit = this.sweepBatch): number {
    const due = this.store.expired(this.clock.now(), { graceMs: this.graceMs, limit });
    for (const reg of due) {
      this.store.remove(reg.registrationId);
      this.fire('expired', reg);
    }
    return due.length;
  }

  /** Stops the expiry timer; later Registers get 5.03. Registrations stay in the store. */
  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  // -------------------------------------------------------------------------------------------------

  private touchRecord(reg: Registration): Registration {
    const next = touchRegistration(reg, this.clock.now());
    if (next === reg) return reg;
    this.store.update(next);
    this.fire('touched', next);
    return next;
  }

  private newId(): string | RegistrationFailure {
    for (let attempt = 0; attempt < MAX_ID_ATTEMPTS; attempt++) {
      let id: string;
      try {
        id = this.idGenerator();
      } catch (e) {
        this.log.error({ err: String(e) }, 'registration id generator threw');
        return failure('5.00', 'could not allocate a registration id');
      }
      if (typeof id !== 'string' || !ID_RE.test(id)) {
        this.log.error({ id: String(id).slice(0, 80) }, 'registration id generator returned an invalid id');
        return failure('5.00', 'could not allocate a registration id');
      }
      if (!this.store.getById(id)) return id;
    }
    return failure('5.00', `could not allocate a unique registration id in ${MAX_ID_ATTEMPTS} attempts`);
  }

  /** Makes sure the timer fires no later than `deadline`. */
  private schedule(deadline: number): void {
    if (this.closed || deadline >= this.timerAt) return;
    this.timer?.cancel();
    const now = this.clock.now();
    const delay = Math.min(Math.max(0, deadline - now), MAX_TIMER_MS);
    this.timerAt = now + delay;
    this.timer = this.clock.setTimeout(() => this.onTimer(), delay);
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.closed) return;
    this.expireDue(this.sweepBatch);
    const next = this.store.nextExpiry();
    if (next !== undefined) this.schedule(next + this.graceMs);
  }

  private fire<K extends keyof RegistrationEvents>(event: K, ...args: RegistrationEvents[K]): void {
    // rawListeners: `once` wrappers remove themselves when called.
    const listeners = this.rawListeners(event) as Array<(...a: RegistrationEvents[K]) => void>;
    for (const listener of listeners) {
      try {
        listener.apply(this, args);
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.message : String(e), event }, 'registration listener threw');
      }
    }
  }
}
