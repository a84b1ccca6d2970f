/**
 * `lwm2m-fleet init`: the starter scenario, a commented YAML file that runs as is against the embedded
 * server and shows every section of the format (see `scenarios/schema.json` for the full reference).
 */

/** Default file name `lwm2m-fleet init` writes. */
export const STARTER_SCENARIO_FILE = 'scenario.yaml';

export interface StarterOptions {
  /** Scenario name. Default `my-scenario`. */
  name?: string;
  /**
   * Path or URL of `schema.json` for the editor modeline (`# yaml-language-server: $schema=…`), relative
   * to where the file is written. Default: the copy installed with the package.
   */
  schemaPath?: string;
  /** Number of devices. Default 50. */
  devices?: number;
}

/** Where the schema is when lwm2m-fleet is installed as a dependency of the project running `init`. */
export const INSTALLED_SCHEMA_PATH = './node_modules/lwm2m-fleet/scenarios/schema.json';

function yamlString(s: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9 ._-]*$/.test(s) && !/^(true|false|null|yes|no|on|off)$/i.test(s) ? s : JSON.stringify(s);
}

/** The starter scenario text. */
export function starterScenario(options: StarterOptions = {}): string {
  const name = options.name ?? 'my-scenario';
  const schema = options.schemaPath ?? INSTALLED_SCHEMA_PATH;
  const devices = options.devices ?? 50;
  if (!Number.isInteger(devices) || devices < 1) throw new RangeError(`devices must be a positive integer, got ${devices}`);
  // Arrivals: one phase bringing every device online in ~10 s (at least 1 device/s).
  const rate = Math.max(1, Math.ceil(devices / 10));
  return `# yaml-language-server: $schema=${schema}
#
# An lwm2m-fleet scenario. Run it with
#
#   npx lwm2m-fleet run ${STARTER_SCENARIO_FILE}
#   npx lwm2m-fleet run ${STARTER_SCENARIO_FILE} --target coap://my-server:5683 --devices 1000 --out json=report.json
#
# Durations: 500ms, 1.5s, 30s, 2m, 1h (a bare number is seconds). Percentages: 10% (or a fraction 0.1).
name: ${yamlString(name)}
description: Devices register, report a temperature and battery level, and change them now and then

# Where devices connect: "embedded" starts the reference LwM2M server and bootstrap server in-process.
# For another server:  target: coap://host:5683   or   target: { server: coap://host:5683, bootstrap: coap://host:5693 }
target: embedded

devices:
  count: ${devices}
  # Endpoint names: {index} is the 0-based device index, {index:06} zero-pads it to 6 digits.
  endpoint: sim-{index:06}
  lwm2m: "1.1"                  # or "1.0"
  lifetime: 300                 # registration lifetime, seconds
  binding: U                    # UQ = queue mode (then set awakeTime: 10s and use sleep/wake steps)
  security: nosec               # or: { mode: psk, identity: "{endpoint}-identity", key: { seeded: true } }
  bootstrap: false              # true: devices only know the bootstrap server and bootstrap first
  # csv: devices.csv            # a device list instead (columns endpoint, securityMode, identity, key, lifetime, binding, …)
  device:
    manufacturer: lwm2m-fleet
    model: starter
    serial: SN{index:08}
    firmwareVersion: 1.0.0
  # Resource values per object: constants, lists, or generators (constant, randomWalk, sine, sequence, csv).
  # Objects 3-7 are built in, 3300/3303/3311 ship with the toolkit; others need  model: path/to/object.xml
  objects:
    3:                          # Device
      instances:
        - values:
            9: { type: randomWalk, start: 95, step: 1, min: 0, max: 100, intervalS: 10, decimals: 0 }   # battery %
    3303:                       # IPSO Temperature
      instances:
        - values:
            5700: { type: sine, min: 18, max: 24, periodS: 60, decimals: 1 }
            5701: Cel
      sampleInterval: 1s        # re-sample so observers see changes

# How fast devices come online (Artillery semantics): arrivalRate devices/s, ramping to rampTo over the
# phase; pause: true brings nobody new. Arrivals stop once devices.count devices are online.
phases:
  - name: arrive
    duration: 10s
    arrivalRate: ${rate}
  - name: steady
    duration: 20s
    pause: true

# After the last phase devices stay online for "hold", then leave: deregister (default) or drop.
end:
  hold: 0s
  leave: deregister

# Each device runs one flow, picked by weight (seeded). Steps: bootstrap, register, update, deregister,
# wait, think, set, send, expect, sleep, wake, reboot, go-offline, apply-firmware, fault, loop.
flows:
  - name: report
    weight: 3
    steps:
      - register
      - think: { min: 1s, max: 5s }
      - set: { path: /3303/0/5700, value: 22.5 }
      - loop:
          count: 3
          steps:
            - wait: 5s
            - set: { path: /3/0/9, value: { type: sequence, values: [90, 85, 80] } }
  - name: observed
    weight: 1
    steps:
      - register
      - expect: { observe: /3303/0/5700, within: 30s }   # counts as failed if the server never observes it

# Pass/fail: a failed threshold makes the run exit with code 99.
thresholds:
  - register.p95 < 500ms
  - errors.rate < 0.01

options:
  seed: 1                       # same seed, same run
  logLevel: info
`;
}
