/** Who is asking: a DM server by short server id, the bootstrap server, or the device itself. */
export interface RequestContext {
  /** Short Server ID (`/1/x/0`) of the DM server making the request; undefined for bootstrap/internal. */
  readonly shortServerId: number | undefined;
  /** True for the Bootstrap-Server (Bootstrap-Write/Delete/Discover/Read bypass operation checks). */
  readonly bootstrap: boolean;
  /** True for the device's own code (factory configuration, value generators): no checks at all. */
  readonly internal: boolean;
}

export const INTERNAL_CONTEXT: RequestContext = Object.freeze({ shortServerId: undefined, bootstrap: false, internal: true });
export const BOOTSTRAP_CONTEXT: RequestContext = Object.freeze({ shortServerId: undefined, bootstrap: true, internal: false });

export function serverContext(shortServerId: number): RequestContext {
  return { shortServerId, bootstrap: false, internal: false };
}
