/** The smoke-fire figures as one table, for REPORT.md, the README and `npm run eval`. */
import { mdTable } from '../lib/metrics.ts';
import type { SessionReport } from './evaluate.ts';

const n = (v: number | null | undefined, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(d));

export function smokeTable(reports: { setting: string; report: SessionReport }[]): string {
  const rows: (string | number)[][] = [];
  for (const { setting, report: r } of reports) {
    for (const d of r.detectors) {
      const s = d.synthetic;
      rows.push([
        setting,
        r.session,
        n(r.normalHours, 2),
        r.fireRows,
        d.detector,
        r.fireRows ? n(d.precision, 3) : '–',
        r.fireRows ? n(d.recall, 3) : '–',
        r.fireRows ? n(d.f1, 3) : '–',
        `${d.falseAlarms} (${n(d.falseAlarmsPerDay, 1)}/day)`,
        n(d.onsetDelayS),
        s ? `${s.detected}/${s.fires}` : '–',
        s ? n(s.medianDelayS) : '–',
        s ? n(s.p90DelayS) : '–',
        s ? s.falseAlarmsBeforeOnset : '–',
      ]);
    }
  }
  return mdTable(
    [
      'setting',
      'test session',
      'normal h',
      'labelled fire rows',
      'detector',
      'precision',
      'recall',
      'F1',
      'false alarms (per day)',
      's to labelled onset',
      'synthetic fires detected',
      'median s',
      'p90 s',
      'alarms before onset',
    ],
    rows,
  );
}
