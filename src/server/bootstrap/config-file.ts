/**
 * One bootstrap config file (JSON or YAML) → validated entries, every problem located as
 * `file:line:col` through yaml's LineCounter. A file holds one config (its endpoint defaults to the
 * file name; `default.yaml` or `"*"` is the default config) or a list of configs, each naming its
 * `endpoint`. JSON files go through the same parser with yaml's JSON schema, so both kinds of file
 * report positions the same way.
 */
import { basename, extname } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { yamlNodeAt } from '../../core/yaml-pointer.js';
import {
  BootstrapConfigError, configKey, validateBootstrapConfig,
  type BootstrapConfigEntry, type ConfigIssue, type ConfigValidationOptions,
} from './config.js';

/** Bound on the configs of one file (a list), so a huge file fails clearly instead of slowly. */
export const MAX_CONFIGS_PER_FILE = 100_000;

/** File extensions the directory loader reads. */
export const CONFIG_FILE_EXTENSIONS: readonly string[] = Object.freeze(['.json', '.yaml', '.yml']);

function position(lc: LineCounter, offset: number): string {
  const { line, col } = lc.linePos(offset);
  return `${Math.max(line, 1)}:${Math.max(col, 1)}`;
}

function locate(file: string, lc: LineCounter, doc: Document, pointer: string, atKey = false): string {
  const node = yamlNodeAt(doc, pointer, atKey);
  const offset = node?.range?.[0] ?? 0;
  return `${file}:${position(lc, offset)}`;
}

function endpointFromFileName(file: string): string {
  return basename(file, extname(file));
}

/**
 * Parses and validates the text of one config file. `file` names it in locations (and gives the
 * endpoint of a single config without `endpoint`). Throws {@link BootstrapConfigError} listing every
 * problem of the file.
 */
export function parseBootstrapConfigFile(text: string, file: string, options: ConfigValidationOptions = {}): BootstrapConfigEntry[] {
  const lc = new LineCounter();
  const json = extname(file).toLowerCase() === '.json';
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, ...(json ? { schema: 'json' } : {}) });
  const issues: ConfigIssue[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    const message = e.message.split('\n')[0] ?? e.message;
    issues.push({ pointer: '', message: `${e.name === 'YAMLWarning' ? 'warning: ' : ''}${message}`, location: `${file}:${position(lc, e.pos[0])}` });
  }
  if (doc.errors.length > 0) throw new BootstrapConfigError(issues, `cannot parse ${file}`);
  issues.length = 0;

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new BootstrapConfigError([{ pointer: '', message: e instanceof Error ? e.message : String(e), location: `${file}:1:1` }], `cannot parse ${file}`);
  }
  const list = Array.isArray(value);
  const items: unknown[] = list ? (value as unknown[]) : [value];
  if (items.length > MAX_CONFIGS_PER_FILE) {
    throw new BootstrapConfigError([{ pointer: '', message: `more than ${MAX_CONFIGS_PER_FILE} configs in one file`, location: `${file}:1:1` }]);
  }
  const entries: BootstrapConfigEntry[] = [];
  const seen = new Map<string, string>();
  items.forEach((item, i) => {
    const prefix = list ? `/${i}` : '';
    const r = validateBootstrapConfig(item, options);
    if (!r.ok) {
      for (const issue of r.issues) {
        const pointer = `${prefix}${issue.pointer}`;
        issues.push({ ...issue, pointer, location: locate(file, lc, doc, pointer, issue.atKey === true) });
      }
      return;
    }
    const source = locate(file, lc, doc, prefix);
    const endpoint = r.config.endpoint ?? (list ? undefined : endpointFromFileName(file));
    if (endpoint === undefined) {
      issues.push({ pointer: prefix, message: 'a config in a list needs "endpoint"', location: source });
      return;
    }
    const key = configKey(endpoint);
    const before = seen.get(key);
    if (before !== undefined) {
      issues.push({ pointer: `${prefix}/endpoint`, message: `endpoint "${endpoint}" is already configured at ${before}`, location: locate(file, lc, doc, `${prefix}/endpoint`) });
      return;
    }
    seen.set(key, source);
    entries.push({ endpoint: key, config: r.config, source });
  });
  if (issues.length > 0) throw new BootstrapConfigError(issues, `invalid bootstrap config in ${file}`);
  return entries;
}
