import type { SocketFaults } from '../transport/gated.js';
import type { DeviceRequest, DeviceResponse } from './request.js';
import type { ObserveSink } from './observations.js';
import type { RoutedResponse } from './router.js';

/** A request the device sends to a server (Register, Update, Send, Bootstrap-Request…). */
export interface OutgoingRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly uriPath: readonly string[];
  readonly uriQuery?: readonly string[];
  readonly payload?: Uint8Array;
  readonly contentFormat?: number;
  readonly accept?: number;
  /** Default true (CON). */
  readonly confirmable?: boolean;
  /** Explicit Block2 GET (RFC 7959 §2.4): just this block; the response's Block2 says whether more follow. */
  readonly block2?: { readonly num: number; readonly szx: number };
  /** Give up after this long (ms) instead of the transport's default. */
  readonly timeoutMs?: number;
}

export interface IncomingResponse {
  /** CoAP code as `c.dd` (`2.01`). */
  readonly code: string;
  readonly payload: Uint8Array;
  readonly contentFormat?: number;
  readonly locationPath: readonly string[];
  /** Block2 of a block response (explicit Block2 requests). */
  readonly block2?: { readonly num: number; readonly more: boolean; readonly szx: number };
  /** Size2 (RFC 7959 §4) and ETag, when present. */
  readonly size2?: number;
  readonly etag?: Uint8Array;
}

/** The first block of a block-wise request body a device may take as a stream (RFC 7959 §2.3). */
export interface BlockwiseRequestHead {
  readonly method: DeviceRequest['method'];
  readonly uriPath: readonly string[];
  readonly uriQuery: readonly string[];
  readonly contentFormat?: number;
  /** RFC 7959 §4: the total size announced with block 0. */
  readonly size1?: number;
}

/** A final response to a streamed request; `size1` is sent with 4.13 (RFC 7959 §2.9.3). */
export interface BlockwiseResponse extends DeviceResponse {
  readonly size1?: number;
}

/** One streamed request body, block by block in order. Synchronous. */
export interface BlockwiseSink {
  /** The next chunk; a response ends the transfer early with it. */
  write(chunk: Uint8Array): BlockwiseResponse | undefined;
  /** The last chunk was written: the final response. */
  end(): BlockwiseResponse;
  /** The transfer was abandoned ('restarted' by a new block 0, 'timeout', 'closed'). */
  abort(reason: string): void;
}

/**
 * Decides which block-wise requests are streamed: `claims` (cheap, per block) and `open` (block 0: a
 * sink, or a response refusing the transfer).
 */
export interface BlockwiseRequestHandler {
  claims(method: DeviceRequest['method'], uriPath: readonly string[], contentFormat: number | undefined): boolean;
  open(head: BlockwiseRequestHead): BlockwiseSink | BlockwiseResponse;
}

/** Handles a request a server sent to the device (DM, Information Reporting or Bootstrap). */
/** Answers synchronously when it can (plain Reads), else with a promise. */
export type IncomingHandler = (req: DeviceRequest, sink: ObserveSink | undefined) => RoutedResponse | Promise<RoutedResponse>;

/**
 * The device's link to one server (one socket, both directions — the server's requests arrive at the
 * port the Register came from). Implemented over UDP, DTLS and the in-memory network.
 */
export interface ServerConnection {
  /** Sends a request and resolves with the response; rejects with LwM2MError TIMEOUT when no answer. */
  request(req: OutgoingRequest): Promise<IncomingResponse>;
  /** Requests from the server go here. */
  onRequest(handler: IncomingHandler): void;
  /** Block-wise request bodies the handler claims are streamed to it instead (transports that can). */
  onBlockwiseRequest?(handler: BlockwiseRequestHandler): void;
  /** Queue mode: while asleep, incoming datagrams are dropped (LwM2M-TS-Transport 1.1 §6.5). */
  setAsleep(asleep: boolean): void;
  /** Local port (tests, logs). */
  readonly localPort: number;
  /** Injects packet loss/delay/duplication on this connection (simulation); undefined clears it. */
  setFaults?(faults: SocketFaults | undefined): void;
  /** New source port: NAT rebinding simulation (the next request comes from a new port). */
  rebind?(): Promise<void>;
  close(): Promise<void>;
}

/** Opens connections to server URIs (`coap://host:port`, `coaps://…` with PSK). */
export interface ConnectionFactory {
  connect(uri: string, security: ConnectionSecurity): Promise<ServerConnection>;
}

export type ConnectionSecurity =
  | { readonly mode: 'nosec' }
  | { readonly mode: 'psk'; readonly identity: string; readonly key: Uint8Array };
