import { ManualClock } from '../../src/core/clock.js';
import { INTERNAL_CONTEXT } from '../../src/client/context.js';
import { ObjectInstance } from '../../src/client/instance.js';
import { LwM2MObject } from '../../src/client/object.js';
import { ObjectTree } from '../../src/client/object-tree.js';
import { Observations } from '../../src/client/observations.js';
import { AccessControl } from '../../src/client/access.js';
import { AttributeStore } from '../../src/client/attributes.js';
import type { DeviceEnv } from '../../src/client/operations/env.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';

const utf8 = new TextEncoder();

/** A device tree built from the shipped OMA models (Device 1.0 so TLV vectors match), no network. */
export function testDevice(opts: { servers?: number[] } = {}) {
  const registry = loadBuiltinRegistry();
  const models = registry.lookup({ 3: '1.0' });
  const tree = new ObjectTree();
  const model = (id: number) => {
    const m = models.getObject(id);
    if (!m) throw new Error(`no model ${id}`);
    return m;
  };
  const security = tree.add(new LwM2MObject(model(0)));
  const server = tree.add(new LwM2MObject(model(1)));
  tree.add(new LwM2MObject(model(2)));
  const device = tree.add(new LwM2MObject(model(3)));
  const temp = tree.add(new LwM2MObject(model(3303)));
  const servers = opts.servers ?? [101];
  servers.forEach((ssid, i) => {
    security.add(new ObjectInstance(model(0), i, [[0, `coap://127.0.0.1:${5683 + i}`], [1, false], [2, 3], [3, new Uint8Array()], [4, new Uint8Array()], [5, new Uint8Array()], [10, ssid]]));
    server.add(new ObjectInstance(model(1), i, [[0, ssid], [1, 300], [6, true], [7, 'U']]));
  });
  const executed: string[] = [];
  const dev = new ObjectInstance(model(3), 0, [
    [0, 'Open Mobile Alliance'], [1, 'Lightweight M2M Client'], [2, '345000123'], [3, '1.0'],
    [6, new Map([[0, 1], [1, 5]])], [7, new Map([[0, 3800], [1, 5000]])], [8, new Map([[0, 125], [1, 900]])],
    [9, 100], [10, 15], [11, new Map([[0, 0]])], [13, new Date(1367491215000)], [14, '+02:00'], [16, 'U'],
  ]);
  dev.behave(4, { execute: (args) => { executed.push(`reboot(${args})`); } });
  device.add(dev);
  temp.add(new ObjectInstance(model(3303), 0, [[5700, 21.5], [5701, 'Cel']]));
  const stores = new Map<number, AttributeStore>();
  const env: DeviceEnv = {
    tree,
    access: new AccessControl(tree),
    attributesFor: (ssid) => {
      let s = stores.get(ssid);
      if (!s) stores.set(ssid, (s = new AttributeStore()));
      return s;
    },
  };
  const clock = new ManualClock(1_700_000_000_000);
  const observations = new Observations(clock);
  tree.on('change', (p) => observations.changed(p));
  return { tree, env, clock, observations, executed, registry, models, text: (s: string) => utf8.encode(s), internal: INTERNAL_CONTEXT };
}
