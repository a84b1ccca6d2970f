/**
 * A ThingsBoard LwM2M device profile (its transport configuration) → a checked, normalised
 * {@link ThingsBoardProfile}.
 *
 * The shape is ThingsBoard's `Lwm2mDeviceProfileTransportConfiguration`:
 * - `observeAttr` (`TelemetryMappingConfiguration`): `keyName` (versioned id → key), `observe`,
 *   `attribute`, `telemetry` (sets of versioned ids), `attributeLwm2m` (versioned id →
 *   `ObjectAttributes` {pmin, pmax, gt, lt, st, epmin, epmax, …}), and in newer releases
 *   `observeStrategy` (SINGLE, COMPOSITE_ALL, COMPOSITE_BY_OBJECT) and `initAttrTelAsObsStrategy`;
 * - `bootstrapServerUpdateEnable` and `bootstrap`: a list of server credentials (`securityMode`,
 *   `shortServerId`, `bootstrapServerIs`, `host`, `port`, `clientHoldOffTime`, `serverPublicKey`,
 *   `bootstrapServerAccountTimeout`, `lifetime`, `defaultMinPeriod`, `notifIfDisabled`, `binding`), or
 *   in the older documented form an object {`servers` {binding, shortId, lifetime, notifIfDisabled,
 *   defaultMinPeriod}, `LWM2MServer`, `bootstrapServer`};
 * - `clientLwM2mSettings` (older docs: `clientLWM2MSettings`, `OtherConfiguration`):
 *   `clientOnlyObserveAfterConnect` (1 = only observe after registration, 2 = read all resources,
 *   then observe; older profiles: true/false), `fwUpdateStrategy`, `swUpdateStrategy`,
 *   `fwUpdateResource`, `swUpdateResource`, `powerMode`, `psmActivityTimer`, `edrxCycle`,
 *   `pagingTransmissionWindow`, `defaultObjectIDVer`, `useObject19ForOtaInfo`.
 *
 * The whole device profile (`{ profileData: { transportConfiguration } }`) is accepted too. Unknown
 * fields are warnings (ThingsBoard adds fields over releases); wrong types and bad paths are errors,
 * each located at its line and column.
 */
import { readFile } from 'node:fs/promises';
import { IssueCollector, ProfileFileError, escapePointer, parseLocatedJson, type ProfileIssue } from '../issues.js';
import { parseTbPath, type TbPath } from './path.js';

export type { TbPath } from './path.js';

export type TbObserveStrategy = 'SINGLE' | 'COMPOSITE_ALL' | 'COMPOSITE_BY_OBJECT';
export type TbSecurityMode = 'NO_SEC' | 'PSK' | 'RPK' | 'X509';
export type TbPowerMode = 'PSM' | 'DRX' | 'E_DRX';

/** ThingsBoard's `ObjectAttributes`: the Write-Attributes sent after registration. */
export interface TbObjectAttributes {
  readonly dim?: number;
  readonly ssid?: number;
  readonly uri?: string;
  readonly ver?: string;
  readonly lwm2m?: string;
  readonly pmin?: number;
  readonly pmax?: number;
  readonly gt?: number;
  readonly lt?: number;
  readonly st?: number;
  readonly epmin?: number;
  readonly epmax?: number;
}

export interface TbKeyName {
  readonly target: TbPath;
  readonly name: string;
}

export interface TbTelemetryMapping {
  readonly keyNames: readonly TbKeyName[];
  readonly observe: readonly TbPath[];
  readonly attribute: readonly TbPath[];
  readonly telemetry: readonly TbPath[];
  readonly attributeLwm2m: ReadonlyArray<{ readonly target: TbPath; readonly attributes: TbObjectAttributes }>;
  /** Default SINGLE (one Observe per path). */
  readonly observeStrategy: TbObserveStrategy;
  /** Read the non-observed attributes/telemetry the way `observeStrategy` observes (composite). Default false. */
  readonly initAttrTelAsObsStrategy: boolean;
}

export interface TbServer {
  readonly bootstrapServerIs: boolean;
  readonly host?: string;
  readonly port?: number;
  readonly securityMode: TbSecurityMode;
  readonly shortServerId?: number;
  readonly lifetime: number;
  readonly defaultMinPeriod: number;
  readonly notifIfDisabled: boolean;
  readonly binding: string;
  readonly clientHoldOffTime: number;
  readonly bootstrapServerAccountTimeout: number;
  readonly serverPublicKey?: string;
}

export interface TbClientSettings {
  /** 1: only observe after registration; 2: read all resources, then observe. Default 1. */
  readonly clientOnlyObserveAfterConnect: 1 | 2;
  /** 1: push /5/0/0 Package; 2: auto-generated CoAP URL in /5/0/1; 3: push to Object 19. */
  readonly fwUpdateStrategy?: number;
  /** 1: push /9/0/2 Package; 2: auto-generated CoAP URL in /9/0/3. */
  readonly swUpdateStrategy?: number;
  readonly fwUpdateResource?: string;
  readonly swUpdateResource?: string;
  readonly powerMode?: TbPowerMode;
  readonly psmActivityTimer?: number;
  readonly edrxCycle?: number;
  readonly pagingTransmissionWindow?: number;
  /** Object version assumed when a client names none (ThingsBoard default "1.0"). */
  readonly defaultObjectIDVer?: string;
  readonly useObject19ForOtaInfo?: boolean;
}

export interface ThingsBoardProfile {
  readonly telemetry: TbTelemetryMapping;
  readonly bootstrapServerUpdateEnable: boolean;
  /** DM and Bootstrap-Server entries, in file order. */
  readonly servers: readonly TbServer[];
  readonly settings: TbClientSettings;
}

export interface ParsedThingsBoardProfile {
  readonly profile: ThingsBoardProfile;
  /** Warnings (unknown fields, suspicious but usable values). */
  readonly warnings: readonly ProfileIssue[];
}

const WHAT = 'ThingsBoard LwM2M device profile';

const K_TRANSPORT = new Set(['type', 'observeAttr', 'bootstrapServerUpdateEnable', 'bootstrap', 'clientLwM2mSettings', 'clientLWM2MSettings']);
const K_OBSERVE_ATTR = new Set(['keyName', 'observe', 'attribute', 'telemetry', 'attributeLwm2m', 'observeStrategy', 'initAttrTelAsObsStrategy']);
const K_ATTRS = new Set(['dim', 'ssid', 'uri', 'ver', 'lwm2m', 'pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax']);
const K_SERVER = new Set([
  'securityMode', 'shortServerId', 'serverId', 'bootstrapServerIs', 'host', 'port', 'clientHoldOffTime', 'serverPublicKey', 'serverCertificate',
  'bootstrapServerAccountTimeout', 'lifetime', 'defaultMinPeriod', 'notifIfDisabled', 'binding', 'securityHost', 'securityPort',
]);
const K_OLD_BOOTSTRAP = new Set(['servers', 'LWM2MServer', 'lwm2mServer', 'bootstrapServer']);
const K_OLD_SERVERS = new Set(['binding', 'shortId', 'lifetime', 'notifIfDisabled', 'defaultMinPeriod']);
const K_SETTINGS = new Set([
  'clientOnlyObserveAfterConnect', 'clientUpdateValueAfterConnect', 'fwUpdateStrategy', 'swUpdateStrategy', 'fwUpdateResource', 'swUpdateResource',
  'powerMode', 'psmActivityTimer', 'edrxCycle', 'pagingTransmissionWindow', 'defaultObjectIDVer', 'useObject19ForOtaInfo',
]);
const STRATEGIES: readonly TbObserveStrategy[] = ['SINGLE', 'COMPOSITE_ALL', 'COMPOSITE_BY_OBJECT'];
const MODES: readonly TbSecurityMode[] = ['NO_SEC', 'PSK', 'RPK', 'X509'];
const POWER: readonly TbPowerMode[] = ['PSM', 'DRX', 'E_DRX'];
const U32 = 4_294_967_295;

/** Reads and parses a profile file ({@link parseThingsBoardProfile}). */
export async function loadThingsBoardProfile(file: string): Promise<ParsedThingsBoardProfile> {
  return parseThingsBoardProfile(await readFile(file, 'utf8'), file);
}

/**
 * Parses the JSON text of a ThingsBoard LwM2M device profile (its transport configuration, or the whole
 * device profile). Throws {@link ProfileFileError} with every error located (`file:line:column`).
 */
export function parseThingsBoardProfile(text: string, file?: string): ParsedThingsBoardProfile {
  const json = parseLocatedJson(text, file, WHAT);
  const c = new IssueCollector();
  const { config, at } = unwrap(json.value, c);
  const profile = config ? readTransport(config, at, c) : undefined;
  const issues = c.located(json);
  if (c.errorCount > 0 || profile === undefined) {
    throw new ProfileFileError(issues.length > 0 ? issues : [{ severity: 'error', line: 1, column: 1, message: 'not a profile' }], file, WHAT);
  }
  return { profile, warnings: issues };
}

/** The transport configuration inside a whole device profile, or the value itself. */
function unwrap(v: unknown, c: IssueCollector): { config?: Record<string, unknown>; at: string } {
  const root = c.object(v, '', 'the profile');
  if (!root) {
    if (v === undefined || v === null) c.error('', 'the profile is empty');
    return { at: '' };
  }
  const profileData = root.profileData as Record<string, unknown> | undefined;
  if (profileData && typeof profileData === 'object' && 'transportConfiguration' in profileData) {
    return { config: c.object(profileData.transportConfiguration, '/profileData/transportConfiguration', 'transportConfiguration'), at: '/profileData/transportConfiguration' };
  }
  if ('transportConfiguration' in root) {
    return { config: c.object(root.transportConfiguration, '/transportConfiguration', 'transportConfiguration'), at: '/transportConfiguration' };
  }
  return { config: root, at: '' };
}

function readTransport(t: Record<string, unknown>, at: string, c: IssueCollector): ThingsBoardProfile | undefined {
  c.unknownKeys(t, at, K_TRANSPORT, 'transport configuration');
  const type = c.string(t.type, `${at}/type`, 'type');
  if (type !== undefined && type !== 'LWM2M') c.error(`${at}/type`, `transport type is "${type}", not LWM2M`);
  if (t.observeAttr === undefined) c.error(at, 'missing "observeAttr" (the telemetry mapping)');
  const telemetry = readMapping(c.object(t.observeAttr, `${at}/observeAttr`, 'observeAttr') ?? {}, `${at}/observeAttr`, c);
  const bootstrapServerUpdateEnable = c.boolean(t.bootstrapServerUpdateEnable, `${at}/bootstrapServerUpdateEnable`, 'bootstrapServerUpdateEnable') ?? false;
  const servers = readBootstrap(t.bootstrap, `${at}/bootstrap`, c);
  const settingsKey = t.clientLwM2mSettings !== undefined ? 'clientLwM2mSettings' : 'clientLWM2MSettings';
  const settings = readSettings(c.object(t[settingsKey], `${at}/${settingsKey}`, settingsKey) ?? {}, `${at}/${settingsKey}`, c);
  return { telemetry, bootstrapServerUpdateEnable, servers, settings };
}

function pathList(v: unknown, at: string, what: string, c: IssueCollector): TbPath[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    c.error(at, `${what} must be a list of paths like "/3_1.2/0/9"`);
    return [];
  }
  const out: TbPath[] = [];
  const seen = new Set<string>();
  v.forEach((item, i) => {
    const p = tbPath(item, `${at}/${i}`, c);
    if (!p) return;
    if (seen.has(p.key)) c.warn(`${at}/${i}`, `${p.key} is listed twice in ${what}`);
    else {
      seen.add(p.key);
      out.push(p);
    }
  });
  return out;
}

function tbPath(v: unknown, at: string, c: IssueCollector, minDepth = 1, atKey = false): TbPath | undefined {
  if (typeof v !== 'string') {
    c.error(at, `a path must be a string like "/3_1.2/0/9", got ${JSON.stringify(v)}`);
    return undefined;
  }
  const p = parseTbPath(v);
  if (!p) {
    c.error(at, `"${v}" is not a path (/objectId_version/instance/resource, e.g. "/3_1.2/0/9", or "/3/0/9")`, atKey);
    return undefined;
  }
  if (p.path.depth < minDepth) {
    c.error(at, `"${v}" must name a resource (/object/instance/resource)`, atKey);
    return undefined;
  }
  return p;
}

function readMapping(o: Record<string, unknown>, at: string, c: IssueCollector): TbTelemetryMapping {
  c.unknownKeys(o, at, K_OBSERVE_ATTR, 'observeAttr');
  const keyNames: TbKeyName[] = [];
  const names = c.object(o.keyName, `${at}/keyName`, 'keyName') ?? {};
  const byKey = new Map<string, string>();
  for (const [k, v] of Object.entries(names)) {
    const kat = `${at}/keyName/${escapePointer(k)}`;
    const target = tbPath(k, kat, c, 3, true);
    const name = c.string(v, kat, `keyName of ${k}`);
    if (name !== undefined && name.trim() === '') c.error(kat, `keyName of ${k} is empty`);
    if (target && name !== undefined && name.trim() !== '') {
      keyNames.push({ target, name });
      byKey.set(target.key, name);
    }
  }
  const observe = pathList(o.observe, `${at}/observe`, 'observe', c);
  const attribute = pathList(o.attribute, `${at}/attribute`, 'attribute', c);
  const telemetry = pathList(o.telemetry, `${at}/telemetry`, 'telemetry', c);
  const reported = new Set([...attribute, ...telemetry].map((p) => p.key));
  const check = (list: readonly TbPath[], field: string): void => list.forEach((p, i) => {
    if (!byKey.has(p.key)) c.warn(`${at}/${field}/${i}`, `${p.key} has no keyName: its values are stored under the path itself`);
  });
  check(attribute, 'attribute');
  check(telemetry, 'telemetry');
  observe.forEach((p, i) => {
    if (p.path.depth >= 3 && !reported.has(p.key)) c.warn(`${at}/observe/${i}`, `${p.key} is observed but is neither an attribute nor telemetry: its values are not stored`);
  });
  const attributeLwm2m: Array<{ target: TbPath; attributes: TbObjectAttributes }> = [];
  const attrs = c.object(o.attributeLwm2m, `${at}/attributeLwm2m`, 'attributeLwm2m') ?? {};
  for (const [k, v] of Object.entries(attrs)) {
    const kat = `${at}/attributeLwm2m/${escapePointer(k)}`;
    const target = tbPath(k, kat, c, 1, true);
    const a = readAttributes(c.object(v, kat, `attributeLwm2m of ${k}`) ?? {}, kat, c);
    if (target && a) attributeLwm2m.push({ target, attributes: a });
  }
  const s = o.observeStrategy;
  let observeStrategy: TbObserveStrategy = 'SINGLE';
  if (s !== undefined && s !== null) {
    const byId = typeof s === 'number' ? STRATEGIES[s] : undefined;
    if (typeof s === 'string' && (STRATEGIES as readonly string[]).includes(s)) observeStrategy = s as TbObserveStrategy;
    else if (byId !== undefined && Number.isInteger(s)) observeStrategy = byId;
    else c.error(`${at}/observeStrategy`, `observeStrategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(s)}`);
  }
  const initAttrTelAsObsStrategy = c.boolean(o.initAttrTelAsObsStrategy, `${at}/initAttrTelAsObsStrategy`, 'initAttrTelAsObsStrategy') ?? false;
  return { keyNames, observe, attribute, telemetry, attributeLwm2m, observeStrategy, initAttrTelAsObsStrategy };
}

function readAttributes(o: Record<string, unknown>, at: string, c: IssueCollector): TbObjectAttributes | undefined {
  c.unknownKeys(o, at, K_ATTRS, 'ObjectAttributes');
  const before = c.errorCount;
  const int = (k: string, min = 0, max = U32): number | undefined => c.integer(o[k], `${at}/${k}`, k, min, max);
  const num = (k: string): number | undefined => c.number(o[k], `${at}/${k}`, k);
  const str = (k: string): string | undefined => c.string(o[k], `${at}/${k}`, k);
  const a: Record<string, number | string | undefined> = {
    dim: int('dim', 0, 255), ssid: int('ssid', 1, 65534), uri: str('uri'), ver: str('ver'), lwm2m: str('lwm2m'),
    pmin: int('pmin'), pmax: int('pmax'), gt: num('gt'), lt: num('lt'), st: num('st'), epmin: int('epmin'), epmax: int('epmax'),
  };
  if (typeof a.pmin === 'number' && typeof a.pmax === 'number' && a.pmax < a.pmin) c.warn(`${at}/pmax`, `pmax ${a.pmax} is below pmin ${a.pmin}`);
  if (typeof a.st === 'number' && a.st < 0) c.error(`${at}/st`, 'st (step) must not be negative');
  if (c.errorCount > before) return undefined;
  return Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as TbObjectAttributes;
}

function readBootstrap(v: unknown, at: string, c: IssueCollector): TbServer[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) {
    const out: TbServer[] = [];
    v.forEach((item, i) => {
      const s = readServer(c.object(item, `${at}/${i}`, 'a bootstrap entry') ?? {}, `${at}/${i}`, c, undefined);
      if (s) out.push(s);
    });
    return out;
  }
  // The older documented form: { servers, LWM2MServer, bootstrapServer }.
  const o = c.object(v, at, 'bootstrap');
  if (!o) return [];
  c.unknownKeys(o, at, K_OLD_BOOTSTRAP, 'bootstrap');
  const common = c.object(o.servers, `${at}/servers`, 'servers') ?? {};
  c.unknownKeys(common, `${at}/servers`, K_OLD_SERVERS, 'servers');
  const shared = { ...common, ...(common.shortId !== undefined ? { shortServerId: common.shortId } : {}) };
  delete (shared as Record<string, unknown>).shortId;
  const out: TbServer[] = [];
  const dmKey = o.LWM2MServer !== undefined ? 'LWM2MServer' : 'lwm2mServer';
  const dm = c.object(o[dmKey], `${at}/${dmKey}`, dmKey);
  if (dm) {
    const s = readServer(dm, `${at}/${dmKey}`, c, { ...shared, bootstrapServerIs: false });
    if (s) out.push(s);
  }
  const bs = c.object(o.bootstrapServer, `${at}/bootstrapServer`, 'bootstrapServer');
  if (bs) {
    const s = readServer(bs, `${at}/bootstrapServer`, c, { bootstrapServerIs: true });
    if (s) out.push(s);
  }
  return out;
}

function readServer(o: Record<string, unknown>, at: string, c: IssueCollector, defaults: Record<string, unknown> | undefined): TbServer | undefined {
  c.unknownKeys(o, at, K_SERVER, 'server');
  const before = c.errorCount;
  const get = (k: string): unknown => (o[k] !== undefined ? o[k] : defaults?.[k]);
  const where = (k: string): string => (o[k] !== undefined || defaults === undefined ? `${at}/${k}` : at);
  const bootstrapServerIs = c.boolean(get('bootstrapServerIs'), where('bootstrapServerIs'), 'bootstrapServerIs') ?? false;
  const host = c.string(get('host'), where('host'), 'host');
  const port = c.integer(get('port'), where('port'), 'port', 1, 65535);
  const modeRaw = c.string(get('securityMode'), where('securityMode'), 'securityMode');
  let securityMode: TbSecurityMode = 'NO_SEC';
  if (modeRaw !== undefined) {
    if ((MODES as readonly string[]).includes(modeRaw)) securityMode = modeRaw as TbSecurityMode;
    else c.error(where('securityMode'), `securityMode must be one of ${MODES.join(', ')}, got "${modeRaw}"`);
  }
  if (securityMode === 'RPK' || securityMode === 'X509') c.warn(where('securityMode'), `securityMode ${securityMode} is not supported by the reference server (NO_SEC and PSK are)`);
  const idKey = o.shortServerId !== undefined || defaults?.shortServerId !== undefined || o.serverId === undefined ? 'shortServerId' : 'serverId';
  const shortServerId = c.integer(get(idKey), where(idKey), idKey, bootstrapServerIs ? 0 : 1, bootstrapServerIs ? 65535 : 65534);
  const lifetime = c.integer(get('lifetime'), where('lifetime'), 'lifetime', 1, U32) ?? 300;
  const defaultMinPeriod = c.integer(get('defaultMinPeriod'), where('defaultMinPeriod'), 'defaultMinPeriod', 0, U32) ?? 1;
  const notifIfDisabled = c.boolean(get('notifIfDisabled'), where('notifIfDisabled'), 'notifIfDisabled') ?? true;
  const binding = c.string(get('binding'), where('binding'), 'binding') ?? 'U';
  if (!/^[UTSNQ]{1,5}$/.test(binding) || new Set(binding).size !== binding.length) c.error(where('binding'), `binding "${binding}" is not a combination of U, T, S, N and Q`);
  const clientHoldOffTime = c.integer(get('clientHoldOffTime'), where('clientHoldOffTime'), 'clientHoldOffTime', 0, U32) ?? 1;
  const bootstrapServerAccountTimeout = c.integer(get('bootstrapServerAccountTimeout'), where('bootstrapServerAccountTimeout'), 'bootstrapServerAccountTimeout', 0, U32) ?? 0;
  const serverPublicKey = c.string(get('serverPublicKey'), where('serverPublicKey'), 'serverPublicKey');
  if (c.errorCount > before) return undefined;
  return {
    bootstrapServerIs,
    ...(host !== undefined ? { host } : {}),
    ...(port !== undefined ? { port } : {}),
    securityMode,
    ...(shortServerId !== undefined ? { shortServerId } : {}),
    lifetime, defaultMinPeriod, notifIfDisabled, binding, clientHoldOffTime, bootstrapServerAccountTimeout,
    ...(serverPublicKey !== undefined && serverPublicKey !== '' ? { serverPublicKey } : {}),
  };
}

function readSettings(o: Record<string, unknown>, at: string, c: IssueCollector): TbClientSettings {
  c.unknownKeys(o, at, K_SETTINGS, 'client settings');
  let clientOnlyObserveAfterConnect: 1 | 2 = 1;
  const s = o.clientOnlyObserveAfterConnect;
  if (typeof s === 'boolean') clientOnlyObserveAfterConnect = s ? 1 : 2; // older profiles: true = only observe
  else if (s === 1 || s === 2) clientOnlyObserveAfterConnect = s;
  else if (s !== undefined && s !== null) c.error(`${at}/clientOnlyObserveAfterConnect`, `clientOnlyObserveAfterConnect must be 1 (only observe) or 2 (read all, then observe), got ${JSON.stringify(s)}`);
  const int = (k: string, min: number, max: number): number | undefined => c.integer(o[k], `${at}/${k}`, k, min, max);
  const str = (k: string): string | undefined => c.string(o[k], `${at}/${k}`, k);
  const powerRaw = str('powerMode');
  let powerMode: TbPowerMode | undefined;
  if (powerRaw !== undefined) {
    if ((POWER as readonly string[]).includes(powerRaw)) powerMode = powerRaw as TbPowerMode;
    else c.error(`${at}/powerMode`, `powerMode must be one of ${POWER.join(', ')}, got "${powerRaw}"`);
  }
  const defaultObjectIDVer = str('defaultObjectIDVer');
  if (defaultObjectIDVer !== undefined && !/^\d{1,3}\.\d{1,3}$/.test(defaultObjectIDVer)) c.error(`${at}/defaultObjectIDVer`, `defaultObjectIDVer "${defaultObjectIDVer}" is not a version like "1.0"`);
  const out: Record<string, unknown> = {
    clientOnlyObserveAfterConnect,
    fwUpdateStrategy: int('fwUpdateStrategy', 1, 3),
    swUpdateStrategy: int('swUpdateStrategy', 1, 2),
    fwUpdateResource: str('fwUpdateResource'),
    swUpdateResource: str('swUpdateResource'),
    powerMode,
    psmActivityTimer: int('psmActivityTimer', 0, Number.MAX_SAFE_INTEGER),
    edrxCycle: int('edrxCycle', 0, Number.MAX_SAFE_INTEGER),
    pagingTransmissionWindow: int('pagingTransmissionWindow', 0, Number.MAX_SAFE_INTEGER),
    defaultObjectIDVer,
    useObject19ForOtaInfo: c.boolean(o.useObject19ForOtaInfo, `${at}/useObject19ForOtaInfo`, 'useObject19ForOtaInfo'),
  };
  c.boolean(o.clientUpdateValueAfterConnect, `${at}/clientUpdateValueAfterConnect`, 'clientUpdateValueAfterConnect');
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as unknown as TbClientSettings;
}
