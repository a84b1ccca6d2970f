import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TLV_MAX_LENGTH, TlvType, decodeTlvEntries, decodeTlvValue, encodeTlvValue, tlvCodec, tlvHeaderSize,
} from '../../../src/codec/tlv.js';
import type { CodecContext } from '../../../src/codec/types.js';
import { normalizeInteger } from '../../../src/codec/values.js';
import { LwM2MError, type ErrorKind } from '../../../src/core/errors.js';
import { parsePath } from '../../../src/core/path.js';
import {
  multipleResource, objectInstance, objectNode, resource, resourceInstance,
  type LwM2MNode, type ObjectInstanceNode, type ResourceNode, type ResourceValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';
import { DEVICE_INSTANCE } from '../../helpers/device-fixture.js';

// ---- models ---------------------------------------------------------------------------------------

const rm = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});

/** LwM2M Device (3), the resources used by the spec example (types per the OMA DDF of object 3). */
const DEVICE: ObjectModel = {
  id: 3, name: 'Device', version: '1.0', lwm2mVersion: '1.0', multiple: false, mandatory: true,
  resources: new Map([
    [0, rm(0, 'string')], [1, rm(1, 'string')], [2, rm(2, 'string')], [3, rm(3, 'string')],
    [4, { ...rm(4, 'none'), operations: 'E' }],
    [6, rm(6, 'integer', true)], [7, rm(7, 'integer', true)], [8, rm(8, 'integer', true)],
    [9, rm(9, 'integer')], [10, rm(10, 'integer')], [11, rm(11, 'integer', true)],
    [13, rm(13, 'time')], [14, rm(14, 'string')], [16, rm(16, 'string')],
  ]),
};
const SERVER: ObjectModel = {
  id: 1, name: 'LwM2M Server', version: '1.0', lwm2mVersion: '1.0', multiple: true, mandatory: true,
  resources: new Map([[0, rm(0, 'integer')], [1, rm(1, 'integer')], [6, rm(6, 'boolean')], [7, rm(7, 'string')]]),
};
const ACL: ObjectModel = {
  id: 2, name: 'Access Control', version: '1.0', lwm2mVersion: '1.0', multiple: true, mandatory: false,
  resources: new Map([[0, rm(0, 'integer')], [1, rm(1, 'integer')], [2, rm(2, 'integer', true)], [3, rm(3, 'integer')]]),
};
/** Objects 65 and 66 of the spec's object link example (LwM2M 1.0.1 figure 28). */
const OBJ65: ObjectModel = {
  id: 65, name: 'objlnk test 65', version: '1.0', lwm2mVersion: '1.0', multiple: true, mandatory: false,
  resources: new Map([[0, rm(0, 'objlnk', true)], [1, rm(1, 'string')], [2, rm(2, 'integer')]]),
};
const OBJ66: ObjectModel = {
  id: 66, name: 'objlnk test 66', version: '1.0', lwm2mVersion: '1.0', multiple: true, mandatory: false,
  resources: new Map([[0, rm(0, 'string')], [1, rm(1, 'string')], [2, rm(2, 'objlnk')]]),
};

/** A test object with one single (id = index) and one multiple (id = 300 + index, 16-bit ids) resource per type. */
const TYPES = ['string', 'integer', 'unsignedInteger', 'float', 'boolean', 'opaque', 'time', 'objlnk', 'corelnk'] as const;
type ValueType = (typeof TYPES)[number];
const MULTI_BASE = 300;
const TEST_OBJECT: ObjectModel = {
  id: 9000, name: 'all types', version: '1.0', lwm2mVersion: '1.1', multiple: true, mandatory: false,
  resources: new Map(TYPES.flatMap((t, i) => [[i, rm(i, t)], [MULTI_BASE + i, rm(MULTI_BASE + i, t, true)]] as [number, ResourceModel][])),
};

const ALL = [DEVICE, SERVER, ACL, OBJ65, OBJ66, TEST_OBJECT];
const models: ModelLookup = { getObject: (id) => ALL.find((o) => o.id === id) };
const ctx = (path: string, withModels = true): CodecContext => (withModels ? { path: parsePath(path), models } : { path: parsePath(path) });
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

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

// ---- spec vectors ---------------------------------------------------------------------------------
// LwM2M-TS-Core 1.1 §7.4.3 examples (the same as 1.0 §6.4.3). The hex below matches the spec tables and
// the copies Eclipse Leshan keeps in its LwM2mNodeDecoderTest; single-resource / resource-instance vectors
// marked "constructed" are derived from the §7.4.3 rules and the instance example, not copied from a table.

/** §7.4.3.1 Read /3/0: the resources of Device instance 0, without an object instance TLV. */
const DEVICE_RESOURCES = [
  'C8 00 14 4F70656E204D6F62696C6520416C6C69616E6365', //       0 Manufacturer "Open Mobile Alliance"
  'C8 01 16 4C69676874776569676874204D324D20436C69656E74', //   1 Model Number "Lightweight M2M Client"
  'C8 02 09 333435303030313233', //                             2 Serial Number "345000123"
  'C3 03 312E30', //                                            3 Firmware Version "1.0"
  '86 06 41 00 01 41 01 05', //                                 6 Available Power Sources [1, 5]
  '88 07 08 42 00 0ED8 42 01 1388', //                          7 Power Source Voltage [3800, 5000]
  '87 08 41 00 7D 42 01 0384', //                               8 Power Source Current [125, 900]
  'C1 09 64', //                                                9 Battery Level 100
  'C1 0A 0F', //                                               10 Memory Free 15
  '83 0B 41 00 00', //                                         11 Error Code [0]
  'C4 0D 5182428F', //                                         13 Current Time 1367491215
  'C6 0E 2B30323A3030', //                                     14 UTC Offset "+02:00"
  'C1 10 55', //                                               16 Binding "U"
].join('');
/** §7.4.3.2 A) the same with the object instance TLV (0x79 = 121 bytes). */
const DEVICE_WITH_INSTANCE = `08 00 79 ${DEVICE_RESOURCES}`;


/** §7.4.3.2 B) Read /2: two Access Control instances; ACL[310] uses a 16-bit resource instance id (0x61). */
const ACL_OBJECT = '08 00 0E C1 00 01 C1 01 00 83 02 41 7F 07 C1 03 7F' +
  '08 02 12 C1 00 03 C1 01 00 87 02 41 7F 07 61 01 36 01 C1 03 7F';
/** §7.4.3.2 C) Read /1 of a Server object with a single instance. */
const SERVER_OBJECT = '08 00 0F C1 00 01 C4 01 00015180 C1 06 01 C1 07 55';
/** §7.4.3.3 1) Read /65/0: a multiple Objlnk resource [66:0, 66:1], a string, an integer. */
const OBJ65_INSTANCE = '88 00 0C 44 00 00420000 44 01 00420001 C8 01 0D 38363133383030373535353030 C4 02 12345678';
/** §7.4.3.3 2) Read /66: two instances, an Objlnk 67:0 and the "null" link 65535:65535. */
const OBJ66_OBJECT = '08 00 26 C8 00 0B 6D79536572766963652031 C8 01 0F 496E7465726E65742E31352E323334 C4 02 00430000' +
  '08 01 26 C8 00 0B 6D79536572766963652032 C8 01 0F 496E7465726E65742E31352E323335 C4 02 FFFFFFFF';

describe('TLV spec vectors (LwM2M-TS-Core 1.1 §7.4.3)', () => {
  it('decodes the Device /3/0 example (resources without instance TLV)', () => {
    expect(tlvCodec.decode(hex(DEVICE_RESOURCES), ctx('/3/0'))).toEqual(DEVICE_INSTANCE);
  });

  it('encodes the Device /3/0 instance byte-exactly', () => {
    expect(toHex(tlvCodec.encode(DEVICE_INSTANCE, ctx('/3/0')))).toBe(DEVICE_RESOURCES.replace(/\s+/g, ''));
  });

  it('decodes the /3/0 example wrapped in its object instance TLV, at instance and object level', () => {
    expect(tlvCodec.decode(hex(DEVICE_WITH_INSTANCE), ctx('/3/0'))).toEqual(DEVICE_INSTANCE);
    expect(tlvCodec.decode(hex(DEVICE_WITH_INSTANCE), ctx('/3'))).toEqual(objectNode(3, [DEVICE_INSTANCE]));
  });

  it('encodes object level /3 always with the object instance TLV', () => {
    expect(toHex(tlvCodec.encode(objectNode(3, [DEVICE_INSTANCE]), ctx('/3')))).toBe(DEVICE_WITH_INSTANCE.replace(/\s+/g, ''));
  });

  it('accepts a single-instance object read answered with bare resources (instance 0)', () => {
    expect(tlvCodec.decode(hex(DEVICE_RESOURCES), ctx('/3'))).toEqual(objectNode(3, [DEVICE_INSTANCE]));
  });

  it('decodes and encodes the Access Control /2 example (two instances, 16-bit resource instance id)', () => {
    const expected = objectNode(2, [
      objectInstance(0, [resource(0, 1), resource(1, 0), multipleResource(2, { 127: 7 }), resource(3, 127)]),
      objectInstance(2, [resource(0, 3), resource(1, 0), multipleResource(2, { 127: 7, 310: 1 }), resource(3, 127)]),
    ]);
    expect(tlvCodec.decode(hex(ACL_OBJECT), ctx('/2'))).toEqual(expected);
    expect(toHex(tlvCodec.encode(expected, ctx('/2')))).toBe(ACL_OBJECT.replace(/\s+/g, ''));
  });

  it('decodes and encodes the Server /1 example', () => {
    const expected = objectNode(1, [objectInstance(0, [resource(0, 1), resource(1, 86400), resource(6, true), resource(7, 'U')])]);
    expect(tlvCodec.decode(hex(SERVER_OBJECT), ctx('/1'))).toEqual(expected);
    expect(toHex(tlvCodec.encode(expected, ctx('/1')))).toBe(SERVER_OBJECT.replace(/\s+/g, ''));
  });

  it('decodes and encodes the object link examples (/65/0 and /66)', () => {
    const inst65 = objectInstance(0, [
      multipleResource(0, [{ objectId: 66, instanceId: 0 }, { objectId: 66, instanceId: 1 }]),
      resource(1, '8613800755500'),
      resource(2, 0x12345678),
    ]);
    expect(tlvCodec.decode(hex(OBJ65_INSTANCE), ctx('/65/0'))).toEqual(inst65);
    expect(toHex(tlvCodec.encode(inst65, ctx('/65/0')))).toBe(OBJ65_INSTANCE.replace(/\s+/g, ''));
    const obj66 = objectNode(66, [
      objectInstance(0, [resource(0, 'myService 1'), resource(1, 'Internet.15.234'), resource(2, { objectId: 67, instanceId: 0 })]),
      objectInstance(1, [resource(0, 'myService 2'), resource(1, 'Internet.15.235'), resource(2, { objectId: 65535, instanceId: 65535 })]),
    ]);
    expect(tlvCodec.decode(hex(OBJ66_OBJECT), ctx('/66'))).toEqual(obj66);
    expect(toHex(tlvCodec.encode(obj66, ctx('/66')))).toBe(OBJ66_OBJECT.replace(/\s+/g, ''));
  });

  it('single resource /3/0/0 and /3/0/13 (constructed from the instance example)', () => {
    const manufacturer = 'C800144F70656E204D6F62696C6520416C6C69616E6365';
    expect(tlvCodec.decode(hex(manufacturer), ctx('/3/0/0'))).toEqual(resource(0, 'Open Mobile Alliance'));
    expect(toHex(tlvCodec.encode(resource(0, 'Open Mobile Alliance'), ctx('/3/0/0')))).toBe(manufacturer);
    expect(tlvCodec.decode(hex('C40D5182428F'), ctx('/3/0/13'))).toEqual(resource(13, new Date(1367491215000)));
    expect(toHex(tlvCodec.encode(resource(13, new Date(1367491215000)), ctx('/3/0/13')))).toBe('C40D5182428F');
  });

  it('multiple resource /3/0/6 (constructed), also as bare resource instance TLVs', () => {
    expect(tlvCodec.decode(hex('86 06 41 00 01 41 01 05'), ctx('/3/0/6'))).toEqual(multipleResource(6, [1, 5]));
    expect(toHex(tlvCodec.encode(multipleResource(6, [1, 5]), ctx('/3/0/6')))).toBe('860641000141 0105'.replace(/\s+/g, ''));
    expect(tlvCodec.decode(hex('41 00 01 41 01 05'), ctx('/3/0/6'))).toEqual(multipleResource(6, [1, 5]));
  });

  it('resource instances /3/0/7/1 and /65/0/0/1 (constructed)', () => {
    expect(tlvCodec.decode(hex('42 01 1388'), ctx('/3/0/7/1'))).toEqual(resourceInstance(1, 5000));
    expect(toHex(tlvCodec.encode(resourceInstance(1, 5000), ctx('/3/0/7/1')))).toBe('42011388');
    expect(tlvCodec.decode(hex('44 01 00420001'), ctx('/65/0/0/1'))).toEqual(resourceInstance(1, { objectId: 66, instanceId: 1 }));
  });

  it('without a model, values decode as opaque bytes and multiplicity follows the TLV type', () => {
    const node = tlvCodec.decode(hex(DEVICE_RESOURCES), ctx('/3/0', false)) as ObjectInstanceNode;
    expect(node.resources.get(0)).toEqual(resource(0, new TextEncoder().encode('Open Mobile Alliance')));
    expect(node.resources.get(9)).toEqual(resource(9, Uint8Array.of(100)));
    expect(node.resources.get(6)).toEqual(multipleResource(6, [Uint8Array.of(1), Uint8Array.of(5)]));
    expect(node.resources.get(13)).toEqual(resource(13, hex('5182428F')));
    // And re-encoding the opaque tree gives the same bytes back.
    expect(toHex(tlvCodec.encode(node, ctx('/3/0', false)))).toBe(DEVICE_RESOURCES.replace(/\s+/g, ''));
  });
});

// ---- headers --------------------------------------------------------------------------------------

describe('TLV headers', () => {
  it('uses 16-bit ids above 255 and 8/16/24-bit length fields', () => {
    const long = 'x'.repeat(300);
    const r = tlvCodec.encode(resource(300, long), ctx('/9000/0/300', false));
    // 11 1 10 000: resource with value, 16-bit id, 16-bit length.
    expect(toHex(r.subarray(0, 5))).toBe('F0012C012C');
    expect(r.length).toBe(305);
    const big = new Uint8Array(70000).fill(7);
    const r2 = tlvCodec.encode(resource(5, big), ctx('/9000/0/5'));
    // 11 0 11 000: 8-bit id, 24-bit length 0x011170.
    expect(toHex(r2.subarray(0, 5))).toBe('D805011170');
    expect((tlvCodec.decode(r2, ctx('/9000/0/5')) as { value: Uint8Array }).value).toEqual(big);
    // Lengths 7 and 8: the boundary between the 3-bit length and an 8-bit length field.
    expect(toHex(tlvCodec.encode(resource(0, '1234567'), ctx('/9000/0/0')).subarray(0, 2))).toBe('C700');
    expect(toHex(tlvCodec.encode(resource(0, '12345678'), ctx('/9000/0/0')).subarray(0, 3))).toBe('C80008');
  });

  it('decodeTlvEntries round-trips arbitrary headers, including non-minimal length fields', () => {
    fc.assert(fc.property(
      fc.array(fc.record({
        type: fc.constantFrom(0, 1, 2, 3), id: fc.integer({ min: 0, max: 65535 }),
        len: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(65536)), lenType: fc.integer({ min: 0, max: 3 }),
      }), { maxLength: 6 }),
      (specs) => {
        const parts: number[] = [];
        for (const s of specs) {
          const lenType = s.len > 0xffff ? 3 : s.len > 0xff ? Math.max(2, s.lenType) : s.len > 7 ? Math.max(1, s.lenType) : s.lenType;
          parts.push((s.type << 6) | (s.id > 255 ? 0x20 : 0) | (lenType << 3) | (lenType === 0 ? s.len : 0));
          if (s.id > 255) parts.push(s.id >> 8);
          parts.push(s.id & 0xff);
          for (let k = lenType - 1; k >= 0; k--) parts.push((s.len >> (8 * k)) & 0xff);
          for (let k = 0; k < s.len; k++) parts.push(k & 0xff);
        }
        const entries = decodeTlvEntries(Uint8Array.from(parts));
        expect(entries.map((e) => [e.type, e.id, e.end - e.start])).toEqual(specs.map((s) => [s.type, s.id, s.len]));
      },
    ), { seed: 42, numRuns: 300 });
  });

  it('tlvHeaderSize matches what the encoder writes', () => {
    expect(tlvHeaderSize(0, 0)).toBe(2);
    expect(tlvHeaderSize(255, 7)).toBe(2);
    expect(tlvHeaderSize(256, 8)).toBe(4);
    expect(tlvHeaderSize(1, 256)).toBe(4);
    expect(tlvHeaderSize(1, 65536)).toBe(5);
    expect(TLV_MAX_LENGTH).toBe(0xffffff);
    expect(TlvType.MULTIPLE_RESOURCE).toBe(2);
  });
});

// ---- values ---------------------------------------------------------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const arbInteger = fc.oneof(
  fc.constantFrom(0, 1, -1, 127, 128, -128, -129, 32767, 32768, -32768, -32769, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1,
    Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, INT64_MAX, INT64_MIN),
  fc.integer(),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(normalizeInteger),
);
const arbUnsigned = fc.oneof(
  fc.constantFrom(0, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, INT64_MAX, INT64_MAX + 1n, UINT64_MAX),
  fc.nat(),
  fc.bigInt({ min: 0n, max: UINT64_MAX }).map(normalizeInteger),
);
const arbDate = fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((s) => new Date(s * 1000));
const ARB: Record<ValueType, fc.Arbitrary<ResourceValue>> = {
  string: fc.string({ unit: 'binary', maxLength: 40 }),
  integer: arbInteger,
  unsignedInteger: arbUnsigned,
  float: fc.oneof(fc.double(), fc.float(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 0.1, 1.5)),
  boolean: fc.boolean(),
  opaque: fc.uint8Array({ maxLength: 40 }),
  time: arbDate,
  objlnk: fc.record({ objectId: fc.integer({ min: 0, max: 65535 }), instanceId: fc.integer({ min: 0, max: 65535 }) }),
  corelnk: fc.string({ maxLength: 40 }),
};

describe('TLV values (Appendix C)', () => {
  it.each<[number | bigint, string]>([
    [0, '00'], [127, '7F'], [-128, '80'], [128, '0080'], [-129, 'FF7F'], [32767, '7FFF'], [32768, '00008000'],
    [-32769, 'FFFF7FFF'], [2 ** 31 - 1, '7FFFFFFF'], [2 ** 31, '0000000080000000'], [-(2 ** 31) - 1, 'FFFFFFFF7FFFFFFF'],
    [Number.MAX_SAFE_INTEGER, '001FFFFFFFFFFFFF'], [INT64_MIN, '8000000000000000'], [INT64_MAX, '7FFFFFFFFFFFFFFF'],
  ])('integer %s → smallest two\'s complement %s', (v, bytes) => {
    expect(toHex(encodeTlvValue(v, 'integer'))).toBe(bytes);
    expect(decodeTlvValue(hex(bytes), 0, bytes.length / 2, 'integer')).toEqual(normalizeInteger(v));
  });

  it('unsigned integers: written so a signed reader agrees, read as unsigned', () => {
    expect(toHex(encodeTlvValue(255, 'unsignedInteger'))).toBe('00FF');
    expect(toHex(encodeTlvValue(UINT64_MAX, 'unsignedInteger'))).toBe('FFFFFFFFFFFFFFFF');
    expect(toHex(encodeTlvValue(INT64_MAX + 1n, 'unsignedInteger'))).toBe('8000000000000000');
    expect(decodeTlvValue(hex('FF'), 0, 1, 'unsignedInteger')).toBe(255);
    expect(decodeTlvValue(hex('FFFFFFFF'), 0, 4, 'unsignedInteger')).toBe(2 ** 32 - 1);
    expect(decodeTlvValue(hex('FFFFFFFFFFFFFFFF'), 0, 8, 'unsignedInteger')).toBe(UINT64_MAX);
    expect(decodeTlvValue(hex('FF'), 0, 1, 'integer')).toBe(-1);
    expectError(() => encodeTlvValue(-1, 'unsignedInteger'), 'BAD_VALUE');
    expectError(() => encodeTlvValue(UINT64_MAX + 1n, 'unsignedInteger'), 'BAD_VALUE');
    expectError(() => encodeTlvValue(INT64_MAX + 1n, 'integer'), 'BAD_VALUE');
  });

  it('floats: 4 bytes when float32 is exact, else 8; both decode', () => {
    expect(toHex(encodeTlvValue(1.5, 'float'))).toBe('3FC00000');
    expect(toHex(encodeTlvValue(0.1, 'float'))).toBe('3FB999999999999A');
    expect(toHex(encodeTlvValue(3, 'float'))).toBe('40400000');
    expect(decodeTlvValue(hex('3FC00000'), 0, 4, 'float')).toBe(1.5);
    expect(decodeTlvValue(hex('3FB999999999999A'), 0, 8, 'float')).toBe(0.1);
    expect(Object.is(decodeTlvValue(encodeTlvValue(-0, 'float'), 0, 4, 'float'), -0)).toBe(true);
  });

  it('booleans, objlnk, time, strings', () => {
    expect(toHex(encodeTlvValue(true, 'boolean'))).toBe('01');
    expect(toHex(encodeTlvValue(false, 'boolean'))).toBe('00');
    expect(toHex(encodeTlvValue({ objectId: 3, instanceId: 0 }, 'objlnk'))).toBe('00030000');
    expect(toHex(encodeTlvValue('3:1', 'objlnk'))).toBe('00030001');
    expect(toHex(encodeTlvValue(new Date(1367491215000), 'time'))).toBe('5182428F');
    expect(toHex(encodeTlvValue(new Date(1500), 'time'))).toBe('01'); // whole seconds, floor
    expect(toHex(encodeTlvValue('é', 'string'))).toBe('C3A9');
    expect(decodeTlvValue(hex('EFBBBF41'), 0, 4, 'string')).toBe('\uFEFFA'); // a BOM is part of the value
  });

  it('without a type the JS type decides', () => {
    expect(toHex(encodeTlvValue(300))).toBe('012C');
    expect(toHex(encodeTlvValue(2.5))).toBe('40200000');
    expect(toHex(encodeTlvValue('A'))).toBe('41');
    expect(toHex(encodeTlvValue(true))).toBe('01');
    expect(toHex(encodeTlvValue(2 ** 60))).toBe('1000000000000000');
    expect(decodeTlvValue(hex('0102'), 0, 2, undefined)).toEqual(Uint8Array.of(1, 2));
  });

  it.each<[string, ResourceType, string]>([
    ['3 byte integer', 'integer', '010203'],
    ['empty integer', 'integer', ''],
    ['5 byte unsigned', 'unsignedInteger', '0102030405'],
    ['2 byte float', 'float', '0102'],
    ['boolean 2', 'boolean', '02'],
    ['boolean 0xFF', 'boolean', 'FF'],
    ['2 byte boolean', 'boolean', '0001'],
    ['3 byte objlnk', 'objlnk', '000300'],
    ['invalid UTF-8', 'string', 'C328'],
    ['overlong UTF-8', 'string', 'C0AF'],
    ['UTF-16 surrogate in UTF-8', 'string', 'EDA080'],
    ['truncated UTF-8', 'corelnk', 'E282'],
    ['time beyond Date', 'time', '7FFFFFFFFFFFFFFF'],
    ['3 byte time', 'time', '000001'],
  ])('rejects %s with LWM2M_BAD_TLV', (_n, type, bytes) => {
    const e = expectError(() => decodeTlvValue(hex(bytes), 0, bytes.length / 2, type), 'BAD_TLV');
    expect(e.coapCode).toBe('4.00');
  });

  it.each(TYPES)('round-trips %s values', (type) => {
    fc.assert(fc.property(ARB[type], (v) => {
      const bytes = encodeTlvValue(v, type);
      expect(decodeTlvValue(bytes, 0, bytes.length, type)).toEqual(v);
    }), { seed: 7, numRuns: 300 });
  });

  it('integers use the smallest of 1, 2, 4, 8 bytes', () => {
    fc.assert(fc.property(arbInteger, (v) => {
      const n = encodeTlvValue(v, 'integer').length;
      const b = BigInt(v);
      const fits = (bytes: number): boolean => b >= -(2n ** BigInt(8 * bytes - 1)) && b < 2n ** BigInt(8 * bytes - 1);
      expect(fits(n)).toBe(true);
      const smaller = [1, 2, 4, 8].filter((s) => s < n);
      for (const s of smaller) expect(fits(s)).toBe(false);
    }), { seed: 8, numRuns: 300 });
  });
});

// ---- node round trips -----------------------------------------------------------------------------

const typeOf = (rid: number): ValueType => TYPES[rid >= MULTI_BASE ? rid - MULTI_BASE : rid] as ValueType;
const RIDS = TYPES.flatMap((_t, i) => [i, MULTI_BASE + i]);

const arbInstances = (type: ValueType): fc.Arbitrary<Map<number, ResourceValue>> =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: 65535 }), ARB[type]), { maxLength: 4 }).map((es) => new Map(es));

const arbResource = (rid: number): fc.Arbitrary<ResourceNode> =>
  rid >= MULTI_BASE
    ? arbInstances(typeOf(rid)).map((m) => multipleResource(rid, m))
    : ARB[typeOf(rid)].map((v) => resource(rid, v));

const arbInstance = (iid: number): fc.Arbitrary<ObjectInstanceNode> =>
  fc.shuffledSubarray(RIDS, { maxLength: 8 })
    .chain((rids) => fc.tuple(...rids.map(arbResource)))
    .map((rs) => objectInstance(iid, rs));

const arbObject = fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 3 })
  .chain((iids) => fc.tuple(...iids.map(arbInstance)))
  .map((insts) => objectNode(9000, insts));

/** The same trees with every value as opaque bytes (what a model-less decode yields). */
const arbOpaqueInstance = fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 6 })
  .chain((rids) => fc.tuple(...rids.map((rid) => fc.oneof(
    fc.uint8Array({ maxLength: 12 }).map((v): ResourceNode => resource(rid, v)),
    fc.array(fc.tuple(fc.integer({ min: 0, max: 65535 }), fc.uint8Array({ maxLength: 12 })), { maxLength: 3 })
      .map((es): ResourceNode => multipleResource(rid, new Map(es))),
  ))))
  .map((rs) => objectInstance(7, rs));

function roundTrip(node: LwM2MNode, c: CodecContext): void {
  const bytes = tlvCodec.encode(node, c);
  const back = tlvCodec.decode(bytes, c);
  expect(back).toEqual(node);
  // Canonical: re-encoding the decoded node gives the same bytes.
  expect(toHex(tlvCodec.encode(back, c))).toBe(toHex(bytes));
}

describe('TLV node round trips (fast-check, model built in the test)', () => {
  it('object level', () => {
    fc.assert(fc.property(arbObject, (obj) => roundTrip(obj, ctx('/9000'))), { seed: 1, numRuns: 200 });
  });

  it('instance level', () => {
    fc.assert(fc.property(arbInstance(4), (inst) => roundTrip(inst, ctx('/9000/4'))), { seed: 2, numRuns: 300 });
  });

  it.each(RIDS)('resource level, resource %i', (rid) => {
    fc.assert(fc.property(arbResource(rid), (r) => roundTrip(r, ctx(`/9000/1/${rid}`))), { seed: 3, numRuns: 100 });
  });

  it.each(TYPES)('resource instance level, %s', (type) => {
    const rid = MULTI_BASE + TYPES.indexOf(type);
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), ARB[type], (riid, v) =>
      roundTrip(resourceInstance(riid, v), ctx(`/9000/1/${rid}/${riid}`))), { seed: 4, numRuns: 100 });
  });

  it('without a model (opaque values, multiplicity from the TLV type)', () => {
    fc.assert(fc.property(arbOpaqueInstance, (inst) => roundTrip(inst, ctx('/42/7', false))), { seed: 5, numRuns: 300 });
  });

  it('an instance node encoded for a Create on the object path is wrapped in its instance TLV', () => {
    const inst = objectInstance(5, [resource(9, 100)]);
    const bytes = tlvCodec.encode(inst, ctx('/3'));
    expect(toHex(bytes)).toBe('0305C10964'); // 00 0 00 011: instance, 8-bit id, length 3
    expect(tlvCodec.decode(bytes, ctx('/3/5'))).toEqual(inst);
  });

  it('sorts resources and instances by id on the wire', () => {
    const inst = objectInstance(0, [resource(10, 15), resource(9, 100)]);
    expect(toHex(tlvCodec.encode(inst, ctx('/3/0')))).toBe('C10964C10A0F');
    expect(toHex(tlvCodec.encode(multipleResource(6, new Map([[1, 5], [0, 1]])), ctx('/3/0/6')))).toBe('860641000141 0105'.replace(/\s+/g, ''));
  });
});

// ---- errors ---------------------------------------------------------------------------------------

describe('TLV decode errors (all LWM2M_BAD_TLV, 4.00)', () => {
  it.each<[string, string, string]>([
    ['truncated type byte + id', '/3/0', 'C8'],
    ['truncated 16-bit id', '/3/0', 'E1 00'],
    ['truncated length field', '/3/0', 'D8 00 00'],
    ['declared length beyond the payload', '/3/0', 'C8 00 14 4F'],
    ['huge 24-bit declared length', '/3/0', 'D8 00 FF FF FF'],
    ['child beyond its container', '/3/0', '83 06 42 00 01'],
    ['duplicate resource', '/3/0', 'C1 09 64 C1 09 64'],
    ['duplicate object instance', '/3', '08 00 03 C1 09 64 08 00 03 C1 09 64'],
    ['duplicate resource instance', '/3/0', '86 06 41 00 01 41 00 05'],
    ['object instance inside an object instance', '/3', '08 00 02 00 01'],
    ['resource instance at instance level', '/3/0', '41 00 01'],
    ['multiple resource containing a resource', '/3/0', '83 06 C1 00 01'],
    ['instance TLV id ≠ path', '/3/0', '08 01 03 C1 09 64'],
    ['two instance TLVs at instance level', '/3/0', '08 00 03 C1 09 64 08 01 00'],
    ['multiple resource TLV for a single resource', '/3/0', '83 09 41 00 01'],
    ['single resource TLV for a multiple resource', '/3/0', 'C1 06 01'],
    ['resource id ≠ path', '/3/0/9', 'C1 0A 0F'],
    ['bare instances for a single resource', '/3/0/9', '41 00 01'],
    ['empty payload for a single resource', '/3/0/9', ''],
    ['resource instance id ≠ path', '/3/0/6/1', '41 00 01'],
    ['two resource instances at resource instance level', '/3/0/6/0', '41 00 01 41 01 05'],
    ['resource TLV at resource instance level', '/3/0/6/0', 'C1 00 01'],
    ['empty payload at resource instance level', '/3/0/6/0', ''],
    ['instance of a single resource', '/3/0/9/0', '41 00 01'],
    ['bare resources for a multiple-instance object', '/1', 'C1 00 01'],
    ['mixed instance and resource TLVs at object level', '/3', '08 00 00 C1 09 64'],
    ['resource before instance at object level', '/3', 'C1 09 64 08 00 00'],
    ['bad value inside the tree', '/3/0', 'C1 09 64 C3 0A 000000'],
    ['root path', '/', 'C1 09 64'],
  ])('%s', (_name, path, bytes) => {
    const e = expectError(() => tlvCodec.decode(hex(bytes), ctx(path)), 'BAD_TLV');
    expect(e.coapCode).toBe('4.00');
  });

  it('ignores bits 2-0 of the type byte when a length field is present', () => {
    // 11 0 01 001: resource with value, 8-bit id, 8-bit length field (= 1); the trailing 001 is meaningless.
    expect(tlvCodec.decode(hex('C9 09 01 64'), ctx('/3/0/9'))).toEqual(resource(9, 100));
  });

  it('errors name the byte offset', () => {
    const e = expectError(() => tlvCodec.decode(hex('C1 09 64 C8 00 14 4F'), ctx('/3/0')), 'BAD_TLV');
    expect(e.location).toBe('byte 3');
  });

  it('an empty payload is an empty instance / object / multiple resource', () => {
    expect(tlvCodec.decode(new Uint8Array(), ctx('/3/0'))).toEqual(objectInstance(0, []));
    expect(tlvCodec.decode(new Uint8Array(), ctx('/3'))).toEqual(objectNode(3, []));
    expect(tlvCodec.decode(new Uint8Array(), ctx('/3/0/6'))).toEqual(multipleResource(6, []));
  });

  it('decodes from a Buffer / a subarray with a non-zero byteOffset', () => {
    const backing = Buffer.from(`FFFF${DEVICE_RESOURCES.replace(/\s+/g, '')}`, 'hex');
    expect(tlvCodec.decode(backing.subarray(2), ctx('/3/0'))).toEqual(DEVICE_INSTANCE);
    const opaque = tlvCodec.decode(Buffer.from('C5050102030405', 'hex'), ctx('/9000/0/5'));
    expect((opaque as { value: Uint8Array }).value.constructor).toBe(Uint8Array);
  });
});

describe('TLV encode errors', () => {
  it.each<[string, LwM2MNode, string, ErrorKind]>([
    ['a string for an integer resource', resource(9, 'x'), '/3/0/9', 'BAD_VALUE'],
    ['an integer beyond int64', resource(9, 2n ** 63n), '/3/0/9', 'BAD_VALUE'],
    ['a negative unsigned', resource(2, -1), '/9000/0/2', 'BAD_VALUE'],
    ['a single node for a multiple resource', resource(6, 1), '/3/0/6', 'BAD_VALUE'],
    ['a multiple node for a single resource', multipleResource(9, [1]), '/3/0/9', 'BAD_VALUE'],
    ['a node id ≠ the path', resource(10, 1), '/3/0/9', 'BAD_VALUE'],
    ['an instance node at resource level', objectInstance(0, []), '/3/0/9', 'BAD_VALUE'],
    ['an objlnk id beyond 65535', resource(7, { objectId: 70000, instanceId: 0 }), '/9000/0/7', 'BAD_VALUE'],
    ['an invalid date', resource(13, new Date(NaN)), '/3/0/13', 'BAD_VALUE'],
    ['an instance of a single resource', resourceInstance(0, 1), '/3/0/9/0', 'BAD_VALUE'],
    ['a resource instance id beyond 65535', multipleResource(6, { 70000: 1 }), '/3/0/6', 'BAD_VALUE'],
    ['the root path', objectNode(3, []), '/', 'NOT_ACCEPTABLE'],
  ])('rejects %s', (_name, node, path, kind) => {
    expectError(() => tlvCodec.encode(node, ctx(path)), kind);
  });

  it('a value beyond the 24-bit length field → LWM2M_ENTITY_TOO_LARGE', () => {
    expectError(() => tlvCodec.encode(resource(5, new Uint8Array(TLV_MAX_LENGTH + 1)), ctx('/9000/0/5')), 'ENTITY_TOO_LARGE');
  });

  it('accepts loose inputs the model types allow', () => {
    expect(toHex(tlvCodec.encode(resource(13, 1367491215), ctx('/3/0/13')))).toBe('C40D5182428F');
    expect(toHex(tlvCodec.encode(resource(2, 5.0), ctx('/65/0/2')))).toBe('C10205');
    expect(toHex(tlvCodec.encode(resource(2, '67:0'), ctx('/66/0/2')))).toBe('C40200430000');
  });
});

// ---- fuzz -----------------------------------------------------------------------------------------

describe('TLV fuzz: any bytes → a node or LWM2M 4.00', () => {
  const specSeeds = [DEVICE_RESOURCES, DEVICE_WITH_INSTANCE, ACL_OBJECT, SERVER_OBJECT, OBJ65_INSTANCE, OBJ66_OBJECT,
    '86 06 41 00 01 41 01 05', 'C800144F70656E204D6F62696C6520416C6C69616E6365', '42011388', 'F0012C03414243']
    .map(hex);
  const sampled = (arb: fc.Arbitrary<LwM2MNode>, path: string): Uint8Array[] =>
    fc.sample(arb, { seed: 11, numRuns: 10 }).map((n) => tlvCodec.encode(n, ctx(path)));
  it.each<[string, boolean, () => Uint8Array[]]>([
    ['/3', true, () => []],
    ['/3/0', true, () => []],
    ['/3/0/6', true, () => []],
    ['/3/0/6/0', true, () => [hex('41 00 01'), hex('42 00 0ED8')]],
    ['/2', true, () => []],
    ['/66', true, () => []],
    ['/65/0', true, () => []],
    ['/9000', true, () => sampled(arbObject, '/9000')],
    ['/9000/1', true, () => sampled(arbInstance(1), '/9000/1')],
    ['/9000/1/3', true, () => sampled(arbResource(3), '/9000/1/3')],
    ['/9000/1/306', true, () => sampled(arbResource(306), '/9000/1/306')],
    ['/9000/1/303/0', true, () => sampled(ARB.float.map((v) => resourceInstance(0, v)), '/9000/1/303/0')],
    ['/3/0', false, () => []],
    ['/42', false, () => []],
    ['/42/0/1', false, () => [hex('C1 01 00'), hex('83 01 41 00 01')]],
  ])('%s (models: %s)', (path, withModels, extraSeeds) => {
    const c = ctx(path, withModels);
    const { ok, rejected } = fuzzDecoder((input) => tlvCodec.decode(input, c), [...specSeeds, ...extraSeeds()]);
    expect(ok + rejected).toBe(10_000);
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});
