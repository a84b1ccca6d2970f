/**
 * A DTLS 1.2 PSK client socket for one peer behind the DatagramSocket contract (../datagram.ts), so
 * CoapEndpoint and GatedSocket run on it unchanged: send() encrypts to the peer, 'message' delivers the
 * peer's decrypted datagrams.
 *
 * On top of a DtlsSession (./psk-session.ts, node-dtls-client 2.0.3) it adds what the library lacks:
 * - handshake retransmission on an injected Clock. The library retransmits no flight (RFC 6347
 *   §4.2.4): when the timer expires we send its last flight again (handshakeTimeoutMs, doubling per
 *   expiry, capped — RFC 6347 §4.2.4.1) for at most `handshakeAttempts` timer periods. A new session
 *   (new UDP socket, handshake from scratch) only follows a socket-level failure: abandoning a
 *   handshake a busy server is still working on would double its work.
 * - failure classification with stable codes: a fatal alert → DTLS_HANDSHAKE_FAILED at once (RFC 5246
 *   §7.2: fatal alerts end the connection; a retry would meet the same alert). OpenSSL and GnuTLS
 *   silently discard a Finished they cannot decrypt (RFC 6347 §4.1.2.7), which is what a wrong PSK
 *   identity or key looks like: OpenSSL then keeps re-sending its ServerHelloDone flight — seen in
 *   `keyRejectedAfter` expiries → DTLS_HANDSHAKE_FAILED; GnuTLS stays silent — no Finished by the last
 *   expiry after the server had our key exchange → DTLS_HANDSHAKE_FAILED. No answer at all →
 *   DTLS_HANDSHAKE_TIMEOUT.
 * - re-handshake when the session is gone: an alert or close_notify from the server ends the session;
 *   the next send() starts a new handshake and the datagrams sent meanwhile wait in a bounded queue.
 *   A server that lost the session silently (restart) is noticed above: the connection calls
 *   reconnect() after consecutive CoAP timeouts (src/client/coap-connection.ts).
 * - close() sends close_notify (RFC 5246 §7.2.1).
 * A new handshake uses a new local port (see psk-session.ts on listenPort).
 */
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP, type AddressInfo } from 'node:net';
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { TransportError, familyOf, type DatagramSocket, type RemoteInfo, type SendCallback } from '../datagram.js';
import {
  nodeDtlsSessionFactory, type DtlsSession, type DtlsSessionFactory, type HandshakeStage, type PskCipherSuite,
} from './psk-session.js';

export type DtlsClientErrorCode =
  /** A fatal alert, or the server rejected our Finished (wrong PSK identity or key). */
  | 'DTLS_HANDSHAKE_FAILED'
  /** No handshake within the attempts (server down, unreachable, or every flight lost). */
  | 'DTLS_HANDSHAKE_TIMEOUT'
  /** send() to another address than the socket's one peer. */
  | 'DTLS_NOT_PEER'
  /** The socket was closed (during a handshake, or a datagram queued for one). */
  | 'DTLS_CLOSED'
  /** More datagrams sent during a re-handshake than the queue holds. */
  | 'DTLS_QUEUE_FULL';

export class DtlsClientError extends Error {
  override readonly name = 'DtlsClientError';
  readonly code: DtlsClientErrorCode;
  /** The alert description (RFC 5246 §7.2, e.g. `handshake_failure`) when one was received. */
  readonly alert: string | undefined;
  /** Handshake flights sent (transmissions + retransmissions, over every session tried). */
  readonly attempts: number;
  readonly address: string;
  readonly port: number;

  constructor(code: DtlsClientErrorCode, message: string, o: { address: string; port: number; attempts?: number; alert?: string; cause?: unknown }) {
    super(message, { cause: o.cause });
    this.code = code;
    this.alert = o.alert;
    this.attempts = o.attempts ?? 0;
    this.address = o.address;
    this.port = o.port;
  }
}

export function isDtlsClientError(e: unknown): e is DtlsClientError {
  return e instanceof DtlsClientError;
}

export interface DtlsClientOptions {
  /** The server: an IP literal or a name (resolved once, by createDtlsClientSocket). */
  host: string;
  port: number;
  /** PSK identity: text (sent as UTF-8) or bytes (Security /0/x/3). */
  identity: string | Uint8Array;
  /** PSK key bytes (Security /0/x/5). */
  key: Uint8Array;
  /** Offered cipher suites, in order. Default TLS_PSK_WITH_AES_128_CCM_8 (LwM2M-TS-Transport 1.1 §5.2.8.1). */
  cipherSuites?: readonly PskCipherSuite[];
  /** Local address to bind. Default 127.0.0.1 (::1 for an IPv6 peer), like createUdpSocket. */
  localHost?: string;
  /** Initial retransmission timer of the handshake, ms (default 1000, RFC 6347 §4.2.4.1); doubles on each expiry. */
  handshakeTimeoutMs?: number;
  /** Cap of the timer, ms (default 8000). */
  maxHandshakeTimeoutMs?: number;
  /** Timer periods before giving up: 1 transmission + (n − 1) retransmissions of a flight (default 4: 1+2+4+8 s). */
  handshakeAttempts?: number;
  /** Timer periods, after the server re-sent its ServerHelloDone instead of a Finished, before the key is deemed rejected (default 2). */
  keyRejectedAfter?: number;
  /** Datagrams held while a re-handshake runs (default 32). */
  maxQueuedDatagrams?: number;
  clock?: Clock;
  logger?: Logger;
  /** The DTLS implementation (default node-dtls-client); tests inject a fake. */
  createSession?: DtlsSessionFactory;
}

type AttemptOutcome =
  | { kind: 'connected'; session: DtlsSession }
  | { kind: 'timeout'; stage: HandshakeStage }
  | { kind: 'rejected' }
  | { kind: 'alert'; alert: string }
  | { kind: 'failed'; error: Error }
  | { kind: 'closed' };
/** How a session ended, the timer periods used up to then (cumulative), and the flights it sent. */
type Attempt = AttemptOutcome & { periods: number; transmissions: number };

interface Queued {
  data: Buffer;
  cb: SendCallback | undefined;
}

/** Handshake statistics of one socket (tests, metrics). */
export interface DtlsHandshakeStats {
  /** Completed handshakes (1 + re-handshakes). */
  handshakes: number;
  /** Sessions started (a new UDP socket and handshake from scratch), successful or not. */
  attempts: number;
  /** Handshake flights sent again on timer expiry (RFC 6347 §4.2.4). */
  retransmissions: number;
  /** Duration of the last successful handshake attempt, ms (on the socket's clock). */
  lastHandshakeMs: number | undefined;
}

export class DtlsClientSocket extends EventEmitter implements DatagramSocket {
  readonly type: 'udp4' | 'udp6';
  readonly stats: DtlsHandshakeStats = { handshakes: 0, attempts: 0, retransmissions: 0, lastHandshakeMs: undefined };
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly createSession: DtlsSessionFactory;
  private readonly identity: Uint8Array;
  private readonly localHost: string;
  private session: DtlsSession | undefined;
  /** The attempt in progress (aborted by close()). */
  private trying: { session: DtlsSession; finish: (a: AttemptOutcome) => void } | undefined;
  private connecting: Promise<void> | undefined;
  private queue: Queued[] = [];
  private closed = false;
  private lastAddress: AddressInfo | undefined;

  /** Use createDtlsClientSocket (it resolves the host and completes the first handshake). */
  constructor(private readonly opts: DtlsClientOptions & { host: string }) {
    super();
    this.type = familyOf(opts.host) === 'IPv6' ? 'udp6' : 'udp4';
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.createSession = opts.createSession ?? nodeDtlsSessionFactory;
    this.identity = typeof opts.identity === 'string' ? Buffer.from(opts.identity, 'utf8') : opts.identity;
    this.localHost = opts.localHost ?? (this.type === 'udp6' ? '::1' : '127.0.0.1');
  }

  get peer(): { address: string; port: number } {
    return { address: this.opts.host, port: this.opts.port };
  }

  /** True while a session is up (handshake done, not lost). */
  get connected(): boolean {
    return this.session !== undefined;
  }

  /** Completes a handshake unless a session is up; concurrent calls share one. Rejects with DtlsClientError. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(this.error('DTLS_CLOSED', 'the DTLS socket is closed'));
    if (this.session) return Promise.resolve();
    this.connecting ??= this.handshake().then(
      (session) => {
        this.connecting = undefined;
        this.adopt(session);
      },
      (err: unknown) => {
        this.connecting = undefined;
        this.failQueue(err instanceof Error ? err : new Error(String(err)));
        throw err;
      },
    );
    return this.connecting;
  }

  /** Ends the session (close_notify) and handshakes again: the server lost it (restart, eviction). */
  async reconnect(): Promise<void> {
    if (this.connecting) return this.connecting;
    const old = this.session;
    this.session = undefined;
    old?.close();
    this.log.info({ host: this.opts.host, port: this.opts.port }, 'DTLS re-handshake');
    return this.connect();
  }

  private error(code: DtlsClientErrorCode, message: string, extra: { attempts?: number; alert?: string; cause?: unknown } = {}): DtlsClientError {
    return new DtlsClientError(code, message, { address: this.opts.host, port: this.opts.port, ...extra });
  }

  private async handshake(): Promise<DtlsSession> {
    const periods = Math.max(1, this.opts.handshakeAttempts ?? 4);
    const where = `${this.opts.host}:${this.opts.port}`;
    let used = 0;
    let sent = 0;
    let lastError: Error | undefined;
    // A new session (UDP socket, handshake from scratch) only after a socket-level failure: lost or
    // slow flights are retransmitted within the session, so a busy server's work is not thrown away.
    for (let sessions = 0; used < periods && sessions < periods; sessions++) {
      const r = await this.attempt(used, periods);
      used = r.periods;
      sent += r.transmissions;
      switch (r.kind) {
        case 'connected':
          return r.session;
        case 'closed':
          throw this.error('DTLS_CLOSED', `DTLS handshake with ${where}: the socket was closed`, { attempts: sent });
        case 'alert':
          throw this.error('DTLS_HANDSHAKE_FAILED', `DTLS handshake with ${where} failed: fatal alert ${r.alert} from the server`, { attempts: sent, alert: r.alert });
        case 'rejected':
          throw this.error('DTLS_HANDSHAKE_FAILED',
            `DTLS handshake with ${where} failed: the server re-sent its ServerHelloDone instead of its Finished `
            + `(${used} timer periods) — it could not verify our Finished: wrong PSK identity or key?`, { attempts: sent, alert: 'decrypt_error' });
        case 'timeout':
          if (r.stage === 'finished') {
            // GnuTLS drops a Finished it cannot decrypt without a word (until its own handshake timeout).
            throw this.error('DTLS_HANDSHAKE_FAILED',
              `DTLS handshake with ${where} failed: the server answered our ClientHello but never sent its Finished in ${used} timer periods `
              + '— wrong PSK identity or key? (or a server too busy to finish)', { attempts: sent, alert: 'decrypt_error' });
          }
          throw this.error('DTLS_HANDSHAKE_TIMEOUT',
            `DTLS handshake with ${where} timed out (${r.stage === 'hello' ? 'no answer' : 'no ServerHello after the cookie exchange'}; `
            + `${used} timer periods from ${this.firstTimeout()} ms, doubling)`, { attempts: sent });
        case 'failed':
          lastError = r.error;
          used++; // a failed socket costs a period: the loop stays bounded
          this.log.debug({ host: this.opts.host, port: this.opts.port, err: r.error.message }, 'DTLS handshake session failed');
          break;
      }
    }
    throw this.error('DTLS_HANDSHAKE_FAILED', `DTLS handshake with ${where} failed: ${lastError?.message ?? 'no session'}`, { attempts: sent, cause: lastError });
  }

  private firstTimeout(): number {
    return Math.max(1, this.opts.handshakeTimeoutMs ?? 1000);
  }

  /**
   * One session, its flights retransmitted on timer expiry (RFC 6347 §4.2.4.1: initial timer, doubled
   * each time, capped) until period `periods`. `from`: timer periods already used by earlier sessions.
   */
  private attempt(from: number, periods: number): Promise<Attempt> {
    if (this.closed) return Promise.resolve({ kind: 'closed', periods: from, transmissions: 0 });
    const first = this.firstTimeout();
    const cap = Math.max(first, this.opts.maxHandshakeTimeoutMs ?? 8000);
    const rejectedAfter = Math.max(1, this.opts.keyRejectedAfter ?? 2);
    this.stats.attempts++;
    const t0 = this.clock.now();
    let remainingMs = 0;
    for (let p = from; p < periods; p++) remainingMs += Math.min(first * 2 ** p, cap);
    let session: DtlsSession;
    try {
      session = this.createSession({
        address: this.opts.host,
        port: this.opts.port,
        localAddress: this.localHost,
        identity: this.identity,
        key: this.opts.key,
        cipherSuites: this.opts.cipherSuites ?? ['TLS_PSK_WITH_AES_128_CCM_8'],
        // The library's own setTimeout-based timer must never win over ours.
        libraryTimeoutMs: remainingMs * 2 + 1000,
      });
    } catch (e) {
      // The library validates its options synchronously (and dgram may throw on a bad local address).
      return Promise.resolve({ kind: 'failed', error: e instanceof Error ? e : new Error(String(e)), periods: from, transmissions: 0 });
    }
    return new Promise<Attempt>((resolve) => {
      let done = false;
      let period = from;
      let rejectedPeriods = 0;
      let transmissions = 1;
      let timer: TimerHandle | undefined;
      const finish = (a: AttemptOutcome): void => {
        if (done) return;
        done = true;
        timer?.cancel();
        this.trying = undefined;
        if (a.kind !== 'connected') session.abort();
        resolve({ ...a, periods: period, transmissions });
      };
      const arm = (): void => {
        timer = this.clock.setTimeout(() => {
          period++;
          // A server that re-sends its flight 4 after our Finished, period after period, did not accept it.
          if (session.rejected) rejectedPeriods++;
          this.log.debug({ host: this.opts.host, port: this.opts.port, period, stage: session.stage, rejected: session.rejected }, 'DTLS handshake timer expired');
          if (rejectedPeriods >= rejectedAfter) return finish({ kind: 'rejected' });
          if (period >= periods) return finish({ kind: 'timeout', stage: session.stage });
          this.stats.retransmissions++;
          transmissions++;
          session.retransmit();
          arm();
        }, Math.min(first * 2 ** period, cap));
      };
      this.trying = { session, finish };
      arm();
      session.on('connected', () => {
        this.stats.lastHandshakeMs = this.clock.now() - t0;
        finish({ kind: 'connected', session });
      });
      session.on('alert', (alert) => finish({ kind: 'alert', alert }));
      session.on('failed', (error) => finish({ kind: 'failed', error }));
      session.on('closed', () => finish({ kind: 'failed', error: new Error('the UDP socket closed') }));
    });
  }

  private adopt(session: DtlsSession): void {
    if (this.closed) {
      session.close();
      return;
    }
    this.session = session;
    this.stats.handshakes++;
    this.lastAddress = session.localAddress() ?? this.lastAddress;
    const rinfo = (size: number): RemoteInfo => ({ address: this.opts.host, family: familyOf(this.opts.host), port: this.opts.port, size });
    session.on('message', (data) => {
      if (this.session === session) this.emit('message', data, rinfo(data.length));
    });
    const lost = (why: string): void => {
      if (this.session !== session) return;
      this.session = undefined;
      this.log.info({ host: this.opts.host, port: this.opts.port, why }, 'DTLS session lost; the next datagram re-handshakes');
      this.emit('session-lost', why);
    };
    session.on('alert', (alert) => lost(`alert ${alert}`));
    session.on('failed', (err) => lost(err.message));
    session.on('closed', () => lost('closed'));
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) session.send(q.data, (err) => q.cb?.(err, err ? 0 : q.data.length));
  }

  private failQueue(err: Error): void {
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) q.cb?.(err, 0);
  }

  send(msg: Buffer, offsetOrPort: number, lengthOrAddress: number | string, portOrCb?: number | SendCallback, address?: string, callback?: SendCallback): void {
    // dgram's two forms: (msg, offset, length, port, address, cb) and (msg, port, address, cb).
    const six = typeof lengthOrAddress === 'number';
    const data = six ? msg.subarray(offsetOrPort, offsetOrPort + (lengthOrAddress as number)) : msg;
    const port = six ? (portOrCb as number) : offsetOrPort;
    const host = six ? (address as string) : (lengthOrAddress as string);
    const cb = six ? callback : (portOrCb as SendCallback | undefined);
    if (this.closed) {
      cb?.(new TransportError('TRANSPORT_CLOSED', 'the DTLS socket is closed'), 0);
      return;
    }
    if (port !== this.opts.port || !samePeer(host, this.opts.host, this.originalHost)) {
      cb?.(this.error('DTLS_NOT_PEER', `this DTLS socket talks to ${this.opts.host}:${this.opts.port} only, not ${host}:${port}`), 0);
      return;
    }
    const session = this.session;
    if (session) {
      session.send(Buffer.from(data), (err) => cb?.(err, err ? 0 : data.length));
      return;
    }
    const max = this.opts.maxQueuedDatagrams ?? 32;
    if (this.queue.length >= max) {
      cb?.(this.error('DTLS_QUEUE_FULL', `${max} datagrams already wait for the DTLS handshake`), 0);
      return;
    }
    this.queue.push({ data: Buffer.from(data), cb });
    this.connect().catch((err: unknown) => {
      this.log.warn({ host: this.opts.host, port: this.opts.port, err: err instanceof Error ? err.message : String(err) }, 'DTLS re-handshake failed');
    });
  }

  /** The host as the caller named it (a name resolved to opts.host), accepted by send(). */
  originalHost: string | undefined;

  address(): AddressInfo {
    if (this.closed) throw new TransportError('TRANSPORT_CLOSED', 'the DTLS socket is closed');
    const a = this.session?.localAddress() ?? this.lastAddress;
    if (!a) throw new TransportError('TRANSPORT_CLOSED', 'the DTLS socket has no session yet');
    this.lastAddress = a;
    return a;
  }

  close(callback?: () => void): void {
    if (this.closed) {
      callback?.();
      return;
    }
    this.closed = true;
    this.trying?.finish({ kind: 'closed' });
    this.failQueue(this.error('DTLS_CLOSED', 'the DTLS socket was closed'));
    const session = this.session;
    this.session = undefined;
    const done = (): void => {
      this.emit('close');
      callback?.();
    };
    if (!session) {
      queueMicrotask(done);
      return;
    }
    // close_notify, then wait for the UDP socket to close (bounded: a stuck send must not hang close()).
    let finished = false;
    const end = (): void => {
      if (finished) return;
      finished = true;
      guard.cancel();
      done();
    };
    const guard = this.clock.setTimeout(() => {
      session.abort();
      end();
    }, 1000);
    session.on('closed', end);
    session.close();
  }

  // EventEmitter typing of the DatagramSocket contract.
  override on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  override on(event: 'error', listener: (err: Error) => void): this;
  override on(event: 'listening' | 'close', listener: () => void): this;
  override on(event: 'session-lost', listener: (why: string) => void): this;
  override on(event: string, listener: (...args: never[]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
}

function samePeer(host: string, resolved: string, original: string | undefined): boolean {
  const norm = (h: string): string => h.replace(/^\[|\]$/g, '').toLowerCase();
  return norm(host) === norm(resolved) || (original !== undefined && norm(host) === norm(original));
}

/**
 * Resolves the server's name, opens a DTLS PSK session to it and completes the first handshake.
 * Rejects with DtlsClientError (DTLS_HANDSHAKE_FAILED / DTLS_HANDSHAKE_TIMEOUT, with `alert` when the
 * server sent one).
 */
export async function createDtlsClientSocket(options: DtlsClientOptions): Promise<DtlsClientSocket> {
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new RangeError(`DTLS server port must be an integer in 1..65535, got ${options.port}`);
  }
  if (options.key.length === 0) throw new RangeError('the PSK key is empty');
  const bare = options.host.replace(/^\[|\]$/g, '');
  const ip = isIP(bare) !== 0 ? bare : (await lookup(bare)).address;
  const socket = new DtlsClientSocket({ ...options, host: ip });
  if (ip !== bare) socket.originalHost = bare;
  try {
    await socket.connect();
  } catch (e) {
    socket.close();
    throw e;
  }
  return socket;
}
