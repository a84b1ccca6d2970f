/**
 * Fleet PSK parts: `key: derive`, `{ep}` in identities, validation errors with file:line:col, the
 * embedded target's DTLS listeners and provisioning, and scenarios/bootstrap-psk.yaml.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/core/logger.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';
import { EmbeddedServer, pskDevices } from '../../simulators/embedded.js';
import { ScenarioError, loadScenario, parseScenario, resolveDevice } from '../../simulators/scenario/load.js';
import { deriveHmacPskKey } from '../../simulators/scenario/types.js';

const SCENARIOS_DIR = fileURLToPath(new URL('../../scenarios/', import.meta.url));
const PHASES = 'phases:\n  - duration: 10s\n    arrivalRate: 1\n';

async function problems(text: string, file = 'psk.yaml'): Promise<string[]> {
  try {
    await parseScenario(text, file);
  } catch (e) {
    if (e instanceof ScenarioError) return e.lines();
    throw e;
  }
  throw new Error('expected a ScenarioError, the scenario loaded');
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('scenario PSK settings', () => {
  it('key: derive is HMAC-SHA256(seed, endpoint) truncated to 16 bytes (the openssl recipe of docs/dtls-client.md)', () => {
    // printf %s LwPsk00000003 | openssl dgst -sha256 -hmac 7 → first 32 hex digits
    expect(deriveHmacPskKey(7, 'LwPsk00000003')).toBe('9668a806bb31d683cb695e5b58207412');
    expect(deriveHmacPskKey('7', 'LwPsk00000003')).toBe(deriveHmacPskKey(7, 'LwPsk00000003'));
    expect(deriveHmacPskKey(7, 'LwPsk00000004')).not.toBe(deriveHmacPskKey(7, 'LwPsk00000003'));
    expect(deriveHmacPskKey(8, 'LwPsk00000003')).not.toBe(deriveHmacPskKey(7, 'LwPsk00000003'));
  });

  it('devices resolve to identity psk-{ep} and the derived key', async () => {
    const s = await parseScenario(`devices:\n  count: 3\n  endpoint: dev-{index}\n  security: { mode: psk, identity: "psk-{ep}", key: derive }\n${PHASES}options:\n  seed: 11\n`, 'a.yaml');
    const d = resolveDevice(s, 2);
    expect(d.endpoint).toBe('dev-2');
    expect(d.security).toEqual({ mode: 'psk', identity: 'psk-dev-2', key: deriveHmacPskKey(11, 'dev-2') });
  });

  it('a bad key or an unknown placeholder is an error at its file:line:col', async () => {
    const bad = await problems(`devices:\n  count: 3\n  security:\n    mode: psk\n    key: derived\n${PHASES}`);
    expect(bad.join('\n')).toMatch(/^psk\.yaml:5:10: .*hex key.*derive/m);
    const ph = await problems(`devices:\n  count: 3\n  security:\n    mode: psk\n    identity: "id-{epp}"\n${PHASES}`);
    expect(ph.join('\n')).toMatch(/^psk\.yaml:5:\d+: .*unknown placeholder \{epp\}/m);
  });

  it('scenarios/bootstrap-psk.yaml: 20 PSK devices bootstrap then register over DTLS on the embedded target', async () => {
    const s = await loadScenario(join(SCENARIOS_DIR, 'bootstrap-psk.yaml'));
    expect(s.warnings).toEqual([]);
    expect(s.target).toEqual({ kind: 'embedded' });
    expect(s.devices.count).toBe(20);
    expect(s.devices.bootstrap).toBe(true);
    expect(s.devices.security).toMatchObject({ mode: 'psk', key: { kind: 'derived' } });
    expect(resolveDevice(s, 3).security).toEqual({ mode: 'psk', identity: 'psk-LwPsk00000003', key: '9668a806bb31d683cb695e5b58207412' });
    expect(structuredClone(s)).toEqual(s);
  });
});

describe('embedded target with PSK devices', () => {
  const models = loadBuiltinRegistry();

  it('NoSec devices: no DTLS listener, coap:// URIs', async () => {
    const s = await parseScenario(`devices:\n  count: 2\n${PHASES}`, 'n.yaml');
    expect(pskDevices(s)).toBeUndefined();
    const e = await EmbeddedServer.start(s, silentLogger, models);
    cleanups.push(() => e.close());
    expect(e.serverUri).toMatch(/^coap:\/\//);
    expect(e.reference.coapsUri).toBeUndefined();
  });

  it('PSK devices without bootstrap: a coaps:// server URI and every PSK in the server store', async () => {
    const s = await parseScenario(`devices:\n  count: 4\n  endpoint: e{index}\n  security: { mode: psk, key: derive }\n${PHASES}`, 'p.yaml');
    const e = await EmbeddedServer.start(s, silentLogger, models);
    cleanups.push(() => e.close());
    expect(e.serverUri).toMatch(/^coaps:\/\/127\.0\.0\.1:\d+$/);
    expect(e.bootstrapUri).toBeUndefined();
    expect(e.reference.psks.size).toBe(4);
  });

  it('PSK devices with bootstrap: coaps:// bootstrap URI, bootstrap PSKs, and the DM PSKs bound through the per-device configs', async () => {
    const s = await loadScenario(join(SCENARIOS_DIR, 'bootstrap-psk.yaml'));
    const e = await EmbeddedServer.start(s, silentLogger, models);
    cleanups.push(() => e.close());
    expect(e.bootstrapUri).toMatch(/^coaps:\/\//);
    expect(e.serverUri).toBe(e.reference.coapsUri);
    expect(e.reference.bootstrapPsks.size).toBe(20);
    expect(e.reference.psks.size).toBe(20);
    const cfg = await e.reference.bootstrapConfigs.get('LwPsk00000003');
    expect(cfg?.servers?.[0]).toMatchObject({ uri: e.reference.coapsUri, pskIdentity: 'psk-LwPsk00000003', pskKey: '9668a806bb31d683cb695e5b58207412' });
  });
});
