import { LwM2MError } from '../core/errors.js';
import { LwM2MPath } from '../core/path.js';
import { coerceValue } from '../codec/values.js';
import type {
  ObjectInstanceNode, ResourceInstanceNode, ResourceNode, ResourceValue,
} from '../model/node.js';
import { isExecutable, isReadable, isWritable, type ObjectModel, type ResourceModel } from '../model/types.js';
import type { RequestContext } from './context.js';
import { checkRange } from './range.js';

/** A stored resource: a single value, or resource instances by id for a multiple resource. */
export type ResourceData = ResourceValue | ReadonlyMap<number, ResourceValue>;

/**
 * Per-resource behaviour an object implementation plugs in (Leshan's instance-enabler hooks). Every hook
 * also gets the instance it runs on, so one hook object can be shared by every instance (and device).
 */
export interface ResourceBehaviour {
  /** A live value (current time, a value generator, …) read instead of the stored one. */
  read?: (instance: ObjectInstance) => ResourceData | undefined;
  /** Called after type checks and before the value is stored; throw an LwM2MError to refuse it. */
  write?: (value: ResourceData, ctx: RequestContext, instance: ObjectInstance) => void;
  /** Execute; `args` is the raw argument string (LwM2M-TS-Core 1.1 §5.4.5 execute arguments). */
  execute?: (args: string, ctx: RequestContext, instance: ObjectInstance) => void | Promise<void>;
}

/**
 * Where each resource of a model lives in an instance's value array: slots in ascending resource id,
 * computed once per model and shared by every instance of it (on every device).
 */
interface Slots {
  readonly ids: readonly number[];
  readonly index: ReadonlyMap<number, number>;
}

const slotsByModel = new WeakMap<ObjectModel, Slots>();

/**
 * Stores `v` at `slot`, growing the array to exactly slot + 1 entries when needed (an out-of-bounds store
 * would let V8 over-allocate ~17 spare entries per array).
 */
function storeAt<T>(array: (T | undefined)[], slot: number, v: T | undefined): (T | undefined)[] {
  if (slot < array.length) {
    array[slot] = v;
    return array;
  }
  if (v === undefined) return array;
  const grown = new Array<T | undefined>(slot + 1);
  for (let i = 0; i < array.length; i++) grown[i] = array[i];
  grown[slot] = v;
  return grown;
}

function slotsOf(model: ObjectModel): Slots {
  let s = slotsByModel.get(model);
  if (!s) {
    const ids = [...model.resources.keys()].sort((a, b) => a - b);
    s = { ids, index: new Map(ids.map((id, i) => [id, i])) };
    slotsByModel.set(model, s);
  }
  return s;
}

export type ChangeListener = (path: LwM2MPath) => void;

/**
 * One object instance: a typed value store checked against the object's model, with optional
 * per-resource behaviour. Object implementations (one file each under objects/) configure it.
 *
 * Memory (bench:client keeps 10 000 of these devices in one process): values live in one array indexed
 * by the model's resource slots (shared per model), behaviours in a second one allocated on the first
 * {@link behave} — no Maps per instance.
 */
export class ObjectInstance {
  readonly model: ObjectModel;
  readonly id: number;
  private readonly slots: Slots;
  /** Values by slot, only as long as the highest slot holding one. */
  private values: (ResourceData | undefined)[] = [];
  private behaviours: (ResourceBehaviour | undefined)[] | undefined;
  private listener: ChangeListener | undefined;

  constructor(model: ObjectModel, id: number, initial?: Iterable<[number, ResourceData]>) {
    this.model = model;
    this.id = id;
    this.slots = slotsOf(model);
    if (initial) for (const [rid, v] of initial) this.values = storeAt(this.values, this.slotOf(rid), this.coerce(this.resourceModel(rid), v));
  }

  /** The value slot of a resource of this model; NOT_FOUND when the model has no such resource. */
  private slotOf(resourceId: number): number {
    const slot = this.slots.index.get(resourceId);
    if (slot === undefined) throw new LwM2MError('NOT_FOUND', `object ${this.model.id} has no resource ${resourceId}`);
    return slot;
  }

  private stored(resourceId: number): ResourceData | undefined {
    const slot = this.slots.index.get(resourceId);
    return slot === undefined ? undefined : this.values[slot];
  }

  private behaviour(resourceId: number): ResourceBehaviour | undefined {
    if (!this.behaviours) return undefined;
    const slot = this.slots.index.get(resourceId);
    return slot === undefined ? undefined : this.behaviours[slot];
  }

  /** A live value of a behaviour, or undefined. */
  private liveValue(b: ResourceBehaviour | undefined): ResourceData | undefined {
    return b?.read ? b.read(this) : undefined;
  }

  get objectId(): number {
    return this.model.id;
  }

  get path(): LwM2MPath {
    return LwM2MPath.of(this.model.id, this.id);
  }

  /** Set by the object tree: called with the path of every changed resource (drives notifications). */
  setChangeListener(listener: ChangeListener | undefined): void {
    this.listener = listener;
  }

  behave(resourceId: number, behaviour: ResourceBehaviour): this {
    const slot = this.slotOf(resourceId);
    const before = this.behaviours?.[slot];
    this.behaviours = storeAt(this.behaviours ?? [], slot, before ? { ...before, ...behaviour } : behaviour);
    return this;
  }

  resourceModel(resourceId: number): ResourceModel {
    const r = this.model.resources.get(resourceId);
    if (!r) throw new LwM2MError('NOT_FOUND', `object ${this.model.id} has no resource ${resourceId}`);
    return r;
  }

  /** Ids of resources present on this instance (stored, live, or executable), ascending. */
  resourceIds(): number[] {
    const out: number[] = [];
    const ids = this.slots.ids;
    for (let slot = 0; slot < ids.length; slot++) {
      const b = this.behaviours?.[slot];
      if (this.values[slot] !== undefined || b?.execute !== undefined || this.liveValue(b) !== undefined) out.push(ids[slot] as number);
    }
    return out;
  }

  has(resourceId: number): boolean {
    if (this.stored(resourceId) !== undefined) return true;
    const b = this.behaviour(resourceId);
    return b?.execute !== undefined || this.liveValue(b) !== undefined;
  }

  /** The current value (live read first), without access checks. */
  get(resourceId: number): ResourceData | undefined {
    const slot = this.slots.index.get(resourceId);
    if (slot === undefined) return undefined;
    const b = this.behaviours?.[slot];
    if (b?.read) {
      const v = b.read(this);
      if (v !== undefined) return this.coerce(this.resourceModel(resourceId), v);
    }
    return this.values[slot];
  }

  /** Device-side update of a value (no access checks); notifies observers when it changed. */
  set(resourceId: number, value: ResourceData): void {
    const slot = this.slotOf(resourceId);
    const v = this.coerce(this.resourceModel(resourceId), value);
    const before = this.values[slot];
    this.values = storeAt(this.values, slot, v);
    if (!sameData(before, v)) this.listener?.(LwM2MPath.of(this.model.id, this.id, resourceId));
  }

  /** Removes an optional resource's value. */
  unset(resourceId: number): void {
    const slot = this.slots.index.get(resourceId);
    if (slot === undefined || this.values[slot] === undefined) return;
    this.values = storeAt(this.values, slot, undefined);
    this.listener?.(LwM2MPath.of(this.model.id, this.id, resourceId));
  }

  /** Tells observers a live value changed (for behaviours with `read`). */
  touch(resourceId: number): void {
    this.listener?.(LwM2MPath.of(this.model.id, this.id, resourceId));
  }

  // ---- DM operations -----------------------------------------------------------------------------

  /** Read one resource as a node. 4.04 when absent, 4.05 when not readable (unless internal/bootstrap). */
  readResource(resourceId: number, ctx: RequestContext): ResourceNode {
    const model = this.resourceModel(resourceId);
    if (!ctx.internal && !ctx.bootstrap && !isReadable(model)) {
      throw new LwM2MError('METHOD_NOT_ALLOWED', `${this.path.toString()}/${resourceId} (${model.name}) is not readable`);
    }
    const data = this.get(resourceId);
    if (data === undefined) throw new LwM2MError('NOT_FOUND', `${this.path.toString()}/${resourceId} is not present`);
    return toNode(resourceId, data);
  }

  readResourceInstance(resourceId: number, instanceId: number, ctx: RequestContext): ResourceInstanceNode {
    const node = this.readResource(resourceId, ctx);
    if (node.kind !== 'multipleResource') {
      throw new LwM2MError('NOT_FOUND', `${this.path.toString()}/${resourceId} is a single resource`);
    }
    const v = node.instances.get(instanceId);
    if (v === undefined) {
      throw new LwM2MError('NOT_FOUND', `${this.path.toString()}/${resourceId}/${instanceId} is not present`);
    }
    return { kind: 'resourceInstance', id: instanceId, value: v };
  }

  /** Read the whole instance: every present readable resource (LwM2M-TS-Core 1.1 §6.3.1). */
  readInstance(ctx: RequestContext): ObjectInstanceNode {
    const resources = new Map<number, ResourceNode>();
    for (const rid of this.resourceIds()) {
      const model = this.model.resources.get(rid);
      if (!model || !(ctx.internal || ctx.bootstrap || isReadable(model)) || isExecutable(model)) continue;
      const data = this.get(rid);
      if (data !== undefined) resources.set(rid, toNode(rid, data));
    }
    return { kind: 'instance', id: this.id, resources };
  }

  /**
   * Write one resource. `replace` (PUT) replaces a multiple resource's instances; partial update (POST)
   * merges them (LwM2M-TS-Core 1.1 §6.3.3).
   */
  writeResource(node: ResourceNode, ctx: RequestContext, replace = true): void {
    const model = this.resourceModel(node.id);
    const where = `${this.path.toString()}/${node.id}`;
    if (isExecutable(model)) throw new LwM2MError('METHOD_NOT_ALLOWED', `${where} (${model.name}) is executable, not writable`);
    if (!ctx.internal && !ctx.bootstrap && !isWritable(model)) {
      throw new LwM2MError('METHOD_NOT_ALLOWED', `${where} (${model.name}) is not writable`);
    }
    let data: ResourceData;
    if (node.kind === 'multipleResource') {
      if (!model.multiple) throw new LwM2MError('BAD_REQUEST', `${where} is a single resource, got resource instances`);
      const current = this.stored(node.id);
      const base = !replace && current instanceof Map ? new Map(current as ReadonlyMap<number, ResourceValue>) : new Map<number, ResourceValue>();
      for (const [riid, v] of node.instances) base.set(riid, v);
      data = base;
    } else {
      if (model.multiple) throw new LwM2MError('BAD_REQUEST', `${where} is a multiple resource, got a single value`);
      data = node.value;
    }
    data = this.coerceWhere(model, data, where);
    checkRange(model, data, where);
    this.behaviour(node.id)?.write?.(data, ctx, this);
    this.set(node.id, data);
  }

  writeResourceInstance(resourceId: number, node: ResourceInstanceNode, ctx: RequestContext): void {
    const model = this.resourceModel(resourceId);
    if (!model.multiple) {
      throw new LwM2MError('BAD_REQUEST', `${this.path.toString()}/${resourceId} is not a multiple resource`);
    }
    this.writeResource({ kind: 'multipleResource', id: resourceId, instances: new Map([[node.id, node.value]]) }, ctx, false);
  }

  /**
   * Write an instance: replace (PUT) or partial update (POST). On replace, optional writable resources
   * not in the payload are removed (LwM2M-TS-Core 1.1 §6.3.3 "Replace").
   */
  writeInstance(node: ObjectInstanceNode, ctx: RequestContext, replace: boolean): void {
    // Check every resource first so a bad payload changes nothing (atomic from the server's view).
    for (const r of node.resources.values()) {
      const model = this.resourceModel(r.id);
      if (isExecutable(model) || (!ctx.internal && !ctx.bootstrap && !isWritable(model))) {
        throw new LwM2MError('METHOD_NOT_ALLOWED', `${this.path.toString()}/${r.id} (${model.name}) is not writable`);
      }
      const where = `${this.path.toString()}/${r.id}`;
      checkRange(model, this.coerceWhere(model, r.kind === 'resource' ? r.value : r.instances, where), where);
    }
    for (const r of node.resources.values()) this.writeResource(r, ctx, replace);
    if (replace) {
      for (const [rid, model] of this.model.resources) {
        if (node.resources.has(rid) || model.mandatory || !isWritable(model) || this.stored(rid) === undefined) continue;
        this.unset(rid);
      }
    }
  }

  async execute(resourceId: number, args: string, ctx: RequestContext): Promise<void> {
    const model = this.resourceModel(resourceId);
    if (!isExecutable(model)) {
      throw new LwM2MError('METHOD_NOT_ALLOWED', `${this.path.toString()}/${resourceId} (${model.name}) is not executable`);
    }
    const fn = this.behaviour(resourceId)?.execute;
    if (!fn) throw new LwM2MError('NOT_FOUND', `${this.path.toString()}/${resourceId} is not implemented`);
    await fn(args, ctx, this);
  }

  private coerce(model: ResourceModel, data: ResourceData): ResourceData {
    return this.coerceWhere(model, data, `${this.path.toString()}/${model.id}`);
  }

  private coerceWhere(model: ResourceModel, data: ResourceData, where: string): ResourceData {
    if (data instanceof Map) {
      if (!model.multiple) throw new LwM2MError('BAD_REQUEST', `${where} is a single resource`);
      const out = new Map<number, ResourceValue>();
      for (const [riid, v] of data as ReadonlyMap<number, ResourceValue>) out.set(riid, coerceValue(v, model.type, `${where}/${riid}`));
      return shared(out);
    }
    if (model.multiple) throw new LwM2MError('BAD_REQUEST', `${where} is a multiple resource`);
    return coerceValue(data as ResourceValue, model.type, where);
  }
}

/**
 * Small multiple-resource values of primitives (error codes [0], bearers, IP addresses, protocols…) are
 * the same on thousands of devices: one Map per distinct value is shared by every instance that stores
 * it. Stored values are never mutated (a write stores a new Map; `get` hands out a ReadonlyMap and
 * `toNode` a copy).
 */
/** Bounds of the shared-value table (beyond them values are simply not shared). */
const SHARED_MAX_ENTRIES = 8;
const SHARED_MAX_TEXT = 64;
const SHARED_MAX_VALUES = 4096;
const sharedValues = new Map<string, ReadonlyMap<number, ResourceValue>>();

function shared(values: Map<number, ResourceValue>): ReadonlyMap<number, ResourceValue> {
  if (values.size === 0 || values.size > SHARED_MAX_ENTRIES) return values;
  let key = '';
  for (const [riid, v] of values) {
    const t = typeof v;
    if (t === 'string') {
      if ((v as string).length > SHARED_MAX_TEXT) return values;
      key += `${riid}s${(v as string).length}:${v as string};`;
    } else if (t === 'number' || t === 'boolean') {
      key += `${riid}${t[0] as string}${String(v)};`;
    } else {
      return values;
    }
  }
  const found = sharedValues.get(key);
  if (found) return found;
  if (sharedValues.size >= SHARED_MAX_VALUES) return values;
  sharedValues.set(key, values);
  return values;
}

export function toNode(resourceId: number, data: ResourceData): ResourceNode {
  return data instanceof Map
    ? { kind: 'multipleResource', id: resourceId, instances: new Map(data as ReadonlyMap<number, ResourceValue>) }
    : { kind: 'resource', id: resourceId, value: data as ResourceValue };
}

function sameValue(a: ResourceValue, b: ResourceValue): boolean {
  if (a === b) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.from(a).equals(b);
  if (typeof a === 'object' && typeof b === 'object' && 'objectId' in a && 'objectId' in b) {
    return a.objectId === b.objectId && a.instanceId === b.instanceId;
  }
  return false;
}

export function sameData(a: ResourceData | undefined, b: ResourceData | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a as ReadonlyMap<number, ResourceValue>) {
      const w = (b as ReadonlyMap<number, ResourceValue>).get(k);
      if (w === undefined || !sameValue(v, w)) return false;
    }
    return true;
  }
  return sameValue(a as ResourceValue, b as ResourceValue);
}
