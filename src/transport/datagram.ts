/**
 * The datagram contract every transport implements (UDP, DTLS, in-memory), so the CoAP layer can run
 * over any of them.
 *
 * It is the subset of `dgram.Socket` that node-coap 1.5.0 touches on a socket it is handed
 * (read from node_modules/coap/dist/lib/*.js):
 *   - agent.js   `sock.type` (read once), `sock.on('message')`, `sock.on('error')`, `sock.address()` (on
 *                every incoming datagram), `sock.send(buf, 0, len, port, host, cb)` (RST/ACK);
 *                `bind()`/`close()` only for a socket it created itself.
 *   - retry_send.js `sock.send(buf, 0, len, port, host, cb)` for every (re)transmission.
 *   - server.js  `listen(emitter)`: `sock.on('message')`, `sock.on('error')`; the 5-argument
 *                `send(buf, 0, len, port, address)` and `_sendError` only when `sock instanceof
 *                dgram.Socket` (see src/coap/mux.ts: that is why a custom socket loses node-coap's
 *                duplicate detection, and why we do it ourselves).
 *   Neither ever removes its listeners, which is one more reason the endpoint puts a demultiplexer in
 *   between (src/coap/mux.ts) instead of handing the socket to node-coap directly.
 *
 * Our own code additionally uses `close()` and the 'close' / 'listening' events. `bind()` is not part
 * of the contract: every factory (createUdpSocket, MemoryNetwork.createSocket, the DTLS transports)
 * returns a socket that is already bound. A `dgram.Socket` satisfies this interface as is.
 */
import type { AddressInfo } from 'node:net';

/** Sender of a datagram, as `dgram` reports it. */
export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  size: number;
}

export type SendCallback = (error: Error | null, bytes: number) => void;

export interface DatagramSocket {
  /** 'udp4' | 'udp6'. dgram sets it at run time (not in @types/node), node-coap's Agent reads it. */
  readonly type?: 'udp4' | 'udp6';

  /** The form node-coap uses. Delivery is not guaranteed (UDP semantics); `callback` reports local errors. */
  send(msg: Buffer, offset: number, length: number, port: number, address: string, callback?: SendCallback): void;
  send(msg: Buffer, port: number, address: string, callback?: SendCallback): void;

  /** Local address; throws when the socket is closed (like dgram). */
  address(): AddressInfo;
  close(callback?: () => void): void;

  on(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'listening' | 'close', listener: () => void): this;
  once(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'listening' | 'close', listener: () => void): this;
  removeListener(event: 'message', listener: (msg: Buffer, rinfo: RemoteInfo) => void): this;
  removeListener(event: 'error', listener: (err: Error) => void): this;
  removeListener(event: 'listening' | 'close', listener: () => void): this;

  /** Kernel receive buffer (SO_RCVBUF); the in-memory network bounds in-flight bytes per socket with it. */
  setRecvBufferSize?(size: number): void;
  getRecvBufferSize?(): number;
  ref?(): this;
  unref?(): this;
}

export type TransportErrorCode =
  | 'TRANSPORT_ADDRESS_IN_USE'
  | 'TRANSPORT_ADDRESS_NOT_AVAILABLE'
  | 'TRANSPORT_BIND_FAILED'
  | 'TRANSPORT_CLOSED'
  | 'TRANSPORT_MESSAGE_TOO_LARGE'
  /** A secure transport (DTLS) has no established session with the destination. */
  | 'TRANSPORT_NO_SESSION';

/** A socket-level failure with a stable `code` (undici style) and the OS error as `cause`. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  readonly code: TransportErrorCode;
  /** The OS error code when there is one (EADDRINUSE, EADDRNOTAVAIL, …). */
  readonly errno: string | undefined;
  readonly address: string | undefined;
  readonly port: number | undefined;

  constructor(
    code: TransportErrorCode,
    message: string,
    options: { cause?: unknown; errno?: string; address?: string; port?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.errno = options.errno;
    this.address = options.address;
    this.port = options.port;
  }
}

export function isTransportError(e: unknown): e is TransportError {
  return e instanceof TransportError;
}

/** `::1`, `fe80::…` → IPv6; anything else (dotted quad, names) → IPv4. */
export function familyOf(address: string): 'IPv4' | 'IPv6' {
  return address.includes(':') ? 'IPv6' : 'IPv4';
}
