/**
 * The LwM2M Bootstrap-Server on its own CoAP socket (default UDP 5783): client-initiated bootstrap
 * (LwM2M-TS-Core 1.1 §6.1.4). A `POST /bs?ep=…[&pct=…]` is answered 2.04 first, then the session runs
 * (session.ts) towards the address the request came from.
 *
 * - No config for the endpoint and no default → 4.00 "bootstrap refused" (logged, recorded as a failed
 *   session, no crash); `ep` missing or invalid, or `pct` not a content format number → 4.00.
 * - One session per endpoint: a new Bootstrap-Request while one runs cancels the running one (recorded
 *   failed, "superseded") and starts afresh — as Eclipse Leshan's DefaultBootstrapHandler does ("there
 *   isn't 2 bootstrap session at the same time for a given client. If this happens the old one was stop
 *   and ongoing request are cancelled"). A client only sends a new Bootstrap-Request when it gave up on
 *   the previous one (rebooted, timed out — Core 1.1 §6.1.4 leaves the retry to it), so answering 4.00
 *   would lock it out until the stale session timed out. Retransmissions of the same request are
 *   deduplicated by the CoAP layer and do not restart anything.
 */
import { EventEmitter } from 'node:events';
import { CoapEndpoint, type CoapReply, type IncomingCoapRequest, type PeerAddress } from '../../coap/endpoint.js';
import type { CoapTiming } from '../../coap/timing.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { loadBuiltinRegistry } from '../../model/builtin.js';
import type { ModelLookup } from '../../model/types.js';
import type { DatagramSocket } from '../../transport/datagram.js';
import { createUdpSocket, SERVER_RECV_BUFFER_SIZE } from '../../transport/udp.js';
import { checkEndpointName } from '../registration/parse.js';
import { bindingRefusal, type PeerSecurity, type SecureListener } from '../security/secure-socket.js';
import type { DeviceAnswer, ServerRequest } from '../operations/types.js';
import { resolveBootstrapConfig, type BootstrapConfig, type BootstrapConfigStore } from './config.js';
import { BootstrapHistory, type BootstrapSessionRecord, type HistoryQuery } from './history.js';
import { BootstrapSession, type BootstrapTransport } from './session.js';

/** This toolkit's Bootstrap-Server port (issue 5: LwM2M server 5683, Bootstrap-Server 5783; DTLS 5684/5784 later). */
export const DEFAULT_BOOTSTRAP_PORT = 5783;

/**
 * Default step timeout: a little above MAX_TRANSMIT_WAIT (93 s with RFC 7252 defaults), like Leshan's
 * 2 min, so a CON that is still being retransmitted is not abandoned early.
 */
export const DEFAULT_STEP_TIMEOUT_MS = 120_000;

export interface BootstrapServerOptions {
  socket: DatagramSocket;
  configs: BootstrapConfigStore;
  /** Object models for typing writes (a ModelRegistry lets Bootstrap-Discover pin versions). Default built-in. */
  models?: ModelLookup;
  clock?: Clock;
  logger?: Logger;
  timing?: Partial<CoapTiming>;
  /** Longest wait for one answer of the client (ms). Default {@link DEFAULT_STEP_TIMEOUT_MS}. */
  stepTimeoutMs?: number;
  /** Session records kept. Default 1000. */
  historySize?: number;
  /** Sessions running at once; beyond it a Bootstrap-Request gets 5.03. Default 10 000. */
  maxConcurrentSessions?: number;
  /**
   * A DTLS listener beside `socket` (coaps): a Bootstrap-Request over it must name the endpoint its PSK
   * identity is bound to (else 4.00 "forbidden: …"), and the session runs over it.
   */
  dtls?: SecureListener;
  /**
   * Called with the config about to be applied, before the 2.04; a returned string refuses the
   * bootstrap (4.00 "bootstrap refused: <reason>", recorded failed). createServer() records the PSK
   * credentials the config hands out here (security/bootstrap-psk.ts).
   */
  beforeSession?: (endpoint: string, resolved: { readonly key: string; readonly config: BootstrapConfig }) => string | undefined | Promise<string | undefined>;
}

export interface BootstrapServerEvents {
  'bootstrap-started': [session: BootstrapSessionRecord];
  'bootstrap-finished': [session: BootstrapSessionRecord];
  /** A failed session — also a refused Bootstrap-Request (no config), which has no steps. */
  'bootstrap-failed': [session: BootstrapSessionRecord];
}

interface ParsedBootstrapRequest {
  readonly endpoint: string;
  readonly pct?: number;
}

function parseBootstrapQuery(query: readonly string[]): ParsedBootstrapRequest | { error: string } {
  let endpoint: string | undefined;
  let pct: number | undefined;
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    const value = eq < 0 ? undefined : q.slice(eq + 1);
    if (name === 'ep') {
      if (endpoint !== undefined) return { error: 'ep is given twice' };
      if (value === undefined) return { error: 'ep needs a value' };
      endpoint = value;
    } else if (name === 'pct') {
      if (pct !== undefined) return { error: 'pct is given twice' };
      if (value === undefined || !/^[0-9]{1,5}$/.test(value) || Number(value) > 65535) {
        return { error: `pct "${value ?? ''}" is not a content format number 0..65535` };
      }
      pct = Number(value);
    }
    // Other parameters are ignored (later LwM2M versions add some).
  }
  if (endpoint === undefined) return { error: 'missing ep (Endpoint Client Name), mandatory in Bootstrap-Request' };
  const bad = checkEndpointName(endpoint);
  if (bad) return { error: bad.diagnostic };
  return pct === undefined ? { endpoint } : { endpoint, pct };
}

export class BootstrapServer extends EventEmitter<BootstrapServerEvents> {
  readonly endpoint: CoapEndpoint;
  /** The CoAP endpoint on the DTLS listener, when there is one. */
  readonly secureEndpoint: CoapEndpoint | undefined;
  readonly configs: BootstrapConfigStore;
  readonly models: ModelLookup;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly stepTimeoutMs: number;
  private readonly maxConcurrent: number;
  private readonly history: BootstrapHistory;
  private readonly active = new Map<string, BootstrapSession>();
  /** How each running session's client reached us. */
  private readonly sessionSecurity = new WeakMap<BootstrapSession, PeerSecurity>();
  private readonly dtls: SecureListener | undefined;
  private readonly beforeSession: BootstrapServerOptions['beforeSession'];
  private readonly running = new Set<Promise<void>>();
  private seq = 0;
  private closed = false;

  constructor(opts: BootstrapServerOptions) {
    super();
    this.configs = opts.configs;
    this.models = opts.models ?? loadBuiltinRegistry();
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.logger ?? silentLogger).child({ component: 'bootstrap-server' });
    this.stepTimeoutMs = opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
    this.maxConcurrent = opts.maxConcurrentSessions ?? 10_000;
    this.history = new BootstrapHistory(opts.historySize ?? 1000);
    this.endpoint = new CoapEndpoint({
      socket: opts.socket, clock: this.clock, logger: this.log, ...(opts.timing ? { timing: opts.timing } : {}),
      handler: (req) => this.onRequest(req),
    });
    const dtls = opts.dtls;
    this.dtls = dtls;
    this.beforeSession = opts.beforeSession;
    this.secureEndpoint = dtls ? new CoapEndpoint({
      socket: dtls.socket, clock: this.clock, logger: this.log, ...(opts.timing ? { timing: opts.timing } : {}),
      handler: (req) => {
        const session = dtls.socket.sessionOf(req.source.address, req.source.port);
        return this.onRequest(req, session ? { transport: 'dtls', pskIdentity: session.identity } : { transport: 'dtls' });
      },
    }) : undefined;
  }

  get port(): number {
    return this.endpoint.address().port;
  }

  /** Port of the DTLS listener, when there is one. */
  get securePort(): number | undefined {
    return this.secureEndpoint?.address().port;
  }

  /** Recorded sessions, newest first (running ones are listed by {@link activeSessions}). */
  sessions(query: HistoryQuery = {}): BootstrapSessionRecord[] {
    return this.history.list(query);
  }

  /** A recorded session by id, or a running one. */
  session(id: string): BootstrapSessionRecord | undefined {
    for (const s of this.active.values()) if (s.id === id) return s.snapshot();
    return this.history.get(id);
  }

  /** The sessions running now (snapshots). */
  activeSessions(): BootstrapSessionRecord[] {
    return [...this.active.values()].map((s) => s.snapshot());
  }

  private async onRequest(req: IncomingCoapRequest, security: PeerSecurity = { transport: 'udp' }): Promise<CoapReply> {
    if (req.pathSegments.length !== 1 || req.pathSegments[0] !== 'bs') return { code: '4.04', payload: `no resource ${req.path}` };
    if (req.method !== 'POST') return { code: '4.05', payload: 'Bootstrap-Request is POST /bs' };
    const parsed = parseBootstrapQuery(req.query);
    if ('error' in parsed) {
      this.log.info({ peer: req.source, reason: parsed.error }, 'bootstrap request rejected');
      return { code: '4.00', payload: parsed.error };
    }
    if (this.closed) return { code: '5.03', payload: 'bootstrap server is shutting down' };
    const { endpoint, pct } = parsed;
    if (security.transport === 'dtls' && this.dtls) {
      // The Bootstrap-Request response table has 2.04 and 4.00 only (LwM2M 1.0 §8.4 "the only valid
      // response codes"; Leshan answers badRequest too): a forbidden ep is a 4.00 with a diagnostic.
      const why = bindingRefusal(this.dtls.bindings, security.pskIdentity, endpoint, 'Bootstrap-Request');
      if (why !== undefined) {
        this.log.warn({ ep: endpoint, peer: req.source, pskIdentity: security.pskIdentity }, 'bootstrap request refused: endpoint binding');
        this.record(this.refusedRecord(endpoint, req.source, pct, why), 'bootstrap-failed');
        return { code: '4.00', payload: why };
      }
    }

    let resolved: Awaited<ReturnType<typeof resolveBootstrapConfig>>;
    try {
      resolved = await resolveBootstrapConfig(this.configs, endpoint);
    } catch (err) {
      this.log.error({ err, ep: endpoint }, 'bootstrap config store failed');
      return { code: '5.00', payload: 'bootstrap config store failed' };
    }
    if (!resolved) {
      const reason = `no bootstrap config for endpoint "${endpoint}" and no default config`;
      this.log.warn({ ep: endpoint, peer: req.source }, 'bootstrap refused: no config');
      this.record(this.refusedRecord(endpoint, req.source, pct, reason), 'bootstrap-failed');
      return { code: '4.00', payload: `bootstrap refused: ${reason}` };
    }

    const previous = this.active.get(endpoint);
    const previousSecurity = previous ? this.sessionSecurity.get(previous) : undefined;
    if (previousSecurity?.transport === 'dtls' && (security.transport !== 'dtls' || security.pskIdentity !== previousSecurity.pskIdentity)) {
      // Only the client that started a session over DTLS may supersede it.
      const why = `forbidden: a bootstrap session over DTLS is running for endpoint "${endpoint}"`;
      this.log.warn({ ep: endpoint, peer: req.source }, 'bootstrap request refused: session over DTLS running');
      return { code: '4.00', payload: why };
    }
    if (this.beforeSession) {
      let refusal: string | undefined;
      try {
        // May be async (a deviceWISE-style key share); the hook bounds its own time.
        refusal = await this.beforeSession(endpoint, resolved);
      } catch (err) {
        this.log.error({ err, ep: endpoint }, 'bootstrap beforeSession hook failed');
        return { code: '5.00', payload: 'bootstrap preparation failed' };
      }
      if (refusal !== undefined) {
        this.log.warn({ ep: endpoint, peer: req.source, reason: refusal }, 'bootstrap refused');
        this.record(this.refusedRecord(endpoint, req.source, pct, refusal), 'bootstrap-failed');
        return { code: '4.00', payload: `bootstrap refused: ${refusal}` };
      }
    }
    if (!previous && this.active.size >= this.maxConcurrent) {
      this.log.warn({ ep: endpoint, running: this.active.size }, 'bootstrap request refused: too many sessions');
      return { code: '5.03', payload: 'too many bootstrap sessions' };
    }
    previous?.cancel(`superseded by a new Bootstrap-Request from ${req.source.address}:${req.source.port}`);

    const session = new BootstrapSession({
      id: this.nextId(),
      endpoint,
      peer: req.source,
      configKey: resolved.key,
      config: resolved.config,
      ...(pct !== undefined ? { preferredContentFormat: pct } : {}),
      models: this.models,
      clock: this.clock,
      stepTimeoutMs: this.stepTimeoutMs,
      transport: this.transportTo(req.source, security.transport === 'dtls' ? this.secureEndpoint ?? this.endpoint : this.endpoint),
      logger: this.log,
    });
    this.active.set(endpoint, session);
    this.sessionSecurity.set(session, security);
    // 2.04 first, then the session (Core 1.1 §6.1.4; Leshan starts "once response is sent"): the reply
    // goes out when this handler's promise settles, before any macrotask runs.
    setImmediate(() => this.start(session));
    return { code: '2.04' };
  }

  private start(session: BootstrapSession): void {
    // Superseded before it began, or the server closed meanwhile: nothing was sent to the client yet.
    if (this.closed || this.active.get(session.endpoint) !== session) return;
    this.emitSafely('bootstrap-started', session.snapshot());
    const done = session.run().then((record) => {
      if (this.active.get(session.endpoint) === session) this.active.delete(session.endpoint);
      this.record(record, record.outcome === 'ok' ? 'bootstrap-finished' : 'bootstrap-failed');
    });
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }

  private transportTo(peer: PeerAddress, coap: CoapEndpoint): BootstrapTransport {
    return {
      send: async (request: ServerRequest, { signal, timeoutMs }): Promise<DeviceAnswer> => {
        const res = await coap.request({
          host: peer.address, port: peer.port,
          method: request.method === 'iPATCH' ? 'iPATCH' : request.method,
          pathSegments: request.uriPath,
          ...(request.uriQuery ? { query: request.uriQuery } : {}),
          ...(request.payload ? { payload: Buffer.from(request.payload.buffer, request.payload.byteOffset, request.payload.byteLength) } : {}),
          ...(request.contentFormat !== undefined ? { contentFormat: request.contentFormat } : {}),
          ...(request.accept !== undefined ? { accept: request.accept } : {}),
          timeoutMs, signal,
        });
        return {
          code: res.code, payload: res.payload,
          ...(res.contentFormat !== undefined ? { contentFormat: res.contentFormat } : {}),
        };
      },
    };
  }

  private refusedRecord(endpoint: string, peer: PeerAddress, pct: number | undefined, reason: string): BootstrapSessionRecord {
    const now = this.clock.now();
    return Object.freeze({
      id: this.nextId(), endpoint, peer: { address: peer.address, port: peer.port },
      ...(pct !== undefined ? { preferredContentFormat: pct } : {}),
      startedAt: now, endedAt: now, outcome: 'failed' as const, reason, steps: Object.freeze([]),
    });
  }

  private record(record: BootstrapSessionRecord, event: 'bootstrap-finished' | 'bootstrap-failed'): void {
    this.history.add(record);
    this.emitSafely(event, record);
  }

  private emitSafely(event: keyof BootstrapServerEvents, record: BootstrapSessionRecord): void {
    try {
      this.emit(event, record);
    } catch (err) {
      this.log.warn({ err, event }, 'bootstrap event listener failed');
    }
  }

  private nextId(): string {
    this.seq += 1;
    return `bs-${this.seq}`;
  }

  /** Cancels running sessions (recorded failed, "server closing"), then closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.active.values()) s.cancel('bootstrap server closing');
    await Promise.allSettled([...this.running]);
    this.active.clear();
    await Promise.all([this.endpoint.close(), this.secureEndpoint?.close()]);
  }
}

export interface CreateBootstrapServerOptions extends Omit<BootstrapServerOptions, 'socket'> {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default {@link DEFAULT_BOOTSTRAP_PORT}; 0 picks a free port. */
  port?: number;
  /** Use this socket instead of binding a UDP one (MemoryNetwork in tests). */
  socket?: DatagramSocket;
}

/** A Bootstrap-Server on a UDP socket (bind errors — port in use — reject with a TransportError). */
export async function createBootstrapServer(options: CreateBootstrapServerOptions): Promise<BootstrapServer> {
  const { host, port, socket, ...rest } = options;
  const s = socket ?? (await createUdpSocket({
    host: host ?? '127.0.0.1', port: port ?? DEFAULT_BOOTSTRAP_PORT, recvBufferSize: SERVER_RECV_BUFFER_SIZE,
    ...(rest.logger ? { logger: rest.logger } : {}),
  }));
  return new BootstrapServer({ ...rest, socket: s });
}
