/** LwM2M object/resource model (OMA DDF, LwM2M-TS-Core 1.1 Appendix D / LWM2M.xsd). Pure data. */

export type ResourceType =
  | 'string'
  | 'integer'
  | 'unsignedInteger'
  | 'float'
  | 'boolean'
  | 'opaque'
  | 'time'
  | 'objlnk'
  | 'corelnk'
  | 'none';

/** Operations column of the DDF: R, W, RW, E, or empty (none). */
export type Operations = 'R' | 'W' | 'RW' | 'E' | '';

export interface NumericRange {
  min?: number;
  max?: number;
}

export interface ResourceModel {
  readonly id: number;
  readonly name: string;
  readonly operations: Operations;
  /** `Multiple` in the DDF: the resource has resource instances. */
  readonly multiple: boolean;
  readonly mandatory: boolean;
  readonly type: ResourceType;
  /** Raw RangeEnumeration text (e.g. `0..255`, `1-65535`, `"U","UQ"`). */
  readonly rangeEnumeration?: string;
  /** Numeric range parsed from rangeEnumeration when it is one; for strings/opaque it bounds length. */
  readonly range?: NumericRange;
  readonly units?: string;
  readonly description?: string;
}

export interface ObjectModel {
  readonly id: number;
  readonly name: string;
  readonly description?: string;
  /** Object version, e.g. `1.0`, `1.1`, `1.2`. */
  readonly version: string;
  /** LwM2M enabler version the object was written for. */
  readonly lwm2mVersion: string;
  readonly urn?: string;
  /** `MultipleInstances` in the DDF. */
  readonly multiple: boolean;
  readonly mandatory: boolean;
  readonly resources: ReadonlyMap<number, ResourceModel>;
}

/** What the codecs need from a model registry: the model of one object (the version in use). */
export interface ModelLookup {
  getObject(objectId: number): ObjectModel | undefined;
}

export function isReadable(r: ResourceModel): boolean {
  return r.operations === 'R' || r.operations === 'RW';
}
export function isWritable(r: ResourceModel): boolean {
  return r.operations === 'W' || r.operations === 'RW';
}
export function isExecutable(r: ResourceModel): boolean {
  return r.operations === 'E';
}
