/**
 * FOTA push over the in-memory network (issue 7): a Block1 write of a 100 KB image to /5/0/0 at block
 * sizes 16, 512 and 1024 with 20 % loss, streamed into the verifier at the CoAP layer (one block held
 * at a time, node-coap never sees the blocks); out-of-order blocks, 4.13 with Size1, invalid states,
 * notifications of /5/0/3 and /5/0/5, and Execute → reboot → re-register with the new version.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { blockSizeOf } from '../../src/coap/message.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { fotaRig, type FotaRig } from '../helpers/fota-device.js';

const OPAQUE = 42;
const rigs: FotaRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

async function rig(...args: Parameters<typeof fotaRig>): Promise<FotaRig> {
  const r = await fotaRig(...args);
  rigs.push(r);
  return r;
}

const IMAGE = encodeFirmwareImage({ name: 'acme-fw', version: '2.0.0', body: randomBytes(100 * 1024) });
// Fast CoAP timing; enough retransmissions that 20 % loss each way never exhausts them.
const TIMING = { ackTimeoutMs: 8, ackRandomFactor: 1.5, maxRetransmit: 10, maxLatencyMs: 100 };

describe('firmware push (Block1 to /5/0/0, streamed)', () => {
  for (const size of [16, 512, 1024]) {
    it(`100 KB image at block size ${size} with 20 % loss: Downloaded, never more than one block held`, async () => {
      // 16-byte blocks: 6 500 exchanges — a shorter ACK timeout keeps the test short (retransmissions are cheap here).
      const r = await rig({ network: { loss: 0.2, seed: size }, timing: size === 16 ? { ...TIMING, ackTimeoutMs: 1, maxRetransmit: 14 } : TIMING });
      const res = await r.dm({ method: 'PUT', path: '/5/0/0', payload: IMAGE, contentFormat: OPAQUE, block1Size: size });
      expect(res.code).toBe('2.04');
      expect(r.updater.state).toBe(2);
      expect(r.updater.result).toBe(0);
      expect(r.updater.downloadedImage).toMatchObject({ name: 'acme-fw', version: '2.0.0', bodyLength: 100 * 1024 });
      const endpoint = r.connections[0]?.endpoint;
      const stats = endpoint?.block1StreamStats;
      expect(stats?.blocks).toBeGreaterThanOrEqual(Math.ceil(IMAGE.length / size));
      expect(stats?.peakBufferedBytes).toBe(size); // one block, never more
      expect(stats?.bufferedBytes).toBe(0);
      expect(stats?.transfers).toBe(0);
      // The blocks never reached node-coap (its Server, which would reassemble them, was never created).
      expect(endpoint?.nodeCoapHalves.server).toBe(false);
      expect(r.net.stats.lost).toBeGreaterThan(0);
    }, 120_000);
  }

  it('notifies observers of /5/0/3 and /5/0/5; Execute → Updating → reboot → re-register showing the new version', async () => {
    const r = await rig({ timing: TIMING });
    const state = await r.server.observe({ ...r.deviceAddress(), path: '/5/0/3', accept: 0 });
    const result = await r.server.observe({ ...r.deviceAddress(), path: '/5/0/5', accept: 0 });
    const states: string[] = [state.response.payload.toString()];
    const results: string[] = [result.response.payload.toString()];
    state.onNotification((n) => states.push(n.payload.toString()));
    result.onNotification((n) => results.push(n.payload.toString()));
    expect((await r.dm({ method: 'PUT', path: '/5/0/0', payload: IMAGE, contentFormat: OPAQUE, block1Size: 512 })).code).toBe('2.04');
    expect((await r.dm({ method: 'POST', path: '/5/0/2' })).code).toBe('2.04');
    await expect.poll(() => r.registers.length, { timeout: 5000, interval: 10 }).toBe(2);
    await expect.poll(() => states.at(-1), { timeout: 2000, interval: 10 }).toBe('3');
    expect(states).toEqual(['0', '1', '2', '3']);
    expect(await r.readText('/5/0/3')).toBe('0');
    expect(await r.readText('/5/0/5')).toBe('1');
    expect(await r.readText('/5/0/6')).toBe('acme-fw');
    expect(await r.readText('/5/0/7')).toBe('2.0.0');
    expect(await r.readText('/3/0/3')).toBe('2.0.0');
  }, 30_000);

  it('out-of-order block → 4.08, state kept; block 0 restarts; Size1 over the limit → 4.13 with Size1 and result 2', async () => {
    const r = await rig({ timing: TIMING, update: { maxImageBytes: 200_000 } });
    // One message per block, each with a fresh token (RFC 7959 does not tie the blocks to one token).
    const block = (num: number, more: boolean, payload: Buffer, size1?: number) => r.server.exchange(
      { ...r.deviceAddress(), method: 'PUT', path: '/5/0/0', contentFormat: OPAQUE },
      { payload, block1: { num, more, szx: 2 }, ...(size1 !== undefined ? { size1 } : {}) },
    );
    const b = (n: number) => IMAGE.subarray(n * 64, (n + 1) * 64);
    expect((await block(0, true, b(0))).code).toBe('2.31');
    expect(r.updater.state).toBe(1);
    const skipped = await block(2, true, b(2));
    expect(skipped.code).toBe('4.08');
    expect(r.updater.state).toBe(1);
    const again = await block(1, true, b(1));
    expect(again.code).toBe('2.31');
    expect(again.block1).toEqual({ num: 1, more: true, szx: 2 });
    expect((await block(1, true, b(1))).code).toBe('2.31'); // the same block re-sent (new message): acknowledged again
    expect((await block(0, true, b(0))).code).toBe('2.31'); // restart
    expect(r.updater.received).toBe(64);
    const tooBig = await block(0, true, b(0), 300_000);
    expect(tooBig.code).toBe('4.13');
    expect(tooBig.size1).toBe(200_000 + 46 + 510);
    expect([r.updater.state, r.updater.result]).toEqual([0, 2]);
    expect(blockSizeOf(2)).toBe(64);
  }, 30_000);

  it('a push while Updating → 4.05, while Downloaded → 4.00; an empty write while Updating → 4.05', async () => {
    const r = await rig({ timing: TIMING, update: { flashMs: 60_000 } });
    const push = () => r.dm({ method: 'PUT', path: '/5/0/0', payload: IMAGE, contentFormat: OPAQUE, block1Size: 1024 });
    expect((await push()).code).toBe('2.04');
    expect((await push()).code).toBe('4.00');
    expect(r.updater.state).toBe(2);
    expect((await r.dm({ method: 'POST', path: '/5/0/2' })).code).toBe('2.04');
    expect((await push()).code).toBe('4.05');
    expect((await r.dm({ method: 'PUT', path: '/5/0/0', payload: Buffer.alloc(0), contentFormat: OPAQUE })).code).toBe('4.05');
    expect([r.updater.state, r.updater.result]).toEqual([3, 0]);
  }, 30_000);

  it('an abandoned push (no block for EXCHANGE_LIFETIME) → Idle with result 4; an empty write mid-push resets', async () => {
    const r = await rig({ timing: { ...TIMING, maxRetransmit: 1, maxLatencyMs: 10 } });
    const block = (num: number, payload: Buffer) => r.server.exchange(
      { ...r.deviceAddress(), method: 'PUT', path: '/5/0/0', contentFormat: OPAQUE },
      { payload, block1: { num, more: true, szx: 2 } },
    );
    const first = await block(0, IMAGE.subarray(0, 64));
    expect(first.code).toBe('2.31');
    expect(r.updater.state).toBe(1);
    await expect.poll(() => r.updater.result, { timeout: 5000, interval: 10 }).toBe(4);
    expect(r.updater.state).toBe(0);
    // Mid-push reset: the empty write (one message) goes through the normal write path.
    const again = await block(0, IMAGE.subarray(0, 64));
    expect(again.code).toBe('2.31');
    expect((await r.dm({ method: 'PUT', path: '/5/0/0', payload: Buffer.alloc(0), contentFormat: OPAQUE })).code).toBe('2.04');
    expect([r.updater.state, r.updater.result]).toEqual([0, 0]);
    const late = await block(1, IMAGE.subarray(64, 128));
    expect(late.code).toBe('4.00');
    expect([r.updater.state, r.updater.result]).toEqual([0, 0]);
  }, 30_000);
});
