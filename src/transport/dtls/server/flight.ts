/**
 * Flights (RFC 6347 §4.2.4): the records of one flight kept as plaintext so a retransmission gets new
 * record sequence numbers (and is re-encrypted in epoch 1), packed into as few datagrams as the MTU
 * allows; and the retransmission timer schedule (initial 1 s, doubling, at most 60 s).
 */
import { DTLS_1_2, MAX_SEQUENCE, RECORD_HEADER_LENGTH } from './constants.js';
import { recordOverhead, sealWholeRecord, type CipherSuite, type TrafficKeys } from './cipher-suites.js';
import { encodeRecord } from './record.js';

export interface FlightRecord {
  readonly epoch: 0 | 1;
  readonly type: number;
  readonly payload: Buffer;
}

/** Write state of one peer: the next sequence number per epoch and the epoch-1 keys once known. */
export interface RecordWriter {
  seq0: number;
  seq1: number;
  suite: CipherSuite | undefined;
  writeKeys: TrafficKeys | undefined;
}

/** Datagram payload budget: a conservative IPv4/IPv6 path MTU minus IP and UDP headers. */
export const DEFAULT_MTU = 1280 - 48;

export const RETRANSMIT_INITIAL_MS = 1000; // RFC 6347 §4.2.4.1
export const RETRANSMIT_MAX_MS = 60_000;
/** Flights sent at most this many times again before the handshake fails (tinydtls uses 7). */
export const MAX_RETRANSMISSIONS = 7;

export function nextRetransmitDelay(current: number): number {
  return Math.min(current * 2, RETRANSMIT_MAX_MS);
}

/** One record, sealed when it is in epoch 1. Advances the writer's sequence number. */
export function writeRecord(w: RecordWriter, epoch: 0 | 1, type: number, payload: Uint8Array, version = DTLS_1_2): Buffer {
  if (epoch === 0) return encodeRecord(type, version, 0, w.seq0++, payload);
  if (!w.suite || !w.writeKeys) throw new Error('epoch 1 record before the keys are known');
  if (w.seq1 > MAX_SEQUENCE) throw new RangeError('DTLS sequence number overflow (epoch 1)');
  return sealWholeRecord(w.suite, w.writeKeys, type, version, 1, w.seq1++, payload);
}

/** Serialises a flight into datagrams of at most `mtu` bytes (a record is never split across datagrams). */
export function serializeFlight(w: RecordWriter, records: readonly FlightRecord[], mtu = DEFAULT_MTU): Buffer[] {
  const datagrams: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const r of records) {
    const rec = writeRecord(w, r.epoch, r.type, r.payload);
    if (size > 0 && size + rec.length > mtu) {
      datagrams.push(current.length === 1 ? current[0] as Buffer : Buffer.concat(current, size));
      current = [];
      size = 0;
    }
    current.push(rec);
    size += rec.length;
  }
  if (current.length === 1) datagrams.push(current[0] as Buffer); // no copy for a one-record datagram
  else if (current.length > 0) datagrams.push(Buffer.concat(current, size));
  return datagrams;
}

/** Largest plaintext that fits one record in one datagram for `suite`. */
export function maxPlaintextPerRecord(suite: CipherSuite, mtu = DEFAULT_MTU): number {
  return mtu - RECORD_HEADER_LENGTH - recordOverhead(suite);
}
