/**
 * The Firmware Update object makes its update state machine on first use, not per device (issue 4,
 * memory): /5/0 reads Idle / Update Result 0 — or the flash's record — before, and the first write of
 * /5/0/1 (or /5/0/0, Update, Cancel, a push stream) makes it.
 */
import { describe, expect, it } from 'vitest';
import { AccessControl } from '../../../src/client/access.js';
import { AttributeStore } from '../../../src/client/attributes.js';
import { serverContext } from '../../../src/client/context.js';
import { createDeviceTree } from '../../../src/client/device-factory.js';
import { memoryFlash } from '../../../src/client/firmware/updater.js';
import { FirmwareObject } from '../../../src/client/objects/firmware.js';
import { Observations } from '../../../src/client/observations.js';
import type { DeviceEnv } from '../../../src/client/operations/env.js';
import type { CoapMethod } from '../../../src/client/request.js';
import { handleDmRequest } from '../../../src/client/router.js';
import { ManualClock } from '../../../src/core/clock.js';
import { ContentFormat } from '../../../src/codec/content-format.js';

function device(flash = memoryFlash()) {
  const clock = new ManualClock(1_700_000_000_000);
  const dev = createDeviceTree({
    servers: [{ uri: 'coap://127.0.0.1:5683' }],
    device: { manufacturer: 'ACME', modelNumber: 'M', serialNumber: 'S', firmwareVersion: '1.0.0' },
    clock,
    firmware: { pkgName: 'acme-fw', pkgVersion: '1.0.0', update: { flash } },
  });
  const env: DeviceEnv = { tree: dev.tree, access: new AccessControl(dev.tree), attributesFor: () => new AttributeStore() };
  const observations = new Observations(clock);
  const object = dev.objects.find((o) => o.id === 5) as FirmwareObject;
  const dm = (method: CoapMethod, path: string, text?: string) => handleDmRequest(env, observations, serverContext(101), {
    method, uriPath: path.split('/').filter((s) => s !== ''), uriQuery: [],
    payload: new TextEncoder().encode(text ?? ''),
    ...(text !== undefined ? { contentFormat: ContentFormat.TEXT } : {}),
  });
  return { dev, object, dm };
}

describe('Firmware Update object: updater made on first use', () => {
  it('reads State 0 and Result 0 without an updater; a write of /5/0/1 makes it', async () => {
    const { dev, object, dm } = device();
    expect(object.updaterCreated).toBe(false);
    const state = await dm('GET', '/5/0/3');
    const result = await dm('GET', '/5/0/5');
    expect([state.code, new TextDecoder().decode(state.payload)]).toEqual(['2.05', '0']);
    expect([result.code, new TextDecoder().decode(result.payload)]).toEqual(['2.05', '0']);
    expect(object.updaterCreated).toBe(false);
    // §E.6: an unsupported scheme → Update Result 9, through the updater made for this write.
    const w = await dm('PUT', '/5/0/1', 'ftp://example.com/fw.bin');
    expect(w.code).toBe('2.04');
    expect(object.updaterCreated).toBe(true);
    expect(object.updater.result).toBe(9);
    dev.dispose();
  });

  it('shows the flash record (result, package name and version) before the updater exists', async () => {
    const flash = memoryFlash({ result: 1, pkgName: 'acme-fw', pkgVersion: '2.0.0' });
    const { dev, object, dm } = device(flash);
    const read = async (p: string) => new TextDecoder().decode((await dm('GET', p)).payload);
    expect([await read('/5/0/3'), await read('/5/0/5'), await read('/5/0/6'), await read('/5/0/7')]).toEqual(['0', '1', 'acme-fw', '2.0.0']);
    expect(object.updaterCreated).toBe(false);
    // Cancel in Idle is refused by the state machine (§E.6), which it makes to decide.
    const c = await dm('POST', '/5/0/10');
    expect(c.code).not.toBe('2.04');
    expect(object.updaterCreated).toBe(true);
    expect(object.updater.result).toBe(1);
    dev.dispose();
  });
});
