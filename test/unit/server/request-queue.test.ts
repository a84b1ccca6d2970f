import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/core/clock.js';
import {
  RequestQueue,
  RequestQueueError,
  isRequestQueueError,
  type RequestQueueOptions,
} from '../../../src/server/queue/request-queue.js';

/** Lets pending promise callbacks run (no timers, no sleeping). */
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A fake transport: records what was sent; each send waits until the test answers it. */
class FakeClient {
  sent: string[] = [];
  private waiting: Array<Deferred<string>> = [];

  readonly send = (req: string): Promise<string> => {
    this.sent.push(req);
    const d = deferred<string>();
    this.waiting.push(d);
    return d.promise;
  };

  get inFlight(): number {
    return this.waiting.length;
  }

  answer(): void {
    const d = this.waiting.shift();
    if (!d) throw new Error('nothing in flight');
    d.resolve(`2.05 ${this.sent[this.sent.length - this.waiting.length - 1] ?? ''}`);
  }

  fail(error: unknown): void {
    const d = this.waiting.shift();
    if (!d) throw new Error('nothing in flight');
    d.reject(error);
  }
}

function setup(options: Partial<RequestQueueOptions> = {}): { clock: ManualClock; queue: RequestQueue<string, string>; client: FakeClient } {
  const clock = new ManualClock(0);
  return { clock, queue: new RequestQueue<string, string>({ clock, ...options }), client: new FakeClient() };
}

/** Tracks a promise's outcome without awaiting it. */
function track<T>(p: Promise<T>): { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } {
  const t: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
  p.then(
    (v) => {
      t.state = 'fulfilled';
      t.value = v;
    },
    (e: unknown) => {
      t.state = 'rejected';
      t.error = e;
    },
  );
  return t;
}

function queueError(e: unknown): RequestQueueError {
  if (!isRequestQueueError(e)) throw new Error(`expected a RequestQueueError, got ${String(e)}`);
  return e;
}

describe('RequestQueue: buffering and draining', () => {
  it('requests for a sleeping client wait; drain sends them in order, one at a time (NSTART = 1)', async () => {
    const { queue, client } = setup();
    const a = track(queue.enqueue('dev', 'read /3/0'));
    const b = track(queue.enqueue('dev', 'write /1/0/1'));
    expect(queue.pendingCount('dev')).toBe(2);
    expect(client.sent).toEqual([]);

    expect(queue.drain('dev', client.send)).toBe(2);
    expect(client.sent).toEqual(['read /3/0']);
    expect(client.inFlight).toBe(1);
    client.answer();
    await flush();
    expect(a).toMatchObject({ state: 'fulfilled', value: '2.05 read /3/0' });
    expect(client.sent).toEqual(['read /3/0', 'write /1/0/1']);
    client.answer();
    await flush();
    expect(b).toMatchObject({ state: 'fulfilled', value: '2.05 write /1/0/1' });
    expect(queue.pendingCount('dev')).toBe(0);
  });

  it('a request for an awake, idle client is sent at once; while busy it queues behind', async () => {
    const { queue, client } = setup();
    queue.drain('dev', client.send);
    const a = track(queue.enqueue('dev', 'a'));
    expect(client.sent).toEqual(['a']); // synchronously
    const b = track(queue.enqueue('dev', 'b'));
    expect(client.sent).toEqual(['a']);
    expect(queue.pendingCount('dev')).toBe(1);
    client.answer();
    await flush();
    expect(client.sent).toEqual(['a', 'b']);
    client.answer();
    await flush();
    expect([a.state, b.state]).toEqual(['fulfilled', 'fulfilled']);
  });

  it('endpoints are independent', async () => {
    const { queue, client } = setup();
    const other = new FakeClient();
    track(queue.enqueue('a', 'to a'));
    track(queue.enqueue('b', 'to b'));
    queue.drain('b', other.send);
    expect(other.sent).toEqual(['to b']);
    expect(client.sent).toEqual([]);
    expect(queue.pendingCount('a')).toBe(1);
    expect(queue.stats()).toEqual({ endpoints: 2, pending: 1 });
  });
});

describe('RequestQueue: awake window', () => {
  it('default awake time is 93 s (MAX_TRANSMIT_WAIT) after the wake-up', () => {
    const { clock, queue, client } = setup();
    expect(queue.isAwake('dev')).toBe(false);
    queue.drain('dev', client.send);
    clock.advance(92_999);
    expect(queue.isAwake('dev')).toBe(true);
    clock.advance(1);
    expect(queue.isAwake('dev')).toBe(false);
    track(queue.enqueue('dev', 'late'));
    expect(client.sent).toEqual([]);
    expect(queue.pendingCount('dev')).toBe(1);
  });

  it('awake time from the registration (at) or the queue default', () => {
    const { clock, queue, client } = setup({ defaultAwakeTimeMs: 5000 });
    queue.drain('a', client.send);
    queue.drain('b', client.send, { awakeTimeMs: 20_000 });
    clock.advance(5000);
    expect(queue.isAwake('a')).toBe(false);
    expect(queue.isAwake('b')).toBe(true);
    // the last given awake time sticks for later wake-ups
    queue.drain('b', client.send);
    clock.advance(19_999);
    expect(queue.isAwake('b')).toBe(true);
  });

  it('touch (other traffic) extends the window; sleep ends it', async () => {
    const { clock, queue, client } = setup({ defaultAwakeTimeMs: 1000 });
    queue.touch('unknown'); // no state for clients never drained
    expect(queue.stats().endpoints).toBe(0);
    queue.drain('dev', client.send);
    clock.advance(800);
    queue.touch('dev');
    clock.advance(800);
    expect(queue.isAwake('dev')).toBe(true);
    queue.sleep('dev');
    expect(queue.isAwake('dev')).toBe(false);
    const t = track(queue.enqueue('dev', 'x'));
    expect(client.sent).toEqual([]);
    queue.touch('dev'); // a Notify arrives: it is awake again and the request goes
    expect(client.sent).toEqual(['x']);
    client.answer();
    await flush();
    expect(t.state).toBe('fulfilled');
  });

  it('a response from the client renews the window', async () => {
    const { clock, queue, client } = setup({ defaultAwakeTimeMs: 1000 });
    track(queue.enqueue('dev', 'a'));
    track(queue.enqueue('dev', 'b'));
    queue.drain('dev', client.send);
    clock.advance(900);
    client.answer();
    await flush();
    expect(client.sent).toEqual(['a', 'b']);
    clock.advance(900); // 1800 ms after drain, 900 after the response
    expect(queue.isAwake('dev')).toBe(true);
  });

  it('a late response still renews the window; a failed send ends it and the rest waits for the next wake-up', async () => {
    const { clock, queue, client } = setup({ defaultAwakeTimeMs: 1000 });
    track(queue.enqueue('dev', 'a'));
    track(queue.enqueue('dev', 'b'));
    queue.drain('dev', client.send);
    clock.advance(5000); // the window (1 s) has passed, but a response proves the client is awake
    client.answer();
    await flush();
    expect(client.sent).toEqual(['a', 'b']);
    // c queues behind b; b then times out: the client counts as asleep, b goes back to the head, c waits
    track(queue.enqueue('dev', 'c'));
    client.fail(new Error('timeout'));
    await flush();
    expect(client.sent).toEqual(['a', 'b']);
    expect(queue.isAwake('dev')).toBe(false);
    expect(queue.pendingCount('dev')).toBe(2);
    queue.drain('dev', client.send);
    expect(client.sent).toEqual(['a', 'b', 'b']);
  });
});

describe('RequestQueue: failures are typed', () => {
  it('the request in flight counts against the bound (it may come back)', async () => {
    const { queue, client } = setup({ maxPending: 2 });
    queue.drain('dev', client.send);
    track(queue.enqueue('dev', 'a')); // in flight
    track(queue.enqueue('dev', 'b'));
    const c = track(queue.enqueue('dev', 'c'));
    await flush();
    expect(queueError(c.error).code).toBe('LWM2M_QUEUE_FULL');
    client.fail(new Error('timeout')); // a returns to the queue: 2 pending, never 3
    await flush();
    expect(queue.pendingCount('dev')).toBe(2);
  });

  it('full: the request beyond maxPending is refused with LWM2M_QUEUE_FULL (5.03)', async () => {
    const { queue } = setup({ maxPending: 2 });
    track(queue.enqueue('dev', 'a'));
    track(queue.enqueue('dev', 'b'));
    const err = await queue.enqueue('dev', 'c').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(queueError(err)).toMatchObject({ code: 'LWM2M_QUEUE_FULL', coapCode: '5.03', endpoint: 'dev' });
    expect(queueError(err).message).toContain('full (2 pending requests)');
    expect(queue.pendingCount('dev')).toBe(2);
  });

  it('default bound is 32', async () => {
    const { queue } = setup();
    for (let i = 0; i < 32; i++) track(queue.enqueue('dev', `r${i}`));
    const t = track(queue.enqueue('dev', 'one too many'));
    await flush();
    expect(queueError(t.error).code).toBe('LWM2M_QUEUE_FULL');
  });

  it('expired: rejected with LWM2M_QUEUE_EXPIRED (5.04) exactly at its ttl, not before', async () => {
    const { clock, queue, client } = setup({ ttlMs: 1000 });
    const a = track(queue.enqueue('dev', 'a'));
    clock.advance(500);
    const b = track(queue.enqueue('dev', 'b', { ttlMs: 5000 }));
    clock.advance(499);
    await flush();
    expect(a.state).toBe('pending');
    clock.advance(1);
    await flush();
    expect(a.state).toBe('rejected');
    expect(queueError(a.error)).toMatchObject({ code: 'LWM2M_QUEUE_EXPIRED', coapCode: '5.04' });
    expect(queue.pendingCount('dev')).toBe(1);
    clock.advance(4499);
    await flush();
    expect(b.state).toBe('pending');
    queue.drain('dev', client.send);
    expect(client.sent).toEqual(['b']); // a expired request is never sent
    client.answer();
    await flush();
    expect(b.state).toBe('fulfilled');
    clock.advance(10_000);
    expect(clock.pendingCount).toBe(0);
  });

  it('a request sent before its expiry is not expired while in flight', async () => {
    const { clock, queue, client } = setup({ ttlMs: 1000 });
    const a = track(queue.enqueue('dev', 'a'));
    queue.drain('dev', client.send);
    clock.advance(5000);
    await flush();
    expect(a.state).toBe('pending');
    client.answer();
    await flush();
    expect(a.state).toBe('fulfilled');
  });

  it('a send that fails because the client is offline is retried on the next wake-ups, then rejects with the send error', async () => {
    const { queue, client } = setup();
    const a = track(queue.enqueue('dev', 'a'));
    const b = track(queue.enqueue('dev', 'b'));
    const timeout = new Error('timeout');
    for (let attempt = 1; attempt <= 3; attempt++) {
      queue.drain('dev', client.send);
      expect(client.sent.filter((x) => x === 'a')).toHaveLength(attempt);
      client.fail(timeout);
      await flush();
      expect(queue.isAwake('dev')).toBe(false);
    }
    expect(a).toMatchObject({ state: 'rejected', error: timeout }); // the transport error, not a queue error
    expect(b.state).toBe('pending');
    queue.drain('dev', client.send);
    expect(client.sent.at(-1)).toBe('b');
  });

  it('a request that expired or was aborted while in flight is not put back', async () => {
    const { clock, queue, client } = setup({ ttlMs: 1000 });
    const ac = new AbortController();
    const a = track(queue.enqueue('dev', 'a'));
    const b = track(queue.enqueue('dev', 'b', { signal: ac.signal, ttlMs: 60_000 }));
    queue.drain('dev', client.send);
    clock.advance(2000);
    client.fail(new Error('timeout'));
    await flush();
    expect(a.state).toBe('rejected');
    queue.drain('dev', client.send);
    ac.abort();
    client.fail(new Error('timeout'));
    await flush();
    expect(b.state).toBe('rejected');
    expect(queue.pendingCount('dev')).toBe(0);
  });

  it('an error that is not "offline" rejects the request and the drain goes on', async () => {
    const { queue, client } = setup({ isOffline: (e) => e instanceof Error && e.message === 'timeout' });
    queue.drain('dev', client.send);
    const a = track(queue.enqueue('dev', 'a'));
    const b = track(queue.enqueue('dev', 'b'));
    const boom = new Error('encoder bug');
    client.fail(boom);
    await flush();
    expect(a).toMatchObject({ state: 'rejected', error: boom });
    expect(client.sent).toEqual(['a', 'b']);
    expect(queue.isAwake('dev')).toBe(true);
    client.answer();
    await flush();
    expect(b.state).toBe('fulfilled');
  });

  it('a send that throws synchronously counts as a failed send', async () => {
    const { queue } = setup({ maxAttempts: 1 });
    let n = 0;
    const send = (req: string): Promise<string> => {
      if (n++ === 0) throw new Error('socket closed');
      return Promise.resolve(`ok ${req}`);
    };
    const a = track(queue.enqueue('dev', 'a'));
    const b = track(queue.enqueue('dev', 'b'));
    queue.drain('dev', send);
    await flush();
    expect(a).toMatchObject({ state: 'rejected', error: new Error('socket closed') });
    // the failure put the client to sleep; b waits for the next wake-up
    expect(b.state).toBe('pending');
    queue.drain('dev', send);
    await flush();
    expect(b).toMatchObject({ state: 'fulfilled', value: 'ok b' });
  });

  it('clear: pending requests reject with LWM2M_QUEUE_CLEARED; the endpoint is forgotten', async () => {
    const { clock, queue, client } = setup();
    queue.drain('dev', client.send);
    const inFlight = track(queue.enqueue('dev', 'a'));
    const waiting = track(queue.enqueue('dev', 'b'));
    expect(queue.clear('dev', 'de-registered')).toBe(1);
    await flush();
    expect(queueError(waiting.error)).toMatchObject({ code: 'LWM2M_QUEUE_CLEARED', coapCode: '4.04' });
    expect(queueError(waiting.error).message).toContain('de-registered');
    client.answer(); // the one in flight still gets its response
    await flush();
    expect(inFlight.state).toBe('fulfilled');
    expect(client.sent).toEqual(['a']);
    expect(queue.stats()).toEqual({ endpoints: 0, pending: 0 });
    expect(queue.clear('dev')).toBe(0);
    expect(clock.pendingCount).toBe(0);
  });

  it('close clears every endpoint', async () => {
    const { queue } = setup();
    const a = track(queue.enqueue('a', 'x'));
    const b = track(queue.enqueue('b', 'y'));
    queue.close();
    await flush();
    expect([queueError(a.error).code, queueError(b.error).code]).toEqual(['LWM2M_QUEUE_CLEARED', 'LWM2M_QUEUE_CLEARED']);
  });

  it('abort: a queued request leaves the queue with LWM2M_QUEUE_ABORTED; an already aborted signal is refused', async () => {
    const { queue, client } = setup();
    const ac = new AbortController();
    const a = track(queue.enqueue('dev', 'a', { signal: ac.signal }));
    const b = track(queue.enqueue('dev', 'b'));
    ac.abort();
    await flush();
    expect(queueError(a.error).code).toBe('LWM2M_QUEUE_ABORTED');
    expect(queue.pendingCount('dev')).toBe(1);
    const pre = track(queue.enqueue('dev', 'c', { signal: ac.signal }));
    await flush();
    expect(queueError(pre.error).code).toBe('LWM2M_QUEUE_ABORTED');
    queue.drain('dev', client.send);
    expect(client.sent).toEqual(['b']);
    client.answer();
    await flush();
    expect(b.state).toBe('fulfilled');
  });

  it('aborting after the request was sent does not cancel it', async () => {
    const { queue, client } = setup();
    const ac = new AbortController();
    queue.drain('dev', client.send);
    const a = track(queue.enqueue('dev', 'a', { signal: ac.signal }));
    ac.abort();
    client.answer();
    await flush();
    expect(a.state).toBe('fulfilled');
  });
});
