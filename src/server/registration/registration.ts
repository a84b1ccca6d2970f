import type { RegisteredObject, RegistrationLinks } from '../../codec/link.js';
import type { LwM2MVersion, ParsedRegister, ParsedUpdate } from './parse.js';
import type { PeerAddress, RegistrationTransport } from './request.js';

/**
 * One client's registration (Core 1.1 §6.2.1): immutable data. Every change — Update, traffic, NAT
 * rebinding — produces a new record through the pure functions below; the store swaps records.
 * Times are Clock milliseconds; `lifetime` and `awakeTime` are seconds as on the wire.
 */
export interface Registration {
  /** Location-Path segment: the registration is `/rd/<registrationId>`. */
  readonly registrationId: string;
  readonly endpoint: string;
  /** Where requests to the client go: the source of its last Register/Update (Transport 1.1 §6.2). */
  readonly address: string;
  readonly port: number;
  readonly transport: RegistrationTransport;
  /** PSK identity of the DTLS session the registration was made over. */
  readonly pskIdentity?: string;
  /** Seconds. */
  readonly lifetime: number;
  readonly lwm2mVersion: LwM2MVersion;
  /** Transport letters without Q (`U`, `US`, `UT`). */
  readonly binding: string;
  readonly queueMode: boolean;
  readonly sms?: string;
  /** Seconds the client stays reachable after a message in queue mode (non-standard `at`), when it said. */
  readonly awakeTime?: number;
  readonly objectLinks: RegistrationLinks;
  /** Alternate path (`/` or e.g. `/lwm2m`), same as `objectLinks.rootPath`. */
  readonly rootPath: string;
  /** From the root link's `ct`, same array as `objectLinks.supportedContentFormats`. */
  readonly supportedContentFormats: readonly number[];
  /** Unknown Register/Update query parameters (Leshan's "additional attributes"). */
  readonly additionalAttributes?: Readonly<Record<string, string>>;
  readonly registeredAt: number;
  /** Last Register or Update: the lifetime counts from here (Core 1.1 §6.2.2). */
  readonly lastUpdate: number;
  /** Last traffic of any kind from this client (Register, Update, Notify, responses…). */
  readonly lastSeen: number;
}

export interface NewRegistrationContext {
  readonly registrationId: string;
  readonly source: PeerAddress;
  readonly transport?: RegistrationTransport;
  readonly pskIdentity?: string;
  readonly now: number;
}

/** Builds the record for an accepted Register. */
export function createRegistration(parsed: ParsedRegister, ctx: NewRegistrationContext): Registration {
  return {
    registrationId: ctx.registrationId,
    endpoint: parsed.endpoint,
    address: ctx.source.address,
    port: ctx.source.port,
    transport: ctx.transport ?? 'udp',
    ...(ctx.pskIdentity !== undefined ? { pskIdentity: ctx.pskIdentity } : {}),
    lifetime: parsed.lifetime,
    lwm2mVersion: parsed.lwm2mVersion,
    binding: parsed.binding,
    queueMode: parsed.queueMode,
    ...(parsed.sms !== undefined ? { sms: parsed.sms } : {}),
    ...(parsed.awakeTime !== undefined ? { awakeTime: parsed.awakeTime } : {}),
    objectLinks: parsed.links,
    rootPath: parsed.links.rootPath,
    supportedContentFormats: parsed.links.supportedContentFormats,
    ...(parsed.additionalAttributes !== undefined ? { additionalAttributes: parsed.additionalAttributes } : {}),
    registeredAt: ctx.now,
    lastUpdate: ctx.now,
    lastSeen: ctx.now,
  };
}

/** When the registration expires without an Update (ms), before any grace period. */
export function expiresAt(reg: Pick<Registration, 'lastUpdate' | 'lifetime'>): number {
  return reg.lastUpdate + reg.lifetime * 1000;
}

function sameObject(a: RegisteredObject, b: RegisteredObject): boolean {
  if (a.objectId !== b.objectId || a.version !== b.version || a.instances.length !== b.instances.length) return false;
  for (let i = 0; i < a.instances.length; i++) if (a.instances[i] !== b.instances[i]) return false;
  return true;
}

/** Structural equality of two objects lists (both come sorted from `parseRegistrationLinks`). */
export function sameObjectLinks(a: RegistrationLinks, b: RegistrationLinks): boolean {
  if (a === b) return true;
  if (a.rootPath !== b.rootPath || a.objects.length !== b.objects.length) return false;
  if (a.supportedContentFormats.length !== b.supportedContentFormats.length) return false;
  for (let i = 0; i < a.supportedContentFormats.length; i++) {
    if (a.supportedContentFormats[i] !== b.supportedContentFormats[i]) return false;
  }
  for (let i = 0; i < a.objects.length; i++) if (!sameObject(a.objects[i] as RegisteredObject, b.objects[i] as RegisteredObject)) return false;
  return true;
}

/** What an Update changed. */
export interface RegistrationChanges {
  readonly lifetime: boolean;
  readonly binding: boolean;
  readonly queueMode: boolean;
  readonly sms: boolean;
  readonly awakeTime: boolean;
  /** The objects payload differs from the registered one (an identical payload is not a change). */
  readonly objects: boolean;
  /** The client now talks from another address/port (NAT rebinding): requests follow it. */
  readonly address: boolean;
}

export interface UpdateOutcome {
  readonly registration: Registration;
  readonly changes: RegistrationChanges;
  /** Shorthand for `changes.objects`: the caller may re-read or re-observe. */
  readonly objectsChanged: boolean;
}

export interface UpdateContext {
  readonly source: PeerAddress;
  readonly now: number;
}

/**
 * Applies an Update (Core 1.1 §6.2.2): what the client sent replaces what was registered, the rest stays;
 * `lastUpdate` and `lastSeen` move to `now` (the lifetime restarts); the address follows the request's
 * source. Pure: returns a new record.
 */
export function applyUpdate(reg: Registration, update: ParsedUpdate, ctx: UpdateContext): UpdateOutcome {
  const objects = update.links !== undefined && !sameObjectLinks(reg.objectLinks, update.links);
  const links = objects ? (update.links as RegistrationLinks) : reg.objectLinks;
  const additionalAttributes =
    update.additionalAttributes === undefined
      ? reg.additionalAttributes
      : Object.freeze({ ...(reg.additionalAttributes ?? {}), ...update.additionalAttributes });
  const next: Registration = {
    ...reg,
    address: ctx.source.address,
    port: ctx.source.port,
    lifetime: update.lifetime ?? reg.lifetime,
    binding: update.binding ?? reg.binding,
    queueMode: update.queueMode ?? reg.queueMode,
    ...(update.sms !== undefined ? { sms: update.sms } : {}),
    ...(update.awakeTime !== undefined ? { awakeTime: update.awakeTime } : {}),
    objectLinks: links,
    rootPath: links.rootPath,
    supportedContentFormats: links.supportedContentFormats,
    ...(additionalAttributes !== undefined ? { additionalAttributes } : {}),
    lastUpdate: ctx.now,
    lastSeen: ctx.now,
  };
  const changes: RegistrationChanges = {
    lifetime: next.lifetime !== reg.lifetime,
    binding: next.binding !== reg.binding,
    queueMode: next.queueMode !== reg.queueMode,
    sms: next.sms !== reg.sms,
    awakeTime: next.awakeTime !== reg.awakeTime,
    objects,
    address: next.address !== reg.address || next.port !== reg.port,
  };
  return { registration: next, changes, objectsChanged: objects };
}

/** Records traffic from the client: only `lastSeen` moves (traffic other than Update does not renew the lifetime). */
export function touchRegistration(reg: Registration, now: number): Registration {
  return now <= reg.lastSeen ? reg : { ...reg, lastSeen: now };
}

/** Whether the registration lists object `objectId` (optionally instance `instanceId`). */
export function hasObject(reg: Registration, objectId: number, instanceId?: number): boolean {
  const o = reg.objectLinks.objects.find((x) => x.objectId === objectId);
  if (!o) return false;
  return instanceId === undefined || o.instances.includes(instanceId);
}
