/**
 * npm run bench:codec — encode+decode ops/s of a full /3/0 Device instance in every format, and of a
 * 100-entry SenML pack, each beside JSON.stringify + JSON.parse of the same data in the same run.
 */
import { cpus } from 'node:os';
import { writeFileSync, mkdirSync } from 'node:fs';
import { parsePath } from '../src/core/path.js';
import { ContentFormat, CONTENT_FORMAT_NAMES, type ContentFormatNumber } from '../src/codec/content-format.js';
import { decode, decodeRecords, encode, encodeRecords } from '../src/codec/dispatch.js';
import { loadBuiltinRegistry } from '../src/model/builtin.js';
import {
  multipleResource, nodeToRecords, objectInstance, resource, type LwM2MNode, type PathValue,
} from '../src/model/node.js';
import { bench, fmt } from './harness.js';

const models = loadBuiltinRegistry().lookup({ 3: '1.0' });
const devicePath = parsePath('/3/0');
const device = objectInstance(0, [
  resource(0, 'Open Mobile Alliance'),
  resource(1, 'Lightweight M2M Client'),
  resource(2, '345000123'),
  resource(3, '1.0'),
  multipleResource(6, [1, 5]),
  multipleResource(7, [3800, 5000]),
  multipleResource(8, [125, 900]),
  resource(9, 100),
  resource(10, 15),
  multipleResource(11, [0]),
  resource(13, new Date(1367491215 * 1000)),
  resource(14, '+02:00'),
  resource(15, 'Europe/Berlin'),
  resource(16, 'U'),
]);

/** The same data as a plain JSON document: a flat map of full path → JSON value. */
function toPlain(path: typeof devicePath, node: LwM2MNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of nodeToRecords(path, node)) out[r.path.toString()] = r.value instanceof Date ? r.value.getTime() / 1000 : r.value;
  return out;
}

const rows: Array<{ case: string; format: string; opsPerSec: number; jsonOpsPerSec: number; ratio: number }> = [];
const jsonInstance = toPlain(devicePath, device);
const jsonBaseline = bench('JSON /3/0', () => { JSON.parse(JSON.stringify(jsonInstance)); });

const instanceFormats: ContentFormatNumber[] = [
  ContentFormat.TLV, ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR, ContentFormat.LWM2M_CBOR, ContentFormat.OMA_JSON,
];
for (const f of instanceFormats) {
  const ctx = { path: devicePath, models };
  const r = bench(`${f}`, () => { decode(f, encode(f, device, ctx), ctx); });
  rows.push({ case: '/3/0 instance (14 resources)', format: `${CONTENT_FORMAT_NAMES[f]} (${f})`, opsPerSec: r.opsPerSec, jsonOpsPerSec: jsonBaseline.opsPerSec, ratio: r.opsPerSec / jsonBaseline.opsPerSec });
}

// Single-value formats carry one resource: /3/0/0 (string) — measured beside JSON of that one value.
const single = resource(0, 'Open Mobile Alliance');
const singleCtx = { path: parsePath('/3/0/0'), models };
const jsonSingle = bench('JSON /3/0/0', () => { JSON.parse(JSON.stringify({ '/3/0/0': 'Open Mobile Alliance' })); });
for (const f of [ContentFormat.TEXT, ContentFormat.CBOR] as const) {
  const r = bench(`${f}`, () => { decode(f, encode(f, single, singleCtx), singleCtx); });
  rows.push({ case: '/3/0/0 single resource', format: `${CONTENT_FORMAT_NAMES[f]} (${f})`, opsPerSec: r.opsPerSec, jsonOpsPerSec: jsonSingle.opsPerSec, ratio: r.opsPerSec / jsonSingle.opsPerSec });
}
const opaque = resource(0, new Uint8Array(64).fill(7));
const opaqueCtx = { path: parsePath('/5/0/0') };
{
  const plain = { '/5/0/0': Buffer.from(new Uint8Array(64).fill(7)).toString('base64') };
  const jsonOpaque = bench('JSON /5/0/0', () => { JSON.parse(JSON.stringify(plain)); });
  const r = bench('42', () => { decode(ContentFormat.OPAQUE, encode(ContentFormat.OPAQUE, opaque, opaqueCtx), opaqueCtx); });
  rows.push({ case: '/5/0/0 64-byte opaque', format: `${CONTENT_FORMAT_NAMES[42]} (42)`, opsPerSec: r.opsPerSec, jsonOpsPerSec: jsonOpaque.opsPerSec, ratio: r.opsPerSec / jsonOpaque.opsPerSec });
}

// A 100-entry SenML pack (Send of 100 timestamped temperature readings).
const pack: PathValue[] = Array.from({ length: 100 }, (_, i) => ({
  path: parsePath(`/3303/${i % 4}/5700`), value: 20 + (i % 17) * 0.25, time: 1_700_000_000 + i,
}));
const packPlain = pack.map((r) => ({ n: r.path.toString(), v: r.value, t: r.time }));
const jsonPack = bench('JSON pack', () => { JSON.parse(JSON.stringify(packPlain)); });
// LwM2M CBOR carries no timestamps, so it cannot carry this pack.
for (const f of [ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR] as const) {
  const r = bench(`${f}`, () => { decodeRecords(f, encodeRecords(f, pack, models), models); });
  rows.push({ case: '100-entry SenML pack', format: `${CONTENT_FORMAT_NAMES[f]} (${f})`, opsPerSec: r.opsPerSec, jsonOpsPerSec: jsonPack.opsPerSec, ratio: r.opsPerSec / jsonPack.opsPerSec });
}

const machine = `${cpus().length}× ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}`;
const date = new Date().toISOString().slice(0, 10);
console.log(`\nbench:codec — encode+decode round trips/s, ${date}, ${machine}\n`);
console.log('| case | format | ops/s | JSON.stringify+parse ops/s | ratio |');
console.log('|---|---|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.case} | ${r.format} | ${fmt(r.opsPerSec)} | ${fmt(r.jsonOpsPerSec)} | ${r.ratio.toFixed(2)}× |`);
mkdirSync('.bench-out', { recursive: true });
writeFileSync('.bench-out/codec.json', JSON.stringify({ date, machine, rows }, null, 2));
