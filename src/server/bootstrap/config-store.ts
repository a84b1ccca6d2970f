/**
 * The in-memory {@link BootstrapConfigStore}, and the loader that fills one from a directory of JSON/YAML
 * files (`lwm2m-server --bootstrap-config DIR`).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LwM2MError } from '../../core/errors.js';
import { CONFIG_FILE_EXTENSIONS, parseBootstrapConfigFile } from './config-file.js';
import {
  BootstrapConfigError, DEFAULT_CONFIG_KEY, configKey, parseBootstrapConfig,
  type BootstrapConfig, type BootstrapConfigEntry, type BootstrapConfigStore, type ConfigIssue, type ConfigValidationOptions,
} from './config.js';

export interface MemoryBootstrapConfigStoreOptions extends ConfigValidationOptions {
  /** Bound on stored configs; a put beyond it is refused (LWM2M_ENTITY_TOO_LARGE). Default 1 000 000. */
  maxEntries?: number;
}

function byKey(a: BootstrapConfigEntry, b: BootstrapConfigEntry): number {
  if (a.endpoint === b.endpoint) return 0;
  if (a.endpoint === DEFAULT_CONFIG_KEY) return -1;
  if (b.endpoint === DEFAULT_CONFIG_KEY) return 1;
  return a.endpoint < b.endpoint ? -1 : 1;
}

/** Configs in a Map. `put` validates again (a store never hands the server an invalid config). */
export class MemoryBootstrapConfigStore implements BootstrapConfigStore {
  private readonly entries = new Map<string, BootstrapConfigEntry>();
  private readonly maxEntries: number;

  constructor(initial: Iterable<BootstrapConfigEntry> = [], private readonly options: MemoryBootstrapConfigStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1_000_000;
    for (const e of initial) this.set(e.endpoint, e.config, e.source);
  }

  get size(): number {
    return this.entries.size;
  }

  async get(endpoint: string): Promise<BootstrapConfig | undefined> {
    return this.entries.get(configKey(endpoint))?.config;
  }

  /** The entry (with its source) stored under exactly this key. */
  entry(endpoint: string): BootstrapConfigEntry | undefined {
    return this.entries.get(configKey(endpoint));
  }

  async put(endpoint: string, config: BootstrapConfig): Promise<void> {
    this.set(endpoint, config, undefined);
  }

  async delete(endpoint: string): Promise<boolean> {
    return this.entries.delete(configKey(endpoint));
  }

  async list(): Promise<BootstrapConfigEntry[]> {
    return [...this.entries.values()].sort(byKey);
  }

  private set(endpoint: string, config: BootstrapConfig, source: string | undefined): void {
    const key = configKey(endpoint);
    if (key.length === 0) throw new LwM2MError('BAD_VALUE', 'endpoint is empty');
    const checked = parseBootstrapConfig(config, this.options);
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      throw new LwM2MError('ENTITY_TOO_LARGE', `the bootstrap config store is full (${this.maxEntries} configs)`);
    }
    this.entries.set(key, source === undefined ? { endpoint: key, config: checked } : { endpoint: key, config: checked, source });
  }
}

export interface LoadConfigDirOptions extends ConfigValidationOptions {
  /** Bound on config files read. Default 10 000. */
  maxFiles?: number;
  /** Bound on one file's size. Default 16 MiB. */
  maxFileBytes?: number;
}

/**
 * Reads every `*.json`, `*.yaml`, `*.yml` file of `dir` (not recursive, sorted by name) and returns the
 * configs, the default one (file `default.*`, or `endpoint: "default"` / `"*"`) under "*". Every problem
 * of every file is collected before throwing one {@link BootstrapConfigError} whose lines read
 * `file:line:col: /pointer: message`; an endpoint configured twice is one of them.
 */
export async function loadBootstrapConfigDir(dir: string, options: LoadConfigDirOptions = {}): Promise<BootstrapConfigEntry[]> {
  const maxFiles = options.maxFiles ?? 10_000;
  const maxFileBytes = options.maxFileBytes ?? 16 * 1024 * 1024;
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && CONFIG_FILE_EXTENSIONS.includes(extname(d.name).toLowerCase()))
      .map((d) => d.name)
      .sort();
  } catch (e) {
    throw new LwM2MError('BAD_VALUE', `cannot read bootstrap config directory: ${e instanceof Error ? e.message : String(e)}`, { location: dir, cause: e });
  }
  if (names.length > maxFiles) {
    throw new LwM2MError('BAD_VALUE', `${names.length} config files, at most ${maxFiles} are read`, { location: dir });
  }
  const issues: ConfigIssue[] = [];
  const entries: BootstrapConfigEntry[] = [];
  const where = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    let text: string;
    try {
      const st = await stat(file);
      if (!st.isFile()) continue;
      if (st.size > maxFileBytes) {
        issues.push({ pointer: '', message: `file is ${st.size} bytes, at most ${maxFileBytes} are read`, location: `${file}:1:1` });
        continue;
      }
      text = await readFile(file, 'utf8');
    } catch (e) {
      issues.push({ pointer: '', message: `cannot read: ${e instanceof Error ? e.message : String(e)}`, location: `${file}:1:1` });
      continue;
    }
    let fileEntries: BootstrapConfigEntry[];
    try {
      fileEntries = parseBootstrapConfigFile(text, file, options);
    } catch (e) {
      if (e instanceof BootstrapConfigError) {
        issues.push(...e.issues);
        continue;
      }
      throw e;
    }
    for (const entry of fileEntries) {
      const before = where.get(entry.endpoint);
      if (before !== undefined) {
        const shown = entry.endpoint === DEFAULT_CONFIG_KEY ? 'the default config' : `endpoint "${entry.endpoint}"`;
        issues.push({ pointer: '', message: `${shown} is already configured at ${before}`, ...(entry.source !== undefined ? { location: entry.source } : {}) });
        continue;
      }
      where.set(entry.endpoint, entry.source ?? file);
      entries.push(entry);
    }
  }
  if (issues.length > 0) throw new BootstrapConfigError(issues, `invalid bootstrap config in ${dir}`);
  return entries;
}

/** A {@link MemoryBootstrapConfigStore} filled from `dir` (empty without a directory). */
export async function createBootstrapConfigStore(dir?: string, options: LoadConfigDirOptions & MemoryBootstrapConfigStoreOptions = {}): Promise<MemoryBootstrapConfigStore> {
  const entries = dir === undefined ? [] : await loadBootstrapConfigDir(dir, options);
  return new MemoryBootstrapConfigStore(entries, options);
}
