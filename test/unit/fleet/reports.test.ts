import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { MetricsRegistry, mergeSnapshots, type MetricsSnapshot } from '../../../simulators/metrics/registry.js';
import {
  formatElapsed, formatMs, orderOperations, renderSummary, statusFromSnapshots, statusLine, useColor,
} from '../../../simulators/report/console.js';
import {
  buildReport, mergeReports, parseReport, ReportError, reportSchema, reportToSnapshot, serializeReport,
  validateReport, type FleetReport,
} from '../../../simulators/report/json.js';
import { escapeXml, renderJUnit } from '../../../simulators/report/junit.js';

const schemaFile: unknown = JSON.parse(readFileSync(new URL('../../../simulators/report/report.schema.json', import.meta.url), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: true }).compile(schemaFile as object);

const THRESHOLDS = ['register.p99 < 500ms', 'errors.rate < 0.01', 'notifications.count > 1000', 'expect.failed == 0', 'read.max < 2s'];

interface Shard {
  registrations: number[];
  readFailures: string[];
  notifications: number;
  expects: [string, boolean][];
}

function shardSnapshot(s: Shard, startedAt: number, endedAt: number): MetricsSnapshot {
  const r = new MetricsRegistry({ now: () => endedAt, startedAt });
  for (const ms of s.registrations) {
    r.recordSuccess('register', ms);
    r.increment('devices.started');
    r.increment('devices.registered');
  }
  for (const code of s.readFailures) r.recordFailure('read', code);
  r.recordSuccess('read', 3);
  for (let i = 0; i < s.notifications; i++) r.recordNotification(40);
  for (const [name, ok] of s.expects) r.recordExpect(name, ok);
  r.setGauge('devices.connected', s.registrations.length);
  return r.snapshot();
}

const shardArb: fc.Arbitrary<Shard> = fc.record({
  registrations: fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { maxLength: 80 }),
  readFailures: fc.array(fc.constantFrom('4.04', 'timeout', '5.00'), { maxLength: 5 }),
  notifications: fc.integer({ min: 0, max: 700 }),
  expects: fc.array(fc.tuple(fc.constantFrom('observe /3/0/9 within 30s', 'write <fw & "uri">'), fc.boolean()), { maxLength: 6 }),
});

function report(s: Shard, extra: Partial<Parameters<typeof buildReport>[0]> = {}): FleetReport {
  return buildReport({
    scenario: { name: 'quickstart', file: 'scenarios/quickstart.yaml' },
    snapshot: shardSnapshot(s, 1_700_000_000_000, 1_700_000_060_000),
    thresholds: THRESHOLDS,
    devicesTarget: 100,
    ...extra,
  });
}

const FIXED: Shard = {
  registrations: Array.from({ length: 100 }, (_, i) => 10 + i * 7), // 10 … 703 ms
  readFailures: ['4.04', '4.04', 'timeout'],
  notifications: 600,
  expects: [['observe /3/0/9', true], ['observe /3/0/9', false], ['fw <update> & "go"', true]],
};

describe('JSON report', () => {
  it('report.schema.json is exactly the exported schema', () => {
    expect(schemaFile).toEqual(JSON.parse(JSON.stringify(reportSchema)));
  });

  it('holds the right numbers', () => {
    const r = report(FIXED);
    expect(r).toMatchObject({
      schemaVersion: 1, tool: 'lwm2m-fleet', scenario: { name: 'quickstart', file: 'scenarios/quickstart.yaml' },
      startedAt: 1_700_000_000_000, endedAt: 1_700_000_060_000, durationMs: 60_000,
      devices: { target: 100, started: 100, registered: 100, failed: 0 },
      exitCode: 99, // register.p99 ≈ 703 ms ≥ 500 ms and expect.failed = 1
    });
    expect(r.shards).toBeUndefined();
    const reg = r.metrics['register']!;
    expect(reg.count).toBe(100);
    expect(reg.errors).toBe(0);
    expect(reg.rate).toBeCloseTo(100 / 60, 12);
    expect(reg.min).toBe(10);
    expect(reg.max).toBe(703);
    expect(reg.avg).toBeCloseTo(10 + 99 * 7 / 2, 9);
    expect(Math.abs(reg.p50 - (10 + 49 * 7)) / (10 + 49 * 7)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(reg.p99 - (10 + 98 * 7)) / (10 + 98 * 7)).toBeLessThanOrEqual(0.01);
    expect(reg.histogram.count).toBe(100);
    expect(r.metrics['read']).toMatchObject({ count: 1, errors: 3 });
    expect(r.counters).toMatchObject({ errors: 3, 'errors.4.04': 2, 'errors.timeout': 1, timeouts: 1, notifications: 600, operations: 104 });
    expect(r.gauges).toEqual({ 'devices.connected': 100 });
    expect(r.expects).toEqual([
      { name: 'fw <update> & "go"', passed: 1, failed: 0 },
      { name: 'observe /3/0/9', passed: 1, failed: 1 },
    ]);
    expect(r.thresholds.map((t) => [t.expression, t.ok])).toEqual([
      ['register.p99 < 500ms', false], ['errors.rate < 0.01', false], ['notifications.count > 1000', false],
      ['expect.failed == 0', false], ['read.max < 2s', true],
    ]);
    expect(r.thresholds[1]!.actual).toBeCloseTo(3 / 104, 12);
  });

  it('exit code: 0 when every threshold holds, 99 when one fails, a crash code wins', () => {
    const good: Shard = { ...FIXED, registrations: [10, 20], readFailures: [], notifications: 1001, expects: [] };
    expect(report(good).exitCode).toBe(0);
    expect(report(good, { thresholds: [] }).exitCode).toBe(0);
    expect(report(FIXED).exitCode).toBe(99);
    expect(report(good, { failureExitCode: 1 }).exitCode).toBe(1);
    expect(report(FIXED, { failureExitCode: 2 }).exitCode).toBe(2);
    expect(report(FIXED, { failureExitCode: 0 }).exitCode).toBe(99);
  });

  it('validates against its JSON Schema (with ajv), for any run', () => {
    fc.assert(fc.property(shardArb, fc.option(fc.record({ index: fc.integer({ min: 0, max: 7 }), total: fc.constant(8) }), { nil: undefined }), (s, shard) => {
      const r = report(s, shard !== undefined ? { shard } : {});
      const text = serializeReport(r);
      const parsed: unknown = JSON.parse(text);
      expect(validate(parsed), JSON.stringify(validate.errors)).toBe(true);
      expect(parseReport(text)).toEqual(r);
      expect(text.endsWith('}\n')).toBe(true);
    }), { numRuns: 100 });
  });

  it('the schema rejects broken reports, and validateReport says why', () => {
    const r = JSON.parse(serializeReport(report(FIXED))) as Record<string, unknown>;
    const broken: Record<string, unknown>[] = [
      { ...r, schemaVersion: 2 },
      { ...r, tool: 'k6' },
      { ...r, extra: true },
      { ...r, exitCode: -1 },
      { ...r, devices: { target: 1 } },
      { ...r, counters: { x: 1.5 } },
      { ...r, thresholds: [{ expression: 'x' }] },
      { ...r, metrics: { read: { count: 1 } } },
      Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'metrics')),
    ];
    for (const b of broken) {
      expect(validate(b), JSON.stringify(b).slice(0, 80)).toBe(false);
      expect(() => validateReport(b)).toThrow(ReportError);
    }
    // schema-valid but inconsistent histogram
    const metrics = r['metrics'] as Record<string, { histogram: { count: number } }>;
    const inconsistent = { ...r, metrics: { ...metrics, register: { ...metrics['register']!, histogram: { ...metrics['register']!.histogram, count: 5 } } } };
    expect(validate(inconsistent)).toBe(true);
    expect(() => validateReport(inconsistent)).toThrow(/\/metrics\/register\/histogram/);
    expect(() => parseReport('{')).toThrow(/not JSON/);
  });

  it('reportToSnapshot gives back the metrics snapshot', () => {
    const snap = shardSnapshot(FIXED, 5, 60_005);
    const r = buildReport({ scenario: { name: 'x' }, snapshot: snap, devicesTarget: 1 });
    expect(r.scenario.file).toBeNull();
    expect(JSON.stringify(reportToSnapshot(r))).toBe(JSON.stringify(snap));
  });
});

describe('mergeReports', () => {
  it('two shards merge into the single-run report (metrics, counters, re-evaluated thresholds)', () => {
    fc.assert(fc.property(shardArb, shardArb, (a, b) => {
      const ra = report(a, { shard: { index: 0, total: 2 }, devicesTarget: 50 });
      const rb = report(b, { shard: { index: 1, total: 2 }, devicesTarget: 50 });
      const merged = mergeReports([JSON.parse(serializeReport(ra)), JSON.parse(serializeReport(rb))]);
      const single = buildReport({
        scenario: { name: 'quickstart', file: 'scenarios/quickstart.yaml' },
        snapshot: mergeSnapshots([shardSnapshot(a, 1_700_000_000_000, 1_700_000_060_000), shardSnapshot(b, 1_700_000_000_000, 1_700_000_060_000)]),
        thresholds: THRESHOLDS,
        devicesTarget: 100,
      });
      const { merged: info, ...rest } = merged;
      expect(rest).toEqual(single);
      expect(info).toEqual({ reports: 2, shards: [{ index: 0, total: 2 }, { index: 1, total: 2 }] });
      expect(validate(JSON.parse(serializeReport(merged)))).toBe(true);
      // order of inputs does not matter
      const { merged: _i, ...swapped } = mergeReports([rb, ra]);
      expect(swapped).toEqual(rest);
    }), { numRuns: 60 });
  });

  it('re-evaluates thresholds on the merged data', () => {
    const half: Shard = { registrations: [5, 6], readFailures: [], notifications: 600, expects: [] };
    const a = report(half, { shard: { index: 0, total: 2 } });
    const b = report(half, { shard: { index: 1, total: 2 } });
    // 600 notifications each: neither shard passes "> 1000", the fleet does
    expect(a.thresholds.find((t) => t.expression === 'notifications.count > 1000')!.ok).toBe(false);
    expect(a.exitCode).toBe(99);
    const m = mergeReports([a, b]);
    expect(m.thresholds.find((t) => t.expression === 'notifications.count > 1000')).toMatchObject({ ok: true, actual: 1200 });
    expect(m.exitCode).toBe(0);
    expect(m.devices.target).toBe(200);
    expect(m.shards).toBeUndefined();
  });

  it('keeps the union of thresholds and a crashed shard\'s exit code; merges merged reports', () => {
    const a = report(FIXED, { shard: { index: 0, total: 3 }, thresholds: ['register.count > 1'] });
    const b = report(FIXED, { shard: { index: 1, total: 3 }, thresholds: ['register.count > 1', 'read.count >= 1'], failureExitCode: 1 });
    const c = report(FIXED, { shard: { index: 2, total: 3 }, thresholds: [] });
    const ab = mergeReports([a, b]);
    expect(ab.thresholds.map((t) => t.expression)).toEqual(['register.count > 1', 'read.count >= 1']);
    expect(ab.exitCode).toBe(1);
    const abc = mergeReports([ab, c]);
    expect(abc.merged).toEqual({ reports: 3, shards: [0, 1, 2].map((index) => ({ index, total: 3 })) });
    expect(abc.metrics['register']!.count).toBe(300);
    expect(abc.exitCode).toBe(1);
    expect(() => mergeReports([abc, a])).toThrow(/shard 0\/3 appears twice/);
  });

  it('refuses what cannot be merged', () => {
    const a = report(FIXED, { shard: { index: 0, total: 2 } });
    expect(() => mergeReports([])).toThrow(ReportError);
    expect(() => mergeReports([a, a])).toThrow(/appears twice/);
    expect(() => mergeReports([a, report(FIXED, { scenario: { name: 'other' } })])).toThrow(/different scenarios/);
    expect(() => mergeReports([a, { schemaVersion: 1 }])).toThrow(/report 2: /);
    expect(mergeReports([a, report(FIXED, { scenario: { name: 'quickstart', file: 'elsewhere.yaml' } })]).scenario.file).toBeNull();
  });
});

const xmlParser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '@', parseAttributeValue: false, parseTagValue: false,
  trimValues: false, htmlEntities: true, isArray: (name) => name === 'testcase' || name === 'property',
});

interface TestCase {
  '@classname': string;
  '@name': string;
  failure?: { '@message': string; '@type': string; '#text'?: string };
  error?: { '@message': string };
}
function parseJUnit(xml: string): { suite: Record<string, string>; cases: TestCase[] } {
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = xmlParser.parse(xml) as { testsuites: { testsuite: Record<string, string> & { testcase?: TestCase[] } } };
  const suite = doc.testsuites.testsuite;
  return { suite, cases: suite.testcase ?? [] };
}

/** Any UTF-16 unit sequence: markup characters, controls, lone surrogates, non-characters, astral. */
const anyChar = fc.oneof(
  fc.constantFrom('<', '>', '&', '"', "'", '\t', '\n', '\r', ']]>', '\u0000', '\uFFFE', '\uFFFF'),
  fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
);

// XML 1.0 Char production: anything else must not appear in the document.
const INVALID_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

describe('JUnit XML', () => {
  it('has one testcase per threshold and per expect, with failures carrying the actual value', () => {
    const r = report(FIXED);
    const xml = renderJUnit(r);
    const { suite, cases } = parseJUnit(xml);
    expect(cases).toHaveLength(THRESHOLDS.length + 2);
    expect(suite['@tests']).toBe(String(THRESHOLDS.length + 2));
    expect(suite['@failures']).toBe('5'); // 4 thresholds + 1 expect
    expect(suite['@errors']).toBe('0');
    expect(suite['@time']).toBe('60.000');
    expect(suite['@name']).toBe('lwm2m-fleet: quickstart');
    expect(cases.map((c) => [c['@classname'], c['@name'], c.failure !== undefined])).toEqual([
      ['thresholds', 'register.p99 < 500ms', true],
      ['thresholds', 'errors.rate < 0.01', true],
      ['thresholds', 'notifications.count > 1000', true],
      ['thresholds', 'expect.failed == 0', true],
      ['thresholds', 'read.max < 2s', false],
      ['expects', 'fw <update> & "go"', false],
      ['expects', 'observe /3/0/9', true],
    ]);
    const p99 = r.thresholds[0]!.actual!;
    expect(cases[0]!.failure!['@message']).toBe(`register.p99 = ${formatMs(p99)}, expected < 500.0ms`);
    expect(cases[0]!.failure!['#text']).toContain(`actual: ${p99}`);
    expect(cases[1]!.failure!['@message']).toContain('errors.rate = 0.0288 (2.88 %), expected < 0.01');
    expect(cases[2]!.failure!['@message']).toBe('notifications.count = 600, expected > 1000');
    expect(cases[6]!.failure!['@message']).toBe('1 of 2 failed');
  });

  it('passes cleanly when everything held; a crash adds an error testcase', () => {
    const ok = report({ ...FIXED, registrations: [10], readFailures: [], notifications: 2000, expects: [['e', true]] });
    const { suite, cases } = parseJUnit(renderJUnit(ok));
    expect(suite['@failures']).toBe('0');
    expect(cases.every((c) => c.failure === undefined && c.error === undefined)).toBe(true);
    const crashed = parseJUnit(renderJUnit({ ...ok, exitCode: 1 }));
    expect(crashed.suite['@errors']).toBe('1');
    expect(crashed.cases.at(-1)).toMatchObject({ '@classname': 'run', '@name': 'completed', error: { '@message': 'run ended with exit code 1' } });
  });

  it('stays well-formed and round-trips names whatever they contain', () => {
    const base = report(FIXED);
    fc.assert(fc.property(
      fc.string({ unit: anyChar, maxLength: 30 }),
      fc.array(fc.string({ unit: anyChar, minLength: 1, maxLength: 20 }), { maxLength: 4 }),
      (scenario, expectNames) => {
        const r: FleetReport = {
          ...base, scenario: { name: scenario, file: null }, expects: expectNames.map((name) => ({ name, passed: 0, failed: 1 })),
        };
        const xml = renderJUnit(r);
        expect(INVALID_XML_CHAR.test(xml)).toBe(false);
        const { suite, cases } = parseJUnit(xml);
        const sanitize = (s: string): string => [...s].map((ch) => (INVALID_XML_CHAR.test(ch) ? '\uFFFD' : ch)).join('');
        expect(suite['@name']).toBe(`lwm2m-fleet: ${sanitize(scenario)}`);
        const names = cases.filter((c) => c['@classname'] === 'expects').map((c) => c['@name']);
        expect(names).toEqual(r.expects.map((e) => sanitize(e.name)));
      },
    ), { numRuns: 200 });
  });

  it('escapeXml escapes markup and references whitespace in attributes', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    expect(escapeXml('x\ny\tz\r')).toBe('x&#10;y&#9;z&#13;');
    expect(escapeXml('x\ny\t', { attribute: false })).toBe('x\ny\t');
    expect(escapeXml('\u0000\u0007\uFFFE\uD800ok😀')).toBe('\uFFFD\uFFFD\uFFFD\uFFFDok😀');
  });
});

describe('console report', () => {
  it('renders the closing table without colour', () => {
    const text = renderSummary(report(FIXED), { color: false });
    expect(text).not.toContain('\x1b[');
    const lines = text.split('\n');
    expect(lines[0]).toBe('lwm2m-fleet · quickstart (scenarios/quickstart.yaml) · 1m00s');
    expect(lines[1]).toBe('devices: target 100 · started 100 · registered 100 · failed 0');
    const header = lines.find((l) => l.startsWith('operation'))!;
    expect(header.split(/\s+/)).toEqual(['operation', 'count', 'rate/s', 'errors', 'p50', 'p90', 'p95', 'p99', 'max']);
    const reg = lines.find((l) => l.startsWith('register'))!.split(/\s+/);
    const m = report(FIXED).metrics['register']!;
    expect(reg).toEqual(['register', '100', '1.67', '0', formatMs(m.p50), formatMs(m.p90), formatMs(m.p95), formatMs(m.p99), '703.0ms']);
    expect(lines.find((l) => l.startsWith('read'))!.split(/\s+/).slice(0, 4)).toEqual(['read', '1', '0.02', '3']);
    expect(header.length).toBe(lines.find((l) => l.startsWith('register'))!.length); // columns line up
    expect(text).toContain('operations 104 · errors 3 (2.88 %) · timeouts 1 · notifications 600 (23.4 KiB)');
    expect(text).toMatch(/errors by code:\n {2}4\.04 {5}2\n {2}timeout {2}1\n/);
    expect(text).toMatch(/\n {2}✗ {2}observe \/3\/0\/9 +1 passed {2}1 failed\n/);
    expect(text).toMatch(/\n {2}✓ {2}fw <update> & "go" +1 passed {2}0 failed\n/);
    expect(text).toContain(`✗  register.p99 < 500ms        actual ${formatMs(m.p99)}\n`);
    expect(text).toContain('✗  notifications.count > 1000  actual 600\n');
    expect(text).toContain('✓  read.max < 2s               actual 3.00ms\n');
    expect(text).toContain('✗  errors.rate < 0.01          actual 0.0288 (2.88 %)\n');
    expect(text).toContain('✗  expect.failed == 0          actual 1\n');
    expect(text.trimEnd().endsWith('exit 99: a threshold failed')).toBe(true);
  });

  it('colours only when asked, and says "no data"', () => {
    const r = report({ registrations: [], readFailures: [], notifications: 0, expects: [] });
    const plain = renderSummary(r, { color: false });
    expect(plain).toMatch(/✗ +register.p99 < 500ms +actual no data +\(no data for "register"\)\n/);
    expect(plain).toMatch(/✗ +notifications.count > 1000 +actual 0 +\(no data for "notifications" \(counts as 0\)\)\n/);
    const coloured = renderSummary(r, { color: true });
    expect(coloured).toContain('\x1b[31m');
    expect(coloured.replace(new RegExp(String.fromCharCode(27) + '\\[\\d+m', 'g'), '')).toBe(plain);
  });

  it('useColor: TTY and NO_COLOR unset or empty', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
  });

  it('statusLine: in place on a TTY, plain lines otherwise', () => {
    const s = { elapsedMs: 65_000, devices: { connected: 830, registered: 812, target: 1000 }, reqPerSec: 1234.56, errors: 3, p95Ms: 42.12 };
    const plain = '00:01:05  devices 812/1000 registered, 830 connected  req/s 1234.6  errors 3  p95 42.1ms';
    expect(statusLine(s, { tty: false })).toBe(`${plain}\n`);
    expect(statusLine(s, { tty: false, color: true })).toBe(`${plain}\n`);
    expect(statusLine(s, { tty: true })).toBe(`\r\x1b[2K${plain}`);
    expect(statusLine(s, { tty: true, color: true })).toContain('\x1b[31merrors 3\x1b[0m');
    expect(statusLine(s, { tty: true, columns: 41 })).toBe(`\r\x1b[2K${plain.slice(0, 40)}`);
    expect(statusLine({ ...s, p95Ms: null }, { tty: false })).toContain('p95 -\n');
  });

  it('statusFromSnapshots: req/s over the interval, p95 over all operations', () => {
    let now = 0;
    const r = new MetricsRegistry({ now: () => now, startedAt: 0 });
    r.setGauge('devices.connected', 4);
    r.setGauge('devices.registered', 3);
    for (let i = 0; i < 10; i++) r.recordSuccess('register', 10);
    now = 2000;
    const first = r.snapshot();
    for (let i = 0; i < 30; i++) r.recordSuccess('read', 100);
    r.recordFailure('read', 'timeout');
    now = 3000;
    const second = r.snapshot();
    expect(statusFromSnapshots(null, first, 5)).toEqual({
      elapsedMs: 2000, devices: { connected: 4, registered: 3, target: 5 }, reqPerSec: 5, errors: 0, p95Ms: 10,
    });
    const s = statusFromSnapshots(first, second, 5);
    expect(s.reqPerSec).toBe(31);
    expect(s.errors).toBe(1);
    expect(s.p95Ms).toBe(100);
  });

  it('formats durations and orders operations', () => {
    expect([0.5321, 4.213, 123.44, 1234, 65_000, 302_000, 3_720_000].map(formatMs))
      .toEqual(['0.532ms', '4.21ms', '123.4ms', '1.23s', '1m05s', '5m02s', '1h02m']);
    expect(formatElapsed(3_725_000)).toBe('01:02:05');
    expect(orderOperations(['zeta', 'read', 'alpha', 'register', 'update'])).toEqual(['register', 'update', 'read', 'alpha', 'zeta']);
  });
});
