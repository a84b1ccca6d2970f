import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { loadBuiltinRegistry } from '../model/builtin.js';
import type { ModelRegistry } from '../model/registry.js';
import { createUdpSocket, SERVER_RECV_BUFFER_SIZE } from '../transport/udp.js';
import { createBootstrapServer, DEFAULT_BOOTSTRAP_PORT, type BootstrapServer } from './bootstrap/bootstrap-server.js';
import { createBootstrapConfigStore } from './bootstrap/config-store.js';
import type { BootstrapConfig, BootstrapConfigStore } from './bootstrap/config.js';
import { createHttpApi, type HttpApi } from './http/api.js';
import { LwM2MServer } from './lwm2m-server.js';

export interface CreateServerOptions {
  /** Address every listener binds. Default 127.0.0.1. */
  host?: string;
  /** LwM2M server CoAP port. Default 5683; 0 picks a free one. */
  coapPort?: number;
  /** Bootstrap-Server CoAP port. Default 5783; 0 picks a free one; `false` runs no bootstrap server. */
  bsCoapPort?: number | false;
  /** HTTP API port. Default 8080; 0 picks a free one; `false` runs no HTTP API. */
  httpPort?: number | false;
  /** Directory of bootstrap configs (JSON/YAML, one per endpoint, `default.*` for the rest). */
  bootstrapConfigDir?: string;
  /** Bootstrap configs given in code (added after the directory's), by endpoint (`*` = default). */
  bootstrapConfigs?: Readonly<Record<string, BootstrapConfig>>;
  models?: ModelRegistry;
  logger?: Logger;
  clock?: Clock;
}

/** The reference server: LwM2M server + Bootstrap-Server + HTTP API, started together. */
export interface ReferenceServer {
  readonly lwm2m: LwM2MServer;
  readonly bootstrap: BootstrapServer | undefined;
  readonly http: HttpApi | undefined;
  /** Bootstrap configs (shared by the Bootstrap-Server and the HTTP API). */
  readonly bootstrapConfigs: BootstrapConfigStore;
  readonly coapUri: string;
  readonly bootstrapUri: string | undefined;
  readonly httpUrl: string | undefined;
  close(): Promise<void>;
}

/**
 * Starts the bundled reference server in-process (what `lwm2m-server` runs, and the fleet's embedded
 * target). A port already in use rejects with a TransportError (`TRANSPORT_ADDRESS_IN_USE`); whatever
 * was already started is closed again.
 */
export async function createServer(options: CreateServerOptions = {}): Promise<ReferenceServer> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? silentLogger;
  const models = options.models ?? loadBuiltinRegistry();
  const clock = options.clock ?? systemClock;
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    const socket = await createUdpSocket({ host, port: options.coapPort ?? 5683, recvBufferSize: SERVER_RECV_BUFFER_SIZE, logger });
    const lwm2m = new LwM2MServer({ socket, logger, models, clock });
    closers.push(() => lwm2m.close());
    const configs = await createBootstrapConfigStore(options.bootstrapConfigDir, { models });
    for (const [ep, cfg] of Object.entries(options.bootstrapConfigs ?? {})) await configs.put(ep, cfg);
    let bootstrap: BootstrapServer | undefined;
    if (options.bsCoapPort !== false) {
      bootstrap = await createBootstrapServer({ host, port: options.bsCoapPort ?? DEFAULT_BOOTSTRAP_PORT, configs, models, logger, clock });
      const bs = bootstrap;
      closers.push(() => bs.close());
    }
    let http: HttpApi | undefined;
    let httpUrl: string | undefined;
    if (options.httpPort !== false) {
      http = createHttpApi({ lwm2m, bootstrapConfigs: configs, logger, host, port: options.httpPort ?? 8080 });
      const api = http;
      closers.push(() => api.close());
      httpUrl = (await api.start()).url;
      if (bootstrap) {
        for (const ev of ['bootstrap-started', 'bootstrap-finished', 'bootstrap-failed'] as const) {
          bootstrap.on(ev, (session) => api.publish('bootstrap', { event: ev, session }, session.endpoint));
        }
      }
    }
    const hostInUri = host.includes(':') ? `[${host}]` : host;
    return {
      lwm2m,
      bootstrap,
      http,
      bootstrapConfigs: configs,
      coapUri: `coap://${hostInUri}:${lwm2m.port}`,
      bootstrapUri: bootstrap ? `coap://${hostInUri}:${bootstrap.port}` : undefined,
      httpUrl,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
