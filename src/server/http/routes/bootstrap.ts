import type { FastifyInstance } from 'fastify';
import {
  BootstrapConfigError, bootstrapConfigSchema, configKey, validateBootstrapConfig, type BootstrapConfig,
} from '../../bootstrap/config.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { endpointParam, errorResponses } from '../schemas.js';

/**
 * `GET|PUT|DELETE /api/v1/bootstrap/configs/{ep}` and `GET /api/v1/bootstrap/configs`: the configs the
 * Bootstrap-Server applies (`"*"` or `"default"`: the default config), behind {@link BootstrapConfigStore}.
 * The request schema is the config's own JSON Schema; the semantic checks of `validateBootstrapConfig`
 * follow, every issue reported with its JSON pointer.
 */

/** A mutable copy with an `$id`, for fastify's schema store and the OpenAPI components. */
const configSchema = { ...(structuredClone(bootstrapConfigSchema) as Record<string, unknown>), $id: 'BootstrapConfig' };

const issuesSchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    issues: { type: 'array', items: { type: 'object', properties: { pointer: { type: 'string' }, message: { type: 'string' } } } },
  },
} as const;

export function registerBootstrapRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.addSchema(configSchema);
  const tags = ['bootstrap'];
  const params = { type: 'object', required: ['ep'], properties: { ep: { ...endpointParam, description: 'Endpoint client name; "*" or "default" for the default config.' } } };
  const store = ctx.bootstrapConfigs;

  app.get('/api/v1/bootstrap/configs', {
    schema: {
      tags, summary: 'Every bootstrap config', operationId: 'listBootstrapConfigs',
      response: {
        200: {
          type: 'object',
          required: ['items'],
          properties: {
            items: {
              type: 'array',
              items: { type: 'object', required: ['endpoint', 'config'], properties: { endpoint: { type: 'string' }, config: { $ref: 'BootstrapConfig#' }, source: { type: 'string' } } },
            },
          },
        },
        ...errorResponses,
      },
    },
  }, async () => ({ items: await store.list() }));

  app.get<{ Params: { ep: string } }>('/api/v1/bootstrap/configs/:ep', {
    schema: {
      tags, summary: 'The bootstrap config of one endpoint (no fallback to the default)', operationId: 'getBootstrapConfig',
      params, response: { 200: { $ref: 'BootstrapConfig#' }, ...errorResponses },
    },
  }, async (req) => {
    const config = await store.get(req.params.ep);
    if (!config) throw new ApiError(404, 'NOT_FOUND', `no bootstrap config for ${JSON.stringify(configKey(req.params.ep))}`);
    return config;
  });

  app.put<{ Params: { ep: string }; Body: BootstrapConfig }>('/api/v1/bootstrap/configs/:ep', {
    schema: {
      tags, summary: 'Create or replace the bootstrap config of one endpoint', operationId: 'putBootstrapConfig',
      params, body: { $ref: 'BootstrapConfig#' },
      response: { 200: { $ref: 'BootstrapConfig#' }, 400: issuesSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const checked = validateBootstrapConfig(req.body, { models: ctx.lwm2m.models });
    if (!checked.ok) {
      const e = new BootstrapConfigError(checked.issues);
      return reply.code(400).send({ code: e.code, message: e.message, issues: checked.issues.map((i) => ({ pointer: i.pointer, message: i.message })) });
    }
    const existed = (await store.get(req.params.ep)) !== undefined;
    await store.put(req.params.ep, checked.config);
    ctx.events.publish('bootstrap', { kind: existed ? 'config-replaced' : 'config-created', endpoint: configKey(req.params.ep), time: new Date().toISOString() });
    return reply.code(200).send(checked.config);
  });

  app.delete<{ Params: { ep: string } }>('/api/v1/bootstrap/configs/:ep', {
    schema: {
      tags, summary: 'Delete the bootstrap config of one endpoint', operationId: 'deleteBootstrapConfig',
      params, response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses },
    },
  }, async (req, reply) => {
    if (!(await store.delete(req.params.ep))) throw new ApiError(404, 'NOT_FOUND', `no bootstrap config for ${JSON.stringify(configKey(req.params.ep))}`);
    ctx.events.publish('bootstrap', { kind: 'config-deleted', endpoint: configKey(req.params.ep), time: new Date().toISOString() });
    return reply.code(204).send();
  });
}
