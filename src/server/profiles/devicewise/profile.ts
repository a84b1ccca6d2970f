/**
 * deviceWISE-style device profile: one device bootstrapped to the platform's own DM server AND one or
 * more custom (third-party) DM servers, each connection with its own PSK identity and key
 * (id_bs/psk_bs → the devices' bootstrap credentials, id_dm/psk_dm → the platform server,
 * id_dm_custom/psk_dm_custom → each custom server), the Access Control object (/2) written at bootstrap,
 * location reporting on/off, a read set, attribute bindings (Write-Attributes) and FOTA settings.
 *
 * ```yaml
 * platform: { shortServerId: 1, identity: "dm-{ep}", lifetime: 300 }
 * customServers:
 *   - name: custom
 *     shortServerId: 2
 *     identity: "custom-{ep}"
 *     uri: coaps://custom.example:5684          # embedded target: the second reference server
 *     keyShare: { url: https://custom.example/api/v1/key-share, token: s3cret, timeout: 2s }
 *     access: { 3: [R], 3303: [R, W] }          # rights per object; objects not listed are withheld
 * locationReporting: false
 * read: [/3/0/0, /3/0/1]
 * attributes: { /3303/0/5700: { pmin: 5, pmax: 60 } }
 * fota: { protocol: coap, deliveryMethod: pull }
 * ```
 *
 * YAML or JSON (JSON is YAML); every problem is reported at `file:line:column` ({@link ProfileFileError}).
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { tryParsePath } from '../../../core/path.js';
import { ProfileFileError, type ProfileIssue } from '../issues.js';

export type DwRight = 'R' | 'W' | 'E' | 'D' | 'C';
export type DwFotaProtocol = 'coap' | 'coaps' | 'http' | 'https';
export type DwFotaDelivery = 'push' | 'pull' | 'both';

export interface DwServer {
  /** /0/x/10 = /1/x/0. */
  readonly shortServerId: number;
  /** PSK identity pattern; `{ep}` is the endpoint name. */
  readonly identity: string;
  readonly lifetime: number;
  readonly binding: string;
}

export interface DwKeyShare {
  /** `POST {endpoint, identity, key}` goes here before the credentials are written; embedded: the custom server's API. */
  readonly url?: string;
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** Bound on each POST (ms). Default 2000. */
  readonly timeoutMs: number;
}

export interface DwCustomServer extends DwServer {
  readonly name: string;
  /** coaps:// URI; absent: filled in by whoever starts the server (the embedded target). */
  readonly uri?: string;
  readonly keyShare: DwKeyShare;
  /** Object id → rights of this server (bit field as in /2/x/2). Objects not listed: no access. */
  readonly access: Readonly<Record<string, number>>;
}

export interface DeviceWiseProfile {
  readonly platform: DwServer;
  readonly customServers: readonly DwCustomServer[];
  /** true: the platform server observes the Location object (/6/0) after registration. */
  readonly locationReporting: boolean;
  /** Paths the platform server reads after each registration. */
  readonly read: readonly string[];
  /** Write-Attributes the platform server sends after each registration: path → query attributes. */
  readonly attributes: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly fota: { readonly protocol: DwFotaProtocol; readonly deliveryMethod: DwFotaDelivery };
}

const WHAT = 'deviceWISE device profile';
const RIGHT_BITS: Readonly<Record<DwRight, number>> = { R: 1, W: 2, E: 4, D: 8, C: 16 };
const ATTRS = new Set(['pmin', 'pmax', 'gt', 'lt', 'st', 'epmin', 'epmax']);

export async function loadDeviceWiseProfile(file: string): Promise<DeviceWiseProfile> {
  return parseDeviceWiseProfile(await readFile(file, 'utf8'), file);
}

/** Parses and validates a profile; throws {@link ProfileFileError} listing every problem. */
export function parseDeviceWiseProfile(text: string, file?: string): DeviceWiseProfile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  const issues: ProfileIssue[] = [];
  const at = (node: YamlNode | null | undefined, message: string): void => {
    const off = node?.range?.[0] ?? 0;
    const p = lc.linePos(off);
    issues.push({ severity: 'error', line: p.line, column: p.col, message });
  };
  for (const e of doc.errors) {
    const p = lc.linePos(e.pos[0]);
    issues.push({ severity: 'error', line: p.line, column: p.col, message: e.message.split('\n')[0] ?? e.message });
  }
  if (issues.length > 0) throw new ProfileFileError(issues, file, WHAT);
  const root = doc.contents;
  if (!isMap(root)) throw new ProfileFileError([{ severity: 'error', line: 1, column: 1, message: 'the profile must be a mapping (platform, customServers, …)' }], file, WHAT);

  const entries = (m: YamlNode, allowed: readonly string[], where: string): Map<string, YamlNode | null> => {
    const out = new Map<string, YamlNode | null>();
    if (!isMap(m)) return out;
    for (const pair of m.items) {
      const k = pair.key as YamlNode;
      const name = String((k as { value?: unknown }).value);
      if (!allowed.includes(name)) at(k, `unknown field "${name}" in ${where} (allowed: ${allowed.join(', ')})`);
      else out.set(name, (pair.value as YamlNode | null) ?? null);
    }
    return out;
  };
  // Aliases resolve against the document; anything that cannot be read as plain data is "no value".
  const value = (n: YamlNode | null | undefined): unknown => {
    if (!n) return undefined;
    try {
      return (n as { toJSON(arg?: unknown, ctx?: unknown): unknown }).toJSON(undefined, { doc, anchors: new Map(), keep: false, mapAsMap: false, maxAliasCount: 100 });
    } catch {
      return undefined;
    }
  };
  const int = (n: YamlNode | null | undefined, what: string, min: number, max: number, dflt?: number): number | undefined => {
    if (n === undefined) {
      if (dflt === undefined) return undefined;
      return dflt;
    }
    const v = value(n);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      at(n, `${what} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const duration = (n: YamlNode | null | undefined, what: string, dflt: number): number => {
    if (n === undefined) return dflt;
    const v = value(n);
    if (typeof v === 'number' && v > 0) return v * 1000;
    const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)(ms|s)$/.exec(v.trim()) : null;
    if (!m) {
      at(n, `${what} must be a duration such as 500ms or 2s, got ${JSON.stringify(v)}`);
      return dflt;
    }
    const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
    if (ms <= 0 || ms > 60_000) at(n, `${what} must be within 1ms..60s`);
    return ms;
  };
  const identity = (n: YamlNode | null | undefined, where: string, node: YamlNode): string => {
    const v = value(n);
    if (typeof v !== 'string' || v.length === 0 || v.length > 128) {
      at(n ?? node, `${where}.identity must be a PSK identity pattern (1..128 characters, {ep} = endpoint)`);
      return '';
    }
    return v;
  };
  const binding = (n: YamlNode | null | undefined): string => {
    if (n === undefined) return 'U';
    const v = value(n);
    if (v !== 'U' && v !== 'UQ') at(n, `binding must be U or UQ, got ${JSON.stringify(v)}`);
    return typeof v === 'string' ? v : 'U';
  };

  const top = entries(root, ['platform', 'customServers', 'locationReporting', 'read', 'attributes', 'fota'], 'the profile');
  const ssids = new Set<number>();
  const server = (n: YamlNode | null | undefined, where: string, extra: readonly string[]): { e: Map<string, YamlNode | null>; s: DwServer } | undefined => {
    if (!n || !isMap(n)) {
      at(n ?? root, `${where} must be a mapping with shortServerId and identity`);
      return undefined;
    }
    const e = entries(n, ['shortServerId', 'identity', 'lifetime', 'binding', ...extra], where);
    const ssid = int(e.get('shortServerId'), `${where}.shortServerId`, 1, 65534);
    if (e.get('shortServerId') === undefined) at(n, `${where}: missing shortServerId`);
    if (ssid !== undefined) {
      if (ssids.has(ssid)) at(e.get('shortServerId'), `${where}: shortServerId ${ssid} is used by another server`);
      ssids.add(ssid);
    }
    return {
      e,
      s: {
        shortServerId: ssid ?? 0,
        identity: identity(e.get('identity'), where, n),
        lifetime: int(e.get('lifetime'), `${where}.lifetime`, 1, 4_294_967_295, 300) ?? 300,
        binding: binding(e.get('binding')),
      },
    };
  };

  const platform = server(top.get('platform'), 'platform', []);
  const customs: DwCustomServer[] = [];
  const customNode = top.get('customServers');
  if (!customNode || !isSeq(customNode) || customNode.items.length === 0 || customNode.items.length > 16) {
    at(customNode ?? root, 'customServers must list 1..16 custom DM servers');
  } else {
    const names = new Set<string>();
    customNode.items.forEach((item, i) => {
      const where = `customServers[${i}]`;
      const r = server(item as YamlNode, where, ['name', 'uri', 'keyShare', 'access']);
      if (!r) return;
      const name = value(r.e.get('name'));
      if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(name)) at(r.e.get('name') ?? (item as YamlNode), `${where}.name must be 1..32 letters, digits, _ or -`);
      else if (names.has(name)) at(r.e.get('name'), `${where}: name "${name}" is used twice`);
      else names.add(name);
      const uri = value(r.e.get('uri'));
      if (uri !== undefined && (typeof uri !== 'string' || !/^coaps:\/\/[^\s/?#]+\/?$/.test(uri))) at(r.e.get('uri'), `${where}.uri must be a coaps:// URI (each connection has its own PSK)`);
      const ksNode = r.e.get('keyShare');
      let keyShare: DwKeyShare = { timeoutMs: 2000 };
      if (ksNode !== undefined) {
        if (!ksNode || !isMap(ksNode)) at(ksNode ?? (item as YamlNode), `${where}.keyShare must be a mapping (url, token, timeout)`);
        else {
          const ks = entries(ksNode, ['url', 'token', 'timeout'], `${where}.keyShare`);
          const url = value(ks.get('url'));
          if (url !== undefined && (typeof url !== 'string' || !/^https?:\/\/\S+$/.test(url))) at(ks.get('url'), `${where}.keyShare.url must be an http:// or https:// URL`);
          const token = value(ks.get('token'));
          if (token !== undefined && (typeof token !== 'string' || token.length === 0)) at(ks.get('token'), `${where}.keyShare.token must be a non-empty string`);
          keyShare = {
            ...(typeof url === 'string' ? { url } : {}),
            ...(typeof token === 'string' ? { token } : {}),
            timeoutMs: duration(ks.get('timeout'), `${where}.keyShare.timeout`, 2000),
          };
        }
      }
      const access: Record<string, number> = {};
      const accNode = r.e.get('access');
      if (accNode !== undefined) {
        if (!accNode || !isMap(accNode)) at(accNode ?? (item as YamlNode), `${where}.access must map object ids to rights lists ([R, W, E, D, C])`);
        else {
          for (const pair of accNode.items) {
            const k = pair.key as YamlNode;
            const id = Number(value(k));
            if (!Number.isInteger(id) || id < 1 || id > 65534) {
              at(k, `${where}.access: ${JSON.stringify(value(k))} is not an object id (1..65534; Security /0 is never accessible)`);
              continue;
            }
            const rights = value(pair.value as YamlNode);
            const list = Array.isArray(rights) ? rights : typeof rights === 'string' ? rights.split('') : undefined;
            if (!list || list.some((x) => typeof x !== 'string' || !(x in RIGHT_BITS))) {
              at((pair.value as YamlNode | null) ?? k, `${where}.access.${id}: rights must be a list of R, W, E, D, C`);
              continue;
            }
            access[String(id)] = (list as DwRight[]).reduce((b, x) => b | RIGHT_BITS[x], 0);
          }
        }
      }
      customs.push({ ...r.s, name: typeof name === 'string' ? name : '', ...(typeof uri === 'string' ? { uri: uri.replace(/\/$/, '') } : {}), keyShare, access });
    });
  }

  const loc = top.get('locationReporting');
  const locationReporting = value(loc);
  if (loc !== undefined && typeof locationReporting !== 'boolean') at(loc, 'locationReporting must be true or false');

  const read: string[] = [];
  const readNode = top.get('read');
  if (readNode !== undefined) {
    if (!readNode || !isSeq(readNode)) at(readNode ?? root, 'read must be a list of paths');
    else {
      for (const item of readNode.items) {
        const p = value(item as YamlNode);
        if (typeof p !== 'string' || !tryParsePath(p) || p === '/') at(item as YamlNode, `read: ${JSON.stringify(p)} is not an object, instance or resource path`);
        else read.push(p);
      }
    }
  }

  const attributes: Record<string, Record<string, number>> = {};
  const attrNode = top.get('attributes');
  if (attrNode !== undefined) {
    if (!attrNode || !isMap(attrNode)) at(attrNode ?? root, 'attributes must map paths to {pmin, pmax, gt, lt, st, epmin, epmax}');
    else {
      for (const pair of attrNode.items) {
        const k = pair.key as YamlNode;
        const p = value(k);
        if (typeof p !== 'string' || !tryParsePath(p) || p === '/') {
          at(k, `attributes: ${JSON.stringify(p)} is not a path`);
          continue;
        }
        const a: Record<string, number> = {};
        const v = pair.value as YamlNode | null;
        if (!v || !isMap(v)) {
          at(v ?? k, `attributes.${p} must be a mapping such as {pmin: 5, pmax: 60}`);
          continue;
        }
        for (const ap of v.items) {
          const an = String(value(ap.key as YamlNode));
          const av = value(ap.value as YamlNode);
          if (!ATTRS.has(an)) at(ap.key as YamlNode, `attributes.${p}: unknown attribute "${an}" (pmin, pmax, gt, lt, st, epmin, epmax)`);
          else if (typeof av !== 'number' || !Number.isFinite(av) || ((an === 'pmin' || an === 'pmax' || an === 'epmin' || an === 'epmax') && (!Number.isInteger(av) || av < 0))) {
            at((ap.value as YamlNode | null) ?? (ap.key as YamlNode), `attributes.${p}.${an} must be ${an.includes('min') || an.includes('max') ? 'a whole number of seconds' : 'a number'}`);
          } else a[an] = av;
        }
        if (a.pmin !== undefined && a.pmax !== undefined && a.pmax < a.pmin) at(v, `attributes.${p}: pmax ${a.pmax} is below pmin ${a.pmin}`);
        attributes[p] = a;
      }
    }
  }

  let fota: DeviceWiseProfile['fota'] = { protocol: 'coap', deliveryMethod: 'pull' };
  const fotaNode = top.get('fota');
  if (fotaNode !== undefined) {
    if (!fotaNode || !isMap(fotaNode)) at(fotaNode ?? root, 'fota must be a mapping (protocol, deliveryMethod)');
    else {
      const f = entries(fotaNode, ['protocol', 'deliveryMethod'], 'fota');
      const protocol = value(f.get('protocol')) ?? 'coap';
      const delivery = value(f.get('deliveryMethod')) ?? 'pull';
      if (!['coap', 'coaps', 'http', 'https'].includes(String(protocol))) at(f.get('protocol'), 'fota.protocol must be coap, coaps, http or https');
      if (!['push', 'pull', 'both'].includes(String(delivery))) at(f.get('deliveryMethod'), 'fota.deliveryMethod must be push, pull or both');
      fota = { protocol: protocol as DwFotaProtocol, deliveryMethod: delivery as DwFotaDelivery };
    }
  }

  if (issues.length > 0 || !platform) throw new ProfileFileError(issues.length > 0 ? issues : [{ severity: 'error', line: 1, column: 1, message: 'no platform server' }], file, WHAT);
  return { platform: platform.s, customServers: customs, locationReporting: locationReporting === true, read, attributes, fota };
}

/** `{ep}` in an identity pattern → the endpoint name. */
export function dwIdentity(pattern: string, endpoint: string): string {
  return pattern.replaceAll('{ep}', endpoint);
}
