/**
 * The normalised scenario model the fleet engine consumes: what `loadScenario()` (./load.ts) returns after
 * a YAML scenario file passed the JSON Schema (`scenarios/schema.json`) and the semantic checks.
 *
 * Conventions:
 * - every duration is in milliseconds and named `…Ms`; LwM2M protocol values keep their protocol unit
 *   (`lifetimeS` is the registration lifetime in seconds, as sent in `lt=`);
 * - percentages are fractions in [0, 1] (`loss: 10%` → `0.1`);
 * - arrival rates are devices per second;
 * - patterns (`sim-{index:06}`) keep their source text and a compiled form ({@link CompiledPattern}) that
 *   {@link formatPattern} renders;
 * - the whole model is plain data (no functions, no class instances, no Maps), so it survives
 *   `structuredClone` / `postMessage` into worker threads unchanged;
 * - `at` fields give the YAML position of the element, for run-time messages and JUnit test names.
 *
 * The small run-time helpers here (pattern formatting, per-device resolution, flow choice, arrival curve)
 * only depend on the seeded PRNG, so a worker can import this module without pulling in the YAML parser
 * or ajv.
 */
import { createHmac } from 'node:crypto';
import type { CumulocityImportResult } from '../../src/server/profiles/cumulocity.js';
import type { ThingsBoardProfile } from '../../src/server/profiles/thingsboard/profile.js';
import type { DeviceWiseProfile } from '../../src/server/profiles/devicewise/profile.js';
import { createPrng, hashSeed, type GeneratorSpec } from '../../src/client/generators.js';
import { LwM2MError } from '../../src/core/errors.js';
import type { LogLevel } from '../../src/core/logger.js';

// ---- positions and issues ------------------------------------------------------------------------

/** A position in a scenario (or CSV / XML) file; line and col are 1-based. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** One validation problem (or warning). `toString` form: `file:line:col: message`. */
export interface ScenarioIssue {
  readonly file: string;
  /** Absent when the problem has no position (the file cannot be read, a command-line override). */
  readonly line?: number;
  readonly col?: number;
  readonly message: string;
}

/** `file:line:col: message` (or `file: message` without a position). */
export function formatIssue(issue: ScenarioIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.col ?? 1}` : issue.file;
  return `${where}: ${issue.message}`;
}

// ---- patterns ------------------------------------------------------------------------------------

/**
 * Placeholders of a pattern: `{index}` (0-based device index, `devices.start` included), `{shard}`
 * (shard number of a sharded run, 0 otherwise), `{seed}` (the run seed), `{endpoint}` (the device's
 * endpoint name; not in the endpoint pattern itself) and `{csv:column}` (a cell of the device's row of
 * `devices.csv`).
 */
export type PlaceholderName = 'index' | 'shard' | 'seed' | 'endpoint' | 'csv';

export type PatternPart =
  | { readonly kind: 'literal'; readonly text: string }
  | {
      readonly kind: 'placeholder';
      readonly name: PlaceholderName;
      /** The column of a `{csv:column}` placeholder (as written; looked up case-insensitively). */
      readonly column?: string;
      /** Zero-pad to this many characters (`{index:06}` → 6); 0 = no padding. */
      readonly width: number;
      /** Hexadecimal output for numbers (`{index:x}`, `{index:08X}`). */
      readonly hex?: 'lower' | 'upper';
    };

/** A pattern such as `sim-{index:06}`, compiled by `compilePattern` (load.ts). Plain data. */
export interface CompiledPattern {
  readonly source: string;
  readonly parts: readonly PatternPart[];
  /** The distinct placeholders used, in order of first use. */
  readonly placeholders: readonly PlaceholderName[];
}

/** Values for the placeholders of a pattern. */
export interface PatternVars {
  readonly index: number;
  readonly shard?: number;
  readonly seed?: number | string;
  readonly endpoint?: string;
  /** The device's CSV row, keyed by header name: trimmed, lower-cased, inner white space collapsed. */
  readonly csv?: Readonly<Record<string, string>>;
}

/** Renders a compiled pattern. Throws `LwM2MError` (BAD_VALUE) when a variable it uses is missing. */
export function formatPattern(pattern: CompiledPattern, vars: PatternVars): string {
  let out = '';
  for (const part of pattern.parts) {
    if (part.kind === 'literal') {
      out += part.text;
      continue;
    }
    let value: number | string | undefined;
    switch (part.name) {
      case 'index': value = vars.index; break;
      case 'shard': value = vars.shard ?? 0; break;
      case 'seed': value = vars.seed ?? 0; break;
      case 'endpoint': value = vars.endpoint; break;
      case 'csv': {
        const col = (part.column ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
        value = vars.csv !== undefined && Object.hasOwn(vars.csv, col) ? vars.csv[col] : undefined;
        break;
      }
    }
    if (value === undefined) {
      const what = part.name === 'csv' ? `{csv:${part.column ?? ''}}` : `{${part.name}}`;
      throw new LwM2MError('BAD_VALUE', `pattern "${pattern.source}": no value for ${what}`);
    }
    let text = typeof value === 'number' && part.hex !== undefined ? value.toString(16) : String(value);
    if (part.hex === 'upper') text = text.toUpperCase();
    out += part.width > 0 ? text.padStart(part.width, '0') : text;
  }
  return out;
}

// ---- target --------------------------------------------------------------------------------------

export interface CoapUri {
  /** As written (normalised: no trailing slash). */
  readonly uri: string;
  readonly scheme: 'coap' | 'coaps';
  /** Host name or address (IPv6 without brackets). */
  readonly host: string;
  /** Explicit port, or 5683 (coap) / 5684 (coaps). */
  readonly port: number;
}

/**
 * `embedded`: the reference server (and bootstrap server) started in-process. `remote`: a DM server
 * and/or a bootstrap server somewhere else (at least one of the two).
 */
export type Target =
  | { readonly kind: 'embedded'; readonly platform?: EmbeddedPlatform }
  | { readonly kind: 'remote'; readonly server?: CoapUri; readonly bootstrap?: CoapUri };

/**
 * `target: { embedded: { profile, deviceProfile } }`: the embedded server behaves like a platform —
 * ThingsBoard (the device profile is applied to every registration, telemetry by keyName) or deviceWISE
 * (a second, custom DM server; devices bootstrap to both with their own PSKs, ACL from the profile).
 * The profile file is parsed (and validated) when the scenario loads.
 */
export type EmbeddedPlatform =
  | { readonly profile: 'thingsboard'; readonly file: string; readonly thingsBoard: ThingsBoardProfile }
  | { readonly profile: 'devicewise'; readonly file: string; readonly deviceWise: DeviceWiseProfile }
  /** Cumulocity: the bulk-registration CSV (bootstrap configs, PSKs, awake times, FOTA settings; see simulators/cumulocity.ts). */
  | { readonly profile: 'cumulocity'; readonly file: string; readonly cumulocity: CumulocityImportResult };

// ---- devices -------------------------------------------------------------------------------------

export type LwM2MVersion = '1.0' | '1.1';
/**
 * `U`: always reachable; `UQ`: queue mode (1.0 sends `b=UQ`, 1.1 sends `b=U&Q`). The SMS bindings
 * (LwM2M 1.0.2 §5.3.1.1: `S`, `SQ`, `US`, `UQS`) are sent as registered; the SMS channel itself is not
 * simulated (the devices still talk over UDP).
 */
export type BindingMode = 'U' | 'UQ' | 'S' | 'SQ' | 'US' | 'UQS';

/** Queue mode: the binding holds Q (`UQ`, `SQ`, `UQS`). */
export function isQueueBinding(b: BindingMode): boolean {
  return b.includes('Q');
}

export type PskKeySource =
  /** Derived from the run seed and the endpoint ({@link derivePskKey}): reproducible, unique per device. */
  | { readonly kind: 'seeded'; readonly lengthBytes: number }
  /** `key: derive`: HMAC-SHA256(seed, endpoint) truncated to 16 bytes ({@link deriveHmacPskKey}); any server can recompute it. */
  | { readonly kind: 'derived' }
  /** The same key for every device (lower-case hex). */
  | { readonly kind: 'hex'; readonly hex: string }
  /** A pattern that renders to hex per device, normally `{csv:key}`. */
  | { readonly kind: 'pattern'; readonly pattern: CompiledPattern };

export type SecuritySpec =
  | { readonly mode: 'nosec' }
  | { readonly mode: 'psk'; readonly identity: CompiledPattern; readonly key: PskKeySource };

/** Scalar values a resource can be given in a scenario. */
export type ScalarValue = number | string | boolean;

/**
 * A resource value: a constant, a list (multiple resource: instance ids 0, 1, …) or a generator spec
 * as `createGenerator` (src/client/generators.ts) takes it. A CSV generator's `file:` has been read:
 * the spec carries the CSV `text` and its `source` (the file path) instead.
 */
export type ValueSpec =
  | { readonly kind: 'constant'; readonly value: ScalarValue }
  | { readonly kind: 'list'; readonly values: readonly ScalarValue[] }
  | { readonly kind: 'generator'; readonly spec: GeneratorSpec };

export interface ResourceValueSpec {
  readonly resourceId: number;
  readonly value: ValueSpec;
  readonly at: SourcePos;
}

export interface InstanceSpec {
  readonly id: number;
  readonly values: readonly ResourceValueSpec[];
}

export interface ObjectSpec {
  readonly id: number;
  /** The model's name (`Temperature`). */
  readonly name: string;
  /** Absolute path of the DDF XML file the model comes from; absent for a shipped (built-in) model. */
  readonly modelFile?: string;
  readonly instances: readonly InstanceSpec[];
  /** Touch generator-backed resources this often (observers evaluate gt/lt/st); absent = off. */
  readonly sampleIntervalMs?: number;
  readonly at: SourcePos;
}

/** Values for the Device object (/3/0). Missing fields keep the client's defaults. */
export interface DeviceInfo {
  readonly manufacturer?: string;
  readonly modelNumber?: string;
  /** A pattern (`SN-{index:08}`); may use `{endpoint}` and `{csv:…}`. */
  readonly serialNumber?: CompiledPattern;
  readonly firmwareVersion?: string;
  readonly deviceType?: string;
  readonly hardwareVersion?: string;
  readonly softwareVersion?: string;
}

/**
 * One row of a `devices.csv` device list (Cumulocity-style bulk registration CSV). Empty cells are
 * absent and fall back to the `devices` defaults.
 */
export interface DeviceCsvRow {
  /** 1-based line of the row in the CSV file. */
  readonly line: number;
  readonly endpoint?: string;
  readonly securityMode?: 'nosec' | 'psk';
  readonly identity?: string;
  /** Lower-case hex. */
  readonly key?: string;
  readonly bootstrapIdentity?: string;
  readonly bootstrapKey?: string;
  readonly shortServerId?: number;
  readonly lifetimeS?: number;
  readonly binding?: BindingMode;
  readonly awakeTimeMs?: number;
  /** Every cell, keyed by header name: trimmed, lower-cased, inner white space collapsed (for `{csv:column}`). */
  readonly cells: Readonly<Record<string, string>>;
}

export interface DeviceCsv {
  /** Absolute path. */
  readonly file: string;
  /** Header names as written (trimmed). */
  readonly columns: readonly string[];
  readonly rows: readonly DeviceCsvRow[];
}

export interface DevicesSpec {
  /** How many devices (with a CSV: at most its rows after `start`). */
  readonly count: number;
  /** First `{index}` (and first CSV row, 0-based). */
  readonly start: number;
  /** With a CSV and no `endpoint:` in the file: `{csv:<endpoint column>}`. */
  readonly endpoint: CompiledPattern;
  readonly lwm2m: LwM2MVersion;
  readonly lifetimeS: number;
  readonly binding: BindingMode;
  /** `binding:` given as a list: device `index` gets `bindings[index % length]` (`binding` is the first). */
  readonly bindings?: readonly BindingMode[];
  /** The devices' MSISDN pattern, sent as `sms=` with an SMS binding. */
  readonly msisdn?: CompiledPattern;
  /** Queue mode: how long a device listens after a registration/update before it sleeps. Absent for `U`. */
  readonly awakeTimeMs?: number;
  /** True: factory configuration holds only a bootstrap account, devices bootstrap before registering. */
  readonly bootstrap: boolean;
  readonly security: SecuritySpec;
  readonly shortServerId?: number;
  readonly csv?: DeviceCsv;
  readonly device: DeviceInfo;
  /** Objects configured in the scenario (ids ≥ 3), ascending by id. */
  readonly objects: readonly ObjectSpec[];
  /** Every object a device has: 0–5 always, 6/7 and the others when configured. Ascending. */
  readonly objectIds: readonly number[];
  /** Periodic registration update interval; absent = the client's default (before the lifetime ends). */
  readonly updateIntervalMs?: number;
}

// ---- phases --------------------------------------------------------------------------------------

/**
 * Artillery semantics: during a phase devices come online at `fromRate` devices/s, changing linearly to
 * `toRate` by the end of the phase; a pause brings none. Arrivals stop once `devices.count` devices came
 * online.
 */
export interface Phase {
  readonly index: number;
  readonly name: string;
  /** Offset from the start of the run. */
  readonly startMs: number;
  readonly durationMs: number;
  readonly fromRate: number;
  readonly toRate: number;
  readonly pause: boolean;
  /** Arrivals the rate curve brings during the phase (fractional; before the `devices.count` cap). */
  readonly arrivals: number;
  readonly at: SourcePos;
}

/**
 * What happens after the last phase: devices that finished their flow stay online (registered, updating
 * as their lifetime requires) for `holdMs`; then the run ends and every device still online leaves:
 * `deregister` sends De-register, `drop` just vanishes (as a power cut: the server sees the lifetime
 * expire). Devices still inside their flow at the end are stopped where they are, then leave the same way.
 */
export interface EndSpec {
  readonly holdMs: number;
  readonly leave: 'deregister' | 'drop';
}

// ---- flows and steps -----------------------------------------------------------------------------

/** Forced outcomes of a device-side firmware update, with their /5/0/5 Update Result codes. */
export const FIRMWARE_OUTCOMES = {
  success: 1,
  storage: 2,
  memory: 3,
  'connection-lost': 4,
  integrity: 5,
  'unsupported-type': 6,
  'invalid-uri': 7,
  failed: 8,
  'unsupported-protocol': 9,
} as const;
export type FirmwareOutcome = keyof typeof FIRMWARE_OUTCOMES;

export type ExpectOperation = 'observe' | 'write' | 'read' | 'execute';

interface StepBase {
  readonly at: SourcePos;
}

/**
 * One step of a flow. Paths are canonical text (`/3303/0/5700`; parse them with `parsePath`).
 *
 * - `bootstrap`: client-initiated bootstrap against the bootstrap server; `register`, `update`,
 *   `deregister`: the registration interface.
 * - `wait`: a fixed pause; `think`: a uniform random pause in [minMs, maxMs] (seeded per device).
 * - `set`: the device changes a resource value (a constant, or a generator from now on): observers are
 *   notified as their attributes say.
 * - `send`: an LwM2M 1.1 Send of the paths' current values.
 * - `expect`: wait until the server performs the operation on the path (observe, write, read, execute),
 *   at most `withinMs`; a miss counts as a failed expectation, the flow goes on.
 * - `sleep` / `wake`: queue mode — stop listening / send an Update and listen for the awake time.
 * - `reboot`: the device goes down without de-registering, stays down `downtimeMs`, comes back on a new
 *   source port and registers again (bootstraps first when `devices.bootstrap`).
 * - `go-offline`: the network disappears for `durationMs` (nothing sent or received, state kept), then
 *   comes back; the device resumes with an Update.
 * - `apply-firmware`: arms the device: from now on a firmware update (Execute /5/0/2 after a package was
 *   delivered) spends `durationMs` in state Updating and ends with `outcome` (Update Result `result`).
 *   The step itself does not wait.
 * - `fault`: changes the device's network conditions from now on; absent fields keep their current
 *   value (`loss: 0%` clears loss). `rebind` happens once, now (NAT rebinding: new source port).
 * - `loop`: repeats its steps `count` times and/or until `durationMs` has passed (whichever comes first).
 */
export type Step =
  | (StepBase & { readonly kind: 'bootstrap' })
  | (StepBase & { readonly kind: 'register' })
  | (StepBase & { readonly kind: 'update' })
  | (StepBase & { readonly kind: 'deregister' })
  | (StepBase & { readonly kind: 'wait'; readonly durationMs: number })
  | (StepBase & { readonly kind: 'think'; readonly minMs: number; readonly maxMs: number })
  | (StepBase & { readonly kind: 'set'; readonly path: string; readonly value: ValueSpec })
  | (StepBase & { readonly kind: 'send'; readonly paths: readonly string[] })
  | (StepBase & { readonly kind: 'expect'; readonly operation: ExpectOperation; readonly path: string; readonly withinMs: number; readonly label: string })
  | (StepBase & { readonly kind: 'sleep' })
  | (StepBase & { readonly kind: 'wake' })
  | (StepBase & { readonly kind: 'reboot'; readonly downtimeMs: number })
  | (StepBase & { readonly kind: 'go-offline'; readonly durationMs: number })
  | (StepBase & { readonly kind: 'apply-firmware'; readonly outcome: FirmwareOutcome; readonly result: number; readonly durationMs: number })
  | (StepBase & {
      readonly kind: 'fault';
      /** Fractions in [0, 1]. */
      readonly loss?: number;
      readonly duplicate?: number;
      readonly delayMs?: number;
      readonly rebind: boolean;
      /** Added to the device's clock (may be negative). */
      readonly clockSkewMs?: number;
    })
  | (StepBase & { readonly kind: 'loop'; readonly count?: number; readonly durationMs?: number; readonly steps: readonly Step[] });

export type StepKind = Step['kind'];

export interface Flow {
  readonly name: string;
  readonly weight: number;
  /** Sum of the weights of this flow and every flow before it (for weighted choice). */
  readonly cumulativeWeight: number;
  readonly steps: readonly Step[];
  readonly at: SourcePos;
}

// ---- thresholds and options ----------------------------------------------------------------------

/** A threshold expression (`register.p99 < 500ms`), parsed and checked by the thresholds module. */
export interface Threshold {
  readonly expression: string;
  readonly at: SourcePos;
}

export interface RunOptions {
  readonly seed: number | string;
  /** Absent: one per core. */
  readonly workers?: number;
  readonly metricsPort?: number;
  readonly logLevel: LogLevel;
}

// ---- the scenario --------------------------------------------------------------------------------

export interface Scenario {
  /** The scenario file as given to the loader. */
  readonly file: string;
  /** Directory relative paths (CSV, XML) were resolved against. */
  readonly baseDir: string;
  readonly name: string;
  readonly description?: string;
  readonly target: Target;
  readonly devices: DevicesSpec;
  readonly phases: readonly Phase[];
  readonly end: EndSpec;
  readonly flows: readonly Flow[];
  readonly totalWeight: number;
  readonly thresholds: readonly Threshold[];
  readonly options: RunOptions;
  /** Sum of the phase durations. */
  readonly phasesMs: number;
  /** Length of the run: the phases, then the hold. */
  readonly durationMs: number;
  /** Devices the phases bring online: min(devices.count, arrivals of the rate curve), rounded down. */
  readonly expectedArrivals: number;
  /** Non-fatal findings (e.g. the phases bring fewer devices online than `devices.count`). */
  readonly warnings: readonly ScenarioIssue[];
}

// ---- run-time helpers ----------------------------------------------------------------------------

/** Arrivals the rate curve brings in [0, tMs) of the run (fractional, not capped by the device count). */
export function arrivalsBy(phases: readonly Phase[], tMs: number): number {
  let total = 0;
  for (const p of phases) {
    if (tMs <= p.startMs) break;
    if (p.pause || p.durationMs === 0) continue;
    const dt = Math.min(tMs - p.startMs, p.durationMs);
    const rateAtDt = p.fromRate + ((p.toRate - p.fromRate) * dt) / p.durationMs;
    total += ((p.fromRate + rateAtDt) / 2) * (dt / 1000);
  }
  return total;
}

/** The arrival rate (devices/s) at `tMs` of the run; 0 outside the phases and during pauses. */
export function arrivalRateAt(phases: readonly Phase[], tMs: number): number {
  for (const p of phases) {
    if (tMs >= p.startMs && tMs < p.startMs + p.durationMs) {
      if (p.pause) return 0;
      return p.fromRate + ((p.toRate - p.fromRate) * (tMs - p.startMs)) / p.durationMs;
    }
  }
  return 0;
}

/** The flow for a uniform draw `u` in [0, 1) (weighted by the flows' weights). */
export function pickFlowAt(flows: readonly Flow[], totalWeight: number, u: number): Flow {
  const target = u * totalWeight;
  for (const f of flows) if (target < f.cumulativeWeight) return f;
  const last = flows[flows.length - 1];
  if (last === undefined) throw new LwM2MError('BAD_VALUE', 'a scenario has at least one flow');
  return last;
}

/**
 * The flow device `ordinal` (0 ≤ ordinal < devices.count) runs: a weighted choice seeded by the run seed
 * and the device index, so it does not depend on sharding or on arrival order.
 */
export function pickFlow(scenario: Scenario, ordinal: number): Flow {
  const index = scenario.devices.start + ordinal;
  const u = createPrng(hashSeed('flow', scenario.options.seed, index)).next();
  return pickFlowAt(scenario.flows, scenario.totalWeight, u);
}

/** A reproducible PSK for a device: `lengthBytes` bytes from the seeded PRNG, as lower-case hex. */
export function derivePskKey(seed: number | string, endpoint: string, lengthBytes = 16): string {
  const prng = createPrng(hashSeed('psk', seed, endpoint));
  let hex = '';
  for (let i = 0; i < lengthBytes; i++) hex += Math.floor(prng.next() * 256).toString(16).padStart(2, '0');
  return hex;
}

/**
 * `key: derive`: HMAC-SHA256 with the run seed (its decimal or string form, UTF-8) as the HMAC key over
 * the endpoint name (UTF-8), first 16 bytes, lower-case hex — so a server outside the fleet can compute
 * the same keys: `printf %s "$EP" | openssl dgst -sha256 -hmac "$SEED" | cut -c1-32` (last field).
 */
export function deriveHmacPskKey(seed: number | string, endpoint: string): string {
  return createHmac('sha256', String(seed)).update(endpoint, 'utf8').digest().subarray(0, 16).toString('hex');
}

/** Everything per-device, resolved: what the engine feeds the device factory. */
export interface ResolvedDevice {
  readonly ordinal: number;
  /** `devices.start + ordinal`: the `{index}` of the patterns. */
  readonly index: number;
  readonly endpoint: string;
  readonly security:
    | { readonly mode: 'nosec' }
    | { readonly mode: 'psk'; readonly identity: string; readonly key: string };
  readonly lifetimeS: number;
  readonly binding: BindingMode;
  readonly awakeTimeMs?: number;
  readonly shortServerId?: number;
  readonly serialNumber?: string;
  /** `sms=` of the registration (only with an SMS binding). */
  readonly msisdn?: string;
  readonly csvRow?: DeviceCsvRow;
}

/** Resolves device `ordinal` (0 ≤ ordinal < devices.count): patterns, CSV row, security material. */
export function resolveDevice(scenario: Scenario, ordinal: number, shard = 0): ResolvedDevice {
  const d = scenario.devices;
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= d.count) {
    throw new LwM2MError('BAD_VALUE', `device ordinal ${ordinal} is outside 0..${d.count - 1}`);
  }
  const index = d.start + ordinal;
  const row = d.csv?.rows[index];
  const seed = scenario.options.seed;
  const base = { index, shard, seed, ...(row ? { csv: row.cells } : {}) };
  const endpoint = formatPattern(d.endpoint, base);
  const vars: PatternVars = { ...base, endpoint };
  let security: ResolvedDevice['security'];
  const mode = row?.securityMode ?? d.security.mode;
  if (mode === 'nosec') {
    security = { mode: 'nosec' };
  } else {
    const spec = d.security.mode === 'psk' ? d.security : undefined;
    const identity = row?.identity ?? (spec ? formatPattern(spec.identity, vars) : endpoint);
    let key = row?.key;
    if (key === undefined) {
      const src: PskKeySource = spec?.key ?? { kind: 'seeded', lengthBytes: 16 };
      key = src.kind === 'seeded' ? derivePskKey(seed, endpoint, src.lengthBytes)
        : src.kind === 'derived' ? deriveHmacPskKey(seed, endpoint)
          : src.kind === 'hex' ? src.hex
            : formatPattern(src.pattern, vars).toLowerCase();
    }
    security = { mode: 'psk', identity, key };
  }
  const binding = row?.binding ?? (d.bindings && d.bindings.length > 0 ? d.bindings[index % d.bindings.length] ?? d.binding : d.binding);
  const awakeTimeMs = row?.awakeTimeMs ?? d.awakeTimeMs;
  const shortServerId = row?.shortServerId ?? d.shortServerId;
  return {
    ordinal,
    index,
    endpoint,
    security,
    lifetimeS: row?.lifetimeS ?? d.lifetimeS,
    binding,
    ...(isQueueBinding(binding) ? { awakeTimeMs: awakeTimeMs ?? DEFAULT_AWAKE_TIME_MS } : {}),
    ...(d.msisdn && binding.includes('S') ? { msisdn: formatPattern(d.msisdn, vars) } : {}),
    ...(shortServerId !== undefined ? { shortServerId } : {}),
    ...(d.device.serialNumber ? { serialNumber: formatPattern(d.device.serialNumber, vars) } : {}),
    ...(row ? { csvRow: row } : {}),
  };
}

// ---- defaults and bounds -------------------------------------------------------------------------

export const DEFAULT_ENDPOINT_PATTERN = 'sim-{index:06}';
export const DEFAULT_LIFETIME_S = 300;
/** Queue-mode awake time when `awakeTime` is not given. */
export const DEFAULT_AWAKE_TIME_MS = 30_000;
export const DEFAULT_EXPECT_WITHIN_MS = 30_000;
export const DEFAULT_SEED = 1;

export const MAX_DEVICES = 1_000_000;
/** Longest duration anywhere in a scenario (phases, waits, the whole run): 7 days. */
export const MAX_DURATION_MS = 7 * 24 * 3600 * 1000;
export const MAX_LOOP_DEPTH = 4;
export const MAX_LOOP_COUNT = 1_000_000;
/** Steps across all flows, nested ones included. */
export const MAX_TOTAL_STEPS = 10_000;
/** Scenario file size limit. */
export const MAX_SCENARIO_BYTES = 4 * 1024 * 1024;
/** Device CSV file size limit. */
export const MAX_CSV_BYTES = 64 * 1024 * 1024;
