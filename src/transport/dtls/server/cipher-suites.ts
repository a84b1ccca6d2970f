/**
 * The cipher suite registry. A suite names its key exchange (looked up in key-exchange.ts) and its
 * record protection; adding RPK/X.509 (ECDHE_ECDSA) later means one more table row and one more key
 * exchange, not a change to the handshake code.
 *
 * Both suites here are AEAD with a 4-byte implicit IV ("salt") and an 8-byte explicit nonce carried in
 * every record (RFC 5246 §6.2.3.3); we use epoch || sequence_number as the explicit nonce, which is
 * unique per key (RFC 6655 §3, RFC 5288 §3).
 */
import { createCipheriv, createDecipheriv, type CipherCCMTypes, type CipherGCMTypes } from 'node:crypto';

export type DtlsCipherSuiteName = 'TLS_PSK_WITH_AES_128_CCM_8' | 'TLS_PSK_WITH_AES_128_GCM_SHA256';
export type KeyExchangeName = 'psk';

export interface CipherSuite {
  readonly name: DtlsCipherSuiteName;
  readonly id: number;
  readonly keyExchange: KeyExchangeName;
  readonly algorithm: CipherCCMTypes | CipherGCMTypes;
  readonly mode: 'ccm' | 'gcm';
  readonly keyLength: number;
  /** Implicit (salt) part of the nonce, from the key block. */
  readonly fixedIvLength: number;
  /** Explicit part of the nonce, sent in each record. */
  readonly recordIvLength: number;
  readonly tagLength: number;
}

export const CIPHER_SUITES: Readonly<Record<DtlsCipherSuiteName, CipherSuite>> = {
  // RFC 6655 §3 (and RFC 7925 §4.2.2, the LwM2M mandatory suite).
  TLS_PSK_WITH_AES_128_CCM_8: {
    name: 'TLS_PSK_WITH_AES_128_CCM_8', id: 0xc0a8, keyExchange: 'psk', algorithm: 'aes-128-ccm', mode: 'ccm',
    keyLength: 16, fixedIvLength: 4, recordIvLength: 8, tagLength: 8,
  },
  // RFC 5487 §3.1 (with RFC 5288 GCM record protection).
  TLS_PSK_WITH_AES_128_GCM_SHA256: {
    name: 'TLS_PSK_WITH_AES_128_GCM_SHA256', id: 0x00a8, keyExchange: 'psk', algorithm: 'aes-128-gcm', mode: 'gcm',
    keyLength: 16, fixedIvLength: 4, recordIvLength: 8, tagLength: 16,
  },
};

export const DEFAULT_CIPHER_SUITES: readonly DtlsCipherSuiteName[] = ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256'];

const byId = new Map<number, CipherSuite>(Object.values(CIPHER_SUITES).map((s) => [s.id, s]));

export function cipherSuiteById(id: number): CipherSuite | undefined {
  return byId.get(id);
}

export function cipherSuiteByName(name: string): CipherSuite | undefined {
  return Object.hasOwn(CIPHER_SUITES, name) ? CIPHER_SUITES[name as DtlsCipherSuiteName] : undefined;
}

/** Bytes of key block an AEAD suite needs: 2 keys + 2 implicit IVs (no MAC keys, RFC 5246 §6.3). */
export function keyBlockLength(suite: CipherSuite): number {
  return 2 * suite.keyLength + 2 * suite.fixedIvLength;
}

/** One direction's keys. */
export interface TrafficKeys {
  readonly key: Buffer;
  readonly iv: Buffer;
}

/** Splits a key block into (client write, server write) keys. Copies into one unpooled buffer each. */
export function splitKeyBlock(suite: CipherSuite, block: Uint8Array): { client: TrafficKeys; server: TrafficKeys } {
  const k = suite.keyLength;
  const iv = suite.fixedIvLength;
  const take = (off: number, len: number): Buffer => {
    const b = Buffer.alloc(len); // alloc, not from(): small Buffer.from() slices pin an 8 KiB pool
    b.set(block.subarray(off, off + len));
    return b;
  };
  return {
    client: { key: take(0, k), iv: take(2 * k, iv) },
    server: { key: take(k, k), iv: take(2 * k + iv, iv) },
  };
}

/** additional_data = seq_num(epoch‖seq, 8) ‖ type ‖ version ‖ length (RFC 5246 §6.2.3.3, RFC 6347 §4.1.2.1). */
export function additionalData(type: number, version: number, epoch: number, seq: number, length: number): Buffer {
  const ad = Buffer.allocUnsafe(13);
  ad.writeUInt16BE(epoch, 0);
  ad.writeUIntBE(seq, 2, 6);
  ad[8] = type;
  ad.writeUInt16BE(version, 9);
  ad.writeUInt16BE(length, 11);
  return ad;
}

function nonceOf(iv: Buffer, explicit: Uint8Array): Buffer {
  const n = Buffer.allocUnsafe(12);
  iv.copy(n, 0, 0, 4);
  n.set(explicit.subarray(0, 8), 4);
  return n;
}

/** AEAD encryption with `suite`'s algorithm: ciphertext ‖ tag. A cipher object per call (no per-session state). */
export function aeadSeal(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Buffer {
  if (suite.mode === 'ccm') {
    const c = createCipheriv(suite.algorithm as CipherCCMTypes, key, nonce, { authTagLength: suite.tagLength });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    const body = c.update(plaintext);
    c.final();
    return Buffer.concat([body, c.getAuthTag()]);
  }
  const c = createCipheriv(suite.algorithm as CipherGCMTypes, key, nonce, { authTagLength: suite.tagLength });
  c.setAAD(aad);
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** AEAD decryption of ciphertext ‖ tag; undefined when it does not authenticate. */
export function aeadOpen(suite: CipherSuite, key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < suite.tagLength) return undefined;
  const body = sealed.subarray(0, sealed.length - suite.tagLength);
  const tag = sealed.subarray(sealed.length - suite.tagLength);
  try {
    if (suite.mode === 'ccm') {
      const d = createDecipheriv(suite.algorithm as CipherCCMTypes, key, nonce, { authTagLength: suite.tagLength });
      d.setAuthTag(tag);
      d.setAAD(aad, { plaintextLength: body.length });
      const out = d.update(body);
      d.final(); // throws when the tag does not match
      return out;
    }
    const d = createDecipheriv(suite.algorithm as CipherGCMTypes, key, nonce, { authTagLength: suite.tagLength });
    d.setAuthTag(tag);
    d.setAAD(aad);
    return Buffer.concat([d.update(body), d.final()]);
  } catch {
    return undefined;
  }
}

/** Protects one record payload: explicit_nonce(epoch ‖ seq) ‖ ciphertext ‖ tag (RFC 5246 §6.2.3.3). */
export function sealRecord(
  suite: CipherSuite, keys: TrafficKeys, type: number, version: number, epoch: number, seq: number, plaintext: Uint8Array,
): Buffer {
  const explicit = Buffer.allocUnsafe(8);
  explicit.writeUInt16BE(epoch, 0);
  explicit.writeUIntBE(seq, 2, 6);
  const aad = additionalData(type, version, epoch, seq, plaintext.length);
  return Buffer.concat([explicit, aeadSeal(suite, keys.key, nonceOf(keys.iv, explicit), aad, plaintext)]);
}

/**
 * A whole protected record (header ‖ explicit nonce ‖ ciphertext ‖ tag) written into one buffer: the
 * per-record hot path of an established session, without intermediate copies.
 */
export function sealWholeRecord(
  suite: CipherSuite, keys: TrafficKeys, type: number, version: number, epoch: number, seq: number, plaintext: Uint8Array,
): Buffer {
  const length = suite.recordIvLength + plaintext.length + suite.tagLength;
  const out = Buffer.allocUnsafe(13 + length);
  out[0] = type;
  out.writeUInt16BE(version, 1);
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(seq, 5, 6);
  out.writeUInt16BE(length, 11);
  out.writeUInt16BE(epoch, 13); // explicit nonce = epoch ‖ seq
  out.writeUIntBE(seq, 15, 6);
  const nonce = nonceOf(keys.iv, out.subarray(13, 21));
  const aad = additionalData(type, version, epoch, seq, plaintext.length);
  let body: Buffer;
  let tag: Buffer;
  if (suite.mode === 'ccm') {
    const c = createCipheriv(suite.algorithm as CipherCCMTypes, keys.key, nonce, { authTagLength: suite.tagLength });
    c.setAAD(aad, { plaintextLength: plaintext.length });
    body = c.update(plaintext);
    c.final();
    tag = c.getAuthTag();
  } else {
    const c = createCipheriv(suite.algorithm as CipherGCMTypes, keys.key, nonce, { authTagLength: suite.tagLength });
    c.setAAD(aad);
    body = c.update(plaintext);
    c.final(); // GCM is a stream mode: final() returns nothing more
    tag = c.getAuthTag();
  }
  body.copy(out, 21);
  tag.copy(out, 21 + body.length);
  return out;
}

/**
 * Authenticates and decrypts one record payload; undefined when it does not authenticate (the caller
 * drops the record: RFC 6347 §4.1.2.7) or is too short to hold nonce and tag.
 */
export function openRecord(
  suite: CipherSuite, keys: TrafficKeys, type: number, version: number, epoch: number, seq: number, fragment: Uint8Array,
): Buffer | undefined {
  if (fragment.length < suite.recordIvLength + suite.tagLength) return undefined;
  const explicit = fragment.subarray(0, suite.recordIvLength);
  const sealed = fragment.subarray(suite.recordIvLength);
  const aad = additionalData(type, version, epoch, seq, sealed.length - suite.tagLength);
  return aeadOpen(suite, keys.key, nonceOf(keys.iv, explicit), aad, sealed);
}

/** Bytes a record grows by when protected with `suite`. */
export function recordOverhead(suite: CipherSuite): number {
  return suite.recordIvLength + suite.tagLength;
}
