/**
 * `lwm2m-server --import KIND:FILE[,PROFILE]`: platform device lists loaded into the reference server.
 *
 * - `cumulocity:devices.csv` — a Cumulocity LwM2M bulk-registration CSV: PSKs (DM and bootstrap),
 *   bootstrap configs, awake times;
 * - `thingsboard:credentials.json` — ThingsBoard LwM2M device credentials (one, a list, or the
 *   `credentialsValue` wrapper): PSKs; with `,profile.json` (a ThingsBoard LwM2M device profile) also the
 *   bootstrap configs ThingsBoard's Bootstrap-Server would write.
 *
 * Bad rows/devices are `file:line:column: message` issues and the good ones load (the CLI exits non-zero
 * at the end); a file that cannot be read or a profile that does not parse is an error.
 */
import { LwM2MError } from '../../core/errors.js';
import type { BootstrapConfig } from '../bootstrap/config.js';
import type { PskEntry } from '../security/psk-store.js';
import { formatImportFailures, importCumulocityCsvFile, type CumulocityFotaSettings } from './cumulocity.js';
import { ProfileFileError, formatIssue } from './issues.js';
import { cumulocityServerOptions, thingsBoardServerOptions, type ImportedServerOptions } from './server-import.js';
import { loadThingsBoardCredentials } from './thingsboard/credentials.js';
import { loadThingsBoardProfile, type ThingsBoardProfile } from './thingsboard/profile.js';

export type PlatformKind = 'cumulocity' | 'thingsboard';

export interface PlatformImportSpec {
  readonly kind: PlatformKind;
  readonly file: string;
  /** thingsboard: the device profile file. */
  readonly profile?: string;
}

export interface PlatformImportResult extends ImportedServerOptions {
  /** `file:line:column: message` of every bad row or device (warnings prefixed `warning:`). */
  readonly issues: string[];
  /** True when some row or device failed (warnings do not count). */
  readonly failed: boolean;
  /** Devices imported, per spec in order. */
  readonly counts: number[];
  /** ThingsBoard profiles loaded, by their file (for attaching a profile adapter). */
  readonly profiles: ReadonlyMap<string, ThingsBoardProfile>;
}

/** Parses `cumulocity:FILE` or `thingsboard:FILE[,PROFILE]`. */
export function parseImportSpec(spec: string): PlatformImportSpec {
  const m = /^(cumulocity|c8y|thingsboard|tb):(.+)$/i.exec(spec.trim());
  if (!m) throw new LwM2MError('BAD_VALUE', `--import ${spec}: expected cumulocity:FILE.csv or thingsboard:CREDENTIALS.json[,PROFILE.json]`);
  const kind: PlatformKind = /^(cumulocity|c8y)$/i.test(m[1] as string) ? 'cumulocity' : 'thingsboard';
  const rest = m[2] as string;
  if (kind === 'cumulocity') return { kind, file: rest };
  const comma = rest.lastIndexOf(',');
  return comma > 0 ? { kind, file: rest.slice(0, comma), profile: rest.slice(comma + 1) } : { kind, file: rest };
}

function readError(file: string, e: unknown): LwM2MError {
  if (e instanceof LwM2MError) return e;
  return new LwM2MError('BAD_VALUE', `${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Loads every spec and merges what they give. Throws LwM2MError for an unreadable file or a bad profile. */
export async function loadPlatformImports(specs: readonly (string | PlatformImportSpec)[]): Promise<PlatformImportResult> {
  const psks: PskEntry[] = [];
  const bsPsks: PskEntry[] = [];
  const bootstrapConfigs: Record<string, BootstrapConfig> = {};
  const awakeTimesMs: Record<string, number> = {};
  const fotaSettings: Record<string, CumulocityFotaSettings> = {};
  const issues: string[] = [];
  const counts: number[] = [];
  const profiles = new Map<string, ThingsBoardProfile>();
  let failed = false;
  const merge = (o: ImportedServerOptions): void => {
    psks.push(...o.psks);
    bsPsks.push(...o.bsPsks);
    Object.assign(bootstrapConfigs, o.bootstrapConfigs);
    Object.assign(awakeTimesMs, o.awakeTimesMs);
    Object.assign(fotaSettings, o.fotaSettings ?? {});
  };
  for (const raw of specs) {
    const spec = typeof raw === 'string' ? parseImportSpec(raw) : raw;
    if (spec.kind === 'cumulocity') {
      const r = await importCumulocityCsvFile(spec.file).catch((e: unknown) => { throw readError(spec.file, e); });
      issues.push(...formatImportFailures(r), ...r.warnings.map((w) => formatIssue(spec.file, { ...w, severity: 'warning' })));
      failed ||= r.failed.length > 0;
      counts.push(r.imported.length);
      merge(cumulocityServerOptions(r.imported, spec.file));
      continue;
    }
    let profile: ThingsBoardProfile | undefined;
    if (spec.profile !== undefined) {
      const file = spec.profile;
      const p = await loadThingsBoardProfile(file).catch((e: unknown) => { throw e instanceof ProfileFileError ? e : readError(file, e); });
      issues.push(...p.warnings.map((w) => formatIssue(file, w)));
      profile = p.profile;
      profiles.set(file, profile);
    }
    const c = await loadThingsBoardCredentials(spec.file).catch((e: unknown) => { throw e instanceof ProfileFileError ? e : readError(spec.file, e); });
    issues.push(...[...c.errors, ...c.warnings].sort((a, b) => a.line - b.line || a.column - b.column).map((i) => formatIssue(spec.file, i)));
    failed ||= c.errors.length > 0;
    counts.push(c.devices.length);
    merge(thingsBoardServerOptions(c.devices, profile, spec.file));
  }
  return { psks, bsPsks, bootstrapConfigs, awakeTimesMs, fotaSettings, issues, failed, counts, profiles };
}
