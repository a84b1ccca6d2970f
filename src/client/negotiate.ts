import { LwM2MError } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import { ContentFormat } from '../codec/content-format.js';
import type { LwM2MNode } from '../model/node.js';
import type { ModelLookup } from '../model/types.js';
import { resourceTypeAt } from '../model/node.js';

/** Formats this client can encode and decode for DM payloads (LwM2M-TS-Core 1.1 §7.2). */
export const SUPPORTED_NODE_FORMATS: readonly number[] = [
  ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.CBOR, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR,
  ContentFormat.TLV, ContentFormat.TLV_LEGACY, ContentFormat.OMA_JSON, ContentFormat.OMA_JSON_LEGACY,
  ContentFormat.LWM2M_CBOR,
];

/** Formats that can carry several paths (composite operations, Send). */
export const COMPOSITE_FORMATS: readonly number[] = [
  ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR,
];

const SINGLE_VALUE_FORMATS = new Set<number>([ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.CBOR]);

function isSingleValue(node: LwM2MNode): boolean {
  return node.kind === 'resource' || node.kind === 'resourceInstance';
}

/**
 * Picks the response format of a Read (LwM2M-TS-Core 1.1 §7.2 / Transport §6.4): the Accept option when
 * given (4.06 if this node cannot be carried in it); else the server's preferred format; else text/plain
 * (opaque for Opaque) for one value and TLV for anything larger (understood by 1.0 and 1.1 servers).
 */
export function pickReadFormat(
  node: LwM2MNode,
  path: LwM2MPath,
  accept: number | undefined,
  models: ModelLookup,
  preferred?: number,
): number {
  const fits = (f: number): boolean => {
    if (!SUPPORTED_NODE_FORMATS.includes(f)) return false;
    if (SINGLE_VALUE_FORMATS.has(f)) {
      if (!isSingleValue(node)) return false;
      const type = resourceTypeAt(models, path);
      if (f === ContentFormat.OPAQUE) return type === 'opaque';
    }
    return true;
  };
  if (accept !== undefined) {
    if (!fits(accept)) {
      throw new LwM2MError('NOT_ACCEPTABLE', `content format ${accept} cannot carry ${path.toString()}`);
    }
    return accept;
  }
  if (preferred !== undefined && fits(preferred)) return preferred;
  if (isSingleValue(node)) return resourceTypeAt(models, path) === 'opaque' ? ContentFormat.OPAQUE : ContentFormat.TEXT;
  return ContentFormat.TLV;
}

/** A request payload's format must be one we decode (else 4.15). */
export function requireDecodable(contentFormat: number | undefined, allowed: readonly number[] = SUPPORTED_NODE_FORMATS): number {
  if (contentFormat === undefined) {
    throw new LwM2MError('UNSUPPORTED_FORMAT', 'the request has a payload but no Content-Format option');
  }
  if (!allowed.includes(contentFormat)) {
    throw new LwM2MError('UNSUPPORTED_FORMAT', `content format ${contentFormat} is not supported here`);
  }
  return contentFormat;
}
