import { describe, expect, it } from 'vitest';
import {
  MAX_PSK_IDENTITY_BYTES, MAX_PSK_KEY_BYTES, PskStore, PskStoreError, checkPskIdentity, parseHexKey, type PskChange,
} from '../../../../src/server/security/psk-store.js';

const key = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('PskStore', () => {
  it('puts, finds by endpoint and by identity, lists sorted, deletes', () => {
    const s = new PskStore();
    expect(s.put({ endpoint: 'dev-b', identity: 'id-b', key: key(2) }).type).toBe('created');
    expect(s.put({ endpoint: 'dev-a', identity: 'id-a', key: key(1) }).type).toBe('created');
    expect(s.size).toBe(2);
    expect(s.get('dev-a')?.identity).toBe('id-a');
    expect(s.byIdentity('id-b')?.endpoint).toBe('dev-b');
    expect(s.resolver('id-a')).toEqual(key(1));
    expect(s.resolver('nobody')).toBeUndefined();
    expect(s.list().map((e) => e.endpoint)).toEqual(['dev-a', 'dev-b']);
    expect(s.delete('dev-a')).toBe(true);
    expect(s.delete('dev-a')).toBe(false);
    expect(s.byIdentity('id-a')).toBeUndefined();
    expect(s.resolver('id-a')).toBeUndefined();
    expect(s.size).toBe(1);
  });

  it('replacing an endpoint frees its old identity', () => {
    const s = new PskStore([{ endpoint: 'dev', identity: 'old', key: key(1) }]);
    const c = s.put({ endpoint: 'dev', identity: 'new', key: key(2) });
    expect(c).toMatchObject({ type: 'replaced', previous: { identity: 'old' }, entry: { identity: 'new' } });
    expect(s.byIdentity('old')).toBeUndefined();
    expect(s.byIdentity('new')?.endpoint).toBe('dev');
    // the freed identity can go to another endpoint now
    s.put({ endpoint: 'other', identity: 'old', key: key(3) });
    expect(s.byIdentity('old')?.endpoint).toBe('other');
  });

  it('refuses an identity that another endpoint uses, naming the owner, and changes nothing', () => {
    const s = new PskStore([{ endpoint: 'dev1', identity: 'shared', key: key(1), source: 'psks.csv:2' }]);
    let err: unknown;
    try {
      s.put({ endpoint: 'dev2', identity: 'shared', key: key(2) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PskStoreError);
    expect(err).toMatchObject({ code: 'PSK_IDENTITY_IN_USE', field: 'identity' });
    expect((err as Error).message).toBe('identity "shared" is already used by endpoint "dev1" (psks.csv:2)');
    expect(s.get('dev2')).toBeUndefined();
    expect(s.byIdentity('shared')?.endpoint).toBe('dev1');
  });

  it('validates endpoint, identity and key', () => {
    const s = new PskStore();
    const bad = (e: { endpoint: string; identity: string; key: Uint8Array }, field: string, msg: RegExp): void => {
      expect(() => s.put(e)).toThrow(msg);
      try {
        s.put(e);
      } catch (x) {
        expect(x).toMatchObject({ code: 'PSK_INVALID', field });
      }
    };
    bad({ endpoint: '', identity: 'i', key: key(1) }, 'endpoint', /endpoint .*empty/);
    bad({ endpoint: 'a\u0001', identity: 'i', key: key(1) }, 'endpoint', /control character/);
    bad({ endpoint: 'e', identity: '', key: key(1) }, 'identity', /identity is empty/);
    bad({ endpoint: 'e', identity: 'x'.repeat(MAX_PSK_IDENTITY_BYTES + 1), key: key(1) }, 'identity', /129 bytes long/);
    bad({ endpoint: 'e', identity: 'i\n', key: key(1) }, 'identity', /control character U\+000A/);
    bad({ endpoint: 'e', identity: 'a\ud800', key: key(1) }, 'identity', /lone surrogate/);
    bad({ endpoint: 'e', identity: 'i', key: new Uint8Array(0) }, 'key', /key is empty/);
    bad({ endpoint: 'e', identity: 'i', key: new Uint8Array(MAX_PSK_KEY_BYTES + 1) }, 'key', /65 bytes long/);
    expect(s.size).toBe(0);
    // the limits themselves are fine; multi-byte identities count bytes
    s.put({ endpoint: 'e', identity: 'x'.repeat(MAX_PSK_IDENTITY_BYTES), key: new Uint8Array(MAX_PSK_KEY_BYTES) });
    expect(checkPskIdentity('é'.repeat(64))).toBeUndefined();
    expect(checkPskIdentity('é'.repeat(65))).toMatch(/130 bytes/);
    expect(checkPskIdentity('😀')).toBeUndefined();
  });

  it('copies the key: later mutation of the caller\'s array does not change the entry', () => {
    const k = key(1, 2, 3);
    const s = new PskStore();
    s.put({ endpoint: 'e', identity: 'i', key: k });
    k[0] = 99;
    expect(s.resolver('i')).toEqual(key(1, 2, 3));
    expect(Object.isFrozen(s.get('e'))).toBe(true);
  });

  it('emits a change for each put and delete, none for a put that changes nothing', () => {
    const s = new PskStore();
    const seen: PskChange['type'][] = [];
    s.on('change', (c) => seen.push(c.type));
    s.put({ endpoint: 'e', identity: 'i', key: key(1) });
    s.put({ endpoint: 'e', identity: 'i', key: key(1) });
    s.put({ endpoint: 'e', identity: 'i', key: key(2) });
    s.delete('e');
    s.delete('e');
    expect(seen).toEqual(['created', 'replaced', 'deleted']);
  });

  it('bounds its size; replacing stays possible at the bound', () => {
    const s = new PskStore([], { maxEntries: 1 });
    s.put({ endpoint: 'a', identity: 'ia', key: key(1) });
    expect(() => s.put({ endpoint: 'b', identity: 'ib', key: key(1) })).toThrow(expect.objectContaining({ code: 'PSK_STORE_FULL' }));
    expect(s.put({ endpoint: 'a', identity: 'ia2', key: key(2) }).type).toBe('replaced');
  });
});

describe('parseHexKey', () => {
  it('accepts even-length hex with an optional 0x', () => {
    expect(parseHexKey('00ff')).toEqual(key(0, 255));
    expect(parseHexKey('0xABcd')).toEqual(key(0xab, 0xcd));
  });
  it('says where a bad digit is', () => {
    expect(parseHexKey('00g1')).toEqual({ error: 'key: "g" is not a hex digit', index: 2 });
    expect(parseHexKey('0x0z')).toEqual({ error: 'key: "z" is not a hex digit', index: 3 });
    expect(parseHexKey('abc')).toEqual({ error: 'key has an odd number (3) of hex digits', index: 2 });
    expect(parseHexKey('')).toEqual({ error: 'key is empty', index: 0 });
    expect(parseHexKey('0x')).toEqual({ error: 'key is empty', index: 0 });
  });
});
