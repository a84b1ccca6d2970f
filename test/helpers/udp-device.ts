/**
 * A client SDK device on a real UDP socket (127.0.0.1), registered with a reference server started in
 * the same process (src/server/create.ts) — for e2e tests that drive the server's HTTP API.
 */
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory } from '../../src/client/coap-connection.js';
import { createDeviceTree, type DeviceConfig } from '../../src/client/device-factory.js';
import type { ReferenceServer } from '../../src/server/create.js';
import { createUdpSocket } from '../../src/transport/udp.js';

export interface UdpDevice {
  client: LwM2MClient;
  /** Stops the device tree's timers (the client is stopped separately). */
  dispose(): void;
}

/**
 * Builds the device tree from `config(connections)` (its `servers` is `server`'s coap URI, lifetime 300 s),
 * starts the client and resolves once `server` has seen the Register of `endpoint` (by event).
 */
export async function startUdpDevice(
  server: ReferenceServer,
  endpoint: string,
  config: (connections: CoapConnectionFactory) => Omit<DeviceConfig, 'servers'>,
): Promise<UdpDevice> {
  const connections = new CoapConnectionFactory({ createSocket: () => createUdpSocket({ host: '127.0.0.1' }) });
  const dev = createDeviceTree({ ...config(connections), servers: [{ uri: server.coapUri, lifetime: 300 }] });
  const client = new LwM2MClient({ endpoint, tree: dev.tree, connections });
  const registered = new Promise<void>((resolve) => {
    const on = (r: { endpoint: string }): void => {
      if (r.endpoint !== endpoint) return;
      server.lwm2m.off('registered', on);
      resolve();
    };
    server.lwm2m.on('registered', on);
  });
  await client.start();
  await registered;
  return { client, dispose: dev.dispose };
}
