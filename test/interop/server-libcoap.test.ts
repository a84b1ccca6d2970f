import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { LwM2MServer } from '../../src/server/lwm2m-server.js';
import { createUdpSocket } from '../../src/transport/udp.js';
import { libcoapTool, requireLibcoapInCi, run } from '../helpers/libcoap.js';

const coapClient = libcoapTool('coap-client-notls');
const enabled = requireLibcoapInCi(coapClient);

describe.runIf(enabled)('the reference server accepts a client written elsewhere (libcoap)', () => {
  let server: LwM2MServer;
  beforeAll(async () => {
    server = new LwM2MServer({ socket: await createUdpSocket({ host: '127.0.0.1' }) });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('coap-client-notls registers with a link payload and the registration is there', async () => {
    const r = await run(coapClient as string, ['-m', 'post', '-t', '40', '-e', '</3/0>,</1/0>', '-B', '5', '-v', '6', `coap://127.0.0.1:${server.port}/rd?ep=x&lt=60&lwm2m=1.1`]);
    expect(r.stdout.toString() + r.stderr).toMatch(/\bc:2\.01\b/);
    const reg = server.registrations.getByEndpoint('x');
    expect(reg?.lifetime).toBe(60);
    expect(reg?.objectLinks.objects.map((o) => o.objectId)).toEqual([1, 3]);
  });

  it.each([
    ['bad lifetime', 'post', '/rd?ep=y&lt=abc&lwm2m=1.1', '</3/0>', /4\.00/],
    ['missing endpoint', 'post', '/rd?lt=60&lwm2m=1.1', '</3/0>', /4\.00/],
    ['bad link payload', 'post', '/rd?ep=y&lt=60&lwm2m=1.1', '</3/0,,<', /4\.00/],
    ['LwM2M 1.2', 'post', '/rd?ep=y&lt=60&lwm2m=1.2', '</3/0>', /4\.12/],
    ['update of an unknown registration', 'post', '/rd/nope?lt=60', '', /4\.04/],
    ['wrong method', 'put', '/rd?ep=y&lt=60', '</3/0>', /4\.0[05]/],
  ])('%s → the right 4.xx, server stays up', async (_name, method, path, payload, code) => {
    const args = ['-m', method, '-B', '5', '-v', '6'];
    if (payload) args.push('-t', '40', '-e', payload);
    const r = await run(coapClient as string, [...args, `coap://127.0.0.1:${server.port}${path}`]);
    expect(r.stdout.toString() + r.stderr).toMatch(new RegExp(`\\bc:${code.source}\\b`)); // the response line, not a log timestamp
    expect(server.registrations.getByEndpoint('y')).toBeUndefined();
  });

  it('garbage datagrams do not disturb it', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    for (const g of [Buffer.from([0xff]), Buffer.from('hello'), Buffer.alloc(0), Buffer.from([0x40, 0x01, 0x00]), Buffer.alloc(1500, 0x42)]) {
      sock.send(g, server.port, '127.0.0.1');
    }
    sock.close();
    const r = await run(coapClient as string, ['-m', 'post', '-t', '40', '-e', '</3/0>', '-B', '5', '-v', '6', `coap://127.0.0.1:${server.port}/rd?ep=z&lt=60`]);
    expect(r.stdout.toString() + r.stderr).toMatch(/\bc:2\.01\b/);
    expect(server.registrations.getByEndpoint('z')?.lwm2mVersion).toBe('1.0');
  });
});
