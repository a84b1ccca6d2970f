/**
 * LwM2M Firmware Update object (/5, single instance /5/0; LwM2M-TS-Core 1.1 §E.6): the model and its
 * resources. The update state machine (download, verify, update, result codes) is a separate piece; this
 * object starts Idle with Update Result 0 and exposes hooks where that machine plugs in.
 */
import { LwM2MError } from '../../core/errors.js';
import type { ObjectModel } from '../../model/types.js';
import type { RequestContext } from '../context.js';
import { ObjectInstance } from '../instance.js';
import { ManagedObject, checkInt, guardWrites, listValue, requireObjectModel } from './generic.js';

export const FirmwareResource = {
  PACKAGE: 0,
  PACKAGE_URI: 1,
  UPDATE: 2,
  STATE: 3,
  UPDATE_RESULT: 5,
  PKG_NAME: 6,
  PKG_VERSION: 7,
  PROTOCOL_SUPPORT: 8,
  DELIVERY_METHOD: 9,
  CANCEL: 10,
  SEVERITY: 11,
  LAST_STATE_CHANGE_TIME: 12,
  MAXIMUM_DEFER_PERIOD: 13,
  AUTOMATIC_UPGRADE_AT_DOWNLOAD: 14,
} as const;

/** /5/0/3 State (§E.6). */
export const FirmwareState = { IDLE: 0, DOWNLOADING: 1, DOWNLOADED: 2, UPDATING: 3 } as const;

/** /5/0/5 Update Result (§E.6). */
export const FirmwareUpdateResult = {
  INITIAL: 0, SUCCESS: 1, NOT_ENOUGH_STORAGE: 2, OUT_OF_MEMORY: 3, CONNECTION_LOST: 4, INTEGRITY_CHECK_FAILURE: 5,
  UNSUPPORTED_PACKAGE_TYPE: 6, INVALID_URI: 7, UPDATE_FAILED: 8, UNSUPPORTED_PROTOCOL: 9, CANCELLED: 10, DEFERRED: 11,
} as const;

/** /5/0/8 Firmware Update Protocol Support (§E.6). */
export const FirmwareProtocol = { COAP: 0, COAPS: 1, HTTP: 2, HTTPS: 3, COAP_TCP: 4, COAPS_TCP: 5 } as const;

/** /5/0/9 Firmware Update Delivery Method (§E.6). */
export const DeliveryMethod = { PULL: 0, PUSH: 1, BOTH: 2 } as const;

export type FirmwareProtocolName = 'coap' | 'coaps' | 'http' | 'https' | 'coap+tcp' | 'coaps+tcp';
const PROTOCOL_NAMES: Readonly<Record<FirmwareProtocolName, number>> = {
  coap: 0, coaps: 1, http: 2, https: 3, 'coap+tcp': 4, 'coaps+tcp': 5,
};
export type DeliveryMethodName = 'pull' | 'push' | 'both';
const DELIVERY_NAMES: Readonly<Record<DeliveryMethodName, number>> = { pull: 0, push: 1, both: 2 };

export interface FirmwareObjectOptions {
  /** /5/0/8 protocols for pull (numbers or names). Default ['coap', 'coaps']. */
  protocols?: readonly (number | FirmwareProtocolName)[];
  /** /5/0/9 (number or name). Default both (2). */
  deliveryMethod?: number | DeliveryMethodName;
  /** /5/0/6 and /5/0/7 of the installed package. */
  pkgName?: string;
  pkgVersion?: string;
  /** /5/0/11, /5/0/13, /5/0/14 (object 1.1+). */
  severity?: number;
  maximumDeferPeriod?: number;
  automaticUpgradeAtDownload?: boolean;
  /** A Write of /5/0/0 (push, after Block1 reassembly); throw an LwM2MError to refuse it. */
  onPackage?: (data: Uint8Array, ctx: RequestContext) => void;
  /** A Write of /5/0/1 (pull); throw to refuse (e.g. 4.00 for an unsupported scheme). */
  onPackageUri?: (uri: string, ctx: RequestContext) => void;
  /** /5/0/2 Update. */
  onUpdate?: (args: string, ctx: RequestContext) => void | Promise<void>;
  /** /5/0/10 Cancel (object 1.1+). */
  onCancel?: (ctx: RequestContext) => void | Promise<void>;
}

function resolve<N extends string>(v: number | N, names: Readonly<Record<N, number>>, field: string, max: number): number {
  if (typeof v === 'number') {
    checkInt(v, field, 0, max);
    return v;
  }
  const n = Object.hasOwn(names, v) ? names[v] : undefined;
  if (n === undefined) throw new LwM2MError('BAD_VALUE', `${field}: "${String(v)}" is not one of ${Object.keys(names).join(', ')}`);
  return n;
}

/** The Firmware Update object with its one instance /5/0: State 0 (Idle), Update Result 0 (Initial). */
export function createFirmwareObject(model: ObjectModel, options: FirmwareObjectOptions = {}): ManagedObject {
  requireObjectModel(model, 5, 'createFirmwareObject');
  const R = FirmwareResource;
  const has = (rid: number): boolean => model.resources.has(rid);
  const protocols = (options.protocols ?? ['coap', 'coaps']).map((p, i) => resolve(p, PROTOCOL_NAMES, `protocols[${i}]`, 5));
  const delivery = resolve(options.deliveryMethod ?? 'both', DELIVERY_NAMES, 'deliveryMethod', 2);
  checkInt(options.severity, 'severity', 0, 2);
  checkInt(options.maximumDeferPeriod, 'maximumDeferPeriod', 0, 2 ** 32 - 1);

  const build = (id: number): ObjectInstance => {
    const inst = new ObjectInstance(model, id);
    const set = (rid: number, v: Parameters<ObjectInstance['set']>[1] | undefined): void => {
      if (v !== undefined && has(rid)) inst.set(rid, v);
    };
    // /5/0/0 Package is write-only (not read back); /5/0/1 starts empty.
    set(R.PACKAGE_URI, '');
    set(R.STATE, FirmwareState.IDLE);
    set(R.UPDATE_RESULT, FirmwareUpdateResult.INITIAL);
    set(R.PKG_NAME, options.pkgName);
    set(R.PKG_VERSION, options.pkgVersion);
    // /5/0/8 is a multiple resource and /5/0/9 mandatory in Firmware 1.0.1+ (§E.6).
    set(R.PROTOCOL_SUPPORT, listValue(protocols));
    set(R.DELIVERY_METHOD, delivery);
    set(R.SEVERITY, options.severity);
    set(R.MAXIMUM_DEFER_PERIOD, options.maximumDeferPeriod);
    set(R.AUTOMATIC_UPGRADE_AT_DOWNLOAD, options.automaticUpgradeAtDownload);
    guardWrites(inst, {
      [R.PACKAGE]: (v, ctx) => {
        if (delivery === DeliveryMethod.PULL) throw new LwM2MError('METHOD_NOT_ALLOWED', '/5/0/0: this device only supports pull delivery (/5/0/9 = 0)');
        if (v instanceof Uint8Array) options.onPackage?.(v, ctx);
      },
      [R.PACKAGE_URI]: (v, ctx) => {
        if (delivery === DeliveryMethod.PUSH) throw new LwM2MError('METHOD_NOT_ALLOWED', '/5/0/1: this device only supports push delivery (/5/0/9 = 1)');
        if (typeof v === 'string') options.onPackageUri?.(v, ctx);
      },
    });
    if (options.onUpdate && has(R.UPDATE)) {
      const cb = options.onUpdate;
      inst.behave(R.UPDATE, { execute: (args, ctx) => cb(args, ctx) });
    }
    if (options.onCancel && has(R.CANCEL)) {
      const cb = options.onCancel;
      inst.behave(R.CANCEL, { execute: (_args, ctx) => cb(ctx) });
    }
    return inst;
  };

  // Bootstrap-Delete "/" removes /5/0 as well (§6.1.7.5): the factory can rebuild it.
  const object = new ManagedObject(model, (_m, id) => build(id));
  object.add(build(0));
  return object;
}
