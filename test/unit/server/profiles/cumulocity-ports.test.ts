import { describe, expect, it } from 'vitest';
import { parseServerArgs } from '../../../../src/cli/server.js';
import { PORT_LAYOUTS, isPlatformProfileName } from '../../../../src/server/profiles/port-layouts.js';

describe('lwm2m-server --profile port layouts', () => {
  it('cumulocity: bootstrap 5683/5684, server 5783/5784 (DTLS listeners included)', () => {
    expect(parseServerArgs(['--profile', 'cumulocity'])).toMatchObject({ coapPort: 5783, coapsPort: 5784, bsCoapPort: 5683, bsCoapsPort: 5684 });
  });

  it('thingsboard: server 5685/5686, bootstrap 5687/5688', () => {
    expect(parseServerArgs(['--profile', 'thingsboard'])).toMatchObject({ coapPort: 5685, coapsPort: 5686, bsCoapPort: 5687, bsCoapsPort: 5688 });
  });

  it('explicit port flags override the layout; without a profile the defaults stay', () => {
    expect(parseServerArgs(['--profile', 'cumulocity', '--coap-port', '0', '--bs-coaps-port', '15684']))
      .toMatchObject({ coapPort: 0, coapsPort: 5784, bsCoapPort: 5683, bsCoapsPort: 15684 });
    const plain = parseServerArgs([]);
    expect(plain).toMatchObject({ coapPort: 5683, bsCoapPort: 5783 });
    expect(plain.coapsPort).toBeUndefined();
  });

  it('an unknown profile and a bad --max-queued are refused', () => {
    expect(() => parseServerArgs(['--profile', 'azure'])).toThrow(/profile/);
    expect(() => parseServerArgs(['--max-queued', '0'])).toThrow(/--max-queued/);
    expect(parseServerArgs(['--max-queued', '5']).maxQueued).toBe(5);
  });

  it('one table for both platforms', () => {
    expect(Object.keys(PORT_LAYOUTS).sort()).toEqual(['cumulocity', 'thingsboard']);
    expect(isPlatformProfileName('cumulocity')).toBe(true);
    expect(isPlatformProfileName('toString')).toBe(false);
  });
});
