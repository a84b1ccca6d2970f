import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { LwM2MError, isLwM2MError } from '../../../src/core/errors.js';
import {
  DEFAULT_MAX_DDF_BYTES,
  loadDdfFile,
  loadDdfFileSync,
  parseDdf,
  parseDdfBytes,
  parseOperations,
  parseRangeEnumeration,
  parseResourceType,
} from '../../../src/model/ddf-loader.js';
import type { ObjectModel, ResourceModel } from '../../../src/model/types.js';

const MODELS = fileURLToPath(new URL('../../../src/model/models/', import.meta.url));
const HISTORY = join(MODELS, 'version_history');
const readModel = (rel: string): string => readFileSync(join(MODELS, rel), 'utf8');

function only(models: ObjectModel[]): ObjectModel {
  expect(models).toHaveLength(1);
  return models[0] as ObjectModel;
}

function res(model: ObjectModel, id: number): ResourceModel {
  const r = model.resources.get(id);
  if (r === undefined) throw new Error(`no resource ${id} in /${model.id} ${model.version}`);
  return r;
}

/** Runs `fn`, which must throw an LwM2MError BAD_MODEL; returns it. */
function badModel(fn: () => unknown): LwM2MError {
  try {
    fn();
  } catch (e) {
    expect(isLwM2MError(e), `expected LwM2MError, got ${String(e)}`).toBe(true);
    const err = e as LwM2MError;
    expect(err.kind).toBe('BAD_MODEL');
    expect(err.code).toBe('LWM2M_BAD_MODEL');
    return err;
  }
  throw new Error('expected a BAD_MODEL error, nothing was thrown');
}

async function badModelAsync(p: Promise<unknown>): Promise<LwM2MError> {
  try {
    await p;
  } catch (e) {
    expect(isLwM2MError(e)).toBe(true);
    const err = e as LwM2MError;
    expect(err.code).toBe('LWM2M_BAD_MODEL');
    return err;
  }
  throw new Error('expected a BAD_MODEL error, nothing was thrown');
}

// ---- every shipped file ------------------------------------------------------------------------

interface Expect {
  id: number;
  version: string;
  lwm2m: string;
  name: string;
  resources: number;
  multiple: boolean;
  mandatory: boolean;
  urn: string;
}

const E = (
  id: number, version: string, lwm2m: string, name: string, resources: number, multiple: boolean, mandatory: boolean, urn: string,
): Expect => ({ id, version, lwm2m, name, resources, multiple, mandatory, urn });

const SECURITY = 'LWM2M Security';
const SERVER = 'LwM2M Server';
const ACL = 'LwM2M Access Control';
const CONNMON = 'Connectivity Monitoring';
const FIRMWARE = 'Firmware Update';

/** Expected content of each shipped file (checked against the files by hand). */
const SHIPPED: Record<string, Expect> = {
  '0.xml': E(0, '1.2', '1.1', SECURITY, 31, true, true, 'urn:oma:lwm2m:oma:0:1.2'),
  '1.xml': E(1, '1.2', '1.2', SERVER, 28, true, true, 'urn:oma:lwm2m:oma:1:1.2'),
  '2.xml': E(2, '1.1', '1.0', ACL, 4, true, false, 'urn:oma:lwm2m:oma:2:1.1'),
  '3.xml': E(3, '1.2', '1.1', 'Device', 23, false, true, 'urn:oma:lwm2m:oma:3:1.2'),
  '4.xml': E(4, '1.3', '1.1', CONNMON, 14, false, false, 'urn:oma:lwm2m:oma:4:1.3'),
  '5.xml': E(5, '1.2', '1.1', FIRMWARE, 14, false, false, 'urn:oma:lwm2m:oma:5:1.2'),
  '6.xml': E(6, '1.0', '1.0', 'Location', 7, false, false, 'urn:oma:lwm2m:oma:6'),
  '7.xml': E(7, '1.0', '1.0', 'Connectivity Statistics', 9, false, false, 'urn:oma:lwm2m:oma:7'),
  '3300.xml': E(3300, '1.1', '1.0', 'Generic Sensor', 13, true, false, 'urn:oma:lwm2m:ext:3300:1.1'),
  '3303.xml': E(3303, '1.1', '1.0', 'Temperature', 12, true, false, 'urn:oma:lwm2m:ext:3303:1.1'),
  '3311.xml': E(3311, '1.0', '1.0', 'Light Control', 8, true, false, 'urn:oma:lwm2m:ext:3311'),
  'version_history/0-1_0.xml': E(0, '1.0', '1.0', SECURITY, 13, true, true, 'urn:oma:lwm2m:oma:0'),
  'version_history/0-1_1.xml': E(0, '1.1', '1.1', SECURITY, 18, true, true, 'urn:oma:lwm2m:oma:0:1.1'),
  'version_history/0-1_2.xml': E(0, '1.2', '1.1', SECURITY, 31, true, true, 'urn:oma:lwm2m:oma:0:1.2'),
  'version_history/1-1_0.xml': E(1, '1.0', '1.0', SERVER, 9, true, true, 'urn:oma:lwm2m:oma:1'),
  'version_history/1-1_1.xml': E(1, '1.1', '1.1', SERVER, 24, true, true, 'urn:oma:lwm2m:oma:1:1.1'),
  'version_history/1-1_2.xml': E(1, '1.2', '1.2', SERVER, 28, true, true, 'urn:oma:lwm2m:oma:1:1.2'),
  'version_history/2-1_0.xml': E(2, '1.0', '1.0', ACL, 4, true, false, 'urn:oma:lwm2m:oma:2'),
  'version_history/2-1_1.xml': E(2, '1.1', '1.0', ACL, 4, true, false, 'urn:oma:lwm2m:oma:2:1.1'),
  'version_history/3-1_0.xml': E(3, '1.0', '1.0', 'Device', 23, false, true, 'urn:oma:lwm2m:oma:3'),
  'version_history/3-1_1.xml': E(3, '1.1', '1.1', 'Device', 23, false, true, 'urn:oma:lwm2m:oma:3:1.1'),
  'version_history/3-1_2.xml': E(3, '1.2', '1.1', 'Device', 23, false, true, 'urn:oma:lwm2m:oma:3:1.2'),
  'version_history/4-1_0.xml': E(4, '1.0', '1.0', CONNMON, 11, false, false, 'urn:oma:lwm2m:oma:4'),
  'version_history/4-1_1.xml': E(4, '1.1', '1.0', CONNMON, 12, false, false, 'urn:oma:lwm2m:oma:4:1.1'),
  'version_history/4-1_2.xml': E(4, '1.2', '1.1', CONNMON, 13, false, false, 'urn:oma:lwm2m:oma:4:1.2'),
  'version_history/4-1_3.xml': E(4, '1.3', '1.1', CONNMON, 14, false, false, 'urn:oma:lwm2m:oma:4:1.3'),
  'version_history/5-1_0.xml': E(5, '1.0', '1.0', FIRMWARE, 9, false, false, 'urn:oma:lwm2m:oma:5'),
  'version_history/5-1_1.xml': E(5, '1.1', '1.1', FIRMWARE, 13, false, false, 'urn:oma:lwm2m:oma:5:1.1'),
  'version_history/5-1_2.xml': E(5, '1.2', '1.1', FIRMWARE, 14, false, false, 'urn:oma:lwm2m:oma:5:1.2'),
  'version_history/6-1_0.xml': E(6, '1.0', '1.0', 'Location', 7, false, false, 'urn:oma:lwm2m:oma:6'),
  'version_history/7-1_0.xml': E(7, '1.0', '1.0', 'Connectivity Statistics', 9, false, false, 'urn:oma:lwm2m:oma:7'),
  'version_history/3300-1_0.xml': E(3300, '1.0', '1.0', 'Generic Sensor', 9, true, false, 'urn:oma:lwm2m:ext:3300'),
  'version_history/3300-1_1.xml': E(3300, '1.1', '1.0', 'Generic Sensor', 13, true, false, 'urn:oma:lwm2m:ext:3300:1.1'),
  'version_history/3303-1_0.xml': E(3303, '1.0', '1.0', 'Temperature', 7, true, false, 'urn:oma:lwm2m:ext:3303'),
  'version_history/3303-1_1.xml': E(3303, '1.1', '1.0', 'Temperature', 12, true, false, 'urn:oma:lwm2m:ext:3303:1.1'),
  'version_history/3311-1_0.xml': E(3311, '1.0', '1.0', 'Light Control', 8, true, false, 'urn:oma:lwm2m:ext:3311'),
};

describe('shipped OMA files', () => {
  it('the table covers every shipped XML file', () => {
    const onDisk = [
      ...readdirSync(MODELS).filter((f) => f.endsWith('.xml')),
      ...readdirSync(HISTORY).filter((f) => f.endsWith('.xml')).map((f) => `version_history/${f}`),
    ].sort();
    expect(onDisk).toEqual(Object.keys(SHIPPED).sort());
    expect(onDisk).toHaveLength(36);
  });

  it.each(Object.entries(SHIPPED))('%s loads with the right id, version, name and resources', (file, e) => {
    const m = only(loadDdfFileSync(join(MODELS, file)));
    expect({
      id: m.id, version: m.version, lwm2m: m.lwm2mVersion, name: m.name, resources: m.resources.size,
      multiple: m.multiple, mandatory: m.mandatory, urn: m.urn,
    }).toEqual(e);
    expect(m.description?.length ?? 0).toBeGreaterThan(10);
    // Resource map is keyed by id, in ascending order, every entry well-formed.
    const ids = [...m.resources.keys()];
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    for (const [id, r] of m.resources) {
      expect(r.id).toBe(id);
      expect(r.name).not.toBe('');
      expect(r.name).toBe(r.name.trim());
      if (r.operations === 'E') expect(r.type).toBe('none');
    }
    expect(Object.isFrozen(m)).toBe(true);
  });

  it('the file name of each version_history file matches its id and version', () => {
    for (const file of readdirSync(HISTORY)) {
      const m = only(loadDdfFileSync(join(HISTORY, file)));
      expect(file).toBe(`${m.id}-${m.version.replace('.', '_')}.xml`);
    }
  });

  it('async and sync loading agree', async () => {
    for (const file of ['3.xml', 'version_history/0-1_0.xml', '3303.xml']) {
      expect(await loadDdfFile(join(MODELS, file))).toEqual(loadDdfFileSync(join(MODELS, file)));
    }
  });
});

describe('spot-checked resources', () => {
  const device = only(parseDdf(readModel('3.xml'), '3.xml'));
  const device10 = only(parseDdf(readModel('version_history/3-1_0.xml'), '3-1_0.xml'));
  const server = only(parseDdf(readModel('1.xml'), '1.xml'));
  const security = only(parseDdf(readModel('0.xml'), '0.xml'));
  const security10 = only(parseDdf(readModel('version_history/0-1_0.xml'), '0-1_0.xml'));
  const firmware = only(parseDdf(readModel('5.xml'), '5.xml'));
  const temperature = only(parseDdf(readModel('3303.xml'), '3303.xml'));

  it('/3/0/0 Manufacturer: R String optional single', () => {
    expect(res(device, 0)).toMatchObject({
      id: 0, name: 'Manufacturer', operations: 'R', type: 'string', mandatory: false, multiple: false,
    });
    expect(res(device, 0).rangeEnumeration).toBeUndefined();
    expect(res(device, 0).range).toBeUndefined();
    expect(res(device, 0).units).toBeUndefined();
    expect(res(device, 0).description).toBe('Human readable manufacturer name');
  });

  it('/3/0/4 Reboot: E, no type, mandatory', () => {
    expect(res(device, 4)).toMatchObject({ name: 'Reboot', operations: 'E', type: 'none', mandatory: true, multiple: false });
  });

  it('/3/0/6 Available Power Sources: R multiple Integer, range from 0..7 (1.2) and 0-7 (1.0)', () => {
    expect(res(device, 6)).toMatchObject({
      name: 'Available Power Sources', operations: 'R', type: 'integer', multiple: true, mandatory: false,
      rangeEnumeration: '0..7', range: { min: 0, max: 7 },
    });
    expect(res(device10, 6)).toMatchObject({ rangeEnumeration: '0-7', range: { min: 0, max: 7 }, multiple: true });
  });

  it('/3/0/9 Battery Level, /3/0/13 Current Time, /3/0/22 ExtDevInfo', () => {
    expect(res(device, 9)).toMatchObject({ type: 'integer', range: { min: 0, max: 100 }, units: '/100' });
    expect(res(device, 13)).toMatchObject({ name: 'Current Time', operations: 'RW', type: 'time' });
    expect(res(device, 22)).toMatchObject({ name: 'ExtDevInfo', type: 'objlnk', multiple: true });
  });

  it('/1/0/1 Lifetime: RW Integer mandatory, units s; /1/0/0 range 1..65534; Unsigned Integer', () => {
    expect(res(server, 1)).toMatchObject({
      name: 'Lifetime', operations: 'RW', type: 'integer', mandatory: true, multiple: false, units: 's',
    });
    expect(res(server, 0)).toMatchObject({ name: 'Short Server ID', range: { min: 1, max: 65534 } });
    expect(res(server, 13)).toMatchObject({ name: 'Registration Priority Order', type: 'unsignedInteger' });
    expect(res(server, 10)).toMatchObject({ name: 'APN Link', type: 'objlnk' });
  });

  it('/5/0/0 Package W Opaque; /5/0/3 State R Integer 0..3', () => {
    expect(res(firmware, 0)).toMatchObject({ name: 'Package', operations: 'W', type: 'opaque', mandatory: true });
    expect(res(firmware, 3)).toMatchObject({
      name: 'State', operations: 'R', type: 'integer', mandatory: true, rangeEnumeration: '0..3', range: { min: 0, max: 3 },
    });
    // CDATA description keeps its line breaks and quotes.
    expect(res(firmware, 3).description).toContain('0: Idle (before downloading or after successful updating)\n1: Downloading');
  });

  it('/0/0/0 LWM2M Server URI (double space in the file collapsed), no operations', () => {
    expect(res(security, 0)).toMatchObject({
      name: 'LWM2M Server URI', operations: '', type: 'string', mandatory: true, range: { min: 0, max: 255 },
    });
    expect(res(security, 1)).toMatchObject({ name: 'Bootstrap-Server', type: 'boolean', operations: '' });
    // Opaque length "6" / "6 bytes" → exact length; "16,32,48" is an enumeration, not a range.
    expect(res(security, 7)).toMatchObject({ rangeEnumeration: '6', range: { min: 6, max: 6 } });
    expect(res(security, 8).rangeEnumeration).toBe('16,32,48');
    expect(res(security, 8).range).toBeUndefined();
    expect(res(security10, 7)).toMatchObject({ rangeEnumeration: '6 bytes', range: { min: 6, max: 6 } });
    expect(res(security10, 8).range).toBeUndefined();
  });

  it('/3303/x/5700 Sensor Value: R Float mandatory, no units in the file', () => {
    expect(res(temperature, 5700)).toMatchObject({
      name: 'Sensor Value', operations: 'R', type: 'float', mandatory: true, multiple: false,
    });
    expect(res(temperature, 5700).units).toBeUndefined();
    expect(res(temperature, 5701)).toMatchObject({ name: 'Sensor Units', type: 'string' });
    expect([...temperature.resources.keys()]).toEqual([5518, 5601, 5602, 5603, 5604, 5605, 5700, 5701, 5750, 6042, 6049, 6050]);
  });
});

// ---- mapping rules on synthetic documents ------------------------------------------------------

function item(id: string | number, fields: Partial<Record<string, string>> = {}, extra = ''): string {
  const f = {
    Name: 'Res', Operations: 'R', MultipleInstances: 'Single', Mandatory: 'Optional', Type: 'Integer',
    RangeEnumeration: '', Units: '', Description: 'd', ...fields,
  };
  const body = Object.entries(f)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `      <${k}>${v as string}</${k}>`)
    .join('\n');
  return `    <Item ID="${id}">\n${body}${extra}\n    </Item>`;
}

function object(fields: Partial<Record<string, string>> = {}, items: string[] = [item(0)], attrs = ' ObjectType="MODefinition"'): string {
  const f = {
    Name: 'Thing', Description1: 'A thing', ObjectID: '42', ObjectURN: 'urn:oma:lwm2m:x:42', LWM2MVersion: '1.1',
    ObjectVersion: '1.0', MultipleInstances: 'Multiple', Mandatory: 'Optional', ...fields,
  };
  const head = Object.entries(f)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  <${k}>${v as string}</${k}>`)
    .join('\n');
  return `<Object${attrs}>\n${head}\n  <Resources>\n${items.join('\n')}\n  </Resources>\n</Object>`;
}

const doc = (...objects: string[]): string => `<?xml version="1.0" encoding="UTF-8"?>\n<LWM2M>\n${objects.join('\n')}\n</LWM2M>\n`;

/** 1-based line of the first occurrence of `needle` in `text` (`nth` counts from 1). */
function lineOf(text: string, needle: string, nth = 1): number {
  let at = -1;
  for (let k = 0; k < nth; k++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`${needle} not found`);
  return text.slice(0, at).split('\n').length;
}

describe('mapping', () => {
  it('a document may hold several objects, returned in order', () => {
    const models = parseDdf(doc(object({ ObjectID: '42', ObjectURN: '' }), object({ ObjectID: '7', ObjectURN: '', Name: 'Other' })));
    expect(models.map((m) => [m.id, m.name])).toEqual([[42, 'Thing'], [7, 'Other']]);
  });

  it('defaults: LWM2MVersion 1.0; ObjectVersion from the URN, else 1.0', () => {
    const none = only(parseDdf(doc(object({ LWM2MVersion: undefined, ObjectVersion: undefined, ObjectURN: 'urn:oma:lwm2m:x:42' }))));
    expect(none).toMatchObject({ lwm2mVersion: '1.0', version: '1.0', urn: 'urn:oma:lwm2m:x:42' });
    const fromUrn = only(parseDdf(doc(object({ ObjectVersion: undefined, ObjectURN: 'urn:oma:lwm2m:x:42:1.3' }))));
    expect(fromUrn.version).toBe('1.3');
    const empty = only(parseDdf(doc(object({ ObjectVersion: '', LWM2MVersion: '', ObjectURN: '' }))));
    expect(empty).toMatchObject({ version: '1.0', lwm2mVersion: '1.0' });
    expect(empty.urn).toBeUndefined();
    const noUrn = only(parseDdf(doc(object({ ObjectURN: undefined, ObjectVersion: '2.1' }))));
    expect(noUrn.version).toBe('2.1');
  });

  it('object flags, empty Description1, a file with no <Resources>', () => {
    const m = only(parseDdf(doc(object({ MultipleInstances: 'Single', Mandatory: 'Mandatory', Description1: '' }))));
    expect(m).toMatchObject({ multiple: false, mandatory: true });
    expect(m.description).toBeUndefined();
    const bare = parseDdf(
      '<LWM2M><Object ObjectType="MODefinition"><Name>n</Name><ObjectID>9</ObjectID>' +
        '<MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory></Object></LWM2M>',
    );
    expect(only(bare).resources.size).toBe(0);
  });

  it('entities, character references and CDATA', () => {
    const xml = doc(
      object(
        { Name: 'A &amp; B &lt;C&gt; &#x41;&#66; &quot;q&quot; &apos;s&apos;' },
        [item(1, { Description: '<![CDATA[raw &amp; <b>bold</b> ]]]]><![CDATA[> kept]]> and &lt;decoded&gt;' })],
      ),
    );
    const m = only(parseDdf(xml));
    expect(m.name).toBe('A & B <C> AB "q" \'s\'');
    expect(res(m, 1).description).toBe('raw &amp; <b>bold</b> ]]> kept and <decoded>');
  });

  it('resource types, tolerant of case and spacing', () => {
    const types: [string, string][] = [
      ['String', 'string'], ['Integer', 'integer'], ['Unsigned Integer', 'unsignedInteger'], ['UnsignedInteger', 'unsignedInteger'],
      ['unsigned  integer', 'unsignedInteger'], ['Float', 'float'], [' float ', 'float'], ['Boolean', 'boolean'],
      ['Opaque', 'opaque'], ['Time', 'time'], ['Objlnk', 'objlnk'], ['ObjLnk', 'objlnk'], ['Corelnk', 'corelnk'],
      ['CoreLnk', 'corelnk'], ['', 'none'], ['  ', 'none'],
    ];
    const m = only(parseDdf(doc(object({}, types.map(([t], i) => item(i, { Type: t }))))));
    expect([...m.resources.values()].map((r) => r.type)).toEqual(types.map(([, t]) => t));
    expect(parseResourceType('Strng')).toBeUndefined();
    expect(parseResourceType('toString')).toBeUndefined();
  });

  it('operations', () => {
    expect(['R', 'W', 'RW', 'E', '', ' rw ', 'WR'].map(parseOperations)).toEqual(['R', 'W', 'RW', 'E', '', 'RW', 'RW']);
    expect(parseOperations('X')).toBeUndefined();
    expect(parseOperations('RWE')).toBeUndefined();
    const m = only(parseDdf(doc(object({}, [item(0, { Operations: 'RW' }), item(1, { Operations: 'E', Type: '' }), item(2, { Operations: '' })]))));
    expect([...m.resources.values()].map((r) => r.operations)).toEqual(['RW', 'E', '']);
  });

  it('RangeEnumeration parsing', () => {
    expect(parseRangeEnumeration('0..255')).toEqual({ min: 0, max: 255 });
    expect(parseRangeEnumeration('-128..127')).toEqual({ min: -128, max: 127 });
    expect(parseRangeEnumeration(' 1 .. 65534 ')).toEqual({ min: 1, max: 65534 });
    expect(parseRangeEnumeration('1-65535')).toEqual({ min: 1, max: 65535 });
    expect(parseRangeEnumeration('-40-85')).toEqual({ min: -40, max: 85 });
    expect(parseRangeEnumeration('-40--10')).toEqual({ min: -40, max: -10 });
    expect(parseRangeEnumeration('0.5..99.5')).toEqual({ min: 0.5, max: 99.5 });
    expect(parseRangeEnumeration('0-255 bytes')).toEqual({ min: 0, max: 255 });
    expect(parseRangeEnumeration('6 bytes')).toEqual({ min: 6, max: 6 });
    expect(parseRangeEnumeration('6')).toEqual({ min: 6, max: 6 });
    for (const no of ['', '16,32,48', '16-32-48 bytes', '16-bit', 'The possible values are…', '5..1', 'a..b', '1..', '..5']) {
      expect(parseRangeEnumeration(no), no).toBeUndefined();
    }
    const m = only(parseDdf(doc(object({}, [item(0, { RangeEnumeration: '"U","UQ"', Type: 'String' })]))));
    expect(res(m, 0).rangeEnumeration).toBe('"U","UQ"');
    expect(res(m, 0).range).toBeUndefined();
  });

  it('resources are keyed and ordered by id; Units kept; empty elements become undefined', () => {
    const m = only(parseDdf(doc(object({}, [item(9, { Units: ' m/s ' }), item(2, { Units: '', Description: '' }), item(65535)]))));
    expect([...m.resources.keys()]).toEqual([2, 9, 65535]);
    expect(res(m, 9).units).toBe('m/s');
    expect(res(m, 2).units).toBeUndefined();
    expect(res(m, 2).description).toBeUndefined();
    expect('units' in res(m, 2)).toBe(false);
  });

  it('accepts a BOM, CRLF line ends, comments and processing instructions', () => {
    const xml = '\uFEFF' + doc('<!-- a comment with & and <!DOCTYPE inside -->', object()).replace(/\n/g, '\r\n').replace('<LWM2M>', '<?pi x?><LWM2M>');
    expect(only(parseDdf(xml)).id).toBe(42);
    const bytes = new TextEncoder().encode(xml);
    expect(only(parseDdfBytes(bytes, 'bom.xml')).id).toBe(42);
  });

  it('ignores unknown elements and attributes (e.g. Description2, xmlns)', () => {
    const xml = doc(object({ Description2: 'more', Extra: 'x' })).replace('<LWM2M>', '<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">');
    expect(only(parseDdf(xml)).id).toBe(42);
  });
});

// ---- errors -------------------------------------------------------------------------------------

describe('errors name the source, say what is wrong, and give a position', () => {
  interface Case {
    name: string;
    xml: string;
    /** Substring of the message. */
    says: string;
    /** Expected `bad.xml:<line>` (column not checked) when the error can be located. */
    line?: number;
  }
  const dupXml = doc(object({}, [item(1), item(2), item(1, { Name: 'Again' })]));
  const cases: Case[] = [
    { name: 'not XML', xml: 'this is not xml', says: 'not well-formed XML', line: 1 },
    { name: 'empty input', xml: '   \n', says: 'empty input' },
    { name: 'unclosed tag', xml: '<LWM2M>\n  <Object>\n</LWM2M>', says: 'not well-formed XML', line: 3 },
    { name: 'no <LWM2M> root', xml: '<Objects><Object/></Objects>', says: 'expected a single <LWM2M> root element, found <Objects>' },
    { name: 'two roots', xml: `${doc(object())}<LWM2M/>`, says: 'expected a single <LWM2M> root element' },
    { name: 'no Object', xml: '<LWM2M>\n</LWM2M>', says: 'no <Object> element' },
    { name: 'empty Object', xml: '<LWM2M><Object></Object></LWM2M>', says: '<Object> is empty' },
    { name: 'Object with only attributes', xml: '<LWM2M>\n<Object ObjectType="MODefinition"/></LWM2M>', says: 'object: missing <ObjectID>', line: 2 },
    { name: 'missing ObjectID', xml: doc(object({ ObjectID: undefined })), says: 'missing <ObjectID>', line: 3 },
    { name: 'empty ObjectID', xml: doc(object({ ObjectID: ' ' })), says: 'missing <ObjectID>', line: 6 },
    { name: 'ObjectID not an integer', xml: doc(object({ ObjectID: 'abc' })), says: 'ObjectID "abc" is not an integer in 0..65535', line: 6 },
    { name: 'ObjectID negative', xml: doc(object({ ObjectID: '-1' })), says: 'ObjectID "-1" is not an integer', line: 6 },
    { name: 'ObjectID too large', xml: doc(object({ ObjectID: '65536' })), says: 'ObjectID "65536" is not an integer in 0..65535', line: 6 },
    { name: 'ObjectID fractional', xml: doc(object({ ObjectID: '3.5' })), says: 'ObjectID "3.5"', line: 6 },
    { name: 'missing object Name', xml: doc(object({ Name: undefined })), says: 'object 42: missing <Name>', line: 3 },
    { name: 'empty object Name', xml: doc(object({ Name: '  ' })), says: 'object 42: empty <Name>', line: 4 },
    { name: 'bad MultipleInstances', xml: doc(object({ MultipleInstances: 'Many' })), says: '<MultipleInstances> must be Multiple or Single, not "Many"', line: 10 },
    { name: 'bad Mandatory', xml: doc(object({ Mandatory: 'Yes' })), says: '<Mandatory> must be Mandatory or Optional', line: 11 },
    { name: 'missing object Mandatory', xml: doc(object({ Mandatory: undefined })), says: 'missing <Mandatory>', line: 3 },
    { name: 'bad ObjectVersion', xml: doc(object({ ObjectVersion: 'v2' })), says: '<ObjectVersion> must be a version like 1.0, not "v2"', line: 9 },
    { name: 'bad LWM2MVersion', xml: doc(object({ LWM2MVersion: '1' })), says: '<LWM2MVersion> must be a version', line: 8 },
    { name: 'URN names another object', xml: doc(object({ ObjectURN: 'urn:oma:lwm2m:oma:3:1.0' })), says: 'ObjectURN urn:oma:lwm2m:oma:3:1.0 does not match ObjectID 42', line: 7 },
    { name: 'URN version differs', xml: doc(object({ ObjectURN: 'urn:oma:lwm2m:x:42:1.1', ObjectVersion: '1.2' })), says: 'ObjectVersion 1.2 does not match the version in ObjectURN', line: 9 },
    { name: 'wrong ObjectType', xml: doc(object({}, [item(0)], ' ObjectType="Other"')), says: 'unsupported ObjectType "Other"', line: 3 },
    { name: 'duplicate object field', xml: doc(object({ Name: 'a</Name><Name>b' })), says: 'duplicate <Name> element', line: 4 },
    { name: 'element inside a text field', xml: doc(object({ Name: 'a<b>x</b>' })), says: '<Name> must contain text, not elements', line: 4 },
    { name: 'text in <Resources>', xml: '<LWM2M><Object><Name>n</Name><ObjectID>1</ObjectID><MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory><Resources>oops</Resources></Object></LWM2M>', says: '<Resources> must contain <Item> elements' },
    { name: 'foreign element in <Resources>', xml: doc(object({}, [item(0), '<Thing/>'])), says: 'unexpected <Thing> in <Resources>' },
    { name: 'duplicate resource ID', xml: dupXml, says: 'object 42: duplicate resource ID 1', line: lineOf(dupXml, '<Item ID="1"', 2) },
    { name: 'resource ID out of range', xml: doc(object({}, [item(65536)])), says: 'resource ID 65536 is out of range 0..65535', line: 13 },
    { name: 'resource ID not an integer', xml: doc(object({}, [item('x1')])), says: 'resource ID "x1" is not an integer', line: 13 },
    { name: 'resource ID negative', xml: doc(object({}, [item(-5)])), says: 'resource ID "-5" is not an integer', line: 13 },
    { name: 'resource without ID', xml: doc(object({}, [item(0).replace(' ID="0"', '')])), says: '<Item> has no ID attribute', line: 13 },
    { name: 'unknown Type', xml: doc(object({}, [item(0), item(3, { Type: 'Strng' })])), says: 'object 42: resource 3: unknown Type "Strng"', line: 28 },
    { name: 'unknown Operations', xml: doc(object({}, [item(7, { Operations: 'X' })])), says: 'resource 7: unknown Operations "X" (expected R, W, RW, E or empty)', line: 15 },
    { name: 'resource missing Name', xml: doc(object({}, [item(4, { Name: undefined })])), says: 'resource 4: missing <Name>', line: 13 },
    { name: 'resource missing Type', xml: doc(object({}, [item(4, { Type: undefined })])), says: 'resource 4: missing <Type>', line: 13 },
    { name: 'resource bad MultipleInstances', xml: doc(object({}, [item(4, { MultipleInstances: 'multi' })])), says: 'resource 4: <MultipleInstances> must be Multiple or Single, not "multi"', line: 16 },
    { name: 'DOCTYPE (XXE)', xml: `<?xml version="1.0"?>\n<!DOCTYPE LWM2M [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n${doc(object({ Name: '&xxe;' })).replace(/^<\?xml[^>]*>\n/, '')}`, says: 'a DTD (<!DOCTYPE …>) is not allowed', line: 2 },
    { name: 'entity bomb', xml: `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><LWM2M>&b;</LWM2M>`, says: 'DTD', line: 1 },
    { name: 'undefined entity', xml: doc(object({ Name: 'x &nbsp; y' })), says: 'undefined entity &nbsp;', line: 4 },
    { name: 'bare ampersand', xml: doc(object({ Name: 'R & D' })), says: "'&' does not start an entity reference", line: 4 },
    { name: 'illegal character reference', xml: doc(object({ Name: 'x&#0;' })), says: 'character reference &#0; is not a legal XML character', line: 4 },
    { name: 'control character', xml: doc(object({ Name: 'x\u0001y' })), says: 'character U+0001 is not allowed', line: 4 },
    { name: 'reserved tag name', xml: doc(object({ constructor: 'x' })), says: 'cannot parse XML' },
  ];

  it.each(cases)('$name', ({ xml, says, line }) => {
    const err = badModel(() => parseDdf(xml, 'bad.xml'));
    expect(err.message).toContain(says);
    expect(err.message.startsWith('bad.xml')).toBe(true);
    expect(err.detail).toContain(says);
    if (line !== undefined) {
      expect(err.location).toMatch(new RegExp(`^bad\\.xml:${line}(:\\d+)?$`));
      expect(err.message.startsWith(`${err.location as string}: `)).toBe(true);
    }
  });

  it('the column points at the offending element', () => {
    const xml = doc(object({}, [item(0), item(3, { Type: 'Strng' })]));
    const err = badModel(() => parseDdf(xml, 'col.xml'));
    const line = xml.split('\n')[27] as string;
    expect(line.trim()).toBe('<Type>Strng</Type>');
    expect(err.location).toBe(`col.xml:28:${line.indexOf('<Type>') + 1}`);
  });

  it('without a source the message names <ddf>', () => {
    expect(badModel(() => parseDdf('nope')).message).toMatch(/^<ddf>:1:1: not well-formed XML/);
  });

  it('rejects input over the size limit', () => {
    const xml = doc(object());
    expect(badModel(() => parseDdf(xml, 'big.xml', { maxBytes: 100 })).message).toBe('big.xml: DDF input is larger than the 100-byte limit');
    expect(badModel(() => parseDdfBytes(new TextEncoder().encode(xml), 'big.xml', { maxBytes: 100 })).message).toContain('over the 100-byte limit');
    expect(DEFAULT_MAX_DDF_BYTES).toBeGreaterThanOrEqual(1 << 20);
    expect(badModel(() => parseDdf(' '.repeat(DEFAULT_MAX_DDF_BYTES + 1), 'huge.xml')).message).toContain('larger than');
  });

  it('rejects invalid UTF-8 and non-UTF-8 encodings in bytes', () => {
    const good = new TextEncoder().encode(doc(object()));
    const broken = Uint8Array.from([...good.slice(0, 60), 0xff, 0xfe, ...good.slice(60)]);
    expect(badModel(() => parseDdfBytes(broken, 'latin.xml')).message).toBe('latin.xml: not valid UTF-8');
    const latin1 = new TextEncoder().encode(doc(object()).replace('UTF-8', 'ISO-8859-1'));
    expect(badModel(() => parseDdfBytes(latin1, 'latin.xml')).message).toContain('unsupported encoding "ISO-8859-1"');
  });
});

describe('files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ddf-loader-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('errors from files carry the path and the position', async () => {
    const p = join(dir, 'broken.xml');
    writeFileSync(p, doc(object({}, [item(7, { Operations: 'X' })])));
    const sync = badModel(() => loadDdfFileSync(p));
    expect(sync.location).toMatch(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:15:\\d+$`));
    expect(sync.message).toContain('unknown Operations "X"');
    const async_ = await badModelAsync(loadDdfFile(p));
    expect(async_.message).toBe(sync.message);
  });

  it('missing files, directories and oversized files are BAD_MODEL naming the path', async () => {
    const missing = join(dir, 'nope.xml');
    expect(badModel(() => loadDdfFileSync(missing)).message).toContain(`${missing}: cannot read DDF file`);
    expect((await badModelAsync(loadDdfFile(missing))).message).toContain(missing);
    expect(badModel(() => loadDdfFileSync(dir)).message).toBe(`${dir}: not a regular file`);
    expect((await badModelAsync(loadDdfFile(dir))).message).toBe(`${dir}: not a regular file`);
    const big = join(dir, 'big.xml');
    writeFileSync(big, doc(object()));
    expect(badModel(() => loadDdfFileSync(big, { maxBytes: 64 })).message).toMatch(/^.*big\.xml: file is \d+ bytes, over the 64-byte limit$/);
    expect((await badModelAsync(loadDdfFile(big, { maxBytes: 64 }))).message).toContain('over the 64-byte limit');
  });
});

// ---- fuzz ---------------------------------------------------------------------------------------

describe('fuzz', () => {
  const seedText = readModel('3303.xml');
  const TOKENS = [
    '<', '>', '&', '&amp;', '&#x0;', ';', '"', '/', ']]>', '<![CDATA[', '<!--', '-->', '<!DOCTYPE x>', '<?pi?>', '</Item>',
    '<Item ID="1">', '<Item>', '</Resources>', '<Object>', '</Object>', '<Name>', '</Name>', '<Type>', '</Type>', 'Strng',
    '65536', '-1', 'Multiple', 'Single', '\u0000', '\uFEFF', '\uD800', 'é', '\r\n', ' ', 'RW', 'X', '..', '0..',
    '<ObjectID>', '</ObjectID>', '<constructor>', '<__proto__>', 'ID="', '=',
  ];
  type Mutation =
    | { kind: 'delete'; at: number; len: number }
    | { kind: 'insert'; at: number; text: string }
    | { kind: 'duplicate'; at: number; len: number; to: number }
    | { kind: 'truncate'; at: number }
    | { kind: 'flip'; at: number; code: number };
  const pos = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: pos, len: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: pos, text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })) }),
    fc.record({ kind: fc.constant('duplicate' as const), at: pos, len: fc.integer({ min: 1, max: 400 }), to: pos }),
    fc.record({ kind: fc.constant('truncate' as const), at: pos }),
    fc.record({ kind: fc.constant('flip' as const), at: pos, code: fc.integer({ min: 0, max: 0x7f }) }),
  );
  const apply = (text: string, muts: Mutation[]): string => {
    let s = text;
    for (const m of muts) {
      const at = Math.floor(m.at * s.length);
      switch (m.kind) {
        case 'delete': s = s.slice(0, at) + s.slice(at + m.len); break;
        case 'insert': s = s.slice(0, at) + m.text + s.slice(at); break;
        case 'duplicate': {
          const piece = s.slice(at, at + m.len);
          const to = Math.floor(m.to * s.length);
          s = s.slice(0, to) + piece + s.slice(to);
          break;
        }
        case 'truncate': s = s.slice(0, at); break;
        case 'flip': s = s.slice(0, at) + String.fromCharCode(m.code) + s.slice(at + 1); break;
      }
    }
    return s;
  };

  it('2 000 mutations of a real file: only LwM2MError BAD_MODEL escapes', () => {
    const counts = { ok: 0, rejected: 0 };
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
        const input = apply(seedText, muts);
        try {
          const models = parseDdf(input, 'fuzz.xml');
          for (const m of models) {
            expect(Number.isInteger(m.id)).toBe(true);
            for (const r of m.resources.values()) expect(r.id).toBeLessThanOrEqual(65535);
          }
          counts.ok++;
        } catch (e) {
          if (!isLwM2MError(e) || e.kind !== 'BAD_MODEL' || !e.message.startsWith('fuzz.xml')) {
            throw new Error(`unexpected error for mutations ${JSON.stringify(muts)}: ${String(e)}`, { cause: e });
          }
          counts.rejected++;
        }
      }),
      { numRuns: 2000, seed: 0x0dd5eed },
    );
    expect(counts.ok + counts.rejected).toBe(2000);
    expect(counts.ok).toBeGreaterThan(50);
    expect(counts.rejected).toBeGreaterThan(50);
  });

  it('random strings and bytes: only BAD_MODEL escapes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('<LWM2M>', '<LWM2M><Object>', '<a/>')), (s) => {
        try {
          parseDdf(s, 'r.xml');
        } catch (e) {
          if (!isLwM2MError(e) || e.kind !== 'BAD_MODEL') throw e;
        }
      }),
      { numRuns: 500, seed: 7 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          parseDdfBytes(b, 'r.xml');
        } catch (e) {
          if (!isLwM2MError(e) || e.kind !== 'BAD_MODEL') throw e;
        }
      }),
      { numRuns: 500, seed: 8 },
    );
  });
});
