/**
 * An established session with one peer: epoch-1 keys, the write sequence numbers, the anti-replay
 * window and, until the peer shows it received it, the last flight (for RFC 6347 §4.2.4 retransmission
 * when the peer retransmits its Finished flight). No timers: idleness is checked by the server's sweep.
 */
import { DTLS_1_2 } from './constants.js';
import { openRecord, type CipherSuite, type TrafficKeys } from './cipher-suites.js';
import { accept, mayAccept, type ReplayState } from './replay-window.js';
import { writeRecord, type FlightRecord, type RecordWriter } from './flight.js';
import type { DtlsRecord } from './record.js';
import type { DtlsPeerSession } from './types.js';

export type OpenResult = Buffer | 'replay' | 'bad-mac';

/** Checks the replay window, authenticates and decrypts an epoch-1 record, then marks it received. */
export function openProtected(suite: CipherSuite, keys: TrafficKeys, window: ReplayState, rec: DtlsRecord): OpenResult {
  if (!mayAccept(window, rec.seq)) return 'replay'; // RFC 6347 §4.1.2.6, checked before the (costly) decryption
  const plain = openRecord(suite, keys, rec.type, rec.version, rec.epoch, rec.seq, rec.fragment);
  if (!plain) return 'bad-mac';
  accept(window, rec.seq); // only authenticated records move the window
  return plain;
}

export class Session implements RecordWriter {
  /** Clock time of the last record received from or sent to the peer. */
  lastActive: number;
  /** When the session last moved to the most-recently-active end of the server's table. */
  movedAt: number;
  seq0: number;
  seq1: number;
  readonly window: ReplayState;
  /** The server's last flight (ChangeCipherSpec + Finished) until the peer sends application data. */
  lastFlight: readonly FlightRecord[] | undefined;
  /** The random of the ClientHello that made this session, kept as long as `lastFlight` (a late duplicate of it is ignored). */
  helloRandom: Buffer | undefined;
  readonly writeKeys: TrafficKeys;

  constructor(
    readonly key: string,
    readonly address: string,
    readonly port: number,
    readonly identity: string,
    readonly suite: CipherSuite,
    readonly readKeys: TrafficKeys,
    writeKeys: TrafficKeys,
    state: { seq0: number; seq1: number; window: ReplayState; lastFlight: readonly FlightRecord[]; helloRandom: Buffer; now: number },
  ) {
    this.writeKeys = writeKeys;
    this.seq0 = state.seq0;
    this.seq1 = state.seq1;
    this.window = state.window;
    this.lastFlight = state.lastFlight;
    this.helloRandom = state.helloRandom;
    this.lastActive = state.now;
    this.movedAt = state.now;
  }

  open(rec: DtlsRecord): OpenResult {
    return openProtected(this.suite, this.readKeys, this.window, rec);
  }

  /** An epoch-1 record with `payload`. */
  seal(type: number, payload: Uint8Array): Buffer {
    return writeRecord(this, 1, type, payload, DTLS_1_2);
  }

  view(): DtlsPeerSession {
    return { identity: this.identity, cipherSuite: this.suite.name, address: this.address, port: this.port };
  }
}
