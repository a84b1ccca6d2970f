import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { LwM2MError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { SocketFaults } from '../transport/gated.js';
import type { LwM2MPath } from '../core/path.js';
import { ContentFormat } from '../codec/content-format.js';
import { encodeRecords } from '../codec/dispatch.js';
import { nodeToRecords, type PathValue } from '../model/node.js';
import { AccessControl } from './access.js';
import { AttributeStore } from './attributes.js';
import type {
  ConnectionFactory, ConnectionSecurity, IncomingHandler, IncomingResponse, OutgoingRequest, ServerConnection,
} from './connection.js';
import { INTERNAL_CONTEXT, serverContext } from './context.js';
import type { ObjectInstance, ResourceBehaviour } from './instance.js';
import type { ObjectTree } from './object-tree.js';
import { Observations, type ObserveSink } from './observations.js';
import type { DeviceResponse } from './request.js';
import { serverAccounts, type ServerAccount } from './operations/bootstrap-finish.js';
import type { DeviceEnv } from './operations/env.js';
import { readNode } from './operations/read.js';
import { streamedWriteHandler } from './operations/write-stream.js';
import { FirmwareObject } from './objects/firmware.js';
import { ServerSession, type SessionState } from './registration.js';
import { dmOperationOf, handleBootstrapRequest, handleDmRequest, type DmOperation, type RoutedResponse } from './router.js';

export interface ClientOptions {
  /** Endpoint Client Name (`ep`). */
  endpoint: string;
  lwm2mVersion?: '1.0' | '1.1';
  /** The device's objects, including Security (0) and Server (1) instances from factory configuration. */
  tree: ObjectTree;
  connections: ConnectionFactory;
  clock?: Clock;
  logger?: Logger;
  /** Queue mode: sleep after this many seconds without traffic (LwM2M-TS-Transport 1.1 §6.5; default 93). */
  queueModeTimeoutS?: number;
  /** How long to wait for Bootstrap-Finish after Bootstrap-Request (default 60 s). */
  bootstrapTimeoutS?: number;
  /** Preferred content format for Read responses without Accept (else text/TLV). */
  preferredFormat?: number;
  /** Content formats announced at registration (1.1). */
  supportedContentFormats?: readonly number[];
  /** The device's MSISDN: `sms=` of Register/Update when the binding includes S (1.0.2 §5.3.1). */
  msisdn?: string;
}

export interface RequestInfo {
  readonly shortServerId: number | undefined;
  readonly operation: DmOperation | 'bootstrap';
  readonly method: string;
  readonly path: string;
  readonly code: string;
  /** Time spent answering, ms. */
  readonly ms: number;
}

export interface ClientEvents {
  bootstrapped: [];
  registered: [shortServerId: number];
  deregistered: [shortServerId: number];
  state: [shortServerId: number, state: SessionState];
  failed: [shortServerId: number | undefined, error: unknown];
  exchange: [op: string, ms: number, code: string];
  /** A request from a server was answered (DM operations and bootstrap operations). */
  request: [info: RequestInfo];
  notification: [shortServerId: number, bytes: number];
  asleep: [shortServerId: number, asleep: boolean];
}

/** Security Mode /0/x/2 (LwM2M-TS-Core 1.1 §E.1): 0 PSK, 1 RPK, 2 Certificate, 3 NoSec, 4 Cert+EST. */
function securityOf(sec: ObjectInstance): ConnectionSecurity {
  const mode = sec.get(2);
  if (mode === 0) {
    const id = sec.get(3);
    const key = sec.get(5);
    if (!(id instanceof Uint8Array) || !(key instanceof Uint8Array)) {
      throw new LwM2MError('BAD_REQUEST', `Security /0/${sec.id}: PSK mode needs identity (/3) and key (/5)`);
    }
    return { mode: 'psk', identity: Buffer.from(id).toString('utf8'), key };
  }
  if (mode === undefined || mode === 3) return { mode: 'nosec' };
  throw new LwM2MError('BAD_REQUEST', `Security /0/${sec.id}: security mode ${String(mode)} is not supported (PSK and NoSec are)`);
}

/**
 * Notification Storing When Disabled or Offline (/1/x/6, LwM2M-TS-Core 1.1 §E.2): at most this many
 * notifications are kept per server account; beyond it the oldest is dropped (the spec sets no bound).
 */
export const MAX_STORED_NOTIFICATIONS = 64;

interface StoredNotification {
  readonly sink: ObserveSink;
  readonly response: DeviceResponse;
}

const DEFAULT_CT = [
  ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.CBOR, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR,
  ContentFormat.TLV, ContentFormat.OMA_JSON, ContentFormat.LWM2M_CBOR,
];

/**
 * An LwM2M 1.1 client: bootstraps when it has no usable server account, registers with every DM server
 * (each request authorised by that server's short id), answers DM requests, notifies, sends, sleeps in
 * queue mode, and de-registers on stop.
 */
export class LwM2MClient extends EventEmitter<ClientEvents> {
  readonly endpoint: string;
  readonly lwm2mVersion: '1.0' | '1.1';
  readonly tree: ObjectTree;
  readonly clock: Clock;
  readonly observations: Observations;
  readonly env: DeviceEnv;
  private readonly sessions = new Map<number, ServerSession>();
  // Per-server state below is allocated on first use: an idle registered device holds none of it
  // (bench:client keeps 10 000 devices in one process).
  private sleepTimers: Map<number, TimerHandle> | undefined;
  private asleep: Set<number> | undefined;
  /** Servers the device has no connectivity to (goOffline), by short server id. */
  private offline: Set<number> | undefined;
  /** Servers being disabled by /1/x/4 (until registered again): their observations survive when /1/x/6 is true. */
  private disabling: Set<number> | undefined;
  /** Notifications held back while disabled/offline (/1/x/6 true), oldest first, per server. */
  private stored: Map<number, StoredNotification[]> | undefined;
  private logger: Logger | undefined;
  /** Executes of the Server object (/1/x/4, 8, 9), one behaviour each for every account of this client. */
  private serverExecutes: readonly (readonly [number, ResourceBehaviour])[] | undefined;
  private bootstrapConn: ServerConnection | undefined;
  private running = false;
  private updateScheduled = false;

  constructor(private readonly opts: ClientOptions) {
    super();
    this.endpoint = opts.endpoint;
    this.lwm2mVersion = opts.lwm2mVersion ?? '1.1';
    this.tree = opts.tree;
    this.clock = opts.clock ?? systemClock;
    this.observations = new Observations(this.clock);
    this.env = new ClientEnv(this.tree, new AccessControl(this.tree), opts.preferredFormat);
    this.tree.on('change', (path) => {
      this.observations.changed(path);
      // Lifetime or binding written → Update (LwM2M-TS-Core 1.1 §6.2.2).
      if (path.objectId === 1 && (path.resourceId === 1 || path.resourceId === 7)) this.scheduleUpdateAll();
    });
    this.tree.on('instances', () => this.scheduleUpdateAll());
    // Firmware pull over CoAP(S) (/5/0/1) opens its connections like the device's own (§E.6).
    const firmware = this.tree.object(5);
    if (firmware instanceof FirmwareObject) firmware.useConnections(opts.connections);
    // Reboot (/3/0/4) and Factory Reset (/3/0/5) when the Device object has no behaviour of its own:
    // answer the Execute first (LwM2M-TS-Core 1.1 §E.4), then restart / re-bootstrap.
    const device = this.tree.object(3)?.instance(0);
    if (device && !device.has(4)) {
      device.behave(4, { execute: () => { this.clock.setTimeout(() => void this.reboot(), 0); } });
    }
    if (device && device.model.resources.has(5) && !device.has(5)) {
      device.behave(5, { execute: () => { this.clock.setTimeout(() => void this.rebootstrap(), 0); } });
    }
  }

  /** This client's logger (a child with `ep`, made on first use: pino children cost heap per device). */
  get log(): Logger {
    this.logger ??= (this.opts.logger ?? silentLogger).child({ ep: this.endpoint });
    return this.logger;
  }

  /**
   * Reboot: drop every session without De-register (a rebooting device just goes away), then start
   * again — a fresh Register to every server. `downtimeMs` simulates the boot time.
   */
  async reboot(downtimeMs = 0): Promise<void> {
    await this.stop({ deregister: false });
    if (downtimeMs > 0) await new Promise<void>((r) => this.clock.setTimeout(r, downtimeMs));
    await this.start();
  }

  /** Registered sessions by short server id. */
  session(shortServerId: number): ServerSession | undefined {
    return this.sessions.get(shortServerId);
  }

  sessionList(): ServerSession[] {
    return [...this.sessions.values()];
  }

  isRunning(): boolean {
    return this.running;
  }

  /** Starts: registers with every usable server account, bootstrapping first when there is none. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (serverAccounts(this.env).length === 0) {
      await this.bootstrap();
    }
    await this.registerAll();
  }

  /** Stops: de-registers from every server (unless told not to), closes every connection. */
  async stop(options: { deregister?: boolean } = {}): Promise<void> {
    this.running = false;
    this.observations.cancelAll();
    this.stored = undefined;
    this.disabling = undefined;
    this.offline = undefined;
    for (const t of this.sleepTimers?.values() ?? []) t.cancel();
    this.sleepTimers = undefined;
    await Promise.all([...this.sessions.values()].map(async (s) => {
      await s.stop(options.deregister ?? true);
      await s.connection.close();
    }));
    this.sessions.clear();
    await this.bootstrapConn?.close();
    this.bootstrapConn = undefined;
  }

  /** Registers with every server account that has no session yet. */
  async registerAll(): Promise<void> {
    const accounts = serverAccounts(this.env);
    if (accounts.length === 0) throw new LwM2MError('NOT_FOUND', 'no usable server account to register with');
    // Registration Priority Order (/1/x/13): lower first; then by short server id.
    accounts.sort((a, b) => registrationPriority(a.server) - registrationPriority(b.server));
    await Promise.all(accounts.filter((a) => !this.sessions.has(a.shortServerId)).map((a) => this.attach(a)));
  }

  /** Connects to one server account and registers; the closures of one session share this one scope. */
  private async attach(a: ServerAccount): Promise<void> {
    const uri = a.security.get(0) as string;
    const conn = await this.opts.connections.connect(uri, securityOf(a.security));
    const ssid = a.shortServerId;
    const ctx = serverContext(ssid);
    conn.onRequest((req, sink) => {
      this.activity(ssid);
      const wrapped = sink ? this.wrapSink(ssid, sink) : undefined;
      if (this.listenerCount('request') === 0) return handleDmRequest(this.env, this.observations, ctx, req, wrapped);
      const t0 = this.clock.now();
      const done = (res: RoutedResponse): RoutedResponse => {
        this.emit('request', {
          shortServerId: ssid, operation: dmOperationOf(req), method: req.method, path: `/${req.uriPath.join('/')}`,
          code: res.code, ms: this.clock.now() - t0,
        });
        return res;
      };
      const answer = handleDmRequest(this.env, this.observations, ctx, req, wrapped);
      return answer instanceof Promise ? answer.then(done) : done(answer);
    });
    // Block-wise Writes of streamable resources (the firmware Package /5/0/0) arrive block by block.
    conn.onBlockwiseRequest?.(streamedWriteHandler(this.env, ctx, {
      onBlock: () => this.activity(ssid),
      onDone: (path, code, ms) => this.emit('request', { shortServerId: ssid, operation: 'write', method: 'PUT', path, code, ms }),
    }, () => this.clock.now()));
    const session = new ServerSession({
      endpoint: this.endpoint,
      lwm2mVersion: this.lwm2mVersion,
      clock: this.clock,
      log: () => this.log.child({ ssid }),
      tree: this.tree,
      server: a.server,
      connection: new ActiveConnection(this, ssid, conn),
      supportedContentFormats: this.opts.supportedContentFormats ?? DEFAULT_CT,
      ...(this.opts.msisdn !== undefined ? { msisdn: this.opts.msisdn } : {}),
      onFailure: (e) => this.onRegistrationFailure(ssid, e),
      onStateChange: (st) => {
        this.emit('state', ssid, st);
        if (st === 'registered') {
          this.emit('registered', ssid);
          // Back after Disable: report the stored notifications (/1/x/6, LwM2M-TS-Core 1.1 §E.2).
          if (this.disabling?.delete(ssid) === true && this.offline?.has(ssid) !== true) this.flushStored(ssid);
        }
        // /1/x/6 true: observations survive a Disable, their notifications are stored meanwhile.
        if ((st === 'idle' || st === 'disabled') && !(this.disabling?.has(ssid) === true && this.storesNotifications(ssid))) {
          this.observations.cancelServer(ssid);
          this.stored?.delete(ssid);
        }
      },
      onExchange: (op, ms, code) => this.emit('exchange', op, ms, code),
    });
    this.sessions.set(ssid, session);
    // Server executes (resources 4, 8 and, from Server 1.1 on, 9) drive this session.
    for (const [rid, behaviour] of this.serverExecuteBehaviours()) {
      if (a.server.model.resources.has(rid)) a.server.behave(rid, behaviour);
    }
    await session.start();
  }

  /**
   * The executes of the Server object, made once per client and shared by its accounts: each finds its
   * session by the executed instance's Short Server ID (/1/x/0).
   */
  private serverExecuteBehaviours(): readonly (readonly [number, ResourceBehaviour])[] {
    this.serverExecutes ??= [
      // Disable (LwM2M-TS-Core 1.1 §E.2 /1/x/4): "MUST send response of the operation and perform
      // de-registration process" — answer the Execute first, de-register after.
      [4, {
        execute: (_args, _ctx, inst) => {
          const ssid = ssidOf(inst);
          const session = this.sessions.get(ssid);
          if (!session) return;
          (this.disabling ??= new Set()).add(ssid);
          this.clock.setTimeout(() => {
            if (this.running && this.sessions.get(ssid) === session) void session.disable();
          }, 0);
        },
      }],
      [8, { execute: (_args, _ctx, inst) => { void this.sessions.get(ssidOf(inst))?.update(); } }],
      // Answer the Execute first, then de-register and bootstrap (as for Reboot and Disable, §E.2).
      [9, { execute: () => { this.clock.setTimeout(() => { if (this.running) void this.rebootstrap(); }, 0); } }],
    ];
    return this.serverExecutes;
  }

  /** @internal A request to a server is about to go out (ActiveConnection): wake up (queue mode). */
  beforeRequest(ssid: number, conn: ServerConnection): void {
    this.wake(ssid, conn);
  }

  /** @internal A request to a server ended (ActiveConnection): traffic counts as activity (queue mode). */
  afterRequest(ssid: number): void {
    this.activity(ssid);
  }

  private wrapSink(ssid: number, sink: ObserveSink): ObserveSink {
    return {
      notify: (r) => {
        if (this.heldBack(ssid)) {
          this.store(ssid, sink, r);
          return;
        }
        this.deliver(ssid, sink, r);
      },
      end: () => sink.end(),
      ...(sink.onEnd ? { onEnd: (l: () => void) => sink.onEnd?.(l) } : {}),
    };
  }

  private deliver(ssid: number, sink: ObserveSink, r: DeviceResponse): void {
    const session = this.sessions.get(ssid);
    if (session) this.wake(ssid, session.connection);
    this.activity(ssid);
    this.emit('notification', ssid, r.payload?.length ?? 0);
    sink.notify(r);
  }

  /** Notifications to this server wait: the device is offline, or the account is disabled (/1/x/4). */
  private heldBack(ssid: number): boolean {
    if (this.offline?.has(ssid) === true) return true;
    const st = this.sessions.get(ssid)?.state;
    return this.disabling?.has(ssid) === true && st !== 'registered' && st !== 'updating';
  }

  /** /1/x/6 Notification Storing When Disabled or Offline (default true, LwM2M-TS-Core 1.1 §E.2). */
  private storesNotifications(ssid: number): boolean {
    return this.tree.object(1)?.instanceList().find((s) => s.get(0) === ssid)?.get(6) !== false;
  }

  /** Stores (bounded, oldest dropped) or, with /1/x/6 false, drops a notification held back. */
  private store(ssid: number, sink: ObserveSink, response: DeviceResponse): void {
    if (!this.storesNotifications(ssid)) return;
    this.stored ??= new Map();
    let q = this.stored.get(ssid);
    if (!q) this.stored.set(ssid, (q = []));
    q.push({ sink, response });
    if (q.length > MAX_STORED_NOTIFICATIONS) q.splice(0, q.length - MAX_STORED_NOTIFICATIONS);
  }

  /** Sends the stored notifications of one server, oldest first. */
  private flushStored(ssid: number): void {
    const q = this.stored?.get(ssid);
    this.stored?.delete(ssid);
    for (const n of q ?? []) this.deliver(ssid, n.sink, n.response);
  }

  /** Notifications stored for a server while it is disabled or the device is offline. */
  storedNotifications(ssid: number): number {
    return this.stored?.get(ssid)?.length ?? 0;
  }

  /**
   * The device loses connectivity towards one server (or all): incoming datagrams are dropped and
   * notifications are stored or dropped per /1/x/6 until {@link goOnline}. Registration timers keep running.
   */
  goOffline(ssid?: number): void {
    for (const s of this.sessions.values()) {
      if (ssid !== undefined && s.shortServerId !== ssid) continue;
      (this.offline ??= new Set()).add(s.shortServerId);
      s.connection.setAsleep(true);
    }
  }

  /** Connectivity is back: Update (the address may have changed), then report the stored notifications in order. */
  async goOnline(ssid?: number): Promise<void> {
    await Promise.all([...this.sessions.values()].map(async (s) => {
      const id = s.shortServerId;
      if ((ssid !== undefined && id !== ssid) || this.offline?.delete(id) !== true) return;
      if (this.asleep?.has(id) !== true) s.connection.setAsleep(false);
      await s.update();
      if (s.state === 'registered') this.flushStored(id);
    }));
  }

  private wake(ssid: number, conn: ServerConnection): void {
    if (this.asleep?.delete(ssid) === true) {
      if (this.offline?.has(ssid) !== true) conn.setAsleep(false);
      this.emit('asleep', ssid, false);
    }
  }

  /** Queue mode: after queueModeTimeoutS without traffic, stop listening (LwM2M-TS-Transport 1.1 §6.5). */
  private activity(ssid: number): void {
    const session = this.sessions.get(ssid);
    if (!session || !session.queueMode()) return;
    this.sleepTimers ??= new Map();
    this.sleepTimers.get(ssid)?.cancel();
    const timeoutS = this.opts.queueModeTimeoutS ?? 93;
    this.sleepTimers.set(ssid, this.clock.setTimeout(() => {
      this.sleepTimers?.delete(ssid);
      if (!this.running) return;
      (this.asleep ??= new Set()).add(ssid);
      session.connection.setAsleep(true);
      this.emit('asleep', ssid, true);
    }, timeoutS * 1000));
  }

  isAsleep(ssid: number): boolean {
    return this.asleep?.has(ssid) === true;
  }

  /** Puts the device to sleep now (scenario step `sleep`). */
  sleep(ssid?: number): void {
    for (const s of this.sessions.values()) {
      if (ssid !== undefined && s.shortServerId !== ssid) continue;
      this.sleepTimers?.get(s.shortServerId)?.cancel();
      (this.asleep ??= new Set()).add(s.shortServerId);
      s.connection.setAsleep(true);
      this.emit('asleep', s.shortServerId, true);
    }
  }

  /** Wakes and sends an Update (scenario step `wake`; what a real device does when it wakes). */
  async wakeUp(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.update()));
  }

  private scheduleUpdateAll(): void {
    if (this.updateScheduled || !this.running) return;
    this.updateScheduled = true;
    queueMicrotask(() => {
      this.updateScheduled = false;
      for (const s of this.sessions.values()) if (s.state === 'registered') void s.update();
    });
  }

  private onRegistrationFailure(ssid: number, error: unknown): void {
    this.emit('failed', ssid, error);
    const server = this.sessions.get(ssid);
    // /1/x/16 Bootstrap on Registration Failure (default true, LwM2M-TS-Core 1.1 §E.2).
    const bsOnFailure = this.tree.object(1)?.instanceList().find((s) => s.get(0) === ssid)?.get(16);
    if (server && bsOnFailure !== false && this.bootstrapAccount()) void this.rebootstrap();
  }

  private bootstrapAccount(): ObjectInstance | undefined {
    return this.tree.object(0)?.instanceList().find((s) => s.get(1) === true);
  }

  /** Bootstrap-Request Trigger (/1/x/9), registration failure, Factory Reset: bootstrap, then register again. */
  async rebootstrap(): Promise<void> {
    for (const s of this.sessions.values()) {
      await s.stop(true);
      await s.connection.close();
    }
    this.sessions.clear();
    this.observations.cancelAll();
    await this.bootstrap();
    await this.registerAll();
  }

  /**
   * Client-initiated bootstrap (LwM2M-TS-Core 1.1 §6.1.4): POST /bs?ep=[&pct=] to the Bootstrap-Server,
   * then serve its Write/Delete/Discover/Read until Bootstrap-Finish (or time out).
   */
  async bootstrap(): Promise<void> {
    const account = this.bootstrapAccount();
    if (!account) throw new LwM2MError('NOT_FOUND', 'no Bootstrap-Server account (/0/x/1 = true) and no server account');
    const uri = account.get(0);
    if (typeof uri !== 'string') throw new LwM2MError('BAD_REQUEST', `Bootstrap-Server URI /0/${account.id}/0 is not set`);
    const conn = await this.opts.connections.connect(uri, securityOf(account));
    this.bootstrapConn = conn;
    const timeoutS = this.opts.bootstrapTimeoutS ?? 60;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = this.clock.setTimeout(() => reject(new LwM2MError('TIMEOUT', `no Bootstrap-Finish within ${timeoutS} s`)), timeoutS * 1000);
        conn.onRequest(async (req) => {
          const t0 = this.clock.now();
          const res = await handleBootstrapRequest(this.env, req, this.lwm2mVersion);
          this.emit('request', {
            shortServerId: undefined, operation: 'bootstrap', method: req.method, path: `/${req.uriPath.join('/')}`,
            code: res.code, ms: this.clock.now() - t0,
          });
          if (res.finished) {
            timer.cancel();
            // Answer first, then go on (the transport sends the response when this resolves).
            setImmediate(resolve);
          } else if (req.method === 'POST' && req.uriPath.length === 1 && req.uriPath[0] === 'bs') {
            // Bootstrap-Finish refused (4.06, LwM2M-TS-Core 1.1 §6.1.7.6): this bootstrap failed.
            timer.cancel();
            const why = res.payload ? new TextDecoder().decode(res.payload) : res.code;
            setImmediate(() => reject(new LwM2MError('NOT_ACCEPTABLE', `Bootstrap-Finish refused: ${why}`)));
          }
          return res;
        });
        const query = [`ep=${this.endpoint}`];
        if (this.opts.preferredFormat !== undefined && this.lwm2mVersion === '1.1') query.push(`pct=${this.opts.preferredFormat}`);
        conn.request({ method: 'POST', uriPath: ['bs'], uriQuery: query }).then((res) => {
          if (res.code !== '2.04') {
            timer.cancel();
            reject(new LwM2MError('BAD_REQUEST', `Bootstrap-Request answered ${res.code}`));
          }
        }, (e: unknown) => {
          timer.cancel();
          reject(e);
        });
      });
      this.emit('bootstrapped');
    } finally {
      this.bootstrapConn = undefined;
      await conn.close();
    }
  }

  /**
   * Send (LwM2M-TS-Core 1.1 §6.4.7): POST /dp with the values of `paths` (or given records) to one
   * server (default: every registered server that has not muted Send, /1/x/23).
   */
  async send(paths: readonly LwM2MPath[] | readonly PathValue[], options: { shortServerId?: number; format?: number } = {}): Promise<string[]> {
    if (this.lwm2mVersion === '1.0') throw new LwM2MError('METHOD_NOT_ALLOWED', 'Send is an LwM2M 1.1 operation');
    const format = options.format ?? ContentFormat.SENML_CBOR;
    const records: PathValue[] = isRecords(paths)
      ? [...paths]
      : paths.flatMap((p) => nodeToRecords(p, readNode(this.env, INTERNAL_CONTEXT, p)).map((r) => ({ ...r, time: Math.floor(this.clock.now() / 1000) })));
    const payload = encodeRecords(format, records, this.tree);
    const out: string[] = [];
    for (const s of this.sessions.values()) {
      if (options.shortServerId !== undefined && s.shortServerId !== options.shortServerId) continue;
      if (s.state !== 'registered') continue;
      const muted = this.tree.object(1)?.instanceList().find((i) => i.get(0) === s.shortServerId)?.get(23);
      if (muted === true) continue;
      const res = await s.connection.request({ method: 'POST', uriPath: ['dp'], payload, contentFormat: format });
      out.push(res.code);
    }
    return out;
  }
}

function isRecords(v: readonly LwM2MPath[] | readonly PathValue[]): v is readonly PathValue[] {
  return v.length > 0 && 'value' in (v[0] as object);
}

/** What the operations see of this device; a class, so a device holds one small object and no closures. */
class ClientEnv implements DeviceEnv {
  /** Write-Attributes per server, made on the first Write-Attributes/Observe of that server. */
  private stores: Map<number, AttributeStore> | undefined;

  constructor(readonly tree: ObjectTree, readonly access: AccessControl, private readonly preferred: number | undefined) {}

  attributesFor(shortServerId: number): AttributeStore {
    this.stores ??= new Map();
    let s = this.stores.get(shortServerId);
    if (!s) this.stores.set(shortServerId, (s = new AttributeStore()));
    return s;
  }

  preferredFormat(): number | undefined {
    return this.preferred;
  }
}

/** Wraps a connection so every outgoing request wakes the device and counts as activity (queue mode). */
class ActiveConnection implements ServerConnection {
  constructor(private readonly client: LwM2MClient, private readonly ssid: number, private readonly conn: ServerConnection) {}

  async request(req: OutgoingRequest): Promise<IncomingResponse> {
    this.client.beforeRequest(this.ssid, this.conn);
    try {
      return await this.conn.request(req);
    } finally {
      this.client.afterRequest(this.ssid);
    }
  }

  onRequest(handler: IncomingHandler): void {
    this.conn.onRequest(handler);
  }

  setAsleep(asleep: boolean): void {
    this.conn.setAsleep(asleep);
  }

  get localPort(): number {
    return this.conn.localPort;
  }

  setFaults(faults: SocketFaults | undefined): void {
    this.conn.setFaults?.(faults);
  }

  async rebind(): Promise<void> {
    await this.conn.rebind?.();
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/** Short Server ID /1/x/0 of a Server instance (−1 when unset). */
function ssidOf(server: ObjectInstance): number {
  const v = server.get(0);
  return typeof v === 'number' ? v : -1;
}

/** Registration Priority Order /1/x/13 (LwM2M-TS-Core 1.1 §E.2): lower first; unset last. */
function registrationPriority(server: ObjectInstance): number {
  const v = server.get(13);
  return typeof v === 'number' ? v : 65535;
}
