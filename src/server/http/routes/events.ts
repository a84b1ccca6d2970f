import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { API_EVENT_TYPES } from '../events.js';
import { errorResponses } from '../schemas.js';

/**
 * `GET /api/v1/events`: Server-Sent Events. Resume with the `Last-Event-ID` header (what EventSource sends
 * on reconnect) or `?lastEventId=`; filter with `?types=notification,update` and `?endpoint=`.
 */

interface EventsQuery {
  lastEventId?: number;
  types?: string;
  endpoint?: string;
}

const ID_RE = /^[0-9]{1,15}$/;

export function registerEventRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: EventsQuery; Headers: { 'last-event-id'?: string } }>('/api/v1/events', {
    schema: {
      tags: ['events'],
      summary: 'Server-Sent Events: registration, update, deregistration, expiry, notification, send, request-done, bootstrap',
      description:
        'Each event has an incremental `id`; a reconnect with `Last-Event-ID` replays what the bounded buffer still holds ' +
        '(a `gap` event says when it no longer holds everything). `: heartbeat` comments keep the stream alive; a consumer ' +
        'slower than the event rate gets a final `dropped` event and is disconnected.',
      operationId: 'events',
      headers: { type: 'object', properties: { 'last-event-id': { type: 'string', description: 'Resume after this event id.' } } },
      querystring: {
        type: 'object',
        properties: {
          lastEventId: { type: 'integer', minimum: 0, description: 'Resume after this event id (for clients that cannot set headers).' },
          types: { type: 'string', maxLength: 512, description: `Comma-separated event types (${API_EVENT_TYPES.join(', ')}).` },
          endpoint: { type: 'string', maxLength: 1024, description: 'Only events about this endpoint.' },
        },
      },
      response: {
        200: { description: 'An event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        ...errorResponses,
      },
    },
  }, async (req, reply) => {
    const header = req.headers['last-event-id'];
    let lastEventId = req.query.lastEventId;
    if (header !== undefined && header !== '') {
      if (!ID_RE.test(header.trim())) throw new ApiError(400, 'BAD_REQUEST', 'Last-Event-ID must be an event id (a decimal integer)');
      lastEventId = Number(header.trim());
    }
    if (ctx.sse.full) throw new ApiError(503, 'TOO_MANY_STREAMS', 'too many open event streams');
    const types = req.query.types?.split(',').map((t) => t.trim()).filter((t) => t !== '');
    reply.hijack();
    ctx.sse.attach(reply.raw, {
      ...(lastEventId !== undefined ? { lastEventId } : {}),
      ...(types !== undefined && types.length > 0 ? { types: new Set(types) } : {}),
      ...(req.query.endpoint !== undefined ? { endpoint: req.query.endpoint } : {}),
    });
  });
}
