import { LwM2MError } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';

import type { NotificationAttributes } from '../codec/link.js';

export type { NotificationAttributes } from '../codec/link.js';

type Key = keyof NotificationAttributes;
const INTEGER_KEYS: readonly Key[] = ['pmin', 'pmax', 'epmin', 'epmax'];
const FLOAT_KEYS: readonly Key[] = ['gt', 'lt', 'st'];
const ALL_KEYS: readonly Key[] = [...INTEGER_KEYS, ...FLOAT_KEYS];

/** An attribute change: a number sets it, `null` unsets it (`?pmin` with no value, §5.4.4). */
export type AttributeUpdate = { [K in Key]?: number | null };

/**
 * Parses Write-Attributes query options (`pmin=10`, `gt=20.5`, `st` to unset). Unknown attributes,
 * bad numbers, negative periods → 4.00 with the offending option named.
 */
export function parseAttributeQuery(query: readonly string[]): AttributeUpdate {
  const out: AttributeUpdate = {};
  for (const q of query) {
    const eq = q.indexOf('=');
    const name = (eq < 0 ? q : q.slice(0, eq)) as Key;
    if (!ALL_KEYS.includes(name)) throw new LwM2MError('BAD_REQUEST', `unknown attribute "${q}"`);
    if (name in out) throw new LwM2MError('BAD_REQUEST', `attribute ${name} given twice`);
    if (eq < 0) {
      out[name] = null;
      continue;
    }
    const text = q.slice(eq + 1);
    const isInt = INTEGER_KEYS.includes(name);
    const valid = isInt ? /^\d{1,10}$/.test(text) : /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text);
    const value = Number(text);
    if (!valid || !Number.isFinite(value)) {
      throw new LwM2MError('BAD_REQUEST', `attribute ${name}: "${text}" is not ${isInt ? 'a non-negative integer' : 'a number'}`);
    }
    if (name === 'st' && value < 0) throw new LwM2MError('BAD_REQUEST', 'attribute st must not be negative');
    out[name] = value;
  }
  return out;
}

/** Applies an update to an attribute set and checks the result's consistency (§5.1.2). */
export function applyAttributeUpdate(current: NotificationAttributes, update: AttributeUpdate, path: LwM2MPath): NotificationAttributes {
  const next: NotificationAttributes = { ...current };
  for (const k of ALL_KEYS) {
    const v = update[k];
    if (v === null) delete next[k];
    else if (v !== undefined) next[k] = v;
  }
  // gt/lt/st apply to numeric resources only, so only at resource / resource-instance level (§5.1.2).
  if (path.depth < 3 && (next.gt !== undefined || next.lt !== undefined || next.st !== undefined)) {
    throw new LwM2MError('BAD_REQUEST', `gt, lt and st can only be set on a resource, not ${path.toString()}`);
  }
  if (next.pmin !== undefined && next.pmax !== undefined && next.pmax < next.pmin) {
    throw new LwM2MError('BAD_REQUEST', `pmax (${next.pmax}) must not be less than pmin (${next.pmin})`);
  }
  if (next.epmin !== undefined && next.epmax !== undefined && next.epmax < next.epmin) {
    throw new LwM2MError('BAD_REQUEST', `epmax (${next.epmax}) must not be less than epmin (${next.epmin})`);
  }
  // LwM2M-TS-Core 1.1 §5.1.2: when lt, gt and st are all set, lt + 2*st < gt must hold (1.0: lt < gt).
  if (next.lt !== undefined && next.gt !== undefined) {
    const st = next.st ?? 0;
    if (!(next.lt + 2 * st < next.gt)) {
      throw new LwM2MError('BAD_REQUEST', `lt (${next.lt}) + 2·st (${st}) must be less than gt (${next.gt})`);
    }
  }
  return next;
}

/** Attribute store for one server: attributes per path, with inheritance from object → instance → resource. */
export class AttributeStore {
  private readonly byPath = new Map<string, NotificationAttributes>();

  get(path: LwM2MPath): NotificationAttributes {
    return this.byPath.get(path.toString()) ?? {};
  }

  write(path: LwM2MPath, update: AttributeUpdate): void {
    const next = applyAttributeUpdate(this.get(path), update, path);
    if (Object.keys(next).length === 0) this.byPath.delete(path.toString());
    else this.byPath.set(path.toString(), next);
  }

  /** Drops attributes at and below path (instance deleted). */
  clear(path: LwM2MPath): void {
    const prefix = path.toString();
    for (const k of [...this.byPath.keys()]) if (k === prefix || k.startsWith(`${prefix}/`)) this.byPath.delete(k);
  }

  /**
   * Effective attributes for `path`: each level overrides the one above it (§5.1.1 "Attributes assigned
   * to an Object Instance are inherited by its Resources"), then the server's defaults for pmin/pmax.
   */
  effective(path: LwM2MPath, defaults: { pmin?: number; pmax?: number } = {}): NotificationAttributes {
    const out: NotificationAttributes = {};
    if (defaults.pmin !== undefined) out.pmin = defaults.pmin;
    if (defaults.pmax !== undefined) out.pmax = defaults.pmax;
    const ids = path.ids;
    for (let d = 1; d <= ids.length; d++) {
      const key = `/${ids.slice(0, d).join('/')}`;
      Object.assign(out, this.byPath.get(key));
    }
    return out;
  }
}
