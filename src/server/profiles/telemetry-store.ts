/**
 * Named device data as a platform shows it: telemetry (time series, a bounded ring per key) and
 * attributes (latest value per key), per endpoint. Filled by a profile adapter from reads,
 * notifications and sends; read through {@link TelemetryStore.latest} and {@link TelemetryStore.telemetry}.
 * Every structure is bounded: points per key, keys per endpoint, endpoints.
 */
import { LwM2MError } from '../../core/errors.js';

export interface TimedValue {
  /** Clock milliseconds. */
  readonly ts: number;
  readonly value: unknown;
}

export interface LatestData {
  readonly attributes: Record<string, TimedValue>;
  /** The newest point of each telemetry key. */
  readonly telemetry: Record<string, TimedValue>;
}

export interface TelemetryStoreOptions {
  /** Points kept per telemetry key (oldest dropped). Default 1 000. */
  pointsPerKey?: number;
  /** Keys (attributes + telemetry) per endpoint; values of further keys are dropped and counted. Default 1 024. */
  keysPerEndpoint?: number;
  /** Endpoints kept; the least recently written one is forgotten beyond it. Default 1 000 000. */
  maxEndpoints?: number;
}

/** A fixed-capacity ring of points. */
class Ring {
  private readonly buf: TimedValue[] = [];
  private start = 0;

  constructor(private readonly capacity: number) {}

  push(p: TimedValue): void {
    if (this.buf.length < this.capacity) this.buf.push(p);
    else {
      this.buf[this.start] = p;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  get size(): number {
    return this.buf.length;
  }

  /** The newest `limit` points, oldest first. */
  last(limit: number): TimedValue[] {
    const n = Math.min(limit, this.buf.length);
    const out: TimedValue[] = [];
    for (let i = this.buf.length - n; i < this.buf.length; i++) out.push(this.buf[(this.start + i) % this.buf.length] as TimedValue);
    return out;
  }

  newest(): TimedValue | undefined {
    return this.buf.length === 0 ? undefined : this.buf[(this.start + this.buf.length - 1) % this.buf.length];
  }
}

interface DeviceData {
  readonly attributes: Map<string, TimedValue>;
  readonly telemetry: Map<string, Ring>;
}

export class TelemetryStore {
  private readonly devices = new Map<string, DeviceData>();
  private readonly pointsPerKey: number;
  private readonly keysPerEndpoint: number;
  private readonly maxEndpoints: number;
  /** Values dropped because an endpoint had too many keys. */
  droppedValues = 0;

  constructor(options: TelemetryStoreOptions = {}) {
    this.pointsPerKey = positive(options.pointsPerKey ?? 1000, 'pointsPerKey');
    this.keysPerEndpoint = positive(options.keysPerEndpoint ?? 1024, 'keysPerEndpoint');
    this.maxEndpoints = positive(options.maxEndpoints ?? 1_000_000, 'maxEndpoints');
  }

  private device(endpoint: string): DeviceData {
    let d = this.devices.get(endpoint);
    if (d) {
      // Map order = recency of writes: move to the end.
      this.devices.delete(endpoint);
    } else {
      d = { attributes: new Map(), telemetry: new Map() };
      if (this.devices.size >= this.maxEndpoints) {
        const oldest = this.devices.keys().next();
        if (!oldest.done) this.devices.delete(oldest.value);
      }
    }
    this.devices.set(endpoint, d);
    return d;
  }

  private hasRoom(d: DeviceData, key: string, kind: 'attribute' | 'telemetry'): boolean {
    const known = kind === 'attribute' ? d.attributes.has(key) : d.telemetry.has(key);
    if (known || d.attributes.size + d.telemetry.size < this.keysPerEndpoint) return true;
    this.droppedValues++;
    return false;
  }

  /** Appends a telemetry point. */
  addTelemetry(endpoint: string, key: string, ts: number, value: unknown): void {
    const d = this.device(endpoint);
    if (!this.hasRoom(d, key, 'telemetry')) return;
    let ring = d.telemetry.get(key);
    if (!ring) d.telemetry.set(key, (ring = new Ring(this.pointsPerKey)));
    ring.push({ ts, value });
  }

  /** Sets an attribute (latest value wins). */
  setAttribute(endpoint: string, key: string, ts: number, value: unknown): void {
    const d = this.device(endpoint);
    if (!this.hasRoom(d, key, 'attribute')) return;
    d.attributes.set(key, { ts, value });
  }

  /** Attributes and the newest telemetry point of each key; empty for an unknown endpoint. */
  latest(endpoint: string): LatestData {
    const d = this.devices.get(endpoint);
    const attributes: Record<string, TimedValue> = {};
    const telemetry: Record<string, TimedValue> = {};
    if (d) {
      for (const [k, v] of d.attributes) attributes[k] = v;
      for (const [k, r] of d.telemetry) {
        const n = r.newest();
        if (n) telemetry[k] = n;
      }
    }
    return { attributes, telemetry };
  }

  /** The newest `limit` points of a telemetry key (default all kept), oldest first. */
  telemetry(endpoint: string, key: string, options: { limit?: number } = {}): TimedValue[] {
    const ring = this.devices.get(endpoint)?.telemetry.get(key);
    if (!ring) return [];
    const limit = options.limit ?? ring.size;
    return ring.last(Math.max(0, Math.floor(limit)));
  }

  /** Telemetry keys of an endpoint, sorted. */
  telemetryKeys(endpoint: string): string[] {
    return [...(this.devices.get(endpoint)?.telemetry.keys() ?? [])].sort();
  }

  has(endpoint: string): boolean {
    return this.devices.has(endpoint);
  }

  endpoints(): string[] {
    return [...this.devices.keys()];
  }

  forget(endpoint: string): boolean {
    return this.devices.delete(endpoint);
  }
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new LwM2MError('BAD_VALUE', `${what} must be a positive integer, got ${n}`);
  return n;
}
