import { LwM2MError } from '../../core/errors.js';
import { parseRegistrationLinks, type RegistrationLinks } from '../../codec/link.js';
import { failure, type RegistrationFailure, type RegistrationRequest } from './request.js';

/**
 * Validation of Register and Update requests (LwM2M-TS-Core 1.1 §6.2.1, §6.2.2; 1.0 §5.3.1, §5.3.2;
 * Transport 1.1 §6.2). Pure functions: a bad request is a {@link RegistrationFailure} value with the
 * CoAP code and a diagnostic for the response payload, never an exception.
 *
 * Response codes stay inside the Register/Update tables (Core 1.1 §6.2.1/§6.2.2; the LwM2M 1.0 response
 * code table says "these are the only valid response codes"): 4.00 for anything malformed — including a payload whose
 * Content-Format isn't link-format, where plain CoAP would say 4.15 — and 4.12 for an LwM2M version the
 * server does not speak (what Leshan answers too: `preconditionFailed("unsupported lwm2m version")`).
 */

export type LwM2MVersion = '1.0' | '1.1' | '1.2';

/** Query parameters (Core 1.1 Table 6.2.1-1). `at` is not in the TS: an awake-time hint some platforms use. */
export type RegistrationParam = 'ep' | 'lt' | 'lwm2m' | 'b' | 'sms' | 'Q' | 'at';

/** Core 1.1 §6.2.1: "If the Lifetime parameter is not included, the default value is 86400 seconds". */
export const DEFAULT_LIFETIME_S = 86400;

/**
 * Upper bound of `ep` in UTF-8 bytes. CoAP carries each query parameter in one Uri-Query option of at most
 * 255 bytes (RFC 7252 §5.10), so `ep=` + name can never exceed 255: a longer name cannot arrive over CoAP
 * and is rejected from any other source (HTTP API, tests) for the same reason. RFC 9176 (CoRE RD) caps
 * `ep` at 63 bytes; LwM2M sets no limit and URN endpoint names (`urn:dev:ops:…`) can be longer, so the
 * CoAP bound it is.
 */
export const MAX_ENDPOINT_BYTES = 252;

/**
 * `lt` range. LwM2M only says "Lifetime, seconds"; RFC 9176 §5 (whose `lt` LwM2M reuses) gives 1–4294967295.
 * 0 would register a client that is already expired, so it is refused rather than silently kept for one sweep.
 */
export const MAX_LIFETIME_S = 0xffff_ffff;

/** At most this many unknown query parameters are kept (as `additionalAttributes`); more are dropped. */
export const MAX_ADDITIONAL_ATTRIBUTES = 16;

const LINK_FORMAT = 40;

export interface RegistrationParseOptions {
  /** LwM2M versions the server accepts; others get 4.12. Default `['1.0', '1.1']`. */
  supportedVersions?: readonly LwM2MVersion[];
  /** Passed to {@link parseRegistrationLinks}: Security /0 and OSCORE /21 in the list are dropped (default) or 4.00. */
  securityObjects?: 'ignore' | 'reject';
  /** Cap on links in the payload (default the codec's MAX_LINKS). */
  maxLinks?: number;
}

export const DEFAULT_SUPPORTED_VERSIONS: readonly LwM2MVersion[] = ['1.0', '1.1'];

export interface ParsedRegister {
  readonly endpoint: string;
  /** Seconds. */
  readonly lifetime: number;
  readonly lwm2mVersion: LwM2MVersion;
  /** Transport letters without Q, as sent (`U`, `US`, `UT`); `U` when `b` is absent (Core 1.1 Table 6.2.1-1). */
  readonly binding: string;
  readonly queueMode: boolean;
  readonly sms?: string;
  /** Seconds (non-standard `at`). */
  readonly awakeTime?: number;
  readonly links: RegistrationLinks;
  /** Unknown query parameters, kept as Leshan keeps them ("additional registration attributes"). */
  readonly additionalAttributes?: Readonly<Record<string, string>>;
}

/** An Update (Core 1.1 §6.2.2): only what the client sent; absent means unchanged. */
export interface ParsedUpdate {
  readonly lifetime?: number;
  readonly binding?: string;
  /**
   * 1.0: follows the Q letter of `b` when `b` is present. 1.1+: `true` when the bare `Q` is present, else
   * absent (unchanged) — Update parameters are only sent when they changed, and a bare flag cannot say
   * "off"; Leshan likewise never changes queue mode on Update. A client leaves queue mode by registering.
   */
  readonly queueMode?: boolean;
  readonly sms?: string;
  readonly awakeTime?: number;
  readonly links?: RegistrationLinks;
  readonly additionalAttributes?: Readonly<Record<string, string>>;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | RegistrationFailure;

export type RegistrationRoute =
  | { readonly kind: 'register' }
  | { readonly kind: 'update'; readonly registrationId: string }
  | { readonly kind: 'deregister'; readonly registrationId: string }
  | RegistrationFailure;

/** Root of the registration resource (`/rd`, Core 1.1 §6.2.1). */
export const RD_PATH = 'rd';

/**
 * Which operation a request is: Register `POST /rd`, Update `POST /rd/<id>`, De-register `DELETE /rd/<id>`
 * (Core 1.1 §6.2, Transport 1.1 §6.2 Table 6.2-1). Other methods on these paths → 4.05, deeper paths → 4.04.
 */
export function routeRegistrationRequest(req: Pick<RegistrationRequest, 'method' | 'uriPath'>): RegistrationRoute {
  const path = req.uriPath;
  if (path[0] !== RD_PATH || path.length > 2) return failure('4.04', `no resource /${path.slice(0, 4).join('/')}`);
  if (path.length === 1) {
    return req.method === 'POST' ? { kind: 'register' } : failure('4.05', `${req.method} is not allowed on /rd (Register is POST)`);
  }
  const registrationId = path[1] as string;
  if (registrationId === '') return failure('4.04', 'empty registration id in /rd/');
  if (req.method === 'POST') return { kind: 'update', registrationId };
  if (req.method === 'DELETE') return { kind: 'deregister', registrationId };
  return failure('4.05', `${req.method} is not allowed on /rd/<id> (Update is POST, De-register is DELETE)`);
}

// ---------------------------------------------------------------------------------------------------

const utf8 = new TextEncoder();

/** A client-supplied value in a diagnostic: quoted, escaped, and cut so a diagnostic stays small. */
function show(v: string): string {
  return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
}

interface QueryParams {
  known: Map<RegistrationParam, string | null>;
  unknown: Map<string, string> | undefined;
}

/**
 * Splits `name=value` options. Known parameters may appear once (a duplicate is ambiguous: 4.00). Unknown
 * ones are ignored for validation and kept (first value wins, at most {@link MAX_ADDITIONAL_ATTRIBUTES}):
 * Leshan keeps them as additional attributes and platforms send their own (`apn`, `imei`). Core 1.0's
 * response table lists "unknown parameter" under 4.00, but no deployed server enforces it and 1.1 dropped
 * that wording, so tolerance wins.
 */
function splitQuery(query: readonly string[], known: ReadonlySet<string>): QueryParams | RegistrationFailure {
  const out: QueryParams = { known: new Map(), unknown: undefined };
  for (const q of query) {
    if (typeof q !== 'string') return failure('4.00', 'a query parameter is not a string');
    const eq = q.indexOf('=');
    const name = eq < 0 ? q : q.slice(0, eq);
    const value = eq < 0 ? null : q.slice(eq + 1);
    if (name === '') return failure('4.00', `malformed query parameter ${show(q)}: no name`);
    if (known.has(name)) {
      const key = name as RegistrationParam;
      if (out.known.has(key)) return failure('4.00', `duplicate query parameter ${name}`);
      out.known.set(key, value);
    } else {
      out.unknown ??= new Map();
      if (!out.unknown.has(name) && out.unknown.size < MAX_ADDITIONAL_ATTRIBUTES) out.unknown.set(name, value ?? '');
    }
  }
  return out;
}

function isFailure(v: unknown): v is RegistrationFailure {
  return typeof v === 'object' && v !== null && (v as { ok?: unknown }).ok === false;
}

/** `name=value` with a non-empty value. */
function needValue(params: QueryParams, name: RegistrationParam): string | undefined | RegistrationFailure {
  if (!params.known.has(name)) return undefined;
  const v = params.known.get(name);
  if (v === null || v === undefined || v === '') return failure('4.00', `${name} needs a value (${name}=…)`);
  return v;
}

/** A decimal integer in `min..max`; up to 10 digits so the check is cheap and exact. */
function parseUint(name: string, text: string, min: number, max: number): number | RegistrationFailure {
  if (!/^[0-9]{1,10}$/.test(text)) return failure('4.00', `${name}=${show(text)} is not an unsigned decimal integer`);
  const n = Number(text);
  if (n < min || n > max) return failure('4.00', `${name}=${text} is out of range ${min}..${max}`);
  return n;
}

/** Endpoint Client Name (Core 1.1 §6.2.1 `ep`): any UTF-8 (as Leshan), but not empty, not oversized, no control characters. */
export function checkEndpointName(ep: string): RegistrationFailure | undefined {
  if (ep.length === 0) return failure('4.00', 'ep (Endpoint Client Name) is empty');
  const bytes = utf8.encode(ep).length;
  if (bytes > MAX_ENDPOINT_BYTES) return failure('4.00', `ep is ${bytes} bytes long, at most ${MAX_ENDPOINT_BYTES} are allowed`);
  for (let i = 0; i < ep.length; i++) {
    const c = ep.charCodeAt(i);
    // C0, DEL and C1 controls: never part of a name, and they break logs and URLs that echo it.
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      return failure('4.00', `ep contains control character U+${c.toString(16).toUpperCase().padStart(4, '0')} at index ${i}`);
    }
    // A lone surrogate means the bytes were not UTF-8 (or were decoded without care): refuse, don't repair.
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = ep.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return failure('4.00', `ep contains a lone surrogate at index ${i} (not valid UTF-8)`);
    }
    if (c >= 0xdc00 && c <= 0xdfff) return failure('4.00', `ep contains a lone surrogate at index ${i} (not valid UTF-8)`);
  }
  return undefined;
}

function parseVersion(text: string | undefined, supported: readonly LwM2MVersion[]): LwM2MVersion | RegistrationFailure {
  // Core 1.1 Table 6.2.1-1: lwm2m is optional for 1.0 clients ("1.0" is the default); 1.1 clients MUST send it.
  const v = text ?? '1.0';
  if (!/^[0-9]{1,3}\.[0-9]{1,3}$/.test(v)) return failure('4.00', `lwm2m=${show(v)} is not a version "major.minor"`);
  if (!(supported as readonly string[]).includes(v)) {
    return failure('4.12', `LwM2M version ${v} is not supported by this server (supported: ${supported.join(', ')})`);
  }
  return v as LwM2MVersion;
}

/** Transport letters of one binding value, by version. */
function bindingLetters(version: LwM2MVersion): string {
  // 1.1 Core §6.2.1.1 / Server object /1/x/7: U UDP, T TCP, S SMS, N Non-IP. 1.2 adds M (MQTT) and H (HTTP)
  // (Transport 1.2 §7, §8).
  return version === '1.2' ? 'UTSNMH' : 'UTSN';
}

/** LwM2M 1.0 §5.3.1.1 Table 9: the only binding values 1.0 defines. */
const BINDINGS_1_0: ReadonlySet<string> = new Set(['U', 'UQ', 'S', 'SQ', 'US', 'UQS']);

interface Binding {
  transports: string;
  queueMode: boolean;
}

/**
 * `b` by version. 1.0: one of U, UQ, S, SQ, US, UQS, where Q is queue mode of the transport before it.
 * 1.1+: a combination of transport letters, each at most once, queue mode being the separate bare `Q`
 * (Core 1.1 §6.2.1 Table 6.2.1-1) — `b=UQ` from a 1.1 client is refused with a diagnostic saying so.
 */
export function parseBindingParam(b: string, version: LwM2MVersion): Binding | RegistrationFailure {
  if (version === '1.0') {
    if (!BINDINGS_1_0.has(b)) return failure('4.00', `b=${show(b)} is not an LwM2M 1.0 binding (U, UQ, S, SQ, US, UQS)`);
    return { transports: b.replace('Q', ''), queueMode: b.includes('Q') };
  }
  const letters = bindingLetters(version);
  const seen = new Set<string>();
  for (const ch of b) {
    if (ch === 'Q') {
      return failure('4.00', `b=${show(b)}: in LwM2M ${version} queue mode is the bare Q parameter, b lists transports only (${letters.split('').join(', ')})`);
    }
    if (!letters.includes(ch)) return failure('4.00', `b=${show(b)}: ${show(ch)} is not an LwM2M ${version} binding letter (${letters.split('').join(', ')})`);
    if (seen.has(ch)) return failure('4.00', `b=${show(b)}: binding letter ${ch} appears twice`);
    seen.add(ch);
  }
  return { transports: b, queueMode: false };
}

/** MSISDN (ITU-T E.164): up to 15 digits, optionally written with a leading `+`. */
function parseSms(v: string): string | RegistrationFailure {
  return /^\+?[0-9]{1,15}$/.test(v) ? v : failure('4.00', `sms=${show(v)} is not an MSISDN (up to 15 digits, optional leading +)`);
}

/** The optional `sms` (MSISDN) and non-standard `at` (awake time, seconds) of a Register or Update. */
function parseSmsAndAwakeTime(params: QueryParams): { sms: string | undefined; awakeTime: number | undefined } | RegistrationFailure {
  const smsText = needValue(params, 'sms');
  if (isFailure(smsText)) return smsText;
  const sms = smsText === undefined ? undefined : parseSms(smsText);
  if (isFailure(sms)) return sms;
  const atText = needValue(params, 'at');
  if (isFailure(atText)) return atText;
  const awakeTime = atText === undefined ? undefined : parseUint('at', atText, 0, MAX_LIFETIME_S);
  if (isFailure(awakeTime)) return awakeTime;
  return { sms, awakeTime };
}

/** `Q` is a bare flag (Core 1.1 Table 6.2.1-1); only from 1.1 on. */
function parseQueueFlag(params: QueryParams, version: LwM2MVersion): boolean | RegistrationFailure {
  if (!params.known.has('Q')) return false;
  if (params.known.get('Q') !== null) return failure('4.00', 'Q is a flag and takes no value (send a bare Q)');
  if (version === '1.0') return failure('4.00', 'the bare Q parameter is LwM2M 1.1; in 1.0 queue mode is the Q letter of b (b=UQ)');
  return true;
}

function parsePayload(req: RegistrationRequest, options: RegistrationParseOptions): RegistrationLinks | RegistrationFailure {
  // Core 1.1 §6.2.1: the objects list is a CoRE Link Format payload (RFC 6690), Content-Format 40.
  if (req.contentFormat === undefined) return failure('4.00', 'the objects payload needs Content-Format 40 (application/link-format)');
  if (req.contentFormat !== LINK_FORMAT) {
    return failure('4.00', `the objects payload must be Content-Format 40 (application/link-format), not ${req.contentFormat}`);
  }
  try {
    return parseRegistrationLinks(req.payload, {
      ...(options.securityObjects !== undefined ? { securityObjects: options.securityObjects } : {}),
      ...(options.maxLinks !== undefined ? { maxLinks: options.maxLinks } : {}),
    });
  } catch (e) {
    if (e instanceof LwM2MError) return failure('4.00', `bad objects payload: ${e.message}`);
    return failure('4.00', `bad objects payload: ${String(e)}`);
  }
}

function additional(params: QueryParams): { additionalAttributes?: Readonly<Record<string, string>> } {
  if (!params.unknown || params.unknown.size === 0) return {};
  return { additionalAttributes: Object.freeze(Object.fromEntries(params.unknown)) };
}

const REGISTER_PARAMS: ReadonlySet<string> = new Set<RegistrationParam>(['ep', 'lt', 'lwm2m', 'b', 'sms', 'Q', 'at']);
const UPDATE_PARAMS: ReadonlySet<string> = new Set<RegistrationParam>(['lt', 'b', 'sms', 'Q', 'at']);

/**
 * Validates a Register (Core 1.1 §6.2.1; 1.0 §5.3.1). Checks, in this order: query syntax and duplicates,
 * `ep`, `lwm2m` (4.12 when unsupported), `lt`, `b`, `Q`, `sms`, `at`, then the link payload (required).
 */
export function parseRegister(req: RegistrationRequest, options: RegistrationParseOptions = {}): ParseResult<ParsedRegister> {
  const params = splitQuery(req.uriQuery, REGISTER_PARAMS);
  if (isFailure(params)) return params;

  const ep = needValue(params, 'ep');
  if (isFailure(ep)) return ep;
  if (ep === undefined) return failure('4.00', 'missing ep (Endpoint Client Name), mandatory in Register');
  const epError = checkEndpointName(ep);
  if (epError) return epError;

  const versionText = needValue(params, 'lwm2m');
  if (isFailure(versionText)) return versionText;
  const lwm2mVersion = parseVersion(versionText, options.supportedVersions ?? DEFAULT_SUPPORTED_VERSIONS);
  if (isFailure(lwm2mVersion)) return lwm2mVersion;

  const ltText = needValue(params, 'lt');
  if (isFailure(ltText)) return ltText;
  const lifetime = ltText === undefined ? DEFAULT_LIFETIME_S : parseUint('lt', ltText, 1, MAX_LIFETIME_S);
  if (isFailure(lifetime)) return lifetime;

  const bText = needValue(params, 'b');
  if (isFailure(bText)) return bText;
  // Core 1.1 Table 6.2.1-1: "If this parameter is missing, the LwM2M Server assumes UDP binding".
  const binding = parseBindingParam(bText ?? 'U', lwm2mVersion);
  if (isFailure(binding)) return binding;
  const q = parseQueueFlag(params, lwm2mVersion);
  if (isFailure(q)) return q;

  // sms is optional even with an S binding: the MSISDN may be provisioned out of band (1.0 Table: "Optional").
  const reach = parseSmsAndAwakeTime(params);
  if (isFailure(reach)) return reach;
  const { sms, awakeTime } = reach;

  // Core 1.1 §6.2.1: "Objects and Object Instances" is mandatory in Register.
  if (req.payload.length === 0) return failure('4.00', 'Register needs the objects payload (CoRE Link Format, Content-Format 40)');
  const links = parsePayload(req, options);
  if (isFailure(links)) return links;

  return {
    ok: true,
    value: {
      endpoint: ep,
      lifetime,
      lwm2mVersion,
      binding: binding.transports,
      queueMode: binding.queueMode || q,
      ...(sms !== undefined ? { sms } : {}),
      ...(awakeTime !== undefined ? { awakeTime } : {}),
      links,
      ...additional(params),
    },
  };
}

/**
 * Validates an Update (Core 1.1 §6.2.2; 1.0 §5.3.2) of a registration made with `lwm2mVersion`:
 * `lt`, `b`, `sms`, `Q`, `at` and the payload are all optional; absent means unchanged.
 */
export function parseUpdate(
  req: RegistrationRequest,
  lwm2mVersion: LwM2MVersion,
  options: RegistrationParseOptions = {},
): ParseResult<ParsedUpdate> {
  const params = splitQuery(req.uriQuery, UPDATE_PARAMS);
  if (isFailure(params)) return params;

  const ltText = needValue(params, 'lt');
  if (isFailure(ltText)) return ltText;
  const lifetime = ltText === undefined ? undefined : parseUint('lt', ltText, 1, MAX_LIFETIME_S);
  if (isFailure(lifetime)) return lifetime;

  const bText = needValue(params, 'b');
  if (isFailure(bText)) return bText;
  const binding = bText === undefined ? undefined : parseBindingParam(bText, lwm2mVersion);
  if (isFailure(binding)) return binding;
  const q = parseQueueFlag(params, lwm2mVersion);
  if (isFailure(q)) return q;
  const queueMode = lwm2mVersion === '1.0' ? binding?.queueMode : q ? true : undefined;

  const reach = parseSmsAndAwakeTime(params);
  if (isFailure(reach)) return reach;
  const { sms, awakeTime } = reach;

  // Core 1.1 §6.2.2: the objects list is only sent when it changed; an empty payload means "unchanged".
  let links: RegistrationLinks | undefined;
  if (req.payload.length > 0) {
    const parsed = parsePayload(req, options);
    if (isFailure(parsed)) return parsed;
    links = parsed;
  }

  return {
    ok: true,
    value: {
      ...(lifetime !== undefined ? { lifetime } : {}),
      ...(binding !== undefined ? { binding: binding.transports } : {}),
      ...(queueMode !== undefined ? { queueMode } : {}),
      ...(sms !== undefined ? { sms } : {}),
      ...(awakeTime !== undefined ? { awakeTime } : {}),
      ...(links !== undefined ? { links } : {}),
      ...additional(params),
    },
  };
}
