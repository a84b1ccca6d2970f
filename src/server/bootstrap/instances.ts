/**
 * The object instances a bootstrap config writes: Security (/0, LwM2M-TS-Core 1.1 §E.1) and Server (/1,
 * §E.2) instances of each DM server account, the Bootstrap-Server account, and the `objects` instances
 * typed by their models — plus the choice of instance ids, which must not overwrite the client's
 * Bootstrap-Server account (Bootstrap-Delete keeps it, §6.1.7.5).
 */
import { LwM2MError } from '../../core/errors.js';
import { parsePath } from '../../core/path.js';
import type { DiscoverEntry } from '../../codec/link.js';
import type { ObjectInstanceNode, ResourceNode, ResourceValue } from '../../model/node.js';
import type { ModelLookup } from '../../model/types.js';
import { securityModeOf, type BootstrapAccountConfig, type BootstrapConfig, type BootstrapObjectConfig, type BootstrapServerAccount } from './config.js';
import { hexBytes, toInstanceNode } from './resource-values.js';

/** Security Mode /0/x/2 values (§E.1). */
export const SECURITY_MODE_VALUE = { psk: 0, nosec: 3 } as const;

/** Server object defaults when a config leaves them out. */
export const DEFAULT_BOOTSTRAP_LIFETIME_S = 300;
export const DEFAULT_BOOTSTRAP_BINDING = 'U';
export const DEFAULT_BOOTSTRAP_NOTIFICATION_STORING = true;

const utf8 = new TextEncoder();

/** What Bootstrap-Discover told about the client (LwM2M-TS-Core 1.1 §6.1.7.3). */
export interface DiscoveredLayout {
  /** `</>;lwm2m=…` */
  readonly lwm2mVersion?: string;
  /** The Security instance without `ssid`: the Bootstrap-Server account. */
  readonly bootstrapAccountId?: number;
  /** Object id → `ver` of the object links that carry one. */
  readonly versions: ReadonlyMap<number, string>;
  /** Object ids the client has. */
  readonly objects: readonly number[];
}

export function layoutFromDiscover(entries: readonly DiscoverEntry[]): DiscoveredLayout {
  let lwm2mVersion: string | undefined;
  let bootstrapAccountId: number | undefined;
  const versions = new Map<number, string>();
  const objects = new Set<number>();
  for (const e of entries) {
    const p = e.path;
    if (p.isRoot()) {
      lwm2mVersion = e.attributes.lwm2m ?? lwm2mVersion;
      continue;
    }
    objects.add(p.objectId as number);
    if (p.depth === 1 && e.attributes.ver !== undefined) versions.set(p.objectId as number, e.attributes.ver);
    // §6.1.7.3: Security instances of DM servers carry ssid; the Bootstrap-Server account does not.
    if (p.depth === 2 && p.objectId === 0 && e.attributes.ssid === undefined && bootstrapAccountId === undefined) {
      bootstrapAccountId = p.instanceId as number;
    }
  }
  return {
    ...(lwm2mVersion !== undefined ? { lwm2mVersion } : {}),
    ...(bootstrapAccountId !== undefined ? { bootstrapAccountId } : {}),
    versions,
    objects: [...objects].sort((a, b) => a - b),
  };
}

const r = (id: number, value: ResourceValue): ResourceNode => ({ kind: 'resource', id, value });

function securityResources(a: { uri: string; securityMode?: 'nosec' | 'psk'; pskIdentity?: string; pskKey?: string }): ResourceNode[] {
  const mode = securityModeOf(a);
  return [
    r(0, a.uri),
    r(2, SECURITY_MODE_VALUE[mode]),
    // /3, /4, /5 are mandatory (§E.1): empty Opaque when the mode does not use them.
    r(3, mode === 'psk' && a.pskIdentity !== undefined ? utf8.encode(a.pskIdentity) : new Uint8Array(0)),
    r(4, new Uint8Array(0)),
    r(5, mode === 'psk' && a.pskKey !== undefined ? hexBytes(a.pskKey, 'pskKey') : new Uint8Array(0)),
  ];
}

function instance(id: number, resources: readonly ResourceNode[]): ObjectInstanceNode {
  return { kind: 'instance', id, resources: new Map([...resources].sort((x, y) => x.id - y.id).map((res) => [res.id, res])) };
}

/** Security instance of a DM server account: URI, Bootstrap-Server false, mode, PSK, Short Server ID. */
export function securityInstanceNode(id: number, s: BootstrapServerAccount): ObjectInstanceNode {
  return instance(id, [...securityResources(s), r(1, false), r(10, s.shortServerId)]);
}

/** The Bootstrap-Server account: Bootstrap-Server true, optional hold-off and account timeout. */
export function bootstrapAccountNode(id: number, b: BootstrapAccountConfig): ObjectInstanceNode {
  const extra: ResourceNode[] = [];
  if (b.clientHoldOffTime !== undefined) extra.push(r(11, b.clientHoldOffTime));
  if (b.accountTimeout !== undefined) extra.push(r(12, b.accountTimeout));
  return instance(id, [...securityResources(b), r(1, true), ...extra]);
}

/** Server instance: Short Server ID, lifetime, default pmin/pmax, notification storing, binding. */
export function serverInstanceNode(id: number, s: BootstrapServerAccount): ObjectInstanceNode {
  const res: ResourceNode[] = [
    r(0, s.shortServerId),
    r(1, s.lifetime ?? DEFAULT_BOOTSTRAP_LIFETIME_S),
    r(6, s.notificationStoring ?? DEFAULT_BOOTSTRAP_NOTIFICATION_STORING),
    r(7, s.binding ?? DEFAULT_BOOTSTRAP_BINDING),
  ];
  if (s.defaultPmin !== undefined) res.push(r(2, s.defaultPmin));
  if (s.defaultPmax !== undefined) res.push(r(3, s.defaultPmax));
  return instance(id, res);
}

export interface InstanceIds {
  /** Security instance of the Bootstrap-Server account (written only when the config has `bootstrapServer`). */
  readonly bootstrapAccount: number;
  /** Per `servers` entry, in order. */
  readonly servers: ReadonlyArray<{ readonly security: number; readonly server: number }>;
}

function lowestFree(used: Set<number>): number {
  for (let id = 0; id <= 65534; id++) {
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
  throw new LwM2MError('BAD_VALUE', 'no free instance id');
}

/**
 * Instance ids: explicit ones from the config; the Bootstrap-Server account where Bootstrap-Discover
 * showed it, else 0 (the usual factory layout — Leshan, Wakaama and our device factory put it at /0/0);
 * every other Security instance the lowest id not taken; Server instances the lowest free from 0.
 */
export function assignInstanceIds(config: BootstrapConfig, layout?: DiscoveredLayout): InstanceIds {
  const securityUsed = new Set<number>();
  const serverUsed = new Set<number>();
  const bootstrapAccount = config.bootstrapServer?.instanceId ?? layout?.bootstrapAccountId ?? 0;
  securityUsed.add(bootstrapAccount);
  // The client's own account stays reserved even when the config rewrites it elsewhere.
  if (layout?.bootstrapAccountId !== undefined) securityUsed.add(layout.bootstrapAccountId);
  const servers = config.servers ?? [];
  for (const s of servers) {
    if (s.securityInstanceId !== undefined) securityUsed.add(s.securityInstanceId);
    if (s.serverInstanceId !== undefined) serverUsed.add(s.serverInstanceId);
  }
  return {
    bootstrapAccount,
    servers: servers.map((s) => ({
      security: s.securityInstanceId ?? lowestFree(securityUsed),
      server: s.serverInstanceId ?? lowestFree(serverUsed),
    })),
  };
}

/** An `objects` entry as an instance node, typed by `models`. */
export function objectInstanceNode(o: BootstrapObjectConfig, models: ModelLookup): ObjectInstanceNode {
  const path = parsePath(o.path);
  const model = models.getObject(path.objectId as number);
  if (!model) throw new LwM2MError('BAD_MODEL', `no model for object ${path.objectId as number}`);
  return toInstanceNode(model, path.instanceId as number, o.values, path.toString());
}
