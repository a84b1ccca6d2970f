/**
 * The DTLS 1.2 PSK server: a DatagramSocket facade over any DatagramSocket (UDP, in-memory) that
 * decrypts application data into 'message' events and encrypts send() to the peer's session.
 *
 * Per-peer state lives in two maps keyed by "address|port": handshakes in progress and established
 * sessions. Nothing is allocated for a peer before it returns a valid HelloVerifyRequest cookie
 * (RFC 6347 §4.2.1). A new handshake from a peer with a session runs beside it and replaces it only
 * once it completes (§4.2.8). Sessions are kept in least-recently-active order, so the shared sweep
 * timer (on the injected Clock) stops at the first session that is not idle, and the session evicted
 * when the table is full is the one idle the longest.
 */
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { systemClock, type Clock, type TimerHandle } from '../../../core/clock.js';
import { silentLogger } from '../../../core/logger.js';
import { TransportError, familyOf, type DatagramSocket, type RemoteInfo, type SendCallback } from '../../datagram.js';
import { sendArgs } from '../../send-args.js';
import {
  AlertDescription, AlertLevel, ContentType, DTLS_1_0, DTLS_1_2, HandshakeType, MAX_PLAINTEXT_LENGTH, alertName,
} from './constants.js';
import { CIPHER_SUITES, DEFAULT_CIPHER_SUITES, type CipherSuite } from './cipher-suites.js';
import { CookieJar } from './cookie.js';
import { DtlsError, isDtlsError } from './errors.js';
import { MAX_RETRANSMISSIONS, nextRetransmitDelay, serializeFlight, writeRecord, type FlightRecord, type RecordWriter } from './flight.js';
import {
  encodeAlert, encodeHandshake, encodeHelloVerifyRequest, parseClientHello, parseHandshakeFragments, type HandshakeFragment,
} from './handshake-codec.js';
import { ServerHandshake, negotiate, type HandshakeStep } from './handshake.js';
import type { KeyExchangeContext } from './key-exchange.js';
import { encodeRecord, parseRecords, type DtlsRecord } from './record.js';
import { Session } from './session.js';
import { TokenBucket } from './token-bucket.js';
import type { DtlsPeerSession, DtlsServerOptions, DtlsServerSocket, DtlsServerStats } from './types.js';

export const DEFAULT_LIMITS = {
  maxSessions: 100_000,
  maxHandshakes: 10_000,
  handshakesPerSecond: 5_000,
  idleTimeoutMs: 10 * 60_000,
  handshakeTimeoutMs: 60_000,
} as const;

/** Per-datagram bookkeeping: a flight is retransmitted at most once per datagram received. */
interface DatagramContext {
  retransmitted: boolean;
}

type Writer = RecordWriter & { readonly address: string; readonly port: number };

function peerKey(address: string, port: number): string {
  return `${address}|${port}`;
}

export function createDtlsServer(socket: DatagramSocket, options: DtlsServerOptions): DtlsServerSocket {
  return new DtlsServer(socket, options);
}

class DtlsServer extends EventEmitter implements DtlsServerSocket {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly suites: readonly CipherSuite[];
  private readonly kx: KeyExchangeContext;
  private readonly limits: Required<NonNullable<DtlsServerOptions['limits']>>;
  private readonly cookies: CookieJar;
  private readonly bucket: TokenBucket;
  private readonly sessions = new Map<string, Session>();
  private readonly handshakes = new Map<string, ServerHandshake>();
  private readonly counters: DtlsServerStats = {
    sessions: 0, handshakesInProgress: 0, handshakesCompleted: 0, handshakesFailed: 0, recordsDropped: 0, recordsReplayed: 0,
    helloVerifyRequests: 0, handshakesRejected: 0, sessionsEvicted: 0, alertsSent: 0, alertsReceived: 0, retransmissions: 0,
  };
  private sweepTimer: TimerHandle | undefined;
  private readonly sweepMs: number;
  private isClosed = false;
  private pendingSends = 0;
  private onSendsDrained: (() => void) | undefined;

  constructor(private readonly socket: DatagramSocket, options: DtlsServerOptions) {
    super();
    if (typeof options.psk !== 'function') throw new TypeError('createDtlsServer: options.psk must be a function (identity) => key');
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'dtls-server' });
    const names = options.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    if (names.length === 0) throw new RangeError('createDtlsServer: cipherSuites must not be empty');
    this.suites = names.map((n) => {
      const s = Object.hasOwn(CIPHER_SUITES, n) ? CIPHER_SUITES[n] : undefined;
      if (!s) throw new RangeError(`createDtlsServer: unknown cipher suite ${String(n)}`);
      return s;
    });
    this.kx = { psk: options.psk, identityHint: options.identityHint ? Buffer.from(options.identityHint, 'utf8') : undefined };
    const l = { ...DEFAULT_LIMITS, ...stripUndefined(options.limits ?? {}) };
    for (const [k, v] of Object.entries(l)) {
      if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new RangeError(`createDtlsServer: limits.${k} must be a positive number, got ${String(v)}`);
    }
    this.limits = l;
    this.cookies = new CookieJar(this.clock, options.cookieSecret);
    this.bucket = new TokenBucket(this.clock, l.handshakesPerSecond, Math.max(1, l.handshakesPerSecond));
    this.sweepMs = Math.max(1000, Math.min(30_000, Math.floor(Math.min(l.idleTimeoutMs, l.handshakeTimeoutMs) / 2)));
    socket.on('message', this.onDatagram);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    socket.on('listening', this.onSocketListening);
    this.armSweep();
  }

  // ---- DatagramSocket ------------------------------------------------------------------------------

  get type(): 'udp4' | 'udp6' {
    return this.socket.type ?? (familyOf(this.socket.address().address) === 'IPv6' ? 'udp6' : 'udp4');
  }

  send(msg: Buffer, offset: number, length: number, port: number, address: string, callback?: SendCallback): void;
  send(msg: Buffer, port: number, address: string, callback?: SendCallback): void;
  send(msg: Buffer, a: number, b: number | string, c?: number | SendCallback, d?: string, e?: SendCallback): void {
    const { data, port, address, callback } = sendArgs(msg, a, b, c, d, e);
    if (this.isClosed) throw new TransportError('TRANSPORT_CLOSED', 'send on a closed DTLS server socket');
    const fail = (err: TransportError): void => {
      queueMicrotask(() => {
        if (callback) callback(err, 0);
        else this.emitError(err);
      });
    };
    const s = this.sessions.get(peerKey(address, port));
    if (!s) {
      fail(new TransportError('TRANSPORT_NO_SESSION', `no DTLS session with ${address}:${port}; nothing sent`, { address, port }));
      return;
    }
    if (data.length > MAX_PLAINTEXT_LENGTH) {
      fail(new TransportError('TRANSPORT_MESSAGE_TOO_LARGE', `DTLS record payload of ${data.length} bytes exceeds ${MAX_PLAINTEXT_LENGTH}`, { address, port }));
      return;
    }
    const record = s.seal(ContentType.applicationData, data);
    this.touch(s);
    const n = data.length;
    this.sendRaw(record, address, port, (err) => {
      if (callback) callback(err, err ? 0 : n);
      else if (err) this.emitError(err);
    });
  }

  address(): AddressInfo {
    return this.socket.address();
  }

  close(callback?: () => void): void {
    if (this.isClosed) throw new TransportError('TRANSPORT_CLOSED', 'DTLS server socket already closed');
    this.isClosed = true;
    if (callback) this.once('close', callback);
    this.sweepTimer?.cancel();
    for (const hs of this.handshakes.values()) hs.timer?.cancel();
    this.handshakes.clear();
    const closing = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of closing) {
      this.sendRaw(s.seal(ContentType.alert, encodeAlert(AlertLevel.warning, AlertDescription.closeNotify)), s.address, s.port);
      this.counters.alertsSent++;
      this.emit('session-closed', s.view(), 'server closed');
    }
    const finish = (): void => {
      this.onSendsDrained = undefined;
      fallback.cancel();
      try {
        this.socket.close();
      } catch (err) {
        this.log.debug({ err }, 'underlying socket already closed');
        queueMicrotask(() => this.emit('close'));
      }
    };
    // The close_notify records must leave before the socket closes; bounded by a 1 s fallback.
    const fallback = this.clock.setTimeout(finish, 1000);
    if (this.pendingSends === 0) finish();
    else this.onSendsDrained = finish;
  }

  setRecvBufferSize(size: number): void {
    this.socket.setRecvBufferSize?.(size);
  }

  getRecvBufferSize(): number {
    return this.socket.getRecvBufferSize?.() ?? 0;
  }

  ref(): this {
    this.socket.ref?.();
    return this;
  }

  unref(): this {
    this.socket.unref?.();
    return this;
  }

  // ---- DtlsServerSocket ----------------------------------------------------------------------------

  sessionOf(address: string, port: number): DtlsPeerSession | undefined {
    return this.sessions.get(peerKey(address, port))?.view();
  }

  stats(): DtlsServerStats {
    return { ...this.counters, sessions: this.sessions.size, handshakesInProgress: this.handshakes.size };
  }

  // ---- socket events -------------------------------------------------------------------------------

  private readonly onDatagram = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.isClosed) return;
    try {
      const { records, dropped } = parseRecords(msg);
      this.counters.recordsDropped += dropped;
      const key = peerKey(rinfo.address, rinfo.port);
      const dg: DatagramContext = { retransmitted: false };
      for (const rec of records) {
        if (rec.epoch === 0) this.onEpoch0(rec, key, rinfo, dg);
        else if (rec.epoch === 1) this.onEpoch1(rec, key, dg);
        else this.counters.recordsDropped++; // we never reach epoch 2 (no renegotiation)
      }
    } catch (err) {
      // A bug must not take the socket down: drop the datagram, keep serving.
      this.counters.recordsDropped++;
      this.log.error({ err, peer: `${rinfo.address}:${rinfo.port}` }, 'dtls: datagram handling failed');
    }
  };

  private readonly onSocketError = (err: Error): void => {
    this.emitError(err);
  };

  private readonly onSocketClose = (): void => {
    if (!this.isClosed) {
      // The underlying socket was closed under us: drop all state.
      this.isClosed = true;
      this.sweepTimer?.cancel();
      for (const hs of this.handshakes.values()) hs.timer?.cancel();
      this.handshakes.clear();
      this.sessions.clear();
    }
    this.emit('close');
  };

  private readonly onSocketListening = (): void => {
    this.emit('listening');
  };

  private emitError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.log.warn({ err }, 'dtls server socket error');
  }

  // ---- epoch 0: plaintext handshake ----------------------------------------------------------------

  private onEpoch0(rec: DtlsRecord, key: string, rinfo: RemoteInfo, dg: DatagramContext): void {
    const hs = this.handshakes.get(key);
    if (rec.type === ContentType.handshake) {
      let frags: HandshakeFragment[];
      try {
        frags = parseHandshakeFragments(rec.fragment);
      } catch (err) {
        // Malformed plaintext from an unverified source only fails a handshake already under way.
        if (hs) this.failHandshake(hs, err);
        else this.counters.recordsDropped++;
        return;
      }
      for (const f of frags) {
        if (f.msgType === HandshakeType.clientHello) {
          this.onClientHello(f, rec, key, rinfo, dg);
          continue;
        }
        const cur = this.handshakes.get(key);
        if (cur) {
          this.step(cur, () => cur.onFragment(f, 0), dg);
          continue;
        }
        const s = this.sessions.get(key);
        // The peer did not get our last flight and sends its ClientKeyExchange again.
        if (s?.lastFlight) this.retransmit(s, s.lastFlight, dg);
        else this.counters.recordsDropped++;
      }
      return;
    }
    if (hs && rec.type === ContentType.changeCipherSpec) {
      try {
        hs.onChangeCipherSpec(rec.fragment);
      } catch (err) {
        this.failHandshake(hs, err);
      }
      return;
    }
    if (hs && rec.type === ContentType.alert) {
      this.onHandshakeAlert(hs, rec.fragment);
      return;
    }
    // Plaintext alerts never close an established session (anyone can forge them); app data in
    // epoch 0 is not allowed.
    this.counters.recordsDropped++;
  }

  private onClientHello(f: HandshakeFragment, rec: DtlsRecord, key: string, rinfo: RemoteInfo, dg: DatagramContext): void {
    // Stateless cookie exchange needs the whole ClientHello in one fragment (as mbedTLS requires).
    if (f.fragmentOffset !== 0 || f.body.length !== f.length) {
      this.counters.recordsDropped++;
      return;
    }
    let ch;
    try {
      ch = parseClientHello(f.body);
    } catch {
      this.counters.recordsDropped++; // no alert to an address that has not proven it is reachable
      return;
    }
    if (this.sessions.get(key)?.helloRandom?.equals(ch.random)) {
      this.counters.recordsDropped++; // a late duplicate of the ClientHello that made the current session
      return;
    }
    const existing = this.handshakes.get(key);
    if (existing && existing.isSameHello(f.messageSeq, ch.random)) {
      this.retransmit(existing, existing.flight, dg); // the peer lost our flight 4
      return;
    }
    if (ch.cookie.length === 0 || !this.cookies.verify(rinfo.address, rinfo.port, ch.paramsForCookie, ch.cookie)) {
      // RFC 6347 §4.2.1: HelloVerifyRequest with version {254,255}, the ClientHello's record sequence
      // number and message_seq; nothing is stored.
      const cookie = this.cookies.make(rinfo.address, rinfo.port, ch.paramsForCookie);
      const hvr = encodeHandshake(HandshakeType.helloVerifyRequest, f.messageSeq, encodeHelloVerifyRequest(DTLS_1_0, cookie));
      this.sendRaw(encodeRecord(ContentType.handshake, rec.version, 0, rec.seq, hvr), rinfo.address, rinfo.port);
      this.counters.helloVerifyRequests++;
      return;
    }
    // From here on the peer has shown it receives at its address.
    let negotiated;
    try {
      negotiated = negotiate(ch, this.suites);
    } catch (err) {
      const e = toDtlsError(err);
      this.sendRaw(encodeRecord(ContentType.alert, rec.version, 0, rec.seq, encodeAlert(AlertLevel.fatal, e.alert)), rinfo.address, rinfo.port);
      this.counters.alertsSent++;
      if (existing) this.dropHandshake(existing);
      this.handshakeFailed(rinfo.address, rinfo.port, e);
      return;
    }
    if ((!existing && this.handshakes.size >= this.limits.maxHandshakes) || !this.bucket.take()) {
      this.counters.handshakesRejected++;
      this.log.debug({ peer: `${rinfo.address}:${rinfo.port}` }, 'dtls: handshake limit reached, ClientHello dropped');
      return;
    }
    if (existing) this.dropHandshake(existing); // the peer restarted its handshake
    const hs = new ServerHandshake(key, rinfo.address, rinfo.port, this.kx,
      { body: f.body, messageSeq: f.messageSeq, recordSeq: rec.seq, parsed: ch }, negotiated, this.clock.now());
    this.handshakes.set(key, hs);
    this.sendFlight(hs, hs.startFlight());
    this.armRetransmit(hs);
  }

  // ---- epoch 1: protected records ------------------------------------------------------------------

  private onEpoch1(rec: DtlsRecord, key: string, dg: DatagramContext): void {
    // After the ServerHello every record carries the negotiated version (RFC 6347 §4.1).
    if (rec.version !== DTLS_1_2) {
      this.counters.recordsDropped++;
      return;
    }
    const hs = this.handshakes.get(key);
    const s = this.sessions.get(key);
    if (hs && (rec.type !== ContentType.applicationData || !s)) {
      const r = hs.openEpoch1(rec);
      if (r instanceof Buffer) {
        this.onHandshakeRecord(hs, rec.type, r, dg);
        return;
      }
      if (r === 'replay') {
        this.counters.recordsReplayed++;
        this.counters.recordsDropped++;
        return;
      }
      // Not the handshake's (or not readable yet): it may still be the current session's (§4.2.8).
      const p = s ? s.open(rec) : undefined;
      if (s && p instanceof Buffer) {
        this.onSessionRecord(s, rec.type, p, dg);
        return;
      }
      if (r === 'bad-mac') {
        // Like mbedTLS: a record that fails authentication while we wait for the Finished means the
        // keys differ (wrong PSK, tampering) — fail with a fatal bad_record_mac (RFC 6347 §4.1.2.7
        // allows the alert). Outside the handshake such records are dropped silently.
        this.failHandshake(hs, new DtlsError('DTLS_BAD_RECORD_MAC', 'Finished record does not authenticate (different PSK?)'));
        return;
      }
      if (p === 'replay') this.counters.recordsReplayed++;
      this.counters.recordsDropped++;
      return;
    }
    if (!s) {
      this.counters.recordsDropped++;
      return;
    }
    const p = s.open(rec);
    if (p === 'replay' || p === 'bad-mac') {
      if (p === 'replay') this.counters.recordsReplayed++;
      this.counters.recordsDropped++; // RFC 6347 §4.1.2.7: invalid records are silently discarded
      return;
    }
    this.onSessionRecord(s, rec.type, p, dg);
  }

  /** An authenticated epoch-1 record of an established session. */
  private onSessionRecord(s: Session, type: number, p: Buffer, dg: DatagramContext): void {
    this.touch(s);
    switch (type) {
      case ContentType.applicationData:
        s.lastFlight = undefined; // the peer has our Finished
        s.helloRandom = undefined;
        this.emit('message', p, { address: s.address, family: familyOf(s.address), port: s.port, size: p.length } satisfies RemoteInfo);
        return;
      case ContentType.alert:
        this.onSessionAlert(s, p);
        return;
      case ContentType.handshake:
        this.onSessionHandshake(s, p, dg);
        return;
      default:
        this.counters.recordsDropped++;
    }
  }

  private onHandshakeRecord(hs: ServerHandshake, type: number, payload: Buffer, dg: DatagramContext): void {
    if (type === ContentType.handshake) {
      let frags: HandshakeFragment[];
      try {
        frags = parseHandshakeFragments(payload);
      } catch (err) {
        this.failHandshake(hs, err);
        return;
      }
      for (const f of frags) {
        if (this.handshakes.get(hs.key) !== hs) return; // completed or failed meanwhile
        this.step(hs, () => hs.onFragment(f, 1), dg);
      }
    } else if (type === ContentType.alert) {
      this.onHandshakeAlert(hs, payload);
    } else {
      this.counters.recordsDropped++;
    }
  }

  private onSessionHandshake(s: Session, payload: Buffer, dg: DatagramContext): void {
    let frags: HandshakeFragment[];
    try {
      frags = parseHandshakeFragments(payload);
    } catch {
      this.counters.recordsDropped++;
      return;
    }
    for (const f of frags) {
      if (f.msgType === HandshakeType.finished && s.lastFlight) {
        this.retransmit(s, s.lastFlight, dg); // the peer lost our ChangeCipherSpec + Finished
      } else if (f.msgType === HandshakeType.clientHello) {
        // Renegotiation is not supported: RFC 5246 §7.2.2 no_renegotiation (warning), session stays.
        this.sendRaw(s.seal(ContentType.alert, encodeAlert(AlertLevel.warning, AlertDescription.noRenegotiation)), s.address, s.port);
        this.counters.alertsSent++;
      } else {
        this.counters.recordsDropped++;
      }
    }
  }

  private onHandshakeAlert(hs: ServerHandshake, payload: Buffer): void {
    if (payload.length !== 2) {
      this.counters.recordsDropped++;
      return;
    }
    this.counters.alertsReceived++;
    const [level, description] = payload as unknown as [number, number];
    if (level === AlertLevel.fatal || description === AlertDescription.closeNotify) {
      this.dropHandshake(hs);
      this.counters.handshakesFailed++;
      this.emit('handshake-failed', { address: hs.address, port: hs.port }, `peer alert: ${alertName(description)}`);
    }
  }

  private onSessionAlert(s: Session, payload: Buffer): void {
    if (payload.length !== 2) {
      this.counters.recordsDropped++;
      return;
    }
    this.counters.alertsReceived++;
    const [level, description] = payload as unknown as [number, number];
    if (description === AlertDescription.closeNotify) {
      // RFC 5246 §7.2.1: answer with a close_notify of our own.
      this.sendRaw(s.seal(ContentType.alert, encodeAlert(AlertLevel.warning, AlertDescription.closeNotify)), s.address, s.port);
      this.counters.alertsSent++;
      this.removeSession(s, 'close_notify');
    } else if (level === AlertLevel.fatal) {
      this.removeSession(s, `peer alert: ${alertName(description)}`);
    }
  }

  // ---- handshake bookkeeping -----------------------------------------------------------------------

  private step(hs: ServerHandshake, fn: () => HandshakeStep, dg: DatagramContext): void {
    let r: HandshakeStep;
    try {
      r = fn();
    } catch (err) {
      this.failHandshake(hs, err);
      return;
    }
    if (r.kind === 'retransmit') this.retransmit(hs, hs.flight, dg);
    else if (r.kind === 'complete') this.complete(hs, r.flight);
  }

  private complete(hs: ServerHandshake, flight: FlightRecord[]): void {
    this.sendFlight(hs, flight);
    this.dropHandshake(hs);
    const old = this.sessions.get(hs.key);
    if (old) {
      this.sessions.delete(hs.key);
      this.emit('session-closed', old.view(), 'replaced by a new handshake'); // RFC 6347 §4.2.8
    } else if (this.sessions.size >= this.limits.maxSessions) {
      const lru = this.sessions.values().next().value;
      if (lru) {
        this.sendRaw(lru.seal(ContentType.alert, encodeAlert(AlertLevel.warning, AlertDescription.closeNotify)), lru.address, lru.port);
        this.counters.alertsSent++;
        this.counters.sessionsEvicted++;
        this.removeSession(lru, 'evicted: session table full');
      }
    }
    const s = new Session(hs.key, hs.address, hs.port, hs.identity as string, hs.suite, hs.readKeys as NonNullable<typeof hs.readKeys>,
      hs.writeKeys as NonNullable<typeof hs.writeKeys>, { seq0: hs.seq0, seq1: hs.seq1, window: hs.window, lastFlight: flight, helloRandom: hs.clientRandom, now: this.clock.now() });
    this.sessions.set(hs.key, s);
    this.counters.handshakesCompleted++;
    // Once per handshake: build the log object only when debug is on.
    if (this.log.isLevelEnabled('debug')) this.log.debug({ peer: `${hs.address}:${hs.port}`, identity: s.identity, suite: s.suite.name }, 'dtls: session established');
    this.emit('session', s.view());
  }

  private failHandshake(hs: ServerHandshake, err: unknown): void {
    const e = toDtlsError(err);
    if (e.code === 'DTLS_INTERNAL') this.log.error({ err: e }, 'dtls: internal error in handshake');
    // Before our ChangeCipherSpec the peer reads epoch 0: the fatal alert goes in plaintext.
    this.sendRaw(writeRecord(hs, 0, ContentType.alert, encodeAlert(AlertLevel.fatal, e.alert)), hs.address, hs.port);
    this.counters.alertsSent++;
    this.dropHandshake(hs);
    this.handshakeFailed(hs.address, hs.port, e);
  }

  private handshakeFailed(address: string, port: number, e: DtlsError): void {
    this.counters.handshakesFailed++;
    this.log.debug({ peer: `${address}:${port}`, code: e.code }, `dtls: handshake failed: ${e.message}`);
    this.emit('handshake-failed', { address, port }, `${alertName(e.alert)}: ${e.message}`);
  }

  private dropHandshake(hs: ServerHandshake): void {
    hs.timer?.cancel();
    hs.timer = undefined;
    if (this.handshakes.get(hs.key) === hs) this.handshakes.delete(hs.key);
  }

  private armRetransmit(hs: ServerHandshake): void {
    hs.timer = this.clock.setTimeout(() => this.onRetransmitTimer(hs), hs.retransmitDelay);
  }

  /** RFC 6347 §4.2.4: resend the flight, double the timer (max 60 s), give up after a bounded number. */
  private onRetransmitTimer(hs: ServerHandshake): void {
    hs.timer = undefined;
    if (this.isClosed || this.handshakes.get(hs.key) !== hs || hs.state === 'done') return;
    if (hs.retransmissions >= MAX_RETRANSMISSIONS || this.clock.now() - hs.startedAt >= this.limits.handshakeTimeoutMs) {
      this.dropHandshake(hs);
      this.handshakeFailed(hs.address, hs.port, new DtlsError('DTLS_HANDSHAKE_FAILURE', `timeout after ${hs.retransmissions} retransmissions`));
      return;
    }
    hs.retransmissions++;
    this.counters.retransmissions++;
    this.sendFlight(hs, hs.flight);
    hs.retransmitDelay = nextRetransmitDelay(hs.retransmitDelay);
    this.armRetransmit(hs);
  }

  private retransmit(w: Writer, flight: readonly FlightRecord[], dg: DatagramContext): void {
    if (dg.retransmitted || flight.length === 0) return;
    dg.retransmitted = true;
    this.counters.retransmissions++;
    this.sendFlight(w, flight);
  }

  // ---- sessions ------------------------------------------------------------------------------------

  /**
   * Marks activity and moves the session to the most-recently-active end of the table — at most once a
   * second per session (the order is then exact to within 1 s, all the sweep and eviction need).
   */
  private touch(s: Session): void {
    const now = this.clock.now();
    s.lastActive = now;
    if (now - s.movedAt >= 1000) {
      s.movedAt = now;
      this.sessions.delete(s.key);
      this.sessions.set(s.key, s);
    }
  }

  private removeSession(s: Session, reason: string): void {
    if (this.sessions.get(s.key) !== s) return;
    this.sessions.delete(s.key);
    this.emit('session-closed', s.view(), reason);
  }

  private armSweep(): void {
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      if (this.isClosed) return;
      try {
        this.sweep();
      } finally {
        if (!this.isClosed) this.armSweep();
      }
    }, this.sweepMs);
  }

  /** Idle sessions (oldest first, stops at the first active one) and overdue handshakes. */
  private sweep(): void {
    const now = this.clock.now();
    const idle: Session[] = [];
    for (const s of this.sessions.values()) {
      if (now - s.lastActive < this.limits.idleTimeoutMs) break;
      idle.push(s);
    }
    for (const s of idle) this.removeSession(s, 'idle');
    const overdue = [...this.handshakes.values()].filter((hs) => now - hs.startedAt >= this.limits.handshakeTimeoutMs);
    for (const hs of overdue) {
      this.dropHandshake(hs);
      this.handshakeFailed(hs.address, hs.port, new DtlsError('DTLS_HANDSHAKE_FAILURE', 'handshake timeout'));
    }
  }

  // ---- output --------------------------------------------------------------------------------------

  private sendFlight(w: Writer, flight: readonly FlightRecord[]): void {
    for (const datagram of serializeFlight(w, flight)) this.sendRaw(datagram, w.address, w.port);
  }

  private sendRaw(buf: Buffer, address: string, port: number, callback?: (err: Error | null) => void): void {
    this.pendingSends++;
    const done = (err: Error | null): void => {
      this.pendingSends--;
      if (err && !callback) this.log.debug({ err, peer: `${address}:${port}` }, 'dtls: send failed');
      callback?.(err);
      if (this.pendingSends === 0) this.onSendsDrained?.();
    };
    try {
      this.socket.send(buf, 0, buf.length, port, address, done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }
}

function toDtlsError(err: unknown): DtlsError {
  return isDtlsError(err) ? err : new DtlsError('DTLS_INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
