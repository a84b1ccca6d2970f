import cbor from 'cbor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborCodec, cborItemToValue, decodeCborItem, decodeCborValue, encodeCborValue } from '../../../src/codec/cbor.js';
import type { CodecContext } from '../../../src/codec/types.js';
import { normalizeInteger } from '../../../src/codec/values.js';
import { LwM2MError, type ErrorKind } from '../../../src/core/errors.js';
import { parsePath } from '../../../src/core/path.js';
import {
  isObjectLink, multipleResource, objectInstance, objectNode, resource, resourceInstance,
  type LwM2MNode, type ResourceValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

const rm = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});
const TYPES = ['string', 'integer', 'unsignedInteger', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'] as const;
type ValueType = (typeof TYPES)[number];
const MULTI_BASE = 300;
const TEST_OBJECT: ObjectModel = {
  id: 9000, name: 'all types', version: '1.0', lwm2mVersion: '1.1', multiple: true, mandatory: false,
  resources: new Map(TYPES.flatMap((t, i) => [[i, rm(i, t)], [MULTI_BASE + i, rm(MULTI_BASE + i, t, true)]] as [number, ResourceModel][])),
};
const DEVICE: ObjectModel = {
  id: 3, name: 'Device', version: '1.0', lwm2mVersion: '1.0', multiple: false, mandatory: true,
  resources: new Map([[0, rm(0, 'string')], [6, rm(6, 'integer', true)], [9, rm(9, 'integer')], [13, rm(13, 'time')]]),
};
const models: ModelLookup = { getObject: (id) => (id === 9000 ? TEST_OBJECT : id === 3 ? DEVICE : undefined) };
const ctx = (path: string, withModels = true): CodecContext => (withModels ? { path: parsePath(path), models } : { path: parsePath(path) });
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const ridOf = (type: ValueType): number => TYPES.indexOf(type);
const pathOf = (type: ValueType): string => `/9000/0/${ridOf(type)}`;

function expectError(fn: () => unknown, kind: ErrorKind): LwM2MError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LwM2MError);
    expect((e as LwM2MError).kind).toBe(kind);
    return e as LwM2MError;
  }
  throw new Error(`expected an LwM2MError ${kind}`);
}

// RFC 8949 Appendix A examples (the ones that are single primitive items).
describe('CBOR vectors (RFC 8949 Appendix A)', () => {
  it.each<[ResourceValue, ValueType, string]>([
    [0, 'integer', '00'], [1, 'integer', '01'], [10, 'integer', '0a'], [23, 'integer', '17'], [24, 'integer', '1818'],
    [25, 'integer', '1819'], [100, 'integer', '1864'], [1000, 'integer', '1903e8'], [1000000, 'integer', '1a000f4240'],
    [1000000000000, 'integer', '1b000000e8d4a51000'], [2n ** 64n - 1n, 'unsignedInteger', '1bffffffffffffffff'],
    [-1, 'integer', '20'], [-10, 'integer', '29'], [-100, 'integer', '3863'], [-1000, 'integer', '3903e7'],
    [0.0, 'float', 'f90000'], [-0.0, 'float', 'f98000'], [1.0, 'float', 'f93c00'], [1.1, 'float', 'fb3ff199999999999a'],
    [1.5, 'float', 'f93e00'], [65504.0, 'float', 'f97bff'], [100000.0, 'float', 'fa47c35000'],
    [3.4028234663852886e+38, 'float', 'fa7f7fffff'], [1.0e+300, 'float', 'fb7e37e43c8800759c'],
    [5.960464477539063e-8, 'float', 'f90001'], [0.00006103515625, 'float', 'f90400'], [-4.0, 'float', 'f9c400'],
    [-4.1, 'float', 'fbc010666666666666'], [Infinity, 'float', 'f97c00'], [NaN, 'float', 'f97e00'],
    [-Infinity, 'float', 'f9fc00'], [false, 'boolean', 'f4'], [true, 'boolean', 'f5'],
    [new Date(1363896240000), 'time', 'c11a514b67b0'],
    [new Uint8Array(), 'opaque', '40'], [Uint8Array.of(1, 2, 3, 4), 'opaque', '4401020304'],
    ['', 'string', '60'], ['a', 'string', '6161'], ['IETF', 'string', '6449455446'], ['"\\', 'string', '62225c'],
    ['\u00fc', 'string', '62c3bc'], ['\u6c34', 'string', '63e6b0b4'], ['\u{10151}', 'string', '64f0908591'],
  ])('%s as %s ↔ %s', (value, type, bytes) => {
    expect(toHex(encodeCborValue(value, type))).toBe(bytes);
    expect(decodeCborValue(hex(bytes), type)).toEqual(normalize(value));
  });

  it('decodes the non-preferred and chunked forms of Appendix A', () => {
    expect(decodeCborValue(hex('3bffffffffffffffff'))).toBe(-(2n ** 64n));
    // Tag 2 bignum 18446744073709551616 is well-formed but beyond any LwM2M integer; smaller bignums are fine.
    expectError(() => decodeCborValue(hex('c249010000000000000000')), 'BAD_CBOR');
    expect(decodeCborValue(hex('c248ffffffffffffffff'), 'unsignedInteger')).toBe(2n ** 64n - 1n);
    expect(decodeCborValue(hex('c3487fffffffffffffff'), 'integer')).toBe(-(2n ** 63n));
    expect(decodeCborValue(hex('c2420100'), 'integer')).toBe(256);
    expect(decodeCborValue(hex('5f42010243030405ff'), 'opaque')).toEqual(Uint8Array.of(1, 2, 3, 4, 5));
    expect(decodeCborValue(hex('7f657374726561646d696e67ff'), 'string')).toBe('streaming');
    expect(decodeCborValue(hex('5fff'), 'opaque')).toEqual(new Uint8Array());
    expect(decodeCborValue(hex('fa47c35000'), 'float')).toBe(100000);
    expect(decodeCborValue(hex('fb3ff8000000000000'), 'float')).toBe(1.5);
    expect(decodeCborValue(hex('1800'), 'integer')).toBe(0); // non-preferred but well-formed
  });
});

const normalize = (v: ResourceValue): ResourceValue => (typeof v === 'bigint' ? normalizeInteger(v) : v);

describe('application/cbor node codec (LwM2M-TS-Core 1.1 §7.4.6)', () => {
  it('LwM2M mappings: time as tag 1, objlnk as text, 64-bit integers', () => {
    expect(toHex(cborCodec.encode(resource(13, new Date(1367491215000)), ctx('/3/0/13')))).toBe('c11a5182428f');
    expect(cborCodec.decode(hex('c11a5182428f'), ctx('/3/0/13'))).toEqual(resource(13, new Date(1367491215000)));
    expect(cborCodec.decode(hex('1a5182428f'), ctx('/3/0/13'))).toEqual(resource(13, new Date(1367491215000)));
    const floatTime = Buffer.alloc(10);
    floatTime[0] = 0xc1;
    floatTime[1] = 0xfb;
    floatTime.writeDoubleBE(1367491215, 2);
    expect(cborCodec.decode(floatTime, ctx('/3/0/13'))).toEqual(resource(13, new Date(1367491215000)));
    expect(toHex(cborCodec.encode(resource(7, { objectId: 3, instanceId: 0 }), ctx(pathOf('objlnk'))))).toBe('63333a30');
    expect(cborCodec.decode(hex('63333a30'), ctx(pathOf('objlnk')))).toEqual(resource(7, { objectId: 3, instanceId: 0 }));
    expect(toHex(cborCodec.encode(resource(1, -(2n ** 63n)), ctx(pathOf('integer'))))).toBe('3b7fffffffffffffff');
    expect(cborCodec.decode(hex('3b7fffffffffffffff'), ctx(pathOf('integer')))).toEqual(resource(1, -(2n ** 63n)));
    expect(toHex(cborCodec.encode(resource(3, 3), ctx(pathOf('float'))))).toBe('f94200'); // a float stays a float
    expect(cborCodec.decode(hex('03'), ctx(pathOf('float')))).toEqual(resource(3, 3)); // cbor-x writes 3.0 as 3
    expect(cborCodec.decode(hex('0a'), ctx('/3/0/6/1'))).toEqual(resourceInstance(1, 10));
  });

  it('without a model: the natural value of the item', () => {
    const c = ctx('/42/0/1', false);
    expect(cborCodec.decode(hex('1864'), c)).toEqual(resource(1, 100));
    expect(cborCodec.decode(hex('f93e00'), c)).toEqual(resource(1, 1.5));
    expect(cborCodec.decode(hex('6161'), c)).toEqual(resource(1, 'a'));
    expect(cborCodec.decode(hex('4101'), c)).toEqual(resource(1, Uint8Array.of(1)));
    expect(cborCodec.decode(hex('c101'), c)).toEqual(resource(1, new Date(1000)));
    expect(cborCodec.decode(hex('f5'), c)).toEqual(resource(1, true));
    expect(toHex(cborCodec.encode(resource(1, 'a'), c))).toBe('6161');
    expect(toHex(cborCodec.encode(resource(1, 0.5), c))).toBe('f93800');
    expect(toHex(cborCodec.encode(resource(1, 2n ** 64n - 1n), c))).toBe('1bffffffffffffffff');
    expect(toHex(cborCodec.encode(resource(1, Uint8Array.of(9)), c))).toBe('4109');
  });

  it.each<[string, LwM2MNode, string]>([
    ['an object', objectNode(3, []), '/3'],
    ['an instance', objectInstance(0, []), '/3/0'],
    ['a multiple resource', multipleResource(6, [1]), '/3/0/6'],
  ])('encode of %s → NOT_ACCEPTABLE', (_n, node, path) => {
    expectError(() => cborCodec.encode(node, ctx(path)), 'NOT_ACCEPTABLE');
  });

  it.each(['/', '/3', '/3/0', '/3/0/6', '/3/0/9/0'])('decode at %s → BAD_CBOR (4.00)', (path) => {
    expect(expectError(() => cborCodec.decode(hex('01'), ctx(path)), 'BAD_CBOR').coapCode).toBe('4.00');
  });

  it('encode rejects values that do not fit the model type', () => {
    expectError(() => cborCodec.encode(resource(1, 'x'), ctx(pathOf('integer'))), 'BAD_VALUE');
    expectError(() => cborCodec.encode(resource(2, -1), ctx(pathOf('unsignedInteger'))), 'BAD_VALUE');
    expectError(() => cborCodec.encode(resource(1, 2n ** 63n), ctx(pathOf('integer'))), 'BAD_VALUE');
    expectError(() => cborCodec.encode(resource(4, 1), ctx(pathOf('boolean'))), 'BAD_VALUE');
    expectError(() => cborCodec.encode(resource(1, 2n ** 64n), ctx('/42/0/1', false)), 'BAD_VALUE');
  });
});

describe('CBOR decode errors (all LWM2M_BAD_CBOR, 4.00)', () => {
  it.each<[string, string, ValueType | undefined]>([
    ['empty payload', '', undefined],
    ['trailing bytes', '0101', 'integer'],
    ['trailing break', '01ff', 'integer'],
    ['an array', '820102', undefined],
    ['an empty array', '80', undefined],
    ['a map', 'a0', undefined],
    ['indefinite array', '9fff', undefined],
    ['indefinite nesting bomb', '9f'.repeat(50000), undefined],
    ['definite nesting bomb', '81'.repeat(100000) + '00', undefined],
    ['tag nesting', 'c1'.repeat(1000) + '00', undefined],
    ['huge byte string length (64-bit)', '5bffffffffffffffff', 'opaque'],
    ['huge byte string length (32-bit)', '5affffffff', 'opaque'],
    ['huge text length', '7a7fffffff41', 'string'],
    ['huge chunk in an indefinite string', '5f5affffffff', 'opaque'],
    ['unterminated indefinite string', '5f4101', 'opaque'],
    ['nested indefinite string', '7f7f6161ffff', 'string'],
    ['mixed chunk types', '5f6161ff', 'opaque'],
    ['truncated argument', '19 01', 'integer'],
    ['truncated float', 'fb 3ff0', 'float'],
    ['reserved additional info 28', '1c', 'integer'],
    ['reserved additional info 30', '7e', 'string'],
    ['indefinite integer', '1f', 'integer'],
    ['null', 'f6', undefined],
    ['undefined', 'f7', undefined],
    ['simple value 16', 'f0', undefined],
    ['simple value 255', 'f8ff', undefined],
    ['lone break', 'ff', undefined],
    ['tag 27 (cbor-x would construct a global)', 'd81b82654572726f7263616263', undefined],
    ['tag 0 date string', 'c074323031332d30332d32315432303a30343a30305a', 'time'],
    ['tag 64 typed array', 'd8404101', 'opaque'],
    ['shared-ref tag 28', 'd81c01', undefined],
    ['invalid UTF-8', '62c328', 'string'],
    ['invalid UTF-8 in chunks', '7f61c361a9ff', 'string'],
    ['text for integer', '6131', 'integer'],
    ['float for integer', 'f93c00', 'integer'],
    ['integer for string', '01', 'string'],
    ['bytes for string', '4161', 'string'],
    ['text for opaque', '6161', 'opaque'],
    ['integer for boolean', '01', 'boolean'],
    ['text for boolean', '6474727565', 'boolean'],
    ['text for float', '63312e35', 'float'],
    ['int beyond int64', '1b8000000000000000', 'integer'],
    ['negative beyond int64', '3b8000000000000000', 'integer'],
    ['negative unsigned', '20', 'unsignedInteger'],
    ['bignum beyond uint64', 'c249010000000000000000', 'unsignedInteger'],
    ['bignum of a text string', 'c26161', 'integer'],
    ['oversized bignum', 'c25101' + '00'.repeat(16), undefined],
    ['tag 1 non-integral', 'c1f93e00', 'time'],
    ['tag 1 of text', 'c16161', 'time'],
    ['time beyond Date', '1b7fffffffffffffff', 'time'],
    ['float for time', 'f93c00', 'time'],
    ['bad objlnk text', '6133', 'objlnk'],
    ['objlnk id too large', '6737303030303a30', 'objlnk'],
    ['integer for objlnk', '03', 'objlnk'],
  ])('%s', (_n, bytes, type) => {
    const c = type === undefined ? ctx('/42/0/1', false) : ctx(pathOf(type));
    const e = expectError(() => cborCodec.decode(hex(bytes), c), 'BAD_CBOR');
    expect(e.coapCode).toBe('4.00');
  });

  it('rejects a nesting bomb at its first byte', () => {
    const e = expectError(() => cborCodec.decode(new Uint8Array(1_000_000).fill(0x9f), ctx('/42/0/1', false)), 'BAD_CBOR');
    expect(e.location).toBe('byte 0');
  });

  it('decodeCborItem / cborItemToValue are usable on their own', () => {
    expect(decodeCborItem(hex('c101'))).toEqual({ kind: 'time', value: 1 });
    expect(cborItemToValue({ kind: 'int', value: 5 }, 'float')).toBe(5);
  });
});

// ---- round trips and the independent oracle (node-cbor) -------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const ARB: Record<ValueType, fc.Arbitrary<ResourceValue>> = {
  string: fc.string({ unit: 'binary', maxLength: 40 }),
  integer: fc.oneof(fc.integer(), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(normalizeInteger),
    fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, -24, -25, -256, -257, INT64_MAX, INT64_MIN, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER)),
  unsignedInteger: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: UINT64_MAX }).map(normalizeInteger), fc.constantFrom(UINT64_MAX, INT64_MAX + 1n)),
  float: fc.oneof(fc.double(), fc.float(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 65504, 65505, 2 ** -24, 2 ** -25, 2 ** -14, 1 / 3)),
  boolean: fc.boolean(),
  opaque: fc.uint8Array({ maxLength: 300 }),
  time: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((s) => new Date(s * 1000)),
  objlnk: fc.record({ objectId: fc.integer({ min: 0, max: 65535 }), instanceId: fc.integer({ min: 0, max: 65535 }) }),
  corelnk: fc.string({ maxLength: 300 }),
};

/** What node-cbor gives back for our encoding of `v`, in our value space. */
function fromOracle(decoded: unknown, type: ValueType): unknown {
  if (type === 'opaque') return Uint8Array.from(decoded as Buffer);
  if (type === 'integer' || type === 'unsignedInteger') return normalizeInteger(BigInt(decoded as number | bigint));
  if (type === 'objlnk') return decoded;
  return decoded;
}

/** A value in the form node-cbor encodes as the same CBOR item. */
function toOracle(v: ResourceValue, type: ValueType): unknown {
  if (type === 'opaque') return Buffer.from(v as Uint8Array); // node-cbor tags plain Uint8Arrays (tag 64)
  if (type === 'objlnk' && isObjectLink(v)) return `${v.objectId}:${v.instanceId}`;
  return v;
}

describe('CBOR round trips and the node-cbor oracle (fast-check)', () => {
  it.each(TYPES)('%s: encode → decode, single resource and resource instance', (type) => {
    fc.assert(fc.property(ARB[type], fc.integer({ min: 0, max: 65535 }), (v, riid) => {
      const c = ctx(pathOf(type));
      const node = resource(ridOf(type), v);
      expect(cborCodec.decode(cborCodec.encode(node, c), c)).toEqual(node);
      const ci = ctx(`/9000/0/${MULTI_BASE + ridOf(type)}/${riid}`);
      const inode = resourceInstance(riid, v);
      expect(cborCodec.decode(cborCodec.encode(inode, ci), ci)).toEqual(inode);
    }), { seed: 41, numRuns: 300 });
  });

  it.each(TYPES)('%s: node-cbor decodes our encoding to the same value', (type) => {
    fc.assert(fc.property(ARB[type], (v) => {
      const bytes = encodeCborValue(v, type);
      const decoded = fromOracle(cbor.decodeFirstSync(Buffer.from(bytes)), type);
      if (type === 'objlnk' && isObjectLink(v)) expect(decoded).toBe(`${v.objectId}:${v.instanceId}`);
      else expect(decoded).toEqual(v);
    }), { seed: 42, numRuns: 300 });
  });

  it.each(TYPES)('%s: we decode node-cbor\'s encoding to the same value', (type) => {
    fc.assert(fc.property(ARB[type], (v) => {
      const bytes = new Uint8Array(cbor.encode(toOracle(v, type)));
      expect(decodeCborValue(bytes, type)).toEqual(v);
    }), { seed: 43, numRuns: 300 });
  });

  it('our floats are the shortest exact encoding (RFC 8949 §4.2.2), which node-cbor reads back', () => {
    fc.assert(fc.property(fc.oneof(fc.double(), fc.float()), (v) => {
      const bytes = encodeCborValue(v, 'float');
      const expectedSize = Number.isNaN(v) ? 3 : Object.is(Math.fround(v), v) ? (isHalf(v) ? 3 : 5) : 9;
      expect(bytes.length).toBe(expectedSize);
    }), { seed: 44, numRuns: 1000 });
  });
});

/**
 * Every finite/infinite value a half float can hold, computed by brute force over the 65536 bit patterns
 * (IEEE 754 binary16: 1 sign, 5 exponent, 10 fraction bits) — independent of the encoder's arithmetic.
 */
const HALF_VALUES = (() => {
  const set = new Set<string>();
  for (let h = 0; h < 0x10000; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    const v = e === 0 ? sign * (f / 1024) * 2 ** -14 : e === 31 ? (f === 0 ? sign * Infinity : NaN) : sign * (1 + f / 1024) * 2 ** (e - 15);
    if (!Number.isNaN(v)) set.add(Object.is(v, -0) ? '-0' : String(v));
  }
  return set;
})();
function isHalf(v: number): boolean {
  return HALF_VALUES.has(Object.is(v, -0) ? '-0' : String(v));
}

describe('CBOR fuzz: any bytes → a node or LWM2M 4.00', () => {
  const seedsFor = (type: ValueType): Uint8Array[] =>
    fc.sample(ARB[type], { seed: 45, numRuns: 10 }).map((v) => encodeCborValue(v, type));
  it.each(TYPES)('%s resource', (type) => {
    const c = ctx(pathOf(type));
    const { ok, rejected } = fuzzDecoder((input) => cborCodec.decode(input, c), [...seedsFor(type), hex('5f42010243030405ff')]);
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });

  it('no model', () => {
    const c = ctx('/42/0/1/0', false);
    const seeds = TYPES.flatMap(seedsFor).concat([hex('c249010000000000000000'), hex('7f657374726561646d696e67ff')]);
    const { ok, rejected } = fuzzDecoder((input) => cborCodec.decode(input, c), seeds);
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});
