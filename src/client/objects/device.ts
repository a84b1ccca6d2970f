/**
 * LwM2M Device object (/3, single instance /3/0; LwM2M-TS-Core 1.1 §E.4). Identity strings from
 * options; Reboot and Factory Reset call back into the client engine; battery level, memory free, power
 * source voltage/current and battery status may be generators (sampled on every read); Current Time is
 * live from the Clock and writable (the server synchronises it: we keep an offset).
 */
import { systemClock, type Clock } from '../../core/clock.js';
import { LwM2MError } from '../../core/errors.js';
import type { ObjectLink, ResourceValue } from '../../model/node.js';
import type { ObjectModel } from '../../model/types.js';
import type { RequestContext } from '../context.js';
import { ObjectInstance } from '../instance.js';
import {
  ManagedObject, bindSource, checkInt, guardWrites, listValue, requireObjectModel, startSampling, type NumberSource, type WriteHook,
} from './generic.js';

export const DeviceResource = {
  MANUFACTURER: 0,
  MODEL_NUMBER: 1,
  SERIAL_NUMBER: 2,
  FIRMWARE_VERSION: 3,
  REBOOT: 4,
  FACTORY_RESET: 5,
  AVAILABLE_POWER_SOURCES: 6,
  POWER_SOURCE_VOLTAGE: 7,
  POWER_SOURCE_CURRENT: 8,
  BATTERY_LEVEL: 9,
  MEMORY_FREE: 10,
  ERROR_CODE: 11,
  RESET_ERROR_CODE: 12,
  CURRENT_TIME: 13,
  UTC_OFFSET: 14,
  TIMEZONE: 15,
  SUPPORTED_BINDING: 16,
  DEVICE_TYPE: 17,
  HARDWARE_VERSION: 18,
  SOFTWARE_VERSION: 19,
  BATTERY_STATUS: 20,
  MEMORY_TOTAL: 21,
  EXT_DEV_INFO: 22,
} as const;

/** /3/0/6 Available Power Sources (§E.4). */
export const PowerSource = {
  DC: 0, INTERNAL_BATTERY: 1, EXTERNAL_BATTERY: 2, FUEL_CELL: 3, POWER_OVER_ETHERNET: 4, USB: 5, AC_MAINS: 6, SOLAR: 7,
} as const;

/** /3/0/11 Error Code values (§E.4): 0 no error, 1..8 defined, 16..32 device specific. */
export const DeviceError = {
  NO_ERROR: 0, LOW_BATTERY: 1, EXTERNAL_POWER_OFF: 2, GPS_FAILURE: 3, LOW_SIGNAL: 4, OUT_OF_MEMORY: 5,
  SMS_FAILURE: 6, IP_CONNECTIVITY_FAILURE: 7, PERIPHERAL_MALFUNCTION: 8,
} as const;

/** /3/0/20 Battery Status (§E.4). */
export const BatteryStatus = {
  NORMAL: 0, CHARGING: 1, CHARGE_COMPLETE: 2, DAMAGED: 3, LOW: 4, NOT_INSTALLED: 5, UNKNOWN: 6,
} as const;

export type DeviceCallback = (ctx: RequestContext) => void | Promise<void>;

export interface DeviceObjectOptions {
  manufacturer?: string;
  modelNumber?: string;
  serialNumber?: string;
  firmwareVersion?: string;
  deviceType?: string;
  hardwareVersion?: string;
  softwareVersion?: string;
  /** Clock for Current Time and generators (default: the system clock). */
  clock?: Clock;
  /**
   * /3/0/4 Reboot (mandatory in the model). The Execute is answered after the callback returns, so a
   * real reboot should be deferred (`setImmediate`/clock timer) by the callback.
   */
  onReboot?: DeviceCallback;
  /** /3/0/5 Factory Reset (§E.4: MAY de-register first, then go through bootstrap again). */
  onFactoryReset?: DeviceCallback;
  /** /3/0/12 Reset Error Code: after the codes were reset to [0], to re-raise conditions still present. */
  onResetErrorCode?: DeviceCallback;
  /** /3/0/6 power sources (see {@link PowerSource}); /3/0/7 and /3/0/8 give one value per source (mV, mA). */
  availablePowerSources?: readonly number[];
  powerSourceVoltage?: readonly NumberSource[];
  powerSourceCurrent?: readonly NumberSource[];
  /** /3/0/9 percent 0..100 (integers; generator output is rounded and clamped). */
  batteryLevel?: NumberSource;
  /** /3/0/10 KB. */
  memoryFree?: NumberSource;
  /** /3/0/21 KB. */
  memoryTotal?: number;
  /** /3/0/20 (see {@link BatteryStatus}). */
  batteryStatus?: NumberSource;
  /** /3/0/11 initial error codes. Default [0] (no error). */
  errorCodes?: readonly number[];
  /** /3/0/13 Current Time: expose it (default true). */
  currentTime?: boolean;
  /** /3/0/14 e.g. `+02:00` (ISO 8601; `UTC+X` accepted too). */
  utcOffset?: string;
  /** /3/0/15 IANA time zone, e.g. `Europe/Berlin`. */
  timezone?: string;
  /** /3/0/16 Supported Binding and Modes (mandatory), e.g. `UQ`. Default `U`. */
  supportedBinding?: string;
  /** /3/0/22 ExtDevInfo links (Device 1.1+). */
  extDevInfo?: readonly ObjectLink[];
  /** Touch generator-backed resources every this many seconds (observers with gt/lt/st). Off by default. */
  sampleIntervalS?: number;
}

const UTC_OFFSET = /^(?:Z|(?:UTC)?[+-](?:[01]?\d|2[0-3])(?::?[0-5]\d)?|UTC)$/;
const TIMEZONE = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,3}$/;

function checkUtcOffset(v: unknown, where: string): void {
  if (typeof v !== 'string' || !UTC_OFFSET.test(v)) {
    throw new LwM2MError('BAD_VALUE', `${where}: "${String(v)}" is not a UTC offset like +02:00, -0530, UTC+1 or Z`);
  }
}

function checkTimezone(v: unknown, where: string): void {
  if (typeof v !== 'string' || !TIMEZONE.test(v)) {
    throw new LwM2MError('BAD_VALUE', `${where}: "${String(v)}" is not an IANA time zone name like Europe/Berlin`);
  }
}

/** Write checks of /3/0 (one hook object for every device). */
const DEVICE_WRITE_HOOKS: Readonly<Record<number, WriteHook>> = {
  [DeviceResource.UTC_OFFSET]: (v) => checkUtcOffset(v, '/3/0/14 (UTC Offset)'),
  [DeviceResource.TIMEZONE]: (v) => checkTimezone(v, '/3/0/15 (Timezone)'),
};

/** Current error codes of /3/0/11 as a list. */
export function deviceErrorCodes(inst: ObjectInstance): number[] {
  const v = inst.get(DeviceResource.ERROR_CODE);
  return v instanceof Map ? [...(v as ReadonlyMap<number, ResourceValue>).values()].map(Number) : [];
}

/**
 * Raises an error condition (§E.4 /3/0/11): the first error replaces the single 0 instance, further
 * errors add instances; raising a code that is present changes nothing.
 */
export function raiseDeviceError(inst: ObjectInstance, code: number): void {
  checkInt(code, 'error code', 1, 32);
  const codes = deviceErrorCodes(inst).filter((c) => c !== 0);
  if (codes.includes(code)) return;
  inst.set(DeviceResource.ERROR_CODE, listValue([...codes, code]));
}

/** Clears one error condition; the last one cleared leaves the single 0 instance (§E.4). */
export function clearDeviceError(inst: ObjectInstance, code: number): void {
  const codes = deviceErrorCodes(inst).filter((c) => c !== 0 && c !== code);
  inst.set(DeviceResource.ERROR_CODE, listValue(codes.length > 0 ? codes : [0]));
}

/** Deletes every error code and leaves a single 0 (§E.4 /3/0/12 Reset Error Code). */
export function resetDeviceErrors(inst: ObjectInstance): void {
  inst.set(DeviceResource.ERROR_CODE, listValue([0]));
}

/** The Device object's instance factory: there is exactly one instance. */
function refuseDeviceInstance(m: ObjectModel, id: number): never {
  throw new LwM2MError('METHOD_NOT_ALLOWED', `the Device object has exactly one instance (/3/0); cannot create /${m.id}/${id}`);
}

/** The Device object with its one instance /3/0. */
export function createDeviceObject(model: ObjectModel, options: DeviceObjectOptions = {}): ManagedObject {
  requireObjectModel(model, 3, 'createDeviceObject');
  const R = DeviceResource;
  const clock = options.clock ?? systemClock;
  const has = (rid: number): boolean => model.resources.has(rid);
  const inst = new ObjectInstance(model, 0);
  const setStr = (rid: number, v: string | undefined): void => {
    if (v !== undefined && has(rid)) inst.set(rid, v);
  };

  setStr(R.MANUFACTURER, options.manufacturer);
  setStr(R.MODEL_NUMBER, options.modelNumber);
  setStr(R.SERIAL_NUMBER, options.serialNumber);
  setStr(R.FIRMWARE_VERSION, options.firmwareVersion);
  setStr(R.DEVICE_TYPE, options.deviceType);
  setStr(R.HARDWARE_VERSION, options.hardwareVersion);
  setStr(R.SOFTWARE_VERSION, options.softwareVersion);
  if (options.utcOffset !== undefined) checkUtcOffset(options.utcOffset, 'utcOffset');
  if (options.timezone !== undefined) checkTimezone(options.timezone, 'timezone');
  setStr(R.UTC_OFFSET, options.utcOffset);
  setStr(R.TIMEZONE, options.timezone);
  const binding = options.supportedBinding ?? 'U';
  if (!/^[UTSNQ]{1,5}$/.test(binding) || new Set(binding).size !== binding.length) {
    throw new LwM2MError('BAD_VALUE', `supportedBinding: "${binding}" is not a combination of U, T, S, N and Q`);
  }
  setStr(R.SUPPORTED_BINDING, binding);

  const errorCodes = options.errorCodes ?? [0];
  if (errorCodes.length === 0) throw new LwM2MError('BAD_VALUE', 'errorCodes: at least one code (0 = no error)');
  errorCodes.forEach((c, i) => checkInt(c, `errorCodes[${i}]`, 0, 32));
  inst.set(R.ERROR_CODE, listValue(errorCodes));

  const live: number[] = [];
  const bind = (rid: number, src: NumberSource | readonly NumberSource[] | undefined): void => {
    if (src === undefined || !has(rid)) return;
    if (bindSource(inst, rid, src, clock)) live.push(rid);
  };
  if (options.availablePowerSources !== undefined) {
    options.availablePowerSources.forEach((p, i) => checkInt(p, `availablePowerSources[${i}]`, 0, 7));
    const n = options.availablePowerSources.length;
    for (const [name, list] of [['powerSourceVoltage', options.powerSourceVoltage], ['powerSourceCurrent', options.powerSourceCurrent]] as const) {
      if (list !== undefined && list.length !== n) {
        throw new LwM2MError('BAD_VALUE', `${name}: one value per available power source (${n}), got ${list.length}`);
      }
    }
    if (has(R.AVAILABLE_POWER_SOURCES)) inst.set(R.AVAILABLE_POWER_SOURCES, listValue(options.availablePowerSources));
  } else if (options.powerSourceVoltage !== undefined || options.powerSourceCurrent !== undefined) {
    throw new LwM2MError('BAD_VALUE', 'powerSourceVoltage/powerSourceCurrent: give availablePowerSources too (one value per source)');
  }
  bind(R.POWER_SOURCE_VOLTAGE, options.powerSourceVoltage);
  bind(R.POWER_SOURCE_CURRENT, options.powerSourceCurrent);
  bind(R.BATTERY_LEVEL, options.batteryLevel);
  bind(R.MEMORY_FREE, options.memoryFree);
  bind(R.BATTERY_STATUS, options.batteryStatus);
  if (options.memoryTotal !== undefined && has(R.MEMORY_TOTAL)) {
    checkInt(options.memoryTotal, 'memoryTotal', 0, Number.MAX_SAFE_INTEGER);
    inst.set(R.MEMORY_TOTAL, options.memoryTotal);
  }
  if (options.extDevInfo !== undefined && has(R.EXT_DEV_INFO)) inst.set(R.EXT_DEV_INFO, listValue(options.extDevInfo));

  guardWrites(inst, DEVICE_WRITE_HOOKS);
  // /3/0/13 Current Time: "the LwM2M Client should be responsible to increase this time value as every
  // second elapses. The LwM2M Server is able to write this Resource" (§E.4). Live = clock + offset; this
  // write behaviour replaces the range guard installed above (no range applies to Time).
  let offsetMs = 0;
  if ((options.currentTime ?? true) && has(R.CURRENT_TIME)) {
    inst.behave(R.CURRENT_TIME, {
      read: () => new Date(Math.floor((clock.now() + offsetMs) / 1000) * 1000),
      write: (v) => {
        if (!(v instanceof Date)) throw new LwM2MError('BAD_VALUE', '/3/0/13 (Current Time): expected a time');
        offsetMs = v.getTime() - clock.now();
      },
    });
  }

  const wire = (rid: number, cb: DeviceCallback | undefined): void => {
    if (cb && has(rid)) inst.behave(rid, { execute: (_args, ctx) => cb(ctx) });
  };
  wire(R.REBOOT, options.onReboot);
  wire(R.FACTORY_RESET, options.onFactoryReset);
  if (has(R.RESET_ERROR_CODE)) {
    inst.behave(R.RESET_ERROR_CODE, {
      execute: (_args, ctx) => {
        resetDeviceErrors(inst);
        return options.onResetErrorCode?.(ctx);
      },
    });
  }

  const object = new ManagedObject(model, refuseDeviceInstance);
  object.add(inst);
  if (options.sampleIntervalS !== undefined && live.length > 0) startSampling(object, clock, options.sampleIntervalS, () => live);
  return object;
}
