/**
 * What the FOTA orchestrator needs from the LwM2M server, as a small interface: the firmware DM requests
 * towards one device and the events about it. {@link lwm2mDeviceLink} implements it over
 * {@link LwM2MServer}; the unit tests implement it with a scripted device on a ManualClock.
 */
import { ContentFormat } from '../../codec/content-format.js';
import { LwM2MError } from '../../core/errors.js';
import { LwM2MPath } from '../../core/path.js';
import type { LwM2MServer } from '../lwm2m-server.js';
import { executeRequest, executeResult } from '../operations/execute.js';
import { pathSegments, type OperationResult, type ReadResult } from '../operations/types.js';
import { writeResult } from '../operations/write.js';
import type { Registration } from '../registration/registration.js';

export const FW = {
  PACKAGE: LwM2MPath.of(5, 0, 0),
  PACKAGE_URI: LwM2MPath.of(5, 0, 1),
  UPDATE: LwM2MPath.of(5, 0, 2),
  STATE: LwM2MPath.of(5, 0, 3),
  UPDATE_RESULT: LwM2MPath.of(5, 0, 5),
  PKG_VERSION: LwM2MPath.of(5, 0, 7),
  CANCEL: LwM2MPath.of(5, 0, 10),
  INSTANCE: LwM2MPath.of(5, 0),
} as const;

export type DeviceEvent =
  /** A Register (new registration id) or an Update — the device is reachable now. */
  | { readonly type: 'registered' | 'updated'; readonly endpoint: string; readonly registrationId: string }
  /** De-registered or expired. */
  | { readonly type: 'gone'; readonly endpoint: string; readonly registrationId: string }
  /** Values from a notification (full path → value). */
  | { readonly type: 'values'; readonly endpoint: string; readonly values: Readonly<Record<string, unknown>> };

export interface PushOptions {
  blockSize: number;
  /** Bound on each block's exchange. */
  timeoutMs: number;
  signal: AbortSignal;
  onProgress: (bytesAcknowledged: number) => void;
}

export interface DeviceLink {
  /** The current registration id of the endpoint, undefined when not registered. */
  registrationId(endpoint: string): string | undefined;
  /** Address and port the device's requests come from (to attribute CoAP pulls to a job). */
  peer?(endpoint: string): { address: string; port: number } | undefined;
  /** Whether the device is in queue mode and asleep right now (requests would wait). */
  isAsleep(endpoint: string): boolean;
  read(endpoint: string, path: LwM2MPath, timeoutMs: number): Promise<ReadResult>;
  /**
   * Write of an opaque (Uint8Array, Content-Format application/octet-stream) or string (text/plain) resource
   * value. `signal` gives the exchange up (the job aborts it when the device registers again: the old
   * exchange can no longer be answered).
   */
  write(endpoint: string, path: LwM2MPath, value: Uint8Array | string, timeoutMs: number, signal?: AbortSignal): Promise<OperationResult>;
  /** Block1 write of the image to /5/0/0 (Content-Format application/octet-stream, one token per transfer). */
  push(endpoint: string, data: Buffer, options: PushOptions): Promise<OperationResult>;
  execute(endpoint: string, path: LwM2MPath, timeoutMs: number, signal?: AbortSignal): Promise<OperationResult>;
  observe(endpoint: string, path: LwM2MPath): Promise<ReadResult>;
  cancelObserve(endpoint: string, path: LwM2MPath): Promise<void>;
  /** Subscribes to device events; returns the unsubscribe function. */
  subscribe(listener: (e: DeviceEvent) => void): () => void;
}

/** application/octet-stream (RFC 7252 §12.3), what LwM2M 1.1 §E.6 asks for the Package. */
const OCTET_STREAM = ContentFormat.OPAQUE;

function request(reg: Registration, path: LwM2MPath, payload: Uint8Array, contentFormat: number) {
  return { method: 'PUT' as const, uriPath: pathSegments(path, reg.rootPath), payload, contentFormat };
}

/** The device link over the reference server (and, for queue mode, the API's awake tracking). */
export function lwm2mDeviceLink(server: LwM2MServer, options: { isAsleep?: (endpoint: string) => boolean } = {}): DeviceLink {
  const reg = (ep: string): Registration => {
    const r = server.registrations.getByEndpoint(ep);
    if (!r) throw new LwM2MError('NOT_FOUND', `endpoint "${ep}" is not registered`);
    return r;
  };
  return {
    registrationId: (ep) => server.registrations.getByEndpoint(ep)?.registrationId,
    peer: (ep) => {
      const r = server.registrations.getByEndpoint(ep);
      return r ? { address: r.address, port: r.port } : undefined;
    },
    isAsleep: (ep) => {
      const r = server.registrations.getByEndpoint(ep);
      return r !== undefined && r.queueMode && (options.isAsleep?.(ep) ?? false);
    },
    read: (ep, path, timeoutMs) => server.read(ep, path, undefined, timeoutMs),
    async write(ep, path, value, timeoutMs, signal) {
      const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      const format = typeof value === 'string' ? ContentFormat.TEXT : OCTET_STREAM;
      return writeResult(await server.send(ep, request(reg(ep), path, bytes, format), { timeoutMs, ...(signal ? { signal } : {}) }));
    },
    async push(ep, data, o) {
      const answer = await server.send(ep, request(reg(ep), FW.PACKAGE, data, OCTET_STREAM), {
        timeoutMs: o.timeoutMs, block1Size: o.blockSize, signal: o.signal, onBlock1Progress: (n) => o.onProgress(n),
      });
      return writeResult(answer);
    },
    async execute(ep, path, timeoutMs, signal) {
      return executeResult(await server.send(ep, executeRequest(path, '', reg(ep).rootPath), { timeoutMs, ...(signal ? { signal } : {}) }));
    },
    observe: (ep, path) => server.observe(ep, path),
    async cancelObserve(ep, path) {
      if (!server.registrations.getByEndpoint(ep)) return;
      await server.cancelObserve(ep, path).catch(() => undefined);
    },
    subscribe(listener) {
      const onRegistered = (r: Registration): void => listener({ type: 'registered', endpoint: r.endpoint, registrationId: r.registrationId });
      const onUpdated = (r: Registration): void => listener({ type: 'updated', endpoint: r.endpoint, registrationId: r.registrationId });
      const onGone = (r: Registration): void => listener({ type: 'gone', endpoint: r.endpoint, registrationId: r.registrationId });
      const onNotification = (e: { endpoint: string; result: ReadResult }): void => {
        if (e.result.values) listener({ type: 'values', endpoint: e.endpoint, values: e.result.values });
      };
      server.on('registered', onRegistered);
      server.on('updated', onUpdated);
      server.on('deregistered', onGone);
      server.on('expired', onGone);
      server.on('notification', onNotification);
      return () => {
        server.off('registered', onRegistered);
        server.off('updated', onUpdated);
        server.off('deregistered', onGone);
        server.off('expired', onGone);
        server.off('notification', onNotification);
      };
    },
  };
}
