/**
 * Any LwM2M object loaded from DDF XML (IPSO sensors, vendor objects), backed either by handler
 * callbacks or by a plain value store with initial values and value generators — plus the small building
 * blocks the typed objects (0–7) share: {@link ManagedObject}, {@link buildInstance}, write guards and
 * live values.
 */
import type { Clock, TimerHandle } from '../../core/clock.js';
import { systemClock } from '../../core/clock.js';
import { LwM2MError } from '../../core/errors.js';
import { isObjectLink, type ResourceValue } from '../../model/node.js';
import { isExecutable, isReadable, type ObjectModel, type ResourceModel } from '../../model/types.js';
import type { RequestContext } from '../context.js';
import {
  createGenerator, hashSeed, isGenerator, type GeneratedValue, type Generator,
} from '../generators.js';
import { ObjectInstance, type ResourceBehaviour, type ResourceData } from '../instance.js';
import { checkRange } from '../range.js';

export { checkRange } from '../range.js';
import { LwM2MObject, type InstanceFactory } from '../object.js';

// ---- shared building blocks ----------------------------------------------------------------------

/** A constant or a generator sampled at read time. */
export type ValueSource<T> = T | Generator<T>;
export type NumberSource = ValueSource<number>;

/**
 * The resources of one instance, independent of any model version: what `securityInstance()`,
 * `serverInstance()` and `aclInstance()` return. A factory configuration uses it to build instances; a
 * bootstrap server can encode it as a Bootstrap-Write payload.
 */
export interface InstanceValues {
  readonly id?: number;
  readonly values: ReadonlyMap<number, ResourceData>;
}

/**
 * Called after type checks, before the value is stored; throw an LwM2MError to refuse the write. It gets
 * the instance written to, so one hook can serve every instance (no closure per instance and device).
 */
export type WriteHook = (value: ResourceData, ctx: RequestContext, instance: ObjectInstance) => void;

/**
 * An {@link LwM2MObject} that may own timers (movement, sampling, collection periods): `dispose()`
 * cancels them. Every `create…Object` of this folder returns one.
 */
export class ManagedObject extends LwM2MObject {
  /** None, one, or a list (most objects own no timer or just one: no array for them). */
  private disposers: (() => void) | (() => void)[] | undefined;
  private disposed = false;

  /** Registers cleanup to run on {@link dispose} (immediately when already disposed). */
  onDispose(fn: () => void): void {
    if (this.disposed) fn();
    else if (this.disposers === undefined) this.disposers = fn;
    else if (typeof this.disposers === 'function') this.disposers = [this.disposers, fn];
    else this.disposers.push(fn);
  }

  /** Cancels every timer this object started. Idempotent. */
  dispose(): void {
    this.disposed = true;
    const fns = this.disposers;
    this.disposers = undefined;
    if (typeof fns === 'function') fns();
    else for (const fn of fns ?? []) fn();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

/** Throws BAD_MODEL unless `model` is object `objectId` (catches passing the Device model to createServerObject). */
export function requireObjectModel(model: ObjectModel, objectId: number, what: string): void {
  if (model.id !== objectId) {
    throw new LwM2MError('BAD_MODEL', `${what} needs the model of object ${objectId}, got object ${model.id} (${model.name})`);
  }
}

/** Sets `values[rid] = v` when v is defined (for building {@link InstanceValues}). */
export function put(values: Map<number, ResourceData>, rid: number, v: ResourceData | undefined): void {
  if (v !== undefined) values.set(rid, v);
}

/** A list as a multiple-resource value: instance ids 0, 1, 2, … */
export function listValue(list: readonly ResourceValue[]): ReadonlyMap<number, ResourceValue> {
  return new Map(list.map((v, i) => [i, v] as [number, ResourceValue]));
}

/** Throws BAD_VALUE naming `field` unless v is an integer in [min, max]. */
export function checkInt(v: number | undefined, field: string, min: number, max: number): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new LwM2MError('BAD_VALUE', `${field}: must be an integer in ${min}..${max}, got ${String(v)}`);
  }
}

/**
 * Installs the write hooks of some resources. Range checks need no hook: ObjectInstance checks every
 * write (DM, composite, bootstrap, create) against the model (see ../range.ts).
 */
export function guardWrites(inst: ObjectInstance, hooks: Readonly<Record<number, WriteHook>> = {}): void {
  for (const [key, hook] of Object.entries(hooks)) {
    const rid = Number(key);
    if (hook && inst.model.resources.has(rid)) inst.behave(rid, writeBehaviour(hook));
  }
}

/** One behaviour object per hook, shared by every instance it guards (behaviours are never mutated). */
const writeBehaviours = new WeakMap<WriteHook, ResourceBehaviour>();
function writeBehaviour(hook: WriteHook): ResourceBehaviour {
  let b = writeBehaviours.get(hook);
  if (!b) writeBehaviours.set(hook, (b = Object.freeze({ write: hook })));
  return b;
}

/**
 * Builds an instance from {@link InstanceValues}. Values for resources the model does not define (an
 * older object version) are dropped; values the model refuses (type, range) throw BAD_VALUE.
 */
export function buildInstance(model: ObjectModel, id: number, values: ReadonlyMap<number, ResourceData>): ObjectInstance {
  const known: [number, ResourceData][] = [];
  for (const [rid, v] of values) {
    const r = model.resources.get(rid);
    if (!r) continue;
    checkRange(r, v, `/${model.id}/${id}/${rid}`);
    known.push([rid, v]);
  }
  return new ObjectInstance(model, id, known);
}

/** Adds `instances` (each configured by `configure`) to `object`, ids defaulting to the lowest free one. */
export function addInstances(
  object: LwM2MObject, instances: readonly InstanceValues[], configure: (inst: ObjectInstance) => void,
): void {
  for (const spec of instances) {
    const id = spec.id ?? object.freeId();
    if (object.instance(id)) throw new LwM2MError('BAD_REQUEST', `/${object.id}/${id} is configured twice`);
    const inst = buildInstance(object.model, id, spec.values);
    configure(inst);
    object.add(inst);
  }
}

/**
 * An object whose every instance — configured now, or created later by a server (Create, Bootstrap-Write)
 * — gets the same per-instance behaviour from `configure`.
 */
export function configuredObject(
  model: ObjectModel, instances: readonly InstanceValues[], configure: (inst: ObjectInstance) => void,
): ManagedObject {
  const object = new ManagedObject(model, configuredFactory(configure));
  addInstances(object, instances, configure);
  return object;
}

/** One instance factory per `configure` function, shared by every object (and device) using it. */
const factories = new WeakMap<(inst: ObjectInstance) => void, InstanceFactory>();
function configuredFactory(configure: (inst: ObjectInstance) => void): InstanceFactory {
  let f = factories.get(configure);
  if (!f) {
    f = (m, id) => {
      const inst = new ObjectInstance(m, id);
      configure(inst);
      return inst;
    };
    factories.set(configure, f);
  }
  return f;
}

/**
 * Converts a generated value to the resource's type: integers are rounded, numbers clamped to the
 * model's range, numbers become strings for String resources. Anything else is left to the instance's
 * type check (which throws BAD_VALUE).
 */
export function toResourceValue(v: GeneratedValue, model: ResourceModel): ResourceValue {
  if (typeof v === 'number') {
    let n = v;
    if (model.type === 'integer' || model.type === 'unsignedInteger') n = Math.round(n);
    if (model.type === 'integer' || model.type === 'unsignedInteger' || model.type === 'float') {
      const r = model.range;
      if (r?.min !== undefined && n < r.min) n = r.min;
      if (r?.max !== undefined && n > r.max) n = r.max;
      if (model.type === 'unsignedInteger' && n < 0) n = 0;
      return n;
    }
    if (model.type === 'string') return String(n);
    if (model.type === 'boolean') return n !== 0;
    return n;
  }
  if (model.type === 'string' && typeof v === 'boolean') return String(v);
  return v;
}

/**
 * Makes `rid` a live value: a generator sampled at the clock's time on every read, or a constant stored
 * once. For a multiple resource pass a list (one source per resource instance, ids 0, 1, …).
 * Returns true when the value is live (a generator is involved).
 */
export function bindSource(
  inst: ObjectInstance, rid: number, source: ValueSource<GeneratedValue> | readonly ValueSource<GeneratedValue>[], clock: Clock,
): boolean {
  const model = inst.resourceModel(rid);
  if (Array.isArray(source)) {
    if (!model.multiple) throw new LwM2MError('BAD_VALUE', `${inst.path.toString()}/${rid} (${model.name}) is a single resource, got a list`);
    const list = source as readonly ValueSource<GeneratedValue>[];
    const sampleAll = (): Map<number, ResourceValue> =>
      new Map(list.map((s, i) => [i, toResourceValue(isGenerator(s) ? (s as Generator<GeneratedValue>).next(clock.now()) : (s as GeneratedValue), model)]));
    if (list.some((s) => isGenerator(s))) {
      inst.behave(rid, { read: sampleAll });
      return true;
    }
    inst.set(rid, sampleAll());
    return false;
  }
  if (model.multiple) throw new LwM2MError('BAD_VALUE', `${inst.path.toString()}/${rid} (${model.name}) is a multiple resource, give a list`);
  if (isGenerator(source)) {
    const gen = source as Generator<GeneratedValue>;
    inst.behave(rid, { read: () => toResourceValue(gen.next(clock.now()), model) });
    return true;
  }
  inst.set(rid, toResourceValue(source as GeneratedValue, model));
  return false;
}

/** Runs `fn` every `ms` on `clock` until the handle is cancelled (self-rescheduling timer). */
export function repeat(clock: Clock, ms: number, fn: () => void): TimerHandle {
  if (!(ms > 0) || !Number.isFinite(ms)) throw new LwM2MError('BAD_VALUE', `a repeat interval must be > 0 ms, got ${ms}`);
  let handle: TimerHandle | undefined;
  let cancelled = false;
  const arm = (): void => {
    handle = clock.setTimeout(() => {
      if (cancelled) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      handle?.cancel();
    },
  };
}

/**
 * Every `intervalS`, tells observers that the live resources of `object` may have changed (so `gt`/`lt`/
 * `st` attributes are evaluated between pmax periods). The timer stops on `object.dispose()`.
 */
export function startSampling(object: ManagedObject, clock: Clock, intervalS: number, live: (inst: ObjectInstance) => readonly number[]): void {
  if (!(intervalS > 0)) throw new LwM2MError('BAD_VALUE', `sampleIntervalS: must be > 0, got ${intervalS}`);
  const t = repeat(clock, intervalS * 1000, () => {
    for (const inst of object.instanceList()) for (const rid of live(inst)) inst.touch(rid);
  });
  object.onDispose(() => t.cancel());
}

// ---- the generic object --------------------------------------------------------------------------

/** Callbacks that back a generic object (any may be omitted; the value store covers the rest). */
export interface GenericHandlers {
  /** A live value for a readable resource; return undefined to fall back to the stored value. */
  read?(instanceId: number, resourceId: number): ResourceData | undefined;
  /** A DM/Bootstrap write, after type and range checks; throw an LwM2MError to refuse it. */
  write?(instanceId: number, resourceId: number, value: ResourceData, ctx: RequestContext): void;
  /** Execute on an executable resource; `args` is the raw argument string. */
  execute?(instanceId: number, resourceId: number, args: string, ctx: RequestContext): void | Promise<void>;
  /** After a server (or bootstrap) Create made `instance`; throw to refuse it (the instance is removed). */
  create?(instance: ObjectInstance, ctx: RequestContext): void;
  /** Before an instance is deleted; throw an LwM2MError to refuse. */
  delete?(instanceId: number): void;
}

/**
 * A resource value in a generic configuration: a typed value, a list (multiple resource), a generator,
 * or a generator spec (`{ type: 'sine', … }`, see `createGenerator`).
 */
export type GenericValue = ResourceData | readonly ResourceValue[] | Generator<GeneratedValue> | GenericGeneratorSpec;

/** A JSON-like generator spec, recognised by its string `type` field. */
export interface GenericGeneratorSpec {
  readonly type: string;
  readonly [field: string]: unknown;
}

export type GenericValues = Readonly<Record<number, GenericValue>> | ReadonlyMap<number, GenericValue>;

export interface GenericInstanceOptions {
  id?: number;
  values?: GenericValues;
}

export interface GenericObjectOptions {
  instances?: readonly GenericInstanceOptions[];
  handlers?: GenericHandlers;
  /** Values each instance a server creates starts with (before the Create payload is applied). */
  defaults?: GenericValues;
  /** Clock for generators (default: the system clock). */
  clock?: Clock;
  /** Seed for generator specs without their own (mixed with instance and resource ids). */
  seed?: number | string;
  /** Touch generator-backed resources every this many seconds (observers evaluate gt/lt/st). Off by default. */
  sampleIntervalS?: number;
}

function isSpec(v: unknown): v is GenericGeneratorSpec {
  return typeof v === 'object' && v !== null && !(v instanceof Map) && !(v instanceof Uint8Array) && !(v instanceof Date) &&
    !Array.isArray(v) && !isObjectLink(v) && typeof (v as { type?: unknown }).type === 'string';
}

function entriesOf(values: GenericValues | undefined): [number, GenericValue][] {
  if (values === undefined) return [];
  if (values instanceof Map) return [...(values as ReadonlyMap<number, GenericValue>)];
  return Object.entries(values).map(([k, v]) => [Number(k), v as GenericValue]);
}

/** A generic object: handlers are called around the store's own Create/Delete. */
export class GenericObject extends ManagedObject {
  constructor(model: ObjectModel, factory: InstanceFactory, private readonly handlers: GenericHandlers) {
    super(model, factory);
  }

  override create(...args: Parameters<LwM2MObject['create']>): ObjectInstance {
    const inst = super.create(...args);
    try {
      this.handlers.create?.(inst, args[1]);
    } catch (e) {
      super.delete(inst.id);
      throw e;
    }
    return inst;
  }

  override delete(id: number): void {
    if (this.instance(id)) this.handlers.delete?.(id);
    super.delete(id);
  }

  override deleteAll(keep: (i: ObjectInstance) => boolean = () => false): void {
    for (const inst of this.instanceList()) if (!keep(inst)) this.handlers.delete?.(inst.id);
    super.deleteAll(keep);
  }
}

/**
 * Any object from a DDF model. Values may be constants, lists (multiple resources), generators or
 * generator specs (sampled live). Handlers, when given, provide live reads, see writes (and may refuse
 * them), implement executes and observe Create/Delete. Executable resources without an `execute` handler
 * answer 4.04 (not implemented).
 */
export function createGenericObject(model: ObjectModel, options: GenericObjectOptions = {}): GenericObject {
  const clock = options.clock ?? systemClock;
  const handlers = options.handlers ?? {};
  const liveByInstance = options.sampleIntervalS !== undefined ? new WeakMap<ObjectInstance, number[]>() : undefined;

  const configure = (inst: ObjectInstance, values: GenericValues | undefined): void => {
    const live: number[] = [];
    for (const [rid, v] of entriesOf(values)) {
      const r = model.resources.get(rid);
      const where = `/${model.id}/${inst.id}/${rid}`;
      if (!r) throw new LwM2MError('BAD_VALUE', `${where}: object ${model.id} (${model.name} ${model.version}) has no resource ${rid}`);
      if (isExecutable(r)) throw new LwM2MError('BAD_VALUE', `${where} (${r.name}) is executable and holds no value`);
      if (isSpec(v)) {
        const seed = hashSeed(options.seed ?? 0, model.id, inst.id, rid);
        bindSource(inst, rid, createGenerator(v, { seed, clock }), clock);
        live.push(rid);
      } else if (isGenerator(v)) {
        bindSource(inst, rid, v as Generator<GeneratedValue>, clock);
        live.push(rid);
      } else if (Array.isArray(v)) {
        const list = listValue(v as readonly ResourceValue[]);
        checkRange(r, list, where);
        inst.set(rid, list);
      } else {
        checkRange(r, v as ResourceData, where);
        inst.set(rid, v as ResourceData);
      }
    }
    liveByInstance?.set(inst, live);
    const hooks: Record<number, WriteHook> = {};
    if (handlers.write) {
      const w = handlers.write.bind(handlers);
      for (const rid of model.resources.keys()) hooks[rid] = (value, ctx) => w(inst.id, rid, value, ctx);
    }
    guardWrites(inst, hooks);
    for (const [rid, r] of model.resources) {
      if (isExecutable(r)) {
        if (handlers.execute) {
          const x = handlers.execute.bind(handlers);
          inst.behave(rid, { execute: (args, ctx) => x(inst.id, rid, args, ctx) });
        }
      } else if (handlers.read && isReadable(r) && !live.includes(rid)) {
        const rd = handlers.read.bind(handlers);
        inst.behave(rid, { read: () => rd(inst.id, rid) });
      }
    }
  };

  const factory: InstanceFactory = (m, id) => {
    const inst = new ObjectInstance(m, id);
    configure(inst, options.defaults);
    return inst;
  };
  const object = new GenericObject(model, factory, handlers);
  for (const spec of options.instances ?? []) {
    const id = spec.id ?? object.freeId();
    if (object.instance(id)) throw new LwM2MError('BAD_REQUEST', `/${model.id}/${id} is configured twice`);
    const inst = new ObjectInstance(model, id);
    configure(inst, spec.values);
    object.add(inst);
  }
  if (options.sampleIntervalS !== undefined) {
    startSampling(object, clock, options.sampleIntervalS, (inst) => liveByInstance?.get(inst) ?? []);
  }
  return object;
}
