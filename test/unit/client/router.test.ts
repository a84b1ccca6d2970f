import { describe, expect, it } from 'vitest';
import { parsePath } from '../../../src/core/path.js';
import { ContentFormat } from '../../../src/codec/content-format.js';
import { decode, encode } from '../../../src/codec/dispatch.js';
import { parseDiscoverLinks } from '../../../src/codec/link.js';
import { serverContext } from '../../../src/client/context.js';
import { handleBootstrapRequest, handleDmRequest } from '../../../src/client/router.js';
import type { DeviceRequest, DeviceResponse } from '../../../src/client/request.js';
import type { ObserveSink } from '../../../src/client/observations.js';
import { objectInstance, resource, type LwM2MNode } from '../../../src/model/node.js';
import { testDevice } from '../../helpers/device.js';

const req = (method: DeviceRequest['method'], path: string, extra: Partial<DeviceRequest> = {}): DeviceRequest => ({
  method, uriPath: path.split('/').filter(Boolean), uriQuery: [], payload: new Uint8Array(), ...extra,
});
const text = (r: DeviceResponse): string => new TextDecoder().decode(r.payload ?? new Uint8Array());

describe('client DM operations through the router', () => {
  it('reads an instance in TLV by default and in every requested format', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    const r = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0'));
    expect(r.code).toBe('2.05');
    expect(r.contentFormat).toBe(ContentFormat.TLV);
    const node = decode(ContentFormat.TLV, r.payload as Uint8Array, { path: parsePath('/3/0'), models: d.tree });
    expect(node.kind === 'instance' && node.resources.get(0)).toEqual(resource(0, 'Open Mobile Alliance'));
    for (const f of [ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR, ContentFormat.OMA_JSON, ContentFormat.TLV_LEGACY]) {
      const rf = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0', { accept: f }));
      expect(rf.code).toBe('2.05');
      expect(rf.contentFormat).toBe(f);
      expect(decode(f, rf.payload as Uint8Array, { path: parsePath('/3/0'), models: d.tree })).toEqual(node);
    }
  });

  it('reads a single resource as text/plain by default; 4.06 for a format that cannot carry it', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    const r = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0/9'));
    expect([r.code, r.contentFormat, text(r)]).toEqual(['2.05', 0, '100']);
    const bad = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0', { accept: ContentFormat.TEXT }));
    expect(bad.code).toBe('4.06');
    const opaque = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0/9', { accept: ContentFormat.OPAQUE }));
    expect(opaque.code).toBe('4.06');
    const ri = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0/7/1'));
    expect([ri.code, text(ri)]).toEqual(['2.05', '5000']);
  });

  it('answers 4.04 for absent objects/instances/resources and 4.05 for unreadable ones', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    expect((await handleDmRequest(d.env, d.observations, ctx, req('GET', '/9'))).code).toBe('4.04');
    expect((await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/1'))).code).toBe('4.04');
    expect((await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0/15'))).code).toBe('4.04');
    expect((await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0/4'))).code).toBe('4.05');
    expect((await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/x'))).code).toBe('4.00');
  });

  it('Security is never reachable by a DM server (4.04)', async () => {
    const d = testDevice();
    const r = await handleDmRequest(d.env, d.observations, serverContext(101), req('GET', '/0/0'));
    expect(r.code).toBe('4.04');
    const w = await handleDmRequest(d.env, d.observations, serverContext(101), req('PUT', '/0/0/0', { payload: d.text('coap://x'), contentFormat: 0 }));
    expect(w.code).toBe('4.04');
  });

  it('writes (replace and partial), refusing read-only resources and bad types without changing anything', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    const put = await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/3/0/14', { payload: d.text('+05:00'), contentFormat: 0 }));
    expect(put.code).toBe('2.04');
    expect(d.tree.requireInstance(parsePath('/3/0')).get(14)).toBe('+05:00');
    const ro = await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/3/0/0', { payload: d.text('x'), contentFormat: 0 }));
    expect(ro.code).toBe('4.05');
    const badType = await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/1/0/1', { payload: d.text('abc'), contentFormat: 0 }));
    expect(badType.code).toBe('4.00');
    expect(d.tree.requireInstance(parsePath('/1/0')).get(1)).toBe(300);
    const noFormat = await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/1/0/1', { payload: d.text('60') }));
    expect(noFormat.code).toBe('4.15');
    const unknownFormat = await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/1/0/1', { payload: d.text('60'), contentFormat: 50 }));
    expect(unknownFormat.code).toBe('4.15');
    // partial update of an instance with TLV
    const inst = objectInstance(0, [resource(1, 600), resource(7, 'UQ')]);
    const payload = encode(ContentFormat.TLV, inst, { path: parsePath('/1/0'), models: d.tree });
    const post = await handleDmRequest(d.env, d.observations, ctx, req('POST', '/1/0', { payload, contentFormat: ContentFormat.TLV }));
    expect(post.code).toBe('2.04');
    const s = d.tree.requireInstance(parsePath('/1/0'));
    expect([s.get(1), s.get(7), s.get(6)]).toEqual([600, 'UQ', true]);
  });

  it('executes with validated arguments', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    expect((await handleDmRequest(d.env, d.observations, ctx, req('POST', '/3/0/4', { payload: d.text("0='now',1") }))).code).toBe('2.04');
    expect(d.executed).toEqual(["reboot(0='now',1)"]);
    expect((await handleDmRequest(d.env, d.observations, ctx, req('POST', '/3/0/4', { payload: d.text('x=1') }))).code).toBe('4.00');
    expect((await handleDmRequest(d.env, d.observations, ctx, req('POST', '/3/0/9'))).code).toBe('4.05');
    expect(d.executed).toHaveLength(1);
  });

  it('creates (with and without id) and deletes instances', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    const inst = objectInstance(5, [resource(5700, 19.5), resource(5701, 'Cel')]);
    const payload = encode(ContentFormat.SENML_JSON, inst, { path: parsePath('/3303/5'), models: d.tree });
    const c = await handleDmRequest(d.env, d.observations, ctx, req('POST', '/3303', { payload, contentFormat: ContentFormat.SENML_JSON }));
    expect(c.code).toBe('2.01');
    expect(c.location?.toString()).toBe('/3303/5');
    const again = await handleDmRequest(d.env, d.observations, ctx, req('POST', '/3303', { payload, contentFormat: ContentFormat.SENML_JSON }));
    expect(again.code).toBe('4.00');
    const del = await handleDmRequest(d.env, d.observations, ctx, req('DELETE', '/3303/5'));
    expect(del.code).toBe('2.02');
    expect((await handleDmRequest(d.env, d.observations, ctx, req('DELETE', '/3303/5'))).code).toBe('4.04');
    expect((await handleDmRequest(d.env, d.observations, ctx, req('DELETE', '/3/0'))).code).toBe('4.05');
  });

  it('discovers with attributes and dim, after write-attributes', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    const wa = await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/3/0/9', { uriQuery: ['pmin=10', 'pmax=60', 'gt=50', 'lt=10', 'st=5'] }));
    expect(wa.code).toBe('2.04');
    const bad = await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/3/0', { uriQuery: ['gt=5'] }));
    expect(bad.code).toBe('4.00');
    const r = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3/0', { accept: ContentFormat.LINK }));
    expect(r.code).toBe('2.05');
    const entries = parseDiscoverLinks(r.payload as Uint8Array);
    const battery = entries.find((e) => e.path.toString() === '/3/0/9');
    expect(battery?.attributes).toEqual({ pmin: 10, pmax: 60, gt: 50, lt: 10, st: 5 });
    expect(entries.find((e) => e.path.toString() === '/3/0/6')?.attributes.dim).toBe(2);
    expect(entries.some((e) => e.path.toString() === '/3/0/4')).toBe(true);
  });

  it('observes with attributes and notifies through the sink; cancel with Observe=1', async () => {
    const d = testDevice();
    const ctx = serverContext(101);
    const notes: DeviceResponse[] = [];
    const sink: ObserveSink = { notify: (r) => notes.push(r), end: () => undefined };
    await handleDmRequest(d.env, d.observations, ctx, req('PUT', '/3303/0/5700', { uriQuery: ['pmin=5', 'st=1'] }));
    const r = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3303/0/5700', { observe: 0 }), sink);
    expect([r.code, r.observing, text(r)]).toEqual(['2.05', true, '21.5']);
    const temp = d.tree.requireInstance(parsePath('/3303/0'));
    temp.set(5700, 22);
    d.clock.advance(10_000);
    expect(notes).toHaveLength(0); // below st
    temp.set(5700, 23);
    expect(notes.map(text)).toEqual(['23']);
    expect(notes[0]?.contentFormat).toBe(ContentFormat.TEXT);
    const c = await handleDmRequest(d.env, d.observations, ctx, req('GET', '/3303/0/5700', { observe: 1 }));
    expect(c.code).toBe('2.05');
    expect(d.observations.size).toBe(0);
    temp.set(5700, 30);
    d.clock.advance(10_000);
    expect(notes).toHaveLength(1);
  });
});

describe('ACL with several servers', () => {
  it('denies 4.01 without an ACL instance and grants by rights', async () => {
    const d = testDevice({ servers: [101, 102] });
    const r = await handleDmRequest(d.env, d.observations, serverContext(101), req('GET', '/3/0'));
    expect(r.code).toBe('4.01');
    const acl = d.tree.object(2);
    acl?.create(undefined, d.internal, 0);
    const inst = acl?.instance(0);
    inst?.set(0, 3);
    inst?.set(1, 0);
    inst?.set(2, new Map([[101, 1]]));
    inst?.set(3, 102);
    expect((await handleDmRequest(d.env, d.observations, serverContext(101), req('GET', '/3/0/0'))).code).toBe('2.05');
    expect((await handleDmRequest(d.env, d.observations, serverContext(101), req('PUT', '/3/0/14', { payload: d.text('+01:00'), contentFormat: 0 }))).code).toBe('4.01');
    // owner without an entry of its own has full access
    expect((await handleDmRequest(d.env, d.observations, serverContext(102), req('PUT', '/3/0/14', { payload: d.text('+01:00'), contentFormat: 0 }))).code).toBe('2.04');
    // object-level read only shows permitted instances
    const all = await handleDmRequest(d.env, d.observations, serverContext(101), req('GET', '/3303', { accept: ContentFormat.SENML_JSON }));
    expect(all.code).toBe('2.05');
    const node: LwM2MNode = decode(ContentFormat.SENML_JSON, all.payload as Uint8Array, { path: parsePath('/3303'), models: d.tree });
    expect(node.kind === 'object' && node.instances.size).toBe(0);
  });
});

describe('bootstrap operations', () => {
  it('delete, write, discover and finish with a consistency check', async () => {
    const d = testDevice();
    const del = await handleBootstrapRequest(d.env, req('DELETE', '/'), '1.1');
    expect(del.code).toBe('2.02');
    expect(d.tree.object(1)?.instanceIds()).toEqual([]);
    expect(d.tree.object(3)?.instanceIds()).toEqual([0]);
    const notYet = await handleBootstrapRequest(d.env, req('POST', '/bs'), '1.1');
    expect(notYet.code).toBe('4.06');
    expect(text(notYet)).toMatch(/no usable server account/);
    const sec = objectInstance(1, [resource(0, 'coap://127.0.0.1:5683'), resource(1, false), resource(2, 3), resource(10, 123)]);
    const srv = objectInstance(1, [resource(0, 123), resource(1, 60), resource(6, false), resource(7, 'U')]);
    const w1 = await handleBootstrapRequest(d.env, req('PUT', '/0/1', { payload: encode(ContentFormat.TLV, sec, { path: parsePath('/0/1'), models: d.tree }), contentFormat: ContentFormat.TLV }), '1.1');
    const w2 = await handleBootstrapRequest(d.env, req('PUT', '/1/1', { payload: encode(ContentFormat.SENML_CBOR, srv, { path: parsePath('/1/1'), models: d.tree }), contentFormat: ContentFormat.SENML_CBOR }), '1.1');
    expect([w1.code, w2.code]).toEqual(['2.04', '2.04']);
    const disc = await handleBootstrapRequest(d.env, req('GET', '/', { accept: ContentFormat.LINK }), '1.1');
    const entries = parseDiscoverLinks(disc.payload as Uint8Array);
    expect(entries[0]?.attributes.lwm2m).toBe('1.1');
    expect(entries.find((e) => e.path.toString() === '/0/1')?.attributes).toMatchObject({ ssid: 123, uri: 'coap://127.0.0.1:5683' });
    expect((await handleBootstrapRequest(d.env, req('GET', '/3/0'), '1.1')).code).toBe('4.01');
    expect((await handleBootstrapRequest(d.env, req('GET', '/1/1'), '1.1')).code).toBe('2.05');
    const fin = await handleBootstrapRequest(d.env, req('POST', '/bs'), '1.1');
    expect([fin.code, fin.finished]).toEqual(['2.04', true]);
  });
});
