import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { DatagramSocket, RemoteInfo, SendCallback } from './datagram.js';

/**
 * A DatagramSocket in front of another one that can (a) drop every incoming datagram while "asleep"
 * (LwM2M queue mode: a sleeping device does not listen, LwM2M-TS-Transport 1.1 §6.5) and (b) swap the
 * socket underneath for a new one (a NAT rebinding: the next datagram leaves from a new source port)
 * without the CoAP endpoint above noticing.
 */
/** Faults injected on both directions (fleet `fault` step); `random` must be a seeded PRNG. */
export interface SocketFaults {
  /** Probability in [0, 1] that a datagram (either direction) is dropped. */
  readonly loss?: number;
  /** Extra delay of outgoing datagrams, ms. */
  readonly delayMs?: number;
  /** Probability in [0, 1] that an outgoing datagram is sent twice. */
  readonly duplicate?: number;
  readonly random: () => number;
  /** Timer for delays (default setTimeout). */
  readonly setTimeout?: (fn: () => void, ms: number) => void;
}

export class GatedSocket extends EventEmitter implements DatagramSocket {
  private inner: DatagramSocket;
  private asleep = false;
  private faults: SocketFaults | undefined;
  private closed = false;
  /** Datagrams dropped while asleep (tests, metrics). */
  dropped = 0;
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.asleep || (this.faults?.loss && this.faults.random() < this.faults.loss)) {
      this.dropped++;
      return;
    }
    this.emit('message', msg, rinfo);
  };
  private readonly onError = (err: Error): void => {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  };

  constructor(inner: DatagramSocket) {
    super();
    this.inner = inner;
    this.attach(inner);
  }

  get type(): 'udp4' | 'udp6' | undefined {
    return this.inner.type;
  }

  private attach(s: DatagramSocket): void {
    s.on('message', this.onMessage);
    s.on('error', this.onError);
  }

  setAsleep(asleep: boolean): void {
    this.asleep = asleep;
  }

  /** Injects (or with `undefined` clears) packet loss, delay and duplication. */
  setFaults(faults: SocketFaults | undefined): void {
    this.faults = faults;
  }

  isAsleep(): boolean {
    return this.asleep;
  }

  /** Replaces the socket underneath (the old one is closed). */
  async swap(next: DatagramSocket): Promise<void> {
    const old = this.inner;
    old.removeListener('message', this.onMessage);
    old.removeListener('error', this.onError);
    this.inner = next;
    this.attach(next);
    await new Promise<void>((resolve) => {
      try {
        old.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  send(msg: Buffer, offsetOrPort: number, lengthOrAddress: number | string, portOrCb?: number | SendCallback, address?: string, callback?: SendCallback): void {
    if (this.closed) return;
    // Normalise dgram's two call forms: (msg, offset, length, port, address, cb) and (msg, port, address, cb).
    const sixArgs = typeof lengthOrAddress === 'number';
    const data = sixArgs ? msg.subarray(offsetOrPort, offsetOrPort + (lengthOrAddress as number)) : msg;
    const port = sixArgs ? (portOrCb as number) : offsetOrPort;
    const host = sixArgs ? (address as string) : (lengthOrAddress as string);
    const cb = sixArgs ? callback : (portOrCb as SendCallback | undefined);
    const f = this.faults;
    if (!f) {
      this.inner.send(data, port, host, cb);
      return;
    }
    if (f.loss && f.random() < f.loss) {
      this.dropped++;
      cb?.(null, data.length);
      return;
    }
    const copies = f.duplicate && f.random() < f.duplicate ? 2 : 1;
    const go = (): void => {
      if (this.closed) return;
      this.inner.send(data, port, host, cb);
      if (copies === 2) this.inner.send(data, port, host);
    };
    if (f.delayMs && f.delayMs > 0) (f.setTimeout ?? ((fn, ms) => { setTimeout(fn, ms); }))(go, f.delayMs);
    else go();
  }

  address(): AddressInfo {
    return this.inner.address();
  }

  close(callback?: () => void): void {
    if (this.closed) {
      callback?.();
      return;
    }
    this.closed = true;
    this.inner.removeListener('message', this.onMessage);
    this.inner.close(() => {
      this.emit('close');
      callback?.();
    });
  }
}
