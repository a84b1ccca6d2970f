import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath, parsePath } from '../../../src/core/path.js';
import {
  multipleResource, objectInstance, objectNode, resource, resourceInstance, type LwM2MNode, type PathValue,
  type ResourceNode, type ResourceValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { resolveSenML } from '../../../src/codec/senml.js';
import {
  base64urlDecode, base64urlEncode, createSenmlJsonCodec, parseSenMLJson, senmlJsonCodec, serializeSenMLJson,
} from '../../../src/codec/senml-json.js';
import { normalizeInteger } from '../../../src/codec/values.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

// ---- a small model --------------------------------------------------------------------------------

const res = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});
const obj = (id: number, resources: ResourceModel[]): ObjectModel => ({
  id, name: `o${id}`, version: '1.0', lwm2mVersion: '1.1', multiple: true, mandatory: false,
  resources: new Map(resources.map((r) => [r.id, r])),
});
const DEVICE = obj(3, [
  res(0, 'string'), res(1, 'string'), res(2, 'string'), res(3, 'string'), res(6, 'integer', true),
  res(7, 'integer', true), res(8, 'integer', true), res(9, 'integer'), res(10, 'integer'), res(11, 'integer', true),
  res(13, 'time'), res(14, 'string'), res(15, 'string'), res(16, 'string'),
]);
const SERVER = obj(1, [res(0, 'unsignedInteger'), res(1, 'unsignedInteger')]);
const TEMPERATURE = obj(3303, [res(5700, 'float')]);
/** Object 9000: resource `t` single and `t + 10` multiple, for every LwM2M type t. */
const TYPES: ResourceType[] = ['string', 'integer', 'unsignedInteger', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'];
const ALL = obj(9000, TYPES.flatMap((t, i) => [res(i, t), res(i + 10, t, true)]));
const MODELS = new Map<number, ObjectModel>([[3, DEVICE], [1, SERVER], [3303, TEMPERATURE], [9000, ALL]]);
const models: ModelLookup = { getObject: (id) => MODELS.get(id) };

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const P = parsePath;
const codec = senmlJsonCodec;

/** The LwM2M error code thrown by `fn`, asserting it is CoAP 4.00. */
function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof LwM2MError)) throw e;
    expect(e.coapCode).toBe('4.00');
    return e.code;
  }
  throw new Error('expected an LwM2MError');
}

// ---- RFC 8428 examples ----------------------------------------------------------------------------

describe('RFC 8428 §5.1 examples', () => {
  it('§5.1.1 single data point', () => {
    const recs = parseSenMLJson(enc('[\n  {"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}\n]\n'));
    expect(resolveSenML(recs)).toEqual([{ n: 'urn:dev:ow:10e2073a01080063', u: 'Cel', v: 23.1 }]);
    // Not an LwM2M path: decodeRecords rejects it with 4.00.
    expect(errorCode(() => codec.decodeRecords(enc('[{"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}]')))).toBe('LWM2M_BAD_SENML');
  });

  it('§5.1.2 multiple data points, "now"', () => {
    const recs = parseSenMLJson(enc(`[
      {"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
      {"n":"current","u":"A","v":1.2}
    ]`));
    expect(resolveSenML(recs)).toEqual([
      { n: 'urn:dev:ow:10e2073a01080063:voltage', u: 'V', v: 120.1 },
      { n: 'urn:dev:ow:10e2073a01080063:current', u: 'A', v: 1.2 },
    ]);
  });

  it('§5.1.2 multiple data points with bt, bu, bver and relative t', () => {
    const recs = parseSenMLJson(enc(`[
     {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
      "bu":"A","bver":5,
      "n":"voltage","u":"V","v":120.1},
     {"n":"current","t":-5,"v":1.2},
     {"n":"current","t":-4,"v":1.3},
     {"n":"current","t":-3,"v":1.4},
     {"n":"current","t":-2,"v":1.5},
     {"n":"current","t":-1,"v":1.6},
     {"n":"current","v":1.7}
   ]`));
    const r = resolveSenML(recs);
    const bt = 1.276020076001e9;
    expect(r[0]).toEqual({ n: 'urn:dev:ow:10e2073a0108006:voltage', u: 'V', t: bt, v: 120.1, bver: 5 });
    expect(r.slice(1).map((x) => [x.n, x.u, x.t, x.v])).toEqual([-5, -4, -3, -2, -1, 0].map((dt, i) => [
      'urn:dev:ow:10e2073a0108006:current', 'A', bt + dt, [1.2, 1.3, 1.4, 1.5, 1.6, 1.7][i],
    ]));
  });

  it('§5.1.5 multiple data types (vs, vb, vd base64url)', () => {
    const r = resolveSenML(parseSenMLJson(enc(`[
    {"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},
    {"n":"label","vs":"Machine Room"},
    {"n":"open","vb":false},
    {"n":"nfv-reader","vd":"aGkgCg"}
  ]`)));
    expect(r.map((x) => x.vs ?? x.vb ?? x.vd ?? x.v)).toEqual([23.1, 'Machine Room', false, enc('hi \n')]);
  });
});

// ---- LwM2M-TS-Core 1.1 §7.4.4 examples -------------------------------------------------------------

// The Device object read of the SenML JSON section (the record list as printed there, whitespace removed).
const DEVICE_SENML =
  '[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"1","vs":"Lightweight M2M Client"},' +
  '{"n":"2","vs":"345000123"},{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},' +
  '{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},' +
  '{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]';
const DEVICE_NODE = objectInstance(0, [
  resource(0, 'Open Mobile Alliance'), resource(1, 'Lightweight M2M Client'), resource(2, '345000123'),
  resource(3, '1.0'), multipleResource(6, [1, 5]), multipleResource(7, [3800, 5000]), multipleResource(8, [125, 900]),
  resource(9, 100), resource(10, 15), multipleResource(11, [0]), resource(13, new Date(1367491215 * 1000)),
  resource(14, '+02:00'), resource(16, 'U'),
]);

describe('LwM2M-TS-Core 1.1 §7.4.4 examples', () => {
  const ctx = { path: P('/3/0'), models };

  it('Device /3/0 read: decodes to the instance, and the encoder writes exactly the spec text', () => {
    expect(codec.decode(enc(DEVICE_SENML), ctx)).toEqual(DEVICE_NODE);
    expect(dec(codec.encode(DEVICE_NODE, ctx))).toBe(DEVICE_SENML);
  });

  it('the same read without a model: integers stay numbers, multiple resources come from the names', () => {
    const node = codec.decode(enc(DEVICE_SENML), { path: P('/3/0') });
    expect(node.kind).toBe('instance');
    const r13 = node.kind === 'instance' ? node.resources.get(13) : undefined;
    expect(r13).toEqual(resource(13, 1367491215));
    expect(node.kind === 'instance' ? node.resources.get(11) : undefined).toEqual(multipleResource(11, [0]));
  });

  it('multiple-instance resource /3/0/6 and resource instance /3/0/6/1', () => {
    const text = '[{"bn":"/3/0/6/","n":"0","v":1},{"n":"1","v":5}]';
    expect(codec.decode(enc(text), { path: P('/3/0/6'), models })).toEqual(multipleResource(6, [1, 5]));
    expect(dec(codec.encode(multipleResource(6, [1, 5]), { path: P('/3/0/6'), models }))).toBe(text);
    // Full names, no bn, are the same thing.
    expect(codec.decode(enc('[{"n":"/3/0/6/0","v":1},{"n":"/3/0/6/1","v":5}]'), { path: P('/3/0/6'), models })).toEqual(multipleResource(6, [1, 5]));
    expect(codec.decode(enc('[{"bn":"/3/0/6/1","v":5}]'), { path: P('/3/0/6/1'), models })).toEqual(resourceInstance(1, 5));
    expect(dec(codec.encode(resourceInstance(1, 5), { path: P('/3/0/6/1'), models }))).toBe('[{"bn":"/3/0/6/1","v":5}]');
  });

  it('single resource /3/0/0 and the object /3', () => {
    expect(dec(codec.encode(resource(0, 'Open Mobile Alliance'), { path: P('/3/0/0'), models }))).toBe('[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]');
    expect(codec.decode(enc('[{"n":"/3/0/0","vs":"Open Mobile Alliance"}]'), { path: P('/3/0/0'), models })).toEqual(resource(0, 'Open Mobile Alliance'));
    const o = objectNode(3, [DEVICE_NODE]);
    const bytes = codec.encode(o, { path: P('/3'), models });
    expect(dec(bytes).startsWith('[{"bn":"/3/","n":"0/0","vs":"Open Mobile Alliance"},{"n":"0/1",')).toBe(true);
    expect(codec.decode(bytes, { path: P('/3'), models })).toEqual(o);
  });

  it('object links in vlo (the object 65/66/67 style example, no model)', () => {
    const text = '[{"bn":"/65/0/","n":"0/0","vlo":"66:0"},{"n":"0/1","vlo":"66:1"},{"n":"1","vs":"8613800755500"},' +
      '{"n":"2","v":1},{"bn":"/66/0/","n":"0","vs":"myService 1"},{"n":"1","vs":"Internet.15.234"},{"n":"2","vlo":"67:0"},' +
      '{"bn":"/66/1/","n":"0","vs":"myService 2"},{"n":"1","vs":"Internet.15.235"},{"n":"2","vlo":"65535:65535"}]';
    const recs = codec.decodeRecords(enc(text));
    expect(recs.map((r) => [r.path.toString(), r.value])).toEqual([
      ['/65/0/0/0', { objectId: 66, instanceId: 0 }], ['/65/0/0/1', { objectId: 66, instanceId: 1 }],
      ['/65/0/1', '8613800755500'], ['/65/0/2', 1], ['/66/0/0', 'myService 1'], ['/66/0/1', 'Internet.15.234'],
      ['/66/0/2', { objectId: 67, instanceId: 0 }], ['/66/1/0', 'myService 2'], ['/66/1/1', 'Internet.15.235'],
      ['/66/1/2', { objectId: 65535, instanceId: 65535 }],
    ]);
    // decoding a node under /65/0 rejects the records of /66
    expect(errorCode(() => codec.decode(enc(text), { path: P('/65/0') }))).toBe('LWM2M_BAD_SENML');
  });

  it('Read-Composite: request paths and response records', () => {
    const req = '[{"n":"/3/0/1"},{"n":"/3/0/2"},{"n":"/1/0"}]';
    expect(codec.decodePaths(enc(req)).map(String)).toEqual(['/3/0/1', '/3/0/2', '/1/0']);
    expect(dec(codec.encodePaths([P('/3/0/1'), P('/3/0/2'), P('/1/0')]))).toBe(req);
    expect(codec.decodePaths(enc('[{"bn":"/3/0/","n":"1"},{"n":"2"},{"bn":"/1/0"}]')).map(String)).toEqual(['/3/0/1', '/3/0/2', '/1/0']);
    const resp = '[{"bn":"/3/0/","n":"1","vs":"Lightweight M2M Client"},{"n":"2","vs":"345000123"},{"bn":"/1/0/","n":"0","v":1},{"n":"1","v":86400}]';
    expect(codec.decodeRecords(enc(resp), { models }).map((r) => [r.path.toString(), r.value])).toEqual([
      ['/3/0/1', 'Lightweight M2M Client'], ['/3/0/2', '345000123'], ['/1/0/0', 1], ['/1/0/1', 86400],
    ]);
  });

  it('Write-Composite request', () => {
    const values: PathValue[] = [{ path: P('/3/0/14'), value: '+02:00' }, { path: P('/1/0/1'), value: 86400 }];
    const bytes = codec.encodeRecords(values, { models });
    expect(dec(bytes)).toBe('[{"n":"/3/0/14","vs":"+02:00"},{"n":"/1/0/1","v":86400}]');
    expect(codec.decodeRecords(bytes, { models })).toEqual(values);
  });

  it('Send: base time and per-record relative offsets', () => {
    const text = '[{"bn":"/3303/0/5700","bt":1700000000,"v":22.4},{"t":-5,"v":22.9},{"t":-30,"v":24.1}]';
    const recs = codec.decodeRecords(enc(text), { models });
    expect(recs.map((r) => [r.path.toString(), r.value, r.time])).toEqual([
      ['/3303/0/5700', 22.4, 1_700_000_000], ['/3303/0/5700', 22.9, 1_699_999_995], ['/3303/0/5700', 24.1, 1_699_999_970],
    ]);
    expect(dec(codec.encodeRecords(recs, { models }))).toBe(text);
  });

  it('Send from a device without a clock: times relative to now (RFC 8428 §4.5.3)', () => {
    const c = createSenmlJsonCodec({ now: () => 1_800_000_000_000 });
    const recs = c.decodeRecords(enc('[{"bn":"/3303/0/5700","bt":-60,"v":1},{"t":30,"v":2},{"n":"","t":60,"v":3}]'));
    expect(recs.map((r) => r.time)).toEqual([1_799_999_940, 1_799_999_970, 1_800_000_000]);
  });
});

// ---- strict shape validation -------------------------------------------------------------------

describe('validation', () => {
  const ctx = { path: P('/3/0'), models };

  it.each<[string, string, string]>([
    ['empty payload', '', 'LWM2M_BAD_JSON'],
    ['not JSON', 'hello', 'LWM2M_BAD_JSON'],
    ['an object instead of an array', '{"n":"/3/0/9","v":1}', 'LWM2M_BAD_SENML'],
    ['a number in the array', '[1]', 'LWM2M_BAD_SENML'],
    ['trailing data', '[]x', 'LWM2M_BAD_JSON'],
    ['two packs', '[][]', 'LWM2M_BAD_JSON'],
    ['a trailing comma', '[{"n":"/3/0/9","v":1},]', 'LWM2M_BAD_JSON'],
    ['a missing brace', '[{"n":"/3/0/9","v":1]', 'LWM2M_BAD_JSON'],
    ['a leading zero', '[{"n":"/3/0/9","v":01}]', 'LWM2M_BAD_JSON'],
    ['an unterminated string', '[{"n":"/3/0/9', 'LWM2M_BAD_JSON'],
    ['a raw control character', '[{"n":"/3/0/\n9","v":1}]', 'LWM2M_BAD_JSON'],
    ['a bad escape', '[{"n":"\\x","v":1}]', 'LWM2M_BAD_JSON'],
    ['n not a string', '[{"n":9,"v":1}]', 'LWM2M_BAD_SENML'],
    ['v not a number', '[{"n":"/3/0/9","v":"1"}]', 'LWM2M_BAD_SENML'],
    ['vb not a boolean', '[{"n":"/3/0/9","vb":1}]', 'LWM2M_BAD_SENML'],
    ['bt not a number', '[{"bn":"/3/0/","bt":null,"n":"9","v":1}]', 'LWM2M_BAD_SENML'],
    ['a duplicate label', '[{"n":"/3/0/9","v":1,"v":2}]', 'LWM2M_BAD_SENML'],
    ['a must-understand label', '[{"n":"/3/0/9","v":1,"foo_":1}]', 'LWM2M_BAD_SENML'],
    ['a version above 10', '[{"bver":11,"n":"/3/0/9","v":1}]', 'LWM2M_BAD_SENML'],
    ['an infinite number', '[{"n":"/3/0/9","v":1e999}]', 'LWM2M_BAD_SENML'],
    ['invalid base64url in vd', '[{"n":"/9000/0/5","vd":"a*b"}]', 'LWM2M_BAD_SENML'],
    ['a record outside the request path', '[{"n":"/3/1/9","v":1}]', 'LWM2M_BAD_SENML'],
    ['a value of the wrong type for the model', '[{"n":"/3/0/9","vs":"1"}]', 'LWM2M_BAD_VALUE'],
    ['deep nesting in an unknown label', `[{"x":${'['.repeat(100)}${']'.repeat(100)},"n":"/3/0/9","v":1}]`, 'LWM2M_BAD_SENML'],
  ])('rejects %s', (_what, text, expected) => {
    expect(errorCode(() => codec.decode(enc(text), ctx))).toBe(expected);
  });

  it('rejects invalid UTF-8', () => {
    expect(errorCode(() => codec.decode(Uint8Array.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), ctx))).toBe('LWM2M_BAD_JSON');
  });

  it('names the byte offset', () => {
    expect(() => parseSenMLJson(enc('[{"n":"é","v":1,}]'))).toThrow(/byte 17/);
  });

  it('ignores unknown labels (RFC 8428 §4.4), units, sums and update times', () => {
    const text = '[{"n":"/3/0/9","v":1,"x":{"a":[1,true,null,"s",{"b":-1.5e3}]},"u":"%","s":3,"ut":60,"bu":"x","bs":1}]';
    expect(codec.decode(enc(text), { path: P('/3/0/9'), models })).toEqual(resource(9, 1));
  });

  it('whitespace, escapes and surrogate pairs', () => {
    const text = ' [ { "n" : "/3/0/\\u0030" , "vs" : "\\ud83d\\ude00 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t" } ] ';
    expect(codec.decode(enc(text), { path: P('/3/0/0'), models })).toEqual(resource(0, '😀 "q" \\ / \b\f\n\r\t'));
  });

  it('keeps integers beyond 2^53 exact, both ways', () => {
    const text = '[{"bn":"/9000/0/","n":"1","v":-9223372036854775808},{"n":"2","v":18446744073709551615}]';
    const recs = codec.decodeRecords(enc(text), { models });
    expect(recs.map((r) => r.value)).toEqual([-(2n ** 63n), 2n ** 64n - 1n]);
    expect(dec(codec.encodeRecords(recs, { models }))).toBe(text);
  });

  it('vd is base64url without padding; padding and the standard alphabet are tolerated', () => {
    const bytes = Uint8Array.from([0xfb, 0xff, 0xfe, 0x00]);
    expect(base64urlEncode(bytes)).toBe('-__-AA');
    expect(base64urlDecode('-__-AA')).toEqual(bytes);
    expect(base64urlDecode('+//+AA==')).toEqual(bytes);
    expect(base64urlDecode('')).toEqual(new Uint8Array());
    for (const bad of ['A', 'AA=', 'AAAAA', 'AA===', 'A=A=', 'AA AA', 'é']) expect(base64urlDecode(bad)).toBeUndefined();
    const v = codec.decode(enc('[{"bn":"/9000/0/5","vd":"-__-AA"}]'), { path: P('/9000/0/5'), models });
    expect(v).toEqual(resource(5, bytes));
  });

  it('the encoder refuses what JSON cannot carry', () => {
    expect(errorCode(() => codec.encode(resource(3, NaN), { path: P('/9000/0/3'), models }))).toBe('LWM2M_BAD_VALUE');
    expect(errorCode(() => serializeSenMLJson([{ n: '/1/0/1', t: Infinity, v: 1 }]))).toBe('LWM2M_BAD_VALUE');
  });
});

// ---- properties -----------------------------------------------------------------------------------

/** A value of model type `t` as the codec reads it back (canonical: safe integers as numbers, no -0). */
function valueArb(t: ResourceType, json: boolean): fc.Arbitrary<ResourceValue> {
  switch (t) {
    case 'string':
    case 'corelnk':
      return fc.string({ unit: json ? 'binary' : 'grapheme', maxLength: 20 });
    case 'integer':
      return fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(normalizeInteger));
    case 'unsignedInteger':
      return fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(normalizeInteger));
    case 'float':
      return fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
    case 'boolean':
      return fc.boolean();
    case 'opaque':
      return fc.uint8Array({ maxLength: 24 });
    case 'time':
      return fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((s) => new Date(s * 1000));
    case 'objlnk':
      return fc.record({ objectId: fc.integer({ min: 0, max: 65535 }), instanceId: fc.integer({ min: 0, max: 65535 }) });
    default:
      return fc.constant('');
  }
}

const idSet = (max: number): fc.Arbitrary<number[]> => fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: max });
function resourceArb(rid: number, json: boolean): fc.Arbitrary<ResourceNode> {
  const m = ALL.resources.get(rid) as ResourceModel;
  if (!m.multiple) return valueArb(m.type, json).map((v) => resource(rid, v));
  return fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 65535 }), valueArb(m.type, json)), { selector: (e) => e[0], maxLength: 4 })
    .map((entries) => multipleResource(rid, new Map(entries)));
}
function instanceArb(iid: number, json: boolean): fc.Arbitrary<ReturnType<typeof objectInstance>> {
  return fc.subarray([...ALL.resources.keys()]).chain((rids) => fc.tuple(...rids.map((r) => resourceArb(r, json))))
    .map((rs) => objectInstance(iid, rs));
}

/** [path, node] at every level of object 9000. */
function nodeAtLevelArb(json: boolean): fc.Arbitrary<[LwM2MPath, LwM2MNode]> {
  const iid = fc.integer({ min: 0, max: 65535 });
  const rid = fc.constantFrom(...ALL.resources.keys());
  return fc.oneof(
    idSet(3).chain((ids) => fc.tuple(...ids.map((i) => instanceArb(i, json)))).map((insts): [LwM2MPath, LwM2MNode] => [P('/9000'), objectNode(9000, insts)]),
    iid.chain((i) => instanceArb(i, json).map((n): [LwM2MPath, LwM2MNode] => [LwM2MPath.of(9000, i), n])),
    fc.tuple(iid, rid).chain(([i, r]) => resourceArb(r, json).map((n): [LwM2MPath, LwM2MNode] => [LwM2MPath.of(9000, i, r), n])),
    fc.tuple(iid, fc.constantFrom(...TYPES.map((_, k) => k + 10)), fc.integer({ min: 0, max: 65535 })).chain(([i, r, ri]) =>
      valueArb((ALL.resources.get(r) as ResourceModel).type, json)
        .map((v): [LwM2MPath, LwM2MNode] => [LwM2MPath.of(9000, i, r, ri), resourceInstance(ri, v)])),
  );
}

/** Leaf records over object 9000 with optional times (all, some or none timed). */
function recordsArb(json: boolean): fc.Arbitrary<PathValue[]> {
  const leaf = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(...ALL.resources.keys()), fc.integer({ min: 0, max: 3 }))
    .chain(([i, r, ri]) => {
      const m = ALL.resources.get(r) as ResourceModel;
      return valueArb(m.type, json).map((value) => ({ path: m.multiple ? LwM2MPath.of(9000, i, r, ri) : LwM2MPath.of(9000, i, r), value }));
    });
  const time = fc.oneof(fc.integer({ min: 2 ** 28, max: 2 ** 33 }), fc.double({ min: -1e12, max: 1e12, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)));
  return fc.tuple(fc.array(fc.tuple(leaf, fc.option(time, { nil: undefined })), { maxLength: 12 }), fc.constantFrom('all', 'some', 'none'))
    .map(([items, mode]) => items.map(([pv, t], k): PathValue => {
      const tt = mode === 'all' ? t ?? k : mode === 'some' ? t : undefined;
      return tt === undefined ? pv : { ...pv, time: tt };
    }));
}

const pathArb: fc.Arbitrary<LwM2MPath> = fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }).map((ids) => LwM2MPath.of(...ids));

/** A node without its empty multiple resources and empty instances inside an object (SenML has no record for them). */
function dropEmpty(node: LwM2MNode): LwM2MNode {
  const inst = (i: ReturnType<typeof objectInstance>): ReturnType<typeof objectInstance> =>
    objectInstance(i.id, [...i.resources.values()].filter((r) => r.kind !== 'multipleResource' || r.instances.size > 0));
  if (node.kind === 'instance') return inst(node);
  if (node.kind === 'object') return objectNode(node.id, [...node.instances.values()].map(inst).filter((i) => i.resources.size > 0));
  return node;
}

/**
 * What a decoder without a model reads: Time values come back as their seconds (they travel in "v"), and a float
 * holding an integer beyond 2^53 written without exponent reads back as that exact integer (a bigint).
 */
function asReadWithoutModel(node: LwM2MNode, json = true): LwM2MNode {
  const v = (x: ResourceValue): ResourceValue => {
    if (x instanceof Date) return Math.floor(x.getTime() / 1000);
    if (json && typeof x === 'number' && Number.isInteger(x) && !Number.isSafeInteger(x) && !String(x).includes('e')) return BigInt(String(x));
    return x;
  };
  const r = (n: ResourceNode): ResourceNode =>
    n.kind === 'resource' ? resource(n.id, v(n.value)) : multipleResource(n.id, new Map([...n.instances].map(([k, x]) => [k, v(x)])));
  switch (node.kind) {
    case 'object': return objectNode(node.id, [...node.instances.values()].map((i) => objectInstance(i.id, [...i.resources.values()].map(r))));
    case 'instance': return objectInstance(node.id, [...node.resources.values()].map(r));
    case 'resourceInstance': return resourceInstance(node.id, v(node.value));
    default: return r(node);
  }
}

describe('round-trip properties', () => {
  // now = 0 ms makes relative-time resolution the identity, so every time reads back as written.
  const c = createSenmlJsonCodec({ now: () => 0 });

  it('every node level and value type, with the model', () => {
    fc.assert(fc.property(nodeAtLevelArb(true), ([path, node]) => {
      const ctx = { path, models };
      // SenML has no record for an empty multiple resource inside an instance: it reads back absent.
      expect(c.decode(c.encode(node, ctx), ctx)).toEqual(dropEmpty(node));
    }), { numRuns: 400, seed: 42 });
  });

  it('without a model (types inferred from the value fields)', () => {
    fc.assert(fc.property(nodeAtLevelArb(true), ([path, node]) => {
      fc.pre(!(node.kind === 'multipleResource' && node.instances.size === 0));
      const back = c.decode(c.encode(node, { path, models }), { path });
      expect(back).toEqual(asReadWithoutModel(dropEmpty(node)));
    }), { numRuns: 400, seed: 43 });
  });

  it('records (composite, Send with times)', () => {
    fc.assert(fc.property(recordsArb(true), (recs) => {
      expect(c.decodeRecords(c.encodeRecords(recs, { models }), { models })).toEqual(recs);
    }), { numRuns: 400, seed: 44 });
  });

  it('composite request paths', () => {
    fc.assert(fc.property(fc.array(pathArb, { maxLength: 8 }), (paths) => {
      expect(c.decodePaths(c.encodePaths(paths))).toEqual(paths);
    }), { numRuns: 400, seed: 45 });
  });

  it('numbers read exactly as Number(text) does (fast path for ≤ 15 digits, fallback otherwise)', () => {
    const digits = (min: number, max: number): fc.Arbitrary<string> =>
      fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((a) => a.join(''));
    const literal = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).chain((x) => fc.integer({ min: 0, max: 20 }).map((d) => x.toExponential(d))),
      fc.tuple(fc.boolean(), digits(1, 22), fc.option(digits(1, 22)), fc.option(fc.tuple(fc.constantFrom('e', 'E', 'e+', 'e-'), digits(1, 4))))
        .map(([neg, int, frac, exp]) => `${neg ? '-' : ''}${int.replace(/^0+(?=\d)/, '')}${frac === null ? '' : `.${frac}`}${exp === null ? '' : exp.join('')}`),
    );
    fc.assert(fc.property(literal, (text) => {
      const expected = Number(text);
      fc.pre(Number.isFinite(expected));
      const v = parseSenMLJson(enc(`[{"v":${text}}]`))[0]?.v;
      if (typeof v === 'bigint') expect(v).toBe(BigInt(text.replace(/^(-?)0+(?=\d)/, '$1')));
      else expect(v).toBe(expected);
    }), { numRuns: 5000, seed: 47 });
  });

  it('numbers written read back exactly (decimal fast path and shortest form)', () => {
    const num = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: 0, max: 8 })).map(([m, k]) => m / 10 ** k),
      fc.tuple(fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 0, max: 8 })).map(([m, k]) => m * 10 ** -k),
    ).map((x) => (Object.is(x, -0) ? 0 : x));
    fc.assert(fc.property(num, (v) => {
      const text = dec(serializeSenMLJson([{ v }]));
      // (integer-valued floats beyond 2^53 print as digits and read back as the exact bigint)
      expect(Number(parseSenMLJson(enc(text))[0]?.v)).toBe(v);
      expect(JSON.parse(text)).toEqual([{ v }]);
    }), { numRuns: 5000, seed: 49 });
    expect(dec(serializeSenMLJson([{ v: 20.25 }, { v: -0.0025 }, { v: 0.1 + 0.2 }, { v: 1e21 }, { v: 2 ** -30 }]))).toBe(
      '[{"v":20.25},{"v":-0.0025},{"v":0.30000000000000004},{"v":1e+21},{"v":9.313225746154785e-10}]');
  });

  it('raw records: parse(serialize(x)) = x', () => {
    const rec = fc.record({
      bn: fc.string(), bt: fc.double({ noNaN: true, noDefaultInfinity: true }), n: fc.string(), t: fc.integer(),
      v: fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(normalizeInteger)),
      vs: fc.string({ unit: 'binary' }), vb: fc.boolean(), vd: fc.uint8Array(), vlo: fc.string(),
    }, { requiredKeys: [] }).map((r) => ({ ...r, ...(r.bt !== undefined && Object.is(r.bt, -0) ? { bt: 0 } : {}) }));
    fc.assert(fc.property(fc.array(rec, { maxLength: 5 }), (recs) => {
      const back = parseSenMLJson(serializeSenMLJson(recs)).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
      expect(back).toEqual(recs);
    }), { numRuns: 300, seed: 46 });
  });
});

// ---- fuzzing ------------------------------------------------------------------------------------

/** Returns normally or throws an LwM2MError with CoAP 4.00; anything else fails the test. */
function only400(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!(e instanceof LwM2MError) || e.coapCode !== '4.00') throw e;
    return false;
  }
}

describe('structured fuzzing: well-formed JSON of SenML-like shape', () => {
  const label = fc.constantFrom('bn', 'bt', 'bu', 'bv', 'bs', 'bver', 'n', 'u', 'v', 'vs', 'vb', 'vd', 's', 't', 'ut', 'vlo', 'x', 'x_');
  const name = fc.oneof(
    fc.constantFrom('/3/0/', '/3/0', '/3/0/0', '/3/0/6/', '/3/0/13', '/9000/0/', '/', ''),
    fc.array(fc.integer({ min: 0, max: 70000 }), { maxLength: 5 }).map((ids) => ids.map((i) => `/${i}`).join('')),
    fc.constantFrom('0', '6/0', '6/1', '9', '13', '5', '7', '/x', '1/2'),
  );
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }), name, fc.double(), fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }),
    fc.constantFrom('3:0', '65536:1', 'AAEC', '-_8', 1e300, -1e-300, 2 ** 28, 11, 10, 0),
  );
  const record = fc.dictionary(label, value, { maxKeys: 5 });
  const pack = fc.array(record, { maxLength: 6 }).map((recs) =>
    new TextEncoder().encode(JSON.stringify(recs, (_k, v: unknown) => (typeof v === 'bigint' ? `__${v}__` : v)).replace(/"__(-?\d+)__"/g, '$1')));

  it('decode, decodeRecords and decodePaths only return or throw 4.00', () => {
    let ok = 0;
    fc.assert(fc.property(pack, (bytes) => {
      if (only400(() => codec.decode(bytes, { path: P('/3/0'), models }))) ok++;
      if (only400(() => codec.decode(bytes, { path: P('/9000'), models }))) ok++;
      if (only400(() => codec.decodeRecords(bytes, { models }))) ok++;
      if (only400(() => codec.decodeRecords(bytes))) ok++;
      if (only400(() => codec.decodePaths(bytes))) ok++;
    }), { numRuns: 10_000, seed: 48 });
    expect(ok).toBeGreaterThan(500);
  });
});

describe('fuzzing: every input returns or throws LwM2MError 4.00', () => {
  const seeds = [
    enc(DEVICE_SENML),
    enc('[{"bn":"/3303/0/5700","bt":1700000000,"v":22.4},{"t":-5,"v":22.9},{"n":"","t":-30,"v":24.1,"x":[{"y":null}]}]'),
    enc('[{"bn":"/9000/0/","n":"5","vd":"-__-AA"},{"n":"7","vlo":"3:0"},{"n":"4","vb":true},{"n":"1","v":-9223372036854775808}]'),
    enc('[{"n":"/3/0/1"},{"bn":"/3/0/","n":"2"},{"n":"/"}]'),
    enc('[{"bn":"/3/0/6/","n":"0","v":1.5e3},{"n":"1","v":5,"u":"V","bver":10}]'),
  ];

  it('decode', () => {
    const r = fuzzDecoder((b) => codec.decode(b, { path: P('/3/0'), models }), seeds, { seed: 1 });
    expect(r.ok).toBeGreaterThan(0);
  });
  it('decodeRecords', () => {
    const r = fuzzDecoder((b) => codec.decodeRecords(b, { models }), seeds, { seed: 2 });
    expect(r.ok).toBeGreaterThan(0);
  });
  it('decodePaths', () => {
    const pathSeeds = [
      enc('[{"n":"/3/0/1"},{"bn":"/3/0/","n":"2"},{"n":"/"}]'),
      enc('[{"n":"/3/0/1"},{"n":"/3/0/2"},{"n":"/1/0"}]'),
      enc('[{"bn":"/3/"},{"n":"/65535/1/2/3","x":1}]'),
    ];
    const r = fuzzDecoder((b) => codec.decodePaths(b), [...seeds, ...pathSeeds], { seed: 3 });
    expect(r.ok).toBeGreaterThan(0);
  });
});
