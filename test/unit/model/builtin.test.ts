import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_MODEL_VERSIONS, BUILTIN_OBJECT_IDS, builtinModels, builtinModelsDir, loadBuiltinRegistry,
} from '../../../src/model/builtin.js';
import { loadDdfFileSync } from '../../../src/model/ddf-loader.js';
import { ModelRegistry, sameObjectModel } from '../../../src/model/registry.js';
import type { ObjectModel } from '../../../src/model/types.js';

const SRC_MODELS = fileURLToPath(new URL('../../../src/model/models', import.meta.url));

describe('builtin models', () => {
  it('builtinModelsDir() is src/model/models when running from source', () => {
    expect(builtinModelsDir()).toBe(SRC_MODELS);
    expect(existsSync(join(builtinModelsDir(), '3.xml'))).toBe(true);
    expect(existsSync(join(builtinModelsDir(), 'version_history', '3-1_0.xml'))).toBe(true);
  });

  it('ships the documented objects and versions', () => {
    expect(BUILTIN_OBJECT_IDS).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 3300, 3303, 3311]);
    expect(BUILTIN_MODEL_VERSIONS).toEqual({
      0: ['1.0', '1.1', '1.2'],
      1: ['1.0', '1.1', '1.2'],
      2: ['1.0', '1.1'],
      3: ['1.0', '1.1', '1.2'],
      4: ['1.0', '1.1', '1.2', '1.3'],
      5: ['1.0', '1.1', '1.2'],
      6: ['1.0'],
      7: ['1.0'],
      3300: ['1.0', '1.1'],
      3303: ['1.0', '1.1'],
      3311: ['1.0'],
    });
  });

  it('loadBuiltinRegistry() holds exactly the shipped versions', () => {
    const r = loadBuiltinRegistry();
    expect(r.objectIds()).toEqual(BUILTIN_OBJECT_IDS);
    for (const id of BUILTIN_OBJECT_IDS) expect(r.versions(id)).toEqual(BUILTIN_MODEL_VERSIONS[id]);
    expect(r.size).toBe(25);
    expect(r.get(3)?.version).toBe('1.2');
    expect(r.get(3, '1.0')?.version).toBe('1.0');
    expect(r.get(3303)?.name).toBe('Temperature');
    expect(r.lookup({ 3: '1.0' }).getObject(3)?.urn).toBe('urn:oma:lwm2m:oma:3');
  });

  it('each top-level file is the newest version of its object and equals its version_history copy', () => {
    const r = loadBuiltinRegistry();
    const top = readdirSync(SRC_MODELS).filter((f) => f.endsWith('.xml'));
    expect(top).toHaveLength(BUILTIN_OBJECT_IDS.length);
    for (const f of top) {
      const m = loadDdfFileSync(join(SRC_MODELS, f))[0] as ObjectModel;
      expect(f).toBe(`${m.id}.xml`);
      const newest = r.get(m.id) as ObjectModel;
      expect(newest.version).toBe(m.version);
      expect(sameObjectModel(m, newest)).toBe(true);
    }
  });

  it('parses once: repeated calls are cheap and share the frozen models', () => {
    const a = builtinModels();
    expect(builtinModels()).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    for (const m of a) expect(Object.isFrozen(m)).toBe(true);
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) loadBuiltinRegistry();
    expect(performance.now() - t0).toBeLessThan(500);
    expect(loadBuiltinRegistry().get(3, '1.1')).toBe(loadBuiltinRegistry().get(3, '1.1'));
  });

  it('each call returns an independent registry', () => {
    const a = loadBuiltinRegistry();
    const b = loadBuiltinRegistry();
    expect(a).not.toBe(b);
    expect(a).toBeInstanceOf(ModelRegistry);
    a.add({ id: 3, name: 'Custom', version: '9.0', lwm2mVersion: '1.1', multiple: false, mandatory: true, resources: new Map() });
    expect(a.get(3)?.version).toBe('9.0');
    expect(b.get(3)?.version).toBe('1.2');
    expect(loadBuiltinRegistry().get(3)?.version).toBe('1.2');
  });
});
