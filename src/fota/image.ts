/**
 * The firmware image format simulated devices verify (issue 7): a small header naming the package and its
 * version, the body length and a SHA-256 of the body, then the body.
 *
 *   offset  size  field
 *   0       4     magic "LWFW"
 *   4       1     format version (1)
 *   5       1     flags (0; reserved)
 *   6       2     package name length N (big endian, ≤ 255)
 *   8       2     package version length V (big endian, ≤ 255)
 *   10      4     body length L (big endian)
 *   14      32    SHA-256 of the body
 *   46      N     package name (UTF-8)
 *   46+N    V     package version (UTF-8)
 *   46+N+V  L     body
 *
 * The verifier is streaming: it holds the header (≤ 556 bytes) and a hash state, never the body, so a
 * device receiving a 100 MB image over Block1/Block2 uses bounded memory. It maps every problem to the
 * Firmware Update Result (/5/0/5, LwM2M-TS-Core 1.1 §E.6) the device reports.
 */
import { createHash, type Hash } from 'node:crypto';

export const IMAGE_MAGIC = Buffer.from('LWFW', 'ascii');
export const IMAGE_FORMAT_VERSION = 1;
export const IMAGE_FIXED_HEADER = 46;
const MAX_FIELD = 255;

export interface FirmwareImageInfo {
  /** /5/0/6 PkgName after a successful update. */
  readonly name: string;
  /** /5/0/7 PkgVersion after a successful update. */
  readonly version: string;
}

export interface FirmwareImageSpec extends FirmwareImageInfo {
  readonly body: Uint8Array;
}

/** Builds an image (server side, tests, `lwm2m-fleet` scenarios). */
export function encodeFirmwareImage(spec: FirmwareImageSpec): Buffer {
  const name = Buffer.from(spec.name, 'utf8');
  const version = Buffer.from(spec.version, 'utf8');
  if (name.length === 0 || name.length > MAX_FIELD) throw new RangeError(`image name must be 1–${MAX_FIELD} bytes of UTF-8, got ${name.length}`);
  if (version.length === 0 || version.length > MAX_FIELD) throw new RangeError(`image version must be 1–${MAX_FIELD} bytes of UTF-8, got ${version.length}`);
  if (spec.body.length > 0xffffffff) throw new RangeError('image body exceeds 4 GiB');
  const header = Buffer.alloc(IMAGE_FIXED_HEADER);
  IMAGE_MAGIC.copy(header, 0);
  header.writeUInt8(IMAGE_FORMAT_VERSION, 4);
  header.writeUInt8(0, 5);
  header.writeUInt16BE(name.length, 6);
  header.writeUInt16BE(version.length, 8);
  header.writeUInt32BE(spec.body.length, 10);
  createHash('sha256').update(spec.body).digest().copy(header, 14);
  return Buffer.concat([header, name, version, spec.body]);
}

/** Why an image was refused, as the /5/0/5 Update Result it maps to. */
export type ImageFailure =
  /** 2 — the declared body does not fit the device's storage. */
  | { readonly result: 2; readonly reason: string }
  /** 5 — hash mismatch, or the bytes end before/after the declared length. */
  | { readonly result: 5; readonly reason: string }
  /** 6 — not this format (bad magic, unknown format version, bad field lengths). */
  | { readonly result: 6; readonly reason: string };

export type ImageVerdict = { readonly ok: true; readonly info: FirmwareImageInfo; readonly bodyLength: number } | ({ readonly ok: false } & ImageFailure);

export interface ImageVerifierOptions {
  /** Largest body the device accepts (its "storage"); bigger → result 2. Default 16 MiB. */
  readonly maxBodyBytes?: number;
}

/**
 * Streaming verifier: `push()` each chunk in order, then `finish()`. A failure is sticky: once `failure`
 * is set, further chunks are ignored (the device stops storing them) and `finish()` returns it.
 */
export class ImageVerifier {
  private readonly maxBody: number;
  private header: Buffer | undefined = Buffer.alloc(0);
  private headerNeed = IMAGE_FIXED_HEADER;
  private info: FirmwareImageInfo | undefined;
  private expectedHash: Buffer | undefined;
  private bodyLength = 0;
  private bodySeen = 0;
  private hash: Hash | undefined;
  private failed: ImageFailure | undefined;
  /** Total bytes pushed (header + body), what a Block1/Block2 resume offset refers to. */
  received = 0;

  constructor(options: ImageVerifierOptions = {}) {
    this.maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  }

  get failure(): ImageFailure | undefined {
    return this.failed;
  }

  /** Header fields once the header has arrived. */
  get headerInfo(): (FirmwareImageInfo & { readonly bodyLength: number }) | undefined {
    return this.info ? { ...this.info, bodyLength: this.bodyLength } : undefined;
  }

  push(chunk: Uint8Array): ImageFailure | undefined {
    if (this.failed) return this.failed;
    this.received += chunk.length;
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.header) {
      const take = Math.min(this.headerNeed - this.header.length, data.length);
      this.header = Buffer.concat([this.header, data.subarray(0, take)]);
      data = data.subarray(take);
      if (this.header.length < this.headerNeed) return undefined;
      if (this.headerNeed === IMAGE_FIXED_HEADER) {
        const f = this.checkFixedHeader(this.header);
        if (f) return this.fail(f);
        this.headerNeed += this.header.readUInt16BE(6) + this.header.readUInt16BE(8);
        const more = Math.min(this.headerNeed - this.header.length, data.length);
        this.header = Buffer.concat([this.header, data.subarray(0, more)]);
        data = data.subarray(more);
        if (this.header.length < this.headerNeed) return undefined;
      }
      const h = this.header;
      const n = h.readUInt16BE(6);
      const name = h.subarray(IMAGE_FIXED_HEADER, IMAGE_FIXED_HEADER + n).toString('utf8');
      const version = h.subarray(IMAGE_FIXED_HEADER + n, this.headerNeed).toString('utf8');
      this.info = { name, version };
      this.header = undefined;
      this.hash = createHash('sha256');
    }
    if (data.length === 0) return undefined;
    if (this.bodySeen + data.length > this.bodyLength) {
      return this.fail({ result: 5, reason: `image has more than the ${this.bodyLength} body bytes its header declares` });
    }
    this.hash?.update(data);
    this.bodySeen += data.length;
    return undefined;
  }

  finish(): ImageVerdict {
    if (this.failed) return { ok: false, ...this.failed };
    if (!this.info || !this.hash || !this.expectedHash) {
      return { ok: false, result: 5, reason: `image ends inside its header (${this.received} bytes received)` };
    }
    if (this.bodySeen !== this.bodyLength) {
      return { ok: false, result: 5, reason: `image body has ${this.bodySeen} bytes, header declares ${this.bodyLength}` };
    }
    const digest = this.hash.digest();
    this.hash = undefined;
    if (!digest.equals(this.expectedHash)) return { ok: false, result: 5, reason: 'SHA-256 of the body does not match the header' };
    return { ok: true, info: this.info, bodyLength: this.bodyLength };
  }

  private checkFixedHeader(h: Buffer): ImageFailure | undefined {
    if (!h.subarray(0, 4).equals(IMAGE_MAGIC)) return { result: 6, reason: 'not a firmware image (magic is not "LWFW")' };
    if (h.readUInt8(4) !== IMAGE_FORMAT_VERSION) return { result: 6, reason: `image format version ${h.readUInt8(4)} is not supported` };
    const n = h.readUInt16BE(6);
    const v = h.readUInt16BE(8);
    if (n === 0 || n > MAX_FIELD || v === 0 || v > MAX_FIELD) return { result: 6, reason: `image name/version lengths ${n}/${v} are out of range 1–${MAX_FIELD}` };
    this.bodyLength = h.readUInt32BE(10);
    if (this.bodyLength > this.maxBody) return { result: 2, reason: `image body of ${this.bodyLength} bytes exceeds the device's ${this.maxBody}` };
    this.expectedHash = Buffer.from(h.subarray(14, 46));
    return undefined;
  }

  private fail(f: ImageFailure): ImageFailure {
    this.failed = f;
    this.header = undefined;
    this.hash = undefined;
    return f;
  }
}

/** Whole-buffer check (server-side upload validation, tests). */
export function verifyFirmwareImage(image: Uint8Array, options: ImageVerifierOptions = {}): ImageVerdict {
  const v = new ImageVerifier(options);
  v.push(image);
  return v.finish();
}
