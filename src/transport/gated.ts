import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { DatagramSocket, RemoteInfo, SendCallback } from './datagram.js';

/**
 * A DatagramSocket in front of another one that can (a) drop every incoming datagram while "asleep"
 * (LwM2M queue mode: a sleeping device does not listen, LwM2M-TS-Transport 1.1 §6.5) and (b) swap the
 * socket underneath for a new one (a NAT rebinding: the next datagram leaves from a new source port)
 * without the CoAP endpoint above noticing.
 */
export class GatedSocket extends EventEmitter implements DatagramSocket {
  private inner: DatagramSocket;
  private asleep = false;
  private closed = false;
  /** Datagrams dropped while asleep (tests, metrics). */
  dropped = 0;
  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.asleep) {
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
    if (typeof lengthOrAddress === 'string') {
      this.inner.send(msg, offsetOrPort, lengthOrAddress, portOrCb as SendCallback | undefined);
    } else {
      this.inner.send(msg, offsetOrPort, lengthOrAddress, portOrCb as number, address as string, callback);
    }
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
