/**
 * The public shapes of the CoAP layer: what callers send and get back, what a request handler sees and
 * answers, and the observation handles. Implementations live in endpoint.ts and observe.ts.
 */
import type { BlockValue, CoapMethod } from './message.js';

export interface PeerAddress {
  address: string;
  port: number;
}

/** Uri-Query: raw segments, or a record (`true`/`null` → bare key such as LwM2M's `Q`; false/undefined → omitted). */
export type QueryInput = readonly string[] | Readonly<Record<string, string | number | boolean | null | undefined>>;

/** An option we do not model, by number, with its encoded value. */
export interface RawOption {
  number: number;
  value: Buffer;
}

export interface CoapRequestOptions {
  host: string;
  port: number;
  method?: CoapMethod;
  /** '/rd/abc' — or give `pathSegments`. */
  path?: string;
  pathSegments?: readonly string[];
  query?: QueryInput;
  payload?: Buffer | string;
  contentFormat?: number;
  accept?: number;
  /** Default true. */
  confirmable?: boolean;
  /** 1–8 bytes; default a fresh one per exchange. */
  token?: Buffer;
  /** Raw Observe option (1 = deregister). To observe, use {@link CoapEndpoint.observe}. */
  observe?: 1;
  options?: readonly RawOption[];
  /**
   * Give up after this long (our Clock). A CON still unacknowledged at MAX_TRANSMIT_WAIT fails then
   * (RFC 7252 §4.2); default overall bound max(EXCHANGE_LIFETIME, MAX_TRANSMIT_WAIT) — 247 s with RFC
   * defaults — which also covers a separate response that never comes.
   */
  timeoutMs?: number;
  /** Block1 size for this request (16–1024); payloads above it are sent block-wise. */
  block1Size?: number;
  /**
   * Explicit Block2 request (RFC 7959 §2.4): ask for block `num` of size 2^(szx+4) and get just that
   * block back, its Block2 option in `CoapResponse.block2` — node-coap does not fetch the rest. Block 0
   * also asks for Size2 (RFC 7959 §4).
   */
  block2?: { num: number; szx: number };
  /** Block-wise requests: called after each block the peer acknowledged, with the bytes acknowledged so far. */
  onBlock1Progress?: (bytesAcknowledged: number, total: number) => void;
  signal?: AbortSignal;
}

export interface CoapResponse {
  /** "2.05", "4.04", … */
  code: string;
  payload: Buffer;
  contentFormat: number | undefined;
  locationPath: string[];
  locationQuery: string[];
  /** Observe sequence number of a notification. */
  observe: number | undefined;
  maxAge: number | undefined;
  block1: BlockValue | undefined;
  block2: BlockValue | undefined;
  size1: number | undefined;
  /** RFC 7959 §4: the total size of the representation (asked for with an explicit block 0). */
  size2: number | undefined;
  etag: Buffer | undefined;
  token: Buffer;
  source: PeerAddress;
}

export interface IncomingCoapRequest {
  method: CoapMethod;
  pathSegments: string[];
  /** '/' + segments joined with '/'. */
  path: string;
  query: string[];
  payload: Buffer;
  contentFormat: number | undefined;
  accept: number | undefined;
  /** 0 = register, 1 = deregister (RFC 7641 §2). */
  observe: number | undefined;
  /** The Block2 option of the request (RFC 7959 §2.4: the block the client asks for, and its SZX). */
  block2?: BlockValue | undefined;
  token: Buffer;
  confirmable: boolean;
  source: PeerAddress;
  /**
   * For a GET/FETCH with Observe 0: answering with a 2.xx establishes the observation (unless the reply
   * says `observe: false`), then notify through this handle.
   */
  observation: ServerObservation | undefined;
}

export interface CoapReply {
  code: string;
  payload?: Buffer | string;
  contentFormat?: number;
  /** Set as one option per segment, each a Buffer (node-coap throws on an array of strings). */
  locationPath?: readonly string[];
  locationQuery?: readonly string[];
  maxAge?: number;
  etag?: Buffer;
  options?: readonly RawOption[];
  /** false: answer an Observe registration without establishing it (RFC 7641 §4.1). */
  observe?: boolean;
  /**
   * The handler did the block-wise slicing itself (RFC 7959 §2.4): `payload` is exactly this block and goes
   * out as is with this Block2 option (node-coap's own whole-body Block2 slicing and caching is bypassed).
   */
  block2?: BlockValue;
}

export type CoapRequestHandler = (req: IncomingCoapRequest) => CoapReply | Promise<CoapReply>;

export interface NotificationInput {
  /** Default 2.05. A non-2.xx notification ends the observation (RFC 7641 §4.2). */
  code?: string;
  payload?: Buffer | string;
  contentFormat?: number;
  maxAge?: number;
  /** Default false (NON); the caller applies RFC 7641 §4.5 (a CON at least every 24 h). */
  confirmable?: boolean;
}

export type ObservationEndReason = 'reset' | 'deregistered' | 'replaced' | 'timeout' | 'ended' | 'closed';

/** Server side of one observation (we are observed). */
export interface ServerObservation {
  readonly peer: PeerAddress;
  readonly token: Buffer;
  /** True once established and until it ends. */
  readonly active: boolean;
  /** Sends a notification. Throws CoapError COAP_TOO_LARGE above 1024 payload bytes (no Block2 on notifications). */
  notify(n: NotificationInput): void;
  /** Ends it from our side; with `final`, sends that (non-2.xx) notification first (RFC 7641 §3.2). */
  end(final?: { code: string; payload?: Buffer | string }): void;
  /** Called once when the observation ends, whoever ends it. */
  onEnd(listener: (reason: ObservationEndReason) => void): void;
}

/**
 * Client side of one observation (we observe). Iterate it for notifications after the first response;
 * leaving the loop (break / return) stops iterating but does not cancel — call cancel().
 */
export interface ClientObservation extends AsyncIterable<CoapResponse> {
  /** The response to the registration. */
  readonly response: CoapResponse;
  /** Established (2.xx with Observe) and not ended. */
  readonly active: boolean;
  /** Notifications dropped because the iterator buffer was full. */
  readonly droppedNotifications: number;
  /** Listener for each notification (in addition to iteration). Returns an unsubscribe function. */
  onNotification(listener: (n: CoapResponse) => void): () => void;
  /** Resolves when the observation ends. */
  readonly ended: Promise<void>;
  /**
   * Cancels. Proactive (default, RFC 7641 §3.6): GET with Observe 1 and the same token, resolving with
   * its response; reactive (`proactive: false`): forget it — the next notification gets an RST.
   */
  cancel(options?: { proactive?: boolean }): Promise<CoapResponse | undefined>;
}
