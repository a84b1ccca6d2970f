import type { LwM2MPath } from '../../core/path.js';
import type { LwM2MNode } from '../../model/node.js';
import type { ModelLookup } from '../../model/types.js';

/** A request the server sends to a device (transport-independent). */
export interface ServerRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'iPATCH';
  readonly uriPath: readonly string[];
  readonly uriQuery?: readonly string[];
  readonly payload?: Uint8Array;
  readonly contentFormat?: number;
  readonly accept?: number;
  /** Observe option: 0 register, 1 cancel. */
  readonly observe?: 0 | 1;
}

/** What came back from the device. */
export interface DeviceAnswer {
  /** `2.05`, `4.04`… */
  readonly code: string;
  readonly payload: Uint8Array;
  readonly contentFormat?: number;
  readonly locationPath?: readonly string[];
}

/** The typed outcome of an operation; an expected failure (4.04, 4.05) is a value with `ok: false`. */
export interface OperationResult {
  readonly ok: boolean;
  readonly code: string;
  /** Diagnostic payload of an error response, when there was one. */
  readonly diagnostic?: string;
}

export interface ReadResult extends OperationResult {
  readonly node?: LwM2MNode;
  /** Flat map of full path → value (the HTTP API's `values`). */
  readonly values?: Record<string, unknown>;
  readonly contentFormat?: number;
}

export interface OperationContext {
  readonly models: ModelLookup;
}

export function pathSegments(path: LwM2MPath, rootPath = '/'): string[] {
  const root = rootPath.split('/').filter(Boolean);
  return [...root, ...path.ids.map(String)];
}

export function isSuccess(code: string): boolean {
  return code.startsWith('2.');
}

const decoder = new TextDecoder();
export function diagnosticOf(answer: DeviceAnswer): string | undefined {
  if (isSuccess(answer.code) || answer.payload.length === 0) return undefined;
  return decoder.decode(answer.payload.subarray(0, 512));
}

export function failed(answer: DeviceAnswer): OperationResult {
  const diagnostic = diagnosticOf(answer);
  return diagnostic === undefined ? { ok: false, code: answer.code } : { ok: false, code: answer.code, diagnostic };
}
