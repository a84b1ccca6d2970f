import { EventEmitter } from 'node:events';
import { LwM2MError } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import type { LwM2MNode, ObjectNode } from '../model/node.js';
import type { ModelLookup, ObjectModel } from '../model/types.js';
import type { RequestContext } from './context.js';
import type { ChangeListener, ObjectInstance } from './instance.js';
import { LwM2MObject } from './object.js';

export interface ObjectTreeEvents {
  /** A resource value changed (drives observations). */
  change: [path: LwM2MPath];
  /** Instances were created or deleted in an object (drives a registration Update with payload). */
  instances: [objectId: number];
}

/** Every object on the device. Also the ModelLookup the codecs use for this device's object versions. */
export class ObjectTree extends EventEmitter<ObjectTreeEvents> implements ModelLookup {
  /** Objects in ascending id, exactly as long as needed (a handful per device; no Map per device). */
  private objects: readonly LwM2MObject[] = [];
  /** One pair of listeners for every object and instance of the tree (not a closure per object). */
  private readonly onChange: ChangeListener = (p) => this.emit('change', p);
  private readonly onInstances = (oid: number): void => { this.emit('instances', oid); };

  getObject(objectId: number): ObjectModel | undefined {
    return this.object(objectId)?.model;
  }

  add(object: LwM2MObject): LwM2MObject {
    if (this.object(object.id)) throw new LwM2MError('BAD_REQUEST', `object ${object.id} is already installed`);
    object.setListeners(this.onChange, this.onInstances);
    const list = this.objects;
    let at = 0;
    while (at < list.length && (list[at] as LwM2MObject).id < object.id) at++;
    const next = new Array<LwM2MObject>(list.length + 1);
    for (let i = 0; i < at; i++) next[i] = list[i] as LwM2MObject;
    next[at] = object;
    for (let i = at; i < list.length; i++) next[i + 1] = list[i] as LwM2MObject;
    this.objects = next;
    this.emit('instances', object.id);
    return object;
  }

  object(objectId: number): LwM2MObject | undefined {
    let lo = 0;
    let hi = this.objects.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const o = this.objects[mid] as LwM2MObject;
      if (o.id === objectId) return o;
      if (o.id < objectId) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  objectIds(): number[] {
    return this.objects.map((o) => o.id);
  }

  objectList(): LwM2MObject[] {
    return [...this.objects];
  }

  /** The object at path, or 4.04. */
  requireObject(path: LwM2MPath): LwM2MObject {
    const o = path.objectId === undefined ? undefined : this.object(path.objectId);
    if (!o) throw new LwM2MError('NOT_FOUND', `object ${path.objectId ?? '(none)'} is not supported`);
    return o;
  }

  /** The instance at path, or 4.04. */
  requireInstance(path: LwM2MPath): ObjectInstance {
    const o = this.requireObject(path);
    const i = path.instanceId === undefined ? undefined : o.instance(path.instanceId);
    if (!i) throw new LwM2MError('NOT_FOUND', `${path.parent().isRoot() ? path.toString() : `/${path.objectId}/${path.instanceId}`} does not exist`);
    return i;
  }

  /** Read at any level (object, instance, resource, resource instance); 4.04/4.05 as LwM2MError. */
  read(path: LwM2MPath, ctx: RequestContext): LwM2MNode {
    switch (path.depth) {
      case 1:
        return this.requireObject(path).read(ctx);
      case 2:
        return this.requireInstance(path).readInstance(ctx);
      case 3:
        return this.requireInstance(path).readResource(path.resourceId as number, ctx);
      case 4:
        return this.requireInstance(path).readResourceInstance(path.resourceId as number, path.resourceInstanceId as number, ctx);
      default:
        throw new LwM2MError('METHOD_NOT_ALLOWED', 'read of the root path is not allowed');
    }
  }

  readObject(objectId: number, ctx: RequestContext): ObjectNode {
    const o = this.object(objectId);
    if (!o) throw new LwM2MError('NOT_FOUND', `object ${objectId} is not supported`);
    return o.read(ctx);
  }
}
