import { describe, expect, it } from 'vitest';
import { LwM2MError } from '../../../src/core/errors.js';
import { parsePath } from '../../../src/core/path.js';
import { ContentFormat, CONTENT_FORMAT_NAMES } from '../../../src/codec/content-format.js';
import {
  decode, decodePaths, decodePayload, decodeRecords, encode, encodePaths, encodeRecords, formatsForLevel, nodeCodecFor,
} from '../../../src/codec/dispatch.js';
import { loadBuiltinRegistry } from '../../../src/model/builtin.js';
import { multipleResource, objectInstance, resource } from '../../../src/model/node.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

const models = loadBuiltinRegistry().lookup({ 3: '1.0' });
const path = parsePath('/3/0');
const device = objectInstance(0, [resource(0, 'Open Mobile Alliance'), multipleResource(6, [1, 5]), resource(9, 87), resource(13, new Date(1367491215000))]);

describe('one dispatch by content-format number', () => {
  it('knows all 11 numbers (9 formats + 2 legacy)', () => {
    expect(Object.keys(CONTENT_FORMAT_NAMES).map(Number).sort((a, b) => a - b)).toEqual([0, 40, 42, 60, 110, 112, 1542, 1543, 11542, 11543, 11544]);
  });

  it.each([ContentFormat.TLV, ContentFormat.TLV_LEGACY, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.OMA_JSON, ContentFormat.OMA_JSON_LEGACY, ContentFormat.LWM2M_CBOR])(
    'format %i round-trips a /3/0 instance', (f) => {
      const bytes = encode(f, device, { path, models });
      expect(decode(f, bytes, { path, models })).toEqual(device);
      expect(decodePayload(f, bytes, { path, models })).toEqual({ kind: 'node', format: f, node: device });
    });

  it('legacy numbers use the same encoding as the registered ones', () => {
    expect(encode(ContentFormat.TLV_LEGACY, device, { path, models })).toEqual(encode(ContentFormat.TLV, device, { path, models }));
    expect(encode(ContentFormat.OMA_JSON_LEGACY, device, { path, models })).toEqual(encode(ContentFormat.OMA_JSON, device, { path, models }));
  });

  it.each([ContentFormat.TEXT, ContentFormat.CBOR])('single-value format %i carries one resource', (f) => {
    const ctx = { path: parsePath('/3/0/9'), models };
    expect(decode(f, encode(f, resource(9, 87), ctx), ctx)).toEqual(resource(9, 87));
  });

  it('opaque carries an opaque resource', () => {
    const ctx = { path: parsePath('/5/0/0'), models: loadBuiltinRegistry() };
    expect(decode(42, encode(42, resource(0, new Uint8Array([1, 2, 3])), ctx), ctx)).toEqual(resource(0, new Uint8Array([1, 2, 3])));
  });

  it('link format decodes to links', () => {
    const r = decodePayload(40, new TextEncoder().encode('</3/0>;pmin=10,</3/0/1>'), { path });
    expect(r.kind).toBe('links');
    if (r.kind === 'links') expect(r.links.map((l) => l.uri)).toEqual(['/3/0', '/3/0/1']);
  });

  it.each([ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR])('format %i carries composite records and path lists', (f) => {
    const records = [{ path: parsePath('/3/0/0'), value: 'OMA' }, { path: parsePath('/3/0/9'), value: 87 }];
    expect(decodeRecords(f, encodeRecords(f, records, models), models).map((r) => [r.path.toString(), r.value])).toEqual([['/3/0/0', 'OMA'], ['/3/0/9', 87]]);
    const paths = [parsePath('/3/0/0'), parsePath('/1')];
    expect(decodePaths(f, encodePaths(f, paths)).map(String).sort()).toEqual(['/1', '/3/0/0']);
  });

  it('unknown and non-node formats answer 4.15', () => {
    for (const f of [1, 41, 50, 9999, 40]) {
      let e: unknown;
      try {
        nodeCodecFor(f);
      } catch (err) {
        e = err;
      }
      expect(e).toBeInstanceOf(LwM2MError);
      expect((e as LwM2MError).coapCode).toBe('4.15');
    }
    expect(() => encodeRecords(ContentFormat.TLV, [], models)).toThrow(/cannot carry multiple paths/);
  });

  it('offers single-value formats only at resource level', () => {
    expect(formatsForLevel(parsePath('/3/0'))).not.toContain(ContentFormat.TEXT);
    expect(formatsForLevel(parsePath('/3/0/1'))).toContain(ContentFormat.TEXT);
  });

  it('fuzz: any (format, bytes) either decodes or fails with 4.00/4.15', () => {
    const formats = [0, 40, 42, 60, 110, 112, 1542, 1543, 11542, 11543, 11544, 7, 65535];
    const seeds = formats.flatMap((f) => {
      try {
        return [Uint8Array.from([f & 0xff, ...encode(f, device, { path, models })])];
      } catch {
        return [];
      }
    });
    const r = fuzzDecoder((input) => {
      const f = formats[(input[0] ?? 0) % formats.length] as number;
      return decodePayload(f, input.subarray(1), { path, models });
    }, seeds, { seed: 99 });
    expect(r.ok).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  });
});
