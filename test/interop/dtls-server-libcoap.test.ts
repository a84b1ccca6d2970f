/**
 * Our DTLS server against libcoap's coap-client over OpenSSL and over GnuTLS (two independent DTLS
 * stacks): the reference LwM2M server runs unchanged on the DTLS socket and answers coaps requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { BootstrapServer } from '../../src/server/bootstrap/bootstrap-server.js';
import { MemoryBootstrapConfigStore } from '../../src/server/bootstrap/config-store.js';
import { createUdpSocket } from '../../src/transport/udp.js';
import { createDtlsServer, type DtlsServerSocket } from '../../src/transport/dtls/server/index.js';
import { libcoapTool, requireLibcoapInCi, run } from '../helpers/libcoap.js';

const tools = { openssl: libcoapTool('coap-client-openssl'), gnutls: libcoapTool('coap-client-gnutls') };
const enabled = requireLibcoapInCi(tools.openssl) && requireLibcoapInCi(tools.gnutls);
const KEYS: Record<string, string> = { 'dev-openssl': 'openssl-secret', 'dev-gnutls': 'gnutls-secret' };

describe.runIf(enabled)('DTLS server ↔ libcoap coap-client (OpenSSL, GnuTLS)', () => {
  let dtls: DtlsServerSocket;
  let server: LwM2MServer;
  let port: number;
  const failures: string[] = [];
  beforeAll(async () => {
    const udp = await createUdpSocket({ host: '127.0.0.1' });
    dtls = createDtlsServer(udp, { psk: (id) => (KEYS[id] !== undefined ? Buffer.from(KEYS[id], 'utf8') : undefined) });
    dtls.on('handshake-failed', (_p, reason) => failures.push(reason));
    server = new LwM2MServer({ socket: dtls });
    port = udp.address().port;
  });
  afterAll(async () => {
    await server?.close();
  });

  describe.each(['openssl', 'gnutls'] as const)('%s', (lib) => {
    const tool = (): string => tools[lib] as string;
    const id = `dev-${lib}`;

    it('registers over coaps (2.01) and the registration is there', async () => {
      const r = await run(tool(), ['-m', 'post', '-t', '40', '-e', '</3/0>,</1/0>', '-B', '5', '-v', '6', '-u', id, '-k', KEYS[id] as string,
        `coaps://127.0.0.1:${port}/rd?ep=${id}&lt=60&lwm2m=1.1`]);
      expect(r.stdout.toString() + r.stderr).toMatch(/\bc:2\.01\b/);
      expect(server.registrations.getByEndpoint(id)?.objectLinks.objects.map((o) => o.objectId)).toEqual([1, 3]);
    });

    it('an unknown resource gets 4.04 over coaps', async () => {
      const r = await run(tool(), ['-m', 'get', '-B', '5', '-v', '6', '-u', id, '-k', KEYS[id] as string, `coaps://127.0.0.1:${port}/nothing/here`]);
      expect(r.stdout.toString() + r.stderr).toMatch(/\bc:4\.0[45]\b/);
    });

    it('a wrong key fails the handshake with an alert; the server keeps serving', async () => {
      const before = failures.length;
      const r = await run(tool(), ['-m', 'get', '-B', '3', '-v', '6', '-u', id, '-k', 'not-the-key', `coaps://127.0.0.1:${port}/rd`]);
      expect(r.stdout.toString() + r.stderr).not.toMatch(/\bc:[245]\.\d\d\b/); // no response line (log timestamps hold "2.00"-like text)
      expect(failures.slice(before)).toEqual([expect.stringMatching(/^bad_record_mac/)]);
      const ok = await run(tool(), ['-m', 'get', '-B', '5', '-v', '6', '-u', id, '-k', KEYS[id] as string, `coaps://127.0.0.1:${port}/nothing`]);
      expect(ok.stdout.toString() + ok.stderr).toMatch(/\bc:4\.0[45]\b/);
    });

    it('an unknown identity gets unknown_psk_identity', async () => {
      const before = failures.length;
      const r = await run(tool(), ['-m', 'get', '-B', '3', '-v', '6', '-u', 'stranger', '-k', 'whatever', `coaps://127.0.0.1:${port}/rd`]);
      expect(r.stdout.toString() + r.stderr).not.toMatch(/\bc:[245]\.\d\d\b/); // no response line (log timestamps hold "2.00"-like text)
      expect(failures.slice(before)).toEqual([expect.stringMatching(/^unknown_psk_identity/)]);
    });
  });

  it('the bootstrap server runs unchanged on a DTLS socket: Bootstrap-Request over coaps gets its answer', async () => {
    const udp = await createUdpSocket({ host: '127.0.0.1' });
    const bsDtls = createDtlsServer(udp, { psk: (id) => (id === 'dev-openssl' ? Buffer.from(KEYS[id] as string) : undefined) });
    const bs = new BootstrapServer({ socket: bsDtls, configs: new MemoryBootstrapConfigStore() });
    try {
      // No config for this endpoint: the documented 4.00 "bootstrap refused", carried over DTLS.
      const r = await run(tools.openssl as string, ['-m', 'post', '-B', '5', '-v', '6', '-u', 'dev-openssl', '-k', KEYS['dev-openssl'] as string,
        `coaps://127.0.0.1:${udp.address().port}/bs?ep=dev-openssl`]);
      expect(r.stdout.toString() + r.stderr).toMatch(/\bc:4\.00\b/);
      expect(bsDtls.stats().handshakesCompleted).toBe(1);
    } finally {
      await bs.close();
    }
  });

  it('every session ended or is bounded; no handshake left behind', () => {
    expect(dtls.stats().handshakesInProgress).toBe(0);
    expect(dtls.stats().handshakesCompleted).toBeGreaterThanOrEqual(6);
  });
});
