import type { FastifyInstance } from 'fastify';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../../registration/store.js';
import { clientJson } from '../client-json.js';
import { requireRegistration, type ApiContext } from '../context.js';
import { endpointParam, errorResponses, jsonValueMapSchema, ref } from '../schemas.js';

/** `GET /api/v1/clients` (cursor pagination, stable under concurrent changes), `GET /api/v1/clients/{ep}`. */

interface ListQuery {
  limit?: number;
  cursor?: string;
}

export function registerClientRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const tags = ['clients'];
  const service = ctx.lwm2m.registrations;

  app.get<{ Querystring: ListQuery }>('/api/v1/clients', {
    schema: {
      tags, summary: 'Registered clients, one page at a time (registration order)', operationId: 'listClients',
      querystring: {
        type: 'object',
        properties: {
          limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT },
          cursor: { type: 'string', pattern: '^[0-9a-z]{1,10}$', description: '`nextCursor` of the previous page.' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['items', 'total'],
          properties: {
            items: { type: 'array', items: ref('Client') },
            nextCursor: { type: 'string', description: 'Absent on the last page.' },
            total: { type: 'integer', description: 'Registrations right now.' },
          },
        },
        ...errorResponses,
      },
    },
  }, async (req) => {
    const page = service.store.list({
      ...(req.query.limit !== undefined ? { limit: req.query.limit } : {}),
      ...(req.query.cursor !== undefined ? { cursor: req.query.cursor } : {}),
    });
    return {
      items: page.items.map((r) => clientJson(r, service.expiresAt(r))),
      ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
      total: service.store.count(),
    };
  });

  app.get<{ Params: { ep: string } }>('/api/v1/clients/:ep', {
    schema: {
      tags, summary: 'One registered client', operationId: 'getClient',
      params: { type: 'object', required: ['ep'], properties: { ep: endpointParam } },
      response: { 200: ref('Client'), ...errorResponses },
    },
  }, async (req) => {
    const reg = requireRegistration(ctx, req.params.ep);
    return clientJson(reg, service.expiresAt(reg));
  });

  app.get<{ Params: { ep: string } }>('/api/v1/clients/:ep/latest', {
    schema: {
      tags, summary: 'Latest known values of a client (from reads, notifications and sends)', operationId: 'latestValues',
      params: { type: 'object', required: ['ep'], properties: { ep: endpointParam } },
      response: { 200: { type: 'object', required: ['values'], properties: { values: jsonValueMapSchema } }, ...errorResponses },
    },
  }, async (req) => {
    requireRegistration(ctx, req.params.ep);
    return { values: ctx.lwm2m.latestValues(req.params.ep) };
  });
}
