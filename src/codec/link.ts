import { LwM2MError } from '../core/errors.js';
import { LwM2MPath, MAX_ID, formatPath, parsePath } from '../core/path.js';

/**
 * CoRE Link Format (application/link-format, content format 40, RFC 6690) and its three LwM2M uses:
 *
 * - Register / Update payloads (LwM2M-TS-Core 1.1 §6.2.1, §6.2.2): `</>;rt="oma.lwm2m";ct=11543,</1/0>,</3303>;ver=1.1,</3303/0>`
 * - Discover responses (Core 1.0 §5.4.2; 1.1 §6.3, DM & Service Enablement interface): `</3/0>;pmax=60,</3/0/7>;dim=8;gt=50;lt=42.2`
 * - Bootstrap-Discover responses (Core 1.0 §5.2.7.3; 1.1 §6.1, Bootstrap interface): `</>;lwm2m=1.1,</0/1>;ssid=101;uri="coap://s:5683"`
 *
 * The parser is a single-pass hand scanner (no regular expression ever sees the whole payload), so any
 * input is handled in linear time. Every failure is an {@link LwM2MError} of kind `BAD_LINK` (4.00)
 * located at a character offset (`char 17`: the UTF-16 index in the decoded text, which is the byte
 * offset for ASCII payloads); invalid UTF-8 in a byte payload is located at its byte offset (`byte 3`).
 */

// ---------------------------------------------------------------------------------------------------
// Generic RFC 6690 §2
// ---------------------------------------------------------------------------------------------------

/** Default cap on the number of links in one payload (a Register payload of a large gateway is ~1000). */
export const MAX_LINKS = 4096;

/**
 * One attribute value: the text of a token or of a quoted string (unquoted, escapes resolved), or
 * `null` for an attribute written without `=value` (`;obs`, RFC 6690 §2 `link-extension = parmname`).
 * RFC 6690 does not distinguish `rt=x` from `rt="x"`, and neither does this model.
 */
export type LinkAttrValue = string | null;

export interface Link {
  /** The target URI-Reference between `<` and `>`, as written (no percent-decoding). */
  uri: string;
  /**
   * Attributes in order of first appearance. A name that appears several times (`;rt=a;rt=b`) keeps all
   * its values in order; RFC 6690 §3 forbids repeating `rt`, `if` and `sz`, but the generic parser
   * leaves that to the caller. Names are case-sensitive as written.
   */
  attributes: Map<string, LinkAttrValue[]>;
}

export interface LinkParseOptions {
  /** More links than this is a 4.00 (default {@link MAX_LINKS}). */
  maxLinks?: number;
}

/** Attributes whose RFC 6690 §2 grammar requires (anchor, title) or customarily uses (rel, rt, if) quotes. */
const RFC6690_QUOTED: ReadonlySet<string> = new Set(['anchor', 'title', 'rel', 'rev', 'rt', 'if']);
/** In LwM2M, `uri` (Bootstrap-Discover) is also always quoted (Bootstrap-Discover examples of the TS, Leshan, Anjay). */
const LWM2M_QUOTED: ReadonlySet<string> = new Set([...RFC6690_QUOTED, 'uri']);

const C_URI = 1;
const C_PARM = 2;
const C_PTOKEN = 4;
const CHAR_CLASS = new Uint8Array(128);
{
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const mark = (chars: string, cls: number): void => {
    for (let k = 0; k < chars.length; k++) {
      const c = chars.charCodeAt(k);
      CHAR_CLASS[c] = (CHAR_CLASS[c] ?? 0) | cls;
    }
  };
  // RFC 3986 §2: unreserved / gen-delims / sub-delims, and '%' for pct-encoded (checked separately).
  mark(`${alnum}-._~:/?#[]@!$&'()*+,;=%`, C_URI);
  // RFC 5987 §3.2.1 parmname = 1*attr-char (used by RFC 6690 link-extension).
  mark(`${alnum}!#$&+-.^_\`|~`, C_PARM);
  // RFC 6690 §2 ptokenchar: every visible ASCII character except DQUOTE "," ";" "\".
  for (let c = 0x21; c < 0x7f; c++) {
    if (c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c) CHAR_CLASS[c] = (CHAR_CLASS[c] ?? 0) | C_PTOKEN;
  }
}

function hasClass(c: number, cls: number): boolean {
  return c >= 0 && c < 128 && ((CHAR_CLASS[c] ?? 0) & cls) !== 0;
}

/**
 * Whitespace tolerated between the syntactic elements (not inside `<…>`, names or tokens). RFC 6690's
 * ABNF has none, but its own §5 examples wrap lines after `,` and before `;`, the LwM2M TS examples
 * put a space after `,` (`</1>, </2>`), and RFC 8288 §3 allows OWS/BWS at these places.
 */
function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function linkError(detail: string, offset: number, cause?: unknown): LwM2MError {
  return new LwM2MError('BAD_LINK', detail, { location: `char ${offset}`, cause });
}

function describeChar(text: string, i: number): string {
  if (i >= text.length) return 'end of input';
  const c = text.charCodeAt(i);
  return c >= 0x20 && c < 0x7f ? `'${text[i]}'` : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

interface RawParam {
  name: string;
  value: LinkAttrValue;
  /** Offset of the first character of the name. */
  offset: number;
}

interface ScannedLink {
  uri: string;
  /** Offset of the `<` (or of the first parameter for the bare Bootstrap-Discover header, see below). */
  offset: number;
  params: RawParam[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Byte offset of the first ill-formed UTF-8 sequence (Unicode 15 Table 3-7), or -1. */
function invalidUtf8Offset(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c === 0xe0) { need = 2; lo = 0xa0; }
    else if (c === 0xed) { need = 2; hi = 0x9f; }
    else if (c >= 0xe1 && c <= 0xef) need = 2;
    else if (c === 0xf0) { need = 3; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else if (c === 0xf4) { need = 3; hi = 0x8f; }
    else return i;
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined) return i;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

function toText(payload: string | Uint8Array): string {
  if (typeof payload === 'string') return payload;
  if (!(payload instanceof Uint8Array)) {
    throw new LwM2MError('BAD_LINK', 'link-format payload must be a string or a Uint8Array');
  }
  try {
    return utf8.decode(payload);
  } catch (e) {
    // RFC 6690 §2: the link format is UTF-8; a payload that isn't is rejected, never repaired.
    const at = invalidUtf8Offset(payload);
    throw new LwM2MError('BAD_LINK', 'payload is not valid UTF-8', { location: `byte ${Math.max(at, 0)}`, cause: e });
  }
}

/**
 * Width (1 or 2 UTF-16 units) of the character at `i` inside a quoted string; throws on control
 * characters (RFC 2616 qdtext excludes CTLs, HTAB aside) and on lone surrogates (not encodable as UTF-8).
 */
function textCharWidth(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw linkError(`control character ${describeChar(text, i)} in a quoted string`, i);
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
    throw linkError('lone surrogate in a quoted string', i);
  }
  if (c >= 0xdc00 && c <= 0xdfff) throw linkError('lone surrogate in a quoted string', i);
  return 1;
}

class Scanner {
  pos = 0;
  constructor(readonly text: string) {}

  skipWs(): void {
    const { text } = this;
    while (this.pos < text.length && isWs(text.charCodeAt(this.pos))) this.pos++;
  }

  peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  /** `"<" URI-Reference ">"`; the URI is checked against the RFC 3986 character set. */
  uri(): string {
    const { text } = this;
    const open = this.pos;
    let i = open + 1;
    for (;;) {
      if (i >= text.length) throw linkError("unterminated '<': missing '>'", open);
      const c = text.charCodeAt(i);
      if (c === 0x3e) break;
      if (c === 0x25) {
        if (!isHex(text.charCodeAt(i + 1)) || !isHex(text.charCodeAt(i + 2))) {
          throw linkError("'%' in a link target is not followed by two hex digits", i);
        }
        i += 3;
        continue;
      }
      if (!hasClass(c, C_URI)) throw linkError(`${describeChar(text, i)} is not allowed in a link target URI`, i);
      i++;
    }
    this.pos = i + 1;
    return text.slice(open + 1, i);
  }

  /** `parmname [ BWS "=" BWS ( ptoken / quoted-string ) ]` (RFC 6690 §2 link-extension, RFC 8288 §3 BWS). */
  param(): RawParam {
    const { text } = this;
    const start = this.pos;
    let i = start;
    while (i < text.length && hasClass(text.charCodeAt(i), C_PARM)) i++;
    if (i === start) throw linkError(`expected an attribute name, got ${describeChar(text, i)}`, i);
    if (text.charCodeAt(i) === 0x2a) i++; // ext-name-star (RFC 5987), e.g. title*
    const name = text.slice(start, i);
    this.pos = i;
    this.skipWs();
    if (this.peek() !== 0x3d) {
      this.pos = i; // no "=": a valueless attribute; the whitespace is the caller's
      return { name, value: null, offset: start };
    }
    this.pos++;
    this.skipWs();
    return { name, value: this.value(), offset: start };
  }

  value(): string {
    const { text } = this;
    const start = this.pos;
    if (this.peek() === 0x22) return this.quoted();
    let i = start;
    while (i < text.length && hasClass(text.charCodeAt(i), C_PTOKEN)) i++;
    if (i === start) throw linkError(`expected a value after '=', got ${describeChar(text, i)}`, i);
    this.pos = i;
    return text.slice(start, i);
  }

  /** RFC 2616 §2.2 quoted-string: `"` *( qdtext / "\" CHAR ) `"`. Escapes are resolved. */
  quoted(): string {
    const { text } = this;
    const open = this.pos;
    let i = open + 1;
    let seg = i;
    let out = '';
    for (;;) {
      if (i >= text.length) throw linkError('unterminated quoted string', open);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        this.pos = i + 1;
        return out + text.slice(seg, i);
      }
      if (c === 0x5c) {
        out += text.slice(seg, i);
        if (i + 1 >= text.length) throw linkError('unterminated quoted string', open);
        seg = i + 1;
        i += 1 + textCharWidth(text, i + 1);
        continue;
      }
      i += textCharWidth(text, i);
    }
  }
}

/**
 * The scanner behind every parser here. With `bareHeader`, a payload whose first link does not start
 * with `<` but with a parameter is read as parameters of a `</>` link: LwM2M 1.0 Bootstrap-Discover
 * responses start `lwm2m="1.0",</0/0>…` (Core 1.0.2 §5.2.7.3 examples; Anjay on 1.0 does the same).
 */
function scanLinks(text: string, maxLinks: number, bareHeader = false): ScannedLink[] {
  const s = new Scanner(text);
  const links: ScannedLink[] = [];
  s.skipWs();
  if (s.pos >= text.length) return links; // RFC 6690 §2: link-value-list = [ link-value *[ "," link-value ] ]
  for (;;) {
    const offset = s.pos;
    if (links.length >= maxLinks) throw linkError(`more than ${maxLinks} links`, offset);
    const params: RawParam[] = [];
    let uri: string;
    if (s.peek() === 0x3c) {
      uri = s.uri();
    } else if (bareHeader && links.length === 0 && hasClass(s.peek(), C_PARM)) {
      uri = '/';
      params.push(s.param());
    } else {
      throw linkError(`expected '<' to start a link, got ${describeChar(text, s.pos)}`, s.pos);
    }
    for (;;) {
      s.skipWs();
      if (s.peek() !== 0x3b) break;
      s.pos++;
      s.skipWs();
      params.push(s.param());
    }
    links.push({ uri, offset, params });
    if (s.pos >= text.length) return links;
    if (s.peek() !== 0x2c) throw linkError(`expected ',' or ';', got ${describeChar(text, s.pos)}`, s.pos);
    s.pos++;
    s.skipWs();
  }
}

function toLink(s: ScannedLink): Link {
  const attributes = new Map<string, LinkAttrValue[]>();
  for (const p of s.params) {
    const values = attributes.get(p.name);
    if (values) values.push(p.value);
    else attributes.set(p.name, [p.value]);
  }
  return { uri: s.uri, attributes };
}

function maxLinksOf(options: LinkParseOptions | undefined): number {
  const m = options?.maxLinks ?? MAX_LINKS;
  return Number.isInteger(m) && m >= 0 ? m : MAX_LINKS;
}

/**
 * Parses a CoRE Link Format payload (RFC 6690 §2). Accepts a string or the raw bytes (strict UTF-8).
 * Tolerates whitespace around `,`, `;` and `=` and at both ends; an empty payload is an empty list.
 * Throws `LWM2M_BAD_LINK` (4.00) at the offending character offset.
 */
export function parseLinkFormat(payload: string | Uint8Array, options?: LinkParseOptions): Link[] {
  return scanLinks(toText(payload), maxLinksOf(options)).map(toLink);
}

function isPtoken(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (!hasClass(v.charCodeAt(i), C_PTOKEN)) return false;
  return true;
}

function formatError(detail: string): LwM2MError {
  return new LwM2MError('BAD_LINK', `cannot format link: ${detail}`);
}

function checkUri(uri: string): void {
  if (typeof uri !== 'string') throw formatError('link target must be a string');
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c === 0x25 ? !isHex(uri.charCodeAt(i + 1)) || !isHex(uri.charCodeAt(i + 2)) : !hasClass(c, C_URI)) {
      throw formatError(`link target ${JSON.stringify(uri)} has ${describeChar(uri, i)} at ${i}, not a valid URI-Reference`);
    }
  }
}

function checkName(name: string): void {
  const body = name.endsWith('*') ? name.slice(0, -1) : name;
  let ok = typeof name === 'string' && body.length > 0;
  for (let i = 0; ok && i < body.length; i++) ok = hasClass(body.charCodeAt(i), C_PARM);
  if (!ok) throw formatError(`${JSON.stringify(name)} is not a valid attribute name (RFC 5987 parmname)`);
}

function quote(v: string): string {
  for (let i = 0; i < v.length; ) {
    try {
      i += textCharWidth(v, i);
    } catch {
      throw formatError(`attribute value ${JSON.stringify(v)} has a control character or lone surrogate at ${i}`);
    }
  }
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

function formatLinks(links: readonly Link[], alwaysQuoted: ReadonlySet<string>): string {
  const out: string[] = [];
  for (const link of links) {
    checkUri(link.uri);
    let s = `<${link.uri}>`;
    for (const [name, values] of link.attributes) {
      checkName(name);
      for (const v of values) {
        if (v === null) s += `;${name}`;
        else if (typeof v !== 'string') throw formatError(`attribute ${name} has a value that is neither a string nor null`);
        else s += `;${name}=${!alwaysQuoted.has(name) && isPtoken(v) ? v : quote(v)}`;
      }
    }
    out.push(s);
  }
  return out.join(',');
}

/**
 * Formats links as RFC 6690 §2 text with no whitespace. A value is written as a token when it is one,
 * else quoted with `"` and `\` escaped; `anchor`, `title`, `rel`, `rev`, `rt` and `if` are always quoted
 * (RFC 6690 §2 grammar and §5 examples). `parseLinkFormat(formatLinkFormat(l))` gives back `l`.
 * Throws `LWM2M_BAD_LINK` for a target that is not a URI-Reference, a bad attribute name, or a value with
 * a control character.
 */
export function formatLinkFormat(links: readonly Link[]): string {
  return formatLinks(links, RFC6690_QUOTED);
}

// ---------------------------------------------------------------------------------------------------
// Shared LwM2M helpers
// ---------------------------------------------------------------------------------------------------

const VERSION_RE = /^[0-9]+\.[0-9]+$/;
const UINT_RE = /^[0-9]+$/;
const FLOAT_RE = /^-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** Normalises an (alternate) root path: absolute, no query/fragment/empty segment, no trailing `/`. */
function normalizeRootPath(root: string, fail: (detail: string) => LwM2MError): string {
  if (typeof root !== 'string' || !root.startsWith('/')) throw fail(`root path ${JSON.stringify(root)} must start with '/'`);
  const r = root.length > 1 && root.endsWith('/') ? root.slice(0, -1) : root;
  if (r === '/') return r;
  if (/[?#]/.test(r) || r.includes('//')) throw fail(`root path ${JSON.stringify(root)} must be a plain absolute path`);
  return r;
}

/**
 * Maps a link target to an LwM2M path. With an alternate root (`/lwm2m`), `</lwm2m/3/0>` is `/3/0`;
 * an unprefixed `</3/0>` is accepted too (Wakaama announces `</alt>` but lists its objects unprefixed).
 * A trailing `/` is tolerated: the LwM2M 1.0 Bootstrap-Discover examples write `</0/1/>`.
 */
function uriToPath(uri: string, rootPath: string, offset: number): LwM2MPath {
  let rest = uri;
  if (rootPath !== '/') {
    if (uri === rootPath || uri === `${rootPath}/`) return LwM2MPath.ROOT;
    if (uri.startsWith(`${rootPath}/`)) rest = uri.slice(rootPath.length);
  }
  if (!rest.startsWith('/')) throw linkError(`link target <${uri}> is not an absolute LwM2M path`, offset);
  try {
    return parsePath(rest);
  } catch (e) {
    throw linkError(`link target <${uri}> is not an LwM2M path: ${e instanceof LwM2MError ? e.detail : String(e)}`, offset, e);
  }
}

function pathToUri(path: LwM2MPath, rootPath: string): string {
  if (rootPath === '/') return formatPath(path);
  return path.isRoot() ? rootPath : `${rootPath}${formatPath(path)}`;
}

// ---------------------------------------------------------------------------------------------------
// Register / Update payload (LwM2M-TS-Core 1.1 §6.2.1, §6.2.2; 1.0 §5.3.1)
// ---------------------------------------------------------------------------------------------------

export interface RegisteredObject {
  objectId: number;
  /** Object version from `ver` (`"1.1"`); absent means the default 1.0 (Core 1.1, "Object Versioning"). */
  version?: string;
  /** Instance ids, ascending; empty when the object is supported but has no instance (`</5>`). */
  instances: number[];
}

export interface RegistrationLinks {
  /** `/` or the alternate path announced with `rt="oma.lwm2m"` (`/lwm2m`), without a trailing slash. */
  rootPath: string;
  /** Content formats from the root link's `ct` (`ct=11543` or `ct="60 110 112"`), in payload order; empty if none. */
  supportedContentFormats: number[];
  /** Objects by ascending id. */
  objects: RegisteredObject[];
}

export interface RegistrationParseOptions extends LinkParseOptions {
  /**
   * Core 1.1 §6.2.1: "The Security Object ID:0, and OSCORE Object ID:21, if present, MUST NOT be part of
   * the Registration Objects and Object Instances list." `'ignore'` (default) drops such links, as
   * Leshan does and as a tolerant server should (Wakaama lists /21 by mistake); `'reject'` answers 4.00.
   */
  securityObjects?: 'ignore' | 'reject';
}

/** Objects a registration list must not contain (Core 1.1 §6.2.1). */
const UNLISTED_OBJECTS: ReadonlySet<number> = new Set([0, 21]);

function hasOmaLwm2mRt(p: ScannedLink): boolean {
  return p.params.some((q) => q.name === 'rt' && q.value !== null && q.value.split(' ').includes('oma.lwm2m'));
}

function parseContentFormats(p: RawParam): number[] {
  if (p.value === null) throw linkError('ct needs a value', p.offset);
  // RFC 7252 §7.2.1: ct is one integer, or (quoted) several separated by spaces.
  const parts = p.value.split(' ').filter((x) => x !== '');
  if (parts.length === 0) throw linkError('ct is empty', p.offset);
  const out: number[] = [];
  for (const part of parts) {
    const n = Number(part);
    if (!UINT_RE.test(part) || n > 65535) throw linkError(`ct value "${part}" is not a content format number (0..65535)`, p.offset);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/**
 * Parses a Register or Update payload (Core 1.1 §6.2.1). Recognises the root link (the one with
 * `rt="oma.lwm2m"`, giving the alternate path, else `</>`) and its `ct`; merges `</3>` and `</3/0>`
 * entries into one object; validates `ver` (only on object links, `\d+\.\d+`, one value per object).
 * Other attributes are ignored ("Any other parameters included in the link MUST be silently ignored",
 * 1.0 §5.3.1, kept in 1.1 §6.2.1). Resource-level links, relative targets and a second root link are 4.00.
 */
export function parseRegistrationLinks(payload: string | Uint8Array, options?: RegistrationParseOptions): RegistrationLinks {
  const scanned = scanLinks(toText(payload), maxLinksOf(options));
  const rejectSecurity = options?.securityObjects === 'reject';

  const rootLinks = scanned.filter(hasOmaLwm2mRt);
  if (rootLinks.length > 1) throw linkError('more than one link has rt="oma.lwm2m"', (rootLinks[1] as ScannedLink).offset);
  const rtLink = rootLinks[0];
  const rootPath = rtLink ? normalizeRootPath(rtLink.uri, (d) => linkError(d, rtLink.offset)) : '/';

  let seenRoot = false;
  let contentFormats: number[] = [];
  const objects = new Map<number, { version?: string; instances: Set<number> }>();
  for (const link of scanned) {
    const path = uriToPath(link.uri, rootPath, link.offset);
    const ver = link.params.filter((p) => p.name === 'ver');
    if (path.isRoot()) {
      if (seenRoot) throw linkError('a second root link', link.offset);
      seenRoot = true;
      if (ver[0]) throw linkError('ver is only allowed on object links', ver[0].offset);
      const ct = link.params.filter((p) => p.name === 'ct');
      if (ct[1]) throw linkError('ct appears twice in the root link', ct[1].offset);
      if (ct[0]) contentFormats = parseContentFormats(ct[0]);
      continue;
    }
    if (path.depth > 2) {
      throw linkError(`<${link.uri}> is below instance level; a registration lists objects and object instances only`, link.offset);
    }
    const objectId = path.objectId as number;
    if (UNLISTED_OBJECTS.has(objectId)) {
      if (rejectSecurity) throw linkError(`object ${objectId} must not be part of the registration list (Core 1.1 §6.2.1)`, link.offset);
      continue;
    }
    let entry = objects.get(objectId);
    if (!entry) {
      entry = { instances: new Set() };
      objects.set(objectId, entry);
    }
    if (path.depth === 2) {
      if (ver[0]) throw linkError('ver is only allowed on object links, not on instance links', ver[0].offset);
      entry.instances.add(path.instanceId as number);
      continue;
    }
    if (ver[1]) throw linkError('ver appears twice in one link', ver[1].offset);
    const v = ver[0];
    if (v) {
      if (v.value === null || !VERSION_RE.test(v.value)) {
        throw linkError(`ver ${v.value === null ? 'needs a value' : `"${v.value}" is not a version "major.minor"`}`, v.offset);
      }
      if (entry.version !== undefined && entry.version !== v.value) {
        throw linkError(`object ${objectId} is listed with versions ${entry.version} and ${v.value}`, v.offset);
      }
      entry.version = v.value;
    }
  }

  return {
    rootPath,
    supportedContentFormats: contentFormats,
    objects: [...objects.entries()]
      .sort(([a], [b]) => a - b)
      .map(([objectId, e]) => ({
        objectId,
        ...(e.version !== undefined ? { version: e.version } : {}),
        instances: [...e.instances].sort((a, b) => a - b),
      })),
  };
}

export interface RegistrationLinksInput {
  /** Default `/`. */
  rootPath?: string;
  supportedContentFormats?: readonly number[];
  objects: readonly RegisteredObject[];
}

function checkId(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID) throw formatError(`${what} ${String(v)} is not an integer in 0..${MAX_ID}`);
  return v;
}

/**
 * Formats a Register/Update payload, the inverse of {@link parseRegistrationLinks}. The root link
 * `<root>;rt="oma.lwm2m";ct=…` is written when there is an alternate path or content formats (Core 1.1
 * §6.2.1; `ct` unquoted when single, quoted list otherwise). Objects are sorted; an object gets its own
 * link `</3303>;ver=1.1` when its version is not 1.0 or when it has no instance, then one link per
 * instance. Objects 0 (Security) and 21 (OSCORE) are left out, as §6.2.1 requires.
 */
export function formatRegistrationLinks(reg: RegistrationLinksInput): string {
  const rootPath = normalizeRootPath(reg.rootPath ?? '/', formatError);
  checkUri(rootPath);
  const cts = [...(reg.supportedContentFormats ?? [])];
  for (const ct of cts) {
    if (!Number.isInteger(ct) || ct < 0 || ct > 65535) throw formatError(`content format ${String(ct)} is not in 0..65535`);
  }
  const links: Link[] = [];
  if (rootPath !== '/' || cts.length > 0) {
    const attributes = new Map<string, LinkAttrValue[]>([['rt', ['oma.lwm2m']]]);
    if (cts.length > 0) attributes.set('ct', [cts.join(' ')]);
    links.push({ uri: rootPath, attributes });
  }
  const seen = new Set<number>();
  const objects = [...reg.objects].sort((a, b) => a.objectId - b.objectId);
  for (const o of objects) {
    const oid = checkId(o.objectId, 'object id');
    if (seen.has(oid)) throw formatError(`object ${oid} is listed twice`);
    seen.add(oid);
    if (o.version !== undefined && (typeof o.version !== 'string' || !VERSION_RE.test(o.version))) {
      throw formatError(`object ${oid}: version ${JSON.stringify(o.version)} is not "major.minor"`);
    }
    if (UNLISTED_OBJECTS.has(oid)) continue;
    const instances = [...new Set(o.instances.map((i) => checkId(i, `object ${oid} instance id`)))].sort((a, b) => a - b);
    const versioned = o.version !== undefined && o.version !== '1.0';
    if (versioned || instances.length === 0) {
      links.push({ uri: pathToUri(LwM2MPath.of(oid), rootPath), attributes: new Map(versioned ? [['ver', [o.version as string]]] : []) });
    }
    for (const iid of instances) links.push({ uri: pathToUri(LwM2MPath.of(oid, iid), rootPath), attributes: new Map() });
  }
  return formatLinks(links, LWM2M_QUOTED);
}

// ---------------------------------------------------------------------------------------------------
// Discover and Bootstrap-Discover (Core 1.0 §5.4.2 and §5.2.7.3; 1.1 §6.3 and §6.1)
// ---------------------------------------------------------------------------------------------------

/** `<NOTIFICATION>` class attributes (Core 1.0 §5.1.2 Table 3; epmin/epmax added in 1.1), as Write-Attributes sets them. */
export interface NotificationAttributes {
  /** Minimum period, integer seconds ≥ 0. */
  pmin?: number;
  /** Maximum period, integer seconds ≥ 0. */
  pmax?: number;
  /** Greater than (float). */
  gt?: number;
  /** Less than (float). */
  lt?: number;
  /** Step (float). */
  st?: number;
  /** Minimum evaluation period, integer seconds ≥ 0 (1.1). */
  epmin?: number;
  /** Maximum evaluation period, integer seconds ≥ 0 (1.1). */
  epmax?: number;
}

export interface DiscoverAttributes extends NotificationAttributes {
  /** Dimension: number of instances of a multiple resource (resource links only). */
  dim?: number;
  /** Object version `major.minor` (object links only, Core 1.1 "Object Versioning"). */
  ver?: string;
  /** Short Server ID 1..65534 (Bootstrap-Discover, Security/Server instance links). */
  ssid?: number;
  /** Server URI (Bootstrap-Discover, Security instance links). */
  uri?: string;
  /** LwM2M Enabler version on the `</>` link of Bootstrap-Discover (`</>;lwm2m=1.1`). */
  lwm2m?: string;
}

export interface DiscoverEntry {
  path: LwM2MPath;
  attributes: DiscoverAttributes;
  /**
   * Attributes without a typed field here (LwM2M 1.2 `edge`, `con`, `hqmax`, vendor ones), kept as
   * parsed so nothing is lost. Omitted when there are none.
   */
  extensions?: Map<string, LinkAttrValue[]>;
}

export interface DiscoverParseOptions extends LinkParseOptions {
  /** Alternate root path the client announced at registration (`rt="oma.lwm2m"`, Core 1.1 §6.2.1); `/` by default. */
  rootPath?: string;
}

export interface DiscoverFormatOptions {
  rootPath?: string;
}

type DiscoverKey = keyof DiscoverAttributes;
type AttrSpec =
  | { kind: 'uint'; min: number; max: number; depths: readonly number[] }
  | { kind: 'float' | 'version' | 'string'; depths: readonly number[] };

const BELOW_ROOT = [1, 2, 3, 4] as const;
/** Typed attributes, in the order they are written (matches the TS examples: dim first, then pmin…lt). */
const DISCOVER_ATTRS: Readonly<Record<DiscoverKey, AttrSpec>> = {
  lwm2m: { kind: 'version', depths: [0] },
  ver: { kind: 'version', depths: [1] },
  ssid: { kind: 'uint', min: 1, max: 65534, depths: [2] }, // Security /0/x/10, Server /1/x/0: range 1-65534
  uri: { kind: 'string', depths: [2] }, // Core 1.1 Bootstrap-Discover: Security instances carry their Server URI
  dim: { kind: 'uint', min: 0, max: MAX_ID, depths: [3] },
  pmin: { kind: 'uint', min: 0, max: Number.MAX_SAFE_INTEGER, depths: BELOW_ROOT },
  pmax: { kind: 'uint', min: 0, max: Number.MAX_SAFE_INTEGER, depths: BELOW_ROOT },
  gt: { kind: 'float', depths: BELOW_ROOT },
  lt: { kind: 'float', depths: BELOW_ROOT },
  st: { kind: 'float', depths: BELOW_ROOT },
  epmin: { kind: 'uint', min: 0, max: Number.MAX_SAFE_INTEGER, depths: BELOW_ROOT },
  epmax: { kind: 'uint', min: 0, max: Number.MAX_SAFE_INTEGER, depths: BELOW_ROOT },
};
const DISCOVER_KEYS = Object.keys(DISCOVER_ATTRS) as DiscoverKey[];
const LEVEL_NAMES = ['the root link', 'object links', 'object instance links', 'resource links', 'resource instance links'];

function isDiscoverKey(name: string): name is DiscoverKey {
  return Object.prototype.hasOwnProperty.call(DISCOVER_ATTRS, name);
}

function placementError(key: DiscoverKey, depth: number): string | undefined {
  const spec = DISCOVER_ATTRS[key];
  if (spec.depths.includes(depth)) return undefined;
  return `${key} is only allowed on ${spec.depths.map((d) => LEVEL_NAMES[d]).join(', ')}, not on ${LEVEL_NAMES[depth] ?? 'this link'}`;
}

/** Parses one typed value; returns an error detail instead of throwing so parse and format share it. */
function typedValue(key: DiscoverKey, raw: string): number | string | { error: string } {
  const spec = DISCOVER_ATTRS[key];
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'version':
      return VERSION_RE.test(raw) ? raw : { error: `${key}="${raw}" is not a version "major.minor"` };
    case 'uint': {
      const n = Number(raw);
      return UINT_RE.test(raw) && n >= spec.min && n <= spec.max
        ? n
        : { error: `${key}="${raw}" is not an integer in ${spec.min}..${spec.max}` };
    }
    case 'float': {
      const n = Number(raw);
      return FLOAT_RE.test(raw) && Number.isFinite(n) ? n : { error: `${key}="${raw}" is not a finite decimal number` };
    }
  }
}

/**
 * Parses a Discover or Bootstrap-Discover response into typed entries. Link targets must be LwM2M
 * paths (`</>`, `</3>` … `</3/0/7/1>`, under `rootPath` if one is given). Typed attributes are checked
 * for syntax, range, duplicates and level (`ver` on objects, `dim` on resources, `ssid`/`uri` on
 * instances, `lwm2m` on `</>`, notification attributes below the root); unknown ones go to
 * `extensions`. A repeated path is 4.00. A LwM2M 1.0 payload starting with a bare `lwm2m="1.0",`
 * is read as `</>;lwm2m="1.0",`.
 */
export function parseDiscoverLinks(payload: string | Uint8Array, options?: DiscoverParseOptions): DiscoverEntry[] {
  const scanned = scanLinks(toText(payload), maxLinksOf(options), true);
  const rootPath = normalizeRootPath(options?.rootPath ?? '/', (d) => new LwM2MError('BAD_LINK', d));
  const seen = new Set<string>();
  const entries: DiscoverEntry[] = [];
  for (const link of scanned) {
    const path = uriToPath(link.uri, rootPath, link.offset);
    const key = formatPath(path);
    if (seen.has(key)) throw linkError(`${key} is listed twice`, link.offset);
    seen.add(key);
    const attributes: DiscoverAttributes = {};
    const setAttr = attributes as Record<DiscoverKey, number | string | undefined>;
    const extensions = new Map<string, LinkAttrValue[]>();
    for (const p of link.params) {
      if (!isDiscoverKey(p.name)) {
        const values = extensions.get(p.name);
        if (values) values.push(p.value);
        else extensions.set(p.name, [p.value]);
        continue;
      }
      if (setAttr[p.name] !== undefined) throw linkError(`${p.name} appears twice in one link`, p.offset);
      const misplaced = placementError(p.name, path.depth);
      if (misplaced) throw linkError(misplaced, p.offset);
      if (p.value === null) throw linkError(`${p.name} needs a value`, p.offset);
      const v = typedValue(p.name, p.value);
      if (typeof v === 'object') throw linkError(v.error, p.offset);
      setAttr[p.name] = v;
    }
    entries.push(extensions.size > 0 ? { path, attributes, extensions } : { path, attributes });
  }
  return entries;
}

/**
 * Formats Discover / Bootstrap-Discover entries, the inverse of {@link parseDiscoverLinks}. Typed
 * attributes are written in the order lwm2m, ver, ssid, uri, dim, pmin, pmax, gt, lt, st, epmin, epmax
 * (so the TS examples come out byte for byte), then `extensions`. `uri` is quoted, the rest are tokens.
 * Numbers are written with `String(n)` (exponent form beyond 1e21 or below 1e-6). Invalid values,
 * misplaced attributes and repeated paths throw `LWM2M_BAD_LINK`: the same rules the parser applies.
 */
export function formatDiscoverLinks(entries: readonly DiscoverEntry[], options?: DiscoverFormatOptions): string {
  const rootPath = normalizeRootPath(options?.rootPath ?? '/', formatError);
  checkUri(rootPath);
  const seen = new Set<string>();
  const links: Link[] = [];
  for (const entry of entries) {
    if (!(entry.path instanceof LwM2MPath)) throw formatError('entry path must be an LwM2MPath');
    const key = formatPath(entry.path);
    if (seen.has(key)) throw formatError(`${key} is listed twice`);
    seen.add(key);
    const attributes = new Map<string, LinkAttrValue[]>();
    const given = entry.attributes as Record<string, unknown>;
    for (const k of DISCOVER_KEYS) {
      const v = given[k];
      if (v === undefined) continue;
      const misplaced = placementError(k, entry.path.depth);
      if (misplaced) throw formatError(`${key}: ${misplaced}`);
      const spec = DISCOVER_ATTRS[k];
      const isNumber = spec.kind === 'uint' || spec.kind === 'float';
      if (isNumber ? typeof v !== 'number' : typeof v !== 'string') {
        throw formatError(`${key}: ${k} must be a ${isNumber ? 'number' : 'string'}`);
      }
      const text = typeof v === 'number' ? String(v) : (v as string);
      const checked = typedValue(k, text);
      if (typeof checked === 'object') throw formatError(`${key}: ${checked.error}`);
      attributes.set(k, [text]);
    }
    for (const [name, values] of entry.extensions ?? []) {
      if (isDiscoverKey(name)) throw formatError(`${key}: ${name} must be given in attributes, not in extensions`);
      attributes.set(name, [...values]);
    }
    links.push({ uri: pathToUri(entry.path, rootPath), attributes });
  }
  return formatLinks(links, LWM2M_QUOTED);
}
