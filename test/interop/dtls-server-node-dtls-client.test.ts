/**
 * Our DTLS server against an independent client implementation, node-dtls-client 2.0.3, over real UDP
 * on 127.0.0.1 (it cannot take a custom socket). node-dtls-client encodes a string PSK as ASCII.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dtls } from 'node-dtls-client';
import { createUdpSocket } from '../../src/transport/udp.js';
import { createDtlsServer, type DtlsServerSocket } from '../../src/transport/dtls/server/index.js';
import { PskTestClient } from '../unit/dtls-server/psk-client.js';

const KEYS: Record<string, string> = { dev1: 'secretPSK', 'urn:imei:123456789012345': 'another key' };

let server: DtlsServerSocket;
let port: number;

beforeEach(async () => {
  const udp = await createUdpSocket({ host: '127.0.0.1' });
  server = createDtlsServer(udp, { psk: (id) => (KEYS[id] !== undefined ? Buffer.from(KEYS[id], 'ascii') : undefined), identityHint: 'fleet' });
  server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('echo:'), m]), r.port, r.address));
  port = udp.address().port;
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(resolve));
});

type Cipher = 'TLS_PSK_WITH_AES_128_CCM_8' | 'TLS_PSK_WITH_AES_128_GCM_SHA256';

function connect(identity: string, key: string, ciphers?: Cipher[]): Promise<dtls.Socket> {
  return new Promise((resolve, reject) => {
    const s = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { [identity]: key }, timeout: 3000, ...(ciphers ? { ciphers } : {}) });
    s.once('connected', () => resolve(s));
    s.once('error', (e: Error) => reject(e));
  });
}

function roundTrip(s: dtls.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    s.once('message', (m: Buffer) => resolve(m.toString()));
    s.send(Buffer.from(text));
  });
}

function closeClient(s: dtls.Socket): Promise<void> {
  return new Promise((resolve) => s.close(() => resolve()));
}

describe('DTLS server ↔ node-dtls-client', () => {
  it.each(['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_GCM_SHA256'] as const)('handshake and echo with %s', async (cipher) => {
    const c = await connect('dev1', 'secretPSK', [cipher]);
    expect(await roundTrip(c, 'hello')).toBe('echo:hello');
    expect(server.stats()).toMatchObject({ sessions: 1, handshakesCompleted: 1 });
    await closeClient(c);
  });

  it('identities are UTF-8/ASCII strings; the default offer (all suites) negotiates CCM_8', async () => {
    const seen: string[] = [];
    server.on('session', (s) => seen.push(`${s.identity} ${s.cipherSuite}`));
    const c = await connect('urn:imei:123456789012345', 'another key');
    expect(await roundTrip(c, 'x')).toBe('echo:x');
    expect(seen).toEqual(['urn:imei:123456789012345 TLS_PSK_WITH_AES_128_CCM_8']);
    await closeClient(c);
  });

  it('50 clients at once', async () => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect('dev1', 'secretPSK')));
    const replies = await Promise.all(clients.map((c, i) => roundTrip(c, `n${i}`)));
    expect(replies).toEqual(clients.map((_c, i) => `echo:n${i}`));
    expect(server.stats().sessions).toBe(50);
    await Promise.all(clients.map(closeClient));
  });

  it('wrong key and unknown identity fail the handshake with an alert; the server keeps serving', async () => {
    const failed: string[] = [];
    server.on('handshake-failed', (_p, reason) => failed.push(reason.split(':')[0] as string));
    await expect(connect('dev1', 'wrong key')).rejects.toThrow();
    await expect(connect('nobody', 'secretPSK')).rejects.toThrow();
    expect(failed.sort()).toEqual(['bad_record_mac', 'unknown_psk_identity']);
    const c = await connect('dev1', 'secretPSK');
    expect(await roundTrip(c, 'ok')).toBe('echo:ok');
    await closeClient(c);
  });

  it('close_notify from the client ends its session on the server', async () => {
    const closed = new Promise<string>((resolve) => server.once('session-closed', (_s, reason) => resolve(reason)));
    const c = await connect('dev1', 'secretPSK');
    await roundTrip(c, 'x');
    await closeClient(c);
    expect(await closed).toBe('close_notify');
  });

  it('a replayed record over real UDP is dropped', async () => {
    const sock = await createUdpSocket({ host: '127.0.0.1' });
    const c = new PskTestClient(sock, { address: '127.0.0.1', port }, { identity: 'dev1', psk: Buffer.from('secretPSK') });
    await c.handshake();
    const got: string[] = [];
    server.on('message', (m) => got.push(m.toString()));
    const rec = c.sendApp('one');
    expect((await c.receiveApp()).toString()).toBe('echo:one');
    c.raw(rec);
    c.sendApp('two');
    expect((await c.receiveApp()).toString()).toBe('echo:two');
    expect(got).toEqual(['one', 'two']);
    expect(server.stats().recordsReplayed).toBe(1);
    sock.close();
  });
});
