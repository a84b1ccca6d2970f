/**
 * One DTLS 1.2 PSK client session (one handshake attempt on one UDP socket) behind a small interface,
 * so the retry/re-handshake logic of ./client.ts can be tested with a fake, and so node-dtls-client's
 * quirks stay in this file.
 *
 * node-dtls-client 2.0.3 (DESIGN §2), read from node_modules/node-dtls-client/build/dtls.js and
 * DTLS/HandshakeHandler.js:
 *   - `dtls.createSocket(options)` creates its own `dgram` socket (kept in the private field `udp`),
 *     passes `options` to `dgram.createSocket` and binds it with `bind(listenPort)` — without an
 *     address, i.e. on the wildcard. dgram resolves that wildcard through `options.lookup`, so a lookup
 *     that answers '0.0.0.0'/'::' with our local address makes it bind where we say (never a wildcard).
 *   - the PSK is `{ [identity]: string | Buffer }`: a Buffer key is used as is (binary keys work); the
 *     identity goes out as `Buffer.from(identity, 'ascii')`, which for a string is latin1, so the UTF-8
 *     bytes of the identity are passed as a latin1 string.
 *   - its UDP 'message' handler accepts datagrams from any source and can throw on a malformed
 *     handshake message (inside an event listener: a process crash). We replace that listener with one
 *     that only lets the peer's datagrams through and catches.
 *   - `listenPort` is not used: when its bind fails the library closes the already-closed dgram socket
 *     inside its error handler, which throws (ERR_SOCKET_DGRAM_NOT_RUNNING). A new session gets a new
 *     ephemeral port.
 *   - no flight retransmission (RFC 6347 §4.2.4 is a TODO there) and a timer on `setTimeout`: the
 *     caller owns timeouts (./client.ts, on an injected Clock) and calls retransmit(), which re-sends
 *     the last flight as sent (every flight goes out in one `udp.send`, which we wrap to keep it).
 *   - a retransmitted server flight breaks its handshake: the duplicate messages (message_seq ≤ the
 *     last processed one) stay in `completeMessages`, and the next flight then never looks complete
 *     (the Finished is never processed). We drop such stale entries before each datagram.
 *   - it sends its alerts and application data through the same `udp.send`.
 *   - a fatal alert → 'error' ("received fatal alert: <description>"); a close_notify from the peer →
 *     it answers with its own and emits 'close'.
 */
import * as dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { dtls } from 'node-dtls-client';

/** PSK cipher suites node-dtls-client implements (IANA values for Security /0/x/16). */
export const PSK_CIPHER_SUITES = {
  TLS_PSK_WITH_AES_128_CCM_8: 0xc0a8, // RFC 6655; LwM2M-TS-Transport 1.1 §5.2.8.1 mandatory
  TLS_PSK_WITH_AES_256_CCM_8: 0xc0a9,
  TLS_PSK_WITH_AES_128_CCM: 0xc0a4,
  TLS_PSK_WITH_AES_256_CCM: 0xc0a5,
  TLS_PSK_WITH_AES_128_GCM_SHA256: 0x00a8, // RFC 5487
  TLS_PSK_WITH_AES_256_GCM_SHA384: 0x00a9,
  TLS_PSK_WITH_AES_128_CBC_SHA256: 0x00ae,
  TLS_PSK_WITH_AES_256_CBC_SHA384: 0x00af,
  TLS_PSK_WITH_AES_128_CBC_SHA: 0x008c, // RFC 4279
  TLS_PSK_WITH_AES_256_CBC_SHA: 0x008d,
} as const;
export type PskCipherSuite = keyof typeof PSK_CIPHER_SUITES;

/** How far a handshake got, seen from the datagrams the server sent (for error messages). */
export type HandshakeStage =
  /** Nothing from the server yet. */
  | 'hello'
  /** HelloVerifyRequest received (RFC 6347 §4.2.1). */
  | 'cookie'
  /** ServerHelloDone received: our ClientKeyExchange + Finished went out, the server's Finished is due. */
  | 'finished';

export interface DtlsSessionOptions {
  /** The peer: an IP literal (the caller resolves names). */
  readonly address: string;
  readonly port: number;
  /** Local address to bind (an IP literal of the peer's family). */
  readonly localAddress: string;
  readonly identity: Uint8Array;
  readonly key: Uint8Array;
  readonly cipherSuites: readonly PskCipherSuite[];
  /**
   * A safety net only (the library's own timer, on setTimeout): the caller times attempts out on its
   * Clock and aborts before this fires.
   */
  readonly libraryTimeoutMs: number;
}

/**
 * One handshake attempt and, once 'connected', the session. Events:
 * - 'connected' ()            handshake done
 * - 'message'   (data)        decrypted application data from the peer
 * - 'alert'     (description) a fatal alert from the peer (the session is over; 'closed' follows)
 * - 'failed'    (err)         handshake or socket failure (the session is over; 'closed' follows)
 * - 'closed'    ()            the UDP socket is gone (after close(), abort(), an alert or a failure)
 */
export interface DtlsSession {
  readonly stage: HandshakeStage;
  /**
   * The server sent its ServerHelloDone flight again after we had answered it: it did not accept our
   * ClientKeyExchange/Finished flight. OpenSSL does this when it cannot decrypt our Finished (a wrong
   * PSK identity or key, RFC 6347 §4.1.2.7: bad records are dropped silently) — or our flight was lost.
   */
  readonly rejected: boolean;
  send(data: Buffer, callback: (err: Error | null) => void): void;
  /** Local address once bound, undefined before. */
  localAddress(): AddressInfo | undefined;
  /** close_notify (RFC 5246 §7.2.1), then closes the UDP socket. */
  close(): void;
  /** Closes the UDP socket without an alert (a handshake attempt that timed out). */
  abort(): void;
  /**
   * Sends our last handshake flight again, byte for byte (RFC 6347 §4.2.4: the client retransmits
   * when its timer expires). The server's replay window drops it when the first copy arrived.
   */
  retransmit(): void;
  on(event: 'connected' | 'closed', listener: () => void): this;
  on(event: 'message', listener: (data: Buffer) => void): this;
  on(event: 'alert', listener: (description: string) => void): this;
  on(event: 'failed', listener: (err: Error) => void): this;
}

export type DtlsSessionFactory = (options: DtlsSessionOptions) => DtlsSession;

/** The parts of node-dtls-client's Socket that TypeScript calls private (see the header). */
interface LibInternals {
  udp: dgram.Socket;
  udp_onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void;
  killConnection(err?: Error): void;
  /** ClientHandshakeHandler (DTLS/HandshakeHandler.js), once the socket is listening. */
  handshakeHandler?: {
    lastProcessedSeqNum: number;
    completeMessages: Record<number, unknown>;
  };
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** Record headers of a datagram from the server: how far the handshake got (RFC 6347 §4.1, §4.2.2). */
export function peekStage(datagram: Buffer, current: HandshakeStage): HandshakeStage {
  let stage = current;
  // A record header is 13 bytes: type(1) version(2) epoch(2) sequence(6) length(2).
  for (let o = 0, n = 0; o + 13 <= datagram.length && n < 64; n++) {
    const type = datagram[o];
    const epoch = datagram.readUInt16BE(o + 3);
    const len = datagram.readUInt16BE(o + 11);
    if (type === 22 && epoch === 0 && len >= 1) {
      const msgType = datagram[o + 13];
      if (msgType === 3 && stage === 'hello') stage = 'cookie'; // hello_verify_request
      if (msgType === 14) stage = 'finished'; // server_hello_done
    }
    o += 13 + len;
  }
  return stage;
}

/** The description of a plaintext (epoch 0) fatal alert in a datagram, if there is one (RFC 5246 §7.2). */
export function peekAlert(datagram: Buffer): number | undefined {
  for (let o = 0, n = 0; o + 13 <= datagram.length && n < 64; n++) {
    const len = datagram.readUInt16BE(o + 11);
    if (datagram[o] === 21 && datagram.readUInt16BE(o + 3) === 0 && len === 2 && datagram[o + 13] === 2) {
      return datagram[o + 14];
    }
    o += 13 + len;
  }
  return undefined;
}

/** RFC 5246 §7.2 alert descriptions by number (for plaintext alerts the library does not name). */
const ALERT_NAMES: Readonly<Record<number, string>> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 22: 'record_overflow',
  40: 'handshake_failure', 47: 'illegal_parameter', 50: 'decode_error', 51: 'decrypt_error',
  70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error', 90: 'user_canceled',
  110: 'unsupported_extension', 115: 'unknown_psk_identity',
};

export function alertName(description: number): string {
  return ALERT_NAMES[description] ?? `alert ${description}`;
}

class NodeDtlsSession extends EventEmitter implements DtlsSession {
  stage: HandshakeStage = 'hello';
  rejected = false;
  private readonly lib: dtls.Socket;
  private readonly internals: LibInternals;
  private connected = false;
  private closed = false;
  private alerted = false;
  /** Our last handshake flight as sent (for retransmit()). */
  private lastFlight: Buffer | undefined;

  constructor(private readonly opts: DtlsSessionOptions) {
    super();
    const local = opts.localAddress;
    const lookup = (hostname: string, options: unknown, cb: (err: Error | null, address: string, family: number) => void): void => {
      if (WILDCARDS.has(hostname)) {
        // Asynchronously, like dns.lookup: a synchronous answer makes dgram bind and the library send
        // its ClientHello inside createSocket(), before our listener and send wrapper are in place.
        process.nextTick(() => cb(null, local, local.includes(':') ? 6 : 4));
        return;
      }
      dnsLookup(hostname, { family: local.includes(':') ? 6 : 4 }, (err, address, family) => cb(err, address, family));
    };
    const options: dtls.Options & { lookup: typeof lookup } = {
      type: local.includes(':') ? 'udp6' : 'udp4',
      address: opts.address,
      port: opts.port,
      // The identity's bytes as a latin1 string: the library re-encodes it with Buffer.from(s, 'ascii').
      psk: { [Buffer.from(opts.identity).toString('latin1')]: Buffer.from(opts.key) },
      timeout: Math.max(100, opts.libraryTimeoutMs),
      ciphers: [...opts.cipherSuites],
      lookup,
    };
    this.lib = dtls.createSocket(options);
    this.internals = this.lib as unknown as LibInternals;
    const udp = this.internals.udp;
    // Replace the library's UDP listener (bind is asynchronous — see lookup — so nothing was sent or received yet).
    udp.removeAllListeners('message');
    udp.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => this.onUdp(msg, rinfo));
    // Keep each handshake flight the library sends (one send per flight) until the handshake is done.
    const send = udp.send.bind(udp) as (...args: unknown[]) => void;
    (udp as unknown as { send: (...args: unknown[]) => void }).send = (...args: unknown[]): void => {
      const first = args[0];
      if (!this.connected && Buffer.isBuffer(first)) this.lastFlight = Buffer.from(first);
      send(...args);
    };
    this.lib.on('connected', () => {
      this.connected = true;
      this.emit('connected');
    });
    this.lib.on('message', (data: Buffer) => this.emit('message', data));
    this.lib.on('error', (err: Error) => this.onLibError(err));
    this.lib.on('close', () => this.onClosed());
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    // Only the peer: the library would feed anyone's datagrams to its record layer.
    if (rinfo.port !== this.opts.port || rinfo.address !== this.opts.address) return;
    if (!this.connected) {
      // A ServerHelloDone after the one we answered: the server retransmits its flight 4, so it lacks
      // our flight 5 — send it again now (RFC 6347 §4.2.4: retransmit on the peer's retransmission).
      if (this.stage === 'finished' && peekStage(msg, 'hello') === 'finished') {
        this.rejected = true;
        this.retransmit();
      }
      this.stage = peekStage(msg, this.stage);
      const alert = peekAlert(msg);
      if (alert !== undefined) {
        this.alerted = true;
        this.emit('alert', alertName(alert));
      }
    }
    if (!this.connected) this.dropStaleHandshakeMessages();
    try {
      this.internals.udp_onMessage(msg, rinfo);
    } catch (e) {
      // A malformed handshake message made the library throw (RFC 5246 §7.2.2: decode_error is fatal).
      if (!this.connected) this.fail(new Error(`malformed handshake message: ${e instanceof Error ? e.message : String(e)}`));
    }
  }

  /** Forgets server messages of flights already processed (a retransmitted flight, see the header). */
  private dropStaleHandshakeMessages(): void {
    const hh = this.internals.handshakeHandler;
    if (!hh) return;
    for (const k of Object.keys(hh.completeMessages)) {
      if (Number(k) <= hh.lastProcessedSeqNum) delete hh.completeMessages[Number(k)];
    }
  }

  retransmit(): void {
    if (this.closed || this.connected || !this.lastFlight) return;
    const flight = this.lastFlight;
    try {
      this.internals.udp.send(flight, 0, flight.length, this.opts.port, this.opts.address, () => undefined);
    } catch {
      // The socket closed under us: the caller's timer ends the attempt.
    }
  }

  private onLibError(err: Error): void {
    const m = /received fatal alert: (\w+)/.exec(err.message);
    if (m) {
      if (!this.alerted) this.emit('alert', m[1] ?? 'unknown');
      this.alerted = true;
    } else {
      this.emit('failed', err);
    }
    this.onClosed();
  }

  private fail(err: Error): void {
    this.emit('failed', err);
    this.abort();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('closed');
  }

  send(data: Buffer, callback: (err: Error | null) => void): void {
    try {
      this.lib.send(data, (err) => callback(err ?? null));
    } catch (e) {
      callback(e instanceof Error ? e : new Error(String(e)));
    }
  }

  localAddress(): AddressInfo | undefined {
    try {
      return this.internals.udp.address();
    } catch {
      return undefined; // not bound yet, or closed
    }
  }

  close(): void {
    if (this.closed) return;
    if (!this.connected) {
      this.abort();
      return;
    }
    try {
      this.lib.close();
    } catch {
      this.abort();
    }
  }

  abort(): void {
    if (this.closed) return;
    this.internals.killConnection();
    this.onClosed();
  }
}

/** Sessions on node-dtls-client (the default). */
export const nodeDtlsSessionFactory: DtlsSessionFactory = (options) => new NodeDtlsSession(options);
