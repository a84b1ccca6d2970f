/**
 * LwM2M Firmware Update object (/5, single instance /5/0; LwM2M-TS-Core 1.1 §E.6): the model's resources,
 * wired to the update state machine of src/client/firmware/updater.ts (download, verify, update, result
 * codes).
 */
import { LwM2MError } from '../../core/errors.js';
import type { ObjectModel } from '../../model/types.js';
import type { ConnectionFactory } from '../connection.js';
import { FirmwareUpdater, applyFlashRecord, memoryFlash, type FirmwareUpdateOptions } from '../firmware/updater.js';
import { ObjectInstance } from '../instance.js';
import { registerWriteStream } from '../operations/write-stream.js';
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
  /** /5/0/8 protocols for pull (numbers or names); a URI with another scheme → Update Result 9. Default ['coap', 'coaps']. */
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
  /** The update state machine: clock, flash time, failure injection, pull transports, storage limit. */
  update?: FirmwareUpdateOptions;
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

/**
 * The Firmware Update object; `updater` drives /5/0 (see src/client/firmware/updater.ts). The updater
 * (≈ 2 KB) is made on first use — a write of /5/0/0 or /5/0/1, a push stream, Update, Cancel, or a
 * caller asking for it — not per device: until then /5/0 shows Idle and the flash's record.
 */
export class FirmwareObject extends ManagedObject {
  private current: FirmwareUpdater | undefined;
  /** Makes the updater of the current /5/0 on first use. */
  private make: (() => FirmwareUpdater) | undefined;
  private connections: ConnectionFactory | undefined;

  /** Lets CoAP(S) pulls use the client's ConnectionFactory (LwM2MClient calls this), unless configured. */
  useConnections(connections: ConnectionFactory): void {
    this.connections = connections;
    this.current?.useConnections(connections);
  }

  /** The state machine of the current /5/0 (rebuilt with the instance after a Bootstrap-Delete). */
  get updater(): FirmwareUpdater {
    if (this.current) return this.current;
    if (!this.make) throw new LwM2MError('NOT_FOUND', '/5/0 is not present');
    const u = this.make();
    this.current = u;
    if (this.connections) u.useConnections(this.connections);
    return u;
  }

  /** Whether the updater of the current /5/0 has been made (tests, memory checks). */
  get updaterCreated(): boolean {
    return this.current !== undefined;
  }

  /** @internal A new /5/0: its updater is made by `make` on first use. */
  attach(make: () => FirmwareUpdater): void {
    this.current?.dispose();
    this.current = undefined;
    this.make = make;
  }

  /** @internal Stops the updater's timers and downloads. */
  detach(): void {
    this.current?.dispose();
  }
}

/**
 * The Firmware Update object with its one instance /5/0, Idle with Update Result 0 (or the result kept
 * in flash), and its update state machine: Block1 push to /5/0/0 (streamed), pull from /5/0/1 over
 * CoAP(S) Block2 or HTTP(S), Update /5/0/2, Cancel /5/0/10 (LwM2M-TS-Core 1.1 §E.6).
 */
export function createFirmwareObject(model: ObjectModel, options: FirmwareObjectOptions = {}): FirmwareObject {
  requireObjectModel(model, 5, 'createFirmwareObject');
  const R = FirmwareResource;
  const has = (rid: number): boolean => model.resources.has(rid);
  const protocols = (options.protocols ?? ['coap', 'coaps']).map((p, i) => resolve(p, PROTOCOL_NAMES, `protocols[${i}]`, 5));
  const delivery = resolve(options.deliveryMethod ?? 'both', DELIVERY_NAMES, 'deliveryMethod', 2);
  checkInt(options.severity, 'severity', 0, 2);
  checkInt(options.maximumDeferPeriod, 'maximumDeferPeriod', 0, 2 ** 32 - 1);
  // One flash per device: it outlives the instance (Bootstrap-Delete) and the client (reboots).
  const update: FirmwareUpdateOptions = { ...options.update, flash: options.update?.flash ?? memoryFlash() };
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
    // What the device shows of its flash at boot; the updater (made on first use) does not load it again.
    applyFlashRecord(inst, update.flash ?? memoryFlash());
    object.attach(() => new FirmwareUpdater(inst, protocols, delivery, update, true));
    guardWrites(inst, {
      [R.PACKAGE]: (v) => {
        if (!(v instanceof Uint8Array)) throw new LwM2MError('BAD_REQUEST', '/5/0/0: the package must be opaque');
        object.updater.writePackage(v);
        // Write-only and possibly large: not kept in the instance (ObjectInstance stores a written value
        // right after this hook; drop it once the write is done).
        queueMicrotask(() => inst.unset(R.PACKAGE));
      },
      [R.PACKAGE_URI]: (v) => {
        if (typeof v === 'string') object.updater.writePackageUri(v);
      },
    });
    // Streamed Block1 push of /5/0/0 (client/operations/write-stream.ts): one block in memory at a time.
    registerWriteStream(inst, R.PACKAGE, (head) => object.updater.openPush(head));
    if (has(R.UPDATE)) inst.behave(R.UPDATE, { execute: () => { object.updater.update(); } });
    if (has(R.CANCEL)) inst.behave(R.CANCEL, { execute: () => { object.updater.cancel(); } });
    return inst;
  };

  // Bootstrap-Delete "/" removes /5/0 as well (§6.1.7.5): the factory can rebuild it.
  const object: FirmwareObject = new FirmwareObject(model, (_m, id) => build(id));
  object.add(build(0));
  object.onDispose(() => object.detach());
  return object;
}
