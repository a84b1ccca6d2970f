import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { LwM2MError } from '../../../core/errors.js';
import { LwM2MPath, parsePath } from '../../../core/path.js';
import type { AttributeChanges } from '../../operations/write-attributes.js';
import type { Registration } from '../../registration/registration.js';
import { requireRegistration, sendApi, type ApiContext } from '../context.js';
import {
  cancelObserveJob, createJob, deleteJob, discoverJob, executeJob, observeJob, readJob, writeAttributesJob, writeJob,
} from '../dm-jobs.js';
import { ApiError } from '../errors.js';
import { defaultWriteFormat, formatNumber, type FormatName } from '../formats.js';
import { MAX_VALUES, valuesToInstanceNode, writeBodyToNode, type WriteBody } from '../json-values.js';
import type { DmJob } from '../queue-mode.js';
import { attributeQuery, endpointParam, errorResponses, formatQuery, idParam, ref, timeoutQuery } from '../schemas.js';

/**
 * Single-path DM operations: `GET|PUT|POST|DELETE /api/v1/clients/{ep}/{path}` (read, write, execute or
 * create, delete) and `…/{path}/discover`, `…/{path}/attributes`, `…/{path}/observe`. One route per path
 * depth (`/{objectId}` … `/{objectId}/{instanceId}/{resourceId}/{resourceInstanceId}`), so the OpenAPI
 * document names every id; a bad id is a 400 naming the segment (parsed before schema validation).
 */

const ID_NAMES = ['objectId', 'instanceId', 'resourceId', 'resourceInstanceId'] as const;
const ID_LABELS = ['Object', 'Object instance', 'Resource', 'Resource instance'] as const;

interface PathParams {
  ep: string;
  objectId?: string;
  instanceId?: string;
  resourceId?: string;
  resourceInstanceId?: string;
}

interface FormatQuery {
  format?: FormatName;
  timeout?: number;
}

interface WriteQuery extends FormatQuery {
  mode?: 'replace' | 'update';
}

interface TimeoutQuery {
  timeout?: number;
}

type AttributesQuery = TimeoutQuery & { [K in keyof AttributeChanges]?: string };

interface CreateBody {
  id?: number;
  values: Record<string, unknown>;
}

interface ExecuteBody {
  args?: string;
}

/** The LwM2M path of the route's id params; throws `LWM2M_BAD_PATH` naming the bad segment. */
export function pathOfParams(params: PathParams): LwM2MPath {
  const ids: string[] = [];
  for (const name of ID_NAMES) {
    const v = params[name];
    if (v === undefined) break;
    ids.push(v);
  }
  return parsePath(`/${ids.join('/')}`);
}

async function checkPath(request: FastifyRequest): Promise<void> {
  pathOfParams(request.params as PathParams);
}

function paramsSchema(depth: number): object {
  const properties: Record<string, object> = { ep: endpointParam };
  for (let i = 0; i < depth; i++) properties[ID_NAMES[i] as string] = idParam(ID_LABELS[i] as string);
  return { type: 'object', required: ['ep', ...ID_NAMES.slice(0, depth)], properties };
}

function urlOf(depth: number, suffix = ''): string {
  return `/api/v1/clients/:ep/${ID_NAMES.slice(0, depth).map((n) => `:${n}`).join('/')}${suffix}`;
}

const LEVELS = ['', 'an object', 'an object instance', 'a resource', 'a resource instance'] as const;

const writeBodySchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'Either `value` (the target resource itself; a multiple resource as `{"0": v, …}` or `[v, …]`) or `values` ' +
    '(paths → values: absolute `/3/0/14` or relative to the target `14`, `7/0`).',
  properties: {
    value: { description: 'Typed by the object model: opaque as base64 or {"hex"|"base64"|"text"}, time as epoch seconds or ISO 8601, objlnk as "3:0".' },
    values: { type: 'object', maxProperties: MAX_VALUES, additionalProperties: true },
  },
} as const;

const createBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['values'],
  properties: {
    id: { type: 'integer', minimum: 0, maximum: 65534, description: 'Instance id; default the lowest id the client did not register.' },
    values: { type: 'object', maxProperties: MAX_VALUES, additionalProperties: true, description: 'Resource id (or path) → value.' },
  },
} as const;

const executeBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { args: { type: 'string', maxLength: 4096, description: "Execute arguments (LwM2M-TS-Core 1.1 §5.4.3: `0='v',1`)." } },
} as const;

/** Lowest instance id the registration does not list for the object. */
function freeInstanceId(reg: Registration, objectId: number): number {
  const used = new Set(reg.objectLinks.objects.find((o) => o.objectId === objectId)?.instances ?? []);
  for (let id = 0; id < 65535; id++) if (!used.has(id)) return id;
  throw new LwM2MError('BAD_REQUEST', `object ${objectId} has no free instance id`);
}

const INTEGER_ATTRS = new Set(['pmin', 'pmax', 'epmin', 'epmax']);
const ATTRS = ['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax'] as const;

function attributeChanges(q: AttributesQuery): AttributeChanges {
  const out: AttributeChanges = {};
  for (const k of ATTRS) {
    const v = q[k];
    if (v === undefined) continue;
    out[k] = v === '' ? null : Number(v);
  }
  if (Object.keys(out).length === 0) {
    throw new ApiError(400, 'BAD_REQUEST', `give at least one of ${ATTRS.join(', ')} (empty to unset)`);
  }
  return out;
}

export function registerDmRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const timeoutOf = (q: TimeoutQuery): number | undefined => q.timeout ?? ctx.defaultTimeoutMs;

  const run = async (reply: FastifyReply, ep: string, build: (reg: Registration) => DmJob): Promise<FastifyReply> => {
    const reg = requireRegistration(ctx, ep);
    return sendApi(reply, await ctx.dispatcher.execute(reg, build(reg)));
  };

  const notAllowed = (allow: string, why: string) => async (_req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    reply.header('allow', allow);
    return sendApi(reply, { statusCode: 405, body: { code: 'LWM2M_METHOD_NOT_ALLOWED', message: why } });
  };

  for (let depth = 1; depth <= 4; depth++) {
    const level = LEVELS[depth] as string;
    const params = paramsSchema(depth);
    const tags = ['device management'];
    const queued = { 202: ref('Queued') };

    app.get<{ Params: PathParams; Querystring: FormatQuery }>(urlOf(depth), {
      preValidation: checkPath,
      schema: {
        tags, summary: `Read ${level}`, operationId: `read${depth}`,
        params, querystring: { type: 'object', properties: { format: formatQuery, timeout: timeoutQuery } },
        response: { 200: ref('ReadResult'), ...queued, ...errorResponses },
      },
    }, async (req, reply) => {
      const path = pathOfParams(req.params);
      const format = req.query.format !== undefined ? formatNumber(req.query.format) : undefined;
      return run(reply, req.params.ep, () => readJob(ctx, req.params.ep, path, format, timeoutOf(req.query)));
    });

    if (depth >= 2) {
      app.put<{ Params: PathParams; Querystring: WriteQuery; Body: WriteBody }>(urlOf(depth), {
        preValidation: checkPath,
        schema: {
          tags, summary: `Write ${level} (replace, or partial update with ?mode=update)`, operationId: `write${depth}`,
          params,
          querystring: {
            type: 'object',
            properties: { format: formatQuery, timeout: timeoutQuery, mode: { type: 'string', enum: ['replace', 'update'], default: 'replace' } },
          },
          body: writeBodySchema,
          response: { 200: ref('Status'), ...queued, ...errorResponses },
        },
      }, async (req, reply) => {
        const path = pathOfParams(req.params);
        const node = writeBodyToNode(path, req.body, ctx.lwm2m.models);
        return run(reply, req.params.ep, (reg) => {
          const format = req.query.format !== undefined ? formatNumber(req.query.format) : defaultWriteFormat(reg, path, ctx.lwm2m.models);
          return writeJob(ctx, reg, path, node, format, req.query.mode ?? 'replace', timeoutOf(req.query));
        });
      });
    } else {
      app.put(urlOf(depth), { schema: { hide: true } }, notAllowed('GET, POST', 'Write addresses an object instance, resource or resource instance'));
    }

    if (depth === 1) {
      app.post<{ Params: PathParams; Querystring: FormatQuery; Body: CreateBody }>(urlOf(depth), {
        preValidation: checkPath,
        schema: {
          tags, summary: 'Create an object instance', operationId: 'create',
          params, querystring: { type: 'object', properties: { format: formatQuery, timeout: timeoutQuery } },
          body: createBodySchema,
          response: { 201: ref('Created'), ...queued, ...errorResponses },
        },
      }, async (req, reply) => {
        const objectId = pathOfParams(req.params).objectId as number;
        return run(reply, req.params.ep, (reg) => {
          const id = req.body.id ?? freeInstanceId(reg, objectId);
          const instancePath = LwM2MPath.of(objectId, id);
          const node = valuesToInstanceNode(instancePath, req.body.values, ctx.lwm2m.models);
          const format = req.query.format !== undefined ? formatNumber(req.query.format) : defaultWriteFormat(reg, instancePath, ctx.lwm2m.models);
          return createJob(ctx, reg, objectId, node, format, timeoutOf(req.query));
        });
      });
    } else if (depth === 3) {
      app.post<{ Params: PathParams; Querystring: TimeoutQuery; Body: ExecuteBody | undefined }>(urlOf(depth), {
        // The body is optional: a bare POST executes without arguments.
        preValidation: async (req) => {
          await checkPath(req);
          req.body ??= {};
        },
        schema: {
          tags, summary: 'Execute a resource', operationId: 'execute',
          params, querystring: { type: 'object', properties: { timeout: timeoutQuery } },
          body: executeBodySchema,
          response: { 200: ref('Status'), ...queued, ...errorResponses },
        },
      }, async (req, reply) => {
        const path = pathOfParams(req.params);
        return run(reply, req.params.ep, () => executeJob(ctx, req.params.ep, path, req.body?.args ?? '', timeoutOf(req.query)));
      });
    } else {
      app.post(urlOf(depth), { schema: { hide: true } }, notAllowed('GET, PUT, DELETE', 'POST creates on an object or executes a resource; write an instance with PUT (?mode=update for a partial update)'));
    }

    app.delete<{ Params: PathParams; Querystring: TimeoutQuery }>(urlOf(depth), {
      preValidation: checkPath,
      schema: {
        tags, summary: `Delete ${level}`, operationId: `delete${depth}`,
        params, querystring: { type: 'object', properties: { timeout: timeoutQuery } },
        response: { 200: ref('Status'), ...queued, ...errorResponses },
      },
    }, async (req, reply) => {
      const path = pathOfParams(req.params);
      return run(reply, req.params.ep, () => deleteJob(ctx, req.params.ep, path, timeoutOf(req.query)));
    });

    app.get<{ Params: PathParams; Querystring: TimeoutQuery }>(urlOf(depth, '/discover'), {
      preValidation: checkPath,
      schema: {
        tags, summary: `Discover ${level} (attributes and resources)`, operationId: `discover${depth}`,
        params, querystring: { type: 'object', properties: { timeout: timeoutQuery } },
        response: { 200: ref('DiscoverResult'), ...queued, ...errorResponses },
      },
    }, async (req, reply) => {
      const path = pathOfParams(req.params);
      return run(reply, req.params.ep, () => discoverJob(ctx, req.params.ep, path, timeoutOf(req.query)));
    });

    app.put<{ Params: PathParams; Querystring: AttributesQuery }>(urlOf(depth, '/attributes'), {
      preValidation: checkPath,
      schema: {
        tags, summary: `Write-Attributes on ${level}`, operationId: `writeAttributes${depth}`,
        params,
        querystring: {
          type: 'object',
          properties: {
            pmin: attributeQuery('Minimum period, s', true),
            pmax: attributeQuery('Maximum period, s', true),
            gt: attributeQuery('Greater than', false),
            lt: attributeQuery('Less than', false),
            st: attributeQuery('Step', false),
            epmin: attributeQuery('Minimum evaluation period, s (1.1)', true),
            epmax: attributeQuery('Maximum evaluation period, s (1.1)', true),
            timeout: timeoutQuery,
          },
        },
        response: { 200: ref('Status'), ...queued, ...errorResponses },
      },
    }, async (req, reply) => {
      const path = pathOfParams(req.params);
      const attrs = attributeChanges(req.query);
      for (const [k, v] of Object.entries(attrs)) {
        if (typeof v === 'number' && INTEGER_ATTRS.has(k) && !Number.isSafeInteger(v)) throw new ApiError(400, 'BAD_REQUEST', `${k} is too large`);
      }
      return run(reply, req.params.ep, () => writeAttributesJob(ctx, req.params.ep, path, attrs, timeoutOf(req.query)));
    });

    app.post<{ Params: PathParams; Querystring: FormatQuery }>(urlOf(depth, '/observe'), {
      preValidation: checkPath,
      schema: {
        tags, summary: `Observe ${level}: notifications arrive on /api/v1/events`, operationId: `observe${depth}`,
        params, querystring: { type: 'object', properties: { format: formatQuery } },
        response: { 200: ref('ReadResult'), ...queued, ...errorResponses },
      },
    }, async (req, reply) => {
      const path = pathOfParams(req.params);
      const format = req.query.format !== undefined ? formatNumber(req.query.format) : undefined;
      return run(reply, req.params.ep, () => observeJob(ctx, req.params.ep, path, format));
    });

    app.delete<{ Params: PathParams }>(urlOf(depth, '/observe'), {
      preValidation: checkPath,
      schema: {
        tags, summary: `Cancel the observation of ${level} (active cancel)`, operationId: `cancelObserve${depth}`,
        params,
        response: { 200: ref('Status'), ...queued, ...errorResponses },
      },
    }, async (req, reply) => {
      const path = pathOfParams(req.params);
      return run(reply, req.params.ep, () => cancelObserveJob(ctx, req.params.ep, path));
    });
  }
}
