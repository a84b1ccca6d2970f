import type { FastifyReply } from 'fastify';
import { LwM2MError } from '../../core/errors.js';
import type { BootstrapConfigStore } from '../bootstrap/config.js';
import type { Registration } from '../registration/registration.js';
import type { PskStore } from '../security/psk-store.js';
import type { DmContext } from './dm-jobs.js';
import type { ApiResponse } from './errors.js';
import type { EventHub } from './events.js';
import type { QueueModeDispatcher } from './queue-mode.js';
import type { SseBroker } from './sse.js';

/** What every route module gets. */
export interface ApiContext extends DmContext {
  readonly events: EventHub;
  readonly sse: SseBroker;
  readonly dispatcher: QueueModeDispatcher;
  readonly bootstrapConfigs: BootstrapConfigStore;
  /** PSK credentials of the LwM2M server's and of the Bootstrap-Server's DTLS listeners. */
  readonly psks: PskStore;
  readonly bootstrapPsks: PskStore;
  /** Timeout of DM requests without `?timeout=`, ms (undefined: the LwM2M server's default). */
  readonly defaultTimeoutMs: number | undefined;
  /** Epoch ms the API was created. */
  readonly startedAt: number;
}

/** The registration of `endpoint`, or `LWM2M_NOT_FOUND` (404). */
export function requireRegistration(ctx: ApiContext, endpoint: string): Registration {
  const reg = ctx.lwm2m.registrations.getByEndpoint(endpoint);
  if (!reg) throw new LwM2MError('NOT_FOUND', `endpoint "${endpoint}" is not registered`);
  return reg;
}

/** Writes an {@link ApiResponse}. */
export function sendApi(reply: FastifyReply, res: ApiResponse): FastifyReply {
  reply.code(res.statusCode);
  if (res.headers) for (const [k, v] of Object.entries(res.headers)) reply.header(k, v);
  return reply.send(res.body);
}
