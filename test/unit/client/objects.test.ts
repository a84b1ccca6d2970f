import { describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import { LwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath } from '../../../src/core/path.js';
import { loadBuiltinRegistry } from '../../../src/model/builtin.js';
import type { ResourceValue } from '../../../src/model/node.js';
import type { ObjectModel } from '../../../src/model/types.js';
import { AccessControl } from '../../../src/client/access.js';
import { BOOTSTRAP_CONTEXT, INTERNAL_CONTEXT, serverContext } from '../../../src/client/context.js';
import { randomWalk, sequence } from '../../../src/client/generators.js';
import type { ObjectInstance, ResourceData } from '../../../src/client/instance.js';
import type { LwM2MObject } from '../../../src/client/object.js';
import { ObjectTree } from '../../../src/client/object-tree.js';
import { aclInstance, createAclObject, rightsOf, rightsToString } from '../../../src/client/objects/acl.js';
import {
  ConnectivityStatsResource, createConnectivityStatsObject,
} from '../../../src/client/objects/connectivity-stats.js';
import { NetworkBearer, createConnectivityObject } from '../../../src/client/objects/connectivity.js';
import {
  DeviceResource, clearDeviceError, createDeviceObject, deviceErrorCodes, raiseDeviceError,
} from '../../../src/client/objects/device.js';
import { FirmwareState, createFirmwareObject } from '../../../src/client/objects/firmware.js';
import { checkRange, createGenericObject, repeat } from '../../../src/client/objects/generic.js';
import {
  createLocationObject, decodeHorizontalVelocity, distanceM, encodeHorizontalVelocity,
} from '../../../src/client/objects/location.js';
import {
  SecurityMode, createSecurityObject, hexToBytes, securityInstance,
} from '../../../src/client/objects/security.js';
import { createServerObject, disableTimeoutOf, serverInstance } from '../../../src/client/objects/server.js';

const registry = loadBuiltinRegistry();

function model(id: number, version?: string): ObjectModel {
  const m = registry.get(id, version);
  if (!m) throw new Error(`no model ${id} ${version ?? ''}`);
  return m;
}

function inst(obj: LwM2MObject, id = 0): ObjectInstance {
  const i = obj.instance(id);
  if (!i) throw new Error(`no instance ${obj.id}/${id}`);
  return i;
}

function lwm2mError(fn: () => unknown): LwM2MError {
  try {
    fn();
  } catch (e) {
    if (e instanceof LwM2MError) return e;
    throw new Error(`expected an LwM2MError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected an LwM2MError, nothing was thrown');
}

async function lwm2mErrorAsync(fn: () => Promise<unknown>): Promise<LwM2MError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof LwM2MError) return e;
    throw new Error(`expected an LwM2MError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected an LwM2MError, nothing was thrown');
}

const write = (i: ObjectInstance, rid: number, value: ResourceValue, ctx = serverContext(1)): void =>
  i.writeResource({ kind: 'resource', id: rid, value }, ctx);
const writeMulti = (i: ObjectInstance, rid: number, values: ReadonlyMap<number, ResourceValue>, ctx = serverContext(1)): void =>
  i.writeResource({ kind: 'multipleResource', id: rid, instances: values }, ctx);
const list = (d: ResourceData | undefined): ResourceValue[] => (d instanceof Map ? [...(d as ReadonlyMap<number, ResourceValue>).values()] : []);

// ---- Security (0) ------------------------------------------------------------------------------

describe('Security object (/0)', () => {
  it('builds PSK and bootstrap accounts', () => {
    const sec = createSecurityObject(model(0), {
      instances: [
        securityInstance({ id: 0, uri: 'coaps://bs.example:5684', bootstrapServer: true, securityMode: 'psk', pskIdentity: 'dev-1', pskKey: '0a0B0c', clientHoldOffTime: 5, bootstrapServerAccountTimeout: 0 }),
        securityInstance({ uri: 'coap://dm.example:5683', shortServerId: 101 }),
      ],
    });
    const bs = inst(sec, 0);
    expect(bs.get(0)).toBe('coaps://bs.example:5684');
    expect(bs.get(1)).toBe(true);
    expect(bs.get(2)).toBe(SecurityMode.PSK);
    expect(Buffer.from(bs.get(3) as Uint8Array).toString()).toBe('dev-1');
    expect([...(bs.get(5) as Uint8Array)]).toEqual([10, 11, 12]);
    expect(bs.get(11)).toBe(5);
    const dm = inst(sec, 1);
    expect(dm.get(2)).toBe(SecurityMode.NO_SEC);
    expect(dm.get(10)).toBe(101);
    expect((dm.get(5) as Uint8Array).length).toBe(0); // mandatory, empty in NoSec
  });

  it('validates helper options', () => {
    expect(lwm2mError(() => securityInstance({ uri: 'coap://x', securityMode: 0 })).message).toMatch(/^shortServerId: required/);
    expect(lwm2mError(() => securityInstance({ uri: 'coap://x', shortServerId: 1, securityMode: 'psk', pskIdentity: 'id' })).message).toMatch(/^pskKey: required/);
    expect(lwm2mError(() => securityInstance({ uri: 'http://x', shortServerId: 1 })).message).toMatch(/^uri: /);
    expect(lwm2mError(() => securityInstance({ uri: 'coap://x', shortServerId: 65535 })).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => hexToBytes('abc')).code).toBe('LWM2M_BAD_VALUE');
    expect([...hexToBytes('0x01:02 ff')]).toEqual([1, 2, 255]);
  });

  it('lets the Bootstrap-Server create and write instances, refusing bad values', () => {
    const sec = createSecurityObject(model(0));
    const i = sec.create(undefined, { ...BOOTSTRAP_CONTEXT, internal: true }, 3);
    write(i, 0, 'coap://lwm2m.example', BOOTSTRAP_CONTEXT);
    write(i, 10, 7, BOOTSTRAP_CONTEXT);
    expect(i.get(10)).toBe(7);
    expect(lwm2mError(() => write(i, 10, 0, BOOTSTRAP_CONTEXT)).code).toBe('LWM2M_BAD_VALUE'); // 1..65534
    expect(lwm2mError(() => write(i, 2, 9, BOOTSTRAP_CONTEXT)).code).toBe('LWM2M_BAD_VALUE'); // 0..4
    expect(lwm2mError(() => write(i, 1, 'yes', BOOTSTRAP_CONTEXT)).code).toBe('LWM2M_BAD_VALUE'); // boolean
    expect(lwm2mError(() => write(i, 7, Uint8Array.of(1, 2), BOOTSTRAP_CONTEXT)).message).toMatch(/exactly 6 bytes/);
    // A DM server cannot write it (no operations on Security resources).
    expect(lwm2mError(() => write(i, 10, 8, serverContext(7))).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
  });

  it('refuses the wrong model', () => {
    expect(lwm2mError(() => createSecurityObject(model(1))).code).toBe('LWM2M_BAD_MODEL');
  });
});

// ---- Server (1) --------------------------------------------------------------------------------

describe('Server object (/1)', () => {
  it('wires Disable, Registration Update Trigger and Bootstrap-Request Trigger to callbacks', async () => {
    const onDisable = vi.fn();
    const onUpdateTrigger = vi.fn();
    const onBootstrapTrigger = vi.fn(async () => {});
    const srv = createServerObject(model(1), {
      instances: [serverInstance({ id: 0, shortServerId: 101, lifetime: 300, binding: 'UQ' }), serverInstance({ shortServerId: 102 })],
      onDisable, onUpdateTrigger, onBootstrapTrigger,
    });
    const ctx = serverContext(102);
    await inst(srv, 1).execute(4, '', ctx);
    await inst(srv, 0).execute(8, '', ctx);
    await inst(srv, 0).execute(9, '', ctx);
    expect(onDisable).toHaveBeenCalledWith(102, ctx);
    expect(onUpdateTrigger).toHaveBeenCalledWith(101, ctx);
    expect(onBootstrapTrigger).toHaveBeenCalledTimes(1);
    expect(onBootstrapTrigger).toHaveBeenCalledWith(101, ctx);
    expect(inst(srv, 0).get(1)).toBe(300);
    expect(inst(srv, 0).get(7)).toBe('UQ');
    expect(inst(srv, 1).get(1)).toBe(86400);
    expect(inst(srv, 1).get(6)).toBe(true);
    expect(disableTimeoutOf(inst(srv, 0))).toBe(86400);
  });

  it('answers 4.04 for an execute without callback; Server 1.0 has no /9', async () => {
    const srv = createServerObject(model(1, '1.0'), { instances: [serverInstance({ shortServerId: 1, communicationRetryCount: 3 })], onBootstrapTrigger: vi.fn() });
    const e = await lwm2mErrorAsync(() => inst(srv, 0).execute(8, '', serverContext(1)));
    expect(e.code).toBe('LWM2M_NOT_FOUND');
    expect(inst(srv, 0).has(9)).toBe(false);
    expect(inst(srv, 0).has(17)).toBe(false); // retry count dropped: not in Server 1.0
  });

  it('keeps the communication retry resources 17–20 (Server 1.1+)', () => {
    const srv = createServerObject(model(1), {
      instances: [serverInstance({ shortServerId: 5, communicationRetryCount: 3, communicationRetryTimer: 60, communicationSequenceDelayTimer: 86400, communicationSequenceRetryCount: 1 })],
    });
    expect([17, 18, 19, 20].map((r) => inst(srv, 0).get(r))).toEqual([3, 60, 86400, 1]);
  });

  it('refuses writes with the wrong type or a bad value', () => {
    const srv = createServerObject(model(1), { instances: [serverInstance({ shortServerId: 1 })] });
    const i = inst(srv, 0);
    expect(lwm2mError(() => write(i, 1, 'soon')).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 1, 0)).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 2, -5)).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 7, 'UX')).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 6, 1)).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 0, 9)).code).toBe('LWM2M_METHOD_NOT_ALLOWED'); // Short Server ID is R
    write(i, 7, 'UQ');
    write(i, 1, 60);
    expect([i.get(7), i.get(1)]).toEqual(['UQ', 60]);
  });

  it('validates helper options', () => {
    expect(lwm2mError(() => serverInstance({ shortServerId: 0 })).message).toMatch(/^shortServerId: /);
    expect(lwm2mError(() => serverInstance({ shortServerId: 1, binding: 'QQ' })).message).toMatch(/^binding: /);
    expect(lwm2mError(() => serverInstance({ shortServerId: 1, defaultPmin: 60, defaultPmax: 10 })).message).toMatch(/^defaultPmax: /);
  });

  it('instances created during bootstrap get the executes too', async () => {
    const onUpdateTrigger = vi.fn();
    const srv = createServerObject(model(1), { onUpdateTrigger });
    const i = srv.create(undefined, { ...BOOTSTRAP_CONTEXT, internal: true }, 4);
    write(i, 0, 77, BOOTSTRAP_CONTEXT);
    await i.execute(8, '', serverContext(77));
    expect(onUpdateTrigger).toHaveBeenCalledWith(77, serverContext(77));
  });
});

// ---- ACL (2) -----------------------------------------------------------------------------------

describe('Access Control object (/2)', () => {
  it('converts rights', () => {
    expect(rightsOf('RWE')).toBe(7);
    expect(rightsOf(['R', 'D'])).toBe(9);
    expect(rightsOf(31)).toBe(31);
    expect(rightsToString(21)).toBe('REC');
    expect(lwm2mError(() => rightsOf('RX')).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => rightsOf(32)).code).toBe('LWM2M_BAD_VALUE');
  });

  it('builds instances that access.ts applies', () => {
    const tree = new ObjectTree();
    tree.add(createServerObject(model(1), { instances: [serverInstance({ shortServerId: 1 }), serverInstance({ shortServerId: 2 })] }));
    tree.add(createDeviceObject(model(3)));
    tree.add(createAclObject(model(2), {
      instances: [
        aclInstance({ objectId: 3, instanceId: 0, acl: { 1: 'RWE', 0: 'R' }, owner: 1 }),
        aclInstance({ objectId: 3, instanceId: 65535, acl: { 2: 'C' }, owner: 65535 }),
      ],
    }));
    const access = new AccessControl(tree);
    expect(access.enabled()).toBe(true);
    expect(access.granted(1, 3, 0, 'E')).toBe(true);
    expect(access.granted(2, 3, 0, 'R')).toBe(true); // default entry 0
    expect(access.granted(2, 3, 0, 'W')).toBe(false);
    expect(access.granted(2, 3, 65535, 'C')).toBe(true);
    const e = lwm2mError(() => access.check(serverContext(2), LwM2MPath.parse('/3/0/4'), 'E'));
    expect(e.code).toBe('LWM2M_UNAUTHORIZED');
  });

  it('validates options and writes', () => {
    expect(lwm2mError(() => aclInstance({ objectId: 3, instanceId: 0, acl: { 1: 'C' }, owner: 1 })).message).toMatch(/Create/);
    expect(lwm2mError(() => aclInstance({ objectId: 0, instanceId: 0, owner: 1 })).message).toMatch(/^objectId: /);
    const acl = createAclObject(model(2), { instances: [aclInstance({ objectId: 3, instanceId: 0, owner: 1 })] });
    const i = inst(acl, 0);
    writeMulti(i, 2, new Map([[1, 15]]));
    expect(i.get(2)).toEqual(new Map([[1, 15]]));
    expect(lwm2mError(() => writeMulti(i, 2, new Map([[1, 32]]))).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => writeMulti(i, 2, new Map<number, ResourceValue>([[1, 'RW']]))).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 3, 70000)).code).toBe('LWM2M_BAD_VALUE');
  });

  it('lets the client create an ACL instance after a server Create (access.onCreated)', () => {
    const tree = new ObjectTree();
    tree.add(createServerObject(model(1), { instances: [serverInstance({ shortServerId: 1 }), serverInstance({ shortServerId: 2 })] }));
    tree.add(createAclObject(model(2)));
    new AccessControl(tree).onCreated(serverContext(2), 3303, 0);
    const created = inst(tree.object(2) as LwM2MObject, 0);
    expect([created.get(0), created.get(1), created.get(3)]).toEqual([3303, 0, 2]);
  });
});

// ---- Device (3) --------------------------------------------------------------------------------

describe('Device object (/3)', () => {
  it('holds identity strings and the defaults of mandatory resources', () => {
    const dev = createDeviceObject(model(3), {
      manufacturer: 'ACME', modelNumber: 'T-1000', serialNumber: 'SN-42', firmwareVersion: '1.2.3', deviceType: 'sensor',
      hardwareVersion: 'B', softwareVersion: '4.5', utcOffset: '+02:00', timezone: 'Europe/Berlin', supportedBinding: 'UQ',
      memoryTotal: 512, availablePowerSources: [1, 5], powerSourceVoltage: [3700, 5000], powerSourceCurrent: [120, 0],
      batteryStatus: 0,
    });
    const i = inst(dev);
    const node = i.readInstance(serverContext(1));
    const v = (rid: number): unknown => {
      const r = node.resources.get(rid);
      return r?.kind === 'resource' ? r.value : r?.kind === 'multipleResource' ? [...r.instances.values()] : undefined;
    };
    expect([0, 1, 2, 3, 17, 18, 19].map(v)).toEqual(['ACME', 'T-1000', 'SN-42', '1.2.3', 'sensor', 'B', '4.5']);
    expect(v(11)).toEqual([0]);
    expect(v(16)).toBe('UQ');
    expect(v(14)).toBe('+02:00');
    expect(v(6)).toEqual([1, 5]);
    expect(v(7)).toEqual([3700, 5000]);
    expect(v(21)).toBe(512);
    expect(node.resources.has(4)).toBe(false); // executables are not read
  });

  it('Reboot and Factory Reset call the callbacks; Reset Error Code resets to [0]', async () => {
    const onReboot = vi.fn();
    const onFactoryReset = vi.fn();
    const onResetErrorCode = vi.fn();
    const dev = createDeviceObject(model(3), { onReboot, onFactoryReset, onResetErrorCode, errorCodes: [0] });
    const i = inst(dev);
    const ctx = serverContext(1);
    await i.execute(DeviceResource.REBOOT, '', ctx);
    expect(onReboot).toHaveBeenCalledWith(ctx);
    expect(onFactoryReset).not.toHaveBeenCalled();
    await i.execute(DeviceResource.FACTORY_RESET, '', ctx);
    expect(onFactoryReset).toHaveBeenCalledTimes(1);
    raiseDeviceError(i, 1);
    raiseDeviceError(i, 5);
    raiseDeviceError(i, 5);
    expect(deviceErrorCodes(i)).toEqual([1, 5]);
    await i.execute(DeviceResource.RESET_ERROR_CODE, '', ctx);
    expect(deviceErrorCodes(i)).toEqual([0]);
    expect(onResetErrorCode).toHaveBeenCalledTimes(1);
    // Not executable: 4.05.
    const e = await lwm2mErrorAsync(() => i.execute(DeviceResource.MANUFACTURER, '', ctx));
    expect(e.code).toBe('LWM2M_METHOD_NOT_ALLOWED');
  });

  it('error codes follow §E.4: first error replaces 0, clearing the last restores 0', () => {
    const i = inst(createDeviceObject(model(3)));
    expect(deviceErrorCodes(i)).toEqual([0]);
    raiseDeviceError(i, 7);
    expect(deviceErrorCodes(i)).toEqual([7]);
    raiseDeviceError(i, 2);
    clearDeviceError(i, 7);
    expect(deviceErrorCodes(i)).toEqual([2]);
    clearDeviceError(i, 2);
    expect(deviceErrorCodes(i)).toEqual([0]);
    expect(lwm2mError(() => raiseDeviceError(i, 0)).code).toBe('LWM2M_BAD_VALUE');
  });

  it('Current Time moves with the clock and is writable (kept as an offset)', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const i = inst(createDeviceObject(model(3), { clock }));
    expect((i.get(13) as Date).getTime()).toBe(1_700_000_000_000);
    clock.advance(61_500);
    expect((i.get(13) as Date).getTime()).toBe(1_700_000_061_000);
    write(i, 13, new Date(1_000_000_000_000));
    expect((i.get(13) as Date).getTime()).toBe(1_000_000_000_000);
    clock.advance(10_000);
    expect((i.get(13) as Date).getTime()).toBe(1_000_000_010_000);
    write(i, 13, 2_000_000_000); // a number is seconds (text/TLV decoders give that)
    expect((i.get(13) as Date).getTime()).toBe(2_000_000_000_000);
    expect(lwm2mError(() => write(i, 13, 'noon')).code).toBe('LWM2M_BAD_VALUE');
    const r = i.readResource(13, serverContext(1));
    expect(r.kind === 'resource' && r.value instanceof Date).toBe(true);
  });

  it('battery level and memory free are live generators: integers in range, reproducible', () => {
    const clock = new ManualClock(0);
    const mk = (): ObjectInstance => inst(createDeviceObject(model(3), {
      clock,
      batteryLevel: randomWalk({ start: 80, step: 7.3, min: -20, max: 130, seed: 'bat', intervalS: 60 }),
      memoryFree: sequence({ values: [100.4, 90.6], intervalS: 60 }),
    }));
    const a = mk();
    const b = mk();
    const seen = new Set<number>();
    for (let k = 0; k < 2_000; k++) {
      const x = a.get(9) as number;
      expect(Number.isInteger(x) && x >= 0 && x <= 100).toBe(true);
      expect(b.get(9)).toBe(x);
      seen.add(x);
      clock.advance(60_000);
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(seen.has(0) || seen.has(100)).toBe(true); // clamped to the model's 0..100
    expect([a.get(10), b.get(10)]).toEqual([a.get(10), a.get(10)]);
    expect(Number.isInteger(a.get(10))).toBe(true);
  });

  it('refuses writes of read-only resources and bad UTC offsets / time zones', () => {
    const i = inst(createDeviceObject(model(3), { utcOffset: 'UTC+1' }));
    expect(lwm2mError(() => write(i, 0, 'X')).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
    expect(lwm2mError(() => write(i, 14, 'two hours')).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 14, 2)).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 15, 'not a zone!')).code).toBe('LWM2M_BAD_VALUE');
    write(i, 14, '-05:30');
    write(i, 15, 'America/Argentina/Buenos_Aires');
    expect([i.get(14), i.get(15)]).toEqual(['-05:30', 'America/Argentina/Buenos_Aires']);
    expect(lwm2mError(() => createDeviceObject(model(3), { supportedBinding: 'UU' })).message).toMatch(/^supportedBinding/);
    expect(lwm2mError(() => createDeviceObject(model(3), { errorCodes: [40] })).message).toMatch(/^errorCodes\[0\]/);
    expect(lwm2mError(() => createDeviceObject(model(3), { powerSourceVoltage: [1] })).code).toBe('LWM2M_BAD_VALUE');
  });

  it('is single-instance and works with Device 1.0', () => {
    const dev = createDeviceObject(model(3, '1.0'), { manufacturer: 'Old' });
    expect(dev.instanceIds()).toEqual([0]);
    expect(lwm2mError(() => dev.create(undefined, INTERNAL_CONTEXT, 1)).code).toBe('LWM2M_BAD_REQUEST');
  });

  it('sampleIntervalS tells observers about generator-backed values', () => {
    const clock = new ManualClock(0);
    const tree = new ObjectTree();
    const dev = createDeviceObject(model(3), { clock, batteryLevel: sequence({ values: [50, 49] }), sampleIntervalS: 10 });
    tree.add(dev);
    const changes: string[] = [];
    tree.on('change', (p) => changes.push(p.toString()));
    clock.advance(30_000);
    expect(changes.filter((c) => c === '/3/0/9')).toHaveLength(3);
    dev.dispose();
    expect(clock.pendingCount).toBe(0);
    clock.advance(30_000);
    expect(changes).toHaveLength(3);
  });
});

// ---- Connectivity Monitoring (4) ---------------------------------------------------------------

describe('Connectivity Monitoring object (/4)', () => {
  it('holds network values; radio values come from generators', () => {
    const clock = new ManualClock(0);
    const con = createConnectivityObject(model(4), {
      clock, networkBearer: NetworkBearer.NB_IOT, availableBearers: [6, 7], radioSignalStrength: sequence({ values: [-91.6, -80.2] }),
      linkQuality: 12, ipAddresses: ['10.0.0.5', '2001:db8::1'], routerIpAddresses: ['10.0.0.1'], apn: ['iot.example'],
      cellId: 123456, smnc: 1, smcc: 262, lac: 77, signalSnr: 9, coverageEnhancementLevel: 1,
    });
    const i = inst(con);
    expect(i.get(0)).toBe(7);
    expect(list(i.get(1))).toEqual([6, 7]);
    expect(i.get(2)).toBe(-92);
    expect(i.get(2)).toBe(-80);
    expect(list(i.get(4))).toEqual(['10.0.0.5', '2001:db8::1']);
    expect(list(i.get(7))).toEqual(['iot.example']);
    expect([i.get(8), i.get(9), i.get(10), i.get(11), i.get(12), i.get(13)]).toEqual([123456, 1, 262, 9, 77, 1]);
    expect(lwm2mError(() => write(i, 0, 6)).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
  });

  it('has defaults for its mandatory resources and drops resources an older version lacks', () => {
    const i = inst(createConnectivityObject(model(4, '1.0'), { lac: 5, signalSnr: 3 }));
    expect([i.get(0), list(i.get(1)), i.get(2), list(i.get(4))]).toEqual([6, [6], -70, ['127.0.0.1']]);
    expect(i.has(12)).toBe(false);
  });

  it('validates options', () => {
    expect(lwm2mError(() => createConnectivityObject(model(4), { ipAddresses: ['300.1.1.1'] })).message).toMatch(/^ipAddresses\[0\]/);
    expect(lwm2mError(() => createConnectivityObject(model(4), { smcc: 1000 })).message).toMatch(/^smcc/);
    expect(lwm2mError(() => createConnectivityObject(model(4), { networkBearer: 51 })).message).toMatch(/^networkBearer/);
    expect(lwm2mError(() => createConnectivityObject(model(3))).code).toBe('LWM2M_BAD_MODEL');
  });
});

// ---- Firmware Update (5) -----------------------------------------------------------------------

describe('Firmware Update object (/5)', () => {
  it('starts idle with result 0; protocol support and delivery method from options', () => {
    const i = inst(createFirmwareObject(model(5), { protocols: ['coap', 'https', 4], deliveryMethod: 'pull', pkgName: 'fw', pkgVersion: '1.0' }));
    expect(i.get(3)).toBe(FirmwareState.IDLE);
    expect(i.get(5)).toBe(0);
    expect(list(i.get(8))).toEqual([0, 3, 4]);
    expect(i.get(9)).toBe(0);
    expect(i.get(1)).toBe('');
    expect([i.get(6), i.get(7)]).toEqual(['fw', '1.0']);
    const d = inst(createFirmwareObject(model(5)));
    expect([list(d.get(8)), d.get(9)]).toEqual([[0, 1], 2]);
  });

  it('refuses the unsupported delivery method and operations the state does not allow (state machine: firmware*.test.ts)', async () => {
    const push = inst(createFirmwareObject(model(5), { deliveryMethod: 1 }));
    expect(lwm2mError(() => write(push, 0, Uint8Array.of(1, 2, 3))).code).toBe('LWM2M_BAD_REQUEST'); // not an image
    expect([push.get(3), push.get(5)]).toEqual([FirmwareState.IDLE, 5]);
    expect(lwm2mError(() => write(push, 1, 'coap://fw.example/x')).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
    const pull = inst(createFirmwareObject(model(5), { deliveryMethod: 'pull' }));
    expect(lwm2mError(() => write(pull, 0, Uint8Array.of(1))).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
    await expect(push.execute(2, '', serverContext(1))).rejects.toMatchObject({ code: 'LWM2M_METHOD_NOT_ALLOWED' });
    expect(lwm2mError(() => write(pull, 1, 'x'.repeat(256))).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(pull, 3, 1)).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
    expect(lwm2mError(() => createFirmwareObject(model(5), { protocols: ['ftp' as 'coap'] })).message).toMatch(/^protocols\[0\]/);
  });
});

// ---- Location (6) ------------------------------------------------------------------------------

describe('Location object (/6)', () => {
  it('encodes velocity per 3GPP TS 23.032 (horizontal velocity)', () => {
    expect([...encodeHorizontalVelocity(300, 10)]).toEqual([0x01, 0x2c, 0x00, 0x24]); // 300° → 0x12C, 36 km/h
    expect(decodeHorizontalVelocity(encodeHorizontalVelocity(45.9, 100 / 3.6))).toEqual({ bearingDeg: 45, speedKmh: 100 });
    expect(decodeHorizontalVelocity(encodeHorizontalVelocity(-90, 0))).toEqual({ bearingDeg: 270, speedKmh: 0 });
  });

  it('holds a position with a timestamp from the clock', () => {
    const clock = new ManualClock(1_600_000_000_500);
    const loc = createLocationObject(model(6), { latitude: 48.85, longitude: 2.35, altitude: 35, radius: 10, speed: 0, velocity: { bearingDeg: 90, speedMps: 0 }, clock });
    const i = inst(loc);
    expect([i.get(0), i.get(1), i.get(2), i.get(3), i.get(6)]).toEqual([48.85, 2.35, 35, 10, 0]);
    expect((i.get(5) as Date).getTime()).toBe(1_600_000_000_000);
    expect([...(i.get(4) as Uint8Array)]).toEqual([0, 90, 0, 0]);
    expect(lwm2mError(() => write(i, 0, 1.5)).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
    expect(lwm2mError(() => createLocationObject(model(6), { latitude: 91, longitude: 0 })).message).toMatch(/^latitude/);
  });

  it('moves on the clock, notifies observers, stays near home, is reproducible and stops on dispose', () => {
    const run = (): { positions: [number, number][]; changes: string[]; clock: ManualClock; dispose: () => void } => {
      const clock = new ManualClock(0);
      const tree = new ObjectTree();
      const loc = createLocationObject(model(6), {
        latitude: 52.52, longitude: 13.405, clock,
        movement: { intervalS: 10, speedMps: randomWalk({ start: 10, step: 2, min: 5, max: 15, seed: 1 }), wanderRadiusM: 2_000, seed: 'car' },
      });
      tree.add(loc);
      const changes: string[] = [];
      tree.on('change', (p) => changes.push(p.toString()));
      const positions: [number, number][] = [];
      for (let k = 0; k < 500; k++) {
        clock.advance(10_000);
        const p = loc.position();
        positions.push([p.latitude, p.longitude]);
      }
      return { positions, changes, clock, dispose: () => loc.dispose() };
    };
    const a = run();
    const b = run();
    expect(a.positions).toEqual(b.positions);
    expect(new Set(a.positions.map((p) => p.join())).size).toBeGreaterThan(400);
    expect(a.changes.filter((c) => c === '/6/0/0')).toHaveLength(500);
    expect(a.changes).toContain('/6/0/5');
    expect(a.changes).toContain('/6/0/4');
    for (const [lat, lon] of a.positions) {
      // 2 km radius plus at most one step (≤ 150 m) and one corrective step back.
      expect(distanceM({ latitude: 52.52, longitude: 13.405 }, { latitude: lat, longitude: lon })).toBeLessThan(2_400);
    }
    a.dispose();
    expect(a.clock.pendingCount).toBe(0);
  });

  it('moveTo validates and updates the resources', () => {
    const clock = new ManualClock(5_000);
    const loc = createLocationObject(model(6), { latitude: 0, longitude: 0, clock });
    expect(loc.moving).toBe(false);
    loc.moveTo({ latitude: -33.9, longitude: 151.2, altitude: 5 }, { speedMps: 2, bearingDeg: 180 });
    const i = inst(loc);
    expect([i.get(0), i.get(1), i.get(2), i.get(6)]).toEqual([-33.9, 151.2, 5, 2]);
    expect(lwm2mError(() => loc.moveTo({ latitude: 0, longitude: 190 })).message).toMatch(/^longitude/);
    expect(lwm2mError(() => loc.startMoving()).code).toBe('LWM2M_BAD_REQUEST');
  });
});

// ---- Connectivity Statistics (7) ---------------------------------------------------------------

describe('Connectivity Statistics object (/7)', () => {
  it('counts only between Start and Stop; Start resets, Stop keeps', async () => {
    const clock = new ManualClock(0);
    const stats = createConnectivityStatsObject(model(7), { clock });
    const i = inst(stats);
    const R = ConnectivityStatsResource;
    stats.recordTx(5000);
    expect(i.get(R.TX_DATA)).toBe(0);
    await i.execute(R.START, '', serverContext(1));
    expect(stats.collecting).toBe(true);
    stats.recordTx(2048);
    stats.recordTx(1000);
    stats.recordRx(3000);
    stats.recordSmsTx();
    stats.recordSmsRx();
    stats.recordSmsRx();
    expect([i.get(0), i.get(1), i.get(2), i.get(3), i.get(4), i.get(5)]).toEqual([1, 2, 2, 2, 3000, 2016]);
    await i.execute(R.STOP, '', serverContext(1));
    stats.recordTx(100_000);
    expect(i.get(R.TX_DATA)).toBe(2);
    await i.execute(R.START, '', serverContext(1));
    expect([i.get(0), i.get(2), i.get(4), i.get(5)]).toEqual([0, 0, 0, 0]);
    expect(lwm2mError(() => stats.recordTx(-1)).code).toBe('LWM2M_BAD_VALUE');
  });

  it('stops after the Collection Period (written by the server)', async () => {
    const clock = new ManualClock(0);
    const stats = createConnectivityStatsObject(model(7), { clock });
    const i = inst(stats);
    write(i, ConnectivityStatsResource.COLLECTION_PERIOD, 60);
    expect(lwm2mError(() => write(i, ConnectivityStatsResource.COLLECTION_PERIOD, -1)).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, ConnectivityStatsResource.COLLECTION_PERIOD, 'hour')).code).toBe('LWM2M_BAD_VALUE');
    await i.execute(ConnectivityStatsResource.START, '', serverContext(1));
    clock.advance(59_999);
    expect(stats.collecting).toBe(true);
    clock.advance(1);
    expect(stats.collecting).toBe(false);
    stats.recordRx(4096);
    expect(i.get(ConnectivityStatsResource.RX_DATA)).toBe(0);
  });

  it('notifies observers of counter changes', () => {
    const tree = new ObjectTree();
    const stats = createConnectivityStatsObject(model(7), { collecting: true });
    tree.add(stats);
    const changes: string[] = [];
    tree.on('change', (p) => changes.push(p.toString()));
    stats.recordTx(2048);
    expect(changes).toEqual(expect.arrayContaining(['/7/0/2', '/7/0/4', '/7/0/5']));
  });
});

// ---- generic (any DDF object) ------------------------------------------------------------------

describe('generic object (IPSO 3303 Temperature from XML)', () => {
  it('serves constants, lists and generator specs; refuses wrong types', () => {
    const clock = new ManualClock(0);
    const temp = createGenericObject(model(3303), {
      clock, seed: 'dev-1',
      instances: [{ values: { 5700: { type: 'sine', min: 18, max: 24, periodS: 600, decimals: 1 }, 5701: 'Cel', 5603: -40, 5604: 85, 5750: 'room' } }],
    });
    const i = inst(temp);
    expect(i.get(5700)).toBe(21);
    clock.advance(150_000);
    expect(i.get(5700)).toBe(24);
    expect([i.get(5701), i.get(5603), i.get(5604)]).toEqual(['Cel', -40, 85]);
    write(i, 5750, 'kitchen');
    expect(i.get(5750)).toBe('kitchen');
    expect(lwm2mError(() => write(i, 5750, 12)).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => write(i, 5700, 1.5)).code).toBe('LWM2M_METHOD_NOT_ALLOWED');
  });

  it('refuses unknown resources and bad generator specs at configuration', () => {
    expect(lwm2mError(() => createGenericObject(model(3303), { instances: [{ values: { 9999: 1 } }] })).message).toMatch(/has no resource 9999/);
    expect(lwm2mError(() => createGenericObject(model(3303), { instances: [{ values: { 5700: 'hot' } }] })).code).toBe('LWM2M_BAD_VALUE');
    expect(lwm2mError(() => createGenericObject(model(3303), { instances: [{ values: { 5700: { type: 'sine', min: 0 } } }] })).message).toMatch(/^max: is required/);
    expect(lwm2mError(() => createGenericObject(model(3303), { instances: [{ values: { 6049: 101 } }] })).code).toBe('LWM2M_BAD_VALUE');
  });

  it('calls handlers for read, write, execute, create and delete', async () => {
    const seen: string[] = [];
    let current = 20.5;
    const obj = createGenericObject(model(3303), {
      instances: [{ id: 0, values: { 5700: 0 } }],
      defaults: { 5701: 'Cel' },
      handlers: {
        read: (iid, rid) => (rid === 5700 ? current + iid : undefined),
        write: (iid, rid, v) => {
          if (v === 'forbidden') throw new LwM2MError('BAD_VALUE', 'no');
          seen.push(`w${iid}/${rid}=${String(v)}`);
        },
        execute: (iid, rid, args) => {
          seen.push(`x${iid}/${rid}(${args})`);
        },
        create: (instance) => {
          seen.push(`c${instance.id}`);
          if (instance.id === 9) throw new LwM2MError('BAD_REQUEST', 'not 9');
        },
        delete: (iid) => {
          seen.push(`d${iid}`);
        },
      },
    });
    const i = inst(obj);
    expect(i.get(5700)).toBe(20.5);
    current = 22;
    expect(i.readResource(5700, serverContext(1))).toEqual({ kind: 'resource', id: 5700, value: 22 });
    write(i, 5750, 'lab');
    expect(lwm2mError(() => write(i, 5750, 'forbidden')).code).toBe('LWM2M_BAD_VALUE');
    expect(i.get(5750)).toBe('lab');
    await i.execute(5605, '', serverContext(1));
    const created = obj.create({ kind: 'instance', id: 3, resources: new Map() }, serverContext(1));
    expect(created.get(5701)).toBe('Cel');
    expect(created.get(5700)).toBe(25);
    expect(() => obj.create(undefined, serverContext(1), 9)).toThrow(/not 9/);
    expect(obj.instanceIds()).toEqual([0, 3]);
    obj.delete(3);
    obj.deleteAll();
    expect(obj.instanceIds()).toEqual([]);
    expect(seen).toEqual(['w0/5750=lab', 'x0/5605()', 'c3', 'c9', 'd3', 'd0']);
  });

  it('answers 4.04 for executes without a handler', async () => {
    const obj = createGenericObject(model(3303), { instances: [{ values: { 5700: 1 } }] });
    expect((await lwm2mErrorAsync(() => inst(obj).execute(5605, '', serverContext(1)))).code).toBe('LWM2M_NOT_FOUND');
  });

  it('generator seeds differ per instance but are reproducible', () => {
    const mk = (): LwM2MObject => createGenericObject(model(3303), {
      seed: 'fleet',
      instances: [0, 1].map((id) => ({ id, values: { 5700: { type: 'randomWalk', start: 20, step: 1, min: 0, max: 40 } } })),
    });
    const a = mk();
    const b = mk();
    const seq = (o: LwM2MObject, id: number): unknown[] => Array.from({ length: 50 }, () => inst(o, id).get(5700));
    const a0 = seq(a, 0);
    expect(a0).toEqual(seq(b, 0));
    expect(a0).not.toEqual(seq(a, 1));
  });
});

describe('shared helpers', () => {
  it('checkRange bounds numbers and string/opaque lengths', () => {
    const m = model(0);
    expect(() => checkRange(m.resources.get(10)!, 65534, 'x')).not.toThrow();
    expect(lwm2mError(() => checkRange(m.resources.get(10)!, 65535, 'x')).message).toMatch(/above the maximum 65534/);
    expect(lwm2mError(() => checkRange(m.resources.get(0)!, 'u'.repeat(256), 'x')).message).toMatch(/at most 255/);
    expect(lwm2mError(() => checkRange(model(1).resources.get(2)!, -1, 'x')).message).toMatch(/negative/);
  });

  it('repeat fires every interval until cancelled', () => {
    const clock = new ManualClock(0);
    let n = 0;
    const h = repeat(clock, 1_000, () => n++);
    clock.advance(5_500);
    expect(n).toBe(5);
    h.cancel();
    clock.advance(5_000);
    expect(n).toBe(5);
    expect(clock.pendingCount).toBe(0);
  });
});
