/**
 * The OMA object definitions shipped in `src/model/models/` (copied to `dist/src/model/models/` by
 * `npm run build`): the newest version of each object at the top level and every version, newest
 * included, in `version_history/`.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LwM2MError } from '../core/errors.js';
import { ModelRegistry } from './registry.js';
import type { ObjectModel } from './types.js';

/** Object id → every shipped version, oldest first (the last one is what `3.xml` etc. hold). */
export const BUILTIN_MODEL_VERSIONS: Readonly<Record<number, readonly string[]>> = Object.freeze({
  0: Object.freeze(['1.0', '1.1', '1.2']),
  1: Object.freeze(['1.0', '1.1', '1.2']),
  2: Object.freeze(['1.0', '1.1']),
  3: Object.freeze(['1.0', '1.1', '1.2']),
  4: Object.freeze(['1.0', '1.1', '1.2', '1.3']),
  5: Object.freeze(['1.0', '1.1', '1.2']),
  6: Object.freeze(['1.0']),
  7: Object.freeze(['1.0']),
  3300: Object.freeze(['1.0', '1.1']),
  3303: Object.freeze(['1.0', '1.1']),
  3311: Object.freeze(['1.0']),
});

/** Ids of the shipped objects, ascending. */
export const BUILTIN_OBJECT_IDS: readonly number[] = Object.freeze(
  Object.keys(BUILTIN_MODEL_VERSIONS).map(Number).sort((a, b) => a - b),
);

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

let cachedDir: string | undefined;

/**
 * The directory holding the shipped DDF files. Next to this module (`src/model/models` when running
 * from source, `dist/src/model/models` after a build); falls back to the package's
 * `src/model/models` (also published) when the build did not copy the assets.
 */
export function builtinModelsDir(): string {
  if (cachedDir !== undefined) return cachedDir;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'models'), join(here, '..', '..', '..', 'src', 'model', 'models')];
  const found = candidates.find((c) => isDir(c) && existsSync(join(c, '3.xml')));
  if (found === undefined) {
    throw new LwM2MError('INTERNAL', `cannot find the built-in OMA models (looked in ${candidates.join(', ')})`);
  }
  cachedDir = found;
  return found;
}

let cachedModels: readonly ObjectModel[] | undefined;

/**
 * Every shipped model (each object id/version once), parsed on first use and cached. Models are frozen,
 * so sharing them is safe.
 */
export function builtinModels(): readonly ObjectModel[] {
  if (cachedModels === undefined) {
    const dir = builtinModelsDir();
    const registry = new ModelRegistry();
    registry.loadDirectorySync(join(dir, 'version_history'));
    // The top-level files are the newest versions, identical to their version_history copies: adding them
    // again is a no-op, and fails loudly if the two ever diverge.
    registry.loadDirectorySync(dir);
    cachedModels = Object.freeze(registry.models());
  }
  return cachedModels;
}

/**
 * A new registry holding every shipped model. Parsing happens once per process; each call returns a
 * fresh registry (cheap), so callers may add their own models without affecting others.
 */
export function loadBuiltinRegistry(): ModelRegistry {
  return new ModelRegistry(builtinModels());
}
