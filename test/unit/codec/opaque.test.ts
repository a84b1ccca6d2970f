import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opaqueCodec } from '../../../src/codec/opaque.js';
import type { CodecContext } from '../../../src/codec/types.js';
import { LwM2MError, type ErrorKind } from '../../../src/core/errors.js';
import { parsePath } from '../../../src/core/path.js';
import {
  multipleResource, objectInstance, objectNode, resource, resourceInstance, type LwM2MNode,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel, ResourceType } from '../../../src/model/types.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

const rm = (id: number, type: ResourceType, multiple = false): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type,
});
/** Firmware Update (5): Package (0) is Opaque, Package URI (1) a String; 9 is a made-up multiple Opaque. */
const FIRMWARE: ObjectModel = {
  id: 5, name: 'Firmware Update', version: '1.0', lwm2mVersion: '1.0', multiple: false, mandatory: false,
  resources: new Map([[0, rm(0, 'opaque')], [1, rm(1, 'string')], [3, rm(3, 'integer')], [9, rm(9, 'opaque', true)]]),
};
const models: ModelLookup = { getObject: (id) => (id === 5 ? FIRMWARE : undefined) };
const ctx = (path: string, withModels = true): CodecContext => (withModels ? { path: parsePath(path), models } : { path: parsePath(path) });

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

describe('application/octet-stream (LwM2M-TS-Core 1.1 §7.4.2)', () => {
  it('carries the raw bytes of an opaque resource / resource instance', () => {
    const bytes = Uint8Array.of(0, 1, 2, 0xff);
    expect(opaqueCodec.encode(resource(0, bytes), ctx('/5/0/0'))).toEqual(bytes);
    expect(opaqueCodec.decode(bytes, ctx('/5/0/0'))).toEqual(resource(0, bytes));
    expect(opaqueCodec.decode(bytes, ctx('/5/0/9/3'))).toEqual(resourceInstance(3, bytes));
    expect(opaqueCodec.encode(resourceInstance(3, bytes), ctx('/5/0/9/3'))).toEqual(bytes);
    expect(opaqueCodec.decode(new Uint8Array(), ctx('/5/0/0'))).toEqual(resource(0, new Uint8Array()));
  });

  it('without a model any resource is opaque', () => {
    expect(opaqueCodec.decode(Uint8Array.of(7), ctx('/42/0/1', false))).toEqual(resource(1, Uint8Array.of(7)));
    expect(opaqueCodec.encode(resource(1, Uint8Array.of(7)), ctx('/42/0/1', false))).toEqual(Uint8Array.of(7));
  });

  it('copies: the decoded value and the encoded payload do not alias the input, and are plain Uint8Arrays', () => {
    const payload = Buffer.from([1, 2, 3]);
    const node = opaqueCodec.decode(payload, ctx('/5/0/0')) as { value: Uint8Array };
    payload[0] = 9;
    expect(node.value).toEqual(Uint8Array.of(1, 2, 3));
    expect(node.value.constructor).toBe(Uint8Array);
    const value = Buffer.from([4, 5]);
    const out = opaqueCodec.encode(resource(0, value), ctx('/5/0/0'));
    value[0] = 0;
    expect(out).toEqual(Uint8Array.of(4, 5));
    expect(out.constructor).toBe(Uint8Array);
  });

  it('a non-opaque model type → 4.15 on decode, NOT_ACCEPTABLE on encode', () => {
    expect(expectError(() => opaqueCodec.decode(Uint8Array.of(1), ctx('/5/0/1')), 'UNSUPPORTED_FORMAT').coapCode).toBe('4.15');
    expect(expectError(() => opaqueCodec.decode(Uint8Array.of(1), ctx('/5/0/3')), 'UNSUPPORTED_FORMAT').coapCode).toBe('4.15');
    expect(expectError(() => opaqueCodec.encode(resource(1, 'x'), ctx('/5/0/1')), 'NOT_ACCEPTABLE').coapCode).toBe('4.06');
    expectError(() => opaqueCodec.encode(resource(1, Uint8Array.of(1)), ctx('/5/0/1')), 'NOT_ACCEPTABLE');
  });

  it('a non-bytes value without a model → NOT_ACCEPTABLE', () => {
    expectError(() => opaqueCodec.encode(resource(1, 'x'), ctx('/42/0/1', false)), 'NOT_ACCEPTABLE');
    expectError(() => opaqueCodec.encode(resource(1, 5), ctx('/42/0/1', false)), 'NOT_ACCEPTABLE');
  });

  it.each<[string, LwM2MNode, string]>([
    ['an object', objectNode(5, []), '/5'],
    ['an instance', objectInstance(0, []), '/5/0'],
    ['a multiple resource', multipleResource(9, [Uint8Array.of(1)]), '/5/0/9'],
  ])('encode of %s → NOT_ACCEPTABLE', (_n, node, path) => {
    expectError(() => opaqueCodec.encode(node, ctx(path)), 'NOT_ACCEPTABLE');
  });

  it.each(['/', '/5', '/5/0', '/5/0/9', '/5/0/0/1'])('decode at %s → 4.15', (path) => {
    expectError(() => opaqueCodec.decode(Uint8Array.of(1), ctx(path)), 'UNSUPPORTED_FORMAT');
  });

  it('round-trips any bytes (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), (b, asInstance) => {
      const [node, c] = asInstance ? [resourceInstance(2, b), ctx('/5/0/9/2')] : [resource(0, b), ctx('/5/0/0')];
      expect(opaqueCodec.decode(opaqueCodec.encode(node, c), c)).toEqual(node);
    }), { seed: 31, numRuns: 500 });
  });

  it('fuzz: every input decodes for an opaque resource, every input is 4.15 for a string one', () => {
    const seeds = [Uint8Array.of(1, 2, 3), new Uint8Array()];
    const c = ctx('/5/0/0');
    const res = fuzzDecoder((input) => {
      const node = opaqueCodec.decode(input, c) as { value: Uint8Array };
      expect(node.value).toEqual(input);
      return node;
    }, seeds);
    expect(res.rejected).toBe(0);
    const s = ctx('/5/0/1');
    expect(fuzzDecoder((input) => opaqueCodec.decode(input, s), seeds).ok).toBe(0);
  });
});
