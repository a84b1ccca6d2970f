/**
 * Firmware images the server can deliver (issue 7, server side): kept in memory, optionally backed by a
 * directory of image files. Every image is checked with {@link verifyFirmwareImage} before it is
 * accepted, so the server never sends a device something the device's verifier would refuse for its
 * format (a device may still refuse it for its own storage size, result 2).
 *
 * Ids: the first 16 hex digits of the SHA-256 of the whole image (stable, content-addressed) — an image
 * is also found as `name@version` and, with a directory, by its file name there.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { encodeFirmwareImage, verifyFirmwareImage } from '../../fota/image.js';

export interface StoredImage {
  /** 16 hex digits of the SHA-256 of the whole image. */
  readonly id: string;
  /** /5/0/6 and /5/0/7 after a successful update (from the image header). */
  readonly name: string;
  readonly version: string;
  /** Bytes of the whole image (header + body): what is delivered. */
  readonly size: number;
  readonly bodySize: number;
  /** SHA-256 of the whole image, hex. */
  readonly sha256: string;
  /** 8 bytes (CoAP ETag, RFC 7252 §5.10.6) — also the HTTP strong ETag, quoted hex. */
  readonly etag: Buffer;
  /** The file it came from in the image directory, if any. */
  readonly fileName?: string;
  readonly createdAt: string;
  readonly data: Buffer;
}

/** The JSON view of an image (no bytes). */
export interface ImageInfo {
  id: string;
  name: string;
  version: string;
  size: number;
  bodySize: number;
  sha256: string;
  fileName?: string;
  createdAt: string;
}

export type ImageStoreErrorCode = 'FOTA_BAD_IMAGE' | 'FOTA_IMAGE_NOT_FOUND' | 'FOTA_STORE_FULL';

/** Why an image was refused or not found; `httpStatus` is what the API answers. */
export class ImageStoreError extends Error {
  override readonly name = 'ImageStoreError';
  readonly httpStatus: number;
  /** The /5/0/5 result a device would report for it (bad images only). */
  readonly updateResult: number | undefined;

  constructor(readonly code: ImageStoreErrorCode, message: string, updateResult?: number) {
    super(message);
    this.httpStatus = code === 'FOTA_BAD_IMAGE' ? 400 : code === 'FOTA_STORE_FULL' ? 507 : 404;
    this.updateResult = updateResult;
  }
}

export function isImageStoreError(e: unknown): e is ImageStoreError {
  return e instanceof ImageStoreError;
}

export interface ImageStoreOptions {
  /** A directory of image files: `resolve('file.img')` loads (and validates) one on first use. */
  directory?: string;
  /** Bound on the images held. Default 64. */
  maxImages?: number;
  /** Bound on the bytes held. Default 256 MiB. */
  maxBytes?: number;
  /** Largest single image accepted. Default 64 MiB. */
  maxImageBytes?: number;
  now?: () => number;
}

const FILE_NAME_RE = /^[A-Za-z0-9._@+-]{1,255}$/;

export class FirmwareImageStore {
  readonly directory: string | undefined;
  private readonly images = new Map<string, StoredImage>();
  private readonly maxImages: number;
  private readonly maxBytes: number;
  private readonly maxImageBytes: number;
  private readonly now: () => number;
  private bytes = 0;

  constructor(options: ImageStoreOptions = {}) {
    this.directory = options.directory;
    this.maxImages = Math.max(1, options.maxImages ?? 64);
    this.maxBytes = Math.max(1, options.maxBytes ?? 256 * 1024 * 1024);
    this.maxImageBytes = Math.max(1, options.maxImageBytes ?? 64 * 1024 * 1024);
    this.now = options.now ?? Date.now;
  }

  /** Adds an image (the LWFW format of src/fota/image.ts); the same bytes twice give the same entry. */
  add(bytes: Uint8Array, fileName?: string): StoredImage {
    if (bytes.length > this.maxImageBytes) {
      throw new ImageStoreError('FOTA_BAD_IMAGE', `image of ${bytes.length} bytes exceeds the store's ${this.maxImageBytes}-byte limit`);
    }
    const verdict = verifyFirmwareImage(bytes, { maxBodyBytes: this.maxImageBytes });
    if (!verdict.ok) throw new ImageStoreError('FOTA_BAD_IMAGE', `not a valid firmware image: ${verdict.reason}`, verdict.result);
    const data = Buffer.from(bytes);
    const digest = createHash('sha256').update(data).digest();
    const id = digest.subarray(0, 8).toString('hex');
    const existing = this.images.get(id);
    if (existing) return existing;
    if (this.images.size >= this.maxImages) throw new ImageStoreError('FOTA_STORE_FULL', `the image store holds its maximum of ${this.maxImages} images`);
    if (this.bytes + data.length > this.maxBytes) throw new ImageStoreError('FOTA_STORE_FULL', `the image store would exceed ${this.maxBytes} bytes`);
    const image: StoredImage = {
      id, name: verdict.info.name, version: verdict.info.version, size: data.length, bodySize: verdict.bodyLength,
      sha256: digest.toString('hex'), etag: digest.subarray(0, 8), createdAt: new Date(this.now()).toISOString(), data,
      ...(fileName !== undefined ? { fileName } : {}),
    };
    this.images.set(id, image);
    this.bytes += data.length;
    return image;
  }

  /** Builds an image from name, version and body, and adds it. */
  build(spec: { name: string; version: string; body: Uint8Array }): StoredImage {
    let bytes: Buffer;
    try {
      bytes = encodeFirmwareImage(spec);
    } catch (e) {
      throw new ImageStoreError('FOTA_BAD_IMAGE', e instanceof Error ? e.message : String(e));
    }
    return this.add(bytes);
  }

  /** An image held in memory: by id, `name@version` or file name. */
  get(ref: string): StoredImage | undefined {
    const byId = this.images.get(ref);
    if (byId) return byId;
    for (const img of this.images.values()) {
      if (`${img.name}@${img.version}` === ref || img.fileName === ref) return img;
    }
    return undefined;
  }

  /** Like {@link get}, and else loads `ref` as a file name from the image directory. */
  async resolve(ref: string): Promise<StoredImage> {
    const held = this.get(ref);
    if (held) return held;
    if (this.directory !== undefined && FILE_NAME_RE.test(ref) && ref !== '.' && ref !== '..' && basename(ref) === ref) {
      const file = join(this.directory, ref);
      let bytes: Buffer | undefined;
      try {
        const st = await stat(file);
        if (st.isFile() && st.size <= this.maxImageBytes) bytes = await readFile(file);
        else if (st.isFile()) throw new ImageStoreError('FOTA_BAD_IMAGE', `${ref}: ${st.size} bytes exceed the ${this.maxImageBytes}-byte limit`);
      } catch (e) {
        if (isImageStoreError(e)) throw e;
        bytes = undefined;
      }
      if (bytes) {
        try {
          return this.add(bytes, ref);
        } catch (e) {
          if (isImageStoreError(e)) throw new ImageStoreError(e.code, `${file}: ${e.message}`, e.updateResult);
          throw e;
        }
      }
    }
    throw new ImageStoreError('FOTA_IMAGE_NOT_FOUND', `no firmware image ${JSON.stringify(ref)} (an id, name@version${this.directory !== undefined ? ' or a file in the image directory' : ''})`);
  }

  /** Loads every valid image file of the directory; returns the files that were refused, with why. */
  async loadDirectory(): Promise<Array<{ file: string; reason: string }>> {
    if (this.directory === undefined) return [];
    const refused: Array<{ file: string; reason: string }> = [];
    const names = (await readdir(this.directory)).filter((n) => FILE_NAME_RE.test(n)).sort().slice(0, this.maxImages);
    for (const n of names) {
      try {
        await this.resolve(n);
      } catch (e) {
        refused.push({ file: n, reason: e instanceof Error ? e.message : String(e) });
      }
    }
    return refused;
  }

  delete(id: string): boolean {
    const img = this.images.get(id);
    if (!img) return false;
    this.images.delete(id);
    this.bytes -= img.size;
    return true;
  }

  list(): StoredImage[] {
    return [...this.images.values()];
  }

  get size(): number {
    return this.images.size;
  }
}

export function imageInfo(img: StoredImage): ImageInfo {
  return {
    id: img.id, name: img.name, version: img.version, size: img.size, bodySize: img.bodySize, sha256: img.sha256,
    createdAt: img.createdAt, ...(img.fileName !== undefined ? { fileName: img.fileName } : {}),
  };
}
