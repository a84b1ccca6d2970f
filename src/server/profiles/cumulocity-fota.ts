/**
 * Cumulocity's LwM2M firmware-update flow as a FOTA job spec (docs/fota-server.md): the device's
 * `fwUpdateDeliveryMethod` (PUSH: Block1 writes of 512-byte blocks to /5/0/0; PULL: the device fetches
 * the package URI written to /5/0/1; BOTH: push, which every Firmware Update object supports),
 * `fwUpdateSupportedDeviceProtocol` (the pull protocol) and `fwUpdateResetMechanism` (PACKAGE: NULL to
 * /5/0/0, PACKAGE_URI: "" to /5/0/1). The orchestrator then resets, reads /5/0, observes State and
 * Update Result, delivers, executes /5/0/2 and follows the result across the restart and reconnects.
 */
import type { FotaJobSpec } from '../fota/types.js';
import type { CumulocityFotaSettings } from './cumulocity.js';

/** Cumulocity pushes firmware in 512-byte blocks. */
export const CUMULOCITY_BLOCK_SIZE = 512;

/** The job spec of Cumulocity's flow for a device with `settings` (undefined: a device without CSV settings → push). */
export function cumulocityFotaSpec(settings: CumulocityFotaSettings | undefined): FotaJobSpec {
  const method = settings?.deliveryMethod === 'PULL' ? 'pull' : 'push';
  const protocol = settings?.supportedDeviceProtocol?.toLowerCase() as FotaJobSpec['protocol'] | undefined;
  const reset = settings?.resetMechanism === 'PACKAGE' ? 'package' : settings?.resetMechanism === 'PACKAGE_URI' ? 'package-uri' : undefined;
  return {
    method,
    blockSize: CUMULOCITY_BLOCK_SIZE,
    ...(method === 'pull' && protocol !== undefined ? { protocol } : {}),
    ...(reset !== undefined ? { resetMechanism: reset } : {}),
  };
}

/**
 * The image a `fwupdate name;version;url` names in the server's image store: `name@version`, then the
 * URL's last path segment (a file of the firmware directory, or an image id).
 */
export function fwupdateImageRefs(name: string, version: string, url: string): string[] {
  const refs = [`${name}@${version}`];
  const last = /([^/?#]+)(?:[?#].*)?$/.exec(url.replace(/^[a-z]+:\/\/[^/]*/i, ''))?.[1];
  if (last !== undefined && last !== '') {
    let file = last;
    try {
      file = decodeURIComponent(last);
    } catch {
      // a malformed %-escape: use the segment as written
    }
    if (!refs.includes(file)) refs.push(file);
  }
  return refs;
}
