/**
 * The reference server's DTLS listeners against independent DTLS clients on real UDP (127.0.0.1):
 * node-dtls-client 2.0.3 and libcoap's coap-client-openssl. Endpoint binding: a PSK identity may only
 * register, update, de-register and bootstrap as the endpoint it is bound to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import { dtls } from 'node-dtls-client';
import { createServer, type ReferenceServer } from '../../src/server/create.js';
import { libcoapTool, requireLibcoapInCi, run } from '../helpers/libcoap.js';

const KEY_A = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const KEY_B = Buffer.from('101112131415161718191a1b1c1d1e1f', 'hex');
const KEY_BS = Buffer.from('b0b1b2b3b4b5b6b7', 'hex');
const KEY_LIBCOAP = Buffer.from('libcoap-secret', 'utf8'); // coap-client -k takes the key as text

let s: ReferenceServer;

beforeAll(async () => {
  s = await createServer({
    coapPort: 0, bsCoapPort: 0, coapsPort: 0, bsCoapsPort: 0, httpPort: false,
    psks: [
      { endpoint: 'dev-a', identity: 'id-a', key: KEY_A },
      { endpoint: 'dev-b', identity: 'id-b', key: KEY_B },
      { endpoint: 'dev-lc', identity: 'id-lc', key: KEY_LIBCOAP },
    ],
    bsPsks: [{ endpoint: 'bs-dev', identity: 'bs-id', key: KEY_BS }, { endpoint: 'rot-dev', identity: 'rot-factory', key: KEY_BS }],
    bootstrapConfigs: {
      'bs-dev': { servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5683' }] },
      // rewrites the device's Bootstrap-Server account with new credentials
      'rot-dev': { servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5683' }], bootstrapServer: { uri: 'coaps://127.0.0.1:5784', pskIdentity: 'rot-new', pskKey: 'd0d1d2d3' } },
    },
  });
});
afterAll(async () => {
  await s?.close();
});

const portOf = (uri: string | undefined): number => Number(new URL(uri as string).port);

interface DtlsCoapClient {
  request(method: 'POST' | 'DELETE', path: string[], query?: string[], payload?: string, contentFormat?: number): Promise<ParsedPacket>;
  /** Answers the next request the server sends with `code` (for the bootstrap session). */
  readonly incoming: ParsedPacket[];
  close(): Promise<void>;
}

/** A CoAP client over node-dtls-client (CON requests, piggybacked answers matched by token). */
async function connect(port: number, identity: string, key: Buffer, onRequest?: (req: ParsedPacket) => string): Promise<DtlsCoapClient> {
  const socket = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { [identity]: key }, timeout: 3000 });
  const pending = new Map<string, (p: ParsedPacket) => void>();
  const incoming: ParsedPacket[] = [];
  socket.on('message', (msg: Buffer) => {
    const p = parse(msg);
    if (p.code.startsWith('0.') && p.code !== '0.00') {
      incoming.push(p);
      const code = onRequest?.(p) ?? '2.04';
      socket.send(generate({ messageId: p.messageId, token: p.token, code, ack: true, confirmable: false, reset: false, options: [], payload: Buffer.alloc(0) }));
      return;
    }
    const done = pending.get(p.token.toString('hex'));
    if (done) done(p);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connected', () => resolve());
    socket.once('error', (e: Error) => reject(e));
  });
  let mid = randomBytes(2).readUInt16BE(0);
  return {
    incoming,
    request(method, path, query = [], payload = '', contentFormat = 40) {
      const token = randomBytes(4);
      mid = (mid + 1) & 0xffff;
      const options = [
        ...path.map((seg) => ({ name: 'Uri-Path', value: Buffer.from(seg) })),
        ...(payload !== '' ? [{ name: 'Content-Format', value: Buffer.from([contentFormat]) }] : []),
        ...query.map((q) => ({ name: 'Uri-Query', value: Buffer.from(q) })),
      ];
      const answered = new Promise<ParsedPacket>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no answer to ${method} /${path.join('/')}`)), 5000);
        pending.set(token.toString('hex'), (p) => {
          clearTimeout(t);
          resolve(p);
        });
      });
      socket.send(generate({ messageId: mid, token, code: method, confirmable: true, options, payload: Buffer.from(payload) }));
      return answered;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const locationOf = (p: ParsedPacket): string[] => p.options.filter((o) => o.name === 'Location-Path').map((o) => o.value.toString());

describe('LwM2M server over DTLS (node-dtls-client)', () => {
  it('Register with the ep bound to the identity → 2.01, a DTLS registration with that identity', async () => {
    const c = await connect(portOf(s.coapsUri), 'id-a', KEY_A);
    try {
      const res = await c.request('POST', ['rd'], ['ep=dev-a', 'lt=60', 'lwm2m=1.1'], '</1/0>,</3/0>');
      expect(res.code).toBe('2.01');
      expect(locationOf(res)[0]).toBe('rd');
      expect(s.lwm2m.registrations.getByEndpoint('dev-a')).toMatchObject({ transport: 'dtls', pskIdentity: 'id-a' });
      const dereg = await c.request('DELETE', locationOf(res));
      expect(dereg.code).toBe('2.02');
    } finally {
      await c.close();
    }
  });

  it('Register with another device\'s ep → 4.03 with a diagnostic, nothing registered', async () => {
    const c = await connect(portOf(s.coapsUri), 'id-a', KEY_A);
    try {
      const res = await c.request('POST', ['rd'], ['ep=dev-b', 'lt=60'], '</3/0>');
      expect(res.code).toBe('4.03');
      expect(res.payload.toString()).toBe('forbidden: PSK identity "id-a" is bound to endpoint "dev-a", not "dev-b"');
      expect(s.lwm2m.registrations.getByEndpoint('dev-b')).toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it('Update and De-register of another identity\'s registration → 4.00 "forbidden: …"; the owner still can', async () => {
    const a = await connect(portOf(s.coapsUri), 'id-a', KEY_A);
    const b = await connect(portOf(s.coapsUri), 'id-b', KEY_B);
    try {
      const reg = await b.request('POST', ['rd'], ['ep=dev-b', 'lt=60'], '</3/0>');
      expect(reg.code).toBe('2.01');
      const loc = locationOf(reg);
      const upd = await a.request('POST', loc, ['lt=120']);
      expect(upd.code).toBe('4.00');
      expect(upd.payload.toString()).toBe('forbidden: PSK identity "id-a" is bound to endpoint "dev-a", not "dev-b"');
      expect((await a.request('DELETE', loc)).code).toBe('4.00');
      expect(s.lwm2m.registrations.getByEndpoint('dev-b')?.lifetime).toBe(60);
      expect((await b.request('POST', loc, ['lt=120'])).code).toBe('2.04');
      expect((await b.request('DELETE', loc)).code).toBe('2.02');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('Send (/dp) over the DTLS session of a registration → 2.04 and a send event', async () => {
    const c = await connect(portOf(s.coapsUri), 'id-a', KEY_A);
    try {
      const reg = await c.request('POST', ['rd'], ['ep=dev-a', 'lt=60', 'lwm2m=1.1'], '</1/0>,</3/0>');
      expect(reg.code).toBe('2.01');
      const sent = once(s.lwm2m, 'send');
      const res = await c.request('POST', ['dp'], [], '[{"n":"/3/0/0","vs":"over dtls"}]', 110);
      expect(res.code).toBe('2.04');
      const [ev] = await sent;
      expect(ev).toMatchObject({ endpoint: 'dev-a', values: { '/3/0/0': 'over dtls' } });
      expect((await c.request('DELETE', locationOf(reg))).code).toBe('2.02');
    } finally {
      await c.close();
    }
  });

  it('an unknown identity fails the handshake', async () => {
    await expect(connect(portOf(s.coapsUri), 'nobody', KEY_A)).rejects.toThrow();
  });

  it('a wrong key for a known identity fails the handshake', async () => {
    await expect(connect(portOf(s.coapsUri), 'id-a', KEY_B)).rejects.toThrow();
  });

  it('the DM and bootstrap credentials are separate: a bootstrap identity cannot open a session on the LwM2M server', async () => {
    await expect(connect(portOf(s.coapsUri), 'bs-id', KEY_BS)).rejects.toThrow();
  });

  it('plain CoAP is unchanged: the server still answers on coap:// beside coaps://', () => {
    expect(s.coapUri).toMatch(/^coap:\/\/127\.0\.0\.1:\d+$/);
    expect(s.coapsUri).toMatch(/^coaps:\/\/127\.0\.0\.1:\d+$/);
    expect(portOf(s.coapsUri)).not.toBe(portOf(s.coapUri));
  });
});

describe('Bootstrap-Server over DTLS (node-dtls-client)', () => {
  it('serves a Bootstrap-Request with the bound ep: 2.04, then the session runs over the DTLS session', async () => {
    const finished = once(s.bootstrap as NonNullable<typeof s.bootstrap>, 'bootstrap-finished');
    const c = await connect(portOf(s.bootstrapCoapsUri), 'bs-id', KEY_BS, (req) => (req.code === '0.04' ? '2.02' : '2.04'));
    try {
      const res = await c.request('POST', ['bs'], ['ep=bs-dev']);
      expect(res.code).toBe('2.04');
      const [record] = await finished;
      expect(record).toMatchObject({ endpoint: 'bs-dev', outcome: 'ok' });
      // Bootstrap-Delete /0 and /1, the writes, Bootstrap-Finish: all came over the DTLS session
      expect(c.incoming.map((p) => p.code)).toEqual(expect.arrayContaining(['0.04', '0.03', '0.02']));
    } finally {
      await c.close();
    }
  });

  it('a Bootstrap-Request naming another endpoint → 4.00 "forbidden: …", recorded failed', async () => {
    const failed = once(s.bootstrap as NonNullable<typeof s.bootstrap>, 'bootstrap-failed');
    const c = await connect(portOf(s.bootstrapCoapsUri), 'bs-id', KEY_BS);
    try {
      const res = await c.request('POST', ['bs'], ['ep=someone-else']);
      expect(res.code).toBe('4.00');
      expect(res.payload.toString()).toBe('forbidden: PSK identity "bs-id" is bound to endpoint "bs-dev", not "someone-else"');
      const [record] = await failed;
      expect(record).toMatchObject({ endpoint: 'someone-else', outcome: 'failed' });
    } finally {
      await c.close();
    }
  });

  it('a config that rotates the bootstrap credentials: the factory ones stay valid until Bootstrap-Finish, then the new ones replace them', async () => {
    const bsServer = s.bootstrap as NonNullable<typeof s.bootstrap>;
    expect(s.bootstrapPsks.get('rot-dev')?.identity).toBe('rot-factory');
    const finished = once(bsServer, 'bootstrap-finished');
    const c = await connect(portOf(s.bootstrapCoapsUri), 'rot-factory', KEY_BS, (req) => {
      // until the device answers Bootstrap-Finish, nothing changed
      if (req.code === '0.02') expect(s.bootstrapPsks.get('rot-dev')?.identity).toBe('rot-factory');
      return req.code === '0.04' ? '2.02' : '2.04';
    });
    try {
      expect((await c.request('POST', ['bs'], ['ep=rot-dev'])).code).toBe('2.04');
      const [record] = await finished;
      expect(record).toMatchObject({ endpoint: 'rot-dev', outcome: 'ok' });
    } finally {
      await c.close();
    }
    expect(s.bootstrapPsks.get('rot-dev')).toMatchObject({ identity: 'rot-new', source: 'bootstrap config "rot-dev"' });
    await expect(connect(portOf(s.bootstrapCoapsUri), 'rot-factory', KEY_BS)).rejects.toThrow();
    const again = await connect(portOf(s.bootstrapCoapsUri), 'rot-new', Buffer.from('d0d1d2d3', 'hex'));
    await again.close();
  });

  it('a DM identity cannot open a session on the Bootstrap-Server', async () => {
    await expect(connect(portOf(s.bootstrapCoapsUri), 'id-a', KEY_A)).rejects.toThrow();
  });
});

const coapClient = libcoapTool('coap-client-openssl');

describe.runIf(requireLibcoapInCi(coapClient))('LwM2M server over DTLS (libcoap coap-client-openssl)', () => {
  const register = (identity: string, ep: string) => run(coapClient as string, [
    '-u', identity, '-k', KEY_LIBCOAP.toString('utf8'), '-m', 'post', '-t', '40', '-e', '</3/0>', '-B', '5', '-v', '6',
    `coaps://127.0.0.1:${portOf(s.coapsUri)}/rd?ep=${ep}&lt=60`,
  ]);

  it('registers with its own ep', async () => {
    const registered = once(s.lwm2m, 'registered');
    const r = await register('id-lc', 'dev-lc');
    expect(r.stdout.toString() + r.stderr).toMatch(/\bc:2\.01\b/);
    const [reg] = await registered;
    expect(reg).toMatchObject({ endpoint: 'dev-lc', transport: 'dtls', pskIdentity: 'id-lc' });
  });

  it('is refused 4.03 with another device\'s ep', async () => {
    const r = await register('id-lc', 'dev-a');
    expect(r.stdout.toString() + r.stderr).toMatch(/\bc:4\.03\b/);
  });
});

describe('PSKs handed out by the default bootstrap config', () => {
  let bs: ReferenceServer;
  beforeAll(async () => {
    bs = await createServer({
      coapPort: 0, bsCoapPort: 0, coapsPort: 0, httpPort: false,
      bootstrapConfigs: { '*': { servers: [{ shortServerId: 1, uri: 'coaps://127.0.0.1:5684', pskIdentity: 'shared', pskKey: 'c0c1c2c3' }] } },
    });
  });
  afterAll(async () => {
    await bs?.close();
  });

  /** A plain CoAP Bootstrap-Request from a fresh UDP socket; requests the session then sends are left unanswered. */
  async function bootstrapRequest(ep: string): Promise<ParsedPacket> {
    const sock = createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    try {
      const token = randomBytes(4);
      const answered = new Promise<ParsedPacket>((res, rej) => {
        const t = setTimeout(() => rej(new Error('no answer to the Bootstrap-Request')), 5000);
        sock.on('message', (m) => {
          const p = parse(m);
          if (!p.token.equals(token)) return;
          clearTimeout(t);
          res(p);
        });
      });
      sock.send(generate({
        messageId: randomBytes(2).readUInt16BE(0), token, code: 'POST', confirmable: true,
        options: [{ name: 'Uri-Path', value: Buffer.from('bs') }, { name: 'Uri-Query', value: Buffer.from(`ep=${ep}`) }],
      }), portOf(bs.bootstrapUri), '127.0.0.1');
      return await answered;
    } finally {
      sock.close();
    }
  }

  it('binds the credentials to the first endpoint that bootstraps with them, and refuses a second one (two devices cannot share an identity)', async () => {
    expect(bs.psks.size).toBe(0); // the default config has no endpoint until a Bootstrap-Request names one
    const first = await bootstrapRequest('shared-1');
    expect(first.code).toBe('2.04');
    expect(bs.psks.byIdentity('shared')).toMatchObject({ endpoint: 'shared-1', source: 'bootstrap config "*"' });
    const second = await bootstrapRequest('shared-2');
    expect(second.code).toBe('4.00');
    expect(second.payload.toString()).toBe(
      'bootstrap refused: the PSK credentials of bootstrap config "*" cannot be bound to "shared-2": identity "shared" is already used by endpoint "shared-1" (bootstrap config "*")',
    );
    expect(bs.psks.get('shared-2')).toBeUndefined();
  });

  it('a device then registers over DTLS with the credentials the bootstrap handed out', async () => {
    const c = await connect(portOf(bs.coapsUri), 'shared', Buffer.from('c0c1c2c3', 'hex'));
    try {
      expect((await c.request('POST', ['rd'], ['ep=shared-1', 'lt=60'], '</3/0>')).code).toBe('2.01');
    } finally {
      await c.close();
    }
  });
});
