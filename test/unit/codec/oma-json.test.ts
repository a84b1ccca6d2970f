import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isLwM2MError, type LwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath, parsePath } from '../../../src/core/path.js';
import { omaJsonCodec as codec } from '../../../src/codec/oma-json.js';
import { formatObjectLink, normalizeInteger } from '../../../src/codec/values.js';
import {
  isObjectLink, multipleResource, nodeToRecords, objectInstance, objectNode, recordsToNode, resource,
  resourceInstance, type LwM2MNode, type ObjectInstanceNode, type PathValue, type ResourceNode, type ResourceValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';
import { DEVICE_INSTANCE } from '../../helpers/device-fixture.js';

// ---- test models ----------------------------------------------------------------------------------

const rm = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});
const objectModel = (id: number, resources: ResourceModel[], multiple = true): ObjectModel => ({
  id, name: `o${id}`, version: '1.0', lwm2mVersion: '1.1', multiple, mandatory: false,
  resources: new Map(resources.map((r) => [r.id, r])),
});
const DEVICE = objectModel(3, [
  rm(0, 'string'), rm(1, 'string'), rm(2, 'string'), rm(3, 'string'), rm(4, 'none'),
  rm(6, 'integer', true), rm(7, 'integer', true), rm(8, 'integer', true), rm(9, 'integer'), rm(10, 'integer'),
  rm(11, 'integer', true), rm(13, 'time'), rm(14, 'string'), rm(15, 'string'), rm(16, 'string'),
], false);
const TYPES: Array<[number, ResourceType, boolean]> = [
  [0, 'string', false], [1, 'integer', false], [2, 'unsignedInteger', false], [3, 'float', false],
  [4, 'boolean', false], [5, 'opaque', false], [6, 'time', false], [7, 'objlnk', false], [8, 'corelnk', false],
  [10, 'string', true], [11, 'integer', true], [12, 'unsignedInteger', true], [13, 'float', true],
  [14, 'boolean', true], [15, 'opaque', true], [16, 'time', true], [17, 'objlnk', true],
];
const TYPED = objectModel(9000, TYPES.map(([id, t, m]) => rm(id, t, m)));
const MODELS: ModelLookup = { getObject: (id) => (id === 3 ? DEVICE : id === 9000 ? TYPED : undefined) };

// ---- helpers --------------------------------------------------------------------------------------

const P = parsePath;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const recs = (list: PathValue[]): Array<[string, unknown, number?]> =>
  list.map((r) => (r.time === undefined ? [r.path.toString(), r.value] : [r.path.toString(), r.value, r.time]));

function lwm2mError(fn: () => unknown): LwM2MError {
  try {
    fn();
  } catch (e) {
    if (isLwM2MError(e)) return e;
    throw new Error(`expected an LwM2MError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected an LwM2MError, but the call returned');
}

function compareIds(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
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
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -70000, max: 70000 }).map((i) => i / 4));
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

const timeArb = fc.option(fc.oneof(fc.integer({ min: 0, max: 2_000_000_000 }), fc.double({ min: 0, max: 2e9, noNaN: true })), { nil: undefined });

const recordArb: fc.Arbitrary<PathValue> = fc.oneof(
  fc.constantFrom(...[...DEVICE.resources.values()].filter((r) => r.type !== 'none')).chain((r) =>
    fc.tuple(r.multiple ? idArb : fc.constant(-1), valueArb(r.type), timeArb).map(([riid, value, time]) => ({
      path: riid < 0 ? LwM2MPath.of(3, 0, r.id) : LwM2MPath.of(3, 0, r.id, riid), value, ...(time === undefined ? {} : { time }),
    }))),
  fc.tuple(idArb, fc.constantFrom(...TYPES)).chain(([iid, [rid, t, m]]) =>
    fc.tuple(m ? idArb : fc.constant(-1), valueArb(t), timeArb).map(([riid, value, time]) => ({
      path: riid < 0 ? LwM2MPath.of(9000, iid, rid) : LwM2MPath.of(9000, iid, rid, riid), value, ...(time === undefined ? {} : { time }),
    }))),
);
/** Unique paths, in path order (how decodeRecords returns them). */
const recordsArb = fc.uniqueArray(recordArb, { selector: (r) => r.path.toString(), maxLength: 12 })
  .map((list) => [...list].sort((a, b) => compareIds(a.path.ids, b.path.ids)));

/**
 * What a value looks like after a model-less decode (LwM2M-TS-Core 1.1 §7.4.5 value table read back
 * without types): Time comes back as the seconds number, Opaque as its base64 text; a whole number
 * beyond 2^53 comes back as the bigint its decimal text spells.
 */
function natural(v: ResourceValue): ResourceValue {
  if (v instanceof Date) return v.getTime() / 1000;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  // a whole number is written as its shortest decimal text, which reads back as that exact integer
  if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v) && Math.abs(v) < 1e21) return BigInt(String(v));
  return v;
}

// ---- the Device example ---------------------------------------------------------------------------


/*
 * The Device Object example of LwM2M-TS-Core 1.1 §7.4.5 (1.0 §6.4.4): GET /3/0 answered in JSON.
 * RECONSTRUCTED from the specification's example (bn "/3/0/", the entries and values as the example
 * lists them, in the same layout), not a byte-exact copy of the specification text.
 */
const SPEC_EXAMPLE = `{"bn":"/3/0/",
 "e":[
  {"n":"0","sv":"Open Mobile Alliance"},
  {"n":"1","sv":"Lightweight M2M Client"},
  {"n":"2","sv":"345000123"},
  {"n":"3","sv":"1.0"},
  {"n":"6/0","v":1},
  {"n":"6/1","v":5},
  {"n":"7/0","v":3800},
  {"n":"7/1","v":5000},
  {"n":"8/0","v":125},
  {"n":"8/1","v":900},
  {"n":"9","v":100},
  {"n":"10","v":15},
  {"n":"11/0","v":0},
  {"n":"13","v":1367491215},
  {"n":"14","sv":"+02:00"},
  {"n":"16","sv":"U"}]
}`;

describe('OMA JSON: the Device example (LwM2M-TS-Core 1.1 §7.4.5)', () => {
  const ctx = { path: P('/3/0'), models: MODELS };

  it('decodes the example into the Device instance', () => {
    expect(codec.decode(bytes(SPEC_EXAMPLE), ctx)).toEqual(DEVICE_INSTANCE);
  });

  it('encodes the instance as the example, without its whitespace', () => {
    expect(text(codec.encode(DEVICE_INSTANCE, ctx))).toBe(SPEC_EXAMPLE.replace(/\s*\n\s*/g, ''));
  });

  it('without a model the same payload still decodes (Time stays the seconds number)', () => {
    const node = codec.decode(bytes(SPEC_EXAMPLE), { path: P('/3/0') }) as ObjectInstanceNode;
    expect(node.resources.get(13)).toEqual(resource(13, 1367491215));
    expect(node.resources.get(6)).toEqual(multipleResource(6, [1, 5]));
  });

  it('as records, for a Send or a composite read', () => {
    const list = codec.decodeRecords(bytes(SPEC_EXAMPLE), { models: MODELS });
    expect(list).toHaveLength(16);
    expect(recs(list)).toEqual(recs(nodeToRecords(P('/3/0'), DEVICE_INSTANCE)));
  });
});

describe('OMA JSON: every level', () => {
  const models = MODELS;

  it('object, instance, single and multiple resource, resource instance', () => {
    const inst = objectInstance(0, [resource(9, 87), multipleResource(6, [1, 5])]);
    const cases: Array<[string, LwM2MNode, string]> = [
      ['/3', objectNode(3, [inst]), '{"bn":"/3/","e":[{"n":"0/6/0","v":1},{"n":"0/6/1","v":5},{"n":"0/9","v":87}]}'],
      ['/3/0', inst, '{"bn":"/3/0/","e":[{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"9","v":87}]}'],
      ['/3/0/9', resource(9, 87), '{"bn":"/3/0/9","e":[{"v":87}]}'],
      ['/3/0/6', multipleResource(6, [1, 5]), '{"bn":"/3/0/6/","e":[{"n":"0","v":1},{"n":"1","v":5}]}'],
      ['/3/0/6/1', resourceInstance(1, 5), '{"bn":"/3/0/6/1","e":[{"v":5}]}'],
      ['/3/0', objectInstance(0, []), '{"bn":"/3/0","e":[]}'],
    ];
    for (const [path, node, json] of cases) {
      const ctx = { path: P(path), models };
      expect(text(codec.encode(node, ctx))).toBe(json);
      expect(codec.decode(bytes(json), ctx)).toEqual(node);
    }
    expect(codec.decode(bytes('{"bn":"/3/0/6/","e":[]}'), { path: P('/3/0/6'), models })).toEqual(multipleResource(6, []));
  });

  it('value keys: sv, v, bv, ov; opaque as base64; Time as seconds', () => {
    const list: PathValue[] = [
      { path: P('/9000/0/0'), value: 'a"b\\c\n\u0001é' },
      { path: P('/9000/0/1'), value: -42 },
      { path: P('/9000/0/2'), value: UINT64_MAX },
      { path: P('/9000/0/3'), value: 1.5 },
      { path: P('/9000/0/4'), value: true },
      { path: P('/9000/0/5'), value: new Uint8Array([0, 1, 254, 255]) },
      { path: P('/9000/0/6'), value: new Date(1367491215000) },
      { path: P('/9000/0/7'), value: { objectId: 3, instanceId: 0 } },
      { path: P('/9000/0/8'), value: '</3/0>' },
    ];
    const json = text(codec.encodeRecords(list, { models }));
    expect(json).toBe('{"bn":"/9000/0/","e":[{"n":"0","sv":"a\\"b\\\\c\\n\\u0001é"},{"n":"1","v":-42},'
      + '{"n":"2","v":18446744073709551615},{"n":"3","v":1.5},{"n":"4","bv":true},{"n":"5","sv":"AAH+/w=="},'
      + '{"n":"6","v":1367491215},{"n":"7","ov":"3:0"},{"n":"8","sv":"</3/0>"}]}');
    expect(recs(codec.decodeRecords(bytes(json), { models }))).toEqual(recs(list));
  });

  it('large integers keep full precision both ways', () => {
    for (const v of [UINT64_MAX, INT64_MIN, 2n ** 53n + 1n, -(2n ** 53n) - 1n]) {
      const json = `{"bn":"/9/0/0","e":[{"v":${v}}]}`;
      expect(text(codec.encodeRecords([{ path: P('/9/0/0'), value: v }]))).toBe(json);
      expect(codec.decodeRecords(bytes(json))[0]?.value).toBe(v);
    }
    expect(codec.decodeRecords(bytes('{"bn":"/9/0/0","e":[{"v":9007199254740991}]}'))[0]?.value).toBe(Number.MAX_SAFE_INTEGER);
    expect(codec.decodeRecords(bytes('{"bn":"/9/0/0","e":[{"v":-0}]}'))[0]?.value).toBe(-0);
    expect(codec.decodeRecords(bytes('{"bn":"/9/0/0","e":[{"v":1.0e2}]}'))[0]?.value).toBe(100);
  });
});

describe('OMA JSON: names, base names and peers', () => {
  const models = MODELS;
  const at30 = { path: P('/3/0'), models };
  const expected = objectInstance(0, [resource(0, 'OMA'), multipleResource(6, [1])]);

  it.each([
    ['our form', '{"bn":"/3/0/","e":[{"n":"0","sv":"OMA"},{"n":"6/0","v":1}]}'],
    ['bn without trailing slash (joined with one "/")', '{"bn":"/3/0","e":[{"n":"0","sv":"OMA"},{"n":"6/0","v":1}]}'],
    ['names with a leading slash (wakaama strips it)', '{"bn":"/3/0","e":[{"n":"/0","sv":"OMA"},{"n":"/6/0","v":1}]}'],
    ['no bn: names relative to the request path (wakaama)', '{"e":[{"n":"0","sv":"OMA"},{"n":"6/0","v":1}]}'],
    ['bn "/" and full names', '{"bn":"/","e":[{"n":"3/0/0","sv":"OMA"},{"n":"3/0/6/0","v":1}]}'],
    ['members in another order', '{"e":[{"sv":"OMA","n":"0"}],"bn":"/3/0/"}'],
    ['whitespace everywhere', ' \t\r\n{ "bn" : "/3/0/" , "e" : [ { "n" : "0" , "sv" : "OMA" } , { "v" : 1 , "n" : "6/0" } ] }\n'],
    ['escaped characters in names', '{"bn":"\\/3\\/0\\/","e":[{"n":"\\u0030","sv":"OMA"},{"n":"6/0","v":1}]}'],
  ])('reads %s', (name, json) => {
    const node = codec.decode(bytes(json), at30);
    if (name.startsWith('members in another order')) expect(node).toEqual(objectInstance(0, [resource(0, 'OMA')]));
    else expect(node).toEqual(expected);
  });

  it('reads Leshan\'s object links sent as "sv" when the model says Objlnk', () => {
    const json = '{"bn":"/9000/0/7","e":[{"sv":"3:0"}]}';
    expect(codec.decodeRecords(bytes(json), { models })[0]?.value).toEqual({ objectId: 3, instanceId: 0 });
    expect(codec.decodeRecords(bytes(json))[0]?.value).toBe('3:0');
    expect(codec.decodeRecords(bytes('{"bn":"/9000/0/7","e":[{"ov":"3:0"}]}'))[0]?.value).toEqual({ objectId: 3, instanceId: 0 });
  });

  it('composite records take the longest common path as bn', () => {
    const list: PathValue[] = [{ path: P('/3/0/0'), value: 'OMA' }, { path: P('/5/0/3'), value: 1 }];
    expect(text(codec.encodeRecords(list, { models }))).toBe('{"bn":"/","e":[{"n":"3/0/0","sv":"OMA"},{"n":"5/0/3","v":1}]}');
    const same: PathValue[] = [{ path: P('/3/0/9'), value: 1 }, { path: P('/3/0/10'), value: 2 }];
    expect(text(codec.encodeRecords(same, { models }))).toBe('{"bn":"/3/0/","e":[{"n":"9","v":1},{"n":"10","v":2}]}');
    expect(text(codec.encodeRecords([]))).toBe('{"bn":"/","e":[]}');
    expect(codec.decodeRecords(bytes('{"bn":"/","e":[]}'))).toEqual([]);
  });

  it('path lists', () => {
    const paths = ['/3/0/1', '/5', '/', '/3/0/6/1'].map(P);
    const json = text(codec.encodePaths(paths));
    expect(json).toBe('{"e":[{"n":"/3/0/1"},{"n":"/5"},{"n":"/"},{"n":"/3/0/6/1"}]}');
    expect(codec.decodePaths(bytes(json)).map(String)).toEqual(paths.map(String));
    expect(codec.decodePaths(bytes('{"bn":"/3/0/","e":[{"n":"1"},{}]}')).map(String)).toEqual(['/3/0/1', '/3/0']);
    expect(lwm2mError(() => codec.encodePaths([P('/3'), P('/3')])).code).toBe('LWM2M_BAD_VALUE');
    for (const bad of ['{"e":[{"n":"/3","v":1}]}', '{"e":[{"n":"/3","t":1}]}', '{"bt":1,"e":[]}', '{"e":[{"n":"/3"},{"n":"3"}]}']) {
      expect(lwm2mError(() => codec.decodePaths(bytes(bad))).code).toBe('LWM2M_BAD_JSON');
    }
  });
});

describe('OMA JSON: time (bt + t)', () => {
  it('decodes base time plus relative time; no time when neither is present', () => {
    const json = '{"bn":"/3303/0/","bt":1700000000,"e":[{"n":"5700","v":20.5},{"n":"5700","v":21,"t":10},{"n":"5701","sv":"Cel","t":-5}]}';
    expect(recs(codec.decodeRecords(bytes(json)))).toEqual([
      ['/3303/0/5700', 20.5, 1700000000], ['/3303/0/5700', 21, 1700000010], ['/3303/0/5701', 'Cel', 1699999995],
    ]);
    expect(recs(codec.decodeRecords(bytes('{"bn":"/1/0/1","e":[{"v":1,"t":5}]}')))).toEqual([['/1/0/1', 1, 5]]);
    expect(codec.decodeRecords(bytes('{"bn":"/1/0/1","e":[{"v":1}]}'))[0]).not.toHaveProperty('time');
  });

  it('encodes bt = earliest time when all records are timed, absolute t when only some are', () => {
    const all: PathValue[] = [
      { path: P('/3303/0/5700'), value: 20.5, time: 1700000000 },
      { path: P('/3303/0/5700'), value: 21, time: 1700000010 },
    ];
    expect(text(codec.encodeRecords(all))).toBe('{"bn":"/3303/0/5700","bt":1700000000,"e":[{"v":20.5},{"v":21,"t":10}]}');
    const some: PathValue[] = [{ path: P('/1/0/1'), value: 1, time: 0 }, { path: P('/1/0/2'), value: 2 }];
    expect(text(codec.encodeRecords(some))).toBe('{"bn":"/1/0/","e":[{"n":"1","v":1,"t":0},{"n":"2","v":2}]}');
    expect(recs(codec.decodeRecords(codec.encodeRecords(some)))).toEqual([['/1/0/1', 1, 0], ['/1/0/2', 2]]);
  });

  it('a path may repeat at different times, never twice at the same time', () => {
    const dup = '{"bn":"/1/0/1","bt":5,"e":[{"v":1},{"v":2,"t":1},{"v":3}]}';
    expect(lwm2mError(() => codec.decodeRecords(bytes(dup))).code).toBe('LWM2M_BAD_JSON');
    expect(lwm2mError(() => codec.decodeRecords(bytes('{"bn":"/1/0/1","e":[{"v":1},{"v":2}]}'))).code).toBe('LWM2M_BAD_JSON');
    const twice: PathValue[] = [{ path: P('/1/0/1'), value: 1, time: 3 }, { path: P('/1/0/1'), value: 2, time: 3 }];
    expect(lwm2mError(() => codec.encodeRecords(twice)).code).toBe('LWM2M_BAD_VALUE');
    // a node read cannot hold a history
    expect(lwm2mError(() => codec.decode(bytes('{"bn":"/1/0/1","e":[{"v":1,"t":1},{"v":2,"t":2}]}'), { path: P('/1/0/1') })).coapCode).toBe('4.00');
  });
});

describe('OMA JSON: round trips (fast-check)', () => {
  it('every level, every type, with models', () => {
    fc.assert(fc.property(nodeArb, ({ path, node }) => {
      const ctx = { path, models: MODELS };
      const decoded = codec.decode(codec.encode(node, ctx), ctx);
      expect(decoded.kind).toBe(node.kind);
      expect(nodeToRecords(path, decoded).map((r) => [String(r.path), r.value]))
        .toEqual(nodeToRecords(path, node).map((r) => [String(r.path), r.value]));
    }), { numRuns: 1500, seed: 1 });
  });

  it('every level without models: the natural JSON value comes back', () => {
    const nonEmpty = nodeArb.filter(({ node }) => !(node.kind === 'multipleResource' && node.instances.size === 0));
    fc.assert(fc.property(nonEmpty, ({ path, node }) => {
      const decoded = codec.decode(codec.encode(node, { path }), { path });
      expect(nodeToRecords(path, decoded).map((r) => [String(r.path), r.value]))
        .toEqual(nodeToRecords(path, node).map((r) => [String(r.path), natural(r.value)]));
    }), { numRuns: 1000, seed: 2 });
  });

  it('timestamped multi-path records, with models', () => {
    fc.assert(fc.property(recordsArb, (list) => {
      const payload = codec.encodeRecords(list, { models: MODELS });
      expect(recs(codec.decodeRecords(payload, { models: MODELS }))).toEqual(recs(list));
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
    fc.assert(fc.property(recordsArb, fc.nat(), fc.integer({ min: 1, max: 4 }), fc.boolean(), (list, pick, depth, useModels) => {
      if (list.length === 0) return;
      const ids = (list[pick % list.length] as PathValue).path.ids;
      const target = LwM2MPath.of(...ids.slice(0, Math.min(depth, ids.length)));
      const models = useModels ? MODELS : undefined;
      const untimed = list.filter((r) => target.contains(r.path)).map((r) => ({ path: r.path, value: r.value }));
      const payload = codec.encodeRecords(untimed, { models });
      const direct = outcome(() => codec.decode(payload, { path: target, models }));
      const viaRecords = outcome(() => recordsToNode(target, codec.decodeRecords(payload, { models, basePath: target }), models));
      expect(direct).toEqual(viaRecords);
    }), { numRuns: 1000, seed: 6 });
  });
});

describe('OMA JSON: JSON.parse / JSON.stringify as independent oracle', () => {
  /** A tiny reference reader: the spec's rules applied to what JSON.parse gives. */
  function referenceRead(doc: unknown): Array<[string, unknown, number?]> {
    const d = doc as { bn?: string; bt?: number; e: Array<Record<string, unknown>> };
    const out: Array<[string, unknown, number?]> = [];
    for (const e of d.e) {
      const name = (e.n as string | undefined) ?? '';
      const base = d.bn ?? '/';
      const full = `${base.endsWith('/') ? base : `${base}/`}${name.replace(/^\//, '')}`.replace(/\/$/, '');
      const value = e.sv ?? e.v ?? e.bv ?? e.ov;
      const time = d.bt === undefined && e.t === undefined ? undefined : (d.bt ?? 0) + ((e.t as number | undefined) ?? 0);
      out.push(time === undefined ? [full, value] : [full, value, time]);
    }
    return out.sort((a, b) => compareIds(P(a[0]).ids, P(b[0]).ids));
  }

  it('our output parses with JSON.parse to what the records say', () => {
    fc.assert(fc.property(recordsArb, (list) => {
      const json = text(codec.encodeRecords(list, { models: MODELS }));
      const expected = list.map((r): [string, unknown, number?] => {
        const v = r.value;
        const shown = v instanceof Date ? v.getTime() / 1000 : v instanceof Uint8Array ? Buffer.from(v).toString('base64')
          : isObjectLink(v) ? formatObjectLink(v) : typeof v === 'bigint' ? Number(v) : v;
        return r.time === undefined ? [r.path.toString(), shown] : [r.path.toString(), shown, r.time];
      });
      expect(referenceRead(JSON.parse(json))).toEqual(expected);
    }), { numRuns: 1000, seed: 4 });
  });

  it('our decoder reads what JSON.stringify writes, whatever the layout and base name', () => {
    // JSON.stringify cannot write a bigint (nor keep -0): those values are left out here
    const plain = recordsArb.map((list) => list.filter((r) => typeof r.value !== 'bigint' && !Object.is(r.value, -0)));
    const docArb = fc.tuple(plain, fc.nat({ max: 4 }), fc.constantFrom(undefined, 1, '\t'), fc.boolean());
    fc.assert(fc.property(docArb, ([list, cut, indent, slash]) => {
      // a base name at a random depth of the common prefix, with or without its trailing slash
      const common = list.length === 0 ? [] : list.map((r) => r.path.ids).reduce((a, b) => {
        let k = 0;
        while (k < a.length && k < b.length && a[k] === b[k]) k++;
        return a.slice(0, k);
      });
      const base = common.slice(0, Math.min(cut, common.length));
      const bn = base.length === 0 ? '/' : `/${base.join('/')}${slash ? '/' : ''}`;
      const e = list.map((r) => {
        const rest = r.path.ids.slice(base.length).join('/');
        const v = r.value;
        const entry: Record<string, unknown> = rest === '' ? {} : { n: rest };
        if (typeof v === 'string') entry.sv = v;
        else if (typeof v === 'boolean') entry.bv = v;
        else if (typeof v === 'number') entry.v = v;
        else if (v instanceof Uint8Array) entry.sv = Buffer.from(v).toString('base64');
        else if (v instanceof Date) entry.v = v.getTime() / 1000;
        else if (isObjectLink(v)) entry.ov = formatObjectLink(v);
        if (r.time !== undefined) entry.t = r.time;
        return entry;
      });
      const json = JSON.stringify({ bn, e }, null, indent);
      expect(recs(codec.decodeRecords(bytes(json), { models: MODELS }))).toEqual(recs(list));
    }), { numRuns: 1000, seed: 5 });
  });
});

describe('OMA JSON: strict shape, 4.00 errors', () => {
  const shape: Array<[string, string]> = [
    ['empty payload', ''],
    ['null', 'null'],
    ['an array', '[]'],
    ['no "e"', '{}'],
    ['"e" not an array', '{"e":{}}'],
    ['an entry not an object', '{"e":[1]}'],
    ['unknown root member', '{"e":[],"x":1}'],
    ['repeated root member', '{"e":[],"e":[]}'],
    ['"bn" not a string', '{"bn":5,"e":[]}'],
    ['"bt" not a number', '{"bt":"1","e":[]}'],
    ['unknown entry member', '{"bn":"/3/0/","e":[{"n":"0","v":1,"x":2}]}'],
    ['two values', '{"bn":"/3/0/","e":[{"n":"0","v":1,"sv":"a"}]}'],
    ['no value', '{"bn":"/3/0/","e":[{"n":"0"}]}'],
    ['repeated "n"', '{"bn":"/3/0/","e":[{"n":"0","n":"1","v":1}]}'],
    ['"v" as a string', '{"bn":"/3/0/","e":[{"n":"0","v":"1"}]}'],
    ['"sv" as a number', '{"bn":"/3/0/","e":[{"n":"0","sv":1}]}'],
    ['"bv" as a string', '{"bn":"/3/0/","e":[{"n":"0","bv":"true"}]}'],
    ['"bv" as a number', '{"bn":"/3/0/","e":[{"n":"0","bv":1}]}'],
    ['"ov" as a number', '{"bn":"/3/0/","e":[{"n":"0","ov":3}]}'],
    ['"n" as a number', '{"bn":"/3/0/","e":[{"n":0,"v":1}]}'],
    ['"t" as a string', '{"bn":"/3/0/","e":[{"n":"0","v":1,"t":"1"}]}'],
    ['a nested object as value', '{"bn":"/3/0/","e":[{"n":"0","v":{}}]}'],
    ['null as value', '{"bn":"/3/0/","e":[{"n":"0","v":null}]}'],
    ['trailing comma in the array', '{"bn":"/3/0/","e":[{"n":"0","v":1},]}'],
    ['trailing comma in an object', '{"bn":"/3/0/","e":[{"n":"0","v":1,}]}'],
    ['trailing characters', '{"e":[]} x'],
    ['two documents', '{"e":[]}{"e":[]}'],
    ['single quotes', "{'e':[]}"],
    ['a comment', '{"e":[] /* c */}'],
    ['byte order mark', '\ufeff{"e":[]}'],
    ['raw control character in a string', '{"bn":"/3/0/","e":[{"n":"0","sv":"a\u0001b"}]}'],
    ['bad escape', '{"bn":"/3/0/","e":[{"n":"0","sv":"\\x41"}]}'],
    ['short \\u escape', '{"bn":"/3/0/","e":[{"n":"0","sv":"\\u41"}]}'],
    ['unterminated string', '{"bn":"/3/0/","e":[{"n":"0","sv":"abc'],
    ['leading zero', '{"bn":"/3/0/","e":[{"n":"0","v":01}]}'],
    ['bare dot', '{"bn":"/3/0/","e":[{"n":"0","v":1.}]}'],
    ['leading dot', '{"bn":"/3/0/","e":[{"n":"0","v":.5}]}'],
    ['empty exponent', '{"bn":"/3/0/","e":[{"n":"0","v":1e}]}'],
    ['lone minus', '{"bn":"/3/0/","e":[{"n":"0","v":-}]}'],
    ['plus sign', '{"bn":"/3/0/","e":[{"n":"0","v":+1}]}'],
    ['NaN', '{"bn":"/3/0/","e":[{"n":"0","v":NaN}]}'],
    ['Infinity', '{"bn":"/3/0/","e":[{"n":"0","v":Infinity}]}'],
    ['number beyond a double', '{"bn":"/3/0/","e":[{"n":"0","v":1e999}]}'],
    ['bn not absolute', '{"bn":"3/0/","e":[{"n":"0","v":1}]}'],
    ['bn with an empty segment', '{"bn":"//","e":[]}'],
    ['id with a leading zero', '{"bn":"/3/0/","e":[{"n":"00","v":1}]}'],
    ['id in bn with a leading zero', '{"bn":"/3/00/","e":[{"n":"0","v":1}]}'],
    ['id above 65535', '{"bn":"/3/0/","e":[{"n":"65536","v":1}]}'],
    ['path deeper than 4 levels', '{"bn":"/3/0/","e":[{"n":"1/2/3","v":1}]}'],
    ['empty segment in a name', '{"bn":"/3/0/","e":[{"n":"6//0","v":1}]}'],
    ['trailing slash in a name', '{"bn":"/3/0/","e":[{"n":"6/","v":1}]}'],
    ['non-digit id', '{"bn":"/3/0/","e":[{"n":"x","v":1}]}'],
    ['value at instance level', '{"bn":"/3/","e":[{"n":"0","v":1}]}'],
    ['a resource and its instance both valued', '{"bn":"/3/0/","e":[{"n":"6","v":1},{"n":"6/0","v":2}]}'],
    ['non-canonical base64 for Opaque', '{"bn":"/9000/0/","e":[{"n":"5","sv":"AQ"}]}'],
    ['base64 with a stray character', '{"bn":"/9000/0/","e":[{"n":"5","sv":"AQ==!"}]}'],
  ];

  it.each(shape)('%s', (_name, json) => {
    const e = lwm2mError(() => codec.decodeRecords(bytes(json), { models: MODELS }));
    expect(e.coapCode).toBe('4.00');
    expect(e.code).toBe('LWM2M_BAD_JSON');
  });

  it('entries outside the request path', () => {
    const json = '{"bn":"/4/0/","e":[{"n":"0","v":1}]}';
    for (const f of [
      () => codec.decode(bytes(json), { path: P('/3/0'), models: MODELS }),
      () => codec.decodeRecords(bytes(json), { basePath: P('/3') }),
      () => codec.decodeRecords(bytes('{"bn":"/3/0/","e":[{"n":"6/1","v":1}]}'), { basePath: P('/3/0/6/0') }),
    ]) {
      const e = lwm2mError(f);
      expect([e.code, e.coapCode]).toEqual(['LWM2M_BAD_JSON', '4.00']);
    }
    expect(lwm2mError(() => codec.decode(bytes('{"e":[]}'), { path: LwM2MPath.ROOT })).coapCode).toBe('4.00');
  });

  it('invalid UTF-8', () => {
    const e = lwm2mError(() => codec.decodeRecords(Uint8Array.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])));
    expect([e.code, e.coapCode]).toEqual(['LWM2M_BAD_JSON', '4.00']);
  });

  it('values the model rejects are 4.00 BAD_VALUE', () => {
    const bad = [
      '{"bn":"/3/0/","e":[{"n":"9","sv":"5"}]}', // integer as text
      '{"bn":"/3/0/","e":[{"n":"0","v":5}]}', // string as number
      '{"bn":"/3/0/","e":[{"n":"9","v":1.5}]}', // integer with a fraction
      '{"bn":"/9000/0/","e":[{"n":"2","v":-1}]}', // negative unsigned
      '{"bn":"/9000/0/","e":[{"n":"1","v":9223372036854775808}]}', // beyond int64
      '{"bn":"/9000/0/","e":[{"n":"7","ov":"3-0"}]}', // bad object link
      '{"bn":"/9000/0/","e":[{"n":"7","ov":"70000:0"}]}',
      '{"bn":"/9000/0/","e":[{"n":"4","v":1}]}', // boolean as number
      '{"bn":"/3/0/","e":[{"n":"6","v":1}]}', // single value for a multiple resource
    ];
    for (const json of bad) {
      const e = lwm2mError(() => codec.decode(bytes(json), { path: P(json.includes('9000') ? '/9000/0' : '/3/0'), models: MODELS }));
      expect([json, e.coapCode]).toEqual([json, '4.00']);
      expect(e.code).toBe('LWM2M_BAD_VALUE');
    }
    expect(lwm2mError(() => codec.decodeRecords(bytes('{"bn":"/1/0/1","e":[{"ov":"x"}]}'))).code).toBe('LWM2M_BAD_VALUE');
  });

  it('encode errors are 4.00 BAD_VALUE', () => {
    const ctx = { path: P('/3/0'), models: MODELS };
    const errors = [
      () => codec.encode(resource(1, 'x'), ctx),
      () => codec.encode(objectInstance(0, [resource(9, 'abc')]), ctx),
      () => codec.encodeRecords([{ path: P('/9000/0/3'), value: NaN }], { models: MODELS }),
      () => codec.encodeRecords([{ path: P('/9/0/0'), value: Infinity }]),
      () => codec.encodeRecords([{ path: P('/3/0'), value: 1 }]),
      () => codec.encodeRecords([{ path: P('/3/0/6'), value: 1 }, { path: P('/3/0/6/0'), value: 1 }]),
      () => codec.encodeRecords([{ path: P('/9/0/0'), value: 1, time: NaN }]),
      () => codec.encodeRecords([{ path: P('/9/0/0'), value: new Date(NaN) }]),
      () => codec.encodeRecords([{ path: P('/9/0/0'), value: { objectId: -1, instanceId: 0 } }]),
    ].map((f) => lwm2mError(f));
    for (const e of errors) expect([e.code, e.coapCode]).toEqual(['LWM2M_BAD_VALUE', '4.00']);
  });

  it('errors say where', () => {
    const e = lwm2mError(() => codec.decodeRecords(bytes('{"bn":"/3/0/","e":[{"n":"0","v":01}]}')));
    expect(e.location).toBe('char 33');
  });
});

describe('OMA JSON: fuzzing (every input returns or throws a 4.00 LwM2MError)', () => {
  const seeds = [
    bytes(SPEC_EXAMPLE),
    codec.encodeRecords([
      { path: P('/9000/1/5'), value: new Uint8Array([1, 2, 3]), time: 10 }, { path: P('/9000/1/16/2'), value: new Date(0), time: 12.5 },
      { path: P('/9000/2/3'), value: -1.5e-7 }, { path: P('/9000/2/7'), value: { objectId: 1, instanceId: 2 } },
      { path: P('/9000/2/0'), value: 'x\u00e9\\"\n' }, { path: P('/9000/2/2'), value: UINT64_MAX },
    ], { models: MODELS }),
    bytes('{"bn":"/3/0","e":[{"n":"/0","sv":"OMA"},{"n":"/6/0","v":1,"t":-1}],"bt":5}'),
    codec.encodePaths(['/3', '/3/0/1', '/5/0', '/'].map(P)),
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
    fuzzDecoder((input) => codec.decodeRecords(input, { models: MODELS, basePath: P('/9000') }), seeds, { seed: 77 });
    const r = fuzzDecoder((input) => codec.decodePaths(input), seeds, { seed: 78 });
    expect(r.ok).toBeGreaterThan(0);
  });
});
