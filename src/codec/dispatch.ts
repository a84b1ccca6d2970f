import { LwM2MError } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import type { LwM2MNode, PathValue } from '../model/node.js';
import type { ModelLookup } from '../model/types.js';
import { cborCodec } from './cbor.js';
import { CONTENT_FORMAT_NAMES, ContentFormat, isContentFormat, type ContentFormatNumber } from './content-format.js';
import { parseLinkFormat, type Link } from './link.js';
import { lwm2mCborCodec } from './lwm2m-cbor.js';
import { omaJsonCodec } from './oma-json.js';
import { opaqueCodec } from './opaque.js';
import { senmlCborCodec } from './senml-cbor.js';
import { senmlJsonCodec } from './senml-json.js';
import { textCodec } from './text.js';
import { tlvCodec } from './tlv.js';
import type { CodecContext, NodeCodec, RecordsCodec } from './types.js';

const NODE_CODECS: ReadonlyMap<number, NodeCodec> = new Map<number, NodeCodec>([
  [ContentFormat.TEXT, textCodec],
  [ContentFormat.OPAQUE, opaqueCodec],
  [ContentFormat.CBOR, cborCodec],
  [ContentFormat.SENML_JSON, senmlJsonCodec],
  [ContentFormat.SENML_CBOR, senmlCborCodec],
  [ContentFormat.TLV, tlvCodec],
  [ContentFormat.TLV_LEGACY, tlvCodec],
  [ContentFormat.OMA_JSON, omaJsonCodec],
  [ContentFormat.OMA_JSON_LEGACY, omaJsonCodec],
  [ContentFormat.LWM2M_CBOR, lwm2mCborCodec],
]);

const RECORD_CODECS: ReadonlyMap<number, RecordsCodec> = new Map<number, RecordsCodec>([
  [ContentFormat.SENML_JSON, senmlJsonCodec],
  [ContentFormat.SENML_CBOR, senmlCborCodec],
  [ContentFormat.OMA_JSON, omaJsonCodec],
  [ContentFormat.OMA_JSON_LEGACY, omaJsonCodec],
  [ContentFormat.LWM2M_CBOR, lwm2mCborCodec],
]);

function formatName(format: number): string {
  return isContentFormat(format) ? `${CONTENT_FORMAT_NAMES[format]} (${format})` : `content format ${format}`;
}

/** The node codec for a content format; unknown or non-node formats → `LWM2M_UNSUPPORTED_FORMAT` (4.15). */
export function nodeCodecFor(format: number): NodeCodec {
  const codec = NODE_CODECS.get(format);
  if (!codec) {
    throw new LwM2MError('UNSUPPORTED_FORMAT', `${formatName(format)} cannot carry an LwM2M node`);
  }
  return codec;
}

/** The multi-path (composite, Send) codec; other formats → 4.15. */
export function recordsCodecFor(format: number): RecordsCodec {
  const codec = RECORD_CODECS.get(format);
  if (!codec) {
    throw new LwM2MError('UNSUPPORTED_FORMAT', `${formatName(format)} cannot carry multiple paths (composite/Send)`);
  }
  return codec;
}

/** Encodes the node at `ctx.path` in `format`. */
export function encode(format: number, node: LwM2MNode, ctx: CodecContext): Uint8Array {
  return nodeCodecFor(format).encode(node, ctx);
}

/** Decodes the payload addressed to `ctx.path`. Any failure is an LwM2MError with CoAP 4.00 or 4.15. */
export function decode(format: number, payload: Uint8Array, ctx: CodecContext): LwM2MNode {
  return nodeCodecFor(format).decode(payload, ctx);
}

export function encodeRecords(format: number, records: readonly PathValue[], models?: ModelLookup): Uint8Array {
  return recordsCodecFor(format).encodeRecords(records, models ? { models } : {});
}

export function decodeRecords(format: number, payload: Uint8Array, models?: ModelLookup): PathValue[] {
  return recordsCodecFor(format).decodeRecords(payload, models ? { models } : {});
}

export function encodePaths(format: number, paths: readonly LwM2MPath[]): Uint8Array {
  return recordsCodecFor(format).encodePaths(paths);
}

export function decodePaths(format: number, payload: Uint8Array): LwM2MPath[] {
  return recordsCodecFor(format).decodePaths(payload);
}

/** What any LwM2M payload decodes to, by content format. */
export type DecodedPayload =
  | { readonly kind: 'node'; readonly format: ContentFormatNumber; readonly node: LwM2MNode }
  | { readonly kind: 'links'; readonly format: 40; readonly links: Link[] };

/** The one dispatch by content-format number, for every format including the link format. */
export function decodePayload(format: number, payload: Uint8Array, ctx: CodecContext): DecodedPayload {
  if (format === ContentFormat.LINK) return { kind: 'links', format: ContentFormat.LINK, links: parseLinkFormat(payload) };
  const node = decode(format, payload, ctx);
  return { kind: 'node', format: format as ContentFormatNumber, node };
}

/** Formats able to carry a node at the level `path` addresses (for content negotiation). */
export function formatsForLevel(path: LwM2MPath): ContentFormatNumber[] {
  const all: ContentFormatNumber[] = [
    ContentFormat.TLV, ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON, ContentFormat.LWM2M_CBOR,
    ContentFormat.OMA_JSON, ContentFormat.TLV_LEGACY, ContentFormat.OMA_JSON_LEGACY,
  ];
  if (path.depth >= 3) all.push(ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.CBOR);
  return all;
}
