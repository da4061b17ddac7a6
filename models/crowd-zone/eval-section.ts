/** crowd-zone in `npm run eval` (models/eval.ts): the shipped ONNX file over every report of the held-out sites. */
import { loadShipped, scoreFlat } from '../lib/shipped.ts';
import type { EvalSection } from '../lib/evaluation.ts';
import { FEATURES } from './data.ts';
import { baselineRule, crowdTable, evaluateCrowd, thresholds } from './model.ts';
import { DAYS, heldOut, LEARNING_DAYS } from './train.ts';

export const section: EvalSection = {
  order: 50,
  runs: (opts, custom) => !custom,
  async run({ out, summary, figures }) {
    const shipped = await loadShipped('crowd-zone');
    out(`\n## crowd-zone ${shipped.model.manifest.version} (sha256 ${shipped.model.manifest.sha256.slice(0, 12)}…)\n`);
    const runs = heldOut();
    const scored = [];
    for (const run of runs) scored.push({ run, scores: await scoreFlat(shipped.model, run.features, FEATURES) });
    const rule = runs.map((run) => ({
      run,
      scores: Float32Array.from({ length: run.ts.length }, (_, i) => (baselineRule(run.features.subarray(i * FEATURES, (i + 1) * FEATURES)) ? 1 : 0)),
    }));
    const ruleT = { alert: 0.5, clear: 0.5, persist: thresholds.persist };
    const late = evaluateCrowd(scored, LEARNING_DAYS, DAYS);
    const early = evaluateCrowd(scored, 0, LEARNING_DAYS);
    const lateRule = evaluateCrowd(rule, LEARNING_DAYS, DAYS, ruleT);
    out(crowdTable('held-out sites, after two weeks', late, lateRule));
    out('\n' + crowdTable('held-out sites, first two weeks (learning)', early, evaluateCrowd(rule, 0, LEARNING_DAYS, ruleT)));
    const s = late.incidents.crowd_surge;
    const d = late.incidents.crowd_dispersal;
    const med = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0) : '–');
    summary.push([
      'crowd-zone',
      `simulated crowds, 2 held-out sites × 3 zones × ${DAYS - LEARNING_DAYS} days after two weeks of learning`,
      `surges ${s.detected}/${s.n} (p50 ${med(s.ttd)} s), dispersals ${d.detected}/${d.n} (p50 ${med(d.ttd)} s); ${(late.falseAlarms / late.zoneDays).toFixed(3)} false alarms per zone-day, ${late.falseByPeriod.event} on ${late.eventEvenings} event evenings`,
      `≥ 90 % of capacity or half gone: dispersals ${lateRule.incidents.crowd_dispersal.detected}/${lateRule.incidents.crowd_dispersal.n}; ${(lateRule.falseAlarms / lateRule.zoneDays).toFixed(3)} false alarms per zone-day, ${lateRule.falseByPeriod.event} on event evenings`,
    ]);
    figures['crowd-zone'] = { late, early, lateRule };
    await shipped.close();
  },
};
