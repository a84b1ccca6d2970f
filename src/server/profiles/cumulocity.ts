/**
 * Cumulocity LwM2M bulk registration CSV → bootstrap configs, PSKs, awake times and FOTA settings.
 *
 * Columns as Cumulocity documents them ("Registering LWM2M devices", bulk device registration): the
 * general bulk columns (ID, IDTYPE, CREDENTIALS, NAME, TYPE, SHELL, …), `endpoint id` (mandatory),
 * `lwm2m server uri` (older docs: `lwm2m server url`), `securityMode` (mandatory: NO_SEC or PSK),
 * `bootstrapSecurityMode`, `lwm2m psk_id`, `lwm2m psk_key`, `bootstrap psk_id`, `bootstrap psk_key`,
 * `awakeTimeRegistrationParameter` (ms), `securityInstanceOffset`, `bootstrapShortServerId`,
 * `lwm2mShortServerId`, `registrationLifetime` (s), `defaultMinimumPeriod`, `defaultMaximumPeriod`,
 * `bindingMode` (U or UQ), `notificationIfDisabled`, `disableTimeout`, `lwm2mRequestTimeout` (ms),
 * `generateBootstrapServerConfig`, the advanced flags, and the FOTA columns `fwUpdateDeliveryMethod`
 * (PUSH, PULL, BOTH), `fwUpdateSupportedDeviceProtocol` (COAP, COAPS, HTTP, HTTPS),
 * `fwUpdateResetMechanism` (PACKAGE, PACKAGE_URI), `fwResetStateMachineOnStart`, `fwUpdateURL`,
 * `disableFirmwareStateMachine`. Header names match case-insensitively; the delimiter (`,` `;` tab) is
 * detected from the header.
 *
 * Each bad row fails alone (`file:line:column: message` at the offending cell); the good rows import.
 * A missing mandatory column fails every row. Unknown columns are warnings.
 */
import { readFile, stat } from 'node:fs/promises';
import { validateBootstrapConfig, type BootstrapConfig, type BootstrapServerAccount } from '../bootstrap/config.js';
import { checkEndpointName } from '../registration/parse.js';
import type { ConnectionSecurity, DeviceCredentialRecord } from './credentials.js';
import { detectDelimiter, parseCsvTolerant, type CsvRecord } from './csv.js';
import { formatIssue, parseHexKey, short, toHex } from './issues.js';

// ---- the result ----------------------------------------------------------------------------------

export type FwDeliveryMethod = 'PUSH' | 'PULL' | 'BOTH';
export type FwDeviceProtocol = 'COAP' | 'COAPS' | 'HTTP' | 'HTTPS';
export type FwResetMechanism = 'PACKAGE' | 'PACKAGE_URI';

/** Cumulocity's per-device firmware update tuning. */
export interface CumulocityFotaSettings {
  readonly deliveryMethod?: FwDeliveryMethod;
  readonly supportedDeviceProtocol?: FwDeviceProtocol;
  /**
   * How the state machine is reset: PACKAGE writes a NULL byte to /5/0/0, PACKAGE_URI an empty /5/0/1.
   * Unset: by the package for PUSH, by the URI for PULL (Cumulocity's default).
   */
  readonly resetMechanism?: FwResetMechanism;
  /** Reset the state machine before an update (Cumulocity default true). */
  readonly resetStateMachineOnStart?: boolean;
  readonly url?: string;
  readonly disableStateMachine?: boolean;
}

/** Columns the reference server keeps but does not act on by itself (the LwM2M agent's options). */
export interface CumulocityAgentSettings {
  readonly lwm2mRequestTimeoutMs?: number;
  readonly disableTimeout?: number;
  readonly generateBootstrapServerConfig?: boolean;
  readonly autoManageAvailabilityRequiredInterval?: boolean;
  readonly availabilityRequiredInterval?: number;
  readonly binaryDeliveryEncoding?: string;
  readonly serializationFormat?: string;
  readonly enableResourceLevelTimestamp?: boolean;
  readonly retainOldValuesIfError?: boolean;
  readonly disableInternalObjectInstanceActions?: boolean;
}

export interface CumulocityDevice extends DeviceCredentialRecord {
  /** The row's line in the file. */
  readonly line: number;
  readonly id?: string;
  readonly idType?: string;
  readonly name?: string;
  readonly type?: string;
  readonly shell?: boolean;
  /** `lwm2m server uri`, when given. */
  readonly serverUri?: string;
  /** What the Bootstrap-Server writes (present when the row has a server URI). */
  readonly bootstrapConfig?: BootstrapConfig;
  /** `awakeTimeRegistrationParameter`, ms (0 = always online). Unset: the `at` attribute, else the server default. */
  readonly awakeTimeMs?: number;
  /** Default 0 (informational: the Bootstrap-Server has no Short Server ID on the wire). */
  readonly bootstrapShortServerId: number;
  readonly lwm2mShortServerId: number;
  readonly securityInstanceOffset: number;
  readonly fota: CumulocityFotaSettings;
  readonly settings: CumulocityAgentSettings;
}

export interface ImportFailure {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export interface CumulocityImportResult {
  readonly file?: string;
  readonly delimiter: string;
  readonly imported: CumulocityDevice[];
  /** One entry per problem of a failed row (a row may have several), in file order. */
  readonly failed: ImportFailure[];
  /** Lines of the rows that failed. */
  readonly failedRows: number;
  readonly warnings: ImportFailure[];
}

export interface CumulocityImportOptions {
  /** Names the file in messages. */
  file?: string;
  /**
   * Bootstrap-Server URI written back when a row sets `generateBootstrapServerConfig`. Default: the
   * host of the row's server URI on Cumulocity's bootstrap port (5683 plain, 5684 PSK).
   */
  bootstrapServerUri?: string;
  /** Bound on device rows. Default 1 000 000. */
  maxRows?: number;
}

/** Bound on the CSV text (Cumulocity accepts 10 MB). */
export const MAX_CUMULOCITY_CSV_BYTES = 64 * 1024 * 1024;

/** Every problem as `file:line:column: message`. */
export function formatImportFailures(result: Pick<CumulocityImportResult, 'file' | 'failed'>): string[] {
  return result.failed.map((f) => formatIssue(result.file, f));
}

// ---- columns -------------------------------------------------------------------------------------

type Column =
  | 'id' | 'idType' | 'credentials' | 'name' | 'type' | 'shell'
  | 'endpoint' | 'serverUri' | 'securityMode' | 'bootstrapSecurityMode'
  | 'lwm2mPskId' | 'lwm2mPskKey' | 'bootstrapPskId' | 'bootstrapPskKey'
  | 'awakeTime' | 'securityInstanceOffset' | 'bootstrapShortServerId' | 'lwm2mShortServerId'
  | 'registrationLifetime' | 'defaultMinimumPeriod' | 'defaultMaximumPeriod' | 'bindingMode'
  | 'notificationIfDisabled' | 'disableTimeout' | 'lwm2mRequestTimeout' | 'generateBootstrapServerConfig'
  | 'autoManageAvailabilityRequiredInterval' | 'availabilityRequiredInterval' | 'binaryDeliveryEncoding'
  | 'serializationFormat' | 'enableResourceLevelTimestamp' | 'retainOldValuesIfError' | 'disableInternalObjectInstanceActions'
  | 'fwUpdateDeliveryMethod' | 'fwUpdateSupportedDeviceProtocol' | 'fwUpdateResetMechanism' | 'fwResetStateMachineOnStart'
  | 'fwUpdateURL' | 'disableFirmwareStateMachine'
  | 'serverPublicKey' | 'x509';

/** Header (lower case, single spaces) → column. Cumulocity's spellings, old and new. */
const HEADERS: Readonly<Record<string, Column>> = {
  id: 'id', idtype: 'idType', credentials: 'credentials', name: 'name', type: 'type', shell: 'shell',
  'endpoint id': 'endpoint',
  'lwm2m server uri': 'serverUri', 'lwm2m server url': 'serverUri',
  securitymode: 'securityMode', bootstrapsecuritymode: 'bootstrapSecurityMode',
  'lwm2m psk_id': 'lwm2mPskId', 'lwm2m psk_key': 'lwm2mPskKey',
  'bootstrap psk_id': 'bootstrapPskId', 'bootstrap psk_key': 'bootstrapPskKey',
  awaketimeregistrationparameter: 'awakeTime',
  securityinstanceoffset: 'securityInstanceOffset',
  bootstrapshortserverid: 'bootstrapShortServerId', lwm2mshortserverid: 'lwm2mShortServerId',
  registrationlifetime: 'registrationLifetime',
  defaultminimumperiod: 'defaultMinimumPeriod', defaultmaximumperiod: 'defaultMaximumPeriod',
  bindingmode: 'bindingMode',
  notificationifdisabled: 'notificationIfDisabled', disabletimeout: 'disableTimeout',
  lwm2mrequesttimeout: 'lwm2mRequestTimeout',
  generatebootstrapserverconfig: 'generateBootstrapServerConfig',
  automanageavailabilityrequiredinterval: 'autoManageAvailabilityRequiredInterval',
  availabilityrequiredinterval: 'availabilityRequiredInterval',
  binarydeliveryencoding: 'binaryDeliveryEncoding',
  serializationformat: 'serializationFormat',
  enableresourceleveltimestamp: 'enableResourceLevelTimestamp',
  c8y_genericui_retainoldvaluesiferror: 'retainOldValuesIfError',
  disableinternalobjectinstanceactions: 'disableInternalObjectInstanceActions',
  fwupdatedeliverymethod: 'fwUpdateDeliveryMethod',
  fwupdatesupporteddeviceprotocol: 'fwUpdateSupportedDeviceProtocol',
  fwupdateresetmechanism: 'fwUpdateResetMechanism',
  fwresetstatemachineonstart: 'fwResetStateMachineOnStart',
  fwupdateurl: 'fwUpdateURL',
  disablefirmwarestatemachine: 'disableFirmwareStateMachine',
  serverpublickey: 'serverPublicKey',
  x509clientcertificate: 'x509', x509clientprivatekey: 'x509', x509certificateusage: 'x509',
};

/** General bulk-registration columns that mean nothing to LwM2M: accepted without a warning. */
const PLATFORM_ONLY = new Set([
  'tenant', 'iccid', 'path', 'auth_type', 'c8y_genericui', 'com_cumulocity_model_agent', 'external-c8y_bootstrappskid',
]);

const REQUIRED: readonly Column[] = ['endpoint', 'securityMode'];
const SHOWN: Partial<Record<Column, string>> = { endpoint: 'endpoint id', securityMode: 'securityMode' };

const normHeader = (h: string): string => h.trim().toLowerCase().replace(/\s+/g, ' ');

const U32 = 4_294_967_295;

// ---- the importer --------------------------------------------------------------------------------

interface Cell {
  readonly value: string;
  readonly line: number;
  readonly column: number;
}

/** Reads a Cumulocity CSV file ({@link importCumulocityCsv}); an unreadable file throws. */
export async function importCumulocityCsvFile(path: string, options: Omit<CumulocityImportOptions, 'file'> = {}): Promise<CumulocityImportResult> {
  const st = await stat(path);
  if (st.size > MAX_CUMULOCITY_CSV_BYTES) {
    return { file: path, delimiter: ',', imported: [], failed: [{ line: 1, column: 1, message: `file is ${st.size} bytes, at most ${MAX_CUMULOCITY_CSV_BYTES} are read` }], failedRows: 0, warnings: [] };
  }
  return importCumulocityCsv(await readFile(path, 'utf8'), { ...options, file: path });
}

/**
 * Imports the text of a Cumulocity LwM2M bulk-registration CSV. Never throws on bad content: every
 * problem is in `failed` (with its line and column), every good row in `imported`.
 */
export function importCumulocityCsv(text: string, options: CumulocityImportOptions = {}): CumulocityImportResult {
  const file = options.file;
  const maxRows = options.maxRows ?? 1_000_000;
  const delimiter = detectDelimiter(text);
  const failed: ImportFailure[] = [];
  const warnings: ImportFailure[] = [];
  const result = (imported: CumulocityDevice[], failedRows: number): CumulocityImportResult => ({
    ...(file !== undefined ? { file } : {}), delimiter, imported, failed: failed.sort((a, b) => a.line - b.line || a.column - b.column), failedRows, warnings,
  });
  if (text.length > MAX_CUMULOCITY_CSV_BYTES) {
    failed.push({ line: 1, column: 1, message: `${text.length} characters, at most ${MAX_CUMULOCITY_CSV_BYTES} are read` });
    return result([], 0);
  }
  const { records, errors } = parseCsvTolerant(text, delimiter);
  const head = records[0];
  const headerBroken = errors.length > 0 && (head === undefined || (errors[0] as ImportFailure).line <= head.line);
  if (head === undefined || headerBroken) {
    failed.push(...errors);
    if (head === undefined && errors.length === 0) failed.push({ line: 1, column: 1, message: 'the CSV is empty: it needs a header row (endpoint id, securityMode, …)' });
    else if (headerBroken) failed.push({ line: 1, column: 1, message: 'the header row cannot be read; nothing imported' });
    return result([], 0);
  }
  const failedLines = new Set<number>(errors.map((e) => e.line));
  failed.push(...errors);

  // Header → columns.
  const headerProblems = failed.length;
  const columnIndex = new Map<Column, number>();
  head.fields.forEach((f, i) => {
    const h = normHeader(f.value);
    const col = HEADERS[h];
    if (col !== undefined) {
      if (columnIndex.has(col)) failed.push({ line: f.line, column: f.col, message: `duplicate column "${f.value.trim()}"` });
      else columnIndex.set(col, i);
    } else if (h === '') {
      // An empty header (a trailing delimiter): its cells are ignored.
    } else if (!PLATFORM_ONLY.has(h)) {
      warnings.push({ line: f.line, column: f.col, message: `unknown column "${f.value.trim()}" is ignored` });
    }
  });
  const missing = REQUIRED.filter((c) => !columnIndex.has(c));
  const body = records.slice(1);
  if (missing.length > 0 || failed.length > headerProblems) {
    for (const c of missing) failed.push({ line: head.line, column: 1, message: `missing required column "${SHOWN[c] ?? c}"` });
    failed.push({ line: head.line, column: 1, message: `the header is not usable: none of the ${body.length} rows is imported` });
    return result([], body.length);
  }
  if (body.length > maxRows) {
    failed.push({ line: head.line, column: 1, message: `${body.length} rows, at most ${maxRows} are imported` });
    return result([], body.length);
  }
  for (const col of ['serverPublicKey', 'x509'] as const) {
    const i = columnIndex.get(col);
    if (i !== undefined && body.some((r) => (r.fields[i]?.value ?? '').trim() !== '')) {
      const f = head.fields[i];
      warnings.push({ line: f?.line ?? head.line, column: f?.col ?? 1, message: `column "${f?.value.trim() ?? col}" is ignored: only NO_SEC and PSK are supported` });
    }
  }

  const imported: CumulocityDevice[] = [];
  const endpoints = new Map<string, number>();
  const dmIdentities = new Map<string, number>();
  const bsIdentities = new Map<string, number>();
  for (const rec of body) {
    const device = importRow(rec, head.fields.length, columnIndex, { endpoints, dmIdentities, bsIdentities }, options, failed);
    if (device) imported.push(device);
    else failedLines.add(rec.line);
  }
  return result(imported, failedLines.size);
}

interface Seen {
  endpoints: Map<string, number>;
  dmIdentities: Map<string, number>;
  bsIdentities: Map<string, number>;
}

function importRow(
  rec: CsvRecord, headerWidth: number, columns: ReadonlyMap<Column, number>, seen: Seen, options: CumulocityImportOptions, failed: ImportFailure[],
): CumulocityDevice | undefined {
  const problems: ImportFailure[] = [];
  const fail = (c: { line: number; column: number } | undefined, message: string): void => {
    problems.push({ line: c?.line ?? rec.line, column: c?.column ?? 1, message });
  };
  if (rec.fields.length > headerWidth) {
    const f = rec.fields[headerWidth];
    fail(f ? { line: f.line, column: f.col } : undefined, `row has ${rec.fields.length} fields, the header ${headerWidth}`);
  }
  const cell = (c: Column): Cell | undefined => {
    const i = columns.get(c);
    if (i === undefined) return undefined;
    const f = rec.fields[i];
    if (!f || f.value.trim() === '') return undefined;
    return { value: f.value.trim(), line: f.line, column: f.col };
  };
  const text = (c: Column): string | undefined => cell(c)?.value;
  const int = (c: Column, name: string, min: number, max: number): number | undefined => {
    const x = cell(c);
    if (x === undefined) return undefined;
    const n = /^[0-9]+$/.test(x.value) ? Number(x.value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      fail(x, `${name} must be an integer in ${min}..${max}, got "${short(x.value)}"`);
      return undefined;
    }
    return n;
  };
  const bool = (c: Column, name: string): boolean | undefined => {
    const x = cell(c);
    if (x === undefined) return undefined;
    const v = x.value.toLowerCase();
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    fail(x, `${name} must be true or false, got "${short(x.value)}"`);
    return undefined;
  };
  const oneOf = <T extends string>(c: Column, name: string, allowed: readonly T[]): T | undefined => {
    const x = cell(c);
    if (x === undefined) return undefined;
    const v = x.value.toUpperCase();
    if ((allowed as readonly string[]).includes(v)) return v as T;
    fail(x, `${name} "${short(x.value)}" is not one of ${allowed.join(', ')}`);
    return undefined;
  };

  // Device.
  const ep = cell('endpoint');
  let endpoint: string | undefined;
  if (ep === undefined) fail({ line: rec.line, column: colOf(rec, columns, 'endpoint') }, 'endpoint id is empty (it is mandatory)');
  else {
    const bad = checkEndpointName(ep.value);
    if (bad) fail(ep, `endpoint id: ${bad.diagnostic}`);
    else if (/\s/.test(ep.value)) fail(ep, `endpoint id "${short(ep.value)}" contains white space`);
    else endpoint = ep.value;
  }
  const id = text('id');

  // Security.
  const modes = ['NO_SEC', 'PSK'] as const;
  const sm = cell('securityMode');
  let dmMode: 'nosec' | 'psk' | undefined;
  if (sm === undefined) fail({ line: rec.line, column: colOf(rec, columns, 'securityMode') }, 'securityMode is empty (NO_SEC or PSK)');
  else {
    const v = oneOf('securityMode', 'securityMode', modes);
    if (v !== undefined) dmMode = v === 'PSK' ? 'psk' : 'nosec';
  }
  const bsModeCell = oneOf('bootstrapSecurityMode', 'bootstrapSecurityMode', modes);
  const dmId = cell('lwm2mPskId');
  const dmKeyCell = cell('lwm2mPskKey');
  const bsId = cell('bootstrapPskId');
  const bsKeyCell = cell('bootstrapPskKey');
  const key = (x: Cell | undefined, name: string): Uint8Array | undefined => {
    if (x === undefined) return undefined;
    const k = parseHexKey(x.value);
    if (!k.ok) {
      fail(x, `${name} ${k.reason}`);
      return undefined;
    }
    return k.bytes;
  };
  const dmKey = key(dmKeyCell, 'lwm2m psk_key');
  const bsKey = key(bsKeyCell, 'bootstrap psk_key');
  let dm: ConnectionSecurity | undefined;
  if (dmMode === 'psk') {
    if (dmId === undefined) fail({ line: rec.line, column: colOf(rec, columns, 'lwm2mPskId', 'securityMode') }, 'securityMode PSK needs "lwm2m psk_id"');
    if (dmKeyCell === undefined) fail({ line: rec.line, column: colOf(rec, columns, 'lwm2mPskKey', 'securityMode') }, 'securityMode PSK needs "lwm2m psk_key"');
    if (dmId !== undefined && dmKey !== undefined) dm = { mode: 'psk', identity: dmId.value, key: dmKey };
  } else if (dmMode === 'nosec') {
    if (dmId !== undefined) fail(dmId, 'lwm2m psk_id is set but securityMode is NO_SEC');
    if (dmKeyCell !== undefined) fail(dmKeyCell, 'lwm2m psk_key is set but securityMode is NO_SEC');
    dm = { mode: 'nosec' };
  }
  // Bootstrap: its own column when there is one; else PSK when bootstrap credentials are given, and
  // required for PSK devices (Cumulocity: "bootstrap psk_id … Yes for PSK").
  const bsMode: 'nosec' | 'psk' | undefined = bsModeCell !== undefined ? (bsModeCell === 'PSK' ? 'psk' : 'nosec')
    : bsId !== undefined || bsKeyCell !== undefined ? 'psk' : dmMode;
  let bootstrap: ConnectionSecurity | undefined;
  if (bsMode === 'psk') {
    const at = { line: rec.line, column: colOf(rec, columns, 'bootstrapPskId', 'securityMode') };
    if (bsId === undefined) fail(at, `${bsModeCell !== undefined ? 'bootstrapSecurityMode' : 'securityMode'} PSK needs "bootstrap psk_id"`);
    if (bsKeyCell === undefined) fail({ ...at, column: colOf(rec, columns, 'bootstrapPskKey', 'securityMode') }, `${bsModeCell !== undefined ? 'bootstrapSecurityMode' : 'securityMode'} PSK needs "bootstrap psk_key"`);
    if (bsId !== undefined && bsKey !== undefined) bootstrap = { mode: 'psk', identity: bsId.value, key: bsKey };
  } else if (bsMode === 'nosec') {
    if (bsModeCell !== undefined) {
      if (bsId !== undefined) fail(bsId, 'bootstrap psk_id is set but bootstrapSecurityMode is NO_SEC');
      if (bsKeyCell !== undefined) fail(bsKeyCell, 'bootstrap psk_key is set but bootstrapSecurityMode is NO_SEC');
    }
    bootstrap = { mode: 'nosec' };
  }

  // Bootstrap settings.
  const uriCell = cell('serverUri');
  if (uriCell !== undefined && dmMode !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(uriCell.value);
    } catch {
      fail(uriCell, `lwm2m server uri "${short(uriCell.value)}" is not a URI (coap://host:port or coaps://host:port)`);
    }
    if (url) {
      const want = dmMode === 'psk' ? 'coaps:' : 'coap:';
      if (url.protocol !== 'coap:' && url.protocol !== 'coaps:') fail(uriCell, `lwm2m server uri scheme ${url.protocol} is not coap: or coaps:`);
      else if (url.hostname === '') fail(uriCell, `lwm2m server uri "${short(uriCell.value)}" has no host`);
      else if (url.protocol !== want) fail(uriCell, `securityMode ${dmMode === 'psk' ? 'PSK' : 'NO_SEC'} needs a ${want}// URI, got "${short(uriCell.value)}"`);
    }
  }
  const awakeTimeMs = int('awakeTime', 'awakeTimeRegistrationParameter (ms)', 0, 2_147_483_647);
  const securityInstanceOffset = int('securityInstanceOffset', 'securityInstanceOffset', 0, 65533) ?? 0;
  const bootstrapShortServerId = int('bootstrapShortServerId', 'bootstrapShortServerId', 0, 65535) ?? 0;
  const lwm2mShortServerId = int('lwm2mShortServerId', 'lwm2mShortServerId', 1, 65534) ?? 1;
  const lifetime = int('registrationLifetime', 'registrationLifetime (s)', 1, U32);
  const pmin = int('defaultMinimumPeriod', 'defaultMinimumPeriod (s)', 0, U32);
  const pmax = int('defaultMaximumPeriod', 'defaultMaximumPeriod (s)', 0, U32);
  if (pmin !== undefined && pmax !== undefined && pmax < pmin) fail(cell('defaultMaximumPeriod'), `defaultMaximumPeriod ${pmax} is below defaultMinimumPeriod ${pmin}`);
  const binding = oneOf('bindingMode', 'bindingMode', ['U', 'UQ'] as const);
  const notificationIfDisabled = bool('notificationIfDisabled', 'notificationIfDisabled');
  const shell = bool('shell', 'SHELL');

  // Agent settings.
  const settings: CumulocityAgentSettings = compact({
    lwm2mRequestTimeoutMs: int('lwm2mRequestTimeout', 'lwm2mRequestTimeout (ms)', 1, 2_147_483_647),
    disableTimeout: int('disableTimeout', 'disableTimeout (s)', 0, U32),
    generateBootstrapServerConfig: bool('generateBootstrapServerConfig', 'generateBootstrapServerConfig'),
    autoManageAvailabilityRequiredInterval: bool('autoManageAvailabilityRequiredInterval', 'autoManageAvailabilityRequiredInterval'),
    availabilityRequiredInterval: int('availabilityRequiredInterval', 'availabilityRequiredInterval', 0, U32),
    binaryDeliveryEncoding: oneOf('binaryDeliveryEncoding', 'binaryDeliveryEncoding', ['OPAQUE', 'TLV', 'JSON', 'TEXT'] as const),
    serializationFormat: oneOf('serializationFormat', 'serializationFormat', ['TLV', 'JSON', 'CBOR', 'TEXT', 'OPAQUE', 'SENML_JSON', 'SENML_CBOR'] as const),
    enableResourceLevelTimestamp: bool('enableResourceLevelTimestamp', 'enableResourceLevelTimestamp'),
    retainOldValuesIfError: bool('retainOldValuesIfError', 'c8y_GenericUI_retainOldValuesIfError'),
    disableInternalObjectInstanceActions: bool('disableInternalObjectInstanceActions', 'disableInternalObjectInstanceActions'),
  });

  // FOTA.
  const urlCell = cell('fwUpdateURL');
  if (urlCell !== undefined) {
    try {
      const u = new URL(urlCell.value);
      if (!['coap:', 'coaps:', 'http:', 'https:'].includes(u.protocol)) fail(urlCell, `fwUpdateURL scheme ${u.protocol} is not coap, coaps, http or https`);
    } catch {
      fail(urlCell, `fwUpdateURL "${short(urlCell.value)}" is not a URL`);
    }
  }
  const fota: CumulocityFotaSettings = compact({
    deliveryMethod: oneOf('fwUpdateDeliveryMethod', 'fwUpdateDeliveryMethod', ['PUSH', 'PULL', 'BOTH'] as const),
    supportedDeviceProtocol: oneOf('fwUpdateSupportedDeviceProtocol', 'fwUpdateSupportedDeviceProtocol', ['COAP', 'COAPS', 'HTTP', 'HTTPS'] as const),
    resetMechanism: oneOf('fwUpdateResetMechanism', 'fwUpdateResetMechanism', ['PACKAGE', 'PACKAGE_URI'] as const),
    resetStateMachineOnStart: bool('fwResetStateMachineOnStart', 'fwResetStateMachineOnStart'),
    url: urlCell?.value,
    disableStateMachine: bool('disableFirmwareStateMachine', 'disableFirmwareStateMachine'),
  });

  // Uniqueness (Cumulocity: endpoint id, lwm2m psk_id and bootstrap psk_id are unique).
  if (endpoint !== undefined && ep !== undefined) {
    const first = seen.endpoints.get(endpoint);
    if (first !== undefined) fail(ep, `duplicate endpoint id "${endpoint}" (first on line ${first})`);
  }
  if (dm?.identity !== undefined && dmId !== undefined) {
    const first = seen.dmIdentities.get(dm.identity);
    if (first !== undefined) fail(dmId, `duplicate lwm2m psk_id "${dm.identity}" (first on line ${first})`);
  }
  if (bootstrap?.identity !== undefined && bsId !== undefined) {
    const first = seen.bsIdentities.get(bootstrap.identity);
    if (first !== undefined) fail(bsId, `duplicate bootstrap psk_id "${bootstrap.identity}" (first on line ${first})`);
  }

  // The bootstrap config, checked by the Bootstrap-Server's own validation as a backstop.
  let bootstrapConfig: BootstrapConfig | undefined;
  if (problems.length === 0 && endpoint !== undefined && dm !== undefined && uriCell !== undefined) {
    const account: BootstrapServerAccount = {
      shortServerId: lwm2mShortServerId,
      uri: uriCell.value,
      securityMode: dm.mode,
      ...(dm.mode === 'psk' ? { pskIdentity: dm.identity as string, pskKey: toHex(dm.key as Uint8Array) } : {}),
      ...(lifetime !== undefined ? { lifetime } : {}),
      ...(binding !== undefined ? { binding } : {}),
      ...(pmin !== undefined ? { defaultPmin: pmin } : {}),
      ...(pmax !== undefined ? { defaultPmax: pmax } : {}),
      ...(notificationIfDisabled !== undefined ? { notificationStoring: notificationIfDisabled } : {}),
    };
    const config: BootstrapConfig = { endpoint, servers: [account] };
    // securityInstanceOffset: "the first instance to be used during bootstrap to which entries are
    // written". 0 (the default) keeps the Bootstrap-Server's own choice, which never overwrites the
    // client's Bootstrap-Server account at /0/0.
    const bsAccount = settings.generateBootstrapServerConfig === true && bootstrap !== undefined
      ? bootstrapAccountOf(bootstrap, uriCell.value, options.bootstrapServerUri) : undefined;
    if (bsAccount) config.bootstrapServer = securityInstanceOffset > 0 ? { ...bsAccount, instanceId: securityInstanceOffset } : bsAccount;
    if (securityInstanceOffset > 0) {
      account.securityInstanceId = securityInstanceOffset + (bsAccount ? 1 : 0);
      account.serverInstanceId = securityInstanceOffset;
    }
    const checked = validateBootstrapConfig(config);
    if (!checked.ok) for (const i of checked.issues) fail(uriCell, `bootstrap config ${i.pointer}: ${i.message}`);
    else bootstrapConfig = checked.config;
  }

  if (problems.length > 0) {
    failed.push(...problems);
    return undefined;
  }
  const ok = endpoint as string;
  seen.endpoints.set(ok, rec.line);
  if (dm?.identity !== undefined) seen.dmIdentities.set(dm.identity, rec.line);
  if (bootstrap?.identity !== undefined) seen.bsIdentities.set(bootstrap.identity, rec.line);
  const type = text('type');
  const name = text('name');
  const idType = text('idType');
  return {
    line: rec.line,
    endpoint: ok,
    dm: dm as ConnectionSecurity,
    ...(bootstrap !== undefined ? { bootstrap } : {}),
    ...(id !== undefined ? { id } : {}),
    ...(idType !== undefined ? { idType } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(shell !== undefined ? { shell } : {}),
    ...(uriCell !== undefined ? { serverUri: uriCell.value } : {}),
    ...(bootstrapConfig !== undefined ? { bootstrapConfig } : {}),
    ...(awakeTimeMs !== undefined ? { awakeTimeMs } : {}),
    bootstrapShortServerId,
    lwm2mShortServerId,
    securityInstanceOffset,
    fota,
    settings,
  };
}

/** The Bootstrap-Server account written back (generateBootstrapServerConfig). */
function bootstrapAccountOf(bs: ConnectionSecurity, serverUri: string, explicit: string | undefined): BootstrapConfig['bootstrapServer'] {
  let uri = explicit;
  if (uri === undefined) {
    const u = new URL(serverUri);
    // Cumulocity's layout: bootstrap 5683 (plain) / 5684 (DTLS) on the LwM2M host.
    uri = `${bs.mode === 'psk' ? 'coaps' : 'coap'}://${u.host.replace(/:\d+$/, '')}:${bs.mode === 'psk' ? 5684 : 5683}`;
  }
  return bs.mode === 'psk'
    ? { uri, securityMode: 'psk', pskIdentity: bs.identity as string, pskKey: toHex(bs.key as Uint8Array) }
    : { uri, securityMode: 'nosec' };
}

/** The column of `c` in this row (1-based), else of `fallback`, else 1: where to point at an empty cell. */
function colOf(rec: CsvRecord, columns: ReadonlyMap<Column, number>, c: Column, fallback?: Column): number {
  for (const col of [c, fallback]) {
    if (col === undefined) continue;
    const i = columns.get(col);
    const f = i === undefined ? undefined : rec.fields[i];
    if (f) return f.col;
  }
  return 1;
}

function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
