import { LwM2MError, isLwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import { decodePaths, decodeRecords, encodeRecords } from '../../codec/dispatch.js';
import { coerceValue } from '../../codec/values.js';
import { nodeToRecords, type PathValue } from '../../model/node.js';
import type { RequestContext } from '../context.js';
import { COMPOSITE_FORMATS, requireDecodable } from '../negotiate.js';
import { ok, type DeviceResponse } from '../request.js';
import type { DeviceEnv } from './env.js';
import { readNode } from './read.js';

/** The response format of a composite operation: Accept if composite-capable, else the request's format. */
export function compositeResponseFormat(accept: number | undefined, requestFormat: number): number {
  const f = accept ?? requestFormat;
  if (!COMPOSITE_FORMATS.includes(f)) {
    throw new LwM2MError('NOT_ACCEPTABLE', `content format ${f} cannot carry a composite response`);
  }
  return f;
}

/**
 * Reads several paths (any level). Paths that do not exist or that the server may not read are left out
 * (LwM2M-TS-Core 1.1 §6.3.8: the client returns what it can); if none can be read, the first error wins.
 */
export function readComposite(env: DeviceEnv, ctx: RequestContext, paths: readonly LwM2MPath[]): PathValue[] {
  const out: PathValue[] = [];
  let firstError: unknown;
  for (const p of paths) {
    try {
      out.push(...nodeToRecords(p, readNode(env, ctx, p)));
    } catch (e) {
      if (!isLwM2MError(e)) throw e;
      firstError ??= e;
    }
  }
  if (out.length === 0 && firstError !== undefined) throw firstError;
  return out;
}

/** Read-Composite (LwM2M-TS-Core 1.1 §6.3.8; Transport: FETCH with a path list). */
export function readCompositeRequest(
  env: DeviceEnv, ctx: RequestContext, payload: Uint8Array, contentFormat: number | undefined, accept: number | undefined,
): DeviceResponse {
  const reqFormat = requireDecodable(contentFormat, COMPOSITE_FORMATS);
  const format = compositeResponseFormat(accept, reqFormat);
  const paths = decodePaths(reqFormat, payload);
  if (paths.length === 0) throw new LwM2MError('BAD_REQUEST', 'Read-Composite names no path');
  return ok('2.05', encodeRecords(format, readComposite(env, ctx, paths), env.tree), format);
}

/**
 * Write-Composite (LwM2M-TS-Core 1.1 §6.3.9; Transport: iPATCH). Atomic: every target is checked
 * (existence, access, writability, type) before anything is written.
 */
export function writeCompositeRequest(
  env: DeviceEnv, ctx: RequestContext, payload: Uint8Array, contentFormat: number | undefined,
): DeviceResponse {
  const format = requireDecodable(contentFormat, COMPOSITE_FORMATS);
  const records = decodeRecords(format, payload, env.tree);
  if (records.length === 0) throw new LwM2MError('BAD_REQUEST', 'Write-Composite carries no value');
  for (const r of records) {
    if (r.path.depth < 3) throw new LwM2MError('BAD_REQUEST', `Write-Composite record ${r.path.toString()} is not a resource`);
    env.access.check(ctx, r.path, 'W');
    const inst = env.tree.requireInstance(r.path);
    const model = inst.resourceModel(r.path.resourceId as number);
    if (!ctx.internal && model.operations !== 'W' && model.operations !== 'RW') {
      throw new LwM2MError('METHOD_NOT_ALLOWED', `${r.path.toString()} (${model.name}) is not writable`);
    }
    if ((r.path.depth === 4) !== model.multiple) {
      throw new LwM2MError('BAD_REQUEST', `${r.path.toString()}: ${model.multiple ? 'multiple' : 'single'} resource addressed at the wrong level`);
    }
    coerceValue(r.value, model.type, r.path.toString());
  }
  for (const r of records) {
    const inst = env.tree.requireInstance(r.path);
    if (r.path.depth === 4) {
      inst.writeResourceInstance(r.path.resourceId as number, { kind: 'resourceInstance', id: r.path.resourceInstanceId as number, value: r.value }, ctx);
    } else {
      inst.writeResource({ kind: 'resource', id: r.path.resourceId as number, value: r.value }, ctx, true);
    }
  }
  return ok('2.04');
}
