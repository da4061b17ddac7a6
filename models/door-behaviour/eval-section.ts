/** door-behaviour in `npm run eval` (models/eval.ts). */
import { loadShipped, scoreAll } from '../lib/shipped.ts';
import type { EvalSection } from '../lib/evaluation.ts';
import { doorTable, evaluateDoor } from './model.ts';
import { heldOut as doorHeldOut } from './train.ts';

export const section: EvalSection = {
  order: 40,
  runs: (opts, custom) => !custom,
  async run({ out, summary, figures }) {
    const shipped = await loadShipped('door-behaviour');
    out(`\n## door-behaviour ${shipped.model.manifest.version} (sha256 ${shipped.model.manifest.sha256.slice(0, 12)}…)\n`);
    const h = doorHeldOut();
    const scores = await scoreAll(
      shipped.model,
      [...h.late, ...h.early].map((e) => e.features),
    );
    const late = await evaluateDoor(h.late, h.lateDoorDays, (f) => scores.get(f)!);
    const early = await evaluateDoor(h.early, h.earlyDoorDays, (f) => scores.get(f)!);
    out(doorTable('held-out sites, after the first week', late));
    out('\n' + doorTable('held-out sites, first week (learning)', early));
    const burst = late.kinds.find((k) => k.kind === 'denial_burst');
    summary.push([
      'door-behaviour',
      'simulated traffic, 2 held-out sites × 8 doors × 3 weeks',
      `recall ${late.overall.recall.toFixed(3)}, precision ${late.overall.precision.toFixed(3)}; ${late.falseAlarmsPerDoorDay.toFixed(3)} false alarms per door-day (${early.falseAlarmsPerDoorDay.toFixed(3)} in the first week)`,
      `brute-force rule: ${burst ? ((100 * burst.rule) / burst.events).toFixed(0) : '–'} % of denial-burst events, no off-hours or unusual-pair use`,
    ]);
    figures['door-behaviour'] = { late, early };
    await shipped.close();
  },
};
