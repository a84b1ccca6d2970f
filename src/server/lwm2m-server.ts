import { EventEmitter } from 'node:events';
import { CoapEndpoint, type ClientObservation, type CoapReply, type CoapResponse, type IncomingCoapRequest } from '../coap/endpoint.js';
import { isCoapError } from '../coap/message.js';
import type { CoapTiming } from '../coap/timing.js';
import { systemClock, type Clock } from '../core/clock.js';
import { LwM2MError, isLwM2MError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { LwM2MPath } from '../core/path.js';
import { decodeRecords } from '../codec/dispatch.js';
import { loadBuiltinRegistry } from '../model/builtin.js';
import type { PathValue } from '../model/node.js';
import type { ModelLookup } from '../model/types.js';
import type { DatagramSocket } from '../transport/datagram.js';
import { RegistrationService, defaultAuthorizer, type RegistrationServiceOptions } from './registration/service.js';
import { pskBindingAuthorizer } from './security/authorizer.js';
import type { PeerSecurity, SecureListener } from './security/secure-socket.js';
import type { Registration } from './registration/registration.js';
import type { RegistrationRequest } from './registration/request.js';
import { compositeReadRequest, compositeReadResult, compositeWriteRequest, compositeWriteResult, type CompositeReadResult } from './operations/composite.js';
import { createRequest, createResult, type CreateResult } from './operations/create.js';
import { deleteRequest, deleteResult } from './operations/delete.js';
import { discoverRequest, discoverResult, type DiscoverResult } from './operations/discover.js';
import { executeRequest, executeResult } from './operations/execute.js';
import { cancelObserveRequest, observeRequest } from './operations/observe.js';
import { readRequest, readResult } from './operations/read.js';
import type { DeviceAnswer, OperationResult, ReadResult, ServerRequest } from './operations/types.js';
import { writeAttributesRequest, writeAttributesResult, type AttributeChanges } from './operations/write-attributes.js';
import { writeRequest, writeResult } from './operations/write.js';
import type { LwM2MNode, ObjectInstanceNode } from '../model/node.js';
import { recordsToFlat } from './operations/values.js';

export interface LwM2MServerOptions {
  socket: DatagramSocket;
  clock?: Clock;
  logger?: Logger;
  models?: ModelLookup;
  timing?: Partial<CoapTiming>;
  registration?: Omit<RegistrationServiceOptions, 'clock' | 'log'>;
  /**
   * Bytes of node-coap's response cache on the server socket. The server never sends notifications and the
   * endpoint's demultiplexer answers retransmitted requests itself, so it stays small: a large one holds
   * a response object per registration for EXCHANGE_LIFETIME (≈ 5 KB each). Default 16 KiB.
   */
  cacheSize?: number;
  /** Default timeout of a DM request, ms (default: the CoAP exchange bound). */
  requestTimeoutMs?: number;
  /**
   * A DTLS listener beside `socket` (coaps). Requests over it carry their session's PSK identity, which
   * must be bound to the endpoint they act as (security/authorizer.ts); requests to a client go out
   * through the socket it registered on.
   */
  dtls?: SecureListener;
}

export interface NotificationEvent {
  readonly endpoint: string;
  /** The observed path; for Observe-Composite the paths joined with `,`. */
  readonly path: string;
  /** Observe-Composite only: the observed paths. */
  readonly paths?: readonly string[];
  readonly result: ReadResult;
}

export interface SendEvent {
  readonly endpoint: string;
  readonly records: PathValue[];
  readonly values: Record<string, unknown>;
}

export interface ServerEvents {
  registered: [registration: Registration];
  updated: [registration: Registration, objectsChanged: boolean];
  deregistered: [registration: Registration];
  expired: [registration: Registration];
  notification: [event: NotificationEvent];
  send: [event: SendEvent];
}

/** Options of {@link LwM2MServer.send}. */
export interface SendOptions {
  timeoutMs?: number;
  /** Block1 size (16–1024) for a large payload (default the endpoint's, 1024). */
  block1Size?: number;
  signal?: AbortSignal;
  /** Block-wise payloads: bytes the client acknowledged so far, after each block. */
  onBlock1Progress?: (bytesAcknowledged: number, total: number) => void;
}

/**
 * A handler for CoAP requests to the server under one first Uri-Path segment other than `rd` and `dp`
 * (e.g. `fw` for firmware images pulled by devices). It answers like a CoapRequestHandler.
 */
export type CoapRouteHandler = (req: IncomingCoapRequest) => CoapReply | Promise<CoapReply>;

interface Observation {
  readonly endpoint: string;
  readonly registrationId: string;
  readonly path: LwM2MPath;
  readonly coap: ClientObservation;
}

/**
 * The reference LwM2M server on one CoAP socket: the Client Registration Interface (/rd), Send (/dp),
 * and DM/Information-Reporting operations towards registered clients, sent to the address and port of
 * their last Register/Update (LwM2M-TS-Transport 1.1 §6.2).
 */
export class LwM2MServer extends EventEmitter<ServerEvents> {
  readonly endpoint: CoapEndpoint;
  /** The CoAP endpoint on the DTLS listener, when there is one. */
  readonly secureEndpoint: CoapEndpoint | undefined;
  readonly registrations: RegistrationService;
  readonly models: ModelLookup;
  private readonly log: Logger;
  private readonly observations = new Map<string, Observation>();
  /** Extra CoAP resources by first path segment (see {@link addCoapRoute}). */
  private readonly routes = new Map<string, CoapRouteHandler>();
  /** Latest value per endpoint and path, from reads, notifications and sends. */
  private readonly latest = new Map<string, Map<string, unknown>>();

  constructor(private readonly opts: LwM2MServerOptions) {
    super();
    const clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.models = opts.models ?? loadBuiltinRegistry();
    const dtls = opts.dtls;
    this.registrations = new RegistrationService({
      ...(opts.registration ?? {}), clock, log: this.log,
      ...(dtls ? { authorize: pskBindingAuthorizer(dtls.bindings, opts.registration?.authorize ?? defaultAuthorizer) } : {}),
    });
    this.endpoint = new CoapEndpoint({
      socket: opts.socket, clock, logger: this.log, ...(opts.timing ? { timing: opts.timing } : {}),
      cacheSize: opts.cacheSize ?? 16 * 1024,
      handler: (req) => this.onRequest(req),
    });
    this.secureEndpoint = dtls ? new CoapEndpoint({
      socket: dtls.socket, clock, logger: this.log, ...(opts.timing ? { timing: opts.timing } : {}),
      cacheSize: opts.cacheSize ?? 16 * 1024,
      handler: (req) => this.onRequest(req, this.securityOf(req.source)),
    }) : undefined;
    this.registrations.on('registered', (r) => setImmediate(() => this.emit('registered', r)));
    this.registrations.on('updated', (e) => setImmediate(() => this.emit('updated', e.registration, e.objectsChanged)));
    this.registrations.on('deregistered', (r) => {
      this.dropObservations(r.registrationId);
      this.latest.delete(r.endpoint);
      this.emit('deregistered', r);
    });
    this.registrations.on('expired', (r) => {
      this.dropObservations(r.registrationId);
      this.emit('expired', r);
    });
    this.registrations.on('replaced', (prev) => this.dropObservations(prev.registrationId));
  }

  get port(): number {
    return this.endpoint.address().port;
  }

  /** Port of the DTLS listener, when there is one. */
  get securePort(): number | undefined {
    return this.secureEndpoint?.address().port;
  }

  /** The CoAP endpoint requests to `registration`'s client go through: the socket it registered on. */
  coapEndpointOf(registration: Registration): CoapEndpoint {
    if (registration.transport !== 'dtls') return this.endpoint;
    if (!this.secureEndpoint) throw new LwM2MError('INTERNAL', `${registration.endpoint} registered over DTLS, but this server has no DTLS listener`);
    return this.secureEndpoint;
  }

  private securityOf(peer: { address: string; port: number }): PeerSecurity {
    const session = this.opts.dtls?.socket.sessionOf(peer.address, peer.port);
    return session ? { transport: 'dtls', pskIdentity: session.identity } : { transport: 'dtls' };
  }

  private async onRequest(req: IncomingCoapRequest, security: PeerSecurity = { transport: 'udp' }): Promise<CoapReply> {
    const first = req.pathSegments[0];
    if (first === 'rd') {
      const rreq: RegistrationRequest = {
        method: req.method, uriPath: req.pathSegments, uriQuery: req.query, payload: req.payload,
        ...(req.contentFormat !== undefined ? { contentFormat: req.contentFormat } : {}),
        source: req.source,
        ...(security.transport === 'dtls' ? { transport: 'dtls' as const, ...(security.pskIdentity !== undefined ? { pskIdentity: security.pskIdentity } : {}) } : {}),
      };
      const result = this.registrations.handle(rreq);
      if (!result.ok) return { code: result.code, payload: result.diagnostic };
      if ('location' in result) return { code: result.code, locationPath: result.location };
      return { code: result.code };
    }
    if (first === 'dp' && req.method === 'POST' && req.pathSegments.length === 1) return this.onSend(req, security);
    const route = first !== undefined ? this.routes.get(first) : undefined;
    if (route) return route(req);
    return { code: '4.04', payload: `no resource ${req.path}` };
  }

  /**
   * Serves CoAP requests whose first Uri-Path segment is `segment` (not `rd` or `dp`, which are the
   * server's own) with `handler`, on every socket of this server. Returns the function that removes it.
   */
  addCoapRoute(segment: string, handler: CoapRouteHandler): () => void {
    if (segment === 'rd' || segment === 'dp' || segment === '' || segment.includes('/')) {
      throw new RangeError(`addCoapRoute: "${segment}" is not a free first path segment`);
    }
    if (this.routes.has(segment)) throw new RangeError(`addCoapRoute: /${segment} is already routed`);
    this.routes.set(segment, handler);
    return () => {
      if (this.routes.get(segment) === handler) this.routes.delete(segment);
    };
  }

  /** Send (LwM2M-TS-Core 1.1 §6.4.7): POST /dp from a registered client. */
  private onSend(req: IncomingCoapRequest, security: PeerSecurity): CoapReply {
    // Only the registration made over this socket (and, over DTLS, by this session's identity) may Send.
    const reg = this.registrations.touchPeer(req.source.address, req.source.port, security);
    if (!reg) return { code: '4.03', payload: 'Send from an unregistered peer' };
    if (req.contentFormat === undefined) return { code: '4.00', payload: 'Send without Content-Format' };
    try {
      const records = decodeRecords(req.contentFormat, req.payload, this.models);
      const values = recordsToFlat(records);
      this.remember(reg.endpoint, values);
      this.emit('send', { endpoint: reg.endpoint, records, values });
      return { code: '2.04' };
    } catch (e) {
      if (isLwM2MError(e)) return { code: e.coapCode, payload: e.detail };
      throw e;
    }
  }

  private remember(endpoint: string, values: Record<string, unknown>): void {
    let m = this.latest.get(endpoint);
    if (!m) this.latest.set(endpoint, (m = new Map()));
    for (const [k, v] of Object.entries(values)) m.set(k, v);
  }

  /** Latest known values of an endpoint (reads, notifications, sends). */
  latestValues(endpoint: string): Record<string, unknown> {
    return Object.fromEntries(this.latest.get(endpoint) ?? []);
  }

  private requireRegistration(endpoint: string): Registration {
    const reg = this.registrations.getByEndpoint(endpoint);
    if (!reg) throw new LwM2MError('NOT_FOUND', `endpoint "${endpoint}" is not registered`);
    return reg;
  }

  /**
   * Sends one DM request to a registered client and returns its answer (timeouts → LWM2M_TIMEOUT). A payload
   * above `block1Size` goes block-wise (RFC 7959 §2.5; `timeoutMs` then bounds each block's exchange).
   */
  async send(endpoint: string, req: ServerRequest, options: SendOptions = {}): Promise<DeviceAnswer> {
    const reg = this.requireRegistration(endpoint);
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    try {
      const res = await this.coapEndpointOf(reg).request({
        host: reg.address, port: reg.port, method: req.method === 'iPATCH' ? 'iPATCH' : req.method,
        pathSegments: req.uriPath, query: req.uriQuery ?? [],
        ...(req.payload ? { payload: Buffer.from(req.payload.buffer, req.payload.byteOffset, req.payload.byteLength) } : {}),
        ...(req.contentFormat !== undefined ? { contentFormat: req.contentFormat } : {}),
        ...(req.accept !== undefined ? { accept: req.accept } : {}),
        ...(req.observe === 1 ? { observe: 1 as const } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(options.block1Size !== undefined ? { block1Size: options.block1Size } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onBlock1Progress ? { onBlock1Progress: options.onBlock1Progress } : {}),
      });
      this.registrations.touch(reg.registrationId);
      return answerOf(res);
    } catch (e) {
      if (isCoapError(e)) throw new LwM2MError('TIMEOUT', `${endpoint}: ${req.method} /${req.uriPath.join('/')}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  private ctx(): { models: ModelLookup } {
    return { models: this.models };
  }

  async read(endpoint: string, path: LwM2MPath, format?: number, timeoutMs?: number): Promise<ReadResult> {
    const reg = this.requireRegistration(endpoint);
    const r = readResult(path, await this.send(endpoint, readRequest(path, format, reg.rootPath), timeoutOpt(timeoutMs)), this.ctx());
    if (r.values) this.remember(endpoint, r.values);
    return r;
  }

  async discover(endpoint: string, path: LwM2MPath, timeoutMs?: number): Promise<DiscoverResult> {
    const reg = this.requireRegistration(endpoint);
    return discoverResult(await this.send(endpoint, discoverRequest(path, reg.rootPath), timeoutOpt(timeoutMs)), reg.rootPath);
  }

  async write(endpoint: string, path: LwM2MPath, node: LwM2MNode, format: number, mode: 'replace' | 'update' = 'replace', timeoutMs?: number): Promise<OperationResult> {
    const reg = this.requireRegistration(endpoint);
    return writeResult(await this.send(endpoint, writeRequest(path, node, format, this.ctx(), mode, reg.rootPath), timeoutOpt(timeoutMs)));
  }

  async execute(endpoint: string, path: LwM2MPath, args = '', timeoutMs?: number): Promise<OperationResult> {
    const reg = this.requireRegistration(endpoint);
    return executeResult(await this.send(endpoint, executeRequest(path, args, reg.rootPath), timeoutOpt(timeoutMs)));
  }

  async create(endpoint: string, objectId: number, instance: ObjectInstanceNode, format: number, timeoutMs?: number): Promise<CreateResult> {
    const reg = this.requireRegistration(endpoint);
    return createResult(objectId, instance.id, await this.send(endpoint, createRequest(objectId, instance, format, this.ctx(), reg.rootPath), timeoutOpt(timeoutMs)));
  }

  async delete(endpoint: string, path: LwM2MPath, timeoutMs?: number): Promise<OperationResult> {
    const reg = this.requireRegistration(endpoint);
    return deleteResult(await this.send(endpoint, deleteRequest(path, reg.rootPath), timeoutOpt(timeoutMs)));
  }

  async writeAttributes(endpoint: string, path: LwM2MPath, attrs: AttributeChanges, timeoutMs?: number): Promise<OperationResult> {
    const reg = this.requireRegistration(endpoint);
    return writeAttributesResult(await this.send(endpoint, writeAttributesRequest(path, attrs, reg.rootPath), timeoutOpt(timeoutMs)));
  }

  async readComposite(endpoint: string, paths: readonly LwM2MPath[], format: number, timeoutMs?: number): Promise<CompositeReadResult> {
    return compositeReadResult(await this.send(endpoint, compositeReadRequest(paths, format), timeoutOpt(timeoutMs)), this.ctx());
  }

  async writeComposite(endpoint: string, records: readonly PathValue[], format: number, timeoutMs?: number): Promise<OperationResult> {
    return compositeWriteResult(await this.send(endpoint, compositeWriteRequest(records, format, this.ctx()), timeoutOpt(timeoutMs)));
  }

  /**
   * Observe (LwM2M-TS-Core 1.1 §6.4.1): the first response is returned; every notification is decoded,
   * remembered as the latest value and emitted as `notification`.
   */
  async observe(endpoint: string, path: LwM2MPath, format?: number): Promise<ReadResult> {
    const reg = this.requireRegistration(endpoint);
    const req = observeRequest(path, format, reg.rootPath);
    let coap: ClientObservation;
    try {
      coap = await this.coapEndpointOf(reg).observe({
        host: reg.address, port: reg.port, method: 'GET', pathSegments: req.uriPath,
        ...(req.accept !== undefined ? { accept: req.accept } : {}),
      });
    } catch (e) {
      if (isCoapError(e)) throw new LwM2MError('TIMEOUT', `${endpoint}: observe ${path.toString()}: ${e.message}`, { cause: e });
      throw e;
    }
    const first = readResult(path, answerOf(coap.response), this.ctx());
    if (!first.ok || !coap.active) return first;
    if (first.values) this.remember(endpoint, first.values);
    const key = `${reg.registrationId}|${path.toString()}`;
    const previous = this.observations.get(key);
    if (previous) void previous.coap.cancel({ proactive: false });
    this.observations.set(key, { endpoint, registrationId: reg.registrationId, path, coap });
    coap.onNotification((n) => {
      this.registrations.touch(reg.registrationId);
      const result = readResult(path, answerOf(n), this.ctx());
      if (result.values) this.remember(endpoint, result.values);
      this.emit('notification', { endpoint, path: path.toString(), result });
    });
    void coap.ended.then(() => {
      if (this.observations.get(key)?.coap === coap) this.observations.delete(key);
    });
    return first;
  }

  /** Active cancel (RFC 7641 §3.6); the observation is forgotten either way. */
  async cancelObserve(endpoint: string, path: LwM2MPath): Promise<OperationResult> {
    const reg = this.requireRegistration(endpoint);
    const key = `${reg.registrationId}|${path.toString()}`;
    const o = this.observations.get(key);
    this.observations.delete(key);
    if (!o) {
      const answer = await this.send(endpoint, cancelObserveRequest(path, undefined, reg.rootPath));
      return { ok: answer.code.startsWith('2.'), code: answer.code };
    }
    const res = await o.coap.cancel({ proactive: true });
    return { ok: res === undefined || res.code.startsWith('2.'), code: res?.code ?? '2.05' };
  }

  /**
   * Observe-Composite (LwM2M-TS-Core 1.1 §6.4.3): FETCH on the root with the path list and Observe 0.
   * Like {@link observe}: the first response is returned, notifications are emitted as `notification`
   * (with `paths`).
   */
  async observeComposite(endpoint: string, paths: readonly LwM2MPath[], format: number, responseFormat = format): Promise<CompositeReadResult> {
    const reg = this.requireRegistration(endpoint);
    const req = compositeReadRequest(paths, format, responseFormat, 0);
    const payload = req.payload ?? new Uint8Array(0);
    let coap: ClientObservation;
    try {
      coap = await this.coapEndpointOf(reg).observe({
        host: reg.address, port: reg.port, method: 'FETCH', pathSegments: req.uriPath,
        payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), contentFormat: format, accept: responseFormat,
      });
    } catch (e) {
      if (isCoapError(e)) throw new LwM2MError('TIMEOUT', `${endpoint}: observe-composite: ${e.message}`, { cause: e });
      throw e;
    }
    const first = compositeReadResult(answerOf(coap.response), this.ctx());
    if (!first.ok || !coap.active) return first;
    if (first.values) this.remember(endpoint, first.values);
    const key = compositeKey(reg.registrationId, paths);
    const previous = this.observations.get(key);
    if (previous) void previous.coap.cancel({ proactive: false });
    this.observations.set(key, { endpoint, registrationId: reg.registrationId, path: LwM2MPath.ROOT, coap });
    const texts = paths.map((p) => p.toString());
    coap.onNotification((n) => {
      this.registrations.touch(reg.registrationId);
      const result = compositeReadResult(answerOf(n), this.ctx());
      if (result.values) this.remember(endpoint, result.values);
      this.emit('notification', { endpoint, path: texts.join(','), paths: texts, result });
    });
    void coap.ended.then(() => {
      if (this.observations.get(key)?.coap === coap) this.observations.delete(key);
    });
    return first;
  }

  /** Cancels an Observe-Composite (actively, with the same path list); forgotten either way. */
  async cancelObserveComposite(endpoint: string, paths: readonly LwM2MPath[], format: number): Promise<OperationResult> {
    const reg = this.requireRegistration(endpoint);
    const key = compositeKey(reg.registrationId, paths);
    const o = this.observations.get(key);
    this.observations.delete(key);
    if (!o) {
      const answer = await this.send(endpoint, compositeReadRequest(paths, format, format, 1));
      return { ok: answer.code.startsWith('2.'), code: answer.code };
    }
    const res = await o.coap.cancel({ proactive: true });
    return { ok: res === undefined || res.code.startsWith('2.'), code: res?.code ?? '2.05' };
  }

  observationCount(endpoint?: string): number {
    let n = 0;
    for (const o of this.observations.values()) if (endpoint === undefined || o.endpoint === endpoint) n++;
    return n;
  }

  private dropObservations(registrationId: string): void {
    for (const [k, o] of this.observations) {
      if (o.registrationId !== registrationId) continue;
      this.observations.delete(k);
      void o.coap.cancel({ proactive: false });
    }
  }

  async close(): Promise<void> {
    for (const o of this.observations.values()) void o.coap.cancel({ proactive: false });
    this.observations.clear();
    this.registrations.close();
    await Promise.all([this.endpoint.close(), this.secureEndpoint?.close()]);
  }
}

function answerOf(r: CoapResponse): DeviceAnswer {
  return {
    code: r.code, payload: r.payload, locationPath: r.locationPath,
    ...(r.contentFormat !== undefined ? { contentFormat: r.contentFormat } : {}),
  };
}

function compositeKey(registrationId: string, paths: readonly LwM2MPath[]): string {
  return `${registrationId}|composite|${paths.map((p) => p.toString()).sort().join(',')}`;
}

function timeoutOpt(timeoutMs: number | undefined): { timeoutMs?: number } {
  return timeoutMs === undefined ? {} : { timeoutMs };
}
