import { LwM2MError } from './errors.js';

/** LwM2M-TS-Core 1.1 §7.1: object, instance, resource and resource instance ids are 16-bit unsigned. */
export const MAX_ID = 65535;

export type PathLevel = 'root' | 'object' | 'instance' | 'resource' | 'resourceInstance';

/**
 * An LwM2M path: `/`, `/3`, `/3/0`, `/3/0/7`, `/3/0/7/1`. Immutable; compare with {@link comparePaths}
 * or {@link LwM2MPath.equals}.
 */
export class LwM2MPath {
  readonly objectId: number | undefined;
  readonly instanceId: number | undefined;
  readonly resourceId: number | undefined;
  readonly resourceInstanceId: number | undefined;

  private constructor(ids: readonly number[]) {
    this.objectId = ids[0];
    this.instanceId = ids[1];
    this.resourceId = ids[2];
    this.resourceInstanceId = ids[3];
  }

  static readonly ROOT = new LwM2MPath([]);

  /** Builds a path from ids, validating each one. */
  static of(...ids: number[]): LwM2MPath {
    if (ids.length > 4) throw new LwM2MError('BAD_PATH', `a path has at most 4 levels, got ${ids.length}`);
    for (let i = 0; i < ids.length; i++) checkId(ids[i] as number, i, ids);
    return ids.length === 0 ? LwM2MPath.ROOT : new LwM2MPath(ids);
  }

  /** Parses `/3/0/7/1` (a leading slash is optional, a trailing one is tolerated). */
  static parse(text: string): LwM2MPath {
    return parsePath(text);
  }

  get ids(): number[] {
    const out: number[] = [];
    for (const id of [this.objectId, this.instanceId, this.resourceId, this.resourceInstanceId]) {
      if (id === undefined) break;
      out.push(id);
    }
    return out;
  }

  get depth(): number {
    // Without building `ids`: asked several times per request on the client's read path.
    if (this.objectId === undefined) return 0;
    if (this.instanceId === undefined) return 1;
    if (this.resourceId === undefined) return 2;
    return this.resourceInstanceId === undefined ? 3 : 4;
  }

  get level(): PathLevel {
    return (['root', 'object', 'instance', 'resource', 'resourceInstance'] as const)[this.depth] as PathLevel;
  }

  isRoot(): boolean { return this.objectId === undefined; }
  isObject(): boolean { return this.depth === 1; }
  isInstance(): boolean { return this.depth === 2; }
  isResource(): boolean { return this.depth === 3; }
  isResourceInstance(): boolean { return this.depth === 4; }

  /** The enclosing path (`/3/0/7` for `/3/0/7/1`); the root is its own parent. */
  parent(): LwM2MPath {
    const ids = this.ids;
    return ids.length === 0 ? this : LwM2MPath.of(...ids.slice(0, -1));
  }

  child(id: number): LwM2MPath {
    return LwM2MPath.of(...this.ids, id);
  }

  /** True when `other` is this path or lies below it (`/3` contains `/3/0/1`). */
  contains(other: LwM2MPath): boolean {
    const a = this.ids;
    const b = other.ids;
    if (a.length > b.length) return false;
    return a.every((id, i) => id === b[i]);
  }

  /** True when this path lies strictly below `other`. */
  isDescendantOf(other: LwM2MPath): boolean {
    return other.depth < this.depth && other.contains(this);
  }

  equals(other: LwM2MPath): boolean {
    return comparePaths(this, other) === 0;
  }

  toString(): string {
    return formatPath(this);
  }

  toJSON(): string {
    return formatPath(this);
  }
}

function checkId(id: number, index: number, ids: readonly number[]): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) {
    throw new LwM2MError('BAD_PATH', `id ${id} at level ${index + 1} of "${ids.join('/')}" is not an integer in 0..${MAX_ID}`);
  }
}

/** Parses a path; throws `LWM2M_BAD_PATH` (4.00) naming the bad segment. */
export function parsePath(text: string): LwM2MPath {
  if (typeof text !== 'string') throw new LwM2MError('BAD_PATH', 'path must be a string');
  if (text === '' || text === '/') return LwM2MPath.ROOT;
  let body = text.startsWith('/') ? text.slice(1) : text;
  if (body.endsWith('/')) body = body.slice(0, -1);
  const segments = body.split('/');
  if (segments.length > 4) {
    throw new LwM2MError('BAD_PATH', `path "${text}" has ${segments.length} levels, at most 4 are allowed`);
  }
  const ids: number[] = [];
  segments.forEach((seg, i) => {
    if (seg === '') throw new LwM2MError('BAD_PATH', `path "${text}" has an empty segment at level ${i + 1}`);
    if (!/^[0-9]{1,5}$/.test(seg)) {
      throw new LwM2MError('BAD_PATH', `path "${text}": segment "${seg}" at level ${i + 1} is not a decimal id`);
    }
    const id = Number(seg);
    if (id > MAX_ID) {
      throw new LwM2MError('BAD_PATH', `path "${text}": id ${id} at level ${i + 1} exceeds ${MAX_ID}`);
    }
    ids.push(id);
  });
  return LwM2MPath.of(...ids);
}

/** Returns the path if it parses, else undefined (for hot paths that must not throw). */
export function tryParsePath(text: string): LwM2MPath | undefined {
  try {
    return parsePath(text);
  } catch {
    return undefined;
  }
}

export function formatPath(path: LwM2MPath): string {
  const ids = path.ids;
  return ids.length === 0 ? '/' : `/${ids.join('/')}`;
}

/** Total order: by object id, then instance, resource, resource instance; a parent sorts before its children. */
export function comparePaths(a: LwM2MPath, b: LwM2MPath): number {
  const x = a.ids;
  const y = b.ids;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] as number) - (y[i] as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Accepts a path or its text form. */
export function toPath(p: LwM2MPath | string): LwM2MPath {
  return typeof p === 'string' ? parsePath(p) : p;
}
