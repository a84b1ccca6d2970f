import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateBootstrapConfig } from '../../../../src/server/bootstrap/config.js';
import { pskEntries } from '../../../../src/server/profiles/credentials.js';
import { detectDelimiter, parseCsvTolerant } from '../../../../src/server/profiles/csv.js';
import {
  formatImportFailures, importCumulocityCsv, importCumulocityCsvFile, type CumulocityDevice, type CumulocityImportResult,
} from '../../../../src/server/profiles/cumulocity.js';

const FIXTURE = new URL('../../../fixtures/profiles/cumulocity-devices.csv', import.meta.url).pathname;
const KEY = '000102030405060708090a0b0c0d0e0f';
const BS_KEY = '0f0e0d0c0b0a09080706050403020100';

/** A CSV with these columns, one row per object. */
function csv(rows: Array<Record<string, string>>, delimiter = ','): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const q = (v: string): string => (/[",\n;\t]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [cols.join(delimiter), ...rows.map((r) => cols.map((c) => q(r[c] ?? '')).join(delimiter))].join('\n') + '\n';
}

const NOSEC = { 'endpoint id': 'dev-1', securityMode: 'NO_SEC', 'lwm2m server uri': 'coap://127.0.0.1:5783' };
const PSK = {
  'endpoint id': 'dev-p', securityMode: 'PSK', 'lwm2m server uri': 'coaps://127.0.0.1:5784',
  'lwm2m psk_id': 'dev-p-id', 'lwm2m psk_key': KEY, 'bootstrap psk_id': 'dev-p-bs', 'bootstrap psk_key': BS_KEY,
};

function one(row: Record<string, string>): CumulocityDevice {
  const r = importCumulocityCsv(csv([row]), { file: 'd.csv' });
  expect(r.failed, formatImportFailures(r).join('\n')).toEqual([]);
  expect(r.imported).toHaveLength(1);
  return r.imported[0] as CumulocityDevice;
}

function failsWith(row: Record<string, string>, re: RegExp, column?: string): CumulocityImportResult {
  const text = csv([NOSEC, row]);
  const r = importCumulocityCsv(text, { file: 'd.csv' });
  expect(r.imported.map((d) => d.endpoint)).toEqual(['dev-1']);
  expect(r.failedRows).toBe(1);
  const msgs = formatImportFailures(r);
  expect(msgs.some((m) => re.test(m)), msgs.join('\n')).toBe(true);
  if (column !== undefined) {
    const header = text.split('\n')[0] as string;
    const line3 = text.split('\n')[2] as string;
    const idx = header.split(',').indexOf(column);
    // Column of that cell in line 3 (no quoted commas in these rows).
    const col = line3.split(',').slice(0, idx).join(',').length + (idx > 0 ? 2 : 1);
    const f = r.failed.find((x) => re.test(x.message));
    expect(f).toMatchObject({ line: 3, column: col });
  }
  return r;
}

describe('Cumulocity bulk registration CSV', () => {
  it('imports the sample file: bootstrap configs, PSKs, awake time and FOTA settings', async () => {
    const r = await importCumulocityCsvFile(FIXTURE);
    expect(r.failed).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.imported.map((d) => d.endpoint)).toEqual(['c8y-nosec-0001', 'c8y-nosec-0002', 'c8y-psk-0001']);
    const [a, b, p] = r.imported as [CumulocityDevice, CumulocityDevice, CumulocityDevice];
    expect(a).toMatchObject({ line: 2, id: 'c8y-nosec-0001', idType: 'c8y_Serial', name: 'c8y-nosec-0001', type: 'c8y_lwm2m', shell: true, dm: { mode: 'nosec' } });
    expect(a.bootstrapConfig).toEqual({
      endpoint: 'c8y-nosec-0001',
      servers: [{ shortServerId: 1, uri: 'coap://127.0.0.1:5783', securityMode: 'nosec', lifetime: 300, binding: 'UQ', defaultPmin: 1, defaultPmax: 60 }],
    });
    expect(a.fota).toEqual({ deliveryMethod: 'PUSH', supportedDeviceProtocol: 'COAP', resetMechanism: 'PACKAGE' });
    expect(b).toMatchObject({ shell: false, awakeTimeMs: 180000, fota: { deliveryMethod: 'PULL', supportedDeviceProtocol: 'HTTP', resetMechanism: 'PACKAGE_URI', url: 'http://127.0.0.1:8080/fw/c8y-0002.bin' } });
    expect(p.dm).toEqual({ mode: 'psk', identity: 'c8y-psk-0001', key: Uint8Array.from(Buffer.from(KEY, 'hex')) });
    expect(p.bootstrap).toEqual({ mode: 'psk', identity: 'c8y-psk-0001-bs', key: Uint8Array.from(Buffer.from(BS_KEY, 'hex')) });
    expect(p.bootstrapConfig?.servers?.[0]).toEqual({
      shortServerId: 1, uri: 'coaps://127.0.0.1:5784', securityMode: 'psk', pskIdentity: 'c8y-psk-0001', pskKey: KEY,
      lifetime: 300, binding: 'UQ', defaultPmin: 5, defaultPmax: 120,
    });
    expect(p).toMatchObject({ awakeTimeMs: 60000, securityInstanceOffset: 0, bootstrapShortServerId: 0, lwm2mShortServerId: 1 });
    for (const d of r.imported) expect(validateBootstrapConfig(d.bootstrapConfig).ok).toBe(true);
    expect(pskEntries(r.imported).map((e) => [e.endpoint, e.identity, e.role])).toEqual([
      ['c8y-psk-0001', 'c8y-psk-0001', 'dm'], ['c8y-psk-0001', 'c8y-psk-0001-bs', 'bootstrap'],
    ]);
  });

  it('detects ; and tab delimiters (Cumulocity\'s own templates use ;)', () => {
    for (const d of [';', '\t', ',']) {
      const r = importCumulocityCsv(csv([NOSEC, PSK], d));
      expect(r.delimiter).toBe(d);
      expect(r.failed).toEqual([]);
      expect(r.imported).toHaveLength(2);
    }
    expect(detectDelimiter('"a;b",c,d\nx;y;z;w')).toBe(',');
    expect(detectDelimiter('')).toBe(',');
  });

  it('reads the demo repository layout (endpoint id;type;securityMode;lwm2m server uri)', () => {
    const r = importCumulocityCsv('endpoint id;type;securityMode;lwm2m server uri\nlwm2m_device01;c8y_lwm2m;NO_SEC;coap://127.0.0.1:5783\n');
    expect(r.imported[0]).toMatchObject({ endpoint: 'lwm2m_device01', type: 'c8y_lwm2m' });
  });

  it('accepts header names in any case and the older "lwm2m server url"', () => {
    const d = one({ 'ENDPOINT ID': 'e1', SECURITYMODE: 'no_sec', 'LwM2M Server URL': 'coap://127.0.0.1:1' } as Record<string, string>);
    expect(d.bootstrapConfig?.servers?.[0]?.uri).toBe('coap://127.0.0.1:1');
  });

  describe('every column', () => {
    it('ID, IDTYPE, CREDENTIALS, NAME, TYPE, SHELL', () => {
      const d = one({ ...NOSEC, ID: 'dev-1', IDTYPE: 'c8y_Serial', CREDENTIALS: 'secret!', NAME: 'Device one', TYPE: 'c8y_lwm2m', SHELL: '0' });
      expect(d).toMatchObject({ id: 'dev-1', idType: 'c8y_Serial', name: 'Device one', type: 'c8y_lwm2m', shell: false });
      expect(JSON.stringify(d)).not.toContain('secret!');
      failsWith({ ...NOSEC, 'endpoint id': 'x', SHELL: 'yes' }, /SHELL must be true or false/, 'SHELL');
    });

    it('endpoint id: mandatory, no white space, unique', () => {
      failsWith({ ...NOSEC, 'endpoint id': '' }, /endpoint id is empty/);
      failsWith({ ...NOSEC, 'endpoint id': 'a b' }, /endpoint id "a b" contains white space/, 'endpoint id');
      failsWith({ ...NOSEC, 'endpoint id': 'a\u0001b' }, /endpoint id: ep contains control character/, 'endpoint id');
      failsWith({ ...NOSEC }, /duplicate endpoint id "dev-1" \(first on line 2\)/, 'endpoint id');
    });

    it('lwm2m server uri: a coap URI for NO_SEC, coaps for PSK; optional (no bootstrap config)', () => {
      expect(one({ 'endpoint id': 'e', securityMode: 'NO_SEC' }).bootstrapConfig).toBeUndefined();
      failsWith({ ...NOSEC, 'endpoint id': 'x', 'lwm2m server uri': 'not a uri' }, /is not a URI/, 'lwm2m server uri');
      failsWith({ ...NOSEC, 'endpoint id': 'x', 'lwm2m server uri': 'http://h:1' }, /scheme http: is not coap: or coaps:/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', 'lwm2m server uri': 'coaps://h:1' }, /NO_SEC needs a coap:\/\/ URI/, 'lwm2m server uri');
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m server uri': 'coap://h:1' }, /PSK needs a coaps:\/\/ URI/);
    });

    it('securityMode: mandatory, NO_SEC or PSK (X509 and others rejected)', () => {
      failsWith({ ...NOSEC, 'endpoint id': 'x', securityMode: '' }, /securityMode is empty/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', securityMode: 'X509' }, /securityMode "X509" is not one of NO_SEC, PSK/, 'securityMode');
      failsWith({ ...NOSEC, 'endpoint id': 'x', securityMode: 'RPK' }, /is not one of/);
    });

    it('lwm2m psk_id / psk_key: required for PSK, hex, refused for NO_SEC, psk_id unique', () => {
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m psk_id': '' }, /PSK needs "lwm2m psk_id"/);
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m psk_key': '' }, /PSK needs "lwm2m psk_key"/);
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m psk_key': 'zz11' }, /lwm2m psk_key "zz11" is not hex/, 'lwm2m psk_key');
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m psk_key': 'abc' }, /odd number of hex digits/);
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m psk_key': 'ab'.repeat(65) }, /at most 64 are allowed/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', 'lwm2m psk_id': 'i' }, /lwm2m psk_id is set but securityMode is NO_SEC/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', 'lwm2m psk_key': KEY }, /lwm2m psk_key is set but securityMode is NO_SEC/);
      const r = importCumulocityCsv(csv([PSK, { ...PSK, 'endpoint id': 'other', 'bootstrap psk_id': 'other-bs' }]));
      expect(formatImportFailures(r)).toEqual([expect.stringMatching(/^3:\d+: duplicate lwm2m psk_id "dev-p-id" \(first on line 2\)$/)]);
    });

    it('bootstrap psk_id / psk_key: required for PSK (unless bootstrapSecurityMode says NO_SEC), hex, unique', () => {
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m psk_id': 'x', 'bootstrap psk_id': '' }, /securityMode PSK needs "bootstrap psk_id"/);
      failsWith({ ...PSK, 'endpoint id': 'x', 'lwm2m psk_id': 'x', 'bootstrap psk_key': 'qq' }, /bootstrap psk_key "qq" is not hex/, 'bootstrap psk_key');
      const r = importCumulocityCsv(csv([PSK, { ...PSK, 'endpoint id': 'other', 'lwm2m psk_id': 'other' }]));
      expect(formatImportFailures(r)).toEqual([expect.stringMatching(/^3:\d+: duplicate bootstrap psk_id "dev-p-bs"/)]);
      // A NO_SEC device with bootstrap credentials bootstraps over PSK.
      expect(one({ ...NOSEC, 'bootstrap psk_id': 'b', 'bootstrap psk_key': BS_KEY }).bootstrap).toMatchObject({ mode: 'psk', identity: 'b' });
      expect(one(NOSEC).bootstrap).toEqual({ mode: 'nosec' });
    });

    it('bootstrapSecurityMode', () => {
      const { 'bootstrap psk_id': _i, 'bootstrap psk_key': _k, ...pskNoBs } = PSK;
      expect(one({ ...pskNoBs, bootstrapSecurityMode: 'NO_SEC' }).bootstrap).toEqual({ mode: 'nosec' });
      expect(one({ ...NOSEC, bootstrapSecurityMode: 'PSK', 'bootstrap psk_id': 'b', 'bootstrap psk_key': BS_KEY }).bootstrap?.mode).toBe('psk');
      failsWith({ ...NOSEC, 'endpoint id': 'x', bootstrapSecurityMode: 'PSK' }, /bootstrapSecurityMode PSK needs "bootstrap psk_id"/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', bootstrapSecurityMode: 'NO_SEC', 'bootstrap psk_id': 'b' }, /bootstrap psk_id is set but bootstrapSecurityMode is NO_SEC/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', bootstrapSecurityMode: 'X509' }, /bootstrapSecurityMode "X509" is not one of/);
    });

    it('awakeTimeRegistrationParameter (ms; 0 = always online)', () => {
      expect(one({ ...NOSEC, awakeTimeRegistrationParameter: '0' }).awakeTimeMs).toBe(0);
      expect(one({ ...NOSEC, awakeTimeRegistrationParameter: '180000' }).awakeTimeMs).toBe(180000);
      expect(one(NOSEC).awakeTimeMs).toBeUndefined();
      failsWith({ ...NOSEC, 'endpoint id': 'x', awakeTimeRegistrationParameter: '1.5' }, /awakeTimeRegistrationParameter \(ms\) must be an integer/, 'awakeTimeRegistrationParameter');
      failsWith({ ...NOSEC, 'endpoint id': 'x', awakeTimeRegistrationParameter: '-1' }, /must be an integer/);
    });

    it('securityInstanceOffset: the first instance written (0 keeps the default layout)', () => {
      expect(one({ ...NOSEC, securityInstanceOffset: '0' }).bootstrapConfig?.servers?.[0]?.securityInstanceId).toBeUndefined();
      const s = one({ ...NOSEC, securityInstanceOffset: '3' }).bootstrapConfig?.servers?.[0];
      expect(s).toMatchObject({ securityInstanceId: 3, serverInstanceId: 3 });
      const g = one({ ...NOSEC, securityInstanceOffset: '3', generateBootstrapServerConfig: 'true' });
      expect(g.bootstrapConfig?.bootstrapServer).toEqual({ uri: 'coap://127.0.0.1:5683', securityMode: 'nosec', instanceId: 3 });
      expect(g.bootstrapConfig?.servers?.[0]?.securityInstanceId).toBe(4);
      failsWith({ ...NOSEC, 'endpoint id': 'x', securityInstanceOffset: 'a' }, /securityInstanceOffset must be an integer in 0..65533/);
    });

    it('bootstrapShortServerId and lwm2mShortServerId', () => {
      const d = one({ ...NOSEC, bootstrapShortServerId: '0', lwm2mShortServerId: '101' });
      expect(d).toMatchObject({ bootstrapShortServerId: 0, lwm2mShortServerId: 101 });
      expect(d.bootstrapConfig?.servers?.[0]?.shortServerId).toBe(101);
      failsWith({ ...NOSEC, 'endpoint id': 'x', lwm2mShortServerId: '0' }, /lwm2mShortServerId must be an integer in 1..65534/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', lwm2mShortServerId: '65535' }, /lwm2mShortServerId must be an integer/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', bootstrapShortServerId: '70000' }, /bootstrapShortServerId must be an integer in 0..65535/);
    });

    it('registrationLifetime, defaultMinimumPeriod, defaultMaximumPeriod', () => {
      const s = one({ ...NOSEC, registrationLifetime: '12000', defaultMinimumPeriod: '10', defaultMaximumPeriod: '600' }).bootstrapConfig?.servers?.[0];
      expect(s).toMatchObject({ lifetime: 12000, defaultPmin: 10, defaultPmax: 600 });
      failsWith({ ...NOSEC, 'endpoint id': 'x', registrationLifetime: '0' }, /registrationLifetime \(s\) must be an integer in 1\.\./);
      failsWith({ ...NOSEC, 'endpoint id': 'x', registrationLifetime: '5 min' }, /registrationLifetime/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', defaultMinimumPeriod: 'x' }, /defaultMinimumPeriod \(s\) must be an integer/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', defaultMinimumPeriod: '60', defaultMaximumPeriod: '10' }, /defaultMaximumPeriod 10 is below defaultMinimumPeriod 60/, 'defaultMaximumPeriod');
    });

    it('bindingMode U or UQ', () => {
      expect(one({ ...NOSEC, bindingMode: 'uq' }).bootstrapConfig?.servers?.[0]?.binding).toBe('UQ');
      expect(one({ ...NOSEC, bindingMode: 'U' }).bootstrapConfig?.servers?.[0]?.binding).toBe('U');
      failsWith({ ...NOSEC, 'endpoint id': 'x', bindingMode: 'T' }, /bindingMode "T" is not one of U, UQ/, 'bindingMode');
    });

    it('notificationIfDisabled, disableTimeout, lwm2mRequestTimeout and the agent flags', () => {
      const d = one({
        ...NOSEC, notificationIfDisabled: 'false', disableTimeout: '86400', lwm2mRequestTimeout: '30000',
        autoManageAvailabilityRequiredInterval: 'true', availabilityRequiredInterval: '60', binaryDeliveryEncoding: 'tlv',
        serializationFormat: 'SENML_CBOR', enableResourceLevelTimestamp: 'TRUE', c8y_GenericUI_retainOldValuesIfError: 'false',
        disableInternalObjectInstanceActions: '1', generateBootstrapServerConfig: 'false',
      });
      expect(d.bootstrapConfig?.servers?.[0]?.notificationStoring).toBe(false);
      expect(d.settings).toEqual({
        lwm2mRequestTimeoutMs: 30000, disableTimeout: 86400, generateBootstrapServerConfig: false, autoManageAvailabilityRequiredInterval: true,
        availabilityRequiredInterval: 60, binaryDeliveryEncoding: 'TLV', serializationFormat: 'SENML_CBOR', enableResourceLevelTimestamp: true,
        retainOldValuesIfError: false, disableInternalObjectInstanceActions: true,
      });
      failsWith({ ...NOSEC, 'endpoint id': 'x', notificationIfDisabled: 'maybe' }, /notificationIfDisabled must be true or false/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', lwm2mRequestTimeout: '0' }, /lwm2mRequestTimeout \(ms\) must be an integer in 1\.\./);
      failsWith({ ...NOSEC, 'endpoint id': 'x', serializationFormat: 'XML' }, /serializationFormat "XML" is not one of/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', binaryDeliveryEncoding: 'CBOR' }, /binaryDeliveryEncoding "CBOR" is not one of/);
    });

    it('generateBootstrapServerConfig writes the Bootstrap-Server account back (Cumulocity ports, or the given URI)', () => {
      const d = one({ ...PSK, generateBootstrapServerConfig: 'true' });
      expect(d.bootstrapConfig?.bootstrapServer).toEqual({ uri: 'coaps://127.0.0.1:5684', securityMode: 'psk', pskIdentity: 'dev-p-bs', pskKey: BS_KEY });
      const r = importCumulocityCsv(csv([{ ...NOSEC, generateBootstrapServerConfig: 'true' }]), { bootstrapServerUri: 'coap://bs.example:15683' });
      expect(r.imported[0]?.bootstrapConfig?.bootstrapServer?.uri).toBe('coap://bs.example:15683');
    });

    it('fwUpdateDeliveryMethod, fwUpdateSupportedDeviceProtocol, fwUpdateResetMechanism, fwResetStateMachineOnStart, fwUpdateURL, disableFirmwareStateMachine', () => {
      const d = one({
        ...NOSEC, fwUpdateDeliveryMethod: 'pull', fwUpdateSupportedDeviceProtocol: 'https', fwUpdateResetMechanism: 'package_uri',
        fwResetStateMachineOnStart: 'false', fwUpdateURL: 'https://fw.example/a.bin', disableFirmwareStateMachine: 'true',
      });
      expect(d.fota).toEqual({
        deliveryMethod: 'PULL', supportedDeviceProtocol: 'HTTPS', resetMechanism: 'PACKAGE_URI', resetStateMachineOnStart: false,
        url: 'https://fw.example/a.bin', disableStateMachine: true,
      });
      failsWith({ ...NOSEC, 'endpoint id': 'x', fwUpdateDeliveryMethod: 'SMS' }, /fwUpdateDeliveryMethod "SMS" is not one of PUSH, PULL, BOTH/, 'fwUpdateDeliveryMethod');
      failsWith({ ...NOSEC, 'endpoint id': 'x', fwUpdateSupportedDeviceProtocol: 'FTP' }, /fwUpdateSupportedDeviceProtocol "FTP" is not one of COAP, COAPS, HTTP, HTTPS/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', fwUpdateResetMechanism: 'REBOOT' }, /fwUpdateResetMechanism "REBOOT" is not one of PACKAGE, PACKAGE_URI/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', fwUpdateURL: 'nowhere' }, /fwUpdateURL "nowhere" is not a URL/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', fwUpdateURL: 'ftp://h/x' }, /fwUpdateURL scheme ftp: is not/);
      failsWith({ ...NOSEC, 'endpoint id': 'x', fwResetStateMachineOnStart: 'sometimes' }, /fwResetStateMachineOnStart must be true or false/);
    });

    it('unknown columns are warnings; platform-only ones (TENANT, c8y_GenericUi…) are silent; X.509 columns warn when used', () => {
      const r = importCumulocityCsv(csv([{ ...NOSEC, TENANT: 't1', c8y_GenericUi: '{}', com_cumulocity_model_Agent: '1', colour: 'red', x509ClientCertificate: 'PEM' }]));
      expect(r.failed).toEqual([]);
      expect(r.imported).toHaveLength(1);
      expect(r.warnings.map((w) => w.message)).toEqual(['unknown column "colour" is ignored', 'column "x509ClientCertificate" is ignored: only NO_SEC and PSK are supported']);
    });
  });

  describe('malformed input', () => {
    it('a missing required column fails every row, at the header', () => {
      const r = importCumulocityCsv('endpoint id,lwm2m server uri\na,coap://h:1\nb,coap://h:1\n', { file: 'd.csv' });
      expect(r.imported).toEqual([]);
      expect(r.failedRows).toBe(2);
      expect(formatImportFailures(r)).toEqual(['d.csv:1:1: missing required column "securityMode"', 'd.csv:1:1: the header is not usable: none of the 2 rows is imported']);
    });

    it('a duplicate column fails the file', () => {
      const r = importCumulocityCsv('endpoint id,securityMode,SecurityMode\na,NO_SEC,PSK\n');
      expect(r.imported).toEqual([]);
      expect(r.failed).toContainEqual({ line: 1, column: 26, message: 'duplicate column "SecurityMode"' });
    });

    it('an empty file, a header only, blank lines and a BOM', () => {
      expect(formatImportFailures(importCumulocityCsv('', { file: 'e.csv' }))).toEqual([expect.stringMatching(/^e\.csv:1:1: the CSV is empty/)]);
      expect(importCumulocityCsv('endpoint id,securityMode\n')).toMatchObject({ imported: [], failed: [], failedRows: 0 });
      const r = importCumulocityCsv('\uFEFFendpoint id,securityMode\n\na,NO_SEC\n\n   \nb,NO_SEC\n');
      expect(r.failed).toEqual([]);
      expect(r.imported.map((d) => [d.endpoint, d.line])).toEqual([['a', 3], ['b', 6]]);
    });

    it('quoted fields with delimiters, quotes and line breaks; CRLF line ends', () => {
      const text = 'endpoint id,securityMode,NAME,lwm2m server uri\r\n"q-1",NO_SEC,"Hall, ""north""\r\nsecond line",coap://127.0.0.1:5783\r\nq-2,NO_SEC,plain,coap://127.0.0.1:5783\r\n';
      const r = importCumulocityCsv(text);
      expect(r.failed).toEqual([]);
      expect(r.imported.map((d) => [d.endpoint, d.name, d.line])).toEqual([['q-1', 'Hall, "north"\r\nsecond line', 2], ['q-2', 'plain', 4]]);
    });

    it('a row with more fields than the header fails at the extra field', () => {
      const r = importCumulocityCsv('endpoint id,securityMode\na,NO_SEC\nb,NO_SEC,extra\nc,NO_SEC\n', { file: 'd.csv' });
      expect(r.imported.map((d) => d.endpoint)).toEqual(['a', 'c']);
      expect(formatImportFailures(r)).toEqual(['d.csv:3:10: row has 3 fields, the header 2']);
    });

    it('a CSV syntax error fails that row only; rows after it still import', () => {
      const r = importCumulocityCsv('endpoint id,securityMode\na,NO_SEC\nb"x,NO_SEC\nc,NO_SEC\n"d"e,NO_SEC\nf,NO_SEC\n', { file: 'd.csv' });
      expect(r.imported.map((d) => d.endpoint)).toEqual(['a', 'c', 'f']);
      expect(r.failedRows).toBe(2);
      expect(formatImportFailures(r)).toEqual([
        'd.csv:3:2: CSV syntax: a quote inside an unquoted field (quote the whole field and double the quote)',
        expect.stringMatching(/^d\.csv:5:4: CSV syntax: unexpected "e" after a closing quote/),
      ]);
    });

    it('an unterminated quote fails from its line on, earlier rows import', () => {
      const r = importCumulocityCsv('endpoint id,securityMode\na,NO_SEC\n"b,NO_SEC\n');
      expect(r.imported.map((d) => d.endpoint)).toEqual(['a']);
      expect(r.failed[0]).toMatchObject({ line: 3, column: 1, message: expect.stringMatching(/unterminated quoted field/) });
    });

    it('a broken header imports nothing', () => {
      const r = importCumulocityCsv('endpoint id,"securityMode\na,NO_SEC\n');
      expect(r.imported).toEqual([]);
      expect(r.failed.length).toBeGreaterThan(0);
    });

    it('several problems in one row are all reported, in column order', () => {
      const r = importCumulocityCsv(csv([{ ...PSK, 'lwm2m psk_key': 'zz', registrationLifetime: 'x', bindingMode: 'S' }]), { file: 'd.csv' });
      expect(r.imported).toEqual([]);
      expect(r.failedRows).toBe(1);
      expect(r.failed.map((f) => f.message)).toEqual([
        'lwm2m psk_key "zz" is not hex (0-9, a-f)', 'registrationLifetime (s) must be an integer in 1..4294967295, got "x"', 'bindingMode "S" is not one of U, UQ',
      ]);
    });

    it('never throws on random input', () => {
      let seed = 7;
      const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const alphabet = 'ab,;"\n\r \t0xPSK_NO_SECendpoint id,securityMode\uFEFF';
      const base = csv([NOSEC, PSK]);
      for (let i = 0; i < 500; i++) {
        const chars = [...base];
        for (let k = 0; k < 1 + Math.floor(rnd() * 6); k++) chars.splice(Math.floor(rnd() * chars.length), Math.floor(rnd() * 3), alphabet[Math.floor(rnd() * alphabet.length)] as string);
        const r = importCumulocityCsv(chars.join(''));
        for (const f of r.failed) {
          expect(f.line).toBeGreaterThanOrEqual(1);
          expect(f.column).toBeGreaterThanOrEqual(1);
        }
      }
    });
  });

  it('parseCsvTolerant keeps line numbers across recoveries', () => {
    const { records, errors } = parseCsvTolerant('a,b\n"x"y,1\nc,"d\ne"\nf,g\n', ',');
    expect(errors).toEqual([{ line: 2, column: 4, message: expect.stringMatching(/after a closing quote/) }]);
    expect(records.map((r) => [r.line, r.fields.map((f) => f.value)])).toEqual([[1, ['a', 'b']], [3, ['c', 'd\ne']], [5, ['f', 'g']]]);
    expect(records[1]?.fields[1]).toMatchObject({ line: 3, col: 3 });
  });

  it('reads a file from disk and reports an unreadable one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'c8y-'));
    try {
      const f = join(dir, 'devices.csv');
      await writeFile(f, 'endpoint id;securityMode\nz;PSK\n');
      const r = await importCumulocityCsvFile(f);
      expect(formatImportFailures(r)).toEqual([`${f}:2:3: securityMode PSK needs "lwm2m psk_id"`, `${f}:2:3: securityMode PSK needs "lwm2m psk_key"`, `${f}:2:3: securityMode PSK needs "bootstrap psk_id"`, `${f}:2:3: securityMode PSK needs "bootstrap psk_key"`]);
      await expect(importCumulocityCsvFile(join(dir, 'missing.csv'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
