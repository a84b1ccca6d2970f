/**
 * One error tree for the whole toolkit (undici style): every error carries a stable `code` string that
 * callers can switch on, and the CoAP response code it maps to when it has to go on the wire.
 */

/** CoAP response codes used by LwM2M (RFC 7252 §12.1.2, RFC 7959, RFC 8132). */
export type CoapCode =
  | '2.01' | '2.02' | '2.03' | '2.04' | '2.05' | '2.31'
  | '4.00' | '4.01' | '4.02' | '4.03' | '4.04' | '4.05' | '4.06' | '4.08' | '4.09'
  | '4.12' | '4.13' | '4.15' | '4.22'
  | '5.00' | '5.01' | '5.02' | '5.03' | '5.04' | '5.05';

/** Stable error codes. Never rename one: callers and logs depend on them. */
export const ErrorCodes = {
  BAD_PATH: { code: 'LWM2M_BAD_PATH', coap: '4.00' },
  BAD_REQUEST: { code: 'LWM2M_BAD_REQUEST', coap: '4.00' },
  BAD_TEXT: { code: 'LWM2M_BAD_TEXT', coap: '4.00' },
  BAD_OPAQUE: { code: 'LWM2M_BAD_OPAQUE', coap: '4.00' },
  BAD_TLV: { code: 'LWM2M_BAD_TLV', coap: '4.00' },
  BAD_JSON: { code: 'LWM2M_BAD_JSON', coap: '4.00' },
  BAD_SENML: { code: 'LWM2M_BAD_SENML', coap: '4.00' },
  BAD_CBOR: { code: 'LWM2M_BAD_CBOR', coap: '4.00' },
  BAD_LINK: { code: 'LWM2M_BAD_LINK', coap: '4.00' },
  BAD_VALUE: { code: 'LWM2M_BAD_VALUE', coap: '4.00' },
  UNSUPPORTED_FORMAT: { code: 'LWM2M_UNSUPPORTED_FORMAT', coap: '4.15' },
  NOT_ACCEPTABLE: { code: 'LWM2M_NOT_ACCEPTABLE', coap: '4.06' },
  UNAUTHORIZED: { code: 'LWM2M_UNAUTHORIZED', coap: '4.01' },
  FORBIDDEN: { code: 'LWM2M_FORBIDDEN', coap: '4.03' },
  NOT_FOUND: { code: 'LWM2M_NOT_FOUND', coap: '4.04' },
  METHOD_NOT_ALLOWED: { code: 'LWM2M_METHOD_NOT_ALLOWED', coap: '4.05' },
  ENTITY_TOO_LARGE: { code: 'LWM2M_ENTITY_TOO_LARGE', coap: '4.13' },
  BAD_MODEL: { code: 'LWM2M_BAD_MODEL', coap: '5.00' },
  INTERNAL: { code: 'LWM2M_INTERNAL', coap: '5.00' },
  TIMEOUT: { code: 'LWM2M_TIMEOUT', coap: '5.04' },
} as const satisfies Record<string, { code: string; coap: CoapCode }>;

export type ErrorKind = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorKind]['code'];

export interface LwM2MErrorOptions {
  /** Where the problem is: a byte offset, `file:line:col`, a path… Included in `message`. */
  location?: string;
  cause?: unknown;
}

export class LwM2MError extends Error {
  override readonly name = 'LwM2MError';
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly coapCode: CoapCode;
  readonly location: string | undefined;
  /** The message without the location prefix (what goes into a CoAP diagnostic payload). */
  readonly detail: string;

  constructor(kind: ErrorKind, detail: string, options: LwM2MErrorOptions = {}) {
    super(options.location !== undefined ? `${options.location}: ${detail}` : detail, { cause: options.cause });
    this.kind = kind;
    this.code = ErrorCodes[kind].code;
    this.coapCode = ErrorCodes[kind].coap;
    this.location = options.location;
    this.detail = detail;
  }
}

export function isLwM2MError(e: unknown): e is LwM2MError {
  return e instanceof LwM2MError;
}

/** Shorthand used by decoders: a 4.00 error of `kind` at byte `offset`. */
export function decodeError(kind: ErrorKind, detail: string, offset?: number): LwM2MError {
  return new LwM2MError(kind, detail, offset === undefined ? {} : { location: `byte ${offset}` });
}
