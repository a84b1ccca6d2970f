import { systemClock, type Clock } from '../core/clock.js';
import { LwM2MError } from '../core/errors.js';
import { compareObjectVersions, type ModelRegistry } from '../model/registry.js';
import { loadBuiltinRegistry } from '../model/builtin.js';
import type { ObjectModel } from '../model/types.js';
import { ObjectTree } from './object-tree.js';
import { createAclObject } from './objects/acl.js';
import { createConnectivityObject, type ConnectivityObjectOptions } from './objects/connectivity.js';
import { createConnectivityStatsObject } from './objects/connectivity-stats.js';
import { createDeviceObject, type DeviceObjectOptions } from './objects/device.js';
import { createFirmwareObject, type FirmwareObjectOptions } from './objects/firmware.js';
import { downloadSecurity } from './firmware/security.js';
import { createGenericObject, type GenericObjectOptions, type ManagedObject } from './objects/generic.js';
import { createLocationObject, type LocationObjectOptions } from './objects/location.js';
import { createSecurityObject, securityInstance } from './objects/security.js';
import { createServerObject, serverInstance, type ServerInstanceOptions } from './objects/server.js';

/** A DM server account of the factory configuration. */
export interface ServerAccountConfig extends Omit<ServerInstanceOptions, 'shortServerId'> {
  uri: string;
  shortServerId?: number;
  pskIdentity?: string;
  /** Hex or bytes. */
  pskKey?: string | Uint8Array;
}

export interface BootstrapAccountConfig {
  uri: string;
  pskIdentity?: string;
  pskKey?: string | Uint8Array;
  clientHoldOffTime?: number;
}

export interface DeviceConfig {
  lwm2mVersion?: '1.0' | '1.1';
  /** Factory-configured DM servers (none: the device bootstraps). */
  servers?: readonly ServerAccountConfig[];
  bootstrap?: BootstrapAccountConfig;
  device?: DeviceObjectOptions;
  connectivity?: ConnectivityObjectOptions | false;
  firmware?: FirmwareObjectOptions | false;
  location?: Omit<LocationObjectOptions, 'clock'> | false;
  connectivityStats?: boolean;
  /** Further objects (IPSO, vendor) from models, backed by values, generators or handlers. */
  objects?: ReadonlyArray<{ model: ObjectModel } & GenericObjectOptions>;
  models?: ModelRegistry;
  clock?: Clock;
  /** Seed for value generators (per device). */
  seed?: number | string;
}

/**
 * The newest version of an object whose LwM2M enabler version the client speaks: a 1.0 client uses the
 * 1.0 objects, a 1.1 client the newest objects written for LwM2M ≤ 1.1 (LwM2M-TS-Core 1.1 §7.2.2).
 */
export function modelFor(models: ModelRegistry, objectId: number, lwm2mVersion: '1.0' | '1.1'): ObjectModel {
  const candidates = models.versions(objectId)
    .map((v) => models.get(objectId, v) as ObjectModel)
    .filter((m) => compareObjectVersions(m.lwm2mVersion, lwm2mVersion) <= 0 && (lwm2mVersion !== '1.0' || m.version === '1.0'));
  const best = candidates.sort((a, b) => compareObjectVersions(b.version, a.version))[0];
  if (!best) throw new LwM2MError('BAD_MODEL', `no model of object ${objectId} for LwM2M ${lwm2mVersion}`);
  return best;
}

let shared: ModelRegistry | undefined;
/** One registry of the shipped models for every device built without its own (it is only read here). */
function sharedRegistry(): ModelRegistry {
  shared ??= loadBuiltinRegistry();
  return shared;
}

export interface DeviceTree {
  tree: ObjectTree;
  objects: ManagedObject[];
  /** Stops every generator/movement timer. */
  dispose(): void;
}

/** Builds a device's objects 0–7 (and extra ones) from the shipped OMA models and a configuration. */
export function createDeviceTree(config: DeviceConfig): DeviceTree {
  const version = config.lwm2mVersion ?? '1.1';
  const models = config.models ?? sharedRegistry();
  const clock = config.clock ?? systemClock;
  const m = (id: number): ObjectModel => modelFor(models, id, version);
  const tree = new ObjectTree();
  let objects: ManagedObject[] = [];
  const add = <T extends ManagedObject>(o: T): T => {
    tree.add(o);
    objects.push(o);
    return o;
  };
  const servers = config.servers ?? [];
  if (servers.length === 0 && !config.bootstrap) {
    throw new LwM2MError('BAD_REQUEST', 'a device needs a DM server or a bootstrap server');
  }
  const securities = servers.map((s, i) => securityInstance({
    id: i + (config.bootstrap ? 1 : 0),
    uri: s.uri,
    securityMode: s.pskKey !== undefined ? 'psk' : 'nosec',
    ...(s.pskIdentity !== undefined ? { pskIdentity: s.pskIdentity } : {}),
    ...(s.pskKey !== undefined ? { pskKey: s.pskKey } : {}),
    shortServerId: s.shortServerId ?? 101 + i,
  }));
  if (config.bootstrap) {
    const b = config.bootstrap;
    securities.unshift(securityInstance({
      id: 0, uri: b.uri, bootstrapServer: true,
      securityMode: b.pskKey !== undefined ? 'psk' : 'nosec',
      ...(b.pskIdentity !== undefined ? { pskIdentity: b.pskIdentity } : {}),
      ...(b.pskKey !== undefined ? { pskKey: b.pskKey } : {}),
      ...(b.clientHoldOffTime !== undefined ? { clientHoldOffTime: b.clientHoldOffTime } : {}),
    }));
  }
  add(createSecurityObject(m(0), { instances: securities }));
  add(createServerObject(m(1), {
    instances: servers.map((s, i) => {
      const { uri: _u, pskIdentity: _i, pskKey: _k, ...rest } = s;
      return serverInstance({ ...rest, id: i, shortServerId: s.shortServerId ?? 101 + i });
    }),
  }));
  add(createAclObject(m(2)));
  add(createDeviceObject(m(3), { clock, ...config.device }));
  if (config.connectivity !== false) add(createConnectivityObject(m(4), { clock, ...(config.connectivity ?? {}) }));
  if (config.firmware !== false) {
    const fw = config.firmware ?? {};
    // The update state machine sets Firmware Version /3/0/3 and reboots through /3/0/4 after an update.
    add(createFirmwareObject(m(5), {
      ...fw,
      update: { clock, deviceInstance: () => tree.object(3)?.instance(0), security: (uri) => downloadSecurity(tree, uri), ...fw.update },
    }));
  }
  if (config.location !== false && config.location) add(createLocationObject(m(6), { clock, ...config.location }));
  if (config.connectivityStats) add(createConnectivityStatsObject(m(7), { clock }));
  for (const extra of config.objects ?? []) {
    const { model, ...opts } = extra;
    add(createGenericObject(model, { clock, ...(config.seed !== undefined ? { seed: config.seed } : {}), ...opts }));
  }
  objects = objects.slice(); // exactly as long as needed: the list lives as long as the device
  const list = objects;
  return { tree, objects: list, dispose: () => { for (const o of list) o.dispose(); } };
}
