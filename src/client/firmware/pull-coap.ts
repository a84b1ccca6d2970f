/**
 * Pull over CoAP/CoAPS: explicit Block2 GETs (RFC 7959 §2.4), one block per request, each streamed into
 * the sink — the device holds one block. The connection comes from the device's ConnectionFactory, so
 * `coaps://` works wherever the factory speaks DTLS. A lost exchange (CoAP timeout) is retried after a
 * reconnect (a new socket, as a device re-attaching to the network) from the block it was at; an ETag
 * that changes between blocks means the representation changed, so the download restarts at block 0.
 */
import type { Clock } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { isLwM2MError } from '../../core/errors.js';
import { blockSizeOf, szxOf } from '../../coap/message.js';
import type { ConnectionFactory, ConnectionSecurity, IncomingResponse, ServerConnection } from '../connection.js';
import {
  DownloadAborted, FinalDownloadError, delay, retryDelay, type DownloadOutcome, type DownloadRequest, type Downloader, type RetryPolicy,
} from './download.js';

export interface CoapDownloaderOptions extends RetryPolicy {
  connections: ConnectionFactory;
  /** Security for a `coaps://` URI (default: NoSec, which a DTLS factory refuses). */
  security?: (uri: string) => ConnectionSecurity;
  /** Block2 size (16–1024). Default 512. */
  blockSize?: number;
  /** Bound on one block exchange (ms); default the connection's own (MAX_TRANSMIT_WAIT). */
  exchangeTimeoutMs?: number;
  clock?: Clock;
  /** Largest body accepted (bytes): bounds the number of blocks asked for. */
  maxBytes: number;
}

function sameTag(a: Uint8Array | string | undefined, b: Uint8Array | string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return Buffer.from(a).equals(Buffer.from(b));
}

export class CoapDownloader implements Downloader {
  private readonly clock: Clock;
  private readonly szx: number;

  constructor(private readonly opts: CoapDownloaderOptions) {
    this.clock = opts.clock ?? systemClock;
    this.szx = szxOf(opts.blockSize ?? 512);
  }

  async download(req: DownloadRequest): Promise<DownloadOutcome> {
    const u = req.url;
    const secure = u.protocol === 'coaps:';
    const port = u.port === '' ? (secure ? 5684 : 5683) : Number(u.port);
    const origin = `${u.protocol}//${u.hostname}:${port}`; // URL keeps an IPv6 hostname in brackets
    const uriPath = u.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
    const uriQuery = u.search === '' ? [] : u.search.slice(1).split('&').filter((s) => s !== '').map((s) => decodeURIComponent(s));
    const security: ConnectionSecurity = this.opts.security?.(u.href) ?? { mode: 'nosec' };
    const retries = this.opts.retries ?? 4;

    let szx = this.szx;
    let offset = req.offset;
    // A resume offset is a whole number of blocks of the size used before (the same configuration).
    if (offset % blockSizeOf(szx) !== 0) {
      req.onRestart();
      offset = 0;
    }
    let etag = req.etag;
    let conn: ServerConnection | undefined;
    // Cancel / reset: close the connection at once (the block in flight fails with COAP_CLOSED).
    const onAbort = (): void => { void conn?.close().catch(() => undefined); };
    req.signal.addEventListener('abort', onAbort, { once: true });
    let failures = 0;
    const maxBlocks = Math.ceil(this.opts.maxBytes / 16) + 2;
    try {
      for (let round = 0; round < maxBlocks + retries + 2; round++) {
        if (req.signal.aborted) throw new DownloadAborted('download aborted');
        let res: IncomingResponse;
        try {
          conn ??= await this.opts.connections.connect(origin, security);
          res = await conn.request({
            method: 'GET', uriPath, uriQuery, block2: { num: offset / blockSizeOf(szx), szx },
            ...(this.opts.exchangeTimeoutMs !== undefined ? { timeoutMs: this.opts.exchangeTimeoutMs } : {}),
          });
        } catch (e) {
          if (req.signal.aborted) throw new DownloadAborted('download aborted');
          // A connection the factory cannot open at all (an unsupported scheme/security): no retry.
          if (!conn && isLwM2MError(e) && e.kind === 'BAD_REQUEST') return { ok: false, result: 9, reason: e.message };
          failures++;
          if (failures > retries) {
            return { ok: false, result: 4, reason: `no answer after ${retries} retries: ${e instanceof Error ? e.message : String(e)}` };
          }
          const c = conn;
          conn = undefined;
          await c?.close().catch(() => undefined);
          await delay(this.clock, retryDelay(this.opts, failures), req.signal);
          continue;
        }
        if (req.signal.aborted) throw new DownloadAborted('download aborted');
        if (res.code === '4.04') throw new FinalDownloadError(7, `${u.href}: 4.04 Not Found`);
        if (res.code !== '2.05') throw new FinalDownloadError(4, `${u.href}: block ${offset / blockSizeOf(szx)} answered ${res.code}`);
        failures = 0;
        const b2 = res.block2;
        // RFC 7252 §5.10.6: an ETag names one representation; another one means the resource changed.
        if (res.etag !== undefined) {
          if (etag !== undefined && !sameTag(etag, res.etag)) {
            if (offset > 0) {
              req.onRestart();
              offset = 0;
              etag = res.etag;
              req.onEtag?.(res.etag);
              continue;
            }
          }
          if (etag === undefined || !sameTag(etag, res.etag)) req.onEtag?.(res.etag);
          etag = res.etag;
        }
        if (!b2) {
          // The whole representation in one response (no Block2): only valid from the start.
          if (offset > 0) {
            req.onRestart();
            offset = 0;
          }
          req.onData(res.payload);
          return { ok: true };
        }
        const asked = offset / blockSizeOf(szx);
        // RFC 7959 §2.4: the server may answer with a smaller block size; the block then starts at the
        // same byte (its number scaled). Anything else is not the block asked for.
        if (b2.szx > szx || b2.num * blockSizeOf(b2.szx) !== offset) {
          throw new FinalDownloadError(4, `${u.href}: asked for block ${asked}, got block ${b2.num} of size ${blockSizeOf(b2.szx)}`);
        }
        if (b2.num === 0 && res.size2 !== undefined) req.onSize?.(res.size2);
        if (b2.more && res.payload.length !== blockSizeOf(b2.szx)) {
          throw new FinalDownloadError(4, `${u.href}: block ${b2.num} has ${res.payload.length} bytes, not ${blockSizeOf(b2.szx)}`);
        }
        szx = b2.szx;
        req.onData(res.payload);
        offset += res.payload.length;
        if (!b2.more) return { ok: true };
        if (offset > this.opts.maxBytes + 1024) throw new FinalDownloadError(4, `${u.href}: more than ${this.opts.maxBytes} bytes`);
      }
      return { ok: false, result: 4, reason: `${u.href}: download did not end` };
    } catch (e) {
      if (e instanceof FinalDownloadError) return { ok: false, result: e.result, reason: e.message };
      throw e;
    } finally {
      req.signal.removeEventListener('abort', onAbort);
      await conn?.close().catch(() => undefined);
    }
  }
}
