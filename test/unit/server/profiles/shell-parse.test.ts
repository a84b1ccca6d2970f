import { describe, expect, it } from 'vitest';
import { ShellSyntaxError, parseShellLine, parseShellScript } from '../../../../src/server/profiles/shell/parse.js';
import { cumulocityFotaSpec, fwupdateImageRefs } from '../../../../src/server/profiles/cumulocity-fota.js';
import { fuzzDecoder } from '../../../helpers/fuzz.js';

const err = (line: string): ShellSyntaxError => {
  try {
    parseShellLine(line, 3);
  } catch (e) {
    if (e instanceof ShellSyntaxError) return e;
    throw e;
  }
  throw new Error(`no error for ${line}`);
};

describe('Cumulocity shell syntax', () => {
  it('parses every command', () => {
    expect(parseShellLine('read /3/0/0')).toMatchObject({ op: 'read' });
    expect(parseShellLine('READ 3/0/0')?.op).toBe('read');
    expect(parseShellLine('observe /3/0/9')).toMatchObject({ op: 'observe' });
    expect(parseShellLine('cancelobservation /3/0/9')).toMatchObject({ op: 'cancelobservation' });
    expect(parseShellLine('execute /3/0/4')).toMatchObject({ op: 'execute', args: '' });
    expect(parseShellLine("execute /3/0/4 0='a b',1")).toMatchObject({ op: 'execute', args: "0='a b',1" });
    expect(parseShellLine('write /1/0/1 300')).toMatchObject({ op: 'write', value: '300' });
    expect(parseShellLine('write /3/0/15 Europe/Berlin x')).toMatchObject({ value: 'Europe/Berlin x' });
    expect(parseShellLine('create /3303')).toMatchObject({ op: 'create', objectId: 3303, values: {} });
    expect(parseShellLine('create /3303/1 5700=21.5 5701=Cel')).toMatchObject({ objectId: 3303, instanceId: 1, values: { 5700: '21.5', 5701: 'Cel' } });
    expect(parseShellLine('delete /3303/1')).toMatchObject({ op: 'delete' });
    expect(parseShellLine('discover /3')).toMatchObject({ op: 'discover' });
    expect(parseShellLine('writeattr /3/0/9 pmin=1 pmax=60 gt=')).toMatchObject({ op: 'writeattr', attributes: { pmin: 1, pmax: 60, gt: null } });
    expect(parseShellLine('fwupdate fw;1.2.3;coap://h:5683/fw/abc')).toMatchObject({ op: 'fwupdate', name: 'fw', version: '1.2.3', url: 'coap://h:5683/fw/abc' });
    expect(parseShellLine('   ')).toBeUndefined();
    expect(parseShellLine('# comment')).toBeUndefined();
  });

  it('errors name the line and the column of the offending word', () => {
    expect(err('frobnicate /3')).toMatchObject({ line: 3, column: 1 });
    expect(err('read /3/x/0')).toMatchObject({ column: 6 });
    expect(err('read')).toMatchObject({ column: 5, detail: expect.stringContaining('missing') as string });
    expect(err('read /3/0/0 extra')).toMatchObject({ column: 13 });
    expect(err('execute /3/0')).toMatchObject({ column: 9 });
    expect(err('write /1/0/1')).toMatchObject({ detail: 'write: missing the value' });
    expect(err('writeattr /3/0/9 pmin=x')).toMatchObject({ column: 23 });
    expect(err('writeattr /3/0/9 foo=1')).toMatchObject({ column: 18 });
    expect(err('writeattr /3/0/9 pmin=1.5')).toMatchObject({ column: 23 });
    expect(err('writeattr /3/0/9')).toMatchObject({ detail: expect.stringContaining('at least one') as string });
    expect(err('create /3303 5700')).toMatchObject({ column: 14 });
    expect(err('delete /')).toMatchObject({ column: 8 });
    expect(err('fwupdate a;b')).toMatchObject({ column: 10 });
    expect(err('fwupdate a;b;ftp://x')).toMatchObject({ column: 14 });
    expect(err('fwupdate a;;coap://x')).toMatchObject({ column: 12 });
    expect(err('read /3/x/0').message).toMatch(/^3:6: read: bad path/);
  });

  it('a script: every bad line is reported; blank and comment lines skipped; bounded', () => {
    const r = parseShellScript('read /3/0/0\n\n# x\nbogus\nwrite /1/0/1\r\nobserve /3/0/9');
    expect(r.commands.map((c) => [c.op, c.line])).toEqual([['read', 1], ['observe', 6]]);
    expect(r.errors.map((e) => [e.line, e.column])).toEqual([[4, 1], [5, 13]]);
    expect(parseShellScript('').errors[0]?.detail).toContain('no command');
    expect(parseShellScript(Array(65).fill('read /3').join('\n')).errors[0]?.detail).toContain('more than 64');
  });

  it('never throws anything but ShellSyntaxError (fuzz)', () => {
    const seeds = ['read /3/0/0\nwriteattr /3/0/9 pmin=1 pmax=60', 'fwupdate a;1;coap://x/y\ncreate /3303/1 5700=1', 'execute /3/0/4 0=\'x\''].map((t) => new Uint8Array(Buffer.from(t)));
    fuzzDecoder((bytes) => {
      const r = parseShellScript(Buffer.from(bytes).toString('latin1'));
      for (const e of r.errors) {
        expect(e).toBeInstanceOf(ShellSyntaxError);
        expect(e.line).toBeGreaterThanOrEqual(1);
        expect(e.column).toBeGreaterThanOrEqual(1);
      }
      return r;
    }, seeds, { runs: 3000 });
  });
});

describe('Cumulocity FOTA spec', () => {
  it('maps delivery method, protocol and reset mechanism; 512-byte blocks', () => {
    expect(cumulocityFotaSpec(undefined)).toEqual({ method: 'push', blockSize: 512 });
    expect(cumulocityFotaSpec({ deliveryMethod: 'PUSH', resetMechanism: 'PACKAGE' })).toEqual({ method: 'push', blockSize: 512, resetMechanism: 'package' });
    expect(cumulocityFotaSpec({ deliveryMethod: 'PULL', supportedDeviceProtocol: 'COAPS', resetMechanism: 'PACKAGE_URI' }))
      .toEqual({ method: 'pull', protocol: 'coaps', blockSize: 512, resetMechanism: 'package-uri' });
    expect(cumulocityFotaSpec({ deliveryMethod: 'BOTH' }).method).toBe('push');
  });

  it('fwupdate names the image by name@version, then the URL file name', () => {
    expect(fwupdateImageRefs('fw', '2.0', 'http://h/files/fw-2.0.lwfw?x=1')).toEqual(['fw@2.0', 'fw-2.0.lwfw']);
    expect(fwupdateImageRefs('fw', '2.0', 'coap://h/%zz')).toEqual(['fw@2.0', '%zz']);
  });
});
