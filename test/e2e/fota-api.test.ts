/**
 * Server-side FOTA over real sockets on 127.0.0.1: the HTTP API (images, per-client jobs, campaigns, SSE
 * `firmware` events, OpenAPI), `GET /fw/{id}` with Range, `/fw/{id}` over CoAP Block2, and a 50-device
 * campaign of client SDK devices with concurrency 10 and injected failures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { createServer, type ReferenceServer } from '../../src/server/create.js';
import { createUdpSocket } from '../../src/transport/udp.js';
import { startUdpDevice, type UdpDevice } from '../helpers/udp-device.js';
import { until } from '../helpers/until.js';

type Json = Record<string, unknown>;

let ref: ReferenceServer;
let base: string;
let dir: string;
const devices: UdpDevice[] = [];
const image = encodeFirmwareImage({ name: 'app', version: '3.1.0', body: randomBytes(20_000) });
const fileImage = encodeFirmwareImage({ name: 'app', version: '3.2.0', body: randomBytes(3000) });

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Json; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body instanceof Uint8Array) {
    init.body = body;
    (init.headers as Record<string, string>)['content-type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : {}, headers: res.headers };
}

async function startDevice(endpoint: string, opts: { failWith?: number; pushOnly?: boolean } = {}): Promise<void> {
  devices.push(await startUdpDevice(ref, endpoint, (connections) => ({
    device: { manufacturer: 'fleet', modelNumber: 'm', serialNumber: endpoint, firmwareVersion: '3.0.0' },
    firmware: {
      protocols: ['coap', 'http'], pkgName: 'app', pkgVersion: '3.0.0', ...(opts.pushOnly ? { deliveryMethod: 'push' as const } : {}),
      update: { connections, flashMs: 10, ...(opts.failWith !== undefined ? { failure: { forcedResult: opts.failWith } } : {}) },
    },
  })));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fota-'));
  await writeFile(join(dir, 'app-3.2.0.img'), fileImage);
  await writeFile(join(dir, 'junk.img'), Buffer.from('not an image'));
  ref = await createServer({ coapPort: 0, bsCoapPort: false, httpPort: 0, firmwareDir: dir });
  base = ref.httpUrl as string;
  ref.lwm2m.setMaxListeners(100); // startDevice() waits for registrations 10 at a time
});

afterAll(async () => {
  await Promise.all(devices.map((d) => d.client.stop({ deregister: false })));
  for (const d of devices) d.dispose();
  await ref.close();
  await rm(dir, { recursive: true, force: true });
});

describe('firmware images', () => {
  it('uploads raw and JSON images, refuses a bad one, lists, loads from the image directory', async () => {
    const raw = await api('POST', '/api/v1/firmware/images', image);
    expect(raw.status).toBe(201);
    expect(raw.json).toMatchObject({ name: 'app', version: '3.1.0', size: image.length });
    expect(raw.json.id).toMatch(/^[0-9a-f]{16}$/);
    const again = await api('POST', '/api/v1/firmware/images', image);
    expect(again.json.id).toBe(raw.json.id);
    const built = await api('POST', '/api/v1/firmware/images', { name: 'tiny', version: '0.1', bodyBase64: Buffer.from('hello').toString('base64') });
    expect(built.status).toBe(201);
    expect(built.json).toMatchObject({ name: 'tiny', version: '0.1', bodySize: 5 });
    const bad = await api('POST', '/api/v1/firmware/images', Buffer.from('LWFX nonsense that is long enough to hold a header.......'));
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe('FOTA_BAD_IMAGE');
    const badJson = await api('POST', '/api/v1/firmware/images', { name: 'x' });
    expect(badJson.status).toBe(400);
    expect((await api('GET', '/api/v1/firmware/images/app@3.1.0')).json.id).toBe(raw.json.id);
    const fromDir = await api('GET', '/api/v1/firmware/images/app-3.2.0.img');
    expect(fromDir.json).toMatchObject({ version: '3.2.0', fileName: 'app-3.2.0.img' });
    expect((await api('GET', '/api/v1/firmware/images/junk.img')).status).toBe(400);
    expect((await api('GET', '/api/v1/firmware/images/nothing')).status).toBe(404);
    const list = await api('GET', '/api/v1/firmware/images');
    expect((list.json.images as Json[]).map((i) => i.version).sort()).toEqual(['0.1', '3.1.0', '3.2.0']);
  });

  it('GET /fw/{id} over HTTP: whole image, ranges (206, 416), ETag and 304', async () => {
    const id = (await api('GET', '/api/v1/firmware/images/app@3.1.0')).json.id as string;
    const whole = await fetch(`${base}/fw/${id}`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-length')).toBe(String(image.length));
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const etag = whole.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    expect(Buffer.from(await whole.arrayBuffer()).equals(image)).toBe(true);
    const part = await fetch(`${base}/fw/${id}`, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${image.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(image.subarray(100, 200))).toBe(true);
    const open = await fetch(`${base}/fw/${id}`, { headers: { range: `bytes=${image.length - 10}-` } });
    expect([open.status, (await open.arrayBuffer()).byteLength]).toEqual([206, 10]);
    const suffix = await fetch(`${base}/fw/${id}`, { headers: { range: 'bytes=-5' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(image.subarray(image.length - 5))).toBe(true);
    const beyond = await fetch(`${base}/fw/${id}`, { headers: { range: `bytes=${image.length}-` } });
    expect([beyond.status, beyond.headers.get('content-range')]).toEqual([416, `bytes */${image.length}`]);
    const stale = await fetch(`${base}/fw/${id}`, { headers: { range: 'bytes=0-9', 'if-range': '"0000000000000000"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
    const same = await fetch(`${base}/fw/${id}`, { headers: { 'if-none-match': etag } });
    expect(same.status).toBe(304);
    const head = await fetch(`${base}/fw/${id}`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, String(image.length)]);
    expect((await fetch(`${base}/fw/ffffffffffffffff`)).status).toBe(404);
  });

  it('GET /fw/{id} over CoAP: Block2 at the client\'s SZX, ETag, Size2, 4.04 for an unknown image', async () => {
    const id = (await api('GET', '/api/v1/firmware/images/app@3.1.0')).json.id as string;
    const coap = new CoapEndpoint({ socket: await createUdpSocket({ host: '127.0.0.1' }) });
    try {
      const port = ref.lwm2m.port;
      const chunks: Buffer[] = [];
      let etag: string | undefined;
      for (let num = 0; num < 1000; num++) {
        const r = await coap.request({ host: '127.0.0.1', port, pathSegments: ['fw', id], block2: { num, szx: 2 } });
        expect(r.code).toBe('2.05');
        expect(r.block2?.szx).toBe(2);
        expect(r.block2?.num).toBe(num);
        const tag = r.etag?.toString('hex');
        etag ??= tag;
        expect(tag).toBe(etag);
        if (num === 0) expect(r.size2).toBe(image.length);
        chunks.push(r.payload);
        if (!r.block2?.more) break;
      }
      expect(Buffer.concat(chunks).equals(image)).toBe(true);
      expect(chunks.length).toBe(Math.ceil(image.length / 64));
      const r1024 = await coap.request({ host: '127.0.0.1', port, pathSegments: ['fw', id], block2: { num: 3, szx: 6 } });
      expect(r1024.payload.equals(image.subarray(3072, 4096))).toBe(true);
      const unknown = await coap.request({ host: '127.0.0.1', port, pathSegments: ['fw', 'ffffffffffffffff'] });
      expect(unknown.code).toBe('4.04');
      const put = await coap.request({ host: '127.0.0.1', port, method: 'PUT', pathSegments: ['fw', id], payload: 'x' });
      expect(put.code).toBe('4.05');
      const past = await coap.request({ host: '127.0.0.1', port, pathSegments: ['fw', id], block2: { num: 5000, szx: 6 } });
      expect(past.code).toBe('4.02');
    } finally {
      await coap.close();
    }
  });

  it('the OpenAPI document lists the firmware routes', async () => {
    const doc = (await api('GET', '/api/v1/openapi.json')).json as { paths: Record<string, Json> };
    for (const p of ['/api/v1/clients/{ep}/firmware', '/api/v1/firmware/images', '/api/v1/firmware/images/{id}', '/api/v1/firmware/campaigns', '/api/v1/firmware/campaigns/{id}', '/fw/{imageId}']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    expect(Object.keys(doc.paths['/api/v1/clients/{ep}/firmware'] ?? {}).sort()).toEqual(['delete', 'get', 'post']);
  });
});

describe('firmware jobs and campaigns over the API (real UDP devices)', () => {
  it('one device: push via the API, progress and outcome, 409 while running, cancel of an ended job is 409', async () => {
    await startDevice('solo');
    const start = await api('POST', '/api/v1/clients/solo/firmware', { method: 'push', image: 'app@3.1.0', blockSize: 1024 });
    expect(start.status).toBe(202);
    expect(start.json).toMatchObject({ endpoint: 'solo', method: 'push', blockSize: 1024 });
    expect((await api('POST', '/api/v1/clients/solo/firmware', { method: 'pull', image: 'app@3.1.0' })).status).toBe(409);
    const done = await until(async () => {
      const g = await api('GET', '/api/v1/clients/solo/firmware');
      return g.json.outcome ? g.json : undefined;
    });
    expect(done).toMatchObject({ phase: 'succeeded', percent: 100, outcome: { status: 'success', updateResult: 1 } });
    expect((await api('DELETE', '/api/v1/clients/solo/firmware')).status).toBe(409);
    expect((await api('POST', '/api/v1/clients/nobody/firmware', { method: 'push', image: 'app@3.1.0' })).status).toBe(404);
    expect((await api('POST', '/api/v1/clients/solo/firmware', { method: 'push', image: 'app@3.1.0', blockSize: 100 })).status).toBe(400);
    expect((await api('POST', '/api/v1/clients/solo/firmware', { method: 'pull', protocol: 'https', image: 'app@3.1.0' })).status).toBe(400);
    // the SSE ring holds the job's firmware events
    const frames: string[] = [];
    for (let id = ref.http?.events.oldestId ?? 1; id <= (ref.http?.events.lastId ?? 0); id++) {
      const e = ref.http?.events.get(id);
      if (e?.type === 'firmware' && e.endpoint === 'solo') frames.push(e.frame);
    }
    expect(frames.some((f) => f.includes('"state":"delivering"'))).toBe(true);
    expect(frames.some((f) => f.includes('"state":"succeeded"') && f.includes('"result":1'))).toBe(true);
  }, 60_000);

  it('a 50-device campaign, concurrency 10: a result per device, injected failures (Result 8, a push-only device) reported', async () => {
    const eps = Array.from({ length: 50 }, (_, i) => `fleet-${String(i).padStart(3, '0')}`);
    const failing = new Set(['fleet-007', 'fleet-021', 'fleet-042']);
    for (let i = 0; i < eps.length; i += 10) {
      await Promise.all(eps.slice(i, i + 10).map((ep) => startDevice(ep, failing.has(ep) ? { failWith: 8 } : ep === 'fleet-033' ? { pushOnly: true } : {})));
    }
    let maxRunning = 0;
    const running = new Set<string>();
    ref.http?.fota.on('job', (s) => {
      if (s.campaignId === undefined) return;
      if (s.outcome) running.delete(s.endpoint);
      else running.add(s.endpoint);
      maxRunning = Math.max(maxRunning, running.size);
    });
    const created = await api('POST', '/api/v1/firmware/campaigns', {
      select: { pattern: 'fleet-*' }, image: 'app@3.1.0', method: 'pull', protocol: 'coap', concurrency: 10,
    });
    expect(created.status).toBe(202);
    expect(created.json.total).toBe(50);
    const id = created.json.id as string;
    const done = await until(async () => {
      const g = await api('GET', `/api/v1/firmware/campaigns/${id}`);
      return g.json.state === 'done' ? g.json : undefined;
    }, 2400);
    expect(done.counts).toMatchObject({ success: 46, failed: 4, queued: 0, running: 0, timeout: 0, cancelled: 0 });
    const results = done.devices as Array<{ endpoint: string; status: string; outcome?: { updateResult?: number } }>;
    expect(results).toHaveLength(50);
    for (const r of results) {
      if (failing.has(r.endpoint)) expect(r).toMatchObject({ status: 'failed', outcome: { updateResult: 8, phase: 'updating' } });
      else if (r.endpoint === 'fleet-033') expect(r).toMatchObject({ status: 'failed', outcome: { phase: 'reading', reason: expect.stringMatching(/only supports push/) } });
      else expect(r.status, r.endpoint).toBe('success');
    }
    expect(maxRunning).toBeLessThanOrEqual(10);
    expect(maxRunning).toBeGreaterThan(1);
    const list = await api('GET', '/api/v1/firmware/campaigns');
    expect((list.json.campaigns as Json[]).some((c) => c.id === id && c.devices === undefined)).toBe(true);
  }, 180_000);

  it('campaign cancel and a campaign over endpoints that are not registered', async () => {
    const c = await api('POST', '/api/v1/firmware/campaigns', {
      select: { endpoints: ['ghost-1', 'ghost-2'] }, image: 'app@3.2.0', method: 'push', concurrency: 2,
    });
    expect(c.status).toBe(202);
    const done = await until(async () => {
      const g = await api('GET', `/api/v1/firmware/campaigns/${c.json.id as string}`);
      return g.json.state !== 'running' ? g.json : undefined;
    });
    expect(done.counts).toMatchObject({ failed: 2 });
    expect(JSON.stringify(done.devices)).toMatch(/not registered/);
    expect((await api('POST', '/api/v1/firmware/campaigns', { select: { pattern: 'nothing-*' }, image: 'app@3.1.0', method: 'push' })).status).toBe(400);
    expect((await api('POST', '/api/v1/firmware/campaigns', { select: { pattern: 'fleet-*' }, image: 'nope', method: 'push' })).status).toBe(404);
    const slow = await api('POST', '/api/v1/firmware/campaigns', { select: { pattern: 'fleet-0*' }, image: 'app@3.2.0', method: 'push', blockSize: 16, concurrency: 2 });
    const del = await api('DELETE', `/api/v1/firmware/campaigns/${slow.json.id as string}`);
    expect(del.status).toBe(202);
    const ended = await until(async () => {
      const g = await api('GET', `/api/v1/firmware/campaigns/${slow.json.id as string}`);
      return g.json.state !== 'running' ? g.json : undefined;
    });
    expect(ended.state).toBe('cancelled');
    expect((ended.counts as Json).cancelled).toBeGreaterThanOrEqual(48);
  }, 60_000);
});
