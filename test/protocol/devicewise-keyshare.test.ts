/**
 * deviceWISE-style key share: `POST /api/v1/key-share` on a custom DM server (token, body checks,
 * OpenAPI), the bounded client side ({@link shareKeys}: refusal, timeout), and a whole fleet run in
 * which the custom server's key-share endpoint is gone — the Bootstrap-Server refuses every
 * bootstrap and the devices see it fail.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer as createHttpServer, type Server } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/logger.js';
import { createServer, type ReferenceServer } from '../../src/server/create.js';
import { parseServerArgs } from '../../src/cli/server.js';
import { parseDeviceWiseProfile } from '../../src/server/profiles/devicewise/profile.js';
import { keyShareTargets, shareKeys } from '../../src/server/profiles/devicewise/bootstrap.js';
import type { BootstrapSessionRecord } from '../../src/server/bootstrap/history.js';
import { EmbeddedServer } from '../../simulators/embedded.js';
import { loadForRun, nullStream, runFleet } from '../../simulators/run.js';
import { modelsFor } from '../../simulators/shard-task.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const PROFILE = parseDeviceWiseProfile(`
platform: { shortServerId: 1, identity: "dm-{ep}" }
customServers:
  - name: custom
    shortServerId: 2
    identity: "cu-{ep}"
    keyShare: { timeout: 300ms }
    access: { 3: [R] }
`);

async function customServer(token: string): Promise<ReferenceServer> {
  const s = await createServer({ coapPort: 0, coapsPort: 0, bsCoapPort: false, httpPort: 0, keyShareToken: token, logger: silentLogger });
  closers.push(() => s.close());
  return s;
}

const post = (url: string, body: unknown, token?: string): Promise<Response> => fetch(url, {
  method: 'POST', headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body),
});

describe('POST /api/v1/key-share', () => {
  it('puts the PSK into the DTLS store with the right token; 401 without it, 400 for a bad key; in the OpenAPI document', async () => {
    const s = await customServer('t0ken');
    const url = `${s.httpUrl ?? ''}/api/v1/key-share`;
    expect((await post(url, { endpoint: 'ep1', identity: 'cu-ep1', key: '00112233' }, 'wrong')).status).toBe(401);
    expect((await post(url, { endpoint: 'ep1', identity: 'cu-ep1', key: '00112233' })).status).toBe(401);
    expect(s.psks.get('ep1')).toBeUndefined();
    expect((await post(url, { endpoint: 'ep1', identity: 'cu-ep1', key: 'zz' }, 't0ken')).status).toBe(400);
    const ok = await post(url, { endpoint: 'ep1', identity: 'cu-ep1', key: '00112233' }, 't0ken');
    expect(ok.status).toBe(204);
    expect(s.psks.get('ep1')).toMatchObject({ identity: 'cu-ep1', source: 'key-share' });
    expect(Buffer.from(s.psks.get('ep1')?.key ?? []).toString('hex')).toBe('00112233');
    // Another endpoint may not take the identity.
    expect((await post(url, { endpoint: 'ep2', identity: 'cu-ep1', key: '00112233' }, 't0ken')).status).toBe(409);
    const doc = await (await fetch(`${s.httpUrl ?? ''}/api/v1/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
    expect(doc.paths['/api/v1/key-share']?.['post']).toBeDefined();
  });

  it('lwm2m-server --key-share-token sets the token (none without the flag)', () => {
    expect(parseServerArgs(['--key-share-token', 'abc']).keyShareToken).toBe('abc');
    const saved = process.env['LWM2M_KEY_SHARE_TOKEN'];
    delete process.env['LWM2M_KEY_SHARE_TOKEN'];
    try {
      expect(parseServerArgs([]).keyShareToken).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env['LWM2M_KEY_SHARE_TOKEN'] = saved;
    }
  });

  it('a server without a key-share token has no such route', async () => {
    const s = await createServer({ coapPort: 0, bsCoapPort: false, httpPort: 0, logger: silentLogger });
    closers.push(() => s.close());
    expect((await post(`${s.httpUrl ?? ''}/api/v1/key-share`, { endpoint: 'e', identity: 'i', key: '00' }, 'x')).status).toBe(404);
  });
});

describe('shareKeys (the Bootstrap-Server side)', () => {
  const keys = { platform: 'aa', custom: { custom: '0102030405060708' } };

  it('resolves undefined when the server took the key; the refusal with its HTTP status otherwise', async () => {
    const s = await customServer('abc');
    const url = `${s.httpUrl ?? ''}/api/v1/key-share`;
    expect(await shareKeys(PROFILE, 'ep9', keys, keyShareTargets(PROFILE, { custom: url }, { custom: 'abc' }))).toBeUndefined();
    expect(s.psks.get('ep9')?.identity).toBe('cu-ep9');
    const refused = await shareKeys(PROFILE, 'ep10', keys, keyShareTargets(PROFILE, { custom: url }, { custom: 'nope' }));
    expect(refused).toMatch(/key share with custom server "custom" refused: HTTP 401/);
  });

  it('a server that never answers: the share gives up after the profile timeout (300 ms)', async () => {
    const hang: Server = createHttpServer(() => { /* never answers */ });
    hang.listen(0, '127.0.0.1');
    await once(hang, 'listening');
    closers.push(async () => { hang.closeAllConnections(); hang.close(); });
    const port = (hang.address() as { port: number }).port;
    const t0 = performance.now();
    const why = await shareKeys(PROFILE, 'ep11', keys, keyShareTargets(PROFILE, { custom: `http://127.0.0.1:${port}/api/v1/key-share` }));
    const ms = performance.now() - t0;
    expect(why).toBe('key share with custom server "custom" timed out after 300 ms');
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3000);
  });
});

describe('a failed key share aborts the bootstrap', () => {
  it('devicewise-like with the custom server\'s API gone: every bootstrap is refused (4.00), no device registers anywhere', async () => {
    const file = join(import.meta.dirname, '..', '..', 'scenarios', 'devicewise-like.yaml');
    const overrides = { devices: 2, timeScale: 0.3, durationMs: 6000 };
    const scenario = await loadForRun(file, overrides);
    const embedded = await EmbeddedServer.start(scenario, silentLogger, modelsFor(scenario));
    closers.push(() => embedded.close());
    const custom = embedded.customServer('custom');
    await custom?.http?.close(); // the key-share endpoint is unreachable now
    const failed: BootstrapSessionRecord[] = [];
    embedded.reference.bootstrap?.on('bootstrap-failed', (r) => failed.push(r));
    let registered = 0;
    embedded.server.on('registered', () => { registered++; });
    custom?.lwm2m.on('registered', () => { registered++; });
    const report = await runFleet({
      scenarioFile: file, overrides, workers: 0, logLevel: 'error', status: nullStream(), out: nullStream(),
      endpoints: { serverUri: embedded.serverUri, ...(embedded.bootstrapUri ? { bootstrapUri: embedded.bootstrapUri } : {}) },
    });
    expect(registered).toBe(0);
    expect(report.devices.registered).toBe(0);
    expect(report.metrics['bootstrap']?.errors ?? 0).toBeGreaterThanOrEqual(2);
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed.every((r) => /key share with custom server "custom" failed/.test(r.reason ?? ''))).toBe(true);
    expect(custom?.psks.size).toBe(0);
  }, 60_000);
});
