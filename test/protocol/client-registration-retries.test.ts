/**
 * Registration retries and the fall back to bootstrap (issue 4; LwM2M-TS-Core 1.1 §6.2.1.1 and the
 * Server object resources /1/x/16–20 of §E.2), over the in-memory network. The LwM2M timers run on a
 * ManualClock, so every attempt is checked at its exact time: the DM server answers each Register with
 * 5.03 at once (no CoAP timeout involved), and the test moves the clock to 1 ms before the next attempt
 * is due (nothing is sent), then to the due time (the Register goes out).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree, type ServerAccountConfig } from '../../src/client/device-factory.js';
import { CoapEndpoint, type CoapReply, type IncomingCoapRequest, type PeerAddress } from '../../src/coap/endpoint.js';
import { ManualClock } from '../../src/core/clock.js';
import { MemoryNetwork } from '../../src/transport/memory.js';

const fast = { ackTimeoutMs: 40, ackRandomFactor: 1.5, maxRetransmit: 4, maxLatencyMs: 200 };
const DM = 'coap://127.0.0.1:5683';
const BS = 'coap://127.0.0.1:5690';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Seen {
  readonly at: number;
  readonly query: readonly string[];
  readonly source: PeerAddress;
}

/** A scripted server on the memory network: records POSTs to `/<root>` with the manual time they arrived. */
function scriptedServer(net: MemoryNetwork, port: number, root: 'rd' | 'bs', clock: ManualClock) {
  const seen: Seen[] = [];
  const state = { code: root === 'rd' ? '5.03' : '2.04' };
  const endpoint = new CoapEndpoint({
    socket: net.createSocket({ address: '127.0.0.1', port }),
    timing: fast,
    handler: (req: IncomingCoapRequest): CoapReply => {
      if (req.method === 'POST' && req.pathSegments.length === 1 && req.pathSegments[0] === root) {
        seen.push({ at: clock.now(), query: req.query, source: req.source });
        return state.code === '2.01' ? { code: '2.01', locationPath: ['rd', '7'] } : { code: state.code as CoapReply['code'] };
      }
      if (req.method === 'POST') return { code: '2.04' };
      if (req.method === 'DELETE') return { code: '2.02' };
      return { code: '4.04' };
    },
  });
  cleanups.push(() => endpoint.close());
  return { seen, state, endpoint };
}

function setup(server: Omit<ServerAccountConfig, 'uri'>, withBootstrap = true) {
  const net = new MemoryNetwork({ seed: 5, loss: 0, delayMs: [0, 1] });
  cleanups.push(() => net.close());
  const clock = new ManualClock(1_000_000);
  const dm = scriptedServer(net, 5683, 'rd', clock);
  const bs = scriptedServer(net, 5690, 'bs', clock);
  const dev = createDeviceTree({
    servers: [{ uri: DM, shortServerId: 101, lifetime: 300, ...server }],
    ...(withBootstrap ? { bootstrap: { uri: BS } } : {}),
    device: { manufacturer: 'Open Mobile Alliance', serialNumber: 'retry-1' },
  });
  cleanups.push(() => dev.dispose());
  const client = new LwM2MClient({
    endpoint: 'dev1', tree: dev.tree, clock,
    connections: new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: '127.0.0.1' }), timing: fast }),
  });
  cleanups.push(() => client.stop({ deregister: false }));
  const failures: unknown[] = [];
  client.on('failed', (_ssid, e) => failures.push(e));
  return { clock, dm, bs, client, failures, t0: clock.now() };
}

/** Waits (bounded) until `n` requests were seen and the client has armed its next timer (or gave up). */
async function attempts(seen: readonly Seen[], n: number, clock: ManualClock, timers = 1): Promise<void> {
  await vi.waitFor(() => {
    expect(seen.length).toBe(n);
    expect(clock.pendingCount).toBe(timers);
  }, { timeout: 3000, interval: 2 });
}

/** Moves the clock to 1 ms before `at` (asserting nothing is sent), then to `at`. */
async function expectAttemptAt(seen: readonly Seen[], at: number, clock: ManualClock): Promise<void> {
  const before = seen.length;
  clock.advance(at - 1 - clock.now());
  expect(clock.pendingCount, `a timer is still armed 1 ms before ${at}`).toBe(1);
  expect(seen.length).toBe(before);
  clock.advance(1);
  await vi.waitFor(() => { expect(seen.length).toBe(before + 1); }, { timeout: 3000, interval: 2 });
  expect(seen[before]?.at).toBe(at);
}

describe('registration retries per Server /1/x/17–20 (LwM2M-TS-Core 1.1 §6.2.1.1)', () => {
  it('retries with exponential back-off inside a sequence, waits the Sequence Delay between sequences, then falls back to bootstrap (/1/x/16 true) and registers after Bootstrap-Finish', async () => {
    // Retry Count 3, Retry Timer 10 s, Sequence Delay 100 s, Sequence Retry Count 2.
    const { clock, dm, bs, client, failures, t0 } = setup({
      communicationRetryCount: 3, communicationRetryTimer: 10, communicationSequenceDelayTimer: 100, communicationSequenceRetryCount: 2,
      bootstrapOnRegistrationFailure: true,
    });
    const started = client.start();
    await attempts(dm.seen, 1, clock);
    expect(dm.seen[0]?.at).toBe(t0);
    expect(dm.seen[0]?.query).toContain('ep=dev1');
    // Sequence 1: attempt 2 after timer × 2^0, attempt 3 after timer × 2^1.
    await expectAttemptAt(dm.seen, t0 + 10_000, clock);
    await attempts(dm.seen, 2, clock);
    await expectAttemptAt(dm.seen, t0 + 30_000, clock);
    // Sequence 2 starts Sequence Delay after the last failed attempt, and backs off the same way.
    await attempts(dm.seen, 3, clock);
    await expectAttemptAt(dm.seen, t0 + 130_000, clock);
    await attempts(dm.seen, 4, clock);
    await expectAttemptAt(dm.seen, t0 + 140_000, clock);
    await attempts(dm.seen, 5, clock);
    await expectAttemptAt(dm.seen, t0 + 160_000, clock);
    // Every sequence failed: /1/x/16 true → Bootstrap-Request right away (no further Register).
    await vi.waitFor(() => { expect(bs.seen.length).toBe(1); }, { timeout: 3000, interval: 2 });
    expect(bs.seen[0]?.at).toBe(t0 + 160_000);
    expect(bs.seen[0]?.query).toContain('ep=dev1');
    expect(dm.seen).toHaveLength(6);
    expect(failures).toHaveLength(1);
    // The Bootstrap-Server finishes (the factory accounts stay); the client registers again, now accepted.
    dm.state.code = '2.01';
    const source = bs.seen[0]?.source as PeerAddress;
    const finish = await bs.endpoint.request({ host: source.address, port: source.port, method: 'POST', pathSegments: ['bs'] });
    expect(finish.code).toBe('2.04');
    await vi.waitFor(() => { expect(client.session(101)?.state).toBe('registered'); }, { timeout: 3000, interval: 2 });
    expect(dm.seen).toHaveLength(7);
    expect(dm.seen[6]?.at).toBe(t0 + 160_000);
    await started;
  });

  it('/1/x/16 false: after the last sequence the account is failed and no bootstrap is attempted', async () => {
    const { clock, dm, bs, client, failures, t0 } = setup({
      communicationRetryCount: 2, communicationRetryTimer: 5, communicationSequenceRetryCount: 1, bootstrapOnRegistrationFailure: false,
    });
    const started = client.start();
    await attempts(dm.seen, 1, clock);
    await expectAttemptAt(dm.seen, t0 + 5_000, clock);
    await started;
    expect(client.session(101)?.state).toBe('failed');
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain('5.03');
    // Nothing else happens, however long we wait.
    clock.advance(86_400_000);
    await new Promise<void>((r) => setImmediate(r));
    expect(dm.seen).toHaveLength(2);
    expect(bs.seen).toHaveLength(0);
  });

  it('defaults (§E.2): 5 attempts 60 s × 2^(n−1) apart in one sequence; without a Bootstrap-Server account the account stays failed', async () => {
    const { clock, dm, client, failures, t0 } = setup({}, false);
    const started = client.start();
    await attempts(dm.seen, 1, clock);
    let at = t0;
    for (let n = 2; n <= 5; n++) {
      at += 60_000 * 2 ** (n - 2);
      await expectAttemptAt(dm.seen, at, clock);
      if (n < 5) await attempts(dm.seen, n, clock);
    }
    await started;
    expect(dm.seen.map((s) => s.at - t0)).toEqual([0, 60_000, 180_000, 420_000, 900_000]);
    expect(client.session(101)?.state).toBe('failed');
    expect(failures).toHaveLength(1);
  });
});
