import type { CoapCode } from '../../core/errors.js';

/**
 * The Client Registration Interface requests (LwM2M-TS-Core 1.1 §6.2; 1.0 §5.3) as the CoAP layer hands
 * them to the registration core: Register `POST /rd?ep=…`, Update `POST /rd/<id>?…`, De-register
 * `DELETE /rd/<id>`. Transport-independent: the CoAP layer decodes options into these fields, nothing
 * here knows about sockets or DTLS records.
 */

import type { CoapMethod } from '../../coap/message.js';

export type { CoapMethod };

/** The peer a request came from: where the server sends its requests back to (Transport 1.1 §6.2). */
export interface PeerAddress {
  readonly address: string;
  readonly port: number;
}

export type RegistrationTransport = 'udp' | 'dtls';

export interface RegistrationRequest {
  readonly method: CoapMethod;
  /** Uri-Path segments, e.g. `['rd']` or `['rd', 'a1B2c3']`. */
  readonly uriPath: readonly string[];
  /** Uri-Query options, one per entry, already decoded: `['ep=dev1', 'lt=300', 'b=U', 'Q']`. */
  readonly uriQuery: readonly string[];
  /** The request payload; empty when there is none. */
  readonly payload: Uint8Array;
  /** Content-Format option, absent when the request has none. */
  readonly contentFormat?: number;
  readonly source: PeerAddress;
  /** `udp` when absent. */
  readonly transport?: RegistrationTransport;
  /** The PSK identity of the DTLS session the request came over (DTLS only). */
  readonly pskIdentity?: string;
}

/** Response codes the registration core produces (Core 1.1 §6.2.1–§6.2.3 response tables, plus 4.05/5.xx). */
export type RegistrationErrorCode = Extract<CoapCode, '4.00' | '4.03' | '4.04' | '4.05' | '4.12' | '5.00' | '5.03'>;

/** An expected failure: a value the caller turns into a CoAP response with `diagnostic` as payload (RFC 7252 §5.5.2). */
export interface RegistrationFailure {
  readonly ok: false;
  readonly code: RegistrationErrorCode;
  readonly diagnostic: string;
}

export function failure(code: RegistrationErrorCode, diagnostic: string): RegistrationFailure {
  return { ok: false, code, diagnostic };
}
