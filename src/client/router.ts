import { LwM2MError } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import { ContentFormat } from '../codec/content-format.js';
import { decodePaths, encode, encodeRecords } from '../codec/dispatch.js';
import { nodeToRecords, type LwM2MNode } from '../model/node.js';
import type { RequestContext } from './context.js';
import { COMPOSITE_FORMATS, pickReadFormat, requireDecodable } from './negotiate.js';
import type { ObserveSink, Observations } from './observations.js';
import { ok, type DeviceRequest, type DeviceResponse } from './request.js';
import { compositeResponseFormat, readComposite, readCompositeRequest, writeCompositeRequest } from './operations/composite.js';
import { create } from './operations/create.js';
import { del } from './operations/delete.js';
import { discover } from './operations/discover.js';
import { guard, guardSync, pathOf, type DeviceEnv } from './operations/env.js';
import { execute } from './operations/execute.js';
import { read, readNode } from './operations/read.js';
import { write } from './operations/write.js';
import { writeAttributes } from './operations/write-attributes.js';
import { bootstrapDelete } from './operations/bootstrap-delete.js';
import { bootstrapDiscover } from './operations/bootstrap-discover.js';
import { bootstrapFinish } from './operations/bootstrap-finish.js';
import { bootstrapRead } from './operations/bootstrap-read.js';
import { bootstrapWrite } from './operations/bootstrap-write.js';

export interface RoutedResponse extends DeviceResponse {
  /** Location-Path of a created instance (2.01 to Create). */
  readonly location?: LwM2MPath;
  /** True when an observation was established (the transport keeps the observe stream open). */
  readonly observing?: boolean;
}

/**
 * Maps a CoAP request from a DM server to an LwM2M operation (LwM2M-TS-Transport 1.1 §6.4, the
 * Device Management and Information Reporting tables) and runs it.
 */
export function handleDmRequest(
  env: DeviceEnv, observations: Observations, ctx: RequestContext, req: DeviceRequest, sink?: ObserveSink,
): RoutedResponse | Promise<RoutedResponse> {
  // The most frequent request by far, Read (GET without Observe, Accept ≠ 40), is synchronous: answered
  // without a promise, so the CoAP endpoint's fast path can reply in the same turn (src/coap/fast-path.ts).
  if (req.method === 'GET' && req.observe === undefined && req.accept !== ContentFormat.LINK) {
    return guardSync(() => read(env, ctx, pathOf(req), req.accept));
  }
  return handleOtherDmRequest(env, observations, ctx, req, sink);
}

async function handleOtherDmRequest(
  env: DeviceEnv, observations: Observations, ctx: RequestContext, req: DeviceRequest, sink?: ObserveSink,
): Promise<RoutedResponse> {
  let observing = false;
  const res = await guard(async (): Promise<RoutedResponse> => {
    const path = pathOf(req);
    switch (req.method) {
      case 'GET':
        if (req.accept === ContentFormat.LINK) return discover(env, ctx, path);
        if (req.observe === 0) {
          const r = observe(env, observations, ctx, [path], req.accept, sink);
          observing = r.code === '2.05' && sink !== undefined;
          return r;
        }
        if (req.observe === 1) observations.cancelTarget(ctx.shortServerId ?? -1, [path]);
        return read(env, ctx, path, req.accept);
      case 'FETCH': {
        if (req.observe === 0 || req.observe === 1) {
          const reqFormat = requireDecodable(req.contentFormat, COMPOSITE_FORMATS);
          const paths = decodePaths(reqFormat, req.payload);
          if (req.observe === 1) observations.cancelTarget(ctx.shortServerId ?? -1, paths);
          const format = compositeResponseFormat(req.accept, reqFormat);
          if (req.observe === 1) return ok('2.05', encodeRecords(format, readComposite(env, ctx, paths), env.tree), format);
          const r = observe(env, observations, ctx, paths, format, sink, true);
          observing = r.code === '2.05' && sink !== undefined;
          return r;
        }
        return readCompositeRequest(env, ctx, req.payload, req.contentFormat, req.accept);
      }
      case 'PUT':
        if (req.payload.length === 0 && req.contentFormat === undefined) {
          const r = writeAttributes(env, ctx, path, req.uriQuery);
          if (ctx.shortServerId !== undefined) observations.attributesChanged(ctx.shortServerId);
          return r;
        }
        return write(env, ctx, path, req.payload, req.contentFormat, true);
      case 'POST':
        if (path.depth === 1) return create(env, ctx, path, req.payload, req.contentFormat);
        if (path.depth === 2) return write(env, ctx, path, req.payload, req.contentFormat, false);
        if (path.depth === 3) return execute(env, ctx, path, req.payload);
        throw new LwM2MError('METHOD_NOT_ALLOWED', `POST is not allowed on ${path.toString()}`);
      case 'iPATCH':
        return writeCompositeRequest(env, ctx, req.payload, req.contentFormat);
      case 'DELETE':
        return del(env, ctx, path);
      default:
        throw new LwM2MError('METHOD_NOT_ALLOWED', `method ${req.method} is not an LwM2M operation`);
    }
  });
  return observing ? { ...res, observing } : res;
}

/** Observe / Observe-Composite (LwM2M-TS-Core 1.1 §6.4.1, §6.4.3; RFC 7641). */
function observe(
  env: DeviceEnv, observations: Observations, ctx: RequestContext, paths: readonly LwM2MPath[], accept: number | undefined,
  sink: ObserveSink | undefined, composite = false,
): RoutedResponse {
  const ssid = ctx.shortServerId;
  if (ssid === undefined) throw new LwM2MError('UNAUTHORIZED', 'observe needs a server account');
  const initial = paths.map((p) => readNode(env, ctx, p));
  const first = paths[0] as LwM2MPath;
  const format = composite ? (accept as number) : pickReadFormat(initial[0] as LwM2MNode, first, accept, env.tree, env.preferredFormat?.(ssid));
  const encodeNow = (): DeviceResponse => {
    if (composite) return ok('2.05', encodeRecords(format, readComposite(env, ctx, paths), env.tree), format);
    return ok('2.05', encode(format, readNode(env, ctx, first), { path: first, models: env.tree }), format);
  };
  const response = composite
    ? ok('2.05', encodeRecords(format, paths.flatMap((p, i) => nodeToRecords(p, initial[i] as LwM2MNode)), env.tree), format)
    : ok('2.05', encode(format, initial[0] as LwM2MNode, { path: first, models: env.tree }), format);
  if (sink) {
    observations.add({
      shortServerId: ssid,
      paths,
      initial,
      attributes: (p) => env.attributesFor(ssid).effective(p, serverDefaults(env, ssid)),
      read: (p) => readNode(env, ctx, p),
      encode: encodeNow,
      sink,
    });
  }
  return response;
}

/** Default pmin/pmax of a server account (/1/x/2, /1/x/3). */
export function serverDefaults(env: DeviceEnv, ssid: number): { pmin?: number; pmax?: number } {
  const server = env.tree.object(1)?.instanceList().find((s) => s.get(0) === ssid);
  const pmin = server?.get(2);
  const pmax = server?.get(3);
  return {
    ...(typeof pmin === 'number' ? { pmin } : {}),
    ...(typeof pmax === 'number' ? { pmax } : {}),
  };
}

export type DmOperation =
  | 'read' | 'discover' | 'observe' | 'cancel-observe' | 'write' | 'write-attributes' | 'execute' | 'create'
  | 'delete' | 'read-composite' | 'observe-composite' | 'cancel-observe-composite' | 'write-composite' | 'unknown';

/** The LwM2M operation a DM request carries (the same mapping as {@link handleDmRequest}). */
export function dmOperationOf(req: DeviceRequest): DmOperation {
  switch (req.method) {
    case 'GET':
      if (req.accept === ContentFormat.LINK) return 'discover';
      return req.observe === 0 ? 'observe' : req.observe === 1 ? 'cancel-observe' : 'read';
    case 'FETCH':
      return req.observe === 0 ? 'observe-composite' : req.observe === 1 ? 'cancel-observe-composite' : 'read-composite';
    case 'PUT':
      return req.payload.length === 0 && req.contentFormat === undefined ? 'write-attributes' : 'write';
    case 'POST':
      return req.uriPath.length === 1 ? 'create' : req.uriPath.length === 2 ? 'write' : 'execute';
    case 'iPATCH':
      return 'write-composite';
    case 'DELETE':
      return 'delete';
    default:
      return 'unknown';
  }
}

/** Outcome of a bootstrap request; `finished` is set when Bootstrap-Finish succeeded. */
export interface BootstrapRouted extends DeviceResponse {
  readonly finished?: boolean;
}

/** Maps a request from the Bootstrap-Server (LwM2M-TS-Transport 1.1 §6.2, Bootstrap interface table). */
export async function handleBootstrapRequest(env: DeviceEnv, req: DeviceRequest, lwm2mVersion: string): Promise<BootstrapRouted> {
  let finished = false;
  const res = await guard((): DeviceResponse => {
    if (req.method === 'POST' && req.uriPath.length === 1 && req.uriPath[0] === 'bs') {
      const r = bootstrapFinish(env);
      finished = true;
      return r;
    }
    const path = pathOf(req);
    switch (req.method) {
      case 'PUT':
        return bootstrapWrite(env, path, req.payload, req.contentFormat);
      case 'DELETE':
        return bootstrapDelete(env, path);
      case 'GET':
        if (req.accept === ContentFormat.LINK) return bootstrapDiscover(env, path, lwm2mVersion);
        return bootstrapRead(env, path, req.accept);
      default:
        throw new LwM2MError('METHOD_NOT_ALLOWED', `${req.method} is not a bootstrap operation`);
    }
  });
  return finished && res.code === '2.04' ? { ...res, finished } : res;
}
