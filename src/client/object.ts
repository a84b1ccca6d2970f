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

/** One LwM2M object on the device: its model and its instances. */
export class LwM2MObject {
  readonly model: ObjectModel;
  private readonly instances = new Map<number, ObjectInstance>();
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
    for (const i of this.instances.values()) i.setChangeListener(change);
  }

  instanceIds(): number[] {
    return [...this.instances.keys()].sort((a, b) => a - b);
  }

  instance(id: number): ObjectInstance | undefined {
    return this.instances.get(id);
  }

  instanceList(): ObjectInstance[] {
    return this.instanceIds().map((id) => this.instances.get(id) as ObjectInstance);
  }

  /** Adds an instance built elsewhere (factory configuration, object implementations). */
  add(instance: ObjectInstance): ObjectInstance {
    if (instance.model.id !== this.model.id) throw new LwM2MError('BAD_REQUEST', `instance of /${instance.model.id} added to /${this.model.id}`);
    if (!this.model.multiple && this.instances.size > 0 && !this.instances.has(instance.id)) {
      throw new LwM2MError('BAD_REQUEST', `object ${this.model.id} (${this.model.name}) is single-instance`);
    }
    instance.setChangeListener(this.changeListener);
    this.instances.set(instance.id, instance);
    this.instancesListener?.(this.model.id);
    return instance;
  }

  /** Lowest free instance id. */
  freeId(): number {
    for (let id = 0; id <= MAX_ID; id++) if (!this.instances.has(id)) return id;
    throw new LwM2MError('INTERNAL', `object ${this.model.id} has no free instance id`);
  }

  /**
   * Create (LwM2M-TS-Core 1.1 §6.3.6): a new instance with the given id (or the lowest free one) and
   * resources. 4.00 when the id is taken or the object is single-instance and already has one.
   */
  create(node: ObjectInstanceNode | undefined, ctx: RequestContext, requestedId?: number): ObjectInstance {
    const id = requestedId ?? node?.id ?? this.freeId();
    if (this.instances.has(id)) {
      throw new LwM2MError('BAD_REQUEST', `${LwM2MPath.of(this.model.id, id).toString()} already exists`);
    }
    if (!this.model.multiple && this.instances.size > 0) {
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
    if (!this.instances.delete(id)) {
      throw new LwM2MError('NOT_FOUND', `${LwM2MPath.of(this.model.id, id).toString()} does not exist`);
    }
    this.instancesListener?.(this.model.id);
  }

  /** Removes every instance except those `keep` returns true for. */
  deleteAll(keep: (i: ObjectInstance) => boolean = () => false): void {
    let changed = false;
    for (const [id, inst] of this.instances) {
      if (!keep(inst)) {
        this.instances.delete(id);
        changed = true;
      }
    }
    if (changed) this.instancesListener?.(this.model.id);
  }

  read(ctx: RequestContext, filter: (i: ObjectInstance) => boolean = () => true): ObjectNode {
    const instances = new Map<number, ObjectInstanceNode>();
    for (const inst of this.instanceList()) if (filter(inst)) instances.set(inst.id, inst.readInstance(ctx));
    return { kind: 'object', id: this.model.id, instances };
  }
}
