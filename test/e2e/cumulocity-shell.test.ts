/**
 * Cumulocity-style device management over real sockets on 127.0.0.1: the device shell
 * (`POST /api/v1/clients/{ep}/shell`), post-registration commands (awake time from the device list,
 * queued while the device sleeps, the per-device limit), and `fwupdate` running Cumulocity's FOTA flow
 * with the device's CSV settings (PUSH, PACKAGE reset, 512-byte blocks).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import type { LwM2MClient } from '../../src/client/client.js';
import { ManualClock } from '../../src/core/clock.js';
import { parsePath } from '../../src/core/path.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';
import type { ObjectModel } from '../../src/model/types.js';
import { createServer, type ReferenceServer } from '../../src/server/create.js';
import { startUdpDevice, type UdpDevice } from '../helpers/udp-device.js';
import { until as untilDefined } from '../helpers/until.js';

type Json = Record<string, unknown>;

let ref: ReferenceServer;
let base: string;
const queueClock = new ManualClock(Date.now());
const devices = new Map<string, UdpDevice>();
const temperature = loadBuiltinRegistry().getObject(3303) as ObjectModel;

async function shell(ep: string, body: string | Json): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${base}/api/v1/clients/${ep}/shell`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' },
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
}

async function get(path: string): Promise<Json> {
  return (await (await fetch(`${base}${path}`)).json()) as Json;
}

/** Polls `fn` (bounded: 1200 × 25 ms). */
const until = <T>(fn: () => Promise<T | undefined>): Promise<T> => untilDefined(fn, 1200, 25);

async function startDevice(endpoint: string): Promise<LwM2MClient> {
  const dev = await startUdpDevice(ref, endpoint, (connections) => ({
    device: { manufacturer: 'fleet', modelNumber: 'm', serialNumber: endpoint, firmwareVersion: '1.0.0' },
    objects: [{ model: temperature, instances: [{ id: 0, values: { 5700: 21.5, 5701: 'Cel' } }] }],
    firmware: { protocols: ['coap'], pkgName: 'app', pkgVersion: '1.0.0', update: { connections, flashMs: 5 } },
  }));
  devices.set(endpoint, dev);
  return dev.client;
}

beforeAll(async () => {
  ref = await createServer({
    coapPort: 0, bsCoapPort: false, httpPort: 0,
    awakeTimesMs: { 'c8y-sleepy': 30_000, 'c8y-online': 0 },
    fotaSettings: { 'c8y-fw': { deliveryMethod: 'PUSH', resetMechanism: 'PACKAGE' } },
    queue: { clock: queueClock, maxPending: 2 },
  });
  base = ref.httpUrl as string;
  await startDevice('c8y-online');
});

afterAll(async () => {
  for (const d of devices.values()) {
    await d.client.stop({ deregister: false });
    d.dispose();
  }
  await ref.close();
});

describe('Cumulocity device shell', () => {
  it('one command answers like its DM route', async () => {
    const r = await shell('c8y-online', 'read /3/0/0');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: '2.05', values: { '/3/0/0': 'fleet' } });
    const j = await shell('c8y-online', { command: 'discover /3303' });
    expect(j.status).toBe(200);
    expect((j.json.links as Json[]).map((l) => l.path)).toContain('/3303/0/5700');
  });

  it('several lines run in order; each result has the status and body of its route', async () => {
    const script = [
      'write /1/0/1 600',
      'writeattr /3303/0/5700 pmin=1 pmax=60',
      'observe /3303/0/5700',
      'cancelobservation /3303/0/5700',
      'create /3303/1 5700=19.5 5701=Cel',
      'read /3303/1/5700',
      'delete /3303/1',
      'execute /3/0/12',
    ].join('\n');
    const r = await shell('c8y-online', script);
    expect(r.status).toBe(200);
    const results = r.json.results as Array<{ line: number; command: string; statusCode: number; body: Json }>;
    expect(results.map((x) => [x.line, x.statusCode])).toEqual([[1, 200], [2, 200], [3, 200], [4, 200], [5, 201], [6, 200], [7, 200], [8, 200]]);
    expect(results[4]?.body).toMatchObject({ location: '/3303/1' });
    expect(results[5]?.body).toMatchObject({ values: { '/3303/1/5700': 19.5 } });
    const client = devices.get('c8y-online')?.client as LwM2MClient;
    expect(client.tree.requireInstance(parsePath('/1/0')).get(1)).toBe(600);
  });

  it('a syntax error anywhere → 400 with each bad line and column, nothing runs', async () => {
    const r = await shell('c8y-online', 'write /1/0/1 700\nwriteattr /3/0/9 pmin=x\nfrob');
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 'LWM2M_SHELL_SYNTAX', errors: [{ line: 2, column: 23 }, { line: 3, column: 1 }] });
    const client = devices.get('c8y-online')?.client as LwM2MClient;
    expect(client.tree.requireInstance(parsePath('/1/0')).get(1)).toBe(600);
    expect((await shell('c8y-online', 'write /3303/0/5700 warm')).status).toBe(400);
    expect((await shell('nobody', 'read /3')).status).toBe(404);
  });

  it('is in the OpenAPI document', async () => {
    const doc = (await get('/api/v1/openapi.json')) as { paths: Record<string, Json> };
    expect(Object.keys(doc.paths)).toContain('/api/v1/clients/{ep}/shell');
  });
});

describe('post-registration commands (awake time from the device list)', () => {
  it('a U-binding device with a CSV awake time: commands queue while it sleeps, run after its Update; the limit refuses the excess', async () => {
    const client = await startDevice('c8y-sleepy');
    expect(ref.http?.queue.isAsleep('c8y-sleepy')).toBe(false);
    client.sleep();
    queueClock.advance(30_001); // the CSV's awakeTimeRegistrationParameter, not the server default
    expect(ref.http?.queue.isAsleep('c8y-sleepy')).toBe(true);
    const a = await shell('c8y-sleepy', 'write /1/0/1 900');
    const b = await shell('c8y-sleepy', 'read /1/0/1');
    expect([a.status, b.status]).toEqual([202, 202]);
    const full = await shell('c8y-sleepy', 'read /3/0/0');
    expect(full.status).toBe(503);
    expect(full.json).toMatchObject({ code: 'LWM2M_QUEUE_FULL' });
    await client.wakeUp(); // Update: the queued commands go out in order
    const done = await until(async () => {
      const rec = await get(`/api/v1/requests/${b.json.requestId as string}`);
      return rec.status === 'pending' ? undefined : rec;
    });
    expect(done).toMatchObject({ status: 'done', httpStatus: 200, body: { values: { '/1/0/1': 900 } } });
  });

  it('awake time 0 in the device list = always online: answered directly', async () => {
    queueClock.advance(3_600_000);
    expect((await shell('c8y-online', 'read /3/0/1')).status).toBe(200);
  });
});

describe('fwupdate: Cumulocity FOTA flow', () => {
  it('unknown image → 404 naming the refs tried', async () => {
    const r = await shell('c8y-online', 'fwupdate nope;9.9;coap://example/nope.bin');
    expect(r.status).toBe(404);
    expect(r.json.message).toContain('"nope@9.9" or "nope.bin"');
  });

  it('runs the device CSV settings: push in 512-byte blocks, PACKAGE reset, until success', async () => {
    const image = encodeFirmwareImage({ name: 'app', version: '2.0.0', body: randomBytes(3000) });
    const up = await fetch(`${base}/api/v1/firmware/images`, { method: 'POST', body: image, headers: { 'content-type': 'application/octet-stream' } });
    expect(up.status).toBe(201);
    await startDevice('c8y-fw');
    const r = await shell('c8y-fw', 'fwupdate app;2.0.0;https://tenant.example/inventory/binaries/123');
    expect(r.status).toBe(202);
    expect(r.json).toMatchObject({ endpoint: 'c8y-fw', method: 'push', blockSize: 512, resetMechanism: 'package', image: { name: 'app', version: '2.0.0' } });
    const job = await until(async () => {
      const g = await get('/api/v1/clients/c8y-fw/firmware');
      return g.outcome ? g : undefined;
    });
    expect(job).toMatchObject({ phase: 'succeeded', outcome: { status: 'success', updateResult: 1 } });
  });

  it('POST …/firmware without a method: a Cumulocity-imported device gets its flow; another device is a 400', async () => {
    const post = async (ep: string, body: Json): Promise<{ status: number; json: Json }> => {
      const res = await fetch(`${base}/api/v1/clients/${ep}/firmware`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      return { status: res.status, json: (await res.json()) as Json };
    };
    const started = await post('c8y-fw', { image: 'app@2.0.0' });
    expect(started.status).toBe(202);
    expect(started.json).toMatchObject({ method: 'push', blockSize: 512, resetMechanism: 'package' });
    const ended = await until(async () => {
      const g = await get('/api/v1/clients/c8y-fw/firmware');
      return g.outcome ? g : undefined;
    });
    expect(ended).toMatchObject({ outcome: { status: 'success' } });
    const other = await post('c8y-online', { image: 'app@2.0.0' });
    expect(other.status).toBe(400);
    expect(other.json.message).toContain('method must be push or pull');
  });
});
