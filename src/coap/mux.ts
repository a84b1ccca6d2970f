/**
 * The message layer shared by the two node-coap halves of one endpoint.
 *
 * One DatagramSocket carries both directions (an LwM2M server sends its requests to the address the
 * Register came from). node-coap's Agent (our requests) and Server (requests to us) would each attach to
 * the socket and both see every datagram; left alone that goes wrong in several ways (measured by
 * reading node_modules/coap/dist/lib/{agent,server}.js):
 *   - an empty ACK/RST is only a Message ID: the Agent matches it against its own pending requests
 *     without looking at the peer, the Server against its response cache — a MID used by both halves
 *     (two independent MID generators) is acknowledged for the wrong one;
 *   - a duplicate piggybacked response, or a retransmitted separate response, is matched by token and
 *     taken as the response to the *next* request with that token (Block1/Block2 reuse the token), which
 *     corrupts block-wise transfers under duplication;
 *   - the Server's duplicate detection and its error replies only run when the socket is
 *     `instanceof dgram.Socket`, so over any other socket a retransmitted CON request is handled twice;
 *   - the Server emits a 'request' for an empty CON (CoAP ping) instead of answering RST.
 *
 * So the endpoint hands each half its own facade ({@link SideSocket}) and this class routes every
 * incoming datagram to exactly one of them, deduplicates, and answers pings itself:
 *   requests (class 0, code ≠ 0.00)      → server side, after duplicate detection
 *   responses (class 2–5) piggybacked     → client side, only if they answer a CON the client sent
 *   responses CON/NON (separate, notify)  → client side, after duplicate detection
 *   empty ACK/RST                         → the side that sent the CON (or NON) with that MID to that peer
 *   empty CON (ping)                      → RST from here;  anything malformed → dropped
 * All bookkeeping expires on the injected Clock and is bounded in size.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import { silentLogger } from '../core/logger.js';
import type { DatagramSocket, RemoteInfo, SendCallback } from '../transport/datagram.js';
import { generate, parse } from 'coap-packet';
import { MessageType, OptionNumber, emptyMessage, peekHeader, readOption, type HeaderInfo } from './message.js';

export type Side = 'client' | 'server';

export interface MuxOptions {
  socket: DatagramSocket;
  clock: Clock;
  /** RFC 7252 §4.8.2 EXCHANGE_LIFETIME: how long a CON's MID is remembered (dedup, ACK matching). */
  exchangeLifetimeMs: number;
  /** RFC 7252 §4.8.2 NON_LIFETIME: same for NON. */
  nonLifetimeMs: number;
  /** Bound on remembered incoming MIDs and on outstanding outgoing MIDs (each). Default 4096. */
  maxEntries?: number;
  logger?: Logger;
  /**
   * Sees each new (non-duplicate) incoming request before the server side does; returning a datagram
   * answers the request with it instead (e.g. 4.13 for an oversized Block1 transfer).
   */
  screenRequest?: (msg: Buffer, header: HeaderInfo, rinfo: RemoteInfo) => Buffer | undefined;
  /** An RST answered a message the server side sent (a notification): RFC 7641 §3.6 cancellation. */
  onServerReset?: (peer: { address: string; port: number }, token: Buffer) => void;
  /**
   * A datagram is about to be routed to a side nothing listens on yet: the endpoint creates node-coap's
   * Agent / Server lazily (each costs several KB of heap per socket) and attaches it here.
   */
  attachSide?: (side: Side) => void;
  /**
   * Rewrites a response before the client side (node-coap's Agent) sees it — the endpoint hides the
   * Block2 option of explicit block requests, which the Agent would otherwise follow by itself.
   */
  filterClientResponse?: (msg: Buffer, header: HeaderInfo) => Buffer;
}

export interface MuxStats {
  /** Duplicate CON answered again from the remembered ACK/RST/piggybacked response. */
  duplicatesAnswered: number;
  /** Duplicates dropped (NON, or CON whose processing is still pending). */
  duplicatesDropped: number;
  /** Empty CON answered with RST. */
  pings: number;
  /** ACK/RST/piggybacked responses matching nothing we sent (late duplicates, strays). */
  unmatched: number;
  malformed: number;
}

interface Outstanding {
  side: Side;
  token: Buffer;
  expiresAt: number;
}

interface Seen {
  expiresAt: number;
  /** The ACK/RST we answered it with, replayed for duplicates (RFC 7252 §4.5). */
  reply: Buffer | undefined;
}

/** Canonical text of an IP literal, so keys from rinfo and from send() agree. */
export function canonicalAddress(address: string): string {
  if (!address.includes(':') || isIP(address) !== 6) return address; // IPv4 (the usual case) as it is
  try {
    return new URL(`coap://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}

/**
 * Per-message bookkeeping per peer: 'address|port' → MID → entry. The last peer's table is remembered,
 * so a run of messages with one peer (a device and its server) builds no key string per message. Each
 * inner Map is in insertion order (oldest first), and the outer one in the order of each peer's latest
 * insertion: expiry and the size bound take the oldest entries of the least recent peers first.
 */
class PeerTable<V extends { expiresAt: number }> {
  private readonly byPeer = new Map<string, Map<number, V>>();
  private count = 0;
  private lastAddress: string | undefined;
  private lastPort = -1;
  private lastKey = '';
  private lastTable: Map<number, V> | undefined;
  /** The peer most recently moved to the end of byPeer. */
  private tailKey: string | undefined;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.count;
  }

  private table(address: string, port: number, create: boolean): Map<number, V> | undefined {
    if (this.lastTable !== undefined && port === this.lastPort && address === this.lastAddress) return this.lastTable;
    const key = `${address}|${port}`;
    let t = this.byPeer.get(key);
    if (!t) {
      if (!create) return undefined;
      t = new Map();
      this.byPeer.set(key, t);
    }
    this.lastAddress = address;
    this.lastPort = port;
    this.lastKey = key;
    this.lastTable = t;
    return t;
  }

  get(address: string, port: number, messageId: number): V | undefined {
    return this.table(address, port, false)?.get(messageId);
  }

  delete(address: string, port: number, messageId: number): void {
    const t = this.table(address, port, false);
    if (!t?.delete(messageId)) return;
    this.count--;
    if (t.size === 0) this.dropPeer(this.lastKey, t); // an idle peer holds nothing
  }

  /** Insert as the newest, purge expired heads (this peer's and the oldest peer's), evict the oldest beyond the bound. */
  remember(address: string, port: number, messageId: number, value: V, now: number): void {
    const t = this.table(address, port, true) as Map<number, V>;
    if (this.tailKey !== this.lastKey) {
      // This peer becomes the most recent one.
      this.byPeer.delete(this.lastKey);
      this.byPeer.set(this.lastKey, t);
      this.tailKey = this.lastKey;
    }
    if (t.delete(messageId)) this.count--;
    t.set(messageId, value);
    this.count++;
    this.purge(t, now);
    const oldest = this.byPeer.entries().next().value;
    if (oldest && oldest[1] !== t) {
      this.purge(oldest[1], now);
      if (oldest[1].size === 0) this.dropPeer(oldest[0], oldest[1]);
    }
  }

  private purge(t: Map<number, V>, now: number): void {
    let budget = 64;
    for (const [k, v] of t) {
      if (budget-- <= 0) break;
      if (v.expiresAt <= now) {
        t.delete(k);
        this.count--;
      } else break;
    }
    // Above the bound: evict the oldest entries of the least recent peers (the current one is the most
    // recent, so its newest entry goes last).
    for (let guard = 0; this.count > this.maxEntries && guard < 64; guard++) {
      const first = this.byPeer.entries().next().value;
      if (!first) break;
      const head = first[1].keys().next();
      if (head.done === true) this.dropPeer(first[0], first[1]);
      else {
        first[1].delete(head.value);
        this.count--;
      }
    }
  }

  private dropPeer(key: string, t: Map<number, V>): void {
    this.byPeer.delete(key);
    if (this.lastTable === t) this.lastTable = undefined;
    if (this.tailKey === key) this.tailKey = undefined;
  }

  clear(): void {
    this.byPeer.clear();
    this.count = 0;
    this.lastTable = undefined;
    this.tailKey = undefined;
  }
}

export class CoapMux {
  readonly client: SideSocket;
  readonly server: SideSocket;
  readonly stats: MuxStats = { duplicatesAnswered: 0, duplicatesDropped: 0, pings: 0, unmatched: 0, malformed: 0 };
  private readonly socket: DatagramSocket;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxEntries: number;
  private readonly exchangeLifetimeMs: number;
  private readonly nonLifetimeMs: number;
  /** Incoming MIDs (RFC 7252 §4.5) and outgoing CON/NON MIDs awaiting ACK/RST: made on first use. */
  private seenTable: PeerTable<Seen> | undefined;
  private outstandingTable: PeerTable<Outstanding> | undefined;
  private readonly screenRequest: MuxOptions['screenRequest'];
  private readonly onServerReset: MuxOptions['onServerReset'];
  private readonly attachSide: MuxOptions['attachSide'];
  private readonly filterClientResponse: MuxOptions['filterClientResponse'];
  private lastMessageId: number;
  private closed = false;
  private localAddress: AddressInfo | undefined;
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => this.receive(msg, rinfo);
  private readonly onError = (err: Error): void => this.logger.warn({ err }, 'coap socket error');

  constructor(options: MuxOptions) {
    this.socket = options.socket;
    this.clock = options.clock;
    this.logger = options.logger ?? silentLogger;
    this.maxEntries = options.maxEntries ?? 4096;
    this.exchangeLifetimeMs = options.exchangeLifetimeMs;
    this.nonLifetimeMs = options.nonLifetimeMs;
    this.screenRequest = options.screenRequest;
    this.onServerReset = options.onServerReset;
    this.attachSide = options.attachSide;
    this.filterClientResponse = options.filterClientResponse;
    // RFC 7252 §4.4: MIDs from a randomized start, then sequential — one generator for both halves.
    this.lastMessageId = Math.floor(Math.random() * 0x10000);
    this.client = new SideSocket(this, 'client');
    this.server = new SideSocket(this, 'server');
    this.socket.on('message', this.onMessage);
    this.socket.on('error', this.onError);
  }

  /** The endpoint's next Message ID (RFC 7252 §4.4), shared by the client and server sides. */
  nextMessageId(): number {
    this.lastMessageId = (this.lastMessageId + 1) & 0xffff;
    return this.lastMessageId;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Number of remembered incoming / outstanding outgoing MIDs (for tests and leak checks). */
  get sizes(): { seen: number; outstanding: number } {
    return { seen: this.seenTable?.size ?? 0, outstanding: this.outstandingTable?.size ?? 0 };
  }

  /** Whether a CON we sent to address:port with this MID is still waiting for its ACK/RST. */
  isOutstanding(address: string, port: number, messageId: number): boolean {
    const out = this.outstandingTable?.get(canonicalAddress(address), port, messageId);
    return out !== undefined && out.expiresAt > this.clock.now();
  }

  /**
   * Cached: node-coap's Agent asks on every incoming datagram (agent.js) and only stores it as
   * `outSocket`; CoapEndpoint.address() asks the socket itself.
   */
  address(): AddressInfo {
    this.localAddress ??= this.socket.address();
    return this.localAddress;
  }

  /** Detaches from the socket (which stays open). Sends from either side are dropped afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.removeListener('message', this.onMessage);
    this.socket.removeListener('error', this.onError);
    this.seenTable?.clear();
    this.outstandingTable?.clear();
  }

  /** Sends raw bytes on behalf of the endpoint (scripted replies); bypasses bookkeeping except replies. */
  sendRaw(side: Side, msg: Buffer, port: number, address: string, callback?: SendCallback): void {
    this.transmit(side, msg, port, address, callback);
  }

  // ---- outgoing ----------------------------------------------------------------------------------

  /** @internal Called by the side sockets. */
  transmit(side: Side, msg: Buffer, port: number, address: string, callback?: SendCallback): void {
    if (this.closed) {
      // Like a datagram lost on the way; node-coap timers that outlive close() must not crash.
      if (callback) queueMicrotask(() => callback(null, 0));
      return;
    }
    const h = peekHeader(msg);
    if (h) {
      if (h.type === MessageType.CON || (h.type === MessageType.NON && side === 'server' && h.codeClass >= 2)) {
        // A NON notification can be answered with RST too (RFC 7641 §3.6).
        const ttl = h.type === MessageType.CON ? this.exchangeLifetimeMs : this.nonLifetimeMs;
        const now = this.clock.now();
        (this.outstandingTable ??= new PeerTable(this.maxEntries)).remember(
          canonicalAddress(address), port, h.messageId, { side, token: Buffer.from(h.token), expiresAt: now + ttl }, now);
      } else if (h.type === MessageType.ACK || h.type === MessageType.RST) {
        // Kept as it is, not copied: node-coap builds a fresh buffer per message and never changes it
        // (it retransmits that same buffer).
        const seen = this.seenTable?.get(canonicalAddress(address), port, h.messageId);
        if (seen) seen.reply = msg;
      }
    }
    try {
      this.socket.send(msg, 0, msg.length, port, address, callback);
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      if (callback) queueMicrotask(() => callback(e, 0));
      else this.logger.warn({ err: e }, 'coap send failed');
    }
  }

  // ---- incoming ----------------------------------------------------------------------------------

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const h = peekHeader(msg);
    if (!h) {
      this.stats.malformed++; // RFC 7252 §3: unknown version / format error → silently ignore
      return;
    }
    const peer = canonicalAddress(rinfo.address);
    if (h.codeClass === 0 && h.codeDetail === 0) {
      this.receiveEmpty(msg, h, peer, rinfo);
      return;
    }
    if (h.codeClass === 0) {
      // A request. RFC 7252 §4.2/§4.3: only CON or NON can carry one.
      if (h.type === MessageType.ACK || h.type === MessageType.RST) {
        this.stats.malformed++;
        return;
      }
      if (this.isDuplicate(h, peer, rinfo)) return;
      const answer = this.screenRequest?.(msg, h, rinfo);
      if (answer) {
        this.transmit('server', answer, rinfo.port, rinfo.address);
        return;
      }
      this.deliver('server', sanitizeBlock1(msg, h), rinfo);
      return;
    }
    if (h.codeClass >= 2 && h.codeClass <= 5) {
      if (h.type === MessageType.RST) {
        this.stats.malformed++; // RFC 7252 §4.3: RST must be empty
        return;
      }
      if (h.type === MessageType.ACK) {
        // Piggybacked response (RFC 7252 §5.2.1): must answer a CON the client side has outstanding.
        const out = this.outstandingTable?.get(peer, rinfo.port, h.messageId);
        if (!out || out.side !== 'client' || out.expiresAt <= this.clock.now()) {
          this.stats.unmatched++;
          return;
        }
        this.forgetOutstanding(peer, rinfo.port, h.messageId);
        this.deliver('client', this.clientResponse(msg, h), rinfo);
        return;
      }
      // Separate response or notification (CON/NON): RFC 7252 §4.5 duplicate detection first.
      if (this.isDuplicate(h, peer, rinfo)) return;
      this.deliver('client', this.clientResponse(msg, h), rinfo);
      return;
    }
    // Reserved classes 1, 6, 7 (RFC 7252 §12.1): reject a CON with RST (§4.2), ignore the rest.
    if (h.type === MessageType.CON) this.transmit('server', emptyMessage('RST', h.messageId), rinfo.port, rinfo.address);
    else this.stats.malformed++;
  }

  /** The ACK/RST came: the table goes when it is empty (an idle endpoint holds none). */
  private forgetOutstanding(address: string, port: number, messageId: number): void {
    const table = this.outstandingTable;
    if (!table) return;
    table.delete(address, port, messageId);
    if (table.size === 0) this.outstandingTable = undefined;
  }

  private clientResponse(msg: Buffer, h: HeaderInfo): Buffer {
    const clean = sanitizeBlock1(msg, h);
    return this.filterClientResponse ? this.filterClientResponse(clean, h) : clean;
  }

  /** Hands a datagram to one side, letting the endpoint attach that side's node-coap half first. */
  private deliver(side: Side, msg: Buffer, rinfo: RemoteInfo): void {
    const target = side === 'client' ? this.client : this.server;
    if (target.listenerCount('message') === 0) this.attachSide?.(side);
    target.emit('message', msg, rinfo);
  }

  private receiveEmpty(msg: Buffer, h: HeaderInfo, peer: string, rinfo: RemoteInfo): void {
    // RFC 7252 §4.1: an Empty message has TKL 0 and nothing after the header.
    if (h.tokenLength !== 0 || msg.length !== 4) {
      this.stats.malformed++;
      return;
    }
    if (h.type === MessageType.CON) {
      // RFC 7252 §4.3: "CoAP ping" — an empty CON is answered with RST.
      this.stats.pings++;
      this.transmit('server', emptyMessage('RST', h.messageId), rinfo.port, rinfo.address);
      return;
    }
    if (h.type === MessageType.NON) {
      this.stats.malformed++; // RFC 7252 §4.3: an empty NON is a format error
      return;
    }
    // ACK / RST: RFC 7252 §4.2 — match to the CON (or NON) we sent with that MID to that peer.
    const out = this.outstandingTable?.get(peer, rinfo.port, h.messageId);
    if (!out || out.expiresAt <= this.clock.now()) {
      this.stats.unmatched++;
      return;
    }
    this.forgetOutstanding(peer, rinfo.port, h.messageId);
    if (out.side === 'client') {
      this.deliver('client', msg, rinfo);
      return;
    }
    this.deliver('server', msg, rinfo);
    if (h.type === MessageType.RST && out.token.length > 0) {
      this.onServerReset?.({ address: rinfo.address, port: rinfo.port }, out.token);
    }
  }

  /**
   * RFC 7252 §4.5: a CON or NON with a MID already seen from the same endpoint within
   * EXCHANGE_LIFETIME (CON) / NON_LIFETIME (NON) is a duplicate. A duplicate CON gets the same ACK/RST
   * (or piggybacked response) again; one still being processed, and a duplicate NON, are dropped.
   */
  private isDuplicate(h: HeaderInfo, peer: string, rinfo: RemoteInfo): boolean {
    const now = this.clock.now();
    const entry = this.seenTable?.get(peer, rinfo.port, h.messageId);
    if (entry && entry.expiresAt > now) {
      if (h.type === MessageType.CON && entry.reply) {
        this.stats.duplicatesAnswered++;
        try {
          this.socket.send(entry.reply, 0, entry.reply.length, rinfo.port, rinfo.address);
        } catch (err) {
          this.logger.warn({ err }, 'coap duplicate reply failed');
        }
      } else {
        this.stats.duplicatesDropped++;
      }
      return true;
    }
    const ttl = h.type === MessageType.CON ? this.exchangeLifetimeMs : this.nonLifetimeMs;
    (this.seenTable ??= new PeerTable(this.maxEntries)).remember(peer, rinfo.port, h.messageId, { expiresAt: now + ttl, reply: undefined }, now);
    return false;
  }
}

/**
 * node-coap's parseBlockOption() throws on a Block1 value of length 0 — which is how 0/0/16 is encoded
 * (RFC 7252 §3.2 uint, RFC 7959 §2.2) — and the Agent calls it inside the socket listener (uncaught).
 * Re-encode such a value as one zero byte (same meaning) before node-coap sees it.
 */
function sanitizeBlock1(msg: Buffer, h: HeaderInfo): Buffer {
  const v = readOption(msg, h, OptionNumber.Block1);
  if (v === undefined || v.length !== 0) return msg;
  try {
    const p = parse(msg);
    for (const o of p.options) if (o.name === 'Block1') o.value = Buffer.of(0);
    return generate(p, 65_507);
  } catch {
    return msg;
  }
}

/**
 * What node-coap's Agent or Server gets instead of the socket: the dgram surface they use (see
 * src/transport/datagram.ts), fed only the datagrams that belong to that side.
 */
export class SideSocket extends EventEmitter {
  /** node-coap's Agent reads `socket.type`. */
  readonly type: 'udp4' | 'udp6';

  constructor(private readonly mux: CoapMux, readonly side: Side) {
    super();
    this.type = mux.address().family === 'IPv6' ? 'udp6' : 'udp4';
  }

  send(msg: Buffer, offset: number, length: number, port: number, address: string, callback?: SendCallback): void;
  send(msg: Buffer, port: number, address: string, callback?: SendCallback): void;
  send(msg: Buffer, a: number, b: number | string, c?: number | SendCallback, d?: string, e?: SendCallback): void {
    if (typeof b === 'number') {
      const bytes = a === 0 && b === msg.length ? msg : msg.subarray(a, a + b);
      this.mux.transmit(this.side, bytes, c as number, d as string, e);
    } else {
      this.mux.transmit(this.side, msg, a, b, typeof c === 'function' ? c : undefined);
    }
  }

  address(): AddressInfo {
    return this.mux.address();
  }

  /** node-coap never closes a socket it was handed; the endpoint closes the real one. */
  close(callback?: () => void): void {
    if (callback) queueMicrotask(callback);
  }
}
