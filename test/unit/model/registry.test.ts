import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isLwM2MError, type LwM2MError } from '../../../src/core/errors.js';
import {
  ModelRegistry, compareObjectVersions, parseObjectVersion, sameObjectModel,
} from '../../../src/model/registry.js';
import type { ModelLookup, ObjectModel, ResourceModel } from '../../../src/model/types.js';

const MODELS = fileURLToPath(new URL('../../../src/model/models/', import.meta.url));
const HISTORY = join(MODELS, 'version_history');

function model(id: number, version: string, name = `Object ${id}`, resources: ResourceModel[] = []): ObjectModel {
  return {
    id, name, version, lwm2mVersion: '1.1', multiple: true, mandatory: false,
    resources: new Map(resources.map((r) => [r.id, r])),
  };
}

const res = (id: number, name = `R${id}`): ResourceModel => ({
  id, name, operations: 'R', multiple: false, mandatory: false, type: 'integer',
});

function badModel(fn: () => unknown): LwM2MError {
  try {
    fn();
  } catch (e) {
    expect(isLwM2MError(e)).toBe(true);
    expect((e as LwM2MError).code).toBe('LWM2M_BAD_MODEL');
    return e as LwM2MError;
  }
  throw new Error('expected a BAD_MODEL error');
}

async function badModelAsync(p: Promise<unknown>): Promise<LwM2MError> {
  try {
    await p;
  } catch (e) {
    expect(isLwM2MError(e)).toBe(true);
    expect((e as LwM2MError).code).toBe('LWM2M_BAD_MODEL');
    return e as LwM2MError;
  }
  throw new Error('expected a BAD_MODEL error');
}

describe('versions', () => {
  it('parse and compare numerically', () => {
    expect(parseObjectVersion('1.2')).toEqual({ major: 1, minor: 2 });
    expect(parseObjectVersion('2')).toEqual({ major: 2, minor: 0 });
    expect(parseObjectVersion('v1')).toBeUndefined();
    expect(parseObjectVersion('1.2.3')).toBeUndefined();
    expect(compareObjectVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareObjectVersions('1.2', '2.0')).toBeLessThan(0);
    expect(compareObjectVersions('1.02', '1.2')).toBe(0);
    badModel(() => compareObjectVersions('x', '1.0'));
  });
});

describe('ModelRegistry', () => {
  it('holds several versions of one object; newest by default, a given one on request', () => {
    const r = new ModelRegistry();
    r.add(model(3, '1.1', 'Device 1.1')).add(model(3, '1.0', 'Device 1.0')).add(model(3, '1.2', 'Device 1.2'));
    r.add(model(1, '1.0'));
    expect(r.versions(3)).toEqual(['1.0', '1.1', '1.2']);
    expect(r.get(3)?.name).toBe('Device 1.2');
    expect(r.get(3, '1.0')?.name).toBe('Device 1.0');
    expect(r.get(3, '1.1')?.name).toBe('Device 1.1');
    expect(r.get(3, '1.3')).toBeUndefined();
    expect(r.get(3, 'garbage')).toBeUndefined();
    expect(r.get(4)).toBeUndefined();
    expect(r.getObject(3)?.version).toBe('1.2');
    expect(r.has(3)).toBe(true);
    expect(r.has(3, '1.1')).toBe(true);
    expect(r.has(3, '1.5')).toBe(false);
    expect(r.has(99)).toBe(false);
    expect(r.versions(99)).toEqual([]);
    expect(r.objectIds()).toEqual([1, 3]);
    expect(r.size).toBe(4);
    expect(r.models().map((m) => `${m.id}@${m.version}`)).toEqual(['1@1.0', '3@1.0', '3@1.1', '3@1.2']);
  });

  it('orders versions numerically (1.10 after 1.9)', () => {
    const r = new ModelRegistry([model(9, '1.10'), model(9, '1.9'), model(9, '2.0'), model(9, '1.2')]);
    expect(r.versions(9)).toEqual(['1.2', '1.9', '1.10', '2.0']);
    expect(r.get(9)?.version).toBe('2.0');
    expect(r.get(9, '1.09')?.version).toBe('1.9');
  });

  it('the registry is a live ModelLookup resolving the newest version', () => {
    const r = new ModelRegistry([model(3, '1.0')]);
    const asLookup: ModelLookup = r;
    expect(asLookup.getObject(3)?.version).toBe('1.0');
    r.add(model(3, '1.1'));
    expect(asLookup.getObject(3)?.version).toBe('1.1');
    expect(asLookup.getObject(7)).toBeUndefined();
  });

  it('lookup() pins chosen versions and defaults others to the newest (snapshot)', () => {
    const r = new ModelRegistry([model(3, '1.0'), model(3, '1.1'), model(3, '1.2'), model(5, '1.0'), model(5, '1.1')]);
    const v = r.lookup({ 3: '1.0' });
    expect(v.getObject(3)?.version).toBe('1.0');
    expect(v.getObject(5)?.version).toBe('1.1');
    expect(v.getObject(6)).toBeUndefined();
    expect(r.lookup().getObject(3)?.version).toBe('1.2');
    expect(r.lookup(new Map([[5, '1.0']])).getObject(5)?.version).toBe('1.0');
    r.add(model(5, '1.2')).add(model(6, '1.0'));
    expect(v.getObject(5)?.version).toBe('1.1');
    expect(v.getObject(6)).toBeUndefined();
  });

  it('lookup() fails for an unknown version or object', () => {
    const r = new ModelRegistry([model(3, '1.0'), model(3, '1.1')]);
    expect(badModel(() => r.lookup({ 3: '1.5' })).message).toBe('no model for object 3 version 1.5 (registered: 1.0, 1.1)');
    expect(badModel(() => r.lookup({ 4: '1.0' })).message).toBe('no model for object 4 version 1.0 (object not registered)');
    expect(badModel(() => r.lookup(new Map([[70000, '1.0']]))).message).toContain('object id 70000');
  });

  it('same id+version: identical → no-op, different → error, { replace: true } → replaced', () => {
    const a = model(3, '1.0', 'Device', [res(0)]);
    const twin = model(3, '1.0', 'Device', [res(0)]);
    const other = model(3, '1.0', 'Device', [res(0, 'Changed')]);
    const r = new ModelRegistry([a]);
    r.add(twin);
    expect(r.size).toBe(1);
    expect(r.get(3, '1.0')).toBe(a);
    const err = badModel(() => r.add(other));
    expect(err.message).toContain('object 3 version 1.0: a different definition of object 3 version 1.0 (Device) is already registered');
    expect(r.get(3, '1.0')).toBe(a);
    r.add(other, { replace: true });
    expect(r.get(3, '1.0')).toBe(other);
    expect(r.size).toBe(1);
    // '1.00' is the same version as '1.0'.
    badModel(() => r.add(model(3, '1.00', 'Device', [res(1)])));
  });

  it('sameObjectModel compares every field', () => {
    const base = model(3, '1.0', 'Device', [res(0), res(1)]);
    expect(sameObjectModel(base, model(3, '1.0', 'Device', [res(1), res(0)]))).toBe(true);
    expect(sameObjectModel(base, { ...base, mandatory: true })).toBe(false);
    expect(sameObjectModel(base, { ...base, urn: 'urn:x' })).toBe(false);
    expect(sameObjectModel(base, model(3, '1.0', 'Device', [res(0)]))).toBe(false);
    expect(sameObjectModel(base, model(3, '1.0', 'Device', [res(0), { ...res(1), range: { min: 0, max: 1 } }]))).toBe(false);
    expect(sameObjectModel(base, model(3, '1.0', 'Device', [res(0), { ...res(1), units: 's' }]))).toBe(false);
  });

  it('addAll is atomic', () => {
    const r = new ModelRegistry([model(3, '1.0', 'Device')]);
    badModel(() => r.addAll([model(4, '1.0'), model(3, '1.0', 'Different')]));
    expect(r.has(4)).toBe(false);
    badModel(() => r.addAll([model(4, '1.0', 'A'), model(4, '1.0', 'B')]));
    expect(r.has(4)).toBe(false);
    expect(r.size).toBe(1);
  });

  it('rejects models with a bad version or id', () => {
    const r = new ModelRegistry();
    expect(badModel(() => r.add(model(3, 'one'))).message).toContain('invalid object version "one"');
    expect(badModel(() => r.add(model(65536, '1.0'))).message).toContain('object id 65536 is not an integer in 0..65535');
    expect(badModel(() => r.add(model(1.5, '1.0'))).message).toContain('object id 1.5');
    expect(r.size).toBe(0);
  });
});

describe('loading files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'model-registry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const ddf = (id: number, version: string, name = 'Thing', extra = ''): string =>
    `<LWM2M><Object ObjectType="MODefinition"><Name>${name}</Name><ObjectID>${id}</ObjectID>` +
    `<ObjectVersion>${version}</ObjectVersion><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>` +
    `<Resources><Item ID="0"><Name>A</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances>` +
    `<Mandatory>Optional</Mandatory><Type>Integer</Type><RangeEnumeration/><Units/><Description/></Item>${extra}</Resources></Object></LWM2M>`;

  it('loadFile / loadFileSync add a file\'s objects', async () => {
    const p = join(dir, 'one.xml');
    writeFileSync(p, ddf(10241, '1.1'));
    const r = new ModelRegistry();
    const loaded = await r.loadFile(p);
    expect(loaded.map((m) => m.id)).toEqual([10241]);
    expect(r.get(10241, '1.1')?.name).toBe('Thing');
    const r2 = new ModelRegistry();
    expect(r2.loadFileSync(p)).toEqual(loaded);
  });

  it('loadDirectory loads *.xml only, sorted, subdirectories when recursive', async () => {
    const d = join(dir, 'models');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'b.xml'), ddf(20000, '1.1'));
    writeFileSync(join(d, 'a.XML'), ddf(20000, '1.0'));
    writeFileSync(join(d, 'README.md'), '# not a model');
    writeFileSync(join(d, 'sub', 'c.xml'), ddf(20001, '1.0'));
    const r = new ModelRegistry();
    const loaded = await r.loadDirectory(d);
    expect(loaded.map((m) => `${m.id}@${m.version}`)).toEqual(['20000@1.0', '20000@1.1']);
    expect(r.objectIds()).toEqual([20000]);
    const rec = new ModelRegistry();
    rec.loadDirectorySync(d, { recursive: true });
    expect(rec.objectIds()).toEqual([20000, 20001]);
    const sync = new ModelRegistry();
    expect(sync.loadDirectorySync(d)).toEqual(loaded);
  });

  it('a bad file in a directory leaves the registry unchanged and names the file', async () => {
    const d = join(dir, 'bad');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'a.xml'), ddf(20002, '1.0'));
    writeFileSync(join(d, 'z.xml'), ddf(20003, '1.0', 'Broken', '<Item ID="0"><Name>dup</Name></Item>'));
    const r = new ModelRegistry();
    const err = await badModelAsync(r.loadDirectory(d));
    expect(err.message).toContain(join(d, 'z.xml'));
    expect(err.message).toContain('object 20003: resource 0: missing <Operations>');
    expect(r.size).toBe(0);
    const errSync = badModel(() => r.loadDirectorySync(d));
    expect(errSync.message).toBe(err.message);
    expect(r.size).toBe(0);
  });

  it('a conflicting file is rejected unless replace is asked for', async () => {
    const p1 = join(dir, 'v1.xml');
    const p2 = join(dir, 'v1-other.xml');
    writeFileSync(p1, ddf(20004, '1.0', 'First'));
    writeFileSync(p2, ddf(20004, '1.0', 'Second'));
    const r = new ModelRegistry();
    await r.loadFile(p1);
    await r.loadFile(p1); // the same definition again: no-op
    expect((await badModelAsync(r.loadFile(p2))).message).toContain('a different definition of object 20004 version 1.0 (First)');
    await r.loadFile(p2, { replace: true });
    expect(r.get(20004)?.name).toBe('Second');
  });

  it('a missing directory is BAD_MODEL naming it', async () => {
    const missing = join(dir, 'nope');
    expect((await badModelAsync(new ModelRegistry().loadDirectory(missing))).message).toContain(`${missing}: cannot read model directory`);
    expect(badModel(() => new ModelRegistry().loadDirectorySync(missing)).message).toContain(missing);
  });
});

describe('with the shipped OMA files', () => {
  it('/3 1.0, 1.1, 1.2 from version_history: newest by default, a specific one on request', async () => {
    const r = new ModelRegistry();
    await r.loadDirectory(HISTORY);
    expect(r.versions(3)).toEqual(['1.0', '1.1', '1.2']);
    expect(r.get(3)?.version).toBe('1.2');
    expect(r.get(3)?.urn).toBe('urn:oma:lwm2m:oma:3:1.2');
    expect(r.get(3, '1.0')?.urn).toBe('urn:oma:lwm2m:oma:3');
    expect(r.get(3, '1.0')?.resources.get(6)?.rangeEnumeration).toBe('0-7');
    expect(r.get(3, '1.2')?.resources.get(6)?.rangeEnumeration).toBe('0..7');
    expect(r.get(1, '1.0')?.resources.size).toBe(9);
    expect(r.get(1)?.resources.size).toBe(28);
    expect(r.lookup({ 1: '1.0' }).getObject(1)?.resources.has(10)).toBe(false);
    expect(r.lookup().getObject(1)?.resources.get(10)?.type).toBe('objlnk');
    // The top-level files are the newest versions: loading them too changes nothing.
    const before = r.size;
    await r.loadDirectory(MODELS);
    expect(r.size).toBe(before);
  });
});
