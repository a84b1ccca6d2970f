/**
 * Applies a ThingsBoard profile on a running LwM2M server, through its public API only (events and DM
 * operations): after each Register (and each Update that changes the object list) it runs the planned
 * operations of {@link planProfileOperations} one after the other, and it turns every value that comes
 * back — read results, the first answer of an Observe, notifications, Sends — into named attributes
 * and telemetry in a {@link TelemetryStore}.
 */
import { EventEmitter } from 'node:events';
import { ContentFormat } from '../../../codec/content-format.js';
import { systemClock, type Clock } from '../../../core/clock.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import type { LwM2MServer, NotificationEvent, SendEvent, ServerEvents } from '../../lwm2m-server.js';
import type { OperationResult, ReadResult } from '../../operations/types.js';
import type { Registration } from '../../registration/registration.js';
import { TelemetryStore } from '../telemetry-store.js';
import { TelemetryMapper, objectVersions, planProfileOperations, type ProfileOperation, type SkippedTarget } from './applier.js';
import type { ThingsBoardProfile } from './profile.js';

type AdapterEvent = 'registered' | 'updated' | 'deregistered' | 'expired' | 'notification' | 'send';

/** The part of {@link LwM2MServer} the adapter uses (an LwM2MServer is one). */
export interface ProfileServer {
  on<K extends AdapterEvent>(event: K, listener: (...args: ServerEvents[K]) => void): unknown;
  off<K extends AdapterEvent>(event: K, listener: (...args: ServerEvents[K]) => void): unknown;
  read: LwM2MServer['read'];
  observe: LwM2MServer['observe'];
  writeAttributes: LwM2MServer['writeAttributes'];
  readComposite: LwM2MServer['readComposite'];
  observeComposite: LwM2MServer['observeComposite'];
}

export interface OperationOutcome {
  readonly kind: ProfileOperation['kind'];
  /** The path(s), comma separated for composites. */
  readonly target: string;
  readonly ok: boolean;
  /** CoAP response code, when the device answered. */
  readonly code?: string;
  readonly error?: string;
}

export interface ProfileRunReport {
  readonly endpoint: string;
  readonly registrationId: string;
  readonly startedAt: number;
  finishedAt?: number;
  /** Superseded by a newer registration of the endpoint, or the endpoint left. */
  cancelled?: boolean;
  readonly outcomes: OperationOutcome[];
  readonly skipped: readonly SkippedTarget[];
}

export interface ThingsBoardAdapterOptions {
  /** The profile of every endpoint (or use `profileFor`). */
  profile?: ThingsBoardProfile;
  /** The profile of one registration; undefined = no profile for it. Wins over `profile`. */
  profileFor?: (registration: Registration) => ThingsBoardProfile | undefined;
  store?: TelemetryStore;
  clock?: Clock;
  logger?: Logger;
  /** Timeout of each operation, ms (default: the server's). */
  timeoutMs?: number;
}

export interface ThingsBoardAdapterEvents {
  /** A run finished (or was cancelled). */
  applied: [report: ProfileRunReport];
  /** Named values were stored. */
  values: [endpoint: string, attributes: number, telemetry: number];
}

interface DeviceState {
  readonly profile: ThingsBoardProfile;
  readonly mapper: TelemetryMapper;
  versions: Map<number, string>;
  registrationId: string;
  run?: { report: ProfileRunReport; done: Promise<ProfileRunReport> };
}

/** Composite formats the adapter asks for, best first (LwM2M-TS-Core 1.1 §6.3.8: SenML or LwM2M CBOR). */
const COMPOSITE_FORMATS = [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.LWM2M_CBOR] as const;

export class ThingsBoardProfileAdapter extends EventEmitter<ThingsBoardAdapterEvents> {
  readonly store: TelemetryStore;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly devices = new Map<string, DeviceState>();
  private readonly mappers = new WeakMap<ThingsBoardProfile, TelemetryMapper>();
  private readonly detachers: Array<() => void> = [];
  private detached = false;

  constructor(private readonly server: ProfileServer, private readonly options: ThingsBoardAdapterOptions) {
    super();
    this.store = options.store ?? new TelemetryStore();
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'thingsboard-profile' });
    const listen = <K extends AdapterEvent>(event: K, fn: (...args: ServerEvents[K]) => void): void => {
      server.on(event, fn);
      this.detachers.push(() => server.off(event, fn));
    };
    listen('registered', (reg: Registration) => this.start(reg));
    listen('updated', (reg: Registration, objectsChanged: boolean) => {
      const d = this.devices.get(reg.endpoint);
      if (d) d.versions = objectVersions(reg.objectLinks.objects);
      if (objectsChanged || !d) this.start(reg);
    });
    listen('deregistered', (reg: Registration) => this.stop(reg.endpoint));
    listen('expired', (reg: Registration) => this.stop(reg.endpoint));
    listen('notification', (e: NotificationEvent) => this.ingest(e.endpoint, e.result.values));
    listen('send', (e: SendEvent) => this.ingest(e.endpoint, e.values));
  }

  private profileOf(reg: Registration): ThingsBoardProfile | undefined {
    return this.options.profileFor ? this.options.profileFor(reg) : this.options.profile;
  }

  private mapperOf(profile: ThingsBoardProfile): TelemetryMapper {
    let m = this.mappers.get(profile);
    if (!m) this.mappers.set(profile, (m = new TelemetryMapper(profile)));
    return m;
  }

  /** The last run for an endpoint (finished or not). */
  report(endpoint: string): ProfileRunReport | undefined {
    return this.devices.get(endpoint)?.run?.report;
  }

  /** Resolves when the endpoint's current run has finished (at once when there is none). */
  async whenIdle(endpoint: string): Promise<ProfileRunReport | undefined> {
    return this.devices.get(endpoint)?.run?.done;
  }

  private start(reg: Registration): void {
    if (this.detached) return;
    const profile = this.profileOf(reg);
    if (!profile) {
      this.stop(reg.endpoint);
      return;
    }
    const state: DeviceState = {
      profile, mapper: this.mapperOf(profile), versions: objectVersions(reg.objectLinks.objects), registrationId: reg.registrationId,
    };
    const previous = this.devices.get(reg.endpoint);
    if (previous?.run && previous.run.report.finishedAt === undefined) previous.run.report.cancelled = true;
    this.devices.set(reg.endpoint, state);
    const plan = planProfileOperations(profile, reg.objectLinks.objects);
    const report: ProfileRunReport = { endpoint: reg.endpoint, registrationId: reg.registrationId, startedAt: this.clock.now(), outcomes: [], skipped: plan.skipped };
    const done = this.execute(reg, state, plan.operations, report);
    state.run = { report, done };
  }

  private stop(endpoint: string): void {
    const d = this.devices.get(endpoint);
    if (d?.run && d.run.report.finishedAt === undefined) d.run.report.cancelled = true;
    this.devices.delete(endpoint);
  }

  private current(endpoint: string, state: DeviceState): boolean {
    return !this.detached && this.devices.get(endpoint) === state;
  }

  private async execute(reg: Registration, state: DeviceState, ops: readonly ProfileOperation[], report: ProfileRunReport): Promise<ProfileRunReport> {
    const ep = reg.endpoint;
    const timeout = this.options.timeoutMs;
    const format = compositeFormat(reg.supportedContentFormats);
    for (const op of ops) {
      if (!this.current(ep, state)) break;
      const target = 'path' in op ? op.path.toString() : op.paths.map((p) => p.toString()).join(',');
      try {
        let r: OperationResult | ReadResult;
        switch (op.kind) {
          case 'writeAttributes': r = await this.server.writeAttributes(ep, op.path, op.attributes, timeout); break;
          case 'read': r = await this.server.read(ep, op.path, undefined, timeout); break;
          case 'observe': r = await this.server.observe(ep, op.path); break;
          case 'readComposite': r = await this.server.readComposite(ep, op.paths, format, timeout); break;
          case 'observeComposite': r = await this.server.observeComposite(ep, op.paths, format); break;
        }
        report.outcomes.push({ kind: op.kind, target, ok: r.ok, code: r.code, ...(r.diagnostic !== undefined ? { error: r.diagnostic } : {}) });
        if ('values' in r && r.values && this.current(ep, state)) this.ingest(ep, r.values);
      } catch (e) {
        // A timeout or a de-registration mid-run: note it and go on (ThingsBoard sends them all too).
        const message = e instanceof Error ? e.message : String(e);
        report.outcomes.push({ kind: op.kind, target, ok: false, error: message });
        this.log.debug({ endpoint: ep, op: op.kind, target, err: message }, 'profile operation failed');
      }
    }
    if (!this.current(ep, state)) report.cancelled = true;
    report.finishedAt = this.clock.now();
    this.emit('applied', report);
    return report;
  }

  /** Maps values (path → value) of an endpoint with a profile into the store. */
  private ingest(endpoint: string, values: Readonly<Record<string, unknown>> | undefined): void {
    const d = this.devices.get(endpoint);
    if (!d || !values) return;
    const { attributes, telemetry } = d.mapper.map(values, d.versions);
    if (attributes.length === 0 && telemetry.length === 0) return;
    const ts = this.clock.now();
    for (const a of attributes) this.store.setAttribute(endpoint, a.key, ts, a.value);
    for (const t of telemetry) this.store.addTelemetry(endpoint, t.key, ts, t.value);
    this.emit('values', endpoint, attributes.length, telemetry.length);
  }

  /** Stops listening; runs in progress end after their current operation. */
  detach(): void {
    if (this.detached) return;
    this.detached = true;
    for (const d of this.detachers.splice(0)) d();
  }
}

function compositeFormat(supported: readonly number[]): number {
  for (const f of COMPOSITE_FORMATS) if (supported.includes(f)) return f;
  return ContentFormat.SENML_CBOR;
}
