/**
 * A registry of LwM2M object models that holds several versions of one object (e.g. Device /3 1.0, 1.1
 * and 1.2). The registry is itself a {@link ModelLookup} that resolves every object to its newest
 * version; {@link ModelRegistry.lookup} gives a view pinned to chosen versions.
 *
 * Duplicates: adding a model whose object id and version are already present is a no-op when the two
 * models are identical (so loading the same definition twice — e.g. `3.xml` and
 * `version_history/3-1_2.xml` — is harmless), and a `BAD_MODEL` error when they differ, unless
 * `{ replace: true }` is given, in which case the new model replaces the old one.
 */
import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LwM2MError } from '../core/errors.js';
import { loadDdfFile, loadDdfFileSync, type DdfParseOptions } from './ddf-loader.js';
import type { ModelLookup, ObjectModel, ResourceModel } from './types.js';

export interface AddModelOptions {
  /** Replace an existing, different model with the same object id and version instead of failing. */
  replace?: boolean;
}

export interface LoadDirectoryOptions extends DdfParseOptions, AddModelOptions {
  /** Also load `*.xml` files in subdirectories. Default false. */
  recursive?: boolean;
}

/** Object versions pinned per object id, e.g. `{ 3: '1.0', 5: '1.1' }`. */
export type VersionSelection = Readonly<Record<number, string>> | ReadonlyMap<number, string>;

export interface ParsedVersion {
  readonly major: number;
  readonly minor: number;
}

const VERSION = /^\s*(\d{1,6})(?:\.(\d{1,6}))?\s*$/;

/** Parses `major.minor` (a bare `major` means `major.0`); undefined when malformed. */
export function parseObjectVersion(version: string): ParsedVersion | undefined {
  const m = VERSION.exec(version);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? '0') };
}

/** Numeric comparison of two `major.minor` versions (`1.10` > `1.9`). Malformed versions throw BAD_MODEL. */
export function compareObjectVersions(a: string, b: string): number {
  const pa = requireVersion(a);
  const pb = requireVersion(b);
  return pa.major - pb.major || pa.minor - pb.minor;
}

function requireVersion(v: string, context = ''): ParsedVersion {
  const p = typeof v === 'string' ? parseObjectVersion(v) : undefined;
  if (!p) throw new LwM2MError('BAD_MODEL', `${context}invalid object version ${JSON.stringify(v)} (expected major.minor)`);
  return p;
}

function versionKey(p: ParsedVersion): string {
  return `${p.major}.${p.minor}`;
}

function checkObjectId(id: number, context: string): void {
  if (!Number.isInteger(id) || id < 0 || id > 65535) {
    throw new LwM2MError('BAD_MODEL', `${context}object id ${String(id)} is not an integer in 0..65535`);
  }
}

function sameResource(a: ResourceModel, b: ResourceModel): boolean {
  return (
    a.id === b.id && a.name === b.name && a.operations === b.operations && a.multiple === b.multiple &&
    a.mandatory === b.mandatory && a.type === b.type && a.rangeEnumeration === b.rangeEnumeration &&
    a.range?.min === b.range?.min && a.range?.max === b.range?.max && (a.range === undefined) === (b.range === undefined) &&
    a.units === b.units && a.description === b.description
  );
}

/** True when two models describe the same object definition (every field and every resource equal). */
export function sameObjectModel(a: ObjectModel, b: ObjectModel): boolean {
  if (
    a.id !== b.id || a.name !== b.name || a.description !== b.description || a.version !== b.version ||
    a.lwm2mVersion !== b.lwm2mVersion || a.urn !== b.urn || a.multiple !== b.multiple || a.mandatory !== b.mandatory ||
    a.resources.size !== b.resources.size
  ) {
    return false;
  }
  for (const [id, r] of a.resources) {
    const o = b.resources.get(id);
    if (o === undefined || !sameResource(r, o)) return false;
  }
  return true;
}

class PinnedLookup implements ModelLookup {
  constructor(private readonly models: ReadonlyMap<number, ObjectModel>) {}
  getObject(objectId: number): ObjectModel | undefined {
    return this.models.get(objectId);
  }
}

export class ModelRegistry implements ModelLookup {
  /** objectId → versions, sorted oldest first. */
  private readonly byId = new Map<number, { key: string; parsed: ParsedVersion; model: ObjectModel }[]>();

  constructor(models?: Iterable<ObjectModel>) {
    if (models) this.addAll(models);
  }

  /**
   * Adds one model. Same id and version already present: identical → no-op, different → BAD_MODEL error
   * unless `options.replace`. Returns `this`.
   */
  add(model: ObjectModel, options: AddModelOptions = {}): this {
    return this.addAll([model], options);
  }

  /** Adds several models atomically: if any is rejected, none is added. */
  addAll(models: Iterable<ObjectModel>, options: AddModelOptions = {}): this {
    const batch = new Map<string, ObjectModel>();
    for (const m of models) {
      const where = `object ${String(m.id)} version ${String(m.version)}: `;
      checkObjectId(m.id, where);
      const key = `${m.id}@${versionKey(requireVersion(m.version, where))}`;
      const prev = batch.get(key) ?? this.findExact(m.id, m.version);
      if (prev !== undefined && prev !== m && !sameObjectModel(prev, m) && !options.replace) {
        throw new LwM2MError(
          'BAD_MODEL',
          `${where}a different definition of object ${m.id} version ${m.version} (${prev.name}) is already registered` +
            ' (pass { replace: true } to replace it)',
        );
      }
      batch.set(key, m);
    }
    for (const m of batch.values()) this.put(m, options.replace === true);
    return this;
  }

  private findExact(objectId: number, version: string): ObjectModel | undefined {
    const p = parseObjectVersion(version);
    if (!p) return undefined;
    const key = versionKey(p);
    return this.byId.get(objectId)?.find((e) => e.key === key)?.model;
  }

  private put(model: ObjectModel, replace: boolean): void {
    const parsed = requireVersion(model.version);
    const key = versionKey(parsed);
    let list = this.byId.get(model.id);
    if (list === undefined) {
      list = [];
      this.byId.set(model.id, list);
    }
    const i = list.findIndex((e) => e.key === key);
    if (i >= 0) {
      if (replace) list[i] = { key, parsed, model };
      return;
    }
    list.push({ key, parsed, model });
    list.sort((a, b) => a.parsed.major - b.parsed.major || a.parsed.minor - b.parsed.minor);
  }

  /** The model of `objectId` at `version` (compared numerically: `1.2` = `1.02`), or the newest one. */
  get(objectId: number, version?: string): ObjectModel | undefined {
    const list = this.byId.get(objectId);
    if (list === undefined || list.length === 0) return undefined;
    if (version === undefined) return list[list.length - 1]?.model;
    return this.findExact(objectId, version);
  }

  /** ModelLookup: the newest registered version of the object (live: follows later additions). */
  getObject(objectId: number): ObjectModel | undefined {
    return this.get(objectId);
  }

  /** True when the object (at `version`, if given) is registered. */
  has(objectId: number, version?: string): boolean {
    return this.get(objectId, version) !== undefined;
  }

  /** The registered versions of an object, oldest first (e.g. `['1.0', '1.1', '1.2']`); empty if unknown. */
  versions(objectId: number): string[] {
    return (this.byId.get(objectId) ?? []).map((e) => e.model.version);
  }

  /** Registered object ids, ascending. */
  objectIds(): number[] {
    return [...this.byId.keys()].sort((a, b) => a - b);
  }

  /** Every registered model, by object id then version. */
  models(): ObjectModel[] {
    return this.objectIds().flatMap((id) => (this.byId.get(id) ?? []).map((e) => e.model));
  }

  /** Number of registered (object, version) pairs. */
  get size(): number {
    let n = 0;
    for (const list of this.byId.values()) n += list.length;
    return n;
  }

  /**
   * A lookup that resolves each object to the version chosen in `versions`, or to its newest version.
   * The view is a snapshot: models added to the registry afterwards are not seen. Throws BAD_MODEL when
   * a chosen object or version is not registered.
   */
  lookup(versions?: VersionSelection): ModelLookup {
    const chosen = new Map<number, ObjectModel>();
    for (const id of this.byId.keys()) {
      const m = this.get(id);
      if (m) chosen.set(id, m);
    }
    const entries: [number, string][] =
      versions === undefined
        ? []
        : versions instanceof Map
          ? [...(versions as ReadonlyMap<number, string>)]
          : Object.entries(versions as Readonly<Record<number, string>>).map(([k, v]): [number, string] => [Number(k), v]);
    for (const [id, version] of entries) {
      checkObjectId(id, '');
      const m = this.get(id, version);
      if (m === undefined) {
        const have = this.versions(id);
        throw new LwM2MError(
          'BAD_MODEL',
          `no model for object ${id} version ${String(version)}` +
            (have.length > 0 ? ` (registered: ${have.join(', ')})` : ' (object not registered)'),
        );
      }
      chosen.set(id, m);
    }
    return new PinnedLookup(chosen);
  }

  /** Loads every object of a DDF file into the registry (atomically); returns the loaded models. */
  async loadFile(path: string, options: DdfParseOptions & AddModelOptions = {}): Promise<ObjectModel[]> {
    const models = await loadDdfFile(path, options);
    this.addAll(models, options);
    return models;
  }

  /** Synchronous {@link loadFile}. */
  loadFileSync(path: string, options: DdfParseOptions & AddModelOptions = {}): ObjectModel[] {
    const models = loadDdfFileSync(path, options);
    this.addAll(models, options);
    return models;
  }

  /**
   * Loads every `*.xml` file of a directory (sorted by name; subdirectories only when `recursive`).
   * All files are parsed before anything is added, so a bad file leaves the registry unchanged.
   */
  async loadDirectory(dir: string, options: LoadDirectoryOptions = {}): Promise<ObjectModel[]> {
    const files = await listXmlFiles(dir, options.recursive === true);
    const models: ObjectModel[] = [];
    for (const f of files) models.push(...(await loadDdfFile(f, options)));
    this.addAll(models, options);
    return models;
  }

  /** Synchronous {@link loadDirectory}. */
  loadDirectorySync(dir: string, options: LoadDirectoryOptions = {}): ObjectModel[] {
    const files = listXmlFilesSync(dir, options.recursive === true);
    const models = files.flatMap((f) => loadDdfFileSync(f, options));
    this.addAll(models, options);
    return models;
  }
}

function dirError(dir: string, e: unknown): LwM2MError {
  const why = e instanceof Error ? e.message : String(e);
  return new LwM2MError('BAD_MODEL', `cannot read model directory: ${why}`, { location: dir, cause: e });
}

const isXml = (name: string): boolean => /\.xml$/i.test(name);
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function listXmlFiles(dir: string, recursive: boolean): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw dirError(dir, e);
  }
  const out: string[] = [];
  for (const e of [...entries].sort((a, b) => byName(a.name, b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...(await listXmlFiles(p, true)));
    } else if (isXml(e.name)) out.push(p);
  }
  return out;
}

function listXmlFilesSync(dir: string, recursive: boolean): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw dirError(dir, e);
  }
  const out: string[] = [];
  for (const e of [...entries].sort((a, b) => byName(a.name, b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...listXmlFilesSync(p, true));
    } else if (isXml(e.name)) out.push(p);
  }
  return out;
}
