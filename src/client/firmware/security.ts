/**
 * Which credentials a `coaps://` firmware download uses (LwM2M-TS-Core 1.1 §E.6 leaves it to the device;
 * Anjay takes the Security instance matching the URI): the PSK of the Security (/0) instance whose
 * Server URI has the same host and port, else the PSK of the first DM-server account, else NoSec.
 */
import type { ConnectionSecurity } from '../connection.js';
import type { ObjectTree } from '../object-tree.js';

function hostPort(uri: string): string | undefined {
  try {
    const u = new URL(uri);
    const port = u.port !== '' ? u.port : u.protocol === 'coaps:' ? '5684' : '5683';
    return `${u.hostname}:${port}`;
  } catch {
    return undefined;
  }
}

export function downloadSecurity(tree: ObjectTree, uri: string): ConnectionSecurity {
  const target = hostPort(uri);
  const psk = (tree.object(0)?.instanceList() ?? []).filter((s) => s.get(2) === 0 && s.get(1) !== true);
  const match = psk.find((s) => typeof s.get(0) === 'string' && hostPort(s.get(0) as string) === target) ?? psk[0];
  const id = match?.get(3);
  const key = match?.get(5);
  if (id instanceof Uint8Array && key instanceof Uint8Array) return { mode: 'psk', identity: Buffer.from(id).toString('utf8'), key };
  return { mode: 'nosec' };
}
