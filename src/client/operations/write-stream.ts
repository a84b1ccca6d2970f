/**
 * Streamed Write of an opaque resource (LwM2M-TS-Core 1.1 §6.3.3 Write, carried block-wise per RFC 7959
 * §2.3): for resources that registered a stream opener (the Firmware Update Package /5/0/0), a PUT whose
 * body comes in Block1 blocks is handed to the resource block by block instead of being reassembled —
 * the device never holds the whole value. Access control is checked once, at block 0, as a Write.
 * Other block-wise requests are not claimed and take the usual path (reassembled, then decoded).
 */
import { isLwM2MError } from '../../core/errors.js';
import { parsePath } from '../../core/path.js';
import { ContentFormat } from '../../codec/content-format.js';
import type { BlockwiseRequestHandler, BlockwiseRequestHead, BlockwiseResponse, BlockwiseSink } from '../connection.js';
import type { RequestContext } from '../context.js';
import type { ObjectInstance } from '../instance.js';
import { fail } from '../request.js';
import type { DeviceEnv } from './env.js';

/** Opens a stream for one transfer: a sink, or a response refusing it. */
export type ResourceStreamOpener = (head: BlockwiseRequestHead, ctx: RequestContext) => BlockwiseSink | BlockwiseResponse;

const openers = new WeakMap<ObjectInstance, Map<number, ResourceStreamOpener>>();

/** Lets block-wise Writes of `/o/i/rid` (opaque) stream into `opener` (called by object implementations). */
export function registerWriteStream(inst: ObjectInstance, resourceId: number, opener: ResourceStreamOpener): void {
  inst.resourceModel(resourceId);
  let m = openers.get(inst);
  if (!m) openers.set(inst, (m = new Map()));
  m.set(resourceId, opener);
}

export interface StreamedWriteHooks {
  /** Each block (queue-mode activity). */
  onBlock?(): void;
  /** The transfer ended with `code` (the `request` event). */
  onDone?(path: string, code: string, ms: number): void;
}

/** The device's handler of block-wise requests for one server account (`ctx`). */
export function streamedWriteHandler(env: DeviceEnv, ctx: RequestContext, hooks: StreamedWriteHooks = {}, now: () => number = Date.now): BlockwiseRequestHandler {
  const lookup = (uriPath: readonly string[]): ResourceStreamOpener | undefined => {
    if (uriPath.length !== 3 || !uriPath.every((s) => /^\d{1,5}$/.test(s))) return undefined;
    const [o, i, r] = uriPath.map(Number) as [number, number, number];
    const inst = env.tree.object(o)?.instance(i);
    return inst ? openers.get(inst)?.get(r) : undefined;
  };
  return {
    // LwM2M-TS-Transport 1.1 §6.4: Write (replace) of a resource is a PUT; opaque only (no decoding needed).
    claims: (method, uriPath, cf) =>
      method === 'PUT' && (cf === ContentFormat.OPAQUE || cf === undefined) && lookup(uriPath) !== undefined,
    open: (head) => {
      const path = `/${head.uriPath.join('/')}`;
      const t0 = now();
      const done = (code: string): void => hooks.onDone?.(path, code, now() - t0);
      const opener = lookup(head.uriPath);
      let opened: BlockwiseSink | BlockwiseResponse;
      try {
        if (!opener) return fail('4.04', `${path} is not present`);
        env.access.check(ctx, parsePath(path), 'W');
        opened = opener(head, ctx);
      } catch (e) {
        const r = isLwM2MError(e) ? fail(e.coapCode, e.detail) : fail('5.00', e instanceof Error ? e.message : String(e));
        done(r.code);
        return r;
      }
      hooks.onBlock?.();
      if (!('write' in opened)) {
        done(opened.code);
        return opened;
      }
      const sink = opened;
      return {
        write: (chunk) => {
          hooks.onBlock?.();
          const r = sink.write(chunk);
          if (r) done(r.code);
          return r;
        },
        end: () => {
          const r = sink.end();
          done(r.code);
          return r;
        },
        abort: (reason) => {
          sink.abort(reason);
          if (reason !== 'restarted') done('5.04');
        },
      };
    },
  };
}
