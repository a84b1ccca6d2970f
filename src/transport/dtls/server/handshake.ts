/**
 * The server side of one full DTLS 1.2 handshake with one peer, from the ClientHello that carried a
 * valid cookie to the server's Finished (RFC 6347 §4.2, RFC 5246 §7.3):
 *
 *   ClientHello(cookie) →  ServerHello, [ServerKeyExchange], ServerHelloDone   (flight 4)
 *   ClientKeyExchange, ChangeCipherSpec, Finished  →  ChangeCipherSpec, Finished   (flight 6)
 *
 * Pure protocol state: the server (server.ts) feeds it records and sends the flights it returns. It
 * throws DtlsError for fatal conditions; the server answers those with the error's alert.
 */
import { createHash, randomFillSync, timingSafeEqual, type Hash } from 'node:crypto';
import { ContentType, DTLS_1_2, ExtensionType, EMPTY_RENEGOTIATION_INFO_SCSV, HandshakeType } from './constants.js';
import { DtlsError } from './errors.js';
import { encodeHandshake, encodeServerHello, type ClientHello, type Extension, type HandshakeFragment } from './handshake-codec.js';
import { KEY_EXCHANGES, type KeyExchangeContext } from './key-exchange.js';
import { extendedMasterSecret, keyBlock, masterSecret, verifyData } from './prf.js';
import { keyBlockLength, splitKeyBlock, type CipherSuite, type TrafficKeys } from './cipher-suites.js';
import { newReplayState, type ReplayState } from './replay-window.js';
import { Reassembler, type AssembledMessage } from './reassembly.js';
import { type FlightRecord, type RecordWriter, RETRANSMIT_INITIAL_MS } from './flight.js';
import { openProtected, type OpenResult } from './session.js';
import type { DtlsRecord } from './record.js';
import type { TimerHandle } from '../../../core/clock.js';

export type HandshakeState = 'wait-client-key-exchange' | 'wait-finished' | 'done';

/** What the server does after feeding a message in. */
export type HandshakeStep =
  | { kind: 'none' }
  /** The peer retransmitted an old flight: send ours again (RFC 6347 §4.2.4). */
  | { kind: 'retransmit' }
  /** Finished verified: send `flight` (the last one) and install the session. */
  | { kind: 'complete'; flight: FlightRecord[] };

/**
 * ServerHello.random values come from one CSPRNG fill per 128 handshakes instead of a randomBytes(32)
 * call each (RFC 5246 §7.4.1.2: 32 random bytes; every byte is used once). Each refill is a fresh
 * buffer, so a handed-out random is never overwritten; a handshake pins at most 4 KiB until it ends
 * (the session keeps only the client's random).
 */
const RANDOM_POOL_SIZE = 32 * 128;
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

function serverRandom32(): Buffer {
  if (randomPoolOffset + 32 > randomPool.length) {
    randomPool = randomFillSync(Buffer.allocUnsafeSlow(RANDOM_POOL_SIZE));
    randomPoolOffset = 0;
  }
  const r = randomPool.subarray(randomPoolOffset, randomPoolOffset + 32);
  randomPoolOffset += 32;
  return r;
}

/** How far ahead of the next expected message_seq fragments are buffered. */
const MAX_MESSAGE_SEQ_AHEAD = 4;

export interface NegotiatedHello {
  suite: CipherSuite;
  extendedMasterSecret: boolean;
  secureRenegotiation: boolean;
}

/**
 * Chooses the cipher suite (server preference), checks compression and the extensions we act on.
 * Throws DtlsError: protocol_version, handshake_failure, illegal_parameter.
 */
export function negotiate(ch: ClientHello, preference: readonly CipherSuite[]): NegotiatedHello {
  // RFC 6347 §4.1: {254,253} is DTLS 1.2; a larger value is an older version.
  if (ch.clientVersion > DTLS_1_2) {
    throw new DtlsError('DTLS_PROTOCOL_VERSION', `client offers DTLS version 0x${ch.clientVersion.toString(16)} only`);
  }
  const suite = preference.find((s) => ch.cipherSuites.includes(s.id));
  if (!suite) throw new DtlsError('DTLS_HANDSHAKE_FAILURE', 'no cipher suite in common');
  if (!ch.compressionMethods.includes(0)) throw new DtlsError('DTLS_ILLEGAL_PARAMETER', 'ClientHello without null compression');
  let ems = false;
  let secureRenegotiation = ch.cipherSuites.includes(EMPTY_RENEGOTIATION_INFO_SCSV);
  for (const e of ch.extensions) {
    if (e.type === ExtensionType.extendedMasterSecret) {
      if (e.data.length !== 0) throw new DtlsError('DTLS_DECODE', 'extended_master_secret extension is not empty');
      ems = true;
    } else if (e.type === ExtensionType.renegotiationInfo) {
      // RFC 5746 §3.6: on an initial handshake renegotiated_connection must be empty.
      if (e.data.length !== 1 || e.data[0] !== 0) throw new DtlsError('DTLS_HANDSHAKE_FAILURE', 'non-empty renegotiation_info on an initial handshake');
      secureRenegotiation = true;
    }
  }
  return { suite, extendedMasterSecret: ems, secureRenegotiation };
}

export class ServerHandshake implements RecordWriter {
  state: HandshakeState = 'wait-client-key-exchange';
  readonly startedAt: number;
  readonly clientRandom: Buffer;
  readonly serverRandom: Buffer;
  readonly suite: CipherSuite;
  /** The ClientHello's message_seq (our ServerHello reuses it, as mbedTLS and tinydtls do after a stateless HVR). */
  readonly clientHelloSeq: number;
  seq0: number;
  seq1 = 0;
  writeKeys: TrafficKeys | undefined;
  readKeys: TrafficKeys | undefined;
  identity: string | undefined;
  /** Epoch-1 records may be read only after the peer's ChangeCipherSpec. */
  changeCipherSpecReceived = false;
  readonly window: ReplayState = newReplayState();
  /** The flight we sent last (for retransmission). */
  flight: FlightRecord[] = [];
  retransmitDelay = RETRANSMIT_INITIAL_MS;
  retransmissions = 0;
  timer: TimerHandle | undefined;

  private readonly ems: boolean;
  private readonly secureRenegotiation: boolean;
  private transcript: Hash = createHash('sha256');
  private master: Buffer | undefined;
  private nextReceiveSeq: number;
  private serverSeq: number;
  private readonly reassembler = new Reassembler();
  private readonly ready = new Map<number, { msg: AssembledMessage; epoch: number }>();

  constructor(
    readonly key: string,
    readonly address: string,
    readonly port: number,
    private readonly kx: KeyExchangeContext,
    hello: { body: Buffer; messageSeq: number; recordSeq: number; parsed: ClientHello },
    negotiated: NegotiatedHello,
    now: number,
  ) {
    this.startedAt = now;
    this.clientRandom = Buffer.from(hello.parsed.random);
    this.serverRandom = serverRandom32();
    this.suite = negotiated.suite;
    this.ems = negotiated.extendedMasterSecret;
    this.secureRenegotiation = negotiated.secureRenegotiation;
    this.clientHelloSeq = hello.messageSeq;
    this.nextReceiveSeq = hello.messageSeq + 1;
    this.serverSeq = hello.messageSeq;
    // Our epoch-0 records continue from the ClientHello's record number, so they stay ahead of the
    // HelloVerifyRequest in the client's replay window (RFC 6347 §4.2.1: the HVR reused that number).
    this.seq0 = hello.recordSeq + 1;
    // RFC 6347 §4.2.6: the transcript starts with the ClientHello that carried the cookie.
    this.transcript.update(encodeHandshake(HandshakeType.clientHello, hello.messageSeq, hello.body));
  }

  /** Flight 4: ServerHello, [key exchange messages], ServerHelloDone. */
  startFlight(): FlightRecord[] {
    const extensions: Extension[] = [];
    if (this.secureRenegotiation) extensions.push({ type: ExtensionType.renegotiationInfo, data: Buffer.from([0]) });
    if (this.ems) extensions.push({ type: ExtensionType.extendedMasterSecret, data: Buffer.alloc(0) });
    const msgs = [
      this.message(HandshakeType.serverHello, encodeServerHello(DTLS_1_2, this.serverRandom, this.suite.id, extensions)),
      ...KEY_EXCHANGES[this.suite.keyExchange].serverMessages(this.kx).map((m) => this.message(m.msgType, m.body)),
      this.message(HandshakeType.serverHelloDone, Buffer.alloc(0)),
    ];
    this.flight = msgs.map((payload) => ({ epoch: 0, type: ContentType.handshake, payload }));
    return this.flight;
  }

  /** True when `hello` is the same ClientHello again (the peer retransmitted flight 3). */
  isSameHello(messageSeq: number, random: Buffer): boolean {
    return messageSeq === this.clientHelloSeq && random.equals(this.clientRandom);
  }

  /** Decrypts an epoch-1 record of this handshake (after the peer's ChangeCipherSpec). */
  openEpoch1(rec: DtlsRecord): OpenResult | 'not-ready' {
    if (!this.readKeys || !this.changeCipherSpecReceived) return 'not-ready';
    return openProtected(this.suite, this.readKeys, this.window, rec);
  }

  onChangeCipherSpec(payload: Buffer): void {
    if (payload.length !== 1 || payload[0] !== 1) throw new DtlsError('DTLS_DECODE', 'malformed ChangeCipherSpec');
    // A CCS before the ClientKeyExchange (reordered) is dropped: the peer retransmits its flight.
    if (this.state === 'wait-finished') this.changeCipherSpecReceived = true;
  }

  /** Feeds one handshake fragment received in `epoch`. */
  onFragment(f: HandshakeFragment, epoch: number): HandshakeStep {
    if (this.state === 'done') return { kind: 'none' };
    // Only a repeat of the peer's *previous* flight (its ClientHello) means it lost our flight; a repeat
    // of a message of its current flight (a ClientKeyExchange already processed) is just dropped.
    if (f.messageSeq < this.nextReceiveSeq) return f.messageSeq <= this.clientHelloSeq ? { kind: 'retransmit' } : { kind: 'none' };
    if (f.messageSeq > this.nextReceiveSeq + MAX_MESSAGE_SEQ_AHEAD) return { kind: 'none' };
    const r = this.reassembler.add(f.msgType, f.length, f.messageSeq, f.fragmentOffset, f.body);
    if (r === 'refused' || r === 'incomplete') return { kind: 'none' };
    this.ready.set(r.messageSeq, { msg: r, epoch });
    // Process complete messages in message_seq order (bounded by MAX_MESSAGE_SEQ_AHEAD + 1).
    let step: HandshakeStep = { kind: 'none' };
    for (let next = this.ready.get(this.nextReceiveSeq); next; next = this.ready.get(this.nextReceiveSeq)) {
      this.ready.delete(this.nextReceiveSeq);
      this.nextReceiveSeq++;
      step = this.process(next.msg, next.epoch);
      if (step.kind === 'complete') break;
    }
    return step;
  }

  private process(m: AssembledMessage, epoch: number): HandshakeStep {
    const raw = encodeHandshake(m.msgType, m.messageSeq, m.body);
    if (this.state === 'wait-client-key-exchange') {
      if (m.msgType !== HandshakeType.clientKeyExchange || epoch !== 0) {
        throw new DtlsError('DTLS_UNEXPECTED_MESSAGE', `expected ClientKeyExchange, got handshake type ${m.msgType}`);
      }
      const { premaster, identity } = KEY_EXCHANGES[this.suite.keyExchange].clientKeyExchange(this.kx, m.body);
      this.transcript.update(raw);
      this.master = this.ems
        ? extendedMasterSecret(premaster, this.transcript.copy().digest()) // RFC 7627 §4
        : masterSecret(premaster, this.clientRandom, this.serverRandom);
      premaster.fill(0);
      const keys = splitKeyBlock(this.suite, keyBlock(this.master, this.clientRandom, this.serverRandom, keyBlockLength(this.suite)));
      this.readKeys = keys.client;
      this.writeKeys = keys.server;
      this.identity = identity;
      this.state = 'wait-finished';
      return { kind: 'none' };
    }
    // wait-finished
    if (m.msgType !== HandshakeType.finished || epoch !== 1) {
      throw new DtlsError('DTLS_UNEXPECTED_MESSAGE', `expected Finished, got handshake type ${m.msgType} in epoch ${epoch}`);
    }
    if (m.body.length !== 12) throw new DtlsError('DTLS_DECODE', `Finished of ${m.body.length} bytes, expected 12`);
    const master = this.master as Buffer;
    const expected = verifyData(master, 'client finished', this.transcript.copy().digest());
    if (!timingSafeEqual(expected, m.body)) throw new DtlsError('DTLS_DECRYPT_ERROR', 'client Finished does not verify');
    this.transcript.update(raw);
    // The server's Finished is not part of any later hash: encode it without touching the transcript.
    const serverFinished = encodeHandshake(HandshakeType.finished, this.serverSeq++, verifyData(master, 'server finished', this.transcript.digest()));
    master.fill(0);
    this.master = undefined;
    this.state = 'done';
    this.flight = [
      { epoch: 0, type: ContentType.changeCipherSpec, payload: Buffer.from([1]) },
      { epoch: 1, type: ContentType.handshake, payload: serverFinished },
    ];
    this.reassembler.clear();
    this.ready.clear();
    return { kind: 'complete', flight: this.flight };
  }

  /** A server handshake message with the next message_seq, added to the transcript. */
  private message(msgType: number, body: Buffer): Buffer {
    const raw = encodeHandshake(msgType, this.serverSeq++, body);
    this.transcript.update(raw);
    return raw;
  }
}
