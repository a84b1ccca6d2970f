import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath, parsePath } from '../../../src/core/path.js';
import {
  multipleResource, objectInstance, objectNode, recordsToNode, resource, resourceInstance, type PathValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import {
  RELATIVE_TIME_LIMIT, SENML_VERSION, nameToPath, nodeToSenML, pathsToSenML, pathValuesToNode, pathValuesToSenML, resolveSenML,
  senmlToNode, senmlToPaths, senmlToPathValues, type SenMLRecord,
} from '../../../src/codec/senml.js';

const res = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});
const obj = (id: number, resources: ResourceModel[]): ObjectModel => ({
  id, name: `o${id}`, version: '1.0', lwm2mVersion: '1.1', multiple: true, mandatory: false,
  resources: new Map(resources.map((r) => [r.id, r])),
});
const models: ModelLookup = {
  getObject: (id) => ({
    3: obj(3, [res(0, 'string'), res(6, 'integer', true), res(9, 'integer'), res(13, 'time')]),
    9000: obj(9000, [
      res(0, 'string'), res(1, 'integer'), res(2, 'unsignedInteger'), res(3, 'float'), res(4, 'boolean'),
      res(5, 'opaque'), res(6, 'time'), res(7, 'objlnk'), res(8, 'corelnk'), res(9, 'none'),
    ]),
  } as Record<number, ObjectModel>)[id],
};

/** Strips the undefined fields the encoders keep for a uniform record shape. */
const clean = (recs: SenMLRecord[]): SenMLRecord[] =>
  recs.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as SenMLRecord);
const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LwM2MError);
    expect((e as LwM2MError).coapCode).toBe('4.00');
    return (e as LwM2MError).code;
  }
  throw new Error('expected an LwM2MError');
};

describe('RFC 8428 §4.6 resolution', () => {
  it('§5.1.2 multiple data points: bn is prepended, bu applies where u is missing, bt + t, bver kept', () => {
    const pack: SenMLRecord[] = [
      { bn: 'urn:dev:ow:10e2073a0108006:', bt: 1.276020076001e9, bu: 'A', bver: 5, n: 'voltage', u: 'V', v: 120.1 },
      { n: 'current', t: -5, v: 1.2 },
      { n: 'current', t: -4, v: 1.3 },
      { n: 'current', t: -3, v: 1.4 },
      { n: 'current', t: -2, v: 1.5 },
      { n: 'current', t: -1, v: 1.6 },
      { n: 'current', v: 1.7 },
    ];
    const r = resolveSenML(pack);
    expect(r[0]).toEqual({ n: 'urn:dev:ow:10e2073a0108006:voltage', u: 'V', t: 1.276020076001e9, v: 120.1, bver: 5 });
    expect(r[1]).toEqual({ n: 'urn:dev:ow:10e2073a0108006:current', u: 'A', t: 1.276020076001e9 - 5, v: 1.2, bver: 5 });
    expect(r[6]).toEqual({ n: 'urn:dev:ow:10e2073a0108006:current', u: 'A', t: 1.276020076001e9, v: 1.7, bver: 5 });
  });

  it('§5.1.6 collection: a new bn applies to later records, the bt of the first record stays', () => {
    const r = resolveSenML([
      { bn: '2001:db8::2/', bt: 1.320078429e9, n: 'temperature', u: 'Cel', v: 25.2 },
      { n: 'humidity', u: '%RH', v: 30 },
      { bn: '2001:db8::1/', n: 'temperature', u: 'Cel', v: 12.3 },
      { n: 'humidity', u: '%RH', v: 67 },
    ]);
    expect(r.map((x) => [x.n, x.t])).toEqual([
      ['2001:db8::2/temperature', 1.320078429e9], ['2001:db8::2/humidity', 1.320078429e9],
      ['2001:db8::1/temperature', 1.320078429e9], ['2001:db8::1/humidity', 1.320078429e9],
    ]);
  });

  it('§4.5.3 relative times are made absolute only against a given "now"', () => {
    const pack: SenMLRecord[] = [{ n: 'x', v: 1 }, { n: 'x', t: -5, v: 2 }, { n: 'x', t: 0, v: 3 }, { n: 'x', t: RELATIVE_TIME_LIMIT, v: 4 }];
    expect(resolveSenML(pack).map((r) => r.t)).toEqual([undefined, -5, 0, RELATIVE_TIME_LIMIT]);
    const now = (): number => 1_700_000_000_000;
    expect(resolveSenML(pack, { now }).map((r) => r.t)).toEqual([undefined, 1_699_999_995, 1_700_000_000, RELATIVE_TIME_LIMIT]);
  });

  it('§4.5.4 base value is added to v', () => {
    expect(resolveSenML([{ n: 'a', bv: 10, v: 1.5 }, { n: 'b', v: 2n ** 60n }, { n: 'c', bv: 0.5, v: 2n ** 60n }]).map((r) => r.v)).toEqual([11.5, 2n ** 60n + 10n, 2 ** 60 + 0.5]);
    expect(resolveSenML([{ n: 'a', bv: 1, v: 2n ** 60n }])[0]?.v).toBe(2n ** 60n + 1n);
  });

  it('§4.4 version: above 10 or inconsistent is rejected; 10 is not reported in resolved records', () => {
    expect(resolveSenML([{ n: 'a', bver: SENML_VERSION, v: 1 }])[0]).toEqual({ n: 'a', v: 1 });
    expect(code(() => resolveSenML([{ n: 'a', bver: 11, v: 1 }]))).toBe('LWM2M_BAD_SENML');
    expect(code(() => resolveSenML([{ n: 'a', bver: 0, v: 1 }]))).toBe('LWM2M_BAD_SENML');
    expect(code(() => resolveSenML([{ n: 'a', v: 1 }, { n: 'b', bver: 5, v: 1 }]))).toBe('LWM2M_BAD_SENML');
    expect(resolveSenML([{ n: 'a', bver: 5, v: 1 }, { n: 'b', bver: 5, v: 1 }])).toHaveLength(2);
  });
});

describe('names ↔ LwM2M paths', () => {
  it.each(['/3', '/3/0', '/3/0/7', '/3/0/7/1', '/65535/65535/65535/65535', '/0/0/0'])('accepts %s', (n) => {
    expect(nameToPath(n)?.toString()).toBe(n);
  });
  it.each(['', '3/0/1', '/3/0/', '//3', '/3//0', '/65536', '/1/2/3/4/5', '/a', '/3/0/1 ', '/000001', 'urn:dev:ow:1'])(
    'rejects %j', (n) => {
      expect(nameToPath(n)).toBeUndefined();
    },
  );
  it('the root only where allowed', () => {
    expect(nameToPath('/')).toBeUndefined();
    expect(nameToPath('/', true)).toBe(LwM2MPath.ROOT);
  });
});

describe('records → LwM2M values', () => {
  const pv = (recs: SenMLRecord[], opts = {}): Array<[string, unknown, number | undefined]> =>
    senmlToPathValues(recs, { models, ...opts }).map((r) => [r.path.toString(), r.value, r.time]);

  it('maps each value field to the model type (LwM2M-TS-Core 1.1 §7.4.4)', () => {
    const out = pv([
      { bn: '/9000/0/', n: '0', vs: 'hi' }, { n: '1', v: -3 }, { n: '2', v: 2n ** 64n - 1n }, { n: '3', v: 1.5 },
      { n: '4', vb: true }, { n: '5', vd: new Uint8Array([1, 2]) }, { n: '6', v: 1367491215 }, { n: '7', vlo: '3:0' },
      { n: '8', vs: '</3/0>' },
    ]);
    expect(out.map((r) => r[1])).toEqual([
      'hi', -3, 2n ** 64n - 1n, 1.5, true, new Uint8Array([1, 2]), new Date(1367491215000),
      { objectId: 3, instanceId: 0 }, '</3/0>',
    ]);
  });

  it('without a model the field decides the type', () => {
    expect(senmlToPathValues([{ n: '/5/0/1', vlo: '65535:1' }, { n: '/5/0/2', v: 7 }]).map((r) => r.value)).toEqual([
      { objectId: 65535, instanceId: 1 }, 7,
    ]);
  });

  it('accepts an object link in vs for an Objlnk resource (interop)', () => {
    expect(pv([{ n: '/9000/0/7', vs: '1:2' }])[0]?.[1]).toEqual({ objectId: 1, instanceId: 2 });
  });

  it.each<[string, SenMLRecord[], string]>([
    ['no name', [{ v: 1 }], 'LWM2M_BAD_SENML'],
    ['a name that is not a path', [{ n: 'urn:dev:ow:10e2073a01080063', v: 1 }], 'LWM2M_BAD_SENML'],
    ['a value on an instance', [{ n: '/3/0', v: 1 }], 'LWM2M_BAD_SENML'],
    ['no value', [{ n: '/3/0/9' }], 'LWM2M_BAD_SENML'],
    ['two values', [{ n: '/3/0/9', v: 1, vs: '1' }], 'LWM2M_BAD_SENML'],
    ['a string for an integer', [{ n: '/3/0/9', vs: '1' }], 'LWM2M_BAD_VALUE'],
    ['a float for an integer', [{ n: '/3/0/9', v: 1.5 }], 'LWM2M_BAD_VALUE'],
    ['an integer beyond int64', [{ n: '/9000/0/1', v: 2n ** 63n }], 'LWM2M_BAD_VALUE'],
    ['a negative unsigned', [{ n: '/9000/0/2', v: -1 }], 'LWM2M_BAD_VALUE'],
    ['a bad object link', [{ n: '/9000/0/7', vlo: '3-0' }], 'LWM2M_BAD_VALUE'],
    ['a number for a boolean', [{ n: '/9000/0/4', v: 1 }], 'LWM2M_BAD_VALUE'],
  ])('rejects %s', (_what, recs, expected) => {
    expect(code(() => senmlToPathValues(recs, { models }))).toBe(expected);
  });

  it('Send: bt + t, relative times resolved against now (RFC 8428 §4.5.3)', () => {
    const send: SenMLRecord[] = [{ bn: '/3303/0/5700', bt: 1_700_000_000, v: 22.4 }, { t: -5, v: 22.9 }, { t: -30, v: 24.1 }];
    expect(pv(send).map((r) => r[2])).toEqual([1_700_000_000, 1_699_999_995, 1_699_999_970]);
    const relative: SenMLRecord[] = [{ bn: '/3303/0/5700', t: -10, v: 1 }, { v: 2 }];
    expect(pv(relative, { now: () => 1_000_000_000_000 }).map((r) => r[2])).toEqual([999_999_990, undefined]);
    expect(pv(relative).map((r) => r[2])).toEqual([-10, undefined]);
  });

  it('basePath restricts where records may point', () => {
    expect(code(() => senmlToPathValues([{ n: '/3/1/0', vs: 'x' }], { basePath: parsePath('/3/0') }))).toBe('LWM2M_BAD_SENML');
  });

  it('path-only records (composite requests)', () => {
    expect(senmlToPaths([{ n: '/' }, { bn: '/3/0/', n: '1' }, { n: '2' }, { bn: '/1' }]).map(String)).toEqual(['/', '/3/0/1', '/3/0/2', '/1']);
    expect(code(() => senmlToPaths([{ n: '/3/0/1', v: 1 }]))).toBe('LWM2M_BAD_SENML');
    expect(code(() => senmlToPaths([{ n: '/3/x' }]))).toBe('LWM2M_BAD_SENML');
  });

  it('node decode requires records under the request path', () => {
    expect(code(() => senmlToNode([{ n: '/3/1/0', vs: 'x' }], parsePath('/3/0'), models))).toBe('LWM2M_BAD_SENML');
    expect(code(() => senmlToNode([{ n: '/3/0/0', vs: 'x' }], LwM2MPath.ROOT, models))).toBe('LWM2M_BAD_REQUEST');
  });
});

describe('LwM2M → records (encoder choices)', () => {
  it('instance: bn is the request path with a trailing slash, names relative, path order', () => {
    const inst = objectInstance(0, [resource(9, 100), multipleResource(6, new Map([[1, 5], [0, 1]])), resource(0, 'OMA')]);
    expect(clean(nodeToSenML(parsePath('/3/0'), inst, models))).toEqual([
      { bn: '/3/0/', n: '0', vs: 'OMA' }, { n: '6/0', v: 1 }, { n: '6/1', v: 5 }, { n: '9', v: 100 },
    ]);
  });

  it('object, multiple resource, single resource, resource instance', () => {
    const o = objectNode(3, [objectInstance(1, [resource(9, 1)]), objectInstance(0, [resource(9, 2)])]);
    expect(clean(nodeToSenML(parsePath('/3'), o, models))).toEqual([{ bn: '/3/', n: '0/9', v: 2 }, { n: '1/9', v: 1 }]);
    expect(clean(nodeToSenML(parsePath('/3/0/6'), multipleResource(6, [1, 5]), models))).toEqual([{ bn: '/3/0/6/', n: '0', v: 1 }, { n: '1', v: 5 }]);
    expect(clean(nodeToSenML(parsePath('/3/0/0'), resource(0, 'x'), models))).toEqual([{ bn: '/3/0/0', vs: 'x' }]);
    expect(clean(nodeToSenML(parsePath('/3/0/6/1'), resourceInstance(1, 5), models))).toEqual([{ bn: '/3/0/6/1', v: 5 }]);
    expect(clean(nodeToSenML(parsePath('/3/0/13'), resource(13, new Date(1367491215000)), models))).toEqual([{ bn: '/3/0/13', v: 1367491215 }]);
  });

  it('rejects values the model type cannot hold, and mismatched nodes', () => {
    expect(code(() => nodeToSenML(parsePath('/3/0/9'), resource(9, 'x'), models))).toBe('LWM2M_BAD_VALUE');
    expect(code(() => nodeToSenML(parsePath('/3/0/9'), resource(8, 1), models))).toBe('LWM2M_BAD_VALUE');
  });

  const rv = (p: string, value: PathValue['value'], time?: number): PathValue =>
    time === undefined ? { path: parsePath(p), value } : { path: parsePath(p), value, time };

  it('composite: common prefix as bn, full names when objects differ, one record → n only', () => {
    expect(clean(pathValuesToSenML([rv('/3/0/0', 'a'), rv('/3/0/6/0', 1)], models))).toEqual([{ bn: '/3/0/', n: '0', vs: 'a' }, { n: '6/0', v: 1 }]);
    expect(clean(pathValuesToSenML([rv('/3/0/0', 'a'), rv('/1/0/1', 1)], models))).toEqual([{ n: '/3/0/0', vs: 'a' }, { n: '/1/0/1', v: 1 }]);
    expect(clean(pathValuesToSenML([rv('/3/0/0', 'a')], models))).toEqual([{ n: '/3/0/0', vs: 'a' }]);
  });

  it('Send: bt from the first record, t relative to it; same path → bn only', () => {
    const recs = [rv('/3303/0/5700', 22.4, 1_700_000_000), rv('/3303/0/5700', 22.9, 1_700_000_010), rv('/3303/0/5700', 23, 1_700_000_000)];
    expect(clean(pathValuesToSenML(recs))).toEqual([
      { bn: '/3303/0/5700', bt: 1_700_000_000, v: 22.4 }, { t: 10, v: 22.9 }, { v: 23 },
    ]);
  });

  it('Send: a time whose offset would not add back exactly starts a new bt', () => {
    const a = 1_700_000_000.1;
    const b = 1e-7;
    const recs = senmlToPathValues(pathValuesToSenML([rv('/1/0/1', 1, a), rv('/1/0/1', 2, b)]));
    expect(recs.map((r) => r.time)).toEqual([a, b]);
  });

  it('mixed timed and untimed records: absolute t, no bt', () => {
    const out = pathValuesToSenML([rv('/1/0/1', 1, 1_700_000_000), rv('/1/0/2', 2)]);
    expect(clean(out)).toEqual([{ bn: '/1/0/', n: '1', t: 1_700_000_000, v: 1 }, { n: '2', v: 2 }]);
    expect(senmlToPathValues(out).map((r) => r.time)).toEqual([1_700_000_000, undefined]);
  });

  it('paths: same naming rules, any depth', () => {
    expect(clean(pathsToSenML([parsePath('/3/0/1'), parsePath('/3/0/2'), parsePath('/1/0')]))).toEqual([{ n: '/3/0/1' }, { n: '/3/0/2' }, { n: '/1/0' }]);
    expect(clean(pathsToSenML([parsePath('/3/0'), parsePath('/3/0/1')]))).toEqual([{ bn: '/3/', n: '0' }, { n: '0/1' }]);
    const ps = [parsePath('/'), parsePath('/3/0/1'), parsePath('/3/0/1'), parsePath('/3/0/1/2')];
    expect(senmlToPaths(pathsToSenML(ps))).toEqual(ps);
    expect(senmlToPaths(pathsToSenML(ps.slice(1, 3)))).toEqual(ps.slice(1, 3));
  });
});

describe('pathValuesToNode ≡ recordsToNode (the shared builder it replaces on the decode path)', () => {
  const outcome = (fn: () => unknown): unknown => {
    try {
      return { ok: fn() };
    } catch (e) {
      return e instanceof LwM2MError ? { code: e.code, coap: e.coapCode, message: e.message } : { other: String(e) };
    }
  };
  const small = fc.integer({ min: 0, max: 2 });
  const pathArb = fc.oneof(
    fc.tuple(fc.constantFrom(3, 4), small).map(([o, i]) => LwM2MPath.of(o, i)),
    fc.tuple(fc.constantFrom(3, 4), small, fc.constantFrom(0, 6, 9)).map(([o, i, r]) => LwM2MPath.of(o, i, r)),
    fc.tuple(fc.constantFrom(3, 4), small, fc.constantFrom(0, 6, 9), small).map(([o, i, r, ri]) => LwM2MPath.of(o, i, r, ri)),
  );
  const targetArb = fc.oneof(
    fc.constantFrom(3, 4).map((o) => LwM2MPath.of(o)),
    pathArb,
    fc.constant(LwM2MPath.ROOT),
  );

  it('same node or same error, with and without a model', () => {
    fc.assert(fc.property(targetArb, fc.array(fc.tuple(pathArb, fc.integer()), { maxLength: 8 }), fc.boolean(), (target, recs, withModel) => {
      const records: PathValue[] = recs.map(([path, value]) => ({ path, value }));
      const m = withModel ? models : undefined;
      expect(outcome(() => pathValuesToNode(target, records, m))).toEqual(outcome(() => recordsToNode(target, records, m)));
    }), { numRuns: 3000, seed: 7 });
  });

  it('same node for valid records under the target (mostly valid inputs)', () => {
    fc.assert(fc.property(
      fc.constantFrom('/3', '/3/1', '/3/1/6', '/3/1/9'),
      fc.uniqueArray(fc.tuple(small, fc.constantFrom(0, 6, 9), small), { selector: (t) => t.join('/'), maxLength: 10 }),
      (t, ids) => {
        const target = parsePath(t);
        const records: PathValue[] = ids.map(([i, r, ri]) => ({ path: r === 6 ? LwM2MPath.of(3, i, r, ri) : LwM2MPath.of(3, i, r), value: i + r + ri }))
          .filter((pv) => target.contains(pv.path));
        expect(outcome(() => pathValuesToNode(target, records, models))).toEqual(outcome(() => recordsToNode(target, records, models)));
      },
    ), { numRuns: 1000, seed: 8 });
  });
});
