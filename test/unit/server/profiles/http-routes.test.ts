import { afterEach, describe, expect, it } from 'vitest';
import { LwM2MServer } from '../../../../src/server/lwm2m-server.js';
import { createHttpApi } from '../../../../src/server/http/api.js';
import { TelemetryStore } from '../../../../src/server/profiles/telemetry-store.js';
import { registerTelemetryRoutes } from '../../../../src/server/profiles/http-routes.js';
import { MemoryNetwork } from '../../../../src/transport/memory.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('telemetry routes on the reference server\'s HTTP API', () => {
  it('latest attributes/telemetry, a series with ?limit, 404 for an unknown endpoint, 400 for a bad limit, in the OpenAPI document', async () => {
    const net = new MemoryNetwork({ seed: 1 });
    const lwm2m = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }) });
    cleanups.push(() => lwm2m.close());
    const api = createHttpApi({ lwm2m, port: 0 });
    cleanups.push(() => api.close());
    const store = new TelemetryStore();
    // As a plugin, so that it loads after @fastify/swagger and the routes are in the OpenAPI document.
    api.app.register(async (instance) => registerTelemetryRoutes(instance, store));
    store.setAttribute('LwNoSec00000000', 'serialNumber', 1000, 'SN-1');
    for (let i = 0; i < 5; i++) store.addTelemetry('LwNoSec00000000', 'batteryLevel', 1000 + i, 90 - i);

    const latest = await api.app.inject({ method: 'GET', url: '/api/v1/clients/LwNoSec00000000/telemetry' });
    expect(latest.statusCode).toBe(200);
    expect(latest.json()).toEqual({ attributes: { serialNumber: { ts: 1000, value: 'SN-1' } }, telemetry: { batteryLevel: { ts: 1004, value: 86 } } });
    const series = await api.app.inject({ method: 'GET', url: '/api/v1/clients/LwNoSec00000000/telemetry/batteryLevel?limit=2' });
    expect(series.json()).toEqual({ key: 'batteryLevel', points: [{ ts: 1003, value: 87 }, { ts: 1004, value: 86 }] });
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/clients/LwNoSec00000000/telemetry/none' })).json()).toEqual({ key: 'none', points: [] });
    const unknown = await api.app.inject({ method: 'GET', url: '/api/v1/clients/nobody/telemetry' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'LWM2M_NOT_FOUND' });
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/clients/LwNoSec00000000/telemetry/batteryLevel?limit=0' })).statusCode).toBe(400);
    const doc = (await api.app.inject({ method: 'GET', url: '/api/v1/openapi.json' }));
    expect(doc.statusCode).toBe(200);
    expect(Object.keys((doc.json() as { paths: Record<string, unknown> }).paths)).toContain('/api/v1/clients/{ep}/telemetry/{key}');
  });
});
