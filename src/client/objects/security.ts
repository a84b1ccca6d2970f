/**
 * LwM2M Security object (/0, LwM2M-TS-Core 1.1 §E.1): one instance per server account, the
 * Bootstrap-Server account included. Its resources have no operations: only the Bootstrap-Server (and
 * the device's factory configuration) reads or writes them, and a DM server gets 4.04 for the whole
 * object (access.ts). Instances are created by Bootstrap-Write, hence the instance factory.
 */
import { LwM2MError } from '../../core/errors.js';
import type { ObjectModel } from '../../model/types.js';
import { ObjectInstance, type ResourceData } from '../instance.js';
import {
  ManagedObject, configuredObject, checkInt, guardWrites, listValue, put, requireObjectModel, type InstanceValues,
} from './generic.js';

/** Resource ids of object 0. */
export const SecurityResource = {
  SERVER_URI: 0,
  BOOTSTRAP_SERVER: 1,
  SECURITY_MODE: 2,
  PUBLIC_KEY_OR_IDENTITY: 3,
  SERVER_PUBLIC_KEY: 4,
  SECRET_KEY: 5,
  SMS_SECURITY_MODE: 6,
  SMS_BINDING_KEY_PARAMETERS: 7,
  SMS_BINDING_SECRET_KEYS: 8,
  SERVER_SMS_NUMBER: 9,
  SHORT_SERVER_ID: 10,
  CLIENT_HOLD_OFF_TIME: 11,
  BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT: 12,
  MATCHING_TYPE: 13,
  SNI: 14,
  CERTIFICATE_USAGE: 15,
  CIPHERSUITES: 16,
} as const;

/** Security Mode /0/x/2 (LwM2M-TS-Core 1.1 §E.1): 0 PSK, 1 RPK, 2 Certificate, 3 NoSec, 4 Certificate with EST. */
export const SecurityMode = { PSK: 0, RPK: 1, CERTIFICATE: 2, NO_SEC: 3, CERTIFICATE_EST: 4 } as const;
export type SecurityModeValue = (typeof SecurityMode)[keyof typeof SecurityMode];
export type SecurityModeName = 'psk' | 'rpk' | 'certificate' | 'nosec' | 'est';

const MODE_NAMES: Readonly<Record<SecurityModeName, SecurityModeValue>> = {
  psk: 0, rpk: 1, certificate: 2, nosec: 3, est: 4,
};

export interface SecurityInstanceOptions {
  /** Instance id (default: the lowest free one when added). */
  id?: number;
  /** LwM2M Server URI /0/x/0, e.g. `coaps://lwm2m.example.com:5684`. */
  uri: string;
  /** /0/x/1: true for the Bootstrap-Server account. Default false. */
  bootstrapServer?: boolean;
  /** /0/x/2: a number or a name. Default NoSec (3). */
  securityMode?: SecurityModeValue | SecurityModeName;
  /** PSK identity (UTF-8 text or bytes) → /0/x/3. */
  pskIdentity?: string | Uint8Array;
  /** PSK key → /0/x/5: bytes, or a hex string (`"000102…"`, as ThingsBoard and Cumulocity show it). */
  pskKey?: string | Uint8Array;
  /** Raw /0/x/3 for RPK/certificate modes (instead of pskIdentity). */
  publicKeyOrIdentity?: Uint8Array;
  /** /0/x/4 Server Public Key (RPK/certificate modes). */
  serverPublicKey?: Uint8Array;
  /** Raw /0/x/5 for RPK/certificate modes (instead of pskKey). */
  secretKey?: Uint8Array;
  /** /0/x/10, 1..65534; required unless this is the Bootstrap-Server account. */
  shortServerId?: number;
  /** /0/x/11 seconds to wait before a client-initiated bootstrap. */
  clientHoldOffTime?: number;
  /** /0/x/12 seconds after which the Bootstrap-Server account is purged (0: never). */
  bootstrapServerAccountTimeout?: number;
  /** /0/x/13 Matching Type 0..3 (certificate modes). */
  matchingType?: number;
  /** /0/x/14 Server Name Indication. */
  sni?: string;
  /** /0/x/15 Certificate Usage 0..3. */
  certificateUsage?: number;
  /** /0/x/16 DTLS/TLS ciphersuites (IANA values, e.g. 0xC0A8 TLS_PSK_WITH_AES_128_CCM_8). */
  ciphersuites?: readonly number[];
}

/** Parses a hex key (`"0a1B…"`, optional `0x` prefix, spaces and colons ignored). */
export function hexToBytes(hex: string, field = 'pskKey'): Uint8Array {
  const clean = hex.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new LwM2MError('BAD_VALUE', `${field}: "${hex}" is not an even-length hex string`);
  }
  return Uint8Array.from(Buffer.from(clean, 'hex'));
}

function modeOf(mode: SecurityInstanceOptions['securityMode']): SecurityModeValue {
  if (mode === undefined) return SecurityMode.NO_SEC;
  if (typeof mode === 'string') {
    const m = MODE_NAMES[mode];
    if (m === undefined) throw new LwM2MError('BAD_VALUE', `securityMode: "${mode}" is not one of ${Object.keys(MODE_NAMES).join(', ')}`);
    return m;
  }
  checkInt(mode, 'securityMode', 0, 4);
  return mode;
}

const URI = /^(coaps?(\+[a-z]+)?|sms):\/\/\S+$/i;

/** The empty Opaque of an unused key resource, one for every instance (it has no bytes to change). */
const NO_BYTES = new Uint8Array(0);

/**
 * The resources of one Security instance, validated: the URI has a CoAP-style scheme, PSK mode has an
 * identity and a key, and a DM server account has a Short Server ID (LwM2M-TS-Core 1.1 §E.1, /0/x/10:
 * "MUST be set when the Bootstrap-Server Resource has a value of 'false'"; 0 and 65535 are reserved).
 */
export function securityInstance(o: SecurityInstanceOptions): InstanceValues {
  if (typeof o.uri !== 'string' || !URI.test(o.uri)) {
    throw new LwM2MError('BAD_VALUE', `uri: "${String(o.uri)}" is not a coap://, coaps://, coap+tcp://, coaps+tcp:// or sms:// URI`);
  }
  if (o.uri.length > 255) throw new LwM2MError('BAD_VALUE', `uri: at most 255 characters, got ${o.uri.length}`);
  const bootstrap = o.bootstrapServer ?? false;
  const mode = modeOf(o.securityMode);
  checkInt(o.shortServerId, 'shortServerId', 1, 65534);
  if (!bootstrap && o.shortServerId === undefined) {
    throw new LwM2MError('BAD_VALUE', 'shortServerId: required for a DM server account (bootstrapServer is false)');
  }
  checkInt(o.clientHoldOffTime, 'clientHoldOffTime', 0, 2 ** 31 - 1);
  checkInt(o.bootstrapServerAccountTimeout, 'bootstrapServerAccountTimeout', 0, 2 ** 31 - 1);
  checkInt(o.matchingType, 'matchingType', 0, 3);
  checkInt(o.certificateUsage, 'certificateUsage', 0, 3);
  o.ciphersuites?.forEach((c, i) => checkInt(c, `ciphersuites[${i}]`, 0, 65535));

  let identity = o.publicKeyOrIdentity;
  let secret = o.secretKey;
  if (o.pskIdentity !== undefined) identity = typeof o.pskIdentity === 'string' ? new TextEncoder().encode(o.pskIdentity) : o.pskIdentity;
  if (o.pskKey !== undefined) secret = typeof o.pskKey === 'string' ? hexToBytes(o.pskKey) : o.pskKey;
  if (mode === SecurityMode.PSK) {
    if (!identity || identity.length === 0) throw new LwM2MError('BAD_VALUE', 'pskIdentity: required in PSK mode');
    if (!secret || secret.length === 0) throw new LwM2MError('BAD_VALUE', 'pskKey: required in PSK mode');
  }

  const v = new Map<number, ResourceData>();
  const R = SecurityResource;
  v.set(R.SERVER_URI, o.uri);
  v.set(R.BOOTSTRAP_SERVER, bootstrap);
  v.set(R.SECURITY_MODE, mode);
  // /0/x/3, /4, /5 are mandatory: empty Opaque when the mode does not use them (NoSec).
  v.set(R.PUBLIC_KEY_OR_IDENTITY, identity ?? NO_BYTES);
  v.set(R.SERVER_PUBLIC_KEY, o.serverPublicKey ?? NO_BYTES);
  v.set(R.SECRET_KEY, secret ?? NO_BYTES);
  put(v, R.SHORT_SERVER_ID, o.shortServerId);
  put(v, R.CLIENT_HOLD_OFF_TIME, o.clientHoldOffTime);
  put(v, R.BOOTSTRAP_SERVER_ACCOUNT_TIMEOUT, o.bootstrapServerAccountTimeout);
  put(v, R.MATCHING_TYPE, o.matchingType);
  put(v, R.SNI, o.sni);
  put(v, R.CERTIFICATE_USAGE, o.certificateUsage);
  if (o.ciphersuites) v.set(R.CIPHERSUITES, listValue(o.ciphersuites));
  return o.id === undefined ? { values: v } : { id: o.id, values: v };
}

export interface SecurityObjectOptions {
  /** Factory configuration: e.g. a Bootstrap-Server account, or a DM server account (no bootstrap). */
  instances?: readonly InstanceValues[];
}

function configure(inst: ObjectInstance): void {
  guardWrites(inst);
}

/** The Security object; the Bootstrap-Server creates further instances with Bootstrap-Write. */
export function createSecurityObject(model: ObjectModel, options: SecurityObjectOptions = {}): ManagedObject {
  requireObjectModel(model, 0, 'createSecurityObject');
  return configuredObject(model, options.instances ?? [], configure);
}
