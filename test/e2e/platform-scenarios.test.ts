import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ContentFormat } from '../../src/codec/content-format.js';
import { parsePath } from '../../src/core/path.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Registration } from '../../src/server/registration/registration.js';
import { EmbeddedServer } from '../../simulators/embedded.js';
import { loadForRun, nullStream, runFleet } from '../../simulators/run.js';
import { modelsFor } from '../../simulators/shard-task.js';
import { isScenarioError, loadScenario } from '../../simulators/scenario/load.js';
import { formatIssue } from '../../simulators/scenario/types.js';

const root = join(import.meta.dirname, '..', '..');
const scenarioFile = (name: string): string => join(root, 'scenarios', `${name}.yaml`);

/** Runs a scenario file in this thread against an embedded server the test holds (to look inside it). */
async function runAgainst(name: string, overrides: { devices?: number; timeScale?: number }, onServer: (s: EmbeddedServer) => void | Promise<void>) {
  const scenario = await loadForRun(scenarioFile(name), overrides);
  const embedded = await EmbeddedServer.start(scenario, silentLogger, modelsFor(scenario));
  try {
    await onServer(embedded);
    const report = await runFleet({
      scenarioFile: scenarioFile(name), overrides, workers: 0, logLevel: 'error',
      status: nullStream(), out: nullStream(),
      endpoints: { ...(embedded.serverUri ? { serverUri: embedded.serverUri } : {}), ...(embedded.bootstrapUri ? { bootstrapUri: embedded.bootstrapUri } : {}) },
    });
    return { report, embedded };
  } finally {
    await embedded.close();
  }
}

describe('scenarios/lwm2m-1.0.yaml (LwM2M 1.0.2, every 1.0 binding)', () => {
  it('registers with lwm2m=1.0 and b=U, UQ, S, SQ, US, UQS (sms= with S), reads TLV and LwM2M JSON, updates, de-registers; exit 0', async () => {
    const registrations: Registration[] = [];
    const jsonReads: Array<number | undefined> = [];
    const tlvReads: Array<number | undefined> = [];
    const deregistered: string[] = [];
    const { report } = await runAgainst('lwm2m-1.0', { devices: 6, timeScale: 0.5 }, (s) => {
      s.server.on('registered', (reg) => {
        registrations.push(reg);
        void s.server.read(reg.endpoint, parsePath('/3303/0'), ContentFormat.OMA_JSON).then((r) => { jsonReads.push(r.ok ? r.contentFormat : -1); }, () => jsonReads.push(-2));
        void s.server.read(reg.endpoint, parsePath('/3/0'), ContentFormat.TLV).then((r) => { tlvReads.push(r.ok ? r.contentFormat : -1); }, () => tlvReads.push(-2));
      });
      s.server.on('deregistered', (reg) => { deregistered.push(reg.endpoint); });
    });
    expect(report.exitCode, JSON.stringify(report.thresholds)).toBe(0);
    expect(report.devices).toMatchObject({ started: 6, registered: 6, failed: 0 });
    expect([report.counters['expect.passed'], report.counters['expect.failed'] ?? 0]).toEqual([12, 0]);
    expect(report.metrics['update']?.count).toBe(6);
    expect(report.metrics['deregister']?.count).toBe(6);
    expect(registrations.every((r) => r.lwm2mVersion === '1.0')).toBe(true);
    const byEp = new Map(registrations.map((r) => [r.endpoint, r]));
    const want: Array<[string, string, boolean, string | undefined]> = [
      ['U', 'U', false, undefined], ['UQ', 'U', true, undefined], ['S', 'S', false, '+33600000002'],
      ['SQ', 'S', true, '+33600000003'], ['US', 'US', false, '+33600000004'], ['UQS', 'US', true, '+33600000005'],
    ];
    for (const [i, [, transports, queue, sms]] of want.entries()) {
      const reg = byEp.get(`lwm10-${String(i).padStart(4, '0')}`);
      expect(reg, `device ${i}`).toBeDefined();
      expect([reg?.binding, reg?.queueMode, reg?.sms]).toEqual([transports, queue, sms]);
    }
    expect(jsonReads).toEqual(Array(6).fill(ContentFormat.OMA_JSON));
    expect(tlvReads).toEqual(Array(6).fill(ContentFormat.TLV));
    expect(new Set(deregistered).size).toBe(6);
  }, 60_000);

  it('LwM2M 1.1 devices with the 1.0-only UQS binding are refused at file:line:col', async () => {
    const { writeFileSync, mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const f = join(mkdtempSync(join(tmpdir(), 'lwm2m10-')), 'bad.yaml');
    writeFileSync(f, readFileSync(scenarioFile('lwm2m-1.0'), 'utf8').replace('lwm2m: "1.0"', 'lwm2m: "1.1"').replace('$schema=./schema.json', ''));
    const err = await loadScenario(f).then(() => undefined, (e: unknown) => e);
    expect(isScenarioError(err)).toBe(true);
    const lines = isScenarioError(err) ? err.issues.map(formatIssue) : [];
    expect(lines.some((l) => l.startsWith(`${f}:`) && /UQS.*LwM2M 1\.0 only.*1\.1 §6\.2\.1\.1/.test(l)), lines.join('\n')).toBe(true);
  });
});

describe('scenarios/devicewise-like.yaml (platform DM server + custom DM server)', () => {
  it('every device registers to both servers over DTLS PSK with its own identities; the custom server is denied what the ACL withholds; exit 0', async () => {
    const custom: Registration[] = [];
    const main: Registration[] = [];
    const acl: Array<{ ep: string; device: string; firmware: string; temp: string }> = [];
    let customServer: EmbeddedServer['reference'] | undefined;
    const { report } = await runAgainst('devicewise-like', { devices: 4, timeScale: 0.5 }, (s) => {
      customServer = s.customServer('custom');
      s.server.on('registered', (reg) => main.push(reg));
      customServer?.lwm2m.on('registered', (reg) => {
        custom.push(reg);
        const srv = customServer?.lwm2m;
        if (!srv) return;
        void (async () => {
          const code = async (p: string): Promise<string> => (await srv.read(reg.endpoint, parsePath(p)).catch((e: unknown) => ({ code: `error ${String(e)}` }))).code;
          acl.push({ ep: reg.endpoint, device: await code('/3/0'), firmware: await code('/5/0'), temp: await code('/3303/0/5700') });
        })();
      });
    });
    expect(customServer).toBeDefined();
    expect(report.exitCode, JSON.stringify(report.thresholds)).toBe(0);
    expect(report.devices).toMatchObject({ started: 4, registered: 4, failed: 0 });
    expect([report.counters['expect.passed'], report.counters['expect.failed'] ?? 0]).toEqual([4, 0]);
    expect(report.metrics['register']?.count).toBe(8); // each device to both servers
    expect(new Set(main.map((r) => r.endpoint)).size).toBe(4);
    expect(new Set(custom.map((r) => r.endpoint)).size).toBe(4);
    for (const r of main) expect([r.transport, r.pskIdentity]).toEqual(['dtls', `id_dm-${r.endpoint}`]);
    for (const r of custom) expect([r.transport, r.pskIdentity]).toEqual(['dtls', `id_dm_custom-${r.endpoint}`]);
    expect(acl.length).toBeGreaterThanOrEqual(4);
    for (const a of acl) expect(a, a.ep).toMatchObject({ device: '2.05', firmware: '4.01', temp: '2.05' });
  }, 60_000);
});

describe('scenarios/thingsboard-like.yaml (ThingsBoard profile, strategy 1)', () => {
  it('NoSec and PSK devices register, the profile observes its paths and the keyName telemetry is in the API; exit 0', async () => {
    const scenario = await loadForRun(scenarioFile('thingsboard-like'), { devices: 4, timeScale: 0.5 });
    const embedded = await EmbeddedServer.start(scenario, silentLogger, modelsFor(scenario), { httpPort: 0 });
    const regs: Registration[] = [];
    embedded.server.on('registered', (r) => regs.push(r));
    try {
      const report = await runFleet({
        scenarioFile: scenarioFile('thingsboard-like'), overrides: { devices: 4, timeScale: 0.5 }, workers: 0, logLevel: 'error',
        status: nullStream(), out: nullStream(),
        endpoints: { serverUri: embedded.serverUri, ...(embedded.secureServerUri ? { secureServerUri: embedded.secureServerUri } : {}) },
      });
      expect(report.exitCode, JSON.stringify(report.thresholds)).toBe(0);
      expect(report.devices).toMatchObject({ started: 4, registered: 4, failed: 0 });
      // 3 observe expectations per device, all met (the profile's observe list).
      expect([report.counters['expect.passed'], report.counters['expect.failed'] ?? 0]).toEqual([12, 0]);
      const byEp = new Map(regs.map((r) => [r.endpoint, r]));
      expect(byEp.get('LwNoSec00000000')?.transport).toBe('udp');
      expect([byEp.get('LwPSK00000000')?.transport, byEp.get('LwPSK00000000')?.pskIdentity]).toEqual(['dtls', 'LwPSK00000000-identity']);
      for (const ep of ['LwNoSec00000000', 'LwPSK00000000', 'LwNoSec00000001', 'LwPSK00000001']) {
        const res = await fetch(`${embedded.reference.httpUrl ?? ''}/api/v1/clients/${ep}/telemetry`);
        expect(res.status, ep).toBe(200);
        const body = await res.json() as { attributes: Record<string, { value: unknown }>; telemetry: Record<string, { value: unknown }> };
        expect(Object.keys(body.telemetry).sort(), ep).toEqual(['batteryLevel', 'temperature', 'temperature12']);
        expect(body.attributes['manufacturer']?.value, ep).toBe('Thingsboard Test Device');
        expect(body.attributes['sensorUnits']?.value, ep).toBe('Cel');
        expect(typeof body.telemetry['temperature']?.value, ep).toBe('number');
      }
    } finally {
      await embedded.close();
    }
  }, 60_000);

  it('a ThingsBoard credentials device with a bad key fails the load at the credentials file:line:col', async () => {
    const { writeFileSync, mkdtempSync, readFileSync, mkdirSync, copyFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'tbc-'));
    mkdirSync(join(dir, 'thingsboard'));
    copyFileSync(join(root, 'scenarios', 'thingsboard', 'device-profile.json'), join(dir, 'thingsboard', 'device-profile.json'));
    const creds = readFileSync(join(root, 'scenarios', 'thingsboard', 'credentials.json'), 'utf8').replace('"key": "0123456789abcdef0123456789abcd01"', '"key": "not-hex"');
    writeFileSync(join(dir, 'thingsboard', 'credentials.json'), creds);
    const f = join(dir, 'tb.yaml');
    writeFileSync(f, readFileSync(scenarioFile('thingsboard-like'), 'utf8').replace('$schema=./schema.json', ''));
    const err = await loadScenario(f).then(() => undefined, (e: unknown) => e);
    const lines = isScenarioError(err) ? err.issues.map(formatIssue) : [];
    const line = creds.split('\n').findIndex((l) => l.includes('not-hex')) + 1;
    expect(lines.some((l) => l.startsWith(`${join(dir, 'thingsboard', 'credentials.json')}:${line}:`)), lines.join('\n')).toBe(true);
  });

  it('a broken ThingsBoard device profile fails the scenario load at the profile file:line:col', async () => {
    const { writeFileSync, mkdtempSync, readFileSync, mkdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'tb-'));
    mkdirSync(join(dir, 'thingsboard'));
    writeFileSync(join(dir, 'thingsboard', 'credentials.json'), readFileSync(join(root, 'scenarios', 'thingsboard', 'credentials.json')));
    const profile = readFileSync(join(root, 'scenarios', 'thingsboard', 'device-profile.json'), 'utf8').replace('"observeStrategy": "SINGLE"', '"observeStrategy": "SOMETIMES"');
    writeFileSync(join(dir, 'thingsboard', 'device-profile.json'), profile);
    const f = join(dir, 'tb.yaml');
    writeFileSync(f, readFileSync(scenarioFile('thingsboard-like'), 'utf8').replace('$schema=./schema.json', ''));
    const err = await loadScenario(f).then(() => undefined, (e: unknown) => e);
    const lines = isScenarioError(err) ? err.issues.map(formatIssue) : [];
    const line = profile.split('\n').findIndex((l) => l.includes('SOMETIMES')) + 1;
    expect(lines.some((l) => l.startsWith(`${join(dir, 'thingsboard', 'device-profile.json')}:${line}:`) && l.includes('SOMETIMES')), lines.join('\n')).toBe(true);
  });
});
