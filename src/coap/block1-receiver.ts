/**
 * Streamed Block1 receive (RFC 7959 §2.3, §2.5), server side: the body of a block-wise request is handed
 * to a sink block by block instead of being reassembled. node-coap's Server buffers every Block1 body
 * whole (server.js `_block1Cache`), which for a firmware image means the whole image in RAM; a transfer
 * taken here never reaches node-coap, so a device holds one block at a time.
 *
 * The endpoint's mux hands every new (non-duplicate) Block1 request to {@link Block1Receiver.handle}
 * before node-coap sees it; a request whose path the handler does not claim falls through unchanged.
 *
 * Transfers are matched by peer, method, Uri-Path and Uri-Query — not by token: RFC 7959 §2.3 leaves the
 * token of each block free (Californium and node-coap keep it, others do not), so both are accepted.
 *   - block 0 opens (or restarts) a transfer; the handler may refuse it with a final response;
 *   - the next block in byte order is written to the sink and acknowledged with 2.31 Continue carrying
 *     the Block1 option (RFC 7959 §2.3, §2.9.1); the last one (M = 0) gets the sink's final response;
 *   - the block just acknowledged, sent again as a new message, is acknowledged again without writing;
 *   - any other block → 4.08 Request Entity Incomplete (RFC 7959 §2.9.2); the transfer stays, so the
 *     client can still send the expected block or restart with block 0;
 *   - a transfer without a block for `idleTimeoutMs` is aborted (the sink hears 'timeout').
 */
import { generate, parse, type ParsedPacket } from 'coap-packet';
import type { Clock, TimerHandle } from '../core/clock.js';
import {
  MessageType, blockSizeOf, decodeBlock, decodeUint, encodeBlock, encodeUint, type BlockValue, type CoapMethod, type HeaderInfo,
} from './message.js';
import { canonicalAddress } from './mux.js';
import type { CoapReply, PeerAddress } from './types.js';

/** What the handler sees of the first block of a transfer. */
export interface Block1StreamHead {
  readonly method: CoapMethod;
  readonly pathSegments: readonly string[];
  readonly query: readonly string[];
  readonly contentFormat: number | undefined;
  /** RFC 7959 §4: the total body size the client announced with block 0, if it did. */
  readonly size1: number | undefined;
  readonly source: PeerAddress;
}

export type Block1AbortReason = 'restarted' | 'timeout' | 'closed';

/** Receives one transfer's body in order. All calls are synchronous. */
export interface Block1StreamSink {
  /** The next chunk (bytes in order). A reply ends the transfer early with that (error) response. */
  write(chunk: Buffer): CoapReply | undefined;
  /** The last chunk was written: the final response (2.04 Changed usually). */
  end(): CoapReply;
  /** The transfer was abandoned without a final block. */
  abort(reason: Block1AbortReason): void;
}

export interface Block1StreamHandler {
  /** Whether Block1 requests to this method/path are streamed here (else node-coap reassembles them). */
  claims(method: CoapMethod, pathSegments: readonly string[], contentFormat: number | undefined): boolean;
  /** Block 0 of a claimed transfer: a sink to stream into, or a final reply refusing it. */
  open(head: Block1StreamHead): Block1StreamSink | CoapReply;
}

export interface Block1ReceiverOptions {
  clock: Clock;
  /** A transfer idle this long is aborted (default: EXCHANGE_LIFETIME of the endpoint). */
  idleTimeoutMs: number;
  /** MID for a NON reply (RFC 7252 §5.2.3: a separate message of ours). */
  nextMessageId: () => number;
  /** Concurrent transfers at most; beyond → 5.03 (default 4). */
  maxTransfers?: number;
}

export interface Block1ReceiverStats {
  /** Transfers open now. */
  readonly transfers: number;
  /** Body bytes held by the receiver right now (a block while its sink runs; 0 between blocks). */
  readonly bufferedBytes: number;
  /** The most body bytes ever held at once: at most one block. */
  readonly peakBufferedBytes: number;
  /** Blocks written to sinks. */
  readonly blocks: number;
  /** Blocks answered 4.08. */
  readonly outOfOrder: number;
}

interface Transfer {
  readonly key: string;
  readonly sink: Block1StreamSink;
  /** Body bytes written so far. */
  received: number;
  /** The last block acknowledged with 2.31 (its number and size), for a re-sent copy. */
  lastAck: BlockValue | undefined;
  timer: TimerHandle | undefined;
}

const METHODS: Readonly<Record<string, CoapMethod>> = {
  '0.01': 'GET', '0.02': 'POST', '0.03': 'PUT', '0.04': 'DELETE', '0.05': 'FETCH', '0.06': 'PATCH', '0.07': 'iPATCH',
};

type Option = ParsedPacket['options'][number];

function optionText(options: readonly Option[], name: string): string[] {
  return options.filter((o) => o.name === name).map((o) => o.value.toString('utf8'));
}

function firstOption(options: readonly Option[], name: string): Buffer | undefined {
  return options.find((o) => o.name === name)?.value;
}

export class Block1Receiver {
  /** Open transfers by peer, method, path and query; made with the first one. */
  private transfers: Map<string, Transfer> | undefined;
  private readonly maxTransfers: number;
  private handler: Block1StreamHandler | undefined;
  private held = 0;
  private peak = 0;
  private blockCount = 0;
  private outOfOrderCount = 0;

  constructor(private readonly opts: Block1ReceiverOptions) {
    this.maxTransfers = opts.maxTransfers ?? 4;
  }

  setHandler(handler: Block1StreamHandler | undefined): void {
    this.handler = handler;
    if (!handler) this.abortAll('closed');
  }

  get stats(): Block1ReceiverStats {
    return {
      transfers: this.transfers?.size ?? 0, bufferedBytes: this.held, peakBufferedBytes: this.peak, blocks: this.blockCount,
      outOfOrder: this.outOfOrderCount,
    };
  }

  /** Aborts every open transfer (endpoint closing). */
  abortAll(reason: Block1AbortReason): void {
    for (const t of [...(this.transfers?.values() ?? [])]) this.drop(t, reason);
  }

  /**
   * A new request carrying Block1 (duplicates were filtered by the mux). Returns the reply datagram when
   * the request belongs to a streamed transfer, undefined to let node-coap handle it.
   */
  handle(msg: Buffer, h: HeaderInfo, rinfo: PeerAddress): Buffer | undefined {
    const handler = this.handler;
    if (!handler) return undefined;
    let packet: ParsedPacket;
    try {
      packet = parse(msg);
    } catch {
      return undefined; // node-coap answers what it cannot parse
    }
    const method = METHODS[packet.code];
    const rawBlock = firstOption(packet.options, 'Block1');
    if (!method || !rawBlock) return undefined;
    const block = decodeBlock(rawBlock);
    if (!block) return undefined; // SZX 7: the endpoint's own screen answers 4.00
    const pathSegments = optionText(packet.options, 'Uri-Path');
    const cfRaw = firstOption(packet.options, 'Content-Format');
    const contentFormat = cfRaw !== undefined ? decodeUint(cfRaw) : undefined;
    if (!handler.claims(method, pathSegments, contentFormat)) return undefined;

    const query = optionText(packet.options, 'Uri-Query');
    const source = { address: canonicalAddress(rinfo.address), port: rinfo.port };
    const key = `${source.address}|${source.port}|${method}|${pathSegments.join('/')}?${query.join('&')}`;
    const reply = (r: CoapReply, ack?: BlockValue): Buffer => this.encode(h, r, ack);
    const size = blockSizeOf(block.szx);
    const payload = packet.payload;

    // RFC 7959 §2.3: every block but the last carries exactly the block size.
    if (block.more && payload.length !== size) {
      return reply({ code: '4.00', payload: `block ${block.num} has ${payload.length} bytes, not ${size}` });
    }
    if (!block.more && payload.length > size) {
      return reply({ code: '4.00', payload: `last block ${block.num} has ${payload.length} bytes, more than ${size}` });
    }

    let t = this.transfers?.get(key);
    if (block.num === 0) {
      if (t) this.drop(t, 'restarted');
      if ((this.transfers?.size ?? 0) >= this.maxTransfers) return reply({ code: '5.03', payload: 'too many block-wise transfers' });
      const size1Raw = firstOption(packet.options, 'Size1');
      const opened = handler.open({
        method, pathSegments, query, contentFormat, size1: size1Raw !== undefined ? decodeUint(size1Raw) : undefined, source,
      });
      if (!isSink(opened)) return reply(opened);
      t = { key, sink: opened, received: 0, lastAck: undefined, timer: undefined };
      (this.transfers ??= new Map()).set(key, t);
    } else if (!t) {
      this.outOfOrderCount++;
      return reply({ code: '4.08', payload: `block ${block.num} without block 0` });
    }

    const offset = block.num * size;
    if (offset !== t.received) {
      const last = t.lastAck;
      if (last && last.num === block.num && last.szx === block.szx && offset + payload.length === t.received && block.more) {
        this.touch(t);
        return reply({ code: '2.31' }, { num: block.num, more: true, szx: block.szx }); // a re-sent copy
      }
      this.outOfOrderCount++;
      this.touch(t);
      return reply({ code: '4.08', payload: `expected the block at byte ${t.received}, got block ${block.num} (byte ${offset})` });
    }

    this.held += payload.length;
    if (this.held > this.peak) this.peak = this.held;
    let early: CoapReply | undefined;
    try {
      early = payload.length > 0 ? t.sink.write(payload) : undefined;
    } finally {
      this.held -= payload.length;
    }
    this.blockCount++;
    t.received += payload.length;
    if (early) {
      this.forget(t);
      return reply(early);
    }
    if (block.more) {
      t.lastAck = { num: block.num, more: true, szx: block.szx };
      this.touch(t);
      return reply({ code: '2.31' }, t.lastAck);
    }
    this.forget(t);
    const final = t.sink.end();
    // RFC 7959 §2.3: the final response to the last block carries its Block1 option (M = 0).
    return reply(final, final.code.startsWith('2.') ? { num: block.num, more: false, szx: block.szx } : undefined);
  }

  private touch(t: Transfer): void {
    t.timer?.cancel();
    t.timer = this.opts.clock.setTimeout(() => {
      if (this.transfers?.get(t.key) === t) this.drop(t, 'timeout');
    }, this.opts.idleTimeoutMs);
  }

  private forget(t: Transfer): void {
    t.timer?.cancel();
    if (this.transfers?.get(t.key) === t) this.transfers.delete(t.key);
  }

  private drop(t: Transfer, reason: Block1AbortReason): void {
    this.forget(t);
    t.sink.abort(reason);
  }

  /** The reply: piggybacked on the ACK of a CON, else a NON with a MID of ours (RFC 7252 §5.2). */
  private encode(h: HeaderInfo, r: CoapReply, ack: BlockValue | undefined): Buffer {
    const con = h.type === MessageType.CON;
    const options: { name: string; value: Buffer }[] = [];
    if (ack) options.push({ name: 'Block1', value: encodeBlock(ack) });
    if (r.contentFormat !== undefined) options.push({ name: 'Content-Format', value: encodeUint(r.contentFormat) });
    for (const o of r.options ?? []) options.push({ name: String(o.number), value: o.value });
    const payload = r.payload === undefined ? Buffer.alloc(0) : typeof r.payload === 'string' ? Buffer.from(r.payload, 'utf8') : r.payload;
    return generate({
      code: r.code,
      confirmable: false,
      ack: con,
      messageId: con ? h.messageId : this.opts.nextMessageId(),
      token: Buffer.from(h.token),
      options: options as never,
      payload,
    }, 65_507);
  }
}

function isSink(v: Block1StreamSink | CoapReply): v is Block1StreamSink {
  return typeof (v as Block1StreamSink).write === 'function';
}
