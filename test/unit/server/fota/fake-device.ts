/**
 * A scripted device behind the orchestrator's DeviceLink, on a ManualClock: the Firmware Update state
 * machine of LwM2M-TS-Core 1.1 §E.6 reduced to what the server sees, with knobs for failures.
 */
import { LwM2MError } from '../../../../src/core/errors.js';
import type { Clock } from '../../../../src/core/clock.js';
import type { LwM2MPath } from '../../../../src/core/path.js';
import { ImageVerifier } from '../../../../src/fota/image.js';
import type { DeviceEvent, DeviceLink, PushOptions } from '../../../../src/server/fota/device-link.js';
import type { OperationResult, ReadResult } from '../../../../src/server/operations/types.js';

export interface FakeDeviceOptions {
  endpoint?: string;
  /** Clock ms per Block1 block. Default 1. */
  blockMs?: number;
  /** Clock ms of a pull download. Default 1000. */
  downloadMs?: number;
  /** Clock ms from Update to the re-registration. Default 2000. */
  updateMs?: number;
  /** /5/0/5 the update ends with (default 1, success). */
  updateResult?: number;
  /** After the update, /5/0/7 (default: the image's version). */
  versionAfter?: string;
  /** /5/0/9: 0 pull, 1 push, 2 both. */
  deliveryMethod?: number;
  protocols?: number[];
  hasCancel?: boolean;
  queueMode?: boolean;
  /** Notifications are not delivered (the job must poll). */
  dropNotifications?: boolean;
  /** The device drops off (no answers) after this many pushed blocks, once, then re-registers after `rejoinMs`. */
  dropAfterBlocks?: number;
  rejoinMs?: number;
}

export class FakeDevice implements DeviceLink {
  readonly endpoint: string;
  state = 0;
  result = 0;
  version = '1.0';
  registered = true;
  asleep = false;
  regSeq = 1;
  observed = new Set<string>();
  readonly log: string[] = [];
  /** Block1 blocks received (all transfers). */
  blocks = 0;
  private readonly listeners = new Set<(e: DeviceEvent) => void>();
  private pending: { version: string } | undefined;
  private online = true;
  private dropped = false;

  constructor(private readonly clock: Clock, readonly o: FakeDeviceOptions = {}) {
    this.endpoint = o.endpoint ?? 'dev1';
  }

  // ---- DeviceLink ----------------------------------------------------------------------------------

  registrationId(ep: string): string | undefined {
    return ep === this.endpoint && this.registered ? `reg-${this.regSeq}` : undefined;
  }

  isAsleep(): boolean {
    return this.asleep;
  }

  async read(_ep: string, path: LwM2MPath): Promise<ReadResult> {
    await this.answerable(`read ${path.toString()}`);
    const all: Record<string, unknown> = {
      '/5/0/1': '', '/5/0/3': this.state, '/5/0/5': this.result, '/5/0/7': this.version, '/5/0/9': this.o.deliveryMethod ?? 2,
    };
    (this.o.protocols ?? [0, 2]).forEach((p, i) => (all[`/5/0/8/${i}`] = p));
    const prefix = path.toString();
    const values = Object.fromEntries(Object.entries(all).filter(([k]) => k === prefix || k.startsWith(`${prefix}/`)));
    return { ok: true, code: '2.05', values };
  }

  async write(_ep: string, path: LwM2MPath, value: Uint8Array | string): Promise<OperationResult> {
    await this.answerable(`write ${path.toString()} ${typeof value === 'string' ? JSON.stringify(value) : `${value.length} bytes`}`);
    const p = path.toString();
    const empty = typeof value === 'string' ? value === '' : value.length === 0;
    if (p === '/5/0/0' && (this.o.deliveryMethod ?? 2) === 0) return { ok: false, code: '4.05' };
    if (empty) {
      this.set(0, 0);
      this.pending = undefined;
      return { ok: true, code: '2.04' };
    }
    if (p === '/5/0/1' && typeof value === 'string') {
      if (!/^(coaps?|https?):\/\//.test(value)) {
        this.set(0, 7);
        return { ok: false, code: '4.00' };
      }
      this.set(1, 0);
      this.clock.setTimeout(() => {
        if (this.state !== 1) return;
        this.pending = { version: '2.0' };
        this.set(2, 0);
      }, this.o.downloadMs ?? 1000);
      return { ok: true, code: '2.04' };
    }
    return { ok: false, code: '4.00' };
  }

  async push(_ep: string, data: Buffer, o: PushOptions): Promise<OperationResult> {
    await this.answerable('push');
    this.log.push(`push ${data.length} bytes / ${o.blockSize}`);
    this.set(1, 0);
    const verifier = new ImageVerifier();
    for (let off = 0; off < data.length; off += o.blockSize) {
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.o.blockMs ?? 1));
      if (o.signal.aborted) throw new LwM2MError('TIMEOUT', 'aborted');
      if (this.o.dropAfterBlocks !== undefined && !this.dropped && this.blocks >= this.o.dropAfterBlocks) {
        this.dropped = true;
        this.online = false;
        this.clock.setTimeout(() => this.rejoin(), this.o.rejoinMs ?? 5000);
        // the server's block times out
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, o.timeoutMs));
        throw new LwM2MError('TIMEOUT', 'no answer');
      }
      this.blocks++;
      verifier.push(data.subarray(off, off + o.blockSize));
      o.onProgress(Math.min(off + o.blockSize, data.length));
    }
    const v = verifier.finish();
    if (!v.ok) {
      this.set(0, v.result);
      return { ok: true, code: '2.04' };
    }
    this.pending = { version: v.info.version };
    this.set(2, 0);
    return { ok: true, code: '2.04' };
  }

  async execute(_ep: string, path: LwM2MPath): Promise<OperationResult> {
    await this.answerable(`execute ${path.toString()}`);
    const p = path.toString();
    if (p === '/5/0/10') {
      if (this.o.hasCancel === false) return { ok: false, code: '4.04' };
      this.set(0, 10);
      this.pending = undefined;
      return { ok: true, code: '2.04' };
    }
    if (p === '/5/0/2') {
      if (this.state !== 2) return { ok: false, code: '4.05' };
      const target = this.pending;
      this.set(3, 0);
      this.clock.setTimeout(() => {
        // reboot: de-register silently, come back with a new registration
        const result = this.o.updateResult ?? 1;
        if (result === 1) this.version = this.o.versionAfter ?? target?.version ?? '?';
        this.state = 0;
        this.result = result;
        this.observed.clear();
        this.regSeq++;
        this.emit({ type: 'registered', endpoint: this.endpoint, registrationId: `reg-${this.regSeq}` });
      }, this.o.updateMs ?? 2000);
      return { ok: true, code: '2.04' };
    }
    return { ok: false, code: '4.04' };
  }

  async observe(_ep: string, path: LwM2MPath): Promise<ReadResult> {
    const r = await this.read(_ep, path);
    this.observed.add(path.toString());
    return r;
  }

  async cancelObserve(_ep: string, path: LwM2MPath): Promise<void> {
    this.observed.delete(path.toString());
  }

  subscribe(listener: (e: DeviceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- test controls -----------------------------------------------------------------------------------

  /** A Register with a new registration id (the device restarted or moved). */
  rejoin(): void {
    this.online = true;
    this.registered = true;
    this.observed.clear();
    this.regSeq++;
    this.emit({ type: 'registered', endpoint: this.endpoint, registrationId: `reg-${this.regSeq}` });
  }

  /** A registration Update (a queue-mode device waking up). */
  wake(): void {
    this.asleep = false;
    this.emit({ type: 'updated', endpoint: this.endpoint, registrationId: `reg-${this.regSeq}` });
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private set(state: number, result: number): void {
    const changed: Record<string, unknown> = {};
    if (state !== this.state) changed['/5/0/3'] = state;
    if (result !== this.result) changed['/5/0/5'] = result;
    this.state = state;
    this.result = result;
    if (this.o.dropNotifications) return;
    const observedValues = Object.fromEntries(Object.entries(changed).filter(([k]) => this.observed.has(k)));
    if (Object.keys(observedValues).length > 0) {
      queueMicrotask(() => this.emit({ type: 'values', endpoint: this.endpoint, values: observedValues }));
    }
  }

  private emit(e: DeviceEvent): void {
    for (const l of [...this.listeners]) l(e);
  }

  private async answerable(what: string): Promise<void> {
    this.log.push(what);
    if (!this.registered) throw new LwM2MError('NOT_FOUND', 'not registered');
    if (!this.online || this.asleep) {
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 30_000));
      throw new LwM2MError('TIMEOUT', `${what}: no answer`);
    }
  }
}
