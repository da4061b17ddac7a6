/** camera-tamper in `npm run eval` (models/eval.ts). */
import { loadShipped, scoreAll } from '../lib/shipped.ts';
import type { EvalSection } from '../lib/evaluation.ts';
import { cameraTable, evaluateCamera, evaluateRush, rushTable } from './model.ts';
import { heldOut as cameraHeldOut, heldOutPhotos as cameraHeldOutPhotos, rush as cameraRush, rushPhotos as cameraRushPhotos } from './train.ts';

export const section: EvalSection = {
  order: 30,
  runs: (opts, custom) => !custom,
  async run({ out, summary, figures }) {
    const shipped = await loadShipped('camera-tamper');
    out(`\n## camera-tamper ${shipped.model.manifest.version} (sha256 ${shipped.model.manifest.sha256.slice(0, 12)}…)\n`);
    const frames = await cameraHeldOut();
    const scores = await scoreAll(
      shipped.model,
      frames.map((f) => f.features),
    );
    const e = await evaluateCamera(frames, (f) => scores.get(f)!);
    out(cameraTable('held-out cameras', e));
    const photoFrames = await cameraHeldOutPhotos();
    const photoScores = await scoreAll(
      shipped.model,
      photoFrames.map((f) => f.features),
    );
    const p = await evaluateCamera(photoFrames, (f) => photoScores.get(f)!);
    out(`\n${cameraTable('held-out photographs', p)}`);
    const rush = await evaluateRush(await cameraRush(), shipped.score);
    const rushP = await evaluateRush(await cameraRushPhotos(), shipped.score);
    out(`\n${rushTable(rush)}\n\n${rushTable(rushP, 'held-out photographs')}`);
    const normal = (x: typeof e) => x.kinds.filter((k) => ['none', 'lighting', 'crowd'].includes(k.kind));
    const flagged = (x: typeof e) => `${normal(x).reduce((a, k) => a + k.flagged, 0)}/${normal(x).reduce((a, k) => a + k.frames, 0)}`;
    const glare = p.kinds.find((k) => k.kind === 'glare_sharp');
    summary.push([
      'camera-tamper',
      'rendered scenes (12 held-out cameras) and 5 held-out real photographs (scikit-image, never trained on), tampering applied with sharp; 17 untouched cameras through a morning rush',
      `rendered: recall ${e.overall.recall.toFixed(3)}, precision ${e.overall.precision.toFixed(3)}, normal flagged ${flagged(e)}; photographs: recall ${p.overall.recall.toFixed(3)}, precision ${p.overall.precision.toFixed(3)}, normal flagged ${flagged(p)}, sharp glare ${glare?.flagged}/${glare?.frames}; rush hour: ${rush.alerts + rushP.alerts} false alerts in ${rush.frames + rushP.frames} snapshots (${((rush.alerts + rushP.alerts) / (((rush.frames + rushP.frames) * rush.intervalS) / 86_400)).toFixed(2)} per camera-day)`,
      "cameras' own analytics: covered and defocused only",
    ]);
    figures['camera-tamper'] = { ...e, photographs: p, rush, rushPhotographs: rushP };
    await shipped.close();
  },
};
