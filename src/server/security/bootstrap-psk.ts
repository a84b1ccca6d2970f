/**
 * PSK credentials that our Bootstrap-Server hands out become entries of our PSK stores, so a device we
 * bootstrapped can then open DTLS sessions with them (LwM2M-TS-Core 1.1 §6.1: the Bootstrap-Server
 * provisions the Security object /0 — /0/x/2 Security Mode 0 = PSK, /0/x/3 identity, /0/x/5 key).
 *
 * - A DM server account (`servers[]`) with securityMode psk → the LwM2M server's store.
 * - The Bootstrap-Server account (`bootstrapServer`) with psk → the Bootstrap-Server's store.
 *
 * A config may list several PSK DM servers (ours and others). When their credentials differ, only the
 * accounts whose `coaps://` URI names our DTLS port count; still ambiguous is an error. One account
 * counts whatever its port (the server may sit behind a port mapping).
 *
 * When:
 * - DM credentials: when a per-endpoint config is stored (a clash — the identity is another endpoint's —
 *   refuses the config), and on every Bootstrap-Request (the default config, which has no endpoint, only
 *   then; a clash refuses that bootstrap: two devices cannot share an identity). Replacing a device's DM
 *   entry early is safe: if the bootstrap does not finish, its old DM handshake fails and it bootstraps again.
 * - Bootstrap-Server credentials replace an endpoint's entry only once a bootstrap session with that
 *   config finished (Bootstrap-Finish 2.04): the entry is what the device bootstraps with, and replacing
 *   it before the device has the new credentials would lock it out. Before, they are only added for an
 *   endpoint that has no bootstrap entry at all (and checked for clashes).
 */
import { LwM2MError } from '../../core/errors.js';
import {
  DEFAULT_CONFIG_KEY, configKey, securityModeOf,
  type BootstrapConfig, type BootstrapConfigEntry, type BootstrapConfigStore,
} from '../bootstrap/config.js';
import { hexBytes } from '../bootstrap/resource-values.js';
import { PskStoreError, type PskChange, type PskEntry, type PskStore } from './psk-store.js';

/** Bound on Bootstrap-Server bindings waiting for a Bootstrap-Finish. */
const MAX_PENDING = 100_000;

/** RFC 7252 §6.2 default port of coaps. */
const DEFAULT_COAPS_PORT = 5684;

export interface BootstrapPskBindings {
  /** The DM credentials for our LwM2M server, if the config writes any. */
  readonly dm?: PskEntry;
  /** The Bootstrap-Server account's credentials, if PSK. */
  readonly bs?: PskEntry;
}

export interface BootstrapPskPorts {
  /** Our LwM2M server's DTLS port (picks among several PSK server accounts). */
  readonly dmPort?: number;
  /** Our Bootstrap-Server's DTLS port. */
  readonly bsPort?: number;
}

function portOf(uri: string): number | undefined {
  try {
    const u = new URL(uri);
    return u.port === '' ? DEFAULT_COAPS_PORT : Number(u.port);
  } catch {
    return undefined;
  }
}

function entryOf(endpoint: string, a: { pskIdentity?: string; pskKey?: string }, source: string | undefined): PskEntry | undefined {
  if (a.pskIdentity === undefined || a.pskKey === undefined) return undefined;
  const key = hexBytes(a.pskKey, 'pskKey');
  return { endpoint, identity: a.pskIdentity, key, ...(source !== undefined ? { source } : {}) };
}

/**
 * The PSK entries a config provisions for `endpoint`. Throws LwM2MError BAD_VALUE when several PSK
 * DM server accounts with different credentials leave it open which one is ours.
 */
export function bootstrapPskBindings(endpoint: string, config: BootstrapConfig, ports: BootstrapPskPorts = {}, source?: string): BootstrapPskBindings {
  const psk = (config.servers ?? []).filter((s) => securityModeOf(s) === 'psk' && s.pskIdentity !== undefined && s.pskKey !== undefined);
  const distinct = (list: typeof psk): typeof psk => {
    const seen = new Map<string, (typeof psk)[number]>();
    for (const s of list) seen.set(`${s.pskIdentity ?? ''}\u0000${(s.pskKey ?? '').replace(/^0x/i, '').toLowerCase()}`, s);
    return [...seen.values()];
  };
  let candidates = distinct(psk);
  if (candidates.length > 1) {
    const ours = candidates.filter((s) => ports.dmPort !== undefined && portOf(s.uri) === ports.dmPort);
    if (ours.length !== 1) {
      const which = ports.dmPort !== undefined ? `${ours.length === 0 ? 'none' : 'several'} on our DTLS port ${ports.dmPort}` : 'and no DTLS port to pick by';
      throw new LwM2MError('BAD_VALUE', `bootstrap config for ${JSON.stringify(endpoint)} has PSK server accounts with different credentials (${candidates.map((s) => s.uri).join(', ')}), ${which}: which one is ours is ambiguous`);
    }
    candidates = ours;
  }
  const dmAccount = candidates[0];
  const dm = dmAccount ? entryOf(endpoint, dmAccount, source) : undefined;
  const b = config.bootstrapServer;
  const bs = b && securityModeOf(b) === 'psk' ? entryOf(endpoint, b, source) : undefined;
  return { ...(dm ? { dm } : {}), ...(bs ? { bs } : {}) };
}

export interface BootstrapPskProvisionerOptions {
  /** The LwM2M server's store (DM credentials). */
  readonly dm: PskStore;
  /** The Bootstrap-Server's store; without it, Bootstrap-Server account PSKs are not recorded. */
  readonly bs?: PskStore;
  /** Read at each use (ports are known once the listeners are bound). */
  readonly ports?: () => BootstrapPskPorts;
}

/** Applies the PSK bindings of bootstrap configs to the stores. */
export class BootstrapPskProvisioner {
  /** Bootstrap-Server credentials waiting for their session's Bootstrap-Finish, by endpoint. */
  private readonly pendingBs = new Map<string, PskEntry>();

  constructor(private readonly opts: BootstrapPskProvisionerOptions) {}

  /** The bindings of `config` for `endpoint` (LwM2MError BAD_VALUE when ambiguous). */
  bindings(endpoint: string, config: BootstrapConfig, source?: string): BootstrapPskBindings {
    return bootstrapPskBindings(endpoint, config, this.opts.ports?.() ?? {}, source);
  }

  /** Throws (PskStoreError, LwM2MError) when {@link apply} would fail; changes nothing. */
  check(endpoint: string, config: BootstrapConfig, source?: string): BootstrapPskBindings {
    const b = this.bindings(endpoint, config, source);
    if (b.dm) this.opts.dm.check(b.dm);
    if (b.bs && this.opts.bs) this.opts.bs.check(b.bs);
    return b;
  }

  /**
   * Puts the DM binding of `config` for `endpoint` into the DM store, and its Bootstrap-Server binding
   * into the bootstrap store when that has no entry for `endpoint` yet (an existing one is only replaced
   * by {@link sessionFinished}). Both are checked first: a clash changes nothing. Throws like {@link check}.
   */
  apply(endpoint: string, config: BootstrapConfig, source?: string): PskChange[] {
    const b = this.check(endpoint, config, source);
    const changes: PskChange[] = [];
    if (b.dm) changes.push(this.opts.dm.put(b.dm));
    if (b.bs && this.opts.bs && this.opts.bs.get(endpoint) === undefined) changes.push(this.opts.bs.put(b.bs));
    return changes;
  }

  /**
   * For a Bootstrap-Request: {@link apply}, and remembers the Bootstrap-Server binding for
   * {@link sessionFinished}. Throws like {@link check} (the caller refuses the bootstrap).
   */
  prepareSession(endpoint: string, config: BootstrapConfig, source?: string): PskChange[] {
    const changes = this.apply(endpoint, config, source);
    const bs = this.bindings(endpoint, config, source).bs;
    this.pendingBs.delete(endpoint);
    if (bs && this.opts.bs) {
      // Bounded: a session that never finishes leaves its entry until the next request of its endpoint.
      if (this.pendingBs.size >= MAX_PENDING) this.pendingBs.delete(this.pendingBs.keys().next().value as string);
      this.pendingBs.set(endpoint, bs);
    }
    return changes;
  }

  /**
   * A session of `endpoint` finished (Bootstrap-Finish answered 2.04): the device now holds the
   * Bootstrap-Server credentials of its config, which replace its bootstrap entry. Returns the change,
   * if any; a clash that arose meanwhile is thrown (PskStoreError). A failed session changes nothing
   * (and is not reported here: a superseded session fails after its successor was prepared).
   */
  sessionFinished(endpoint: string): PskChange | undefined {
    const bs = this.pendingBs.get(endpoint);
    this.pendingBs.delete(endpoint);
    if (!bs || !this.opts.bs) return undefined;
    return this.opts.bs.put(bs);
  }

  /**
   * A {@link BootstrapConfigStore} in front of `inner` whose `put` of an endpoint's config applies its
   * bindings ({@link apply}): a config whose identity is another endpoint's is refused (PskStoreError
   * PSK_IDENTITY_IN_USE) and not stored. The default config is stored as is (applied per endpoint on
   * Bootstrap-Request). Deleting a config keeps the entries: the device holds those credentials.
   */
  wrap(inner: BootstrapConfigStore): BootstrapConfigStore {
    return {
      get: (endpoint) => inner.get(endpoint),
      list: () => inner.list(),
      delete: (endpoint) => inner.delete(endpoint),
      put: async (endpoint, config) => {
        const key = configKey(endpoint);
        if (key === DEFAULT_CONFIG_KEY) return inner.put(endpoint, config);
        const source = configSource(key);
        this.check(key, config, source);
        await inner.put(endpoint, config);
        this.apply(key, config, source);
      },
    };
  }

  /**
   * Applies every per-endpoint config of `entries` (a loaded config directory); a refused one is
   * returned as a message with its location and left out.
   */
  applyAll(entries: readonly BootstrapConfigEntry[]): string[] {
    const problems: string[] = [];
    for (const e of entries) {
      if (e.endpoint === DEFAULT_CONFIG_KEY) continue;
      try {
        this.apply(e.endpoint, e.config, configSource(e.endpoint));
      } catch (err) {
        if (!(err instanceof PskStoreError) && !(err instanceof LwM2MError)) throw err;
        problems.push(`${e.source ?? `bootstrap config ${JSON.stringify(e.endpoint)}`}: PSK not bound: ${err.message}`);
      }
    }
    return problems;
  }
}

/** The `source` of entries that come from the bootstrap config of `endpoint`. */
export function configSource(endpoint: string): string {
  return `bootstrap config ${JSON.stringify(endpoint)}`;
}
