import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { isTransportError, type RemoteInfo } from '../../src/transport/datagram.js';
import { MemoryNetwork, type MemorySocket } from '../../src/transport/memory.js';

interface Received {
  data: string;
  rinfo: RemoteInfo;
  at: number;
}

function collect(socket: MemorySocket, clock: { now(): number }): Received[] {
  const got: Received[] = [];
  socket.on('message', (msg, rinfo) => got.push({ data: msg.toString(), rinfo, at: clock.now() }));
  return got;
}

/** Sends `n` numbered datagrams a → b and returns what b received after `advanceMs`. */
function run(opts: ConstructorParameters<typeof MemoryNetwork>[0], n: number, advanceMs: number): { got: string[]; net: MemoryNetwork } {
  const clock = new ManualClock();
  const net = new MemoryNetwork({ clock, ...opts });
  const a = net.createSocket();
  const b = net.createSocket();
  const got = collect(b, clock);
  for (let i = 0; i < n; i++) a.send(Buffer.from(String(i)), b.localPort, '127.0.0.1');
  clock.advance(advanceMs);
  return { got: got.map((g) => g.data), net };
}

describe('MemoryNetwork', () => {
  it('binds sockets on 127.0.0.1 with distinct auto-assigned ports, and IPv6 addresses', () => {
    const net = new MemoryNetwork({ clock: new ManualClock() });
    const a = net.createSocket();
    const b = net.createSocket();
    const c = net.createSocket('::1');
    expect(a.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: a.localPort });
    expect(a.localPort).toBeGreaterThanOrEqual(49152);
    expect(b.localPort).not.toBe(a.localPort);
    expect(c.address().family).toBe('IPv6');
    expect(c.type).toBe('udp6');
    expect(net.isBound('127.0.0.1', a.localPort)).toBe(true);
  });

  it('delivers only when the ManualClock reaches the delay, with the sender as rinfo', () => {
    const clock = new ManualClock(1000);
    const net = new MemoryNetwork({ clock, delayMs: 25 });
    const a = net.createSocket();
    const b = net.createSocket({ address: '127.0.0.1', port: 5683 });
    const got = collect(b, clock);
    a.send(Buffer.from('hello'), 5683, '127.0.0.1');
    expect(net.inFlight).toBe(1);
    clock.advance(24);
    expect(got).toHaveLength(0);
    clock.advance(1);
    expect(got).toEqual([{ data: 'hello', rinfo: { address: '127.0.0.1', family: 'IPv4', port: a.localPort, size: 5 }, at: 1025 }]);
    expect(net.inFlight).toBe(0);
    expect(net.stats).toMatchObject({ sent: 1, delivered: 1, dropped: 0 });
  });

  it('supports the 6-argument send form node-coap uses and copies the bytes', () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock });
    const a = net.createSocket();
    const b = net.createSocket();
    const got = collect(b, clock);
    const buf = Buffer.from('xxabcxx');
    a.send(buf, 2, 3, b.localPort, '127.0.0.1');
    buf.fill(0); // the network must have taken a copy
    clock.advance(0);
    expect(got.map((g) => g.data)).toEqual(['abc']);
  });

  it('calls the send callback asynchronously with the byte count', async () => {
    const net = new MemoryNetwork({ clock: new ManualClock() });
    const a = net.createSocket();
    let sync = true;
    const bytes = await new Promise<number>((resolve, reject) => {
      a.send(Buffer.from('abcd'), 9, '127.0.0.1', (err, n) => (err ? reject(err) : resolve(sync ? -1 : n)));
      sync = false;
    });
    expect(bytes).toBe(4);
  });

  it('loses a seeded, reproducible fraction of datagrams', () => {
    const first = run({ seed: 42, loss: 0.3 }, 2000, 0);
    const second = run({ seed: 42, loss: 0.3 }, 2000, 0);
    const other = run({ seed: 7, loss: 0.3 }, 2000, 0);
    const lost = 2000 - first.got.length;
    expect(lost).toBeGreaterThan(500);
    expect(lost).toBeLessThan(700);
    expect(first.net.stats).toMatchObject({ sent: 2000, lost, dropped: lost, delivered: 2000 - lost });
    expect(second.got).toEqual(first.got);
    expect(other.got).not.toEqual(first.got);
  });

  it('duplicates datagrams', () => {
    const { got, net } = run({ duplicate: 1 }, 10, 0);
    expect(got).toHaveLength(20);
    expect(net.stats).toMatchObject({ sent: 10, duplicated: 10, delivered: 20 });
  });

  it('keeps FIFO order per link with random delays unless reordering is on', () => {
    const fifo = run({ seed: 3, delayMs: [0, 50] }, 200, 100);
    expect(fifo.got).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    const reordered = run({ seed: 3, delayMs: [0, 50], reorder: true }, 200, 100);
    expect(reordered.got).toHaveLength(200);
    expect(reordered.got).not.toEqual(fifo.got);
    expect([...reordered.got].sort((x, y) => Number(x) - Number(y))).toEqual(fifo.got);
  });

  it('silently drops datagrams to an unbound port and counts them', () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock });
    const a = net.createSocket();
    const errors: Error[] = [];
    a.on('error', (e) => errors.push(e));
    a.send(Buffer.from('x'), 40000, '127.0.0.1');
    clock.advance(0);
    expect(net.stats).toMatchObject({ sent: 1, delivered: 0, unroutable: 1, dropped: 1 });
    expect(errors).toEqual([]);
  });

  it('frees the port on close and drops what was in flight to it', async () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock, delayMs: 10 });
    const a = net.createSocket();
    const b = net.createSocket({ port: 6000 });
    const got = collect(b, clock);
    a.send(Buffer.from('late'), 6000, '127.0.0.1');
    const closed = new Promise<void>((resolve) => b.close(resolve));
    expect(net.isBound('127.0.0.1', 6000)).toBe(false);
    const again = net.createSocket({ port: 6000 });
    const got2 = collect(again, clock);
    clock.advance(10);
    await closed;
    // The datagram was addressed to the port, so the new socket gets it (like UDP); the closed one not.
    expect(got).toEqual([]);
    expect(got2.map((g) => g.data)).toEqual(['late']);
    expect(() => b.send(Buffer.from('x'), 6000, '127.0.0.1')).toThrow(/closed/);
    expect(() => b.close()).toThrow(/closed/);
  });

  it('rejects an explicit port already in use with TRANSPORT_ADDRESS_IN_USE', () => {
    const net = new MemoryNetwork({ clock: new ManualClock() });
    net.createSocket({ port: 5683 });
    let error: unknown;
    try {
      net.createSocket({ port: 5683 });
    } catch (e) {
      error = e;
    }
    expect(isTransportError(error) && error.code).toBe('TRANSPORT_ADDRESS_IN_USE');
    // Another address may use the same port.
    expect(net.createSocket({ address: '10.0.0.2', port: 5683 }).localPort).toBe(5683);
  });

  it('changes conditions at run time and per link', () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock });
    const a = net.createSocket();
    const b = net.createSocket();
    const c = net.createSocket();
    const atB = collect(b, clock);
    const atC = collect(c, clock);
    net.setLinkConditions('127.0.0.1', { address: '127.0.0.1', port: c.localPort }, { loss: 1 });
    a.send(Buffer.from('1'), b.localPort, '127.0.0.1');
    a.send(Buffer.from('1'), c.localPort, '127.0.0.1');
    clock.advance(0);
    expect(atB).toHaveLength(1);
    expect(atC).toHaveLength(0);
    net.setConditions({ delayMs: 100 });
    net.setLinkConditions('127.0.0.1', { address: '127.0.0.1', port: c.localPort }, null);
    a.send(Buffer.from('2'), c.localPort, '127.0.0.1');
    clock.advance(99);
    expect(atC).toHaveLength(0);
    clock.advance(1);
    expect(atC.map((g) => g.data)).toEqual(['2']);
    expect(() => net.setConditions({ loss: 1.5 })).toThrow(RangeError);
    expect(() => net.setConditions({ delayMs: [5, 1] })).toThrow(RangeError);
  });

  it('bounds the queues: network-wide and per receiver buffer', () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock, delayMs: 10, maxInFlight: 5 });
    const a = net.createSocket();
    const b = net.createSocket();
    for (let i = 0; i < 8; i++) a.send(Buffer.from('x'), b.localPort, '127.0.0.1');
    expect(net.inFlight).toBe(5);
    expect(net.stats.overflowed).toBe(3);
    clock.advance(10);

    const net2 = new MemoryNetwork({ clock, delayMs: 10 });
    const c = net2.createSocket();
    const d = net2.createSocket();
    d.setRecvBufferSize(250);
    for (let i = 0; i < 5; i++) c.send(Buffer.alloc(100), d.localPort, '127.0.0.1');
    expect(net2.stats).toMatchObject({ sent: 5, overflowed: 3 });
  });

  it('reports idle: at once when nothing is in flight, else after the last delivery', async () => {
    const net = new MemoryNetwork({ clock: systemClock, delayMs: [1, 5], reorder: true });
    await net.idle();
    const a = net.createSocket();
    const b = net.createSocket();
    let echoes = 0;
    b.on('message', (msg, rinfo) => b.send(msg, rinfo.port, rinfo.address));
    a.on('message', () => echoes++);
    for (let i = 0; i < 20; i++) a.send(Buffer.from([i]), b.localPort, '127.0.0.1');
    await net.idle(5000);
    // The echoes were sent during delivery, so idle() waited for them too.
    expect(echoes).toBe(20);
    expect(net.inFlight).toBe(0);
    net.close();
  });

  it('idle() with a timeout rejects if the network never drains (ManualClock not advanced)', async () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock, delayMs: 100 });
    const a = net.createSocket();
    a.send(Buffer.from('x'), a.localPort, '127.0.0.1');
    const idle = net.idle(50);
    clock.advance(50);
    await expect(idle).rejects.toThrow(/not idle/);
  });

  it('taps every datagram with its fate', () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock, loss: 1 });
    const a = net.createSocket();
    const kinds: string[] = [];
    const off = net.tap((e) => kinds.push(e.kind === 'dropped' ? `dropped:${e.reason}` : e.kind));
    a.send(Buffer.from('x'), a.localPort, '127.0.0.1');
    net.setConditions({ loss: 0 });
    a.send(Buffer.from('y'), a.localPort, '127.0.0.1');
    clock.advance(0);
    off();
    a.send(Buffer.from('z'), a.localPort, '127.0.0.1');
    expect(kinds).toEqual(['sent', 'dropped:lost', 'sent', 'delivered']);
  });

  it('close() cancels everything in flight and closes sockets', () => {
    const clock = new ManualClock();
    const net = new MemoryNetwork({ clock, delayMs: 5 });
    const a = net.createSocket();
    const got = collect(a, clock);
    a.send(Buffer.from('x'), a.localPort, '127.0.0.1');
    net.close();
    clock.advance(10);
    expect(got).toEqual([]);
    expect(a.closed).toBe(true);
    expect(clock.pendingCount).toBe(0);
  });
});
