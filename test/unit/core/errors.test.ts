import { describe, expect, it } from 'vitest';
import { ErrorCodes, LwM2MError, decodeError, isLwM2MError } from '../../../src/core/errors.js';

describe('LwM2MError', () => {
  it('carries a stable code and the CoAP code', () => {
    const e = new LwM2MError('NOT_FOUND', 'no instance /3/1');
    expect(e.code).toBe('LWM2M_NOT_FOUND');
    expect(e.coapCode).toBe('4.04');
    expect(e.message).toBe('no instance /3/1');
    expect(isLwM2MError(e)).toBe(true);
    expect(isLwM2MError(new Error('x'))).toBe(false);
  });

  it('prefixes the location', () => {
    const e = decodeError('BAD_TLV', 'length exceeds payload', 17);
    expect(e.message).toBe('byte 17: length exceeds payload');
    expect(e.detail).toBe('length exceeds payload');
    expect(e.location).toBe('byte 17');
    expect(e.coapCode).toBe('4.00');
  });

  it('every code is unique and prefixed', () => {
    const codes = Object.values(ErrorCodes).map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^LWM2M_[A-Z_]+$/);
    expect(ErrorCodes.UNSUPPORTED_FORMAT.coap).toBe('4.15');
  });
});
