import { describe, expect, it } from 'vitest';
import { LwM2MError } from '../../../src/core/errors.js';
import { parsePath } from '../../../src/core/path.js';
import {
  checkNodeMatchesPath, multipleResource, nodeToRecords, objectInstance, objectNode, recordsToNode, resource,
  resourceInstance, type PathValue,
} from '../../../src/model/node.js';
import type { ModelLookup, ObjectModel, ResourceModel } from '../../../src/model/types.js';

const res = (id: number, multiple: boolean): ResourceModel => ({
  id, name: `r${id}`, operations: 'RW', multiple, mandatory: false, type: 'integer',
});
const device: ObjectModel = {
  id: 3, name: 'Device', version: '1.0', lwm2mVersion: '1.0', multiple: false, mandatory: true,
  resources: new Map([[0, res(0, false)], [6, res(6, true)], [9, res(9, false)]]),
};
const models: ModelLookup = { getObject: (id) => (id === 3 ? device : undefined) };
const rec = (p: string, value: PathValue['value']): PathValue => ({ path: parsePath(p), value });

describe('node tree ↔ flat records', () => {
  const inst = objectInstance(0, [resource(0, 'OMA'), multipleResource(6, [1, 5]), resource(9, 87)]);

  it('flattens an instance in path order', () => {
    const recs = nodeToRecords(parsePath('/3/0'), inst).map((r) => [r.path.toString(), r.value]);
    expect(recs).toEqual([['/3/0/0', 'OMA'], ['/3/0/6/0', 1], ['/3/0/6/1', 5], ['/3/0/9', 87]]);
  });

  it('flattens every level', () => {
    expect(nodeToRecords(parsePath('/3'), objectNode(3, [inst]))).toHaveLength(4);
    expect(nodeToRecords(parsePath('/3/0/6'), multipleResource(6, { 3: 7 })).map((r) => r.path.toString())).toEqual(['/3/0/6/3']);
    expect(nodeToRecords(parsePath('/3/0/6/2'), resourceInstance(2, 9))[0]?.value).toBe(9);
    expect(nodeToRecords(parsePath('/3/0/9'), resource(9, 1))[0]?.path.toString()).toBe('/3/0/9');
  });

  it('rebuilds each level, round-tripping', () => {
    const recs = nodeToRecords(parsePath('/3/0'), inst);
    expect(recordsToNode(parsePath('/3/0'), recs, models)).toEqual(inst);
    expect(recordsToNode(parsePath('/3'), recs, models)).toEqual(objectNode(3, [inst]));
    expect(recordsToNode(parsePath('/3/0/6'), recs.filter((r) => r.path.resourceId === 6), models)).toEqual(multipleResource(6, [1, 5]));
    expect(recordsToNode(parsePath('/3/0/6/1'), [rec('/3/0/6/1', 5)], models)).toEqual(resourceInstance(1, 5));
  });

  it('without a model, a resource with instance records is multiple', () => {
    expect(recordsToNode(parsePath('/4/0/1'), [rec('/4/0/1/0', 'a')]).kind).toBe('multipleResource');
    expect(recordsToNode(parsePath('/4/0/1'), [rec('/4/0/1', 'a')]).kind).toBe('resource');
  });

  it('an empty multiple resource is allowed when the model says multiple', () => {
    expect(recordsToNode(parsePath('/3/0/6'), [], models)).toEqual(multipleResource(6, []));
  });

  it.each<[string, string, PathValue[]]>([
    ['outside the target', '/3/0', [rec('/3/1/0', 1)]],
    ['duplicate', '/3/0', [rec('/3/0/0', 'a'), rec('/3/0/0', 'b')]],
    ['single and multiple mixed', '/3/0', [rec('/4/0/1', 1)].map(() => rec('/3/0/9', 1)).concat([rec('/3/0/9/0', 2)])],
    ['model says multiple, given single', '/3/0', [rec('/3/0/6', 1)]],
    ['object-level record', '/3', [rec('/3/0', 1)]],
    ['missing value', '/3/0/9', []],
  ])('rejects records %s with LWM2M_BAD_VALUE', (_name, target, recs) => {
    expect(() => recordsToNode(parsePath(target), recs, models)).toThrow(LwM2MError);
    try {
      recordsToNode(parsePath(target), recs, models);
    } catch (e) {
      expect((e as LwM2MError).coapCode).toBe('4.00');
    }
  });

  it('checks that a node fits its path', () => {
    expect(() => checkNodeMatchesPath(parsePath('/3/0'), inst)).not.toThrow();
    expect(() => checkNodeMatchesPath(parsePath('/3/1'), inst)).toThrow(/id 0/);
    expect(() => checkNodeMatchesPath(parsePath('/3/0/0'), inst)).toThrow(/instance node/);
  });
});
