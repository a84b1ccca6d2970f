import { CONTENT_FORMAT_BY_NAME, ContentFormat } from '../../codec/content-format.js';
import type { LwM2MPath } from '../../core/path.js';
import { resourceModelAt } from '../../model/node.js';
import type { ModelLookup } from '../../model/types.js';
import type { Registration } from '../registration/registration.js';

/** `?format=` values of the HTTP API (short names of CONTENT_FORMAT_BY_NAME that carry LwM2M data). */
export const FORMAT_NAMES = [
  'tlv', 'senml-json', 'senml-cbor', 'lwm2m-cbor', 'text', 'opaque', 'json', 'oma-json', 'cbor', 'tlv-legacy', 'json-legacy',
] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

/** Formats able to carry several paths (composite operations). */
export const COMPOSITE_FORMAT_NAMES = ['senml-json', 'senml-cbor', 'lwm2m-cbor', 'json', 'oma-json'] as const;

/** Content-format number of a `?format=` name (the schema enum has already checked the name). */
export function formatNumber(name: string): number {
  const n = CONTENT_FORMAT_BY_NAME[name];
  if (n === undefined) throw new RangeError(`unknown format name ${name}`);
  return n;
}

const NAME_BY_NUMBER: ReadonlyMap<number, string> = (() => {
  const m = new Map<number, string>();
  for (const [name, n] of Object.entries(CONTENT_FORMAT_BY_NAME)) if (!m.has(n)) m.set(n, name);
  return m;
})();

/** The short name of a content format number (`11542` → `tlv`), or its number as text when unnamed. */
export function formatName(n: number): string {
  return NAME_BY_NUMBER.get(n) ?? String(n);
}

/** Multi-value formats in the order the API prefers them when the caller does not say. */
const NODE_PREFERENCE = [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.LWM2M_CBOR, ContentFormat.TLV];
const COMPOSITE_PREFERENCE = [ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.LWM2M_CBOR];

/**
 * The content format of a Write/Create payload when `?format=` is absent: text/plain (opaque for an
 * Opaque resource) for one single-instance value, which every client supports; otherwise the first of
 * SenML CBOR, SenML JSON, LwM2M CBOR, TLV the client announced with `ct` (LwM2M 1.1 §6.2.1), TLV if it
 * announced none (the LwM2M 1.0 mandatory format).
 */
export function defaultWriteFormat(reg: Registration, path: LwM2MPath, models: ModelLookup): number {
  const model = resourceModelAt(models, path);
  const single = path.depth === 4 || (path.depth === 3 && model !== undefined && !model.multiple);
  if (single) return model?.type === 'opaque' ? ContentFormat.OPAQUE : ContentFormat.TEXT;
  const announced = reg.supportedContentFormats;
  if (announced.length === 0 || reg.lwm2mVersion === '1.0') return ContentFormat.TLV;
  return NODE_PREFERENCE.find((f) => announced.includes(f)) ?? ContentFormat.TLV;
}

/** The content format of a composite request when `?format=` is absent (SenML CBOR unless the client said otherwise). */
export function defaultCompositeFormat(reg: Registration): number {
  const announced = reg.supportedContentFormats;
  return COMPOSITE_PREFERENCE.find((f) => announced.includes(f)) ?? ContentFormat.SENML_CBOR;
}
