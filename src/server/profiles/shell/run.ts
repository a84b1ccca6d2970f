/**
 * Runs parsed shell commands (./parse.ts) the way the HTTP API runs the same operations: each DM
 * command becomes the {@link DmJob} of its DM route and goes through the queue-mode dispatcher — so a
 * sleeping device's commands are queued (202 + requestId) and sent after its next Register/Update —
 * and answers with that route's JSON. `fwupdate` starts Cumulocity's FOTA flow on the orchestrator.
 */
import { LwM2MPath } from '../../../core/path.js';
import type { FotaService } from '../../fota/service.js';
import { isFotaError } from '../../fota/service.js';
import { isImageStoreError } from '../../fota/image-store.js';
import {
  cancelObserveJob, createJob, deleteJob, discoverJob, executeJob, observeJob, readJob, writeAttributesJob, writeJob, type DmContext,
} from '../../http/dm-jobs.js';
import { errorResponse, errorResponseOf, type ApiResponse } from '../../http/errors.js';
import { defaultWriteFormat } from '../../http/formats.js';
import { valuesToInstanceNode, writeBodyToNode } from '../../http/json-values.js';
import type { DmJob, QueueModeDispatcher } from '../../http/queue-mode.js';
import { resourceModelAt } from '../../../model/node.js';
import type { Registration } from '../../registration/registration.js';
import type { CumulocityFotaSettings } from '../cumulocity.js';
import { cumulocityFotaSpec, fwupdateImageRefs } from '../cumulocity-fota.js';
import type { ShellCommand } from './parse.js';

export interface ShellContext extends DmContext {
  readonly dispatcher: QueueModeDispatcher;
  readonly defaultTimeoutMs: number | undefined;
  readonly fota?: FotaService;
  /** The device's Cumulocity FOTA settings (from the bulk-registration CSV), if any. */
  readonly fotaSettings?: (endpoint: string) => CumulocityFotaSettings | undefined;
}

export interface ShellResult {
  /** 1-based line of the command in the request. */
  readonly line: number;
  readonly command: string;
  readonly statusCode: number;
  readonly body: unknown;
}

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/** A shell word as the JSON value the DM routes take, typed by the resource model when it has one. */
function shellValue(raw: string, path: LwM2MPath, ctx: DmContext): unknown {
  const type = resourceModelAt(ctx.lwm2m.models, path)?.type;
  const unquoted = /^"(.*)"$/s.exec(raw)?.[1] ?? raw;
  switch (type) {
    case 'string': case 'corelnk': case 'objlnk': case 'opaque':
      return type === 'opaque' && /^(?:[0-9a-fA-F]{2})+$/.test(unquoted) ? { hex: unquoted } : unquoted;
    case 'boolean':
      return raw === 'true' || raw === '1' ? true : raw === 'false' || raw === '0' ? false : raw;
    case 'integer': case 'unsignedInteger': case 'float': case 'time':
      return NUMBER.test(raw) ? Number(raw) : raw;
    default:
      if (NUMBER.test(raw)) return Number(raw);
      if (raw === 'true' || raw === 'false') return raw === 'true';
      return unquoted;
  }
}

/** The DM job of a command (not `fwupdate`); throws LwM2MError for values the path cannot take. */
export function shellJob(ctx: ShellContext, reg: Registration, cmd: Exclude<ShellCommand, { op: 'fwupdate' }>): DmJob {
  const ep = reg.endpoint;
  const timeout = ctx.defaultTimeoutMs;
  switch (cmd.op) {
    case 'read': return readJob(ctx, ep, cmd.path, undefined, timeout);
    case 'observe': return observeJob(ctx, ep, cmd.path, undefined);
    case 'cancelobservation': return cancelObserveJob(ctx, ep, cmd.path);
    case 'discover': return discoverJob(ctx, ep, cmd.path, timeout);
    case 'delete': return deleteJob(ctx, ep, cmd.path, timeout);
    case 'execute': return executeJob(ctx, ep, cmd.path, cmd.args, timeout);
    case 'writeattr': return writeAttributesJob(ctx, ep, cmd.path, cmd.attributes, timeout);
    case 'write': {
      const node = writeBodyToNode(cmd.path, { value: shellValue(cmd.value, cmd.path, ctx) }, ctx.lwm2m.models);
      // A resource path: Write (Replace) = PUT; a POST to a resource would be an Execute (LwM2M-TS-Core 1.1 §6.3.3).
      return writeJob(ctx, reg, cmd.path, node, defaultWriteFormat(reg, cmd.path, ctx.lwm2m.models), 'replace', timeout);
    }
    case 'create': {
      const used = new Set(reg.objectLinks.objects.find((o) => o.objectId === cmd.objectId)?.instances ?? []);
      let id = cmd.instanceId;
      for (let i = 0; id === undefined && i < 65535; i++) if (!used.has(i)) id = i;
      const path = LwM2MPath.of(cmd.objectId, id ?? 0);
      const values: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(cmd.values)) values[k] = shellValue(v, LwM2MPath.of(cmd.objectId, id ?? 0, Number(k.split('/')[0])), ctx);
      const node = valuesToInstanceNode(path, values, ctx.lwm2m.models);
      return createJob(ctx, reg, cmd.objectId, node, defaultWriteFormat(reg, path, ctx.lwm2m.models), timeout);
    }
  }
}

async function fwupdate(ctx: ShellContext, reg: Registration, cmd: Extract<ShellCommand, { op: 'fwupdate' }>): Promise<ApiResponse> {
  if (!ctx.fota) return errorResponseOf(501, 'LWM2M_NOT_IMPLEMENTED', 'fwupdate: this server has no FOTA service');
  const spec = cumulocityFotaSpec(ctx.fotaSettings?.(reg.endpoint));
  const refs = fwupdateImageRefs(cmd.name, cmd.version, cmd.url);
  let last: unknown;
  for (const ref of refs) {
    try {
      const job = await ctx.fota.start(reg.endpoint, ref, spec);
      const location = `/api/v1/clients/${encodeURIComponent(reg.endpoint)}/firmware`;
      return { statusCode: 202, body: job.snapshot(), headers: { location } };
    } catch (e) {
      last = e;
      if (!(isImageStoreError(e) && e.code === 'FOTA_IMAGE_NOT_FOUND')) break;
    }
  }
  if (isImageStoreError(last) && last.code === 'FOTA_IMAGE_NOT_FOUND') {
    return errorResponseOf(404, last.code, `fwupdate: no firmware image ${refs.map((r) => JSON.stringify(r)).join(' or ')} (upload it to /api/v1/firmware/images first)`);
  }
  if (isFotaError(last) || isImageStoreError(last)) return errorResponseOf(last.httpStatus, last.code, last.message);
  return errorResponse(last);
}

/** Runs one command: the same answer its DM route gives (or 202 while the device sleeps). */
export async function runShellCommand(ctx: ShellContext, reg: Registration, cmd: ShellCommand): Promise<ApiResponse> {
  if (cmd.op === 'fwupdate') return fwupdate(ctx, reg, cmd);
  let job: DmJob;
  try {
    job = shellJob(ctx, reg, cmd);
  } catch (e) {
    return errorResponse(e);
  }
  return ctx.dispatcher.execute(reg, job);
}

/**
 * Runs commands one after the other. One command: its answer as is. Several: `200 {results: [...]}`,
 * one entry per command with the status and body its route would have answered.
 */
export async function runShell(ctx: ShellContext, reg: Registration, commands: readonly ShellCommand[], texts: readonly string[]): Promise<ApiResponse> {
  const results: ShellResult[] = [];
  for (const [i, cmd] of commands.entries()) {
    const r = await runShellCommand(ctx, reg, cmd);
    if (commands.length === 1) return r;
    results.push({ line: cmd.line, command: texts[i] ?? cmd.op, statusCode: r.statusCode, body: r.body });
  }
  return { statusCode: 200, body: { results } };
}
