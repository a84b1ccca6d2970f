/**
 * CoapEndpoint: one DatagramSocket carrying both directions, built on node-coap 1.5.0 —
 * `new coap.Agent({ socket })` for our requests, `coap.createServer().listen(socket)` for requests to us
 * (an LwM2M server sends its requests to the port the Register came from).
 * Both halves are created on demand (the Agent on our first request, the Server on the first datagram
 * for it) and the Agent is released again when idle (agentIdleMs): an idle registered device holds
 * neither, which is most of a device's CoAP heap (≈ 5.5 KB of 8 KB per endpoint).
 *
 * Neither half touches the socket directly: src/coap/mux.ts routes every datagram to exactly one of
 * them, detects duplicates (RFC 7252 §4.5) and answers pings. Timing is per endpoint through
 * src/coap/timing.ts. node-coap runs its retransmission and cache timers on real timers (setTimeout,
 * Date.now), not on our Clock: over a MemoryNetwork, CoAP tests therefore use systemClock with small
 * timings; the Clock passed here drives only our own bookkeeping (request give-up, dedup expiry).
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { Agent, ObserveReadStream, ObserveWriteStream, OutgoingMessage, createServer, type IncomingMessage, type Server } from 'coap';
import { generate, parse } from 'coap-packet';
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { isLwM2MError } from '../core/errors.js';
import { silentLogger } from '../core/logger.js';
import type { DatagramSocket, RemoteInfo } from '../transport/datagram.js';
import { sendWithBlock1, type Block1Part } from './block1.js';
import { Block1Receiver, type Block1ReceiverStats, type Block1StreamHandler } from './block1-receiver.js';
import {
  CoapError, MessageType, OptionNumber, decodeBlock, decodeUint, emptyMessage, encodeBlock, encodeUint, formatNumber,
  readOption, payloadLength, szxOf, type BlockValue, type CoapMethod, type HeaderInfo,
} from './message.js';
import { encodePlainReply, parsePlainRequest } from './fast-path.js';
import { CoapMux, canonicalAddress, type MuxStats } from './mux.js';
import {
  applyReplyOptions, asBlock, asNumber, asText, isSuccess, messageOptions, querySegments, responseFrom, splitPath, toBuffer,
} from './node-coap.js';
import { ClientObservationImpl, ServerObservationImpl, observationKey, type ObservationHost } from './observe.js';
import { deriveTiming, resolveTiming, withCoapTiming, type CoapTiming, type DerivedTiming } from './timing.js';
import type {
  ClientObservation, CoapReply, CoapRequestHandler, CoapRequestOptions, CoapResponse, IncomingCoapRequest, PeerAddress,
} from './types.js';

export type * from './types.js';

const EMPTY = Buffer.alloc(0);

function isPromiseLike<T>(v: T | Promise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

export interface CoapEndpointOptions {
  socket: DatagramSocket;
  /** RFC 7252 §4.8 parameters for this endpoint (ms). Default ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4. */
  timing?: Partial<CoapTiming>;
  clock?: Clock;
  logger?: Logger;
  /** Bytes of node-coap's response cache (LRU). Unbounded caches grew to 1 GB (DESIGN §2). Default 256 KiB. */
  cacheSize?: number;
  /** How long a handler may take before an empty ACK is sent and the response goes separately. Default 50 ms. */
  piggybackReplyMs?: number;
  /** Default Block1 size for outgoing payloads (16–1024). Default 1024. */
  block1Size?: number;
  /** Largest request body accepted block-wise; beyond → 4.13 with Size1 (RFC 7959 §2.9.3). Default 8 MiB. */
  maxRequestBodySize?: number;
  /** Bound on remembered MIDs (duplicate detection, ACK matching). Default 4096. */
  messageCacheEntries?: number;
  /**
   * node-coap's Agent (our requests) is created on the first request and released once it has had
   * nothing outstanding for this long (ms); Infinity keeps it. Nothing of an exchange lives in it after
   * the exchange ended: duplicate detection and replayed ACKs are the mux's (RFC 7252 §4.5). Default 1000.
   */
  agentIdleMs?: number;
  /** Close the socket in close(). Default true. */
  closeSocket?: boolean;
  /**
   * Answer plain requests (CON/NON with only Uri-Path, Uri-Query, Content-Format, Accept; a synchronous
   * handler; a reply below 1024 bytes) without node-coap's Server (src/coap/fast-path.ts). false sends
   * every request through node-coap. Default true.
   */
  fastPath?: boolean;
  handler?: CoapRequestHandler;
}

// ---- the endpoint -----------------------------------------------------------------------------------

interface Pending {
  reject: (e: Error) => void;
}

interface CarriedAnswer {
  messageId: number;
  address: string;
  port: number;
  result: CoapReply | Promise<CoapReply>;
}

/** The Block2 option of an explicit block request's response, taken out before node-coap's Agent sees it. */
interface ExplicitBlock2 {
  block2: BlockValue | undefined;
}

export class CoapEndpoint implements ObservationHost {
  readonly timing: Readonly<CoapTiming>;
  readonly derived: Readonly<DerivedTiming>;
  private readonly socket: DatagramSocket;
  /** @internal Drives our own timers (not node-coap's). */
  readonly clock: Clock;
  private readonly logger: Logger;
  private readonly mux: CoapMux;
  /** Created on demand (first request, or a datagram for the client side), released when idle. */
  private agentInstance: Agent | undefined;
  private agentIdleTimer: TimerHandle | undefined;
  private readonly agentIdleMs: number;
  /** Created on the first datagram for the server side (an idle device never gets one). */
  private serverInstance: Server | undefined;
  private readonly cacheSize: number;
  private readonly block1Size: number;
  private readonly maxRequestBodySize: number;
  private readonly piggybackReplyMs: number;
  private readonly closeSocket: boolean;
  private readonly fastPath: boolean;
  private handler: CoapRequestHandler;
  /**
   * The handler's answer to a request the fast path took up but left to node-coap (an async handler,
   * a reply it does not encode): node-coap's Server gets the original datagram right after, and
   * onServerRequest uses this answer instead of calling the handler a second time.
   */
  private carried: CarriedAnswer | undefined;
  // The collections below are created on first use (an idle device holds none of them).
  private pending: Set<Pending> | undefined;
  private clientObservations: Set<ClientObservationImpl> | undefined;
  private serverObservations: Map<string, ServerObservationImpl> | undefined;
  /** Explicit Block2 requests in flight, by token (hex). */
  private explicitBlock2: Map<string, ExplicitBlock2> | undefined;
  /** Streamed Block1 receive, created by onBlock1Stream(). */
  private block1Receiver: Block1Receiver | undefined;
  /** Set by onBlock1Stream; the receiver itself is built on the first Block1 request (most devices never get one). */
  private block1Handler: Block1StreamHandler | undefined;
  private closed = false;
  private readonly onResponseError = (err: Error): void => this.logger.warn({ err }, 'coap response error');

  constructor(options: CoapEndpointOptions) {
    this.socket = options.socket;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.timing = Object.freeze(resolveTiming(options.timing));
    this.derived = Object.freeze(deriveTiming(this.timing));
    this.block1Size = options.block1Size ?? 1024;
    szxOf(this.block1Size); // validates
    this.maxRequestBodySize = options.maxRequestBodySize ?? 8 * 1024 * 1024;
    this.piggybackReplyMs = options.piggybackReplyMs ?? 50;
    this.closeSocket = options.closeSocket ?? true;
    this.fastPath = options.fastPath ?? true;
    this.handler = options.handler ?? (() => ({ code: '4.04' }));
    const cacheSize = options.cacheSize ?? 256 * 1024;
    if (!(cacheSize > 0)) throw new RangeError(`cacheSize must be > 0, got ${cacheSize}`);
    this.cacheSize = cacheSize;
    const agentIdleMs = options.agentIdleMs ?? 1000;
    if (!(agentIdleMs >= 0)) throw new RangeError(`agentIdleMs must be >= 0, got ${agentIdleMs}`);
    this.agentIdleMs = agentIdleMs;

    this.mux = new CoapMux({
      socket: this.socket,
      clock: this.clock,
      exchangeLifetimeMs: this.derived.exchangeLifetimeMs,
      nonLifetimeMs: this.derived.nonLifetimeMs,
      ...(options.messageCacheEntries !== undefined ? { maxEntries: options.messageCacheEntries } : {}),
      logger: this.logger,
      screenRequest: (msg, h, rinfo) => this.screenRequest(msg, h, rinfo),
      filterClientResponse: (msg, h) => (this.explicitBlock2 !== undefined && this.explicitBlock2.size > 0 ? this.takeExplicitBlock2(msg, h) : msg),
      onServerReset: (peer, token) => this.serverObservations?.get(observationKey(peer, token))?.finish('reset'),
      attachSide: (side) => {
        if (this.closed) return;
        // A stray or late datagram for the client side still gets node-coap's answer (RST to an unknown
        // CON response, RFC 7252 §4.2), so the Agent is created for it and released again when idle.
        if (side === 'client') this.scheduleAgentRelease(this.ensureAgent());
        else this.ensureServer();
      },
    });
  }

  /** node-coap's Agent for our requests, created on first use (see agentIdleMs). */
  private ensureAgent(): Agent {
    if (this.agentInstance) return this.agentInstance;
    // The one place node-coap's Agent is handed something that is not a dgram.Socket: see SideSocket.
    const agent = new Agent({ socket: this.mux.client as unknown as Socket });
    // One MID generator per endpoint (RFC 7252 §4.4) instead of one per node-coap half.
    agent._nextMessageId = () => this.mux.nextMessageId();
    agent.on('error', (err: Error) => this.logger.warn({ err }, 'coap agent error'));
    this.agentInstance = agent;
    return agent;
  }

  /** node-coap's Server for requests to us, created when the first one arrives. */
  private ensureServer(): Server {
    if (this.serverInstance) return this.serverInstance;
    const server = withCoapTiming(this.timing, () =>
      createServer({
        piggybackReplyMs: this.piggybackReplyMs,
        cacheSize: this.cacheSize,
        // Must stay true: with false node-coap never sends the response to a NON request.
        sendAcksForNonConfirmablePackets: true,
        type: this.mux.server.type,
      }),
    );
    this.serverInstance = server;
    server.on('error', (err: Error) => this.logger.warn({ err }, 'coap server error'));
    this.keepBlock2OptionsAcrossBlocks(server);
    server.on('request', (req: IncomingMessage, res: OutgoingMessage | ObserveWriteStream) => this.onServerRequest(req, res));
    server.listen(this.mux.server);
    return server;
  }

  /** Whether node-coap's Agent still holds a request, token or ACK in flight. */
  private static agentHolds(agent: Agent): boolean {
    return agent._msgIdToReq.size > 0 || agent._tkToReq.size > 0 || (agent as unknown as { _msgInFlight: number })._msgInFlight > 0;
  }

  /** (Re)arms the release of an idle Agent after agentIdleMs; it is re-checked when the timer fires. */
  private scheduleAgentRelease(agent: Agent | undefined, delayMs = this.agentIdleMs): void {
    if (!agent || this.closed || agent !== this.agentInstance || !Number.isFinite(this.agentIdleMs)) return;
    this.agentIdleTimer?.cancel();
    this.agentIdleTimer = this.clock.setTimeout(() => {
      this.agentIdleTimer = undefined;
      if (this.closed || this.agentInstance !== agent) return;
      // A request or observation of ours re-arms this when it ends.
      if ((this.pending?.size ?? 0) > 0 || (this.clientObservations?.size ?? 0) > 0) return;
      if (CoapEndpoint.agentHolds(agent)) {
        // node-coap's own leftovers (an ACK being sent): look again later, not in a tight loop.
        this.scheduleAgentRelease(agent, Math.max(this.agentIdleMs, this.timing.ackTimeoutMs));
        return;
      }
      this.agentInstance = undefined;
      agent.close(); // with a socket it was handed, node-coap neither closes it nor removes its listeners
      this.mux.client.removeAllListeners();
    }, delayMs);
  }

  /** Local address of the socket (asked afresh: a socket wrapper may rebind underneath, e.g. NAT tests). */
  address(): PeerAddress {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  get messageStats(): Readonly<MuxStats> {
    return { ...this.mux.stats };
  }

  /** Sizes of the message-layer tables and of node-coap's request maps (for leak checks). */
  get messageTableSizes(): { seen: number; outstanding: number; agentByMessageId: number; agentByToken: number } {
    const agent = this.agentInstance;
    return { ...this.mux.sizes, agentByMessageId: agent?._msgIdToReq.size ?? 0, agentByToken: agent?._tkToReq.size ?? 0 };
  }

  /** @internal Which of node-coap's halves exist right now (both are created on demand). */
  get nodeCoapHalves(): { agent: boolean; server: boolean } {
    return { agent: this.agentInstance !== undefined, server: this.serverInstance !== undefined };
  }

  /** Replaces the request handler. */
  onRequest(handler: CoapRequestHandler): void {
    this.handler = handler;
  }

  /**
   * Streams the bodies of block-wise requests the handler claims (RFC 7959 §2.3) into its sinks, one
   * block at a time, instead of node-coap reassembling them in memory (see block1-receiver.ts).
   * `undefined` removes the handler (open transfers are aborted).
   */
  onBlock1Stream(handler: Block1StreamHandler | undefined): void {
    this.block1Handler = handler;
    this.block1Receiver?.setHandler(handler);
  }

  /** Counters of the streamed Block1 receive (undefined before the first Block1 request after onBlock1Stream). */
  get block1StreamStats(): Block1ReceiverStats | undefined {
    return this.block1Receiver?.stats;
  }

  /** Sends a request and resolves with the response (a 4.xx/5.xx is a value, not an exception). */
  async request(options: CoapRequestOptions): Promise<CoapResponse> {
    this.assertOpen();
    const host = await this.resolveHost(options.host);
    const payload = toBuffer(options.payload);
    const blockSize = options.block1Size ?? this.block1Size;
    const target = { ...options, host };
    return sendWithBlock1(payload, (part) => this.exchange(target, part), {
      blockSize,
      newToken: () => randomBytes(8),
      ...(options.onBlock1Progress ? { onProgress: options.onBlock1Progress } : {}),
    });
  }

  /**
   * Registers an observation (GET with Observe 0, RFC 7641 §3.1; or FETCH with a payload, RFC 8132 §2.4,
   * as LwM2M Observe-Composite does). The payload must fit one block.
   */
  async observe(options: Omit<CoapRequestOptions, 'observe' | 'block1Size' | 'block2'> & { maxBuffered?: number }): Promise<ClientObservation> {
    this.assertOpen();
    const host = await this.resolveHost(options.host);
    const target = { ...options, host };
    return new Promise<ClientObservation>((resolve, reject) => {
      this.startExchange(target, { payload: toBuffer(options.payload) }, true, (res, req) => {
        const token = req._packet.token ?? Buffer.alloc(0);
        const first = responseFrom(res, res.payload ?? Buffer.alloc(0), token);
        const stream = res instanceof ObserveReadStream ? res : undefined;
        // RFC 7641 §3.1/§4.1: established only by a 2.xx carrying an Observe option.
        const established = stream !== undefined && isSuccess(first.code) && first.observe !== undefined;
        if (!established) {
          stream?.close();
          // node-coap keeps the token of a 4.04 answer to an observe forever; drop it.
          this.agentInstance?._tkToReq.delete(token.toString('hex'));
        }
        const obs = new ClientObservationImpl(this, target, first, established ? stream : undefined, options.maxBuffered ?? 256);
        if (established) (this.clientObservations ??= new Set()).add(obs);
        resolve(obs);
      }, reject);
    });
  }

  /** Closes the endpoint: pending requests fail with COAP_CLOSED, observations end, the socket is closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...(this.pending ?? [])]) p.reject(new CoapError('COAP_CLOSED', 'endpoint closed'));
    this.pending?.clear();
    for (const o of [...(this.clientObservations ?? [])]) o.terminate();
    for (const o of [...(this.serverObservations?.values() ?? [])]) o.finish('closed');
    this.block1Receiver?.abortAll('closed');
    this.agentIdleTimer?.cancel();
    this.serverInstance?.close();
    this.agentInstance?.close();
    this.mux.close();
    if (this.closeSocket) {
      await new Promise<void>((resolve) => {
        try {
          this.socket.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      });
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- client side internals ---------------------------------------------------------------------

  /** @internal */
  forgetClientObservation(o: ClientObservationImpl): void {
    if (this.clientObservations?.delete(o) === true && this.clientObservations.size === 0) this.clientObservations = undefined;
    this.scheduleAgentRelease(this.agentInstance);
  }

  /** @internal One exchange (one block of a Block1 transfer, or the whole request). */
  exchange(target: CoapRequestOptions, part: Block1Part): Promise<CoapResponse> {
    return new Promise((resolve, reject) => {
      this.startExchange(target, part, false, (res, req, explicit) => {
        const response = responseFrom(res, res.payload ?? Buffer.alloc(0), req._packet.token ?? Buffer.alloc(0));
        resolve(explicit ? { ...response, block2: explicit.block2 } : response);
      }, reject);
    });
  }

  /**
   * An explicit Block2 request's response: the Block2 option is removed (and kept for the caller) so
   * node-coap's Agent does not request the following blocks itself and buffer the whole body.
   */
  private takeExplicitBlock2(msg: Buffer, h: HeaderInfo): Buffer {
    const entry = this.explicitBlock2?.get(h.token.toString('hex'));
    if (!entry || readOption(msg, h, OptionNumber.Block2) === undefined) return msg;
    try {
      const p = parse(msg);
      const raw = p.options.find((o) => o.name === 'Block2')?.value;
      entry.block2 = raw ? decodeBlock(raw) : undefined;
      p.options = p.options.filter((o) => o.name !== 'Block2');
      return generate(p, 65_507);
    } catch {
      return msg;
    }
  }

  private startExchange(
    target: CoapRequestOptions,
    part: Block1Part,
    observe: boolean,
    onResponse: (res: IncomingMessage, req: OutgoingMessage, explicit: ExplicitBlock2 | undefined) => void,
    onError: (e: Error) => void,
  ): void {
    if (this.closed) {
      onError(new CoapError('COAP_CLOSED', 'endpoint closed'));
      return;
    }
    const confirmable = target.confirmable ?? true;
    let settled = false;
    let req: OutgoingMessage | undefined;
    const timers: TimerHandle[] = [];
    const pending: Pending = { reject: (e) => fail(e) };
    const agent = this.ensureAgent();
    const explicit: ExplicitBlock2 | undefined = target.block2 ? { block2: undefined } : undefined;
    // An explicit Block2 request needs its token now (node-coap assigns one only when sending) to find its response.
    const token = part.token ?? target.token ?? (explicit ? randomBytes(8) : undefined);
    const explicitKey = explicit && token ? token.toString('hex') : undefined;
    const cleanup = (): void => {
      settled = true;
      // Emptied collections go (an idle endpoint holds none).
      if (this.pending?.delete(pending) === true && this.pending.size === 0) this.pending = undefined;
      const explicitMap = this.explicitBlock2;
      if (explicitKey !== undefined && explicitMap !== undefined && explicitMap.get(explicitKey) === explicit) {
        explicitMap.delete(explicitKey);
        if (explicitMap.size === 0) this.explicitBlock2 = undefined;
      }
      for (const t of timers) t.cancel();
      target.signal?.removeEventListener('abort', onAbort);
      this.scheduleAgentRelease(agent);
    };
    const fail = (e: Error): void => {
      if (settled) return;
      cleanup();
      if (req) agent.abort(req);
      onError(e);
    };
    const onAbort = (): void => fail(new CoapError('COAP_ABORTED', 'request aborted'));
    if (target.signal?.aborted) {
      onAbort();
      return;
    }
    (this.pending ??= new Set()).add(pending);
    target.signal?.addEventListener('abort', onAbort, { once: true });

    try {
      withCoapTiming(this.timing, () => {
        const r = agent.request({
          host: target.host,
          port: target.port,
          method: target.method ?? 'GET',
          confirmable,
          ...(token ? { token } : {}),
          ...(observe ? { observe: true } : target.observe === 1 ? { observe: 1 } : {}),
        });
        req = r;
        const segments = target.pathSegments ?? splitPath(target.path);
        r.setOption('Uri-Path', segments.map((s) => Buffer.from(s, 'utf8')));
        r.setOption('Uri-Query', querySegments(target.query).map((s) => Buffer.from(s, 'utf8')));
        if (target.contentFormat !== undefined) r.setOption('Content-Format', encodeUint(target.contentFormat));
        if (target.accept !== undefined) r.setOption('Accept', encodeUint(target.accept));
        if (part.block1) {
          // Under its number, not 'Block1': by name node-coap's Agent would start its own segmentation
          // and misread our value as an SZX (agent.js request()).
          r.setOption(String(OptionNumber.Block1), encodeBlock(part.block1));
        }
        if (part.size1 !== undefined) r.setOption('Size1', encodeUint(part.size1));
        if (target.block2) {
          // RFC 7959 §2.4: ask for one block (by number, so node-coap's Agent does not treat it as its own).
          r.setOption(String(OptionNumber.Block2), encodeBlock({ num: target.block2.num, more: false, szx: target.block2.szx }));
          if (target.block2.num === 0) r.setOption(String(OptionNumber.Size2), Buffer.alloc(0)); // RFC 7959 §4: ask for Size2
          if (explicit && explicitKey !== undefined) (this.explicitBlock2 ??= new Map()).set(explicitKey, explicit);
        }
        for (const o of target.options ?? []) r.setOption(String(o.number), o.value);
        r.on('response', (res: IncomingMessage) => {
          if (settled) return;
          if (res.code === '0.00') {
            // RST to our request (RFC 7252 §4.2): the peer could not process it.
            fail(new CoapError('COAP_RESET', `${target.host}:${target.port} answered with RST`));
            return;
          }
          cleanup();
          // node-coap forgets a request's MID only when a reply carries that same MID; a NON request's
          // response has its own MID (RFC 7252 §5.2.3), so the entry would stay forever.
          const mid = r._packet.messageId;
          if (mid !== undefined && agent._msgIdToReq.get(mid) === r) agent._msgIdToReq.delete(mid);
          onResponse(res, r, explicit);
        });
        const onTimeout = (): void => {
          req = undefined; // node-coap aborts it itself right after 'timeout' (agent.js)
          fail(new CoapError('COAP_TIMEOUT', `no response from ${target.host}:${target.port} within EXCHANGE_LIFETIME`));
        };
        r.on('error', (err: Error) => {
          // retry_send.js emits 'error' (a RetrySendError) and then 'timeout' when a CON gives up.
          if ('retransmitTimeout' in err) onTimeout();
          else fail(new CoapError('COAP_SEND_FAILED', err.message, { cause: err }));
        });
        r.on('timeout', onTimeout);
        r.end(part.payload.length > 0 ? part.payload : undefined);
      });
    } catch (err) {
      fail(new CoapError('COAP_SEND_FAILED', err instanceof Error ? err.message : String(err), { cause: err }));
      return;
    }
    const sent = req;
    if (settled || !sent) return;
    const firstMid = sent._packet.messageId;
    if (confirmable && firstMid !== undefined) {
      // RFC 7252 §4.2: no ACK after MAX_RETRANSMIT retransmissions → give up at MAX_TRANSMIT_WAIT
      // (node-coap would wait until EXCHANGE_LIFETIME).
      timers.push(this.clock.setTimeout(() => {
        if (this.mux.isOutstanding(target.host, target.port, firstMid)) {
          fail(new CoapError('COAP_TIMEOUT', `no ACK from ${target.host}:${target.port} after ${this.timing.maxRetransmit} retransmissions`));
        }
      }, this.derived.maxTransmitWaitMs));
    }
    // Overall bound: node-coap stops its own give-up timer once the empty ACK of a separate response
    // arrived and would then wait for that response forever.
    const overall = target.timeoutMs ?? Math.max(this.derived.exchangeLifetimeMs, this.derived.maxTransmitWaitMs);
    timers.push(this.clock.setTimeout(() => fail(new CoapError('COAP_TIMEOUT', `no response within ${overall} ms`)), overall));
  }

  private async resolveHost(host: string): Promise<string> {
    if (isIP(host) !== 0) return canonicalAddress(host);
    // Keys in the message layer are IP literals (rinfo.address); resolve names once, in the socket's family.
    const family = this.mux.address().family === 'IPv6' ? 6 : 4;
    const { address } = await lookup(host, { family });
    return canonicalAddress(address);
  }

  private assertOpen(): void {
    if (this.closed) throw new CoapError('COAP_CLOSED', 'endpoint closed');
  }

  // ---- server side internals ---------------------------------------------------------------------

  /**
   * Streams the Block1 transfers a handler claimed (onBlock1Stream), and answers oversized ones before
   * node-coap buffers them (it has no limit).
   */
  private screenRequest(msg: Buffer, h: HeaderInfo, rinfo: RemoteInfo): Buffer | undefined {
    this.carried = undefined;
    const block1Raw = readOption(msg, h, OptionNumber.Block1);
    if (block1Raw === undefined) return this.fastPath ? this.answerPlainRequest(msg, h, rinfo) : undefined;
    if (this.block1Handler && !this.block1Receiver) {
      this.block1Receiver = new Block1Receiver({
        clock: this.clock,
        idleTimeoutMs: this.derived.exchangeLifetimeMs,
        nextMessageId: () => this.mux.nextMessageId(),
      });
      this.block1Receiver.setHandler(this.block1Handler);
    }
    const streamed = this.block1Receiver?.handle(msg, h, rinfo);
    if (streamed) return streamed;
    const block = decodeBlock(block1Raw);
    const size1Raw = readOption(msg, h, OptionNumber.Size1);
    const announced = size1Raw !== undefined ? decodeUint(size1Raw) : 0;
    const reached = block ? block.num * 2 ** (block.szx + 4) + payloadLength(msg, h) : 0;
    if (block && Math.max(announced, reached) <= this.maxRequestBodySize) return undefined;
    // RFC 7959 §2.9.3: 4.13 with Size1 = the largest body we accept (§4). An invalid Block1 (SZX 7) → 4.00.
    const code = block ? '4.13' : '4.00';
    const con = h.type === MessageType.CON;
    return generate({
      code,
      confirmable: false,
      ack: con,
      messageId: con ? h.messageId : this.mux.nextMessageId(),
      token: Buffer.from(h.token),
      options: block ? [{ name: 'Size1', value: encodeUint(this.maxRequestBodySize) }] : [],
    });
  }

  /**
   * The fast path: a plain request answered by a synchronous handler gets its reply from here, and the
   * mux sends it and remembers it for duplicates like any reply of node-coap's (RFC 7252 §4.5). Anything
   * else returns undefined and goes to node-coap's Server — with the handler's answer carried along when
   * the handler was already called (see `carried`).
   */
  private answerPlainRequest(msg: Buffer, h: HeaderInfo, rinfo: RemoteInfo): Buffer | undefined {
    if (this.closed) return undefined;
    const plain = parsePlainRequest(msg, h);
    if (plain === undefined) return undefined;
    const source: PeerAddress = { address: rinfo.address, port: rinfo.port };
    const incoming: IncomingCoapRequest = {
      method: plain.method,
      pathSegments: plain.pathSegments,
      path: `/${plain.pathSegments.join('/')}`,
      query: plain.query,
      payload: plain.payload,
      contentFormat: plain.contentFormat,
      accept: plain.accept,
      observe: undefined,
      block2: undefined,
      token: Buffer.from(h.token),
      confirmable: h.type === MessageType.CON,
      source,
      observation: undefined,
    };
    let result: CoapReply | Promise<CoapReply>;
    try {
      result = this.handler(incoming);
    } catch (err) {
      // What the node-coap path answers for a throwing handler (there after one microtask).
      result = this.errorReply(err);
    }
    if (!isPromiseLike(result)) {
      try {
        const answer = encodePlainReply(h, result, () => this.mux.nextMessageId());
        if (answer !== undefined) return answer;
      } catch {
        // An option value node-coap would refuse too: let it answer (and log) as before.
      }
    }
    this.carried = { messageId: h.messageId, address: canonicalAddress(rinfo.address), port: rinfo.port, result };
    return undefined;
  }

  /** The answer carried over from the fast path for this request, if any (taken once). */
  private takeCarried(messageId: number | undefined, source: PeerAddress): CarriedAnswer | undefined {
    const c = this.carried;
    if (c === undefined) return undefined;
    this.carried = undefined;
    return c.messageId === messageId && c.port === source.port && c.address === canonicalAddress(source.address) ? c : undefined;
  }

  private onServerRequest(req: IncomingMessage, res: OutgoingMessage | ObserveWriteStream): void {
    res.on('error', this.onResponseError);
    const packet = req._packet;
    const token = packet.token ?? EMPTY;
    const source: PeerAddress = { address: req.rsinfo.address, port: req.rsinfo.port };
    const carried = this.takeCarried(packet.messageId, source);
    // One pass over the options node-coap already parsed (not one per option we read).
    const segments: string[] = [];
    const query: string[] = [];
    let observeRaw: unknown;
    let block2Raw: unknown;
    for (const o of messageOptions(req)) {
      switch (o.name) {
        case 'Uri-Path': segments.push(asText(o.value)); break;
        case 'Uri-Query': query.push(asText(o.value)); break;
        case 'Observe': observeRaw ??= o.value; break;
        case 'Block2': block2Raw ??= o.value; break;
        default: break;
      }
    }
    const observeValue = asNumber(observeRaw);
    const isObserve = res instanceof ObserveWriteStream;
    // The key of an observation (by peer and token) only where observations are involved.
    const key = isObserve || (this.serverObservations !== undefined && (observeValue === 0 || observeValue === 1))
      ? observationKey(source, token) : undefined;

    // RFC 7641 §3.6: GET with Observe 1 and the token of an observation deregisters it; §4.1: a new
    // registration with the same token replaces the old one.
    const existing = key !== undefined ? this.serverObservations?.get(key) : undefined;
    if (existing && observeValue === 1) existing.finish('deregistered');
    else if (existing && observeValue === 0) existing.finish('replaced');

    const method = req.method as CoapMethod | undefined;
    const observation = isObserve && key !== undefined ? new ServerObservationImpl(this, res, source, token, key) : undefined;
    if (observation && packet.confirmable) observation.armPiggybackTimer(packet.messageId ?? 0, this.piggybackReplyMs);

    const incoming: IncomingCoapRequest = {
      method: method ?? 'GET',
      pathSegments: segments,
      path: `/${segments.join('/')}`,
      query,
      payload: req.payload ?? EMPTY,
      contentFormat: formatNumber(req.headers['Content-Format']),
      accept: formatNumber(req.headers.Accept),
      observe: observeValue,
      block2: asBlock(block2Raw),
      token,
      confirmable: packet.confirmable === true,
      source,
      observation,
    };

    const respond = (reply: CoapReply): void => {
      if (this.closed) return;
      try {
        if (observation && res instanceof ObserveWriteStream) observation.firstResponse(reply);
        else this.sendReply(req, res as OutgoingMessage, reply);
      } catch (err) {
        this.logger.warn({ err }, 'coap reply failed');
      }
    };
    const fail = (err: unknown): void => respond(this.errorReply(err));
    if (method === undefined) {
      respond({ code: '4.05' }); // RFC 7252 §5.8: unknown method
      return;
    }
    let result: CoapReply | Promise<CoapReply>;
    if (carried !== undefined) result = carried.result;
    else {
      try {
        result = this.handler(incoming);
      } catch (err) {
        result = Promise.reject(err);
      }
    }
    if (isPromiseLike(result)) {
      // Answered after node-coap's emit('request') returned (a then-callback always runs later).
      result.then(respond, fail);
      return;
    }
    // A synchronous answer goes out at once — unless node-coap may keep a Block2 cache entry for it: it
    // copies the response options into that entry right after the emit when the response is already
    // sent (server.js saveAdditionalBlock2Options), and keepBlock2Options() does it for a later answer —
    // doing both would duplicate Content-Format in later blocks. A request without Block2 answered with
    // less than one block (node-coap's maxBlock2, 1024), or with an explicit block, never has one.
    const reply = result;
    const size = reply.payload === undefined ? 0 : typeof reply.payload === 'string' ? Buffer.byteLength(reply.payload) : reply.payload.length;
    if (observation === undefined && block2Raw === undefined && (size < 1024 || reply.block2 !== undefined)) respond(reply);
    else queueMicrotask(() => respond(reply));
  }

  private errorReply(err: unknown): CoapReply {
    if (isLwM2MError(err)) return { code: err.coapCode, payload: err.detail }; // RFC 7252 §5.5.2 diagnostic payload
    this.logger.warn({ err }, 'coap handler failed');
    return { code: '5.00', payload: 'internal error' };
  }

  private sendReply(req: IncomingMessage, res: OutgoingMessage, reply: CoapReply): void {
    const payload = toBuffer(reply.payload);
    res.code = reply.code;
    applyReplyOptions(res, reply);
    // Not piggybacked (the empty ACK went out, or the request was NON): a fresh MID of ours.
    if (!res._packet.ack) res._packet.messageId = this.mux.nextMessageId();
    if (reply.block2) {
      // Already one block (RFC 7959 §2.4): node-coap's OutMessage.end() would slice it again by the
      // request's Block2 option, so the base class sends it unchanged.
      res.setOption(String(OptionNumber.Block2) as 'Block2', encodeBlock(reply.block2));
      withCoapTiming(this.timing, () => OutgoingMessage.prototype.end.call(res, payload.length > 0 ? payload : undefined));
      return;
    }
    withCoapTiming(this.timing, () => res.end(payload.length > 0 ? payload : undefined));
    if (payload.length >= 1024) this.keepBlock2Options(req, res);
  }

  /**
   * node-coap caches a Block2 body for the follow-up block requests but records the response options
   * only when the handler answered synchronously (server.js saveAdditionalBlock2Options): copy them, or
   * later blocks lose Content-Format.
   */
  private keepBlock2Options(req: IncomingMessage, res: OutgoingMessage): void {
    const server = this.serverInstance;
    if (!server) return;
    const key = server._toCacheKey(req, req._packet);
    if (key === null) return;
    const entry = server._block2Cache.get(key);
    if (!entry) return;
    for (const o of res._packet.options ?? []) {
      if (o.name !== 'Block2' && o.name !== 'ETag' && o.name !== 'Size2') entry.options.push(o);
    }
  }

  /**
   * node-coap serves Block2 follow-ups from a cache entry {buffer, options}, but each cached block
   * re-adds the entry with empty options (server.js OutMessage.end → _addCacheEntry), so from the third
   * block on Content-Format and the other options are gone. Carry them over when the same body is
   * re-added. (Instance override; node-coap binds `_addCacheEntry` from the instance for each response.)
   */
  private keepBlock2OptionsAcrossBlocks(server: Server): void {
    const cache = server._block2Cache;
    const add = cache.add.bind(cache);
    cache.add = (key, entry) => {
      const previous = cache.get(key);
      if (entry && previous && entry.options.length === 0 && previous.buffer === entry.buffer) {
        entry.options.push(...previous.options);
      }
      add(key, entry);
    };
  }

  /** @internal */
  registerServerObservation(key: string, o: ServerObservationImpl): void {
    (this.serverObservations ??= new Map()).set(key, o);
  }

  /** @internal */
  unregisterServerObservation(key: string, o: ServerObservationImpl): void {
    if (this.serverObservations?.get(key) === o) {
      this.serverObservations.delete(key);
      if (this.serverObservations.size === 0) this.serverObservations = undefined;
    }
  }

  /** @internal */
  nextMessageId(): number {
    return this.mux.nextMessageId();
  }

  /** @internal */
  sendEmptyAck(messageId: number, peer: PeerAddress): void {
    this.mux.sendRaw('server', emptyMessage('ACK', messageId), peer.port, peer.address);
  }



  /** @internal */
  runWithTiming<T>(fn: () => T): T {
    return withCoapTiming(this.timing, fn);
  }
}
