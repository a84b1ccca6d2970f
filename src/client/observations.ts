import type { Clock } from '../core/clock.js';
import type { LwM2MPath } from '../core/path.js';
import type { LwM2MNode } from '../model/node.js';
import type { DeviceResponse } from './request.js';
import { Notifier } from './notifier.js';
import type { NotificationAttributes } from './attributes.js';

/** Where notifications of one observation go (the transport wraps its CoAP observe stream in this). */
export interface ObserveSink {
  /** Sends one notification (a 2.05 with the payload, or an error code that ends the observation). */
  notify(response: DeviceResponse): void;
  /** Ends the observation from our side (e.g. the resource was deleted). */
  end(): void;
  /** The transport tells us the server ended it (RST to a notification, RFC 7641 §3.6). */
  onEnd?(listener: () => void): void;
}

interface Entry {
  readonly shortServerId: number;
  readonly paths: readonly LwM2MPath[];
  readonly notifiers: Notifier[];
  readonly sink: ObserveSink;
}

/**
 * Active observations of one device, per server. An observation is keyed by server + the path list it
 * watches (a re-observe of the same target replaces the old one, RFC 7641 §4.1); composite observations
 * watch several paths and send one combined notification.
 */
export class Observations {
  /** Made on the first observation (most devices of a fleet are never observed). */
  private entries: Map<string, Entry> | undefined;

  constructor(private readonly clock: Clock) {}

  static key(shortServerId: number, paths: readonly LwM2MPath[]): string {
    return `${shortServerId}|${paths.map((p) => p.toString()).join(',')}`;
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }

  /**
   * Starts an observation. `read(path)` reads one watched path; `encode()` builds the full notification
   * (for a composite observation, of every path).
   */
  add(opts: {
    shortServerId: number;
    paths: readonly LwM2MPath[];
    initial: readonly LwM2MNode[];
    attributes: (path: LwM2MPath) => NotificationAttributes;
    read: (path: LwM2MPath) => LwM2MNode;
    encode: () => DeviceResponse;
    sink: ObserveSink;
  }): void {
    const key = Observations.key(opts.shortServerId, opts.paths);
    this.cancel(key);
    const notifiers = opts.paths.map((path, i) => {
      const n = new Notifier({
        clock: this.clock,
        attributes: () => opts.attributes(path),
        read: () => opts.read(path),
        send: () => {
          let response: DeviceResponse;
          try {
            response = opts.encode();
          } catch {
            this.cancel(key);
            opts.sink.end();
            return;
          }
          opts.sink.notify(response);
          // Other paths of a composite observation were just reported too.
          for (const other of notifiers) if (other !== n) other.markSent();
        },
        onGone: () => {
          this.cancel(key);
          opts.sink.notify({ code: '4.04' });
          opts.sink.end();
        },
      });
      n.start(opts.initial[i] as LwM2MNode);
      return n;
    });
    const entry: Entry = { shortServerId: opts.shortServerId, paths: opts.paths, notifiers, sink: opts.sink };
    (this.entries ??= new Map()).set(key, entry);
    opts.sink.onEnd?.(() => {
      if (this.entries?.get(key) === entry) this.cancel(key);
    });
  }

  cancel(key: string): boolean {
    const e = this.entries?.get(key);
    if (!e) return false;
    for (const n of e.notifiers) n.stop();
    this.entries?.delete(key);
    return true;
  }

  /** Cancels by server + target (GET with Observe=1, RFC 7641 §3.6). */
  cancelTarget(shortServerId: number, paths: readonly LwM2MPath[]): boolean {
    return this.cancel(Observations.key(shortServerId, paths));
  }

  /** Drops every observation of one server (deregistration, re-registration, disable). */
  cancelServer(shortServerId: number): void {
    if (!this.entries) return;
    for (const [k, e] of [...this.entries]) if (e.shortServerId === shortServerId) this.cancel(k);
  }

  cancelAll(): void {
    for (const k of [...this.entries?.keys() ?? []]) this.cancel(k);
  }

  /** A resource changed: every observation watching it or an ancestor/descendant re-evaluates. */
  changed(path: LwM2MPath): void {
    if (!this.entries) return;
    for (const e of this.entries.values()) {
      e.paths.forEach((p, i) => {
        if (p.contains(path) || path.contains(p)) e.notifiers[i]?.changed();
      });
    }
  }

  /** Write-Attributes changed timing for a server: re-arm its timers. */
  attributesChanged(shortServerId: number): void {
    for (const e of this.entries?.values() ?? []) if (e.shortServerId === shortServerId) for (const n of e.notifiers) n.attributesChanged();
  }
}
