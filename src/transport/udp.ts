/**
 * Real UDP sockets (node:dgram) behind the DatagramSocket contract.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { silentLogger } from '../core/logger.js';
import { TransportError, familyOf, type DatagramSocket } from './datagram.js';

export interface UdpSocketOptions {
  /** Local address to bind. Default 127.0.0.1 (never a wildcard unless asked for). */
  host?: string;
  /** Local port; 0 (default) lets the OS pick. */
  port?: number;
  /** Inferred from `host` when omitted. */
  type?: 'udp4' | 'udp6';
  /**
   * SO_RCVBUF in bytes. A shared server socket needs ~4 MiB or bursts are dropped by the kernel
   * (DESIGN §2). Linux caps it at net.core.rmem_max and reports twice the granted value.
   */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** SO_REUSEADDR. Default false: a second bind on the same port must fail loudly. */
  reuseAddr?: boolean;
  /** Receives socket 'error' events after bind (there is always a listener; default: log at warn). */
  onError?: (err: Error) => void;
  logger?: Logger;
}

/** Server sockets: the receive buffer DESIGN §2 measured as necessary for registration bursts. */
export const SERVER_RECV_BUFFER_SIZE = 4 * 1024 * 1024;

/** Creates a UDP socket, bound and listening, with an 'error' listener attached for its whole life. */
export function createUdpSocket(options: UdpSocketOptions = {}): Promise<DatagramSocket & Socket> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const type = options.type ?? (familyOf(host) === 'IPv6' ? 'udp6' : 'udp4');
  const logger = options.logger ?? silentLogger;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    return Promise.reject(new RangeError(`UDP port must be an integer in 0..65535, got ${port}`));
  }
  const socket = createSocket({
    type,
    reuseAddr: options.reuseAddr ?? false,
    ...(options.recvBufferSize !== undefined ? { recvBufferSize: options.recvBufferSize } : {}),
    ...(options.sendBufferSize !== undefined ? { sendBufferSize: options.sendBufferSize } : {}),
  });

  return new Promise((resolve, reject) => {
    const onBindError = (err: NodeJS.ErrnoException): void => {
      socket.removeListener('listening', onListening);
      // dgram closes its handle on a failed bind; close() again would throw ERR_SOCKET_DGRAM_NOT_RUNNING.
      reject(bindError(err, host, port));
    };
    const onListening = (): void => {
      socket.removeListener('error', onBindError);
      // Always keep an error listener: an unhandled 'error' event would crash the process.
      socket.on('error', options.onError ?? ((err) => logger.warn({ err, host, port }, 'udp socket error')));
      resolve(socket);
    };
    socket.once('error', onBindError);
    socket.once('listening', onListening);
    socket.bind({ address: host, port, exclusive: true });
  });
}

function bindError(err: NodeJS.ErrnoException, host: string, port: number): TransportError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new TransportError(
        'TRANSPORT_ADDRESS_IN_USE',
        `UDP ${where} is already in use (EADDRINUSE): another socket or process is bound to it; pick another port or stop it`,
        { cause: err, errno: err.code, address: host, port },
      );
    case 'EADDRNOTAVAIL':
      return new TransportError(
        'TRANSPORT_ADDRESS_NOT_AVAILABLE',
        `UDP ${where}: address not available on this host (EADDRNOTAVAIL)`,
        { cause: err, errno: err.code, address: host, port },
      );
    default:
      return new TransportError('TRANSPORT_BIND_FAILED', `UDP ${where}: bind failed (${err.code ?? err.message})`, {
        cause: err,
        ...(err.code !== undefined ? { errno: err.code } : {}),
        address: host,
        port,
      });
  }
}
