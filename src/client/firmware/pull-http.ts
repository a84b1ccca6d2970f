/**
 * Pull over HTTP/HTTPS 1.1 (/5/0/8 values 2 and 3): a streaming GET; the body goes to the sink as the
 * socket delivers it, never buffered whole. A broken stream (socket error, premature end, timeout) is
 * retried with `Range: bytes=N-` (RFC 9110 §14.2) and `If-Range` carrying the strong ETag, so the
 * download continues where it stopped; a server that answers 200 instead of 206 sends the whole body
 * again and the sink restarts.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import {
  DownloadAborted, FinalDownloadError, delay, retryDelay, type DownloadOutcome, type DownloadRequest, type Downloader, type RetryPolicy,
} from './download.js';

export interface HttpDownloaderOptions extends RetryPolicy {
  clock?: Clock;
  /** Socket idle timeout (ms) before the attempt counts as lost. Default 30 000. */
  idleTimeoutMs?: number;
  /** Extra TLS/agent options for https (ca, rejectUnauthorized, …). */
  tls?: Pick<RequestOptions, 'agent'> & { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** Largest body accepted (bytes): a bigger Content-Length is reported through onSize. */
  maxBytes: number;
}

/** A strong ETag (RFC 9110 §8.8.3); weak ones cannot validate a range. */
function strongEtag(v: string | undefined): string | undefined {
  return v !== undefined && !v.startsWith('W/') ? v : undefined;
}

export class HttpDownloader implements Downloader {
  private readonly clock: Clock;

  constructor(private readonly opts: HttpDownloaderOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  async download(req: DownloadRequest): Promise<DownloadOutcome> {
    const retries = this.opts.retries ?? 4;
    let offset = req.offset;
    let etag = typeof req.etag === 'string' ? req.etag : undefined;
    if (offset > 0 && etag === undefined) {
      req.onRestart(); // nothing to validate a range against
      offset = 0;
    }
    let failures = 0;
    for (let attempt = 0; attempt <= retries + 1; attempt++) {
      if (req.signal.aborted) throw new DownloadAborted('download aborted');
      try {
        const res = await this.get(req, offset, etag);
        const status = res.statusCode ?? 0;
        if (status === 404 || status === 410) throw new FinalDownloadError(7, `${req.url.href}: HTTP ${status}`);
        if (status !== 200 && status !== 206) {
          res.resume();
          throw new FinalDownloadError(4, `${req.url.href}: HTTP ${status}`);
        }
        if (status === 206) {
          const m = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
          if (!m || Number(m[1]) !== offset) {
            res.destroy();
            throw new FinalDownloadError(4, `${req.url.href}: 206 for another range (${res.headers['content-range'] ?? 'none'})`);
          }
        } else if (offset > 0) {
          req.onRestart(); // RFC 9110 §14.2: the range was ignored (or If-Range failed) — the full body follows
          offset = 0;
        }
        const tag = strongEtag(res.headers.etag);
        if (tag !== undefined && tag !== etag) req.onEtag?.(tag);
        etag = tag;
        const length = Number(res.headers['content-length']);
        if (status === 200 && Number.isFinite(length)) req.onSize?.(length);
        const expected = Number.isFinite(length) ? offset + length : undefined;
        for await (const chunk of res as AsyncIterable<Buffer>) {
          if (req.signal.aborted) {
            res.destroy();
            throw new DownloadAborted('download aborted');
          }
          req.onData(chunk);
          offset += chunk.length;
          failures = 0;
        }
        if (expected !== undefined && offset < expected) throw new Error(`stream ended at byte ${offset} of ${expected}`);
        return { ok: true };
      } catch (e) {
        if (e instanceof FinalDownloadError) return { ok: false, result: e.result, reason: e.message };
        if (req.signal.aborted || e instanceof DownloadAborted) throw new DownloadAborted('download aborted');
        if (!(e instanceof Error) || 'result' in e) throw e; // the sink refused the data (verifier)
        failures++;
        if (failures > retries) return { ok: false, result: 4, reason: `${req.url.href}: ${e.message} (after ${retries} retries)` };
        await delay(this.clock, retryDelay(this.opts, failures), req.signal);
        if (etag === undefined && offset > 0) {
          req.onRestart();
          offset = 0;
        }
      }
    }
    return { ok: false, result: 4, reason: `${req.url.href}: gave up` };
  }

  private get(req: DownloadRequest, offset: number, etag: string | undefined): Promise<IncomingMessage> {
    const url = req.url;
    const headers: Record<string, string> = { accept: 'application/octet-stream' };
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      if (etag !== undefined) headers['if-range'] = etag;
    }
    const options: RequestOptions & { ca?: string | Buffer; rejectUnauthorized?: boolean } = {
      method: 'GET', headers, signal: req.signal, timeout: this.opts.idleTimeoutMs ?? 30_000, ...(this.opts.tls ?? {}),
    };
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = send(url, options, (res) => {
        res.on('error', () => undefined); // surfaced by the async iterator
        resolve(res);
      });
      r.on('timeout', () => r.destroy(new Error(`no data for ${options.timeout} ms`)));
      r.on('error', reject);
      r.end();
    });
  }
}
