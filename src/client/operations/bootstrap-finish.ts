import { LwM2MError } from '../../core/errors.js';
import type { ObjectInstance } from '../instance.js';
import { ok, type DeviceResponse } from '../request.js';
import type { DeviceEnv } from './env.js';

/** A DM server account: a non-bootstrap Security instance and the Server instance with its short id. */
export interface ServerAccount {
  readonly shortServerId: number;
  readonly security: ObjectInstance;
  readonly server: ObjectInstance;
}

/** Pairs Security and Server instances by Short Server ID (/0/x/10 = /1/y/0). */
export function serverAccounts(env: DeviceEnv): ServerAccount[] {
  const servers = env.tree.object(1)?.instanceList() ?? [];
  const out: ServerAccount[] = [];
  for (const security of env.tree.object(0)?.instanceList() ?? []) {
    if (security.get(1) === true) continue;
    const ssid = security.get(10);
    const server = servers.find((s) => s.get(0) === ssid);
    if (typeof ssid === 'number' && server) out.push({ shortServerId: ssid, security, server });
  }
  return out.sort((a, b) => a.shortServerId - b.shortServerId);
}

/**
 * Bootstrap-Finish (LwM2M-TS-Core 1.1 §6.1.7.6): the client checks the configuration is consistent —
 * at least one usable DM server account whose Security URI is set — else 4.06 Not Acceptable with a
 * diagnostic, and the bootstrap is considered failed.
 */
export function bootstrapFinish(env: DeviceEnv): DeviceResponse {
  const accounts = serverAccounts(env);
  if (accounts.length === 0) {
    throw new LwM2MError('NOT_ACCEPTABLE', 'bootstrap configuration has no usable server account (Security with Short Server ID and a matching Server instance)');
  }
  for (const a of accounts) {
    const uri = a.security.get(0);
    if (typeof uri !== 'string' || !/^coaps?:\/\//.test(uri)) {
      throw new LwM2MError('NOT_ACCEPTABLE', `server account ${a.shortServerId}: Security /0/${a.security.id}/0 has no coap:// or coaps:// URI`);
    }
  }
  return ok('2.04');
}
