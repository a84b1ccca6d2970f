/**
 * The requests of one bootstrap session, in order (LwM2M-TS-Core 1.1 §6.1.7; Transport 1.1 §6.2,
 * Bootstrap interface table): Bootstrap-Discover `GET /` with Accept link-format (optional),
 * Bootstrap-Delete `DELETE` of each configured path, Bootstrap-Write `PUT` of the Security instances
 * (the Bootstrap-Server account first when rewritten), the Server instances, the other instances,
 * Bootstrap-Read `GET` (1.1, optional), Bootstrap-Finish `POST /bs`. Pure: the session runs it.
 */
import { LwM2MPath, parsePath } from '../../core/path.js';
import { ContentFormat } from '../../codec/content-format.js';
import { ModelRegistry } from '../../model/registry.js';
import type { ModelLookup } from '../../model/types.js';
import { deleteRequest } from '../operations/delete.js';
import { discoverRequest } from '../operations/discover.js';
import { readRequest } from '../operations/read.js';
import type { ServerRequest } from '../operations/types.js';
import { writeRequest } from '../operations/write.js';
import { BOOTSTRAP_CONTENT_FORMATS, DEFAULT_DELETE_PATHS, type BootstrapConfig } from './config.js';
import {
  assignInstanceIds, bootstrapAccountNode, objectInstanceNode, securityInstanceNode, serverInstanceNode, type DiscoveredLayout,
} from './instances.js';

export type BootstrapOperation = 'discover' | 'delete' | 'write' | 'read' | 'finish';

export interface PlannedStep {
  readonly operation: BootstrapOperation;
  /** `/0/1`, `/`, or `/bs` for Bootstrap-Finish. */
  readonly path: string;
  readonly request: ServerRequest;
  /** The success code (2.05 discover/read, 2.02 delete, 2.04 write/finish). */
  readonly expect: string;
}

/** Formats that carry an object instance, i.e. usable for Bootstrap-Write of whole instances. */
const INSTANCE_FORMATS: ReadonlySet<number> = new Set([
  ContentFormat.TLV, ContentFormat.TLV_LEGACY, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR,
  ContentFormat.LWM2M_CBOR, ContentFormat.OMA_JSON, ContentFormat.OMA_JSON_LEGACY,
]);

/**
 * The format of the Bootstrap-Writes (and Accept of Bootstrap-Read): the config's, else the client's
 * `pct` (LwM2M-TS-Core 1.1 §6.1.4 "Preferred Content Format") when it can carry an instance, else TLV —
 * the one format every 1.0 and 1.1 client decodes (§7.4).
 */
export function chooseContentFormat(config: BootstrapConfig, preferred: number | undefined): number {
  if (config.contentFormat !== undefined) return BOOTSTRAP_CONTENT_FORMATS[config.contentFormat];
  if (preferred !== undefined && INSTANCE_FORMATS.has(preferred)) return preferred;
  return ContentFormat.TLV;
}

/** Models pinned to the object versions Bootstrap-Discover reported, where we have them. */
export function modelsForLayout(models: ModelLookup, layout: DiscoveredLayout | undefined): ModelLookup {
  if (!layout || layout.versions.size === 0 || !(models instanceof ModelRegistry)) return models;
  const pinned: Record<number, string> = {};
  for (const [id, ver] of layout.versions) if (models.has(id, ver)) pinned[id] = ver;
  return models.lookup(pinned);
}

export function discoverStep(): PlannedStep {
  return { operation: 'discover', path: '/', request: discoverRequest(LwM2MPath.ROOT), expect: '2.05' };
}

/** Bootstrap-Delete and Bootstrap-Write steps for `config`. Throws LWM2M_BAD_VALUE/BAD_MODEL on a config the models refuse. */
export function writeSteps(config: BootstrapConfig, format: number, models: ModelLookup, layout?: DiscoveredLayout): PlannedStep[] {
  const steps: PlannedStep[] = [];
  const ctx = { models };
  for (const text of config.delete ?? DEFAULT_DELETE_PATHS) {
    const path = parsePath(text);
    steps.push({ operation: 'delete', path: path.toString(), request: deleteRequest(path), expect: '2.02' });
  }
  const write = (path: LwM2MPath, node: Parameters<typeof writeRequest>[1]): void => {
    steps.push({ operation: 'write', path: path.toString(), request: writeRequest(path, node, format, ctx), expect: '2.04' });
  };
  const ids = assignInstanceIds(config, layout);
  const servers = config.servers ?? [];
  if (config.bootstrapServer) write(LwM2MPath.of(0, ids.bootstrapAccount), bootstrapAccountNode(ids.bootstrapAccount, config.bootstrapServer));
  servers.forEach((s, i) => {
    const id = ids.servers[i]?.security as number;
    write(LwM2MPath.of(0, id), securityInstanceNode(id, s));
  });
  servers.forEach((s, i) => {
    const id = ids.servers[i]?.server as number;
    write(LwM2MPath.of(1, id), serverInstanceNode(id, s));
  });
  for (const o of config.objects ?? []) {
    const path = parsePath(o.path);
    write(path, objectInstanceNode(o, models));
  }
  return steps;
}

/** Bootstrap-Read steps (LwM2M 1.1 only, /1 and /2). */
export function readSteps(config: BootstrapConfig, format: number): PlannedStep[] {
  return (config.read ?? []).map((text) => {
    const path = parsePath(text);
    return { operation: 'read', path: path.toString(), request: readRequest(path, format), expect: '2.05' };
  });
}

/** Bootstrap-Finish: POST /bs (LwM2M-TS-Transport 1.1 §6.2). */
export function finishStep(): PlannedStep {
  return { operation: 'finish', path: '/bs', request: { method: 'POST', uriPath: ['bs'] }, expect: '2.04' };
}
