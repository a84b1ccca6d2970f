/** A token bucket on the injected clock: `rate` tokens per second, at most `burst` saved up. */
import type { Clock } from '../../../core/clock.js';

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly clock: Clock, private readonly rate: number, private readonly burst = rate) {
    this.tokens = burst;
    this.at = clock.now();
  }

  take(): boolean {
    const now = this.clock.now();
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
      this.at = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
