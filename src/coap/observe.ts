/**
 * Observe (RFC 7641) on top of node-coap's ObserveWriteStream (we are observed) and ObserveReadStream
 * (we observe), with the gaps filled: notification type and MID chosen per notification, cancellation by
 * RST of a NON notification, final (non-2.xx / Observe-less) notifications delivered, a piggyback
 * timer for slow registrations.
 */
import type { ObserveReadStream, ObserveWriteStream } from 'coap';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Block1Part } from './block1.js';
import { CoapError, encodeUint } from './message.js';
import { canonicalAddress } from './mux.js';
import { applyReplyOptions, isSuccess, responseFrom, toBuffer } from './node-coap.js';
import type {
  ClientObservation, CoapReply, CoapRequestOptions, CoapResponse, NotificationInput, ObservationEndReason, PeerAddress,
  ServerObservation,
} from './types.js';

/** What the observation classes need from their endpoint. */
export interface ObservationHost {
  readonly clock: Clock;
  readonly isClosed: boolean;
  nextMessageId(): number;
  sendEmptyAck(messageId: number, peer: PeerAddress): void;
  runWithTiming<T>(fn: () => T): T;
  registerServerObservation(key: string, o: ServerObservationImpl): void;
  unregisterServerObservation(key: string, o: ServerObservationImpl): void;
  forgetClientObservation(o: ClientObservationImpl): void;
  exchange(target: CoapRequestOptions, part: Block1Part): Promise<CoapResponse>;
}

export function observationKey(peer: PeerAddress, token: Buffer): string {
  return `${canonicalAddress(peer.address)}|${peer.port}|${token.toString('hex')}`;
}


/** Largest payload a notification can carry: node-coap sends notifications without Block2. */
const MAX_NOTIFICATION_PAYLOAD = 1024;

export class ServerObservationImpl implements ServerObservation {
  private state: 'pending' | 'active' | 'ended' = 'pending';
  private reason: ObservationEndReason | undefined;
  private readonly listeners: Array<(r: ObservationEndReason) => void> = [];
  private piggybackTimer: TimerHandle | undefined;

  constructor(
    private readonly endpoint: ObservationHost,
    private readonly res: ObserveWriteStream,
    readonly peer: PeerAddress,
    readonly token: Buffer,
    private readonly key: string,
  ) {
    // node-coap ends the stream itself when a CON notification is RST (server.js) or times out (retry_send.js).
    res.once('finish', () => this.finish(this.reason ?? 'timeout'));
  }

  get active(): boolean {
    return this.state === 'active';
  }

  /**
   * node-coap's ObserveWriteStream has no piggyback timer: a slow handler would leave a CON registration
   * unacknowledged. Send the empty ACK ourselves and make the first response a separate CON.
   */
  armPiggybackTimer(messageId: number, ms: number): void {
    this.piggybackTimer = this.endpoint.clock.setTimeout(() => {
      this.piggybackTimer = undefined;
      if (this.state !== 'pending') return;
      this.endpoint.sendEmptyAck(messageId, this.peer);
      this.res._packet.ack = false;
      this.res._packet.confirmable = true;
      this.res._packet.messageId = this.endpoint.nextMessageId();
    }, ms);
  }

  /** @internal The response to the registration. */
  firstResponse(reply: CoapReply): void {
    this.piggybackTimer?.cancel();
    if (this.state !== 'pending') return;
    const payload = toBuffer(reply.payload);
    if (isSuccess(reply.code) && reply.observe !== false && payload.length <= MAX_NOTIFICATION_PAYLOAD) {
      this.res.statusCode = reply.code;
      applyReplyOptions(this.res, reply);
      if (!this.res._packet.ack) this.res._packet.messageId = this.endpoint.nextMessageId();
      this.state = 'active';
      this.endpoint.registerServerObservation(this.key, this);
      this.endpoint.runWithTiming(() => this.res.write(payload)); // carries Observe (RFC 7641 §4.1)
      return;
    }
    if (isSuccess(reply.code) && payload.length > MAX_NOTIFICATION_PAYLOAD && reply.observe !== false) {
      this.sendWithoutObserve({ code: '5.00', payload: 'representation too large to observe (no block-wise notifications)' });
    } else {
      this.sendWithoutObserve(reply);
    }
    this.finish('ended');
  }

  notify(n: NotificationInput): void {
    if (this.state === 'active' && this.res.writableEnded) this.finish(this.reason ?? 'timeout'); // node-coap ended it
    if (this.state !== 'active') throw new CoapError('COAP_CLOSED', 'observation is not active');
    const code = n.code ?? '2.05';
    if (!isSuccess(code)) {
      this.end({ code, ...(n.payload !== undefined ? { payload: n.payload } : {}) });
      return;
    }
    const payload = toBuffer(n.payload);
    if (payload.length > MAX_NOTIFICATION_PAYLOAD) {
      throw new CoapError('COAP_TOO_LARGE', `notification payload of ${payload.length} bytes exceeds ${MAX_NOTIFICATION_PAYLOAD} (no Block2 on notifications)`);
    }
    const p = this.res._packet;
    this.res.statusCode = code;
    if (n.contentFormat !== undefined) this.res.setOption('Content-Format', encodeUint(n.contentFormat));
    if (n.maxAge !== undefined) this.res.setOption('Max-Age', encodeUint(n.maxAge));
    // node-coap would send NON-registration notifications as ACKs (observe_write_stream.js _doSend) and
    // take MIDs from coap-packet's global counter: set type and MID ourselves.
    p.confirmable = n.confirmable ?? false;
    p.ack = false;
    p.reset = false;
    p.messageId = this.endpoint.nextMessageId();
    this.endpoint.runWithTiming(() => this.res.write(payload));
  }

  end(final?: { code: string; payload?: Buffer | string }): void {
    if (this.state === 'ended') return;
    if (final && this.state === 'active') {
      const p = this.res._packet;
      p.confirmable = false;
      p.ack = false;
      p.messageId = this.endpoint.nextMessageId();
      // RFC 7641 §3.2: a non-2.xx notification (without Observe) removes the client.
      this.sendWithoutObserve(final);
    }
    this.finish('ended');
  }

  onEnd(listener: (reason: ObservationEndReason) => void): void {
    if (this.state === 'ended' && this.reason !== undefined) {
      const r = this.reason;
      queueMicrotask(() => listener(r));
      return;
    }
    this.listeners.push(listener);
  }

  /** @internal Ends it (idempotent) and tells the listeners why. */
  finish(reason: ObservationEndReason): void {
    if (this.state === 'ended') return;
    this.piggybackTimer?.cancel();
    this.state = 'ended';
    this.reason = reason;
    this.endpoint.unregisterServerObservation(this.key, this);
    // Ending the stream sends nothing once a notification went out (observe_write_stream.js); before
    // that, sendWithoutObserve() already set _counter so 'finish' does not send an empty response.
    if (this.res.writable) {
      if (this.res._counter === 0) this.res._counter = 1;
      this.res.end();
    }
    for (const l of this.listeners.splice(0)) {
      try {
        l(reason);
      } catch {
        // a listener's failure must not break the others
      }
    }
  }

  /** One response or final notification without Observe, through the stream's own sender. */
  private sendWithoutObserve(reply: { code: string; payload?: Buffer | string } & Omit<CoapReply, 'code'>): void {
    const p = this.res._packet;
    p.options = (p.options ?? []).filter((o) => o.name !== 'Observe');
    if (!p.ack && p.messageId === undefined) p.messageId = this.endpoint.nextMessageId();
    this.res.statusCode = reply.code;
    applyReplyOptions(this.res, reply);
    const payload = toBuffer(reply.payload);
    this.endpoint.runWithTiming(() => this.res._doSend(payload.length > 0 ? payload : undefined));
    this.res._counter = 1; // so end() sends nothing more
  }
}

/**
 * ObserveReadStream orders notifications by their Observe number (RFC 7641 §3.4) and silently drops a
 * notification without one — which is exactly how a server ends an observation (RFC 7641 §3.2: a
 * non-2.xx or Observe-less notification). Let those through (instance override of append()).
 */
export function letFinalNotificationsThrough(stream: ObserveReadStream): void {
  const append = stream.append.bind(stream);
  stream.append = (packet, firstPacket) => {
    const hasObserve = (packet.options ?? []).some((o) => o.name === 'Observe');
    if (!firstPacket && (!hasObserve || !String(packet.code).startsWith('2.'))) stream._disableFiltering = true;
    append(packet, firstPacket);
  };
}

export class ClientObservationImpl implements ClientObservation {
  private readonly queue: CoapResponse[] = [];
  private readonly waiters: Array<(r: IteratorResult<CoapResponse>) => void> = [];
  private readonly listeners = new Set<(n: CoapResponse) => void>();
  private done: boolean;
  private dropped = 0;
  private resolveEnded!: () => void;
  readonly ended: Promise<void>;

  constructor(
    private readonly endpoint: ObservationHost,
    private readonly target: CoapRequestOptions,
    readonly response: CoapResponse,
    private readonly stream: ObserveReadStream | undefined,
    private readonly maxBuffered: number,
  ) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.done = stream === undefined;
    if (this.done) {
      this.resolveEnded();
      return;
    }
    if (stream) letFinalNotificationsThrough(stream);
    let first = true;
    stream?.on('data', (chunk: Buffer) => {
      if (first) {
        first = false; // the registration response, already in `response`
        return;
      }
      this.handleNotification(stream, chunk);
    });
    stream?.on('close', () => this.terminate());
    stream?.on('error', () => this.terminate());
  }

  get active(): boolean {
    return !this.done;
  }

  get droppedNotifications(): number {
    return this.dropped;
  }

  onNotification(listener: (n: CoapResponse) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private handleNotification(a: ObserveReadStream, chunk: Buffer): void {
    // The stream's headers/code were just refreshed from this notification's packet (packetToMessage).
    const n = responseFrom(a, chunk, this.response.token);
    this.deliver(n);
    // RFC 7641 §3.2: a non-2.xx, or a notification without Observe, ends the observation.
    if (!isSuccess(n.code) || n.observe === undefined) {
      a.close();
      this.terminate();
    }
  }

  async cancel(options: { proactive?: boolean } = {}): Promise<CoapResponse | undefined> {
    if (this.done) return undefined;
    this.stream?.close(); // node-coap forgets the token: later notifications get RST (reactive, RFC 7641 §3.6)
    this.terminate();
    if (options.proactive === false || this.endpoint.isClosed) return undefined;
    // Proactive (RFC 7641 §3.6): the same request with Observe 1 and the same token.
    const { signal: _signal, ...rest } = this.target;
    // A FETCH observation (Observe-Composite) is cancelled with the same payload (RFC 8132 §2.4).
    return this.endpoint.exchange({ ...rest, observe: 1, token: this.response.token }, { payload: toBuffer(rest.payload) });
  }

  /** @internal */
  terminate(): void {
    if (this.done) return;
    this.done = true;
    if (this.stream && !this.stream.destroyed) this.stream.close();
    this.endpoint.forgetClientObservation(this);
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
    this.resolveEnded();
  }

  [Symbol.asyncIterator](): AsyncIterator<CoapResponse> {
    return {
      next: () => {
        const value = this.queue.shift();
        if (value) return Promise.resolve({ value, done: false });
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push(resolve));
      },
      return: () => {
        this.queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private deliver(n: CoapResponse): void {
    for (const l of this.listeners) {
      try {
        l(n);
      } catch {
        // keep delivering
      }
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter({ value: n, done: false });
      return;
    }
    this.queue.push(n);
    if (this.queue.length > this.maxBuffered) {
      this.queue.shift();
      this.dropped++;
    }
  }
}
