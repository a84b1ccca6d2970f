/**
 * The Firmware Update state machine of /5/0 (LwM2M-TS-Core 1.1 §E.6) through the DM router, on a
 * ManualClock, no network: transitions, Update Result codes, invalid-state operations, empty writes,
 * Cancel, failure injection, flash persistence, and the streamed push sink.
 */
import { describe, expect, it, vi } from 'vitest';
import { AccessControl } from '../../../src/client/access.js';
import { AttributeStore } from '../../../src/client/attributes.js';
import type { BlockwiseResponse, BlockwiseSink } from '../../../src/client/connection.js';
import { serverContext } from '../../../src/client/context.js';
import { createDeviceTree } from '../../../src/client/device-factory.js';
import type { DownloadRequest, Downloader } from '../../../src/client/firmware/download.js';
import { downloadSecurity } from '../../../src/client/firmware/security.js';
import { memoryFlash, type FirmwareUpdateOptions } from '../../../src/client/firmware/updater.js';
import { FirmwareObject, type FirmwareObjectOptions } from '../../../src/client/objects/firmware.js';
import type { DeviceEnv } from '../../../src/client/operations/env.js';
import { handleDmRequest } from '../../../src/client/router.js';
import { Observations } from '../../../src/client/observations.js';
import type { CoapMethod } from '../../../src/client/request.js';
import { ManualClock } from '../../../src/core/clock.js';
import { ContentFormat } from '../../../src/codec/content-format.js';
import { encodeFirmwareImage } from '../../../src/fota/image.js';

const utf8 = new TextEncoder();
const IMAGE = encodeFirmwareImage({ name: 'acme-fw', version: '2.0.0', body: Buffer.alloc(4000, 7) });

function setup(update: FirmwareUpdateOptions = {}, firmware: Omit<FirmwareObjectOptions, 'update'> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const reboot = vi.fn();
  const dev = createDeviceTree({
    servers: [{ uri: 'coap://127.0.0.1:5683' }],
    device: { manufacturer: 'ACME', modelNumber: 'M', serialNumber: 'S', firmwareVersion: '1.0.0' },
    clock,
    firmware: { pkgName: 'acme-fw', pkgVersion: '1.0.0', protocols: ['coap', 'http'], ...firmware, update: { flashMs: 500, reboot, ...update } },
  });
  const tree = dev.tree;
  const env: DeviceEnv = { tree, access: new AccessControl(tree), attributesFor: () => new AttributeStore() };
  const observations = new Observations(clock);
  const object = dev.objects.find((o) => o.id === 5) as FirmwareObject;
  const fw = object.updater;
  const inst = tree.object(5)?.instance(0);
  if (!inst) throw new Error('no /5/0');
  /** Every value /5/0/3 and /5/0/5 took, in order (what an observer is notified of). */
  const seen: string[] = [];
  tree.on('change', (p) => {
    if (p.objectId === 5 && (p.resourceId === 3 || p.resourceId === 5)) seen.push(`${p.resourceId === 3 ? 'S' : 'R'}${String(inst.get(p.resourceId))}`);
  });
  const dm = async (method: CoapMethod, path: string, payload?: Uint8Array | string, contentFormat?: number) => {
    const body = typeof payload === 'string' ? utf8.encode(payload) : payload ?? new Uint8Array();
    return handleDmRequest(env, observations, serverContext(101), {
      method, uriPath: path.split('/').filter((s) => s !== ''), uriQuery: [], payload: body,
      ...(contentFormat !== undefined ? { contentFormat } : payload !== undefined ? { contentFormat: typeof payload === 'string' ? ContentFormat.TEXT : ContentFormat.OPAQUE } : {}),
    });
  };
  const snapshot = () => [inst.get(3), inst.get(5)];
  return { clock, reboot, tree, fw, inst, seen, dm, snapshot, dispose: () => dev.dispose() };
}

/** A downloader that serves `bytes` in 512-byte chunks (or fails as told). */
function fakeDownloader(bytes: Uint8Array, behaviour: { fail?: 4 | 7 } = {}): Downloader & { requests: DownloadRequest[] } {
  const requests: DownloadRequest[] = [];
  return {
    requests,
    download: async (req) => {
      requests.push(req);
      if (behaviour.fail) return { ok: false, result: behaviour.fail, reason: 'scripted' };
      for (let i = req.offset; i < bytes.length; i += 512) req.onData(bytes.subarray(i, i + 512));
      return { ok: true };
    },
  };
}

describe('firmware update state machine (/5/0, §E.6)', () => {
  it('push → Downloaded → Update → reboot → Idle with result 1, new /3/0/3, /5/0/6, /5/0/7', async () => {
    const t = setup();
    expect(t.snapshot()).toEqual([0, 0]);
    expect((await t.dm('PUT', '/5/0/0', IMAGE)).code).toBe('2.04');
    expect(t.snapshot()).toEqual([2, 0]);
    expect(t.inst.get(0)).toBeUndefined(); // write-only package is not kept: dropped after the write
    await Promise.resolve();
    expect(t.inst.has(0)).toBe(false);
    expect((await t.dm('POST', '/5/0/2')).code).toBe('2.04');
    expect(t.snapshot()).toEqual([3, 0]);
    t.clock.advance(499);
    expect(t.reboot).not.toHaveBeenCalled();
    const atReboot: unknown[] = [];
    t.reboot.mockImplementation(() => { atReboot.push(t.snapshot()); });
    t.clock.advance(1);
    expect(t.reboot).toHaveBeenCalledTimes(1);
    expect(atReboot).toEqual([[3, 0]]); // the reboot first; the new values appear as the device comes back
    expect(t.snapshot()).toEqual([0, 1]);
    expect([t.inst.get(6), t.inst.get(7), t.tree.object(3)?.instance(0)?.get(3)]).toEqual(['acme-fw', '2.0.0', '2.0.0']);
    expect(t.seen).toEqual(['S1', 'S2', 'S3', 'R1', 'S0']);
    expect(t.inst.get(12)).toBeInstanceOf(Date); // /5/0/12 Last State Change Time
    t.dispose();
  });

  it('operations the state does not allow answer 4.05/4.00 and change nothing', async () => {
    const t = setup({ downloaders: { 'coap:': fakeDownloader(IMAGE) } });
    const unchanged = async (method: CoapMethod, path: string, code: string, payload?: Uint8Array | string) => {
      const before = t.snapshot();
      const n = t.seen.length;
      expect((await t.dm(method, path, payload)).code, `${method} ${path} in state ${String(before[0])}`).toBe(code);
      expect(t.snapshot()).toEqual(before);
      expect(t.seen.length).toBe(n);
    };
    // Idle
    await unchanged('POST', '/5/0/2', '4.05');
    await unchanged('POST', '/5/0/10', '4.05');
    await unchanged('PUT', '/5/0/3', '4.05', '1');
    // Downloaded
    expect((await t.dm('PUT', '/5/0/0', IMAGE)).code).toBe('2.04');
    await unchanged('PUT', '/5/0/0', '4.00', IMAGE);
    await unchanged('PUT', '/5/0/1', '4.00', 'coap://127.0.0.1/fw');
    // Updating
    expect((await t.dm('POST', '/5/0/2')).code).toBe('2.04');
    await unchanged('POST', '/5/0/2', '4.05');
    await unchanged('PUT', '/5/0/0', '4.05', IMAGE);
    await unchanged('PUT', '/5/0/0', '4.05', new Uint8Array());
    await unchanged('PUT', '/5/0/1', '4.05', '');
    await unchanged('PUT', '/5/0/1', '4.05', 'coap://127.0.0.1/fw');
    await unchanged('POST', '/5/0/10', '4.05');
    t.dispose();
  });

  it('an empty package, a NUL package or an empty URI resets to Idle with result 0', async () => {
    const t = setup({ downloaders: { 'coap:': fakeDownloader(IMAGE) } });
    for (const [path, empty] of [['/5/0/0', new Uint8Array()], ['/5/0/0', Uint8Array.of(0)], ['/5/0/1', '']] as const) {
      expect((await t.dm('PUT', '/5/0/0', IMAGE)).code).toBe('2.04');
      expect(t.snapshot()).toEqual([2, 0]);
      expect((await t.dm('PUT', path, empty)).code).toBe('2.04');
      expect(t.snapshot()).toEqual([0, 0]);
    }
    // … also after a failure: the result goes back to 0.
    expect((await t.dm('PUT', '/5/0/1', 'ftp://127.0.0.1/fw')).code).toBe('2.04');
    expect(t.snapshot()).toEqual([0, 9]);
    expect((await t.dm('PUT', '/5/0/1', '')).code).toBe('2.04');
    expect(t.snapshot()).toEqual([0, 0]);
    t.dispose();
  });

  it('failure results: 2 too large, 5 corrupted, 6 not an image, 7 malformed URI, 9 unsupported scheme', async () => {
    const t = setup({ maxImageBytes: 1000 });
    const cases: [Uint8Array | string, string, number][] = [
      [IMAGE, '/5/0/0', 2],
      [Buffer.concat([IMAGE.subarray(0, 200), Buffer.from([IMAGE[200] as number ^ 1]), IMAGE.subarray(201, 900)]), '/5/0/0', 5],
      [Buffer.from('PK\x03\x04 a zip file, not an LWFW image........................'), '/5/0/0', 6],
      ['not a uri', '/5/0/1', 7],
      ['coap://', '/5/0/1', 7],
      ['ftp://127.0.0.1/fw.bin', '/5/0/1', 9],
      ['https://127.0.0.1/fw.bin', '/5/0/1', 9], // not in /5/0/8 of this device
    ];
    const small = setup();
    for (const [payload, path, result] of cases) {
      const dev = result === 2 ? t : small;
      const res = await dev.dm('PUT', path, payload);
      expect(res.code).toBe(path === '/5/0/1' ? '2.04' : result === 2 ? '4.13' : '4.00');
      expect(dev.snapshot(), `${path} → ${result}`).toEqual([0, result]);
      // Update Result goes back to 0 when the next download starts.
      expect((await dev.dm('PUT', '/5/0/0', path === '/5/0/0' && result !== 2 ? IMAGE : new Uint8Array())).code).toBe('2.04');
      await dev.dm('PUT', '/5/0/0', new Uint8Array());
    }
    // A corrupted image of the right length fails at the end: the hash.
    const flipped = Buffer.from(IMAGE);
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 0xff;
    expect((await small.dm('PUT', '/5/0/0', flipped)).code).toBe('4.00');
    expect(small.snapshot()).toEqual([0, 5]);
    t.dispose();
    small.dispose();
  });

  it('pull: Downloading → Downloaded; connection lost → 4 and the same URI resumes; Cancel → 10', async () => {
    let fail = true;
    const requests: DownloadRequest[] = [];
    const flaky: Downloader = {
      download: async (req) => {
        requests.push(req);
        for (let i = req.offset; i < IMAGE.length; i += 512) {
          if (fail && i >= 2048) return { ok: false, result: 4, reason: 'timeout' };
          req.onData(IMAGE.subarray(i, i + 512));
        }
        return { ok: true };
      },
    };
    const t = setup({ downloaders: { 'coap:': flaky } });
    expect((await t.dm('PUT', '/5/0/1', 'coap://127.0.0.1:5699/fw')).code).toBe('2.04');
    await vi.waitFor(() => expect(t.snapshot()).toEqual([0, 4]));
    fail = false;
    expect((await t.dm('PUT', '/5/0/1', 'coap://127.0.0.1:5699/fw')).code).toBe('2.04');
    await vi.waitFor(() => expect(t.snapshot()).toEqual([2, 0]));
    expect(requests.map((r) => r.offset)).toEqual([0, 2048]);
    expect(t.fw.downloadedImage).toMatchObject({ name: 'acme-fw', version: '2.0.0', bodyLength: 4000 });
    // Cancel in Downloaded → Idle, 10
    expect((await t.dm('POST', '/5/0/10')).code).toBe('2.04');
    expect(t.snapshot()).toEqual([0, 10]);
    // A different URI after a loss starts from 0.
    expect(t.seen).toContain('R4');
    t.dispose();
  });

  it('Cancel and an empty write abort a download in progress (its signal fires, late data is ignored)', async () => {
    const signals: AbortSignal[] = [];
    let release: (() => void) | undefined;
    const slow: Downloader = {
      download: (req) => new Promise((resolve) => {
        signals.push(req.signal);
        req.onData(IMAGE.subarray(0, 512));
        release = () => {
          try { req.onData(IMAGE.subarray(512)); } catch { /* refused */ }
          resolve({ ok: true });
        };
      }),
    };
    const t = setup({ downloaders: { 'coap:': slow } });
    for (const stop of ['cancel', 'empty'] as const) {
      expect((await t.dm('PUT', '/5/0/1', 'coap://127.0.0.1/fw')).code).toBe('2.04');
      expect(t.snapshot()).toEqual([1, 0]);
      expect(t.fw.received).toBe(512);
      const res = stop === 'cancel' ? await t.dm('POST', '/5/0/10') : await t.dm('PUT', '/5/0/1', '');
      expect(res.code).toBe('2.04');
      expect(t.snapshot()).toEqual([0, stop === 'cancel' ? 10 : 0]);
      expect(signals.at(-1)?.aborted).toBe(true);
      release?.();
      await Promise.resolve();
      expect(t.snapshot()).toEqual([0, stop === 'cancel' ? 10 : 0]);
    }
    t.dispose();
  });

  it('failure injection: forced 8 → back to Downloaded (retry possible); forced 5 → Idle; probability 1 → 8', async () => {
    const t = setup({ failure: { forcedResult: 8 } });
    await t.dm('PUT', '/5/0/0', IMAGE);
    await t.dm('POST', '/5/0/2');
    t.clock.advance(500);
    expect(t.snapshot()).toEqual([2, 8]);
    expect(t.reboot).not.toHaveBeenCalled();
    t.fw.configure({ failure: { forcedResult: 5 }, flashMs: 100 });
    await t.dm('POST', '/5/0/2');
    expect(t.snapshot()).toEqual([3, 0]);
    t.clock.advance(100);
    expect(t.snapshot()).toEqual([0, 5]);
    const p = setup({ failure: { failureProbability: 1, seed: 3 } });
    await p.dm('PUT', '/5/0/0', IMAGE);
    await p.dm('POST', '/5/0/2');
    p.clock.advance(500);
    expect(p.snapshot()).toEqual([2, 8]);
    const none = setup({ failure: { failureProbability: 0 } });
    await none.dm('PUT', '/5/0/0', IMAGE);
    await none.dm('POST', '/5/0/2');
    none.clock.advance(500);
    expect(none.snapshot()).toEqual([0, 1]);
    expect(() => t.fw.configure({ failure: { failureProbability: 2 } })).toThrow(/failureProbability/);
    for (const x of [t, p, none]) x.dispose();
  });

  it('the Update Result and installed package survive a reboot that rebuilds the device (flash)', async () => {
    const flash = memoryFlash();
    const t = setup({ flash });
    await t.dm('PUT', '/5/0/0', IMAGE);
    await t.dm('POST', '/5/0/2');
    t.clock.advance(500);
    t.dispose();
    const again = setup({ flash });
    expect([again.inst.get(3), again.inst.get(5), again.inst.get(6), again.inst.get(7)]).toEqual([0, 1, 'acme-fw', '2.0.0']);
    again.dispose();
  });

  it('automatic upgrade at download (/5/0/14): Downloaded goes on to Updating by itself', async () => {
    const t = setup({}, { automaticUpgradeAtDownload: true });
    await t.dm('PUT', '/5/0/0', IMAGE);
    t.clock.advance(0);
    expect(t.snapshot()).toEqual([3, 0]);
    t.clock.advance(500);
    t.clock.advance(0);
    expect(t.snapshot()).toEqual([0, 1]);
    t.dispose();
  });
});

describe('streamed push sink (openPush)', () => {
  const head = (size1?: number) => ({ method: 'PUT' as const, uriPath: ['5', '0', '0'], uriQuery: [], contentFormat: 42, ...(size1 !== undefined ? { size1 } : {}) });
  const sinkOf = (x: BlockwiseSink | BlockwiseResponse): BlockwiseSink => {
    if (!('write' in x)) throw new Error(`refused: ${x.code}`);
    return x;
  };

  it('Downloading at block 0, Downloaded after the last block verifies', () => {
    const t = setup();
    const sink = sinkOf(t.fw.openPush(head(IMAGE.length)));
    expect(t.snapshot()).toEqual([1, 0]);
    for (let i = 0; i < IMAGE.length; i += 64) expect(sink.write(IMAGE.subarray(i, i + 64))).toBeUndefined();
    expect(sink.end().code).toBe('2.04');
    expect(t.snapshot()).toEqual([2, 0]);
    t.dispose();
  });

  it('Size1 over the limit → 4.13 with Size1 and result 2; a bad header stops the transfer at once (6)', () => {
    const t = setup({ maxImageBytes: 1000 });
    const refused = t.fw.openPush(head(100_000));
    expect(refused).toMatchObject({ code: '4.13', size1: 1000 + 46 + 510 });
    expect(t.snapshot()).toEqual([0, 2]);
    const sink = sinkOf(t.fw.openPush(head()));
    expect(sink.write(Buffer.alloc(64, 1))).toMatchObject({ code: '4.00' });
    expect(t.snapshot()).toEqual([0, 6]);
    // the image's own header declaring too much → 4.13, result 2, after the first block
    const big = encodeFirmwareImage({ name: 'x', version: '1', body: Buffer.alloc(2000) });
    const s2 = sinkOf(t.fw.openPush(head()));
    expect(s2.write(big.subarray(0, 64))).toMatchObject({ code: '4.13' });
    expect(t.snapshot()).toEqual([0, 2]);
    t.dispose();
  });

  it('a transfer abandoned (timeout) → Idle with result 4; restarted with block 0 → stays Downloading', () => {
    const t = setup();
    const a = sinkOf(t.fw.openPush(head()));
    a.write(IMAGE.subarray(0, 64));
    a.abort('restarted');
    expect(t.snapshot()).toEqual([1, 0]);
    const b = sinkOf(t.fw.openPush(head()));
    expect(a.write(IMAGE.subarray(64, 128))).toMatchObject({ code: '4.00' }); // the old one is stale
    b.write(IMAGE.subarray(0, 64));
    b.abort('timeout');
    expect(t.snapshot()).toEqual([0, 4]);
    // pull-only device refuses push; Updating refuses with 4.05
    const pull = setup({}, { deliveryMethod: 'pull' });
    expect(pull.fw.openPush(head())).toMatchObject({ code: '4.05' });
    t.dispose();
    pull.dispose();
  });
});

describe('coaps download credentials (downloadSecurity)', () => {
  it('the PSK of the Security instance with the same host:port, else the first DM account PSK, else NoSec', () => {
    const dev = createDeviceTree({
      servers: [
        { uri: 'coaps://10.0.0.1:5684', pskIdentity: 'dev-a', pskKey: '00112233' },
        { uri: 'coaps://fw.example:6000', pskIdentity: 'dev-b', pskKey: 'aabbccdd' },
      ],
      device: { manufacturer: 'ACME', modelNumber: 'M', serialNumber: 'S', firmwareVersion: '1.0.0' },
    });
    expect(downloadSecurity(dev.tree, 'coaps://fw.example:6000/fw.bin')).toMatchObject({ mode: 'psk', identity: 'dev-b' });
    expect(downloadSecurity(dev.tree, 'coaps://10.0.0.1/fw.bin')).toMatchObject({ mode: 'psk', identity: 'dev-a' });
    expect(downloadSecurity(dev.tree, 'coaps://other.example/fw.bin')).toMatchObject({ mode: 'psk', identity: 'dev-a' });
    const nosec = createDeviceTree({ servers: [{ uri: 'coap://127.0.0.1:5683' }] });
    expect(downloadSecurity(nosec.tree, 'coaps://127.0.0.1/fw.bin')).toEqual({ mode: 'nosec' });
    dev.dispose();
    nosec.dispose();
  });
});

describe('Firmware object 1.0 (LwM2M 1.0 client)', () => {
  it('has no Cancel; a forced result beyond its 0..9 range ends as 8', async () => {
    const clock = new ManualClock(0);
    const dev = createDeviceTree({
      lwm2mVersion: '1.0', servers: [{ uri: 'coap://127.0.0.1:5683' }], clock,
      firmware: { update: { flashMs: 10, failure: { forcedResult: 11 }, reboot: () => undefined } },
    });
    const fw = (dev.objects.find((o) => o.id === 5) as FirmwareObject).updater;
    const inst = dev.tree.object(5)?.instance(0);
    expect(inst?.model.version).toBe('1.0');
    expect(inst?.model.resources.has(10)).toBe(false);
    fw.writePackage(IMAGE);
    fw.update();
    clock.advance(10);
    expect([fw.state, fw.result]).toEqual([2, 8]);
    dev.dispose();
  });
});
