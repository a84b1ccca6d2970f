import { afterEach, describe, expect, it } from 'vitest';
import { MetricsRegistry, type MetricsSnapshot } from '../../../simulators/metrics/registry.js';
import { escapeLabel, metricName, PROMETHEUS_CONTENT_TYPE, renderPrometheus, startMetricsServer, type MetricsEndpoint } from '../../../simulators/prometheus.js';

function sample(): MetricsSnapshot {
  let t = 1_000_000;
  const m = new MetricsRegistry({ now: () => t, startedAt: t });
  for (let i = 1; i <= 100; i++) m.recordSuccess('register', i); // 1 … 100 ms
  m.recordFailure('register', '4.04');
  m.recordFailure('update', 'timeout');
  m.recordNotification(12);
  m.recordNotification(30);
  m.increment('devices.registered', 100);
  m.setGauge('devices.connected', 97);
  m.recordExpect('expect observe /3/0/9 within 30s', true);
  m.recordExpect('expect observe /3/0/9 within 30s', false);
  t += 10_000;
  return m.snapshot();
}

/** The samples of the text format as name{labels} → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('renderPrometheus', () => {
  it('renders counters, gauges, expects and a latency summary per operation', () => {
    const text = renderPrometheus(sample(), { devicesTarget: 100, scenario: 'quick"start' });
    const s = parse(text);
    expect(s.get('lwm2m_fleet_info{scenario="quick\\"start"}')).toBe(1);
    expect(s.get('lwm2m_fleet_devices_target')).toBe(100);
    expect(s.get('lwm2m_fleet_run_seconds')).toBe(10);
    expect(s.get('lwm2m_fleet_operation_duration_seconds_count{operation="register"}')).toBe(100);
    expect(s.get('lwm2m_fleet_operation_duration_seconds_sum{operation="register"}')).toBeCloseTo(5.05, 9);
    const p50 = s.get('lwm2m_fleet_operation_duration_seconds{operation="register",quantile="0.5"}') as number;
    const p99 = s.get('lwm2m_fleet_operation_duration_seconds{operation="register",quantile="0.99"}') as number;
    expect(Math.abs(p50 - 0.05) / 0.05).toBeLessThanOrEqual(0.01);
    expect(Math.abs(p99 - 0.099) / 0.099).toBeLessThanOrEqual(0.01);
    // an operation that only failed: empty summary (NaN quantiles, zero count)
    expect(s.get('lwm2m_fleet_operation_duration_seconds_count{operation="update"}')).toBe(0);
    expect(text).toContain('lwm2m_fleet_operation_duration_seconds{operation="update",quantile="0.5"} NaN');
    expect(s.get('lwm2m_fleet_errors_by_code_total{code="4.04"}')).toBe(1);
    expect(s.get('lwm2m_fleet_errors_by_code_total{code="timeout"}')).toBe(1);
    expect(s.get('lwm2m_fleet_operation_errors_total{operation="register"}')).toBe(1);
    expect(s.get('lwm2m_fleet_operation_errors_total{operation="update"}')).toBe(1);
    expect(s.get('lwm2m_fleet_errors_total')).toBe(2);
    expect(s.get('lwm2m_fleet_timeouts_total')).toBe(1);
    expect(s.get('lwm2m_fleet_notifications_total')).toBe(2);
    expect(s.get('lwm2m_fleet_notifications_bytes_total')).toBe(42);
    expect(s.get('lwm2m_fleet_devices_registered_total')).toBe(100);
    expect(s.get('lwm2m_fleet_devices_connected')).toBe(97);
    expect(s.get('lwm2m_fleet_expect_total{expect="expect observe /3/0/9 within 30s",outcome="passed"}')).toBe(1);
    expect(s.get('lwm2m_fleet_expect_total{expect="expect observe /3/0/9 within 30s",outcome="failed"}')).toBe(1);
  });

  it('is valid exposition text: one HELP and TYPE per family, before its samples, valid names', () => {
    const text = renderPrometheus(sample());
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1] as string);
    expect(new Set(types).size).toBe(types.length);
    let family = '';
    for (const line of text.trimEnd().split('\n')) {
      const t = /^# TYPE (\S+) (counter|gauge|summary)$/.exec(line);
      if (t) {
        family = t[1] as string;
        continue;
      }
      if (line.startsWith('# HELP ')) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|[+-]Inf|-?[0-9.e+-]+)$/);
      expect(line.startsWith(family)).toBe(true);
    }
    expect(text.endsWith('\n')).toBe(true);
  });

  it('renders the run gauges alone before the first snapshot', () => {
    const text = renderPrometheus(undefined, { devicesTarget: 5 });
    expect(parse(text).get('lwm2m_fleet_devices_target')).toBe(5);
    expect(text).not.toContain('operation_duration');
  });

  it('makes names and label values safe', () => {
    expect(metricName('notifications.bytes')).toBe('notifications_bytes');
    expect(metricName('9lives-x')).toBe('_9lives_x');
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});

describe('startMetricsServer', () => {
  let endpoint: MetricsEndpoint | undefined;
  afterEach(async () => {
    await endpoint?.close();
    endpoint = undefined;
  });

  it('serves /metrics from the current snapshot on 127.0.0.1 and 404 elsewhere', async () => {
    const state: { current?: MetricsSnapshot } = {};
    endpoint = await startMetricsServer(0, () => state.current, { devicesTarget: 3 });
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const first = await fetch(endpoint.url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(await first.text()).not.toContain('operation_duration');
    state.current = sample();
    const second = await (await fetch(endpoint.url)).text();
    expect(second).toContain('lwm2m_fleet_operation_duration_seconds_count{operation="register"} 100');
    expect((await fetch(endpoint.url.replace('/metrics', '/'))).status).toBe(404);
  });
});
