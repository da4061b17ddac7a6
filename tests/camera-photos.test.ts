/**
 * The shipped camera-tamper model on real photographs it never saw (scikit-image's samples, held out:
 * models/data/photos/README.md): crowds coming and going raise nothing, blinding glare without blur
 * and a covered lens are caught. Frames are seeded, so the test is the same at any hour.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CameraFeatures, frameStats } from '../edge/features/camera.ts';
import { subtleTamper } from '../models/camera-tamper/data.ts';
import { thresholds } from '../models/camera-tamper/model.ts';
import { loadShipped } from '../models/lib/shipped.ts';
import { Rng } from '../simulators/random.ts';
import { SceneRenderer } from '../simulators/scene.ts';

let shipped: Awaited<ReturnType<typeof loadShipped>>;
beforeAll(async () => {
  shipped = await loadShipped('camera-tamper');
});
afterAll(() => shipped.close());

async function camera(photo: string) {
  const scene = new SceneRenderer(`test-${photo}`, 'camera-photos', readFileSync(new URL(`../models/data/photos/heldout/${photo}.jpg`, import.meta.url)));
  const f = new CameraFeatures();
  // Warm-up in a rush-hour crowd: the reference must not become the crowd.
  for (const people of [30, 40, 25]) f.learn(await frameStats(await scene.frame(people)));
  return {
    scene,
    score: async (jpeg: Buffer) => shipped.score(f.features(await frameStats(jpeg))),
    learn: async (jpeg: Buffer) => f.learn(await frameStats(jpeg)),
  };
}

describe('camera tamper on held-out real photographs', () => {
  it.each(['coffee', 'astronaut', 'rocket'])('%s: crowds from empty to packed stay normal; glare without blur and a cover are caught', async (photo) => {
    const cam = await camera(photo);
    for (const people of [0, 5, 45, 60, 12]) {
      const jpeg = await cam.scene.frame(people);
      expect(await cam.score(jpeg), `${people} people`).toBeLessThan(thresholds.alert);
      await cam.learn(jpeg);
    }
    const glare = await subtleTamper(await cam.scene.frame(10), 'glare_sharp', new Rng(`glare:${photo}`));
    expect(await cam.score(glare)).toBeGreaterThanOrEqual(thresholds.alert);
    expect(await cam.score(await cam.scene.frame(10, 'covered'))).toBeGreaterThanOrEqual(thresholds.alert);
  });
});
