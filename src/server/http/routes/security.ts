import type { FastifyInstance } from 'fastify';
import { parseHexKey, type PskChange, type PskEntry, type PskStore } from '../../security/psk-store.js';
import type { ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { endpointParam, errorResponses, ref } from '../schemas.js';

/**
 * PSK credentials of the DTLS listeners (docs/server-security.md):
 * `GET /api/v1/security`, `GET|PUT|DELETE /api/v1/security/{ep}` — the LwM2M server's (coaps) store;
 * `GET /api/v1/bootstrap/security`, `GET|PUT|DELETE /api/v1/bootstrap/security/{ep}` — the
 * Bootstrap-Server's. Keys are write-only: answers carry the identity and the key's length, never the key.
 * Every change (from the API, a bootstrap config, …) is published as a `security` event.
 */

export const pskEntrySchema = {
  $id: 'PskEntry',
  type: 'object',
  description: 'One endpoint\'s PSK credentials. The key itself is never returned.',
  required: ['endpoint', 'identity', 'keyLength'],
  properties: {
    endpoint: { type: 'string' },
    identity: { type: 'string', description: 'PSK identity (UTF-8).' },
    keyLength: { type: 'integer', description: 'Length of the key in bytes.' },
    source: { type: 'string', description: 'Where the entry came from: `file:line`, `api`, `bootstrap config "ep"`.' },
  },
} as const;

export const pskPutSchema = {
  $id: 'PskPut',
  type: 'object',
  additionalProperties: false,
  required: ['identity', 'key'],
  properties: {
    identity: { type: 'string', minLength: 1, maxLength: 128, description: 'PSK identity, 1–128 bytes of UTF-8 (RFC 4279 §5.3).' },
    key: { type: 'string', pattern: '^(0[xX])?([0-9a-fA-F]{2}){1,64}$', description: 'The key in hex, 1–64 bytes (RFC 4279 §5.3).', examples: ['000102030405060708090a0b0c0d0e0f'] },
  },
} as const;

/** What the API shows of an entry. */
export function pskView(e: PskEntry): { endpoint: string; identity: string; keyLength: number; source?: string } {
  return { endpoint: e.endpoint, identity: e.identity, keyLength: e.key.length, ...(e.source !== undefined ? { source: e.source } : {}) };
}

function registerStoreRoutes(app: FastifyInstance, ctx: ApiContext, store: PskStore, base: string, server: 'lwm2m' | 'bootstrap'): void {
  const tags = ['security'];
  const which = server === 'lwm2m' ? 'LwM2M server (coaps)' : 'Bootstrap-Server (coaps)';
  const idPrefix = server === 'lwm2m' ? '' : 'Bootstrap';
  const params = { type: 'object', required: ['ep'], properties: { ep: endpointParam } };
  const notFound = (ep: string): ApiError => new ApiError(404, 'NOT_FOUND', `no PSK for endpoint ${JSON.stringify(ep)} on the ${which}`);

  app.get(base, {
    schema: {
      tags, summary: `PSK credentials of the ${which}, keys left out`, operationId: `list${idPrefix}Psks`,
      response: {
        200: { type: 'object', required: ['items', 'total'], properties: { items: { type: 'array', items: ref('PskEntry') }, total: { type: 'integer' } } },
        ...errorResponses,
      },
    },
  }, async () => ({ items: store.list().map(pskView), total: store.size }));

  app.get<{ Params: { ep: string } }>(`${base}/:ep`, {
    schema: {
      tags, summary: `The PSK identity of one endpoint on the ${which} (not the key)`, operationId: `get${idPrefix}Psk`,
      params, response: { 200: ref('PskEntry'), ...errorResponses },
    },
  }, async (req) => {
    const e = store.get(req.params.ep);
    if (!e) throw notFound(req.params.ep);
    return pskView(e);
  });

  app.put<{ Params: { ep: string }; Body: { identity: string; key: string } }>(`${base}/:ep`, {
    schema: {
      tags, summary: `Create or replace the PSK of one endpoint on the ${which}`, operationId: `put${idPrefix}Psk`,
      description: 'The identity must not belong to another endpoint (409 PSK_IDENTITY_IN_USE).',
      params, body: ref('PskPut'),
      response: {
        201: ref('PskEntry'),
        204: { type: 'null', description: 'Replaced.' },
        409: ref('Error'),
        ...errorResponses,
      },
    },
  }, async (req, reply) => {
    const key = parseHexKey(req.body.key);
    if (!(key instanceof Uint8Array)) throw new ApiError(400, 'BAD_REQUEST', `body/key: ${key.error}`);
    const change = store.put({ endpoint: req.params.ep, identity: req.body.identity, key, source: 'api' });
    if (change.type === 'created') {
      return reply.code(201).header('location', `${base}/${encodeURIComponent(req.params.ep)}`).send(pskView(change.entry));
    }
    return reply.code(204).send();
  });

  app.delete<{ Params: { ep: string } }>(`${base}/:ep`, {
    schema: {
      tags, summary: `Delete the PSK of one endpoint on the ${which}`, operationId: `delete${idPrefix}Psk`,
      description: 'New handshakes with its identity fail; an established DTLS session is not closed, but its requests are refused.',
      params, response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses },
    },
  }, async (req, reply) => {
    if (!store.delete(req.params.ep)) throw notFound(req.params.ep);
    return reply.code(204).send();
  });

  const onChange = (c: PskChange): void => {
    ctx.events.publish('security', { kind: `psk-${c.type}`, server, endpoint: c.entry.endpoint, identity: c.entry.identity, time: new Date().toISOString() }, c.entry.endpoint);
  };
  store.on('change', onChange);
  app.addHook('onClose', async () => {
    store.off('change', onChange);
  });
}

export function registerSecurityRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.addSchema(pskEntrySchema);
  app.addSchema(pskPutSchema);
  registerStoreRoutes(app, ctx, ctx.psks, '/api/v1/security', 'lwm2m');
  registerStoreRoutes(app, ctx, ctx.bootstrapPsks, '/api/v1/bootstrap/security', 'bootstrap');
}
