/**
 * Execute Update (/5/0/2) and the package URI write (/5/0/1) are not idempotent. When their answer is lost —
 * the ACK dropped, or the device restarting into the new firmware before a retransmission reaches it
 * (RFC 7252 §4.2) — the job must read State/Update Result before sending them again. Before this was so, a
 * retried Execute met a device already updated (State 0, Result 1) and the job failed with "the device
 * refused Update: 4.05" (seen in test/protocol/fota-transfer.test.ts under CPU load).
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { LwM2MError } from '../../../../src/core/errors.js';
import type { LwM2MPath } from '../../../../src/core/path.js';
import { encodeFirmwareImage } from '../../../../src/fota/image.js';
import { FirmwareImageStore } from '../../../../src/server/fota/image-store.js';
import { FotaJob } from '../../../../src/server/fota/job.js';
import type { FotaJobSpec } from '../../../../src/server/fota/types.js';
import type { OperationResult } from '../../../../src/server/operations/types.js';
import { FakeDevice, type FakeDeviceOptions } from './fake-device.js';

const imageBytes = encodeFirmwareImage({ name: 'fw', version: '2.0', body: Buffer.alloc(4_000, 3) });

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

async function drive(clock: ManualClock, done: () => boolean, stepMs = 50, maxSteps = 100_000): Promise<void> {
  await flush();
  for (let i = 0; i < maxSteps && !done(); i++) {
    clock.advance(stepMs);
    await flush();
  }
  if (!done()) throw new Error('drive: condition not reached');
}

type Loss = 'answer-lost' | 'request-lost' | 'answered-after-reboot';

/** A FakeDevice whose first Execute Update / URI write goes wrong on the way, as `loss` says. */
class LossyDevice extends FakeDevice {
  updates = 0;
  uriWrites = 0;
  private lostOnce = false;

  constructor(private readonly clk: ManualClock, private readonly loss: Loss, private readonly on: 'execute' | 'uri', o: FakeDeviceOptions = {}) {
    super(clk, o);
  }

  override async execute(ep: string, path: LwM2MPath, timeoutMs = 30_000, signal?: AbortSignal): Promise<OperationResult> {
    if (path.toString() !== '/5/0/2' || this.on !== 'execute') return super.execute(ep, path);
    return this.lossy(async () => {
      const r = await super.execute(ep, path);
      if (r.ok) this.updates++;
      return r;
    }, timeoutMs, signal);
  }

  override async write(ep: string, path: LwM2MPath, value: Uint8Array | string, timeoutMs = 30_000, signal?: AbortSignal): Promise<OperationResult> {
    if (path.toString() !== '/5/0/1' || value === '' || this.on !== 'uri') return super.write(ep, path, value);
    return this.lossy(async () => {
      const r = await super.write(ep, path, value);
      if (r.ok) this.uriWrites++;
      return r;
    }, timeoutMs, signal);
  }

  private async lossy(carryOut: () => Promise<OperationResult>, timeoutMs: number, signal: AbortSignal | undefined): Promise<OperationResult> {
    if (this.lostOnce) return carryOut();
    this.lostOnce = true;
    if (this.loss === 'request-lost') {
      this.log.push('(request lost)');
    } else {
      const r = await carryOut();
      if (this.loss === 'answered-after-reboot') {
        // The answer is lost; a retransmitted copy reaches the device after its restart (same port, no
        // duplicate detection any more) and is answered for the state it is in then.
        await new Promise<void>((resolve) => this.subscribe((e) => { if (e.type === 'registered') resolve(); }));
        return this.state === 2 ? r : { ok: false, code: '4.05', diagnostic: `Update needs state Downloaded (2), state is ${this.state}` };
      }
    }
    // No answer: the exchange gives up after timeoutMs, or when the job aborts it.
    await new Promise<void>((resolve) => {
      const t = this.clk.setTimeout(resolve, timeoutMs);
      signal?.addEventListener('abort', () => { t.cancel(); resolve(); }, { once: true });
    });
    throw new LwM2MError('TIMEOUT', 'no answer');
  }
}

function setup(loss: Loss, on: 'execute' | 'uri', deviceOpts: FakeDeviceOptions = {}, spec: Partial<FotaJobSpec> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const device = new LossyDevice(clock, loss, on, deviceOpts);
  const image = new FirmwareImageStore().add(imageBytes);
  const job = new FotaJob({
    id: 'job-1', endpoint: 'dev1', image, link: device, clock,
    spec: { method: 'push', timeouts: { requestMs: 10_000 }, ...spec },
    ...(spec.method === 'pull' ? { uri: `coap://127.0.0.1:5683/fw/${image.id}` } : {}),
  });
  return { clock, device, job };
}

describe('FotaJob: a non-idempotent request whose answer is lost is not sent again blindly', () => {
  it('Execute carried out, answer lost, device restarts before a retransmission: no second Execute, success', async () => {
    const { clock, device, job } = setup('answer-lost', 'execute', { updateMs: 200 });
    job.start();
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o, o.reason).toMatchObject({ status: 'success', updateResult: 1 });
    expect(device.updates).toBe(1);
    expect(device.log.filter((l) => l === 'execute /5/0/2')).toHaveLength(1);
    // The Register aborted the exchange that could no longer be answered: no wait for requestMs.
    expect(job.snapshot().history.some((h) => /timed out/.test(h.detail ?? ''))).toBe(false);
  });

  it('Execute carried out, answer lost, device still Updating when asked: no second Execute, success', async () => {
    const { clock, device, job } = setup('answer-lost', 'execute', { updateMs: 60_000 });
    job.start();
    await drive(clock, () => job.ended);
    expect((await job.done).status).toBe('success');
    expect(device.log.filter((l) => l === 'execute /5/0/2')).toHaveLength(1);
  });

  it('Execute lost on the way (device still Downloaded with Result 0): executed again, once', async () => {
    const { clock, device, job } = setup('request-lost', 'execute');
    job.start();
    await drive(clock, () => job.ended);
    expect((await job.done).status).toBe('success');
    expect(device.log.filter((l) => l === 'execute /5/0/2')).toHaveLength(1); // the lost one never reached the device
    expect(device.log).toContain('(request lost)');
    expect(device.updates).toBe(1);
  });

  it('a 4.05 answered to a copy of the Execute after the restart is not a refusal when the device shows Result 1', async () => {
    const { clock, device, job } = setup('answered-after-reboot', 'execute', { updateMs: 200 });
    job.start();
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o, o.reason).toMatchObject({ status: 'success', updateResult: 1 });
    expect(device.updates).toBe(1);
  });

  it('URI write carried out, answer lost: not written again (the device would answer 4.00 in Downloading)', async () => {
    const { clock, device, job } = setup('answer-lost', 'uri', { downloadMs: 60_000 }, { method: 'pull', protocol: 'coap' });
    job.start();
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o, o.reason).toMatchObject({ status: 'success' });
    expect(device.uriWrites).toBe(1);
    expect(device.log.filter((l) => l.startsWith('write /5/0/1 "coap'))).toHaveLength(1);
  });

  it('URI write lost on the way (device still Idle): written again', async () => {
    const { clock, device, job } = setup('request-lost', 'uri', {}, { method: 'pull', protocol: 'coap' });
    job.start();
    await drive(clock, () => job.ended);
    expect((await job.done).status).toBe('success');
    expect(device.uriWrites).toBe(1);
    expect(device.log.filter((l) => l.startsWith('write /5/0/1 "coap'))).toHaveLength(1);
  });

  it('a real refusal of Update names the State and Update Result the device shows', async () => {
    const clock = new ManualClock(0);
    // Someone else resets the device between Downloaded and the Execute: 4.05 for real.
    class Reset extends FakeDevice {
      override async execute(ep: string, path: LwM2MPath): Promise<OperationResult> {
        if (path.toString() === '/5/0/2') {
          this.state = 0;
          this.result = 0;
        }
        return super.execute(ep, path);
      }
    }
    const device = new Reset(clock);
    const image = new FirmwareImageStore().add(imageBytes);
    const job = new FotaJob({ id: 'j', endpoint: 'dev1', image, link: device, clock, spec: { method: 'push' } });
    job.start();
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o.status).toBe('failed');
    expect(o.reason).toBe('the device refused Update (/5/0/2): 4.05; device: State 0 (idle), Update Result 0 (initial)');
  });
});
