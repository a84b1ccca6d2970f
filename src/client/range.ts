import { LwM2MError } from '../core/errors.js';
import type { ResourceValue } from '../model/node.js';
import type { ResourceModel } from '../model/types.js';
import type { ResourceData } from './instance.js';

/**
 * Refuses values outside the model's RangeEnumeration (numbers: value range; String/Opaque: length) and
 * negative durations (Integer resources in seconds). LwM2M-TS-Core 1.1 §6.3.3: a Write with an invalid
 * value is answered 4.00 Bad Request.
 */
export function checkRange(model: ResourceModel, data: ResourceData, where: string): void {
  if (data instanceof Map) {
    for (const [riid, v] of data as ReadonlyMap<number, ResourceValue>) checkRange(model, v, `${where}/${riid}`);
    return;
  }
  const v = data as ResourceValue;
  const r = model.range;
  const bad = (what: string): LwM2MError => new LwM2MError('BAD_VALUE', `${where} (${model.name}): ${what}`);
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (r?.min !== undefined && v < r.min) throw bad(`${String(v)} is below the minimum ${r.min}`);
    if (r?.max !== undefined && v > r.max) throw bad(`${String(v)} is above the maximum ${r.max}`);
    if (model.units === 's' && v < 0) throw bad(`a duration cannot be negative (${String(v)})`);
    return;
  }
  if (r !== undefined && (typeof v === 'string' || v instanceof Uint8Array)) {
    const len = v.length;
    const unit = typeof v === 'string' ? 'characters' : 'bytes';
    if (r.min !== undefined && r.min === r.max && len !== r.min) throw bad(`must be exactly ${r.min} ${unit}, got ${len}`);
    if (r.min !== undefined && len < r.min) throw bad(`at least ${r.min} ${unit}, got ${len}`);
    if (r.max !== undefined && len > r.max) throw bad(`at most ${r.max} ${unit}, got ${len}`);
  }
}

