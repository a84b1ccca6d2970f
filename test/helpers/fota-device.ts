/**
 * A FOTA test rig on the in-memory network: a real LwM2MClient (CoapConnectionFactory, streamed Block1
 * receive, pull downloads through the same factory) registered with a scripted "LwM2M server" — a bare
 * CoapEndpoint that answers Register/Update/De-register and sends DM requests (Block1 writes, reads,
 * executes, observes) to the device.
 */
import { LwM2MClient } from '../../src/client/client.js';
import { CoapConnectionFactory, CoapServerConnection } from '../../src/client/coap-connection.js';
import type { ConnectionFactory } from '../../src/client/connection.js';
import { createDeviceTree, type DeviceTree } from '../../src/client/device-factory.js';
import type { FirmwareUpdateOptions, FirmwareUpdater } from '../../src/client/firmware/updater.js';
import type { FirmwareObject, FirmwareObjectOptions } from '../../src/client/objects/firmware.js';
import { CoapEndpoint, type CoapRequestOptions, type CoapResponse, type IncomingCoapRequest } from '../../src/coap/endpoint.js';
import type { CoapTiming } from '../../src/coap/timing.js';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { MemoryNetwork, type MemoryNetworkOptions } from '../../src/transport/memory.js';

export const SERVER_PORT = 5683;

/** systemClock, but a 0 ms timer runs on setImmediate. */
export const immediateClock: Clock = {
  now: () => systemClock.now(),
  setTimeout(fn, ms) {
    if (ms > 0) return systemClock.setTimeout(fn, ms);
    const i = setImmediate(fn);
    return { cancel: () => clearImmediate(i) };
  },
};
export const HOST = '127.0.0.1';

export interface FotaRig {
  net: MemoryNetwork;
  server: CoapEndpoint;
  client: LwM2MClient;
  device: DeviceTree;
  updater: FirmwareUpdater;
  /** Every connection the device opened (registration first, then downloads). */
  connections: CoapServerConnection[];
  /** Registers seen by the server. */
  registers: IncomingCoapRequest[];
  /** Where the device's registration socket is. */
  deviceAddress(): { host: string; port: number };
  /** A DM request from the server to the device. */
  dm(options: Omit<CoapRequestOptions, 'host' | 'port'>): Promise<CoapResponse>;
  /** The current value of a resource as text (GET with Accept text/plain). */
  readText(path: string): Promise<string>;
  close(): Promise<void>;
}

export async function fotaRig(options: {
  network?: MemoryNetworkOptions;
  timing: Partial<CoapTiming>;
  update?: FirmwareUpdateOptions;
  firmware?: Omit<FirmwareObjectOptions, 'update'>;
}): Promise<FotaRig> {
  // Zero-delay deliveries on setImmediate instead of setTimeout(0) (≥ 1 ms in Node): a 6 400-block
  // transfer is bound by hops, not by the protocol. Timers > 0 stay real.
  const net = new MemoryNetwork({ seed: 7, clock: immediateClock, ...options.network });
  const registers: IncomingCoapRequest[] = [];
  let device: { host: string; port: number } | undefined;
  const server = new CoapEndpoint({
    socket: net.createSocket({ address: HOST, port: SERVER_PORT }),
    timing: options.timing,
    handler: (req) => {
      if (req.method === 'POST' && req.path === '/rd') {
        registers.push(req);
        device = { host: req.source.address, port: req.source.port };
        return { code: '2.01', locationPath: ['rd', String(registers.length)] };
      }
      if (req.method === 'POST' && req.path.startsWith('/rd/')) {
        device = { host: req.source.address, port: req.source.port };
        return { code: '2.04' };
      }
      if (req.method === 'DELETE') return { code: '2.02' };
      return { code: '4.04' };
    },
  });
  const connections: CoapServerConnection[] = [];
  const base = new CoapConnectionFactory({ createSocket: async () => net.createSocket({ address: HOST }), timing: options.timing });
  const factory: ConnectionFactory = {
    connect: async (uri, security) => {
      const c = await base.connect(uri, security);
      connections.push(c as CoapServerConnection);
      return c;
    },
  };
  const tree = createDeviceTree({
    servers: [{ uri: `coap://${HOST}:${SERVER_PORT}`, lifetime: 300 }],
    device: { manufacturer: 'ACME', modelNumber: 'M1', serialNumber: 'SN1', firmwareVersion: '1.0.0' },
    firmware: {
      pkgName: 'acme-fw', pkgVersion: '1.0.0', protocols: ['coap', 'http'], ...options.firmware,
      update: { connections: factory, retryDelayMs: 20, flashMs: 50, ...options.update },
    },
  });
  const client = new LwM2MClient({ endpoint: 'fota-dev', tree: tree.tree, connections: factory });
  await client.start();
  const updater = (tree.objects.find((o) => o.id === 5) as FirmwareObject).updater;
  const deviceAddress = () => {
    if (!device) throw new Error('the device has not registered');
    return device;
  };
  const dm = (o: Omit<CoapRequestOptions, 'host' | 'port'>) => server.request({ ...deviceAddress(), ...o });
  return {
    net, server, client, device: tree, updater, connections, registers, deviceAddress, dm,
    readText: async (path) => {
      const r = await dm({ method: 'GET', path, accept: 0 });
      if (r.code !== '2.05') throw new Error(`GET ${path}: ${r.code}`);
      return r.payload.toString('utf8');
    },
    close: async () => {
      await client.stop({ deregister: false });
      tree.dispose();
      await server.close();
      net.close();
    },
  };
}
