import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { encodeFirmwareImage } from '../../../../src/fota/image.js';
import { FirmwareImageStore } from '../../../../src/server/fota/image-store.js';
import { FotaJob } from '../../../../src/server/fota/job.js';
import { FotaError, FotaService, globToRegExp } from '../../../../src/server/fota/service.js';
import type { FotaJobSpec, FotaPhase } from '../../../../src/server/fota/types.js';
import { FakeDevice, type FakeDeviceOptions } from './fake-device.js';

const body = Buffer.alloc(10_000, 7);
const imageBytes = encodeFirmwareImage({ name: 'fw', version: '2.0', body });

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Advances the manual clock in steps until `done()` (bounded). */
async function drive(clock: ManualClock, done: () => boolean, stepMs = 50, maxSteps = 200_000): Promise<void> {
  await flush();
  for (let i = 0; i < maxSteps && !done(); i++) {
    clock.advance(stepMs);
    await flush();
  }
  if (!done()) throw new Error('drive: condition not reached');
}

function setup(deviceOpts: FakeDeviceOptions = {}, spec: Partial<FotaJobSpec> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const device = new FakeDevice(clock, deviceOpts);
  const store = new FirmwareImageStore();
  const image = store.add(imageBytes);
  const phases: FotaPhase[] = [];
  const job = new FotaJob({
    id: 'job-1', endpoint: 'dev1', image, link: device, clock,
    spec: { method: 'push', ...spec },
    ...(spec.method === 'pull' ? { uri: `coap://127.0.0.1:5683/fw/${image.id}` } : {}),
    onChange: (j) => {
      if (phases[phases.length - 1] !== j.phase) phases.push(j.phase);
    },
  });
  return { clock, device, image, job, phases };
}

describe('FotaJob (ManualClock, scripted device)', () => {
  it('push: reset, read /5/0, observe State and Result, Block1 delivery, Update, success after re-registration', async () => {
    const { clock, device, job, phases, image } = setup();
    job.start();
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o).toMatchObject({ status: 'success', updateResult: 1 });
    expect(phases).toEqual(['resetting', 'reading', 'observing', 'delivering', 'downloading', 'updating', 'succeeded']);
    expect(device.log[0]).toBe('write /5/0/0 0 bytes');
    expect(device.log).toContain(`push ${image.size} bytes / 512`);
    expect(device.log).toContain('execute /5/0/2');
    expect(device.version).toBe('2.0');
    const s = job.snapshot();
    expect([s.bytesSent, s.totalBytes, s.percent, s.deliveries, s.reconnects]).toEqual([image.size, image.size, 100, 1, 1]);
    expect(device.listenerCount).toBe(0);
  });

  it('pull: reset with an empty /5/0/1, then the URI, waits for Downloaded', async () => {
    const { clock, device, job } = setup({}, { method: 'pull', protocol: 'coap' });
    job.start();
    await drive(clock, () => job.ended);
    expect((await job.done).status).toBe('success');
    expect(device.log[0]).toBe('write /5/0/1 ""');
    expect(device.log.some((l) => /^write \/5\/0\/1 "coap:\/\/127\.0\.0\.1:5683\/fw\//.test(l))).toBe(true);
    expect(job.resetMechanism).toBe('package-uri');
  });

  it('an Update Result of 8 ends the job as failed with the result', async () => {
    const { clock, job } = setup({ updateResult: 8 });
    job.start();
    await drive(clock, () => job.ended);
    expect(await job.done).toMatchObject({ status: 'failed', updateResult: 8, updateResultName: 'firmware update failed', phase: 'updating' });
  });

  it('Result 1 with the wrong PkgVersion is a failure', async () => {
    const { clock, job } = setup({ versionAfter: '1.9' });
    job.start();
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o.status).toBe('failed');
    expect(o.reason).toMatch(/PkgVersion "1.9", not "2.0"/);
  });

  it('a corrupt delivery (device reports Result 5) fails in downloading', async () => {
    const clock = new ManualClock(0);
    const device = new FakeDevice(clock);
    const store = new FirmwareImageStore();
    const image = store.add(imageBytes);
    const corrupt = { ...image, data: Buffer.from(image.data) };
    corrupt.data.writeUInt8(corrupt.data.readUInt8(corrupt.data.length - 1) ^ 0xff, corrupt.data.length - 1);
    const job = new FotaJob({ id: 'j', endpoint: 'dev1', image: corrupt, link: device, clock, spec: { method: 'push' } });
    job.start();
    await drive(clock, () => job.ended);
    expect(await job.done).toMatchObject({ status: 'failed', updateResult: 5, phase: 'downloading' });
  });

  it('cancel mid-transfer aborts the push and executes /5/0/10', async () => {
    const { clock, device, job } = setup({ blockMs: 10 });
    job.start();
    await drive(clock, () => job.snapshot().bytesSent > 2000);
    expect(job.phase).toBe('delivering');
    expect(job.cancel('operator said so')).toEqual({ accepted: true });
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o.status).toBe('cancelled');
    expect(o.phase).toBe('delivering');
    expect(o.reason).toMatch(/operator said so: Cancel \(\/5\/0\/10\) executed/);
    expect([device.state, device.result]).toEqual([0, 10]);
    expect(device.blocks).toBeLessThan(Math.ceil(imageBytes.length / 512));
  });

  it('cancel falls back to the reset when the device has no Cancel resource', async () => {
    const { clock, device, job } = setup({ blockMs: 10, hasCancel: false });
    job.start();
    await drive(clock, () => job.snapshot().bytesSent > 1000);
    job.cancel();
    await drive(clock, () => job.ended);
    expect((await job.done).reason).toMatch(/no Cancel \(4\.04\): reset to Idle/);
    expect(device.log.filter((l) => l === 'write /5/0/0 0 bytes')).toHaveLength(2);
  });

  it('cannot be cancelled once Update was executed', async () => {
    const { clock, job } = setup({ updateMs: 10_000 });
    job.start();
    await drive(clock, () => job.phase === 'updating');
    expect(job.cancel().accepted).toBe(false);
    await drive(clock, () => job.ended);
    expect((await job.done).status).toBe('success');
  });

  it('resumes after the device drops mid-push and registers again: delivers again and succeeds', async () => {
    const { clock, job } = setup({ dropAfterBlocks: 5, rejoinMs: 40_000 }, { timeouts: { requestMs: 2000 } });
    job.start();
    await drive(clock, () => job.ended, 100);
    const o = await job.done;
    expect(o.status).toBe('success');
    const s = job.snapshot();
    expect(s.deliveries).toBe(2);
    expect(s.reconnects).toBeGreaterThanOrEqual(2); // the rejoin and the restart after the update
    expect(s.history.filter((h) => h.phase === 'delivering')).toHaveLength(2);
  });

  it('waits for a sleeping queue-mode device to wake up (Update) before it starts', async () => {
    const { clock, device, job } = setup();
    device.asleep = true;
    job.start();
    await drive(clock, () => job.phase === 'waiting');
    clock.advance(60_000);
    await flush();
    expect(device.log).toEqual([]);
    device.wake();
    await drive(clock, () => job.ended);
    expect((await job.done).status).toBe('success');
    expect(device.log[0]).toBe('write /5/0/0 0 bytes');
  });

  it('polls State and Result when notifications are lost', async () => {
    const { clock, device, job } = setup({ dropNotifications: true }, { timeouts: { pollMs: 1000 } });
    job.start();
    await drive(clock, () => job.ended, 200);
    expect((await job.done).status).toBe('success');
    expect(device.log.filter((l) => l === 'read /5/0/3').length).toBeGreaterThan(0);
  });

  it('times out in downloading when the device never reaches Downloaded', async () => {
    const { clock, job } = setup({ downloadMs: 10_000_000 }, { method: 'pull', timeouts: { deliveryMs: 60_000 } });
    job.start();
    await drive(clock, () => job.ended, 1000);
    expect(await job.done).toMatchObject({ status: 'timeout', phase: 'downloading' });
  });

  it('refuses push to a pull-only device', async () => {
    const { clock, job } = setup({ deliveryMethod: 0 });
    job.start();
    await drive(clock, () => job.ended);
    const o = await job.done;
    expect(o.status).toBe('failed');
    expect(o.reason).toMatch(/only supports pull/);
  });

  it('refuses pull over a protocol the device does not list in /5/0/8 (Result 9)', async () => {
    const { clock, job } = setup({ protocols: [0] }, { method: 'pull', protocol: 'http' });
    job.start();
    await drive(clock, () => job.ended);
    expect(await job.done).toMatchObject({ status: 'failed', updateResult: 9 });
  });
});

describe('FotaService', () => {
  function service(devices: FakeDevice[], clock: ManualClock) {
    const byEp = new Map(devices.map((d) => [d.endpoint, d]));
    const pick = (ep: string): FakeDevice | undefined => byEp.get(ep);
    const svc = new FotaService({
      clock,
      pullBase: () => ({ coap: 'coap://127.0.0.1:5683' }),
      endpoints: () => byEp.keys(),
      link: {
        registrationId: (ep) => pick(ep)?.registrationId(ep),
        isAsleep: (ep) => pick(ep)?.isAsleep() ?? false,
        read: (ep, p) => (pick(ep) as FakeDevice).read(ep, p),
        write: (ep, p, v) => (pick(ep) as FakeDevice).write(ep, p, v),
        push: (ep, d, o) => (pick(ep) as FakeDevice).push(ep, d, o),
        execute: (ep, p) => (pick(ep) as FakeDevice).execute(ep, p),
        observe: (ep, p) => (pick(ep) as FakeDevice).observe(ep, p),
        cancelObserve: (ep, p) => (pick(ep) as FakeDevice).cancelObserve(ep, p),
        subscribe: (l) => {
          const offs = devices.map((d) => d.subscribe(l));
          return () => offs.forEach((f) => f());
        },
      },
    });
    return svc;
  }

  it('runs one job per endpoint (a second start is 409) and reports the latest job', async () => {
    const clock = new ManualClock(0);
    const d = new FakeDevice(clock);
    const svc = service([d], clock);
    const img = svc.store.add(imageBytes);
    const job = await svc.start('dev1', img.id, { method: 'push' });
    await expect(svc.start('dev1', img.id, { method: 'push' })).rejects.toMatchObject({ code: 'FOTA_JOB_ACTIVE', httpStatus: 409 });
    await expect(svc.start('nobody', img.id, { method: 'push' })).rejects.toBeInstanceOf(FotaError);
    await drive(clock, () => job.ended);
    await expect(svc.start('dev1', 'fw@9.9', { method: 'push' })).rejects.toMatchObject({ code: 'FOTA_IMAGE_NOT_FOUND', httpStatus: 404 });
    expect(svc.job('dev1')?.snapshot().outcome?.status).toBe('success');
    const again = await svc.start('dev1', 'fw@2.0', { method: 'pull', protocol: 'coap' });
    expect(again.uri).toBe(`coap://127.0.0.1:5683/fw/${img.id}?ep=dev1`);
    await expect(svc.start('dev1', img.id, { method: 'pull', protocol: 'http' })).rejects.toMatchObject({ code: 'FOTA_JOB_ACTIVE' });
    await drive(clock, () => again.ended);
    await expect(svc.start('dev1', img.id, { method: 'pull', protocol: 'http' })).rejects.toThrow(/does not serve images over http/);
  });

  it('campaign: concurrency bound, a result per device, failures recorded', async () => {
    const clock = new ManualClock(0);
    const devices = Array.from({ length: 12 }, (_, i) => new FakeDevice(clock, {
      endpoint: `sim-${String(i).padStart(2, '0')}`, ...(i % 5 === 4 ? { updateResult: 8 } : {}),
    }));
    const svc = service(devices, clock);
    const img = svc.store.add(imageBytes);
    let maxRunning = 0;
    const running = new Set<string>();
    svc.on('job', (s) => {
      if (s.outcome) running.delete(s.endpoint);
      else running.add(s.endpoint);
      maxRunning = Math.max(maxRunning, running.size);
    });
    const c = svc.createCampaign({ select: { pattern: 'sim-*' }, image: img.id, method: 'push', concurrency: 3 });
    await drive(clock, () => c.ended);
    const snap = c.snapshot();
    expect(snap.state).toBe('done');
    expect(snap.total).toBe(12);
    expect(snap.counts).toMatchObject({ success: 10, failed: 2, queued: 0, running: 0 });
    expect(maxRunning).toBe(3);
    expect(snap.devices?.find((d) => d.endpoint === 'sim-04')?.outcome).toMatchObject({ status: 'failed', updateResult: 8 });
  });

  it('campaign cancel drops the queued devices and cancels the running jobs', async () => {
    const clock = new ManualClock(0);
    const devices = Array.from({ length: 6 }, (_, i) => new FakeDevice(clock, { endpoint: `d${i}`, blockMs: 20 }));
    const svc = service(devices, clock);
    const img = svc.store.add(imageBytes);
    const c = svc.createCampaign({ select: { endpoints: devices.map((d) => d.endpoint) }, image: img.id, method: 'push', concurrency: 2 });
    await drive(clock, () => (svc.job('d0')?.snapshot().bytesSent ?? 0) > 0);
    c.cancel();
    await drive(clock, () => c.ended);
    expect(c.snapshot().counts).toMatchObject({ cancelled: 6 });
    expect(c.snapshot().state).toBe('cancelled');
  });

  it('glob patterns', () => {
    expect(globToRegExp('sim-*').test('sim-001')).toBe(true);
    expect(globToRegExp('sim-?').test('sim-10')).toBe(false);
    expect(globToRegExp('a.b*').test('axb')).toBe(false);
  });
});
