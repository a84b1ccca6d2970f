import cbor from 'cbor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath, parsePath } from '../../../src/core/path.js';
import {
  multipleResource, objectInstance, objectNode, resource, resourceInstance, type LwM2MNode, type PathValue,
  type ResourceNode, type ResourceValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { resolveSenML, type SenMLRecord } from '../../../src/codec/senml.js';
import { parseSenMLJson } from '../../../src/codec/senml-json.js';
import {
  createSenmlCborCodec, parseSenMLCbor, senmlCborCodec, serializeSenMLCbor,
} from '../../../src/codec/senml-cbor.js';
import { normalizeInteger } from '../../../src/codec/values.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

// ---- a small model (as in senml-json.test.ts) -----------------------------------------------------

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
const TEMPERATURE = obj(3303, [res(5700, 'float')]);
const TYPES: ResourceType[] = ['string', 'integer', 'unsignedInteger', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'];
/** Object 9000: resource `k` single and `k + 10` multiple, for the k-th LwM2M type. */
const ALL = obj(9000, TYPES.flatMap((t, i) => [res(i, t), res(i + 10, t, true)]));
const MODELS = new Map<number, ObjectModel>([[3, DEVICE], [3303, TEMPERATURE], [9000, ALL]]);
const models: ModelLookup = { getObject: (id) => MODELS.get(id) };

const P = parsePath;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/[^0-9a-f]/gi, ''), 'hex'));
const codec = senmlCborCodec;
const oracleDecode = (b: Uint8Array): unknown => cbor.decodeFirstSync(Buffer.from(b), { preferMap: true }) as unknown;
const defined = (r: SenMLRecord): SenMLRecord =>
  Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as SenMLRecord;

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

/** Records as the generic CBOR structure RFC 8428 §6 describes: maps with integer labels (and "vlo"). */
function asCborMaps(recs: readonly SenMLRecord[]): Array<Map<number | string, unknown>> {
  const labels: Array<[keyof SenMLRecord, number | string]> = [
    ['bn', -2], ['bt', -3], ['bu', -4], ['bv', -5], ['bver', -1], ['n', 0], ['u', 1], ['t', 6], ['v', 2], ['vs', 3],
    ['vb', 4], ['vd', 8], ['vlo', 'vlo'],
  ];
  return recs.map((r) => {
    const m = new Map<number | string, unknown>();
    for (const [k, label] of labels) {
      const v = r[k];
      if (v !== undefined) m.set(label, v instanceof Uint8Array ? Buffer.from(v) : v);
    }
    return m;
  });
}

// ---- RFC 8428 §6 ------------------------------------------------------------------------------------

// The hex dump of RFC 8428 §6 (the §5.1.2 pack in CBOR), copied from the RFC text.
const RFC8428_CBOR = unhex(`
 87 a7 21 78 1b 75 72 6e 3a 64 65 76 3a 6f 77 3a
 31 30 65 32 30 37 33 61 30 31 30 38 30 30 36 3a
 22 fb 41 d3 03 a1 5b 00 10 62 23 61 41 20 05 00
 67 76 6f 6c 74 61 67 65 01 61 56 02 fb 40 5e 06
 66 66 66 66 66 a3 00 67 63 75 72 72 65 6e 74 06
 24 02 fb 3f f3 33 33 33 33 33 33 a3 00 67 63 75
 72 72 65 6e 74 06 23 02 fb 3f f4 cc cc cc cc cc
 cd a3 00 67 63 75 72 72 65 6e 74 06 22 02 fb 3f
 f6 66 66 66 66 66 66 a3 00 67 63 75 72 72 65 6e
 74 06 21 02 f9 3e 00 a3 00 67 63 75 72 72 65 6e
 74 06 20 02 fb 3f f9 99 99 99 99 99 9a a3 00 67
 63 75 72 72 65 6e 74 06 00 02 fb 3f fb 33 33 33
 33 33 33`);

describe('RFC 8428 §6 example', () => {
  it('decodes to the same records as the JSON of §5.1.2 (diagnostic notation of §6)', () => {
    const recs = parseSenMLCbor(RFC8428_CBOR).map(defined);
    expect(recs).toEqual([
      { bn: 'urn:dev:ow:10e2073a0108006:', bt: 1276020076.001, bu: 'A', bver: 5, n: 'voltage', u: 'V', v: 120.1 },
      { n: 'current', t: -5, v: 1.2 }, { n: 'current', t: -4, v: 1.3 }, { n: 'current', t: -3, v: 1.4 },
      { n: 'current', t: -2, v: 1.5 }, { n: 'current', t: -1, v: 1.6 }, { n: 'current', t: 0, v: 1.7 },
    ]);
    const json = parseSenMLJson(new TextEncoder().encode(`[
     {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,"bu":"A","bver":5,"n":"voltage","u":"V","v":120.1},
     {"n":"current","t":-5,"v":1.2},{"n":"current","t":-4,"v":1.3},{"n":"current","t":-3,"v":1.4},
     {"n":"current","t":-2,"v":1.5},{"n":"current","t":-1,"v":1.6},{"n":"current","v":1.7}]`));
    const strip = (r: { t?: number }): unknown => ({ ...r, t: r.t ?? 0 });
    expect(resolveSenML(recs).map(strip)).toEqual(resolveSenML(json).map(strip));
  });

  it('re-encodes byte for byte (same label order, shortest exact floats: 1.5 as f9 3e00)', () => {
    expect(hex(serializeSenMLCbor(parseSenMLCbor(RFC8428_CBOR)))).toBe(hex(RFC8428_CBOR));
  });

  it('the oracle (cbor package) reads the example as our records', () => {
    expect(oracleDecode(RFC8428_CBOR)).toEqual(asCborMaps(parseSenMLCbor(RFC8428_CBOR)));
  });
});

// ---- LwM2M-TS-Core 1.1 SenML CBOR (§7.4) -------------------------------------------------------------------

const DEVICE_NODE = objectInstance(0, [
  resource(0, 'Open Mobile Alliance'), resource(1, 'Lightweight M2M Client'), resource(2, '345000123'),
  resource(3, '1.0'), multipleResource(6, [1, 5]), multipleResource(7, [3800, 5000]), multipleResource(8, [125, 900]),
  resource(9, 100), resource(10, 15), multipleResource(11, [0]), resource(13, new Date(1367491215 * 1000)),
  resource(14, '+02:00'), resource(16, 'U'),
]);
// The Device /3/0 read of §7.4.4 in SenML CBOR. Rebuilt here from RFC 8428 §6 labels and RFC 8949 preferred
// (shortest) serialization, not copied from the spec; the test also checks it against the cbor package.
const DEVICE_CBOR =
  '90a321652f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365a200613103764c69676874776569676874204d32' +
  '4d20436c69656e74a20061320369333435303030313233a20061330363312e30a20063362f300201a20063362f310205a20063372f30' +
  '02190ed8a20063372f3102191388a20063382f3002187da20063382f3102190384a2006139021864a200623130020fa20064' +
  '31312f300200a200623133021a5182428fa20062313403662b30323a3030a200623136036155';

describe('LwM2M-TS-Core 1.1 SenML CBOR (§7.4)', () => {
  const ctx = { path: P('/3/0'), models };

  it('Device /3/0: encodes to the expected bytes and decodes back', () => {
    const bytes = codec.encode(DEVICE_NODE, ctx);
    expect(hex(bytes)).toBe(DEVICE_CBOR);
    expect(codec.decode(unhex(DEVICE_CBOR), ctx)).toEqual(DEVICE_NODE);
  });

  it('the oracle builds the same bytes from the diagnostic notation', () => {
    const diag: Array<[string | undefined, string, 'vs' | 'v', string | number]> = [
      ['/3/0/', '0', 'vs', 'Open Mobile Alliance'], [undefined, '1', 'vs', 'Lightweight M2M Client'],
      [undefined, '2', 'vs', '345000123'], [undefined, '3', 'vs', '1.0'], [undefined, '6/0', 'v', 1],
      [undefined, '6/1', 'v', 5], [undefined, '7/0', 'v', 3800], [undefined, '7/1', 'v', 5000],
      [undefined, '8/0', 'v', 125], [undefined, '8/1', 'v', 900], [undefined, '9', 'v', 100], [undefined, '10', 'v', 15],
      [undefined, '11/0', 'v', 0], [undefined, '13', 'v', 1367491215], [undefined, '14', 'vs', '+02:00'],
      [undefined, '16', 'vs', 'U'],
    ];
    const maps = diag.map(([bn, n, f, v]) => new Map<number, unknown>([
      ...(bn === undefined ? [] : [[-2, bn] as [number, unknown]]), [0, n], [f === 'vs' ? 3 : 2, v],
    ]));
    expect(hex(cbor.encode(maps))).toBe(DEVICE_CBOR);
  });

  it('every level: multiple resource, resource instance, single resource, object', () => {
    const mr = codec.encode(multipleResource(6, [1, 5]), { path: P('/3/0/6'), models });
    expect(oracleDecode(mr)).toEqual([new Map<number, unknown>([[-2, '/3/0/6/'], [0, '0'], [2, 1]]), new Map<number, unknown>([[0, '1'], [2, 5]])]);
    expect(codec.decode(mr, { path: P('/3/0/6'), models })).toEqual(multipleResource(6, [1, 5]));
    const ri = codec.encode(resourceInstance(1, 5), { path: P('/3/0/6/1'), models });
    expect(oracleDecode(ri)).toEqual([new Map<number, unknown>([[-2, '/3/0/6/1'], [2, 5]])]);
    expect(codec.decode(ri, { path: P('/3/0/6/1'), models })).toEqual(resourceInstance(1, 5));
    const r = codec.encode(resource(0, 'x'), { path: P('/3/0/0'), models });
    expect(codec.decode(r, { path: P('/3/0/0'), models })).toEqual(resource(0, 'x'));
    const o = objectNode(3, [DEVICE_NODE, objectInstance(1, [resource(9, 7)])]);
    expect(codec.decode(codec.encode(o, { path: P('/3'), models }), { path: P('/3'), models })).toEqual(o);
  });

  it('Objlnk travels under the text label "vlo"; opaque as a byte string', () => {
    const bytes = codec.encodeRecords([
      { path: P('/9000/0/7'), value: { objectId: 66, instanceId: 1 } }, { path: P('/9000/0/5'), value: Uint8Array.from([0, 255]) },
    ], { models });
    expect(oracleDecode(bytes)).toEqual([
      new Map<number | string, unknown>([[-2, '/9000/0/'], [0, '7'], ['vlo', '66:1']]),
      new Map<number | string, unknown>([[0, '5'], [8, Buffer.from([0, 255])]]),
    ]);
    expect(hex(bytes)).toContain('63766c6f6436363a31'); // text "vlo", then text "66:1"
  });

  it('composite: paths, Read-Composite response, Send with bt/t', () => {
    const paths = [P('/3/0/1'), P('/3/0/2'), P('/1/0')];
    expect(oracleDecode(codec.encodePaths(paths))).toEqual([new Map([[0, '/3/0/1']]), new Map([[0, '/3/0/2']]), new Map([[0, '/1/0']])]);
    expect(codec.decodePaths(codec.encodePaths(paths))).toEqual(paths);
    const send: PathValue[] = [
      { path: P('/3303/0/5700'), value: 22.4, time: 1_700_000_000 }, { path: P('/3303/0/5700'), value: 22.9, time: 1_699_999_995 },
    ];
    const bytes = codec.encodeRecords(send, { models });
    expect(oracleDecode(bytes)).toEqual([
      new Map<number, unknown>([[-2, '/3303/0/5700'], [-3, 1_700_000_000], [2, 22.4]]), new Map<number, unknown>([[6, -5], [2, 22.9]]),
    ]);
    expect(codec.decodeRecords(bytes, { models })).toEqual(send);
  });

  it('relative times resolve against the codec clock', () => {
    const c = createSenmlCborCodec({ now: () => 1_800_000_000_000 });
    const bytes = Buffer.from(cbor.encode([new Map<number, unknown>([[-2, '/3303/0/5700'], [6, -60], [2, 1.5]])]));
    expect(c.decodeRecords(bytes)[0]?.time).toBe(1_799_999_940);
  });
});

// ---- robustness -------------------------------------------------------------------------------------

describe('validation', () => {
  const ctx = { path: P('/3/0'), models };

  it.each<[string, string, string]>([
    ['empty payload', '', 'LWM2M_BAD_CBOR'],
    ['trailing bytes', '80 00', 'LWM2M_BAD_CBOR'],
    ['a truncated array', '82 a0', 'LWM2M_BAD_CBOR'],
    ['an array length of 2^64-1 (no allocation from it)', '9b ffffffffffffffff', 'LWM2M_BAD_CBOR'],
    ['a map length of 2^32-1', '81 ba ffffffff', 'LWM2M_BAD_CBOR'],
    ['a string length beyond the data', '81 a1 00 7a 7fffffff', 'LWM2M_BAD_CBOR'],
    ['reserved additional information', '81 a1 00 7c', 'LWM2M_BAD_CBOR'],
    ['a stray break', 'ff', 'LWM2M_BAD_CBOR'],
    ['a missing break', '9f a0', 'LWM2M_BAD_CBOR'],
    ['not an array', 'a1 00 63 2f 33 30', 'LWM2M_BAD_SENML'],
    ['a record that is not a map', '81 01', 'LWM2M_BAD_SENML'],
    ['a float label', '81 a1 f9 3c00 01', 'LWM2M_BAD_SENML'],
    ['a duplicate label', '81 a3 00 66 2f332f302f39 02 01 02 02', 'LWM2M_BAD_SENML'],
    ['a must-understand text label', '81 a3 00 66 2f332f302f39 02 01 64 666f6f5f 01', 'LWM2M_BAD_SENML'],
    ['n not a text string', '81 a2 00 09 02 01', 'LWM2M_BAD_SENML'],
    ['v not a number', '81 a2 00 66 2f332f302f39 02 61 31', 'LWM2M_BAD_SENML'],
    ['an indefinite-length vs (RFC 8428 §6: definite)', '81 a2 00 66 2f332f302f30 03 7f 61 61 ff', 'LWM2M_BAD_SENML'],
    ['invalid UTF-8 in a text string', '81 a2 00 66 2f332f302f30 03 61 ff', 'LWM2M_BAD_CBOR'],
    ['an unsupported tag on v', '81 a2 00 66 2f332f302f39 02 c1 01', 'LWM2M_BAD_SENML'],
    ['a negative bver', '81 a3 21 20 00 66 2f332f302f39 02 01', 'LWM2M_BAD_SENML'],
    ['a version above 10', '81 a3 21 0b 00 66 2f332f302f39 02 01', 'LWM2M_BAD_SENML'],
    ['an infinite time', '81 a3 00 66 2f332f302f39 06 f9 7c00 02 01', 'LWM2M_BAD_SENML'],
    ['a two-byte simple value below 32', '81 a3 00 66 2f332f302f39 02 01 18 63 f8 10', 'LWM2M_BAD_CBOR'],
    ['deep nesting in an unknown label', `81 a3 00 66 2f332f302f39 02 01 18 63 ${'81'.repeat(100)} 00`, 'LWM2M_BAD_SENML'],
    ['a record outside the request path', '81 a2 00 66 2f332f312f39 02 01', 'LWM2M_BAD_SENML'],
    ['a value of the wrong type for the model', '81 a2 00 66 2f332f302f39 03 61 31', 'LWM2M_BAD_VALUE'],
  ])('rejects %s', (_what, h, expected) => {
    expect(errorCode(() => codec.decode(unhex(h), ctx))).toBe(expected);
  });

  it('rejects an attacker-declared huge length at its header and names the byte offset', () => {
    expect(() => codec.decodeRecords(unhex('9a 7fffffff'))).toThrow(/byte 0/);
    expect(() => codec.decodeRecords(unhex('81 bb 00ffffffffffffff'))).toThrow(/byte 1/);
  });

  it('ignores unknown integer and text labels (with any nested value), units, sums and update times', () => {
    // {0:"/3/0/9", 2:1, 99:[h'00', {"x": null}], "ext":[1.5, true], 1:"%", 5:3, 7:60}
    const h = '81 a7 00 66 2f332f302f39 02 01 18 63 82 41 00 a1 61 78 f6 63 657874 82 f9 3e00 f5 01 61 25 05 03 07 18 3c';
    expect(codec.decode(unhex(h), { path: P('/3/0/9'), models })).toEqual(resource(9, 1));
  });

  it('accepts indefinite-length packs and records, every integer and float width, bignums and decimal fractions', () => {
    // [_ {_ 0:"/9000/0/1", 2: 2^63-1 } , {0:".../2", 2: tag2(h'ffffffffffffffff')}, {0:".../3", 2: 4([-2, 12345])}, {0: ".../3", 2: f32 1.5}]
    const h = '9f bf 00 69 2f393030302f302f31 02 1b 7fffffffffffffff ff' +
      ' a2 00 69 2f393030302f302f32 02 c2 48 ffffffffffffffff' +
      ' a2 00 69 2f393030302f312f33 02 c4 82 21 19 3039' +
      ' a2 00 69 2f393030302f322f33 02 fa 3fc00000 ff';
    expect(codec.decodeRecords(unhex(h), { models }).map((r) => r.value)).toEqual([2n ** 63n - 1n, 2n ** 64n - 1n, 123.45, 1.5]);
    // t as a decimal fraction: 4([-3, 1700000000123]) = 1700000000.123
    const t = '81 a3 00 69 2f393030302f302f31 06 c4 82 22 1b 0000018bcfe5687b 02 01';
    expect(codec.decodeRecords(unhex(t), { models })[0]?.time).toBe(1700000000.123);
  });

  it('integers at the int64/uint64 limits both ways', () => {
    const values: PathValue[] = [
      { path: P('/9000/0/1'), value: -(2n ** 63n) }, { path: P('/9000/0/1'), value: 2n ** 63n - 1n },
      { path: P('/9000/0/2'), value: 2n ** 64n - 1n }, { path: P('/9000/0/1'), value: Number.MIN_SAFE_INTEGER },
    ];
    const bytes = codec.encodeRecords(values, { models });
    expect(hex(bytes)).toContain('3b7fffffffffffffff');
    expect(hex(bytes)).toContain('1bffffffffffffffff');
    expect(codec.decodeRecords(bytes, { models })).toEqual(values);
    expect((oracleDecode(bytes) as Array<Map<number, unknown>>).map((m) => m.get(2))).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 2n ** 64n - 1n, Number.MIN_SAFE_INTEGER]);
  });

  it('floats: shortest exact width, NaN/±Infinity/-0 carried (unlike JSON)', () => {
    const fl = (v: number): string => hex(serializeSenMLCbor([{ v }])).slice(6);
    expect(fl(1.5)).toBe('f93e00');
    expect(fl(-0)).toBe('f98000');
    expect(fl(NaN)).toBe('f97e00');
    expect(fl(-Infinity)).toBe('f9fc00');
    expect(fl(5.960464477539063e-8)).toBe('f90001'); // smallest half subnormal
    expect(fl(65504)).toBe('19ffe0'); // integer-valued: an integer
    expect(fl(65504.5)).toBe('fa477fe080');
    expect(fl(0.1)).toBe('fb3fb999999999999a');
    for (const v of [NaN, Infinity, -0, 1e-40, 3.4e38, 2 ** -24, 2 ** -25, 1 / 3]) {
      expect(parseSenMLCbor(serializeSenMLCbor([{ v }]))[0]?.v).toBe(v);
    }
  });
});

// ---- properties (with the cbor package as an independent oracle) ------------------------------------

function valueArb(t: ResourceType): fc.Arbitrary<ResourceValue> {
  switch (t) {
    case 'string':
    case 'corelnk':
      return fc.string({ unit: 'grapheme', maxLength: 20 });
    case 'integer':
      return fc.oneof(fc.integer(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(normalizeInteger));
    case 'unsignedInteger':
      return fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(normalizeInteger));
    case 'float':
      return fc.double();
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
function resourceArb(rid: number): fc.Arbitrary<ResourceNode> {
  const m = ALL.resources.get(rid) as ResourceModel;
  if (!m.multiple) return valueArb(m.type).map((v) => resource(rid, v));
  return fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 65535 }), valueArb(m.type)), { selector: (e) => e[0], maxLength: 4 })
    .map((entries) => multipleResource(rid, new Map(entries)));
}
function instanceArb(iid: number): fc.Arbitrary<ReturnType<typeof objectInstance>> {
  return fc.subarray([...ALL.resources.keys()]).chain((rids) => fc.tuple(...rids.map((r) => resourceArb(r))))
    .map((rs) => objectInstance(iid, rs));
}
function nodeAtLevelArb(): fc.Arbitrary<[LwM2MPath, LwM2MNode]> {
  const iid = fc.integer({ min: 0, max: 65535 });
  const rid = fc.constantFrom(...ALL.resources.keys());
  return fc.oneof(
    fc.uniqueArray(iid, { maxLength: 3 }).chain((ids) => fc.tuple(...ids.map((i) => instanceArb(i))))
      .map((insts): [LwM2MPath, LwM2MNode] => [P('/9000'), objectNode(9000, insts)]),
    iid.chain((i) => instanceArb(i).map((n): [LwM2MPath, LwM2MNode] => [LwM2MPath.of(9000, i), n])),
    fc.tuple(iid, rid).chain(([i, r]) => resourceArb(r).map((n): [LwM2MPath, LwM2MNode] => [LwM2MPath.of(9000, i, r), n])),
    fc.tuple(iid, fc.constantFrom(...TYPES.map((_, k) => k + 10)), fc.integer({ min: 0, max: 65535 })).chain(([i, r, ri]) =>
      valueArb((ALL.resources.get(r) as ResourceModel).type).map((v): [LwM2MPath, LwM2MNode] => [LwM2MPath.of(9000, i, r, ri), resourceInstance(ri, v)])),
  );
}
function dropEmpty(node: LwM2MNode): LwM2MNode {
  const inst = (i: ReturnType<typeof objectInstance>): ReturnType<typeof objectInstance> =>
    objectInstance(i.id, [...i.resources.values()].filter((r) => r.kind !== 'multipleResource' || r.instances.size > 0));
  if (node.kind === 'instance') return inst(node);
  if (node.kind === 'object') return objectNode(node.id, [...node.instances.values()].map(inst).filter((i) => i.resources.size > 0));
  return node;
}
/** Without a model Time values read back as their seconds (they travel in "v"). */
function asReadWithoutModel(node: LwM2MNode): LwM2MNode {
  const v = (x: ResourceValue): ResourceValue => (x instanceof Date ? Math.floor(x.getTime() / 1000) : x);
  const r = (n: ResourceNode): ResourceNode =>
    n.kind === 'resource' ? resource(n.id, v(n.value)) : multipleResource(n.id, new Map([...n.instances].map(([k, x]) => [k, v(x)])));
  switch (node.kind) {
    case 'object': return objectNode(node.id, [...node.instances.values()].map((i) => objectInstance(i.id, [...i.resources.values()].map(r))));
    case 'instance': return objectInstance(node.id, [...node.resources.values()].map(r));
    case 'resourceInstance': return resourceInstance(node.id, v(node.value));
    default: return r(node);
  }
}
function recordsArb(): fc.Arbitrary<PathValue[]> {
  const leaf = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(...ALL.resources.keys()), fc.integer({ min: 0, max: 3 }))
    .chain(([i, r, ri]) => {
      const m = ALL.resources.get(r) as ResourceModel;
      return valueArb(m.type).map((value) => ({ path: m.multiple ? LwM2MPath.of(9000, i, r, ri) : LwM2MPath.of(9000, i, r), value }));
    });
  const time = fc.oneof(fc.integer({ min: 2 ** 28, max: 2 ** 33 }), fc.double({ min: -1e12, max: 1e12, noNaN: true }).map((x) => (Object.is(x, -0) ? 0 : x)));
  return fc.tuple(fc.array(fc.tuple(leaf, fc.option(time, { nil: undefined })), { maxLength: 12 }), fc.constantFrom('all', 'some', 'none'))
    .map(([items, mode]) => items.map(([pv, t], k): PathValue => {
      const tt = mode === 'all' ? t ?? k : mode === 'some' ? t : undefined;
      return tt === undefined ? pv : { ...pv, time: tt };
    }));
}
const pathArb = fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }).map((ids) => LwM2MPath.of(...ids));
const rawRecordArb: fc.Arbitrary<SenMLRecord> = fc.record({
  bn: fc.string({ unit: 'grapheme' }), bt: fc.double({ noNaN: true, noDefaultInfinity: true }), bver: fc.integer({ min: 1, max: 10 }),
  n: fc.string({ unit: 'grapheme' }), u: fc.string(), t: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
  v: fc.oneof(fc.double(), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }).map(normalizeInteger)),
  vs: fc.string({ unit: 'grapheme', maxLength: 40 }), vb: fc.boolean(), vd: fc.uint8Array({ maxLength: 40 }), vlo: fc.string(),
}, { requiredKeys: [] });

describe('round-trip properties', () => {
  const c = createSenmlCborCodec({ now: () => 0 }); // relative-time resolution becomes the identity

  it('every node level and value type, with the model', () => {
    fc.assert(fc.property(nodeAtLevelArb(), ([path, node]) => {
      const ctx = { path, models };
      expect(c.decode(c.encode(node, ctx), ctx)).toEqual(dropEmpty(node));
    }), { numRuns: 400, seed: 52 });
  });

  it('without a model (types inferred from the value fields)', () => {
    fc.assert(fc.property(nodeAtLevelArb(), ([path, node]) => {
      fc.pre(!(node.kind === 'multipleResource' && node.instances.size === 0));
      expect(c.decode(c.encode(node, { path, models }), { path })).toEqual(asReadWithoutModel(dropEmpty(node)));
    }), { numRuns: 400, seed: 53 });
  });

  it('records (composite, Send with times)', () => {
    fc.assert(fc.property(recordsArb(), (recs) => {
      expect(c.decodeRecords(c.encodeRecords(recs, { models }), { models })).toEqual(recs);
    }), { numRuns: 400, seed: 54 });
  });

  it('composite request paths', () => {
    fc.assert(fc.property(fc.array(pathArb, { maxLength: 8 }), (paths) => {
      expect(c.decodePaths(c.encodePaths(paths))).toEqual(paths);
    }), { numRuns: 400, seed: 55 });
  });

  it('oracle: the cbor package decodes our encoding to the same structure', () => {
    fc.assert(fc.property(fc.array(rawRecordArb, { maxLength: 5 }), (recs) => {
      expect(oracleDecode(serializeSenMLCbor(recs))).toEqual(asCborMaps(recs));
    }), { numRuns: 400, seed: 56 });
  });

  it('oracle: we decode what the cbor package encodes', () => {
    fc.assert(fc.property(fc.array(rawRecordArb, { maxLength: 5 }), (recs) => {
      const bytes = new Uint8Array(cbor.encode(asCborMaps(recs)));
      expect(parseSenMLCbor(bytes).map(defined)).toEqual(recs);
    }), { numRuns: 400, seed: 57 });
  });

  it('oracle: the cbor package and we agree on every LwM2M encoding', () => {
    fc.assert(fc.property(recordsArb(), (recs) => {
      const bytes = c.encodeRecords(recs, { models });
      expect(oracleDecode(bytes)).toEqual(asCborMaps(parseSenMLCbor(bytes)));
    }), { numRuns: 200, seed: 58 });
  });
});

// ---- fuzzing ------------------------------------------------------------------------------------

function only400(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!(e instanceof LwM2MError) || e.coapCode !== '4.00') throw e;
    return false;
  }
}

describe('structured fuzzing: well-formed CBOR of SenML-like shape (encoded by the cbor package)', () => {
  const label = fc.oneof(fc.integer({ min: -8, max: 10 }), fc.constantFrom('vlo', 'x', 'x_', 'v', 'bn'), fc.constant(2 ** 40));
  const name = fc.oneof(
    fc.constantFrom('/3/0/', '/3/0', '/3/0/0', '/3/0/6/', '/3/0/13', '/9000/0/', '/', ''),
    fc.array(fc.integer({ min: 0, max: 70000 }), { maxLength: 5 }).map((ids) => ids.map((i) => `/${i}`).join('')),
    fc.constantFrom('0', '6/0', '6/1', '9', '13', '5', '7', '/x', '1/2'),
  );
  const leaf = fc.oneof(
    name, fc.string(), fc.double(), fc.integer(), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.boolean(),
    fc.constantFrom(null, undefined, '3:0', 1e300, 2 ** 28, 11, 10, 0, -0),
    fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)),
    fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer()).map(([tag, v]) => new cbor.Tagged(tag, v)),
  );
  const value = fc.oneof(leaf, fc.array(leaf, { maxLength: 3 }));
  const record = fc.array(fc.tuple(label, value), { maxLength: 5 }).map((kv) => new Map<unknown, unknown>(kv));
  const pack = fc.array(fc.oneof({ weight: 9, arbitrary: record }, { weight: 1, arbitrary: leaf }), { maxLength: 6 })
    .map((recs) => new Uint8Array(cbor.encode(recs)));

  it('decode, decodeRecords and decodePaths only return or throw 4.00', () => {
    let ok = 0;
    fc.assert(fc.property(pack, (bytes) => {
      if (only400(() => codec.decode(bytes, { path: P('/3/0'), models }))) ok++;
      if (only400(() => codec.decode(bytes, { path: P('/9000'), models }))) ok++;
      if (only400(() => codec.decodeRecords(bytes, { models }))) ok++;
      if (only400(() => codec.decodeRecords(bytes))) ok++;
      if (only400(() => codec.decodePaths(bytes))) ok++;
    }), { numRuns: 10_000, seed: 59 });
    expect(ok).toBeGreaterThan(500);
  });
});

describe('fuzzing: every input returns or throws LwM2MError 4.00', () => {
  const seeds = [
    unhex(DEVICE_CBOR),
    RFC8428_CBOR,
    codec.encodeRecords([
      { path: P('/3303/0/5700'), value: 22.4, time: 1_700_000_000 }, { path: P('/3303/0/5700'), value: 22.9, time: 1_699_999_995.5 },
    ], { models }),
    codec.encodeRecords([
      { path: P('/9000/0/5'), value: Uint8Array.from([1, 2, 3]) }, { path: P('/9000/0/7'), value: { objectId: 3, instanceId: 0 } },
      { path: P('/9000/0/4'), value: true }, { path: P('/9000/0/1'), value: -(2n ** 63n) },
    ], { models }),
    unhex('9f bf 00 69 2f393030302f302f31 02 1b 7fffffffffffffff 18 63 82 41 00 a1 61 78 f6 ff a2 00 69 2f393030302f312f33 02 c4 82 21 19 3039 ff'),
  ];
  const pathSeeds = [
    codec.encodePaths([P('/3/0/1'), P('/3/0/2'), P('/1/0')]),
    codec.encodePaths([P('/'), P('/3/0'), P('/3/0/1')]),
    codec.encodePaths([P('/65535/1/2/3')]),
  ];

  it('decode', () => {
    const r = fuzzDecoder((b) => codec.decode(b, { path: P('/3/0'), models }), seeds, { seed: 11 });
    expect(r.ok).toBeGreaterThan(0);
  });
  it('decodeRecords', () => {
    const r = fuzzDecoder((b) => codec.decodeRecords(b, { models }), seeds, { seed: 12 });
    expect(r.ok).toBeGreaterThan(0);
  });
  it('decodePaths', () => {
    const r = fuzzDecoder((b) => codec.decodePaths(b), [...seeds, ...pathSeeds], { seed: 13 });
    expect(r.ok).toBeGreaterThan(0);
  });
});
