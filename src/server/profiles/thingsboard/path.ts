/**
 * ThingsBoard's "versioned id" paths: `/3_1.2/0/9` is resource 9 of instance 0 of object 3 at object
 * version 1.2; `/3/0/9` (older profiles) names no version. Object, instance, resource and resource
 * instance levels are accepted.
 */
import { LwM2MPath, MAX_ID } from '../../../core/path.js';

export interface TbPath {
  /** As written in the profile. */
  readonly key: string;
  readonly path: LwM2MPath;
  /** `"1.2"` from `/3_1.2/…`; absent when the key names no version. */
  readonly objectVersion?: string;
}

const VERSIONED = /^\/?(\d{1,5})(?:_(\d{1,3}\.\d{1,3}))?((?:\/\d{1,5}){0,3})\/?$/;

/** Parses a versioned id; undefined when it is not one. */
export function parseTbPath(key: string): TbPath | undefined {
  const m = VERSIONED.exec(key.trim());
  if (!m) return undefined;
  const ids = [Number(m[1]), ...(m[3] ?? '').split('/').filter(Boolean).map(Number)];
  if (ids.some((id) => id > MAX_ID)) return undefined;
  const path = LwM2MPath.of(...ids);
  return m[2] !== undefined ? { key, path, objectVersion: normalizeVersion(m[2]) } : { key, path };
}

/** `"1.0"` stays, `"01.2"` → `"1.2"`. */
export function normalizeVersion(v: string): string {
  const [a, b] = v.split('.');
  return `${Number(a)}.${Number(b ?? 0)}`;
}

/** `/3_1.2/0/9` (or `/3/0/9` without a version). */
export function formatTbPath(path: LwM2MPath, objectVersion?: string): string {
  const ids = path.ids;
  if (ids.length === 0) return '/';
  const head = objectVersion !== undefined ? `${ids[0] as number}_${objectVersion}` : String(ids[0]);
  return `/${[head, ...ids.slice(1)].join('/')}`;
}
