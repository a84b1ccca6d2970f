/**
 * Errors raised while decoding DTLS messages. Each carries the alert the server sends for it, so a
 * decoder can fail with one throw and the handshake layer turns it into the right fatal alert.
 */
import { AlertDescription, type AlertDescriptionValue } from './constants.js';

export type DtlsErrorCode =
  | 'DTLS_DECODE'
  | 'DTLS_ILLEGAL_PARAMETER'
  | 'DTLS_PROTOCOL_VERSION'
  | 'DTLS_HANDSHAKE_FAILURE'
  | 'DTLS_UNKNOWN_PSK_IDENTITY'
  | 'DTLS_DECRYPT_ERROR'
  | 'DTLS_BAD_RECORD_MAC'
  | 'DTLS_UNEXPECTED_MESSAGE'
  | 'DTLS_INTERNAL';

const alertOf: Record<DtlsErrorCode, AlertDescriptionValue> = {
  DTLS_DECODE: AlertDescription.decodeError,
  DTLS_ILLEGAL_PARAMETER: AlertDescription.illegalParameter,
  DTLS_PROTOCOL_VERSION: AlertDescription.protocolVersion,
  DTLS_HANDSHAKE_FAILURE: AlertDescription.handshakeFailure,
  DTLS_UNKNOWN_PSK_IDENTITY: AlertDescription.unknownPskIdentity,
  DTLS_DECRYPT_ERROR: AlertDescription.decryptError,
  DTLS_BAD_RECORD_MAC: AlertDescription.badRecordMac,
  DTLS_UNEXPECTED_MESSAGE: AlertDescription.unexpectedMessage,
  DTLS_INTERNAL: AlertDescription.internalError,
};

export class DtlsError extends Error {
  override readonly name = 'DtlsError';
  readonly code: DtlsErrorCode;
  /** The fatal alert this failure is answered with. */
  readonly alert: AlertDescriptionValue;

  constructor(code: DtlsErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.alert = alertOf[code];
  }
}

export function isDtlsError(e: unknown): e is DtlsError {
  return e instanceof DtlsError;
}

/** Throws a DTLS_DECODE error when `cond` is false. */
export function need(cond: boolean, what: string, offset: number): asserts cond {
  if (!cond) throw new DtlsError('DTLS_DECODE', `${what} at byte ${offset}`);
}
