import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { loadBuiltinRegistry } from '../../src/model/builtin.js';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { ShardRunner } from '../../simulators/engine/shard.js';
import { MetricsRegistry } from '../../simulators/metrics/registry.js';
import { parseScenario } from '../../simulators/scenario/load.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const scenarioText = `
name: phases-on-a-manual-clock
target: { server: "coap://127.0.0.1:5683" }
devices: { count: 12, endpoint: "ph-{index:03}" }
phases:
  - { duration: 4s, arrivalRate: 1 }
  - { duration: 2s, pause: true }
  - { duration: 4s, arrivalRate: 2 }
flows:
  - { name: register, weight: 1, steps: [register] }
`;

describe('fleet shard: arrivals follow the phases on the injected clock', () => {
  it('brings devices online exactly when the phases say, and they register', async () => {
    const scenario = await parseScenario(scenarioText, 'phases.yaml');
    const net = new MemoryNetwork({ seed: 3 });
    const server = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }) });
    cleanups.push(() => server.close());
    const clock = new ManualClock(0);
    const metrics = new MetricsRegistry({ now: () => clock.now() });
    const runner = new ShardRunner({
      scenario, shardIndex: 0, shardCount: 1, serverUri: 'coap://127.0.0.1:5683', clock, log: silentLogger,
      models: loadBuiltinRegistry(), metrics, createSocket: async () => net.createSocket({ address: '127.0.0.1' }),
    });
    cleanups.push(() => runner.stop());
    expect(runner.planned).toBe(12); // 4 s × 1/s + 4 s × 2/s
    void runner.run();
    clock.advance(0);
    expect(runner.activeDevices).toBe(1); // t = 0
    clock.advance(2999);
    expect(runner.activeDevices).toBe(3); // t = 0, 1, 2 s
    clock.advance(1);
    expect(runner.activeDevices).toBe(4);
    clock.advance(2999); // the pause: nobody new until t = 6 s
    expect(runner.activeDevices).toBe(4);
    clock.advance(1);
    expect(runner.activeDevices).toBe(5); // t = 6 s, then every 0.5 s
    clock.advance(3500);
    expect(runner.activeDevices).toBe(12);
    await vi.waitFor(() => expect(server.registrations.getByEndpoint('ph-011')).toBeDefined(), { timeout: 10_000, interval: 20 });
    expect(metrics.counter('devices.started')).toBe(12);
  });
});
