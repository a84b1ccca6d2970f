/**
 * Server-side firmware update: the image store, one {@link FotaJob} per device (at most one running per
 * endpoint), campaigns over many devices with bounded concurrency, and the `/fw/{imageId}` CoAP resource
 * devices pull images from. Events (`job`, `campaign`) feed the HTTP API's `firmware` SSE events.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { LwM2MServer } from '../lwm2m-server.js';
import { Campaign, type CampaignSnapshot, type CampaignSpec } from './campaign.js';
import { coapImageHandler } from './coap-images.js';
import type { DeviceEvent, DeviceLink } from './device-link.js';
import { FirmwareImageStore, type StoredImage } from './image-store.js';
import { FotaJob, type CancelAnswer } from './job.js';
import type { FotaJobSnapshot, FotaJobSpec, FotaProtocol, FotaTimeouts } from './types.js';

export type FotaErrorCode = 'FOTA_BAD_REQUEST' | 'FOTA_JOB_ACTIVE' | 'FOTA_NOT_FOUND' | 'FOTA_CANNOT_CANCEL' | 'FOTA_NOT_REGISTERED';

/** A refused FOTA request; `httpStatus` is what the API answers. */
export class FotaError extends Error {
  override readonly name = 'FotaError';
  readonly httpStatus: number;
  constructor(readonly code: FotaErrorCode, message: string) {
    super(message);
    this.httpStatus = code === 'FOTA_BAD_REQUEST' ? 400 : code === 'FOTA_NOT_FOUND' || code === 'FOTA_NOT_REGISTERED' ? 404 : 409;
  }
}

export function isFotaError(e: unknown): e is FotaError {
  return e instanceof FotaError;
}

export interface FotaServiceOptions {
  link: DeviceLink;
  store?: FirmwareImageStore;
  /** Directory of image files for a new store (ignored with `store`). */
  imageDirectory?: string;
  clock?: Clock;
  logger?: Logger;
  /** Base URIs devices pull from, by protocol (`coap://127.0.0.1:5683`, `http://127.0.0.1:8080`); asked per job. */
  pullBase?: () => Partial<Record<FotaProtocol, string>>;
  /** Endpoints currently registered (campaign patterns select among them). */
  endpoints?: () => Iterable<string>;
  /** Server-wide defaults under each job's own timeouts. */
  timeouts?: Partial<FotaTimeouts>;
  /** Ended jobs kept for `GET …/firmware` (oldest dropped first). Default 10 000. */
  maxFinishedJobs?: number;
  /** Campaigns kept. Default 100. */
  maxCampaigns?: number;
  /**
   * A device's own flow: the job spec fields a start request leaves out (method included) — e.g. the
   * Cumulocity flow of a device imported from a bulk-registration CSV (src/server/profiles/cumulocity-fota.ts).
   */
  specDefaults?: (endpoint: string) => Partial<FotaJobSpec> | undefined;
}

/** A start request: a {@link FotaJobSpec} whose method may come from {@link FotaServiceOptions.specDefaults}. */
export type FotaStartSpec = Omit<FotaJobSpec, 'method'> & { readonly method?: FotaJobSpec['method'] };

export interface FotaServiceEvents {
  job: [snapshot: FotaJobSnapshot];
  campaign: [snapshot: CampaignSnapshot];
}

const ENDPOINT_MAX = 1024;

export class FotaService extends EventEmitter<FotaServiceEvents> {
  readonly store: FirmwareImageStore;
  readonly link: DeviceLink;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly pullBase: () => Partial<Record<FotaProtocol, string>>;
  private readonly endpointList: () => Iterable<string>;
  private readonly defaults: Partial<FotaTimeouts>;
  private readonly maxFinished: number;
  private readonly maxCampaigns: number;
  private readonly specDefaults: (endpoint: string) => Partial<FotaJobSpec> | undefined;
  /** Latest job per endpoint (running or ended). */
  private readonly jobs = new Map<string, FotaJob>();
  private readonly campaigns = new Map<string, Campaign>();
  private readonly detach: Array<() => void> = [];
  /** Jobs listening for their device's events, by endpoint (one subscription to the link for all). */
  private readonly deviceListeners = new Map<string, Set<(e: DeviceEvent) => void>>();
  private linkSubscription: (() => void) | undefined;
  private closed = false;

  constructor(options: FotaServiceOptions) {
    super();
    this.link = options.link;
    this.store = options.store ?? new FirmwareImageStore({ ...(options.imageDirectory !== undefined ? { directory: options.imageDirectory } : {}) });
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ component: 'fota' });
    this.pullBase = options.pullBase ?? (() => ({}));
    this.endpointList = options.endpoints ?? (() => []);
    this.defaults = options.timeouts ?? {};
    this.maxFinished = Math.max(1, options.maxFinishedJobs ?? 10_000);
    this.maxCampaigns = Math.max(1, options.maxCampaigns ?? 100);
    this.specDefaults = options.specDefaults ?? (() => undefined);
  }

  /** Serves `/fw/{imageId}` (Block2) on the LwM2M server's CoAP socket(s); pulls count as job progress. */
  attachCoap(server: LwM2MServer, options: { defaultBlockSize?: number } = {}): void {
    const remove = server.addCoapRoute('fw', coapImageHandler(this.store, {
      ...options,
      onServed: (e) => {
        if (e.endpoint !== undefined) this.noteServed(e.endpoint, e.image, e.end);
      },
    }));
    this.detach.push(remove);
  }

  /** Starts a job for `endpoint`. Refuses (409) while another job for it runs. */
  async start(endpoint: string, imageRef: string, request: FotaStartSpec, campaignId?: string): Promise<FotaJob> {
    if (this.closed) throw new FotaError('FOTA_BAD_REQUEST', 'the FOTA service is closed');
    if (endpoint.length === 0 || endpoint.length > ENDPOINT_MAX) throw new FotaError('FOTA_BAD_REQUEST', 'bad endpoint name');
    // The device's own flow fills what the request leaves out (the request's fields win).
    const given = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined)) as FotaStartSpec;
    const spec = { ...(this.specDefaults(endpoint) ?? {}), ...given } as FotaJobSpec;
    validateSpec(spec);
    const running = this.jobs.get(endpoint);
    if (running && !running.ended) throw new FotaError('FOTA_JOB_ACTIVE', `${endpoint} already has a firmware job running (${running.id}, ${running.phase}); cancel it first`);
    if (this.link.registrationId(endpoint) === undefined) throw new FotaError('FOTA_NOT_REGISTERED', `endpoint "${endpoint}" is not registered`);
    const image = await this.store.resolve(imageRef);
    const uri = spec.method === 'pull' ? this.uriFor(image, spec.protocol ?? 'coap', endpoint) : undefined;
    // Checked again after the await: two requests for one endpoint must not both start.
    const again = this.jobs.get(endpoint);
    if (again && !again.ended) throw new FotaError('FOTA_JOB_ACTIVE', `${endpoint} already has a firmware job running (${again.id})`);
    const job = new FotaJob({
      id: randomUUID(), endpoint, image, link: this.link, clock: this.clock, log: this.log,
      subscribe: (l) => this.listen(endpoint, l),
      spec: { ...spec, timeouts: { ...this.defaults, ...(spec.timeouts ?? {}) } },
      ...(uri !== undefined ? { uri } : {}),
      ...(campaignId !== undefined ? { campaignId } : {}),
      onChange: (j) => this.emit('job', j.snapshot()),
    });
    this.jobs.delete(endpoint);
    this.jobs.set(endpoint, job);
    this.trimJobs();
    job.start();
    return job;
  }

  /** The latest job of `endpoint` (running or ended). */
  job(endpoint: string): FotaJob | undefined {
    return this.jobs.get(endpoint);
  }

  /** Cancels the running job of `endpoint`. */
  cancel(endpoint: string): { job: FotaJob; answer: CancelAnswer } {
    const job = this.jobs.get(endpoint);
    if (!job) throw new FotaError('FOTA_NOT_FOUND', `${endpoint} has no firmware job`);
    const answer = job.cancel('cancelled by request');
    if (!answer.accepted) throw new FotaError('FOTA_CANNOT_CANCEL', answer.reason ?? 'cannot cancel');
    return { job, answer };
  }

  createCampaign(spec: CampaignSpec): Campaign {
    if (this.closed) throw new FotaError('FOTA_BAD_REQUEST', 'the FOTA service is closed');
    validateSpec(spec);
    const endpoints = selectEndpoints(spec.select, this.endpointList());
    if (endpoints.length === 0) throw new FotaError('FOTA_BAD_REQUEST', 'the selection matches no endpoint');
    const id = randomUUID();
    const campaign: Campaign = new Campaign({
      id, spec, endpoints, clock: this.clock,
      startJob: (ep): Promise<FotaJob> => this.start(ep, spec.image, jobSpecOf(spec), id),
      onChange: (c) => this.emit('campaign', c.snapshot(false)),
    });
    this.campaigns.set(campaign.id, campaign);
    for (const [id, c] of this.campaigns) {
      if (this.campaigns.size <= this.maxCampaigns) break;
      if (c.ended) this.campaigns.delete(id);
    }
    campaign.start();
    return campaign;
  }

  campaign(id: string): Campaign | undefined {
    return this.campaigns.get(id);
  }

  listCampaigns(): Campaign[] {
    return [...this.campaigns.values()];
  }

  /** Bytes up to `end` of `image` went to the device pulling with `?ep=endpoint`: progress of its pull job. */
  noteServed(endpoint: string, image: StoredImage, end: number): void {
    const job = this.jobs.get(endpoint);
    if (job && job.image.id === image.id) job.noteServed(end);
  }

  /** Cancels every campaign and job (devices are told where they can be), stops serving images. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.detach.splice(0)) d();
    this.linkSubscription?.();
    this.linkSubscription = undefined;
    for (const c of this.campaigns.values()) c.cancel('server closing');
    const running = [...this.jobs.values()].filter((j) => !j.ended);
    for (const j of running) j.cancel('server closing');
    await Promise.race([
      Promise.all(running.map((j) => j.done)),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
  }

  /** `<base>/fw/<id>?ep=<endpoint>`: the query lets the server count what each device fetched (progress). */
  private listen(endpoint: string, listener: (e: DeviceEvent) => void): () => void {
    this.linkSubscription ??= this.link.subscribe((e) => {
      for (const l of [...(this.deviceListeners.get(e.endpoint) ?? [])]) l(e);
    });
    let set = this.deviceListeners.get(endpoint);
    if (!set) this.deviceListeners.set(endpoint, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.deviceListeners.get(endpoint) === set) this.deviceListeners.delete(endpoint);
    };
  }

  private uriFor(image: StoredImage, protocol: FotaProtocol, endpoint: string): string {
    const base = this.pullBase()[protocol];
    if (base === undefined) throw new FotaError('FOTA_BAD_REQUEST', `this server does not serve images over ${protocol}`);
    return `${base.replace(/\/+$/, '')}/fw/${image.id}?ep=${encodeURIComponent(endpoint)}`;
  }

  private trimJobs(): void {
    if (this.jobs.size <= this.maxFinished) return;
    for (const [ep, j] of this.jobs) {
      if (this.jobs.size <= this.maxFinished) break;
      if (j.ended) this.jobs.delete(ep);
    }
  }
}

function validateSpec(spec: FotaJobSpec): void {
  if (spec.method !== 'push' && spec.method !== 'pull') throw new FotaError('FOTA_BAD_REQUEST', 'method must be push or pull');
  if (spec.blockSize !== undefined && ![16, 32, 64, 128, 256, 512, 1024].includes(spec.blockSize)) {
    throw new FotaError('FOTA_BAD_REQUEST', `blockSize must be a power of two within 16–1024, got ${spec.blockSize}`);
  }
  if (spec.method === 'push' && spec.protocol !== undefined && spec.protocol !== 'coap' && spec.protocol !== 'coaps') {
    throw new FotaError('FOTA_BAD_REQUEST', `push goes over the device's CoAP session; protocol ${spec.protocol} is for pull`);
  }
}

function jobSpecOf(spec: CampaignSpec): FotaJobSpec {
  return {
    method: spec.method,
    ...(spec.protocol !== undefined ? { protocol: spec.protocol } : {}),
    ...(spec.blockSize !== undefined ? { blockSize: spec.blockSize } : {}),
    ...(spec.resetMechanism !== undefined ? { resetMechanism: spec.resetMechanism } : {}),
    ...(spec.timeouts !== undefined ? { timeouts: spec.timeouts } : {}),
    ...(spec.maxDeliveries !== undefined ? { maxDeliveries: spec.maxDeliveries } : {}),
  };
}

/** `*` any run of characters, `?` one character; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function selectEndpoints(select: CampaignSpec['select'], registered: Iterable<string>): string[] {
  if ('endpoints' in select) return [...new Set(select.endpoints)];
  const re = globToRegExp(select.pattern);
  return [...registered].filter((ep) => re.test(ep)).sort();
}
