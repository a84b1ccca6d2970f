import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree, type DeviceConfig } from '../../src/client/device-factory.js';
import { ManualClock } from '../../src/core/clock.js';
import { parsePath } from '../../src/core/path.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';
import type { ObjectModel } from '../../src/model/types.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { createHttpApi, type HttpApi } from '../../src/server/http/api.js';
import { EventHub } from '../../src/server/http/events.js';
import { jsonToResourceValue, valuesToRecords, writeBodyToNode } from '../../src/server/http/json-values.js';
import { SseBroker } from '../../src/server/http/sse.js';
import { createUdpSocket } from '../../src/transport/udp.js';

// ---- helpers --------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface Stack {
  server: LwM2MServer;
  api: HttpApi;
  base: string;
  queueClock: ManualClock;
  close(): Promise<void>;
}

async function startStack(options: { eventBufferSize?: number; heartbeatMs?: number } = {}): Promise<Stack> {
  const server = new LwM2MServer({ socket: await createUdpSocket({ host: '127.0.0.1' }) });
  const queueClock = new ManualClock(Date.now());
  const api = createHttpApi({
    lwm2m: server, host: '127.0.0.1', port: 0, queue: { clock: queueClock, awakeTimeMs: 60_000 },
    metrics: { defaultMetrics: false },
    ...(options.eventBufferSize !== undefined ? { eventBufferSize: options.eventBufferSize } : {}),
    ...(options.heartbeatMs !== undefined ? { sse: { heartbeatMs: options.heartbeatMs } } : {}),
  });
  const { url } = await api.start();
  return {
    server, api, base: url, queueClock,
    async close() {
      await api.close();
      await server.close();
    },
  };
}

interface Device {
  client: LwM2MClient;
  dispose(): void;
}

const temperatureModel = loadBuiltinRegistry().getObject(3303) as ObjectModel;

async function startDevice(server: LwM2MServer, endpoint: string, extra: { binding?: string; device?: Partial<DeviceConfig> } = {}): Promise<Device> {
  const dev = createDeviceTree({
    servers: [{ uri: `coap://127.0.0.1:${server.port}`, lifetime: 300, ...(extra.binding ? { binding: extra.binding } : {}) }],
    device: { manufacturer: 'Open Mobile Alliance', modelNumber: 'Lightweight M2M Client', serialNumber: `sn-${endpoint}`, firmwareVersion: '1.0' },
    objects: [{ model: temperatureModel, instances: [{ id: 0, values: { 5700: 21.5, 5701: 'Cel' } }] }],
    ...extra.device,
  });
  const client = new LwM2MClient({
    endpoint, tree: dev.tree,
    connections: new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) }),
  });
  const registered = new Promise<void>((resolve) => {
    const on = (reg: { endpoint: string }): void => {
      if (reg.endpoint !== endpoint) return;
      server.off('registered', on);
      resolve();
    };
    server.on('registered', on);
  });
  await client.start();
  await registered;
  return { client, dispose: dev.dispose };
}

async function stopDevice(d: Device): Promise<void> {
  await d.client.stop({ deregister: false });
  d.dispose();
}

async function http(method: string, url: string, body?: unknown): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(url, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Json), headers: res.headers };
}

interface SseMessage {
  id?: string;
  event: string;
  data: Json;
}

/** A Server-Sent Events reader over fetch: `next(pred)` resolves with the first (buffered or future) match. */
class SseStream {
  private readonly messages: SseMessage[] = [];
  private readonly waiters: Array<{ pred: (m: SseMessage) => boolean; resolve: (m: SseMessage) => void }> = [];
  readonly comments: string[] = [];
  private commentWaiter: ((c: string) => void) | undefined;
  ended = false;

  private constructor(private readonly abort: AbortController) {}

  static async open(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = new SseStream(abort);
    void stream.read(res.body as ReadableStream<Uint8Array>);
    return stream;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let at = buf.indexOf('\n\n');
        while (at >= 0) {
          this.parse(buf.slice(0, at));
          buf = buf.slice(at + 2);
          at = buf.indexOf('\n\n');
        }
      }
    } catch {
      // aborted
    }
    this.ended = true;
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        this.commentWaiter?.(line.slice(1).trim());
      }
      else if (line.startsWith('id: ')) id = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (data === '') return;
    const m: SseMessage = { ...(id !== undefined ? { id } : {}), event, data: JSON.parse(data) as Json };
    const w = this.waiters.findIndex((x) => x.pred(m));
    if (w >= 0) {
      const [waiter] = this.waiters.splice(w, 1);
      waiter?.resolve(m);
    } else {
      this.messages.push(m);
    }
  }

  next(pred: (m: SseMessage) => boolean, timeoutMs = 10_000): Promise<SseMessage> {
    const i = this.messages.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.messages.splice(i, 1)[0] as SseMessage);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no matching SSE message in time')), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => { clearTimeout(t); resolve(m); } });
    });
  }

  /** Resolves with the next `: comment` line (heartbeats). */
  nextComment(): Promise<string> {
    return new Promise((resolve) => {
      this.commentWaiter = (c) => {
        this.commentWaiter = undefined;
        resolve(c);
      };
    });
  }

  /** Every message received so far and not consumed. */
  drain(): SseMessage[] {
    return this.messages.splice(0);
  }

  close(): void {
    this.abort.abort();
  }
}

// ---- the main stack: one server, one API, a few devices -----------------------------------------------

describe('HTTP API over a real LwM2M server and clients (UDP, 127.0.0.1)', () => {
  let s: Stack;
  let dev: Device;
  let events: SseStream;
  const api = (p: string): string => `${s.base}/api/v1${p}`;

  beforeAll(async () => {
    s = await startStack();
    events = await SseStream.open(api('/events'));
    dev = await startDevice(s.server, 'dev-1');
  });

  afterAll(async () => {
    events?.close();
    if (dev) await stopDevice(dev);
    await s?.close();
  });

  it('shows a registration on the event stream and as a client resource', async () => {
    const reg = await events.next((m) => m.event === 'registration' && m.data.endpoint === 'dev-1');
    expect(Number(reg.id)).toBeGreaterThan(0);
    const { status, body } = await http('GET', api('/clients/dev-1'));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      endpoint: 'dev-1', address: '127.0.0.1', lifetime: 300, binding: 'U', lwm2mVersion: '1.1', queueMode: false,
      port: dev.client.sessionList()[0]?.connection.localPort,
    });
    expect(typeof body.registrationId).toBe('string');
    expect(new Date(body.registeredAt as string).toISOString()).toBe(body.registeredAt);
    expect(new Date(body.lastSeen as string).getTime()).toBeGreaterThan(0);
    expect((body.objectLinks as Array<{ objectId: number }>).map((o) => o.objectId)).toEqual(expect.arrayContaining([1, 3, 3303]));
  });

  it('reads in several formats, always answering a flat map of typed values', async () => {
    for (const [format, id] of [['tlv', 11542], ['senml-json', 110], ['senml-cbor', 112], ['lwm2m-cbor', 11544], ['json', 11543]] as const) {
      const { status, body } = await http('GET', api(`/clients/dev-1/3/0?format=${format}`));
      expect(status, JSON.stringify(body)).toBe(200);
      expect(body).toMatchObject({ status: '2.05', contentFormat: format, contentFormatId: id });
      const values = body.values as Json;
      expect(values['/3/0/0']).toBe('Open Mobile Alliance');
      expect(values['/3/0/2']).toBe('sn-dev-1');
      expect(typeof values['/3/0/13']).toBe('number'); // Time as epoch seconds
    }
    const text = await http('GET', api('/clients/dev-1/3/0/1?format=text'));
    expect(text.body).toEqual({ status: '2.05', contentFormat: 'text', contentFormatId: 0, values: { '/3/0/1': 'Lightweight M2M Client' } });
    const noFormat = await http('GET', api('/clients/dev-1/3303/0/5700'));
    expect((noFormat.body.values as Json)['/3303/0/5700']).toBe(21.5);
    const latest = await http('GET', api('/clients/dev-1/latest'));
    expect((latest.body.values as Json)['/3/0/1']).toBe('Lightweight M2M Client');
  });

  it('writes a resource and an instance (replace / partial update) and reads them back', async () => {
    expect(await http('PUT', api('/clients/dev-1/3/0/14'), { value: '+02:00' })).toMatchObject({ status: 200, body: { status: '2.04' } });
    expect(((await http('GET', api('/clients/dev-1/3/0/14'))).body.values as Json)['/3/0/14']).toBe('+02:00');

    const upd = await http('PUT', api('/clients/dev-1/3/0?mode=update&format=senml-json'), { values: { 14: '+03:00', '/3/0/15': 'Europe/Paris' } });
    expect(upd, JSON.stringify(upd.body)).toMatchObject({ status: 200, body: { status: '2.04' } });
    const back = (await http('GET', api('/clients/dev-1/3/0?format=senml-cbor'))).body.values as Json;
    expect([back['/3/0/14'], back['/3/0/15']]).toEqual(['+03:00', 'Europe/Paris']);

    const tlv = await http('PUT', api('/clients/dev-1/3303/0?mode=update&format=tlv'), { values: { 5750: 'kitchen' } });
    expect(tlv.status, JSON.stringify(tlv.body)).toBe(200);
    expect(((await http('GET', api('/clients/dev-1/3303/0/5750'))).body.values as Json)['/3303/0/5750']).toBe('kitchen');
  });

  it('maps a device refusal to HTTP: write to a read-only resource → 405 with the CoAP status', async () => {
    const r = await http('PUT', api('/clients/dev-1/3/0/0'), { value: 'x' });
    expect(r.status).toBe(405);
    expect(r.body).toMatchObject({ code: 'LWM2M_METHOD_NOT_ALLOWED', status: '4.05' });
    expect(r.headers.get('allow')).toBeTruthy();
    const missing = await http('GET', api('/clients/dev-1/3/7'));
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'LWM2M_NOT_FOUND', status: '4.04' });
  });

  it('executes a resource (Registration Update Trigger → an Update arrives)', async () => {
    const updated = once(s.server, 'updated');
    const r = await http('POST', api('/clients/dev-1/1/0/8'));
    expect(r).toMatchObject({ status: 200, body: { status: '2.04' } });
    await updated;
    const withArgs = await http('POST', api('/clients/dev-1/1/0/8'), { args: "0='x'" });
    expect(withArgs.status).toBe(200);
    await events.next((m) => m.event === 'update' && m.data.endpoint === 'dev-1');
    const notExecutable = await http('POST', api('/clients/dev-1/3/0/0'));
    expect(notExecutable).toMatchObject({ status: 405, body: { status: '4.05' } });
  });

  it('creates and deletes an object instance', async () => {
    const created = await http('POST', api('/clients/dev-1/3303'), { id: 7, values: { 5700: 19.25, 5701: 'Cel' } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toEqual({ status: '2.01', location: '/3303/7' });
    expect(created.headers.get('location')).toBe('/api/v1/clients/dev-1/3303/7');
    const read = await http('GET', api('/clients/dev-1/3303/7'));
    expect((read.body.values as Json)['/3303/7/5700']).toBe(19.25);
    expect(await http('DELETE', api('/clients/dev-1/3303/7'))).toMatchObject({ status: 200, body: { status: '2.02' } });
    expect((await http('GET', api('/clients/dev-1/3303/7'))).status).toBe(404);
    // Without an id: the lowest one the client did not register.
    const auto = await http('POST', api('/clients/dev-1/3303?format=senml-cbor'), { values: { 5700: 1.5 } });
    expect(auto.status, JSON.stringify(auto.body)).toBe(201);
    expect(auto.body.location).toBe('/3303/1');
    expect((await http('DELETE', api('/clients/dev-1/3303/1'))).status).toBe(200);
  });

  it('discovers an instance', async () => {
    const r = await http('GET', api('/clients/dev-1/3/0/discover'));
    expect(r.status).toBe(200);
    const links = r.body.links as Array<{ path: string; attributes: Json }>;
    expect(links.map((l) => l.path)).toEqual(expect.arrayContaining(['/3/0', '/3/0/0', '/3/0/14']));
  });

  it('writes attributes, observes, and the notification arrives on the event stream; cancel ends it', async () => {
    const attrs = await http('PUT', api('/clients/dev-1/3303/0/5700/attributes?pmin=0&pmax=300&st=0.5'));
    expect(attrs, JSON.stringify(attrs.body)).toMatchObject({ status: 200, body: { status: '2.04' } });
    const unset = await http('PUT', api('/clients/dev-1/3303/0/5700/attributes?gt='));
    expect(unset.status).toBe(200);
    const obs = await http('POST', api('/clients/dev-1/3303/0/5700/observe'));
    expect(obs.status, JSON.stringify(obs.body)).toBe(200);
    expect((obs.body.values as Json)['/3303/0/5700']).toBe(21.5);
    expect(s.server.observationCount('dev-1')).toBe(1);

    dev.client.tree.requireInstance(parsePath('/3303/0')).set(5700, 23.75);
    const note = await events.next((m) => m.event === 'notification' && (m.data.values as Json | undefined)?.['/3303/0/5700'] === 23.75);
    expect(note.data).toMatchObject({ endpoint: 'dev-1', path: '/3303/0/5700', status: '2.05', ok: true });

    expect(await http('DELETE', api('/clients/dev-1/3303/0/5700/observe'))).toMatchObject({ status: 200 });
    expect(s.server.observationCount('dev-1')).toBe(0);
  });

  it('runs composite read, write and observe', async () => {
    const read = await http('POST', api('/clients/dev-1/composite/read'), { paths: ['/3/0/0', '/3303/0/5701'] });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body).toMatchObject({ status: '2.05', contentFormat: 'senml-cbor', values: { '/3/0/0': 'Open Mobile Alliance', '/3303/0/5701': 'Cel' } });

    const write = await http('POST', api('/clients/dev-1/composite/write?format=senml-json'), { values: { '/3/0/14': '+04:00', '/3303/0/5750': 'hall' } });
    expect(write, JSON.stringify(write.body)).toMatchObject({ status: 200, body: { status: '2.04' } });
    const back = await http('POST', api('/clients/dev-1/composite/read?format=lwm2m-cbor'), { paths: ['/3/0/14', '/3303/0/5750'] });
    expect(back.body).toMatchObject({ contentFormat: 'lwm2m-cbor', values: { '/3/0/14': '+04:00', '/3303/0/5750': 'hall' } });

    const obs = await http('POST', api('/clients/dev-1/composite/observe'), { paths: ['/3303/0/5750', '/3/0/14'] });
    expect(obs.status, JSON.stringify(obs.body)).toBe(200);
    dev.client.tree.requireInstance(parsePath('/3303/0')).set(5750, 'attic');
    const note = await events.next((m) => m.event === 'notification' && (m.data.values as Json | undefined)?.['/3303/0/5750'] === 'attic');
    expect(note.data.paths).toEqual(['/3303/0/5750', '/3/0/14']);
    const cancel = await http('DELETE', api('/clients/dev-1/composite/observe'), { paths: ['/3303/0/5750', '/3/0/14'] });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    expect(s.server.observationCount('dev-1')).toBe(0);
  });

  it('receives a Send on the event stream', async () => {
    await dev.client.send([parsePath('/3303/0/5700')]);
    const sent = await events.next((m) => m.event === 'send' && m.data.endpoint === 'dev-1');
    expect((sent.data.values as Json)['/3303/0/5700']).toBe(23.75);
  });

  it('answers errors as {code, message} with the right status', async () => {
    const unknown = await http('GET', api('/clients/nobody/3/0'));
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('LWM2M_NOT_FOUND');
    expect(typeof unknown.body.message).toBe('string');
    expect((await http('GET', api('/clients/nobody'))).body.code).toBe('LWM2M_NOT_FOUND');

    const badSegment = await http('GET', api('/clients/dev-1/3/abc'));
    expect(badSegment.status).toBe(400);
    expect(badSegment.body.code).toBe('LWM2M_BAD_PATH');
    expect(badSegment.body.message).toContain('"abc"');
    const tooBig = await http('GET', api('/clients/dev-1/3/70000/1'));
    expect([tooBig.status, tooBig.body.code]).toEqual([400, 'LWM2M_BAD_PATH']);
    expect(tooBig.body.message).toContain('70000');
    const tooDeep = await http('GET', api('/clients/dev-1/3/0/1/2/3'));
    expect([tooDeep.status, tooDeep.body.code]).toEqual([400, 'LWM2M_BAD_PATH']);

    const badFormat = await http('GET', api('/clients/dev-1/3/0?format=xml'));
    expect([badFormat.status, badFormat.body.code]).toEqual([400, 'BAD_REQUEST']);
    expect(badFormat.body.message).toContain('format');
    const badValue = await http('PUT', api('/clients/dev-1/3/0/13'), { value: 'yesterday' });
    expect([badValue.status, badValue.body.code]).toEqual([400, 'LWM2M_BAD_VALUE']);
    const both = await http('PUT', api('/clients/dev-1/3/0/14'), { value: 'a', values: { 14: 'b' } });
    expect(both.status).toBe(400);
    const unknownProp = await http('PUT', api('/clients/dev-1/3/0/14'), { valeu: 'a' });
    expect([unknownProp.status, unknownProp.body.code]).toEqual([400, 'BAD_REQUEST']);
    const notJson = await fetch(api('/clients/dev-1/3/0/14'), { method: 'PUT', body: '{', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as Json).code).toEqual(expect.any(String));
    const textBody = await fetch(api('/clients/dev-1/3/0/14'), { method: 'PUT', body: '<x/>', headers: { 'content-type': 'application/xml' } });
    expect(textBody.status).toBe(415);
    expect(((await textBody.json()) as Json).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const noAttrs = await http('PUT', api('/clients/dev-1/3/0/14/attributes'));
    expect(noAttrs.status).toBe(400);
    const postOnInstance = await http('POST', api('/clients/dev-1/3/0'), {});
    expect([postOnInstance.status, postOnInstance.body.code]).toEqual([405, 'LWM2M_METHOD_NOT_ALLOWED']);
    expect((await http('GET', api('/nothing-here'))).body.code).toBe('NOT_FOUND');
    expect((await http('GET', api('/requests/nope'))).status).toBe(404);
  });

  it('answers 504 when the device does not answer in ?timeout=', async () => {
    const mute = await startDevice(s.server, 'mute-1');
    try {
      mute.client.sleep(); // a non-queue-mode client that stops listening
      const r = await http('GET', api('/clients/mute-1/3/0/0?timeout=300'));
      expect(r.status).toBe(504);
      expect(r.body.code).toBe('LWM2M_TIMEOUT');
    } finally {
      await stopDevice(mute);
    }
  });

  it('queue mode: a request to a sleeping client answers 202, completes when it wakes, and the outcome is kept', async () => {
    const sleepy = await startDevice(s.server, 'sleepy-1', { binding: 'UQ' });
    try {
      const info = await http('GET', api('/clients/sleepy-1'));
      expect(info.body.queueMode).toBe(true);
      // Awake right after registering: a request is answered directly.
      const direct = await http('GET', api('/clients/sleepy-1/3/0/0'));
      expect(direct).toMatchObject({ status: 200, body: { values: { '/3/0/0': 'Open Mobile Alliance' } } });

      // The client sleeps and the server's awake window elapses.
      sleepy.client.sleep();
      s.queueClock.advance(60_001);
      expect(s.api.queue.isAsleep('sleepy-1')).toBe(true);
      const queued = await http('GET', api('/clients/sleepy-1/3/0?format=senml-json'));
      expect(queued.status).toBe(202);
      const requestId = queued.body.requestId as string;
      expect(queued.headers.get('location')).toBe(`/api/v1/requests/${requestId}`);
      expect((await http('GET', api(`/requests/${requestId}`))).body).toMatchObject({ requestId, status: 'pending', endpoint: 'sleepy-1', operation: 'read', path: '/3/0' });
      const queuedWrite = await http('PUT', api('/clients/sleepy-1/3/0/14'), { value: '+06:00' });
      expect(queuedWrite.status).toBe(202);

      await sleepy.client.wakeUp(); // an Update: the server sends what waited
      const done = await events.next((m) => m.event === 'request-done' && m.data.requestId === requestId);
      expect(done.data).toMatchObject({ status: 'done', httpStatus: 200 });
      const record = await http('GET', api(`/requests/${requestId}`));
      expect(record.body).toMatchObject({ status: 'done', httpStatus: 200, body: { status: '2.05', contentFormat: 'senml-json' } });
      expect(((record.body.body as Json).values as Json)['/3/0/0']).toBe('Open Mobile Alliance');
      await events.next((m) => m.event === 'request-done' && m.data.requestId === queuedWrite.body.requestId);
      expect(sleepy.client.tree.requireInstance(parsePath('/3/0')).get(14)).toBe('+06:00');
    } finally {
      await stopDevice(sleepy);
    }
  });

  it('keeps bootstrap configs behind the store interface', async () => {
    const config = { servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5683', lifetime: 60 }], discover: true };
    const put = await http('PUT', api('/bootstrap/configs/bs-dev-1'), config);
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(await http('GET', api('/bootstrap/configs/bs-dev-1'))).toMatchObject({ status: 200, body: config });
    expect(((await http('GET', api('/bootstrap/configs'))).body.items as Json[]).map((e) => e.endpoint)).toContain('bs-dev-1');
    const bad = await http('PUT', api('/bootstrap/configs/bs-dev-2'), { servers: [{ shortServerId: 1, uri: 'http://x' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.issues).toEqual(expect.arrayContaining([expect.objectContaining({ pointer: '/servers/0/uri' })]));
    const shape = await http('PUT', api('/bootstrap/configs/bs-dev-2'), { servers: 'nope' });
    expect(shape.status).toBe(400);
    await events.next((m) => m.event === 'bootstrap' && m.data.endpoint === 'bs-dev-1');
    expect((await http('DELETE', api('/bootstrap/configs/bs-dev-1'))).status).toBe(204);
    expect((await http('GET', api('/bootstrap/configs/bs-dev-1'))).status).toBe(404);
    expect((await http('DELETE', api('/bootstrap/configs/bs-dev-1'))).status).toBe(404);
    // The bootstrap server publishes through the API.
    s.api.publish('bootstrap', { kind: 'finished', endpoint: 'bs-dev-1' }, 'bs-dev-1');
    await events.next((m) => m.event === 'bootstrap' && m.data.kind === 'finished');
  });

  it('resumes the event stream from Last-Event-ID (header and query)', async () => {
    const marks: number[] = [];
    for (let i = 0; i < 3; i++) marks.push(s.api.publish('bootstrap', { kind: 'mark', n: i }).id);
    const fromHeader = await SseStream.open(api('/events?types=bootstrap'), { 'Last-Event-ID': String(marks[0]) });
    const fromQuery = await SseStream.open(api(`/events?lastEventId=${marks[1]}`));
    try {
      const a = await fromHeader.next(() => true);
      const b = await fromHeader.next(() => true);
      expect([a.id, b.id]).toEqual([String(marks[1]), String(marks[2])]);
      expect([a.data.n, b.data.n]).toEqual([1, 2]);
      const c = await fromQuery.next(() => true);
      expect([c.id, c.data.n]).toEqual([String(marks[2]), 2]);
      // And live events follow the replay.
      const live = s.api.publish('bootstrap', { kind: 'mark', n: 3 });
      expect((await fromHeader.next(() => true)).id).toBe(String(live.id));
    } finally {
      fromHeader.close();
      fromQuery.close();
    }
    const badHeader = await fetch(api('/events'), { headers: { 'Last-Event-ID': 'abc' } });
    expect(badHeader.status).toBe(400);
  });

  it('publishes an OpenAPI 3.1 document with every route', async () => {
    const { status, body } = await http('GET', api('/openapi.json'));
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.1.0');
    const paths = body.paths as Record<string, Record<string, unknown>>;
    const has = (p: string, ...methods: string[]): void => {
      expect(paths[p], p).toBeDefined();
      for (const m of methods) expect(paths[p]?.[m], `${m.toUpperCase()} ${p}`).toBeDefined();
    };
    has('/api/v1/clients', 'get');
    has('/api/v1/clients/{ep}', 'get');
    has('/api/v1/clients/{ep}/{objectId}', 'get', 'post', 'delete');
    has('/api/v1/clients/{ep}/{objectId}/{instanceId}', 'get', 'put', 'delete');
    has('/api/v1/clients/{ep}/{objectId}/{instanceId}/{resourceId}', 'get', 'put', 'post', 'delete');
    has('/api/v1/clients/{ep}/{objectId}/{instanceId}/{resourceId}/{resourceInstanceId}', 'get', 'put', 'delete');
    for (const depth of ['{objectId}', '{objectId}/{instanceId}', '{objectId}/{instanceId}/{resourceId}']) {
      has(`/api/v1/clients/{ep}/${depth}/discover`, 'get');
      has(`/api/v1/clients/{ep}/${depth}/attributes`, 'put');
      has(`/api/v1/clients/{ep}/${depth}/observe`, 'post', 'delete');
    }
    has('/api/v1/clients/{ep}/composite/read', 'post');
    has('/api/v1/clients/{ep}/composite/write', 'post');
    has('/api/v1/clients/{ep}/composite/observe', 'post', 'delete');
    has('/api/v1/requests/{id}', 'get');
    has('/api/v1/events', 'get');
    has('/api/v1/bootstrap/configs/{ep}', 'get', 'put', 'delete');
    has('/api/v1/openapi.json', 'get');
    has('/metrics', 'get');
    has('/healthz', 'get');
    // Generated from the validating schemas: the format enum, the shared components.
    const read = paths['/api/v1/clients/{ep}/{objectId}/{instanceId}']?.get as { parameters: Array<{ name: string; in: string; schema: { enum?: string[] } }> };
    expect(read.parameters.find((p) => p.name === 'format')?.schema.enum).toEqual(expect.arrayContaining(['tlv', 'senml-cbor', 'lwm2m-cbor']));
    expect(Object.keys((body.components as { schemas: Json }).schemas)).toEqual(expect.arrayContaining(['Error', 'ReadResult', 'Client', 'BootstrapConfig']));
    expect(paths['/api/v1/clients/{ep}/{objectId}/{instanceId}']?.post).toBeUndefined(); // hidden 405 routes
    const execute = paths['/api/v1/clients/{ep}/{objectId}/{instanceId}/{resourceId}']?.post as { requestBody: { required: boolean } };
    expect(execute.requestBody.required).toBe(false);
  });

  it('exposes Prometheus metrics and a health check', async () => {
    const res = await fetch(`${s.base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      'lwm2m_registrations ', 'lwm2m_registrations_total', 'lwm2m_updates_total', 'lwm2m_deregistrations_total', 'lwm2m_expirations_total',
      'lwm2m_notifications_total', 'lwm2m_sends_total', 'lwm2m_http_requests_total', 'lwm2m_queue_pending_requests', 'lwm2m_http_event_streams',
    ]) expect(text, name).toContain(name);
    expect(text).toMatch(/lwm2m_dm_request_duration_seconds_count\{operation="read",code="2\.05"\} [1-9]/);
    expect(text).toMatch(/lwm2m_dm_request_duration_seconds_count\{operation="read",code="timeout"\} 1/);
    expect(text).toMatch(/lwm2m_notifications_total [1-9]/);
    expect(text).toMatch(/lwm2m_http_requests_total\{method="GET",route="\/api\/v1\/clients\/:ep\/:objectId\/:instanceId",status="200"\} [1-9]/);
    const health = await http('GET', `${s.base}/healthz`);
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(health.body.registrations).toBeGreaterThanOrEqual(1);
  });

  it('announces a de-registration', async () => {
    const other = await startDevice(s.server, 'leaving-1');
    await other.client.stop();
    other.dispose();
    await events.next((m) => m.event === 'deregistration' && m.data.endpoint === 'leaving-1');
    expect((await http('GET', api('/clients/leaving-1'))).status).toBe(404);
  });
});

// ---- pagination on a stack of its own ----------------------------------------------------------------

describe('GET /api/v1/clients pagination', () => {
  let s: Stack;
  const devices: Device[] = [];

  beforeAll(async () => {
    s = await startStack();
    for (let i = 0; i < 25; i++) devices.push(await startDevice(s.server, `page-${String(i).padStart(2, '0')}`));
  });

  afterAll(async () => {
    for (const d of devices) await stopDevice(d);
    await s?.close();
  });

  it('walks 25 registrations in three pages of 10 with a stable cursor, no duplicates', async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const url = `${s.base}/api/v1/clients?limit=10${cursor ? `&cursor=${cursor}` : ''}`;
      const { status, body } = await http('GET', url);
      expect(status).toBe(200);
      expect(body.total).toBe(25);
      const items = body.items as Array<{ endpoint: string }>;
      sizes.push(items.length);
      seen.push(...items.map((c) => c.endpoint));
      cursor = body.nextCursor as string | undefined;
      if (!cursor) break;
    }
    expect(sizes).toEqual([10, 10, 5]);
    expect(new Set(seen).size).toBe(25);
    expect(seen.sort()).toEqual(devices.map((_, i) => `page-${String(i).padStart(2, '0')}`));
    const bad = await http('GET', `${s.base}/api/v1/clients?cursor=NOT-A-CURSOR`);
    expect(bad.status).toBe(400);
    const tooMany = await http('GET', `${s.base}/api/v1/clients?limit=100000`);
    expect(tooMany.status).toBe(400);
  });
});

// ---- event buffer bounds -------------------------------------------------------------------------------

describe('event stream buffer bounds', () => {
  it('says when a resume point fell out of the buffer, then replays what it still holds', async () => {
    const s = await startStack({ eventBufferSize: 4 });
    try {
      const ids: number[] = [];
      for (let i = 0; i < 10; i++) ids.push(s.api.publish('bootstrap', { n: i }).id);
      const stream = await SseStream.open(`${s.base}/api/v1/events`, { 'Last-Event-ID': String(ids[0]) });
      try {
        const gap = await stream.next(() => true);
        expect(gap.event).toBe('gap');
        expect(gap.data).toEqual({ lastEventId: ids[0], oldestAvailable: ids[6] });
        const replay: number[] = [];
        for (let i = 0; i < 4; i++) replay.push((await stream.next(() => true)).data.n as number);
        expect(replay).toEqual([6, 7, 8, 9]);
      } finally {
        stream.close();
      }
    } finally {
      await s.close();
    }
  });

  it('sends heartbeats as SSE comments', async () => {
    const s = await startStack({ heartbeatMs: 20 });
    try {
      const stream = await SseStream.open(`${s.base}/api/v1/events`);
      try {
        const seen: string[] = [];
        for (let i = 0; i < 5 && !seen.includes('heartbeat'); i++) seen.push(await stream.nextComment());
        expect(seen).toContain('heartbeat');
      } finally {
        stream.close();
      }
    } finally {
      await s.close();
    }
  });

  it('drops a consumer slower than the event rate with a final event (no unbounded buffering)', () => {
    const hub = new EventHub({ capacity: 8 });
    const broker = new SseBroker(hub, { maxBufferedBytes: 1024, heartbeatMs: 60_000 });
    const written: string[] = [];
    let ended = false;
    let drainListener: (() => void) | undefined;
    // A response whose socket never drains.
    const res = {
      writableLength: 0,
      writeHead: () => res,
      socket: null,
      write(chunk: string) {
        written.push(chunk);
        res.writableLength += chunk.length * 100;
        return false;
      },
      end() { ended = true; },
      on: () => res,
      once(event: string, l: () => void) { if (event === 'drain') drainListener = l; return res; },
      off: () => res,
    };
    broker.attach(res as unknown as import('node:http').ServerResponse, {});
    for (let i = 0; i < 20; i++) hub.publish('bootstrap', { n: i });
    expect(ended).toBe(false); // waiting for drain, holding nothing but a cursor
    expect(written.length).toBeLessThan(4);
    drainListener?.();
    expect(ended).toBe(true);
    expect(written[written.length - 1]).toMatch(/^event: dropped\ndata: /);
    expect(broker.size).toBe(0);
    broker.close();
  });
});

// ---- JSON → typed values (the inverse of the API's output conventions) ---------------------------------

describe('JSON values of the API', () => {
  const models = loadBuiltinRegistry();
  const v = (json: unknown, path: string): unknown => jsonToResourceValue(json, parsePath(path), models);

  it('types values by the object model', () => {
    expect(v('+01:00', '/3/0/14')).toBe('+01:00');
    expect(v(1700000000, '/3/0/13')).toEqual(new Date(1700000000 * 1000));
    expect(v('2023-11-14T22:13:20Z', '/3/0/13')).toEqual(new Date(1700000000 * 1000));
    expect(v('AQI=', '/5/0/0')).toEqual(new Uint8Array([1, 2]));
    expect(v({ hex: '0a0b' }, '/5/0/0')).toEqual(new Uint8Array([10, 11]));
    expect(v({ text: 'id' }, '/5/0/0')).toEqual(new Uint8Array([105, 100]));
    expect(v('9007199254740993', '/3/0/9')).toBe(9007199254740993n);
    expect(v(true, '/1/0/6')).toBe(true);
    expect(() => v('x', '/3/0/9')).toThrow(/not a valid integer/);
    expect(() => v('not base64!', '/5/0/0')).toThrow(/base64/);
    expect(() => v({ nested: 1 }, '/3/0/14')).toThrow(/BAD_VALUE|not a valid/);
  });

  it('reads values maps with absolute and relative keys, multiple resources as maps or arrays', () => {
    const recs = valuesToRecords({ '/3/0/14': '+01:00', 15: 'UTC', 7: [3800, 5000] }, models, parsePath('/3/0'));
    expect(recs.map((r) => [r.path.toString(), r.value]).sort()).toEqual([
      ['/3/0/14', '+01:00'], ['/3/0/15', 'UTC'], ['/3/0/7/0', 3800], ['/3/0/7/1', 5000],
    ]);
    expect(() => valuesToRecords({ '/1/0/1': 60 }, models, parsePath('/3/0'))).toThrow(/not under \/3\/0/);
    const node = writeBodyToNode(parsePath('/3/0/7'), { value: { 0: 3800, 2: 4100 } }, models);
    expect(node).toEqual({ kind: 'multipleResource', id: 7, instances: new Map([[0, 3800], [2, 4100]]) });
    expect(() => writeBodyToNode(parsePath('/3'), { values: {} }, models)).toThrow(/instance, resource or resource instance/);
  });
});
