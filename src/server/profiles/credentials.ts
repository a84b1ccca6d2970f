/**
 * Platform-neutral device credentials: what the DM server and the Bootstrap-Server need to know about
 * one device, whichever platform file it came from (ThingsBoard device credentials JSON, Cumulocity
 * bulk-registration CSV). The PSK store and the fleet's device list are filled from these records.
 */

export type ConnectionMode = 'nosec' | 'psk';

/** How a device secures one connection (to the DM server, or to the Bootstrap-Server). */
export interface ConnectionSecurity {
  readonly mode: ConnectionMode;
  /** PSK identity (UTF-8), psk mode only. */
  readonly identity?: string;
  /** PSK key, psk mode only. */
  readonly key?: Uint8Array;
}

export interface DeviceCredentialRecord {
  readonly endpoint: string;
  /** The DM server connection. */
  readonly dm: ConnectionSecurity;
  /** The Bootstrap-Server connection, when the platform file says. */
  readonly bootstrap?: ConnectionSecurity;
}

/** One entry for a PSK store (`PskStore.put({ endpoint, identity, key })`). */
export interface ImportedPsk {
  readonly endpoint: string;
  readonly identity: string;
  readonly key: Uint8Array;
  /** Which server checks it: the DM server or the Bootstrap-Server. */
  readonly role: 'dm' | 'bootstrap';
}

/** The PSK entries of some records: the DM one, then the bootstrap one when it is a different identity. */
export function pskEntries(records: Iterable<DeviceCredentialRecord>): ImportedPsk[] {
  const out: ImportedPsk[] = [];
  for (const r of records) {
    const dm = r.dm.mode === 'psk' && r.dm.identity !== undefined && r.dm.key !== undefined ? r.dm : undefined;
    if (dm) out.push({ endpoint: r.endpoint, identity: dm.identity as string, key: dm.key as Uint8Array, role: 'dm' });
    const bs = r.bootstrap;
    if (bs && bs.mode === 'psk' && bs.identity !== undefined && bs.key !== undefined && bs.identity !== dm?.identity) {
      out.push({ endpoint: r.endpoint, identity: bs.identity, key: bs.key, role: 'bootstrap' });
    }
  }
  return out;
}
