/**
 * The DTLS record layer framing (RFC 6347 §4.1): header parsing with length checks, several records per
 * datagram, serialisation. Protection (AEAD) lives in cipher-suites.ts; epochs and replay in session.ts.
 */
import {
  DTLS_1_0, DTLS_1_2, MAX_CIPHERTEXT_LENGTH, MAX_SEQUENCE, RECORD_HEADER_LENGTH, isContentType, type ContentTypeValue,
} from './constants.js';

export interface DtlsRecord {
  readonly type: ContentTypeValue;
  readonly version: number;
  readonly epoch: number;
  /** 48-bit sequence number (safe as a JS number). */
  readonly seq: number;
  /** The record payload (a view into the datagram). */
  readonly fragment: Buffer;
}

/** At most this many records are looked at in one datagram (bounds the work per datagram). */
export const MAX_RECORDS_PER_DATAGRAM = 32;

export interface ParseResult {
  records: DtlsRecord[];
  /** Records (or trailing bytes) thrown away: bad type, bad version, bad length, truncation. */
  dropped: number;
}

/**
 * Splits a datagram into records. A record with an unknown content type or a version that is not
 * DTLS 1.0/1.2 is skipped (its length is still trusted to find the next one); a header or length that
 * runs past the datagram ends parsing (RFC 6347 §4.1.2.7: invalid records are silently discarded).
 */
export function parseRecords(datagram: Buffer): ParseResult {
  const records: DtlsRecord[] = [];
  let dropped = 0;
  let off = 0;
  for (let n = 0; off < datagram.length && n < MAX_RECORDS_PER_DATAGRAM; n++) {
    if (datagram.length - off < RECORD_HEADER_LENGTH) {
      dropped++;
      break;
    }
    const type = datagram[off] as number;
    const version = datagram.readUInt16BE(off + 1);
    const epoch = datagram.readUInt16BE(off + 3);
    const seq = datagram.readUIntBE(off + 5, 6);
    const length = datagram.readUInt16BE(off + 11);
    const start = off + RECORD_HEADER_LENGTH;
    if (length > MAX_CIPHERTEXT_LENGTH || start + length > datagram.length) {
      dropped++;
      break;
    }
    off = start + length;
    // RFC 6347 §4.1: DTLS 1.2 records; a ClientHello may carry {254,255} for compatibility.
    if (!isContentType(type) || (version !== DTLS_1_2 && version !== DTLS_1_0)) {
      dropped++;
      continue;
    }
    records.push({ type, version, epoch, seq, fragment: datagram.subarray(start, start + length) });
  }
  if (off < datagram.length && records.length + dropped >= MAX_RECORDS_PER_DATAGRAM) dropped++;
  return { records, dropped };
}

/** Record header + payload. */
export function encodeRecord(type: number, version: number, epoch: number, seq: number, payload: Uint8Array): Buffer {
  if (seq > MAX_SEQUENCE) throw new RangeError(`DTLS sequence number overflow (epoch ${epoch})`);
  const out = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + payload.length);
  out[0] = type;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(seq, 5, 6);
  out.writeUInt16BE(payload.length, 11);
  out.set(payload, RECORD_HEADER_LENGTH);
  return out;
}
