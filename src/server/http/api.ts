import swagger from '@fastify/swagger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { isLwM2MError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { parsePath } from '../../core/path.js';
import { MemoryBootstrapConfigStore } from '../bootstrap/config-store.js';
import type { BootstrapConfigStore } from '../bootstrap/config.js';
import type { LwM2MServer } from '../lwm2m-server.js';
import { clientSchema } from './client-json.js';
import { sendApi, type ApiContext } from './context.js';
import { errorResponse, errorResponseOf } from './errors.js';
import { EventHub, type ApiEvent, type ApiEventType } from './events.js';
import { ServerMetrics, type ServerMetricsOptions } from './metrics.js';
import { QueueModeDispatcher, type QueueModeOptions } from './queue-mode.js';
import { registerBootstrapRoutes } from './routes/bootstrap.js';
import { registerClientRoutes } from './routes/clients.js';
import { registerCompositeRoutes } from './routes/composite.js';
import { registerDmRoutes } from './routes/dm.js';
import { registerEventRoutes } from './routes/events.js';
import { registerRequestRoutes } from './routes/requests.js';
import { registerSecurityRoutes } from './routes/security.js';
import { registerFirmwareRoutes } from './routes/firmware.js';
import { registerShellRoutes } from '../profiles/shell/route.js';
import type { ShellContext } from '../profiles/shell/run.js';
import { FotaService, type FotaServiceOptions } from '../fota/service.js';
import { createApiFota, publishFotaEvents } from './fota-wiring.js';
import { PskStore } from '../security/psk-store.js';
import { registerSystemRoutes } from './routes/system.js';
import { sharedSchemas } from './schemas.js';
import { publishServerEvents } from './server-events.js';
import { SseBroker, type SseOptions } from './sse.js';

export interface HttpApiOptions {
  lwm2m: LwM2MServer;
  /** Queue-mode handling (awake window, bounds, clock). */
  queue?: QueueModeOptions;
  /** Where bootstrap configs live; default a new in-memory store. */
  bootstrapConfigs?: BootstrapConfigStore;
  /** PSKs of the LwM2M server's DTLS listener (`/api/v1/security`); default a new empty store. */
  psks?: PskStore;
  /** PSKs of the Bootstrap-Server's DTLS listener (`/api/v1/bootstrap/security`); default a new empty store. */
  bootstrapPsks?: PskStore;
  logger?: Logger;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Timeout of DM requests without `?timeout=`, ms. Default: the LwM2M server's. */
  requestTimeoutMs?: number;
  /** Events kept for `Last-Event-ID` resumption. Default 10 000. */
  eventBufferSize?: number;
  sse?: SseOptions;
  metrics?: ServerMetricsOptions;
  /** Log every HTTP request at info (default false: a load-test target logs errors only). */
  logRequests?: boolean;
  /** Maximum request body, bytes. Default 1 MiB. */
  bodyLimit?: number;
  /**
   * Firmware update (`/api/v1/clients/{ep}/firmware`, `/api/v1/firmware/…`, `GET /fw/{id}`): a service to use,
   * or options for the one the API creates (it then also serves `/fw/{id}` on the LwM2M server's CoAP socket).
   */
  fota?: FotaService | FotaHttpOptions;
  /** `POST /api/v1/clients/{ep}/shell` (Cumulocity device shell): per-device FOTA settings for `fwupdate`. */
  shell?: Pick<ShellContext, 'fotaSettings'>;
}

/** Options of the FOTA service the API creates. */
export interface FotaHttpOptions extends Omit<FotaServiceOptions, 'link' | 'pullBase' | 'endpoints'> {
  /** `coap://host:port` devices pull from (default the LwM2M server's socket address). */
  coapUri?: string;
  /** `coaps://host:port` (default the server's DTLS listener, if any). */
  coapsUri?: string;
  /** `http://host:port` devices pull from (default this API's URL). */
  httpUri?: string;
  httpsUri?: string;
}

export interface HttpApi {
  readonly app: FastifyInstance;
  readonly events: EventHub;
  readonly metrics: ServerMetrics;
  readonly queue: QueueModeDispatcher;
  readonly bootstrapConfigs: BootstrapConfigStore;
  readonly psks: PskStore;
  readonly bootstrapPsks: PskStore;
  /** Firmware update: images, jobs, campaigns. */
  readonly fota: FotaService;
  /** Publishes an event on `/api/v1/events` (the bootstrap server emits `bootstrap` events through this). */
  publish(type: ApiEventType | (string & {}), data: unknown, endpoint?: string): ApiEvent;
  /** Listens; resolves with the bound address (`url` is `http://host:port`). */
  start(): Promise<{ host: string; port: number; url: string }>;
  /** The bound URL once started. */
  readonly url: string | undefined;
  /** Ends every event stream and queued request, stops listening. Does not close the LwM2M server. */
  close(): Promise<void>;
}

const API_VERSION = '1.0.0';
const OPTIONAL_BODY: ReadonlySet<string> = new Set(['execute']);

/**
 * The reference server's HTTP API (fastify 5): JSON under `/api/v1`, Server-Sent Events, an OpenAPI 3.1
 * document generated from the route schemas (the same ones that validate requests), Prometheus metrics.
 */
export function createHttpApi(options: HttpApiOptions): HttpApi {
  const { lwm2m } = options;
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  const startedAt = Date.now();

  const events = new EventHub(options.eventBufferSize !== undefined ? { capacity: options.eventBufferSize } : {});
  const sse = new SseBroker(events, options.sse ?? {});
  const dispatcher = new QueueModeDispatcher(lwm2m, events, options.queue ?? {}, logger.child({ component: 'queue-mode' }));
  const metrics = new ServerMetrics(lwm2m, {
    ...(options.metrics ?? {}),
    gauges: { queuePending: () => dispatcher.pendingCount(), sseClients: () => sse.size, ...(options.metrics?.gauges ?? {}) },
  });
  const bootstrapConfigs = options.bootstrapConfigs ?? new MemoryBootstrapConfigStore([], { models: lwm2m.models });
  const psks = options.psks ?? new PskStore();
  const bootstrapPsks = options.bootstrapPsks ?? new PskStore();
  const detachEvents = publishServerEvents(lwm2m, events);
  const detachCount = events.subscribe(() => {
    const e = events.get(events.lastId);
    if (e) metrics.events.inc({ type: e.type });
  });
  const publish = (type: ApiEventType | (string & {}), data: unknown, endpoint?: string): ApiEvent => events.publish(type, data, endpoint);
  const ownFota = !(options.fota instanceof FotaService);
  const fota = options.fota instanceof FotaService ? options.fota : createApiFota(lwm2m, options.fota ?? {}, host, dispatcher, logger, () => url);
  const detachFota = publishFotaEvents(fota, events);
  const ctx: ApiContext = {
    lwm2m, metrics, events, sse, dispatcher, bootstrapConfigs, psks, bootstrapPsks, defaultTimeoutMs: options.requestTimeoutMs, startedAt,
  };

  const httpLog: FastifyBaseLogger = logger.child({ component: 'http' });
  const app: FastifyInstance = Fastify({
    loggerInstance: httpLog,
    logController: new LogController({ disableRequestLogging: !(options.logRequests ?? false) }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Validate, never silently strip: an unknown property is a 400.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });

  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'lwm2m-fleet reference server',
        version: API_VERSION,
        description:
          'LwM2M device management over HTTP: registered clients, DM operations (read, write, execute, create, delete, ' +
          'discover, write-attributes, observe, composite), queue mode, Server-Sent Events, bootstrap configs, PSK credentials of the DTLS listeners.',
      },
      tags: [
        { name: 'clients' }, { name: 'device management' }, { name: 'events' }, { name: 'bootstrap' }, { name: 'security' }, { name: 'firmware' }, { name: 'system' },
      ],
    },
    // Fastify requires a body once a body schema exists, so swagger marks every requestBody required;
    // Execute's body is optional (a preValidation hook supplies `{}`).
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject;
      const paths = (doc.openapiObject.paths ?? {}) as Record<string, Record<string, { operationId?: string; requestBody?: { required?: boolean } }>>;
      for (const item of Object.values(paths)) {
        for (const op of Object.values(item)) if (OPTIONAL_BODY.has(op.operationId ?? '') && op.requestBody) op.requestBody.required = false;
      }
      return doc.openapiObject;
    },
    refResolver: {
      // Shared schemas keep their $id as component name (components.schemas.ReadResult…).
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
    },
  });

  for (const s of [...sharedSchemas, clientSchema]) app.addSchema(s);
  // Response schemas document the API (OpenAPI); bodies are plain JSON. JSON.stringify instead of one
  // compiled fast-json-stringify serializer per route and status keeps start-up fast and never drops a field.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  app.setErrorHandler((err, req, reply) => {
    const res = errorResponse(err);
    if (res.statusCode >= 500 && !(isLwM2MError(err) && err.kind === 'TIMEOUT')) req.log.error({ err }, 'HTTP API request failed');
    return sendApi(reply, res);
  });

  app.setNotFoundHandler((req, reply) => {
    // A path too deep for any route (`/clients/ep/3/0/1/2/3`) is a bad path, not a missing route.
    const m = /^\/api\/v1\/clients\/[^/?]+\/([^?]+)/.exec(req.url);
    if (m) {
      const rest = (m[1] as string).replace(/\/(discover|attributes|observe)$/, '');
      try {
        parsePath(decodeURIComponent(rest));
      } catch (e) {
        if (isLwM2MError(e)) return sendApi(reply, errorResponseOf(400, e.code, e.message));
      }
    }
    return sendApi(reply, errorResponseOf(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`));
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.register(async (instance) => {
    registerSystemRoutes(instance, ctx);
    registerClientRoutes(instance, ctx);
    registerDmRoutes(instance, ctx);
    registerCompositeRoutes(instance, ctx);
    registerRequestRoutes(instance, ctx);
    registerEventRoutes(instance, ctx);
    registerBootstrapRoutes(instance, ctx);
    registerSecurityRoutes(instance, ctx);
    registerFirmwareRoutes(instance, fota);
    registerShellRoutes(instance, ctx, { fota, ...(options.shell ?? {}) });
  });

  // Event streams never end on their own: end them before the server waits for open connections.
  app.addHook('preClose', async () => {
    sse.close();
  });

  let url: string | undefined;
  let closed = false;
  return {
    app,
    events,
    metrics,
    queue: dispatcher,
    bootstrapConfigs,
    fota,
    psks,
    bootstrapPsks,
    publish,
    get url() {
      return url;
    },
    async start() {
      await app.listen({ host, port });
      const addr = app.server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      url = `http://${shownHost}:${addr.port}`;
      return { host: addr.address, port: addr.port, url };
    },
    async close() {
      if (closed) return;
      closed = true;
      detachEvents();
      detachCount();
      detachFota();
      if (ownFota) await fota.close();
      dispatcher.close();
      metrics.close();
      sse.close();
      await app.close();
    },
  };
}
