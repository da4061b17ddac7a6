/** bodycam-man-down in `npm run eval` (models/eval.ts). */
import { loadShipped } from '../lib/shipped.ts';
import type { EvalSection } from '../lib/evaluation.ts';
import { loadAssist, loadUpFall } from './data.ts';
import { evaluateRecordings, evaluateTrials, recordingTable, trialTable, type RecordingFigures, type TrialFigures } from './evaluate.ts';
import { leaveOneRoundOut, PUBLISHED, STAIRS_TEST, STAIRS_TRAIN, UPFALL } from './train.ts';

export const section: EvalSection = {
  order: 20,
  runs: (opts, custom) => !custom || !!opts.falls || !!opts.stairs,
  async run({ opts, custom, out, summary, figures }) {
    const shipped = await loadShipped('bodycam-man-down');
    out(`\n## bodycam-man-down ${shipped.model.manifest.version} (sha256 ${shipped.model.manifest.sha256.slice(0, 12)}…)\n`);
    const trials: TrialFigures[] = [];
    const recs: RecordingFigures[] = [];
    if (!custom) {
      const t = loadUpFall(UPFALL);
      const folds = await leaveOneRoundOut(t, loadAssist(STAIRS_TRAIN), loadAssist(STAIRS_TEST));
      trials.push(...folds.trials);
      recs.push(...folds.recordings, ...(await evaluateRecordings('shipped model', loadAssist(STAIRS_TEST), shipped.score)));
      const mean = (view: string, k: 'f1' | 'accuracy') => {
        const v = folds.trials.filter((x) => x.view === view);
        return v.reduce((a, x) => a + x[k], 0) / v.length;
      };
      summary.push([
        'bodycam-man-down',
        'UP-Fall leave one round out (belt / neck); ASSIST stairs participant 3 (never trained on)',
        `F1 ${mean('belt', 'f1').toFixed(3)} / ${mean('neck', 'f1').toFixed(3)}, accuracy ${mean('belt', 'accuracy').toFixed(3)} / ${mean('neck', 'accuracy').toFixed(3)}; falls detected ${folds.trials.filter((x) => x.view === 'belt').reduce((a, x) => a + x.detected, 0)}/${folds.trials.filter((x) => x.view === 'belt').reduce((a, x) => a + x.trials, 0)}; man_down by the 10-s rule on each trial + 30 s staying down ${folds.trials.reduce((a, x) => a + x.raisedDown, 0)}/${folds.trials.reduce((a, x) => a + x.trials, 0)} (belt and neck); ${recs.filter((r) => r.setting === 'shipped model').reduce((a, r) => a + r.alarms, 0)} alarms in ${recs
          .filter((r) => r.setting === 'shipped model')
          .reduce((a, r) => a + r.minutes, 0)
          .toFixed(1)} min of stairs`,
        'published (random row split, all sensors): SVM 99.5 % accuracy / 99.5 % F1',
      ]);
    }
    for (const file of opts.falls ?? []) {
      trials.push(...(await evaluateTrials(`shipped on ${file.split('/').pop()}`, loadUpFall(file), shipped.score)));
    }
    for (const file of opts.stairs ?? []) recs.push(...(await evaluateRecordings(`shipped on ${file.split('/').pop()}`, loadAssist(file), shipped.score)));
    if (trials.length) out(trialTable(trials));
    if (!custom) out(`\n${PUBLISHED}\n`);
    if (recs.length) out('\n' + recordingTable(recs));
    figures['bodycam-man-down'] = { trials, recordings: recs };
    await shipped.close();
  },
};
