/**
 * application/octet-stream (content format 42), LwM2M-TS-Core 1.1 §7.4.2: the raw bytes of one Opaque
 * resource or resource instance. Any other model type is not carried by this format.
 */
import { LwM2MError } from '../core/errors.js';
import type { LwM2MNode } from '../model/node.js';
import { singleValueOf, singleValueTarget } from './text.js';
import type { CodecContext, NodeCodec } from './types.js';

const FORMAT = 'application/octet-stream';

export const opaqueCodec: NodeCodec = {
  encode(node: LwM2MNode, ctx: CodecContext): Uint8Array {
    const { value, type } = singleValueOf(node, ctx, FORMAT);
    if (type !== undefined && type !== 'opaque') {
      throw new LwM2MError('NOT_ACCEPTABLE', `${ctx.path.toString()} is of type ${type}: ${FORMAT} carries only opaque values`);
    }
    if (!(value instanceof Uint8Array)) {
      throw new LwM2MError('NOT_ACCEPTABLE', `${ctx.path.toString()}: ${FORMAT} carries only opaque (bytes) values`);
    }
    const copy = new Uint8Array(value.length); // plain Uint8Array even when given a Buffer
    copy.set(value);
    return copy;
  },
  decode(payload: Uint8Array, ctx: CodecContext): LwM2MNode {
    // Wrong level or wrong model type: this format cannot carry the target → 4.15 Unsupported Content-Format.
    const target = singleValueTarget(ctx, 'UNSUPPORTED_FORMAT', FORMAT);
    if (target.type !== undefined && target.type !== 'opaque') {
      throw new LwM2MError('UNSUPPORTED_FORMAT', `${ctx.path.toString()} is of type ${target.type}: ${FORMAT} carries only opaque values`);
    }
    // A plain copy: the payload may be a reused I/O buffer (or a Buffer).
    const copy = new Uint8Array(payload.length);
    copy.set(payload);
    return target.wrap(copy);
  },
};
