/**
 * An in-memory datagram network for deterministic protocol tests (Californium style): sockets with
 * addresses and auto-assigned ports, loss / delay / duplication / reordering knobs (global and per
 * link, changeable at run time), a seeded PRNG, bounded queues, and deliveries scheduled through an
 * injected Clock — with a ManualClock nothing moves until the test advances time; with systemClock it
 * behaves like a (very fast) real network.
 *
 * UDP semantics are kept where tests depend on them: sending never fails because of the peer (a
 * datagram to an unbound port, a lost or overflowing one, is silently dropped and counted), the send
 * callback fires asynchronously, closing a socket frees its port at once and drops what was in flight
 * to it.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { mulberry32 } from '../core/prng.js';
import { TransportError, familyOf, type DatagramSocket, type RemoteInfo, type SendCallback } from './datagram.js';
import { sendArgs } from './send-args.js';

/** A fixed delay, or a [min, max] range drawn uniformly per datagram. Milliseconds. */
export type DelaySpec = number | readonly [number, number];

export interface LinkConditions {
  /** Probability in [0, 1] that a datagram is lost. */
  loss?: number;
  delayMs?: DelaySpec;
  /** Probability in [0, 1] that a datagram is delivered twice (the copy gets its own delay). */
  duplicate?: number;
  /**
   * false (default): FIFO per link — a datagram never overtakes an earlier one on the same link, even
   * with a random delay. true: every datagram is scheduled independently, so a random delay reorders.
   */
  reorder?: boolean;
}

export interface MemoryNetworkOptions extends LinkConditions {
  clock?: Clock;
  /** PRNG seed (32-bit). Same seed + same sequence of sends ⇒ same losses, delays and duplicates. */
  seed?: number;
  /** Bound on datagrams in flight in the whole network; beyond it new datagrams are dropped. Default 100 000. */
  maxInFlight?: number;
  /** Bytes that may be in flight towards one socket (its "receive buffer"). Default 4 MiB. */
  defaultRecvBufferSize?: number;
  /** Largest datagram accepted (IPv4 UDP payload limit). Default 65 507. */
  maxDatagramSize?: number;
}

export interface NetworkStats {
  /** Datagrams accepted by send(). */
  sent: number;
  delivered: number;
  /** lost + unroutable + overflowed. */
  dropped: number;
  /** Extra copies created by the `duplicate` knob. */
  duplicated: number;
  lost: number;
  /** Destination port not bound (at delivery time), or the socket closed meanwhile. */
  unroutable: number;
  /** Dropped because a queue bound (network maxInFlight or the receiver's buffer) was reached. */
  overflowed: number;
}

export interface SocketAddress {
  address: string;
  port: number;
}

export type TapEvent =
  | { kind: 'sent'; from: SocketAddress; to: SocketAddress; data: Buffer }
  | { kind: 'delivered'; from: SocketAddress; to: SocketAddress; data: Buffer }
  | { kind: 'dropped'; reason: 'lost' | 'unroutable' | 'overflow'; from: SocketAddress; to: SocketAddress; data: Buffer };

/** A link end: an address (any port) or an exact address + port. */
export type LinkEnd = string | { address: string; port?: number };

const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_LAST = 65535;
const WILDCARDS = new Set(['0.0.0.0', '::']);

interface ResolvedConditions {
  loss: number;
  delayMs: DelaySpec;
  duplicate: number;
  reorder: boolean;
}

interface InFlight {
  from: SocketAddress;
  to: SocketAddress;
  toKey: string;
  data: Buffer;
  deliverAt: number;
  timer: TimerHandle | undefined;
  link: LinkQueue | undefined;
}

interface LinkQueue {
  key: string;
  items: InFlight[];
  timer: TimerHandle | undefined;
  lastAt: number;
}

function checkProbability(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`${name} must be within [0, 1], got ${v}`);
}

function checkDelay(d: DelaySpec | undefined): void {
  if (d === undefined) return;
  if (typeof d === 'number') {
    if (!(d >= 0) || !Number.isFinite(d)) throw new RangeError(`delayMs must be a finite number >= 0, got ${d}`);
    return;
  }
  const [min, max] = d;
  if (!(min >= 0) || !(max >= min) || !Number.isFinite(max)) {
    throw new RangeError(`delayMs range must satisfy 0 <= min <= max, got [${min}, ${max}]`);
  }
}

function validate(c: LinkConditions): void {
  checkProbability('loss', c.loss);
  checkProbability('duplicate', c.duplicate);
  checkDelay(c.delayMs);
}

function pick(c: LinkConditions): LinkConditions {
  const out: LinkConditions = {};
  if (c.loss !== undefined) out.loss = c.loss;
  if (c.delayMs !== undefined) out.delayMs = c.delayMs;
  if (c.duplicate !== undefined) out.duplicate = c.duplicate;
  if (c.reorder !== undefined) out.reorder = c.reorder;
  return out;
}

function keyOf(address: string, port: number): string {
  return `${address}|${port}`;
}

function endKey(end: LinkEnd): string {
  if (typeof end === 'string') return end;
  return end.port === undefined ? end.address : `${end.address}|${end.port}`;
}

export class MemoryNetwork {
  readonly clock: Clock;
  readonly seed: number;
  private readonly random: () => number;
  private readonly maxInFlight: number;
  private readonly maxDatagramSize: number;
  readonly defaultRecvBufferSize: number;
  private defaults: ResolvedConditions;
  private readonly links = new Map<string, LinkConditions>();
  private readonly sockets = new Map<string, MemorySocket>();
  private readonly linkQueues = new Map<string, LinkQueue>();
  private readonly pending = new Set<InFlight>();
  private readonly bytesInFlightTo = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly taps = new Set<(e: TapEvent) => void>();
  private nextPort = EPHEMERAL_FIRST;
  private closed = false;
  private readonly counters: NetworkStats = {
    sent: 0, delivered: 0, dropped: 0, duplicated: 0, lost: 0, unroutable: 0, overflowed: 0,
  };

  constructor(options: MemoryNetworkOptions = {}) {
    validate(options);
    this.clock = options.clock ?? systemClock;
    this.seed = (options.seed ?? 0x5eed) >>> 0;
    this.random = mulberry32(this.seed);
    this.maxInFlight = options.maxInFlight ?? 100_000;
    this.maxDatagramSize = options.maxDatagramSize ?? 65_507;
    this.defaultRecvBufferSize = options.defaultRecvBufferSize ?? 4 * 1024 * 1024;
    this.defaults = {
      loss: options.loss ?? 0,
      delayMs: options.delayMs ?? 0,
      duplicate: options.duplicate ?? 0,
      reorder: options.reorder ?? false,
    };
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<NetworkStats> {
    return { ...this.counters };
  }

  resetStats(): void {
    for (const k of Object.keys(this.counters) as Array<keyof NetworkStats>) this.counters[k] = 0;
  }

  /** Datagrams scheduled and not yet delivered or dropped. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Current default conditions. */
  get conditions(): Readonly<ResolvedConditions> {
    return { ...this.defaults };
  }

  /** Changes the default conditions for datagrams sent from now on (fields not given are kept). */
  setConditions(conditions: LinkConditions): void {
    validate(conditions);
    this.defaults = { ...this.defaults, ...pick(conditions) };
  }

  /**
   * Conditions for the directed link from → to (overriding the defaults field by field), or `null` to
   * remove them. An end without a port matches every port of that address; the most specific match wins.
   */
  setLinkConditions(from: LinkEnd, to: LinkEnd, conditions: LinkConditions | null, options: { bidirectional?: boolean } = {}): void {
    const keys = [`${endKey(from)}>${endKey(to)}`];
    if (options.bidirectional) keys.push(`${endKey(to)}>${endKey(from)}`);
    for (const key of keys) {
      if (conditions === null) {
        this.links.delete(key);
      } else {
        validate(conditions);
        this.links.set(key, pick(conditions));
      }
    }
  }

  /** Observes every datagram (sent / delivered / dropped). Returns an unsubscribe function. */
  tap(listener: (e: TapEvent) => void): () => void {
    this.taps.add(listener);
    return () => this.taps.delete(listener);
  }

  /**
   * Resolves when no datagram is in flight (at once if none is). With a ManualClock it only resolves
   * as the test advances the clock; `timeoutMs` (measured on the network's clock) rejects instead of
   * waiting forever.
   */
  idle(timeoutMs?: number): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const waiter = (): void => {
        timer?.cancel();
        resolve();
      };
      this.idleWaiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          const i = this.idleWaiters.indexOf(waiter);
          if (i >= 0) this.idleWaiters.splice(i, 1);
          reject(new Error(`MemoryNetwork not idle after ${timeoutMs} ms (${this.pending.size} datagrams in flight)`));
        }, timeoutMs);
      }
    });
  }

  /**
   * A bound socket. `address` defaults to 127.0.0.1; the port is auto-assigned (49152–65535) unless
   * given. Throws TransportError TRANSPORT_ADDRESS_IN_USE when the port is taken.
   */
  createSocket(address: string | { address?: string; port?: number } = {}): MemorySocket {
    if (this.closed) throw new TransportError('TRANSPORT_CLOSED', 'MemoryNetwork is closed');
    const opts = typeof address === 'string' ? { address } : address;
    const host = opts.address ?? '127.0.0.1';
    let port = opts.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be in 0..65535, got ${port}`);
    if (port === 0) {
      port = this.allocatePort(host);
    } else if (this.portTaken(host, port)) {
      throw new TransportError('TRANSPORT_ADDRESS_IN_USE', `memory ${host}:${port} is already in use`, {
        errno: 'EADDRINUSE', address: host, port,
      });
    }
    const socket = new MemorySocket(this, host, port, this.defaultRecvBufferSize);
    this.sockets.set(keyOf(host, port), socket);
    return socket;
  }

  /** Whether a socket is bound at address:port (wildcards included). */
  isBound(address: string, port: number): boolean {
    return this.lookup(address, port) !== undefined;
  }

  /** Closes every socket and cancels every datagram in flight. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const item of [...this.pending]) this.finish(item);
    for (const q of this.linkQueues.values()) q.timer?.cancel();
    this.linkQueues.clear();
    for (const s of [...this.sockets.values()]) if (!s.closed) s.close();
    this.resolveIdle();
  }

  // ---- internals used by MemorySocket -------------------------------------------------------------

  /** @internal */
  release(socket: MemorySocket): void {
    const key = keyOf(socket.localAddress, socket.localPort);
    if (this.sockets.get(key) === socket) this.sockets.delete(key);
  }

  /** @internal Validates and schedules one datagram. */
  transmit(from: MemorySocket, data: Buffer, port: number, address: string): Error | null {
    if (data.length > this.maxDatagramSize) {
      return new TransportError('TRANSPORT_MESSAGE_TOO_LARGE', `datagram of ${data.length} bytes exceeds ${this.maxDatagramSize}`, {
        errno: 'EMSGSIZE',
      });
    }
    const src: SocketAddress = { address: from.sourceAddress(address), port: from.localPort };
    const dst: SocketAddress = { address, port };
    this.counters.sent++;
    this.emitTap({ kind: 'sent', from: src, to: dst, data });
    const c = this.conditionsFor(src, dst);
    // Draw every random number in a fixed order so a seed reproduces a run exactly.
    const lost = c.loss > 0 && this.random() < c.loss;
    if (lost) {
      this.drop('lost', src, dst, data);
      return null;
    }
    const copies = c.duplicate > 0 && this.random() < c.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (i > 0) this.counters.duplicated++;
      this.schedule(src, dst, data, c);
    }
    return null;
  }

  // ---- private -------------------------------------------------------------------------------------

  private emitTap(e: TapEvent): void {
    for (const t of this.taps) t(e);
  }

  private conditionsFor(from: SocketAddress, to: SocketAddress): ResolvedConditions {
    if (this.links.size === 0) return this.defaults;
    const f = `${from.address}|${from.port}`;
    const t = `${to.address}|${to.port}`;
    const link =
      this.links.get(`${f}>${t}`) ??
      this.links.get(`${f}>${to.address}`) ??
      this.links.get(`${from.address}>${t}`) ??
      this.links.get(`${from.address}>${to.address}`);
    return link ? { ...this.defaults, ...link } : this.defaults;
  }

  private sampleDelay(d: DelaySpec): number {
    if (typeof d === 'number') return d;
    const [min, max] = d;
    return max === min ? min : min + this.random() * (max - min);
  }

  private schedule(from: SocketAddress, to: SocketAddress, data: Buffer, c: ResolvedConditions): void {
    const toKey = keyOf(to.address, to.port);
    const target = this.lookup(to.address, to.port);
    const limit = target ? target.recvBufferSize : this.defaultRecvBufferSize;
    const queued = this.bytesInFlightTo.get(toKey) ?? 0;
    if (this.pending.size >= this.maxInFlight || queued + data.length > limit) {
      this.drop('overflow', from, to, data);
      return;
    }
    const now = this.clock.now();
    const item: InFlight = { from, to, toKey, data, deliverAt: now + this.sampleDelay(c.delayMs), timer: undefined, link: undefined };
    this.pending.add(item);
    this.bytesInFlightTo.set(toKey, queued + data.length);
    if (c.reorder) {
      item.timer = this.clock.setTimeout(() => this.deliver(item), item.deliverAt - now);
      return;
    }
    // FIFO per link: never deliver before the previous datagram of the same link.
    const linkKey = `${from.address}|${from.port}>${toKey}`;
    let q = this.linkQueues.get(linkKey);
    if (!q) {
      q = { key: linkKey, items: [], timer: undefined, lastAt: -Infinity };
      this.linkQueues.set(linkKey, q);
    }
    item.deliverAt = Math.max(item.deliverAt, q.lastAt);
    q.lastAt = item.deliverAt;
    item.link = q;
    q.items.push(item);
    if (q.items.length === 1) this.armLink(q);
  }

  private armLink(q: LinkQueue): void {
    const head = q.items[0];
    if (!head) {
      this.linkQueues.delete(q.key);
      return;
    }
    q.timer = this.clock.setTimeout(() => {
      q.timer = undefined;
      // Deliver everything due on this link, in order (bounded by the queue length).
      const now = this.clock.now();
      const due: InFlight[] = [];
      while (q.items.length > 0 && (q.items[0] as InFlight).deliverAt <= now) due.push(q.items.shift() as InFlight);
      if (q.items.length > 0) this.armLink(q);
      else this.linkQueues.delete(q.key);
      let failure: { error: unknown } | undefined;
      for (const item of due) {
        try {
          this.deliver(item);
        } catch (error) {
          failure ??= { error }; // a throwing listener must not strand the datagrams behind it
        }
      }
      if (failure) throw failure.error;
    }, Math.max(0, head.deliverAt - this.clock.now()));
  }

  private finish(item: InFlight): boolean {
    if (!this.pending.delete(item)) return false;
    item.timer?.cancel();
    const left = (this.bytesInFlightTo.get(item.toKey) ?? 0) - item.data.length;
    if (left > 0) this.bytesInFlightTo.set(item.toKey, left);
    else this.bytesInFlightTo.delete(item.toKey);
    return true;
  }

  private deliver(item: InFlight): void {
    if (!this.finish(item)) return;
    const target = this.lookup(item.to.address, item.to.port);
    if (!target) {
      this.drop('unroutable', item.from, item.to, item.data);
      if (this.pending.size === 0) this.resolveIdle();
      return;
    }
    this.counters.delivered++;
    this.emitTap({ kind: 'delivered', from: item.from, to: item.to, data: item.data });
    try {
      target.receive(item.data, item.from);
    } finally {
      // Checked after the listener ran: whatever it sent synchronously is in flight already.
      if (this.pending.size === 0) this.resolveIdle();
    }
  }

  private drop(reason: 'lost' | 'unroutable' | 'overflow', from: SocketAddress, to: SocketAddress, data: Buffer): void {
    this.counters.dropped++;
    if (reason === 'lost') this.counters.lost++;
    else if (reason === 'unroutable') this.counters.unroutable++;
    else this.counters.overflowed++;
    this.emitTap({ kind: 'dropped', reason, from, to, data });
  }

  private resolveIdle(): void {
    const waiters = this.idleWaiters.splice(0);
    for (const w of waiters) w();
  }

  private lookup(address: string, port: number): MemorySocket | undefined {
    const exact = this.sockets.get(keyOf(address, port));
    if (exact) return exact;
    return this.sockets.get(keyOf(familyOf(address) === 'IPv6' ? '::' : '0.0.0.0', port));
  }

  private portTaken(address: string, port: number): boolean {
    if (WILDCARDS.has(address)) {
      for (const s of this.sockets.values()) if (s.localPort === port && s.family === familyOf(address)) return true;
      return false;
    }
    return this.lookup(address, port) !== undefined;
  }

  private allocatePort(address: string): number {
    const span = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
    for (let i = 0; i < span; i++) {
      const port = this.nextPort;
      this.nextPort = port === EPHEMERAL_LAST ? EPHEMERAL_FIRST : port + 1;
      if (!this.portTaken(address, port)) return port;
    }
    throw new TransportError('TRANSPORT_ADDRESS_IN_USE', `memory ${address}: no free ephemeral port`, { errno: 'EADDRINUSE', address });
  }
}

/** A socket on a MemoryNetwork; bound from creation, interchangeable with a dgram socket. */
export class MemorySocket extends EventEmitter implements DatagramSocket {
  readonly type: 'udp4' | 'udp6';
  readonly family: 'IPv4' | 'IPv6';
  private isClosed = false;
  private recvBuffer: number;

  constructor(
    private readonly network: MemoryNetwork,
    readonly localAddress: string,
    readonly localPort: number,
    recvBufferSize: number,
  ) {
    super();
    this.family = familyOf(localAddress);
    this.type = this.family === 'IPv6' ? 'udp6' : 'udp4';
    this.recvBuffer = recvBufferSize;
    queueMicrotask(() => {
      if (!this.isClosed) this.emit('listening');
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes that may be in flight towards this socket before the network drops (see setRecvBufferSize). */
  get recvBufferSize(): number {
    return this.recvBuffer;
  }

  send(msg: Buffer, offset: number, length: number, port: number, address: string, callback?: SendCallback): void;
  send(msg: Buffer, port: number, address: string, callback?: SendCallback): void;
  send(msg: Buffer, a: number, b: number | string, c?: number | SendCallback, d?: string, e?: SendCallback): void {
    const { data: view, port, address, callback } = sendArgs(msg, a, b, c, d, e);
    const data = Buffer.from(view); // copy: the caller may reuse its buffer
    if (this.closed) {
      // dgram throws ERR_SOCKET_DGRAM_NOT_RUNNING synchronously here.
      throw new TransportError('TRANSPORT_CLOSED', 'send on a closed memory socket');
    }
    if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new RangeError(`port must be in 1..65535, got ${port}`);
    const err = this.network.transmit(this, data, port, address);
    queueMicrotask(() => {
      if (callback) callback(err, err ? 0 : data.length);
      else if (err) this.emit('error', err);
    });
  }

  address(): AddressInfo {
    if (this.closed) throw new TransportError('TRANSPORT_CLOSED', 'memory socket is closed');
    return { address: this.localAddress, family: this.family, port: this.localPort };
  }

  close(callback?: () => void): void {
    if (this.isClosed) throw new TransportError('TRANSPORT_CLOSED', 'memory socket already closed');
    this.isClosed = true;
    this.network.release(this); // the port is free again right away
    if (callback) this.once('close', callback);
    queueMicrotask(() => this.emit('close'));
  }

  setRecvBufferSize(size: number): void {
    if (!(size > 0)) throw new RangeError(`receive buffer size must be > 0, got ${size}`);
    this.recvBuffer = size;
  }

  getRecvBufferSize(): number {
    return this.recvBuffer;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  /** @internal The source address this socket puts on datagrams to `destination`. */
  sourceAddress(destination: string): string {
    if (!WILDCARDS.has(this.localAddress)) return this.localAddress;
    return familyOf(destination) === 'IPv6' ? '::1' : '127.0.0.1';
  }

  /** @internal */
  receive(data: Buffer, from: SocketAddress): void {
    if (this.closed) return;
    const rinfo: RemoteInfo = { address: from.address, family: familyOf(from.address), port: from.port, size: data.length };
    this.emit('message', data, rinfo);
  }
}
