/** Snapshot check: a payload on `/snapshot` must be a JPEG that decodes to the end. */
import { availableParallelism } from 'node:os';
import pLimit from 'p-limit';
import sharp from 'sharp';
import type { SnapshotFrame } from './message.ts';

/** Refuse frames above this many pixels before decoding them (decompression bombs). */
export const MAX_SNAPSHOT_PIXELS = 4096 * 4096;

export class InvalidJpegError extends Error {}

/**
 * Image work (decoding snapshots, camera features) runs on libuv's thread pool, which also syncs the
 * spool and the broker store to disk (WalSync) and verifies passwords. At most cores − 1 images at
 * once (at least one): a burst of snapshots from many cameras queues here instead of taking every
 * pool thread, so acknowledgements of other devices' readings never wait behind JPEG decoding.
 */
export const imageSlots = pLimit(Math.max(1, availableParallelism() - 1));

export function decodeSnapshot(jpeg: Buffer): Promise<SnapshotFrame> {
  // JPEG starts with SOI (FF D8) followed by a marker (FF xx): cheap reject of text, PNGs and noise, without waiting for a slot.
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff) {
    return Promise.reject(new InvalidJpegError('payload is not a JPEG (missing SOI marker FF D8 FF)'));
  }
  return imageSlots(() => decode(jpeg));
}

async function decode(jpeg: Buffer): Promise<SnapshotFrame> {
  try {
    const image = sharp(jpeg, { failOn: 'truncated', limitInputPixels: MAX_SNAPSHOT_PIXELS });
    const meta = await image.metadata();
    if (meta.format !== 'jpeg' || !meta.width || !meta.height) {
      throw new InvalidJpegError(`payload is ${meta.format ?? 'unknown'}, not a JPEG`);
    }
    // Decode every scan (at 1/8 scale thanks to shrink-on-load) so truncated or corrupt data is caught here.
    await image.resize(32, 32, { fit: 'fill' }).raw().toBuffer();
    return { jpeg, width: meta.width, height: meta.height };
  } catch (err) {
    if (err instanceof InvalidJpegError) throw err;
    throw new InvalidJpegError(`JPEG does not decode: ${(err as Error).message.split('\n')[0]}`);
  }
}
