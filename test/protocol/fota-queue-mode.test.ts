/**
 * FOTA and queue mode: a job for a sleeping queue-mode device (client SDK, binding UQ) sends nothing and
 * waits (`waiting`) until the device's next Update, then runs to the end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree } from '../../src/client/device-factory.js';
import { ManualClock } from '../../src/core/clock.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { createHttpApi } from '../../src/server/http/api.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { MemoryNetwork } from '../../src/transport/memory.js';

const fast = { ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 200 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('FOTA with a queue-mode device', () => {
  it('waits while the device sleeps, starts on its Update, succeeds', async () => {
    const net = new MemoryNetwork({ seed: 3, delayMs: [0, 1] });
    const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }), timing: fast });
    cleanups.push(() => server.close());
    const queueClock = new ManualClock(Date.now());
    const api = createHttpApi({ lwm2m: server, host: '127.0.0.1', port: 0, metrics: { defaultMetrics: false }, queue: { clock: queueClock, awakeTimeMs: 30_000 } });
    await api.start();
    cleanups.push(() => api.close());
    const image = api.fota.store.add(encodeFirmwareImage({ name: 'q', version: '9.0', body: randomBytes(8000) }));

    const factory = new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: fast });
    const dev = createDeviceTree({
      servers: [{ uri: 'coap://127.0.0.1:5683', lifetime: 300, binding: 'UQ' }],
      firmware: { pkgName: 'q', pkgVersion: '1.0', update: { connections: factory, flashMs: 10 } },
    });
    cleanups.push(() => dev.dispose());
    const client = new LwM2MClient({ endpoint: 'sleepy', tree: dev.tree, connections: factory });
    cleanups.push(() => client.stop({ deregister: false }));
    const registered = new Promise<void>((resolve) => server.once('registered', () => resolve()));
    await client.start();
    await registered;
    expect(server.registrations.getByEndpoint('sleepy')?.queueMode).toBe(true);

    client.sleep();
    queueClock.advance(30_001);
    expect(api.queue.isAsleep('sleepy')).toBe(true);
    const sentBefore = net.stats.sent;

    const waiting = new Promise<void>((resolve) => {
      const on = (s: { phase: string }): void => {
        if (s.phase !== 'waiting') return;
        api.fota.off('job', on);
        resolve();
      };
      api.fota.on('job', on);
    });
    const job = await api.fota.start('sleepy', image.id, { method: 'push', blockSize: 256, timeouts: { pollMs: 500 } });
    await waiting;
    await new Promise((r) => setTimeout(r, 200)); // the job would have sent by now if it ignored the sleep
    expect(net.stats.sent).toBe(sentBefore);
    expect(job.snapshot().history.map((h) => h.phase)).toEqual(['queued', 'resetting', 'waiting']);

    await client.wakeUp(); // an Update
    const o = await job.done;
    expect(o, o.reason).toMatchObject({ status: 'success', updateResult: 1 });
    expect(dev.tree.object(5)?.instance(0)?.get(7)).toBe('9.0');
  }, 30_000);
});
