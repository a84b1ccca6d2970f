import type { Clock, TimerHandle } from '../core/clock.js';
import { LwM2MError, isLwM2MError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { ContentFormat } from '../codec/content-format.js';
import { formatRegistrationLinks } from '../codec/link.js';
import { bindingQuery, parseBinding } from './binding.js';
import type { IncomingResponse, ServerConnection } from './connection.js';
import type { ObjectTree } from './object-tree.js';
import type { ObjectInstance } from './instance.js';

const utf8 = new TextEncoder();

/** RFC 7252 §4.8.2 MAX_TRANSMIT_WAIT with default parameters (93 s). */
export const MAX_TRANSMIT_WAIT_S = 93;

export type SessionState = 'idle' | 'registering' | 'registered' | 'updating' | 'deregistering' | 'disabled' | 'failed' | 'stopped';

export interface SessionOptions {
  endpoint: string;
  lwm2mVersion: '1.0' | '1.1';
  clock: Clock;
  /** A logger, or a function making one on first use (a pino child per session costs heap per device). */
  log: Logger | (() => Logger);
  tree: ObjectTree;
  /** The Server object instance of this account (its resources drive lifetime, binding, retries). */
  server: ObjectInstance;
  connection: ServerConnection;
  /** Content formats announced in the registration root link (1.1). */
  supportedContentFormats?: readonly number[];
  /** The client's MSISDN, sent as `sms=` when the binding includes S (the SMS channel itself is not simulated). */
  msisdn?: string;
  /** Called when every registration attempt sequence failed (the client may fall back to bootstrap). */
  onFailure?: (error: unknown) => void;
  onStateChange?: (state: SessionState) => void;
  /** Metrics hook: one per Register/Update/De-register round trip. */
  onExchange?: (op: 'register' | 'update' | 'deregister', ms: number, code: string) => void;
}

/** Resource ids of the Server object (LwM2M-TS-Core 1.1 Appendix E.2). */
const R = {
  SSID: 0, LIFETIME: 1, DISABLE_TIMEOUT: 5, BINDING: 7, RETRY_COUNT: 17, RETRY_TIMER: 18,
  SEQUENCE_DELAY: 19, SEQUENCE_RETRY_COUNT: 20,
} as const;

/**
 * The objects link payloads sent, shared: thousands of devices of one model register the same text, and
 * each session keeps the last one sent (to see whether an Update must carry it). Bounded.
 */
const sentLinkTexts = new Map<string, string>();
const MAX_SHARED_LINK_TEXTS = 1024;
function shareLinks(text: string): string {
  const known = sentLinkTexts.get(text);
  if (known !== undefined) return known;
  if (sentLinkTexts.size < MAX_SHARED_LINK_TEXTS) sentLinkTexts.set(text, text);
  return text;
}

function num(inst: ObjectInstance, rid: number, fallback: number): number {
  const v = inst.get(rid);
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : fallback;
}

/**
 * Registration with one LwM2M server (LwM2M-TS-Core 1.1 §6.2): Register, periodic Update before the
 * lifetime expires, Update on changes, re-Register on 4.04, De-register; the retry schedule of §6.2.1.1
 * driven by Server resources 17–20; Disable (/1/x/4) for Disable Timeout (/1/x/5).
 */
export class ServerSession {
  state: SessionState = 'idle';
  private location: readonly string[] | undefined;
  private updateTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private sentLifetime = 0;
  private sentBinding = '';
  private sentLinks = '';
  private pendingUpdate: Promise<void> | undefined;
  private generation = 0;
  private logger: Logger | undefined;
  private queueModeOf: string | undefined;
  private queueModeFlag = false;

  constructor(private readonly opts: SessionOptions) {}

  private get log(): Logger {
    const l = this.opts.log;
    this.logger ??= typeof l === 'function' ? l() : l;
    return this.logger;
  }

  get shortServerId(): number {
    return num(this.opts.server, R.SSID, 0);
  }

  get registrationLocation(): readonly string[] | undefined {
    return this.location;
  }

  get connection(): ServerConnection {
    return this.opts.connection;
  }

  private stopped(): boolean {
    return this.state === 'stopped';
  }

  private setState(s: SessionState): void {
    if (this.state === s) return;
    this.state = s;
    this.opts.onStateChange?.(s);
  }

  lifetime(): number {
    return num(this.opts.server, R.LIFETIME, 86400);
  }

  binding(): string {
    const b = this.opts.server.get(R.BINDING);
    return typeof b === 'string' && b !== '' ? b : 'U';
  }

  /** Queue mode of the current binding; asked on every request (client activity), so parsed once per binding. */
  queueMode(): boolean {
    const b = this.binding();
    if (b !== this.queueModeOf) {
      this.queueModeFlag = parseBinding(b).queueMode;
      this.queueModeOf = b;
    }
    return this.queueModeFlag;
  }

  /** The objects link payload (Security /0 is never listed, §6.2.1). */
  links(): string {
    const objects = this.opts.tree.objectList()
      .filter((o) => o.id !== 0)
      .map((o) => ({ objectId: o.id, ...(o.model.version !== '1.0' ? { version: o.model.version } : {}), instances: o.instanceIds() }));
    const cts = this.opts.lwm2mVersion === '1.1' ? this.opts.supportedContentFormats ?? [] : [];
    return formatRegistrationLinks({ objects, supportedContentFormats: cts });
  }

  /** Starts registering with the retry schedule; resolves once registered or after all sequences failed. */
  async start(): Promise<void> {
    this.generation++;
    const gen = this.generation;
    const retryCount = Math.max(1, num(this.opts.server, R.RETRY_COUNT, 5));
    const retryTimerS = num(this.opts.server, R.RETRY_TIMER, 60);
    const sequenceDelayS = num(this.opts.server, R.SEQUENCE_DELAY, 86400);
    const sequences = Math.max(1, num(this.opts.server, R.SEQUENCE_RETRY_COUNT, 1));
    let lastError: unknown;
    for (let seq = 0; seq < sequences; seq++) {
      if (seq > 0) await this.wait(sequenceDelayS * 1000, gen);
      for (let attempt = 0; attempt < retryCount; attempt++) {
        if (gen !== this.generation || this.stopped()) return;
        // §6.2.1.1: the wait between attempts doubles: timer × 2^(attempt−1).
        if (attempt > 0) await this.wait(retryTimerS * 1000 * 2 ** (attempt - 1), gen);
        if (gen !== this.generation || this.stopped()) return;
        try {
          await this.register();
          return;
        } catch (e) {
          lastError = e;
          this.log.warn({ err: errText(e), attempt: attempt + 1, sequence: seq + 1 }, 'register failed');
        }
      }
    }
    this.setState('failed');
    this.opts.onFailure?.(lastError);
  }

  private wait(ms: number, gen: number): Promise<void> {
    return new Promise((resolve) => {
      this.retryTimer = this.opts.clock.setTimeout(resolve, ms);
      if (gen !== this.generation) resolve();
    });
  }

  /** One Register exchange (§6.2.1): POST /rd?ep=&lt=&lwm2m=&b=[&Q][&sms=] with the objects links. */
  async register(): Promise<void> {
    this.setState('registering');
    const lt = this.lifetime();
    const binding = parseBinding(this.binding());
    const links = this.links();
    const query = [`ep=${this.opts.endpoint}`, `lt=${lt}`, `lwm2m=${this.opts.lwm2mVersion}`, ...bindingQuery(binding, this.opts.lwm2mVersion, this.opts.msisdn)];
    const res = await this.exchange('register', {
      method: 'POST', uriPath: ['rd'], uriQuery: query, payload: utf8.encode(links), contentFormat: ContentFormat.LINK,
    });
    if (res.code !== '2.01') {
      this.setState('idle');
      throw new LwM2MError('BAD_REQUEST', `Register answered ${res.code}${diag(res)}`);
    }
    if (res.locationPath.length === 0) throw new LwM2MError('BAD_REQUEST', 'Register answered 2.01 without Location-Path');
    this.location = res.locationPath;
    this.sentLifetime = lt;
    this.sentBinding = this.binding();
    this.sentLinks = shareLinks(links);
    this.setState('registered');
    this.scheduleUpdate();
  }

  /** When the periodic Update is due: lifetime − min(lifetime/2, MAX_TRANSMIT_WAIT), as Anjay does. */
  updateDelayMs(): number {
    const lt = this.lifetime();
    return Math.max(1, lt - Math.min(lt / 2, MAX_TRANSMIT_WAIT_S)) * 1000;
  }

  private scheduleUpdate(): void {
    this.updateTimer?.cancel();
    this.updateTimer = this.opts.clock.setTimeout(() => {
      this.updateTimer = undefined;
      void this.update().catch(() => undefined);
    }, this.updateDelayMs());
  }

  /**
   * Update (§6.2.2): lt/b only when changed, the objects payload only when the objects changed.
   * 4.04 → Register again; a timeout → the retry schedule again.
   */
  update(): Promise<void> {
    if (this.pendingUpdate) return this.pendingUpdate;
    const run = async (): Promise<void> => {
      if (!this.location || (this.state !== 'registered' && this.state !== 'updating')) return;
      this.setState('updating');
      const query: string[] = [];
      const lt = this.lifetime();
      if (lt !== this.sentLifetime) query.push(`lt=${lt}`);
      const b = this.binding();
      if (b !== this.sentBinding) query.push(...bindingQuery(parseBinding(b), this.opts.lwm2mVersion, this.opts.msisdn));
      const links = this.links();
      const withPayload = links !== this.sentLinks;
      try {
        const res = await this.exchange('update', {
          method: 'POST', uriPath: this.location, uriQuery: query,
          ...(withPayload ? { payload: utf8.encode(links), contentFormat: ContentFormat.LINK } : {}),
        });
        if (res.code === '2.04') {
          this.sentLifetime = lt;
          this.sentBinding = b;
          this.sentLinks = shareLinks(links);
          this.setState('registered');
          this.scheduleUpdate();
          return;
        }
        this.log.info({ code: res.code }, 'update refused, registering again');
      } catch (e) {
        this.log.warn({ err: errText(e) }, 'update failed, registering again');
      }
      this.location = undefined;
      this.setState('idle');
      void this.start();
    };
    this.pendingUpdate = run().finally(() => { this.pendingUpdate = undefined; });
    return this.pendingUpdate;
  }

  /** De-register (§6.2.3): DELETE /rd/<id>. Never throws: stopping must always complete. */
  async deregister(): Promise<void> {
    this.updateTimer?.cancel();
    this.retryTimer?.cancel();
    this.generation++;
    const location = this.location;
    this.location = undefined;
    if (!location) return;
    this.setState('deregistering');
    try {
      await this.exchange('deregister', { method: 'DELETE', uriPath: location });
    } catch (e) {
      this.log.warn({ err: errText(e) }, 'de-register failed');
    }
    this.setState('idle');
  }

  /** Disable (/1/x/4, §E.2): de-register, stay silent for Disable Timeout (/1/x/5, default 86400 s). */
  async disable(): Promise<void> {
    await this.deregister();
    this.setState('disabled');
    const timeoutS = num(this.opts.server, R.DISABLE_TIMEOUT, 86400);
    const gen = this.generation;
    this.retryTimer = this.opts.clock.setTimeout(() => {
      if (gen === this.generation && this.state === 'disabled') void this.start();
    }, timeoutS * 1000);
  }

  async stop(deregister = true): Promise<void> {
    if (deregister) await this.deregister();
    this.updateTimer?.cancel();
    this.retryTimer?.cancel();
    this.generation++;
    this.setState('stopped');
  }

  private async exchange(op: 'register' | 'update' | 'deregister', req: Parameters<ServerConnection['request']>[0]): Promise<IncomingResponse> {
    const t0 = this.opts.clock.now();
    try {
      const res = await this.opts.connection.request(req);
      this.opts.onExchange?.(op, this.opts.clock.now() - t0, res.code);
      return res;
    } catch (e) {
      this.opts.onExchange?.(op, this.opts.clock.now() - t0, isLwM2MError(e) ? e.coapCode : 'error');
      throw e;
    }
  }
}

function diag(res: IncomingResponse): string {
  if (res.payload.length === 0) return '';
  return `: ${new TextDecoder().decode(res.payload.subarray(0, 200))}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
