/**
 * CoAP message-level helpers that must not pay for a full parse: header peeking for routing and
 * deduplication, empty ACK/RST, uint and Block option codecs, option-value conversion, CoapError.
 */
import { toBinary } from 'coap/dist/lib/option_converter.js';
import type { OptionValue } from 'coap';

export type CoapMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';

/** RFC 7252 §3: T field. */
export const MessageType = { CON: 0, NON: 1, ACK: 2, RST: 3 } as const;
export type MessageTypeValue = (typeof MessageType)[keyof typeof MessageType];

/** Option numbers (RFC 7252 §5.10, RFC 7641, RFC 7959). */
export const OptionNumber = {
  IfMatch: 1, UriHost: 3, ETag: 4, IfNoneMatch: 5, Observe: 6, UriPort: 7, LocationPath: 8,
  UriPath: 11, ContentFormat: 12, MaxAge: 14, UriQuery: 15, Accept: 17, LocationQuery: 20,
  Block2: 23, Block1: 27, Size2: 28, ProxyUri: 35, ProxyScheme: 39, Size1: 60,
} as const;

export interface HeaderInfo {
  readonly type: MessageTypeValue;
  readonly tokenLength: number;
  readonly codeClass: number;
  readonly codeDetail: number;
  /** "c.dd" */
  readonly code: string;
  readonly messageId: number;
  /** A view into the message (not a copy). */
  readonly token: Buffer;
}

/**
 * The fixed header and token, or undefined when `msg` is not a well-formed CoAP message header:
 * shorter than 4 bytes, Ver ≠ 1 (RFC 7252 §3: "MUST be silently ignored"), TKL 9–15 (§3: message
 * format error) or truncated token.
 */
export function peekHeader(msg: Buffer): HeaderInfo | undefined {
  if (msg.length < 4) return undefined;
  const b0 = msg[0] as number;
  if (b0 >> 6 !== 1) return undefined;
  const tokenLength = b0 & 0x0f;
  if (tokenLength > 8 || msg.length < 4 + tokenLength) return undefined;
  return new Header(msg, b0, tokenLength);
}

/** A header read once per datagram; the code text and the token view are made only when asked for. */
class Header implements HeaderInfo {
  readonly type: MessageTypeValue;
  readonly codeClass: number;
  readonly codeDetail: number;
  readonly messageId: number;
  private tokenView: Buffer | undefined;

  constructor(private readonly msg: Buffer, b0: number, readonly tokenLength: number) {
    const c = msg[1] as number;
    this.type = ((b0 >> 4) & 0x03) as MessageTypeValue;
    this.codeClass = c >> 5;
    this.codeDetail = c & 0x1f;
    this.messageId = ((msg[2] as number) << 8) | (msg[3] as number);
  }

  get code(): string {
    return `${this.codeClass}.${String(this.codeDetail).padStart(2, '0')}`;
  }

  get token(): Buffer {
    this.tokenView ??= this.msg.subarray(4, 4 + this.tokenLength);
    return this.tokenView;
  }
}

/** An Empty message (RFC 7252 §4.1: code 0.00, TKL 0, no options or payload). */
export function emptyMessage(type: 'ACK' | 'RST', messageId: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = 0x40 | ((type === 'ACK' ? MessageType.ACK : MessageType.RST) << 4);
  b[1] = 0;
  b.writeUInt16BE(messageId & 0xffff, 2);
  return b;
}

/**
 * The first value of option `number` in `msg`, undefined if absent or the options are malformed.
 * Walks the option deltas without allocating (RFC 7252 §3.1).
 */
export function readOption(msg: Buffer, header: HeaderInfo, number: number): Buffer | undefined {
  let i = 4 + header.tokenLength;
  let current = 0;
  const at: OptionAt = { delta: 0, start: 0, length: 0 };
  for (let guard = 0; i < msg.length && guard < 4096; guard++) {
    const byte = msg[i] as number;
    if (byte === 0xff) return undefined; // payload marker
    if (!readOptionHeader(msg, i, at)) return undefined;
    current += at.delta;
    if (current === number) return msg.subarray(at.start, at.start + at.length);
    if (current > number) return undefined;
    i = at.start + at.length;
  }
  return undefined;
}

/** Where one option sits (RFC 7252 §3.1): its delta, and its value's start and length in the message. */
export interface OptionAt {
  delta: number;
  start: number;
  length: number;
}

/**
 * Decodes the option header at `msg[i]` (not the payload marker) into `out`, extended delta and length
 * included; false when it is malformed (nibble 15, or it runs past the message). No allocation.
 */
export function readOptionHeader(msg: Buffer, i: number, out: OptionAt): boolean {
  const byte = msg[i] as number;
  i++;
  let delta = byte >> 4;
  let length = byte & 0x0f;
  if (delta === 13) { if (i >= msg.length) return false; delta = (msg[i] as number) + 13; i += 1; }
  else if (delta === 14) { if (i + 1 >= msg.length) return false; delta = msg.readUInt16BE(i) + 269; i += 2; }
  else if (delta === 15) return false;
  if (length === 13) { if (i >= msg.length) return false; length = (msg[i] as number) + 13; i += 1; }
  else if (length === 14) { if (i + 1 >= msg.length) return false; length = msg.readUInt16BE(i) + 269; i += 2; }
  else if (length === 15) return false;
  if (i + length > msg.length) return false;
  out.delta = delta;
  out.start = i;
  out.length = length;
  return true;
}

/** Payload length of a message (bytes after the 0xFF marker), 0 when none or malformed. */
export function payloadLength(msg: Buffer, header: HeaderInfo): number {
  let i = 4 + header.tokenLength;
  for (let guard = 0; i < msg.length && guard < 4096; guard++) {
    const byte = msg[i] as number;
    if (byte === 0xff) return msg.length - i - 1;
    i++;
    const delta = byte >> 4;
    let length = byte & 0x0f;
    if (delta === 13) i += 1;
    else if (delta === 14) i += 2;
    if (length === 13) { length = (msg[i] ?? 0) + 13; i += 1; }
    else if (length === 14) { length = (i + 1 < msg.length ? msg.readUInt16BE(i) : 0) + 269; i += 2; }
    i += length;
  }
  return 0;
}

const EMPTY_VALUE = Buffer.alloc(0);

/** uint option encoding, as few bytes as possible (RFC 7252 §3.2): 0 is the empty string. */
export function encodeUint(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`uint option value out of range: ${n}`);
  if (n === 0) return EMPTY_VALUE; // zero bytes: nothing a caller could change
  if (n <= 0xff) return Buffer.of(n);
  if (n <= 0xffff) return Buffer.of(n >> 8, n & 0xff);
  if (n <= 0xffffff) return Buffer.of(n >> 16, (n >> 8) & 0xff, n & 0xff);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function decodeUint(b: Buffer): number {
  let v = 0;
  for (const byte of b) v = v * 256 + byte;
  return v;
}

/** A Block1/Block2 option value (RFC 7959 §2.2). */
export interface BlockValue {
  num: number;
  more: boolean;
  /** SZX 0–6; the block size is 2^(SZX+4), 16–1024 bytes. */
  szx: number;
}

export function blockSizeOf(szx: number): number {
  return 2 ** (szx + 4);
}

/** SZX for a block size; the size must be a power of two within 16–1024. */
export function szxOf(size: number): number {
  const szx = Math.log2(size) - 4;
  if (!Number.isInteger(szx) || szx < 0 || szx > 6) throw new RangeError(`block size must be a power of two within 16..1024, got ${size}`);
  return szx;
}

export function encodeBlock(b: BlockValue): Buffer {
  if (!Number.isInteger(b.num) || b.num < 0 || b.num > 0xfffff) throw new RangeError(`block number out of range: ${b.num}`);
  if (!Number.isInteger(b.szx) || b.szx < 0 || b.szx > 6) throw new RangeError(`SZX out of range: ${b.szx}`);
  return encodeUint(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}

/** undefined when longer than 3 bytes or SZX = 7 (reserved, RFC 7959 §2.2). */
export function decodeBlock(buf: Buffer): BlockValue | undefined {
  if (buf.length > 3) return undefined;
  const v = decodeUint(buf);
  const szx = v & 0x07;
  if (szx === 7) return undefined;
  return { num: Math.floor(v / 16), more: (v & 0x08) !== 0, szx };
}

/**
 * Content-Format / Accept as a number. node-coap converts these options in place to a media-type
 * name when it knows the number (11542 → 'application/vnd.oma.lwm2m+tlv') and leaves unknown ones
 * (1542, 1543) as numbers; its own converter maps the name back.
 */
export function formatNumber(value: OptionValue | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  if (Buffer.isBuffer(value)) return decodeUint(value);
  if (typeof value === 'string') {
    try {
      return decodeUint(toBinary('Content-Format', value));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export type CoapErrorCode =
  | 'COAP_TIMEOUT'
  | 'COAP_RESET'
  | 'COAP_CLOSED'
  | 'COAP_ABORTED'
  | 'COAP_PROTOCOL'
  | 'COAP_SEND_FAILED'
  | 'COAP_TOO_LARGE';

/** A message-layer failure (no CoAP response to hand back). Expected outcomes like 4.04 are values. */
export class CoapError extends Error {
  override readonly name = 'CoapError';
  readonly code: CoapErrorCode;
  constructor(code: CoapErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}

export function isCoapError(e: unknown): e is CoapError {
  return e instanceof CoapError;
}
