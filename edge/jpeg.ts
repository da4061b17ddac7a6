/** Snapshot check: a payload on `/snapshot` must be a JPEG that decodes to the end. */
import sharp from 'sharp';
import type { SnapshotFrame } from './message.ts';

/** Refuse frames above this many pixels before decoding them (decompression bombs). */
export const MAX_SNAPSHOT_PIXELS = 4096 * 4096;

export class InvalidJpegError extends Error {}

export async function decodeSnapshot(jpeg: Buffer): Promise<SnapshotFrame> {
  // JPEG starts with SOI (FF D8) followed by a marker (FF xx): cheap reject of text, PNGs and noise.
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[2] !== 0xff) {
    throw new InvalidJpegError('payload is not a JPEG (missing SOI marker FF D8 FF)');
  }
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
