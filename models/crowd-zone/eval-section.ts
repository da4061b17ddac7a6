/** crowd-zone in `npm run eval` (models/eval.ts): the shipped ONNX file over every report of the held-out sites. */
import ort from 'onnxruntime-node';
import { loadShipped } from '../lib/shipped.ts';
import type { EvalSection } from '../lib/evaluation.ts';
import { FEATURES, type ZoneRun } from './data.ts';
import { baselineRule, crowdTable, evaluateCrowd, thresholds } from './model.ts';
import { DAYS, heldOut, LEARNING_DAYS } from './train.ts';
import type { LoadedModel } from '../../gateway/inference/models.ts';

/** One score per report, through onnxruntime in runs of 8192 rows. */
async function scoreRun(model: LoadedModel, z: ZoneRun): Promise<Float32Array> {
  const n = z.ts.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 8192) {
    const m = Math.min(8192, n - i);
    const res = await model.session.run({
      [model.manifest.input.name]: new ort.Tensor('float32', z.features.slice(i * FEATURES, (i + m) * FEATURES), [m, FEATURES]),
    });
    out.set(res[model.manifest.output.name]!.data as Float32Array, i);
  }
  return out;
}

export const section: EvalSection = {
  order: 50,
  runs: (opts, custom) => !custom,
  async run({ out, summary, figures }) {
    const shipped = await loadShipped('crowd-zone');
    out(`\n## crowd-zone ${shipped.model.manifest.version} (sha256 ${shipped.model.manifest.sha256.slice(0, 12)}…)\n`);
    const runs = heldOut();
    const scored = [];
    for (const run of runs) scored.push({ run, scores: await scoreRun(shipped.model, run) });
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
