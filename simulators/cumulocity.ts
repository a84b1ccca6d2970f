/**
 * `target: { embedded: { profile: cumulocity, deviceProfile: devices.csv } }`: the embedded server set up
 * the way a Cumulocity tenant is by its LwM2M bulk registration — the same CSV the fleet reads as its
 * device list (`devices.csv`) becomes the Bootstrap-Server's per-device configs (with the server URIs of
 * the embedded listeners instead of the tenant's), the DM and bootstrap PSKs, the awake times
 * (post-registration commands) and the FOTA settings (`fwupdate` in the shell). NoSec and PSK devices
 * run side by side: NoSec on coap://, PSK on coaps://, for the bootstrap as for the DM server.
 *
 * A bad CSV row is a warning `file:line:column: message` when the scenario loads; the other rows are
 * imported, and the run's exit code says some failed ({@link platformRowsFailed}).
 */
import type { Logger } from '../src/core/logger.js';
import type { ModelRegistry } from '../src/model/registry.js';
import type { BootstrapConfig } from '../src/server/bootstrap/config.js';
import { createServer, type ReferenceServer } from '../src/server/create.js';
import { importCumulocityCsv, type CumulocityImportResult } from '../src/server/profiles/cumulocity.js';
import { PORT_LAYOUTS } from '../src/server/profiles/port-layouts.js';
import { cumulocityServerOptions } from '../src/server/profiles/server-import.js';
import { readJob } from '../src/server/http/dm-jobs.js';
import { resolveAwakeTime } from '../src/server/profiles/awake-time.js';
import type { Registration } from '../src/server/registration/registration.js';
import { EmbeddedServer, policyFor, type EmbeddedOptions } from './embedded.js';
import type { EmbeddedPlatform, Scenario, ScenarioIssue } from './scenario/types.js';

export type CumulocityPlatform = { readonly profile: 'cumulocity'; readonly file: string; readonly cumulocity: CumulocityImportResult };

/** Imports the CSV for the scenario loader; bad rows and unknown columns become warnings at their line and column. */
export function cumulocityPlatform(sink: { readonly warnings: ScenarioIssue[] }, file: string, text: string): CumulocityPlatform {
  const result = importCumulocityCsv(text, { file, bootstrapServerUri: `coap://127.0.0.1:${PORT_LAYOUTS.cumulocity.bootstrap.coap}` });
  for (const f of result.failed) sink.warnings.push({ file, line: f.line, col: f.column, message: `row not imported: ${f.message}` });
  for (const w of result.warnings) sink.warnings.push({ file, line: w.line, col: w.column, message: w.message });
  return { profile: 'cumulocity', file, cumulocity: result };
}

/** The device list without the rows the platform's import of the same file refused. */
export function withoutRefusedRows<T extends { readonly file: string; readonly rows: ReadonlyArray<{ readonly line: number }> }>(
  csv: T, platform: EmbeddedPlatform | undefined,
): T {
  if (platform?.profile !== 'cumulocity' || platform.file !== csv.file || platform.cumulocity.failed.length === 0) return csv;
  const refused = new Set(platform.cumulocity.failed.map((f) => f.line));
  return { ...csv, rows: csv.rows.filter((r) => !refused.has(r.line)) };
}

/** `file:line:column: row not imported: …` of every refused row of the scenario's Cumulocity CSV. */
export function platformRowWarnings(scenario: Scenario): string[] {
  const t = scenario.target;
  if (t.kind !== 'embedded' || t.platform?.profile !== 'cumulocity') return [];
  const file = t.platform.file;
  return t.platform.cumulocity.failed.map((f) => `${file}:${f.line}:${f.column}: row not imported: ${f.message}`);
}

/** Whether the scenario's Cumulocity CSV had rows that failed to import (the run then exits non-zero). */
export function platformRowsFailed(scenario: Scenario): boolean {
  const t = scenario.target;
  return t.kind === 'embedded' && t.platform?.profile === 'cumulocity' && t.platform.cumulocity.failed.length > 0;
}

/** The CSV's config with the embedded server's URIs: coaps:// for PSK accounts, coap:// for NoSec. */
function localConfig(config: BootstrapConfig, ref: ReferenceServer): BootstrapConfig {
  const dm = (psk: boolean): string => (psk ? ref.coapsUri : ref.coapUri) as string;
  const bs = (psk: boolean): string => (psk ? ref.bootstrapCoapsUri : ref.bootstrapUri) as string;
  return {
    ...config,
    servers: (config.servers ?? []).map((s) => ({ ...s, uri: dm(s.securityMode === 'psk') })),
    ...(config.bootstrapServer ? { bootstrapServer: { ...config.bootstrapServer, uri: bs(config.bootstrapServer.securityMode === 'psk') } } : {}),
  };
}

/** Starts the embedded reference server from the platform's CSV (free ports of 127.0.0.1, coap and coaps). */
export async function startCumulocity(
  scenario: Scenario, platform: CumulocityPlatform, log: Logger, models: ModelRegistry, options: EmbeddedOptions,
): Promise<EmbeddedServer> {
  const imported = cumulocityServerOptions(platform.cumulocity.imported, platform.file);
  const reference = await createServer({
    // The HTTP API's queue-mode dispatcher holds the post-registration commands.
    coapPort: 0, coapsPort: 0, bsCoapPort: 0, bsCoapsPort: 0, httpPort: options.httpPort ?? 0, logger: log, models,
    bsPsks: imported.bsPsks,
    awakeTimesMs: imported.awakeTimesMs,
    ...(imported.fotaSettings ? { fotaSettings: imported.fotaSettings } : {}),
  });
  try {
    // The DM PSKs are bound by the configs that hand them out (createServer's provisioner); a device
    // without a server URI in the CSV gets its DM PSK straight into the store.
    const withConfig = new Set<string>();
    for (const [ep, cfg] of Object.entries(imported.bootstrapConfigs)) {
      await reference.bootstrapConfigs.put(ep, localConfig(cfg, reference));
      withConfig.add(ep);
    }
    for (const e of imported.psks) if (!withConfig.has(e.endpoint)) reference.psks.put(e);
  } catch (e) {
    await reference.close();
    throw e;
  }
  postRegistrationReads(reference, scenario, imported.awakeTimesMs, log);
  return EmbeddedServer.mixedSecurity(reference, log, scenario);
}

/** Server default awake time when neither the CSV nor the registration gives one (the dispatcher's default). */
const DEFAULT_AWAKE_MS = 93_000;

/**
 * Cumulocity's post-registration commands, as the scenario's `expect: read` steps need them: once a
 * device's awake window after a Register/Update has passed, the server creates the reads the flows
 * expect; the device sleeps, so they wait in the queue and run after its next Update.
 */
function postRegistrationReads(reference: ReferenceServer, scenario: Scenario, awakeTimesMs: Readonly<Record<string, number>>, log: Logger): void {
  const http = reference.http;
  const reads = policyFor(scenario).read;
  if (!http || reads.length === 0) return;
  const dm = { lwm2m: reference.lwm2m, metrics: http.metrics };
  const timers = new Map<string, NodeJS.Timeout>();
  const schedule = (reg: Registration, attempt = 0): void => {
    const ms = resolveAwakeTime(Object.hasOwn(awakeTimesMs, reg.endpoint) ? awakeTimesMs[reg.endpoint] : undefined, reg, DEFAULT_AWAKE_MS).ms;
    if (ms <= 0 || (!reg.queueMode && awakeTimesMs[reg.endpoint] === undefined)) return;
    clearTimeout(timers.get(reg.endpoint));
    const t = setTimeout(() => {
      timers.delete(reg.endpoint);
      const current = reference.lwm2m.registrations.getByEndpoint(reg.endpoint);
      if (!current) return;
      // Its answers extend the awake window: create the commands once the server counts it asleep.
      if (!http.queue.isAsleep(current.endpoint)) {
        if (attempt < 40) schedule(current, attempt + 1);
        return;
      }
      for (const p of reads) {
        if (!current.objectLinks.objects.some((o) => o.objectId === p.objectId && (p.instanceId === undefined || o.instances.includes(p.instanceId)))) continue;
        http.queue.execute(current, readJob(dm, current.endpoint, p, undefined, undefined)).then(
          (r) => log.debug({ ep: current.endpoint, path: p.toString(), status: r.statusCode }, 'post-registration read'),
          (e: unknown) => log.debug({ ep: current.endpoint, err: String(e) }, 'post-registration read failed'),
        );
      }
    }, attempt === 0 ? ms + 250 : 250);
    t.unref();
    timers.set(reg.endpoint, t);
  };
  reference.lwm2m.on('registered', (reg) => schedule(reg));
  reference.lwm2m.on('updated', (reg) => schedule(reg));
  const gone = (reg: Registration): void => {
    clearTimeout(timers.get(reg.endpoint));
    timers.delete(reg.endpoint);
  };
  reference.lwm2m.on('deregistered', gone);
  reference.lwm2m.on('expired', gone);
}
