import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { errorResponses, ref } from '../schemas.js';

/** `GET /api/v1/requests/{id}`: the outcome of a request queued for a sleeping queue-mode client. */
export function registerRequestRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Params: { id: string } }>('/api/v1/requests/:id', {
    schema: {
      tags: ['clients'], summary: 'Outcome of a queued request (pending, done or failed)', operationId: 'getRequest',
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: { 200: ref('RequestRecord'), ...errorResponses },
    },
  }, async (req) => {
    const record = ctx.dispatcher.request(req.params.id);
    if (!record) throw new ApiError(404, 'REQUEST_NOT_FOUND', `no request ${JSON.stringify(req.params.id)} (unknown, or forgotten: only the latest outcomes are kept)`);
    return record;
  });
}
