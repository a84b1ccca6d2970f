import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { loadBuiltinRegistry } from '../model/builtin.js';
import type { ModelRegistry } from '../model/registry.js';
import { LwM2MError } from '../core/errors.js';
import type { DatagramSocket } from '../transport/datagram.js';
import { createDtlsServer, type DtlsCipherSuiteName, type DtlsServerLimits, type DtlsServerSocket } from '../transport/dtls/server/index.js';
import { createUdpSocket, SERVER_RECV_BUFFER_SIZE } from '../transport/udp.js';
import { createBootstrapServer, DEFAULT_BOOTSTRAP_PORT, type BootstrapServer } from './bootstrap/bootstrap-server.js';
import { createBootstrapConfigStore } from './bootstrap/config-store.js';
import type { BootstrapConfig, BootstrapConfigStore } from './bootstrap/config.js';
import { createHttpApi, type HttpApi } from './http/api.js';
import type { QueueModeOptions } from './http/queue-mode.js';
import type { CumulocityFotaSettings } from './profiles/cumulocity.js';
import { cumulocityFotaSpec } from './profiles/cumulocity-fota.js';
import type { FotaJobSpec } from './fota/types.js';
import { LwM2MServer } from './lwm2m-server.js';
import { registerTelemetryRoutes } from './profiles/http-routes.js';
import { registerKeyShareRoute } from './http/routes/key-share.js';
import { ThingsBoardProfileAdapter } from './profiles/thingsboard/adapter.js';
import type { ThingsBoardProfile } from './profiles/thingsboard/profile.js';
import { BootstrapPskProvisioner, configSource } from './security/bootstrap-psk.js';
import { registerDtlsMetrics } from './security/metrics.js';
import { formatPskFileIssue, loadPskFile } from './security/psk-csv.js';
import { PskStore, isPskStoreError, type PskEntry } from './security/psk-store.js';

/** DTLS settings shared by the LwM2M server's and the Bootstrap-Server's listeners. */
export interface ServerDtlsOptions {
  /** PSK identity hint sent in the ServerKeyExchange (RFC 4279 §2); none by default. */
  identityHint?: string;
  /** Server preference order; default CCM_8 (the LwM2M mandatory suite, RFC 7925 §4.2) then GCM. */
  cipherSuites?: readonly DtlsCipherSuiteName[];
  limits?: DtlsServerLimits;
}

export interface CreateServerOptions {
  /** Address every listener binds. Default 127.0.0.1. */
  host?: string;
  /** LwM2M server CoAP port. Default 5683; 0 picks a free one. */
  coapPort?: number;
  /** Bootstrap-Server CoAP port. Default 5783; 0 picks a free one; `false` runs no bootstrap server. */
  bsCoapPort?: number | false;
  /** HTTP API port. Default 8080; 0 picks a free one; `false` runs no HTTP API. */
  httpPort?: number | false;
  /** LwM2M server DTLS (coaps) port; 0 picks a free one. Default `false`: no DTLS listener. */
  coapsPort?: number | false;
  /** Bootstrap-Server DTLS (coaps) port; 0 picks a free one. Default `false`. Needs the Bootstrap-Server. */
  bsCoapsPort?: number | false;
  /** PSK credentials of the LwM2M server's DTLS listener (put before `pskFile`'s; a bad one throws PskStoreError). */
  psks?: readonly PskEntry[];
  /** CSV file of `endpoint,identity,hexkey` lines for the LwM2M server; bad rows are {@link ReferenceServer.securityIssues}. */
  pskFile?: string;
  /** PSK credentials of the Bootstrap-Server's DTLS listener (the devices' bootstrap credentials). */
  bsPsks?: readonly PskEntry[];
  /** CSV file of the Bootstrap-Server's PSKs, same format as `pskFile`. */
  bsPskFile?: string;
  dtls?: ServerDtlsOptions;
  /** Directory of bootstrap configs (JSON/YAML, one per endpoint, `default.*` for the rest). */
  bootstrapConfigDir?: string;
  /** Directory of firmware image files (LWFW format) a firmware job may name by file name. */
  firmwareDir?: string;
  /** Bootstrap configs given in code (added after the directory's), by endpoint (`*` = default). */
  bootstrapConfigs?: Readonly<Record<string, BootstrapConfig>>;
  /** A ThingsBoard LwM2M device profile applied to every registration (docs/platform-profiles.md). */
  thingsBoardProfile?: ThingsBoardProfile;
  /**
   * Called before a bootstrap session starts, after the PSK checks: a string refuses the bootstrap
   * (4.00 with that reason). deviceWISE-style key shares run here; the hook bounds its own time.
   */
  beforeBootstrap?: (endpoint: string, resolved: { readonly key: string; readonly config: BootstrapConfig }) => Promise<string | undefined>;
  /** Serve `POST /api/v1/key-share` (PSKs from other Bootstrap-Servers) with this shared token. */
  keyShareToken?: string;
  /**
   * Endpoint → awake time, ms (Cumulocity's `awakeTimeRegistrationParameter`): wins over the `at`
   * registration attribute; above 0 the endpoint's API requests are queued while it sleeps and sent after
   * its next Register/Update (post-registration commands). `loadPlatformImports(…).awakeTimesMs`.
   */
  awakeTimesMs?: Readonly<Record<string, number>>;
  /** Endpoint → Cumulocity FOTA settings: the flow the shell's `fwupdate` starts. `loadPlatformImports(…).fotaSettings`. */
  fotaSettings?: Readonly<Record<string, CumulocityFotaSettings>>;
  /**
   * Endpoint → the FOTA job settings a platform profile gives (e.g. a deviceWISE-style profile's `fota`):
   * the defaults of `POST /api/v1/clients/{ep}/firmware` after a Cumulocity import's own (`fotaSettings`).
   */
  fotaDefaults?: (endpoint: string) => Partial<FotaJobSpec> | undefined;
  /** Queue-mode handling of the HTTP API: `maxPending` is the per-device limit of queued requests (one more → 503 LWM2M_QUEUE_FULL), `awakeTimeMs` the server default. */
  queue?: Omit<QueueModeOptions, 'awakeTimeFor'>;
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
  /** PSKs of the LwM2M server's DTLS listener (also fed by bootstrap configs that hand out PSK credentials). */
  readonly psks: PskStore;
  /** PSKs of the Bootstrap-Server's DTLS listener. */
  readonly bootstrapPsks: PskStore;
  /**
   * Problems with PSK sources that did not stop the start: bad rows of the PSK files
   * (`file:line:col: message`) and bootstrap configs whose PSK could not be bound.
   */
  readonly securityIssues: readonly string[];
  readonly coapUri: string;
  /** `coaps://host:port` of the LwM2M server, when it listens on DTLS. */
  readonly coapsUri: string | undefined;
  readonly bootstrapUri: string | undefined;
  /** `coaps://host:port` of the Bootstrap-Server, when it listens on DTLS. */
  readonly bootstrapCoapsUri: string | undefined;
  readonly httpUrl: string | undefined;
  /** The applied ThingsBoard profile (its `store` holds the named attributes and telemetry), when given. */
  readonly profileAdapter: ThingsBoardProfileAdapter | undefined;
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
  const coapsPort = options.coapsPort ?? false;
  const bsCoapsPort = options.bsCoapsPort ?? false;
  if (bsCoapsPort !== false && options.bsCoapPort === false) {
    throw new LwM2MError('BAD_VALUE', 'bsCoapsPort needs the Bootstrap-Server, but bsCoapPort is false');
  }
  // PSK sources first: a DTLS listener must never run with half its credentials.
  const psks = new PskStore();
  const bootstrapPsks = new PskStore();
  const securityIssues: string[] = [];
  for (const e of options.psks ?? []) psks.put(e);
  for (const e of options.bsPsks ?? []) bootstrapPsks.put(e);
  if (options.pskFile !== undefined) securityIssues.push(...(await loadPskFile(psks, options.pskFile)).issues.map(formatPskFileIssue));
  if (options.bsPskFile !== undefined) securityIssues.push(...(await loadPskFile(bootstrapPsks, options.bsPskFile)).issues.map(formatPskFileIssue));
  const dtlsSocket = (udp: DatagramSocket, store: PskStore, name: string): DtlsServerSocket => {
    const s = createDtlsServer(udp, {
      psk: store.resolver, clock, logger: logger.child({ component: `dtls-${name}` }),
      ...(options.dtls?.identityHint !== undefined ? { identityHint: options.dtls.identityHint } : {}),
      ...(options.dtls?.cipherSuites ? { cipherSuites: options.dtls.cipherSuites } : {}),
      ...(options.dtls?.limits ? { limits: options.dtls.limits } : {}),
    });
    s.on('handshake-failed', (peer, reason) => logger.info({ peer, reason, listener: name }, 'DTLS handshake failed'));
    return s;
  };
  const bindUdp = (port: number): Promise<DatagramSocket> => createUdpSocket({ host, port, recvBufferSize: SERVER_RECV_BUFFER_SIZE, logger });
  try {
    const socket = await bindUdp(options.coapPort ?? 5683);
    let secureUdp: DatagramSocket | undefined;
    try {
      if (coapsPort !== false) secureUdp = await bindUdp(coapsPort);
    } catch (e) {
      socket.close();
      throw e;
    }
    const lwm2mDtls = secureUdp ? dtlsSocket(secureUdp, psks, 'lwm2m') : undefined;
    const lwm2m = new LwM2MServer({
      socket, logger, models, clock,
      ...(lwm2mDtls ? { dtls: { socket: lwm2mDtls, bindings: psks } } : {}),
    });
    closers.push(() => lwm2m.close());
    const profileAdapter = options.thingsBoardProfile ? new ThingsBoardProfileAdapter(lwm2m, { profile: options.thingsBoardProfile, clock, logger }) : undefined;
    if (profileAdapter) closers.push(async () => profileAdapter.detach());
    let bootstrap: BootstrapServer | undefined;
    let bootstrapDtls: DtlsServerSocket | undefined;
    const provisioner = new BootstrapPskProvisioner({
      dm: psks, bs: bootstrapPsks,
      ports: () => ({
        ...(lwm2m.securePort !== undefined ? { dmPort: lwm2m.securePort } : {}),
        ...(bootstrap?.securePort !== undefined ? { bsPort: bootstrap.securePort } : {}),
      }),
    });
    const loaded = await createBootstrapConfigStore(options.bootstrapConfigDir, { models });
    securityIssues.push(...provisioner.applyAll(await loaded.list()));
    const configs = provisioner.wrap(loaded);
    for (const [ep, cfg] of Object.entries(options.bootstrapConfigs ?? {})) await configs.put(ep, cfg);
    if (options.bsCoapPort !== false) {
      const bsDtls = bsCoapsPort !== false ? dtlsSocket(await bindUdp(bsCoapsPort), bootstrapPsks, 'bootstrap') : undefined;
      bootstrapDtls = bsDtls;
      try {
        bootstrap = await createBootstrapServer({
          host, port: options.bsCoapPort ?? DEFAULT_BOOTSTRAP_PORT, configs, models, logger, clock,
          ...(bsDtls ? { dtls: { socket: bsDtls, bindings: bootstrapPsks } } : {}),
          // The config's PSK credentials are bound to this endpoint before they are handed out (the
          // default config's can only be bound here, per endpoint); a clash refuses the bootstrap.
          beforeSession: (endpoint, resolved) => {
            try {
              provisioner.prepareSession(endpoint, resolved.config, configSource(resolved.key));
              return options.beforeBootstrap ? options.beforeBootstrap(endpoint, resolved) : undefined;
            } catch (e) {
              if (isPskStoreError(e) || e instanceof LwM2MError) return `the PSK credentials of bootstrap config "${resolved.key}" cannot be bound to "${endpoint}": ${e.message}`;
              throw e;
            }
          },
        });
      } catch (e) {
        bsDtls?.close();
        throw e;
      }
      const bs = bootstrap;
      closers.push(() => bs.close());
      // The device holds the config's Bootstrap-Server credentials once Bootstrap-Finish is answered.
      bs.on('bootstrap-finished', (record) => {
        try {
          provisioner.sessionFinished(record.endpoint);
        } catch (e) {
          if (!isPskStoreError(e)) throw e;
          logger.warn({ ep: record.endpoint, err: e.message }, 'bootstrap PSK not bound after Bootstrap-Finish');
        }
      });
    }
    for (const issue of securityIssues) logger.warn({ issue }, 'PSK source problem');
    let http: HttpApi | undefined;
    let httpUrl: string | undefined;
    const awakeTimes = options.awakeTimesMs ?? {};
    const fotaSettings = options.fotaSettings ?? {};
    if (options.httpPort !== false) {
      http = createHttpApi({
        lwm2m, bootstrapConfigs: configs, psks, bootstrapPsks, logger, host, port: options.httpPort ?? 8080,
        fota: {
          clock, ...(options.firmwareDir !== undefined ? { imageDirectory: options.firmwareDir } : {}),
          // A device imported from a Cumulocity CSV updates by its flow (delivery, reset, 512-byte blocks) unless the request says otherwise.
          ...(options.fotaSettings || options.fotaDefaults ? {
            specDefaults: (ep: string) => (Object.hasOwn(fotaSettings, ep) ? cumulocityFotaSpec(fotaSettings[ep]) : options.fotaDefaults?.(ep)),
          } : {}),
        },
        queue: {
          ...(options.queue ?? {}),
          ...(options.awakeTimesMs ? { awakeTimeFor: (ep: string) => (Object.hasOwn(awakeTimes, ep) ? awakeTimes[ep] : undefined) } : {}),
        },
        ...(options.fotaSettings ? { shell: { fotaSettings: (ep: string) => (Object.hasOwn(fotaSettings, ep) ? fotaSettings[ep] : undefined) } } : {}),
      });
      const api = http;
      closers.push(() => api.close());
      registerDtlsMetrics(api.metrics.registry, { lwm2m: lwm2mDtls, bootstrap: bootstrapDtls });
      if (profileAdapter) api.app.register(async (i) => registerTelemetryRoutes(i, profileAdapter.store));
      const keyShareToken = options.keyShareToken;
      if (keyShareToken !== undefined) api.app.register(async (i) => registerKeyShareRoute(i, { psks, token: keyShareToken }));
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
      psks,
      bootstrapPsks,
      securityIssues,
      coapUri: `coap://${hostInUri}:${lwm2m.port}`,
      coapsUri: lwm2m.securePort !== undefined ? `coaps://${hostInUri}:${lwm2m.securePort}` : undefined,
      bootstrapUri: bootstrap ? `coap://${hostInUri}:${bootstrap.port}` : undefined,
      bootstrapCoapsUri: bootstrap?.securePort !== undefined ? `coaps://${hostInUri}:${bootstrap.securePort}` : undefined,
      httpUrl,
      profileAdapter,
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
