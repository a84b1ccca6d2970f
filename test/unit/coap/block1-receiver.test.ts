/**
 * Streamed Block1 receive (src/coap/block1-receiver.ts, RFC 7959 §2.3/§2.5/§2.9): message in, reply
 * datagram out, on a ManualClock — no network.
 */
import { generate, parse } from 'coap-packet';
import { describe, expect, it } from 'vitest';
import { Block1Receiver, type Block1AbortReason, type Block1StreamHead } from '../../../src/coap/block1-receiver.js';
import { decodeBlock, decodeUint, encodeBlock, encodeUint, peekHeader, type BlockValue } from '../../../src/coap/message.js';
import { ManualClock } from '../../../src/core/clock.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

const PEER = { address: '127.0.0.1', port: 40000 };
let mid = 100;

function request(block: BlockValue, payload: Buffer, o: { path?: string[]; con?: boolean; size1?: number; token?: Buffer; code?: string } = {}): Buffer {
  return generate({
    code: o.code ?? '0.03', confirmable: o.con ?? true, messageId: mid++, token: o.token ?? Buffer.from([mid & 0xff]),
    options: [
      ...(o.path ?? ['5', '0', '0']).map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(s) })),
      { name: 'Content-Format', value: encodeUint(42) },
      { name: 'Block1', value: encodeBlock(block) },
      ...(o.size1 !== undefined ? [{ name: 'Size1' as const, value: encodeUint(o.size1) }] : []),
    ],
    payload,
  });
}

function setup(opts: { maxTransfers?: number; refuse?: boolean } = {}) {
  const clock = new ManualClock(0);
  const chunks: Buffer[] = [];
  const aborts: Block1AbortReason[] = [];
  const heads: Block1StreamHead[] = [];
  let nextMid = 5000;
  const rx = new Block1Receiver({ clock, idleTimeoutMs: 1000, nextMessageId: () => nextMid++, ...(opts.maxTransfers !== undefined ? { maxTransfers: opts.maxTransfers } : {}) });
  rx.setHandler({
    claims: (method, path) => method === 'PUT' && path.join('/') === '5/0/0',
    open: (head) => {
      heads.push(head);
      if (opts.refuse) return { code: '4.05', payload: 'no' };
      return {
        write: (c) => { chunks.push(Buffer.from(c)); return undefined; },
        end: () => ({ code: '2.04' }),
        abort: (r) => { aborts.push(r); },
      };
    },
  });
  const send = (msg: Buffer) => {
    const h = peekHeader(msg);
    if (!h) throw new Error('bad test message');
    const out = rx.handle(msg, h, PEER);
    if (!out) return undefined;
    const p = parse(out);
    const b1 = p.options.find((x) => x.name === 'Block1')?.value;
    const s1 = p.options.find((x) => x.name === 'Size1')?.value;
    return { code: p.code, ack: p.ack, messageId: p.messageId, token: p.token, block1: b1 ? decodeBlock(b1) : undefined, size1: s1 ? decodeUint(s1) : undefined };
  };
  return { clock, rx, chunks, aborts, heads, send };
}

const data = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
const blk = (i: number, size = 64) => data.subarray(i * size, (i + 1) * size);

describe('Block1Receiver', () => {
  it('2.31 Continue with the Block1 option per block, the final response with M=0, the body in order', () => {
    const t = setup();
    const r0 = t.send(request({ num: 0, more: true, szx: 2 }, blk(0), { size1: 300 }));
    expect(r0).toMatchObject({ code: '2.31', ack: true, block1: { num: 0, more: true, szx: 2 } });
    expect(t.heads[0]).toMatchObject({ method: 'PUT', pathSegments: ['5', '0', '0'], size1: 300, contentFormat: 42 });
    for (let i = 1; i < 4; i++) expect(t.send(request({ num: i, more: true, szx: 2 }, blk(i)))?.code).toBe('2.31');
    const last = t.send(request({ num: 4, more: false, szx: 2 }, blk(4)));
    expect(last).toMatchObject({ code: '2.04', block1: { num: 4, more: false, szx: 2 } });
    expect(Buffer.concat(t.chunks).equals(data)).toBe(true);
    expect(t.rx.stats).toMatchObject({ transfers: 0, bufferedBytes: 0, peakBufferedBytes: 64, blocks: 5 });
  });

  it('the client may switch to smaller blocks (RFC 7959 §2.5: the number is rescaled from the byte offset)', () => {
    const t = setup();
    t.send(request({ num: 0, more: true, szx: 2 }, blk(0)));
    t.send(request({ num: 1, more: true, szx: 2 }, blk(1)));
    expect(t.send(request({ num: 4, more: true, szx: 1 }, data.subarray(128, 160)))?.code).toBe('2.31');
    expect(t.send(request({ num: 5, more: false, szx: 1 }, data.subarray(160, 170)))?.code).toBe('2.04');
    expect(Buffer.concat(t.chunks).equals(data.subarray(0, 170))).toBe(true);
  });

  it('out of order → 4.08 and the transfer waits; the same block re-sent is acknowledged without writing', () => {
    const t = setup();
    t.send(request({ num: 0, more: true, szx: 2 }, blk(0)));
    expect(t.send(request({ num: 2, more: true, szx: 2 }, blk(2)))?.code).toBe('4.08');
    expect(t.send(request({ num: 7, more: true, szx: 2 }, blk(1)))?.code).toBe('4.08');
    expect(t.send(request({ num: 0, more: true, szx: 2 }, blk(0), { path: ['5', '0', '0'] }))?.code).toBe('2.31'); // block 0 restarts
    expect(t.aborts).toEqual(['restarted']);
    expect(t.send(request({ num: 1, more: true, szx: 2 }, blk(1)))?.code).toBe('2.31');
    expect(t.send(request({ num: 1, more: true, szx: 2 }, blk(1)))?.code).toBe('2.31');
    expect(t.chunks.length).toBe(3); // 0, 0 again, 1 — the copy of 1 was not written
    expect(t.send(request({ num: 9, more: true, szx: 2 }, blk(1), { path: ['5', '0', '0'], token: Buffer.from('other') }))?.code).toBe('4.08');
    expect(t.rx.stats.outOfOrder).toBe(3);
  });

  it('a block of the wrong size → 4.00; an unclaimed path → not handled; a refused open → that reply', () => {
    const t = setup();
    expect(t.send(request({ num: 0, more: true, szx: 2 }, data.subarray(0, 50)))?.code).toBe('4.00');
    expect(t.send(request({ num: 0, more: false, szx: 2 }, data.subarray(0, 65)))?.code).toBe('4.00');
    expect(t.send(request({ num: 0, more: true, szx: 2 }, blk(0), { path: ['3', '0', '1'] }))).toBeUndefined();
    expect(t.send(request({ num: 0, more: true, szx: 2 }, blk(0), { code: '0.02' }))).toBeUndefined();
    expect(t.send(request({ num: 1, more: true, szx: 2 }, blk(1)))?.code).toBe('4.08'); // no block 0
    const refused = setup({ refuse: true });
    expect(refused.send(request({ num: 0, more: true, szx: 2 }, blk(0)))?.code).toBe('4.05');
    expect(refused.rx.stats.transfers).toBe(0);
  });

  it('idle transfers time out (sink hears "timeout"); a NON request gets a NON reply with our MID', () => {
    const t = setup();
    t.send(request({ num: 0, more: true, szx: 2 }, blk(0)));
    t.clock.advance(999);
    expect(t.aborts).toEqual([]);
    t.send(request({ num: 1, more: true, szx: 2 }, blk(1)));
    t.clock.advance(999);
    expect(t.aborts).toEqual([]);
    t.clock.advance(1);
    expect(t.aborts).toEqual(['timeout']);
    expect(t.rx.stats.transfers).toBe(0);
    const non = t.send(request({ num: 0, more: true, szx: 2 }, blk(0), { con: false }));
    expect(non).toMatchObject({ code: '2.31', ack: false, messageId: 5000 });
    t.rx.abortAll('closed');
    expect(t.aborts).toEqual(['timeout', 'closed']);
  });

  it('bounds concurrent transfers (5.03 beyond maxTransfers)', () => {
    const t = setup({ maxTransfers: 1 });
    expect(t.send(request({ num: 0, more: true, szx: 2 }, blk(0)))?.code).toBe('2.31');
    expect(t.send(request({ num: 0, more: true, szx: 2 }, blk(0), { code: '0.03', path: ['5', '0', '0'], token: Buffer.from('b') }))?.code).toBe('2.31'); // same key: restart
    const other = setup({ maxTransfers: 1 });
    other.rx.setHandler({ claims: () => true, open: () => ({ write: () => undefined, end: () => ({ code: '2.04' }), abort: () => undefined }) });
    other.send(request({ num: 0, more: true, szx: 2 }, blk(0), { path: ['a'] }));
    expect(other.send(request({ num: 0, more: true, szx: 2 }, blk(0), { path: ['b'] }))?.code).toBe('5.03');
  });

  it('never throws on hostile datagrams (fuzz)', () => {
    const t = setup();
    const seeds = [request({ num: 0, more: true, szx: 2 }, blk(0)), request({ num: 3, more: false, szx: 0 }, data.subarray(0, 5))];
    const result = fuzzDecoder((input) => {
      const msg = Buffer.from(input);
      const h = peekHeader(msg);
      if (h) t.rx.handle(msg, h, PEER);
    }, seeds, { runs: 3000 });
    expect(result.ok).toBe(3000);
  });
});
