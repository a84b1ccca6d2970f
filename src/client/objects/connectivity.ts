/**
 * LwM2M Connectivity Monitoring object (/4, single instance /4/0; LwM2M-TS-Core 1.1 §E.5). Radio values
 * (signal strength, link quality, link utilisation, SNR) may be generators, sampled on every read.
 */
import { isIP } from 'node:net';
import { systemClock, type Clock } from '../../core/clock.js';
import { LwM2MError } from '../../core/errors.js';
import type { ObjectModel } from '../../model/types.js';
import { ObjectInstance } from '../instance.js';
import {
  ManagedObject, bindSource, checkInt, guardWrites, listValue, requireObjectModel, startSampling, type NumberSource,
} from './generic.js';

export const ConnectivityResource = {
  NETWORK_BEARER: 0,
  AVAILABLE_NETWORK_BEARER: 1,
  RADIO_SIGNAL_STRENGTH: 2,
  LINK_QUALITY: 3,
  IP_ADDRESSES: 4,
  ROUTER_IP_ADDRESSES: 5,
  LINK_UTILIZATION: 6,
  APN: 7,
  CELL_ID: 8,
  SMNC: 9,
  SMCC: 10,
  SIGNAL_SNR: 11,
  LAC: 12,
  COVERAGE_ENHANCEMENT_LEVEL: 13,
} as const;

/** /4/0/0 Network Bearer values (§E.5): 0–20 cellular, 21–40 wireless, 41–50 wireline. */
export const NetworkBearer = {
  GSM: 0, TD_SCDMA: 1, WCDMA: 2, CDMA2000: 3, WIMAX: 4, LTE_TDD: 5, LTE_FDD: 6, NB_IOT: 7,
  WLAN: 21, BLUETOOTH: 22, IEEE_802_15_4: 23, ETHERNET: 41, DSL: 42, PLC: 43,
} as const;

export interface ConnectivityObjectOptions {
  /** /4/0/0 current bearer (default LTE FDD, 6). */
  networkBearer?: number;
  /** /4/0/1 bearers the device supports (default: just the current one). */
  availableBearers?: readonly number[];
  /** /4/0/2 dBm (default -70). Integers: generator output is rounded. */
  radioSignalStrength?: NumberSource;
  /** /4/0/3 link quality (e.g. RSRQ for LTE). */
  linkQuality?: NumberSource;
  /** /4/0/4 the device's IP addresses (default ['127.0.0.1']). */
  ipAddresses?: readonly string[];
  /** /4/0/5 next-hop router addresses. */
  routerIpAddresses?: readonly string[];
  /** /4/0/6 percent 0..100. */
  linkUtilization?: NumberSource;
  /** /4/0/7 access point names. */
  apn?: readonly string[];
  /** /4/0/8 serving cell id. */
  cellId?: number;
  /** /4/0/9 serving mobile network code, 0..999. */
  smnc?: number;
  /** /4/0/10 serving mobile country code, 0..999. */
  smcc?: number;
  /** /4/0/11 SignalSNR dB (object 1.1+). */
  signalSnr?: NumberSource;
  /** /4/0/12 location area code (object 1.1+). */
  lac?: number;
  /** /4/0/13 coverage enhancement level 0..4 (object 1.2+). */
  coverageEnhancementLevel?: number;
  clock?: Clock;
  /** Touch generator-backed resources every this many seconds (observers with gt/lt/st). Off by default. */
  sampleIntervalS?: number;
}

function checkIps(list: readonly string[] | undefined, field: string): void {
  list?.forEach((a, i) => {
    if (typeof a !== 'string' || isIP(a) === 0) throw new LwM2MError('BAD_VALUE', `${field}[${i}]: "${String(a)}" is not an IPv4 or IPv6 address`);
  });
}

/** The Connectivity Monitoring object with its one instance /4/0. All its resources are read-only. */
export function createConnectivityObject(model: ObjectModel, options: ConnectivityObjectOptions = {}): ManagedObject {
  requireObjectModel(model, 4, 'createConnectivityObject');
  const R = ConnectivityResource;
  const clock = options.clock ?? systemClock;
  const has = (rid: number): boolean => model.resources.has(rid);
  const bearer = options.networkBearer ?? NetworkBearer.LTE_FDD;
  checkInt(bearer, 'networkBearer', 0, 50);
  const available = options.availableBearers ?? [bearer];
  if (available.length === 0) throw new LwM2MError('BAD_VALUE', 'availableBearers: at least one bearer');
  available.forEach((b, i) => checkInt(b, `availableBearers[${i}]`, 0, 50));
  const ips = options.ipAddresses ?? ['127.0.0.1'];
  if (ips.length === 0) throw new LwM2MError('BAD_VALUE', 'ipAddresses: at least one address (mandatory resource)');
  checkIps(ips, 'ipAddresses');
  checkIps(options.routerIpAddresses, 'routerIpAddresses');
  checkInt(options.smnc, 'smnc', 0, 999);
  checkInt(options.smcc, 'smcc', 0, 999);
  checkInt(options.cellId, 'cellId', 0, Number.MAX_SAFE_INTEGER);
  checkInt(options.lac, 'lac', 0, 65535);
  checkInt(options.coverageEnhancementLevel, 'coverageEnhancementLevel', 0, 4);

  // Only sampling needs the live resources of an instance (no WeakMap per device otherwise).
  const liveOf = options.sampleIntervalS !== undefined ? new WeakMap<ObjectInstance, number[]>() : undefined;
  const build = (id: number): ObjectInstance => {
    const inst = new ObjectInstance(model, id);
    const set = (rid: number, v: Parameters<ObjectInstance['set']>[1] | undefined): void => {
      if (v !== undefined && has(rid)) inst.set(rid, v);
    };
    set(R.NETWORK_BEARER, bearer);
    set(R.AVAILABLE_NETWORK_BEARER, listValue(available));
    set(R.IP_ADDRESSES, listValue(ips));
    set(R.ROUTER_IP_ADDRESSES, options.routerIpAddresses && listValue(options.routerIpAddresses));
    set(R.APN, options.apn && listValue(options.apn));
    set(R.CELL_ID, options.cellId);
    set(R.SMNC, options.smnc);
    set(R.SMCC, options.smcc);
    set(R.LAC, options.lac);
    set(R.COVERAGE_ENHANCEMENT_LEVEL, options.coverageEnhancementLevel);
    const live: number[] = [];
    const bind = (rid: number, src: NumberSource | undefined): void => {
      if (src === undefined || !has(rid)) return;
      if (bindSource(inst, rid, src, clock)) live.push(rid);
    };
    bind(R.RADIO_SIGNAL_STRENGTH, options.radioSignalStrength ?? -70);
    bind(R.LINK_QUALITY, options.linkQuality);
    bind(R.LINK_UTILIZATION, options.linkUtilization);
    bind(R.SIGNAL_SNR, options.signalSnr);
    guardWrites(inst);
    liveOf?.set(inst, live);
    return inst;
  };

  // A Bootstrap-Delete of "/" removes /4/0 too (LwM2M-TS-Core 1.1 §6.1.7.5 keeps only the Bootstrap-Server
  // account and the Device instance): the factory lets a later Create/Bootstrap-Write restore it.
  const object = new ManagedObject(model, (_m, id) => build(id));
  object.add(build(0));
  if (options.sampleIntervalS !== undefined) startSampling(object, clock, options.sampleIntervalS, (inst) => liveOf?.get(inst) ?? []);
  return object;
}
