import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';

/** `GET /api/v1/openapi.json`, `GET /metrics` (Prometheus text format), `GET /healthz`. */
export function registerSystemRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/api/v1/openapi.json', {
    schema: {
      tags: ['system'], summary: 'This API as an OpenAPI 3.1 document', operationId: 'openapi',
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, async () => app.swagger());

  app.get('/metrics', {
    schema: {
      tags: ['system'], summary: 'Prometheus metrics', operationId: 'metrics',
      response: { 200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  }, async (_req, reply) => {
    const { contentType, body } = await ctx.metrics.render();
    return reply.type(contentType).send(body);
  });

  app.get('/healthz', {
    schema: {
      tags: ['system'], summary: 'Liveness', operationId: 'healthz',
      response: {
        200: {
          type: 'object',
          required: ['status'],
          properties: {
            status: { type: 'string', enum: ['ok'] },
            registrations: { type: 'integer' },
            eventStreams: { type: 'integer' },
            queuedRequests: { type: 'integer' },
            uptimeSeconds: { type: 'number' },
          },
        },
      },
    },
  }, async () => ({
    status: 'ok' as const,
    registrations: ctx.lwm2m.registrations.store.count(),
    eventStreams: ctx.sse.size,
    queuedRequests: ctx.dispatcher.pendingCount(),
    uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
  }));
}
