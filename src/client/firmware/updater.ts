/**
 * The Firmware Update state machine of /5/0 (LwM2M-TS-Core 1.1 §E.6, Figure E.6.1-1):
 *
 *   Idle (0) ──Write /5/0/0 (first block) or /5/0/1 (URI)──► Downloading (1)   Update Result := 0
 *   Downloading ──image received and verified──► Downloaded (2)
 *   Downloading ──download/verification failed──► Idle, Update Result 2/3/4/5/6/7/9
 *   Downloaded ──Execute /5/0/2──► Updating (3)                                Update Result := 0
 *   Updating ──success──► (reboot) Idle, Update Result 1
 *   Updating ──failure──► Downloaded, Update Result 8 (image kept) — or Idle for any other result
 *   Downloading/Downloaded ──empty Write /5/0/0 or /5/0/1──► Idle, Update Result 0
 *   Downloading/Downloaded ──Execute /5/0/10 Cancel──► Idle, Update Result 10
 *
 * Invalid operations change nothing: Execute Update outside Downloaded, Cancel in Idle/Updating, any
 * write of /5/0/0 or /5/0/1 while Updating → 4.05 Method Not Allowed; a non-empty package or URI while a
 * download is in progress or done → 4.00 Bad Request (as Anjay's fw_update module does). A URI the
 * device cannot use is accepted (2.04) and reported through the Update Result: 7 malformed, 9 scheme not
 * supported (§E.6 /5/0/5 value 9: the client "indicates the failure … by writing the value 9").
 *
 * The image is verified while it streams (src/fota/image.ts): the device holds one block and a hash.
 * State and Update Result change through ObjectInstance.set, so observers of /5/0/3 and /5/0/5 are
 * notified (Result first, then State, so a read after a State notification sees the matching Result).
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { LwM2MError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { IMAGE_FIXED_HEADER, ImageVerifier, type FirmwareImageInfo } from '../../fota/image.js';
import type { BlockwiseRequestHead, BlockwiseResponse, BlockwiseSink, ConnectionFactory, ConnectionSecurity } from '../connection.js';
import { INTERNAL_CONTEXT } from '../context.js';
import type { ObjectInstance } from '../instance.js';
import { DownloadAborted, type Downloader, type DownloadOutcome } from './download.js';
import { checkFailureInjection, outcomeOf, rngOf, type FailureInjection } from './failure.js';
import { CoapDownloader } from './pull-coap.js';
import { HttpDownloader, type HttpDownloaderOptions } from './pull-http.js';

const State = { IDLE: 0, DOWNLOADING: 1, DOWNLOADED: 2, UPDATING: 3 } as const;
const Result = {
  INITIAL: 0, SUCCESS: 1, NOT_ENOUGH_STORAGE: 2, OUT_OF_MEMORY: 3, CONNECTION_LOST: 4, INTEGRITY_CHECK_FAILURE: 5,
  UNSUPPORTED_PACKAGE_TYPE: 6, INVALID_URI: 7, UPDATE_FAILED: 8, UNSUPPORTED_PROTOCOL: 9, CANCELLED: 10, DEFERRED: 11,
} as const;

const R = { PACKAGE: 0, PACKAGE_URI: 1, STATE: 3, UPDATE_RESULT: 5, PKG_NAME: 6, PKG_VERSION: 7, LAST_STATE_CHANGE_TIME: 12, AUTO_UPGRADE: 14 } as const;

/** What a real device keeps in flash across reboots: the last Update Result and the installed package. */
export interface FirmwareFlashRecord {
  readonly result: number;
  readonly pkgName?: string;
  readonly pkgVersion?: string;
}

export interface FirmwareFlash {
  load(): FirmwareFlashRecord | undefined;
  save(record: FirmwareFlashRecord): void;
}

/** A FirmwareFlash in memory (one per device: it outlives the client across reboots). */
export function memoryFlash(initial?: FirmwareFlashRecord): FirmwareFlash {
  let record = initial;
  return { load: () => record, save: (r) => { record = r; } };
}

export interface FirmwareUpdateOptions {
  clock?: Clock;
  logger?: Logger;
  /** Largest image body the device stores (its "flash"); bigger → Update Result 2. Default 16 MiB. */
  maxImageBytes?: number;
  /** Simulated flashing time spent in Updating (ms). Default 1000. */
  flashMs?: number;
  /** How updates end (failure injection); default: always success. */
  failure?: FailureInjection;
  /** Opens CoAP(S) connections for pull (the device's ConnectionFactory); without it coap pull → result 9. */
  connections?: ConnectionFactory;
  /** Security for coaps:// pulls (default NoSec). */
  security?: (uri: string) => ConnectionSecurity;
  /** Block2 size for CoAP pull (16–1024). Default 512. */
  coapBlockSize?: number;
  /** Retries of a lost exchange / broken stream before Update Result 4. Default 4. */
  retries?: number;
  /** Delay before the first retry (ms), doubled for each further one. Default 1000. */
  retryDelayMs?: number;
  /** Bound on one CoAP block exchange (ms); default the connection's MAX_TRANSMIT_WAIT. */
  exchangeTimeoutMs?: number;
  /** HTTP(S) pull options (TLS trust, socket idle timeout). */
  http?: Omit<HttpDownloaderOptions, 'clock' | 'maxBytes' | 'retries' | 'retryDelayMs'>;
  /** Replaces the built-in downloaders by scheme ('coap:', 'http:', …) — tests, custom transports. */
  downloaders?: Readonly<Record<string, Downloader>>;
  /** Keeps the Update Result and installed package across reboots. Default: in memory. */
  flash?: FirmwareFlash;
  /** The Device instance /3/0 (Firmware Version /3/0/3, Reboot /3/0/4) — set by createDeviceTree. */
  deviceInstance?: () => ObjectInstance | undefined;
  /**
   * Restarts the device after a successful update. Default: Execute /3/0/4 on the device instance (the
   * LwM2MClient's reboot: sessions dropped, Register again); no reboot when there is none.
   */
  reboot?: () => void;
  /** Each download, push or update that ended (result 0 = downloaded, 1 = updated, else the failure). */
  onOutcome?: (outcome: FirmwareOutcome) => void;
}

export interface FirmwareOutcome {
  readonly kind: 'download' | 'push' | 'update';
  readonly result: number;
  readonly reason?: string;
}

/** Thrown into a downloader when the verifier refuses the image. */
export class ImageRejected extends Error {
  override readonly name = 'ImageRejected';
  constructor(readonly result: 2 | 5 | 6, message: string) {
    super(message);
  }
}

interface Resume {
  readonly uri: string;
  readonly verifier: ImageVerifier;
  etag: Uint8Array | string | undefined;
}

const SCHEMES: Readonly<Record<string, number>> = { 'coap:': 0, 'coaps:': 1, 'http:': 2, 'https:': 3, 'coap+tcp:': 4, 'coaps+tcp:': 5 };

/** Largest header the image format has (fixed part + name + version, ≤ 255 bytes each). */
const MAX_HEADER = IMAGE_FIXED_HEADER + 2 * 255;

/**
 * What a device shows of its flash at boot: the last Update Result and the installed package's name and
 * version, when the flash holds a record. Used without a FirmwareUpdater too (it is made on first use).
 */
export function applyFlashRecord(inst: ObjectInstance, flash: FirmwareFlash): void {
  const saved = flash.load();
  if (!saved) return;
  for (const [rid, v] of [[R.PKG_NAME, saved.pkgName], [R.PKG_VERSION, saved.pkgVersion]] as const) {
    if (v !== undefined && inst.model.resources.has(rid)) inst.set(rid, v);
  }
  inst.set(R.UPDATE_RESULT, saved.result);
}

export class FirmwareUpdater {
  readonly clock: Clock;
  private readonly log: Logger;
  private readonly maxImageBytes: number;
  private flashMs: number;
  private failure: FailureInjection;
  private rng: () => number;
  private readonly flash: FirmwareFlash;
  private verifier: ImageVerifier | undefined;
  /** Bumped whenever a push or download stops being current (reset, cancel, new transfer). */
  private generation = 0;
  private pushOpen = false;
  private download: AbortController | undefined;
  private resume: Resume | undefined;
  private downloaded: (FirmwareImageInfo & { bodyLength: number }) | undefined;
  private updateTimer: TimerHandle | undefined;
  private readonly downloaders: Record<string, Downloader>;
  /** CoAP(S) pull: the configured factory, else the one the client gives (useConnections). */
  private connections: ConnectionFactory | undefined;
  /** Every download/push/update that ended, with its result (tests, metrics). */
  readonly history: FirmwareOutcome[] = [];

  constructor(
    private readonly inst: ObjectInstance,
    private readonly protocols: readonly number[],
    private readonly delivery: number,
    private readonly opts: FirmwareUpdateOptions = {},
    /** The instance already shows the flash's record (applyFlashRecord at boot): do not load it again. */
    bootLoaded = false,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger;
    this.maxImageBytes = opts.maxImageBytes ?? 16 * 1024 * 1024;
    this.flashMs = opts.flashMs ?? 1000;
    this.failure = opts.failure ?? {};
    checkFailureInjection(this.failure);
    this.rng = rngOf(this.failure);
    this.flash = opts.flash ?? memoryFlash();
    this.downloaders = { ...opts.downloaders };
    this.connections = opts.connections;
    // A real device reads its last result and installed package from flash at boot.
    if (!bootLoaded) applyFlashRecord(this.inst, this.flash);
  }

  get state(): number {
    return this.inst.get(R.STATE) as number;
  }

  get result(): number {
    return this.inst.get(R.UPDATE_RESULT) as number;
  }

  /** Bytes of the image received so far (push or pull); undefined when nothing is in progress. */
  get received(): number | undefined {
    return this.verifier?.received;
  }

  /** The image waiting in Downloaded (name, version, body length). */
  get downloadedImage(): (FirmwareImageInfo & { bodyLength: number }) | undefined {
    return this.downloaded;
  }

  /**
   * Arms how the next updates end (the fleet's `apply-firmware` step): flash time and failure injection.
   * Fields not given keep their value.
   */
  configure(options: { flashMs?: number; failure?: FailureInjection }): void {
    if (options.flashMs !== undefined) {
      if (!(options.flashMs >= 0)) throw new LwM2MError('BAD_VALUE', `flashMs: must be >= 0, got ${options.flashMs}`);
      this.flashMs = options.flashMs;
    }
    if (options.failure) {
      checkFailureInjection(options.failure);
      this.failure = options.failure;
      this.rng = rngOf(options.failure);
    }
  }

  /** The client's ConnectionFactory, for CoAP(S) pulls when none was configured. */
  useConnections(connections: ConnectionFactory): void {
    this.connections ??= connections;
  }

  /** Stops timers and downloads (device disposed). */
  dispose(): void {
    this.updateTimer?.cancel();
    this.updateTimer = undefined;
    this.stopTransfers();
  }

  // ---- /5/0/0 Package ------------------------------------------------------------------------------

  /** A Write of /5/0/0 in one piece (not streamed). Throws LwM2MError to answer with an error. */
  writePackage(data: Uint8Array): void {
    if (this.state === State.UPDATING) throw new LwM2MError('METHOD_NOT_ALLOWED', '/5/0/0: the device is updating');
    // §E.6 /5/0/3: "setting the Package Resource to NULL ('\0')" resets; an empty value is taken the same way.
    if (data.length === 0 || (data.length === 1 && data[0] === 0)) {
      this.reset();
      return;
    }
    this.checkPush();
    if (this.state !== State.IDLE) throw new LwM2MError('BAD_REQUEST', `/5/0/0: state is ${this.state}; write an empty package to reset first`);
    const gen = this.startTransfer('push');
    const failure = this.feed(gen, data);
    if (failure) throw new LwM2MError(failure.result === 2 ? 'ENTITY_TOO_LARGE' : 'BAD_REQUEST', failure.reason);
    const done = this.finishTransfer(gen, 'push');
    if (done) throw new LwM2MError('BAD_REQUEST', done.reason);
  }

  /**
   * Block 0 of a block-wise Write of /5/0/0 (RFC 7959 §2.3): a sink the image streams into, or the
   * response refusing it. `size1` over the device's storage → 4.13 with Size1 (RFC 7959 §2.9.3) and
   * Update Result 2.
   */
  openPush(head: BlockwiseRequestHead): BlockwiseSink | BlockwiseResponse {
    const refuse = (code: BlockwiseResponse['code'], text: string, size1?: number): BlockwiseResponse =>
      ({ code, payload: new TextEncoder().encode(text), ...(size1 !== undefined ? { size1 } : {}) });
    if (this.state === State.UPDATING) return refuse('4.05', '/5/0/0: the device is updating');
    if (this.delivery === 0) return refuse('4.05', '/5/0/0: this device only supports pull delivery (/5/0/9 = 0)');
    // A push restarted with a new block 0 continues in Downloading; anything else must be Idle.
    const restart = this.state === State.DOWNLOADING && !this.download && !this.pushOpen;
    if (this.state !== State.IDLE && !restart) return refuse('4.00', `/5/0/0: state is ${this.state}; write an empty package to reset first`);
    const limit = this.maxImageBytes + MAX_HEADER;
    if (head.size1 !== undefined && head.size1 > limit) {
      this.fail(undefined, 'push', Result.NOT_ENOUGH_STORAGE, `announced ${head.size1} bytes, the device stores ${limit}`);
      return refuse('4.13', `the image (${head.size1} bytes) does not fit the device (${limit} bytes)`, limit);
    }
    const gen = this.startTransfer('push');
    this.pushOpen = true;
    return {
      write: (chunk) => {
        if (gen !== this.generation) return refuse('4.00', '/5/0/0: the transfer was reset');
        const f = this.feed(gen, chunk);
        if (!f) return undefined;
        this.pushOpen = false;
        return f.result === 2 ? refuse('4.13', f.reason, limit) : refuse('4.00', f.reason);
      },
      end: () => {
        if (gen !== this.generation) return refuse('4.00', '/5/0/0: the transfer was reset');
        this.pushOpen = false;
        const f = this.finishTransfer(gen, 'push');
        return f ? refuse('4.00', f.reason) : { code: '2.04' };
      },
      abort: (reason) => {
        if (gen !== this.generation) return;
        this.pushOpen = false;
        if (reason === 'restarted') return; // a new block 0 follows at once (openPush)
        this.fail(gen, 'push', Result.CONNECTION_LOST, `push ${reason}`);
      },
    };
  }

  private checkPush(): void {
    if (this.delivery === 0) throw new LwM2MError('METHOD_NOT_ALLOWED', '/5/0/0: this device only supports pull delivery (/5/0/9 = 0)');
  }

  // ---- /5/0/1 Package URI --------------------------------------------------------------------------

  /** A Write of /5/0/1 (before the value is stored). Throws LwM2MError to refuse it. */
  writePackageUri(uri: string): void {
    if (this.state === State.UPDATING) throw new LwM2MError('METHOD_NOT_ALLOWED', '/5/0/1: the device is updating');
    if (uri === '') {
      this.reset();
      return;
    }
    if (this.delivery === 1) throw new LwM2MError('METHOD_NOT_ALLOWED', '/5/0/1: this device only supports push delivery (/5/0/9 = 1)');
    if (this.state !== State.IDLE) throw new LwM2MError('BAD_REQUEST', `/5/0/1: state is ${this.state}; write an empty URI to reset first`);
    let url: URL;
    try {
      url = new URL(uri);
      if (url.hostname === '') throw new Error('no host');
    } catch {
      this.fail(undefined, 'download', Result.INVALID_URI, `"${uri}" is not a URI with a host`);
      return;
    }
    const protocol = SCHEMES[url.protocol];
    const downloader = this.downloaderFor(url.protocol);
    if (protocol === undefined || !this.protocols.includes(protocol) || !downloader) {
      this.fail(undefined, 'download', Result.UNSUPPORTED_PROTOCOL, `scheme ${url.protocol} is not supported (/5/0/8)`);
      return;
    }
    const resume = this.resume?.uri === uri ? this.resume : undefined;
    this.resume = undefined;
    const gen = this.startTransfer('download', resume?.verifier);
    const ctrl = new AbortController();
    this.download = ctrl;
    void this.runDownload(gen, downloader, url, uri, ctrl, resume?.etag);
  }

  private async runDownload(gen: number, downloader: Downloader, url: URL, uri: string, ctrl: AbortController, etag: Uint8Array | string | undefined): Promise<void> {
    let tag = etag;
    let outcome: DownloadOutcome;
    try {
      outcome = await downloader.download({
        url,
        offset: this.verifier?.received ?? 0,
        ...(etag !== undefined ? { etag } : {}),
        signal: ctrl.signal,
        onData: (chunk) => {
          const f = this.feed(gen, chunk);
          if (f) throw new ImageRejected(f.result, f.reason);
        },
        onRestart: () => {
          if (gen === this.generation) this.verifier = new ImageVerifier({ maxBodyBytes: this.maxImageBytes });
        },
        onEtag: (t) => { tag = t; },
        onSize: (total) => {
          if (total > this.maxImageBytes + MAX_HEADER) throw new ImageRejected(2, `the image (${total} bytes) does not fit the device`);
        },
      });
    } catch (e) {
      if (e instanceof DownloadAborted || ctrl.signal.aborted) return; // reset or cancelled: already handled
      if (e instanceof ImageRejected) {
        this.fail(gen, 'download', e.result, e.message);
        return;
      }
      outcome = { ok: false, result: 4, reason: e instanceof Error ? e.message : String(e) };
    } finally {
      if (this.download === ctrl) this.download = undefined;
    }
    if (gen !== this.generation) return;
    if (!outcome.ok) {
      // Connection lost: keep what arrived, so writing the same URI again resumes (Block2 num / Range).
      const verifier = this.verifier;
      this.fail(gen, 'download', outcome.result, outcome.reason);
      if (outcome.result === Result.CONNECTION_LOST && verifier && !verifier.failure) this.resume = { uri, verifier, etag: tag };
      return;
    }
    this.finishTransfer(gen, 'download');
  }

  /** The downloader of a scheme, built on first use (most simulated devices never pull). */
  private downloaderFor(scheme: string): Downloader | undefined {
    const existing = this.downloaders[scheme];
    if (existing) return existing;
    const o = this.opts;
    const common = {
      clock: this.clock, maxBytes: this.maxImageBytes + MAX_HEADER,
      ...(o.retries !== undefined ? { retries: o.retries } : {}),
      ...(o.retryDelayMs !== undefined ? { retryDelayMs: o.retryDelayMs } : {}),
    };
    let made: Downloader | undefined;
    if ((scheme === 'coap:' || scheme === 'coaps:') && this.connections) {
      made = new CoapDownloader({
        connections: this.connections, ...common,
        ...(o.security ? { security: o.security } : {}),
        ...(o.coapBlockSize !== undefined ? { blockSize: o.coapBlockSize } : {}),
        ...(o.exchangeTimeoutMs !== undefined ? { exchangeTimeoutMs: o.exchangeTimeoutMs } : {}),
      });
    } else if (scheme === 'http:' || scheme === 'https:') {
      made = new HttpDownloader({ ...common, ...(o.http ?? {}) });
    }
    if (made) this.downloaders[scheme] = made;
    return made;
  }

  // ---- /5/0/2 Update, /5/0/10 Cancel -----------------------------------------------------------------

  /** Execute /5/0/2: only in Downloaded (else 4.05). Flashes for flashMs, then success (reboot) or failure. */
  update(): void {
    if (this.state !== State.DOWNLOADED || !this.downloaded) {
      throw new LwM2MError('METHOD_NOT_ALLOWED', `/5/0/2: Update needs state Downloaded (2), state is ${this.state}`);
    }
    const image = this.downloaded;
    this.setResultAndState(Result.INITIAL, State.UPDATING);
    const gen = ++this.generation;
    this.updateTimer = this.clock.setTimeout(() => {
      this.updateTimer = undefined;
      if (gen !== this.generation || this.state !== State.UPDATING) return;
      const result = this.supported(outcomeOf(this.failure, this.rng));
      this.record({ kind: 'update', result });
      if (result === Result.SUCCESS) {
        this.installed(image);
        return;
      }
      this.log.info({ result }, 'firmware update failed');
      // §E.6 /5/0/3: a failed update returns to Downloaded (the image can be tried again) or to Idle,
      // "depending on the underlying reason": 8 keeps the image, any other result discards it.
      if (result === Result.UPDATE_FAILED) {
        this.setResultAndState(result, State.DOWNLOADED);
      } else {
        this.downloaded = undefined;
        this.setResultAndState(result, State.IDLE);
      }
    }, this.flashMs);
  }

  /** Execute /5/0/10: allowed while Downloading or Downloaded (else 4.05); Idle with Update Result 10. */
  cancel(): void {
    if (this.state !== State.DOWNLOADING && this.state !== State.DOWNLOADED) {
      throw new LwM2MError('METHOD_NOT_ALLOWED', `/5/0/10: nothing to cancel in state ${this.state}`);
    }
    this.stopTransfers();
    this.downloaded = undefined;
    this.setResultAndState(Result.CANCELLED, State.IDLE);
  }

  // ---- internals -------------------------------------------------------------------------------------

  /** Empty write of /5/0/0 or /5/0/1: abort anything in progress, Idle, Update Result 0. */
  private reset(): void {
    this.stopTransfers();
    this.downloaded = undefined;
    this.resume = undefined;
    this.setResultAndState(Result.INITIAL, State.IDLE);
  }

  private stopTransfers(): void {
    this.generation++;
    this.pushOpen = false;
    this.verifier = undefined;
    const d = this.download;
    this.download = undefined;
    d?.abort();
  }

  private startTransfer(kind: 'push' | 'download', verifier?: ImageVerifier): number {
    this.stopTransfers();
    this.resume = undefined;
    this.downloaded = undefined;
    this.verifier = verifier ?? new ImageVerifier({ maxBodyBytes: this.maxImageBytes });
    this.log.debug({ kind, from: verifier?.received ?? 0 }, 'firmware transfer started');
    // §E.6 /5/0/5: "Once the updating process is initiated (Download/Update), this Resource MUST be reset".
    this.setResultAndState(Result.INITIAL, State.DOWNLOADING);
    return this.generation;
  }

  /** Streams bytes into the verifier; a failure ends the transfer (Idle + result) and is returned. */
  private feed(gen: number, chunk: Uint8Array): { result: 2 | 5 | 6; reason: string } | undefined {
    if (gen !== this.generation || !this.verifier) return { result: 5, reason: 'the transfer was reset' };
    const f = this.verifier.push(chunk);
    if (!f) return undefined;
    this.fail(gen, this.download ? 'download' : 'push', f.result, f.reason);
    return f;
  }

  /** End of the bytes: verified → Downloaded; else Idle with the verifier's result (returned). */
  private finishTransfer(gen: number, kind: 'push' | 'download'): { result: number; reason: string } | undefined {
    const v = this.verifier;
    if (gen !== this.generation || !v) return { result: 5, reason: 'the transfer was reset' };
    const verdict = v.finish();
    if (!verdict.ok) {
      this.fail(gen, kind, verdict.result, verdict.reason);
      return verdict;
    }
    this.verifier = undefined;
    this.downloaded = { ...verdict.info, bodyLength: verdict.bodyLength };
    this.record({ kind, result: 0 });
    this.setResultAndState(Result.INITIAL, State.DOWNLOADED);
    // /5/0/14 Automatic Upgrade at Download (object 1.1+): no Execute needed.
    if (this.inst.get(R.AUTO_UPGRADE) === true) this.clock.setTimeout(() => { if (this.state === State.DOWNLOADED) this.update(); }, 0);
    return undefined;
  }

  /** A transfer failed: Idle with `result` (gen undefined: nothing was started). */
  private fail(gen: number | undefined, kind: 'push' | 'download', result: number, reason: string): void {
    if (gen !== undefined && gen !== this.generation) return;
    this.log.info({ kind, result, reason }, 'firmware transfer failed');
    this.record({ kind, result, reason });
    if (gen !== undefined) this.stopTransfers();
    this.resume = undefined;
    this.setResultAndState(result, State.IDLE);
  }

  /** Success: the new image is installed; the device reboots and comes back Idle with Update Result 1. */
  private installed(image: FirmwareImageInfo): void {
    this.downloaded = undefined;
    this.flash.save({ result: Result.SUCCESS, pkgName: image.name, pkgVersion: image.version });
    const apply = (): void => {
      this.setIf(R.PKG_NAME, image.name);
      this.setIf(R.PKG_VERSION, image.version);
      const device = this.opts.deviceInstance?.();
      if (device?.model.resources.has(3)) device.set(3, image.version);
      this.setResultAndState(Result.SUCCESS, State.IDLE);
    };
    const reboot = this.opts.reboot ?? this.defaultReboot();
    if (!reboot) {
      apply();
      return;
    }
    // The reboot goes first (the client schedules it on the clock and drops its sessions and
    // observations at once); the new values appear as the device comes back, as they would after a
    // boot from the new image — not as notifications of a device about to vanish.
    reboot();
    this.clock.setTimeout(apply, 0);
  }

  private defaultReboot(): (() => void) | undefined {
    const device = this.opts.deviceInstance?.();
    if (!device?.has(4)) return undefined;
    return () => {
      device.execute(4, '', INTERNAL_CONTEXT).catch((e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'reboot after firmware update failed'));
    };
  }

  /** A result the object version defines (Firmware 1.0 stops at 9: a forced 10/11 becomes 8, failed). */
  private supported(result: number): number {
    const max = this.inst.model.resources.get(R.UPDATE_RESULT)?.range?.max;
    return max !== undefined && result > max ? Result.UPDATE_FAILED : result;
  }

  private record(o: FirmwareOutcome): void {
    if (this.history.length >= 64) this.history.shift(); // bounded: a long-running simulated device
    this.history.push(o);
    this.opts.onOutcome?.(o);
  }

  private setResultAndState(result: number, state: number): void {
    this.inst.set(R.UPDATE_RESULT, result);
    if (this.inst.get(R.STATE) !== state && this.inst.model.resources.has(R.LAST_STATE_CHANGE_TIME)) {
      // /5/0/12: "Device updates this resource before making any change to the State."
      this.inst.set(R.LAST_STATE_CHANGE_TIME, new Date(this.clock.now()));
    }
    this.inst.set(R.STATE, state);
  }

  private setIf(rid: number, v: string | undefined): void {
    if (v !== undefined && this.inst.model.resources.has(rid)) this.inst.set(rid, v);
  }
}
