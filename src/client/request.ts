import type { CoapCode } from '../core/errors.js';

import type { CoapMethod } from '../coap/message.js';

export type { CoapMethod };

/** A CoAP request as the device's operation layer sees it (transport-independent). */
export interface DeviceRequest {
  readonly method: CoapMethod;
  /** Uri-Path segments, e.g. ['3', '0', '9']. */
  readonly uriPath: readonly string[];
  /** Uri-Query values, e.g. ['pmin=10', 'pmax=60']. */
  readonly uriQuery: readonly string[];
  readonly payload: Uint8Array;
  readonly contentFormat?: number;
  readonly accept?: number;
  /** Observe option: 0 register, 1 deregister. */
  readonly observe?: number;
}

/** What the operation layer answers; an expected outcome (4.04, 4.05…) is a value, not an exception. */
export interface DeviceResponse {
  readonly code: CoapCode;
  readonly payload?: Uint8Array;
  readonly contentFormat?: number;
}

const utf8 = new TextEncoder();

export function ok(code: CoapCode, payload?: Uint8Array, contentFormat?: number): DeviceResponse {
  return payload === undefined ? { code } : contentFormat === undefined ? { code, payload } : { code, payload, contentFormat };
}

/** An error response with a diagnostic payload (RFC 7252 §5.5.2). */
export function fail(code: CoapCode, message: string): DeviceResponse {
  return { code, payload: utf8.encode(message.slice(0, 256)) };
}
