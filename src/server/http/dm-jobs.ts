import { performance } from 'node:perf_hooks';
import { isLwM2MError } from '../../core/errors.js';
import { LwM2MPath } from '../../core/path.js';
import type { DiscoverEntry } from '../../codec/link.js';
import type { LwM2MNode, ObjectInstanceNode, PathValue } from '../../model/node.js';
import type { LwM2MServer } from '../lwm2m-server.js';
import { compositeWriteRequest } from '../operations/composite.js';
import { createRequest } from '../operations/create.js';
import type { OperationResult, ReadResult } from '../operations/types.js';
import { writeAttributesRequest, type AttributeChanges } from '../operations/write-attributes.js';
import { writeRequest } from '../operations/write.js';
import type { Registration } from '../registration/registration.js';
import { deviceFailure, type ApiResponse } from './errors.js';
import { formatName } from './formats.js';
import type { ServerMetrics } from './metrics.js';
import type { DmJob } from './queue-mode.js';

/**
 * Each DM operation of the API as a {@link DmJob}: the typed LwM2MServer call, its answer mapped to the
 * API body (device errors become `{code, message, status}` with the mapped HTTP status), timed into the
 * `lwm2m_dm_request_duration_seconds` histogram. Request payloads are encoded once up front so a bad
 * value fails the HTTP call (400) instead of a queued request.
 */

export interface DmContext {
  readonly lwm2m: LwM2MServer;
  readonly metrics: ServerMetrics;
}

async function timed(ctx: DmContext, operation: string, fn: () => Promise<ApiResponse & { coapCode: string }>): Promise<ApiResponse> {
  const start = performance.now();
  try {
    const r = await fn();
    ctx.metrics.observeDm(operation, r.coapCode, (performance.now() - start) / 1000);
    return { statusCode: r.statusCode, body: r.body, ...(r.headers ? { headers: r.headers } : {}) };
  } catch (e) {
    const code = isLwM2MError(e) && e.kind === 'TIMEOUT' ? 'timeout' : 'error';
    ctx.metrics.observeDm(operation, code, (performance.now() - start) / 1000);
    throw e;
  }
}

function ok(statusCode: number, body: unknown, coapCode: string, headers?: Record<string, string>): ApiResponse & { coapCode: string } {
  return { statusCode, body, coapCode, ...(headers ? { headers } : {}) };
}

function failure(result: OperationResult, what: string): ApiResponse & { coapCode: string } {
  return { ...deviceFailure(result, what), coapCode: result.code };
}

/** `{status, contentFormat, contentFormatId, values}` of a successful read/observe. */
export function readBody(r: ReadResult): { status: string; contentFormat?: string; contentFormatId?: number; values: Record<string, unknown> } {
  return {
    status: r.code,
    ...(r.contentFormat !== undefined ? { contentFormat: formatName(r.contentFormat), contentFormatId: r.contentFormat } : {}),
    values: r.values ?? {},
  };
}

function readOutcome(r: ReadResult, what: string): ApiResponse & { coapCode: string } {
  return r.ok ? ok(200, readBody(r), r.code) : failure(r, what);
}

function statusOutcome(r: OperationResult, what: string): ApiResponse & { coapCode: string } {
  return r.ok ? ok(200, { status: r.code }, r.code) : failure(r, what);
}

function linkJson(e: DiscoverEntry): { path: string; attributes: Record<string, unknown>; extensions?: Record<string, unknown> } {
  const attributes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.attributes)) if (v !== undefined) attributes[k] = v;
  return {
    path: e.path.toString(),
    attributes,
    ...(e.extensions && e.extensions.size > 0 ? { extensions: Object.fromEntries(e.extensions) } : {}),
  };
}

function job(endpoint: string, operation: string, path: string, run: () => Promise<ApiResponse>): DmJob {
  return { endpoint, operation, path, run };
}

export function readJob(ctx: DmContext, ep: string, path: LwM2MPath, format: number | undefined, timeoutMs: number | undefined): DmJob {
  const what = `read ${path.toString()}`;
  return job(ep, 'read', path.toString(), () => timed(ctx, 'read', async () => readOutcome(await ctx.lwm2m.read(ep, path, format, timeoutMs), what)));
}

export function discoverJob(ctx: DmContext, ep: string, path: LwM2MPath, timeoutMs: number | undefined): DmJob {
  return job(ep, 'discover', path.toString(), () => timed(ctx, 'discover', async () => {
    const r = await ctx.lwm2m.discover(ep, path, timeoutMs);
    return r.ok ? ok(200, { status: r.code, links: (r.links ?? []).map(linkJson) }, r.code) : failure(r, `discover ${path.toString()}`);
  }));
}

export function writeJob(
  ctx: DmContext, reg: Registration, path: LwM2MPath, node: LwM2MNode, format: number, mode: 'replace' | 'update', timeoutMs: number | undefined,
): DmJob {
  writeRequest(path, node, format, { models: ctx.lwm2m.models }, mode, reg.rootPath); // throws on values the format cannot carry
  const ep = reg.endpoint;
  return job(ep, 'write', path.toString(), () => timed(ctx, 'write', async () =>
    statusOutcome(await ctx.lwm2m.write(ep, path, node, format, mode, timeoutMs), `write ${path.toString()}`)));
}

export function executeJob(ctx: DmContext, ep: string, path: LwM2MPath, args: string, timeoutMs: number | undefined): DmJob {
  return job(ep, 'execute', path.toString(), () => timed(ctx, 'execute', async () =>
    statusOutcome(await ctx.lwm2m.execute(ep, path, args, timeoutMs), `execute ${path.toString()}`)));
}

export function createJob(ctx: DmContext, reg: Registration, objectId: number, instance: ObjectInstanceNode, format: number, timeoutMs: number | undefined): DmJob {
  createRequest(objectId, instance, format, { models: ctx.lwm2m.models }, reg.rootPath); // encodes (validates) once
  const ep = reg.endpoint;
  return job(ep, 'create', `/${objectId}`, () => timed(ctx, 'create', async () => {
    const r = await ctx.lwm2m.create(ep, objectId, instance, format, timeoutMs);
    if (!r.ok) return failure(r, `create in /${objectId}`);
    const location = (r.location ?? LwM2MPath.of(objectId, instance.id)).toString();
    return ok(201, { status: r.code, location }, r.code, { location: `/api/v1/clients/${encodeURIComponent(ep)}${location}` });
  }));
}

export function deleteJob(ctx: DmContext, ep: string, path: LwM2MPath, timeoutMs: number | undefined): DmJob {
  return job(ep, 'delete', path.toString(), () => timed(ctx, 'delete', async () =>
    statusOutcome(await ctx.lwm2m.delete(ep, path, timeoutMs), `delete ${path.toString()}`)));
}

export function writeAttributesJob(ctx: DmContext, ep: string, path: LwM2MPath, attrs: AttributeChanges, timeoutMs: number | undefined): DmJob {
  writeAttributesRequest(path, attrs); // throws without attributes or with a non-finite one
  return job(ep, 'write-attributes', path.toString(), () => timed(ctx, 'write-attributes', async () =>
    statusOutcome(await ctx.lwm2m.writeAttributes(ep, path, attrs, timeoutMs), `write-attributes ${path.toString()}`)));
}

export function observeJob(ctx: DmContext, ep: string, path: LwM2MPath, format: number | undefined): DmJob {
  return job(ep, 'observe', path.toString(), () => timed(ctx, 'observe', async () =>
    readOutcome(await ctx.lwm2m.observe(ep, path, format), `observe ${path.toString()}`)));
}

export function cancelObserveJob(ctx: DmContext, ep: string, path: LwM2MPath): DmJob {
  return job(ep, 'cancel-observe', path.toString(), () => timed(ctx, 'cancel-observe', async () =>
    statusOutcome(await ctx.lwm2m.cancelObserve(ep, path), `cancel observe ${path.toString()}`)));
}

function joined(paths: readonly LwM2MPath[]): string {
  return paths.map((p) => p.toString()).join(',');
}

export function compositeReadJob(ctx: DmContext, ep: string, paths: readonly LwM2MPath[], format: number, timeoutMs: number | undefined): DmJob {
  return job(ep, 'read-composite', joined(paths), () => timed(ctx, 'read-composite', async () =>
    readOutcome(await ctx.lwm2m.readComposite(ep, paths, format, timeoutMs), 'read-composite')));
}

export function compositeWriteJob(ctx: DmContext, ep: string, records: readonly PathValue[], format: number, timeoutMs: number | undefined): DmJob {
  compositeWriteRequest(records, format, { models: ctx.lwm2m.models }); // encodes (validates) once
  return job(ep, 'write-composite', joined(records.map((r) => r.path)), () => timed(ctx, 'write-composite', async () =>
    statusOutcome(await ctx.lwm2m.writeComposite(ep, records, format, timeoutMs), 'write-composite')));
}

export function compositeObserveJob(ctx: DmContext, ep: string, paths: readonly LwM2MPath[], format: number): DmJob {
  return job(ep, 'observe-composite', joined(paths), () => timed(ctx, 'observe-composite', async () =>
    readOutcome(await ctx.lwm2m.observeComposite(ep, paths, format), 'observe-composite')));
}

export function compositeCancelObserveJob(ctx: DmContext, ep: string, paths: readonly LwM2MPath[], format: number): DmJob {
  return job(ep, 'cancel-observe-composite', joined(paths), () => timed(ctx, 'cancel-observe-composite', async () =>
    statusOutcome(await ctx.lwm2m.cancelObserveComposite(ep, paths, format), 'cancel observe-composite')));
}
