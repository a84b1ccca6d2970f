/**
 * The ThingsBoard profile adapter on the real reference server, with our client over the in-memory
 * network: strategy 1 after Register, named attributes and telemetry from reads and notifications.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { LwM2MClient } from '../../../../src/client/client.js';
import { CoapConnectionFactory } from '../../../../src/client/coap-connection.js';
import { createDeviceTree } from '../../../../src/client/device-factory.js';
import { parsePath } from '../../../../src/core/path.js';
import { LwM2MServer } from '../../../../src/server/lwm2m-server.js';
import { ThingsBoardProfileAdapter } from '../../../../src/server/profiles/thingsboard/adapter.js';
import { parseThingsBoardProfile } from '../../../../src/server/profiles/thingsboard/profile.js';
import { MemoryNetwork } from '../../../../src/transport/memory.js';

const fast = { ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 200 };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const PROFILE = parseThingsBoardProfile(JSON.stringify({
  observeAttr: {
    keyName: { '/3_1.2/0/0': 'manufacturer', '/3_1.2/0/2': 'serialNumber', '/3_1.2/0/14': 'utcOffset', '/1_1.1/0/1': 'lifetime', '/3303_1.1/0/5700': 'temperature' },
    observe: ['/3_1.2/0/14', '/3303_1.1/0/5700'],
    attribute: ['/3_1.2/0/0', '/3_1.2/0/2', '/1_1.1/0/1'],
    telemetry: ['/3_1.2/0/14', '/3303_1.1/0/5700'],
    attributeLwm2m: { '/3_1.2/0/14': { pmin: 0 } },
  },
  clientLwM2mSettings: { clientOnlyObserveAfterConnect: 1 },
})).profile;

describe('ThingsBoard profile on the reference server', () => {
  it('observes and reads after Register; values land by keyName, notifications append telemetry', async () => {
    const net = new MemoryNetwork({ seed: 3, loss: 0, delayMs: [0, 1] });
    const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5685 }), timing: fast });
    cleanups.push(() => server.close());
    const adapter = new ThingsBoardProfileAdapter(server, { profile: PROFILE });
    cleanups.push(() => adapter.detach());
    const dev = createDeviceTree({
      servers: [{ uri: 'coap://127.0.0.1:5685', lifetime: 300 }],
      device: { manufacturer: 'Open Mobile Alliance', serialNumber: 'LwNoSec00000000', firmwareVersion: '1.0', utcOffset: '+01:00' },
    });
    cleanups.push(() => dev.dispose());
    const client = new LwM2MClient({
      endpoint: 'LwNoSec00000000', tree: dev.tree,
      connections: new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: fast }),
    });
    cleanups.push(() => client.stop({ deregister: false }));

    const applied = once(adapter, 'applied');
    await client.start();
    const [report] = await applied;
    // Our client registers </1>;ver=1.1 and </3>;ver=1.2: the versions the profile names.
    const objects = server.registrations.getByEndpoint('LwNoSec00000000')?.objectLinks.objects ?? [];
    expect(objects.filter((o) => o.objectId === 1 || o.objectId === 3).map((o) => [o.objectId, o.version])).toEqual([[1, '1.1'], [3, '1.2']]);
    expect(report.outcomes.map((o: { kind: string; target: string }) => `${o.kind} ${o.target}`)).toEqual([
      'writeAttributes /3/0/14', 'observe /3/0/14', 'read /3/0/0', 'read /3/0/2', 'read /1/0/1',
    ]);
    expect(report.outcomes.filter((o: { ok: boolean }) => !o.ok)).toEqual([]);
    expect(report.skipped).toEqual([{ key: '/3303_1.1/0/5700', reason: 'object 3303 is not registered' }]);

    const latest = adapter.store.latest('LwNoSec00000000');
    expect(latest.attributes.manufacturer?.value).toBe('Open Mobile Alliance');
    expect(latest.attributes.serialNumber?.value).toBe('LwNoSec00000000');
    expect(latest.attributes.lifetime?.value).toBe(300);
    expect(latest.telemetry.utcOffset?.value).toBe('+01:00');

    const stored = once(adapter, 'values');
    client.tree.requireInstance(parsePath('/3/0')).set(14, '+05:00');
    await stored;
    expect(adapter.store.telemetry('LwNoSec00000000', 'utcOffset').map((p) => p.value)).toEqual(['+01:00', '+05:00']);
  });
});
