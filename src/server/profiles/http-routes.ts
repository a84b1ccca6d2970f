/**
 * HTTP routes of a profile's named data (ThingsBoard-style attributes and telemetry), for the reference
 * server's API, before it starts: `api.app.register(async (i) => registerTelemetryRoutes(i, adapter.store))`
 * (as a plugin, so that the routes load after @fastify/swagger and appear in the OpenAPI document).
 *
 * - `GET /api/v1/clients/{ep}/telemetry` → `{ attributes: {key: {ts, value}}, telemetry: {key: {ts, value}} }`
 *   (attributes and the newest point of each telemetry key);
 * - `GET /api/v1/clients/{ep}/telemetry/{key}?limit=N` → `{ key, points: [{ts, value}] }`, oldest first.
 *
 * An endpoint the store has nothing for is 404 (LWM2M_NOT_FOUND), like an unknown client.
 */
import type { FastifyInstance } from 'fastify';
import { LwM2MError } from '../../core/errors.js';
import { endpointParam, errorResponses } from '../http/schemas.js';
import type { TelemetryStore } from './telemetry-store.js';

const timedValue = {
  type: 'object', required: ['ts'],
  properties: { ts: { type: 'integer', description: 'Epoch ms the server stored it.' }, value: { description: 'The value (JSON).' } },
} as const;

/** Bound on `?limit=`. */
export const MAX_TELEMETRY_LIMIT = 100_000;

export function registerTelemetryRoutes(app: FastifyInstance, store: TelemetryStore): void {
  const tags = ['clients'];
  const known = (ep: string): void => {
    if (!store.has(ep)) throw new LwM2MError('NOT_FOUND', `no attributes or telemetry for endpoint "${ep}"`);
  };
  app.get<{ Params: { ep: string } }>('/api/v1/clients/:ep/telemetry', {
    schema: {
      tags, summary: 'Named attributes and the latest telemetry of a client (profile keyName mapping)', operationId: 'latestTelemetry',
      params: { type: 'object', required: ['ep'], properties: { ep: endpointParam } },
      response: {
        200: {
          type: 'object', required: ['attributes', 'telemetry'],
          properties: { attributes: { type: 'object', additionalProperties: timedValue }, telemetry: { type: 'object', additionalProperties: timedValue } },
        },
        ...errorResponses,
      },
    },
  }, async (req) => {
    known(req.params.ep);
    return store.latest(req.params.ep);
  });

  app.get<{ Params: { ep: string; key: string }; Querystring: { limit?: number } }>('/api/v1/clients/:ep/telemetry/:key', {
    schema: {
      tags, summary: 'The time series of one telemetry key of a client, oldest first', operationId: 'telemetrySeries',
      params: { type: 'object', required: ['ep', 'key'], properties: { ep: endpointParam, key: { type: 'string', minLength: 1, maxLength: 256 } } },
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_TELEMETRY_LIMIT, description: 'The newest N points (default: all kept).' } } },
      response: {
        200: { type: 'object', required: ['key', 'points'], properties: { key: { type: 'string' }, points: { type: 'array', items: timedValue } } },
        ...errorResponses,
      },
    },
  }, async (req) => {
    known(req.params.ep);
    return { key: req.params.key, points: store.telemetry(req.params.ep, req.params.key, req.query.limit !== undefined ? { limit: req.query.limit } : {}) };
  });
}
