import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LwM2MError } from '../../../../src/core/errors.js';
import { encodeFirmwareImage } from '../../../../src/fota/image.js';
import type { IncomingCoapRequest } from '../../../../src/coap/types.js';
import { coapImageHandler, type ImageServed } from '../../../../src/server/fota/coap-images.js';
import { FirmwareImageStore, ImageStoreError, isImageStoreError } from '../../../../src/server/fota/image-store.js';
import { parseRange } from '../../../../src/server/http/routes/firmware.js';
import { fuzzDecoder } from '../../../helpers/fuzz.js';

const img = (version: string, size = 3000): Buffer => encodeFirmwareImage({ name: 'pkg', version, body: Buffer.alloc(size, 0xab) });

function get(segments: string[], block2?: { num: number; more: boolean; szx: number }, query: string[] = []): IncomingCoapRequest {
  return {
    method: 'GET', pathSegments: segments, path: `/${segments.join('/')}`, query, payload: Buffer.alloc(0), contentFormat: undefined,
    accept: undefined, observe: undefined, block2, token: Buffer.from([1]), confirmable: true, source: { address: '127.0.0.1', port: 9 },
    observation: undefined,
  };
}

describe('FirmwareImageStore', () => {
  it('validates, content-addresses and finds images by id, name@version and file name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fw-store-'));
    try {
      await writeFile(join(dir, 'b.img'), img('2'));
      await writeFile(join(dir, 'bad.img'), Buffer.from('LWFW'));
      const s = new FirmwareImageStore({ directory: dir, maxImages: 3 });
      const a = s.add(img('1'));
      expect(a.id).toMatch(/^[0-9a-f]{16}$/);
      expect(a.sha256.startsWith(a.id)).toBe(true);
      expect(a.etag.toString('hex')).toBe(a.id);
      expect(s.add(img('1'))).toBe(a);
      expect(s.get('pkg@1')).toBe(a);
      expect((await s.resolve('b.img')).version).toBe('2');
      expect(s.get('b.img')?.fileName).toBe('b.img');
      await expect(s.resolve('bad.img')).rejects.toMatchObject({ code: 'FOTA_BAD_IMAGE', httpStatus: 400, updateResult: 5 });
      await expect(s.resolve('../etc/passwd')).rejects.toMatchObject({ code: 'FOTA_IMAGE_NOT_FOUND', httpStatus: 404 });
      await expect(s.resolve('missing.img')).rejects.toMatchObject({ code: 'FOTA_IMAGE_NOT_FOUND' });
      expect(() => s.add(Buffer.from('nope'))).toThrow(ImageStoreError);
      s.add(img('3'));
      expect(() => s.add(img('4'))).toThrow(/maximum of 3 images/);
      expect(s.delete(a.id)).toBe(true);
      expect(s.list().map((i) => i.version).sort()).toEqual(['2', '3']);
      expect(s.build({ name: 'x', version: '9', body: Buffer.from('hi') }).bodySize).toBe(2);
      expect(() => s.build({ name: '', version: '9', body: Buffer.from('hi') })).toThrow(ImageStoreError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never crashes on arbitrary bytes (fuzz)', () => {
    const s = new FirmwareImageStore({ maxImages: 100_000, maxBytes: 1e9 });
    const r = fuzzDecoder((b) => {
      try {
        return s.add(b);
      } catch (e) {
        if (isImageStoreError(e) && e.code === 'FOTA_BAD_IMAGE') throw new LwM2MError('BAD_REQUEST', e.message);
        throw e;
      }
    }, [img('1', 40), img('2', 0)], { runs: 3000, seed: 5 });
    expect(r.rejected).toBeGreaterThan(0);
  });
});

describe('/fw/{id} over CoAP (Block2)', () => {
  const store = new FirmwareImageStore();
  const image = store.add(img('1', 3000));
  const small = store.add(img('2', 100));
  const served: ImageServed[] = [];
  const handle = coapImageHandler(store, { onServed: (e) => served.push(e) });

  it('cuts the block the client asks for at its SZX, with ETag, Size2 on block 0, More until the end', () => {
    const r0 = handle(get(['fw', image.id], { num: 0, more: false, szx: 2 }, ['ep=dev9']));
    expect(r0).toMatchObject({ code: '2.05', contentFormat: 42, block2: { num: 0, more: true, szx: 2 } });
    expect(r0.etag?.equals(image.etag)).toBe(true);
    expect(r0.options?.[0]?.number).toBe(28);
    expect(Buffer.from(r0.payload as Buffer).equals(image.data.subarray(0, 64))).toBe(true);
    expect(served.at(-1)).toMatchObject({ endpoint: 'dev9', end: 64 });
    const last = Math.ceil(image.size / 1024) - 1;
    const rl = handle(get(['fw', image.id], { num: last, more: false, szx: 6 }));
    expect(rl.block2).toEqual({ num: last, more: false, szx: 6 });
    expect(Buffer.from(rl.payload as Buffer).equals(image.data.subarray(last * 1024))).toBe(true);
    expect(rl.options).toBeUndefined();
  });

  it('without a Block2 option: a small image whole, a large one from block 0 at the default size', () => {
    const whole = handle(get(['fw', small.id]));
    expect([whole.code, whole.block2, (whole.payload as Buffer).length]).toEqual(['2.05', undefined, small.size]);
    const first = handle(get(['fw', image.id]));
    expect(first.block2).toEqual({ num: 0, more: true, szx: 6 });
  });

  it('4.04 for an unknown image or path, 4.05 for other methods, 4.02 past the end', () => {
    expect(handle(get(['fw', 'nope'])).code).toBe('4.04');
    expect(handle(get(['fw'])).code).toBe('4.04');
    expect(handle(get(['fw', image.id, 'x'])).code).toBe('4.04');
    expect(handle({ ...get(['fw', image.id]), method: 'PUT' }).code).toBe('4.05');
    expect(handle(get(['fw', image.id], { num: 100, more: false, szx: 6 })).code).toBe('4.02');
  });
});

describe('parseRange (RFC 9110 §14.1.2)', () => {
  it('reads the three forms, 416 cases, ignores what it cannot use', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ start: 900, end: 999 });
    expect(parseRange('bytes=950-2000', 1000)).toEqual({ start: 950, end: 999 });
    expect(parseRange('bytes=-10', 1000)).toEqual({ start: 990, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ start: 0, end: 999 });
    expect(parseRange('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=-0', 1000)).toBe('unsatisfiable');
    expect(parseRange('bytes=5-1', 1000)).toBeUndefined();
    expect(parseRange('bytes=0-1,5-9', 1000)).toBeUndefined();
    expect(parseRange('items=0-1', 1000)).toBeUndefined();
  });

  it('never throws and stays within the representation (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 40 }), fc.nat(1e6), (h, size) => {
      const r = parseRange(h, size);
      if (r && r !== 'unsatisfiable') expect(r.start >= 0 && r.start <= r.end && r.end < size).toBe(true);
    }), { numRuns: 2000, seed: 3 });
    fc.assert(fc.property(fc.nat(1e6), fc.nat(1e6), fc.integer({ min: 1, max: 1e6 }), (a, b, size) => {
      const r = parseRange(`bytes=${a}-${b}`, size);
      if (r && r !== 'unsatisfiable') expect(r.start >= 0 && r.start <= r.end && r.end < size).toBe(true);
    }), { numRuns: 2000, seed: 4 });
  });
});
