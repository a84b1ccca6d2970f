/**
 * Firmware images pulled over CoAP: `GET /fw/{imageId}` on the LwM2M server's socket(s), block-wise
 * (RFC 7959 §2.4 Block2). Each block is cut from the stored Buffer by its number at the size the client
 * asked for (its SZX; without a Block2 option the server's default), never buffered per transfer; every
 * block carries the image's ETag (RFC 7252 §5.10.6) so a client can tell a changed image mid-transfer,
 * the first one also Size2 (RFC 7959 §4).
 */
import { ContentFormat } from '../../codec/content-format.js';
import type { CoapReply, IncomingCoapRequest, PeerAddress } from '../../coap/types.js';
import { OptionNumber, encodeUint, szxOf } from '../../coap/message.js';
import type { FirmwareImageStore, StoredImage } from './image-store.js';

export interface ImageServed {
  readonly peer: PeerAddress;
  /** The `ep=` query of the URI the server wrote to /5/0/1, when present. */
  readonly endpoint: string | undefined;
  readonly image: StoredImage;
  /** Offset after the block that was sent. */
  readonly end: number;
}

export interface CoapImageRouteOptions {
  /** Block size when the client gives no Block2 option (16–1024). Default 1024. */
  defaultBlockSize?: number;
  onServed?: (e: ImageServed) => void;
}

/** The handler for `/fw/...` requests (mount with `LwM2MServer.addCoapRoute('fw', …)`). */
export function coapImageHandler(store: FirmwareImageStore, options: CoapImageRouteOptions = {}): (req: IncomingCoapRequest) => CoapReply {
  const defaultSzx = szxOf(options.defaultBlockSize ?? 1024);
  return (req) => {
    if (req.pathSegments.length !== 2) return { code: '4.04', payload: `no resource ${req.path}` };
    if (req.method !== 'GET') return { code: '4.05', payload: 'firmware images are read-only (GET)' };
    const id = req.pathSegments[1] as string;
    const image = store.get(id);
    if (!image) return { code: '4.04', payload: `no firmware image ${id}` };
    const asked = req.block2;
    // RFC 7959 §2.4: the client's SZX is its preference; we never answer with a larger one than asked.
    const szx = Math.min(asked?.szx ?? defaultSzx, 6);
    const size = 2 ** (szx + 4);
    const num = asked?.num ?? 0;
    const offset = num * size;
    if (offset >= image.size && !(offset === 0 && image.size === 0)) {
      return { code: '4.02', payload: `block ${num} of ${size} bytes is beyond the end of the ${image.size}-byte image` };
    }
    const end = Math.min(offset + size, image.size);
    const more = end < image.size;
    const ep = req.query.find((q) => q.startsWith('ep='));
    options.onServed?.({ peer: req.source, endpoint: ep === undefined ? undefined : ep.slice(3), image, end });
    if (asked === undefined && !more && image.size < 1024) {
      return { code: '2.05', payload: image.data, contentFormat: ContentFormat.OPAQUE, etag: image.etag };
    }
    return {
      code: '2.05',
      payload: image.data.subarray(offset, end),
      contentFormat: ContentFormat.OPAQUE,
      etag: image.etag,
      block2: { num, more, szx },
      ...(num === 0 ? { options: [{ number: OptionNumber.Size2, value: encodeUint(image.size) }] } : {}),
    };
  };
}
