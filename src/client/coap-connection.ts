import { CoapEndpoint, type CoapResponse, type IncomingCoapRequest } from '../coap/endpoint.js';
import { isCoapError } from '../coap/message.js';
import type { CoapTiming } from '../coap/timing.js';
import { systemClock, type Clock } from '../core/clock.js';
import { LwM2MError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { DatagramSocket } from '../transport/datagram.js';
import { GatedSocket, type SocketFaults } from '../transport/gated.js';
import type {
  ConnectionFactory, ConnectionSecurity, IncomingHandler, IncomingResponse, OutgoingRequest, ServerConnection,
} from './connection.js';
import type { ObserveSink } from './observations.js';
import type { CoapMethod } from './request.js';

export interface CoapConnectionFactoryOptions {
  /** Makes the device's socket (UDP on 127.0.0.1, or a MemoryNetwork socket in tests). */
  createSocket: () => Promise<DatagramSocket>;
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

/** Connections over CoAP on one socket per server (both directions, DESIGN §2). NoSec only here. */
export class CoapConnectionFactory implements ConnectionFactory {
  constructor(private readonly opts: CoapConnectionFactoryOptions) {}

  async connect(uri: string, security: ConnectionSecurity): Promise<ServerConnection> {
    const target = parseCoapUri(uri);
    if (target.secure || security.mode !== 'nosec') {
      throw new LwM2MError('BAD_REQUEST', `"${uri}": DTLS (coaps, PSK) needs a DTLS connection factory`);
    }
    const socket = new GatedSocket(await this.opts.createSocket());
    return new CoapServerConnection(socket, target.host, target.port, this.opts);
  }
}

function toIncoming(r: CoapResponse): IncomingResponse {
  return {
    code: r.code,
    payload: r.payload,
    ...(r.contentFormat !== undefined ? { contentFormat: r.contentFormat } : {}),
    locationPath: r.locationPath,
  };
}

export class CoapServerConnection implements ServerConnection {
  readonly endpoint: CoapEndpoint;

  constructor(
    private readonly socket: GatedSocket,
    private readonly host: string,
    private readonly port: number,
    private readonly opts: CoapConnectionFactoryOptions,
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
      });
      return toIncoming(res);
    } catch (e) {
      if (isCoapError(e)) throw new LwM2MError('TIMEOUT', `${req.method} /${req.uriPath.join('/')}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  onRequest(handler: IncomingHandler): void {
    this.endpoint.onRequest(async (creq: IncomingCoapRequest) => {
      const sink = creq.observe === 0 && creq.observation ? this.sinkFor(creq) : undefined;
      const res = await handler({
        method: creq.method as CoapMethod,
        uriPath: creq.pathSegments,
        uriQuery: creq.query,
        payload: creq.payload,
        ...(creq.contentFormat !== undefined ? { contentFormat: creq.contentFormat } : {}),
        ...(creq.accept !== undefined ? { accept: creq.accept } : {}),
        ...(creq.observe !== undefined ? { observe: creq.observe } : {}),
      }, sink);
      return {
        code: res.code,
        ...(res.payload ? { payload: Buffer.from(res.payload.buffer, res.payload.byteOffset, res.payload.byteLength) } : {}),
        ...(res.contentFormat !== undefined ? { contentFormat: res.contentFormat } : {}),
        ...(res.location ? { locationPath: res.location.ids.map(String) } : {}),
        ...(creq.observe === 0 ? { observe: res.observing === true } : {}),
      };
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

  async rebind(): Promise<void> {
    await this.socket.swap(await this.opts.createSocket());
  }

  async close(): Promise<void> {
    await this.endpoint.close();
  }
}
