/**
 * The public types of the DTLS server (re-exported by index.ts). Others code against exactly these.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../../core/clock.js';
import type { DatagramSocket, RemoteInfo } from '../../datagram.js';
import type { DtlsCipherSuiteName } from './cipher-suites.js';

export type { DtlsCipherSuiteName } from './cipher-suites.js';

/** Synchronous lookup of the key for a PSK identity; undefined = unknown identity. */
export type PskResolver = (identity: string) => Uint8Array | undefined;

export interface DtlsServerLimits {
  /** Established sessions kept at most; the least recently active one is evicted for a new one. Default 100 000. */
  maxSessions?: number;
  /** Handshakes in progress at most; ClientHellos beyond it are dropped (the peer retransmits). Default 10 000. */
  maxHandshakes?: number;
  /** Token bucket for new handshakes (a ClientHello with a valid cookie); burst = one second's worth. Default 5 000. */
  handshakesPerSecond?: number;
  /** A session without any record either way for this long is dropped (no alert). Default 10 min. */
  idleTimeoutMs?: number;
  /** A handshake not complete after this long fails with 'timeout'. Default 60 s. */
  handshakeTimeoutMs?: number;
}

export interface DtlsServerOptions {
  psk: PskResolver;
  /** Sent in a ServerKeyExchange when set (RFC 4279 §2); omitted otherwise. */
  identityHint?: string;
  /** Server preference order; default [TLS_PSK_WITH_AES_128_CCM_8, TLS_PSK_WITH_AES_128_GCM_SHA256]. */
  cipherSuites?: readonly DtlsCipherSuiteName[];
  limits?: DtlsServerLimits;
  clock?: Clock;
  logger?: Logger;
  /** HMAC secret of the HelloVerifyRequest cookies (tests); random by default. It rotates every 5 min. */
  cookieSecret?: Uint8Array;
}

export interface DtlsPeerSession {
  readonly identity: string;
  readonly cipherSuite: DtlsCipherSuiteName;
  readonly address: string;
  readonly port: number;
}

export interface DtlsServerStats {
  sessions: number;
  handshakesInProgress: number;
  handshakesCompleted: number;
  handshakesFailed: number;
  /** Records (or datagram tails) discarded: malformed, unknown epoch, replayed, failed authentication. */
  recordsDropped: number;
  /** Records dropped by the anti-replay window (also counted in recordsDropped). */
  recordsReplayed: number;
  helloVerifyRequests: number;
  /** ClientHellos with a valid cookie dropped by maxHandshakes or handshakesPerSecond. */
  handshakesRejected: number;
  sessionsEvicted: number;
  alertsSent: number;
  alertsReceived: number;
  /** Flights sent again (timer or the peer's retransmission). */
  retransmissions: number;
}

/**
 * A DatagramSocket whose 'message' events carry decrypted application data (rinfo = the peer) and whose
 * send() encrypts to the peer's established session (no session → callback gets a TransportError,
 * nothing sent). address() is the underlying socket's. close() sends close_notify to every peer, then
 * closes the underlying socket.
 */
export interface DtlsServerSocket extends DatagramSocket {
  sessionOf(address: string, port: number): DtlsPeerSession | undefined;
  stats(): DtlsServerStats;
  on(event: 'session', listener: (s: DtlsPeerSession) => void): this;
  on(event: 'session-closed', listener: (s: DtlsPeerSession, reason: string) => void): this;
  on(event: 'handshake-failed', listener: (peer: { address: string; port: number }, reason: string) => void): this;
  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'listening' | 'close', listener: () => void): this;
  once(event: 'session', listener: (s: DtlsPeerSession) => void): this;
  once(event: 'session-closed', listener: (s: DtlsPeerSession, reason: string) => void): this;
  once(event: 'handshake-failed', listener: (peer: { address: string; port: number }, reason: string) => void): this;
  once(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'listening' | 'close', listener: () => void): this;
}

export type { DatagramSocket };
