import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LwM2MServer } from '../lwm2m-server.js';

/** Prometheus metrics of the reference server (prom-client, one registry per server instance). */

export interface ServerMetricsOptions {
  /** Use this registry (e.g. shared with the bootstrap server); default a new one. */
  registry?: Registry;
  /** Node process metrics (`process_*`, `nodejs_*`). Default true. */
  defaultMetrics?: boolean;
  /** Extra gauges read at scrape time. */
  gauges?: { queuePending?: () => number; sseClients?: () => number };
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class ServerMetrics {
  readonly registry: Registry;
  readonly registrations: Counter<never>;
  readonly updates: Counter<never>;
  readonly deregistrations: Counter<never>;
  readonly expirations: Counter<never>;
  readonly notifications: Counter<never>;
  readonly sends: Counter<never>;
  readonly dmDuration: Histogram<'operation' | 'code'>;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly events: Counter<'type'>;
  private readonly detach: () => void;

  constructor(lwm2m: LwM2MServer, options: ServerMetricsOptions = {}) {
    const registry = options.registry ?? new Registry();
    this.registry = registry;
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
    const registers = [registry];
    new Gauge({
      name: 'lwm2m_registrations', help: 'Current registrations.', registers,
      collect() { this.set(lwm2m.registrations.store.count()); },
    });
    const gauges = options.gauges ?? {};
    if (gauges.queuePending) {
      const read = gauges.queuePending;
      new Gauge({ name: 'lwm2m_queue_pending_requests', help: 'Requests waiting for queue-mode clients to wake.', registers, collect() { this.set(read()); } });
    }
    if (gauges.sseClients) {
      const read = gauges.sseClients;
      new Gauge({ name: 'lwm2m_http_event_streams', help: 'Open Server-Sent Events streams.', registers, collect() { this.set(read()); } });
    }
    this.registrations = new Counter({ name: 'lwm2m_registrations_total', help: 'Accepted Register requests.', registers });
    this.updates = new Counter({ name: 'lwm2m_updates_total', help: 'Accepted Update requests.', registers });
    this.deregistrations = new Counter({ name: 'lwm2m_deregistrations_total', help: 'De-register requests.', registers });
    this.expirations = new Counter({ name: 'lwm2m_expirations_total', help: 'Registrations removed after their lifetime.', registers });
    this.notifications = new Counter({ name: 'lwm2m_notifications_total', help: 'Notifications received.', registers });
    this.sends = new Counter({ name: 'lwm2m_sends_total', help: 'Send (/dp) requests received.', registers });
    this.dmDuration = new Histogram({
      name: 'lwm2m_dm_request_duration_seconds', help: 'Device management requests from the HTTP API, by operation and CoAP response code.',
      labelNames: ['operation', 'code'], buckets: DURATION_BUCKETS, registers,
    });
    this.httpRequests = new Counter({
      name: 'lwm2m_http_requests_total', help: 'HTTP API requests by method, route and status.', labelNames: ['method', 'route', 'status'], registers,
    });
    this.httpDuration = new Histogram({
      name: 'lwm2m_http_request_duration_seconds', help: 'HTTP API request duration by method and route.',
      labelNames: ['method', 'route'], buckets: DURATION_BUCKETS, registers,
    });
    this.events = new Counter({ name: 'lwm2m_http_events_total', help: 'Events published on the event stream, by type.', labelNames: ['type'], registers });

    const onRegistered = (): void => this.registrations.inc();
    const onUpdated = (): void => this.updates.inc();
    const onDeregistered = (): void => this.deregistrations.inc();
    const onExpired = (): void => this.expirations.inc();
    const onNotification = (): void => this.notifications.inc();
    const onSend = (): void => this.sends.inc();
    lwm2m.on('registered', onRegistered);
    lwm2m.on('updated', onUpdated);
    lwm2m.on('deregistered', onDeregistered);
    lwm2m.on('expired', onExpired);
    lwm2m.on('notification', onNotification);
    lwm2m.on('send', onSend);
    this.detach = () => {
      lwm2m.off('registered', onRegistered);
      lwm2m.off('updated', onUpdated);
      lwm2m.off('deregistered', onDeregistered);
      lwm2m.off('expired', onExpired);
      lwm2m.off('notification', onNotification);
      lwm2m.off('send', onSend);
    };
  }

  /** Times a DM operation; `code` is the CoAP code it ended with (`timeout`, `error` when there was none). */
  observeDm(operation: string, code: string, seconds: number): void {
    this.dmDuration.observe({ operation, code }, seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  close(): void {
    this.detach();
  }
}
