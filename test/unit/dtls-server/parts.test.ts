/** Replay window, reassembly, record framing, cookies and the token bucket in isolation. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { accept, mayAccept, newReplayState } from '../../../src/transport/dtls/server/replay-window.js';
import { Reassembler } from '../../../src/transport/dtls/server/reassembly.js';
import { encodeRecord, parseRecords } from '../../../src/transport/dtls/server/record.js';
import { CookieJar } from '../../../src/transport/dtls/server/cookie.js';
import { TokenBucket } from '../../../src/transport/dtls/server/token-bucket.js';
import { parseClientHello, parseHandshakeFragments } from '../../../src/transport/dtls/server/handshake-codec.js';
import { isDtlsError } from '../../../src/transport/dtls/server/errors.js';

describe('anti-replay window (RFC 6347 §4.1.2.6)', () => {
  it('accepts new numbers, refuses duplicates and anything 64 or more behind the newest', () => {
    const w = newReplayState();
    expect(mayAccept(w, 0)).toBe(true);
    accept(w, 0);
    expect(mayAccept(w, 0)).toBe(false);
    accept(w, 100);
    expect(mayAccept(w, 36)).toBe(false); // 64 behind
    expect(mayAccept(w, 37)).toBe(true); // 63 behind, unseen
    accept(w, 37);
    expect(mayAccept(w, 37)).toBe(false);
    expect(mayAccept(w, 99)).toBe(true);
    accept(w, 2 ** 48 - 1);
    expect(mayAccept(w, 2 ** 48 - 1)).toBe(false);
    expect(mayAccept(w, 2 ** 48 - 64)).toBe(true);
  });

  it('behaves like a set of seen numbers restricted to the last 64 (property)', () => {
    fc.assert(fc.property(fc.array(fc.nat({ max: 300 }), { maxLength: 400 }), (seqs) => {
      const w = newReplayState();
      const seen = new Set<number>();
      let top = -1;
      for (const s of seqs) {
        const expected = !seen.has(s) && (s > top || top - s < 64);
        expect(mayAccept(w, s)).toBe(expected);
        if (expected) {
          accept(w, s);
          seen.add(s);
          top = Math.max(top, s);
        }
      }
    }), { numRuns: 500, seed: 42 });
  });
});

describe('handshake reassembly (RFC 6347 §4.2.3)', () => {
  const msg = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

  it('reassembles overlapping, duplicated, out-of-order fragments', () => {
    const r = new Reassembler();
    expect(r.add(16, 100, 2, 50, msg.subarray(50, 100))).toBe('incomplete');
    expect(r.add(16, 100, 2, 50, msg.subarray(50, 100))).toBe('incomplete');
    expect(r.add(16, 100, 2, 10, msg.subarray(10, 60))).toBe('incomplete');
    expect(r.bufferedBytes).toBe(100);
    const done = r.add(16, 100, 2, 0, msg.subarray(0, 11));
    expect(done).toEqual({ msgType: 16, messageSeq: 2, body: msg });
    expect(r.bufferedBytes).toBe(0);
  });

  it('is bounded: message length, messages in progress, fragments per message, inconsistent headers', () => {
    const r = new Reassembler({ maxMessageLength: 200, maxMessages: 2, maxFragments: 3 });
    expect(r.add(16, 1000, 1, 0, msg.subarray(0, 10))).toBe('refused');
    expect(r.add(16, 100, 1, 0, msg.subarray(0, 10))).toBe('incomplete');
    expect(r.add(16, 100, 2, 0, msg.subarray(0, 10))).toBe('incomplete');
    expect(r.add(16, 100, 3, 0, msg.subarray(0, 10))).toBe('refused');
    expect(r.add(20, 100, 1, 10, msg.subarray(10, 20))).toBe('refused');
    expect(r.add(16, 100, 1, 10, msg.subarray(10, 20))).toBe('incomplete');
    expect(r.add(16, 100, 1, 20, msg.subarray(20, 30))).toBe('incomplete');
    expect(r.add(16, 100, 1, 30, msg.subarray(30, 40))).toBe('refused'); // 4th fragment: dropped
    expect(r.bufferedBytes).toBe(100);
  });

  it('rejects fragments that claim more than their message or record', () => {
    const h = Buffer.from([16, 0, 0, 10, 0, 0, 0, 0, 8, 0, 0, 4, 1, 2, 3, 4]); // offset 8 + 4 > 10
    expect(() => parseHandshakeFragments(h)).toThrow(/beyond message length/);
    const t = Buffer.from([16, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 10, 1, 2]);
    expect(() => parseHandshakeFragments(t)).toThrow(/beyond record/);
    expect(() => parseClientHello(Buffer.from([0xfe, 0xfd]))).toThrow(/truncated/);
    try {
      parseClientHello(Buffer.alloc(3));
    } catch (e) {
      expect(isDtlsError(e) && e.code).toBe('DTLS_DECODE');
    }
  });
});

describe('decoders under random input', () => {
  it('parseClientHello / parseHandshakeFragments / parseRecords return or throw a DtlsError, nothing else', () => {
    const hello = Buffer.from(`fefd${'11'.repeat(32)}00000004c0a800a80100000900170000ff01000100`, 'hex');
    let ok = 0;
    let rejected = 0;
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.tuple(fc.nat({ max: hello.length }), fc.uint8Array({ maxLength: 8 }))
      .map(([at, ins]) => Buffer.concat([hello.subarray(0, at), Buffer.from(ins), hello.subarray(at + ins.length)]))), (bytes) => {
      const b = Buffer.from(bytes);
      for (const decode of [parseClientHello, parseHandshakeFragments]) {
        try {
          decode(b);
          ok++;
        } catch (e) {
          if (!isDtlsError(e)) throw e;
          rejected++;
        }
      }
      parseRecords(b); // never throws
    }), { numRuns: 5000, seed: 7 });
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    expect(parseClientHello(hello).extensions.map((e) => e.type)).toEqual([0x17, 0xff01]);
  });
});

describe('record framing', () => {
  it('splits several records per datagram and drops bad ones without losing the rest', () => {
    const a = encodeRecord(22, 0xfefd, 0, 1, Buffer.from('abc'));
    const badType = encodeRecord(99, 0xfefd, 0, 2, Buffer.from('x'));
    const badVersion = encodeRecord(23, 0x0303, 1, 3, Buffer.from('y'));
    const b = encodeRecord(23, 0xfefd, 1, 2 ** 48 - 1, Buffer.from('def'));
    const r = parseRecords(Buffer.concat([a, badType, badVersion, b, Buffer.from([22, 0xfe])]));
    expect(r.records.map((x) => [x.type, x.epoch, x.seq, x.fragment.toString()])).toEqual([[22, 0, 1, 'abc'], [23, 1, 2 ** 48 - 1, 'def']]);
    expect(r.dropped).toBe(3);
    const long = encodeRecord(23, 0xfefd, 1, 1, Buffer.from('abcdef'));
    expect(parseRecords(long.subarray(0, long.length - 1))).toEqual({ records: [], dropped: 1 });
    expect(() => encodeRecord(23, 0xfefd, 1, 2 ** 48, Buffer.alloc(0))).toThrow(RangeError);
  });
});

describe('cookie jar and token bucket', () => {
  it('binds the cookie to address, port and ClientHello parameters', () => {
    const jar = new CookieJar(new ManualClock(), Buffer.alloc(32, 1));
    const c = jar.make('10.0.0.1', 5000, Buffer.from('params'));
    expect(jar.verify('10.0.0.1', 5000, Buffer.from('params'), c)).toBe(true);
    expect(jar.verify('10.0.0.2', 5000, Buffer.from('params'), c)).toBe(false);
    expect(jar.verify('10.0.0.1', 5001, Buffer.from('params'), c)).toBe(false);
    expect(jar.verify('10.0.0.1', 5000, Buffer.from('paramz'), c)).toBe(false);
    expect(jar.verify('10.0.0.1', 5000, Buffer.from('params'), c.subarray(1))).toBe(false);
  });

  it('refills at its rate', () => {
    const clock = new ManualClock();
    const b = new TokenBucket(clock, 10, 2);
    expect([b.take(), b.take(), b.take()]).toEqual([true, true, false]);
    clock.advance(100);
    expect([b.take(), b.take()]).toEqual([true, false]);
  });
});
