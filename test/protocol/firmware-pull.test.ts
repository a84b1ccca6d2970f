/**
 * FOTA pull (issue 7): the device downloads the image named in /5/0/1 — over CoAP with explicit Block2
 * GETs on the in-memory network (20 % loss), and over HTTP from node:http on 127.0.0.1 — streaming
 * it into the verifier. Failure results 2/4/5/7/9, Cancel mid-transfer, resume after a reconnect.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoapEndpoint, type CoapReply } from '../../src/coap/endpoint.js';
import { encodeFirmwareImage } from '../../src/fota/image.js';
import { HOST, fotaRig, type FotaRig } from '../helpers/fota-device.js';

const TEXT = 0;
const IMAGE = encodeFirmwareImage({ name: 'acme-fw', version: '3.1.0', body: randomBytes(100 * 1024) });
const BLOCKS = Math.ceil(IMAGE.length / 512);
const TIMING = { ackTimeoutMs: 8, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 100 };
const IMAGE_PORT = 5690;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rig(...args: Parameters<typeof fotaRig>): Promise<FotaRig> {
  const r = await fotaRig(...args);
  cleanups.push(() => r.close());
  return r;
}

/** A tiny CoAP image server on the rig's network: GET /fw/image.bin (node-coap slices the Block2 blocks). */
function imageServer(r: FotaRig, image: Buffer, hook?: (num: number) => Promise<void> | void) {
  const blocks: number[] = [];
  const server = new CoapEndpoint({
    socket: r.net.createSocket({ address: HOST, port: IMAGE_PORT }),
    timing: TIMING,
    handler: async (req): Promise<CoapReply> => {
      if (req.path !== '/fw/image.bin') return { code: '4.04' };
      const num = req.block2?.num ?? 0;
      blocks.push(num);
      await hook?.(num);
      return { code: '2.05', payload: image, contentFormat: 42 };
    },
  });
  cleanups.push(() => server.close());
  return { server, blocks, uri: `coap://${HOST}:${IMAGE_PORT}/fw/image.bin` };
}

const writeUri = (r: FotaRig, uri: string) => r.dm({ method: 'PUT', path: '/5/0/1', payload: uri, contentFormat: TEXT });

async function settled(r: FotaRig, timeout = 30_000): Promise<[number, number]> {
  await expect.poll(() => r.updater.state !== 1, { timeout, interval: 10 }).toBe(true);
  return [r.updater.state, r.updater.result];
}

/** Blocks were asked for in order, each at least once, none skipped, never back to an earlier one. */
function expectInOrder(blocks: readonly number[], total: number): void {
  for (let i = 1; i < blocks.length; i++) expect(blocks[i]).toBeGreaterThanOrEqual(blocks[i - 1] as number);
  expect([...new Set(blocks)]).toEqual(Array.from({ length: total }, (_, i) => i));
}

describe('firmware pull over CoAP (explicit Block2 GETs)', () => {
  it('100 KB image, 512-byte blocks, 20 % loss → Downloaded; one block per request, in order; connection closed', async () => {
    const r = await rig({ network: { loss: 0.2, seed: 21 }, timing: TIMING, update: { retries: 8 } });
    const img = imageServer(r, IMAGE);
    expect((await writeUri(r, img.uri)).code).toBe('2.04');
    expect(r.updater.state).toBe(1);
    expect(await settled(r)).toEqual([2, 0]);
    expect(r.updater.downloadedImage).toMatchObject({ name: 'acme-fw', version: '3.1.0', bodyLength: 100 * 1024 });
    expectInOrder(img.blocks, BLOCKS);
    expect(r.connections.length).toBeGreaterThanOrEqual(2);
    expect(r.connections.slice(1).every((c) => c.endpoint.isClosed)).toBe(true);
    expect(r.net.stats.lost).toBeGreaterThan(0);
    // …and then the update itself.
    expect((await r.dm({ method: 'POST', path: '/5/0/2' })).code).toBe('2.04');
    await expect.poll(() => r.registers.length, { timeout: 5000, interval: 10 }).toBe(2);
    expect(await r.readText('/5/0/5')).toBe('1');
    expect(await r.readText('/3/0/3')).toBe('3.1.0');
  }, 60_000);

  it('connection lost mid-download: retried on a new connection from the block it was at (no restart)', async () => {
    const r = await rig({ timing: TIMING, update: { retries: 6, retryDelayMs: 20 } });
    const img = imageServer(r, IMAGE);
    const server = { address: HOST, port: IMAGE_PORT };
    expect((await writeUri(r, img.uri)).code).toBe('2.04');
    await expect.poll(() => img.blocks.length, { timeout: 10_000, interval: 2 }).toBeGreaterThanOrEqual(40);
    r.net.setLinkConditions(HOST, server, { loss: 1 }, { bidirectional: true });
    const before = r.connections.length;
    // The device reconnects (a new socket) for its retry; then the network comes back.
    await expect.poll(() => r.connections.length, { timeout: 10_000, interval: 5 }).toBeGreaterThan(before);
    r.net.setLinkConditions(HOST, server, null, { bidirectional: true });
    expect(await settled(r)).toEqual([2, 0]);
    expectInOrder(img.blocks, BLOCKS); // no block 0 again: resumed at the block in flight
  }, 60_000);

  it('retries exhausted → Idle with result 4; writing the same URI again resumes at the next block', async () => {
    const r = await rig({ timing: { ...TIMING, maxRetransmit: 2 }, update: { retries: 1, retryDelayMs: 10 } });
    const img = imageServer(r, IMAGE);
    const server = { address: HOST, port: IMAGE_PORT };
    expect((await writeUri(r, img.uri)).code).toBe('2.04');
    await expect.poll(() => img.blocks.length, { timeout: 10_000, interval: 2 }).toBeGreaterThanOrEqual(30);
    r.net.setLinkConditions(HOST, server, { loss: 1 }, { bidirectional: true });
    expect(await settled(r)).toEqual([0, 4]);
    const reached = Math.max(...img.blocks);
    r.net.setLinkConditions(HOST, server, null, { bidirectional: true });
    const from = img.blocks.length;
    expect((await writeUri(r, img.uri)).code).toBe('2.04');
    expect(await settled(r)).toEqual([2, 0]);
    const resumed = img.blocks.slice(from);
    expect(resumed[0]).toBeGreaterThan(0);
    expect(resumed[0]).toBeLessThanOrEqual(reached + 1);
    expectInOrder(img.blocks, BLOCKS);
  }, 60_000);

  it('Cancel mid-transfer → Idle with result 10, the download stops (no more block requests)', async () => {
    const r = await rig({ timing: TIMING });
    let release: (() => void) | undefined;
    const img = imageServer(r, IMAGE, (num) => (num === 20 ? new Promise<void>((res) => { release = res; }) : undefined));
    expect((await writeUri(r, img.uri)).code).toBe('2.04');
    await expect.poll(() => release !== undefined, { timeout: 10_000, interval: 2 }).toBe(true);
    expect(r.updater.state).toBe(1);
    expect((await r.dm({ method: 'POST', path: '/5/0/10' })).code).toBe('2.04');
    expect([r.updater.state, r.updater.result]).toEqual([0, 10]);
    const asked = img.blocks.length;
    release?.();
    await expect.poll(() => r.connections.at(-1)?.endpoint.isClosed, { timeout: 5000, interval: 5 }).toBe(true);
    expect(img.blocks.length).toBe(asked);
    expect([r.updater.state, r.updater.result]).toEqual([0, 10]);
  }, 30_000);

  it('4.04 → result 7; a malformed URI → 7; an unsupported scheme → 9; an image too large for the device → 2; corrupted → 5', async () => {
    const r = await rig({ timing: TIMING, update: { maxImageBytes: 50_000 } });
    const img = imageServer(r, IMAGE);
    const run = async (uri: string): Promise<[number, number]> => {
      expect((await writeUri(r, uri)).code).toBe('2.04');
      const out = await settled(r);
      expect((await writeUri(r, '')).code).toBe('2.04'); // reset for the next case
      return out;
    };
    expect(await run(`coap://${HOST}:${IMAGE_PORT}/fw/missing.bin`)).toEqual([0, 7]);
    expect(await run('coap//no-scheme')).toEqual([0, 7]);
    expect(await run(`ftp://${HOST}/fw.bin`)).toEqual([0, 9]);
    expect(await run(`coap+tcp://${HOST}/fw.bin`)).toEqual([0, 9]);
    expect(await run(img.uri)).toEqual([0, 2]); // the header declares 100 KB > 50 000
    expect(img.blocks).toEqual([0]); // stopped after the first block
  }, 30_000);

  it('an image corrupted in transit (one byte flipped) → result 5 after the last block', async () => {
    const r = await rig({ timing: TIMING });
    const bad = Buffer.from(IMAGE);
    bad[5000] = (bad[5000] as number) ^ 0x01;
    const img = imageServer(r, bad);
    expect((await writeUri(r, img.uri)).code).toBe('2.04');
    expect(await settled(r)).toEqual([0, 5]);
    expect(new Set(img.blocks).size).toBe(BLOCKS);
  }, 30_000);
});

// ---- HTTP ----------------------------------------------------------------------------------------

interface HttpLog {
  headers: IncomingHttpHeaders[];
}

/** node:http on 127.0.0.1 serving the image with ETag and Range; `cutAt` ends the first response early. */
async function httpServer(image: Buffer, opts: { cutAt?: number; status?: number } = {}): Promise<{ url: string; log: HttpLog; server: Server }> {
  const log: HttpLog = { headers: [] };
  const etag = '"img-1"';
  let first = true;
  const server = createServer((req, res) => {
    log.headers.push(req.headers);
    if (opts.status) {
      res.writeHead(opts.status).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range && req.headers['if-range'] === etag ? Number(range[1]) : 0;
    res.setHeader('ETag', etag);
    res.setHeader('Content-Type', 'application/octet-stream');
    if (start > 0) {
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${image.length - 1}/${image.length}`, 'Content-Length': image.length - start });
    } else {
      res.writeHead(200, { 'Content-Length': image.length });
    }
    const body = image.subarray(start);
    if (first && opts.cutAt !== undefined) {
      first = false;
      res.write(body.subarray(0, opts.cutAt), () => res.destroy()); // the connection breaks mid-body
      return;
    }
    first = false;
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fw/image.bin`, log, server };
}

describe('firmware pull over HTTP (node:http on 127.0.0.1)', () => {
  it('100 KB image → Downloaded', async () => {
    const r = await rig({ timing: TIMING });
    const http = await httpServer(IMAGE);
    expect((await writeUri(r, http.url)).code).toBe('2.04');
    expect(await settled(r)).toEqual([2, 0]);
    expect(r.updater.downloadedImage?.version).toBe('3.1.0');
    expect(http.log.headers).toHaveLength(1);
    expect(http.log.headers[0]?.range).toBeUndefined();
  });

  it('the connection breaks mid-body → retried with Range: bytes=N- and If-Range, 206, Downloaded', async () => {
    const r = await rig({ timing: TIMING, update: { retryDelayMs: 10 } });
    const http = await httpServer(IMAGE, { cutAt: 40_000 });
    expect((await writeUri(r, http.url)).code).toBe('2.04');
    expect(await settled(r)).toEqual([2, 0]);
    expect(http.log.headers).toHaveLength(2);
    const m = /^bytes=(\d+)-$/.exec(http.log.headers[1]?.range ?? '');
    expect(m).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(0);
    expect(Number(m?.[1])).toBeLessThanOrEqual(40_000);
    expect(http.log.headers[1]?.['if-range']).toBe('"img-1"');
  });

  it('404 → 7; a server gone → 4 after the retries; Content-Length over the device limit → 2; corrupted → 5', async () => {
    const r = await rig({ timing: TIMING, update: { retries: 2, retryDelayMs: 10, maxImageBytes: 200_000 } });
    const run = async (uri: string): Promise<[number, number]> => {
      expect((await writeUri(r, uri)).code).toBe('2.04');
      const out = await settled(r);
      await writeUri(r, '');
      return out;
    };
    const missing = await httpServer(IMAGE, { status: 404 });
    expect(await run(missing.url)).toEqual([0, 7]);
    const gone = await httpServer(IMAGE);
    await new Promise<void>((resolve) => gone.server.close(() => resolve()));
    expect(await run(gone.url)).toEqual([0, 4]);
    const huge = await httpServer(encodeFirmwareImage({ name: 'big', version: '9', body: Buffer.alloc(300_000) }));
    expect(await run(huge.url)).toEqual([0, 2]);
    const bad = Buffer.from(IMAGE);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x80;
    const corrupted = await httpServer(bad);
    expect(await run(corrupted.url)).toEqual([0, 5]);
  });

  it('HTTPS (self-signed certificate for 127.0.0.1, trusted through update.http.tls.ca) → Downloaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fota-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'));
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (_req, res) => {
      res.writeHead(200, { 'Content-Length': IMAGE.length, ETag: '"tls-1"' }).end(IMAGE);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/fw.bin`;
    const r = await rig({ timing: TIMING, firmware: { protocols: ['https'] }, update: { http: { tls: { ca: cert } } } });
    expect((await writeUri(r, url)).code).toBe('2.04');
    expect(await settled(r)).toEqual([2, 0]);
    // Without the CA the TLS handshake fails on every attempt: connection lost (4).
    const untrusting = await rig({ timing: TIMING, firmware: { protocols: ['https'] }, update: { retries: 1, retryDelayMs: 10 } });
    expect((await writeUri(untrusting, url)).code).toBe('2.04');
    expect(await settled(untrusting)).toEqual([0, 4]);
  });
});
