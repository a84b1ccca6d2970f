import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIFETIME_S,
  MAX_ADDITIONAL_ATTRIBUTES,
  MAX_ENDPOINT_BYTES,
  checkEndpointName,
  parseBindingParam,
  parseRegister,
  parseUpdate,
  routeRegistrationRequest,
  type ParseResult,
  type ParsedRegister,
  type ParsedUpdate,
} from '../../../src/server/registration/parse.js';
import type { RegistrationRequest } from '../../../src/server/registration/request.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const LINKS = '</>;rt="oma.lwm2m";ct="60 110 112 11543",</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>,</3303/1>';

function req(uriQuery: string[], payload: string | Uint8Array = LINKS, over: Partial<RegistrationRequest> = {}): RegistrationRequest {
  const bytes = typeof payload === 'string' ? enc(payload) : payload;
  return {
    method: 'POST',
    uriPath: ['rd'],
    uriQuery,
    payload: bytes,
    ...(bytes.length > 0 ? { contentFormat: 40 } : {}),
    source: { address: '10.0.0.1', port: 40000 },
    ...over,
  };
}

function ok<T>(r: ParseResult<T>): T {
  if (!r.ok) throw new Error(`expected success, got ${r.code}: ${r.diagnostic}`);
  return r.value;
}

function fails<T>(r: ParseResult<T>, code: string, diagnostic: string | RegExp): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.code).toBe(code);
  if (typeof diagnostic === 'string') expect(r.diagnostic).toContain(diagnostic);
  else expect(r.diagnostic).toMatch(diagnostic);
}

const reg = (q: string[], payload?: string | Uint8Array, over?: Partial<RegistrationRequest>): ParseResult<ParsedRegister> =>
  parseRegister(req(q, payload, over));

describe('parseRegister: defaults and a full request', () => {
  it('ep alone: lt 86400, LwM2M 1.0, binding U, no queue mode (Core 1.1 Table 6.2.1-1 defaults)', () => {
    const v = ok(reg(['ep=dev-1']));
    expect(v).toMatchObject({ endpoint: 'dev-1', lifetime: DEFAULT_LIFETIME_S, lwm2mVersion: '1.0', binding: 'U', queueMode: false });
    expect(v.sms).toBeUndefined();
    expect(v.awakeTime).toBeUndefined();
    expect(v.additionalAttributes).toBeUndefined();
    expect(v.links.rootPath).toBe('/');
    expect(v.links.supportedContentFormats).toEqual([60, 110, 112, 11543]);
    expect(v.links.objects).toEqual([
      { objectId: 1, instances: [0] },
      { objectId: 3, instances: [0] },
      { objectId: 3303, version: '1.1', instances: [0, 1] },
    ]);
  });

  it('every parameter of a 1.1 Register, plus unknown ones kept as additional attributes', () => {
    const v = ok(reg(['ep=urn:imei:490154203237518', 'lt=300', 'lwm2m=1.1', 'b=UT', 'Q', 'sms=+33612345678', 'at=30', 'apn=iot', 'flag']));
    expect(v).toMatchObject({
      endpoint: 'urn:imei:490154203237518',
      lifetime: 300,
      lwm2mVersion: '1.1',
      binding: 'UT',
      queueMode: true,
      sms: '+33612345678',
      awakeTime: 30,
      additionalAttributes: { apn: 'iot', flag: '' },
    });
  });

  it('an alternate root path is taken from the payload', () => {
    const v = ok(reg(['ep=a'], '</lwm2m>;rt="oma.lwm2m",</lwm2m/1/0>,</lwm2m/3/0>'));
    expect(v.links.rootPath).toBe('/lwm2m');
    expect(v.links.objects.map((o) => o.objectId)).toEqual([1, 3]);
  });
});

describe('parseRegister: query syntax', () => {
  it.each([
    [['ep=a', 'lt=60', 'lt=70'], 'duplicate query parameter lt'],
    [['ep=a', 'ep=b'], 'duplicate query parameter ep'],
    [['ep=a', 'b=U', 'b=U'], 'duplicate query parameter b'],
    [['ep=a', 'Q', 'Q', 'lwm2m=1.1'], 'duplicate query parameter Q'],
    [['ep=a', '=x'], 'no name'],
  ])('%j → 4.00 (%s)', (q, diag) => {
    fails(reg(q), '4.00', diag);
  });

  it('unknown parameters are ignored: duplicates keep the first value, at most 16 are kept', () => {
    const q = ['ep=a', 'x=1', 'x=2'];
    for (let i = 0; i < 30; i++) q.push(`p${i}=${i}`);
    const v = ok(reg(q));
    expect(v.additionalAttributes?.['x']).toBe('1');
    expect(Object.keys(v.additionalAttributes ?? {})).toHaveLength(MAX_ADDITIONAL_ATTRIBUTES);
  });

  it('a value may contain "="', () => {
    expect(ok(reg(['ep=a=b'])).endpoint).toBe('a=b');
  });
});

describe('parseRegister: ep (Endpoint Client Name)', () => {
  it.each([
    [[], 'missing ep'],
    [['lt=60'], 'missing ep'],
    [['ep'], 'ep needs a value'],
    [['ep='], 'ep needs a value'],
    [['ep=a\u0000b'], 'control character U+0000'],
    [['ep=a\nb'], 'control character U+000A'],
    [['ep=a\u007fb'], 'control character U+007F'],
    [['ep=a\u0085b'], 'control character U+0085'],
    [['ep=a\ud800b'], 'lone surrogate'],
    [['ep=a\udc00'], 'lone surrogate'],
  ])('%j → 4.00 (%s)', (q, diag) => {
    fails(reg(q), '4.00', diag);
  });

  it('any other UTF-8 is accepted (as Leshan): spaces, slashes, accents, CJK, astral characters', () => {
    for (const name of ['my device', 'urn:dev:ops:32473-Refrigerator-5002', 'capteur-été', '日本語', 'emoji-😀', 'a/b?c#d']) {
      expect(ok(reg([`ep=${name}`])).endpoint).toBe(name);
    }
  });

  it(`length is limited to ${MAX_ENDPOINT_BYTES} UTF-8 bytes (one 255-byte Uri-Query option minus "ep=")`, () => {
    expect(ok(reg([`ep=${'a'.repeat(MAX_ENDPOINT_BYTES)}`])).endpoint).toHaveLength(MAX_ENDPOINT_BYTES);
    fails(reg([`ep=${'a'.repeat(MAX_ENDPOINT_BYTES + 1)}`]), '4.00', `ep is 253 bytes long, at most ${MAX_ENDPOINT_BYTES}`);
    // Bytes, not characters: 126 × "é" is 252 bytes; one more ASCII character tips it over.
    expect(checkEndpointName('é'.repeat(126))).toBeUndefined();
    expect(checkEndpointName(`${'é'.repeat(126)}a`)?.code).toBe('4.00');
  });
});

describe('parseRegister: lwm2m (version)', () => {
  it('absent → 1.0; 1.0 and 1.1 accepted', () => {
    expect(ok(reg(['ep=a'])).lwm2mVersion).toBe('1.0');
    expect(ok(reg(['ep=a', 'lwm2m=1.0'])).lwm2mVersion).toBe('1.0');
    expect(ok(reg(['ep=a', 'lwm2m=1.1'])).lwm2mVersion).toBe('1.1');
  });

  it('1.2 → 4.12 Precondition Failed unless the server supports it', () => {
    fails(reg(['ep=a', 'lwm2m=1.2']), '4.12', 'LwM2M version 1.2 is not supported by this server (supported: 1.0, 1.1)');
    const v = ok(parseRegister(req(['ep=a', 'lwm2m=1.2', 'b=UM', 'Q']), { supportedVersions: ['1.0', '1.1', '1.2'] }));
    expect(v).toMatchObject({ lwm2mVersion: '1.2', binding: 'UM', queueMode: true });
  });

  it('a server may refuse 1.0', () => {
    fails(parseRegister(req(['ep=a']), { supportedVersions: ['1.1'] }), '4.12', 'LwM2M version 1.0 is not supported');
  });

  it.each([
    ['lwm2m=2.0', '4.12', 'LwM2M version 2.0 is not supported'],
    ['lwm2m=1.3', '4.12', 'LwM2M version 1.3 is not supported'],
    ['lwm2m=1', '4.00', 'is not a version "major.minor"'],
    ['lwm2m=1.0.2', '4.00', 'is not a version "major.minor"'],
    ['lwm2m=v1.1', '4.00', 'is not a version "major.minor"'],
    ['lwm2m=', '4.00', 'lwm2m needs a value'],
    ['lwm2m', '4.00', 'lwm2m needs a value'],
  ])('%s → %s', (q, code, diag) => {
    fails(reg(['ep=a', q]), code, diag);
  });
});

describe('parseRegister: lt (lifetime)', () => {
  it.each([
    ['lt=1', 1],
    ['lt=60', 60],
    ['lt=00300', 300],
    ['lt=4294967295', 4294967295],
  ])('%s → %d s', (q, lt) => {
    expect(ok(reg(['ep=a', q])).lifetime).toBe(lt);
  });

  it.each([
    ['lt=0', 'lt=0 is out of range 1..4294967295'],
    ['lt=4294967296', 'out of range 1..4294967295'],
    ['lt=-1', 'is not an unsigned decimal integer'],
    ['lt=1.5', 'is not an unsigned decimal integer'],
    ['lt=1e3', 'is not an unsigned decimal integer'],
    ['lt= 60', 'is not an unsigned decimal integer'],
    ['lt=abc', 'is not an unsigned decimal integer'],
    ['lt=12345678901', 'is not an unsigned decimal integer'],
    ['lt=', 'lt needs a value'],
    ['lt', 'lt needs a value'],
  ])('%s → 4.00 (%s)', (q, diag) => {
    fails(reg(['ep=a', q]), '4.00', diag);
  });
});

describe('parseRegister: b (binding) and Q (queue mode)', () => {
  it.each([
    ['U', 'U', false],
    ['UQ', 'U', true],
    ['S', 'S', false],
    ['SQ', 'S', true],
    ['US', 'US', false],
    ['UQS', 'US', true],
  ])('1.0 b=%s → transports %s, queue mode %s (1.0 §5.3.1.1)', (b, transports, queue) => {
    expect(ok(reg(['ep=a', `b=${b}`]))).toMatchObject({ binding: transports, queueMode: queue });
  });

  it.each(['SU', 'SQU', 'QU', 'UT', 'T', 'N', 'u', 'UQQ', 'USQ', 'Q'])('1.0 b=%s → 4.00', (b) => {
    fails(reg(['ep=a', `b=${b}`]), '4.00', 'is not an LwM2M 1.0 binding (U, UQ, S, SQ, US, UQS)');
  });

  it.each(['U', 'T', 'S', 'N', 'UT', 'US', 'UTSN', 'NSTU', 'TN'])('1.1 b=%s accepted as is', (b) => {
    expect(ok(reg(['ep=a', 'lwm2m=1.1', `b=${b}`]))).toMatchObject({ binding: b, queueMode: false });
  });

  it('1.1 queue mode is the bare Q parameter (Core 1.1 Table 6.2.1-1)', () => {
    expect(ok(reg(['ep=a', 'lwm2m=1.1', 'b=U', 'Q']))).toMatchObject({ binding: 'U', queueMode: true });
    expect(ok(reg(['ep=a', 'lwm2m=1.1', 'Q']))).toMatchObject({ binding: 'U', queueMode: true });
  });

  it.each([
    ['UQ', 'in LwM2M 1.1 queue mode is the bare Q parameter'],
    ['UU', 'binding letter U appears twice'],
    ['UTU', 'binding letter U appears twice'],
    ['X', '"X" is not an LwM2M 1.1 binding letter (U, T, S, N)'],
    ['M', '"M" is not an LwM2M 1.1 binding letter'],
    ['H', '"H" is not an LwM2M 1.1 binding letter'],
    ['u', '"u" is not an LwM2M 1.1 binding letter'],
  ])('1.1 b=%s → 4.00 (%s)', (b, diag) => {
    fails(reg(['ep=a', 'lwm2m=1.1', `b=${b}`]), '4.00', diag);
  });

  it('b needs a value', () => {
    fails(reg(['ep=a', 'b=']), '4.00', 'b needs a value');
    fails(reg(['ep=a', 'b']), '4.00', 'b needs a value');
  });

  it('Q takes no value, and is not a 1.0 parameter', () => {
    fails(reg(['ep=a', 'lwm2m=1.1', 'Q=1']), '4.00', 'Q is a flag and takes no value');
    fails(reg(['ep=a', 'lwm2m=1.1', 'Q=']), '4.00', 'Q is a flag and takes no value');
    fails(reg(['ep=a', 'b=U', 'Q']), '4.00', 'in 1.0 queue mode is the Q letter of b (b=UQ)');
  });

  it('parseBindingParam on its own', () => {
    expect(parseBindingParam('UQS', '1.0')).toEqual({ transports: 'US', queueMode: true });
    expect(parseBindingParam('UTSNMH', '1.2')).toEqual({ transports: 'UTSNMH', queueMode: false });
  });
});

describe('parseRegister: sms and at', () => {
  it.each(['+33612345678', '0612345678', '1', '123456789012345', '+123456789012345'])('sms=%s accepted', (sms) => {
    expect(ok(reg(['ep=a', 'b=US', `sms=${sms}`])).sms).toBe(sms);
  });

  it.each([
    ['sms=abc', 'is not an MSISDN'],
    ['sms=1234567890123456', 'is not an MSISDN'],
    ['sms=+', 'is not an MSISDN'],
    ['sms=++33', 'is not an MSISDN'],
    ['sms=33 61', 'is not an MSISDN'],
    ['sms=', 'sms needs a value'],
  ])('%s → 4.00', (q, diag) => {
    fails(reg(['ep=a', q]), '4.00', diag);
  });

  it('an S binding without sms is accepted (the MSISDN may be provisioned out of band)', () => {
    expect(ok(reg(['ep=a', 'b=S'])).sms).toBeUndefined();
  });

  it.each([
    ['at=0', 0],
    ['at=30', 30],
  ])('%s → awake time %d s', (q, at) => {
    expect(ok(reg(['ep=a', q])).awakeTime).toBe(at);
  });

  it.each([
    ['at=-1', 'is not an unsigned decimal integer'],
    ['at=1.5', 'is not an unsigned decimal integer'],
    ['at=', 'at needs a value'],
  ])('%s → 4.00', (q, diag) => {
    fails(reg(['ep=a', q]), '4.00', diag);
  });
});

describe('parseRegister: payload', () => {
  it('missing payload → 4.00', () => {
    fails(reg(['ep=a'], ''), '4.00', 'Register needs the objects payload');
  });

  it('Content-Format absent or not 40 → 4.00 (4.15 is not in the Register response table)', () => {
    fails(parseRegister({ ...req(['ep=a']), contentFormat: undefined }), '4.00', 'needs Content-Format 40');
    fails(reg(['ep=a'], LINKS, { contentFormat: 0 }), '4.00', 'must be Content-Format 40 (application/link-format), not 0');
    fails(reg(['ep=a'], LINKS, { contentFormat: 11543 }), '4.00', 'not 11543');
  });

  it.each([
    ['</3/0/1>', 'below instance level'],
    ['</3/0>,garbage', "expected '<' to start a link"],
    ['</a/b>', 'is not an LwM2M path'],
    ['</3>;ver=x', 'is not a version'],
    ['</>;rt="oma.lwm2m";ct=x', 'is not a content format number'],
  ])('bad links %j → 4.00 (%s)', (payload, diag) => {
    fails(reg(['ep=a'], payload), '4.00', new RegExp(`^bad objects payload: .*${diag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('invalid UTF-8 → 4.00', () => {
    fails(reg(['ep=a'], new Uint8Array([0x3c, 0x2f, 0x33, 0xff, 0x3e])), '4.00', 'not valid UTF-8');
  });

  it('Security (0) and OSCORE (21) objects are dropped, or refused with securityObjects: reject', () => {
    expect(ok(reg(['ep=a'], '</0/0>,</1/0>,</21/0>,</3/0>')).links.objects.map((o) => o.objectId)).toEqual([1, 3]);
    fails(parseRegister(req(['ep=a'], '</0/0>,</1/0>'), { securityObjects: 'reject' }), '4.00', 'must not be part of the registration list');
  });

  it('maxLinks caps the payload', () => {
    fails(parseRegister(req(['ep=a'], '</1/0>,</3/0>,</4/0>'), { maxLinks: 2 }), '4.00', 'more than 2 links');
  });

  it('checks run in order: query, ep, lwm2m, lt, b, Q, sms, at, payload', () => {
    fails(reg(['lt=x', 'b=Z'], ''), '4.00', 'missing ep');
    fails(reg(['ep=a', 'lwm2m=1.2', 'lt=x'], ''), '4.12', '1.2');
    fails(reg(['ep=a', 'lt=x', 'b=Z'], ''), '4.00', 'lt=');
    fails(reg(['ep=a', 'b=Z', 'sms=x'], ''), '4.00', 'b=');
    fails(reg(['ep=a', 'sms=x', 'at=x'], ''), '4.00', 'sms=');
    fails(reg(['ep=a', 'at=x'], ''), '4.00', 'at=');
  });

  it('diagnostics quote client input and cut it short', () => {
    const r = reg(['ep=a', `lt=${'9'.repeat(100)}`]);
    fails(r, '4.00', '…');
    if (!r.ok) expect(r.diagnostic.length).toBeLessThan(120);
  });
});

describe('parseUpdate', () => {
  const upd = (q: string[], payload = '', version: '1.0' | '1.1' = '1.1', over: Partial<RegistrationRequest> = {}): ParseResult<ParsedUpdate> =>
    parseUpdate(req(q, payload, { uriPath: ['rd', 'x'], ...over }), version);

  it('an empty Update changes nothing (a "keep-alive")', () => {
    expect(ok(upd([]))).toEqual({});
  });

  it('lt, b, sms, at and the payload are all optional', () => {
    const v = ok(upd(['lt=120', 'b=UT', 'sms=123', 'at=5'], '</1/0>,</3/0>,</5/0>'));
    expect(v).toMatchObject({ lifetime: 120, binding: 'UT', sms: '123', awakeTime: 5 });
    expect(v.queueMode).toBeUndefined();
    expect(v.links?.objects.map((o) => o.objectId)).toEqual([1, 3, 5]);
  });

  it('1.1: a bare Q turns queue mode on; its absence leaves it unchanged', () => {
    expect(ok(upd(['Q'])).queueMode).toBe(true);
    expect(ok(upd(['b=U', 'Q']))).toMatchObject({ binding: 'U', queueMode: true });
    expect(ok(upd(['b=U'])).queueMode).toBeUndefined();
  });

  it('1.0: queue mode follows the Q letter of b', () => {
    expect(ok(upd(['b=UQ'], '', '1.0'))).toMatchObject({ binding: 'U', queueMode: true });
    expect(ok(upd(['b=U'], '', '1.0'))).toMatchObject({ binding: 'U', queueMode: false });
    expect(ok(upd(['lt=60'], '', '1.0')).queueMode).toBeUndefined();
    fails(upd(['Q'], '', '1.0'), '4.00', 'in 1.0 queue mode is the Q letter of b');
  });

  it('binding rules follow the registered version', () => {
    fails(upd(['b=UQ'], '', '1.1'), '4.00', 'in LwM2M 1.1 queue mode is the bare Q parameter');
    fails(upd(['b=UT'], '', '1.0'), '4.00', 'is not an LwM2M 1.0 binding');
  });

  it.each([
    [['lt=0'], 'out of range'],
    [['lt=x'], 'is not an unsigned decimal integer'],
    [['lt=60', 'lt=60'], 'duplicate query parameter lt'],
    [['sms=x'], 'is not an MSISDN'],
    [['at=-2'], 'is not an unsigned decimal integer'],
    [['Q=yes'], 'Q is a flag'],
    [['b='], 'b needs a value'],
  ])('%j → 4.00 (%s)', (q, diag) => {
    fails(upd(q), '4.00', diag);
  });

  it('a payload needs Content-Format 40 and valid links', () => {
    fails(parseUpdate({ ...req([], '</3/0>', { uriPath: ['rd', 'x'] }), contentFormat: undefined }, '1.1'), '4.00', 'needs Content-Format 40');
    fails(upd([], '</3/0>', '1.1', { contentFormat: 42 }), '4.00', 'not 42');
    fails(upd([], '</3/0/0>'), '4.00', 'bad objects payload');
  });

  it('ep and lwm2m are not Update parameters: kept as additional attributes, not validated', () => {
    expect(ok(upd(['ep=other', 'lwm2m=9.9'])).additionalAttributes).toEqual({ ep: 'other', lwm2m: '9.9' });
  });
});

describe('routeRegistrationRequest', () => {
  it.each([
    ['POST', ['rd'], { kind: 'register' }],
    ['POST', ['rd', 'abc'], { kind: 'update', registrationId: 'abc' }],
    ['DELETE', ['rd', 'abc'], { kind: 'deregister', registrationId: 'abc' }],
  ] as const)('%s /%j', (method, uriPath, route) => {
    expect(routeRegistrationRequest({ method, uriPath: [...uriPath] })).toEqual(route);
  });

  it.each([
    ['GET', ['rd'], '4.05'],
    ['DELETE', ['rd'], '4.05'],
    ['PUT', ['rd', 'abc'], '4.05'],
    ['GET', ['rd', 'abc'], '4.05'],
    ['POST', ['rd', 'abc', 'x'], '4.04'],
    ['POST', ['bs'], '4.04'],
    ['POST', [], '4.04'],
    ['POST', ['rd', ''], '4.04'],
  ] as const)('%s /%j → %s', (method, uriPath, code) => {
    const r = routeRegistrationRequest({ method, uriPath: [...uriPath] });
    expect('ok' in r && r.ok === false && r.code).toBe(code);
  });
});
