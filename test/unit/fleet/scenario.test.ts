import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATOR_SPEC_SCHEMA, createGenerator } from '../../../src/client/generators.js';
import {
  DEFAULT_SEED, FIRMWARE_OUTCOMES, PatternError, SCENARIO_SCHEMA, ScenarioError, applyOverrides, arrivalRateAt, arrivalsBy,
  compilePattern, derivePskKey, formatDuration, formatEndpoint, formatIssue, formatPattern, isScenarioError, loadScenario,
  parseDuration, parsePercent, parseScenario, pickFlow, pickFlowAt, resolveDevice, type Flow, type Scenario, type Step,
} from '../../../simulators/scenario/load.js';
import { STARTER_SCENARIO_FILE, starterScenario } from '../../../simulators/scenario/init.js';

const SCENARIOS_DIR = fileURLToPath(new URL('../../../scenarios/', import.meta.url));
const EXAMPLES = ['quickstart.yaml', 'telemetry.yaml', 'queue-mode.yaml', 'churn.yaml', 'bootstrap.yaml'];

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lwm2m-scenario-'));
  writeFileSync(join(dir, 'c8y.csv'), [
    'ID,IDTYPE,CREDENTIALS,TYPE,endpoint id,securityMode,lwm2m psk_id,lwm2m psk_key,registrationLifetime,bindingMode,awakeTimeRegistrationParameter',
    'dev-1,c8y_Id,Secret123456!,c8y_lwm2m,dev-1,NO_SEC,,,300,U,',
    'dev-2,c8y_Id,Secret123456!,c8y_lwm2m,dev-2,PSK,dev-2-id,00112233445566778899AABBCCDDEEFF,600,UQ,60000',
    'dev-3,c8y_Id,Secret123456!,c8y_lwm2m,dev-3,NO_SEC,,,,,',
  ].join('\n'));
  writeFileSync(join(dir, 'simple.csv'), 'endpoint,securityMode,identity,key,lifetime,binding,awakeTime,site\nm-1,NO_SEC,,,120,UQ,20,north\nm-2,PSK,m-2-id,0a0b,,,,south\n');
  writeFileSync(join(dir, 'broken.csv'), [
    'endpoint id,securityMode,lwm2m psk_id,lwm2m psk_key,registrationLifetime,bindingMode',
    'dev-1,NO_SEC,,,300,U',
    'dev-2,PSK,dev-2-id,0011zz,600,UQ',
    'dev-1,RPK,,,x,UX',
  ].join('\n'));
  writeFileSync(join(dir, 'levels.csv'), 'level\n1\n2\n3\n');
  writeFileSync(join(dir, 'bad-levels.csv'), 'level\n1\nlow\n');
  writeFileSync(join(dir, 'vendor.xml'), `<?xml version="1.0" encoding="utf-8"?>
<LWM2M><Object ObjectType="MODefinition"><Name>Vendor Meter</Name><Description1>x</Description1><ObjectID>10250</ObjectID>
<ObjectURN>urn:oma:lwm2m:x:10250</ObjectURN><LWM2MVersion>1.1</LWM2MVersion><ObjectVersion>1.0</ObjectVersion>
<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Resources>
<Item ID="1"><Name>Level</Name><Operations>R</Operations><MultipleInstances>Single</MultipleInstances><Mandatory>Mandatory</Mandatory><Type>Integer</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description>l</Description></Item>
<Item ID="2"><Name>Readings</Name><Operations>R</Operations><MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory><Type>Float</Type><RangeEnumeration></RangeEnumeration><Units></Units><Description>r</Description></Item>
</Resources><Description2></Description2></Object></LWM2M>
`);
  writeFileSync(join(dir, 'broken.xml'), '<LWM2M><Object ObjectType="MODefinition">\n<Name>x</Name>\n</LWM2M>\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The `file:line:col: message` lines of the ScenarioError that parsing `text` throws. */
async function problems(text: string, file = 'bad.yaml'): Promise<string[]> {
  try {
    await parseScenario(text, file, { baseDir: dir });
  } catch (e) {
    if (e instanceof ScenarioError) return e.lines();
    throw e;
  }
  throw new Error('expected a ScenarioError, the scenario loaded');
}

function parse(text: string, file = 'ok.yaml'): Promise<Scenario> {
  return parseScenario(text, file, { baseDir: dir });
}

const BASE = 'devices:\n  count: 10\nphases:\n  - duration: 10s\n    arrivalRate: 1\n';

// ---- example scenarios ---------------------------------------------------------------------------

describe('example scenarios', () => {
  it('ships exactly the scenarios this issue covers (plus the schema)', () => {
    const files = readdirSync(SCENARIOS_DIR).filter((f) => f.endsWith('.yaml')).sort();
    for (const f of EXAMPLES) expect(files).toContain(f);
  });

  it.each(EXAMPLES)('%s validates without warnings', async (name) => {
    const s = await loadScenario(join(SCENARIOS_DIR, name));
    expect(s.warnings).toEqual([]);
    expect(s.name).toBe(name.replace(/\.yaml$/, ''));
    expect(s.expectedArrivals).toBe(s.devices.count);
    expect(s.flows.length).toBeGreaterThan(0);
    expect(s.thresholds.length).toBeGreaterThan(0);
    // The normalised model is plain data: it crosses into worker threads unchanged.
    expect(structuredClone(s)).toEqual(s);
  });

  it('quickstart: 100 devices, embedded server, ~20 s of phases, observable values and sets', async () => {
    const s = await loadScenario(join(SCENARIOS_DIR, 'quickstart.yaml'));
    expect(s.target).toEqual({ kind: 'embedded' });
    expect(s.devices.count).toBe(100);
    expect(s.phasesMs).toBe(20_000);
    expect(s.durationMs).toBe(20_000);
    expect(s.devices.security).toEqual({ mode: 'nosec' });
    expect(formatPattern(s.devices.endpoint, { index: 42 })).toBe('sim-000042');
    expect(s.devices.objectIds).toEqual([0, 1, 2, 3, 4, 5, 3303]);
    const temp = s.devices.objects.find((o) => o.id === 3303);
    expect(temp?.name).toBe('Temperature');
    expect(temp?.sampleIntervalMs).toBe(1000);
    expect(temp?.instances[0]?.values.map((v) => v.resourceId)).toEqual([5700, 5701]);
    expect(temp?.instances[0]?.values[0]?.value).toMatchObject({ kind: 'generator', spec: { type: 'sine' } });
    const kinds = s.flows.flatMap((f) => f.steps.map((st) => st.kind));
    expect(kinds).toContain('register');
    expect(kinds).toContain('set');
    expect(s.options.seed).toBe(42);
    expect(s.thresholds[0]?.expression).toBe('register.p95 < 500ms');
    expect(s.thresholds[0]?.at).toMatchObject({ line: expect.any(Number) as number, col: 5 });
  });

  it('bootstrap: devices bootstrap first via the embedded bootstrap server, ThingsBoard-style names', async () => {
    const s = await loadScenario(join(SCENARIOS_DIR, 'bootstrap.yaml'));
    expect(s.devices.bootstrap).toBe(true);
    expect(formatPattern(s.devices.endpoint, { index: 19999 })).toBe('LwNoSec00019999');
    expect(s.flows[0]?.steps.slice(0, 2).map((st) => st.kind)).toEqual(['bootstrap', 'register']);
  });

  it('queue-mode and churn use their features', async () => {
    const q = await loadScenario(join(SCENARIOS_DIR, 'queue-mode.yaml'));
    expect(q.devices.binding).toBe('UQ');
    expect(q.devices.awakeTimeMs).toBe(10_000);
    const c = await loadScenario(join(SCENARIOS_DIR, 'churn.yaml'));
    const all = (steps: readonly Step[]): Step[] => steps.flatMap((st) => (st.kind === 'loop' ? [st, ...all(st.steps)] : [st]));
    const steps = c.flows.flatMap((f) => all(f.steps));
    expect(steps.find((st) => st.kind === 'fault' && st.loss !== undefined)).toMatchObject({ loss: 0.1, delayMs: 50, duplicate: 0.01 });
    expect(steps.some((st) => st.kind === 'fault' && st.rebind)).toBe(true);
    expect(steps.some((st) => st.kind === 'reboot' && st.downtimeMs === 5000)).toBe(true);
    expect(steps.some((st) => st.kind === 'go-offline')).toBe(true);
    expect(c.end.leave).toBe('drop');
  });

  it('the init starter scenario validates (and with other device counts)', async () => {
    for (const devices of [1, 50, 1234]) {
      const s = await parseScenario(starterScenario({ devices, name: 'my test' }), STARTER_SCENARIO_FILE);
      expect(s.devices.count).toBe(devices);
      expect(s.name).toBe('my test');
      expect(s.warnings).toEqual([]);
    }
    expect(starterScenario({ schemaPath: './scenarios/schema.json' })).toMatch(/^# yaml-language-server: \$schema=\.\/scenarios\/schema\.json\n/);
  });
});

// ---- the JSON Schema -----------------------------------------------------------------------------

describe('scenarios/schema.json', () => {
  it('is a draft 2020-12 schema that compiles in ajv strict mode', () => {
    expect(SCENARIO_SCHEMA.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    ajv.addKeyword('errorMessage');
    ajv.addKeyword('x-noun');
    expect(() => ajv.compile(SCENARIO_SCHEMA)).not.toThrow();
  });

  it('embeds the generator specs of src/client/generators.ts (csv adds `file`)', () => {
    const defs = SCENARIO_SCHEMA.$defs as Record<string, { allOf: { if: { properties: { type: { const: string } } }; then: Record<string, unknown> }[] }>;
    const ours = new Map(defs.generator?.allOf.map((b) => [b.if.properties.type.const, b.then]));
    expect([...ours.keys()]).toEqual(GENERATOR_SPEC_SCHEMA.oneOf.map((v) => v.properties.type.const));
    for (const variant of GENERATOR_SPEC_SCHEMA.oneOf) {
      const name = variant.properties.type.const;
      const mine = ours.get(name) ?? {};
      const { description: _d, ...rest } = mine;
      const props = { ...(rest.properties as Record<string, unknown>) };
      if (name === 'csv') delete props.file;
      expect({ ...rest, properties: props }).toEqual(JSON.parse(JSON.stringify(variant)));
    }
  });
});

// ---- invalid files: positions and messages -------------------------------------------------------

interface Bad {
  readonly name: string;
  readonly yaml: string;
  readonly errors: readonly string[];
}

const BAD: readonly Bad[] = [
  {
    name: 'YAML syntax error',
    yaml: 'devices:\n  count: [1, 2\nphases: []\n',
    errors: ['bad.yaml:3:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
  },
  {
    name: 'duplicate key',
    yaml: 'devices:\n  count: 1\n  count: 2\nphases:\n  - { duration: 1s, arrivalRate: 1 }\n',
    errors: ['bad.yaml:3:3: YAML: Map keys must be unique'],
  },
  { name: 'empty file', yaml: '', errors: ['bad.yaml:1:1: the scenario is empty'] },
  {
    name: 'not a map',
    yaml: '- a\n- b\n',
    errors: ['bad.yaml:1:1: a scenario is a map of fields (name, target, devices, phases, flows, thresholds, options), got a list'],
  },
  { name: 'missing phases', yaml: 'devices:\n  count: 3\n', errors: ['bad.yaml:1:1: missing required field "phases"'] },
  {
    name: 'misspelt fields, with suggestions',
    yaml: 'devices:\n  cout: 10\nphases:\n  - duration: 10s\n    arrivalRate: 1\nflow: []\n',
    errors: [
      'bad.yaml:1:1: devices: missing required field "count" (or give a device list: csv)',
      'bad.yaml:2:3: devices: unknown field "cout" (did you mean "count"?)',
      'bad.yaml:6:1: unknown field "flow" (did you mean "flows"?)',
    ],
  },
  {
    name: 'wrong types and enums',
    yaml: 'target: cop://x\ndevices:\n  count: 0\n  binding: UX\n  lwm2m: 1.2\nphases:\n  - duration: 10s\n    arrivalRate: -1\n',
    errors: [
      'bad.yaml:1:9: target: must be "embedded" or a coap:// / coaps:// server URI, got "cop://x"',
      'bad.yaml:3:10: devices.count: must be >= 1, got 0',
      'bad.yaml:4:12: devices.binding: must be one of U, UQ, S, SQ, US, UQS, got "UX" (did you mean U?)',
      'bad.yaml:5:10: devices.lwm2m: must be one of 1.0, 1.1, got 1.2',
      'bad.yaml:8:18: phases[0].arrivalRate: must be >= 0, got -1',
    ],
  },
  {
    name: 'bad durations',
    yaml: 'devices:\n  count: 10\n  lifetime: 5 min\nphases:\n  - duration: 30 sec\n    arrivalRate: 1\nflows:\n  - steps:\n      - wait: 1.5ms\n      - think: { min: 5s, max: 1s }\n',
    errors: [
      'bad.yaml:3:13: devices.lifetime: must be a duration such as 500ms, 1.5s, 30s, 2m, 1h or 1m30s (a bare number is seconds), got "5 min"',
      'bad.yaml:5:15: phases[0].duration: must be a duration such as 500ms, 1.5s, 30s, 2m, 1h or 1m30s (a bare number is seconds), got "30 sec"',
      'bad.yaml:9:15: flows[0].steps[0].wait: "1.5ms" is 1.5 ms: durations have millisecond resolution',
      'bad.yaml:10:32: flows[0].steps[1].think.max: must not be shorter than min (5s)',
    ],
  },
  {
    name: 'endpoint patterns (column inside a quoted scalar)',
    yaml: 'devices:\n  count: 10\n  endpoint: "dev-{index:6}"\nphases:\n  - duration: 10s\n    arrivalRate: 1\n',
    errors: ['bad.yaml:3:18: devices.endpoint: bad format "6" in {index:6}: write {index:06} to zero-pad to 6 digits'],
  },
  {
    name: 'unknown placeholder (column inside a plain scalar)',
    yaml: 'devices:\n  count: 10\n  endpoint: sim-{idx:06}\nphases:\n  - duration: 10s\n    arrivalRate: 1\n',
    errors: ['bad.yaml:3:17: devices.endpoint: unknown placeholder {idx:06} (did you mean {index}?); placeholders: {index}, {shard}, {seed}, {csv:column}'],
  },
  {
    name: 'endpoint without {index}',
    yaml: 'devices:\n  count: 10\n  endpoint: device\nphases:\n  - duration: 10s\n    arrivalRate: 1\n',
    errors: ['bad.yaml:3:13: devices.endpoint: all 10 devices would be named "device": add {index} (e.g. device{index:06})'],
  },
  {
    name: 'phases without arrivals, pause with a rate',
    yaml: 'devices:\n  count: 10\nphases:\n  - duration: 10s\n  - duration: 5s\n    pause: true\n    arrivalRate: 2\n',
    errors: [
      'bad.yaml:4:5: phases[0]: a phase needs arrivalRate, arrivalCount or pause: true',
      'bad.yaml:7:5: phases[1].arrivalRate: a pause phase brings no devices: remove arrivalRate or pause',
    ],
  },
  {
    name: 'no phase brings devices',
    yaml: 'devices:\n  count: 10\nphases:\n  - duration: 10s\n    pause: true\n',
    errors: ['bad.yaml:3:1: phases: no phase brings devices online: give a phase an arrivalRate or arrivalCount above 0'],
  },
  {
    name: 'weights and flow names',
    yaml: `${BASE}flows:\n  - name: a\n    weight: 0\n    steps: [register]\n  - name: a\n    steps: [register]\n`,
    errors: [
      'bad.yaml:8:13: flows[0].weight: must be > 0, got 0',
      'bad.yaml:10:11: flows[1].name: flow name "a" is already used by flows[0]',
    ],
  },
  {
    name: 'steps: unknown, mis-indented, not a step',
    yaml: `${BASE}flows:\n  - steps:\n      - waitt: 5s\n      - set:\n        path: /3/0/9\n      - 42\n`,
    errors: [
      'bad.yaml:8:9: flows[0].steps[0]: unknown step "waitt" (did you mean "wait"?)',
      'bad.yaml:9:9: flows[0].steps[1]: a step has exactly one key, its name (indent its fields below it)',
      'bad.yaml:9:9: flows[0].steps[1].set: must be a map, got empty',
      'bad.yaml:10:9: flows[0].steps[1]: unknown step "path" (expected one of: bootstrap, register, update, deregister, sleep, wake, wait, think, set, send, expect, reboot, go-offline, apply-firmware, fault, loop)',
      'bad.yaml:11:9: flows[0].steps[2]: a step is a name such as register or a map with one key such as "wait: 5s", got the number 42',
    ],
  },
  {
    name: 'loop nesting deeper than 4',
    yaml: `${BASE}flows:\n  - steps:\n      - loop:\n          count: 2\n          steps:\n            - loop:\n                count: 2\n                steps:\n                  - loop:\n                      count: 2\n                      steps:\n                        - loop:\n                            count: 2\n                            steps:\n                              - loop:\n                                  count: 2\n                                  steps: [update]\n`,
    errors: ['bad.yaml:20:33: flows[0].steps[0].loop.steps[0].loop.steps[0].loop.steps[0].loop.steps[0].loop: loops nest at most 4 deep'],
  },
  {
    name: 'unbounded and spinning loops',
    yaml: `${BASE}flows:\n  - steps:\n      - loop:\n          steps: [update]\n      - loop:\n          duration: 1m\n          steps: [update]\n`,
    errors: [
      'bad.yaml:8:9: flows[0].steps[0].loop: a loop needs count, duration or both (every loop ends)',
      'bad.yaml:10:9: flows[0].steps[1].loop: a loop bounded only by duration needs a wait, think, go-offline or reboot step (it would spin)',
    ],
  },
  {
    name: 'paths and values of set / send / expect',
    yaml: `${BASE}flows:\n  - steps:\n      - set: { path: /3303/0/5700, value: 1 }\n      - set: { path: /3/0, value: 1 }\n      - set: { path: /3/0/4, value: 1 }\n      - set: { path: /3/0/9, value: "full" }\n      - send: { paths: [/3/0/99999] }\n      - expect: { observe: /3/0/9, write: /3/0/14 }\n      - set: { path: 3-0-9, value: 1 }\n`,
    errors: [
      'bad.yaml:8:22: flows[0].steps[0].set.path: object 3303 is not on the devices (add it under devices.objects)',
      'bad.yaml:9:22: flows[0].steps[1].set.path: set needs a resource path such as /3303/0/5700',
      'bad.yaml:10:37: flows[0].steps[2].set.value: /3/0/4 is executable: it has no value',
      'bad.yaml:11:37: flows[0].steps[3].set.value: /3/0/9 is a number (integer), got "full"',
      'bad.yaml:12:25: flows[0].steps[4].send.paths[0]: path "/3/0/99999": id 99999 at level 3 exceeds 65535',
      'bad.yaml:13:9: flows[0].steps[5].expect: expect takes one operation, got observe and write: use one expect step each',
      'bad.yaml:14:22: flows[0].steps[6].set.path: must be an LwM2M path such as /3/0/9 or /3303/0/5700, got "3-0-9"',
    ],
  },
  {
    name: 'percentages',
    yaml: `${BASE}flows:\n  - steps:\n      - fault: { loss: 10, duplicate: 120% }\n      - fault: { loss: 100% }\n`,
    errors: [
      'bad.yaml:8:24: flows[0].steps[0].fault.loss: must be a percentage such as 10% or a fraction in [0, 1], got 10',
      'bad.yaml:8:39: flows[0].steps[0].fault.duplicate: 120% is over 100%',
      'bad.yaml:9:24: flows[0].steps[1].fault.loss: 100% loss is going offline: use a go-offline step',
    ],
  },
  {
    name: 'queue mode and LwM2M 1.1 steps on the wrong devices',
    yaml: 'devices:\n  count: 10\n  lwm2m: 1.0\n  awakeTime: 10s\nphases:\n  - duration: 10s\n    arrivalRate: 1\nflows:\n  - steps: [register, sleep, { send: { paths: [/3/0/9] } }]\n',
    errors: [
      'bad.yaml:4:3: devices.awakeTime: awakeTime is for queue mode: set binding: UQ',
      'bad.yaml:9:23: flows[0].steps[1]: sleep is for queue mode: set devices.binding: UQ',
      'bad.yaml:9:32: flows[0].steps[2].send: send is an LwM2M 1.1 operation: set devices.lwm2m: 1.1',
    ],
  },
  {
    name: 'bootstrap: no bootstrap server, register before bootstrap',
    yaml: 'target: coap://lwm2m.example.com:5783\ndevices:\n  count: 10\n  bootstrap: true\nphases:\n  - duration: 10s\n    arrivalRate: 1\nflows:\n  - steps: [bootstrap]\n',
    errors: [
      'bad.yaml:4:14: devices.bootstrap: devices bootstrap first but the target has no bootstrap server: set target.bootstrap (or target: embedded)',
      'bad.yaml:9:13: flows[0].steps[0]: bootstrap needs a bootstrap server: set target.bootstrap (or target: embedded)',
    ],
  },
  {
    name: 'register before bootstrap',
    yaml: 'devices:\n  count: 10\n  bootstrap: true\nphases:\n  - duration: 10s\n    arrivalRate: 1\nflows:\n  - steps:\n      - wait: 1s\n      - register\n      - bootstrap\n',
    errors: ['bad.yaml:10:9: flows[0].steps[1]: devices bootstrap first (devices.bootstrap: true): add a bootstrap step before register'],
  },
  {
    name: 'target and security consistency',
    yaml: 'target:\n  bootstrap: coap://bs.example:5683\ndevices:\n  count: 10\n  security: psk\nphases:\n  - duration: 10s\n    arrivalRate: 1\n',
    errors: [
      'bad.yaml:1:1: target: no DM server: give target.server, or let devices bootstrap first (devices.bootstrap: true)',
      'bad.yaml:5:3: devices.security: PSK devices need coaps:// URIs in the target',
    ],
  },
  {
    name: 'PSK identity and key',
    yaml: 'devices:\n  count: 10\n  security:\n    mode: psk\n    identity: "{endpoint}-{idx}"\n    key: abc\nphases:\n  - duration: 10s\n    arrivalRate: 1\n',
    errors: [
      'bad.yaml:5:27: devices.security.identity: unknown placeholder {idx} (did you mean {index}?); placeholders: {index}, {shard}, {seed}, {endpoint}, {csv:column}',
      'bad.yaml:6:10: devices.security.key: must be a hex key (1 to 64 bytes, e.g. 000102030405060708090a0b0c0d0e0f), derive, a pattern such as {csv:key}, or { seeded: true }, got "abc"',
    ],
  },
  {
    name: 'objects: resources, generators, reserved and unknown objects',
    yaml: 'devices:\n  count: 10\n  objects:\n    3303:\n      instances:\n        - values:\n            5700: { type: randomWalk, start: 50, step: 1, min: 0, max: 40 }\n            5701: { type: sinus, min: 0 }\n            5799: 1\n    1: {}\n    9999: {}\n    abc: {}\nphases:\n  - duration: 10s\n    arrivalRate: 1\n',
    errors: [
      'bad.yaml:7:46: devices.objects.3303.instances[0].values.5700.start: resource 3303/5700 (Sensor Value): must lie in [min, max] = [0, 40], got 50',
      'bad.yaml:8:27: devices.objects.3303.instances[0].values.5701.type: must be one of constant, randomWalk, sine, sequence, csv, got "sinus" (did you mean sine?)',
      'bad.yaml:9:13: devices.objects.3303.instances[0].values.5799: object 3303 (Temperature 1.1) has no resource 5799',
      'bad.yaml:10:5: devices.objects.1: object 1 (Server) is built from target, security and bootstrap settings; it cannot be configured here',
      'bad.yaml:11:5: devices.objects.9999: object 9999 is not shipped with lwm2m-fleet: give its OMA DDF XML file with model: path/to/9999.xml',
      'bad.yaml:12:5: devices.objects: "abc": object keys are object ids such as 3303',
    ],
  },
  {
    name: 'single-instance objects and value shapes',
    yaml: 'devices:\n  count: 10\n  objects:\n    3:\n      instances:\n        - values: { 9: [1, 2], 6: 1, 0: 5 }\n        - values: {}\nphases:\n  - duration: 10s\n    arrivalRate: 1\n',
    errors: [
      'bad.yaml:6:24: devices.objects.3.instances[0].values.9: resource 3/9 (Battery Level) is a single resource: give one value, not a list',
      'bad.yaml:6:35: devices.objects.3.instances[0].values.6: resource 3/6 (Available Power Sources) is a multiple resource: give a list of values (instances 0, 1, …)',
      'bad.yaml:6:41: devices.objects.3.instances[0].values.0: resource 3/0 (Manufacturer) is a string: quote the value, got 5',
      'bad.yaml:7:11: devices.objects.3.instances[1]: object 3 (Device) is single-instance: only instance 0',
    ],
  },
  {
    name: 'options',
    yaml: `${BASE}thresholds:\n  - ""\noptions:\n  workers: many\n  logLevel: verbose\n  metricsPort: 70000\n`,
    errors: [
      'bad.yaml:7:5: thresholds[0]: must not be empty',
      'bad.yaml:9:12: options.workers: must be "auto", got "many"',
      'bad.yaml:10:13: options.logLevel: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
      'bad.yaml:11:16: options.metricsPort: must be <= 65535, got 70000',
    ],
  },
  {
    name: 'bare steps take no value',
    yaml: `${BASE}flows:\n  - steps:\n      - register: 5\n      - reboot: 5s\n`,
    errors: [
      'bad.yaml:8:19: flows[0].steps[0].register: takes no value: write just the step name, got the number 5',
      'bad.yaml:9:17: flows[0].steps[1].reboot: takes nothing or { downtime: 5s }, got the string "5s"',
    ],
  },
  {
    name: 'merge keys: errors inside merged maps point at the anchored node',
    yaml: 'x-phase: &p\n  duration: 10 sec\ndevices:\n  count: 10\nphases:\n  - <<: *p\n    arrivalRate: 1\n',
    errors: ['bad.yaml:2:13: phases[0].duration: must be a duration such as 500ms, 1.5s, 30s, 2m, 1h or 1m30s (a bare number is seconds), got "10 sec"'],
  },
  {
    name: 'a YAML alias is followed (error at the alias)',
    yaml: 'phaseDefaults: &d\n  duration: 10s\ndevices:\n  count: 10\nphases:\n  - *d\n',
    errors: [
      'bad.yaml:1:1: unknown field "phaseDefaults" (expected one of: $schema, name, description, target, devices, phases, end, flows, thresholds, options)',
      'bad.yaml:6:5: phases[0]: a phase needs arrivalRate, arrivalCount or pause: true',
    ],
  },
];

describe('invalid scenarios: every error as file:line:col: message', () => {
  it.each(BAD.map((b) => [b.name, b] as const))('%s', async (_name, bad) => {
    expect(await problems(bad.yaml)).toEqual(bad.errors);
  });

  it('ScenarioError carries the issues; its message lists them', async () => {
    let err: unknown;
    try {
      await parse('devices:\n  count: 0\nphases: []\n', 'x.yaml');
    } catch (e) {
      err = e;
    }
    expect(isScenarioError(err)).toBe(true);
    const se = err as ScenarioError;
    expect(se.issues).toEqual([
      { file: 'x.yaml', line: 2, col: 10, message: 'devices.count: must be >= 1, got 0' },
      { file: 'x.yaml', line: 3, col: 9, message: 'phases: must have at least 1 item(s)' },
    ]);
    expect(se.message).toBe('2 problems:\nx.yaml:2:10: devices.count: must be >= 1, got 0\nx.yaml:3:9: phases: must have at least 1 item(s)');
    expect(se.code).toBe('LWM2M_BAD_VALUE');
    expect(formatIssue({ file: 'a.yaml', message: 'm' })).toBe('a.yaml: m');
  });

  it('an unreadable file is an error naming the file', async () => {
    const missing = join(dir, 'nope.yaml');
    await expect(loadScenario(missing)).rejects.toThrow(`${missing}: cannot read the scenario: no such file`);
  });
});

// ---- CSV device lists and XML models -------------------------------------------------------------

describe('device CSV (Cumulocity bulk-registration columns)', () => {
  it('reads rows; cells override defaults; count defaults to the rows', async () => {
    const s = await parse('target: embedded\ndevices:\n  csv: c8y.csv\n  device: { serial: "SN-{csv:ID}" }\nphases:\n  - duration: 3s\n    arrivalRate: 1\n');
    expect(s.devices.count).toBe(3);
    expect(s.devices.endpoint.source).toBe('{csv:endpoint id}');
    expect(s.devices.csv?.rows[1]).toMatchObject({
      line: 3, endpoint: 'dev-2', securityMode: 'psk', identity: 'dev-2-id', key: '00112233445566778899aabbccddeeff',
      lifetimeS: 600, binding: 'UQ', awakeTimeMs: 60_000,
    });
    const d1 = resolveDevice(s, 1);
    expect(d1).toMatchObject({
      index: 1, endpoint: 'dev-2', lifetimeS: 600, binding: 'UQ', awakeTimeMs: 60_000, serialNumber: 'SN-dev-2',
      security: { mode: 'psk', identity: 'dev-2-id', key: '00112233445566778899aabbccddeeff' },
    });
    expect(resolveDevice(s, 2)).toMatchObject({ endpoint: 'dev-3', lifetimeS: 300, binding: 'U', security: { mode: 'nosec' } });
  });

  it('our own column names, {csv:…} patterns, start offset', async () => {
    const s = await parse('devices:\n  csv: simple.csv\n  start: 1\n  endpoint: "{csv:endpoint}-{csv:site}"\nphases:\n  - duration: 1s\n    arrivalRate: 1\n');
    expect(s.devices.count).toBe(1);
    expect(resolveDevice(s, 0)).toMatchObject({ index: 1, endpoint: 'm-2-south', security: { mode: 'psk', identity: 'm-2-id', key: '0a0b' } });
    const t = await parse('devices:\n  csv: simple.csv\nphases:\n  - duration: 2s\n    arrivalRate: 1\n');
    expect(resolveDevice(t, 0)).toMatchObject({ endpoint: 'm-1', lifetimeS: 120, binding: 'UQ', awakeTimeMs: 20_000 });
  });

  it('reports problems at the CSV line and column', async () => {
    const csv = join(dir, 'broken.csv');
    expect(await problems('devices:\n  csv: broken.csv\nphases:\n  - duration: 10s\n    arrivalRate: 1\n')).toEqual([
      `${csv}:3:20: key must be hex (1 to 64 bytes), got "0011zz"`,
      `${csv}:4:1: duplicate endpoint "dev-1" (first on line 2)`,
      `${csv}:4:7: securityMode "RPK" is not supported (NO_SEC or PSK)`,
      `${csv}:4:13: lifetime (seconds) must be an integer in 1..604800, got "x"`,
      `${csv}:4:15: binding "UX" is not supported (U or UQ)`,
    ]);
  });

  it('reports a missing file, a missing column and too few rows at the YAML node', async () => {
    expect(await problems('devices:\n  csv: missing.csv\nphases:\n  - duration: 10s\n    arrivalRate: 1\n')).toEqual([
      'bad.yaml:2:8: devices.csv: cannot read device CSV missing.csv: no such file',
    ]);
    expect(await problems('devices:\n  csv: simple.csv\n  count: 5\n  security: { mode: psk, key: "{csv:secret}" }\nphases:\n  - duration: 10s\n    arrivalRate: 1\n')).toEqual([
      'bad.yaml:3:10: devices.count: the device CSV has 2 rows, fewer than count 5',
      'bad.yaml:4:32: devices.security.key: the device CSV has no column "secret" (columns: endpoint, securityMode, identity, key, lifetime, binding, awakeTime, site)',
    ]);
    expect(await problems('devices:\n  count: 2\n  endpoint: "{csv:endpoint}"\nphases:\n  - duration: 10s\n    arrivalRate: 1\n')).toEqual([
      'bad.yaml:3:14: devices.endpoint: {csv:…} needs a device list: devices.csv',
    ]);
  });
});

describe('objects from XML models and CSV generators', () => {
  it('loads a vendor object from its DDF file, inlines CSV generator files', async () => {
    const s = await parse([
      'devices:', '  count: 2', '  objects:', '    10250:', '      model: vendor.xml', '      instances:',
      '        - values: { 1: 5, 2: [1.5, 2.5] }', '        - id: 7', '          values:',
      '            1: { type: csv, file: levels.csv, column: level, intervalS: 1 }',
      'phases:', '  - duration: 2s', '    arrivalRate: 1',
      'flows:', '  - steps: [register, { set: { path: /10250/7/1, value: 3 } }, { send: { paths: [/10250/0/2] } }]', '',
    ].join('\n'));
    const obj = s.devices.objects[0];
    expect(obj).toMatchObject({ id: 10250, name: 'Vendor Meter', modelFile: join(dir, 'vendor.xml') });
    expect(obj?.instances.map((i) => i.id)).toEqual([0, 7]);
    expect(obj?.instances[0]?.values[1]?.value).toEqual({ kind: 'list', values: [1.5, 2.5] });
    const gen = obj?.instances[1]?.values[0]?.value;
    expect(gen).toEqual({
      kind: 'generator',
      spec: { type: 'csv', column: 'level', intervalS: 1, text: 'level\n1\n2\n3\n', source: join(dir, 'levels.csv') },
    });
    if (gen?.kind === 'generator') expect(createGenerator(gen.spec).next(0)).toBe(1);
    expect(s.devices.objectIds).toEqual([0, 1, 2, 3, 4, 5, 10250]);
  });

  it('points at the model file, the XML or the CSV that is wrong', async () => {
    const tail = 'phases:\n  - duration: 10s\n    arrivalRate: 1\n';
    expect(await problems(`devices:\n  count: 2\n  objects:\n    10250: { model: none.xml }\n    3303: { model: vendor.xml }\n${tail}`)).toEqual([
      'bad.yaml:4:21: devices.objects.10250.model: cannot read model file none.xml: no such file',
      'bad.yaml:5:20: devices.objects.3303.model: vendor.xml defines object 10250, not 3303',
    ]);
    const xmlErrors = await problems(`devices:\n  count: 2\n  objects:\n    10250: { model: broken.xml }\n${tail}`);
    expect(xmlErrors).toHaveLength(1);
    expect(xmlErrors[0]).toMatch(new RegExp(`^${join(dir, 'broken.xml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: `));
    expect(await problems(`devices:\n  count: 2\n  objects:\n    3303:\n      instances:\n        - values: { 5700: { type: csv, file: bad-levels.csv, column: level } }\n${tail}`)).toEqual([
      `${join(dir, 'bad-levels.csv')}:3:1: "low" is not a number`,
    ]);
    expect(await problems(`devices:\n  count: 2\n  objects:\n    10250:\n      model: vendor.xml\n      instances:\n        - values: { 1: 2.5 }\n${tail}flows:\n  - steps: [{ set: { path: /10250/3/1, value: 1 } }]\n`)).toEqual([
      'bad.yaml:7:24: devices.objects.10250.instances[0].values.1: resource 10250/1 (Level) is an integer, got 2.5',
      'bad.yaml:12:28: flows[0].steps[0].set.path: object 10250 (Vendor Meter) has no instance 3 (instances: 0)',
    ]);
  });
});

// ---- normalisation details -----------------------------------------------------------------------

describe('normalised model', () => {
  it('applies defaults', async () => {
    const s = await parse(BASE);
    expect(s).toMatchObject({
      name: 'ok', target: { kind: 'embedded' }, end: { holdMs: 0, leave: 'deregister' }, thresholds: [],
      options: { seed: DEFAULT_SEED, logLevel: 'info' }, phasesMs: 10_000, durationMs: 10_000, expectedArrivals: 10,
    });
    expect(s.devices).toMatchObject({ count: 10, start: 0, lwm2m: '1.1', lifetimeS: 300, binding: 'U', bootstrap: false, security: { mode: 'nosec' } });
    expect(s.devices.awakeTimeMs).toBeUndefined();
    expect(s.flows.map((f) => [f.name, f.weight, f.steps.map((st) => st.kind)])).toEqual([['default', 1, ['register']]]);
  });

  it('x- extension fields hold YAML anchors; merge keys work', async () => {
    const s = await parse('x-steady: &steady\n  duration: 5s\n  pause: true\nx-wait: &w { wait: 2s }\ndevices:\n  count: 5\nphases:\n  - { duration: 5s, arrivalRate: 1 }\n  - <<: *steady\n    name: calm\nflows:\n  - steps: [register, *w]\n');
    expect(s.phases[1]).toMatchObject({ name: 'calm', durationMs: 5000, pause: true, startMs: 5000 });
    expect(s.flows[0]?.steps[1]).toMatchObject({ kind: 'wait', durationMs: 2000 });
  });

  it('targets: URIs with default ports, IPv6', async () => {
    const s = await parse(`target: { server: "coap://[::1]", bootstrap: "coap://bs.example:5694/" }\ndevices:\n  count: 1\nphases:\n  - { duration: 1s, arrivalRate: 1 }\n`);
    expect(s.target).toEqual({
      kind: 'remote',
      server: { uri: 'coap://[::1]', scheme: 'coap', host: '::1', port: 5683 },
      bootstrap: { uri: 'coap://bs.example:5694', scheme: 'coap', host: 'bs.example', port: 5694 },
    });
    const secure = await parse(`target: coaps://lwm2m.example\ndevices:\n  count: 1\n  security: psk\nphases:\n  - { duration: 1s, arrivalRate: 1 }\n`);
    expect(secure.target).toEqual({ kind: 'remote', server: { uri: 'coaps://lwm2m.example', scheme: 'coaps', host: 'lwm2m.example', port: 5684 } });
    expect(await problems(`target: { server: "coaps://x", bootstrap: "coap://y/bs" }\ndevices:\n  count: 1\nphases:\n  - { duration: 1s, arrivalRate: 1 }\n`)).toEqual([
      'bad.yaml:1:43: target.bootstrap: must be a coap:// or coaps:// URI such as coap://localhost:5683, got "coap://y/bs"',
    ]);
  });

  it('phases: rates, ramps, arrivalCount, pauses; warns when the phases bring too few devices', async () => {
    const s = await parse('devices:\n  count: 1000\nphases:\n  - { duration: 10s, arrivalRate: 0, rampTo: 10 }\n  - { duration: 2s, pause: true }\n  - { name: burst, duration: 4s, arrivalCount: 20 }\n');
    expect(s.phases.map((p) => [p.name, p.startMs, p.durationMs, p.fromRate, p.toRate, p.pause, p.arrivals])).toEqual([
      ['phase 1', 0, 10_000, 0, 10, false, 50],
      ['phase 2', 10_000, 2000, 0, 0, true, 0],
      ['burst', 12_000, 4000, 5, 5, false, 20],
    ]);
    expect(s.expectedArrivals).toBe(70);
    expect(s.warnings.map(formatIssue)).toEqual(['ok.yaml:3:1: phases: the phases bring about 70 of the 1000 devices online (raise an arrivalRate or a duration)']);
    expect(arrivalsBy(s.phases, 5000)).toBeCloseTo(12.5);
    expect(arrivalsBy(s.phases, 14_000)).toBeCloseTo(60);
    expect(arrivalRateAt(s.phases, 5000)).toBeCloseTo(5);
    expect(arrivalRateAt(s.phases, 11_000)).toBe(0);
    expect(arrivalRateAt(s.phases, 99_000)).toBe(0);
  });

  it('steps: every kind normalised', async () => {
    const s = await parse(`devices:\n  count: 10\n  binding: UQ\n  objects:\n    3303: {}\nphases:\n  - { duration: 10s, arrivalRate: 1 }\nflows:\n  - steps:\n${[
      'bootstrap', 'register', 'update', '{ wait: 1.5s }', '{ think: { min: 500ms, max: 2s } }',
      '{ set: { path: /3303/0/5700, value: { type: sine, min: 0, max: 10, periodS: 60 } } }',
      '{ send: { paths: [/3303/0/5700, /3] } }', '{ expect: { write: /3/0/14 } }', '{ expect: { execute: /3/0/4, within: 1m } }',
      'sleep', 'wake', 'reboot', '{ reboot: { downtime: 5s } }', '{ go-offline: { duration: 30s } }',
      '{ apply-firmware: { outcome: integrity, duration: 10s } }', '{ fault: { loss: 10%, delay: 50ms, duplicate: 0.01, rebind: true, clockSkew: -5s } }',
      '{ loop: { count: 3, duration: 1m, steps: [update] } }', 'deregister',
    ].map((x) => `      - ${x}`).join('\n')}\n`);
    const steps = (s.flows[0] as Flow).steps.map(({ at: _at, ...rest }) => rest);
    expect(steps).toEqual([
      { kind: 'bootstrap' }, { kind: 'register' }, { kind: 'update' }, { kind: 'wait', durationMs: 1500 },
      { kind: 'think', minMs: 500, maxMs: 2000 },
      { kind: 'set', path: '/3303/0/5700', value: { kind: 'generator', spec: { type: 'sine', min: 0, max: 10, periodS: 60 } } },
      { kind: 'send', paths: ['/3303/0/5700', '/3'] },
      { kind: 'expect', operation: 'write', path: '/3/0/14', withinMs: 30_000, label: 'expect write /3/0/14 within 30s' },
      { kind: 'expect', operation: 'execute', path: '/3/0/4', withinMs: 60_000, label: 'expect execute /3/0/4 within 1m' },
      { kind: 'sleep' }, { kind: 'wake' }, { kind: 'reboot', downtimeMs: 0 }, { kind: 'reboot', downtimeMs: 5000 },
      { kind: 'go-offline', durationMs: 30_000 },
      { kind: 'apply-firmware', outcome: 'integrity', result: FIRMWARE_OUTCOMES.integrity, durationMs: 10_000 },
      { kind: 'fault', loss: 0.1, delayMs: 50, duplicate: 0.01, rebind: true, clockSkewMs: -5000 },
      { kind: 'loop', count: 3, durationMs: 60_000, steps: [{ kind: 'update', at: expect.anything() as unknown }] },
      { kind: 'deregister' },
    ]);
    expect(FIRMWARE_OUTCOMES.integrity).toBe(5);
    expect((s.flows[0] as Flow).steps[3]?.at).toEqual({ file: 'ok.yaml', line: 13, col: 9 });
    expect(s.devices.awakeTimeMs).toBe(30_000);
  });

  it('PSK devices: seeded keys are reproducible and per device', async () => {
    const s = await parse('target: { server: "coaps://lwm2m.example:5784" }\ndevices:\n  count: 3\n  endpoint: LwPSK{index:08}\n  security: { mode: psk, identity: "{endpoint}-identity", key: { seeded: true, length: 8 } }\nphases:\n  - { duration: 3s, arrivalRate: 1 }\noptions:\n  seed: 99\n');
    const d = resolveDevice(s, 2);
    expect(d.endpoint).toBe('LwPSK00000002');
    expect(d.security).toEqual({ mode: 'psk', identity: 'LwPSK00000002-identity', key: derivePskKey(99, 'LwPSK00000002', 8) });
    expect(derivePskKey(99, 'LwPSK00000002', 8)).toMatch(/^[0-9a-f]{16}$/);
    expect(derivePskKey(99, 'LwPSK00000002', 8)).toBe(derivePskKey(99, 'LwPSK00000002', 8));
    expect(derivePskKey(99, 'LwPSK00000001', 8)).not.toBe(derivePskKey(99, 'LwPSK00000002', 8));
    const hex = await parse('target: coaps://x\ndevices:\n  count: 1\n  security: { mode: psk, key: 0A0B0C0D }\nphases:\n  - { duration: 1s, arrivalRate: 1 }\n');
    expect(resolveDevice(hex, 0).security).toEqual({ mode: 'psk', identity: 'sim-000000', key: '0a0b0c0d' });
    expect(() => resolveDevice(hex, 1)).toThrow('outside 0..0');
  });
});

// ---- patterns, durations, percentages, weights ---------------------------------------------------

describe('endpoint patterns', () => {
  it.each([
    ['sim-{index:06}', 42, 'sim-000042'],
    ['LwNoSec{index:08}', 0, 'LwNoSec00000000'],
    ['LwNoSec{index:08}', 19_999, 'LwNoSec00019999'],
    ['dev-{index}', 7, 'dev-7'],
    ['sim-{index:04}', 123_456, 'sim-123456'],
    ['node-{index:x}', 255, 'node-ff'],
    ['node-{index:04X}', 255, 'node-00FF'],
    ['{{literal}}-{index}', 3, '{literal}-3'],
    ['s{shard}-{index:03}', 5, 's2-005'],
  ] as const)('%s with index %d → %s', (pattern, index, expected) => {
    expect(formatEndpoint(pattern, { index, shard: 2 })).toBe(expected);
  });

  it('seed, endpoint and csv placeholders', () => {
    const p = compilePattern('{endpoint}-identity-{seed}-{csv:Site}');
    expect(p.placeholders).toEqual(['endpoint', 'seed', 'csv']);
    expect(formatPattern(p, { index: 0, endpoint: 'ep1', seed: 'run', csv: { site: 'north' } })).toBe('ep1-identity-run-north');
    expect(() => formatPattern(p, { index: 0, endpoint: 'ep1' })).toThrow('no value for {csv:Site}');
  });

  it.each([
    ['sim-{idx}', 4, 'unknown placeholder {idx}'],
    ['sim-{index', 4, 'unclosed "{"'],
    ['sim-}', 4, 'unmatched "}"'],
    ['sim-{index:6}', 4, 'write {index:06}'],
    ['sim-{index:0100}', 4, 'bad format'],
    ['a{endpoint:06}', 1, 'takes no format'],
    ['{csv:}', 0, 'needs a column name'],
  ] as const)('rejects %s at offset %d', (pattern, offset, message) => {
    let err: unknown;
    try {
      compilePattern(pattern);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PatternError);
    expect((err as PatternError).offset).toBe(offset);
    expect((err as PatternError).message).toContain(message);
  });

  it('endpoint patterns cannot use {endpoint}', () => {
    expect(() => formatEndpoint('{endpoint}-x', { index: 1 })).toThrow('{endpoint} cannot be used here');
  });
});

describe('durations and percentages', () => {
  it.each([
    ['500ms', 500], ['1.5s', 1500], ['30s', 30_000], ['2m', 120_000], ['1h', 3_600_000], ['1m30s', 90_000],
    ['1h 2m 3s', 3_723_000], [' 250 ms ', 250], ['0s', 0], [5, 5000], [0.25, 250],
  ] as const)('%s → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it('negative durations only where allowed', () => {
    expect(parseDuration('-5s', { allowNegative: true })).toBe(-5000);
    expect(() => parseDuration('-5s')).toThrow('not a duration');
    expect(() => parseDuration(-1)).toThrow('cannot be negative');
  });

  it.each(['', '5', '5 sec', 'ms', '1.5.3s', '1d', '0.0001s'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow();
  });

  it('formats durations', () => {
    expect([0, 500, 1500, 30_000, 90_500, 3_600_000, 3_723_000, -5000].map(formatDuration))
      .toEqual(['0s', '500ms', '1.5s', '30s', '1m30.5s', '1h', '1h2m3s', '-5s']);
  });

  it.each([['10%', 0.1], ['0.5%', 0.005], ['100%', 1], [' 1 % ', 0.01], [0.25, 0.25], [0, 0], [1, 1]] as const)('percentage %j → %d', (input, f) => {
    expect(parsePercent(input)).toBeCloseTo(f, 12);
  });

  it.each(['10', '%', '-1%', '101%', 10, -0.1])('rejects percentage %j', (input) => {
    expect(() => parsePercent(input)).toThrow();
  });
});

describe('weighted flows', () => {
  const text = `${BASE}flows:\n  - { name: a, weight: 1, steps: [register] }\n  - { name: b, weight: 3, steps: [register] }\n  - { name: c, steps: [register] }\n`;

  it('cumulative weights and choice by a uniform draw', async () => {
    const s = await parse(text);
    expect(s.flows.map((f) => [f.name, f.weight, f.cumulativeWeight])).toEqual([['a', 1, 1], ['b', 3, 4], ['c', 1, 5]]);
    expect(s.totalWeight).toBe(5);
    const at = (u: number): string => pickFlowAt(s.flows, s.totalWeight, u).name;
    expect([0, 0.199, 0.2, 0.79, 0.8, 0.9999].map(at)).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
  });

  it('pickFlow is seeded per device index: deterministic, roughly proportional, seed-dependent', async () => {
    const s = applyOverrides(await parse(text), { devices: 5000 });
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 5000; i++) counts[pickFlow(s, i).name] = (counts[pickFlow(s, i).name] ?? 0) + 1;
    expect(counts.a).toBeGreaterThan(850);
    expect(counts.a).toBeLessThan(1150);
    expect(counts.b).toBeGreaterThan(2800);
    expect(counts.b).toBeLessThan(3200);
    const again = Array.from({ length: 50 }, (_, i) => pickFlow(s, i).name);
    expect(Array.from({ length: 50 }, (_, i) => pickFlow(s, i).name)).toEqual(again);
    const other = applyOverrides(s, { seed: 12345 });
    expect(Array.from({ length: 50 }, (_, i) => pickFlow(other, i).name)).not.toEqual(again);
  });
});

// ---- overrides -----------------------------------------------------------------------------------

describe('applyOverrides', () => {
  const text = 'devices:\n  count: 100\nphases:\n  - { duration: 10s, arrivalRate: 5, rampTo: 15 }\n  - { duration: 10s, pause: true }\nflows:\n  - steps: [register, { wait: 10s }, { expect: { observe: /3/0/9, within: 30s } }]\n';

  it('--devices scales the arrival rates so the phases bring N devices', async () => {
    const s = applyOverrides(await parse(text), { devices: 1000 });
    expect(s.devices.count).toBe(1000);
    expect(s.phases[0]).toMatchObject({ fromRate: 50, toRate: 150, arrivals: 1000 });
    expect(s.expectedArrivals).toBe(1000);
    const small = applyOverrides(await parse(text), { devices: 10 });
    expect(small.phases[0]).toMatchObject({ fromRate: 0.5, toRate: 1.5 });
    expect(small.expectedArrivals).toBe(10);
  });

  it('--duration longer than the phases extends the hold; shorter cuts the phases', async () => {
    const base = await parse(text);
    const longer = applyOverrides(base, { durationMs: 60_000 });
    expect(longer).toMatchObject({ phasesMs: 20_000, durationMs: 60_000, end: { holdMs: 40_000 } });
    const shorter = applyOverrides(base, { durationMs: 5000 });
    expect(shorter.phases).toHaveLength(1);
    expect(shorter.phases[0]).toMatchObject({ durationMs: 5000, fromRate: 5, toRate: 10, arrivals: 37.5 });
    expect(shorter).toMatchObject({ phasesMs: 5000, durationMs: 5000, expectedArrivals: 37, end: { holdMs: 0 } });
    expect(base.durationMs).toBe(20_000); // the original is untouched
  });

  it('timeScale compresses the timeline and keeps the arrivals', async () => {
    const s = applyOverrides(await parse(text), { timeScale: 0.1 });
    expect(s.phasesMs).toBe(2000);
    expect(s.phases[0]).toMatchObject({ durationMs: 1000, fromRate: 50, toRate: 150 });
    expect(s.expectedArrivals).toBe(100);
    const steps = (s.flows[0] as Flow).steps;
    expect(steps[1]).toMatchObject({ kind: 'wait', durationMs: 1000 });
    expect(steps[2]).toMatchObject({ kind: 'expect', withinMs: 3000, label: 'expect observe /3/0/9 within 3s' });
  });

  it('--seed, --target, --workers, --metrics-port, --log-level', async () => {
    const s = applyOverrides(await parse(text), {
      seed: 'abc', target: 'coap://10.0.0.1:5783', workers: 4, metricsPort: 9464, logLevel: 'debug',
    });
    expect(s.options).toEqual({ seed: 'abc', workers: 4, metricsPort: 9464, logLevel: 'debug' });
    expect(s.target).toEqual({ kind: 'remote', server: { uri: 'coap://10.0.0.1:5783', scheme: 'coap', host: '10.0.0.1', port: 5783 } });
    expect(applyOverrides(s, { target: 'embedded' }).target).toEqual({ kind: 'embedded' });
  });

  it('rejects impossible overrides with a ScenarioError', async () => {
    const s = await parse(text);
    expect(() => applyOverrides(s, { devices: 0 })).toThrow('ok.yaml: --devices: must be an integer in 1..1000000, got 0');
    expect(() => applyOverrides(s, { durationMs: -1 })).toThrow(ScenarioError);
    expect(() => applyOverrides(s, { timeScale: 0 })).toThrow('timeScale');
    expect(() => applyOverrides(s, { target: 'http://x' })).toThrow('--target');
    expect(() => applyOverrides(s, { workers: 0 })).toThrow('--workers');
    const csv = await parse('devices:\n  csv: c8y.csv\nphases:\n  - { duration: 3s, arrivalRate: 1 }\n');
    expect(() => applyOverrides(csv, { devices: 4 })).toThrow('has only 3 devices');
    const boot = await parse('devices:\n  count: 1\n  bootstrap: true\nphases:\n  - { duration: 1s, arrivalRate: 1 }\n');
    expect(() => applyOverrides(boot, { target: 'coap://x:5683' })).toThrow('bootstrap first');
  });
});
