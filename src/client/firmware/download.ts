/**
 * Pull downloads of a firmware package (/5/0/1 Package URI, LwM2M-TS-Core 1.1 §E.6): the shared shape of
 * the CoAP (Block2) and HTTP downloaders, and their bounded retry loop. A downloader streams the body
 * into `onData` chunk by chunk and never holds it whole.
 */
import type { Clock } from '../../core/clock.js';

/** Update Results a download can end with (besides the verifier's 2/5/6). */
export type DownloadFailureResult = 4 | 7 | 9;

export interface DownloadRequest {
  readonly url: URL;
  /** Resume from this byte (0: from the start). */
  readonly offset: number;
  /** The entity tag of the bytes already received (resume validation): ETag (CoAP) / strong ETag (HTTP). */
  readonly etag?: Uint8Array | string;
  readonly signal: AbortSignal;
  /** The next bytes, in order. Throwing stops the download (the error is rethrown by download()). */
  onData(chunk: Uint8Array): void;
  /** The server does not resume where asked: bytes restart at 0 (throw away what was received). */
  onRestart(): void;
  /** The entity tag of the representation being downloaded (for a later resume). */
  onEtag?(etag: Uint8Array | string): void;
  /** Total body size when the server tells (Size2, Content-Length), before the first byte. */
  onSize?(total: number): void;
}

export type DownloadOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly result: DownloadFailureResult; readonly reason: string };

export interface Downloader {
  download(req: DownloadRequest): Promise<DownloadOutcome>;
}

export interface RetryPolicy {
  /** Retries of a failed exchange/stream (each after a reconnect). Default 4. */
  readonly retries?: number;
  /** Delay before the first retry (ms), doubled for each further one. Default 1000. */
  readonly retryDelayMs?: number;
}

export class DownloadAborted extends Error {
  override readonly name = 'DownloadAborted';
  readonly code = 'FIRMWARE_DOWNLOAD_ABORTED';
}

/** Waits `ms` on `clock`; rejects with DownloadAborted when `signal` aborts first. */
export function delay(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new DownloadAborted('download aborted'));
      return;
    }
    const onAbort = (): void => {
      t.cancel();
      reject(new DownloadAborted('download aborted'));
    };
    const t = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Backoff before retry number `attempt` (1-based). */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  const base = policy.retryDelayMs ?? 1000;
  return base * 2 ** Math.min(attempt - 1, 10);
}

/** A download failure that should not be retried (e.g. 4.04 → Update Result 7). */
export class FinalDownloadError extends Error {
  override readonly name = 'FinalDownloadError';
  constructor(readonly result: DownloadFailureResult, message: string) {
    super(message);
  }
}
