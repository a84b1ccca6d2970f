/**
 * The fleet's `apply-firmware` step (simulators/scenario/types.ts) drives the device-side update: it
 * arms the outcome and the flash time of the next Execute /5/0/2. A simulated device registered with an
 * LwM2MServer on the memory network gets a Block1 push, is executed, and ends as the step said.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapEndpoint } from '../../src/coap/endpoint.js';
import { silentLogger } from '../../src/core/logger.js';
import type { FirmwareObject } from '../../src/client/objects/firmware.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { SimDevice } from '../../simulators/engine/device.js';
import { ShardRunner } from '../../simulators/engine/shard.js';
import type { Step } from '../../simulators/scenario/types.js';
import { resolveDevice } from '../../simulators/scenario/types.js';
import { MetricsRegistry } from '../../simulators/metrics/registry.js';
import { parseScenario } from '../../simulators/scenario/load.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const IMAGE = encodeFirmwareImage({ name: 'sim-fw', version: '2.0.0', body: randomBytes(20_000) });

const scenario = (outcome: string) => `
name: fota-${outcome}
target: { server: "coap://127.0.0.1:5683" }
devices: { count: 1, endpoint: "fota-{index:03}", device: { firmwareVersion: "1.0.0" } }
phases:
  - { duration: 1s, arrivalRate: 1 }
flows:
  - name: fota
    weight: 1
    steps: [register, { apply-firmware: { outcome: ${outcome}, duration: 300ms } }, { wait: 60s }]
`;

async function run(outcome: string) {
  const net = new MemoryNetwork({ seed: 5 });
  cleanups.push(() => net.close());
  const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }) });
  cleanups.push(() => server.close());
  const metrics = new MetricsRegistry({ now: () => systemClock.now() });
  const runner = new ShardRunner({
    scenario: await parseScenario(scenario(outcome), 'fota.yaml'), shardIndex: 0, shardCount: 1, serverUri: 'coap://127.0.0.1:5683',
    clock: systemClock, log: silentLogger, models: loadBuiltinRegistry(), metrics,
    createSocket: async () => net.createSocket({ address: '127.0.0.1' }),
  });
  cleanups.push(() => runner.stop());
  void runner.run();
  await expect.poll(() => metrics.counter('firmware.armed'), { timeout: 10_000, interval: 10 }).toBe(1);
  const reg = server.registrations.getByEndpoint('fota-000');
  if (!reg) throw new Error('not registered');
  // A bare CoAP endpoint plays the orchestrator: push, execute, read back.
  const fota = new CoapEndpoint({ socket: net.createSocket({ address: '127.0.0.1' }) });
  cleanups.push(() => fota.close());
  const to = () => {
    const r = server.registrations.getByEndpoint('fota-000');
    if (!r) throw new Error('not registered');
    return { host: r.address, port: r.port };
  };
  const read = async (path: string) => (await fota.request({ ...to(), path, accept: 0 })).payload.toString();
  return { server, metrics, fota, to, read, firstRegistration: reg.registrationId };
}

describe('apply-firmware arms the simulated device', () => {
  it('outcome success: push, Execute → 300 ms Updating → reboot → re-registered with /3/0/3 2.0.0, result 1', async () => {
    const t = await run('success');
    expect((await t.fota.request({ ...t.to(), method: 'PUT', path: '/5/0/0', payload: IMAGE, contentFormat: 42, block1Size: 512 })).code).toBe('2.04');
    expect(await t.read('/5/0/3')).toBe('2');
    expect((await t.fota.request({ ...t.to(), method: 'POST', path: '/5/0/2' })).code).toBe('2.04');
    expect(await t.read('/5/0/3')).toBe('3');
    await expect.poll(() => t.server.registrations.getByEndpoint('fota-000')?.registrationId, { timeout: 5000, interval: 10 })
      .not.toBe(t.firstRegistration);
    expect(await t.read('/5/0/5')).toBe('1');
    expect(await t.read('/3/0/3')).toBe('2.0.0');
    expect(await t.read('/5/0/7')).toBe('2.0.0');
    expect(t.metrics.counter('firmware.push.ok')).toBe(1);
    expect(t.metrics.counter('firmware.update.ok')).toBe(1);
  }, 20_000);

  it('outcome failed: Update Result 8, back to Downloaded, no reboot', async () => {
    const t = await run('failed');
    expect((await t.fota.request({ ...t.to(), method: 'PUT', path: '/5/0/0', payload: IMAGE, contentFormat: 42, block1Size: 1024 })).code).toBe('2.04');
    expect((await t.fota.request({ ...t.to(), method: 'POST', path: '/5/0/2' })).code).toBe('2.04');
    await expect.poll(() => t.metrics.counter('firmware.update.failed'), { timeout: 5000, interval: 10 }).toBe(1);
    expect(await t.read('/5/0/5')).toBe('8');
    expect(await t.read('/5/0/3')).toBe('2');
    expect(await t.read('/3/0/3')).toBe('1.0.0');
    expect(t.server.registrations.getByEndpoint('fota-000')?.registrationId).toBe(t.firstRegistration);
  }, 20_000);
});

/**
 * The in-memory network delivers on real timers while the device's timeouts run on a ManualClock: before
 * the clock moves on, let what is in flight arrive (else an exchange can time out on the manual clock while
 * its answer is a millisecond away). Bounded: every datagram in flight is delivered or dropped.
 */
async function settle(net: MemoryNetwork): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    await new Promise((r) => setImmediate(r));
    if (net.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const off = net.tap((e) => {
        if (e.kind === 'sent') return;
        off();
        resolve();
      });
    });
  }
}

describe('the device network conditions apply to firmware downloads', () => {
  it('go-offline during a CoAP pull: blocks stop, the download retries and resumes at the block in flight when back', async () => {
    const clock = new ManualClock(1_000_000);
    const net = new MemoryNetwork({ seed: 9 });
    cleanups.push(() => net.close());
    const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }) });
    cleanups.push(() => server.close());
    const blocks: number[] = [];
    // What the device had received when it asked for each block (one block per request: nothing else in flight).
    const receivedWhenAsked: Array<number | undefined> = [];
    const seen: { fw?: FirmwareObject['updater'] } = {};
    // The block in flight is chosen here, not by scheduling: the first request for block 3 is never answered.
    // (An answer sent once the device is offline is dropped — but CoAP retransmissions run on real time, not
    // on this ManualClock: a retransmitted request could fetch that answer after the device is back, and the
    // download would then go on from block 4.) Left pending; the endpoint is closed after the test.
    const HELD = 3;
    const images = new CoapEndpoint({
      socket: net.createSocket({ address: '127.0.0.1', port: 5690 }),
      handler: async (req) => {
        const num = req.block2?.num ?? 0;
        blocks.push(num);
        receivedWhenAsked.push(seen.fw?.received);
        if (num === HELD && blocks.indexOf(HELD) === blocks.length - 1) await new Promise<never>(() => undefined);
        return { code: '2.05', payload: IMAGE, contentFormat: 42 };
      },
    });
    cleanups.push(() => images.close());
    const parsed = await parseScenario(scenario('success'), 'fota.yaml');
    const metrics = new MetricsRegistry({ now: () => clock.now() });
    const dev = new SimDevice({
      scenario: parsed, serverUri: 'coap://127.0.0.1:5683', clock, metrics, log: silentLogger, models: loadBuiltinRegistry(),
      createSocket: async () => net.createSocket({ address: '127.0.0.1' }), stopping: () => false,
    }, resolveDevice(parsed, 0));
    cleanups.push(() => dev.stop('drop'));
    const step = (s: Step) => (dev as unknown as { step(s: Step, depth: number): Promise<void> }).step(s, 0);
    await step({ kind: 'register', at: { line: 1, col: 1 } } as Step);
    const fw = (dev.device.objects.find((o) => o.id === 5) as FirmwareObject).updater;
    seen.fw = fw;
    fw.writePackageUri('coap://127.0.0.1:5690/fw.bin');
    await expect.poll(() => blocks.includes(HELD), { timeout: 5000, interval: 5 }).toBe(true);
    const offline = step({ kind: 'go-offline', durationMs: 30_000, at: { line: 1, col: 1 } } as Step);
    const asked = blocks.length;
    expect(blocks).toEqual([0, 1, 2, HELD]);
    const size = 512; // the device's Block2 size (coapBlockSize default)
    expect(fw.received).toBe(HELD * size); // blocks 0–2 acknowledged, block 3 in flight
    // While offline (30 s): nothing reaches the image server, the download is still in progress.
    for (let i = 0; i < 20; i++) {
      await settle(net);
      clock.advance(1000);
    }
    await settle(net);
    expect(blocks.length).toBe(asked);
    expect(fw.state).toBe(1);
    // Back online (go-offline ends at +30 s): the exchange of the held block gives up (MAX_TRANSMIT_WAIT, or
    // EXCHANGE_LIFETIME once an empty ACK came through — either is fine) and the retry asks for it again;
    // the rest of the download needs no more clock.
    for (let i = 0; i < 600 && blocks.length === asked && fw.state === 1; i++) {
      clock.advance(1000);
      await settle(net);
    }
    await offline;
    await expect.poll(() => fw.state, { timeout: 10_000, interval: 10 }).toBe(2);
    expect(blocks.slice(asked)[0]).toBe(HELD); // resumed at exactly the block that was not answered
    expect(receivedWhenAsked[asked]).toBe(HELD * size); // with blocks 0–2 kept, nothing asked twice
    expect(Math.min(...blocks.slice(asked))).toBe(HELD);
    expect(blocks.slice(asked)).toEqual(Array.from({ length: Math.ceil(IMAGE.length / size) - HELD }, (_, k) => HELD + k));
  }, 30_000);
});

