import { LwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import { decode } from '../../codec/dispatch.js';
import type { ObjectInstanceNode } from '../../model/node.js';
import { BOOTSTRAP_CONTEXT } from '../context.js';
import { requireDecodable } from '../negotiate.js';
import { ok, type DeviceResponse } from '../request.js';
import type { DeviceEnv } from './env.js';
import { applyWrite } from './write.js';

/** Instances the bootstrap server writes into existence skip the mandatory-resource check of Create. */
const CREATE_CONTEXT = { ...BOOTSTRAP_CONTEXT, internal: true };

/**
 * Bootstrap-Write (LwM2M-TS-Core 1.1 §6.1.7.4): PUT on an object, instance or resource. Instances that
 * do not exist are created; operation restrictions (R-only resources) do not apply to the bootstrap
 * server. Payload: TLV, SenML JSON/CBOR, LwM2M CBOR (or any format we decode).
 */
export function bootstrapWrite(env: DeviceEnv, path: LwM2MPath, payload: Uint8Array, contentFormat: number | undefined): DeviceResponse {
  if (path.depth < 1 || path.depth > 3) throw new LwM2MError('BAD_REQUEST', `Bootstrap-Write on ${path.toString()} is not allowed`);
  const format = requireDecodable(contentFormat);
  const object = env.tree.requireObject(path);
  const node = decode(format, payload, { path, models: env.tree });
  const upsert = (inst: ObjectInstanceNode): void => {
    const target = object.instance(inst.id) ?? object.create(undefined, CREATE_CONTEXT, inst.id);
    target.writeInstance(inst, BOOTSTRAP_CONTEXT, false);
  };
  switch (node.kind) {
    case 'object':
      for (const inst of node.instances.values()) upsert(inst);
      break;
    case 'instance':
      upsert({ ...node, id: path.instanceId ?? node.id });
      break;
    default: {
      if (path.depth !== 3) throw new LwM2MError('BAD_REQUEST', `a ${node.kind} does not fit ${path.toString()}`);
      if (!object.instance(path.instanceId as number)) {
        object.create(undefined, CREATE_CONTEXT, path.instanceId);
      }
      applyWrite(env, BOOTSTRAP_CONTEXT, path, node, true);
    }
  }
  return ok('2.04');
}
