/**
 * Rebuilds the camera backdrops in this folder from Debian packages' photographs:
 *   apt-get download plasma-workspace-wallpapers python3-skimage
 *   dpkg -x plasma-workspace-wallpapers_*.deb /tmp/p && dpkg -x python3-skimage_*.deb /tmp/s
 *   node --import tsx models/data/photos/build.ts /tmp/p /tmp/s
 * Each photograph becomes one 640×240 backdrop (a camera's wide view, twice the frame width: see
 * simulators/scene.ts), centre-cropped, JPEG quality 85. Licences: README.md in this folder.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));
/** Photographs (not illustrations) of plasma-workspace-wallpapers 5.27: for training. */
export const TRAIN_PHOTOS = [
  'BytheWater',
  'ColdRipple',
  'ColorfulCups',
  'DarkestHour',
  'EveningGlow',
  'FallenLeaf',
  'Grey',
  'Kite',
  'OneStandsOut',
  'Path',
  'summer_1am',
];
/** scikit-image's sample photographs: held out for independent evaluation, never trained or tuned on. */
export const HELDOUT_PHOTOS = ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'rocket.jpg'];

async function backdrop(src: string, dest: string) {
  await sharp(src).resize(640, 240, { fit: 'cover' }).jpeg({ quality: 85 }).toFile(dest);
}

async function main() {
  const [plasma, skimage] = process.argv.slice(2);
  if (!plasma || !skimage) {
    console.error('usage: build.ts <extracted plasma-workspace-wallpapers> <extracted python3-skimage>');
    process.exit(2);
  }
  mkdirSync(join(here, 'train'), { recursive: true });
  mkdirSync(join(here, 'heldout'), { recursive: true });
  const { readdirSync } = await import('node:fs');
  for (const name of TRAIN_PHOTOS) {
    const dir = join(plasma, 'usr/share/wallpapers', name, 'contents/images');
    const biggest = readdirSync(dir).sort((a, b) => parseInt(b) - parseInt(a))[0]!;
    await backdrop(join(dir, biggest), join(here, 'train', `${name}.jpg`));
  }
  for (const file of HELDOUT_PHOTOS)
    await backdrop(join(skimage, 'usr/lib/python3/dist-packages/skimage/data', file), join(here, 'heldout', file.replace(/\.\w+$/, '.jpg')));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
