/**
 * OMA DDF (Device Description Framework) XML loader: turns an LwM2M object definition file
 * (LWM2M.xsd / LWM2M-v1_1.xsd, LwM2M-TS-Core Appendix D) into {@link ObjectModel}s.
 *
 * Security: a DDF file is data, so no DTD is accepted (`<!DOCTYPE …>` and any other markup declaration
 * are rejected before parsing, which rules out external entities and entity-expansion bombs); only the
 * five predefined XML entities and character references are decoded; input size is bounded
 * ({@link DEFAULT_MAX_DDF_BYTES}).
 *
 * Every failure is an `LwM2MError` of kind `BAD_MODEL` whose message starts with the source (the file
 * name), with `:line:col` when the problem can be located, then says what is wrong.
 */
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { LwM2MError, isLwM2MError } from '../core/errors.js';
import type { NumericRange, ObjectModel, Operations, ResourceModel, ResourceType } from './types.js';

/** Largest DDF input accepted by default: 1 MiB (the shipped OMA files are 5–23 KiB). */
export const DEFAULT_MAX_DDF_BYTES = 1024 * 1024;

export interface DdfParseOptions {
  /** Reject inputs larger than this many bytes (UTF-8). Default {@link DEFAULT_MAX_DDF_BYTES}. */
  maxBytes?: number;
}

const DEFAULT_SOURCE = '<ddf>';
const MAX_ID = 65535;

// ---- value vocabularies ------------------------------------------------------------------------

const TYPE_NAMES: Readonly<Record<string, ResourceType>> = {
  string: 'string',
  integer: 'integer',
  unsignedinteger: 'unsignedInteger',
  float: 'float',
  boolean: 'boolean',
  opaque: 'opaque',
  time: 'time',
  objlnk: 'objlnk',
  corelnk: 'corelnk',
  '': 'none',
};

/**
 * Maps a DDF `<Type>` text to a {@link ResourceType}, tolerating case and spacing
 * (`Unsigned Integer`, `UnsignedInteger`, `unsigned_integer`, `CoreLnk`); empty → `'none'`.
 * Returns undefined for an unknown type.
 */
export function parseResourceType(text: string): ResourceType | undefined {
  const key = text.replace(/[\s_-]+/g, '').toLowerCase();
  return Object.hasOwn(TYPE_NAMES, key) ? TYPE_NAMES[key] : undefined;
}

/** Maps a DDF `<Operations>` text (`R`, `W`, `RW`, `E` or empty; case and spacing tolerated). */
export function parseOperations(text: string): Operations | undefined {
  const key = text.replace(/\s+/g, '').toUpperCase();
  switch (key) {
    case '':
    case 'R':
    case 'W':
    case 'RW':
    case 'E':
      return key;
    case 'WR':
      return 'RW';
    default:
      return undefined;
  }
}

const NUM = String.raw`[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?`;
const RANGE_DOTS = new RegExp(String.raw`^(${NUM})\s*\.\.\s*(${NUM})(?:\s*(?:bytes?|chars?|characters?))?$`, 'i');
const RANGE_DASH = new RegExp(String.raw`^(${NUM})\s*-\s*(${NUM})(?:\s*(?:bytes?|chars?|characters?))?$`, 'i');
const SINGLE = new RegExp(String.raw`^(${NUM})(?:\s*(?:bytes?|chars?|characters?))?$`, 'i');

/**
 * Parses a numeric RangeEnumeration: `0..255`, `-128..127`, `1-65535`, `-40-85`, `0..255 bytes`, or a
 * single number (`6`, `6 bytes`: exactly that). Returns undefined for anything else (enumerations like
 * `16,32,48`, prose, `16-bit`) and for inverted ranges (min > max).
 */
export function parseRangeEnumeration(text: string): NumericRange | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const m = RANGE_DOTS.exec(t) ?? RANGE_DASH.exec(t);
  if (m) {
    const min = Number(m[1]);
    const max = Number(m[2]);
    if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) return undefined;
    return { min, max };
  }
  const s = SINGLE.exec(t);
  if (s) {
    const v = Number(s[1]);
    return Number.isFinite(v) ? { min: v, max: v } : undefined;
  }
  return undefined;
}

// ---- source positions --------------------------------------------------------------------------

/** Converts string offsets into `source:line:col` (1-based). */
class Locator {
  private lineStarts: number[] | undefined;

  constructor(
    readonly source: string,
    readonly text: string,
  ) {}

  at(index: number | undefined): string {
    if (index === undefined || index < 0) return this.source;
    const starts = (this.lineStarts ??= computeLineStarts(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    return `${this.source}:${lo + 1}:${index - (starts[lo] as number) + 1}`;
  }

  error(detail: string, index?: number, cause?: unknown): LwM2MError {
    return new LwM2MError('BAD_MODEL', detail, { location: this.at(index), cause });
  }
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

// ---- lexical pre-checks (before the XML parser sees the text) ------------------------------------

const PREDEFINED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const ENTITY_REF = /&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z_:][\w.:-]*);/y;
// eslint-disable-next-line no-control-regex
const INVALID_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 || cp === 0xa || cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/**
 * Rejects what the XML parser would otherwise accept or act on: characters XML forbids, any DTD or
 * markup declaration (`<!DOCTYPE`, `<!ENTITY`, …), and entity references other than the predefined
 * ones and valid character references. Comments, CDATA sections and processing instructions are skipped.
 */
function precheck(xml: string, loc: Locator): void {
  const bad = INVALID_CHAR.exec(xml);
  if (bad) {
    const cp = bad[0].charCodeAt(0);
    throw loc.error(`character U+${cp.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`, bad.index);
  }
  const n = xml.length;
  let i = 0;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    const amp = xml.indexOf('&', i);
    if (lt === -1 && amp === -1) return;
    if (amp !== -1 && (lt === -1 || amp < lt)) {
      ENTITY_REF.lastIndex = amp;
      const m = ENTITY_REF.exec(xml);
      if (!m) throw loc.error("'&' does not start an entity reference (write &amp;)", amp);
      const ref = m[1] as string;
      if (ref.startsWith('#')) {
        const cp = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
        if (!isXmlChar(cp)) throw loc.error(`character reference &${ref}; is not a legal XML character`, amp);
      } else if (!Object.hasOwn(PREDEFINED_ENTITIES, ref)) {
        throw loc.error(`undefined entity &${ref}; (DDF files may only use &amp; &lt; &gt; &quot; &apos;)`, amp);
      }
      i = amp + m[0].length;
      continue;
    }
    // A '<'.
    let end: number;
    if (xml.startsWith('<!--', lt)) end = skipPast(xml, '-->', lt + 4);
    else if (xml.startsWith('<![CDATA[', lt)) end = skipPast(xml, ']]>', lt + 9);
    else if (xml.startsWith('<?', lt)) end = skipPast(xml, '?>', lt + 2);
    else if (xml.startsWith('<!', lt)) {
      const what = /^<!DOCTYPE/i.test(xml.slice(lt, lt + 9))
        ? 'a DTD (<!DOCTYPE …>) is not allowed in a DDF file'
        : 'markup declarations (<!…>) are not allowed in a DDF file';
      throw loc.error(what, lt);
    } else end = lt + 1;
    if (end === -1) return; // unterminated: the validator reports it with a position
    i = end;
  }
}

function skipPast(xml: string, terminator: string, from: number): number {
  const e = xml.indexOf(terminator, from);
  return e === -1 ? -1 : e + terminator.length;
}

/** Decodes the predefined entities and character references (everything else was rejected earlier). */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const cp = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return isXmlChar(cp) ? String.fromCodePoint(cp) : whole;
    }
    return PREDEFINED_ENTITIES[ref] ?? whole;
  });
}

// ---- XML parsing -------------------------------------------------------------------------------

type XmlNode = Record<string, unknown>;
const ATTR = '@_';
const TEXT = '#text';
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

function makeParser(): XMLParser {
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: ATTR,
    textNodeName: TEXT,
    parseTagValue: false,
    parseAttributeValue: false,
    // Text is trimmed per field after assembly: trimming each piece would eat the spaces between a
    // CDATA section and the text that follows it.
    trimValues: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    processEntities: true,
    htmlEntities: false,
    entityDecoder: {
      decode: decodeEntities,
      // No DTD ever reaches the parser (precheck), so there are no document-defined entities to add.
      addInputEntities: () => undefined,
      setExternalEntities: () => undefined,
      reset: () => undefined,
      setXmlVersion: () => undefined,
    },
    captureMetaData: true,
    maxNestedTags: 64,
  });
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function startOf(v: unknown): number | undefined {
  if (!isNode(v)) return undefined;
  const meta = (v as Record<symbol, unknown>)[META];
  if (typeof meta === 'object' && meta !== null) {
    const s = (meta as { startIndex?: unknown }).startIndex;
    if (typeof s === 'number') return s;
  }
  return undefined;
}

function endOf(v: unknown): number | undefined {
  if (!isNode(v)) return undefined;
  const meta = (v as Record<symbol, unknown>)[META];
  if (typeof meta === 'object' && meta !== null) {
    const e = (meta as { endIndex?: unknown }).endIndex;
    if (typeof e === 'number') return e;
  }
  return undefined;
}

function own(node: XmlNode, key: string): unknown {
  return Object.hasOwn(node, key) ? node[key] : undefined;
}

function asList(v: unknown): unknown[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function childElementNames(node: XmlNode): string[] {
  return Object.keys(node).filter((k) => k !== TEXT && !k.startsWith(ATTR));
}

/** The context in which fields of one element are read: where it starts, what to call it. */
interface Scope {
  readonly loc: Locator;
  readonly node: XmlNode;
  /** Offset of the element's start tag, when known. */
  readonly start: number | undefined;
  /** Offset just past the element, when known. */
  readonly end: number | undefined;
  /** Offsets to skip when searching a child's position (the `<Resources>` block inside an `<Object>`). */
  readonly exclude?: readonly [number, number];
  /** Prefix for messages, e.g. `object 3 resource 4: `. */
  readonly what: string;
}

/** Best-effort offset of the `<tag` child of the scope's element (falls back to the element itself). */
function childOffset(scope: Scope, tag: string): number | undefined {
  if (scope.start === undefined) return undefined;
  const text = scope.loc.text;
  const re = new RegExp(`<${tag}(?=[\\s/>])`, 'g');
  re.lastIndex = scope.start + 1;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (scope.end !== undefined && m.index >= scope.end) break;
    if (scope.exclude && m.index >= scope.exclude[0] && m.index < scope.exclude[1]) continue;
    return m.index;
  }
  return scope.start;
}

function fail(scope: Scope, detail: string, tag?: string): LwM2MError {
  return scope.loc.error(`${scope.what}${detail}`, tag === undefined ? scope.start : childOffset(scope, tag));
}

/** Text content of the single `<tag>` child; undefined when absent. */
function optionalText(scope: Scope, tag: string): string | undefined {
  const v = own(scope.node, tag);
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw fail(scope, `duplicate <${tag}> element`, tag);
  if (typeof v === 'string') return v;
  if (isNode(v)) {
    if (childElementNames(v).length > 0) throw fail(scope, `<${tag}> must contain text, not elements`, tag);
    const t = own(v, TEXT);
    return t === undefined ? '' : String(t);
  }
  return String(v);
}

function requiredText(scope: Scope, tag: string): string {
  const t = optionalText(scope, tag);
  if (t === undefined) throw fail(scope, `missing <${tag}>`);
  return t;
}

function nonEmpty(t: string | undefined): string | undefined {
  if (t === undefined) return undefined;
  const s = t.trim();
  return s === '' ? undefined : s;
}

/** Names are labels: collapse inner runs of whitespace (`LWM2M  Server URI` → `LWM2M Server URI`). */
function nameText(scope: Scope, tag: string): string {
  const t = requiredText(scope, tag).replace(/\s+/g, ' ').trim();
  if (t === '') throw fail(scope, `empty <${tag}>`, tag);
  return t;
}

function flag(scope: Scope, tag: string, yes: string, no: string): boolean {
  const raw = requiredText(scope, tag).trim();
  const t = raw.toLowerCase();
  if (t === yes.toLowerCase()) return true;
  if (t === no.toLowerCase()) return false;
  throw fail(scope, `<${tag}> must be ${yes} or ${no}, not ${JSON.stringify(raw)}`, tag);
}

function parseId(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d{1,10}$/.test(t)) return undefined;
  return Number(t);
}

const VERSION = /^(\d{1,6})\.(\d{1,6})$/;
const URN = /^urn:oma:lwm2m:([a-z]+):(\d+)(?::(\d+\.\d+))?$/i;

function versionText(scope: Scope, tag: string, fallback: string): string {
  const t = nonEmpty(optionalText(scope, tag));
  if (t === undefined) return fallback;
  if (!VERSION.test(t)) throw fail(scope, `<${tag}> must be a version like 1.0, not ${JSON.stringify(t)}`, tag);
  return t;
}

// ---- mapping -----------------------------------------------------------------------------------

function toResource(loc: Locator, objectWhat: string, item: unknown): ResourceModel {
  const node: XmlNode = isNode(item) ? item : {};
  const start = startOf(item);
  const scope0: Scope = { loc, node, start, end: endOf(item), what: `${objectWhat}resource: ` };
  const idAttr = own(node, `${ATTR}ID`);
  if (idAttr === undefined) throw fail(scope0, '<Item> has no ID attribute');
  const id = parseId(String(idAttr));
  if (id === undefined) throw fail(scope0, `resource ID ${JSON.stringify(String(idAttr))} is not an integer`);
  if (id > MAX_ID) throw fail(scope0, `resource ID ${id} is out of range 0..${MAX_ID}`);
  const scope: Scope = { ...scope0, what: `${objectWhat}resource ${id}: ` };

  const name = nameText(scope, 'Name');
  const opsRaw = requiredText(scope, 'Operations').trim();
  const operations = parseOperations(opsRaw);
  if (operations === undefined) {
    throw fail(scope, `unknown Operations ${JSON.stringify(opsRaw)} (expected R, W, RW, E or empty)`, 'Operations');
  }
  const multiple = flag(scope, 'MultipleInstances', 'Multiple', 'Single');
  const mandatory = flag(scope, 'Mandatory', 'Mandatory', 'Optional');
  const typeRaw = requiredText(scope, 'Type').trim();
  const type = parseResourceType(typeRaw);
  if (type === undefined) {
    throw fail(
      scope,
      `unknown Type ${JSON.stringify(typeRaw)} (expected String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, Objlnk, Corelnk or empty)`,
      'Type',
    );
  }
  const rangeEnumeration = nonEmpty(optionalText(scope, 'RangeEnumeration'));
  const range = rangeEnumeration === undefined ? undefined : parseRangeEnumeration(rangeEnumeration);
  const units = nonEmpty(optionalText(scope, 'Units'));
  const description = nonEmpty(optionalText(scope, 'Description'));

  const r: {
    -readonly [K in keyof ResourceModel]: ResourceModel[K];
  } = { id, name, operations, multiple, mandatory, type };
  if (rangeEnumeration !== undefined) r.rangeEnumeration = rangeEnumeration;
  if (range !== undefined) r.range = Object.freeze(range);
  if (units !== undefined) r.units = units;
  if (description !== undefined) r.description = description;
  return Object.freeze(r);
}

function toObject(loc: Locator, obj: unknown): ObjectModel {
  if (!isNode(obj)) {
    throw loc.error('<Object> is empty (expected Name, ObjectID, MultipleInstances, Mandatory, Resources…)', startOf(obj));
  }
  const resourcesEl = own(obj, 'Resources');
  const resStart = startOf(resourcesEl);
  const resEnd = endOf(resourcesEl);
  const scope0: Scope = {
    loc,
    node: obj,
    start: startOf(obj),
    end: endOf(obj),
    what: 'object: ',
    ...(resStart !== undefined && resEnd !== undefined ? { exclude: [resStart, resEnd] as const } : {}),
  };

  const objectType = own(obj, `${ATTR}ObjectType`);
  if (objectType !== undefined && String(objectType).trim().toLowerCase() !== 'modefinition') {
    throw fail(scope0, `unsupported ObjectType ${JSON.stringify(String(objectType))} (expected MODefinition)`);
  }

  const idRaw = optionalText(scope0, 'ObjectID');
  if (idRaw === undefined || idRaw.trim() === '') throw fail(scope0, 'missing <ObjectID>', idRaw === undefined ? undefined : 'ObjectID');
  const id = parseId(idRaw);
  if (id === undefined || id > MAX_ID) {
    throw fail(scope0, `ObjectID ${JSON.stringify(idRaw.trim())} is not an integer in 0..${MAX_ID}`, 'ObjectID');
  }
  const scope: Scope = { ...scope0, what: `object ${id}: ` };

  const name = nameText(scope, 'Name');
  const description = nonEmpty(optionalText(scope, 'Description1'));
  const urn = nonEmpty(optionalText(scope, 'ObjectURN'));
  let urnVersion: string | undefined;
  if (urn !== undefined) {
    const m = URN.exec(urn);
    if (m) {
      if (Number(m[2]) !== id) throw fail(scope, `ObjectURN ${urn} does not match ObjectID ${id}`, 'ObjectURN');
      urnVersion = m[3];
    }
  }
  const lwm2mVersion = versionText(scope, 'LWM2MVersion', '1.0');
  const version = versionText(scope, 'ObjectVersion', urnVersion ?? '1.0');
  if (urnVersion !== undefined && urnVersion !== version) {
    throw fail(scope, `ObjectVersion ${version} does not match the version in ObjectURN ${urn}`, 'ObjectVersion');
  }
  const multiple = flag(scope, 'MultipleInstances', 'Multiple', 'Single');
  const mandatory = flag(scope, 'Mandatory', 'Mandatory', 'Optional');

  const resources = new Map<number, ResourceModel>();
  if (Array.isArray(resourcesEl)) throw fail(scope, 'duplicate <Resources> element', 'Resources');
  if (isNode(resourcesEl)) {
    const others = childElementNames(resourcesEl).filter((k) => k !== 'Item');
    if (others.length > 0) {
      throw fail(scope, `unexpected <${others[0] as string}> in <Resources> (only <Item> is allowed)`, others[0]);
    }
    const items = asList(own(resourcesEl, 'Item'));
    for (const item of items) {
      const r = toResource(loc, `object ${id}: `, item);
      if (resources.has(r.id)) {
        throw loc.error(`object ${id}: duplicate resource ID ${r.id}`, startOf(item) ?? scope.start);
      }
      resources.set(r.id, r);
    }
  } else if (resourcesEl !== undefined && String(resourcesEl).trim() !== '') {
    throw fail(scope, '<Resources> must contain <Item> elements, not text', 'Resources');
  }
  const sorted = new Map([...resources].sort((a, b) => a[0] - b[0]));

  const o: { -readonly [K in keyof ObjectModel]: ObjectModel[K] } = {
    id,
    name,
    version,
    lwm2mVersion,
    multiple,
    mandatory,
    resources: sorted,
  };
  if (description !== undefined) o.description = description;
  if (urn !== undefined) o.urn = urn;
  return Object.freeze(o);
}

// ---- public entry points -----------------------------------------------------------------------

/**
 * Parses one DDF document. A document may hold several `<Object ObjectType="MODefinition">`
 * definitions; they are returned in document order. `source` names the input in error messages
 * (usually the file path). Throws `LwM2MError` `BAD_MODEL` (and nothing else) on any problem.
 */
export function parseDdf(xml: string, source: string = DEFAULT_SOURCE, options: DdfParseOptions = {}): ObjectModel[] {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DDF_BYTES;
  if (typeof xml !== 'string') throw new LwM2MError('BAD_MODEL', 'DDF input is not a string', { location: source });
  if (xml.length > maxBytes || Buffer.byteLength(xml, 'utf8') > maxBytes) {
    throw new LwM2MError('BAD_MODEL', `DDF input is larger than the ${maxBytes}-byte limit`, { location: source });
  }
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const loc = new Locator(source, text);
  try {
    if (text.trim() === '') throw loc.error('empty input: not an XML document');
    precheck(text, loc);
    const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
    if (valid !== true) {
      const { msg, line, col } = valid.err;
      const where = typeof line === 'number' ? `${source}:${line}${typeof col === 'number' ? `:${col}` : ''}` : source;
      throw new LwM2MError('BAD_MODEL', `not well-formed XML: ${msg}`, { location: where });
    }
    const doc: unknown = makeParser().parse(text);
    if (!isNode(doc)) throw loc.error('not an XML document');
    const roots = childElementNames(doc);
    if (roots.length !== 1 || roots[0] !== 'LWM2M' || Array.isArray(doc['LWM2M'])) {
      const found = roots.length === 0 ? 'no root element' : roots.map((r) => `<${r}>`).join(', ');
      throw loc.error(`expected a single <LWM2M> root element, found ${found}`);
    }
    const root = doc['LWM2M'];
    const objects = isNode(root) ? asList(own(root, 'Object')) : [];
    if (objects.length === 0) throw loc.error('no <Object> element in <LWM2M>', startOf(root));
    return objects.map((o) => toObject(loc, o));
  } catch (e) {
    if (isLwM2MError(e)) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new LwM2MError('BAD_MODEL', `cannot parse XML: ${why}`, { location: source, cause: e });
  }
}

/**
 * Parses a DDF document given as bytes: UTF-8 (a BOM is allowed); an XML declaration naming another
 * encoding is rejected.
 */
export function parseDdfBytes(bytes: Uint8Array, source: string = DEFAULT_SOURCE, options: DdfParseOptions = {}): ObjectModel[] {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DDF_BYTES;
  if (bytes.byteLength > maxBytes) {
    throw new LwM2MError('BAD_MODEL', `file is ${bytes.byteLength} bytes, over the ${maxBytes}-byte limit`, { location: source });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (e) {
    throw new LwM2MError('BAD_MODEL', 'not valid UTF-8', { location: source, cause: e });
  }
  const decl = /^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([^"']*)["']/.exec(text);
  if (decl && !/^(utf-?8|us-ascii|ascii)$/i.test(decl[1] as string)) {
    throw new LwM2MError('BAD_MODEL', `unsupported encoding ${JSON.stringify(decl[1])} (only UTF-8 is supported)`, {
      location: `${source}:1:1`,
    });
  }
  return parseDdf(text, source, { maxBytes });
}

function tooLarge(path: string, size: number, maxBytes: number): LwM2MError {
  return new LwM2MError('BAD_MODEL', `file is ${size} bytes, over the ${maxBytes}-byte limit`, { location: path });
}

function ioError(path: string, e: unknown): LwM2MError {
  const why = e instanceof Error ? e.message : String(e);
  return new LwM2MError('BAD_MODEL', `cannot read DDF file: ${why}`, { location: path, cause: e });
}

/** Reads and parses a DDF file. Errors (including I/O errors) are `BAD_MODEL` naming `path`. */
export async function loadDdfFile(path: string, options: DdfParseOptions = {}): Promise<ObjectModel[]> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DDF_BYTES;
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new LwM2MError('BAD_MODEL', 'not a regular file', { location: path });
    if (st.size > maxBytes) throw tooLarge(path, st.size, maxBytes);
    bytes = await readFile(path);
  } catch (e) {
    throw isLwM2MError(e) ? e : ioError(path, e);
  }
  return parseDdfBytes(bytes, path, { maxBytes });
}

/** Synchronous {@link loadDdfFile}. */
export function loadDdfFileSync(path: string, options: DdfParseOptions = {}): ObjectModel[] {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DDF_BYTES;
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new LwM2MError('BAD_MODEL', 'not a regular file', { location: path });
    if (st.size > maxBytes) throw tooLarge(path, st.size, maxBytes);
    bytes = readFileSync(path);
  } catch (e) {
    throw isLwM2MError(e) ? e : ioError(path, e);
  }
  return parseDdfBytes(bytes, path, { maxBytes });
}
