import { describe, expect, it } from 'vitest';
import { MemoryBootstrapConfigStore } from '../../../../src/server/bootstrap/config-store.js';
import type { BootstrapConfig } from '../../../../src/server/bootstrap/config.js';
import { BootstrapPskProvisioner, bootstrapPskBindings } from '../../../../src/server/security/bootstrap-psk.js';
import { PskStore } from '../../../../src/server/security/psk-store.js';

const dmAccount = (id: string, uri = 'coaps://lwm2m.example:5684', key = 'a0a1') => ({ shortServerId: 1, uri, pskIdentity: id, pskKey: key });

describe('bootstrapPskBindings', () => {
  it('takes the PSK DM server account and the PSK Bootstrap-Server account', () => {
    const b = bootstrapPskBindings('dev', {
      servers: [dmAccount('dm-id'), { shortServerId: 2, uri: 'coap://plain.example' }],
      bootstrapServer: { uri: 'coaps://bs.example', securityMode: 'psk', pskIdentity: 'bs-id', pskKey: '0xB0B1' },
    }, {}, 'src');
    expect(b).toEqual({
      dm: { endpoint: 'dev', identity: 'dm-id', key: Uint8Array.of(0xa0, 0xa1), source: 'src' },
      bs: { endpoint: 'dev', identity: 'bs-id', key: Uint8Array.of(0xb0, 0xb1), source: 'src' },
    });
  });

  it('no PSK accounts → no bindings', () => {
    expect(bootstrapPskBindings('dev', { servers: [{ shortServerId: 1, uri: 'coap://x' }], bootstrapServer: { uri: 'coap://bs' } })).toEqual({});
    expect(bootstrapPskBindings('dev', {})).toEqual({});
  });

  it('several PSK server accounts: the one on our DTLS port; the same credentials twice are one', () => {
    const cfg: BootstrapConfig = { servers: [{ ...dmAccount('theirs', 'coaps://other.example:5684', 'ff'), shortServerId: 1 }, { ...dmAccount('ours', 'coaps://us.example:15684'), shortServerId: 2 }] };
    expect(bootstrapPskBindings('dev', cfg, { dmPort: 15684 }).dm?.identity).toBe('ours');
    expect(() => bootstrapPskBindings('dev', cfg, { dmPort: 9999 })).toThrow(/different credentials .* none on our DTLS port 9999/);
    expect(() => bootstrapPskBindings('dev', cfg)).toThrow(/no DTLS port to pick by/);
    const same: BootstrapConfig = { servers: [{ ...dmAccount('x'), shortServerId: 1 }, { ...dmAccount('x', 'coaps://b:1', 'A0A1'), shortServerId: 2 }] };
    expect(bootstrapPskBindings('dev', same).dm?.identity).toBe('x');
    // one PSK account counts whatever its port (port mappings)
    expect(bootstrapPskBindings('dev', { servers: [dmAccount('only', 'coaps://nat.example:40000')] }, { dmPort: 5684 }).dm?.identity).toBe('only');
  });
});

describe('BootstrapPskProvisioner', () => {
  it('wrap(): a per-endpoint config put binds its PSKs; a clash refuses the config; the default config is stored as is', async () => {
    const dm = new PskStore([{ endpoint: 'owner', identity: 'taken', key: Uint8Array.of(1) }]);
    const bs = new PskStore();
    const p = new BootstrapPskProvisioner({ dm, bs });
    const inner = new MemoryBootstrapConfigStore();
    const store = p.wrap(inner);
    await store.put('dev1', { servers: [dmAccount('dm1')], bootstrapServer: { uri: 'coaps://bs', pskIdentity: 'bs1', pskKey: '00' } });
    expect(dm.get('dev1')).toMatchObject({ identity: 'dm1', source: 'bootstrap config "dev1"' });
    expect(bs.get('dev1')).toMatchObject({ identity: 'bs1' });
    await expect(store.put('dev2', { servers: [dmAccount('taken')] })).rejects.toMatchObject({ code: 'PSK_IDENTITY_IN_USE' });
    expect(await inner.get('dev2')).toBeUndefined();
    // a BS identity clash refuses the DM binding too (both or neither)
    bs.put({ endpoint: 'bs-owner', identity: 'bs-taken', key: Uint8Array.of(1) });
    await expect(store.put('dev3', { servers: [dmAccount('dm3')], bootstrapServer: { uri: 'coaps://bs', pskIdentity: 'bs-taken', pskKey: '00' } })).rejects.toThrow(/bs-taken/);
    expect(dm.get('dev3')).toBeUndefined();
    await store.put('*', { servers: [dmAccount('shared')] });
    expect(dm.byIdentity('shared')).toBeUndefined();
    expect(await store.get('default')).toBeDefined();
    // deleting a config keeps the binding (the device holds those credentials)
    expect(await store.delete('dev1')).toBe(true);
    expect(dm.get('dev1')).toBeDefined();
  });

  it('apply() binds a default config per endpoint; a second endpoint with the same identity is refused', () => {
    const dm = new PskStore();
    const p = new BootstrapPskProvisioner({ dm });
    const shared: BootstrapConfig = { servers: [dmAccount('shared')] };
    expect(p.apply('dev1', shared, 'bootstrap config "*"').map((c) => c.type)).toEqual(['created']);
    expect(() => p.apply('dev2', shared)).toThrow('identity "shared" is already used by endpoint "dev1" (bootstrap config "*")');
  });

  it('Bootstrap-Server credentials: an existing entry is replaced only when a session finished', async () => {
    const dm = new PskStore();
    const bs = new PskStore([{ endpoint: 'dev', identity: 'factory', key: Uint8Array.of(1), source: 'bs-psks.csv:2' }]);
    const p = new BootstrapPskProvisioner({ dm, bs });
    const config: BootstrapConfig = { servers: [dmAccount('dm-id')], bootstrapServer: { uri: 'coaps://bs', pskIdentity: 'rotated', pskKey: '0202' } };
    await p.wrap(new MemoryBootstrapConfigStore()).put('dev', config);
    expect(bs.get('dev')?.identity).toBe('factory'); // the device still bootstraps with its factory credentials
    expect(dm.get('dev')?.identity).toBe('dm-id');
    p.prepareSession('dev', config, 'bootstrap config "dev"');
    expect(bs.get('dev')?.identity).toBe('factory');
    expect(p.sessionFinished('dev')).toMatchObject({ type: 'replaced', entry: { identity: 'rotated' }, previous: { identity: 'factory' } });
    expect(bs.byIdentity('factory')).toBeUndefined();
    expect(p.sessionFinished('dev')).toBeUndefined(); // consumed
    // a session that never finishes leaves the entry alone; the next prepare starts afresh
    p.prepareSession('dev', { bootstrapServer: { uri: 'coaps://bs', pskIdentity: 'again', pskKey: '03' } });
    p.prepareSession('dev', { servers: [dmAccount('dm-id')] });
    expect(p.sessionFinished('dev')).toBeUndefined();
    expect(bs.get('dev')?.identity).toBe('rotated');
  });

  it('applyAll() reports refused configs with their location and binds the rest', () => {
    const dm = new PskStore([{ endpoint: 'owner', identity: 'taken', key: Uint8Array.of(1) }]);
    const p = new BootstrapPskProvisioner({ dm });
    const problems = p.applyAll([
      { endpoint: '*', config: { servers: [dmAccount('taken')] } },
      { endpoint: 'a', config: { servers: [dmAccount('ida')] }, source: 'configs/a.yaml:1:1' },
      { endpoint: 'b', config: { servers: [dmAccount('taken')] }, source: 'configs/b.yaml:1:1' },
    ]);
    expect(problems).toEqual(['configs/b.yaml:1:1: PSK not bound: identity "taken" is already used by endpoint "owner"']);
    expect(dm.get('a')?.identity).toBe('ida');
  });
});
