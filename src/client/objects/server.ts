/**
 * LwM2M Server object (/1, LwM2M-TS-Core 1.1 §E.2): one instance per DM server account, paired with a
 * Security instance by Short Server ID. The executes are wired to callbacks the client engine passes:
 * /1/x/4 Disable, /1/x/8 Registration Update Trigger, /1/x/9 Bootstrap-Request Trigger.
 */
import { LwM2MError } from '../../core/errors.js';
import type { ObjectLink } from '../../model/node.js';
import type { ObjectModel } from '../../model/types.js';
import { parseBinding } from '../binding.js';
import type { RequestContext } from '../context.js';
import { ObjectInstance, type ResourceBehaviour, type ResourceData } from '../instance.js';
import {
  ManagedObject, configuredObject, checkInt, guardWrites, put, requireObjectModel, type InstanceValues, type WriteHook,
} from './generic.js';

/** Resource ids of object 1. */
export const ServerResource = {
  SHORT_SERVER_ID: 0,
  LIFETIME: 1,
  DEFAULT_PMIN: 2,
  DEFAULT_PMAX: 3,
  DISABLE: 4,
  DISABLE_TIMEOUT: 5,
  NOTIFICATION_STORING: 6,
  BINDING: 7,
  REGISTRATION_UPDATE_TRIGGER: 8,
  BOOTSTRAP_REQUEST_TRIGGER: 9,
  APN_LINK: 10,
  TLS_DTLS_ALERT_CODE: 11,
  LAST_BOOTSTRAPPED: 12,
  REGISTRATION_PRIORITY_ORDER: 13,
  INITIAL_REGISTRATION_DELAY_TIMER: 14,
  REGISTRATION_FAILURE_BLOCK: 15,
  BOOTSTRAP_ON_REGISTRATION_FAILURE: 16,
  COMMUNICATION_RETRY_COUNT: 17,
  COMMUNICATION_RETRY_TIMER: 18,
  COMMUNICATION_SEQUENCE_DELAY_TIMER: 19,
  COMMUNICATION_SEQUENCE_RETRY_COUNT: 20,
  TRIGGER: 21,
  PREFERRED_TRANSPORT: 22,
  MUTE_SEND: 23,
} as const;

/** /1/x/5 default when not set (LwM2M-TS-Core 1.1 §E.2: "a default timeout value is 86400 (1 day)"). */
export const DEFAULT_DISABLE_TIMEOUT_S = 86400;

export interface ServerInstanceOptions {
  id?: number;
  /** /1/x/0, 1..65534 (equal to /0/y/10 of the matching Security instance). */
  shortServerId: number;
  /** /1/x/1 registration lifetime in seconds. Default 86400. */
  lifetime?: number;
  /** /1/x/7: `U`, `UQ`, `T`, `UT`, … (transport letters plus Q for queue mode). Default `U`. */
  binding?: string;
  /** /1/x/2 default pmin, seconds. */
  defaultPmin?: number;
  /** /1/x/3 default pmax, seconds. */
  defaultPmax?: number;
  /** /1/x/6 store notifications while disabled/offline. Default true. */
  notificationStoring?: boolean;
  /** /1/x/5 seconds to stay disabled after Disable. */
  disableTimeout?: number;
  /** /1/x/10 APN Link. */
  apnLink?: ObjectLink;
  /** /1/x/13 lower registers first. */
  registrationPriorityOrder?: number;
  /** /1/x/14 seconds to wait before registering. */
  initialRegistrationDelayTimer?: number;
  /** /1/x/15 a failed registration blocks the servers after this one. */
  registrationFailureBlock?: boolean;
  /** /1/x/16 bootstrap when registration fails (default behaviour: true). */
  bootstrapOnRegistrationFailure?: boolean;
  /** /1/x/17 Communication Retry Count (LwM2M-TS-Core 1.1 §6.2.1.1 registration retry procedure). */
  communicationRetryCount?: number;
  /** /1/x/18 Communication Retry Timer, seconds (exponential back-off base). */
  communicationRetryTimer?: number;
  /** /1/x/19 Communication Sequence Delay Timer, seconds. */
  communicationSequenceDelayTimer?: number;
  /** /1/x/20 Communication Sequence Retry Count. */
  communicationSequenceRetryCount?: number;
  /** /1/x/21 Trigger (SMS wake-up). */
  trigger?: boolean;
  /** /1/x/22 Preferred Transport (one binding letter). */
  preferredTransport?: string;
  /** /1/x/23 Mute Send. */
  muteSend?: boolean;
}

const UINT32 = 2 ** 32 - 1;

/** Refuses a Binding the client cannot parse (LwM2M-TS-Core 1.1 §6.2.1.1: U, T, S, N and Q). */
function checkBinding(value: unknown, field: string): void {
  if (typeof value !== 'string') throw new LwM2MError('BAD_VALUE', `${field}: must be a string`);
  try {
    parseBinding(value);
  } catch (e) {
    throw new LwM2MError('BAD_VALUE', `${field}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** The resources of one Server instance, validated. */
export function serverInstance(o: ServerInstanceOptions): InstanceValues {
  checkInt(o.shortServerId, 'shortServerId', 1, 65534);
  if (o.shortServerId === undefined) throw new LwM2MError('BAD_VALUE', 'shortServerId: required');
  checkInt(o.lifetime, 'lifetime', 1, UINT32);
  checkInt(o.defaultPmin, 'defaultPmin', 0, UINT32);
  checkInt(o.defaultPmax, 'defaultPmax', 0, UINT32);
  if (o.defaultPmin !== undefined && o.defaultPmax !== undefined && o.defaultPmax > 0 && o.defaultPmax < o.defaultPmin) {
    throw new LwM2MError('BAD_VALUE', `defaultPmax: must be ≥ defaultPmin (${o.defaultPmin}), got ${o.defaultPmax}`);
  }
  checkInt(o.disableTimeout, 'disableTimeout', 0, UINT32);
  checkInt(o.registrationPriorityOrder, 'registrationPriorityOrder', 0, UINT32);
  checkInt(o.initialRegistrationDelayTimer, 'initialRegistrationDelayTimer', 0, UINT32);
  checkInt(o.communicationRetryCount, 'communicationRetryCount', 0, UINT32);
  checkInt(o.communicationRetryTimer, 'communicationRetryTimer', 0, UINT32);
  checkInt(o.communicationSequenceDelayTimer, 'communicationSequenceDelayTimer', 0, UINT32);
  checkInt(o.communicationSequenceRetryCount, 'communicationSequenceRetryCount', 0, UINT32);
  const binding = o.binding ?? 'U';
  checkBinding(binding, 'binding');
  if (o.preferredTransport !== undefined && !/^[UTSN]$/.test(o.preferredTransport)) {
    throw new LwM2MError('BAD_VALUE', `preferredTransport: must be one of U, T, S, N, got "${o.preferredTransport}"`);
  }

  const R = ServerResource;
  const v = new Map<number, ResourceData>();
  v.set(R.SHORT_SERVER_ID, o.shortServerId);
  v.set(R.LIFETIME, o.lifetime ?? 86400);
  put(v, R.DEFAULT_PMIN, o.defaultPmin);
  put(v, R.DEFAULT_PMAX, o.defaultPmax);
  put(v, R.DISABLE_TIMEOUT, o.disableTimeout);
  v.set(R.NOTIFICATION_STORING, o.notificationStoring ?? true);
  v.set(R.BINDING, binding);
  put(v, R.APN_LINK, o.apnLink);
  put(v, R.REGISTRATION_PRIORITY_ORDER, o.registrationPriorityOrder);
  put(v, R.INITIAL_REGISTRATION_DELAY_TIMER, o.initialRegistrationDelayTimer);
  put(v, R.REGISTRATION_FAILURE_BLOCK, o.registrationFailureBlock);
  put(v, R.BOOTSTRAP_ON_REGISTRATION_FAILURE, o.bootstrapOnRegistrationFailure);
  put(v, R.COMMUNICATION_RETRY_COUNT, o.communicationRetryCount);
  put(v, R.COMMUNICATION_RETRY_TIMER, o.communicationRetryTimer);
  put(v, R.COMMUNICATION_SEQUENCE_DELAY_TIMER, o.communicationSequenceDelayTimer);
  put(v, R.COMMUNICATION_SEQUENCE_RETRY_COUNT, o.communicationSequenceRetryCount);
  put(v, R.TRIGGER, o.trigger);
  put(v, R.PREFERRED_TRANSPORT, o.preferredTransport);
  put(v, R.MUTE_SEND, o.muteSend);
  return o.id === undefined ? { values: v } : { id: o.id, values: v };
}

/** Called with the Short Server ID of the instance executed (/1/x/0) and who executed it. */
export type ServerCallback = (shortServerId: number, ctx: RequestContext) => void | Promise<void>;

export interface ServerObjectOptions {
  instances?: readonly InstanceValues[];
  /**
   * /1/x/4 Disable. LwM2M-TS-Core 1.1 §E.2: the client answers the Execute first, then de-registers and
   * stays silent for Disable Timeout (see {@link disableTimeoutOf}); the callback should defer its work.
   */
  onDisable?: ServerCallback;
  /** /1/x/8 Registration Update Trigger: send an Update to this server. */
  onUpdateTrigger?: ServerCallback;
  /** /1/x/9 Bootstrap-Request Trigger (object 1.1+): start a client-initiated bootstrap. */
  onBootstrapTrigger?: ServerCallback;
}

/** /1/x/5 Disable Timeout in seconds, or its default 86400 when not set. */
export function disableTimeoutOf(inst: ObjectInstance): number {
  const v = inst.get(ServerResource.DISABLE_TIMEOUT);
  return typeof v === 'number' ? v : DEFAULT_DISABLE_TIMEOUT_S;
}

/**
 * The Server object. Executes without a callback answer 4.04 (not implemented). Writes are checked:
 * Binding must parse, durations are ≥ 0, Lifetime ≥ 1.
 */
export function createServerObject(model: ObjectModel, options: ServerObjectOptions = {}): ManagedObject {
  requireObjectModel(model, 1, 'createServerObject');
  const R = ServerResource;
  // One behaviour per resource for every instance (they get the instance as an argument).
  const execute = (cb: ServerCallback) => (_args: string, ctx: RequestContext, inst: ObjectInstance): void | Promise<void> => {
    const ssid = inst.get(R.SHORT_SERVER_ID);
    if (typeof ssid !== 'number') throw new LwM2MError('INTERNAL', `${inst.path.toString()} has no Short Server ID`);
    return cb(ssid, ctx);
  };
  const executes: [number, ResourceBehaviour][] = [];
  for (const [rid, cb] of [
    [R.DISABLE, options.onDisable], [R.REGISTRATION_UPDATE_TRIGGER, options.onUpdateTrigger], [R.BOOTSTRAP_REQUEST_TRIGGER, options.onBootstrapTrigger],
  ] as const) {
    if (cb && model.resources.has(rid)) executes.push([rid, { execute: execute(cb) }]);
  }
  const configure = (inst: ObjectInstance): void => {
    guardWrites(inst, SERVER_WRITE_HOOKS);
    for (const [rid, b] of executes) inst.behave(rid, b);
  };
  return configuredObject(model, options.instances ?? [], configure);
}

/** Writes to the Server object are checked: Lifetime ≥ 1 s, Binding must parse (LwM2M-TS-Core 1.1 §E.2). */
const SERVER_WRITE_HOOKS: Readonly<Record<number, WriteHook>> = {
  [ServerResource.LIFETIME]: (v, _ctx, inst) => {
    if (typeof v === 'number' && v < 1) throw new LwM2MError('BAD_VALUE', `${inst.path.toString()}/1 (Lifetime): must be ≥ 1 s, got ${v}`);
  },
  [ServerResource.BINDING]: (v, _ctx, inst) => checkBinding(v, `${inst.path.toString()}/7 (Binding)`),
};
