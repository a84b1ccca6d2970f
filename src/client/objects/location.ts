/**
 * LwM2M Location object (/6, single instance /6/0; OMA object 6 v1.0): latitude, longitude, altitude,
 * radius, velocity (opaque, 3GPP TS 23.032 encoding), timestamp and speed. An optional movement model
 * moves the device on a Clock timer and updates the resources with `set`, so observers are notified.
 */
import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js';
import { LwM2MError } from '../../core/errors.js';
import type { ObjectModel } from '../../model/types.js';
import { createPrng, type Generator } from '../generators.js';
import { ObjectInstance } from '../instance.js';
import type { InstanceFactory } from '../object.js';
import { ManagedObject, guardWrites, repeat, requireObjectModel, type NumberSource } from './generic.js';

export const LocationResource = {
  LATITUDE: 0, LONGITUDE: 1, ALTITUDE: 2, RADIUS: 3, VELOCITY: 4, TIMESTAMP: 5, SPEED: 6,
} as const;

/** Mean Earth radius (m), for the small-step equirectangular movement model. */
const EARTH_RADIUS_M = 6_371_008.8;

/**
 * Encodes a horizontal velocity as 3GPP TS 23.032 §8 "Horizontal Velocity" (velocity type 0, §8.5–8.6):
 * octet 1 = type (bits 8–5) 0000, spare, bit 1 = bearing bit 9; octet 2 = bearing bits 8–1 (degrees
 * clockwise from north, 0..359); octets 3–4 = horizontal speed in km/h (16 bits, rounded to nearest).
 */
export function encodeHorizontalVelocity(bearingDeg: number, speedMps: number): Uint8Array {
  if (!Number.isFinite(bearingDeg) || !Number.isFinite(speedMps) || speedMps < 0) {
    throw new LwM2MError('BAD_VALUE', `velocity: bearing ${bearingDeg} / speed ${speedMps} m/s is not valid`);
  }
  const bearing = ((Math.floor(bearingDeg) % 360) + 360) % 360;
  const kmh = Math.min(0xffff, Math.round(speedMps * 3.6));
  return Uint8Array.of((bearing >> 8) & 0x01, bearing & 0xff, (kmh >> 8) & 0xff, kmh & 0xff);
}

/** Decodes {@link encodeHorizontalVelocity}'s format (velocity type 0 only). */
export function decodeHorizontalVelocity(data: Uint8Array): { bearingDeg: number; speedKmh: number } {
  const b0 = data[0];
  if (data.length < 4 || b0 === undefined || b0 >> 4 !== 0) {
    throw new LwM2MError('BAD_VALUE', 'velocity: not a 3GPP TS 23.032 Horizontal Velocity (type 0, 4 octets)');
  }
  return { bearingDeg: ((b0 & 0x01) << 8) | (data[1] as number), speedKmh: ((data[2] as number) << 8) | (data[3] as number) };
}

export interface Position {
  latitude: number;
  longitude: number;
  altitude?: number;
}

export interface MovementOptions {
  /** Seconds between position updates. */
  intervalS: number;
  /** Ground speed in m/s: a constant or a generator (e.g. a random walk). Default 1.4 (walking). */
  speedMps?: NumberSource;
  /** Initial heading in degrees clockwise from north. Default: random from the seed. */
  headingDeg?: number;
  /** Largest heading change per update, degrees (uniform ±). Default 30. */
  maxTurnDeg?: number;
  /** Stay within this many metres of the start: beyond it, head back towards the start. */
  wanderRadiusM?: number;
  seed?: number | string;
  /** Start moving immediately (default true); otherwise call `startMoving()`. */
  autoStart?: boolean;
}

export interface LocationObjectOptions {
  /** /6/0/0 degrees, -90..90. */
  latitude: number;
  /** /6/0/1 degrees, -180..180. */
  longitude: number;
  /** /6/0/2 metres. */
  altitude?: number;
  /** /6/0/3 accuracy radius, metres. */
  radius?: number;
  /** /6/0/6 m/s. */
  speed?: number;
  /** /6/0/4 raw velocity octets, or bearing + speed to encode (3GPP TS 23.032). */
  velocity?: Uint8Array | { bearingDeg: number; speedMps: number };
  clock?: Clock;
  movement?: MovementOptions;
}

function checkPosition(lat: number, lon: number, where: string): void {
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) {
    throw new LwM2MError('BAD_VALUE', `${where}latitude: must be in -90..90, got ${String(lat)}`);
  }
  if (typeof lon !== 'number' || !Number.isFinite(lon) || lon < -180 || lon > 180) {
    throw new LwM2MError('BAD_VALUE', `${where}longitude: must be in -180..180, got ${String(lon)}`);
  }
}

function wrapLongitude(lon: number): number {
  const w = ((((lon + 180) % 360) + 360) % 360) - 180;
  return w === -180 && lon > 0 ? 180 : w;
}

/** Great-circle distance in metres (haversine). */
export function distanceM(a: Position, b: Position): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing from a to b, degrees clockwise from north. */
export function bearingDeg(a: Position, b: Position): number {
  const rad = Math.PI / 180;
  const y = Math.sin((b.longitude - a.longitude) * rad) * Math.cos(b.latitude * rad);
  const x = Math.cos(a.latitude * rad) * Math.sin(b.latitude * rad) -
    Math.sin(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.cos((b.longitude - a.longitude) * rad);
  return ((Math.atan2(y, x) / rad) + 360) % 360;
}

/** The Location object: {@link moveTo} sets a position by hand; the movement model runs on the clock. */
export class LocationObject extends ManagedObject {
  private moveTimer: TimerHandle | undefined;
  private heading = 0;
  private readonly clock: Clock;
  private readonly start: Position;

  constructor(model: ObjectModel, factory: InstanceFactory, private readonly opts: LocationObjectOptions) {
    super(model, factory);
    this.clock = opts.clock ?? systemClock;
    this.start = { latitude: opts.latitude, longitude: opts.longitude };
    this.onDispose(() => this.stopMoving());
  }

  private get inst(): ObjectInstance {
    const i = this.instance(0);
    if (!i) throw new LwM2MError('NOT_FOUND', '/6/0 does not exist');
    return i;
  }

  /** The current position. */
  position(): Position {
    const i = this.inst;
    const alt = i.get(LocationResource.ALTITUDE);
    const p: Position = { latitude: Number(i.get(LocationResource.LATITUDE)), longitude: Number(i.get(LocationResource.LONGITUDE)) };
    if (typeof alt === 'number') p.altitude = alt;
    return p;
  }

  /**
   * Sets a new position (and, optionally, speed/bearing) with the Timestamp /6/0/5 at the clock's time.
   * Changes reach observers through `set`.
   */
  moveTo(pos: Position, motion?: { speedMps: number; bearingDeg: number }): void {
    checkPosition(pos.latitude, pos.longitude, '');
    const i = this.inst;
    const R = LocationResource;
    i.set(R.LATITUDE, pos.latitude);
    i.set(R.LONGITUDE, pos.longitude);
    if (pos.altitude !== undefined && this.model.resources.has(R.ALTITUDE)) i.set(R.ALTITUDE, pos.altitude);
    if (motion) {
      if (this.model.resources.has(R.SPEED)) i.set(R.SPEED, motion.speedMps);
      if (this.model.resources.has(R.VELOCITY)) i.set(R.VELOCITY, encodeHorizontalVelocity(motion.bearingDeg, motion.speedMps));
    }
    i.set(R.TIMESTAMP, new Date(Math.floor(this.clock.now() / 1000) * 1000));
  }

  get moving(): boolean {
    return this.moveTimer !== undefined;
  }

  /** Starts the movement model given in the options (no-op when already moving). */
  startMoving(): void {
    const m = this.opts.movement;
    if (!m) throw new LwM2MError('BAD_REQUEST', 'no movement options were given for /6');
    if (this.moveTimer || this.isDisposed) return;
    const prng = createPrng(m.seed ?? 0);
    this.heading = m.headingDeg ?? prng.next() * 360;
    const maxTurn = m.maxTurnDeg ?? 30;
    const speedSrc = m.speedMps ?? 1.4;
    const speedAt = (now: number): number => {
      const s = typeof speedSrc === 'number' ? speedSrc : (speedSrc as Generator<number>).next(now);
      return Number.isFinite(s) && s > 0 ? s : 0;
    };
    this.moveTimer = repeat(this.clock, m.intervalS * 1000, () => {
      const here = this.position();
      this.heading = (this.heading + (prng.next() * 2 - 1) * maxTurn + 360) % 360;
      if (m.wanderRadiusM !== undefined && distanceM(this.start, here) > m.wanderRadiusM) {
        this.heading = bearingDeg(here, this.start);
      }
      const speed = speedAt(this.clock.now());
      const d = speed * m.intervalS;
      const rad = Math.PI / 180;
      // Small steps: equirectangular approximation (error ≪ 1 m for steps of a few km).
      let lat = here.latitude + (d * Math.cos(this.heading * rad)) / EARTH_RADIUS_M / rad;
      const cosLat = Math.max(1e-6, Math.cos(here.latitude * rad));
      let lon = here.longitude + (d * Math.sin(this.heading * rad)) / (EARTH_RADIUS_M * cosLat) / rad;
      if (lat > 90 || lat < -90) {
        // Over a pole: come back down the other side.
        lat = lat > 90 ? 180 - lat : -180 - lat;
        lon += 180;
        this.heading = (this.heading + 180) % 360;
      }
      lon = wrapLongitude(lon);
      this.moveTo({ latitude: lat, longitude: lon, ...(here.altitude !== undefined ? { altitude: here.altitude } : {}) }, { speedMps: speed, bearingDeg: this.heading });
    });
  }

  stopMoving(): void {
    this.moveTimer?.cancel();
    this.moveTimer = undefined;
  }
}

/** The Location object with its one instance /6/0 (all resources read-only for servers). */
export function createLocationObject(model: ObjectModel, options: LocationObjectOptions): LocationObject {
  requireObjectModel(model, 6, 'createLocationObject');
  checkPosition(options.latitude, options.longitude, '');
  const m = options.movement;
  if (m) {
    if (!(typeof m.intervalS === 'number' && m.intervalS > 0 && Number.isFinite(m.intervalS))) {
      throw new LwM2MError('BAD_VALUE', `movement.intervalS: must be > 0, got ${String(m.intervalS)}`);
    }
    if (typeof m.speedMps === 'number' && !(m.speedMps >= 0)) throw new LwM2MError('BAD_VALUE', `movement.speedMps: must be ≥ 0, got ${m.speedMps}`);
    if (m.maxTurnDeg !== undefined && !(m.maxTurnDeg >= 0 && m.maxTurnDeg <= 180)) {
      throw new LwM2MError('BAD_VALUE', `movement.maxTurnDeg: must be in 0..180, got ${m.maxTurnDeg}`);
    }
    if (m.wanderRadiusM !== undefined && !(m.wanderRadiusM > 0)) {
      throw new LwM2MError('BAD_VALUE', `movement.wanderRadiusM: must be > 0, got ${m.wanderRadiusM}`);
    }
  }
  if (options.radius !== undefined && !(options.radius >= 0)) throw new LwM2MError('BAD_VALUE', `radius: must be ≥ 0, got ${options.radius}`);
  if (options.speed !== undefined && !(options.speed >= 0)) throw new LwM2MError('BAD_VALUE', `speed: must be ≥ 0, got ${options.speed}`);
  const clock = options.clock ?? systemClock;
  const R = LocationResource;
  const build = (id: number): ObjectInstance => {
    const inst = new ObjectInstance(model, id);
    const has = (rid: number): boolean => model.resources.has(rid);
    inst.set(R.LATITUDE, options.latitude);
    inst.set(R.LONGITUDE, options.longitude);
    if (options.altitude !== undefined && has(R.ALTITUDE)) inst.set(R.ALTITUDE, options.altitude);
    if (options.radius !== undefined && has(R.RADIUS)) inst.set(R.RADIUS, options.radius);
    if (options.speed !== undefined && has(R.SPEED)) inst.set(R.SPEED, options.speed);
    if (options.velocity !== undefined && has(R.VELOCITY)) {
      const v = options.velocity;
      inst.set(R.VELOCITY, v instanceof Uint8Array ? v : encodeHorizontalVelocity(v.bearingDeg, v.speedMps));
    }
    inst.set(R.TIMESTAMP, new Date(Math.floor(clock.now() / 1000) * 1000));
    guardWrites(inst);
    return inst;
  };
  const object = new LocationObject(model, (_m, id) => build(id), options);
  object.add(build(0));
  if (m && (m.autoStart ?? true)) object.startMoving();
  return object;
}
