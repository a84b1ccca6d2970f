import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath, comparePaths, formatPath, parsePath, tryParsePath } from '../../../src/core/path.js';

describe('LwM2M paths', () => {
  it('parses every level', () => {
    expect(parsePath('/').level).toBe('root');
    expect(parsePath('').isRoot()).toBe(true);
    expect(parsePath('/3').ids).toEqual([3]);
    expect(parsePath('/3/0').level).toBe('instance');
    expect(parsePath('/3/0/7').level).toBe('resource');
    const p = parsePath('/3/0/7/1');
    expect(p.level).toBe('resourceInstance');
    expect([p.objectId, p.instanceId, p.resourceId, p.resourceInstanceId]).toEqual([3, 0, 7, 1]);
    expect(parsePath('3/0/').ids).toEqual([3, 0]);
    expect(parsePath('/65535/65535/65535/65535').ids).toEqual([65535, 65535, 65535, 65535]);
  });

  it.each([
    ['/3/x', 'segment "x" at level 2 is not a decimal id'],
    ['/65536', 'id 65536 at level 1 exceeds 65535'],
    ['//', 'empty segment at level 1'],
    ['/3//1', 'empty segment at level 2'],
    ['/1/2/3/4/5', '5 levels'],
    ['/-1', 'not a decimal id'],
    ['/3/0x1', 'not a decimal id'],
    ['/3/ 1', 'not a decimal id'],
    ['/123456', 'not a decimal id'],
  ])('rejects %s with a clear LWM2M_BAD_PATH error', (text, fragment) => {
    let err: unknown;
    try {
      parsePath(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LwM2MError);
    const e = err as LwM2MError;
    expect(e.code).toBe('LWM2M_BAD_PATH');
    expect(e.coapCode).toBe('4.00');
    expect(e.message).toContain(fragment);
    expect(e.message).toContain(text);
    expect(tryParsePath(text)).toBeUndefined();
  });

  it('LwM2MPath.of validates ids', () => {
    expect(() => LwM2MPath.of(3, 1.5)).toThrow(/not an integer/);
    expect(() => LwM2MPath.of(70000)).toThrow(LwM2MError);
    expect(() => LwM2MPath.of(1, 2, 3, 4, 5)).toThrow(/at most 4/);
  });

  it('formats, and format ∘ parse is the identity on canonical paths', () => {
    expect(formatPath(LwM2MPath.of(3, 0, 7, 1))).toBe('/3/0/7/1');
    expect(LwM2MPath.ROOT.toString()).toBe('/');
    expect(JSON.stringify({ p: LwM2MPath.of(5, 0) })).toBe('{"p":"/5/0"}');
    const ids = fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 });
    fc.assert(
      fc.property(ids, (arr) => {
        const text = arr.length === 0 ? '/' : `/${arr.join('/')}`;
        expect(parsePath(text).toString()).toBe(text);
        expect(parsePath(text).equals(LwM2MPath.of(...arr))).toBe(true);
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('parent / child / contains', () => {
    const r = parsePath('/3/0/7');
    expect(r.parent().toString()).toBe('/3/0');
    expect(r.parent().parent().parent().isRoot()).toBe(true);
    expect(LwM2MPath.ROOT.parent().isRoot()).toBe(true);
    expect(r.child(1).toString()).toBe('/3/0/7/1');
    expect(() => r.child(1).child(2)).toThrow(LwM2MError);
    expect(parsePath('/3').contains(parsePath('/3/0/1'))).toBe(true);
    expect(parsePath('/3/0/1').contains(parsePath('/3/0/1'))).toBe(true);
    expect(parsePath('/3/0/1').isDescendantOf(parsePath('/3/0/1'))).toBe(false);
    expect(parsePath('/3/0/1').isDescendantOf(parsePath('/3'))).toBe(true);
    expect(parsePath('/3/1').contains(parsePath('/3/0/1'))).toBe(false);
    expect(parsePath('/30').contains(parsePath('/3/0'))).toBe(false);
    expect(LwM2MPath.ROOT.contains(parsePath('/5/0/3'))).toBe(true);
  });

  it('compares numerically with parents first', () => {
    const sorted = ['/10', '/3/0/7/1', '/3', '/3/0/7', '/3/0/10', '/3/0/9', '/2/0', '/'].map(parsePath).sort(comparePaths).map(String);
    expect(sorted).toEqual(['/', '/2/0', '/3', '/3/0/7', '/3/0/7/1', '/3/0/9', '/3/0/10', '/10']);
  });
});
