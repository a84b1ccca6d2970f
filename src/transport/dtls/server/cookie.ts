/**
 * Stateless HelloVerifyRequest cookies (RFC 6347 §4.2.1): cookie = HMAC-SHA256(secret, client address,
 * port, ClientHello parameters without the cookie)[0..15]. Nothing is stored per peer; the secret rotates
 * every `rotateMs` and the previous one is still accepted, so a cookie stays valid for one to two periods.
 * Rotation is lazy (checked on use against the injected clock): no timer.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../../core/clock.js';

export const COOKIE_LENGTH = 16;

export class CookieJar {
  private current: Buffer;
  private previous: Buffer | undefined;
  private rotatedAt: number;

  constructor(private readonly clock: Clock, secret?: Uint8Array, private readonly rotateMs = 5 * 60_000) {
    this.current = secret ? Buffer.from(secret) : randomBytes(32);
    this.rotatedAt = clock.now();
  }

  make(address: string, port: number, params: Uint8Array): Buffer {
    this.maybeRotate();
    return compute(this.current, address, port, params);
  }

  verify(address: string, port: number, params: Uint8Array, cookie: Uint8Array): boolean {
    if (cookie.length !== COOKIE_LENGTH) return false;
    this.maybeRotate();
    if (timingSafeEqual(compute(this.current, address, port, params), cookie)) return true;
    return this.previous !== undefined && timingSafeEqual(compute(this.previous, address, port, params), cookie);
  }

  private maybeRotate(): void {
    const now = this.clock.now();
    if (now - this.rotatedAt < this.rotateMs) return;
    // Two periods or more without use: the previous secret is stale too.
    this.previous = now - this.rotatedAt < 2 * this.rotateMs ? this.current : undefined;
    this.current = randomBytes(32);
    this.rotatedAt = now;
  }
}

function compute(secret: Buffer, address: string, port: number, params: Uint8Array): Buffer {
  const p = Buffer.allocUnsafe(2);
  p.writeUInt16BE(port, 0);
  return createHmac('sha256', secret).update(address, 'latin1').update(p).update(params).digest().subarray(0, COOKIE_LENGTH);
}
