/**
 * One firmware update of one device (LwM2M-TS-Core 1.1 §E.6, the Firmware Update state machine seen from
 * the server), as an explicit sequence of phases — the flow Cumulocity documents for LwM2M FOTA:
 *
 *   resetting    empty write to /5/0/0 (or "" to /5/0/1): the device's state machine back to Idle
 *   reading      read /5/0: State, Update Result, delivery method (/5/0/9), protocols (/5/0/8)
 *   observing    observe /5/0/3 State and /5/0/5 Update Result
 *   delivering   push: Block1 write of the image to /5/0/0 (application/octet-stream, RFC 7959 §2.5);
 *                pull: write the image URI to /5/0/1
 *   downloading  until State 2 Downloaded (or a failure Result)
 *   updating     execute /5/0/2, then until State 0 with Result 1 — across the device's restart and
 *                re-registration — and /5/0/7 PkgVersion equal to the image's version
 *
 * `waiting` interrupts any phase while the device is asleep (queue mode) or unreachable: the job waits for
 * its next Register/Update. A Register mid-job (the device restarted or moved) is a reconnect: the
 * observations are set up again, State is read again, and the job continues or delivers again.
 * Every wait is bounded by a per-step timeout on the injected Clock; notifications that get lost are made
 * up for by reading State/Result again every `pollMs`.
 *
 * Execute Update and the package URI write are not idempotent: one that got no answer may still have been
 * carried out (RFC 7252 §4.2 — the ACK was lost, or the device restarted into the new firmware before a
 * retransmission reached it). It is sent again only when State and Update Result, read afresh, show the
 * device did not act on it ({@link FotaJob.once}).
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { isLwM2MError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { LwM2MPath } from '../../core/path.js';
import type { OperationResult } from '../operations/types.js';
import type { DeviceEvent, DeviceLink } from './device-link.js';
import { FW } from './device-link.js';
import type { StoredImage } from './image-store.js';
import {
  DEFAULT_FOTA_TIMEOUTS, PROTOCOL_NUMBERS, STATE_NAMES, TERMINAL_PHASES, UPDATE_RESULT_NAMES,
  type FotaJobSnapshot, type FotaJobSpec, type FotaOutcome, type FotaOutcomeStatus, type FotaPhase, type FotaTimeouts, type ResetMechanism,
} from './types.js';

const MAX_HISTORY = 64;
/** Attempts of one DM request across timeouts and the device's absences. */
const MAX_REQUEST_ATTEMPTS = 6;
/** How a request that got no answer left the device: carried out, not carried out (safe to send again), or a reason it cannot go on. */
type Effect = 'applied' | 'not-applied' | { readonly unexpected: string };

/** Update Results that end a job as failed (§E.6); 4 (connection lost) is a redelivery while deliveries remain. */
const FAILURE_RESULTS: ReadonlySet<number> = new Set([2, 3, 5, 6, 7, 8, 9, 10, 11]);

class Cancelled extends Error {
  override readonly name = 'Cancelled';
}

/** A job-ending condition: failed (with the device's Update Result when it gave one) or timed out. */
class JobEnd extends Error {
  override readonly name = 'JobEnd';
  constructor(readonly status: Exclude<FotaOutcomeStatus, 'success' | 'cancelled'>, reason: string, readonly updateResult?: number) {
    super(reason);
  }
}

export interface FotaJobOptions {
  id: string;
  endpoint: string;
  image: StoredImage;
  spec: FotaJobSpec;
  /** Pull: the URI written to /5/0/1. */
  uri?: string;
  campaignId?: string;
  link: DeviceLink;
  /** Where the job hears about its device (default `link.subscribe`; the service fans one subscription out). */
  subscribe?: (listener: (e: DeviceEvent) => void) => () => void;
  clock: Clock;
  log?: Logger;
  /** Called on every phase change and progress step. */
  onChange?: (job: FotaJob) => void;
}

export interface CancelAnswer {
  accepted: boolean;
  reason?: string;
}

export class FotaJob {
  readonly id: string;
  readonly endpoint: string;
  readonly image: StoredImage;
  readonly spec: FotaJobSpec;
  readonly uri: string | undefined;
  readonly campaignId: string | undefined;
  readonly timeouts: Readonly<FotaTimeouts>;
  readonly resetMechanism: ResetMechanism;
  readonly blockSize: number;
  readonly maxDeliveries: number;
  /** Resolves once the job has ended (never rejects). */
  readonly done: Promise<FotaOutcome>;

  private readonly link: DeviceLink;
  private readonly subscribe: (listener: (e: DeviceEvent) => void) => () => void;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly onChange: ((job: FotaJob) => void) | undefined;
  private phaseNow: FotaPhase = 'queued';
  private readonly history: FotaJobSnapshot['history'] = [];
  private state: number | undefined;
  private result: number | undefined;
  private pkgVersion: string | undefined;
  private bytesSent = 0;
  private deliveries = 0;
  private reconnects = 0;
  /** Register/Update/notification count: a new one means the device is reachable now. */
  private contacts = 0;
  private registrationId: string | undefined;
  /** The device registered again since the last resynchronisation. */
  private reconnected = false;
  private readonly createdAt: number;
  private finishedAt: number | undefined;
  private outcome: FotaOutcome | undefined;
  private readonly cancelController = new AbortController();
  /** Aborts the push in flight on a reconnect or the delivery timeout. */
  private pushController: AbortController | undefined;
  /** Aborts the Execute Update / package URI write in flight on a reconnect (its answer can no longer come). */
  private requestController: AbortController | undefined;
  private readonly waiters = new Set<() => void>();
  private unsubscribe: (() => void) | undefined;
  private lastPercentStep = -1;
  private resolveDone!: (o: FotaOutcome) => void;
  private started = false;

  constructor(options: FotaJobOptions) {
    this.id = options.id;
    this.endpoint = options.endpoint;
    this.image = options.image;
    this.spec = options.spec;
    this.uri = options.uri;
    this.campaignId = options.campaignId;
    this.link = options.link;
    this.subscribe = options.subscribe ?? ((l) => options.link.subscribe(l));
    this.clock = options.clock;
    this.log = (options.log ?? silentLogger).child({ ep: options.endpoint, job: options.id });
    this.onChange = options.onChange;
    this.timeouts = Object.freeze({ ...DEFAULT_FOTA_TIMEOUTS, ...stripUndefined(options.spec.timeouts ?? {}) });
    this.resetMechanism = options.spec.resetMechanism ?? (options.spec.method === 'push' ? 'package' : 'package-uri');
    this.blockSize = options.spec.blockSize ?? 512;
    this.maxDeliveries = Math.max(1, Math.min(10, options.spec.maxDeliveries ?? 3));
    this.createdAt = this.clock.now();
    this.history.push({ at: iso(this.createdAt), phase: 'queued' });
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get phase(): FotaPhase {
    return this.phaseNow;
  }

  get ended(): boolean {
    return TERMINAL_PHASES.has(this.phaseNow);
  }

  /** Starts the job (once). */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.cancelController.signal.aborted) {
      this.end({ status: 'cancelled', phase: 'queued', reason: 'cancelled before it started' });
      return;
    }
    void this.run().then((o) => this.resolveDone(o));
  }

  /**
   * Asks the job to stop. Accepted until the Update is executed; the device is then told to cancel
   * (/5/0/10 when it has it, else the reset mechanism).
   */
  cancel(reason = 'cancelled'): CancelAnswer {
    if (this.ended) return { accepted: false, reason: `the job already ended (${this.phaseNow})` };
    if (this.phaseNow === 'updating') return { accepted: false, reason: 'the device is applying the update (/5/0/2 executed); it cannot be cancelled now' };
    if (this.phaseNow === 'cancelling' || this.cancelController.signal.aborted) return { accepted: true };
    this.cancelController.abort(reason);
    if (!this.started) {
      this.started = true;
      this.end({ status: 'cancelled', phase: 'queued', reason: `${reason} before it started` });
      this.resolveDone(this.outcome as FotaOutcome);
    }
    this.pushController?.abort('cancelled');
    this.changed();
    return { accepted: true };
  }

  /** Bytes of the image the device fetched so far over CoAP (pull), from the /fw route. */
  noteServed(bytesEnd: number): void {
    if (this.ended || this.spec.method !== 'pull') return;
    if (bytesEnd > this.bytesSent) {
      this.bytesSent = Math.min(bytesEnd, this.image.size);
      this.progressed();
    }
  }

  snapshot(): FotaJobSnapshot {
    const total = this.image.size;
    const percent = this.phaseNow === 'succeeded' || (this.state === 2 && this.deliveries > 0) || this.phaseNow === 'updating'
      ? 100
      : this.spec.method === 'pull' && this.spec.protocol !== undefined && this.spec.protocol.startsWith('http') && this.bytesSent === 0
        ? null
        : Math.floor((this.bytesSent / Math.max(1, total)) * 1000) / 10;
    return {
      id: this.id,
      endpoint: this.endpoint,
      ...(this.campaignId !== undefined ? { campaignId: this.campaignId } : {}),
      image: { id: this.image.id, name: this.image.name, version: this.image.version, size: this.image.size },
      method: this.spec.method,
      ...(this.spec.method === 'pull' ? { protocol: this.spec.protocol ?? 'coap' } : {}),
      ...(this.uri !== undefined ? { uri: this.uri } : {}),
      ...(this.spec.method === 'push' ? { blockSize: this.blockSize } : {}),
      resetMechanism: this.resetMechanism,
      phase: this.phaseNow,
      ...(this.state !== undefined ? { deviceState: this.state } : {}),
      ...(this.result !== undefined ? { updateResult: this.result } : {}),
      bytesSent: this.bytesSent,
      totalBytes: total,
      percent,
      deliveries: this.deliveries,
      reconnects: this.reconnects,
      createdAt: iso(this.createdAt),
      ...(this.finishedAt !== undefined ? { finishedAt: iso(this.finishedAt) } : {}),
      ...(this.outcome ? { outcome: this.outcome } : {}),
      history: this.history.map((h) => ({ ...h })),
    };
  }

  // ---- the sequence ---------------------------------------------------------------------------------

  private async run(): Promise<FotaOutcome> {
    this.unsubscribe = this.subscribe((e) => this.onEvent(e));
    this.registrationId = this.link.registrationId(this.endpoint);
    try {
      await this.prepare();
      await this.deliverUntilDownloaded();
      await this.update();
      return this.end({
        status: 'success', phase: 'updating', updateResult: 1, updateResultName: UPDATE_RESULT_NAMES[1] as string,
        reason: `updated to ${this.image.name} ${this.image.version}`,
      });
    } catch (e) {
      if (e instanceof Cancelled || this.cancelController.signal.aborted) return this.performCancel();
      const phase = this.phaseNow;
      if (e instanceof JobEnd) {
        return this.end({
          status: e.status, phase, reason: e.message,
          ...(e.updateResult !== undefined ? { updateResult: e.updateResult, updateResultName: UPDATE_RESULT_NAMES[e.updateResult] ?? 'unknown' } : {}),
        });
      }
      this.log.warn({ err: e }, 'firmware job failed unexpectedly');
      return this.end({ status: 'failed', phase, reason: e instanceof Error ? e.message : String(e) });
    } finally {
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      for (const p of [FW.STATE, FW.UPDATE_RESULT]) void this.link.cancelObserve(this.endpoint, p).catch(() => undefined);
    }
  }

  /** reset → read /5/0 → observe /5/0/3 and /5/0/5. */
  private async prepare(): Promise<void> {
    this.enter('resetting');
    await this.reset(this.resetMechanism, true);
    this.enter('reading');
    const r = await this.dm('read /5/0', () => this.link.read(this.endpoint, FW.INSTANCE, this.timeouts.requestMs));
    if (!r.ok) throw new JobEnd('failed', `read /5/0: the device answered ${r.code}${r.diagnostic ? ` (${r.diagnostic})` : ''}`);
    this.take(r.values ?? {});
    this.checkCapabilities(r.values ?? {});
    if (this.state !== undefined && this.state !== 0) {
      await this.until(() => this.state === 0, this.timeouts.requestMs, 'the device to return to Idle after the reset');
    }
    this.enter('observing');
    for (const path of [FW.STATE, FW.UPDATE_RESULT]) await this.observe(path);
  }

  private checkCapabilities(values: Readonly<Record<string, unknown>>): void {
    const delivery = values['/5/0/9'];
    if (this.spec.method === 'push' && delivery === 0) throw new JobEnd('failed', 'the device only supports pull delivery (/5/0/9 = 0)');
    if (this.spec.method === 'pull' && delivery === 1) throw new JobEnd('failed', 'the device only supports push delivery (/5/0/9 = 1)');
    if (this.spec.method === 'pull') {
      const protocol = this.spec.protocol ?? 'coap';
      const supported = Object.entries(values).filter(([k]) => k.startsWith('/5/0/8/')).map(([, v]) => v);
      if (supported.length > 0 && !supported.includes(PROTOCOL_NUMBERS[protocol])) {
        throw new JobEnd('failed', `the device does not support ${protocol} for pull (/5/0/8 = [${supported.join(', ')}])`, 9);
      }
    }
  }

  private async deliverUntilDownloaded(): Promise<void> {
    const deadline = this.clock.now() + this.timeouts.deliveryMs;
    for (;;) {
      if (this.deliveries >= this.maxDeliveries) {
        throw new JobEnd('failed', `the image was delivered ${this.deliveries} times without the device reaching Downloaded`, this.result);
      }
      this.deliveries++;
      const verdict = this.spec.method === 'push' ? await this.push(deadline) : await this.pull(deadline);
      if (verdict === 'downloaded') return;
      this.log.info({ deliveries: this.deliveries }, 'delivering the image again');
      if (this.state !== 0) await this.reset(this.resetMechanism, false);
    }
  }

  /** Block1 write of the image to /5/0/0; then until State 2. */
  private async push(deadline: number): Promise<'downloaded' | 'again'> {
    this.enter('delivering', `${this.image.size} bytes in ${this.blockSize}-byte blocks`);
    await this.reachable('delivering');
    this.bytesSent = 0;
    this.reconnected = false;
    this.forgetDeviceState();
    const controller = new AbortController();
    this.pushController = controller;
    const remaining = Math.max(1, deadline - this.clock.now());
    let timedOut = false;
    const timer = this.clock.setTimeout(() => {
      timedOut = true;
      controller.abort('delivery timeout');
    }, remaining);
    let res;
    try {
      res = await this.link.push(this.endpoint, this.image.data, {
        blockSize: this.blockSize, timeoutMs: this.timeouts.requestMs, signal: controller.signal,
        onProgress: (n) => {
          this.bytesSent = n;
          this.progressed();
        },
      });
    } catch (e) {
      this.throwIfCancelled();
      if (timedOut) throw new JobEnd('timeout', `the push did not complete within ${this.timeouts.deliveryMs} ms (${this.bytesSent} of ${this.image.size} bytes)`);
      if (!isUnreachable(e) && !this.reconnected) throw e;
      this.log.info({ err: e, bytes: this.bytesSent }, 'push interrupted');
      await this.resync(deadline);
      return this.state === 2 ? 'downloaded' : 'again';
    } finally {
      timer.cancel();
      this.pushController = undefined;
    }
    this.throwIfCancelled();
    if (!res.ok) {
      await this.refreshStateAndResult();
      throw new JobEnd('failed', `the device refused the package: ${res.code}${res.diagnostic ? ` (${res.diagnostic})` : ''}${this.deviceSays()}`, this.failureResult());
    }
    return this.awaitDownloaded(deadline);
  }

  /** Write of the image URI to /5/0/1; then until State 2. */
  private async pull(deadline: number): Promise<'downloaded' | 'again'> {
    const uri = this.uri as string;
    this.enter('delivering', uri);
    this.bytesSent = 0;
    // Downloading/Downloaded, or a Result other than 0 and the one known before (7, 9, …), means the write was
    // carried out; Idle with the same Result (e.g. 4 before a resume) is written again — harmless in Idle.
    const before = this.result ?? 0;
    this.forgetDeviceState();
    const w = await this.once('write /5/0/1', (signal) => this.link.write(this.endpoint, FW.PACKAGE_URI, uri, this.timeouts.requestMs, signal), deadline, () => {
      if (this.state === 1 || this.state === 2 || (this.result !== undefined && this.result !== 0 && this.result !== before)) return 'applied';
      if (this.state === 0) return 'not-applied'; // Idle takes a URI: writing it again is safe
      return { unexpected: 'the device is not Idle' };
    });
    if (w && !w.ok) {
      await this.refreshStateAndResult();
      throw new JobEnd('failed', `the device refused the package URI: ${w.code}${w.diagnostic ? ` (${w.diagnostic})` : ''}${this.deviceSays()}`, this.failureResult());
    }
    return this.awaitDownloaded(deadline);
  }

  private async awaitDownloaded(deadline: number): Promise<'downloaded' | 'again'> {
    this.enter('downloading');
    const limit = Math.max(1, deadline - this.clock.now());
    await this.untilPolling(
      () => this.state === 2 || this.isFailure() || this.result === 4 || this.reconnected,
      limit, 'State 2 (Downloaded)',
    );
    if (this.reconnected) {
      await this.resync(deadline);
      if (this.state === 2) return 'downloaded';
      if (this.state === 1 && this.spec.method === 'pull') return this.awaitDownloaded(deadline);
      return 'again';
    }
    if (this.state === 2) return 'downloaded';
    if (this.result === 4) {
      this.log.info('the device lost the connection during the download (Update Result 4)');
      return 'again';
    }
    throw new JobEnd('failed', `the download failed: Update Result ${this.result} (${UPDATE_RESULT_NAMES[this.result ?? -1] ?? 'unknown'})`, this.result);
  }

  /** Execute /5/0/2; then until State 0 + Result 1 (across a restart) and /5/0/7 = the image's version. */
  private async update(): Promise<void> {
    this.enter('updating');
    // LwM2M-TS-Core 1.1 §E.6: Downloaded comes with Result 0; Updating, or any other Result afterwards, is
    // the device acting on the Execute.
    const before = this.result ?? 0;
    const deadline = this.clock.now() + this.timeouts.updateMs;
    // A Register from here on is the device restarting (into the new firmware, or an Execute that was
    // carried out although its answer was lost): the loop below sets the observations up again.
    this.reconnected = false;
    this.result = undefined;
    const updated = (): Effect => {
      if (this.state === 3 || (this.result !== undefined && this.result !== 0 && this.result !== before)) return 'applied';
      if (this.state === 2) return 'not-applied'; // still Downloaded: executing again is safe
      return { unexpected: 'the device left Downloaded without updating' };
    };
    let x = await this.once('execute /5/0/2', (signal) => this.link.execute(this.endpoint, FW.UPDATE, this.timeouts.requestMs, signal), deadline, updated);
    if (x && !x.ok) {
      // An error answer may be the device's reply to a copy of our own Execute that reached it after it had
      // restarted (RFC 7252 §4.5 duplicate detection does not survive a reboot): State/Result decide.
      await this.readAfresh(deadline);
      if (updated() === 'applied') x = undefined;
    }
    if (x && !x.ok) {
      throw new JobEnd('failed', `the device refused Update (/5/0/2): ${x.code}${x.diagnostic ? ` (${x.diagnostic})` : ''}${this.deviceSays()}`, this.failureResult());
    }
    for (let round = 0; round < 8; round++) {
      await this.untilPolling(
        () => (this.state === 0 && this.result !== undefined && this.result !== 0) || this.isFailure() || this.reconnected,
        Math.max(1, deadline - this.clock.now()), 'State 0 with Result 1 after the update',
      );
      if (this.reconnected) {
        // The device restarted into the new firmware (or came back): observe again, read /5/0.
        await this.resync(deadline, true);
        if (!(this.state === 0 && this.result === 1) && !this.isFailure()) continue;
      }
      if (this.isFailure() || (this.state === 0 && this.result !== 1)) {
        throw new JobEnd('failed', `the update failed: Update Result ${this.result} (${UPDATE_RESULT_NAMES[this.result ?? -1] ?? 'unknown'})`, this.result);
      }
      break;
    }
    if (!(this.state === 0 && this.result === 1)) throw new JobEnd('timeout', 'the device did not report the end of the update');
    const v = await this.dm('read /5/0/7', () => this.link.read(this.endpoint, FW.PKG_VERSION, this.timeouts.requestMs));
    if (v.ok) this.take(v.values ?? {});
    if (this.pkgVersion !== this.image.version) {
      throw new JobEnd('failed', `the device reports Result 1 but PkgVersion ${JSON.stringify(this.pkgVersion)}, not ${JSON.stringify(this.image.version)}`, 1);
    }
  }

  /** After a Register mid-job: observe again and read State and Result (and /5/0 with `full`). */
  private async resync(deadline: number, full = false): Promise<void> {
    this.reconnected = false;
    await this.reachable(this.phaseNow, Math.max(1, Math.min(this.timeouts.offlineMs, deadline - this.clock.now())));
    this.reconnected = false;
    for (const path of [FW.STATE, FW.UPDATE_RESULT]) await this.observe(path);
    if (full) {
      const r = await this.dm('read /5/0', () => this.link.read(this.endpoint, FW.INSTANCE, this.timeouts.requestMs));
      if (r.ok) this.take(r.values ?? {});
    } else {
      await this.refreshStateAndResult();
    }
  }

  private async performCancel(): Promise<FotaOutcome> {
    const from = this.phaseNow;
    this.enter('cancelling');
    const ms = this.timeouts.requestMs;
    let action = 'the device was not reachable';
    const touched = from !== 'queued' && from !== 'waiting';
    if (touched && this.link.registrationId(this.endpoint) !== undefined && !this.link.isAsleep(this.endpoint)) {
      try {
        const c = await this.link.execute(this.endpoint, FW.CANCEL, ms);
        if (c.ok) action = 'Cancel (/5/0/10) executed';
        else {
          const r = await this.resetRequest(this.resetMechanism, ms);
          action = r.ok ? `the device has no Cancel (${c.code}): reset to Idle instead` : `Cancel answered ${c.code}, reset answered ${r.code}`;
        }
      } catch (e) {
        action = `the device did not answer the cancel (${e instanceof Error ? e.message : String(e)})`;
      }
    } else if (!touched) {
      action = 'nothing was sent to the device yet';
    }
    return this.end({ status: 'cancelled', phase: from, reason: `${String(this.cancelController.signal.reason ?? 'cancelled')}: ${action}` });
  }

  // ---- steps ------------------------------------------------------------------------------------------

  private resetRequest(mechanism: ResetMechanism, timeoutMs: number) {
    return mechanism === 'package'
      ? this.link.write(this.endpoint, FW.PACKAGE, new Uint8Array(0), timeoutMs)
      : this.link.write(this.endpoint, FW.PACKAGE_URI, '', timeoutMs);
  }

  /** Reset to Idle; when the configured mechanism is refused (e.g. a pull-only device and /5/0/0), the other one. */
  private async reset(mechanism: ResetMechanism, first: boolean): Promise<void> {
    const r = await this.dm(`reset (${mechanism})`, () => this.resetRequest(mechanism, this.timeouts.requestMs));
    if (r.ok) return;
    if (r.code === '4.04' && first) throw new JobEnd('failed', 'the device has no Firmware Update object instance /5/0 (4.04)');
    const other: ResetMechanism = mechanism === 'package' ? 'package-uri' : 'package';
    const r2 = await this.dm(`reset (${other})`, () => this.resetRequest(other, this.timeouts.requestMs));
    if (!r2.ok) throw new JobEnd('failed', `the device refused the reset: ${mechanism} ${r.code}, ${other} ${r2.code}`);
  }

  /**
   * A request that must not be repeated blindly (Execute Update, the package URI write). When it gets no
   * answer — the ACK or the response was lost, or the device restarted before a retransmission reached it;
   * RFC 7252 §4.2: the request may still have been carried out — State and Update Result are read afresh
   * and `effect` decides: sent again only on 'not-applied'. Returns the device's answer, or `undefined`
   * when the device carried the request out but its answer was lost.
   */
  private async once(
    what: string, fn: (signal: AbortSignal) => Promise<OperationResult>, deadline: number, effect: () => Effect,
  ): Promise<OperationResult | undefined> {
    let last: unknown;
    for (let attempt = 0; attempt < MAX_REQUEST_ATTEMPTS; attempt++) {
      this.throwIfCancelled();
      await this.reachable(this.phaseNow);
      const controller = new AbortController();
      this.requestController = controller;
      try {
        const r = await fn(controller.signal);
        this.throwIfCancelled();
        return r;
      } catch (e) {
        this.throwIfCancelled();
        if (!isUnreachable(e)) throw e;
        last = e;
      } finally {
        if (this.requestController === controller) this.requestController = undefined;
      }
      this.log.info({ err: last, what, attempt }, 'no answer: reading the device state before sending it again');
      await this.readAfresh(deadline);
      const verdict = effect();
      if (verdict === 'applied') {
        this.log.info({ what, state: this.state, result: this.result }, 'the device carried the request out (its answer was lost)');
        return undefined;
      }
      if (verdict !== 'not-applied') {
        throw new JobEnd('failed', `${what} got no answer, and ${verdict.unexpected}${this.deviceSays()}`, this.failureResult());
      }
    }
    throw new JobEnd('timeout', `${what}: no answer from the device after ${MAX_REQUEST_ATTEMPTS} attempts (${last instanceof Error ? last.message : String(last)})`);
  }

  /**
   * State and Update Result as the device shows them now — not as known before (values read or notified
   * earlier say nothing about what a request without an answer did). After a Register the observations are
   * set up again first.
   */
  private async readAfresh(deadline: number): Promise<void> {
    this.forgetDeviceState();
    if (this.reconnected) {
      await this.resync(deadline, true);
    } else {
      const r = await this.dm('read /5/0', () => this.link.read(this.endpoint, FW.INSTANCE, this.timeouts.requestMs));
      if (r.ok) this.take(r.values ?? {});
    }
  }

  /** Values known from before a delivery or a request are not the device's state after it. */
  private forgetDeviceState(): void {
    this.state = undefined;
    this.result = undefined;
  }

  /** The device's State and Update Result as last known, for a failure's reason. */
  private deviceSays(): string {
    const name = (v: number | undefined, names: Readonly<Record<number, string>>): string =>
      v === undefined ? 'unknown' : `${v} (${names[v] ?? '?'})`;
    return `; device: State ${name(this.state, STATE_NAMES)}, Update Result ${name(this.result, UPDATE_RESULT_NAMES)}`;
  }

  private async observe(path: LwM2MPath): Promise<void> {
    try {
      const r = await this.dm(`observe ${path.toString()}`, () => this.link.observe(this.endpoint, path));
      if (r.ok) this.take(r.values ?? {});
      else this.log.info({ path: path.toString(), code: r.code }, 'observe refused: State/Result are polled');
    } catch (e) {
      if (e instanceof Cancelled || e instanceof JobEnd) throw e;
      this.log.info({ err: e, path: path.toString() }, 'observe failed: State/Result are polled');
    }
  }

  private async refreshStateAndResult(): Promise<void> {
    for (const path of [FW.STATE, FW.UPDATE_RESULT]) {
      try {
        const r = await this.link.read(this.endpoint, path, this.timeouts.requestMs);
        if (r.ok) this.take(r.values ?? {});
      } catch (e) {
        this.throwIfCancelled();
        this.log.debug({ err: e, path: path.toString() }, 'reading the firmware state failed');
      }
    }
  }

  /**
   * One DM request, with the device's absences handled: waits while it is asleep or not registered,
   * and after a timeout waits for its next Register/Update (bounded attempts).
   */
  private async dm<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let last: unknown;
    for (let attempt = 0; attempt < MAX_REQUEST_ATTEMPTS; attempt++) {
      this.throwIfCancelled();
      await this.reachable(this.phaseNow);
      const contacts = this.contacts;
      try {
        const r = await fn();
        this.throwIfCancelled();
        return r;
      } catch (e) {
        this.throwIfCancelled();
        if (!isUnreachable(e)) throw e;
        last = e;
        this.log.info({ err: e, what, attempt }, 'the device did not answer');
        // Two quick tries, then wait for the device to show up (Register, Update, a notification).
        if (attempt >= 1) await this.waitForContact(contacts, what);
      }
    }
    throw new JobEnd('timeout', `${what}: no answer from the device after ${MAX_REQUEST_ATTEMPTS} attempts (${last instanceof Error ? last.message : String(last)})`);
  }

  /** Returns once the device is registered and not asleep; meanwhile the phase shows `waiting`. */
  private async reachable(resumePhase: FotaPhase, timeoutMs = this.timeouts.offlineMs): Promise<void> {
    if (this.link.registrationId(this.endpoint) !== undefined && !this.link.isAsleep(this.endpoint)) return;
    const contacts = this.contacts;
    this.enter('waiting', this.link.registrationId(this.endpoint) === undefined ? 'the device is not registered' : 'the device is asleep (queue mode)');
    await this.until(() => this.contacts > contacts && this.link.registrationId(this.endpoint) !== undefined, timeoutMs, 'the device to wake up or register');
    this.enter(resumePhase === 'waiting' ? 'reading' : resumePhase, 'the device is back');
  }

  private async waitForContact(since: number, what: string): Promise<void> {
    if (this.contacts > since && this.link.registrationId(this.endpoint) !== undefined) return;
    const phase = this.phaseNow;
    this.enter('waiting', `${what}: no answer; waiting for the device's next Register or Update`);
    await this.until(() => this.contacts > since && this.link.registrationId(this.endpoint) !== undefined, this.timeouts.offlineMs, 'the device to come back');
    this.enter(phase === 'waiting' ? 'reading' : phase, 'the device is back');
  }

  /** Like {@link until}, reading State and Result again every `pollMs` while the device is reachable. */
  private async untilPolling(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    let timer: TimerHandle | undefined;
    let polling = false;
    const poll = (): void => {
      timer = this.clock.setTimeout(() => {
        if (pred() || this.ended) return;
        if (!polling && this.link.registrationId(this.endpoint) !== undefined && !this.link.isAsleep(this.endpoint)) {
          polling = true;
          void this.refreshStateAndResult().catch(() => undefined).finally(() => {
            polling = false;
            this.changed();
          });
        }
        poll();
      }, this.timeouts.pollMs);
    };
    poll();
    try {
      await this.until(pred, timeoutMs, what);
    } finally {
      timer?.cancel();
    }
  }

  /** Resolves when `pred()` holds (checked on every change), rejects on timeout (JobEnd) or cancel. */
  private until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.cancelController.signal.aborted) return reject(new Cancelled());
      if (pred()) return resolve();
      const finish = (err?: Error): void => {
        timer.cancel();
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const check = (): void => {
        if (this.cancelController.signal.aborted) finish(new Cancelled());
        else if (pred()) finish();
      };
      const timer: TimerHandle = this.clock.setTimeout(() => finish(new JobEnd('timeout', `timed out after ${timeoutMs} ms waiting for ${what}`, this.result)), timeoutMs);
      this.waiters.add(check);
    });
  }

  // ---- events and bookkeeping ----------------------------------------------------------------------------

  private onEvent(e: DeviceEvent): void {
    if (e.endpoint !== this.endpoint || this.ended) return;
    switch (e.type) {
      case 'registered':
        this.contacts++;
        if (this.registrationId !== undefined && e.registrationId !== this.registrationId) {
          this.reconnects++;
          this.reconnected = true;
          this.log.info({ registrationId: e.registrationId }, 'the device registered again mid-job');
          this.pushController?.abort('reconnected');
          this.requestController?.abort('reconnected');
        }
        this.registrationId = e.registrationId;
        break;
      case 'updated':
        this.contacts++;
        break;
      case 'gone':
        break;
      case 'values':
        this.contacts++;
        this.take(e.values);
        break;
    }
    this.changed();
  }

  private take(values: Readonly<Record<string, unknown>>): void {
    const s = values['/5/0/3'];
    const r = values['/5/0/5'];
    const v = values['/5/0/7'];
    let changed = false;
    if (typeof s === 'number' && s !== this.state) {
      this.state = s;
      changed = true;
    }
    if (typeof r === 'number' && r !== this.result) {
      this.result = r;
      changed = true;
    }
    if (typeof v === 'string') this.pkgVersion = v;
    if (changed) {
      this.log.debug({ state: this.state, result: this.result }, `device state ${STATE_NAMES[this.state ?? -1] ?? '?'}`);
      this.onChange?.(this);
    }
  }

  private isFailure(): boolean {
    return this.result !== undefined && FAILURE_RESULTS.has(this.result);
  }

  private failureResult(): number | undefined {
    return this.isFailure() ? this.result : undefined;
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }

  private progressed(): void {
    const step = Math.floor((this.bytesSent / Math.max(1, this.image.size)) * 10);
    if (step !== this.lastPercentStep) {
      this.lastPercentStep = step;
      this.onChange?.(this);
    }
  }

  private throwIfCancelled(): void {
    if (this.cancelController.signal.aborted) throw new Cancelled();
  }

  private enter(phase: FotaPhase, detail?: string): void {
    if (this.ended) return;
    if (phase === this.phaseNow && detail === undefined) return;
    this.phaseNow = phase;
    this.history.push({ at: iso(this.clock.now()), phase, ...(detail !== undefined ? { detail } : {}) });
    if (this.history.length > MAX_HISTORY) this.history.splice(1, this.history.length - MAX_HISTORY);
    this.onChange?.(this);
  }

  private end(outcome: FotaOutcome): FotaOutcome {
    if (this.outcome) return this.outcome;
    this.outcome = outcome;
    this.finishedAt = this.clock.now();
    const phase: FotaPhase = outcome.status === 'success' ? 'succeeded' : outcome.status === 'cancelled' ? 'cancelled' : 'failed';
    this.phaseNow = phase;
    this.history.push({ at: iso(this.finishedAt), phase, detail: outcome.reason });
    this.log.info({ outcome }, 'firmware job ended');
    for (const w of [...this.waiters]) w();
    this.onChange?.(this);
    return outcome;
  }
}

function isUnreachable(e: unknown): boolean {
  return isLwM2MError(e) && (e.kind === 'TIMEOUT' || e.kind === 'NOT_FOUND');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
