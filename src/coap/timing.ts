/**
 * CoAP transmission parameters (RFC 7252 §4.8) and how to make node-coap honour them per endpoint.
 *
 * node-coap keeps them in ONE module-global object (`coap.parameters`, changed by `coap.updateTiming`)
 * and reads it at these moments only (node_modules/coap/dist/lib):
 *   - retry_send.js constructor: ackTimeout, ackRandomFactor → the first retransmission timeout, and
 *     maxRetransmit (unless the request passes `retrySend`);
 *   - retry_send.js send(): exchangeLifetime (CON) / maxRTT (NON, ACK) → when the sender gives up;
 *   - server.js constructor: exchangeLifetime → TTL of the response cache and of the Block1/Block2 caches.
 * All of those happen synchronously inside calls we make (agent.request() + req.end(), res.end(),
 * res.write(), createServer()). So {@link withCoapTiming} swaps the global values in for the duration
 * of such a synchronous call and restores them in `finally`: timing is effectively per endpoint.
 *
 * Left global (documented limitation): the server's piggyback empty-ACK timer and the agent's Block2
 * follow-up requests reuse a RetrySend built in our scope, but the "give up" timer they re-arm reads
 * the global exchangeLifetime; `maxPayloadSize` (→ Block2 size 1024 of our responses) is read once when
 * node-coap is loaded.
 */
import { parameters } from 'coap';

export interface CoapTiming {
  /** ACK_TIMEOUT, milliseconds. RFC default 2000. */
  ackTimeoutMs: number;
  /** ACK_RANDOM_FACTOR ≥ 1. RFC default 1.5. */
  ackRandomFactor: number;
  /** MAX_RETRANSMIT. RFC default 4. */
  maxRetransmit: number;
  /** MAX_LATENCY, milliseconds. RFC default 100 000. */
  maxLatencyMs: number;
}

export const DEFAULT_COAP_TIMING: Readonly<CoapTiming> = Object.freeze({
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  maxLatencyMs: 100_000,
});

/** The derived times of RFC 7252 §4.8.2, in milliseconds. */
export interface DerivedTiming {
  maxTransmitSpanMs: number;
  maxTransmitWaitMs: number;
  processingDelayMs: number;
  maxRttMs: number;
  exchangeLifetimeMs: number;
  nonLifetimeMs: number;
}

export function resolveTiming(partial: Partial<CoapTiming> = {}): CoapTiming {
  const t: CoapTiming = { ...DEFAULT_COAP_TIMING, ...definedOnly(partial) };
  if (!(t.ackTimeoutMs > 0) || !Number.isFinite(t.ackTimeoutMs)) throw new RangeError(`ackTimeoutMs must be > 0, got ${t.ackTimeoutMs}`);
  if (!(t.ackRandomFactor >= 1) || !Number.isFinite(t.ackRandomFactor)) {
    throw new RangeError(`ackRandomFactor must be >= 1, got ${t.ackRandomFactor}`);
  }
  if (!Number.isInteger(t.maxRetransmit) || t.maxRetransmit < 0 || t.maxRetransmit > 20) {
    throw new RangeError(`maxRetransmit must be an integer in 0..20, got ${t.maxRetransmit}`);
  }
  if (!(t.maxLatencyMs >= 0) || !Number.isFinite(t.maxLatencyMs)) throw new RangeError(`maxLatencyMs must be >= 0, got ${t.maxLatencyMs}`);
  return t;
}

function definedOnly(p: Partial<CoapTiming>): Partial<CoapTiming> {
  const out: Partial<CoapTiming> = {};
  for (const [k, v] of Object.entries(p) as Array<[keyof CoapTiming, number | undefined]>) if (v !== undefined) out[k] = v;
  return out;
}

/** RFC 7252 §4.8.2. */
export function deriveTiming(t: CoapTiming): DerivedTiming {
  const maxTransmitSpanMs = t.ackTimeoutMs * (2 ** t.maxRetransmit - 1) * t.ackRandomFactor;
  const maxTransmitWaitMs = t.ackTimeoutMs * (2 ** (t.maxRetransmit + 1) - 1) * t.ackRandomFactor;
  const processingDelayMs = t.ackTimeoutMs;
  const maxRttMs = 2 * t.maxLatencyMs + processingDelayMs;
  return {
    maxTransmitSpanMs,
    maxTransmitWaitMs,
    processingDelayMs,
    maxRttMs,
    exchangeLifetimeMs: maxTransmitSpanMs + 2 * t.maxLatencyMs + processingDelayMs,
    nonLifetimeMs: maxTransmitSpanMs + t.maxLatencyMs,
  };
}

type SwappedKey =
  | 'ackTimeout' | 'ackRandomFactor' | 'maxRetransmit' | 'maxLatency' | 'maxTransmitSpan'
  | 'maxTransmitWait' | 'processingDelay' | 'maxRTT' | 'exchangeLifetime' | 'nonLifetime';

/** node-coap's parameter values (seconds) for `t`. */
function toNodeCoap(t: CoapTiming): Record<SwappedKey, number> {
  const d = deriveTiming(t);
  return {
    ackTimeout: t.ackTimeoutMs / 1000,
    ackRandomFactor: t.ackRandomFactor,
    maxRetransmit: t.maxRetransmit,
    maxLatency: t.maxLatencyMs / 1000,
    maxTransmitSpan: d.maxTransmitSpanMs / 1000,
    maxTransmitWait: d.maxTransmitWaitMs / 1000,
    processingDelay: d.processingDelayMs / 1000,
    maxRTT: d.maxRttMs / 1000,
    exchangeLifetime: secondsWithWholeMs(d.exchangeLifetimeMs),
    nonLifetime: d.nonLifetimeMs / 1000,
  };
}

/**
 * node-coap's server builds its LRU with `ttl: exchangeLifetime * 1000`, which lru-cache rejects unless
 * it is a positive integer — and (n / 1000) * 1000 is not always n in floating point. The smallest
 * seconds value ≥ ms/1000 that survives the round trip.
 */
function secondsWithWholeMs(ms: number): number {
  for (let m = Math.max(1, Math.ceil(ms)); m < Math.ceil(ms) + 1000; m++) {
    if (Number.isInteger((m / 1000) * 1000)) return m / 1000;
  }
  return Math.ceil(ms / 1000);
}

const cache = new WeakMap<CoapTiming, ReadonlyArray<readonly [SwappedKey, number]>>();

/** node-coap's parameter values for `timing`, as a list (computed once per timing object). */
function entriesFor(timing: CoapTiming): ReadonlyArray<readonly [SwappedKey, number]> {
  let entries = cache.get(timing);
  if (!entries) {
    entries = Object.entries(toNodeCoap(timing)) as Array<[SwappedKey, number]>;
    cache.set(timing, entries);
  }
  return entries;
}

/**
 * Runs `fn` (synchronous — no await inside) with node-coap's global transmission parameters set to
 * `timing`, then restores the previous values, also when `fn` throws. Nested calls are fine. When the
 * global values already are `timing`'s (the usual case: most endpoints use the defaults), nothing is
 * swapped.
 */
export function withCoapTiming<T>(timing: CoapTiming, fn: () => T): T {
  const entries = entriesFor(timing);
  // The one place that writes node-coap's module-global parameters object.
  const p = parameters as unknown as Record<SwappedKey, number>;
  let differs = false;
  for (const [k, v] of entries) {
    if (p[k] !== v) {
      differs = true;
      break;
    }
  }
  if (!differs) return fn();
  const saved: Array<[SwappedKey, number]> = [];
  for (const [k, v] of entries) {
    saved.push([k, p[k]]);
    p[k] = v;
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of saved) p[k] = v;
  }
}
