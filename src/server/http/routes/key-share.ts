/**
 * `POST /api/v1/key-share` — the key-share endpoint of a DM server that devices are bootstrapped to by
 * someone else's Bootstrap-Server (deviceWISE-style custom DM servers, docs/platform-profiles.md): before
 * that Bootstrap-Server writes the device's credentials for this server, it POSTs
 * `{endpoint, identity, key}` here and this server puts the PSK into its DTLS store. Authorised by a
 * shared token (`Authorization: Bearer <token>`); without the token every POST is 401.
 * Answers: 204 stored; 400 bad body; 401 wrong token; 409 the identity is another endpoint's.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { parseHexKey, type PskStore } from '../../security/psk-store.js';
import { ApiError } from '../errors.js';
import { errorResponses } from '../schemas.js';

export interface KeyShareOptions {
  readonly psks: PskStore;
  /** The shared token key-share requests must carry. */
  readonly token: string;
}

const body = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'identity', 'key'],
  properties: {
    endpoint: { type: 'string', minLength: 1, maxLength: 256, description: 'Endpoint Client Name the PSK is for.' },
    identity: { type: 'string', minLength: 1, maxLength: 128, description: 'PSK identity, 1–128 bytes of UTF-8 (RFC 4279 §5.3).' },
    key: { type: 'string', pattern: '^(0[xX])?([0-9a-fA-F]{2}){1,64}$', description: 'The key in hex, 1–64 bytes.' },
  },
} as const;

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = header === undefined ? null : /^Bearer (.+)$/.exec(header);
  if (!m?.[1]) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerKeyShareRoute(app: FastifyInstance, opts: KeyShareOptions): void {
  app.post<{ Body: { endpoint: string; identity: string; key: string } }>('/api/v1/key-share', {
    schema: {
      tags: ['security'],
      summary: 'Key share: a Bootstrap-Server hands this DM server the PSK it is about to give a device',
      description: 'Puts `{endpoint, identity, key}` into the DTLS PSK store of the LwM2M server. Needs `Authorization: Bearer <token>` (the server\'s key-share token).',
      operationId: 'keyShare',
      body,
      response: { 204: { type: 'null', description: 'Stored.' }, ...errorResponses },
    },
  }, async (req, reply) => {
    if (!tokenMatches(req.headers.authorization, opts.token)) throw new ApiError(401, 'UNAUTHORIZED', 'key-share needs Authorization: Bearer <token>');
    const key = parseHexKey(req.body.key);
    if (!(key instanceof Uint8Array)) throw new ApiError(400, 'BAD_REQUEST', `key: ${key.error}`);
    opts.psks.put({ endpoint: req.body.endpoint, identity: req.body.identity, key, source: 'key-share' });
    return reply.code(204).send();
  });
}
