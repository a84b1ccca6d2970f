import type { SendCallback } from './datagram.js';

/** The arguments of `DatagramSocket.send`, whichever of its two (node:dgram) overloads was called. */
export interface SendArgs {
  /** The bytes to send: a view into the caller's buffer (not a copy). */
  data: Buffer;
  port: number;
  address: string;
  callback: SendCallback | undefined;
}

/**
 * Resolves `send(msg, offset, length, port, address, cb?)` and `send(msg, port, address, cb?)` into one
 * shape, as node:dgram does. Throws a TypeError for any other combination.
 */
export function sendArgs(msg: Buffer, a: number, b: number | string, c?: number | SendCallback, d?: string, e?: SendCallback): SendArgs {
  if (typeof b === 'number') {
    if (typeof c !== 'number' || typeof d !== 'string') throw new TypeError('send(msg, offset, length, port, address, cb?)');
    return { data: msg.subarray(a, a + b), port: c, address: d, callback: e };
  }
  return { data: msg, port: a, address: b, callback: typeof c === 'function' ? c : undefined };
}
