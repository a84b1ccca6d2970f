import cbor from 'cbor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLwM2MError, type LwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath, parsePath } from '../../../src/core/path.js';
import { lwm2mCborCodec as codec } from '../../../src/codec/lwm2m-cbor.js';
import { formatObjectLink, normalizeInteger } from '../../../src/codec/values.js';
import {
  isObjectLink, multipleResource, nodeToRecords, objectInstance, objectNode, recordsToNode, resource, resourceInstance,
  type LwM2MNode, type ObjectInstanceNode, type PathValue, type ResourceNode,
  type ResourceValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';
import { DEVICE_INSTANCE } from '../../helpers/device-fixture.js';

// ---- test models ----------------------------------------------------------------------------------

const rm = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});
const objectModel = (id: number, resources: ResourceModel[], multiple = true): ObjectModel => ({
  id, name: `o${id}`, version: '1.0', lwm2mVersion: '1.2', multiple, mandatory: false,
  resources: new Map(resources.map((r) => [r.id, r])),
});
/** Device (LwM2M-TS-Core Appendix E.4), the resources the spec examples use. */
const DEVICE = objectModel(3, [
  rm(0, 'string'), rm(1, 'string'), rm(2, 'string'), rm(3, 'string'), rm(4, 'none'),
  rm(6, 'integer', true), rm(7, 'integer', true), rm(8, 'integer', true), rm(9, 'integer'), rm(10, 'integer'),
  rm(11, 'integer', true), rm(13, 'time'), rm(14, 'string'), rm(15, 'string'), rm(16, 'string'),
], false);
/** One resource of every type, single and multiple. */
const TYPES: Array<[number, ResourceType, boolean]> = [
  [0, 'string', false], [1, 'integer', false], [2, 'unsignedInteger', false], [3, 'float', false],
  [4, 'boolean', false], [5, 'opaque', false], [6, 'time', false], [7, 'objlnk', false], [8, 'corelnk', false],
  [10, 'string', true], [11, 'integer', true], [12, 'unsignedInteger', true], [13, 'float', true],
  [14, 'boolean', true], [15, 'opaque', true], [16, 'time', true], [17, 'objlnk', true],
];
const TYPED = objectModel(9000, TYPES.map(([id, t, m]) => rm(id, t, m)));
const MODELS: ModelLookup = { getObject: (id) => (id === 3 ? DEVICE : id === 9000 ? TYPED : undefined) };

// ---- helpers --------------------------------------------------------------------------------------

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const P = parsePath;

function lwm2mError(fn: () => unknown): LwM2MError {
  try {
    fn();
  } catch (e) {
    if (isLwM2MError(e)) return e;
    throw new Error(`expected an LwM2MError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected an LwM2MError, but the call returned');
}

const recs = (list: PathValue[]): Array<[string, unknown]> => list.map((r) => [r.path.toString(), r.value]);

/** Independent oracle: flattens what the `cbor` package decodes, expanding array keys into path levels. */
function flattenOracle(payload: Uint8Array): Array<[string, unknown]> {
  const root: unknown = cbor.decodeFirstSync(Buffer.from(payload), { preferMap: true, preventDuplicateKeys: true });
  const out: Array<[string, unknown]> = [];
  const walk = (v: unknown, prefix: number[]): void => {
    if (!(v instanceof Map)) {
      out.push([`/${prefix.join('/')}`, oracleValue(v)]);
      return;
    }
    for (const [k, val] of v as Map<unknown, unknown>) {
      const ids = Array.isArray(k) ? (k as number[]) : [k as number];
      walk(val, [...prefix, ...ids]);
    }
  };
  expect(root).toBeInstanceOf(Map);
  walk(root, []);
  return out.sort((a, b) => compareIds(P(a[0]).ids, P(b[0]).ids));
}

function oracleValue(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return Uint8Array.from(v);
  if (typeof v === 'bigint') return normalizeInteger(v);
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) return BigInt(v);
  return v;
}

/** Every map below the root must have ≥ 2 entries: single-child chains are merged into array keys. */
function assertCompact(payload: Uint8Array): void {
  const root: unknown = cbor.decodeFirstSync(Buffer.from(payload), { preferMap: true });
  const walk = (v: unknown, isRoot: boolean): void => {
    if (!(v instanceof Map)) return;
    if (!isRoot) expect(v.size).toBeGreaterThanOrEqual(2);
    for (const val of v.values()) walk(val, false);
  };
  walk(root, true);
}

// ---- arbitraries ----------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function valueArb(type: ResourceType): fc.Arbitrary<ResourceValue> {
  switch (type) {
    case 'string':
    case 'corelnk':
      return fc.string({ unit: 'binary', maxLength: 24 });
    case 'integer':
      return fc.oneof(fc.integer(), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(normalizeInteger));
    case 'unsignedInteger':
      return fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: UINT64_MAX }).map(normalizeInteger));
    case 'float':
      return fc.oneof(fc.double(), fc.float().map((f) => f), fc.integer({ min: -70000, max: 70000 }).map((i) => i / 4));
    case 'boolean':
      return fc.boolean();
    case 'opaque':
      return fc.uint8Array({ maxLength: 40 });
    case 'time':
      return fc.integer({ min: -1e11, max: 1e11 }).map((s) => new Date(s * 1000));
    case 'objlnk':
      return fc.record({ objectId: fc.integer({ min: 0, max: 65535 }), instanceId: fc.integer({ min: 0, max: 65535 }) });
    case 'none':
      return fc.constant('');
  }
}

const idArb = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 65535 }));

function resourceArb(rid: number, type: ResourceType, multiple: boolean, minInstances = 1): fc.Arbitrary<ResourceNode> {
  if (!multiple) return valueArb(type).map((v) => resource(rid, v));
  return fc.uniqueArray(fc.tuple(idArb, valueArb(type)), { selector: (t) => t[0], minLength: minInstances, maxLength: 4 })
    .map((entries) => multipleResource(rid, new Map(entries)));
}

const instanceArb = (iid: number): fc.Arbitrary<ObjectInstanceNode> =>
  fc.subarray(TYPES, { minLength: 1 })
    .chain((picked) => fc.tuple(...picked.map(([id, t, m]) => resourceArb(id, t, m))))
    .map((rs) => objectInstance(iid, rs));

/** A node at a random level of object 9000, with the path it is read from. */
const nodeArb: fc.Arbitrary<{ path: LwM2MPath; node: LwM2MNode }> = fc.oneof(
  fc.uniqueArray(idArb, { maxLength: 3 })
    .chain((iids) => fc.tuple(...iids.map(instanceArb)))
    .map((insts) => ({ path: P('/9000'), node: objectNode(9000, insts) })),
  idArb.chain((iid) => instanceArb(iid).map((node) => ({ path: LwM2MPath.of(9000, iid), node }))),
  fc.tuple(idArb, fc.constantFrom(...TYPES)).chain(([iid, [rid, t, m]]) =>
    resourceArb(rid, t, m, 0).map((node) => ({ path: LwM2MPath.of(9000, iid, rid), node }))),
  fc.tuple(idArb, fc.constantFrom(...TYPES.filter((t) => t[2])), idArb).chain(([iid, [rid, t], riid]) =>
    valueArb(t).map((v) => ({ path: LwM2MPath.of(9000, iid, rid, riid), node: resourceInstance(riid, v) }))),
);

/** Leaf records over Device and the typed object, unique by path. */
const recordArb: fc.Arbitrary<PathValue> = fc.oneof(
  fc.constantFrom(...[...DEVICE.resources.values()].filter((r) => r.type !== 'none')).chain((r) =>
    fc.tuple(r.multiple ? idArb : fc.constant(-1), valueArb(r.type)).map(([riid, value]) => ({
      path: riid < 0 ? LwM2MPath.of(3, 0, r.id) : LwM2MPath.of(3, 0, r.id, riid), value,
    }))),
  fc.tuple(idArb, fc.constantFrom(...TYPES)).chain(([iid, [rid, t, m]]) =>
    fc.tuple(m ? idArb : fc.constant(-1), valueArb(t)).map(([riid, value]) => ({
      path: riid < 0 ? LwM2MPath.of(9000, iid, rid) : LwM2MPath.of(9000, iid, rid, riid), value,
    }))),
);
const recordsArb = fc.uniqueArray(recordArb, { selector: (r) => r.path.toString(), maxLength: 12 })
  .map((list) => [...list].sort((a, b) => compareIds(a.path.ids, b.path.ids)));

function compareIds(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/**
 * What a value looks like after a model-less decode: object links travel as text; a whole number is a
 * CBOR integer, so -0 comes back as 0 and one beyond 2^53 as a bigint.
 */
function natural(v: ResourceValue): ResourceValue {
  if (isObjectLink(v)) return formatObjectLink(v);
  if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 64) && v < 2 ** 64) return Number.isSafeInteger(v) ? v + 0 : BigInt(v);
  return v;
}

// ---- the Device /3/0 instance used by the spec examples -----------------------------------------


/*
 * Read /3/0 of the Device object of the spec examples (the values of LwM2M-TS-Core's Device example).
 * These bytes are CONSTRUCTED by hand from the §7.4.7 rules (absolute paths, request path as array key,
 * one map level per path level below it, tag 1 for Time), not copied from the specification; the test
 * below cross-checks them with the independent `cbor` package.
 */
const DEVICE_CBOR = hex(`
  a1                                   # map(1)
    82 03 00                           #   [3, 0]
    ad                                 #   map(13)
      00 74 4f70656e204d6f62696c6520416c6c69616e6365      # 0: "Open Mobile Alliance"
      01 76 4c69676874776569676874204d324d20436c69656e74   # 1: "Lightweight M2M Client"
      02 69 333435303030313233                            # 2: "345000123"
      03 63 312e30                                        # 3: "1.0"
      06 a2 00 01 01 05                                   # 6: {0: 1, 1: 5}
      07 a2 00 19 0ed8 01 19 1388                         # 7: {0: 3800, 1: 5000}
      08 a2 00 18 7d 01 19 0384                           # 8: {0: 125, 1: 900}
      09 18 64                                            # 9: 100
      0a 0f                                               # 10: 15
      82 0b 00 00                                         # [11, 0]: 0  (single instance: merged key)
      0d c1 1a 5182428f                                   # 13: 1(1367491215)
      0e 66 2b30323a3030                                  # 14: "+02:00"
      10 61 55                                            # 16: "U"
`.replace(/#[^\n]*/g, ''));

// ---- tests ----------------------------------------------------------------------------------------

describe('LwM2M CBOR: spec-rule examples', () => {
  const ctx = { path: P('/3/0'), models: MODELS };

  it('encodes the Device instance as constructed from §7.4.7', () => {
    expect(toHex(codec.encode(DEVICE_INSTANCE, ctx))).toBe(toHex(DEVICE_CBOR));
  });

  it('the constructed bytes mean what we say (checked with the `cbor` package)', () => {
    const decoded: unknown = cbor.decodeFirstSync(Buffer.from(DEVICE_CBOR), { preferMap: true });
    const inner = new Map<unknown, unknown>([
      [0, 'Open Mobile Alliance'], [1, 'Lightweight M2M Client'], [2, '345000123'], [3, '1.0'],
      [6, new Map([[0, 1], [1, 5]])], [7, new Map([[0, 3800], [1, 5000]])], [8, new Map([[0, 125], [1, 900]])],
      [9, 100], [10, 15], [[11, 0], 0], [13, new Date(1367491215000)], [14, '+02:00'], [16, 'U'],
    ]);
    expect(decoded).toEqual(new Map([[[3, 0], inner]]));
  });

  it('decodes it back to the same node', () => {
    expect(codec.decode(DEVICE_CBOR, ctx)).toEqual(DEVICE_INSTANCE);
  });

  it('every level uses absolute paths from the object id', () => {
    const models = MODELS;
    // single resource: {[3, 0, 0]: "Open Mobile Alliance"}
    expect(toHex(codec.encode(resource(0, 'OMA'), { path: P('/3/0/0'), models }))).toBe('a1830300006' + '34f4d41');
    // multiple resource: {[3, 0, 6]: {0: 1, 1: 5}}
    expect(toHex(codec.encode(multipleResource(6, [1, 5]), { path: P('/3/0/6'), models }))).toBe('a1830300' + '06a200010105');
    // resource instance: {[3, 0, 6, 1]: 5}
    expect(toHex(codec.encode(resourceInstance(1, 5), { path: P('/3/0/6/1'), models }))).toBe('a18403000601' + '05');
    // object with one instance: the chain /3/0 merges: {[3, 0]: {9: 100, 10: 15}}
    const obj = objectNode(3, [objectInstance(0, [resource(9, 100), resource(10, 15)])]);
    expect(toHex(codec.encode(obj, { path: P('/3'), models }))).toBe('a1820300a2091864' + '0a0f');
    // object with two instances: {3: {0: {9: 1, 10: 2}, [1, 9]: 3}}
    const obj2 = objectNode(3, [objectInstance(0, [resource(9, 1), resource(10, 2)]), objectInstance(1, [resource(9, 3)])]);
    expect(toHex(codec.encode(obj2, { path: P('/3'), models }))).toBe('a103a200a20901' + '0a02' + '820109' + '03');
    expect(codec.decode(codec.encode(obj2, { path: P('/3'), models }), { path: P('/3'), models })).toEqual(obj2);
  });

  it('an empty instance or object is an empty root map', () => {
    expect(toHex(codec.encode(objectInstance(0, []), { path: P('/3/0') }))).toBe('a0');
    expect(codec.decode(hex('a0'), { path: P('/3/0') })).toEqual(objectInstance(0, []));
    expect(codec.decode(hex('bfff'), { path: P('/3') })).toEqual(objectNode(3, []));
    // an empty multiple resource needs the model to be recognised as one
    expect(codec.decode(hex('a0'), { path: P('/3/0/6'), models: MODELS })).toEqual(multipleResource(6, []));
  });
});

/*
 * Interop vectors from AVSystem Anjay's unit tests (tests/core/io/lwm2m_cbor_in.c and lwm2m_cbor_out.c,
 * AVSystem/Anjay on GitHub): real bytes another implementation reads or writes. Anjay writes
 * indefinite-length maps; we write definite ones, which for these cases are exactly Anjay's decoder inputs.
 */
describe('LwM2M CBOR: Anjay interop vectors', () => {
  const inst = P('/13/26');
  const decode = (h: string, path: string): Array<[string, unknown]> => recs(codec.decodeRecords(hex(h), { basePath: P(path) }));

  it.each([
    ['single_resource {[13, 26, 1]: 42}', 'a1830d181a01182a'],
    ['indefinite {_ [_ 13, 26, 1]: 42}', 'bf9f0d181a01ff182aff'],
    ['nested {13: {26: {1: 42}}}', 'a10da1181aa101182a'],
    ['nested arrays {[13]: {[26]: {[1]: 42}}}', 'a1810da181181aa18101182a'],
    ['all indefinite {_ [_ 13]: {_ [_ 26]: {_ [_ 1]: 42}}}', 'bf9f0dffbf9f181affbf9f01ff182affffff'],
  ])('reads %s', (_name, h) => {
    expect(decode(h, '/13/26/1')).toEqual([['/13/26/1', 42]]);
    expect(codec.decode(hex(h), { path: P('/13/26/1') })).toEqual(resource(1, 42));
  });

  it.each([
    ['{[13, 26]: {1: 42, 2: 21}}', 'a1820d181aa201182a0215'],
    ['{[13, 26, 1]: 42, [13, 26, 2]: 21}', 'a2830d181a01182a830d181a0215'],
    ['{[13, 26]: {1: 42}, [13, 26, 2]: 21}', 'a2820d181aa101182a830d181a0215'],
    ['{[13, 26, 1]: 42, [13, 26]: {[2]: 21}}', 'a2830d181a01182a820d181aa181021' + '5'],
  ])('reads the mixed forms %s', (_name, h) => {
    expect(codec.decode(hex(h), { path: inst })).toEqual(objectInstance(26, [resource(1, 42), resource(2, 21)]));
  });

  it('reads byte strings, definite and indefinite, and text', () => {
    const bytes = '00112233445566778899aabbccddeeff';
    expect(decode(`a1830d181a0150${bytes}`, '/13/26/1')).toEqual([['/13/26/1', hex(bytes)]]);
    expect(decode(`a1830d181a015f48${bytes.slice(0, 16)}48${bytes.slice(16)}ff`, '/13/26/1')).toEqual([['/13/26/1', hex(bytes)]]);
    expect(decode('a1820d181aa2015f480011223344556677488899aabbccddeeffff0207', '/13/26'))
      .toEqual([['/13/26/1', hex(bytes)], ['/13/26/2', 7]]);
    expect(decode(`a1830d181a0170${Buffer.from('c--cossiezepsulo').toString('hex')}`, '/13/26/1')).toEqual([['/13/26/1', 'c--cossiezepsulo']]);
  });

  it('writes what Anjay writes, in definite form', () => {
    // lwm2m_cbor_out.c single_resource: {[13, 26, 1]: 42}
    expect(toHex(codec.encode(resource(1, 42), { path: P('/13/26/1') }))).toBe('a1830d181a01182a');
    // two_resources: {[13, 26]: {1: 42, 2: 21}}
    expect(toHex(codec.encode(objectInstance(26, [resource(1, 42), resource(2, 21)]), { path: inst }))).toBe('a1820d181aa201182a0215');
    // resource_instances_nested_maps: {[13, 26]: {1: 42, 3: {21: 69.68, 37: false}}}
    const node = objectInstance(26, [resource(1, 42), multipleResource(3, new Map<number, ResourceValue>([[21, 69.68], [37, false]]))]);
    expect(toHex(codec.encode(node, { path: inst }))).toBe('a1820d181aa201182a03a215fb40516b851eb851ec1825f4');
  });

  it('reads what Anjay writes (indefinite maps), root composite included', () => {
    // two_objects_one_instance_two_resources: {13: {26: {1: 42, 2: 21}}, 14: {27: {1: 43, 2: 22}}}
    const anjay = 'bf0dbf181abf01182a0215ffff0ebf181bbf01182b0216ffffff';
    const expected = [['/13/26/1', 42], ['/13/26/2', 21], ['/14/27/1', 43], ['/14/27/2', 22]] as Array<[string, unknown]>;
    expect(recs(codec.decodeRecords(hex(anjay)))).toEqual(expected);
    // ours is the compact form of the same records: {[13, 26]: {1: 42, 2: 21}, [14, 27]: {1: 43, 2: 22}}
    const ours = codec.encodeRecords(codec.decodeRecords(hex(anjay)));
    expect(toHex(ours)).toBe('a2820d181aa201182a0215820e181ba201182b0216');
    expect(recs(codec.decodeRecords(ours))).toEqual(expected);
  });
});

describe('LwM2M CBOR: values', () => {
  const one = (value: ResourceValue, type?: ResourceType): string => {
    const models: ModelLookup | undefined = type === undefined ? undefined
      : { getObject: () => objectModel(9, [rm(0, type)]) };
    return toHex(codec.encode(resource(0, value), { path: P('/9/0/0'), models })).slice('a183090000'.length);
  };

  it('integers use the shortest head; 64-bit values keep full precision', () => {
    expect([one(0), one(23), one(24), one(255), one(256), one(65536), one(-1), one(-25)])
      .toEqual(['00', '17', '1818', '18ff', '190100', '1a00010000', '20', '3818']);
    expect(one(2 ** 32)).toBe('1b0000000100000000');
    expect(one(UINT64_MAX, 'unsignedInteger')).toBe('1bffffffffffffffff');
    expect(one(INT64_MIN, 'integer')).toBe('3b7fffffffffffffff');
    expect(one(-(2n ** 64n))).toBe('3bffffffffffffffff');
    for (const v of [UINT64_MAX, INT64_MIN, -(2n ** 64n), 2n ** 53n, -(2n ** 53n), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      const payload = codec.encodeRecords([{ path: P('/9/0/0'), value: v }]);
      expect(codec.decodeRecords(payload)[0]?.value).toEqual(normalizeInteger(v));
    }
  });

  it('floats use the shortest exact IEEE 754 width (RFC 8949 §4.2.2)', () => {
    expect(one(1.5)).toBe('f93e00');
    expect(one(5, 'float')).toBe('f94500');
    expect(one(65504, 'float')).toBe('f97bff');
    expect(one(2 ** -24, 'float')).toBe('f90001'); // smallest binary16 subnormal
    expect(one(2 ** -14 * 0.5, 'float')).toBe('f90200');
    expect(one(65520, 'float')).toBe('fa477ff000'); // rounds to Infinity in binary16, so binary32
    expect(one(100000.5)).toBe('fa47c35040');
    expect(one(0.1)).toBe('fb3fb999999999999a');
    expect(one(NaN)).toBe('f97e00');
    expect(one(Infinity)).toBe('f97c00');
    expect(one(-Infinity)).toBe('f9fc00');
    expect(one(-0, 'float')).toBe('f98000');
  });

  it('other types', () => {
    expect(one(true)).toBe('f5');
    expect(one(false, 'boolean')).toBe('f4');
    expect(one('é')).toBe('62c3a9');
    expect(one('𝄞')).toBe('64f09d849e');
    expect(one(new Uint8Array([1, 2]), 'opaque')).toBe('420102');
    expect(one(new Date(1367491215000), 'time')).toBe('c11a5182428f');
    expect(one(new Date(-5000))).toBe('c124');
    expect(one(1367491215, 'time')).toBe('c11a5182428f'); // a number for a Time resource is seconds
    expect(one({ objectId: 3, instanceId: 0 }, 'objlnk')).toBe('63333a30');
    expect(one('3:0', 'objlnk')).toBe('63333a30');
    expect(one('</1/0>', 'corelnk')).toBe('663c2f312f303e');
  });

  it('decodes every CBOR value form a peer may use', () => {
    const dec = (h: string, type?: ResourceType): unknown => {
      const models: ModelLookup | undefined = type === undefined ? undefined
        : { getObject: () => objectModel(9, [rm(0, type)]) };
      return codec.decodeRecords(hex(`a183090000${h}`), { models })[0]?.value;
    };
    expect(dec('f93c00')).toBe(1);
    expect(dec('f90001')).toBe(2 ** -24);
    expect(dec('f97c00')).toBe(Infinity);
    expect(dec('f97e00')).toBeNaN();
    expect(dec('fa3fc00000')).toBe(1.5);
    expect(dec('1b0020000000000000')).toBe(2n ** 53n);
    expect(dec('3b001ffffffffffffe')).toBe(-Number.MAX_SAFE_INTEGER);
    expect(dec('3b001fffffffffffff')).toBe(-(2n ** 53n));
    expect(dec('c1fb41d46090a3c00000')).toEqual(new Date(1367491215000)); // tag 1 over a float
    expect(dec('1a5182428f', 'time')).toEqual(new Date(1367491215000)); // bare integer Time
    expect(dec('63333a30', 'objlnk')).toEqual({ objectId: 3, instanceId: 0 });
    expect(dec('63333a30')).toBe('3:0'); // without a model an objlnk is just text
    expect(dec('7f6161626262ff')).toBe('abb'); // indefinite text
    expect(dec('1801', 'float')).toBe(1); // an integer for a Float resource
  });
});

describe('LwM2M CBOR: composite records and path lists', () => {
  it('encodes a composite at root level, decodes it back', () => {
    const list: PathValue[] = [
      { path: P('/3/0/0'), value: 'OMA' }, { path: P('/3/0/9'), value: 87 },
      { path: P('/5/0/3'), value: 1 }, { path: P('/9000/1/11/7'), value: 2 },
    ];
    const payload = codec.encodeRecords(list, { models: MODELS });
    // {[3, 0]: {0: "OMA", 9: 87}, [5, 0, 3]: 1, [9000, 1, 11, 7]: 2}
    expect(toHex(payload)).toBe('a3820300a200634f4d41091857830500030184192328010b0702');
    expect(recs(codec.decodeRecords(payload, { models: MODELS }))).toEqual(recs(list));
  });

  it('sorts records and rejects unusable ones', () => {
    const list: PathValue[] = [{ path: P('/3/0/9'), value: 1 }, { path: P('/3/0/0'), value: 'a' }];
    expect(recs(codec.decodeRecords(codec.encodeRecords(list)))).toEqual([['/3/0/0', 'a'], ['/3/0/9', 1]]);
    const bad = (r: PathValue[]): LwM2MError => lwm2mError(() => codec.encodeRecords(r));
    expect(bad([{ path: P('/3/0'), value: 1 }]).code).toBe('LWM2M_BAD_VALUE');
    expect(bad([{ path: P('/3/0/1'), value: 1, time: 5 }]).code).toBe('LWM2M_BAD_VALUE');
    expect(bad([{ path: P('/3/0/1'), value: 1 }, { path: P('/3/0/1'), value: 2 }]).code).toBe('LWM2M_BAD_VALUE');
    expect(bad([{ path: P('/3/0/6'), value: 1 }, { path: P('/3/0/6/0'), value: 2 }]).code).toBe('LWM2M_BAD_VALUE');
  });

  it('path lists: null leaves, at any depth, overlaps allowed', () => {
    const paths = ['/3/0/1', '/3/0/2', '/5', '/3/0/6/1', '/1/0'].map(P);
    const payload = codec.encodePaths(paths);
    // {[1, 0]: null, [3, 0]: {1: null, 2: null, [6, 1]: null}, 5: null}
    expect(toHex(payload)).toBe('a3820100f6820300a301f602f6820601f605f6');
    expect(codec.decodePaths(payload).map(String)).toEqual(['/1/0', '/3/0/1', '/3/0/2', '/3/0/6/1', '/5']);

    const overlapping = ['/3', '/3/0/1', '/3/0/2', '/3/1', '/4/0', '/4/0/1'].map(P);
    const p2 = codec.encodePaths(overlapping);
    expect(codec.decodePaths(p2).map(String)).toEqual(overlapping.map(String));
    // the oracle sees the same paths (array keys distinguish /3 from the paths below it)
    expect(flattenOracle(p2).map((e) => e[0])).toEqual(overlapping.map(String));
    expect(flattenOracle(p2).every((e) => e[1] === null)).toBe(true);

    expect(lwm2mError(() => codec.encodePaths([LwM2MPath.ROOT])).code).toBe('LWM2M_BAD_PATH');
    expect(lwm2mError(() => codec.encodePaths([P('/3'), P('/3')])).code).toBe('LWM2M_BAD_VALUE');
    expect(codec.decodePaths(codec.encodePaths([]))).toEqual([]);
  });

  it('path lists round-trip (property)', () => {
    const pathArb = fc.array(idArb, { minLength: 1, maxLength: 4 }).map((ids) => LwM2MPath.of(...ids));
    fc.assert(fc.property(fc.uniqueArray(pathArb, { selector: String, maxLength: 10 }), (paths) => {
      const sorted = [...paths].sort((a, b) => compareIds(a.ids, b.ids)).map(String);
      const payload = codec.encodePaths(paths);
      expect(codec.decodePaths(payload).map(String)).toEqual(sorted);
      expect(flattenOracle(payload).map((e) => e[0])).toEqual(sorted);
    }), { numRuns: 500, seed: 11 });
  });
});

describe('LwM2M CBOR: round trips (fast-check)', () => {
  it('every level, every type, with models', () => {
    fc.assert(fc.property(nodeArb, ({ path, node }) => {
      const ctx = { path, models: MODELS };
      const decoded = codec.decode(codec.encode(node, ctx), ctx);
      expect(decoded.kind).toBe(node.kind);
      expect(recs(nodeToRecords(path, decoded))).toEqual(recs(nodeToRecords(path, node)));
    }), { numRuns: 1500, seed: 1 });
  });

  it('every level without models: values keep their natural CBOR type', () => {
    const nonEmpty = nodeArb.filter(({ node }) => !(node.kind === 'multipleResource' && node.instances.size === 0));
    fc.assert(fc.property(nonEmpty, ({ path, node }) => {
      const payload = codec.encode(node, { path });
      const decoded = codec.decode(payload, { path });
      expect(recs(nodeToRecords(path, decoded))).toEqual(nodeToRecords(path, node).map((r) => [r.path.toString(), natural(r.value)]));
    }), { numRuns: 1000, seed: 2 });
  });

  it('multi-path records, with and without models', () => {
    fc.assert(fc.property(recordsArb, (list) => {
      const withModels = codec.encodeRecords(list, { models: MODELS });
      expect(recs(codec.decodeRecords(withModels, { models: MODELS }))).toEqual(recs(list));
      const without = codec.encodeRecords(list);
      expect(recs(codec.decodeRecords(without))).toEqual(list.map((r) => [r.path.toString(), natural(r.value)]));
    }), { numRuns: 1000, seed: 3 });
  });

  it('decode builds the same node, or fails the same way, as the shared recordsToNode', () => {
    const outcome = (f: () => LwM2MNode): unknown => {
      try {
        return f();
      } catch (e) {
        return isLwM2MError(e) ? [e.code, e.coapCode] : e;
      }
    };
    const targetArb = fc.tuple(recordsArb, fc.nat(), fc.integer({ min: 1, max: 4 }), fc.boolean());
    fc.assert(fc.property(targetArb, ([list, pick, depth, useModels]) => {
      if (list.length === 0) return;
      const ids = (list[pick % list.length] as PathValue).path.ids;
      const target = LwM2MPath.of(...ids.slice(0, Math.min(depth, ids.length)));
      const models = useModels ? MODELS : undefined;
      const payload = codec.encodeRecords(list.filter((r) => target.contains(r.path)), { models });
      const direct = outcome(() => codec.decode(payload, { path: target, models }));
      const viaRecords = outcome(() => recordsToNode(target, codec.decodeRecords(payload, { models, basePath: target }), models));
      expect(direct).toEqual(viaRecords);
    }), { numRuns: 1000, seed: 6 });
    // the error paths, explicitly
    const single = codec.encodeRecords([{ path: P('/3/0/6'), value: 1 }]);
    expect(outcome(() => codec.decode(single, { path: P('/3/0/6'), models: MODELS }))).toEqual(['LWM2M_BAD_VALUE', '4.00']);
    expect(outcome(() => codec.decode(hex('a0'), { path: P('/3/0/9'), models: MODELS }))).toEqual(['LWM2M_BAD_VALUE', '4.00']);
    expect(outcome(() => codec.decode(hex('a0'), { path: P('/3/0/6/1'), models: MODELS }))).toEqual(['LWM2M_BAD_VALUE', '4.00']);
  });

  it('multiple resource with a single instance keeps its kind through the model', () => {
    const node = multipleResource(6, [1]);
    const ctx = { path: P('/3/0/6'), models: MODELS };
    const payload = codec.encode(node, ctx);
    expect(toHex(payload)).toBe('a18403000600' + '01'); // {[3, 0, 6, 0]: 1}
    expect(codec.decode(payload, ctx)).toEqual(node);
  });
});

describe('LwM2M CBOR: the `cbor` package as independent oracle', () => {
  it('decodes our output to the same nested structure, in compact form', () => {
    fc.assert(fc.property(recordsArb, (list) => {
      const payload = codec.encodeRecords(list, { models: MODELS });
      assertCompact(payload);
      const expected = list.map((r) => {
        const v = r.value;
        return [r.path.toString(), isObjectLink(v) ? formatObjectLink(v) : oracleValue(v)];
      });
      expect(flattenOracle(payload)).toEqual(expected);
    }), { numRuns: 1000, seed: 4 });
  });

  /** Builds a random mix of nested keys, array keys and split groups for `cbor` to encode. */
  function randomForm(list: PathValue[], rnd: () => number): Map<unknown, unknown> {
    const build = (items: Array<{ ids: number[]; value: unknown }>, d: number): Map<unknown, unknown> => {
      const m = new Map<unknown, unknown>();
      let a = 0;
      while (a < items.length) {
        let b = a + 1;
        while (b < items.length && items[b]?.ids[d] === items[a]?.ids[d]) b++;
        let group = items.slice(a, b);
        // sometimes split off the first leaf under its full remaining path (Anjay's two_resources_3/4)
        if (group.length > 1 && rnd() < 0.3) {
          const first = group[0] as { ids: number[]; value: unknown };
          m.set(first.ids.slice(d), first.value);
          group = group.slice(1);
        }
        const first = group[0] as { ids: number[]; value: unknown };
        const last = group[group.length - 1] as { ids: number[]; value: unknown };
        let common = 0;
        while (d + common < Math.min(first.ids.length, last.ids.length) && first.ids[d + common] === last.ids[d + common]) common++;
        if (group.length === 1) {
          const n = 1 + Math.floor(rnd() * (first.ids.length - d));
          const key = first.ids.slice(d, d + n);
          const k = key.length === 1 && rnd() < 0.5 ? key[0] : key;
          m.set(k, n === first.ids.length - d ? first.value : build(group, d + n));
        } else {
          const n = 1 + Math.floor(rnd() * common);
          const key = first.ids.slice(d, d + n);
          const forced = group.length !== b - a; // a split group needs an array key to stay distinct
          m.set(key.length === 1 && !forced && rnd() < 0.5 ? key[0] : key, build(group, d + n));
        }
        a = b;
      }
      return m;
    };
    return build(list.map((r) => ({ ids: r.path.ids, value: toCborValue(r.value) })), 0);
  }

  function toCborValue(v: ResourceValue): unknown {
    if (v instanceof Uint8Array) return Buffer.from(v);
    if (isObjectLink(v)) return formatObjectLink(v);
    return v;
  }

  it('our decoder reads what `cbor` encodes: random mixes of nested and array keys', () => {
    fc.assert(fc.property(recordsArb, fc.integer(), (list, seed) => {
      let s = seed >>> 0;
      const rnd = (): number => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return s / 2 ** 32;
      };
      const payload = cbor.Encoder.encodeOne(randomForm(list, rnd), { collapseBigIntegers: true, dateType: 'int' });
      expect(recs(codec.decodeRecords(Uint8Array.from(payload), { models: MODELS }))).toEqual(recs(list));
    }), { numRuns: 1000, seed: 5 });
  });
});

describe('LwM2M CBOR: malformed input is rejected with 4.00', () => {
  const cases: Array<[string, string, string?]> = [
    ['empty payload', ''],
    ['root is an array', '80'],
    ['root is an integer', '01'],
    ['trailing bytes', 'a000'],
    ['trailing bytes after a full map', 'a1830300010100'],
    ['path deeper than 4 levels (array key)', 'a1850102030405' + '01'],
    ['path deeper than 4 levels (nested maps)', 'a101a102a103a104a10501'],
    ['text key (gateway prefixes are not supported)', 'a1616101'],
    ['negative integer key', 'a12001'],
    ['float key', 'a1f93c0001'],
    ['boolean key', 'a1f501'],
    ['text id inside an array key', 'a18203616101'],
    ['id above 65535', 'a18303001a0001000001'],
    ['64-bit id', 'a18303001bffffffffffffffff01'],
    ['the same key twice', 'a2830300010183030001' + '02'],
    ['the same integer key twice', 'a1820300a201010102'],
    ['the same path as int key and as [int] key', 'a203a100a1010181' + '03a100a10102'],
    ['the same path through different keys', 'a203a100a1010183030001' + '02'],
    ['a resource and its instance both valued', 'a28303000601840300060002'],
    ['value at object level', 'a10301'],
    ['value at instance level', 'a182030001'],
    ['null in a value payload', 'a183030001f6'],
    ['unknown tag 0', 'a183030001c06161'],
    ['bignum tag 2', 'a183030001c24101'],
    ['tag 1 over text', 'a183030001c16161'],
    ['tag 1 out of Date range', 'a183030001c11b7fffffffffffffff'],
    ['tag 1 over a huge float', 'a183030001c1fb7fefffffffffffff'],
    ['undefined', 'a183030001f7'],
    ['simple value 16', 'a183030001f0'],
    ['one-byte simple value', 'a183030001f820'],
    ['array as a value', 'a18303000180'],
    ['empty map below the root', 'a103a0'],
    ['empty indefinite map below the root', 'a103bfff'],
    ['empty array key', 'a18001'],
    ['empty indefinite array key', 'a19fff01'],
    ['invalid UTF-8', 'a18303000162c328'],
    ['truncated: missing value', 'a183030001'],
    ['truncated: short uint16', 'a183030001190' + '1'],
    ['truncated: short text', 'a1830300016541' + '42'],
    ['byte string longer than the payload', 'a1830300015affffffff'],
    ['map count larger than the payload', 'bbffffffffffffffff'],
    ['array key count larger than the payload', 'a19bffffffffffffffff'],
    ['indefinite text with a byte-string chunk', 'a1830300017f4161ff'],
    ['nested indefinite string chunk', 'a1830300015f5fffff'],
    ['reserved additional information 28', 'a1830300011c'],
    ['break instead of a value', 'a183030001ff'],
    ['break outside an indefinite item', 'a0ff'],
    ['unterminated indefinite map', 'bf830300010' + '1'],
    ['indefinite integer', 'a1830300011f'],
  ];

  it.each(cases)('%s', (_name, h) => {
    const e = lwm2mError(() => codec.decodeRecords(hex(h)));
    expect(e.code).toBe('LWM2M_BAD_CBOR');
    expect(e.coapCode).toBe('4.00');
  });

  it('errors say where', () => {
    const e = lwm2mError(() => codec.decodeRecords(hex('a18303001a0001000001')));
    expect(e.location).toBe('byte 4');
    expect(e.message).toMatch(/65536/);
  });

  it('id 65535 is the largest allowed', () => {
    expect(recs(codec.decodeRecords(hex('a183030019ffff01')))).toEqual([['/3/0/65535', 1]]);
  });

  it('paths outside the request path, values of the wrong type', () => {
    const e = lwm2mError(() => codec.decode(hex('a183040001' + '01'), { path: P('/3/0') }));
    expect([e.code, e.coapCode]).toEqual(['LWM2M_BAD_CBOR', '4.00']);
    const e2 = lwm2mError(() => codec.decode(hex('a18303000005'), { path: P('/3/0/0'), models: MODELS }));
    expect([e2.code, e2.coapCode]).toEqual(['LWM2M_BAD_VALUE', '4.00']);
    const e3 = lwm2mError(() => codec.decodeRecords(hex('a18403000000f5'), { basePath: P('/3/0/0/1') }));
    expect(e3.coapCode).toBe('4.00');
    const e4 = lwm2mError(() => codec.decode(hex('a0'), { path: LwM2MPath.ROOT }));
    expect(e4.coapCode).toBe('4.00');
  });

  it('path lists hold nulls only; value payloads none', () => {
    expect(lwm2mError(() => codec.decodePaths(hex('a1830300010' + '1'))).code).toBe('LWM2M_BAD_CBOR');
    expect(lwm2mError(() => codec.decodePaths(hex('a2830300' + '01f6830300' + '01f6'))).code).toBe('LWM2M_BAD_CBOR');
    expect(lwm2mError(() => codec.decodeRecords(hex('a103f6'))).code).toBe('LWM2M_BAD_CBOR');
  });

  it('encode errors are 4.00 BAD_VALUE', () => {
    const ctx = { path: P('/3/0'), models: MODELS };
    const codes = [
      () => codec.encode(resource(1, 'x'), ctx), // node does not fit the path
      () => codec.encode(objectInstance(0, [resource(9, 'abc')]), ctx), // integer resource
      () => codec.encode(objectInstance(0, [resource(13, new Date(NaN))]), ctx),
      () => codec.encode(objectInstance(0, [resource(0, 'a\ud800b')]), ctx), // lone surrogate
      () => codec.encodeRecords([{ path: P('/9/0/0'), value: 2n ** 64n }]),
      () => codec.encodeRecords([{ path: P('/9000/0/7'), value: { objectId: 70000, instanceId: 0 } }], { models: MODELS }),
      () => codec.encodeRecords([{ path: P('/9000/0/2'), value: -1 }], { models: MODELS }),
      () => codec.encode(objectInstance(0, [resource(70000, 1)]), ctx),
    ].map((f) => lwm2mError(f)).map((e) => [e.code, e.coapCode]);
    for (const c of codes) expect(c).toEqual(['LWM2M_BAD_VALUE', '4.00']);
  });
});

describe('LwM2M CBOR: fuzzing (every input returns or throws a 4.00 LwM2MError)', () => {
  const seeds = [
    DEVICE_CBOR,
    codec.encodeRecords([{ path: P('/9000/1/5'), value: new Uint8Array([1, 2, 3]) }, { path: P('/9000/1/16/2'), value: new Date(0) },
      { path: P('/9000/2/3'), value: 1.5 }, { path: P('/9000/2/7'), value: { objectId: 1, instanceId: 2 } }], { models: MODELS }),
    hex('bf9f0dffbf9f181affbf9f01ff182affffff'),
    hex('a1820d181aa2015f480011223344556677488899aabbccddeeffff0207'),
    hex('a2830d181a01182a820d181aa18102' + '15'),
    codec.encodePaths(['/3', '/3/0/1', '/5/0', '/9000/1/11/7'].map(P)),
  ];

  it('decode (node at /3/0, with models)', () => {
    const r = fuzzDecoder((input) => codec.decode(input, { path: P('/3/0'), models: MODELS }), seeds);
    expect(r.ok).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  });

  it('decodeRecords (no models)', () => {
    const r = fuzzDecoder((input) => codec.decodeRecords(input), seeds, { seed: 0x5eed });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  });

  it('decodeRecords (models) and decodePaths', () => {
    fuzzDecoder((input) => codec.decodeRecords(input, { models: MODELS }), seeds, { seed: 77 });
    const r = fuzzDecoder((input) => codec.decodePaths(input), seeds, { seed: 78 });
    expect(r.ok).toBeGreaterThan(0);
  });
});
