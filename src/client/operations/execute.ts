import { LwM2MError } from '../../core/errors.js';
import type { LwM2MPath } from '../../core/path.js';
import type { RequestContext } from '../context.js';
import { ok, type DeviceResponse } from '../request.js';
import { requireDepth, type DeviceEnv } from './env.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Validates Execute arguments (LwM2M-TS-Core 1.1 §5.4.5): a comma-separated list of `digit` or
 * `digit='text'`, where text is printable ASCII without `'`.
 */
export function parseExecuteArguments(text: string): Map<number, string | undefined> {
  const out = new Map<number, string | undefined>();
  if (text === '') return out;
  const re = /^([0-9])(?:='([\x20-\x26\x28-\x7e]*)')?$/;
  for (const part of text.split(',')) {
    const m = re.exec(part);
    if (!m) throw new LwM2MError('BAD_REQUEST', `execute argument "${part}" is not digit or digit='value'`);
    const k = Number(m[1]);
    if (out.has(k)) throw new LwM2MError('BAD_REQUEST', `execute argument ${k} given twice`);
    out.set(k, m[2]);
  }
  return out;
}

/** Execute (LwM2M-TS-Core 1.1 §6.3.5; Transport: POST on a resource). */
export async function execute(env: DeviceEnv, ctx: RequestContext, path: LwM2MPath, payload: Uint8Array): Promise<DeviceResponse> {
  requireDepth(path, [3], 'Execute');
  env.access.check(ctx, path, 'E');
  let args: string;
  try {
    args = decoder.decode(payload);
  } catch {
    throw new LwM2MError('BAD_REQUEST', 'execute arguments are not UTF-8');
  }
  parseExecuteArguments(args);
  await env.tree.requireInstance(path).execute(path.resourceId as number, args, ctx);
  return ok('2.04');
}
