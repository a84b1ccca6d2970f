/**
 * LwM2M Connectivity Statistics object (/7, single instance /7/0; OMA object 7 v1.0): SMS and data
 * counters collected between Start (/7/0/6) and Stop (/7/0/7), optionally for a Collection Period
 * (/7/0/8). The transport feeds it through {@link ConnectivityStatsObject.recordTx} & co.
 */
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { LwM2MError } from '../../core/errors.js';
import type { ObjectModel } from '../../model/types.js';
import { ObjectInstance } from '../instance.js';
import type { InstanceFactory } from '../object.js';
import { ManagedObject, checkInt, guardWrites, requireObjectModel } from './generic.js';

export const ConnectivityStatsResource = {
  SMS_TX_COUNTER: 0, SMS_RX_COUNTER: 1, TX_DATA: 2, RX_DATA: 3, MAX_MESSAGE_SIZE: 4, AVERAGE_MESSAGE_SIZE: 5,
  START: 6, STOP: 7, COLLECTION_PERIOD: 8,
} as const;

export interface ConnectivityStatsObjectOptions {
  clock?: Clock;
  /** /7/0/8 default collection period in seconds (0: until Stop). Default 0. */
  collectionPeriodS?: number;
  /** Start collecting at creation (as if Start were executed). Default false. */
  collecting?: boolean;
}

interface Counters {
  smsTx: number;
  smsRx: number;
  txBytes: number;
  rxBytes: number;
  maxMessage: number;
  messages: number;
  messageBytes: number;
}

const zero = (): Counters => ({ smsTx: 0, smsRx: 0, txBytes: 0, rxBytes: 0, maxMessage: 0, messages: 0, messageBytes: 0 });

/**
 * The Connectivity Statistics object. Counters only move while collecting. Tx/Rx Data are reported in
 * whole kilobytes (1 kB = 1024 bytes) as object 7 specifies; message sizes in bytes.
 */
export class ConnectivityStatsObject extends ManagedObject {
  private counters = zero();
  private active = false;
  private periodTimer: TimerHandle | undefined;
  private readonly clock: Clock;

  constructor(model: ObjectModel, factory: InstanceFactory, clock: Clock) {
    super(model, factory);
    this.clock = clock;
    this.onDispose(() => this.cancelPeriod());
  }

  get collecting(): boolean {
    return this.active;
  }

  /**
   * Start (/7/0/6): "Reset resources 0-5 to 0 and start to collect information. If resource 8 (Collection
   * Period) value is 0, the client will keep collecting information until resource 7 (Stop) is executed,
   * otherwise the client will stop collecting information after specified period ended" (object 7).
   */
  start(): void {
    this.cancelPeriod();
    this.counters = zero();
    this.active = true;
    this.publish();
    const period = this.instance(0)?.get(ConnectivityStatsResource.COLLECTION_PERIOD);
    if (typeof period === 'number' && period > 0) {
      this.periodTimer = this.clock.setTimeout(() => {
        this.periodTimer = undefined;
        this.stop();
      }, period * 1000);
    }
  }

  /** Stop (/7/0/7): "Stop collecting information, but do not reset resources 0-5". */
  stop(): void {
    this.cancelPeriod();
    this.active = false;
  }

  /** An IP message sent (`bytes` including headers, as the object's description asks). */
  recordTx(bytes: number): void {
    this.record(bytes, 'txBytes');
  }

  /** An IP message received. */
  recordRx(bytes: number): void {
    this.record(bytes, 'rxBytes');
  }

  recordSmsTx(): void {
    if (!this.active) return;
    this.counters.smsTx++;
    this.publish();
  }

  recordSmsRx(): void {
    if (!this.active) return;
    this.counters.smsRx++;
    this.publish();
  }

  private record(bytes: number, key: 'txBytes' | 'rxBytes'): void {
    if (!this.active) return;
    if (!Number.isInteger(bytes) || bytes < 0) throw new LwM2MError('BAD_VALUE', `message size must be a non-negative integer, got ${bytes}`);
    const c = this.counters;
    c[key] += bytes;
    c.messages++;
    c.messageBytes += bytes;
    if (bytes > c.maxMessage) c.maxMessage = bytes;
    this.publish();
  }

  /** Writes the counters into /7/0/0–5 (observers notice changes). */
  private publish(): void {
    const inst = this.instance(0);
    if (!inst) return;
    const R = ConnectivityStatsResource;
    const c = this.counters;
    const put = (rid: number, v: number): void => {
      if (this.model.resources.has(rid)) inst.set(rid, v);
    };
    put(R.SMS_TX_COUNTER, c.smsTx);
    put(R.SMS_RX_COUNTER, c.smsRx);
    put(R.TX_DATA, Math.floor(c.txBytes / 1024));
    put(R.RX_DATA, Math.floor(c.rxBytes / 1024));
    put(R.MAX_MESSAGE_SIZE, c.maxMessage);
    put(R.AVERAGE_MESSAGE_SIZE, c.messages === 0 ? 0 : Math.round(c.messageBytes / c.messages));
  }

  private cancelPeriod(): void {
    this.periodTimer?.cancel();
    this.periodTimer = undefined;
  }
}

/** The Connectivity Statistics object with its one instance /7/0. */
export function createConnectivityStatsObject(model: ObjectModel, options: ConnectivityStatsObjectOptions = {}): ConnectivityStatsObject {
  requireObjectModel(model, 7, 'createConnectivityStatsObject');
  checkInt(options.collectionPeriodS, 'collectionPeriodS', 0, 2 ** 31 - 1);
  const R = ConnectivityStatsResource;
  const clock = options.clock ?? systemClock;
  const build = (id: number): ObjectInstance => {
    const inst = new ObjectInstance(model, id);
    for (const rid of [R.SMS_TX_COUNTER, R.SMS_RX_COUNTER, R.TX_DATA, R.RX_DATA, R.MAX_MESSAGE_SIZE, R.AVERAGE_MESSAGE_SIZE]) {
      if (model.resources.has(rid)) inst.set(rid, 0);
    }
    if (model.resources.has(R.COLLECTION_PERIOD)) inst.set(R.COLLECTION_PERIOD, options.collectionPeriodS ?? 0);
    guardWrites(inst);
    inst.behave(R.START, { execute: () => object.start() });
    inst.behave(R.STOP, { execute: () => object.stop() });
    return inst;
  };
  const object = new ConnectivityStatsObject(model, (_m, id) => build(id), clock);
  object.add(build(0));
  if (options.collecting) object.start();
  return object;
}
