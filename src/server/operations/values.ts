import type { LwM2MPath } from '../../core/path.js';
import { formatObjectLink } from '../../codec/values.js';
import { isObjectLink, nodeToRecords, type LwM2MNode, type PathValue, type ResourceValue } from '../../model/node.js';

/** A resource value as JSON (opaque → base64, time → epoch seconds, objlnk → "3:0", bigint → string). */
export function jsonValue(v: ResourceValue): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (typeof v === 'bigint') return v.toString();
  if (isObjectLink(v)) return formatObjectLink(v);
  return v;
}

/** Flattens a node to `{ "/3/0/0": "…", "/3/0/9": 87 }`. */
export function flatValues(path: LwM2MPath, node: LwM2MNode): Record<string, unknown> {
  return recordsToFlat(nodeToRecords(path, node));
}

export function recordsToFlat(records: readonly PathValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of records) out[r.path.toString()] = jsonValue(r.value);
  return out;
}
