import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { RegistrationService } from '../../../../src/server/registration/service.js';
import type { RegistrationRequest } from '../../../../src/server/registration/request.js';
import { pskBindingAuthorizer } from '../../../../src/server/security/authorizer.js';
import { PskStore } from '../../../../src/server/security/psk-store.js';

const utf8 = new TextEncoder();
const psks = new PskStore([
  { endpoint: 'dev-a', identity: 'id-a', key: Uint8Array.of(1) },
  { endpoint: 'dev-b', identity: 'id-b', key: Uint8Array.of(2) },
]);

type Sec = Pick<RegistrationRequest, 'transport' | 'pskIdentity'>;
const dtls = (pskIdentity?: string): Sec => (pskIdentity === undefined ? { transport: 'dtls' } : { transport: 'dtls', pskIdentity });
const src = { address: '127.0.0.1', port: 40000 };

function register(ep: string, sec: Sec = {}): RegistrationRequest {
  return { method: 'POST', uriPath: ['rd'], uriQuery: [`ep=${ep}`, 'lt=60'], payload: utf8.encode('</1/0>,</3/0>'), contentFormat: 40, source: src, ...sec };
}
function update(id: string, sec: Sec = {}): RegistrationRequest {
  return { method: 'POST', uriPath: ['rd', id], uriQuery: [], payload: new Uint8Array(0), source: src, ...sec };
}
function deregister(id: string, sec: Sec = {}): RegistrationRequest {
  return { method: 'DELETE', uriPath: ['rd', id], uriQuery: [], payload: new Uint8Array(0), source: src, ...sec };
}

function service(): RegistrationService {
  return new RegistrationService({ clock: new ManualClock(0), authorize: pskBindingAuthorizer(psks) });
}

describe('pskBindingAuthorizer', () => {
  it('Register over DTLS: the ep of the identity → 2.01; another device\'s ep → 4.03 with a diagnostic', () => {
    const s = service();
    expect(s.handle(register('dev-a', dtls('id-a')))).toMatchObject({ ok: true, code: '2.01', registration: { transport: 'dtls', pskIdentity: 'id-a' } });
    expect(s.handle(register('dev-b', dtls('id-a')))).toEqual({
      ok: false, code: '4.03', diagnostic: 'forbidden: PSK identity "id-a" is bound to endpoint "dev-a", not "dev-b"',
    });
    expect(s.getByEndpoint('dev-b')).toBeUndefined();
  });

  it('Register over DTLS with an unbound identity or without a session → 4.03', () => {
    const s = service();
    expect(s.handle(register('dev-a', dtls('ghost')))).toMatchObject({ code: '4.03', diagnostic: expect.stringContaining('"ghost" is not bound to any endpoint') });
    expect(s.handle(register('dev-a', dtls()))).toMatchObject({ code: '4.03', diagnostic: 'forbidden: Register over DTLS without an established session' });
  });

  it('Update and De-register over DTLS must come from the identity that owns the registration (4.00 "forbidden", Core 1.1 §6.2.2/§6.2.3 tables)', () => {
    const s = service();
    const a = s.handle(register('dev-a', dtls('id-a')));
    if (!a.ok || !('location' in a)) throw new Error('register failed');
    const id = a.location[1];
    s.handle(register('dev-b', dtls('id-b')));
    expect(s.handle(update(id, dtls('id-b')))).toEqual({
      ok: false, code: '4.00', diagnostic: 'forbidden: PSK identity "id-b" is bound to endpoint "dev-b", not "dev-a"',
    });
    expect(s.handle(deregister(id, dtls('id-b')))).toMatchObject({ ok: false, code: '4.00' });
    // plain UDP cannot touch a DTLS registration either (defaultAuthorizer)
    expect(s.handle(update(id))).toMatchObject({ ok: false, code: '4.00', diagnostic: expect.stringContaining('plain UDP') });
    expect(s.handle(update(id, dtls('id-a')))).toMatchObject({ ok: true, code: '2.04' });
    expect(s.handle(deregister(id, dtls('id-a')))).toMatchObject({ ok: true, code: '2.02' });
  });

  it('a PSK removed after the handshake: Update over the old session is refused', () => {
    const store = new PskStore([{ endpoint: 'dev-c', identity: 'id-c', key: Uint8Array.of(3) }]);
    const s = new RegistrationService({ clock: new ManualClock(0), authorize: pskBindingAuthorizer(store) });
    const r = s.handle(register('dev-c', dtls('id-c')));
    if (!r.ok || !('location' in r)) throw new Error('register failed');
    store.delete('dev-c');
    expect(s.handle(update(r.location[1], dtls('id-c')))).toMatchObject({ code: '4.00', diagnostic: expect.stringContaining('not bound') });
  });

  it('plain UDP is unchanged: any ep registers, including one that has a PSK', () => {
    const s = service();
    expect(s.handle(register('dev-a'))).toMatchObject({ ok: true, registration: { transport: 'udp' } });
    expect(s.handle(register('no-psk'))).toMatchObject({ ok: true });
  });

  it('touchPeer with a transport only matches a registration made over it', () => {
    const s = service();
    s.handle(register('dev-a', dtls('id-a')));
    expect(s.touchPeer(src.address, src.port, { transport: 'udp' })).toBeUndefined();
    expect(s.touchPeer(src.address, src.port, { transport: 'dtls', pskIdentity: 'id-b' })).toBeUndefined();
    expect(s.touchPeer(src.address, src.port, { transport: 'dtls', pskIdentity: 'id-a' })?.endpoint).toBe('dev-a');
    expect(s.touchPeer(src.address, src.port)?.endpoint).toBe('dev-a');
  });
});
