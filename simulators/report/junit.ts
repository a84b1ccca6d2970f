/**
 * JUnit XML (`--out junit=report.xml`) for CI test tabs (Jenkins, GitLab, GitHub actions reporters):
 * one `<testsuite>` (inside `<testsuites>`) with one `<testcase>` per threshold (classname `thresholds`)
 * and one per `expect` (classname `expects`), a `<failure>` carrying the actual value for each that did
 * not hold. A run that ended with a non-threshold exit code (crash, invalid input, interrupt) gets one more
 * testcase, `run` / `completed`, with an `<error>`, so CI shows it red even without thresholds.
 */
import { isDurationStat, type ThresholdResult } from '../metrics/thresholds.js';
import { formatMs, formatThresholdActual } from './console.js';
import type { FleetReport } from './json.js';

/**
 * Escapes text for XML 1.0 element content and attribute values: `& < > " '` as entities, tab / CR / LF
 * as character references (so attribute values keep them), and characters XML 1.0 cannot carry
 * (C0 controls, lone surrogates, U+FFFE/U+FFFF) replaced by U+FFFD. With `attribute: false` (element
 * content) tab and LF stay as they are.
 */
export function escapeXml(text: string, options: { attribute?: boolean } = {}): string {
  const attribute = options.attribute !== false;
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0xfffd;
    if (!attribute && (ch === '\n' || ch === '\t')) {
      out += ch;
      continue;
    }
    switch (ch) {
      case '&': out += '&amp;'; continue;
      case '<': out += '&lt;'; continue;
      case '>': out += '&gt;'; continue;
      case '"': out += '&quot;'; continue;
      case "'": out += '&apos;'; continue;
      case '\t': out += '&#9;'; continue;
      case '\n': out += '&#10;'; continue;
      case '\r': out += '&#13;'; continue;
    }
    const valid = (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    out += valid ? ch : '\ufffd';
  }
  return out;
}

function attrs(pairs: Readonly<Record<string, string | number>>): string {
  return Object.entries(pairs).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join('');
}

function limitText(t: ThresholdResult): string {
  return isDurationStat(t.stat) ? formatMs(t.limit) : String(t.limit);
}

interface Case {
  classname: string;
  name: string;
  failure?: { type: string; message: string; body: string };
  error?: { type: string; message: string };
}

/** The JUnit XML document of a report. */
export function renderJUnit(report: FleetReport, options: { suiteName?: string } = {}): string {
  const cases: Case[] = [];
  for (const t of report.thresholds) {
    const c: Case = { classname: 'thresholds', name: t.expression };
    if (!t.ok) {
      const actual = formatThresholdActual(t);
      c.failure = {
        type: 'threshold',
        message: `${t.metric}.${t.stat} = ${actual}, expected ${t.op} ${limitText(t)}${t.note !== undefined ? ` (${t.note})` : ''}`,
        body: [`expression: ${t.expression}`, `actual: ${t.actual === null ? 'null' : t.actual}`,
          `limit: ${t.op} ${t.limit}`, ...(t.note !== undefined ? [`note: ${t.note}`] : [])].join('\n'),
      };
    }
    cases.push(c);
  }
  for (const e of report.expects) {
    const c: Case = { classname: 'expects', name: e.name };
    if (e.failed > 0) {
      c.failure = {
        type: 'expect',
        message: `${e.failed} of ${e.passed + e.failed} failed`,
        body: `passed: ${e.passed}\nfailed: ${e.failed}`,
      };
    }
    cases.push(c);
  }
  if (report.exitCode !== 0 && report.exitCode !== 99) {
    cases.push({ classname: 'run', name: 'completed', error: { type: 'exit', message: `run ended with exit code ${report.exitCode}` } });
  }
  const failures = cases.filter((c) => c.failure !== undefined).length;
  const errors = cases.filter((c) => c.error !== undefined).length;
  const time = (report.durationMs / 1000).toFixed(3);
  const suiteName = options.suiteName ?? `lwm2m-fleet: ${report.scenario.name}`;
  const start = new Date(report.startedAt);
  const timestamp = Number.isNaN(start.getTime()) ? '' : start.toISOString().slice(0, 19);

  const lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  lines.push(`<testsuites${attrs({ name: 'lwm2m-fleet', tests: cases.length, failures, errors, time })}>`);
  lines.push(`  <testsuite${attrs({ name: suiteName, tests: cases.length, failures, errors, skipped: 0, time, timestamp })}>`);
  const props: [string, string | number][] = [
    ['scenario.name', report.scenario.name],
    ...(report.scenario.file !== null ? [['scenario.file', report.scenario.file] as [string, string]] : []),
    ['exitCode', report.exitCode],
    ['devices.target', report.devices.target],
    ['devices.registered', report.devices.registered],
    ...(report.shards !== undefined ? [['shard', `${report.shards.index}/${report.shards.total}`] as [string, string]] : []),
  ];
  lines.push('    <properties>');
  for (const [name, value] of props) lines.push(`      <property${attrs({ name, value })}/>`);
  lines.push('    </properties>');
  for (const c of cases) {
    const head = `    <testcase${attrs({ classname: c.classname, name: c.name, time: '0' })}`;
    if (c.failure !== undefined) {
      lines.push(`${head}>`);
      lines.push(`      <failure${attrs({ type: c.failure.type, message: c.failure.message })}>${escapeXml(c.failure.body, { attribute: false })}</failure>`);
      lines.push('    </testcase>');
    } else if (c.error !== undefined) {
      lines.push(`${head}>`);
      lines.push(`      <error${attrs({ type: c.error.type, message: c.error.message })}/>`);
      lines.push('    </testcase>');
    } else {
      lines.push(`${head}/>`);
    }
  }
  lines.push('  </testsuite>');
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
