/**
 * Prometheus `/metrics` while a fleet runs, from the orchestrator's merged snapshot.
 *
 * The text exposition format (0.0.4) is rendered here rather than with prom-client: prom-client's
 * Summary computes its own quantiles from raw observations (a t-digest per label set) and its Histogram
 * only counts `observe()` calls into fixed buckets — neither can publish quantiles that were already
 * computed elsewhere. Our latencies live in mergeable DDSketch histograms (merged across worker threads
 * and processes), so the exact way to expose them is a Prometheus *summary* whose quantiles come from the
 * merged sketch (1 % relative error), with exact `_sum` and `_count`. Re-observing samples into
 * prom-client would be lossy and cost O(samples) per scrape.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Histogram, type HistogramJSON } from './metrics/histogram.js';
import type { MetricsSnapshot } from './metrics/registry.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Metric name prefix. */
export const PREFIX = 'lwm2m_fleet_';
/** Quantiles published for each operation's latency summary. */
export const QUANTILES: readonly number[] = [0.5, 0.9, 0.95, 0.99, 0.999];

export interface RenderInfo {
  /** Devices this run was asked to run. */
  readonly devicesTarget?: number;
  /** Scenario name (an info label). */
  readonly scenario?: string;
}

/** A metric name part from a snapshot key: `devices.registered` → `devices_registered`. */
export function metricName(key: string): string {
  const s = key.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** A label value escaped as the text format wants (backslash, double quote, newline). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labels(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** One metric family: HELP, TYPE and its samples (skipped when it has none). */
class Family {
  readonly samples: string[] = [];
  constructor(readonly name: string, readonly type: 'counter' | 'gauge' | 'summary', readonly help: string) {}
  add(suffix: string, pairs: ReadonlyArray<readonly [string, string]>, value: number): void {
    this.samples.push(`${this.name}${suffix}${labels(pairs)} ${num(value)}`);
  }
  render(): string {
    if (this.samples.length === 0) return '';
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n${this.samples.join('\n')}\n`;
  }
}

/**
 * Renders a snapshot in the Prometheus text format:
 * - `lwm2m_fleet_operation_duration_seconds{operation,quantile}` — a summary per operation (DDSketch
 *   quantiles, exact `_sum` / `_count`, successful operations only);
 * - `lwm2m_fleet_errors_by_code_total{code}` from `errors.<code>`, `lwm2m_fleet_operation_errors_total{operation}`
 *   from `<op>.errors`, every other counter as `lwm2m_fleet_<name>_total`;
 * - every gauge as `lwm2m_fleet_<name>`; `expect` outcomes as `lwm2m_fleet_expect_total{expect,outcome}`;
 * - `lwm2m_fleet_run_seconds`, `lwm2m_fleet_devices_target`.
 * With no snapshot yet (the first workers have not reported) only the run gauges are rendered.
 */
export function renderPrometheus(snapshot: MetricsSnapshot | undefined, info: RenderInfo = {}): string {
  const families: Family[] = [];
  const fam = (name: string, type: 'counter' | 'gauge' | 'summary', help: string): Family => {
    const f = new Family(`${PREFIX}${name}`, type, help);
    families.push(f);
    return f;
  };
  const infoFam = fam('info', 'gauge', 'The fleet run (always 1).');
  infoFam.add('', info.scenario !== undefined ? [['scenario', info.scenario]] : [], 1);
  if (info.devicesTarget !== undefined) fam('devices_target', 'gauge', 'Devices this run was asked to run.').add('', [], info.devicesTarget);
  if (snapshot === undefined) return families.map((f) => f.render()).join('');
  fam('run_seconds', 'gauge', 'Seconds since the start of the run.').add('', [], Math.max(0, snapshot.endedAt - snapshot.startedAt) / 1000);

  const ops = Object.keys(snapshot.histograms).sort();
  const latency = fam('operation_duration_seconds', 'summary', 'Latency of successful operations (request sent to response received), DDSketch quantiles (1 % relative error).');
  for (const op of ops) {
    const h = Histogram.fromJSON(snapshot.histograms[op] as HistogramJSON);
    for (const q of QUANTILES) latency.add('', [['operation', op], ['quantile', String(q)]], h.count === 0 ? NaN : h.quantile(q) / 1000);
    latency.add('_sum', [['operation', op]], h.sum / 1000);
    latency.add('_count', [['operation', op]], h.count);
  }

  const opSet = new Set(ops);
  const byCode = fam('errors_by_code_total', 'counter', 'Failed operations by CoAP code or cause (timeout, reset…).');
  const opErrors = fam('operation_errors_total', 'counter', 'Failed operations by operation.');
  const plainCounters: Array<[string, number]> = [];
  for (const [key, value] of Object.entries(snapshot.counters).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (key.startsWith('errors.') && key.length > 7) byCode.add('', [['code', key.slice(7)]], value);
    else if (key.endsWith('.errors') && opSet.has(key.slice(0, -7))) opErrors.add('', [['operation', key.slice(0, -7)]], value);
    else plainCounters.push([key, value]);
  }
  const seen = new Set<string>(families.map((f) => f.name));
  for (const [key, value] of plainCounters) {
    const name = `${metricName(key)}_total`;
    if (seen.has(`${PREFIX}${name}`)) continue;
    seen.add(`${PREFIX}${name}`);
    fam(name, 'counter', `Counter ${key}.`).add('', [], value);
  }
  for (const [key, value] of Object.entries(snapshot.gauges).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const name = metricName(key);
    if (seen.has(`${PREFIX}${name}`)) continue;
    seen.add(`${PREFIX}${name}`);
    fam(name, 'gauge', `Gauge ${key} (summed over workers and processes).`).add('', [], value);
  }
  const expects = fam('expect_total', 'counter', 'Outcomes of expect steps.');
  for (const [name, t] of Object.entries(snapshot.expects).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    expects.add('', [['expect', name], ['outcome', 'passed']], t.passed);
    expects.add('', [['expect', name], ['outcome', 'failed']], t.failed);
  }
  return families.map((f) => f.render()).join('');
}

export interface MetricsEndpoint {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` on 127.0.0.1:`port` (0 picks a free port) from `source()` at each scrape.
 * Other paths answer 404. Resolves once listening.
 */
export async function startMetricsServer(port: number, source: () => MetricsSnapshot | undefined, info: RenderInfo = {}): Promise<MetricsEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('lwm2m-fleet: try /metrics\n');
      return;
    }
    let body: string;
    try {
      body = renderPrometheus(source(), info);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e instanceof Error ? e.message : String(e)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
