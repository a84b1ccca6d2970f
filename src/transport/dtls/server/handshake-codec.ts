/**
 * Handshake message codecs (RFC 5246 §7.4, RFC 6347 §4.2/§4.3.2, RFC 4279 §2). Pure functions; every
 * read is length-checked and failures throw DtlsError (decode_error / illegal_parameter).
 */
import { HANDSHAKE_HEADER_LENGTH } from './constants.js';
import { DtlsError, need } from './errors.js';

export interface HandshakeFragment {
  readonly msgType: number;
  /** Length of the whole message. */
  readonly length: number;
  readonly messageSeq: number;
  readonly fragmentOffset: number;
  readonly body: Buffer;
}

/** Handshake fragments in one record payload (a record may carry several, RFC 6347 §4.2.3). */
export function parseHandshakeFragments(payload: Buffer, maxFragments = 16): HandshakeFragment[] {
  const out: HandshakeFragment[] = [];
  let off = 0;
  while (off < payload.length) {
    need(out.length < maxFragments, 'too many handshake fragments in one record', off);
    need(payload.length - off >= HANDSHAKE_HEADER_LENGTH, 'truncated handshake header', off);
    const msgType = payload[off] as number;
    const length = payload.readUIntBE(off + 1, 3);
    const messageSeq = payload.readUInt16BE(off + 4);
    const fragmentOffset = payload.readUIntBE(off + 6, 3);
    const fragmentLength = payload.readUIntBE(off + 9, 3);
    const start = off + HANDSHAKE_HEADER_LENGTH;
    need(fragmentOffset + fragmentLength <= length, 'handshake fragment beyond message length', off);
    need(start + fragmentLength <= payload.length, 'handshake fragment beyond record', off);
    out.push({ msgType, length, messageSeq, fragmentOffset, body: payload.subarray(start, start + fragmentLength) });
    off = start + fragmentLength;
  }
  return out;
}

/** A whole (unfragmented) handshake message: header with fragment_offset 0 and fragment_length = length. */
export function encodeHandshake(msgType: number, messageSeq: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HANDSHAKE_HEADER_LENGTH + body.length);
  out[0] = msgType;
  out.writeUIntBE(body.length, 1, 3);
  out.writeUInt16BE(messageSeq, 4);
  out.writeUIntBE(0, 6, 3);
  out.writeUIntBE(body.length, 9, 3);
  out.set(body, HANDSHAKE_HEADER_LENGTH);
  return out;
}

export interface Extension {
  readonly type: number;
  readonly data: Buffer;
}

export interface ClientHello {
  readonly clientVersion: number;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly cookie: Buffer;
  readonly cipherSuites: readonly number[];
  readonly compressionMethods: Buffer;
  readonly extensions: readonly Extension[];
  /** The body bytes before the cookie and after it (the cookie binds to these, RFC 6347 §4.2.1). */
  readonly paramsForCookie: Buffer;
}

class Reader {
  off = 0;
  constructor(private readonly b: Buffer, private readonly what: string) {}
  left(): number {
    return this.b.length - this.off;
  }
  u8(): number {
    need(this.left() >= 1, `${this.what}: truncated`, this.off);
    return this.b[this.off++] as number;
  }
  u16(): number {
    need(this.left() >= 2, `${this.what}: truncated`, this.off);
    const v = this.b.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }
  bytes(n: number): Buffer {
    need(this.left() >= n, `${this.what}: truncated`, this.off);
    const v = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }
  vec8(max: number): Buffer {
    const n = this.u8();
    need(n <= max, `${this.what}: vector longer than ${max}`, this.off - 1);
    return this.bytes(n);
  }
  vec16(): Buffer {
    return this.bytes(this.u16());
  }
}

export function parseClientHello(body: Buffer): ClientHello {
  const r = new Reader(body, 'ClientHello');
  const clientVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8(32);
  const cookieAt = r.off;
  const cookie = r.vec8(255);
  const afterCookie = r.off;
  const suites = r.vec16();
  need(suites.length >= 2 && suites.length % 2 === 0, 'ClientHello: bad cipher_suites length', afterCookie);
  const cipherSuites: number[] = [];
  for (let i = 0; i < suites.length; i += 2) cipherSuites.push(suites.readUInt16BE(i));
  const compressionMethods = r.vec8(255);
  need(compressionMethods.length >= 1, 'ClientHello: no compression method', r.off);
  const extensions: Extension[] = [];
  if (r.left() > 0) {
    const ext = new Reader(r.vec16(), 'ClientHello extensions');
    const seen = new Set<number>();
    while (ext.left() > 0) {
      need(extensions.length < 64, 'ClientHello: too many extensions', ext.off);
      const type = ext.u16();
      const data = ext.vec16();
      // RFC 5246 §7.4.1.4: no more than one extension of the same type.
      if (seen.has(type)) throw new DtlsError('DTLS_ILLEGAL_PARAMETER', `ClientHello: duplicate extension ${type}`);
      seen.add(type);
      extensions.push({ type, data });
    }
  }
  need(r.left() === 0, 'ClientHello: trailing bytes', r.off);
  const paramsForCookie = Buffer.concat([body.subarray(0, cookieAt), body.subarray(afterCookie)]);
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions, paramsForCookie };
}

export function encodeServerHello(version: number, random: Uint8Array, cipherSuite: number, extensions: readonly Extension[]): Buffer {
  const ext = extensions.length === 0
    ? Buffer.alloc(0)
    : (() => {
        const parts = extensions.map((e) => {
          const h = Buffer.allocUnsafe(4);
          h.writeUInt16BE(e.type, 0);
          h.writeUInt16BE(e.data.length, 2);
          return Buffer.concat([h, e.data]);
        });
        const all = Buffer.concat(parts);
        const len = Buffer.allocUnsafe(2);
        len.writeUInt16BE(all.length, 0);
        return Buffer.concat([len, all]);
      })();
  const head = Buffer.allocUnsafe(2 + 32 + 1 + 2 + 1);
  head.writeUInt16BE(version, 0);
  head.set(random, 2);
  head[34] = 0; // empty session_id: no resumption
  head.writeUInt16BE(cipherSuite, 35);
  head[37] = 0; // null compression
  return Buffer.concat([head, ext]);
}

export function encodeHelloVerifyRequest(version: number, cookie: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(3 + cookie.length);
  out.writeUInt16BE(version, 0);
  out[2] = cookie.length;
  out.set(cookie, 3);
  return out;
}

/** ServerKeyExchange for PSK: psk_identity_hint<0..2^16-1> (RFC 4279 §2). */
export function encodePskServerKeyExchange(hint: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(2 + hint.length);
  out.writeUInt16BE(hint.length, 0);
  out.set(hint, 2);
  return out;
}

/** ClientKeyExchange for PSK: psk_identity<0..2^16-1>, UTF-8 (RFC 4279 §2, §5.1). */
export function parsePskClientKeyExchange(body: Buffer): Buffer {
  const r = new Reader(body, 'ClientKeyExchange');
  const identity = r.vec16();
  need(r.left() === 0, 'ClientKeyExchange: trailing bytes', r.off);
  return identity;
}

export function encodeAlert(level: number, description: number): Buffer {
  return Buffer.from([level, description]);
}
