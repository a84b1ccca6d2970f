/**
 * Answering plain requests without node-coap's Server (the endpoint's fast path).
 *
 * node-coap's Server parses every request into streams, an LRU entry and option conversions; for the
 * common exchange — one request, one small synchronous answer — the mux already does what is left of
 * the message layer (duplicate detection and replay of the remembered reply, RFC 7252 §4.5). This file
 * reads such a request straight from the datagram and encodes its answer; everything it does not
 * recognise is left to node-coap (the caller falls back when `parsePlainRequest` returns undefined or
 * `encodePlainReply` declines).
 *
 * Pure functions: no socket, no state.
 */
import { generate, type OptionName } from 'coap-packet';
import { MessageType, OptionNumber, decodeUint, encodeUint, readOptionHeader, type CoapMethod, type HeaderInfo, type OptionAt } from './message.js';
import type { CoapReply } from './types.js';

/** Method codes 0.01–0.07 (RFC 7252 §12.1.1, RFC 8132 §2). */
const METHODS: readonly (CoapMethod | undefined)[] = [undefined, 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'];

const EMPTY = Buffer.alloc(0);

/** The fields of a plain request the endpoint's handler needs. */
export interface PlainRequest {
  method: CoapMethod;
  pathSegments: string[];
  query: string[];
  contentFormat: number | undefined;
  accept: number | undefined;
  payload: Buffer;
}

/**
 * A CON or NON request carrying only Uri-Path, Uri-Query, Content-Format and Accept, or undefined for
 * anything else — another option (Observe, Block1/2, Size1/2, Proxy-*, ETag, If-*, Uri-Host/Port, and
 * every unrecognised option, critical or not: node-coap decides those, RFC 7252 §5.4.1), an unknown
 * method, a FETCH without Content-Format (node-coap answers 4.15), or a malformed option list or
 * payload marker (RFC 7252 §3: a marker followed by no payload is a format error).
 */
export function parsePlainRequest(msg: Buffer, h: HeaderInfo): PlainRequest | undefined {
  if (h.type !== MessageType.CON && h.type !== MessageType.NON) return undefined;
  if (h.codeClass !== 0) return undefined;
  const method = METHODS[h.codeDetail];
  if (method === undefined) return undefined;
  const pathSegments: string[] = [];
  const query: string[] = [];
  let contentFormat: number | undefined;
  let accept: number | undefined;
  let payload: Buffer = EMPTY;
  let i = 4 + h.tokenLength;
  let current = 0;
  const at: OptionAt = { delta: 0, start: 0, length: 0 };
  // RFC 7252 §3.1: option deltas and lengths; bounded by the datagram (each step consumes ≥ 1 byte).
  for (let guard = 0; i < msg.length; guard++) {
    if (guard > 4096) return undefined;
    const byte = msg[i] as number;
    if (byte === 0xff) {
      if (i + 1 >= msg.length) return undefined; // marker without payload
      payload = msg.subarray(i + 1);
      break;
    }
    if (!readOptionHeader(msg, i, at)) return undefined;
    current += at.delta;
    const length = at.length;
    const value = msg.subarray(at.start, at.start + length);
    i = at.start + length;
    switch (current) {
      case OptionNumber.UriPath: pathSegments.push(value.toString('utf8')); break;
      case OptionNumber.UriQuery: query.push(value.toString('utf8')); break;
      case OptionNumber.ContentFormat:
        // RFC 7252 §5.10: uint 0–2 bytes, not repeatable.
        if (contentFormat !== undefined || length > 2) return undefined;
        contentFormat = decodeUint(value);
        break;
      case OptionNumber.Accept:
        if (accept !== undefined || length > 2) return undefined;
        accept = decodeUint(value);
        break;
      default:
        return undefined;
    }
  }
  if (method === 'FETCH' && contentFormat === undefined) return undefined;
  return { method, pathSegments, query, contentFormat, accept, payload };
}

/** Response codes the fast path encodes itself: 2.xx, 4.xx, 5.xx as "c.dd". */
const RESPONSE_CODE = /^[245]\.\d\d$/;

/**
 * The answer to a plain request (see parsePlainRequest): for a CON a piggybacked ACK with its MID and
 * token (RFC 7252 §5.2.1), for a NON a NON with `nonMessageId` and its token (§5.2.3) — the bytes
 * node-coap's Server would send for the same reply. undefined when the reply needs node-coap: a payload
 * of 1024 bytes or more (Block2, RFC 7959), an explicit block, Location-Query, raw options, or an
 * unusual code. `nonMessageId` is called only for a NON request that is answered here.
 */
export function encodePlainReply(h: HeaderInfo, reply: CoapReply, nonMessageId: () => number): Buffer | undefined {
  if (reply.block2 !== undefined || (reply.options !== undefined && reply.options.length > 0)) return undefined;
  if (reply.locationQuery !== undefined && reply.locationQuery.length > 0) return undefined;
  if (typeof reply.code !== 'string' || !RESPONSE_CODE.test(reply.code)) return undefined;
  const payload = reply.payload === undefined ? EMPTY : typeof reply.payload === 'string' ? Buffer.from(reply.payload, 'utf8') : reply.payload;
  if (payload.length >= 1024) return undefined;
  // The order node-coap's setOption calls leave them in (applyReplyOptions); generate() sorts by number.
  const options: { name: OptionName; value: Buffer }[] = [];
  if (reply.contentFormat !== undefined) options.push({ name: 'Content-Format', value: encodeUint(reply.contentFormat) });
  for (const s of reply.locationPath ?? []) options.push({ name: 'Location-Path', value: Buffer.from(s, 'utf8') });
  if (reply.maxAge !== undefined) options.push({ name: 'Max-Age', value: encodeUint(reply.maxAge) });
  if (reply.etag !== undefined) options.push({ name: 'ETag', value: reply.etag });
  const con = h.type === MessageType.CON;
  return generate({
    code: reply.code,
    confirmable: false,
    reset: false,
    ack: con,
    messageId: con ? h.messageId : nonMessageId(),
    token: Buffer.from(h.token),
    options,
    payload,
  }, 1152); // node-coap's parameters.maxMessageSize
}
