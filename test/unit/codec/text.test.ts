import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBase64Strict, decodeTextValue, decodeUtf8Strict, encodeBase64, encodeTextValue, textCodec,
} from '../../../src/codec/text.js';
import type { CodecContext } from '../../../src/codec/types.js';
import { normalizeInteger } from '../../../src/codec/values.js';
import { LwM2MError, type ErrorKind } from '../../../src/core/errors.js';
import { parsePath } from '../../../src/core/path.js';
import {
  multipleResource, objectInstance, objectNode, resource, resourceInstance, type LwM2MNode, type ResourceValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

const rm = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});
const DEVICE: ObjectModel = {
  id: 3, name: 'Device', version: '1.0', lwm2mVersion: '1.0', multiple: false, mandatory: true,
  resources: new Map([
    [0, rm(0, 'string')], [6, rm(6, 'integer', true)], [9, rm(9, 'integer')], [13, rm(13, 'time')], [14, rm(14, 'string')],
  ]),
};
const FIRMWARE: ObjectModel = {
  id: 5, name: 'Firmware Update', version: '1.0', lwm2mVersion: '1.0', multiple: false, mandatory: false,
  resources: new Map([[0, rm(0, 'opaque')], [1, rm(1, 'string')]]),
};
const TYPES = ['string', 'integer', 'unsignedInteger', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'] as const;
type ValueType = (typeof TYPES)[number];
const MULTI_BASE = 300;
const TEST_OBJECT: ObjectModel = {
  id: 9000, name: 'all types', version: '1.0', lwm2mVersion: '1.1', multiple: true, mandatory: false,
  resources: new Map(TYPES.flatMap((t, i) => [[i, rm(i, t)], [MULTI_BASE + i, rm(MULTI_BASE + i, t, true)]] as [number, ResourceModel][])),
};
const ALL = [DEVICE, FIRMWARE, TEST_OBJECT];
const models: ModelLookup = { getObject: (id) => ALL.find((o) => o.id === id) };
const ctx = (path: string, withModels = true): CodecContext => (withModels ? { path: parsePath(path), models } : { path: parsePath(path) });
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const ridOf = (type: ValueType): number => TYPES.indexOf(type);

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

describe('text/plain values (LwM2M-TS-Core 1.1 §7.4.1, Appendix C)', () => {
  it.each<[string, string, ResourceValue]>([
    ['/3/0/9', '100', 100],
    ['/3/0/0', 'MyManufacturer', 'MyManufacturer'],
    ['/3/0/14', '+02:00', '+02:00'],
    ['/3/0/13', '1367491215', new Date(1367491215000)],
    ['/3/0/6/0', '1', 1],
    // Leshan's example for Firmware Update Package: base64 opaque.
    ['/5/0/0', 'AQIDBAU=', Uint8Array.of(1, 2, 3, 4, 5)],
    ['/9000/0/1', '-42', -42],
    ['/9000/0/1', '+42', 42],
    ['/9000/0/1', '-0', 0],
    ['/9000/0/1', '9223372036854775807', 2n ** 63n - 1n],
    ['/9000/0/1', '-9223372036854775808', -(2n ** 63n)],
    ['/9000/0/1', '007', 7],
    ['/9000/0/2', '18446744073709551615', 2n ** 64n - 1n],
    ['/9000/0/3', '3.14', 3.14],
    ['/9000/0/3', '-1.5e3', -1500],
    ['/9000/0/3', '1E-3', 0.001],
    ['/9000/0/3', '.5', 0.5],
    ['/9000/0/3', '5.', 5],
    ['/9000/0/3', '42', 42],
    ['/9000/0/4', '1', true],
    ['/9000/0/4', '0', false],
    ['/9000/0/5', '', new Uint8Array()],
    ['/9000/0/6', '-1', new Date(-1000)],
    ['/9000/0/7', '3:0', { objectId: 3, instanceId: 0 }],
    ['/9000/0/7', '65535:65535', { objectId: 65535, instanceId: 65535 }],
    ['/9000/0/8', '</3/0>;ct=0', '</3/0>;ct=0'],
    ['/9000/0/0', 'ünïcødé 水 𐅑', 'ünïcødé 水 𐅑'],
    ['/9000/0/0', '', ''],
  ])('%s "%s"', (path, payload, value) => {
    const node = textCodec.decode(utf8(payload), ctx(path));
    expect(node).toEqual(parsePath(path).depth === 4 ? resourceInstance(0, value) : resource(parsePath(path).resourceId as number, value));
  });

  it.each<[string, LwM2MNode, string]>([
    ['/3/0/9', resource(9, 100), '100'],
    ['/3/0/13', resource(13, new Date(1367491215000)), '1367491215'],
    ['/3/0/13', resource(13, new Date(1367491215999)), '1367491215'],
    ['/5/0/0', resource(0, Uint8Array.of(1, 2, 3, 4, 5)), 'AQIDBAU='],
    ['/9000/0/1', resource(1, -(2n ** 63n)), '-9223372036854775808'],
    ['/9000/0/1', resource(1, 2 ** 60), '1152921504606846976'],
    ['/9000/0/2', resource(2, 2n ** 64n - 1n), '18446744073709551615'],
    ['/9000/0/3', resource(3, 1.5), '1.5'],
    ['/9000/0/3', resource(3, -0), '-0'],
    ['/9000/0/3', resource(3, 1e21), '1e+21'],
    ['/9000/0/3', resource(3, 5e-7), '5e-7'],
    ['/9000/0/4', resource(4, true), '1'],
    ['/9000/0/4', resource(4, false), '0'],
    ['/9000/0/7', resource(7, { objectId: 3, instanceId: 0 }), '3:0'],
    ['/9000/0/7', resource(7, '4:1'), '4:1'],
    ['/9000/0/0', resource(0, 'é'), 'é'],
    ['/3/0/6/1', resourceInstance(1, 5), '5'],
  ])('encodes %s → "%s"', (path, node, expected) => {
    expect(text(textCodec.encode(node, ctx(path)))).toBe(expected);
  });

  it('without a model: decodes as a string, encodes by the JS type', () => {
    expect(textCodec.decode(utf8('100'), ctx('/3/0/9', false))).toEqual(resource(9, '100'));
    expect(textCodec.decode(utf8('x'), ctx('/42/0/1/2', false))).toEqual(resourceInstance(2, 'x'));
    const enc = (v: ResourceValue): string => text(textCodec.encode(resource(1, v), ctx('/42/0/1', false)));
    expect(enc(7)).toBe('7');
    expect(enc(2n ** 63n - 1n)).toBe('9223372036854775807');
    expect(enc(2n ** 64n - 1n)).toBe('18446744073709551615');
    expect(enc(0.25)).toBe('0.25');
    expect(enc(true)).toBe('1');
    expect(enc(new Date(2000))).toBe('2');
    expect(enc({ objectId: 1, instanceId: 2 })).toBe('1:2');
    expect(enc(Uint8Array.of(255))).toBe('/w==');
  });

  it.each<[string, string]>([
    ['/9000/0/1', '1.5'], ['/9000/0/1', ''], ['/9000/0/1', ' 1'], ['/9000/0/1', '1 '], ['/9000/0/1', '0x10'],
    ['/9000/0/1', '-'], ['/9000/0/1', '1e3'], ['/9000/0/1', '9223372036854775808'], ['/9000/0/1', '-9223372036854775809'],
    ['/9000/0/1', '1'.repeat(5000)],
    ['/9000/0/2', '-1'], ['/9000/0/2', '18446744073709551616'],
    ['/9000/0/3', 'NaN'], ['/9000/0/3', 'Infinity'], ['/9000/0/3', '1e999'], ['/9000/0/3', ''], ['/9000/0/3', '.'],
    ['/9000/0/3', '1,5'], ['/9000/0/3', '0x1p3'], ['/9000/0/3', '1e'], ['/9000/0/3', '--1'],
    ['/9000/0/4', 'true'], ['/9000/0/4', 'false'], ['/9000/0/4', '2'], ['/9000/0/4', ''], ['/9000/0/4', '01'],
    ['/9000/0/6', '1.5'], ['/9000/0/6', '2013-05-02T10:40:15Z'], ['/9000/0/6', '99999999999999999'],
    ['/9000/0/7', '3'], ['/9000/0/7', '3:0:1'], ['/9000/0/7', '70000:0'], ['/9000/0/7', '-1:0'],
    ['/5/0/0', '!,-INVALID$_\''], ['/5/0/0', 'AQ'], ['/5/0/0', 'AR=='], ['/5/0/0', 'AQ=='.replace('=', '')],
    ['/5/0/0', 'AQID BAU='], ['/5/0/0', 'AQIDBAU=\n'], ['/5/0/0', '_-8='], ['/5/0/0', '=AAA'], ['/5/0/0', 'A===' ],
  ])('rejects %s "%s" with LWM2M_BAD_TEXT (4.00)', (path, payload) => {
    const e = expectError(() => textCodec.decode(utf8(payload), ctx(path)), 'BAD_TEXT');
    expect(e.coapCode).toBe('4.00');
  });

  it('rejects invalid UTF-8 even for string resources', () => {
    for (const bad of [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe2, 0x82]]) {
      expectError(() => textCodec.decode(Uint8Array.from(bad), ctx('/3/0/0')), 'BAD_TEXT');
      expectError(() => textCodec.decode(Uint8Array.from(bad), ctx('/3/0/0', false)), 'BAD_TEXT');
    }
  });

  it('encode rejects values that have no text form or do not fit the type', () => {
    expectError(() => textCodec.encode(resource(3, NaN), ctx('/9000/0/3')), 'BAD_VALUE');
    expectError(() => textCodec.encode(resource(3, Infinity), ctx('/9000/0/3')), 'BAD_VALUE');
    expectError(() => textCodec.encode(resource(1, 'x'), ctx('/9000/0/1')), 'BAD_VALUE');
    expectError(() => textCodec.encode(resource(4, 1), ctx('/9000/0/4')), 'BAD_VALUE');
    expectError(() => textCodec.encode(resource(2, -1), ctx('/9000/0/2')), 'BAD_VALUE');
    expectError(() => textCodec.encode(resource(10, 1), ctx('/3/0/9')), 'BAD_VALUE');
  });
});

describe('text/plain levels', () => {
  it.each<[string, LwM2MNode, string]>([
    ['an object', objectNode(3, []), '/3'],
    ['an instance', objectInstance(0, [resource(9, 1)]), '/3/0'],
    ['a multiple resource', multipleResource(6, [1]), '/3/0/6'],
  ])('encode of %s → LWM2M_NOT_ACCEPTABLE (4.06)', (_n, node, path) => {
    expect(expectError(() => textCodec.encode(node, ctx(path)), 'NOT_ACCEPTABLE').coapCode).toBe('4.06');
  });

  it('a single node for a resource the model declares multiple → NOT_ACCEPTABLE', () => {
    expectError(() => textCodec.encode(resource(6, 1), ctx('/3/0/6')), 'NOT_ACCEPTABLE');
  });

  it.each(['/', '/3', '/3/0', '/3/0/6', '/3/0/9/0'])('decode at %s → LWM2M_BAD_TEXT (4.00)', (path) => {
    expect(expectError(() => textCodec.decode(utf8('1'), ctx(path)), 'BAD_TEXT').coapCode).toBe('4.00');
  });
});

describe('helpers', () => {
  it('decodeUtf8Strict keeps a BOM, handles ranges, rejects bad sequences', () => {
    expect(decodeUtf8Strict(Uint8Array.of(0xef, 0xbb, 0xbf, 0x41))).toBe('\uFEFFA');
    expect(decodeUtf8Strict(utf8('xxabcxx'), 2, 5)).toBe('abc');
    expect(decodeUtf8Strict(utf8('x'.repeat(100) + 'é'), 0, 102)).toBe('x'.repeat(100) + 'é');
    expect(decodeUtf8Strict(Uint8Array.of(0x80))).toBeUndefined();
    expect(decodeUtf8Strict(new Uint8Array(100).fill(0x80))).toBeUndefined();
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
      expect(decodeUtf8Strict(utf8(s))).toBe(s);
    }), { seed: 3, numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
      let expected: string | undefined;
      try {
        expected = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
      } catch {
        expected = undefined;
      }
      expect(decodeUtf8Strict(b)).toBe(expected);
    }), { seed: 4, numRuns: 1000 });
  });

  it('base64 is strict and round-trips', () => {
    expect(decodeBase64Strict('')).toEqual(new Uint8Array());
    expect(decodeBase64Strict('AQ==')).toEqual(Uint8Array.of(1));
    expect(decodeBase64Strict('AQ=')).toBeUndefined();
    expect(decodeBase64Strict('AR==')).toBeUndefined();
    expect(decodeBase64Strict('A=B=')).toBeUndefined();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      expect(decodeBase64Strict(encodeBase64(b))).toEqual(b);
    }), { seed: 5, numRuns: 500 });
  });

  it('encodeTextValue / decodeTextValue work without a codec', () => {
    expect(encodeTextValue(12, 'float')).toBe('12');
    expect(decodeTextValue('12', 'float')).toBe(12);
    expect(decodeTextValue('12', undefined)).toBe('12');
  });
});

// ---- round trips ----------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const ARB: Record<ValueType, fc.Arbitrary<ResourceValue>> = {
  string: fc.string({ unit: 'binary', maxLength: 40 }),
  integer: fc.oneof(fc.integer(), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(normalizeInteger), fc.constantFrom(0, INT64_MAX, INT64_MIN)),
  unsignedInteger: fc.oneof(fc.nat(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(normalizeInteger)),
  float: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.float({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 0, 1e-320, Number.MAX_VALUE, Number.MIN_VALUE)),
  boolean: fc.boolean(),
  opaque: fc.uint8Array({ maxLength: 40 }),
  time: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((s) => new Date(s * 1000)),
  objlnk: fc.record({ objectId: fc.integer({ min: 0, max: 65535 }), instanceId: fc.integer({ min: 0, max: 65535 }) }),
  corelnk: fc.string({ maxLength: 40 }),
};

describe('text/plain round trips (fast-check)', () => {
  it.each(TYPES)('single resource of type %s', (type) => {
    const rid = ridOf(type);
    const c = ctx(`/9000/2/${rid}`);
    fc.assert(fc.property(ARB[type], (v) => {
      const node = resource(rid, v);
      expect(textCodec.decode(textCodec.encode(node, c), c)).toEqual(node);
    }), { seed: 21, numRuns: 300 });
  });

  it.each(TYPES)('resource instance of type %s', (type) => {
    const rid = MULTI_BASE + ridOf(type);
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), ARB[type], (riid, v) => {
      const c = ctx(`/9000/2/${rid}/${riid}`);
      const node = resourceInstance(riid, v);
      expect(textCodec.decode(textCodec.encode(node, c), c)).toEqual(node);
    }), { seed: 22, numRuns: 200 });
  });

  it('strings without a model', () => {
    const c = ctx('/42/0/1', false);
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => {
      expect(textCodec.decode(textCodec.encode(resource(1, s), c), c)).toEqual(resource(1, s));
    }), { seed: 23, numRuns: 300 });
  });
});

describe('text/plain fuzz: any bytes → a node or LWM2M 4.00', () => {
  it.each<[string, boolean, string[]]>([
    ['/9000/0/0', true, ['hello', 'ünï']],
    ['/9000/0/1', true, ['-42', '9223372036854775807', '0']],
    ['/9000/0/2', true, ['18446744073709551615', '1']],
    ['/9000/0/3', true, ['3.14', '-1.5e3', '.5']],
    ['/9000/0/4', true, ['0', '1']],
    ['/9000/0/5', true, ['AQIDBAU=', 'AQ==', '']],
    ['/9000/0/6', true, ['1367491215', '-1']],
    ['/9000/0/7', true, ['3:0', '65535:65535']],
    ['/9000/0/306/1', true, ['1367491215']],
    ['/42/0/1', false, ['x', 'é']],
  ])('%s (models: %s)', (path, withModels, seeds) => {
    const c = ctx(path, withModels);
    const { ok, rejected } = fuzzDecoder((input) => textCodec.decode(input, c), seeds.map(utf8));
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});
