import type { LwM2MPath } from '../core/path.js';
import type { ModelLookup } from '../model/types.js';
import type { LwM2MNode, PathValue } from '../model/node.js';

/** What a codec needs besides the bytes: the path the payload belongs to and the models for types. */
export interface CodecContext {
  /** The request path (`/3/0` for a read of instance 0 of Device). */
  readonly path: LwM2MPath;
  /** Models for resource types; without them typed formats fall back (TLV → opaque, text → string). */
  readonly models?: ModelLookup;
}

/** A single-node format (text, opaque, CBOR, TLV and the multi-record formats used for one node). */
export interface NodeCodec {
  encode(node: LwM2MNode, ctx: CodecContext): Uint8Array;
  decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode;
}

/**
 * A multi-path format (SenML JSON/CBOR, LwM2M CBOR, OMA JSON): flat leaf records, optionally
 * timestamped, as used by Read/Write/Observe-Composite and Send.
 */
export interface RecordsCodec {
  encodeRecords(records: readonly PathValue[], options?: { models?: ModelLookup }): Uint8Array;
  decodeRecords(payload: Uint8Array, options?: { models?: ModelLookup; basePath?: LwM2MPath }): PathValue[];
  /** Read-/Observe-Composite request payload: a list of paths without values. */
  encodePaths(paths: readonly LwM2MPath[]): Uint8Array;
  decodePaths(payload: Uint8Array): LwM2MPath[];
}
