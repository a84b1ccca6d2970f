import { CoapEndpoint, type CoapResponse, type IncomingCoapRequest } from '../coap/endpoint.js';
import { isCoapError } from '../coap/message.js';
import type { CoapTiming } from '../coap/timing.js';
import { systemClock, type Clock } from '../core/clock.js';
import { LwM2MError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { DatagramSocket } from '../transport/datagram.js';
import { createDtlsClientSocket, type DtlsClientOptions } from '../transport/dtls/client.js';
import { GatedSocket, type SocketFaults } from '../transport/gated.js';
import type {
  BlockwiseRequestHandler, BlockwiseResponse, ConnectionFactory, ConnectionSecurity, IncomingHandler, IncomingResponse, OutgoingRequest,
  ServerConnection,
} from './connection.js';
import type { CoapReply } from '../coap/types.js';
import { OptionNumber, encodeUint } from '../coap/message.js';
import type { ObserveSink } from './observations.js';
import type { RoutedResponse } from './router.js';
import type { CoapMethod } from './request.js';

/** The server and PSK a `coaps://` connection is secured with (from the Security instance). */
export interface SecurePeer {
  readonly host: string;
  readonly port: number;
  readonly identity: string;
  readonly key: Uint8Array;
}

/** A DTLS socket: a DatagramSocket to one peer that can redo its handshake (src/transport/dtls/client.ts). */
export interface SecureDatagramSocket extends DatagramSocket {
  /** New handshake (the server lost the session). */
  reconnect?(): Promise<void>;
}

/** DTLS settings of `coaps://` connections (createDtlsClientSocket options other than the peer and PSK). */
export type DtlsConnectionOptions = Omit<DtlsClientOptions, 'host' | 'port' | 'identity' | 'key' | 'clock' | 'logger'>;

export interface CoapConnectionFactoryOptions {
  /** Makes the device's socket (UDP on 127.0.0.1, or a MemoryNetwork socket in tests). */
  createSocket: () => Promise<DatagramSocket>;
  /**
   * Makes a `coaps://` connection's socket, handshake done. Default createDtlsClientSocket with `dtls`,
   * `clock` and `logger`; tests inject their own.
   */
  createSecureSocket?: (peer: SecurePeer) => Promise<SecureDatagramSocket>;
  /** DTLS options of the default createSecureSocket (local address, cipher suites, handshake timeouts). */
  dtls?: DtlsConnectionOptions;
  /**
   * Consecutive CoAP timeouts on a DTLS connection after which it handshakes again (the server may
   * have lost the session: a restart drops DTLS state silently, RFC 6347 §4.2.8). Default 1 — a CoAP
   * timeout already spans MAX_RETRANSMIT retransmissions. 0 disables.
   */
  dtlsReconnectAfterTimeouts?: number;
  clock?: Clock;
  logger?: Logger;
  timing?: Partial<CoapTiming>;
  /** Confirmable notifications (default false: NON, RFC 7641 §4.5). */
  confirmableNotifications?: boolean;
  /** Bytes of node-coap's response cache per device (default 32 KiB). */
  cacheSize?: number;
  /** Block1 size for large requests (Send…), 16–1024. */
  block1Size?: number;
}

/** `coap://host:port` → host and port (default 5683); anything else is a clear error. */
export function parseCoapUri(uri: string): { host: string; port: number; secure: boolean } {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new LwM2MError('BAD_REQUEST', `server URI "${uri}" is not a URI`);
  }
  if (u.protocol !== 'coap:' && u.protocol !== 'coaps:') {
    throw new LwM2MError('BAD_REQUEST', `server URI "${uri}": scheme ${u.protocol} is not coap: or coaps:`);
  }
  const secure = u.protocol === 'coaps:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new LwM2MError('BAD_REQUEST', `server URI "${uri}" has no host`);
  return { host, port: u.port === '' ? (secure ? 5684 : 5683) : Number(u.port), secure };
}

/**
 * Connections over CoAP on one socket per server (both directions, DESIGN §2): `coap://` with NoSec on
 * a plain socket, `coaps://` with PSK on a DTLS socket (LwM2M-TS-Transport 1.1 §5.2.8).
 */
export class CoapConnectionFactory implements ConnectionFactory {
  constructor(private readonly opts: CoapConnectionFactoryOptions) {}

  async connect(uri: string, security: ConnectionSecurity): Promise<ServerConnection> {
    const target = parseCoapUri(uri);
    if (!target.secure) {
      if (security.mode !== 'nosec') {
        throw new LwM2MError('BAD_REQUEST', `"${uri}": PSK security needs a coaps:// URI (coap:// is NoSec)`);
      }
      const socket = new GatedSocket(await this.opts.createSocket());
      return new CoapServerConnection(socket, target.host, target.port, this.opts);
    }
    if (security.mode !== 'psk') {
      throw new LwM2MError('BAD_REQUEST', `"${uri}": coaps:// needs PSK security (identity and key), not ${security.mode}`);
    }
    const peer: SecurePeer = { host: target.host, port: target.port, identity: security.identity, key: security.key };
    const open = (): Promise<SecureDatagramSocket> => this.secureSocket(peer);
    // A failed handshake rejects with the DtlsClientError itself (code DTLS_HANDSHAKE_FAILED/_TIMEOUT, alert).
    const inner = await open();
    return new CoapServerConnection(new GatedSocket(inner), target.host, target.port, this.opts, { open, current: inner });
  }

  private secureSocket(peer: SecurePeer): Promise<SecureDatagramSocket> {
    if (this.opts.createSecureSocket) return this.opts.createSecureSocket(peer);
    return createDtlsClientSocket({
      ...this.opts.dtls,
      ...peer,
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      ...(this.opts.logger ? { logger: this.opts.logger } : {}),
    });
  }
}

/** The DTLS side of a connection: how to open a new secure socket, and the current one. */
interface SecureLink {
  open: () => Promise<SecureDatagramSocket>;
  current: SecureDatagramSocket;
}

function toIncoming(r: CoapResponse): IncomingResponse {
  return {
    code: r.code,
    payload: r.payload,
    ...(r.contentFormat !== undefined ? { contentFormat: r.contentFormat } : {}),
    locationPath: r.locationPath,
    ...(r.block2 !== undefined ? { block2: r.block2 } : {}),
    ...(r.size2 !== undefined ? { size2: r.size2 } : {}),
    ...(r.etag !== undefined ? { etag: r.etag } : {}),
  };
}

function toReply(r: BlockwiseResponse): CoapReply {
  return {
    code: r.code,
    ...(r.payload ? { payload: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength) } : {}),
    ...(r.contentFormat !== undefined ? { contentFormat: r.contentFormat } : {}),
    ...(r.size1 !== undefined ? { options: [{ number: OptionNumber.Size1, value: encodeUint(r.size1) }] } : {}),
  };
}

export class CoapServerConnection implements ServerConnection {
  readonly endpoint: CoapEndpoint;
  /** Consecutive CoAP timeouts (DTLS: a re-handshake after dtlsReconnectAfterTimeouts). */
  private timeouts = 0;

  constructor(
    private readonly socket: GatedSocket,
    private readonly host: string,
    private readonly port: number,
    private readonly opts: CoapConnectionFactoryOptions,
    private readonly secure?: SecureLink,
  ) {
    this.endpoint = new CoapEndpoint({
      socket,
      clock: opts.clock ?? systemClock,
      logger: opts.logger ?? silentLogger,
      ...(opts.timing ? { timing: opts.timing } : {}),
      ...(opts.block1Size ? { block1Size: opts.block1Size } : {}),
      // One device's responses and CON notifications in flight: 32 KiB holds hundreds (DESIGN §2: bound it).
      cacheSize: opts.cacheSize ?? 32 * 1024,
    });
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  async request(req: OutgoingRequest): Promise<IncomingResponse> {
    try {
      const res = await this.endpoint.request({
        host: this.host,
        port: this.port,
        method: req.method,
        pathSegments: req.uriPath,
        query: req.uriQuery ?? [],
        ...(req.payload ? { payload: Buffer.from(req.payload.buffer, req.payload.byteOffset, req.payload.byteLength) } : {}),
        ...(req.contentFormat !== undefined ? { contentFormat: req.contentFormat } : {}),
        ...(req.accept !== undefined ? { accept: req.accept } : {}),
        confirmable: req.confirmable ?? true,
        ...(req.block2 ? { block2: req.block2 } : {}),
        ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
      });
      this.timeouts = 0;
      return toIncoming(res);
    } catch (e) {
      if (isCoapError(e)) {
        this.onTimeout();
        throw new LwM2MError('TIMEOUT', `${req.method} /${req.uriPath.join('/')}: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  /** DTLS: after N silent exchanges in a row the server has probably lost the session — handshake again. */
  private onTimeout(): void {
    this.timeouts++;
    const after = this.opts.dtlsReconnectAfterTimeouts ?? 1;
    const s = this.secure?.current;
    if (!s?.reconnect || after <= 0 || this.timeouts < after) return;
    this.timeouts = 0;
    const log = this.opts.logger ?? silentLogger;
    log.info({ host: this.host, port: this.port }, 'DTLS: no answer from the server; handshaking again');
    s.reconnect().catch((err: unknown) => {
      log.warn({ host: this.host, port: this.port, err: err instanceof Error ? err.message : String(err) }, 'DTLS re-handshake failed');
    });
  }

  onRequest(handler: IncomingHandler): void {
    this.endpoint.onRequest((creq: IncomingCoapRequest) => {
      const sink = creq.observe === 0 && creq.observation ? this.sinkFor(creq) : undefined;
      const answer = handler({
        method: creq.method as CoapMethod,
        uriPath: creq.pathSegments,
        uriQuery: creq.query,
        payload: creq.payload,
        ...(creq.contentFormat !== undefined ? { contentFormat: creq.contentFormat } : {}),
        ...(creq.accept !== undefined ? { accept: creq.accept } : {}),
        ...(creq.observe !== undefined ? { observe: creq.observe } : {}),
      }, sink);
      const reply = (res: RoutedResponse): CoapReply => ({
        code: res.code,
        ...(res.payload ? { payload: Buffer.from(res.payload.buffer, res.payload.byteOffset, res.payload.byteLength) } : {}),
        ...(res.contentFormat !== undefined ? { contentFormat: res.contentFormat } : {}),
        ...(res.location ? { locationPath: res.location.ids.map(String) } : {}),
        ...(creq.observe === 0 ? { observe: res.observing === true } : {}),
      });
      // A synchronous answer stays synchronous: the endpoint's fast path replies in the same turn.
      return answer instanceof Promise ? answer.then(reply) : reply(answer);
    });
  }

  onBlockwiseRequest(handler: BlockwiseRequestHandler): void {
    this.endpoint.onBlock1Stream({
      claims: (method, path, cf) => handler.claims(method, path, cf),
      open: (head) => {
        const opened = handler.open({
          method: head.method, uriPath: head.pathSegments, uriQuery: head.query,
          ...(head.contentFormat !== undefined ? { contentFormat: head.contentFormat } : {}),
          ...(head.size1 !== undefined ? { size1: head.size1 } : {}),
        });
        if (!('write' in opened)) return toReply(opened);
        return {
          write: (chunk) => {
            const r = opened.write(chunk);
            return r ? toReply(r) : undefined;
          },
          end: () => toReply(opened.end()),
          abort: (reason) => opened.abort(reason),
        };
      },
    });
  }

  private sinkFor(creq: IncomingCoapRequest): ObserveSink {
    const obs = creq.observation;
    const log = this.opts.logger ?? silentLogger;
    return {
      notify: (r) => {
        if (!obs?.active) return;
        try {
          obs.notify({
            code: r.code,
            ...(r.payload ? { payload: Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength) } : {}),
            ...(r.contentFormat !== undefined ? { contentFormat: r.contentFormat } : {}),
            confirmable: this.opts.confirmableNotifications ?? false,
          });
        } catch (e) {
          log.warn({ err: e instanceof Error ? e.message : String(e), path: creq.path }, 'notification not sent');
        }
      },
      end: () => obs?.end(),
      onEnd: (l) => obs?.onEnd(() => l()),
    };
  }

  setAsleep(asleep: boolean): void {
    this.socket.setAsleep(asleep);
  }

  setFaults(faults: SocketFaults | undefined): void {
    this.socket.setFaults(faults);
  }

  /** A new source port; over DTLS a new socket with a new handshake (a NAT rebinding loses the session). */
  async rebind(): Promise<void> {
    if (this.secure) {
      const next = await this.secure.open();
      this.secure.current = next;
      await this.socket.swap(next);
      return;
    }
    await this.socket.swap(await this.opts.createSocket());
  }

  async close(): Promise<void> {
    await this.endpoint.close();
  }
}
