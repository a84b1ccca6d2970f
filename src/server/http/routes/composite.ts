import type { FastifyInstance, FastifyReply } from 'fastify';
import { LwM2MError } from '../../../core/errors.js';
import { parsePath, type LwM2MPath } from '../../../core/path.js';
import type { Registration } from '../../registration/registration.js';
import { requireRegistration, sendApi, type ApiContext } from '../context.js';
import { compositeCancelObserveJob, compositeObserveJob, compositeReadJob, compositeWriteJob } from '../dm-jobs.js';
import { defaultCompositeFormat, formatNumber } from '../formats.js';
import { MAX_VALUES, valuesToRecords } from '../json-values.js';
import type { DmJob } from '../queue-mode.js';
import { compositeFormatQuery, endpointParam, errorResponses, ref, timeoutQuery } from '../schemas.js';

/**
 * Composite operations (LwM2M-TS-Core 1.1 §6.3.8, §6.3.9, §6.4.3):
 * `POST /api/v1/clients/{ep}/composite/read|write|observe`, `DELETE …/composite/observe`.
 */

const MAX_PATHS = 256;

interface EpParams {
  ep: string;
}

interface CompositeQuery {
  format?: string;
  timeout?: number;
}

interface PathsBody {
  paths: string[];
}

interface ValuesBody {
  values: Record<string, unknown>;
}

const pathsBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['paths'],
  properties: {
    paths: { type: 'array', minItems: 1, maxItems: MAX_PATHS, items: { type: 'string', minLength: 1, maxLength: 32 }, description: 'LwM2M paths (`/3/0/9`).' },
  },
} as const;

const valuesBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['values'],
  properties: {
    values: {
      type: 'object', minProperties: 1, maxProperties: MAX_VALUES, additionalProperties: true,
      description: 'Resource (instance) path → value, typed by the object model.',
    },
  },
} as const;

function parsePaths(texts: readonly string[]): LwM2MPath[] {
  const paths = texts.map((t, i) => {
    try {
      return parsePath(t);
    } catch (e) {
      if (e instanceof LwM2MError) throw new LwM2MError('BAD_PATH', `paths[${i}]: ${e.detail}`);
      throw e;
    }
  });
  if (paths.some((p) => p.isRoot())) throw new LwM2MError('BAD_PATH', 'composite paths address objects, instances or resources, not "/"');
  return paths;
}

export function registerCompositeRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['device management'];
  const params = { type: 'object', required: ['ep'], properties: { ep: endpointParam } };
  const querystring = { type: 'object', properties: { format: compositeFormatQuery, timeout: timeoutQuery } };
  const observeQuery = { type: 'object', properties: { format: compositeFormatQuery } };

  const run = async (reply: FastifyReply, ep: string, build: (reg: Registration) => DmJob): Promise<FastifyReply> => {
    const reg = requireRegistration(ctx, ep);
    return sendApi(reply, await ctx.dispatcher.execute(reg, build(reg)));
  };
  const formatOf = (q: CompositeQuery, reg: Registration): number => (q.format !== undefined ? formatNumber(q.format) : defaultCompositeFormat(reg));

  app.post<{ Params: EpParams; Querystring: CompositeQuery; Body: PathsBody }>('/api/v1/clients/:ep/composite/read', {
    schema: {
      tags, summary: 'Read-Composite: several paths in one request', operationId: 'readComposite',
      params, querystring, body: pathsBodySchema,
      response: { 200: ref('ReadResult'), 202: ref('Queued'), ...errorResponses },
    },
  }, async (req, reply) => {
    const paths = parsePaths(req.body.paths);
    return run(reply, req.params.ep, (reg) => compositeReadJob(ctx, reg.endpoint, paths, formatOf(req.query, reg), req.query.timeout ?? ctx.defaultTimeoutMs));
  });

  app.post<{ Params: EpParams; Querystring: CompositeQuery; Body: ValuesBody }>('/api/v1/clients/:ep/composite/write', {
    schema: {
      tags, summary: 'Write-Composite: several resources in one request', operationId: 'writeComposite',
      params, querystring, body: valuesBodySchema,
      response: { 200: ref('Status'), 202: ref('Queued'), ...errorResponses },
    },
  }, async (req, reply) => {
    const records = valuesToRecords(req.body.values, ctx.lwm2m.models);
    return run(reply, req.params.ep, (reg) => compositeWriteJob(ctx, reg.endpoint, records, formatOf(req.query, reg), req.query.timeout ?? ctx.defaultTimeoutMs));
  });

  app.post<{ Params: EpParams; Querystring: CompositeQuery; Body: PathsBody }>('/api/v1/clients/:ep/composite/observe', {
    schema: {
      tags, summary: 'Observe-Composite: notifications arrive on /api/v1/events', operationId: 'observeComposite',
      params, querystring: observeQuery, body: pathsBodySchema,
      response: { 200: ref('ReadResult'), 202: ref('Queued'), ...errorResponses },
    },
  }, async (req, reply) => {
    const paths = parsePaths(req.body.paths);
    return run(reply, req.params.ep, (reg) => compositeObserveJob(ctx, reg.endpoint, paths, formatOf(req.query, reg)));
  });

  app.delete<{ Params: EpParams; Querystring: CompositeQuery; Body: PathsBody }>('/api/v1/clients/:ep/composite/observe', {
    schema: {
      tags, summary: 'Cancel an Observe-Composite (same path list)', operationId: 'cancelObserveComposite',
      params, querystring: observeQuery, body: pathsBodySchema,
      response: { 200: ref('Status'), 202: ref('Queued'), ...errorResponses },
    },
  }, async (req, reply) => {
    const paths = parsePaths(req.body.paths);
    return run(reply, req.params.ep, (reg) => compositeCancelObserveJob(ctx, reg.endpoint, paths, formatOf(req.query, reg)));
  });
}
