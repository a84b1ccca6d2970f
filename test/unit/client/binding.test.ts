import { describe, expect, it } from 'vitest';
import { LWM2M_1_0_BINDINGS, bindingProblem, bindingQuery, parseBinding } from '../../../src/client/binding.js';

describe('bindings (LwM2M 1.0.2 §5.3.1.1, 1.1 §6.2.1.1)', () => {
  it('1.0 accepts exactly U, UQ, S, SQ, US, UQS', () => {
    for (const b of LWM2M_1_0_BINDINGS) expect(bindingProblem(b, '1.0')).toBeUndefined();
    for (const b of ['T', 'UT', 'N', 'QU', 'USQ', 'UU', '']) expect(bindingProblem(b, '1.0')).toMatch(/not an LwM2M 1\.0 binding/);
  });

  it('1.1 refuses UQS (queue mode covers every transport) and names the clause; accepts the others', () => {
    expect(bindingProblem('UQS', '1.1')).toMatch(/LwM2M 1\.0 only.*1\.1 §6\.2\.1\.1.*Transport 1\.1 §5/);
    for (const b of ['U', 'UQ', 'S', 'SQ', 'US', 'UT', 'USQ']) expect(bindingProblem(b, '1.1'), b).toBeUndefined();
    expect(bindingProblem('UX', '1.1')).toMatch(/not a combination/);
  });

  it('registration parameters: 1.0 keeps Q inside b=, 1.1 sends a bare Q; sms= only with an S binding', () => {
    const q10 = (b: string, sms?: string): string[] => bindingQuery(parseBinding(b), '1.0', sms);
    expect(q10('U', '+33600')).toEqual(['b=U']);
    expect(q10('UQ')).toEqual(['b=UQ']);
    expect(q10('S', '+33600')).toEqual(['b=S', 'sms=+33600']);
    expect(q10('SQ', '+33600')).toEqual(['b=SQ', 'sms=+33600']);
    expect(q10('US', '+33600')).toEqual(['b=US', 'sms=+33600']);
    expect(q10('UQS', '+33600')).toEqual(['b=UQS', 'sms=+33600']);
    expect(bindingQuery(parseBinding('UQ'), '1.1')).toEqual(['b=U', 'Q']);
    expect(bindingQuery(parseBinding('SQ'), '1.1', '+1')).toEqual(['b=S', 'Q', 'sms=+1']);
  });
});
