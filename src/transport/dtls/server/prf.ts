/**
 * The TLS 1.2 pseudo-random function with SHA-256 (RFC 5246 §5) and the secrets derived from it:
 * master secret (§8.1), extended master secret (RFC 7627 §4), key block (§6.3), Finished verify_data (§7.4.9).
 */
import { createHash, createHmac } from 'node:crypto';

/** P_SHA256(secret, seed) truncated to `length` bytes (RFC 5246 §5). */
export function pSha256(secret: Uint8Array, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  let a: Buffer = createHmac('sha256', secret).update(seed).digest(); // A(1)
  // ceil(length / 32) iterations: bounded by `length`.
  for (let off = 0; off < length; off += 32) {
    const block = createHmac('sha256', secret).update(a).update(seed).digest();
    block.copy(out, off, 0, Math.min(32, length - off));
    if (off + 32 < length) a = createHmac('sha256', secret).update(a).digest(); // A(i+1) only when needed
  }
  return out;
}

/** PRF(secret, label, seed) = P_SHA256(secret, label + seed). */
export function prfSha256(secret: Uint8Array, label: string, seed: Uint8Array, length: number): Buffer {
  return pSha256(secret, Buffer.concat([Buffer.from(label, 'latin1'), seed]), length);
}

/** PSK premaster secret: uint16 N, N zero bytes, uint16 N, psk (RFC 4279 §2). */
export function pskPremasterSecret(psk: Uint8Array): Buffer {
  const n = psk.length;
  const out = Buffer.alloc(4 + 2 * n);
  out.writeUInt16BE(n, 0);
  out.writeUInt16BE(n, 2 + n);
  Buffer.from(psk.buffer, psk.byteOffset, psk.byteLength).copy(out, 4 + n);
  return out;
}

export function masterSecret(premaster: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array): Buffer {
  return prfSha256(premaster, 'master secret', Buffer.concat([clientRandom, serverRandom]), 48);
}

/** RFC 7627 §4: session_hash = Hash(handshake messages up to and including ClientKeyExchange). */
export function extendedMasterSecret(premaster: Uint8Array, sessionHash: Uint8Array): Buffer {
  return prfSha256(premaster, 'extended master secret', sessionHash, 48);
}

export function keyBlock(master: Uint8Array, clientRandom: Uint8Array, serverRandom: Uint8Array, length: number): Buffer {
  return prfSha256(master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), length);
}

/** verify_data = PRF(master_secret, finished_label, Hash(handshake_messages))[0..11]. */
export function verifyData(master: Uint8Array, label: 'client finished' | 'server finished', handshakeHash: Uint8Array): Buffer {
  return prfSha256(master, label, handshakeHash, 12);
}

export function sha256(...parts: readonly Uint8Array[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
}
