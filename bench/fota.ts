/**
 * npm run bench:fota — firmware update of 100 client SDK devices (each its own UDP socket) by the
 * reference server on 127.0.0.1, as two campaigns of concurrency 100: push (Block1 writes of /5/0/0,
 * 512-byte blocks) and pull (the devices fetch `/fw/{id}` from the server's CoAP socket with 512-byte
 * Block2 requests). Beside them, in the same run, the baseline: a raw node-coap server handing the same
 * image to 100 node-coap Agents block-wise (Block2, 512 bytes), measured before and after ours (mean).
 * Reported: wall time of the delivery (until every device reached Downloaded) and of the whole update
 * (reset … re-registration with the new version), MB/s of image bytes, and ours/raw.
 * Options: --devices N (BENCH_DEVICES), --kb SIZE (image size, default 100).
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer as createCoapServer, request, type IncomingMessage, type OutgoingMessage } from 'coap';
import { LwM2MClient } from '../src/client/client.js';
import { CoapConnectionFactory } from '../src/client/coap-connection.js';
import { createDeviceTree } from '../src/client/device-factory.js';
import { encodeFirmwareImage } from '../src/fota/image.js';
import { createServer } from '../src/server/create.js';
import type { FotaService } from '../src/server/fota/service.js';
import type { FotaJobSpec } from '../src/server/fota/types.js';
import { createUdpSocket } from '../src/transport/udp.js';
import { machine, numberOption, withTimeout } from './net-harness.js';

const DEVICES = numberOption('devices', 100);
const SIZE = numberOption('kb', 100) * 1024;
const BLOCK = 512;
const BOUND_MS = 600_000;

const started = Date.now();
const log = (msg: string): void => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);
const image = (version: string): Buffer => encodeFirmwareImage({ name: 'bench-fw', version, body: randomBytes(SIZE - 60) });

interface Row {
  name: string;
  bytes: number;
  deliveryMs: number;
  totalMs: number;
  ok: number;
}

/** The raw baseline: one node-coap server, DEVICES Agents (own sockets) fetching `body` with Block2 SZX 5. */
async function rawBlock2(body: Buffer, agents = DEVICES): Promise<Row> {
  const server = createCoapServer({ cacheSize: 2 * DEVICES * body.length }, (_req: IncomingMessage, res: OutgoingMessage) => {
    res.end(body);
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server as unknown as { _sock: { address(): { port: number } } })._sock.address().port;
  const t0 = performance.now();
  let ok = 0;
  await withTimeout(Promise.all(Array.from({ length: agents }, () => new Promise<void>((resolve) => {
    const agent = new Agent({ type: 'udp4' });
    const req = request({ host: '127.0.0.1', port, pathname: '/fw/raw', agent });
    req.setOption('Block2', Buffer.from([0x05])); // RFC 7959 §2.4: block 0 of 512 bytes
    req.on('response', (res: IncomingMessage) => {
      if (res.payload.length === body.length) ok++;
      resolve();
    });
    req.on('error', () => resolve());
    req.on('timeout', () => resolve());
    req.end();
  }))), BOUND_MS, 'raw node-coap Block2');
  const ms = performance.now() - t0;
  server.close();
  return { name: 'raw node-coap Block2 (baseline)', bytes: body.length * agents, deliveryMs: ms, totalMs: ms, ok };
}

async function campaign(fota: FotaService, name: string, ref: string, spec: FotaJobSpec, bytes: number): Promise<Row> {
  const downloadedAt = new Map<string, number>();
  const t0 = performance.now();
  const onJob = (s: { endpoint: string; phase: string }): void => {
    if (s.phase === 'updating' && !downloadedAt.has(s.endpoint)) downloadedAt.set(s.endpoint, performance.now());
  };
  fota.on('job', onJob);
  const c = fota.createCampaign({ select: { pattern: 'bench-*' }, image: ref, concurrency: DEVICES, ...spec });
  await withTimeout(c.done, BOUND_MS, name);
  const totalMs = performance.now() - t0;
  fota.off('job', onJob);
  const snap = c.snapshot();
  const deliveryMs = Math.max(...downloadedAt.values()) - t0;
  if (snap.counts.success !== DEVICES) log(`${name}: ${JSON.stringify(snap.counts)} — ${JSON.stringify(snap.devices?.find((d) => d.status !== 'success')?.outcome)}`);
  return { name, bytes: bytes * DEVICES, deliveryMs, totalMs, ok: snap.counts.success };
}

const ref = await createServer({ coapPort: 0, bsCoapPort: false, httpPort: 0 });
const fota = ref.http?.fota as FotaService;
const clients: LwM2MClient[] = [];
const disposers: Array<() => void> = [];
try {
  const pushImage = fota.store.add(image('2.0.0'));
  const pullImage = fota.store.add(image('3.0.0'));
  ref.lwm2m.setMaxListeners(DEVICES * 2 + 50);
  log(`starting ${DEVICES} devices (client SDK, one UDP socket each) against ${ref.coapUri}`);
  for (let i = 0; i < DEVICES; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, DEVICES - i) }, async (_, k) => {
      const ep = `bench-${String(i + k).padStart(4, '0')}`;
      const factory = new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) });
      const dev = createDeviceTree({
        servers: [{ uri: ref.coapUri, lifetime: 600 }],
        device: { manufacturer: 'bench', modelNumber: 'fota', serialNumber: ep, firmwareVersion: '1.0.0' },
        firmware: { protocols: ['coap', 'http'], pkgName: 'bench-fw', pkgVersion: '1.0.0', update: { connections: factory, flashMs: 10, coapBlockSize: BLOCK } },
      });
      const client = new LwM2MClient({ endpoint: ep, tree: dev.tree, connections: factory });
      const registered = new Promise<void>((resolve) => {
        const on = (r: { endpoint: string }): void => {
          if (r.endpoint !== ep) return;
          ref.lwm2m.off('registered', on);
          resolve();
        };
        ref.lwm2m.on('registered', on);
      });
      await client.start();
      await withTimeout(registered, 30_000, `${ep} registration`);
      clients.push(client);
      disposers.push(dev.dispose);
    }));
  }
  log('warm-up: raw node-coap Block2 with 10 agents, a 10-device push');
  await rawBlock2(pushImage.data, 10);
  await withTimeout(fota.createCampaign({ select: { endpoints: clients.slice(0, 10).map((c) => c.endpoint) }, image: pullImage.id, method: 'push', blockSize: BLOCK, concurrency: 10 }).done, BOUND_MS, 'warm-up');

  log('raw node-coap Block2 baseline (1/2)');
  const raw1 = await rawBlock2(pushImage.data);
  log(`push campaign: ${DEVICES} × ${pushImage.size} bytes, ${BLOCK}-byte Block1`);
  const push = await campaign(fota, `ours: push (Block1 ${BLOCK} B)`, pushImage.id, { method: 'push', blockSize: BLOCK }, pushImage.size);
  log(`pull campaign: ${DEVICES} × ${pullImage.size} bytes, ${BLOCK}-byte Block2 from /fw/{id}`);
  const pull = await campaign(fota, `ours: pull over CoAP (Block2 ${BLOCK} B)`, pullImage.id, { method: 'pull', protocol: 'coap' }, pullImage.size);
  log('raw node-coap Block2 baseline (2/2)');
  const raw2 = await rawBlock2(pushImage.data);
  const rawMs = (raw1.deliveryMs + raw2.deliveryMs) / 2;
  const rawRow: Row = { ...raw1, deliveryMs: rawMs, totalMs: rawMs, ok: Math.min(raw1.ok, raw2.ok) };

  const mbs = (bytes: number, ms: number): number => bytes / (1024 * 1024) / (ms / 1000);
  const rawMbs = mbs(rawRow.bytes, rawRow.deliveryMs);
  const lines = [
    `bench:fota — ${new Date().toISOString().slice(0, 10)}, ${machine()}; ${DEVICES} devices × ${(SIZE / 1024).toFixed(0)} KiB image, ${BLOCK}-byte blocks, 127.0.0.1`,
    '',
    '| transfer | devices ok | delivery wall time | delivery MB/s | ours / raw | whole update wall time |',
    '|---|---:|---:|---:|---:|---:|',
    ...[rawRow, push, pull].map((r) => {
      const m = mbs(r.bytes, r.deliveryMs);
      const ratio = r === rawRow ? '1.00' : (m / rawMbs).toFixed(2);
      const whole = r === rawRow ? '—' : `${(r.totalMs / 1000).toFixed(2)} s`;
      return `| ${r.name} | ${r.ok}/${DEVICES} | ${(r.deliveryMs / 1000).toFixed(2)} s | ${m.toFixed(2)} | ${ratio} | ${whole} |`;
    }),
    '',
    `raw runs: ${(raw1.deliveryMs / 1000).toFixed(2)} s and ${(raw2.deliveryMs / 1000).toFixed(2)} s (mean used)`,
  ];
  console.log(`\n${lines.join('\n')}\n`);
} finally {
  await Promise.all(clients.map((c) => c.stop({ deregister: false }).catch(() => undefined)));
  for (const d of disposers) d();
  await ref.close();
}
process.exit(0);
