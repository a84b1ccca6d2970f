import type { SocketFaults } from '../transport/gated.js';
import type { DeviceRequest } from './request.js';
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
}

export interface IncomingResponse {
  /** CoAP code as `c.dd` (`2.01`). */
  readonly code: string;
  readonly payload: Uint8Array;
  readonly contentFormat?: number;
  readonly locationPath: readonly string[];
}

/** Handles a request a server sent to the device (DM, Information Reporting or Bootstrap). */
export type IncomingHandler = (req: DeviceRequest, sink: ObserveSink | undefined) => Promise<RoutedResponse>;

/**
 * The device's link to one server (one socket, both directions — the server's requests arrive at the
 * port the Register came from). Implemented over UDP, DTLS and the in-memory network.
 */
export interface ServerConnection {
  /** Sends a request and resolves with the response; rejects with LwM2MError TIMEOUT when no answer. */
  request(req: OutgoingRequest): Promise<IncomingResponse>;
  /** Requests from the server go here. */
  onRequest(handler: IncomingHandler): void;
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
