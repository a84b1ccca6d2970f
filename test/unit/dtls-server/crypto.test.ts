/**
 * Known-answer tests for the DTLS server's cryptography: PRF-SHA256 (the TLS 1.2 PRF test vector
 * published on the IETF TLS list, cross-checked with node-dtls-client's independent PRF), AES-CCM with
 * an 8-byte tag and a 12-byte nonce (NIST SP 800-38C, Example 3), AES-GCM (McGrew & Viega, test case 4),
 * and record protection (nonce and additional_data layout of RFC 5246 §6.2.3.3 / RFC 6347 §4.1.2.1).
 */
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CIPHER_SUITES, aeadOpen, aeadSeal, keyBlockLength, openRecord, sealRecord, splitKeyBlock } from '../../../src/transport/dtls/server/cipher-suites.js';
import { keyBlock, masterSecret, prfSha256, pskPremasterSecret, verifyData } from '../../../src/transport/dtls/server/prf.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const CCM8 = CIPHER_SUITES.TLS_PSK_WITH_AES_128_CCM_8;
const GCM = CIPHER_SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256;

describe('PRF-SHA256 (RFC 5246 §5)', () => {
  it('matches the published TLS 1.2 PRF-SHA256 test vector', () => {
    const out = prfSha256(hex('9bbe436ba940f017b17652849a71db35'), 'test label', hex('a0ba9f936cda311827a6f796ffd5198c'), 100);
    expect(out.toString('hex')).toBe(
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab'
      + '4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  it('agrees with node-dtls-client for master secret, key block and verify_data', async () => {
    const url = new URL('../../../node_modules/node-dtls-client/build/TLS/PRF.js', import.meta.url).href;
    const { PRF } = (await import(url)) as { PRF: { sha256: (s: Buffer, l: string, seed: Buffer, n: number) => Buffer } };
    const cr = Buffer.alloc(32, 1);
    const sr = Buffer.alloc(32, 2);
    const pms = pskPremasterSecret(Buffer.from('secretPSK'));
    expect(pms.toString('hex')).toBe(`0009${'00'.repeat(9)}0009${Buffer.from('secretPSK').toString('hex')}`); // RFC 4279 §2
    const ms = masterSecret(pms, cr, sr);
    expect(ms).toEqual(PRF.sha256(pms, 'master secret', Buffer.concat([cr, sr]), 48));
    expect(keyBlock(ms, cr, sr, 40)).toEqual(PRF.sha256(ms, 'key expansion', Buffer.concat([sr, cr]), 40));
    expect(verifyData(ms, 'client finished', Buffer.alloc(32, 3))).toEqual(PRF.sha256(ms, 'client finished', Buffer.alloc(32, 3), 12));
  });
});

describe('AEAD known answers', () => {
  it('AES-128-CCM, 12-byte nonce, 8-byte tag (NIST SP 800-38C Example 3) = TLS_PSK_WITH_AES_128_CCM_8', () => {
    const key = hex('404142434445464748494a4b4c4d4e4f');
    const nonce = hex('101112131415161718191a1b');
    const aad = hex('000102030405060708090a0b0c0d0e0f10111213');
    const pt = hex('202122232425262728292a2b2c2d2e2f3031323334353637');
    const sealed = aeadSeal(CCM8, key, nonce, aad, pt);
    expect(sealed.toString('hex')).toBe('e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951');
    expect(aeadOpen(CCM8, key, nonce, aad, sealed)).toEqual(pt);
    const tampered = Buffer.from(sealed);
    tampered[0] = (tampered[0] as number) ^ 1;
    expect(aeadOpen(CCM8, key, nonce, aad, tampered)).toBeUndefined();
  });

  it('AES-128-GCM (GCM spec test case 4) = TLS_PSK_WITH_AES_128_GCM_SHA256', () => {
    const key = hex('feffe9928665731c6d6a8f9467308308');
    const nonce = hex('cafebabefacedbaddecaf888');
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const pt = hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39');
    const sealed = aeadSeal(GCM, key, nonce, aad, pt);
    expect(sealed.toString('hex')).toBe(
      '42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091'
      + '5bc94fbc3221a5db94fae95ae7121a47',
    );
    expect(aeadOpen(GCM, key, nonce, aad, sealed)).toEqual(pt);
  });
});

describe('record protection', () => {
  const block = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
  const { client } = splitKeyBlock(CCM8, block);

  it('splits the key block as client key, server key, client IV, server IV (RFC 5246 §6.3)', () => {
    expect(keyBlockLength(CCM8)).toBe(40);
    const k = splitKeyBlock(GCM, block);
    expect([k.client.key[0], k.server.key[0], k.client.iv[0], k.server.iv[0]]).toEqual([0, 16, 32, 36]);
  });

  it.each([['CCM_8', CCM8], ['GCM', GCM]] as const)('%s: explicit nonce = epoch‖seq, AAD = seq‖type‖version‖length', (_n, suite) => {
    const pt = Buffer.from('hello dtls');
    const rec = sealRecord(suite, client, 23, 0xfefd, 1, 0x0102030405, pt);
    expect(rec.subarray(0, 8).toString('hex')).toBe('0001000102030405');
    expect(rec.length).toBe(8 + pt.length + suite.tagLength);
    // Recompute by hand with Node's cipher directly.
    const nonce = Buffer.concat([client.iv, rec.subarray(0, 8)]);
    const aad = hex(`0001000102030405 17 fefd ${pt.length.toString(16).padStart(4, '0')}`);
    const c = createCipheriv(suite.algorithm as 'aes-128-gcm', client.key, nonce, { authTagLength: suite.tagLength });
    c.setAAD(aad, { plaintextLength: pt.length });
    const body = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
    expect(rec.subarray(8)).toEqual(body);
    expect(openRecord(suite, client, 23, 0xfefd, 1, 0x0102030405, rec)).toEqual(pt);
    // Any header field bound into the AAD changes → no plaintext.
    expect(openRecord(suite, client, 22, 0xfefd, 1, 0x0102030405, rec)).toBeUndefined();
    expect(openRecord(suite, client, 23, 0xfefd, 1, 0x0102030406, rec)).toBeUndefined();
    expect(openRecord(suite, client, 23, 0xfeff, 1, 0x0102030405, rec)).toBeUndefined();
    expect(openRecord(suite, client, 23, 0xfefd, 1, 0x0102030405, rec.subarray(0, 10))).toBeUndefined();
  });
});
