import { LwM2MError } from '../core/errors.js';
import { LwM2MPath, MAX_ID } from '../core/path.js';
import type { ObjectInstanceNode, ObjectNode } from '../model/node.js';
import type { ObjectModel } from '../model/types.js';
import type { RequestContext } from './context.js';
import { ObjectInstance, type ChangeListener } from './instance.js';

/** Makes a new instance of one object (object implementations supply their own). */
export type InstanceFactory = (model: ObjectModel, id: number) => ObjectInstance;

export const plainInstanceFactory: InstanceFactory = (model, id) => new ObjectInstance(model, id);

export type InstancesListener = (objectId: number) => void;

/**
 * One LwM2M object on the device: its model and its instances. The instances are kept in one array in
 * ascending id (found by binary search): objects have few instances, and a Map per object per device
 * costs more heap than the instances themselves for an idle device.
 */
export class LwM2MObject {
  readonly model: ObjectModel;
  /** Replaced, never grown in place: every array is exactly as long as the number of instances. */
  private list: readonly ObjectInstance[] = [];
  private readonly factory: InstanceFactory;
  private changeListener: ChangeListener | undefined;
  private instancesListener: InstancesListener | undefined;

  constructor(model: ObjectModel, factory: InstanceFactory = plainInstanceFactory) {
    this.model = model;
    this.factory = factory;
  }

  get id(): number {
    return this.model.id;
  }

  /** Wired by the object tree. */
  setListeners(change: ChangeListener | undefined, instances: InstancesListener | undefined): void {
    this.changeListener = change;
    this.instancesListener = instances;
    for (const i of this.list) i.setChangeListener(change);
  }

  /** Index of instance `id` in the list, or −(insertion point + 1) when absent. */
  private indexOf(id: number): number {
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = (this.list[mid] as ObjectInstance).id;
      if (at === id) return mid;
      if (at < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -(lo + 1);
  }

  /** Number of instances. */
  get size(): number {
    return this.list.length;
  }

  instanceIds(): number[] {
    return this.list.map((i) => i.id);
  }

  instance(id: number): ObjectInstance | undefined {
    const at = this.indexOf(id);
    return at >= 0 ? this.list[at] : undefined;
  }

  instanceList(): ObjectInstance[] {
    return [...this.list];
  }

  /** Adds an instance built elsewhere (factory configuration, object implementations); replaces one with the same id. */
  add(instance: ObjectInstance): ObjectInstance {
    if (instance.model.id !== this.model.id) throw new LwM2MError('BAD_REQUEST', `instance of /${instance.model.id} added to /${this.model.id}`);
    const at = this.indexOf(instance.id);
    if (!this.model.multiple && this.list.length > 0 && at < 0) {
      throw new LwM2MError('BAD_REQUEST', `object ${this.model.id} (${this.model.name}) is single-instance`);
    }
    instance.setChangeListener(this.changeListener);
    this.list = at >= 0 ? splice(this.list, at, 1, instance) : splice(this.list, -at - 1, 0, instance);
    this.instancesListener?.(this.model.id);
    return instance;
  }

  /** Lowest free instance id. */
  freeId(): number {
    // The list is sorted: the first gap is the lowest free id.
    let id = 0;
    for (const inst of this.list) {
      if (inst.id !== id) break;
      id++;
    }
    if (id > MAX_ID) throw new LwM2MError('INTERNAL', `object ${this.model.id} has no free instance id`);
    return id;
  }

  /**
   * Create (LwM2M-TS-Core 1.1 §6.3.6): a new instance with the given id (or the lowest free one) and
   * resources. 4.00 when the id is taken or the object is single-instance and already has one.
   */
  create(node: ObjectInstanceNode | undefined, ctx: RequestContext, requestedId?: number): ObjectInstance {
    const id = requestedId ?? node?.id ?? this.freeId();
    if (this.indexOf(id) >= 0) {
      throw new LwM2MError('BAD_REQUEST', `${LwM2MPath.of(this.model.id, id).toString()} already exists`);
    }
    if (!this.model.multiple && this.list.length > 0) {
      throw new LwM2MError('BAD_REQUEST', `object ${this.model.id} (${this.model.name}) is single-instance and has an instance`);
    }
    const inst = this.factory(this.model, id);
    // Create may initialise read-only resources too (the new instance's initial state); executable
    // resources never take a value (ObjectInstance.writeResource refuses them).
    // Partial semantics: defaults the factory set stay unless the payload carries them (§6.3.6).
    if (node) inst.writeInstance({ ...node, id }, { ...ctx, internal: true }, false);
    // LwM2M-TS-Core 1.1 §6.3.6: the new instance must carry every mandatory writable resource.
    if (!ctx.internal) {
      for (const [rid, r] of this.model.resources) {
        if (r.mandatory && (r.operations === 'RW' || r.operations === 'W') && !inst.has(rid)) {
          throw new LwM2MError('BAD_REQUEST', `create ${inst.path.toString()}: mandatory resource ${rid} (${r.name}) missing`);
        }
      }
    }
    return this.add(inst);
  }

  delete(id: number): void {
    const at = this.indexOf(id);
    if (at < 0) {
      throw new LwM2MError('NOT_FOUND', `${LwM2MPath.of(this.model.id, id).toString()} does not exist`);
    }
    this.list = splice(this.list, at, 1);
    this.instancesListener?.(this.model.id);
  }

  /** Removes every instance except those `keep` returns true for. */
  deleteAll(keep: (i: ObjectInstance) => boolean = () => false): void {
    let list = this.list;
    for (let i = list.length - 1; i >= 0; i--) if (!keep(list[i] as ObjectInstance)) list = splice(list, i, 1);
    if (list === this.list) return;
    this.list = list;
    this.instancesListener?.(this.model.id);
  }

  read(ctx: RequestContext, filter: (i: ObjectInstance) => boolean = () => true): ObjectNode {
    const instances = new Map<number, ObjectInstanceNode>();
    for (const inst of this.list) if (filter(inst)) instances.set(inst.id, inst.readInstance(ctx));
    return { kind: 'object', id: this.model.id, instances };
  }
}

/** A copy of `list` with `remove` entries at `at` replaced by `insert`, allocated at its exact length. */
function splice(list: readonly ObjectInstance[], at: number, remove: number, insert?: ObjectInstance): readonly ObjectInstance[] {
  const out = new Array<ObjectInstance>(list.length - remove + (insert ? 1 : 0));
  let w = 0;
  for (let i = 0; i < at; i++) out[w++] = list[i] as ObjectInstance;
  if (insert) out[w++] = insert;
  for (let i = at + remove; i < list.length; i++) out[w++] = list[i] as ObjectInstance;
  return out;
}
