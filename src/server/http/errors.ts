import { ErrorCodes, isLwM2MError } from '../../core/errors.js';
import { isRequestQueueError } from '../queue/request-queue.js';
import { isPskStoreError } from '../security/psk-store.js';
import type { OperationResult } from '../operations/types.js';

/** What a route answers: status, JSON body, extra headers. Also the stored outcome of a queued request. */
export interface ApiResponse {
  readonly statusCode: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Every error body of the API: a stable `code`, a human `message`, and for device answers the CoAP `status`. */
export interface ErrorBody {
  readonly code: string;
  readonly message: string;
  /** The CoAP response code the device answered (`4.04`), when the error is the device's answer. */
  readonly status?: string;
}

/** An error raised by the HTTP layer itself (bad query, unknown request id…). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly statusCode: number, readonly code: string, message: string) {
    super(message);
  }
}

/**
 * HTTP status for a CoAP response code (RFC 8075 §7 maps CoAP to HTTP the same way, except that a
 * device's 4.01 — an LwM2M access-control refusal, not a missing HTTP credential — becomes 403, and a
 * device's 5.00 becomes 502: the upstream failed, not this server).
 */
const HTTP_BY_COAP: Readonly<Record<string, number>> = {
  '4.00': 400, '4.01': 403, '4.02': 400, '4.03': 403, '4.04': 404, '4.05': 405, '4.06': 406, '4.08': 400,
  '4.09': 409, '4.12': 412, '4.13': 413, '4.15': 415, '4.22': 422,
  '5.00': 502, '5.01': 501, '5.02': 502, '5.03': 503, '5.04': 504, '5.05': 502,
};

export function httpStatusOfCoap(code: string): number {
  const known = HTTP_BY_COAP[code];
  if (known !== undefined) return known;
  return code.startsWith('4.') ? 400 : 502;
}

/** Stable error code for a device's CoAP error answer (`4.04` → `LWM2M_NOT_FOUND`). */
const CODE_BY_COAP: Readonly<Record<string, string>> = {
  '4.00': ErrorCodes.BAD_REQUEST.code,
  '4.01': ErrorCodes.UNAUTHORIZED.code,
  '4.03': ErrorCodes.FORBIDDEN.code,
  '4.04': ErrorCodes.NOT_FOUND.code,
  '4.05': ErrorCodes.METHOD_NOT_ALLOWED.code,
  '4.06': ErrorCodes.NOT_ACCEPTABLE.code,
  '4.13': ErrorCodes.ENTITY_TOO_LARGE.code,
  '4.15': ErrorCodes.UNSUPPORTED_FORMAT.code,
};

export function errorCodeOfCoap(code: string): string {
  return CODE_BY_COAP[code] ?? (code.startsWith('4.') ? 'LWM2M_CLIENT_ERROR' : 'LWM2M_DEVICE_ERROR');
}

export function errorResponseOf(statusCode: number, code: string, message: string, status?: string): ApiResponse {
  const body: ErrorBody = status === undefined ? { code, message } : { code, message, status };
  return { statusCode, body };
}

/** The API answer for an unsuccessful device answer (a value, not an exception: Leshan style). */
export function deviceFailure(result: OperationResult, what: string): ApiResponse {
  const message = result.diagnostic !== undefined && result.diagnostic !== '' ? `${what}: ${result.code} ${result.diagnostic}` : `${what}: device answered ${result.code}`;
  const res = errorResponseOf(httpStatusOfCoap(result.code), errorCodeOfCoap(result.code), message, result.code);
  // RFC 9110 §15.5.6: a 405 names the methods the target allows; the device did not say, the API route does.
  return res.statusCode === 405 ? { ...res, headers: { allow: 'GET, PUT, POST, DELETE' } } : res;
}

interface FastifyLikeError {
  statusCode?: number;
  message: string;
}

/** Codes for the framework's own 4xx (validation and body parsing are BAD_REQUEST). */
const HTTP_CODES: Readonly<Record<number, string>> = {
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

function isFastifyLikeError(e: unknown): e is FastifyLikeError {
  return e instanceof Error && typeof (e as FastifyLikeError).statusCode === 'number';
}

/** Maps anything thrown by a route to `{code, message}` with the right HTTP status. */
export function errorResponse(e: unknown): ApiResponse {
  if (e instanceof ApiError) return errorResponseOf(e.statusCode, e.code, e.message);
  if (isLwM2MError(e)) {
    const status = e.kind === 'TIMEOUT' ? 504 : e.kind === 'NOT_FOUND' ? 404 : httpStatusOfCoap(e.coapCode);
    // Our own 5.00 (a bug, a broken model) is a 500 of this server, not a bad gateway.
    return errorResponseOf(e.coapCode === '5.00' ? 500 : status, e.code, e.message);
  }
  if (isPskStoreError(e)) {
    // 409: the identity is another endpoint's; 507: the store is at its bound.
    const status = e.code === 'PSK_IDENTITY_IN_USE' ? 409 : e.code === 'PSK_STORE_FULL' ? 507 : 400;
    return errorResponseOf(status, e.code, e.message);
  }
  if (isRequestQueueError(e)) {
    const status = e.code === 'LWM2M_QUEUE_EXPIRED' ? 504 : e.code === 'LWM2M_QUEUE_CLEARED' ? 404 : 503;
    return errorResponseOf(status, e.code, e.message);
  }
  if (isFastifyLikeError(e)) {
    const statusCode = e.statusCode ?? 500;
    if (statusCode < 500) return errorResponseOf(statusCode, HTTP_CODES[statusCode] ?? 'BAD_REQUEST', e.message);
  }
  return errorResponseOf(500, 'INTERNAL', 'internal server error');
}
