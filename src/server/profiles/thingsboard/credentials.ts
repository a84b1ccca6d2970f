/**
 * ThingsBoard LwM2M device credentials JSON (`LwM2MDeviceCredentials`) → neutral
 * {@link DeviceCredentialRecord}s for the PSK store and the fleet's device list.
 *
 * Shape: `client` {`securityConfigClientMode` NO_SEC | PSK (RPK, X509: not supported here),
 * `endpoint`, `identity`, `key` (hex)}, `bootstrap` {`bootstrapServer` and `lwm2mServer` (older docs:
 * `LWM2MServer`), each {`securityMode`, `clientPublicKeyOrId`, `clientSecretKey` (hex for PSK)}}. A
 * file holds one such object, a list of them, or ThingsBoard's wrapper {`credentialsType`:
 * "LWM2M_CREDENTIALS", `credentialsValue`: the object or its JSON text}, possibly inside
 * {`device`, `credentials`}. Each device is checked on its own: a bad one is reported and skipped.
 */
import { readFile } from 'node:fs/promises';
import type { ConnectionSecurity, DeviceCredentialRecord } from '../credentials.js';
import { IssueCollector, parseHexKey, parseLocatedJson, short, type ProfileIssue } from '../issues.js';
import { checkEndpointName } from '../../registration/parse.js';

export interface TbDeviceCredentials extends DeviceCredentialRecord {
  /** What the Bootstrap-Server writes into the device's DM server account (`bootstrap.lwm2mServer`). */
  readonly lwm2mServer?: ConnectionSecurity;
  /** JSON pointer of the device in the file (`/0`, or `` for a single object). */
  readonly pointer: string;
  readonly line: number;
}

export interface TbCredentialsResult {
  readonly file?: string;
  readonly devices: TbDeviceCredentials[];
  /** Problems of the devices that were skipped. */
  readonly errors: ProfileIssue[];
  readonly warnings: ProfileIssue[];
}

const WHAT = 'ThingsBoard LwM2M credentials';
const K_ROOT = new Set(['client', 'bootstrap']);
const K_CLIENT = new Set(['securityConfigClientMode', 'endpoint', 'identity', 'key', 'x509', 'cert']);
const K_BOOTSTRAP = new Set(['bootstrapServer', 'lwm2mServer', 'LWM2MServer']);
const K_BS_ENTRY = new Set(['securityMode', 'clientPublicKeyOrId', 'clientSecretKey']);

/** Bound on devices in one credentials file. */
export const MAX_TB_DEVICES = 1_000_000;

export async function loadThingsBoardCredentials(file: string): Promise<TbCredentialsResult> {
  return parseThingsBoardCredentials(await readFile(file, 'utf8'), file);
}

/**
 * Parses ThingsBoard device credentials JSON. Throws only when the text is not JSON
 * ({@link ProfileFileError}); each bad device is listed in `errors` and left out of `devices`.
 */
export function parseThingsBoardCredentials(text: string, file?: string): TbCredentialsResult {
  const json = parseLocatedJson(text, file, WHAT);
  const list = Array.isArray(json.value);
  const items: unknown[] = list ? (json.value as unknown[]) : [json.value];
  const devices: TbDeviceCredentials[] = [];
  const errors: ProfileIssue[] = [];
  const warnings: ProfileIssue[] = [];
  if (items.length > MAX_TB_DEVICES) {
    errors.push({ severity: 'error', line: 1, column: 1, message: `${items.length} devices, at most ${MAX_TB_DEVICES} are read` });
    return { ...(file !== undefined ? { file } : {}), devices, errors, warnings };
  }
  const endpoints = new Map<string, number>();
  const identities = new Map<string, number>();
  items.forEach((item, i) => {
    const pointer = list ? `/${i}` : '';
    const c = new IssueCollector();
    const d = readDevice(item, c);
    const line = json.locate(pointer).line;
    if (d) {
      const first = endpoints.get(d.endpoint);
      if (first !== undefined) c.error(d.at.endpoint, `duplicate endpoint "${d.endpoint}" (first on line ${first})`);
      for (const id of new Set([d.dm.identity, d.bootstrap?.identity].filter((x): x is string => x !== undefined))) {
        const firstId = identities.get(id);
        if (firstId !== undefined) c.error(d.at.endpoint, `PSK identity "${id}" is already used by the device on line ${firstId}`);
      }
    }
    for (const issue of c.located(json, pointer)) (issue.severity === 'error' ? errors : warnings).push(issue);
    if (!d || c.errorCount > 0) return;
    endpoints.set(d.endpoint, line);
    for (const id of [d.dm.identity, d.bootstrap?.identity]) if (id !== undefined) identities.set(id, line);
    devices.push({
      endpoint: d.endpoint, dm: d.dm,
      ...(d.bootstrap ? { bootstrap: d.bootstrap } : {}),
      ...(d.lwm2mServer ? { lwm2mServer: d.lwm2mServer } : {}),
      pointer, line,
    });
  });
  return { ...(file !== undefined ? { file } : {}), devices, errors, warnings };
}

interface ReadDevice {
  endpoint: string;
  dm: ConnectionSecurity;
  bootstrap?: ConnectionSecurity;
  lwm2mServer?: ConnectionSecurity;
  at: { endpoint: string };
}

function readDevice(item: unknown, c: IssueCollector): ReadDevice | undefined {
  let o = c.object(item, '', 'a device');
  if (!o) {
    if (item === undefined || item === null) c.error('', 'a device must be an object with "client"');
    return undefined;
  }
  let at = '';
  // ThingsBoard's wrappers: { device, credentials } and { credentialsType, credentialsValue }.
  if (o.credentials !== undefined && o.client === undefined) {
    at = '/credentials';
    o = c.object(o.credentials, at, 'credentials');
    if (!o) return undefined;
  }
  if (o.credentialsValue !== undefined || o.credentialsType !== undefined) {
    if (o.credentialsType !== undefined && o.credentialsType !== 'LWM2M_CREDENTIALS') {
      c.error(`${at}/credentialsType`, `credentialsType is ${JSON.stringify(o.credentialsType)}, not "LWM2M_CREDENTIALS"`);
      return undefined;
    }
    let v = o.credentialsValue;
    at = `${at}/credentialsValue`;
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v) as unknown;
      } catch (e) {
        c.error(at, `credentialsValue is not JSON: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      }
      // Positions inside a JSON string cannot be shown: every issue points at the string.
      const inner = new IssueCollector();
      const d = readCredentials(c.object(v, '', 'credentialsValue') ?? {}, '', inner);
      for (const i of inner.issues) c.issues.push({ ...i, message: `in credentialsValue${i.pointer}: ${i.message}`, pointer: at });
      if (d) d.at.endpoint = at;
      return inner.errorCount > 0 ? undefined : d;
    }
    o = c.object(v, at, 'credentialsValue');
    if (!o) return undefined;
  }
  return readCredentials(o, at, c);
}

function readCredentials(o: Record<string, unknown>, at: string, c: IssueCollector): ReadDevice | undefined {
  c.unknownKeys(o, at, K_ROOT, 'credentials');
  const before = c.errorCount;
  const client = c.object(o.client, `${at}/client`, 'client');
  if (!client) {
    c.error(at, 'missing "client" (securityConfigClientMode, endpoint, identity, key)');
    return undefined;
  }
  const cat = `${at}/client`;
  c.unknownKeys(client, cat, K_CLIENT, 'client');
  const modeText = c.string(client.securityConfigClientMode, `${cat}/securityConfigClientMode`, 'securityConfigClientMode');
  const endpoint = c.string(client.endpoint, `${cat}/endpoint`, 'endpoint');
  const epAt = client.endpoint !== undefined ? `${cat}/endpoint` : cat;
  if (endpoint === undefined || endpoint.trim() === '') c.error(epAt, 'client.endpoint is missing or empty');
  else {
    const bad = checkEndpointName(endpoint);
    if (bad) c.error(epAt, `endpoint: ${bad.diagnostic}`);
  }
  const dm = security(modeText, client.identity, client.key, cat, 'securityConfigClientMode', 'identity', 'key', c);
  let bootstrap: ConnectionSecurity | undefined;
  let lwm2mServer: ConnectionSecurity | undefined;
  const bs = c.object(o.bootstrap, `${at}/bootstrap`, 'bootstrap');
  if (bs) {
    c.unknownKeys(bs, `${at}/bootstrap`, K_BOOTSTRAP, 'bootstrap');
    const entry = (k: string): ConnectionSecurity | undefined => {
      const eat = `${at}/bootstrap/${k}`;
      const e = c.object(bs[k], eat, k);
      if (!e) return undefined;
      c.unknownKeys(e, eat, K_BS_ENTRY, k);
      const mode = c.string(e.securityMode, `${eat}/securityMode`, 'securityMode');
      return security(mode, e.clientPublicKeyOrId, e.clientSecretKey, eat, 'securityMode', 'clientPublicKeyOrId', 'clientSecretKey', c);
    };
    bootstrap = entry('bootstrapServer');
    lwm2mServer = entry(bs.lwm2mServer !== undefined ? 'lwm2mServer' : 'LWM2MServer');
    if (lwm2mServer && dm && (lwm2mServer.mode !== dm.mode || lwm2mServer.identity !== dm.identity || !sameKey(lwm2mServer.key, dm.key))) {
      c.warn(`${at}/bootstrap/${bs.lwm2mServer !== undefined ? 'lwm2mServer' : 'LWM2MServer'}`,
        'differs from "client": the Bootstrap-Server would give the device credentials the LwM2M server does not accept');
    }
  }
  if (c.errorCount > before || endpoint === undefined || !dm) return undefined;
  return {
    endpoint, dm,
    ...(bootstrap ? { bootstrap } : {}),
    ...(lwm2mServer ? { lwm2mServer } : {}),
    at: { endpoint: epAt },
  };
}

function security(
  modeText: string | undefined, identity: unknown, key: unknown, at: string, modeField: string, idField: string, keyField: string, c: IssueCollector,
): ConnectionSecurity | undefined {
  if (modeText === undefined) {
    c.error(at, `missing "${modeField}" (NO_SEC or PSK)`);
    return undefined;
  }
  if (modeText === 'NO_SEC') {
    if (typeof identity === 'string' && identity !== '') c.warn(`${at}/${idField}`, `${idField} is ignored in NO_SEC mode`);
    if (typeof key === 'string' && key !== '') c.warn(`${at}/${keyField}`, `${keyField} is ignored in NO_SEC mode`);
    return { mode: 'nosec' };
  }
  if (modeText !== 'PSK') {
    const why = modeText === 'RPK' || modeText === 'X509' ? 'is not supported by the reference server (NO_SEC or PSK)' : 'is not one of NO_SEC, PSK, RPK, X509';
    c.error(`${at}/${modeField}`, `${modeField} "${short(modeText)}" ${why}`);
    return undefined;
  }
  const id = c.string(identity, `${at}/${idField}`, idField);
  const k = c.string(key, `${at}/${keyField}`, keyField);
  if (id === undefined || id === '') c.error(identity === undefined ? at : `${at}/${idField}`, `PSK needs ${idField} (the PSK identity)`);
  let bytes: Uint8Array | undefined;
  if (k === undefined || k === '') c.error(key === undefined ? at : `${at}/${keyField}`, `PSK needs ${keyField} (the key, hex)`);
  else {
    const parsed = parseHexKey(k);
    if (parsed.ok) bytes = parsed.bytes;
    else c.error(`${at}/${keyField}`, `${keyField} ${parsed.reason}`);
  }
  return id && bytes ? { mode: 'psk', identity: id, key: bytes } : undefined;
}

function sameKey(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
