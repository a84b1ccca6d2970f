/**
 * Server-side FOTA against the real client SDK device (src/client/firmware) over the in-memory network
 * with 20 % loss each way: push at Block1 sizes 16, 512 and 1024, pull over CoAP (Block2 from the
 * server's `/fw/{id}`) and over HTTP (the API's `GET /fw/{id}`, real loopback TCP), cancel mid-transfer,
 * resume after the device re-registers mid-push.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { parse } from 'coap-packet';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree } from '../../src/client/device-factory.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { lwm2mDeviceLink } from '../../src/server/fota/device-link.js';
import { FotaService } from '../../src/server/fota/service.js';
import type { FotaJobSnapshot, FotaJobSpec } from '../../src/server/fota/types.js';
import { createHttpApi } from '../../src/server/http/api.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { MemoryNetwork } from '../../src/transport/memory.js';

// Small timers and many retransmissions: at 20 % loss each way an exchange fails 36 % of the time, and
// 6 400 blocks of 16 bytes must not run into MAX_RETRANSMIT (0.36^11 ≈ 1e-5 per block). No added delay:
// node-coap costs ≈ 4 ms per exchange here, so the 16-byte push alone is 6 400 exchanges (≈ 60 s).
const lossy = { ackTimeoutMs: 4, ackRandomFactor: 1.5, maxRetransmit: 10, maxLatencyMs: 50 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const body = randomBytes(100 * 1024 - 60);
const image = encodeFirmwareImage({ name: 'fleet-fw', version: '2.0.0', body });

async function setup(opts: { loss?: number; http?: boolean; seed?: number; coapBlockSize?: number } = {}) {
  const net = new MemoryNetwork({ seed: opts.seed ?? 11, loss: 0, delayMs: 0 });
  const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }), timing: lossy, requestTimeoutMs: 20_000 });
  cleanups.push(() => server.close());
  let fota: FotaService;
  let httpUrl: string | undefined;
  if (opts.http) {
    const api = createHttpApi({ lwm2m: server, host: '127.0.0.1', port: 0, metrics: { defaultMetrics: false }, fota: { coapUri: 'coap://127.0.0.1:5683', timeouts: { pollMs: 500 } } });
    httpUrl = (await api.start()).url;
    cleanups.push(() => api.close());
    fota = api.fota;
  } else {
    fota = new FotaService({ link: lwm2mDeviceLink(server), pullBase: () => ({ coap: 'coap://127.0.0.1:5683' }), timeouts: { pollMs: 500 } });
    fota.attachCoap(server);
    cleanups.push(() => fota.close());
  }
  const stored = fota.store.add(image);
  const factory = new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: lossy });
  const dev = createDeviceTree({
    servers: [{ uri: 'coap://127.0.0.1:5683', lifetime: 300 }],
    device: { manufacturer: 'Open Mobile Alliance', modelNumber: 'fota', serialNumber: '1', firmwareVersion: '1.0.0' },
    firmware: { protocols: ['coap', 'http'], pkgName: 'fleet-fw', pkgVersion: '1.0.0', update: { connections: factory, flashMs: 20, retryDelayMs: 50, exchangeTimeoutMs: 3000, coapBlockSize: opts.coapBlockSize ?? 512 } },
  });
  cleanups.push(() => dev.dispose());
  const client = new LwM2MClient({ endpoint: 'dev1', tree: dev.tree, connections: factory });
  cleanups.push(() => client.stop({ deregister: false }));
  const registered = new Promise<void>((resolve) => server.once('registered', () => resolve()));
  await client.start();
  await registered;
  net.setConditions({ loss: opts.loss ?? 0, delayMs: 0 });
  return { net, server, fota, stored, client, dev, httpUrl };
}

async function update(fota: FotaService, spec: FotaJobSpec) {
  const job = await fota.start('dev1', 'fleet-fw@2.0.0', { ...spec, timeouts: { pollMs: 500, requestMs: 20_000, ...(spec.timeouts ?? {}) } });
  const outcome = await job.done;
  return { job, outcome };
}

/** A failed job's story for the assertion message: reason (with the device's State/Result), then the phases. */
function why(job: { snapshot(): FotaJobSnapshot }): string {
  const s = job.snapshot();
  return `${s.outcome?.reason ?? 'no outcome'} | device State ${s.deviceState}, Result ${s.updateResult} | ${s.history.map((h) => `${h.phase}${h.detail ? ` (${h.detail})` : ''}`).join(' → ')}`;
}

describe('FOTA server ↔ client SDK device, in-memory network, 20 % loss', () => {
  for (const blockSize of [16, 512, 1024]) {
    it(`push of a 100 KB image in ${blockSize}-byte Block1 blocks`, async () => {
      const { fota, net, dev, stored } = await setup({ loss: 0.2 });
      const tokens = new Set<string>();
      let blocks = 0;
      net.tap((e) => {
        if (e.kind !== 'sent' || e.from.port !== 5683) return;
        const p = parse(e.data);
        if (p.code === '0.03' && p.options.some((o) => o.name === 'Block1')) {
          tokens.add(p.token.toString('hex'));
          blocks++;
        }
      });
      const { job, outcome } = await update(fota, { method: 'push', blockSize });
      expect(outcome, why(job)).toMatchObject({ status: 'success', updateResult: 1 });
      const s = job.snapshot();
      expect([s.bytesSent, s.totalBytes, s.percent]).toEqual([stored.size, stored.size, 100]);
      expect(net.stats.lost).toBeGreaterThan(0);
      expect(dev.tree.object(5)?.instance(0)?.get(7)).toBe('2.0.0');
      // RFC 7959 §2.3: one token for a whole Block1 transfer, retransmissions included (a redelivery after a
      // lost exchange is a new transfer; at 0.36^11 per block it is rare but possible at 16 bytes)
      expect(tokens.size).toBe(job.snapshot().deliveries);
      expect(blocks).toBeGreaterThanOrEqual(Math.ceil(stored.size / blockSize));
    }, blockSize === 16 ? 180_000 : 60_000);
  }

  for (const blockSize of [16, 512, 1024]) {
    it(`pull over CoAP: the device fetches /fw/{id} from the server socket in ${blockSize}-byte Block2 blocks`, async () => {
      const { fota, net } = await setup({ loss: 0.2, coapBlockSize: blockSize });
      let served = 0;
      net.tap((e) => {
        if (e.kind === 'delivered' && e.from.port === 5683 && e.data.length > blockSize && e.data.length <= blockSize + 40) served++;
      });
      const { job, outcome } = await update(fota, { method: 'pull', protocol: 'coap' });
      expect(outcome, why(job)).toMatchObject({ status: 'success', updateResult: 1 });
      expect(job.uri).toMatch(/^coap:\/\/127\.0\.0\.1:5683\/fw\/[0-9a-f]{16}\?ep=dev1$/);
      expect(job.snapshot().bytesSent).toBe(image.length);
      expect(served).toBeGreaterThanOrEqual(Math.floor(image.length / blockSize)); // blocks of the size the device asked for
      expect(net.stats.lost).toBeGreaterThan(0);
    }, blockSize === 16 ? 180_000 : 60_000);
  }

  it('pull over HTTP: the device fetches GET /fw/{id} from the API', async () => {
    const { fota, httpUrl } = await setup({ loss: 0.2, http: true });
    const { job, outcome } = await update(fota, { method: 'pull', protocol: 'http' });
    expect(outcome, why(job)).toMatchObject({ status: 'success', updateResult: 1 });
    expect(job.uri).toBe(`${httpUrl}/fw/${job.image.id}?ep=dev1`);
  }, 60_000);

  it('cancel mid-transfer stops the push and the device is back to Idle with Result 10', async () => {
    const { fota, dev } = await setup({ loss: 0 });
    const job = await fota.start('dev1', 'fleet-fw@2.0.0', { method: 'push', blockSize: 64 });
    await new Promise<void>((resolve) => {
      const on = (): void => {
        if (job.snapshot().bytesSent >= 20_000) {
          fota.off('job', on);
          resolve();
        }
      };
      fota.on('job', on);
    });
    expect(fota.cancel('dev1').answer.accepted).toBe(true);
    const o = await job.done;
    expect(o.status).toBe('cancelled');
    expect(o.reason).toMatch(/Cancel \(\/5\/0\/10\) executed/);
    expect(job.snapshot().bytesSent).toBeLessThan(image.length);
    const fw = dev.tree.object(5)?.instance(0);
    expect([fw?.get(3), fw?.get(5)]).toEqual([0, 10]);
  }, 60_000);

  it('resumes after the device re-registers mid-push: delivers again and succeeds', async () => {
    const { fota, client } = await setup({ loss: 0 });
    const job = await fota.start('dev1', 'fleet-fw@2.0.0', { method: 'push', blockSize: 256, timeouts: { requestMs: 2000, pollMs: 500 } });
    await new Promise<void>((resolve) => {
      const on = (): void => {
        if (job.snapshot().bytesSent >= 30_000) {
          fota.off('job', on);
          resolve();
        }
      };
      fota.on('job', on);
    });
    void client.reboot(); // new socket, new registration: the transfer in flight goes nowhere
    const o = await job.done;
    expect(o, why(job)).toMatchObject({ status: 'success' });
    const s = job.snapshot();
    expect(s.deliveries).toBe(2);
    expect(s.reconnects).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
