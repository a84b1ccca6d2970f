import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApi, type HttpApi } from '../../../../src/server/http/api.js';
import { LwM2MServer } from '../../../../src/server/lwm2m-server.js';
import { MemoryBootstrapConfigStore } from '../../../../src/server/bootstrap/config-store.js';
import { BootstrapPskProvisioner } from '../../../../src/server/security/bootstrap-psk.js';
import { PskStore } from '../../../../src/server/security/psk-store.js';
import { MemoryNetwork } from '../../../../src/transport/memory.js';

type Json = Record<string, unknown>;

let api: HttpApi;
let lwm2m: LwM2MServer;
const psks = new PskStore([{ endpoint: 'file-dev', identity: 'file-id', key: Uint8Array.of(1, 2, 3), source: 'psks.csv:2' }]);
const bootstrapPsks = new PskStore();

beforeAll(async () => {
  const net = new MemoryNetwork({ seed: 1 });
  lwm2m = new LwM2MServer({ socket: net.createSocket({ address: '127.0.0.1', port: 5683 }) });
  const provisioner = new BootstrapPskProvisioner({ dm: psks, bs: bootstrapPsks });
  api = createHttpApi({
    lwm2m, psks, bootstrapPsks, port: 0, metrics: { defaultMetrics: false },
    bootstrapConfigs: provisioner.wrap(new MemoryBootstrapConfigStore()),
  });
  await api.app.ready();
});
afterAll(async () => {
  await api.close();
  await lwm2m.close();
});

async function call(method: 'GET' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<{ status: number; body: Json; headers: Record<string, unknown> }> {
  const res = await api.app.inject({ method, url, ...(body !== undefined ? { payload: body as Json } : {}) });
  return { status: res.statusCode, body: res.body === '' ? {} : (res.json() as Json), headers: res.headers };
}

describe('HTTP API /api/v1/security', () => {
  it('lists entries without keys: identity and key length only', async () => {
    const r = await call('GET', '/api/v1/security');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ items: [{ endpoint: 'file-dev', identity: 'file-id', keyLength: 3, source: 'psks.csv:2' }], total: 1 });
    expect(JSON.stringify(r.body)).not.toMatch(/"key"/);
  });

  it('PUT creates (201, Location) then replaces (204); GET shows it; DELETE removes it (204, then 404)', async () => {
    const events: string[] = [];
    const off = api.events.subscribe(() => {
      const e = api.events.get(api.events.lastId);
      const data = e?.type === 'security' ? /^data: (.*)$/m.exec(e.frame)?.[1] : undefined;
      if (data !== undefined) events.push((JSON.parse(data) as { kind: string }).kind);
    });
    const created = await call('PUT', '/api/v1/security/dev%201', { identity: 'id-1', key: '000102030405060708090a0b0c0d0e0f' });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe('/api/v1/security/dev%201');
    expect(created.body).toEqual({ endpoint: 'dev 1', identity: 'id-1', keyLength: 16, source: 'api' });
    expect(psks.resolver('id-1')).toEqual(Uint8Array.from(Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex')));

    const replaced = await call('PUT', '/api/v1/security/dev%201', { identity: 'id-1b', key: '0xAABB' });
    expect(replaced.status).toBe(204);
    expect(psks.byIdentity('id-1')).toBeUndefined();
    expect((await call('GET', '/api/v1/security/dev%201')).body).toEqual({ endpoint: 'dev 1', identity: 'id-1b', keyLength: 2, source: 'api' });

    expect((await call('DELETE', '/api/v1/security/dev%201')).status).toBe(204);
    const gone = await call('GET', '/api/v1/security/dev%201');
    expect(gone).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', message: 'no PSK for endpoint "dev 1" on the LwM2M server (coaps)' } });
    expect((await call('DELETE', '/api/v1/security/dev%201')).status).toBe(404);
    off();
    expect(events).toEqual(['psk-created', 'psk-replaced', 'psk-deleted']);
  });

  it('an identity of another endpoint is a 409', async () => {
    const r = await call('PUT', '/api/v1/security/thief', { identity: 'file-id', key: '00' });
    expect(r).toMatchObject({ status: 409, body: { code: 'PSK_IDENTITY_IN_USE', message: 'identity "file-id" is already used by endpoint "file-dev" (psks.csv:2)' } });
    expect(psks.get('thief')).toBeUndefined();
  });

  it('validates the body: hex key, sizes, no unknown properties', async () => {
    const bad = async (body: unknown, re: RegExp): Promise<void> => {
      const r = await call('PUT', '/api/v1/security/v', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.message).toMatch(re);
    };
    await bad({ identity: 'i', key: 'zz' }, /body\/key must match pattern/);
    await bad({ identity: 'i', key: 'abc' }, /body\/key must match pattern/);
    await bad({ identity: 'i', key: '00'.repeat(65) }, /body\/key must match pattern/);
    await bad({ identity: '', key: '00' }, /body\/identity must NOT have fewer than 1 characters/);
    await bad({ identity: 'é'.repeat(100), key: '00' }, /identity is 200 bytes long, at most 128/);
    await bad({ identity: 'i\u0000', key: '00' }, /control character/);
    await bad({ identity: 'i' }, /must have required property 'key'/);
    await bad({ identity: 'i', key: '00', extra: 1 }, /must NOT have additional properties/);
    const r = await call('PUT', '/api/v1/security/%01', { identity: 'i', key: '00' });
    expect(r).toMatchObject({ status: 400, body: { code: 'PSK_INVALID' } });
    expect(psks.get('v')).toBeUndefined();
  });

  it('the Bootstrap-Server has its own store under /api/v1/bootstrap/security', async () => {
    expect((await call('PUT', '/api/v1/bootstrap/security/dev2', { identity: 'file-id', key: '0102' })).status).toBe(201);
    expect(bootstrapPsks.byIdentity('file-id')?.endpoint).toBe('dev2');
    expect(psks.byIdentity('file-id')?.endpoint).toBe('file-dev');
    expect((await call('GET', '/api/v1/bootstrap/security')).body).toEqual({ items: [{ endpoint: 'dev2', identity: 'file-id', keyLength: 2, source: 'api' }], total: 1 });
    expect((await call('DELETE', '/api/v1/bootstrap/security/dev2')).status).toBe(204);
  });

  it('a bootstrap config PUT binds its PSK server account, and a clashing one is refused with 409', async () => {
    const config = (identity: string): Json => ({
      servers: [{ shortServerId: 1, uri: 'coaps://lwm2m.example:5684', pskIdentity: identity, pskKey: 'a0a1a2a3' }],
      bootstrapServer: { uri: 'coaps://bs.example:5784', pskIdentity: `bs-${identity}`, pskKey: 'b0b1' },
    });
    expect((await call('PUT', '/api/v1/bootstrap/configs/boot-dev', config('boot-id'))).status).toBe(200);
    expect(psks.get('boot-dev')).toMatchObject({ identity: 'boot-id', source: 'bootstrap config "boot-dev"' });
    expect(bootstrapPsks.get('boot-dev')).toMatchObject({ identity: 'bs-boot-id' });
    const clash = await call('PUT', '/api/v1/bootstrap/configs/other-dev', config('file-id'));
    expect(clash).toMatchObject({ status: 409, body: { code: 'PSK_IDENTITY_IN_USE' } });
    expect((await call('GET', '/api/v1/bootstrap/configs/other-dev')).status).toBe(404);
  });

  it('is in the OpenAPI document, with the PskEntry and PskPut components', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { operationId?: string; responses?: Json }>>; components: { schemas: Json } };
    for (const base of ['/api/v1/security', '/api/v1/bootstrap/security']) {
      expect(doc.paths[base]?.get, base).toBeDefined();
      for (const m of ['get', 'put', 'delete']) expect(doc.paths[`${base}/{ep}`]?.[m], `${m} ${base}/{ep}`).toBeDefined();
    }
    expect(Object.keys(doc.paths['/api/v1/security/{ep}']?.put?.responses ?? {})).toEqual(expect.arrayContaining(['201', '204', '409']));
    expect(doc.paths['/api/v1/bootstrap/security/{ep}']?.put?.operationId).toBe('putBootstrapPsk');
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['PskEntry', 'PskPut']));
    expect(JSON.stringify(doc.components.schemas.PskEntry)).not.toMatch(/"key"/);
  });
});
