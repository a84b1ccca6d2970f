/**
 * A firmware campaign: one image to many devices, at most `concurrency` jobs at a time, a result per
 * device. Devices are taken in order; a device whose job cannot start (not registered, another job
 * running) gets a failed result with the reason and the campaign goes on.
 */
import type { Clock } from '../../core/clock.js';
import type { FotaJob } from './job.js';
import type { FotaJobSpec, FotaOutcome, FotaPhase } from './types.js';

export interface CampaignSpec extends FotaJobSpec {
  readonly select: { readonly endpoints: readonly string[] } | { readonly pattern: string };
  /** An image id, `name@version`, or a file name in the image directory. */
  readonly image: string;
  /** Jobs at a time. Default 10. */
  readonly concurrency?: number;
}

export type CampaignDeviceStatus = 'queued' | 'running' | 'success' | 'failed' | 'timeout' | 'cancelled';

export interface CampaignDeviceResult {
  endpoint: string;
  status: CampaignDeviceStatus;
  jobId?: string;
  phase?: FotaPhase;
  percent?: number | null;
  outcome?: FotaOutcome;
}

export interface CampaignSnapshot {
  id: string;
  state: 'running' | 'done' | 'cancelled';
  image: string;
  method: FotaJobSpec['method'];
  protocol?: string;
  concurrency: number;
  total: number;
  counts: Record<CampaignDeviceStatus, number>;
  createdAt: string;
  finishedAt?: string;
  devices?: CampaignDeviceResult[];
}

export interface CampaignOptions {
  id: string;
  spec: CampaignSpec;
  endpoints: readonly string[];
  clock: Clock;
  startJob: (endpoint: string) => Promise<FotaJob>;
  onChange?: (c: Campaign) => void;
}

export class Campaign {
  readonly id: string;
  readonly spec: CampaignSpec;
  readonly concurrency: number;
  /** Resolves when every device has a final result. */
  readonly done: Promise<void>;
  private readonly clock: Clock;
  private readonly startJob: (endpoint: string) => Promise<FotaJob>;
  private readonly onChange: ((c: Campaign) => void) | undefined;
  private readonly results = new Map<string, CampaignDeviceResult>();
  private readonly jobs = new Map<string, FotaJob>();
  private readonly queue: string[];
  private running = 0;
  private cancelled = false;
  private readonly createdAt: number;
  private finishedAt: number | undefined;
  private resolveDone!: () => void;

  constructor(options: CampaignOptions) {
    this.id = options.id;
    this.spec = options.spec;
    this.concurrency = Math.max(1, Math.min(1000, Math.floor(options.spec.concurrency ?? 10)));
    this.clock = options.clock;
    this.startJob = options.startJob;
    this.onChange = options.onChange;
    this.queue = [...options.endpoints];
    for (const ep of this.queue) this.results.set(ep, { endpoint: ep, status: 'queued' });
    this.createdAt = this.clock.now();
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get ended(): boolean {
    return this.finishedAt !== undefined;
  }

  start(): void {
    this.pump();
  }

  /** Queued devices are dropped (cancelled); running jobs are asked to cancel. */
  cancel(reason = 'campaign cancelled'): void {
    if (this.ended || this.cancelled) return;
    this.cancelled = true;
    for (const ep of this.queue.splice(0)) {
      const r = this.results.get(ep);
      if (r) {
        r.status = 'cancelled';
        r.outcome = { status: 'cancelled', phase: 'queued', reason };
      }
    }
    for (const job of this.jobs.values()) if (!job.ended) job.cancel(reason);
    this.pump();
  }

  snapshot(withDevices = true): CampaignSnapshot {
    const counts: Record<CampaignDeviceStatus, number> = { queued: 0, running: 0, success: 0, failed: 0, timeout: 0, cancelled: 0 };
    const devices: CampaignDeviceResult[] = [];
    for (const r of this.results.values()) {
      counts[r.status]++;
      if (!withDevices) continue;
      const job = this.jobs.get(r.endpoint);
      const s = job && r.status === 'running' ? job.snapshot() : undefined;
      devices.push({ ...r, ...(s ? { phase: s.phase, percent: s.percent } : {}) });
    }
    return {
      id: this.id,
      state: this.ended ? (this.cancelled ? 'cancelled' : 'done') : 'running',
      image: this.spec.image,
      method: this.spec.method,
      ...(this.spec.protocol !== undefined ? { protocol: this.spec.protocol } : {}),
      concurrency: this.concurrency,
      total: this.results.size,
      counts,
      createdAt: new Date(this.createdAt).toISOString(),
      ...(this.finishedAt !== undefined ? { finishedAt: new Date(this.finishedAt).toISOString() } : {}),
      ...(withDevices ? { devices } : {}),
    };
  }

  private pump(): void {
    while (!this.cancelled && this.running < this.concurrency && this.queue.length > 0) {
      const ep = this.queue.shift() as string;
      this.running++;
      void this.runOne(ep).finally(() => {
        this.running--;
        this.pump();
      });
    }
    if (this.running === 0 && this.queue.length === 0 && !this.ended) {
      this.finishedAt = this.clock.now();
      this.onChange?.(this);
      this.resolveDone();
    }
  }

  private async runOne(ep: string): Promise<void> {
    const r = this.results.get(ep) as CampaignDeviceResult;
    r.status = 'running';
    let job: FotaJob;
    try {
      job = await this.startJob(ep);
    } catch (e) {
      r.status = 'failed';
      r.outcome = { status: 'failed', phase: 'queued', reason: e instanceof Error ? e.message : String(e) };
      this.onChange?.(this);
      return;
    }
    this.jobs.set(ep, job);
    r.jobId = job.id;
    if (this.cancelled) job.cancel('campaign cancelled');
    const outcome = await job.done;
    r.status = outcome.status;
    r.outcome = outcome;
    r.phase = job.phase;
    this.onChange?.(this);
  }
}
