/**
 * Bootstrap-Server configuration: the type (one per endpoint, plus a default), its validation, and the
 * store interface the Bootstrap-Server reads and the HTTP API (`/api/v1/bootstrap/configs/{ep}`) writes.
 *
 * Validation is two passes: the JSON Schema ({@link bootstrapConfigSchema}, shapes) through Ajv, then the
 * checks a schema cannot express — paths, URIs against the security mode, hex keys, unique ids, and every
 * `objects` value against the object model. Each problem is a {@link ConfigIssue} with a JSON pointer
 * (config-file.ts turns pointers into `file:line:col`).
 */
import { Ajv, type ErrorObject } from 'ajv';
import { LwM2MError } from '../../core/errors.js';
import { tryParsePath, type LwM2MPath } from '../../core/path.js';
import { ContentFormat } from '../../codec/content-format.js';
import { loadBuiltinRegistry } from '../../model/builtin.js';
import type { ModelLookup } from '../../model/types.js';
import { checkEndpointName } from '../registration/parse.js';
import { bootstrapConfigSchema } from './config-schema.js';
import { hexBytes, toResourceNode, type BootstrapResourceValue } from './resource-values.js';
import { escapePointer } from '../../core/yaml-pointer.js';

export { bootstrapConfigSchema } from './config-schema.js';
export type { BootstrapResourceValue, BootstrapScalar } from './resource-values.js';

// ---- the type ------------------------------------------------------------------------------------

/** Content formats a config may ask for, by their HTTP API / CLI name. */
export const BOOTSTRAP_CONTENT_FORMATS = {
  tlv: ContentFormat.TLV,
  'senml-cbor': ContentFormat.SENML_CBOR,
  'senml-json': ContentFormat.SENML_JSON,
  'lwm2m-cbor': ContentFormat.LWM2M_CBOR,
} as const;
export type BootstrapContentFormatName = keyof typeof BOOTSTRAP_CONTENT_FORMATS;

export type BootstrapSecurityMode = 'nosec' | 'psk';

/** A DM server account: one Security (/0) and one Server (/1) instance, paired by Short Server ID. */
export interface BootstrapServerAccount {
  /** /0/x/10 = /1/x/0, 1..65534. */
  shortServerId: number;
  /** /0/x/0: `coap://host:port` (nosec) or `coaps://host:port` (psk). */
  uri: string;
  /** /1/x/1 seconds; default 300. */
  lifetime?: number;
  /** /1/x/7; default "U". */
  binding?: string;
  /** /0/x/2; default psk when `pskKey` is given, else nosec. */
  securityMode?: BootstrapSecurityMode;
  /** /0/x/3 (UTF-8). */
  pskIdentity?: string;
  /** /0/x/5, hex. */
  pskKey?: string;
  /** /1/x/2 */
  defaultPmin?: number;
  /** /1/x/3 */
  defaultPmax?: number;
  /** /1/x/6; default true. */
  notificationStoring?: boolean;
  /** Security instance id; default the lowest one not used by the Bootstrap-Server account or another account. */
  securityInstanceId?: number;
  /** Server instance id; default the lowest free one from 0. */
  serverInstanceId?: number;
}

/** The Bootstrap-Server account to (re)write: a Security instance with /0/x/1 = true. */
export interface BootstrapAccountConfig {
  uri: string;
  securityMode?: BootstrapSecurityMode;
  pskIdentity?: string;
  pskKey?: string;
  /** /0/x/11 seconds. */
  clientHoldOffTime?: number;
  /** /0/x/12 seconds. */
  accountTimeout?: number;
  /** Security instance id; default the Bootstrap-Server account Bootstrap-Discover showed, else 0. */
  instanceId?: number;
}

/** Any other object instance (Access Control /2, vendor objects…), typed by the object model. */
export interface BootstrapObjectConfig {
  /** `/2/0` */
  path: string;
  /** Resource id → value (multiple resources: instance id → value, or a list). */
  values: Readonly<Record<string, BootstrapResourceValue>>;
}

export interface BootstrapConfig {
  /** Endpoint Client Name; "default" or "*" = the default config. In a file: the file name when absent. */
  endpoint?: string;
  /** Bootstrap-Delete these first; default ["/0", "/1"] (Bootstrap-Delete never removes the Bootstrap-Server account). */
  delete?: string[];
  servers?: BootstrapServerAccount[];
  bootstrapServer?: BootstrapAccountConfig;
  objects?: BootstrapObjectConfig[];
  /** Bootstrap-Discover "/" first (default false). */
  discover?: boolean;
  /** Bootstrap-Read (1.1) of /1, /2 or their instances before Bootstrap-Finish. */
  read?: string[];
  /** Format of the writes; default the client's `pct`, else TLV. */
  contentFormat?: BootstrapContentFormatName;
}

/** Bootstrap-Delete paths when a config gives none. */
export const DEFAULT_DELETE_PATHS: readonly string[] = Object.freeze(['/0', '/1']);

// ---- endpoints and the default config --------------------------------------------------------------

/** Store key of the default config (used for endpoints without their own). */
export const DEFAULT_CONFIG_KEY = '*';

/** `"default"` and `"*"` → {@link DEFAULT_CONFIG_KEY}; any other endpoint name unchanged. */
export function configKey(endpoint: string): string {
  return endpoint === 'default' || endpoint === DEFAULT_CONFIG_KEY ? DEFAULT_CONFIG_KEY : endpoint;
}

// ---- the store -------------------------------------------------------------------------------------

export interface BootstrapConfigEntry {
  /** Endpoint name, or {@link DEFAULT_CONFIG_KEY}. */
  readonly endpoint: string;
  readonly config: BootstrapConfig;
  /** Where it came from: `file:line:col` for a loaded file, absent when put through the API. */
  readonly source?: string;
}

/**
 * Where bootstrap configs live. Keys are endpoint names; `"default"` and `"*"` both address the default
 * config (implementations normalise with {@link configKey}). `put` receives a config that passed
 * {@link validateBootstrapConfig}; implementations may validate again and reject with LWM2M_BAD_VALUE.
 */
export interface BootstrapConfigStore {
  /** The config stored under exactly this key (no fallback to the default: see {@link resolveBootstrapConfig}). */
  get(endpoint: string): Promise<BootstrapConfig | undefined>;
  put(endpoint: string, config: BootstrapConfig): Promise<void>;
  /** True when something was removed. */
  delete(endpoint: string): Promise<boolean>;
  /** Every entry, sorted by key (the default one, "*", first). */
  list(): Promise<BootstrapConfigEntry[]>;
}

/** The config the Bootstrap-Server applies to `endpoint`: its own, else the default, else none. */
export async function resolveBootstrapConfig(
  store: BootstrapConfigStore, endpoint: string,
): Promise<{ key: string; config: BootstrapConfig } | undefined> {
  const own = await store.get(endpoint);
  if (own) return { key: configKey(endpoint), config: own };
  const fallback = await store.get(DEFAULT_CONFIG_KEY);
  return fallback ? { key: DEFAULT_CONFIG_KEY, config: fallback } : undefined;
}

// ---- validation ------------------------------------------------------------------------------------

/** One problem in a config: a JSON pointer into it (`/servers/0/uri`) and what is wrong. */
export interface ConfigIssue {
  readonly pointer: string;
  readonly message: string;
  /** The problem is the key at `pointer` itself (an unknown property), not its value. */
  readonly atKey?: boolean;
  /** `file:line:col`, filled in by the file loader. */
  readonly location?: string;
}

export type ConfigValidation =
  | { readonly ok: true; readonly config: BootstrapConfig }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

export interface ConfigValidationOptions {
  /** Models for `objects` values (default: the built-in OMA models). */
  models?: ModelLookup;
}

/** `location: /pointer: message` (or `/pointer: message`), one issue per line. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.pointer === '' ? '(root)' : issue.pointer;
  return issue.location !== undefined ? `${issue.location}: ${where}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** A config (or a file of them) that does not validate; `issues` lists every problem. */
export class BootstrapConfigError extends LwM2MError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], prefix = 'invalid bootstrap config') {
    const shown = issues.slice(0, 50).map(formatConfigIssue);
    const more = issues.length > shown.length ? `\n  … and ${issues.length - shown.length} more` : '';
    super('BAD_VALUE', `${prefix}:\n  ${shown.join('\n  ')}${more}`);
    this.issues = issues;
  }
}

const ajv = new Ajv({ allErrors: true, strict: true });
const schemaValidator = ajv.compile(bootstrapConfigSchema);
let builtinModels: ModelLookup | undefined;

function schemaIssues(errors: readonly ErrorObject[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // anyOf reports every branch and then itself: keep the summary only.
    if (e.schemaPath.includes('/anyOf/')) continue;
    let issue: ConfigIssue;
    if (e.keyword === 'additionalProperty' || e.keyword === 'additionalProperties') {
      const name = String((e.params as { additionalProperty?: unknown }).additionalProperty);
      issue = { pointer: `${e.instancePath}/${escapePointer(name)}`, message: `unknown property "${name}"`, atKey: true };
    } else if (e.keyword === 'required') {
      const name = String((e.params as { missingProperty?: unknown }).missingProperty);
      issue = { pointer: e.instancePath, message: `missing required property "${name}"` };
    } else if (e.keyword === 'anyOf') {
      issue = { pointer: e.instancePath, message: 'must be a string, number or boolean (a multiple resource: a map of instance id → value, or a list)' };
    } else if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues ?? [];
      issue = { pointer: e.instancePath, message: `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}` };
    } else {
      issue = { pointer: e.instancePath, message: e.message ?? e.keyword };
    }
    const key = `${issue.pointer}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

const URI_SCHEMES: Readonly<Record<string, BootstrapSecurityMode>> = { 'coap:': 'nosec', 'coaps:': 'psk' };

/** The security mode an account gets: explicit, else psk when a key is given, else nosec. */
export function securityModeOf(a: { securityMode?: BootstrapSecurityMode; pskKey?: string }): BootstrapSecurityMode {
  return a.securityMode ?? (a.pskKey !== undefined ? 'psk' : 'nosec');
}

function checkAccount(
  a: { uri: string; securityMode?: BootstrapSecurityMode; pskIdentity?: string; pskKey?: string }, at: string, issues: ConfigIssue[],
): void {
  const mode = securityModeOf(a);
  let url: URL | undefined;
  try {
    url = new URL(a.uri);
  } catch {
    issues.push({ pointer: `${at}/uri`, message: `"${a.uri}" is not a URI (coap://host:port or coaps://host:port)` });
  }
  if (url) {
    const expected = URI_SCHEMES[url.protocol];
    if (expected === undefined) issues.push({ pointer: `${at}/uri`, message: `scheme ${url.protocol} is not coap: or coaps:` });
    else if (url.hostname === '') issues.push({ pointer: `${at}/uri`, message: `"${a.uri}" has no host` });
    else if (expected !== mode) {
      issues.push({
        pointer: `${at}/uri`,
        message: mode === 'psk' ? `securityMode psk needs a coaps:// URI, not "${a.uri}"` : `a coaps:// URI needs securityMode psk (with pskIdentity and pskKey)`,
      });
    }
  }
  if (mode === 'psk') {
    if (a.pskIdentity === undefined) issues.push({ pointer: at, message: 'securityMode psk needs pskIdentity' });
    if (a.pskKey === undefined) issues.push({ pointer: at, message: 'securityMode psk needs pskKey' });
  } else {
    if (a.pskIdentity !== undefined) issues.push({ pointer: `${at}/pskIdentity`, message: 'pskIdentity is set but securityMode is nosec' });
    if (a.pskKey !== undefined) issues.push({ pointer: `${at}/pskKey`, message: 'pskKey is set but securityMode is nosec' });
  }
  if (a.pskKey !== undefined) {
    try {
      if (hexBytes(a.pskKey, 'pskKey').length === 0) issues.push({ pointer: `${at}/pskKey`, message: 'pskKey is empty' });
    } catch (e) {
      issues.push({ pointer: `${at}/pskKey`, message: e instanceof LwM2MError ? e.detail : String(e) });
    }
  }
}

function checkPath(text: string, at: string, issues: ConfigIssue[], rule: (p: LwM2MPath) => string | undefined): LwM2MPath | undefined {
  const p = tryParsePath(text);
  if (!p) {
    issues.push({ pointer: at, message: `"${text}" is not an LwM2M path` });
    return undefined;
  }
  const why = rule(p);
  if (why !== undefined) {
    issues.push({ pointer: at, message: why });
    return undefined;
  }
  return p;
}

function semanticIssues(c: BootstrapConfig, models: ModelLookup): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (c.endpoint !== undefined && configKey(c.endpoint) !== DEFAULT_CONFIG_KEY) {
    const bad = checkEndpointName(c.endpoint);
    if (bad) issues.push({ pointer: '/endpoint', message: bad.diagnostic });
  }
  c.delete?.forEach((d, i) => checkPath(d, `/delete/${i}`, issues, (p) => (p.depth > 2 ? `Bootstrap-Delete addresses "/", an object or an instance, not ${d}` : undefined)));
  c.read?.forEach((r, i) => checkPath(r, `/read/${i}`, issues, (p) =>
    (p.objectId !== 1 && p.objectId !== 2) || p.depth > 2 ? `Bootstrap-Read is only allowed on /1, /2 and their instances, not ${r}` : undefined));

  const ssids = new Map<number, number>();
  const securityIds = new Map<number, string>();
  const serverIds = new Map<number, number>();
  if (c.bootstrapServer) {
    checkAccount(c.bootstrapServer, '/bootstrapServer', issues);
    if (c.bootstrapServer.instanceId !== undefined) securityIds.set(c.bootstrapServer.instanceId, '/bootstrapServer/instanceId');
  }
  c.servers?.forEach((s, i) => {
    const at = `/servers/${i}`;
    const dup = ssids.get(s.shortServerId);
    if (dup !== undefined) issues.push({ pointer: `${at}/shortServerId`, message: `shortServerId ${s.shortServerId} is already used by /servers/${dup}` });
    else ssids.set(s.shortServerId, i);
    checkAccount(s, at, issues);
    if (s.binding !== undefined && (!/^[UTSNQ]{1,5}$/.test(s.binding) || new Set(s.binding).size !== s.binding.length)) {
      issues.push({ pointer: `${at}/binding`, message: `binding "${s.binding}" is not a combination of U, T, S, N and Q` });
    }
    if (s.defaultPmin !== undefined && s.defaultPmax !== undefined && s.defaultPmax < s.defaultPmin) {
      issues.push({ pointer: `${at}/defaultPmax`, message: `defaultPmax ${s.defaultPmax} is below defaultPmin ${s.defaultPmin}` });
    }
    if (s.securityInstanceId !== undefined) {
      const other = securityIds.get(s.securityInstanceId);
      if (other !== undefined) issues.push({ pointer: `${at}/securityInstanceId`, message: `Security instance ${s.securityInstanceId} is already used by ${other}` });
      else securityIds.set(s.securityInstanceId, `${at}/securityInstanceId`);
    }
    if (s.serverInstanceId !== undefined) {
      const other = serverIds.get(s.serverInstanceId);
      if (other !== undefined) issues.push({ pointer: `${at}/serverInstanceId`, message: `Server instance ${s.serverInstanceId} is already used by /servers/${other}` });
      else serverIds.set(s.serverInstanceId, i);
    }
  });

  const seenObjects = new Map<string, number>();
  c.objects?.forEach((o, i) => {
    const at = `/objects/${i}`;
    const path = checkPath(o.path, `${at}/path`, issues, (p) => {
      if (p.depth !== 2) return `objects address object instances ("/2/0"), not ${o.path}`;
      if (p.objectId === 0 || p.objectId === 1) return `Security and Server instances come from "servers" and "bootstrapServer", not objects (${o.path})`;
      return undefined;
    });
    if (!path) return;
    const key = path.toString();
    const dup = seenObjects.get(key);
    if (dup !== undefined) {
      issues.push({ pointer: `${at}/path`, message: `${key} is already written by /objects/${dup}` });
      return;
    }
    seenObjects.set(key, i);
    const model = models.getObject(path.objectId as number);
    if (!model) {
      issues.push({ pointer: `${at}/path`, message: `no model for object ${path.objectId as number} (add its DDF to the server's models)` });
      return;
    }
    for (const [rid, raw] of Object.entries(o.values)) {
      const rat = `${at}/values/${escapePointer(rid)}`;
      const rm = model.resources.get(Number(rid));
      if (!rm) {
        issues.push({ pointer: rat, message: `object ${model.id} (${model.name} ${model.version}) has no resource ${rid}`, atKey: true });
        continue;
      }
      try {
        toResourceNode(rm, raw, `${key}/${rid}`);
      } catch (e) {
        if (!(e instanceof LwM2MError)) throw e;
        issues.push({ pointer: rat, message: e.detail });
      }
    }
  });
  return issues;
}

/**
 * Validates a parsed JSON/YAML value as a {@link BootstrapConfig}: every problem is reported (not only
 * the first), each with a JSON pointer. The returned config is a deep copy of the input.
 */
export function validateBootstrapConfig(input: unknown, options: ConfigValidationOptions = {}): ConfigValidation {
  if (!schemaValidator(input)) return { ok: false, issues: schemaIssues(schemaValidator.errors ?? []) };
  const config = structuredClone(input) as BootstrapConfig;
  const models = options.models ?? (builtinModels ??= loadBuiltinRegistry());
  const issues = semanticIssues(config, models);
  return issues.length > 0 ? { ok: false, issues } : { ok: true, config };
}

/** {@link validateBootstrapConfig}, throwing {@link BootstrapConfigError} (LWM2M_BAD_VALUE) when invalid. */
export function parseBootstrapConfig(input: unknown, options: ConfigValidationOptions = {}): BootstrapConfig {
  const r = validateBootstrapConfig(input, options);
  if (!r.ok) throw new BootstrapConfigError(r.issues);
  return r.config;
}
