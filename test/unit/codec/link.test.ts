import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_LINKS,
  formatDiscoverLinks,
  formatLinkFormat,
  formatRegistrationLinks,
  parseDiscoverLinks,
  parseLinkFormat,
  parseRegistrationLinks,
  type DiscoverAttributes,
  type DiscoverEntry,
  type Link,
  type LinkAttrValue,
  type RegisteredObject,
} from '../../../src/codec/link.js';
import { LwM2MError, isLwM2MError } from '../../../src/core/errors.js';
import { LwM2MPath } from '../../../src/core/path.js';
import { fuzzDecoder } from '../../helpers/fuzz.js';

// ----------------------------------------------------------------------------------------------------
// helpers

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Links as plain nested arrays, so comparisons also check attribute order (Map equality does not). */
function plain(links: readonly Link[]): Array<[string, Array<[string, LinkAttrValue[]]>]> {
  return links.map((l) => [l.uri, [...l.attributes]]);
}

function link(uri: string, attrs: Array<[string, LinkAttrValue[]]> = []): Link {
  return { uri, attributes: new Map(attrs) };
}

/** Runs `f`, expects an LwM2MError BAD_LINK 4.00, returns it. */
function badLink(f: () => unknown): LwM2MError {
  try {
    f();
  } catch (e) {
    expect(isLwM2MError(e), String(e)).toBe(true);
    const err = e as LwM2MError;
    expect(err.kind).toBe('BAD_LINK');
    expect(err.code).toBe('LWM2M_BAD_LINK');
    expect(err.coapCode).toBe('4.00');
    return err;
  }
  throw new Error('expected a BAD_LINK error, nothing was thrown');
}

function expectBad(f: () => unknown, location: string, detail: RegExp): void {
  const err = badLink(f);
  expect(err.location).toBe(location);
  expect(err.detail).toMatch(detail);
  expect(err.message).toBe(`${location}: ${err.detail}`);
}

const p = (...ids: number[]): LwM2MPath => LwM2MPath.of(...ids);
const entry = (path: LwM2MPath, attributes: DiscoverAttributes = {}, extensions?: Array<[string, LinkAttrValue[]]>): DiscoverEntry =>
  extensions ? { path, attributes, extensions: new Map(extensions) } : { path, attributes };

// ----------------------------------------------------------------------------------------------------
// RFC 6690 generic

describe('parseLinkFormat — RFC 6690 §5 examples', () => {
  it('§5 GET /.well-known/core listing (line breaks are for readability only)', () => {
    const payload = '</sensors/temp>;if="sensor",\n</sensors/light>;if="sensor"';
    expect(plain(parseLinkFormat(payload))).toEqual([
      ['/sensors/temp', [['if', ['sensor']]]],
      ['/sensors/light', [['if', ['sensor']]]],
    ]);
  });

  it('§1.2.1-style rt/if list with a space after the comma', () => {
    const payload = '</sensors/temp>;rt="temperature-c";if="sensor", </sensors/light>;rt="light-lux";if="sensor"';
    expect(plain(parseLinkFormat(payload))).toEqual([
      ['/sensors/temp', [['rt', ['temperature-c']], ['if', ['sensor']]]],
      ['/sensors/light', [['rt', ['light-lux']], ['if', ['sensor']]]],
    ]);
  });

  it('§5 example with ct, title, absolute URI, anchor and rel — as printed (line break before ;rel)', () => {
    const printed =
      '</sensors>;ct=40;title="Sensor Index",\n' +
      '</sensors/temp>;rt="temperature-c";if="sensor",\n' +
      '</sensors/light>;rt="light-lux";if="sensor",\n' +
      '<http://www.example.com/sensors/t123>;anchor="/sensors/temp"\n' +
      ';rel="describedby",\n' +
      '</t>;anchor="/sensors/temp";rel="alternate"';
    const expected = [
      ['/sensors', [['ct', ['40']], ['title', ['Sensor Index']]]],
      ['/sensors/temp', [['rt', ['temperature-c']], ['if', ['sensor']]]],
      ['/sensors/light', [['rt', ['light-lux']], ['if', ['sensor']]]],
      ['http://www.example.com/sensors/t123', [['anchor', ['/sensors/temp']], ['rel', ['describedby']]]],
      ['/t', [['anchor', ['/sensors/temp']], ['rel', ['alternate']]]],
    ];
    const links = parseLinkFormat(printed);
    expect(plain(links)).toEqual(expected);
    // The wire form (no line breaks) is exactly what the formatter produces.
    const wire = printed.replace(/\n/g, '');
    expect(formatLinkFormat(links)).toBe(wire);
    expect(plain(parseLinkFormat(wire))).toEqual(expected);
  });

  it('§5 firmware example with sz', () => {
    const payload = '</firmware/v2.1>;rt="firmware";sz=262144';
    expect(plain(parseLinkFormat(payload))).toEqual([['/firmware/v2.1', [['rt', ['firmware']], ['sz', ['262144']]]]]);
    expect(formatLinkFormat(parseLinkFormat(payload))).toBe(payload);
  });

  it('§2 relation-types list in one quoted value', () => {
    const [l] = parseLinkFormat('</x>;rel="start http://example.net/relation/other"');
    expect(l?.attributes.get('rel')).toEqual(['start http://example.net/relation/other']);
  });
});

describe('parseLinkFormat — syntax details', () => {
  it('empty and whitespace-only payloads are an empty list', () => {
    expect(parseLinkFormat('')).toEqual([]);
    expect(parseLinkFormat(' \r\n\t ')).toEqual([]);
    expect(parseLinkFormat(new Uint8Array())).toEqual([]);
  });

  it('quoted strings: escaped quote and backslash, commas and semicolons inside, empty string', () => {
    const [l] = parseLinkFormat('</a>;title="say \\"hi\\", then; go \\\\ home";e=""');
    expect(l?.attributes.get('title')).toEqual(['say "hi", then; go \\ home']);
    expect(l?.attributes.get('e')).toEqual(['']);
  });

  it('a backslash escapes any character (RFC 2616 quoted-pair), including a surrogate pair', () => {
    const [l] = parseLinkFormat('</a>;t="\\a\\😀b"');
    expect(l?.attributes.get('t')).toEqual(['a😀b']);
  });

  it('tokens: every ptokenchar, including < = > ? / : and quotes not allowed', () => {
    const [l] = parseLinkFormat("</a>;x=!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~");
    expect(l?.attributes.get('x')).toEqual(["!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~"]);
  });

  it('valueless attributes and repeated attributes keep every value in order', () => {
    const [l] = parseLinkFormat('</3/0/1>;obs;rt="a";rt=b;obs;ct=0');
    expect([...(l?.attributes ?? [])]).toEqual([
      ['obs', [null, null]],
      ['rt', ['a', 'b']],
      ['ct', ['0']],
    ]);
  });

  it('ext-name-star attributes (RFC 5987) such as title*', () => {
    const [l] = parseLinkFormat("</a>;title*=UTF-8'de'n%c3%a4chstes");
    expect(l?.attributes.get('title*')).toEqual(["UTF-8'de'n%c3%a4chstes"]);
  });

  it('tolerates whitespace around , ; = and at both ends, as real clients and the TS examples send', () => {
    const spaced = '  </1/0> ;\tver = 1.1 ; obs ,\r\n </3/0>  ;  title = "a b"  ,</5>  ';
    expect(plain(parseLinkFormat(spaced))).toEqual([
      ['/1/0', [['ver', ['1.1']], ['obs', [null]]]],
      ['/3/0', [['title', ['a b']]]],
      ['/5', []],
    ]);
  });

  it('keeps attribute names case-sensitive and URIs undecoded', () => {
    const [l] = parseLinkFormat('</a%20b?q=1#f>;RT=x');
    expect(l?.uri).toBe('/a%20b?q=1#f');
    expect([...(l?.attributes.keys() ?? [])]).toEqual(['RT']);
  });

  it('accepts an empty target <> (an empty URI-Reference)', () => {
    expect(plain(parseLinkFormat('<>;a=1'))).toEqual([['', [['a', ['1']]]]]);
  });

  it('decodes bytes as strict UTF-8 (Uint8Array and Buffer), non-ASCII allowed in quoted values', () => {
    const text = '</s>;title="Température 😀",</t>';
    const expected = [
      ['/s', [['title', ['Température 😀']]]],
      ['/t', []],
    ];
    expect(plain(parseLinkFormat(enc(text)))).toEqual(expected);
    expect(plain(parseLinkFormat(Buffer.from(text, 'utf8')))).toEqual(expected);
    expect(plain(parseLinkFormat(text))).toEqual(expected);
  });

  it('a leading BOM is not swallowed: it is an error at char 0', () => {
    expectBad(() => parseLinkFormat(enc('\uFEFF</a>')), 'char 0', /expected '<'.*U\+FEFF/);
  });

  it('accepts exactly maxLinks links', () => {
    const payload = Array.from({ length: MAX_LINKS }, (_, i) => `</${i}>`).join(',');
    expect(parseLinkFormat(payload)).toHaveLength(MAX_LINKS);
    expect(parseLinkFormat('</a>,</b>', { maxLinks: 2 })).toHaveLength(2);
  });
});

describe('parseLinkFormat — errors carry the character offset', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['</a>;', 'char 5', /expected an attribute name, got end of input/],
    ['</a>,', 'char 5', /expected '<' to start a link, got end of input/],
    ['</a>,,</b>', 'char 5', /expected '<' to start a link, got ','/],
    ['a', 'char 0', /expected '<' to start a link, got 'a'/],
    ['</a', 'char 0', /unterminated '<'/],
    ['</a b>', 'char 3', /' ' is not allowed in a link target/],
    ['</é>', 'char 2', /U\+00E9 is not allowed in a link target/],
    ['</a"b>', 'char 3', /'"' is not allowed/],
    ['</a%2>', 'char 3', /'%' in a link target is not followed by two hex digits/],
    ['</a%zz>', 'char 3', /'%'/],
    ['</a> </b>', 'char 5', /expected ',' or ';', got '<'/],
    ['</a>;rt="x"y', 'char 11', /expected ',' or ';', got 'y'/],
    ['</a>;r t=1', 'char 7', /expected ',' or ';', got 't'/],
    ['</a>;=1', 'char 5', /expected an attribute name, got '='/],
    ['</a>;rt=', 'char 8', /expected a value after '=', got end of input/],
    ['</a>;rt=,</b>', 'char 8', /expected a value after '=', got ','/],
    ['</a>;x=é', 'char 7', /expected a value after '=', got U\+00E9/],
    ['</a>;x=a\\b', 'char 8', /expected ',' or ';', got '\\'/],
    ['</a>;rt="x', 'char 8', /unterminated quoted string/],
    ['</a>;rt="x\\', 'char 8', /unterminated quoted string/],
    ['</a>;x="\u0001"', 'char 8', /control character U\+0001/],
    ['</a>;x="a\nb"', 'char 9', /control character U\+000A/],
    ['</a>;x="\u007f"', 'char 8', /control character U\+007F/],
    ['</a>;x="\\\u0000"', 'char 9', /control character U\+0000/],
    ['</a>;x="\ud800"', 'char 8', /lone surrogate/],
    ['</a>;x="\udc00x"', 'char 8', /lone surrogate/],
    ['</a>;x="ab\ud83d"', 'char 10', /lone surrogate/],
  ];
  it.each(cases)('%j → %s', (input, location, detail) => {
    expectBad(() => parseLinkFormat(input), location, detail);
  });

  it('invalid UTF-8 is located at its byte offset', () => {
    const bad: Array<[number[], string]> = [
      [[0x3c, 0x2f, 0xff, 0x3e], 'byte 2'], // never valid
      [[0x3c, 0x2f, 0x61, 0xc3], 'byte 3'], // truncated 2-byte sequence
      [[0x3c, 0xc0, 0xaf], 'byte 1'], // overlong '/'
      [[0x3c, 0xed, 0xa0, 0x80], 'byte 1'], // UTF-16 surrogate encoded in UTF-8
      [[0x3c, 0xf4, 0x90, 0x80, 0x80], 'byte 1'], // above U+10FFFF
      [[0x3c, 0xe2, 0x82], 'byte 1'], // truncated 3-byte sequence
    ];
    for (const [bytes, location] of bad) {
      const err = badLink(() => parseLinkFormat(Uint8Array.from(bytes)));
      expect(err.location).toBe(location);
      expect(err.detail).toMatch(/not valid UTF-8/);
    }
  });

  it('more than maxLinks links is an error at the first link over the limit', () => {
    expectBad(() => parseLinkFormat('</a>,</b>,</c>', { maxLinks: 2 }), 'char 10', /more than 2 links/);
    const tooMany = Array.from({ length: MAX_LINKS + 1 }, () => '</1>').join(',');
    expectBad(() => parseLinkFormat(tooMany), `char ${MAX_LINKS * 5}`, /more than 4096 links/);
  });

  it('a payload that is neither string nor bytes is BAD_LINK, not a TypeError', () => {
    badLink(() => parseLinkFormat(42 as unknown as string));
    badLink(() => parseLinkFormat(null as unknown as string));
  });

  it('handles 1 MB adversarial inputs (a backtracking scanner would time the test out)', () => {
    const big = 1_000_000;
    const inputs: Array<[string, boolean]> = [
      [`<${'a'.repeat(big)}`, false],
      [`</a>;x="${'a'.repeat(big)}`, false],
      [`</a>;x="${'\\"'.repeat(big / 2)}"`, true],
      [`</a>${';x'.repeat(big / 2)}`, true],
      [`</a>${';x=1'.repeat(big / 4)}`, true],
      [' '.repeat(big), true],
      [`</a>${' '.repeat(big)}x`, false],
      ['</a>,'.repeat(big / 5), false],
    ];
    for (const [input, ok] of inputs) {
      if (ok) parseLinkFormat(input);
      else badLink(() => parseLinkFormat(input));
    }
  });
});

describe('formatLinkFormat', () => {
  it('writes tokens bare, quotes what is not a token, always quotes anchor/title/rel/rev/rt/if', () => {
    const out = formatLinkFormat([
      link('/a', [
        ['rt', ['x']],
        ['if', ['s']],
        ['ct', ['40']],
        ['tok', ['a<b>=c']],
        ['sp', ['a b']],
        ['esc', ['q"b\\s']],
        ['empty', ['']],
        ['obs', [null]],
        ['multi', ['1', null, '2']],
      ]),
      link('/b'),
    ]);
    expect(out).toBe('</a>;rt="x";if="s";ct=40;tok=a<b>=c;sp="a b";esc="q\\"b\\\\s";empty="";obs;multi=1;multi;multi=2,</b>');
  });

  it('formats an empty list as an empty string', () => {
    expect(formatLinkFormat([])).toBe('');
  });

  it('rejects what cannot be written', () => {
    for (const bad of [
      [link('/a b')],
      [link('/a>')],
      [link('/a%2')],
      [link('/é')],
      [link('/a', [['r t', ['1']]])],
      [link('/a', [['', ['1']]])],
      [link('/a', [['*', ['1']]])],
      [link('/a', [['x', ['a\u0001']]])],
      [link('/a', [['x', ['\ud800']]])],
      [link('/a', [['x', [1 as unknown as string]]])],
    ]) {
      const err = badLink(() => formatLinkFormat(bad));
      expect(err.detail).toMatch(/^cannot format link/);
    }
  });
});

// ----------------------------------------------------------------------------------------------------
// Property tests: generic round trip

const URI_CHARS = [..."ABCXYZabcxyz0189-._~:/?#[]@!$&'()*+,;="];
const PARM_CHARS = [...'ABZabz09!#$&+-.^_`|~'];
const VALUE_UNIT = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('"', '\\', ',', ';', ' ', '\t', '<', '>', '=', 'é', '€', '😀', '\u0085'),
);

const uriArb = fc
  .array(fc.oneof(fc.constantFrom(...URI_CHARS), fc.constantFrom('%41', '%c3%A9')), { maxLength: 12 })
  .map((parts) => parts.join(''));
const nameArb = fc
  .tuple(fc.array(fc.constantFrom(...PARM_CHARS), { minLength: 1, maxLength: 6 }), fc.boolean())
  .map(([chars, star]) => chars.join('') + (star ? '*' : ''));
const valueArb: fc.Arbitrary<LinkAttrValue> = fc.oneof(
  fc.constant(null),
  fc.string({ unit: VALUE_UNIT, maxLength: 10 }),
  fc.string({ unit: fc.constantFrom(...'abc019.-:/'), minLength: 1, maxLength: 6 }),
);
const linkArb: fc.Arbitrary<Link> = fc
  .tuple(uriArb, fc.uniqueArray(fc.tuple(nameArb, fc.array(valueArb, { minLength: 1, maxLength: 3 })), { selector: ([n]) => n, maxLength: 5 }))
  .map(([uri, attrs]) => link(uri, attrs));

describe('link format round trip (fast-check)', () => {
  it('parseLinkFormat(formatLinkFormat(links)) gives back the links, attribute order included', () => {
    fc.assert(
      fc.property(fc.array(linkArb, { maxLength: 6 }), (links) => {
        const text = formatLinkFormat(links);
        expect(plain(parseLinkFormat(text))).toEqual(plain(links));
        expect(plain(parseLinkFormat(enc(text)))).toEqual(plain(links));
        // and formatting is a fixed point
        expect(formatLinkFormat(parseLinkFormat(text))).toBe(text);
      }),
      { numRuns: 1000, seed: 6690 },
    );
  });

  it('whitespace after separators does not change the parse', () => {
    fc.assert(
      fc.property(fc.array(linkArb, { minLength: 1, maxLength: 4 }), fc.constantFrom(' ', '\r\n', '\t '), (links, ws) => {
        // Rebuild the payload with whitespace around every top-level , and ; (outside quotes and <>).
        const text = formatLinkFormat(links);
        let spaced = '';
        let inQuote = false;
        let inUri = false;
        for (let i = 0; i < text.length; i++) {
          const c = text[i] as string;
          if (inQuote) {
            spaced += c;
            if (c === '\\') spaced += text[++i] ?? '';
            else if (c === '"') inQuote = false;
          } else if (inUri) {
            spaced += c;
            if (c === '>') inUri = false;
          } else if (c === '"') {
            inQuote = true;
            spaced += c;
          } else if (c === '<' && (i === 0 || text[i - 1] === ',')) {
            inUri = true;
            spaced += c;
          } else if (c === ',' || c === ';') {
            spaced += `${ws}${c}${ws}`;
          } else {
            spaced += c;
          }
        }
        expect(plain(parseLinkFormat(`${ws}${spaced}${ws}`))).toEqual(plain(links));
      }),
      { numRuns: 500, seed: 8288 },
    );
  });

  it('any string input either parses or fails with BAD_LINK 4.00 (including lone surrogates)', () => {
    const linkish = fc.string({ unit: fc.constantFrom('<', '>', '/', '1', ';', ',', '=', '"', '\\', ' ', 'a', '\ud800', '\udc00', '%'), maxLength: 40 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), linkish), (s) => {
        try {
          parseLinkFormat(s);
          parseRegistrationLinks(s);
          parseDiscoverLinks(s);
        } catch (e) {
          expect(isLwM2MError(e) && e.kind === 'BAD_LINK' && e.coapCode === '4.00', String(e)).toBe(true);
        }
      }),
      { numRuns: 3000, seed: 42 },
    );
  });
});

// ----------------------------------------------------------------------------------------------------
// Registration

describe('parseRegistrationLinks', () => {
  it('the 1.1 example: root link with rt and ct, instances, object version on the object link', () => {
    const payload = '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>';
    expect(parseRegistrationLinks(payload)).toEqual({
      rootPath: '/',
      supportedContentFormats: [11543],
      objects: [
        { objectId: 1, instances: [0] },
        { objectId: 3, instances: [0] },
        { objectId: 3303, version: '1.1', instances: [0] },
      ],
    });
    expect(formatRegistrationLinks(parseRegistrationLinks(payload))).toBe(payload);
  });

  it('Core 1.0 §5.3.1 examples: objects only; instances; </>;ct=11543 without rt (spaces as printed)', () => {
    expect(parseRegistrationLinks('</1>, </2>, </3>, </4>, </5>').objects).toEqual(
      [1, 2, 3, 4, 5].map((objectId) => ({ objectId, instances: [] })),
    );
    const withInstances = '</1/0>,</1/1>,</2/0>,</2/1>,</2/2>,</2/3>,</2/4>,</3/0>,</4/0>,</5>';
    const expectedObjects = [
      { objectId: 1, instances: [0, 1] },
      { objectId: 2, instances: [0, 1, 2, 3, 4] },
      { objectId: 3, instances: [0] },
      { objectId: 4, instances: [0] },
      { objectId: 5, instances: [] },
    ];
    expect(parseRegistrationLinks(withInstances)).toEqual({ rootPath: '/', supportedContentFormats: [], objects: expectedObjects });
    expect(formatRegistrationLinks(parseRegistrationLinks(withInstances))).toBe(withInstances);
    expect(parseRegistrationLinks(`</>;ct=11543, ${withInstances}`)).toEqual({
      rootPath: '/',
      supportedContentFormats: [11543],
      objects: expectedObjects,
    });
  });

  it('alternate path (Core 1.1 §6.2.1.1 / 1.0 §6.5 example, reconstructed): </lwm2m>;rt="oma.lwm2m" then </lwm2m/…>', () => {
    const payload =
      '</lwm2m>;rt="oma.lwm2m", </lwm2m/1/101>, </lwm2m/1/102>, </lwm2m/2/0>, </lwm2m/2/1>, </lwm2m/2/2>, </lwm2m/3/0>, </lwm2m/4/0>, </lwm2m/5>';
    const reg = parseRegistrationLinks(payload);
    expect(reg).toEqual({
      rootPath: '/lwm2m',
      supportedContentFormats: [],
      objects: [
        { objectId: 1, instances: [101, 102] },
        { objectId: 2, instances: [0, 1, 2] },
        { objectId: 3, instances: [0] },
        { objectId: 4, instances: [0] },
        { objectId: 5, instances: [] },
      ],
    });
    expect(formatRegistrationLinks(reg)).toBe(payload.replace(/ /g, ''));
    // the root link may come anywhere, carry ct, and have a trailing slash
    expect(parseRegistrationLinks('</lwm2m/3/0>,</lwm2m/>;ct=60;rt="oma.lwm2m"')).toEqual({
      rootPath: '/lwm2m',
      supportedContentFormats: [60],
      objects: [{ objectId: 3, instances: [0] }],
    });
  });

  it('Leshan: quoted ct list, objects with ver and separate instance links', () => {
    const payload = '</>;rt="oma.lwm2m";ct="60 110 112 11542 11543",</1/0>,</3>;ver=1.2,</3/0>';
    const reg = parseRegistrationLinks(payload);
    expect(reg.supportedContentFormats).toEqual([60, 110, 112, 11542, 11543]);
    expect(reg.objects).toEqual([
      { objectId: 1, instances: [0] },
      { objectId: 3, version: '1.2', instances: [0] },
    ]);
    expect(formatRegistrationLinks(reg)).toBe(payload);
  });

  it('Wakaama: single ct, ver on object links', () => {
    const payload = '</>;rt="oma.lwm2m";ct=110,</1>;ver=1.1,</1/0>,</2/0>,</3/0>';
    expect(formatRegistrationLinks(parseRegistrationLinks(payload))).toBe(payload);
  });

  it('Wakaama alternate-path quirk: </alt> announced but object links unprefixed', () => {
    expect(parseRegistrationLinks('</alt>;rt="oma.lwm2m";ct=110,</1>;ver=1.1,</1/0>,</alt/3/0>')).toEqual({
      rootPath: '/alt',
      supportedContentFormats: [110],
      objects: [
        { objectId: 1, version: '1.1', instances: [0] },
        { objectId: 3, instances: [0] },
      ],
    });
  });

  it('Anjay on 1.0: quoted ver; Anjay Lite: no root link at all', () => {
    expect(parseRegistrationLinks('</1/0>,</3>;ver="1.1",</3/0>').objects).toEqual([
      { objectId: 1, instances: [0] },
      { objectId: 3, version: '1.1', instances: [0] },
    ]);
    expect(parseRegistrationLinks('</1>;ver=1.2,</1/0>,</3/0>')).toEqual({
      rootPath: '/',
      supportedContentFormats: [],
      objects: [
        { objectId: 1, version: '1.2', instances: [0] },
        { objectId: 3, instances: [0] },
      ],
    });
  });

  it('merges duplicate and out-of-order entries; ignores unknown attributes and ct off the root (§6.2.1)', () => {
    expect(parseRegistrationLinks('</3/1>,</3>;ver=1.1,</3/0>;rt="x";obs,</3/1>,</3>;ver=1.1,</2>;ct=40').objects).toEqual([
      { objectId: 2, instances: [] },
      { objectId: 3, version: '1.1', instances: [0, 1] },
    ]);
  });

  it('ver=1.0 given explicitly is kept as given', () => {
    expect(parseRegistrationLinks('</3>;ver=1.0,</3/0>').objects).toEqual([{ objectId: 3, version: '1.0', instances: [0] }]);
  });

  it('rt may hold several types; the root is the one containing oma.lwm2m', () => {
    expect(parseRegistrationLinks('</rd-root>;rt="core.rd oma.lwm2m",</3/0>;rt="oma.lwm2m.x"').rootPath).toBe('/rd-root');
  });

  it('Security (/0) and OSCORE (/21) links are ignored by default and rejected on demand', () => {
    const payload = '</0/0>,</0/1>,</1/0>,</21>;ver=2.0,</21/0>,</3/0>';
    expect(parseRegistrationLinks(payload).objects).toEqual([
      { objectId: 1, instances: [0] },
      { objectId: 3, instances: [0] },
    ]);
    expect(parseRegistrationLinks(payload, { securityObjects: 'ignore' }).objects.map((o) => o.objectId)).toEqual([1, 3]);
    expectBad(() => parseRegistrationLinks(payload, { securityObjects: 'reject' }), 'char 0', /object 0 must not be part of the registration list/);
    expectBad(() => parseRegistrationLinks('</1/0>,</21/0>', { securityObjects: 'reject' }), 'char 7', /object 21/);
  });

  it('accepts bytes', () => {
    expect(parseRegistrationLinks(enc('</3/0>')).objects).toEqual([{ objectId: 3, instances: [0] }]);
  });

  const errors: Array<[string, string, RegExp]> = [
    ['</3/0>;ver=1.1', 'char 7', /ver is only allowed on object links, not on instance links/],
    ['</>;rt="oma.lwm2m";ver=1.1', 'char 19', /ver is only allowed on object links/],
    ['</3>;ver=1', 'char 5', /ver "1" is not a version/],
    ['</3>;ver=1.1.1', 'char 5', /not a version/],
    ['</3>;ver=v1.1', 'char 5', /not a version/],
    ['</3>;ver', 'char 5', /ver needs a value/],
    ['</3>;ver=1.1;ver=1.2', 'char 13', /ver appears twice/],
    ['</3>;ver=1.1,</3>;ver=1.2', 'char 18', /object 3 is listed with versions 1.1 and 1.2/],
    ['</1/0>,</3/0/1>', 'char 7', /below instance level/],
    ['<3/0>', 'char 0', /not an absolute LwM2M path/],
    ['</sensors/temp>', 'char 0', /not an LwM2M path/],
    ['</3/70000>', 'char 0', /not an LwM2M path.*exceeds 65535/],
    ['</3//0>', 'char 0', /not an LwM2M path/],
    ['</>;rt="oma.lwm2m",</lwm2m>;rt="oma.lwm2m"', 'char 19', /more than one link has rt="oma.lwm2m"/],
    ['</>;ct=11543,</>', 'char 13', /a second root link/],
    ['</lwm2m>;rt="oma.lwm2m",</>', 'char 24', /a second root link/],
    ['<lwm2m>;rt="oma.lwm2m"', 'char 0', /must start with '\/'/],
    ['</lwm2m?x=1>;rt="oma.lwm2m"', 'char 0', /plain absolute path/],
    ['</a//b>;rt="oma.lwm2m"', 'char 0', /plain absolute path/],
    ['</>;ct=abc', 'char 4', /ct value "abc" is not a content format number/],
    ['</>;ct="60 70000"', 'char 4', /"70000"/],
    ['</>;ct=-1', 'char 4', /"-1"/],
    ['</>;ct=""', 'char 4', /ct is empty/],
    ['</>;ct', 'char 4', /ct needs a value/],
    ['</>;ct=1;ct=2', 'char 9', /ct appears twice/],
    ['</3/0>;', 'char 7', /expected an attribute name/],
  ];
  it.each(errors)('%j → %s', (input, location, detail) => {
    expectBad(() => parseRegistrationLinks(input), location, detail);
  });
});

describe('formatRegistrationLinks', () => {
  it('writes no root link when there is nothing to say, objects sorted, ver only when ≠ 1.0', () => {
    const objects: RegisteredObject[] = [
      { objectId: 3303, version: '1.1', instances: [1, 0] },
      { objectId: 3, version: '1.0', instances: [0] },
      { objectId: 5, instances: [] },
      { objectId: 1, instances: [0] },
      { objectId: 6, version: '1.0', instances: [] },
    ];
    expect(formatRegistrationLinks({ objects })).toBe('</1/0>,</3/0>,</5>,</6>,</3303>;ver=1.1,</3303/0>,</3303/1>');
  });

  it('root link with rt for an alternate path; ct single or quoted list', () => {
    expect(formatRegistrationLinks({ rootPath: '/lwm2m/', objects: [{ objectId: 3, instances: [0] }] })).toBe(
      '</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>',
    );
    expect(formatRegistrationLinks({ supportedContentFormats: [11543], objects: [] })).toBe('</>;rt="oma.lwm2m";ct=11543');
    expect(formatRegistrationLinks({ supportedContentFormats: [60, 112], objects: [{ objectId: 1, instances: [0] }] })).toBe(
      '</>;rt="oma.lwm2m";ct="60 112",</1/0>',
    );
  });

  it('leaves out Security (/0) and OSCORE (/21) objects (Core 1.1 §6.2.1)', () => {
    expect(
      formatRegistrationLinks({
        objects: [
          { objectId: 0, instances: [0, 1] },
          { objectId: 21, version: '2.0', instances: [0] },
          { objectId: 1, instances: [0] },
        ],
      }),
    ).toBe('</1/0>');
  });

  it('rejects invalid input', () => {
    const bad: Array<Parameters<typeof formatRegistrationLinks>[0]> = [
      { objects: [{ objectId: 3, instances: [] }, { objectId: 3, instances: [0] }] },
      { objects: [{ objectId: 3, version: '1', instances: [] }] },
      { objects: [{ objectId: 70000, instances: [] }] },
      { objects: [{ objectId: -1, instances: [] }] },
      { objects: [{ objectId: 3, instances: [1.5] }] },
      { supportedContentFormats: [65536], objects: [] },
      { supportedContentFormats: [1.5], objects: [] },
      { rootPath: 'lwm2m', objects: [] },
      { rootPath: '/a b', objects: [] },
      { rootPath: '/a?b', objects: [] },
    ];
    for (const reg of bad) badLink(() => formatRegistrationLinks(reg));
  });
});

const versionArb = fc.tuple(fc.nat(20), fc.nat(20)).map(([a, b]) => `${a}.${b}`);

describe('registration round trip (fast-check)', () => {
  it('parseRegistrationLinks(formatRegistrationLinks(reg)) gives back the normalised registration', () => {
    const objectArb = fc.record({
      objectId: fc.integer({ min: 1, max: 65535 }).filter((id) => id !== 21),
      version: fc.option(versionArb.filter((v) => v !== '1.0'), { nil: undefined }),
      instances: fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }),
    });
    const regArb = fc.record({
      rootPath: fc.constantFrom('/', '/lwm2m', '/a/b-c', '/x%20y'),
      supportedContentFormats: fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 5 }),
      objects: fc.uniqueArray(objectArb, { selector: (o) => o.objectId, maxLength: 8 }),
    });
    fc.assert(
      fc.property(regArb, (reg) => {
        const text = formatRegistrationLinks(reg);
        const expected = {
          rootPath: reg.rootPath,
          supportedContentFormats: reg.supportedContentFormats,
          objects: [...reg.objects]
            .sort((a, b) => a.objectId - b.objectId)
            .map((o) => ({ ...o, instances: [...o.instances].sort((a, b) => a - b) })),
        };
        expect(parseRegistrationLinks(text)).toEqual(expected);
        expect(parseRegistrationLinks(enc(text))).toEqual(expected);
        expect(formatRegistrationLinks(parseRegistrationLinks(text))).toBe(text);
      }),
      { numRuns: 1000, seed: 1101 },
    );
  });
});

// ----------------------------------------------------------------------------------------------------
// Discover / Bootstrap-Discover

describe('parseDiscoverLinks / formatDiscoverLinks — Core TS examples', () => {
  // Core 1.0 §5.4.2 / 1.1 §6.3 Discover examples. The TS prints some of them with a space after
  // some commas; the canonical (formatted) form below is the same list without those spaces.
  it('Discover on an object: </3>;pmin=10,</3/0>,… (TS example, spaces removed)', () => {
    const printed = '</3>;pmin=10,</3/0>,</3/0/1>, </3/0/2>, </3/0/3>, </3/0/4>, </3/0/6>,</3/0/7>,</3/0/8>,</3/0/11>,</3/0/16>';
    const entries = parseDiscoverLinks(printed);
    expect(entries).toEqual([
      entry(p(3), { pmin: 10 }),
      entry(p(3, 0)),
      ...[1, 2, 3, 4, 6, 7, 8, 11, 16].map((r) => entry(p(3, 0, r))),
    ]);
    expect(formatDiscoverLinks(entries)).toBe(printed.replace(/ /g, ''));
  });

  it('Discover on an instance: dim on multiple resources, gt/lt on /3/0/7 (TS example, spaces removed)', () => {
    const printed =
      '</3/0>;pmax=60, </3/0/1>, </3/0/2>, </3/0/3>, </3/0/4>, </3/0/6>;dim=8,</3/0/7>;dim=8;gt=50;lt=42.2,</3/0/8>;dim=8,</3/0/11>,</3/0/16>';
    const entries = parseDiscoverLinks(printed);
    expect(entries).toEqual([
      entry(p(3, 0), { pmax: 60 }),
      entry(p(3, 0, 1)),
      entry(p(3, 0, 2)),
      entry(p(3, 0, 3)),
      entry(p(3, 0, 4)),
      entry(p(3, 0, 6), { dim: 8 }),
      entry(p(3, 0, 7), { dim: 8, gt: 50, lt: 42.2 }),
      entry(p(3, 0, 8), { dim: 8 }),
      entry(p(3, 0, 11)),
      entry(p(3, 0, 16)),
    ]);
    expect(formatDiscoverLinks(entries)).toBe(printed.replace(/ /g, ''));
  });

  it('Discover on a resource, with inherited attributes, and per-server answers (TS examples, byte-exact)', () => {
    for (const [text, attrs] of [
      ['</3/0/7>;dim=8;pmin=10;pmax=60;gt=50;lt=42.2', { dim: 8, pmin: 10, pmax: 60, gt: 50, lt: 42.2 }],
      ['</3/0/7>;dim=8;gt=50;lt=42.2', { dim: 8, gt: 50, lt: 42.2 }],
      ['</3/0/7>;dim=8;pmax=300;gt=80;lt=75.5', { dim: 8, pmax: 300, gt: 80, lt: 75.5 }],
    ] as const) {
      const entries = parseDiscoverLinks(text);
      expect(entries).toEqual([entry(p(3, 0, 7), attrs)]);
      expect(formatDiscoverLinks(entries)).toBe(text);
    }
  });

  it('reconstructed 1.1 example with every notification attribute (not from the TS text)', () => {
    const text = '</3/0>;pmin=10;pmax=60,</3/0/1>,</3/0/7>;dim=8;gt=50;lt=42.2;st=0.5,</3/0/9>;epmin=1;epmax=30';
    const entries = parseDiscoverLinks(text);
    expect(entries).toEqual([
      entry(p(3, 0), { pmin: 10, pmax: 60 }),
      entry(p(3, 0, 1)),
      entry(p(3, 0, 7), { dim: 8, gt: 50, lt: 42.2, st: 0.5 }),
      entry(p(3, 0, 9), { epmin: 1, epmax: 30 }),
    ]);
    expect(formatDiscoverLinks(entries)).toBe(text);
  });

  it('Bootstrap-Discover, 1.0 TS examples: bare lwm2m="1.0" header, trailing slashes, spaces', () => {
    expect(parseDiscoverLinks('lwm2m="1.0",</0/0>;ssid=101, </0/1/>, </0/2>;ssid=102')).toEqual([
      entry(LwM2MPath.ROOT, { lwm2m: '1.0' }),
      entry(p(0, 0), { ssid: 101 }),
      entry(p(0, 1)),
      entry(p(0, 2), { ssid: 102 }),
    ]);
    const all = parseDiscoverLinks('lwm2m="1.0",</0/0>;ssid=101,</0/1>, </1/0/>;ssid=101, </3/0>,</5>,</4>');
    expect(formatDiscoverLinks(all)).toBe('</>;lwm2m=1.0,</0/0>;ssid=101,</0/1>,</1/0>;ssid=101,</3/0>,</5>,</4>');
    expect(parseDiscoverLinks('lwm2m="2.0",</0/0>,</0/1>;ssid=101, </1/0/>;ssid=101, </3/0>,</5>,</4>,</55>;ver=1.9, </55/0>')).toEqual([
      entry(LwM2MPath.ROOT, { lwm2m: '2.0' }),
      entry(p(0, 0)),
      entry(p(0, 1), { ssid: 101 }),
      entry(p(1, 0), { ssid: 101 }),
      entry(p(3, 0)),
      entry(p(5)),
      entry(p(4)),
      entry(p(55), { ver: '1.9' }),
      entry(p(55, 0)),
    ]);
  });

  it('Bootstrap-Discover, 1.1 form with uri (reconstructed from the §6.1.7.3 rules)', () => {
    const text =
      '</>;lwm2m=1.1,</0/0>;uri="coap://bootstrap.example.com:5683",</0/1>;ssid=101;uri="coaps://server_1.example.com",' +
      '</1/1>;ssid=101,</3/0>,</3303>;ver=1.1,</3303/0>';
    const entries = parseDiscoverLinks(text);
    expect(entries).toEqual([
      entry(LwM2MPath.ROOT, { lwm2m: '1.1' }),
      entry(p(0, 0), { uri: 'coap://bootstrap.example.com:5683' }),
      entry(p(0, 1), { ssid: 101, uri: 'coaps://server_1.example.com' }),
      entry(p(1, 1), { ssid: 101 }),
      entry(p(3, 0)),
      entry(p(3303), { ver: '1.1' }),
      entry(p(3303, 0)),
    ]);
    expect(formatDiscoverLinks(entries)).toBe(text);
  });

  it('Bootstrap-Discover as Leshan emits it (byte-exact round trip)', () => {
    const text = '</>;lwm2m=1.0,</0>;ver=1.1,</0/0>;uri="coap://localhost:5683",</1>;ver=1.1,</3>;ver=1.1,</3/0>,</21>;ver=2.0';
    expect(formatDiscoverLinks(parseDiscoverLinks(text))).toBe(text);
  });

  it('quoted numbers and versions are accepted (RFC 6690 does not distinguish quoting)', () => {
    expect(parseDiscoverLinks('</>;lwm2m="1.1",</3>;ver="1.2";pmin="5"')).toEqual([
      entry(LwM2MPath.ROOT, { lwm2m: '1.1' }),
      entry(p(3), { ver: '1.2', pmin: 5 }),
    ]);
  });

  it('floats: negative, exponent, many digits', () => {
    expect(parseDiscoverLinks('</3/0/7>;gt=-5.25;lt=1e3;st=2.5E-2')).toEqual([entry(p(3, 0, 7), { gt: -5.25, lt: 1000, st: 0.025 })]);
    expect(formatDiscoverLinks([entry(p(3, 0, 7), { gt: 1e21, lt: 1e-7, st: 0.1 + 0.2 })])).toBe('</3/0/7>;gt=1e+21;lt=1e-7;st=0.30000000000000004');
  });

  it('resource instance level paths and notification attributes on them', () => {
    expect(parseDiscoverLinks('</3/0/7/1>;pmin=5')).toEqual([entry(p(3, 0, 7, 1), { pmin: 5 })]);
  });

  it('unknown attributes (1.2 edge/con/hqmax, vendor) are kept in extensions, in order', () => {
    const text = '</3/0/7>;dim=2;pmin=10;edge=1;con=0;x-vendor;x-vendor="a b"';
    const entries = parseDiscoverLinks(text);
    expect(entries).toEqual([
      entry(p(3, 0, 7), { dim: 2, pmin: 10 }, [
        ['edge', ['1']],
        ['con', ['0']],
        ['x-vendor', [null, 'a b']],
      ]),
    ]);
    expect(formatDiscoverLinks(entries)).toBe(text);
  });

  it('alternate root path', () => {
    const text = '</lwm2m>;lwm2m=1.1,</lwm2m/3/0>;pmax=60,</lwm2m/3/0/7>;dim=8';
    const entries = parseDiscoverLinks(text, { rootPath: '/lwm2m' });
    expect(entries).toEqual([entry(LwM2MPath.ROOT, { lwm2m: '1.1' }), entry(p(3, 0), { pmax: 60 }), entry(p(3, 0, 7), { dim: 8 })]);
    expect(formatDiscoverLinks(entries, { rootPath: '/lwm2m' })).toBe(text);
    expect(formatDiscoverLinks(entries)).toBe('</>;lwm2m=1.1,</3/0>;pmax=60,</3/0/7>;dim=8');
  });

  it('an empty payload is an empty list; bytes are accepted', () => {
    expect(parseDiscoverLinks('')).toEqual([]);
    expect(formatDiscoverLinks([])).toBe('');
    expect(parseDiscoverLinks(enc('</3/0>;pmin=1'))).toEqual([entry(p(3, 0), { pmin: 1 })]);
  });

  const errors: Array<[string, string, RegExp]> = [
    ['</3/0>;pmin=-1', 'char 7', /pmin="-1" is not an integer in 0\.\./],
    ['</3/0>;pmin=1.5', 'char 7', /pmin="1.5" is not an integer/],
    ['</3/0>;pmax=abc', 'char 7', /pmax="abc"/],
    ['</3/0>;epmin=9007199254740993', 'char 7', /epmin=".*" is not an integer/],
    ['</3/0>;gt=abc', 'char 7', /gt="abc" is not a finite decimal number/],
    ['</3/0>;lt=1e999', 'char 7', /lt="1e999" is not a finite/],
    ['</3/0>;st=.5', 'char 7', /st=".5"/],
    ['</3/0>;gt=NaN', 'char 7', /gt="NaN"/],
    ['</3/0>;gt=0x10', 'char 7', /gt="0x10"/],
    ['</3/0>;dim=8', 'char 7', /dim is only allowed on resource links, not on object instance links/],
    ['</3/0/7>;dim=65536', 'char 9', /dim="65536" is not an integer in 0\.\.65535/],
    ['</3/0/1>;ver=1.1', 'char 9', /ver is only allowed on object links/],
    ['</3>;ver=1', 'char 5', /ver="1" is not a version/],
    ['</3>;lwm2m=1.1', 'char 5', /lwm2m is only allowed on the root link/],
    ['</>;lwm2m=one', 'char 4', /lwm2m="one"/],
    ['</>;pmin=1', 'char 4', /pmin is only allowed on object links, object instance links, resource links, resource instance links, not on the root link/],
    ['</0/1>;ssid=0', 'char 7', /ssid="0" is not an integer in 1\.\.65534/],
    ['</0/1>;ssid=65535', 'char 7', /ssid="65535"/],
    ['</0>;ssid=1', 'char 5', /ssid is only allowed on object instance links/],
    ['</0/1/0>;uri="coap://x"', 'char 9', /uri is only allowed on object instance links/],
    ['</3/0>;pmin=1;pmin=2', 'char 14', /pmin appears twice/],
    ['</3/0>;pmin', 'char 7', /pmin needs a value/],
    ['</0/0>;uri', 'char 7', /uri needs a value/],
    ['</3/0>,</3/0/>', 'char 7', /\/3\/0 is listed twice/],
    ['</3/0/1/2/3>', 'char 0', /not an LwM2M path/],
    ['</sensors>', 'char 0', /not an LwM2M path/],
    ['<3/0>', 'char 0', /not an absolute LwM2M path/],
    ['</3/0>,lwm2m=1.1', 'char 7', /expected '<'/], // a bare header only as the first element
  ];
  it.each(errors)('%j → %s', (input, location, detail) => {
    expectBad(() => parseDiscoverLinks(input), location, detail);
  });

  it('a bare header alone parses as the root link', () => {
    expect(parseDiscoverLinks('lwm2m=1.1')).toEqual([entry(LwM2MPath.ROOT, { lwm2m: '1.1' })]);
    expect(parseDiscoverLinks(' lwm2m = "1.0" ; x , </1>')).toEqual([entry(LwM2MPath.ROOT, { lwm2m: '1.0' }, [['x', [null]]]), entry(p(1))]);
  });

  it('the generic parser does not accept the bare header', () => {
    expectBad(() => parseLinkFormat('lwm2m="1.0",</0/0>'), 'char 0', /expected '<'/);
  });

  it('formatDiscoverLinks rejects what the parser would reject', () => {
    const bad: DiscoverEntry[][] = [
      [entry(p(3, 0), { dim: 8 })],
      [entry(p(3, 0, 1), { ver: '1.1' })],
      [entry(p(3), { ver: '1' })],
      [entry(LwM2MPath.ROOT, { pmin: 1 })],
      [entry(p(3), { lwm2m: '1.1' })],
      [entry(p(3, 0), { pmin: -1 })],
      [entry(p(3, 0), { pmin: 1.5 })],
      [entry(p(3, 0), { gt: Number.NaN })],
      [entry(p(3, 0), { lt: Number.POSITIVE_INFINITY })],
      [entry(p(3, 0), { pmin: '5' as unknown as number })],
      [entry(p(0, 1), { ssid: 0 })],
      [entry(p(0, 1), { uri: 5 as unknown as string })],
      [entry(p(0, 1), { uri: 'a\u0000b' })],
      [entry(p(3, 0)), entry(p(3, 0))],
      [entry(p(3, 0), {}, [['pmin', ['1']]])],
      [entry(p(3, 0), {}, [['bad name', ['1']]])],
      [{ path: '/3/0' as unknown as LwM2MPath, attributes: {} }],
    ];
    for (const entries of bad) badLink(() => formatDiscoverLinks(entries));
    badLink(() => formatDiscoverLinks([], { rootPath: 'x' }));
  });
});

describe('discover round trip (fast-check)', () => {
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
  const uint = fc.maxSafeNat();
  const pathArb = fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 4 }).map((ids) => LwM2MPath.of(...ids));
  const extNameArb = nameArb.filter((n) => !['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax', 'dim', 'ver', 'ssid', 'uri', 'lwm2m'].includes(n));
  const entryArb: fc.Arbitrary<DiscoverEntry> = fc
    .record({
      path: pathArb,
      all: fc.record(
        {
          lwm2m: versionArb,
          ver: versionArb,
          ssid: fc.integer({ min: 1, max: 65534 }),
          uri: fc.string({ unit: VALUE_UNIT, maxLength: 12 }),
          dim: fc.integer({ min: 0, max: 65535 }),
          pmin: uint,
          pmax: uint,
          gt: finite,
          lt: finite,
          st: finite,
          epmin: uint,
          epmax: uint,
        },
        { requiredKeys: [] },
      ),
      ext: fc.uniqueArray(fc.tuple(extNameArb, fc.array(valueArb, { minLength: 1, maxLength: 2 })), { selector: ([n]) => n, maxLength: 3 }),
    })
    .map(({ path, all, ext }) => {
      const d = path.depth;
      const allowed: Record<string, boolean> = {
        lwm2m: d === 0,
        ver: d === 1,
        ssid: d === 2,
        uri: d === 2,
        dim: d === 3,
      };
      const attributes = Object.fromEntries(Object.entries(all).filter(([k]) => allowed[k] ?? d > 0)) as DiscoverAttributes;
      return ext.length > 0 ? { path, attributes, extensions: new Map(ext) } : { path, attributes };
    });

  it('parseDiscoverLinks(formatDiscoverLinks(entries)) gives back the entries', () => {
    fc.assert(
      fc.property(fc.uniqueArray(entryArb, { selector: (e) => e.path.toString(), maxLength: 6 }), fc.constantFrom('/', '/lwm2m'), (entries, rootPath) => {
        const text = formatDiscoverLinks(entries, { rootPath });
        const back = parseDiscoverLinks(text, { rootPath });
        expect(back).toEqual(entries);
        back.forEach((e, i) => expect([...(e.extensions ?? [])]).toEqual([...(entries[i]?.extensions ?? [])]));
        expect(formatDiscoverLinks(back, { rootPath })).toBe(text);
      }),
      { numRuns: 1000, seed: 5423 },
    );
  });
});

// ----------------------------------------------------------------------------------------------------
// Fuzzing: any byte input returns or throws LwM2MError 4.00

const SEEDS = [
  '</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</3303>;ver=1.1,</3303/0>',
  '</>;rt="oma.lwm2m";ct="60 110 112 11542 11543",</1/0>,</3>;ver=1.2,</3/0>',
  '</lwm2m>;rt="oma.lwm2m",</lwm2m/1/101>,</lwm2m/1/102>,</lwm2m/2/0>,</lwm2m/3/0>,</lwm2m/5>',
  '</3/0>;pmax=60,</3/0/1>,</3/0/6>;dim=8,</3/0/7>;dim=8;gt=50;lt=42.2;st=0.5,</3/0/8>;dim=8',
  '</>;lwm2m=1.1,</0/0>;uri="coap://bootstrap.example.com",</0/1>;ssid=101;uri="coaps://s1:5684",</1/1>;ssid=101',
  'lwm2m="1.0",</0/0>;ssid=101, </0/1/>, </0/2>;ssid=102',
  '</sensors>;ct=40;title="Sensor \\"Index\\", ok; yes",</t>;anchor="/sensors/temp";rel="alternate";obs',
  '</s>;title="Température 😀";x=a<b>=c;title*=UTF-8\'\'%c3%a9',
].map(enc);

describe('fuzz', () => {
  it('parseLinkFormat', () => {
    const { ok, rejected } = fuzzDecoder((bytes) => parseLinkFormat(bytes), SEEDS);
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });

  it('parseRegistrationLinks (both Security policies)', () => {
    const { ok, rejected } = fuzzDecoder((bytes) => {
      const strict = (() => {
        try {
          return parseRegistrationLinks(bytes, { securityObjects: 'reject' });
        } catch (e) {
          if (isLwM2MError(e)) return undefined;
          throw e;
        }
      })();
      const lenient = parseRegistrationLinks(bytes);
      // whatever strict mode accepts, lenient mode accepts identically
      if (strict) expect(lenient).toEqual(strict);
      return lenient;
    }, SEEDS);
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });

  it('parseDiscoverLinks, and every accepted payload formats and re-parses to the same entries', () => {
    const { ok, rejected } = fuzzDecoder((bytes) => {
      const entries = parseDiscoverLinks(bytes);
      expect(parseDiscoverLinks(formatDiscoverLinks(entries))).toEqual(entries);
      return entries;
    }, SEEDS);
    expect(ok).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});
