/**
 * Smoke alarm rules: the detector's own alarm, the fire panel's thresholds (EN 54-7 obscuration,
 * EN 54-5 heat), a slow smoulder, and the detector's faults.
 */
import { z } from 'zod';
import { defineRule, perDevice, type Observation } from '../../rules.ts';

const settings = z.object({
  smokeObscurationPctM: z
    .number()
    .min(0.1)
    .max(20)
    .default(4)
    .describe('Smoke obscuration at which a fire is declared, %/m (EN 54-7 alarms are set around 2-4 %/m).'),
  heatC: z.number().min(30).max(120).default(57).describe('Fixed heat threshold, °C (EN 54-5 class A1 static response 54-65 °C).'),
  smoulderPctM: z
    .number()
    .min(0.1)
    .default(1.5)
    .describe('Slow smoulder: obscuration at or above this, %/m (a pre-alarm level), rising steadily over smoulderWindowS by at least smoulderRisePctM.'),
  smoulderRisePctM: z.number().min(0).default(0.5).describe('Rise of obscuration over smoulderWindowS that makes a smoulder, %/m.'),
  smoulderWindowS: z.number().min(60).default(600).describe('Window of the smoulder rule, seconds (device time).'),
});
export type SmokeRuleSettings = z.output<typeof settings>;

interface Memory {
  alarm?: boolean;
  /** Obscuration readings of the last smoulderWindowS (device time). */
  obscuration: { ts: number; v: number }[];
  smoulder?: boolean;
}

/**
 * A smouldering fire makes little heat or gas but smoke that keeps building for many minutes;
 * a vape, a cigarette or toast makes a spike that falls away. Steady: each third of the window
 * is higher than the one before, and the whole rise is at least smoulderRisePctM.
 */
function smoulder(m: Observation, mem: Memory, v: number, s: SmokeRuleSettings): boolean {
  const w = mem.obscuration;
  const last = w.at(-1);
  if (last && m.ts < last.ts) w.length = 0; // clock went back
  if (last && m.ts === last.ts)
    last.v = v; // two readings stamped alike (a burst): keep the latest
  else w.push({ ts: m.ts, v });
  const span = s.smoulderWindowS * 1000;
  while (w.length > 1 && m.ts - w[1]!.ts >= span) w.shift();
  if (mem.smoulder) return v >= s.smoulderPctM / 2;
  if (v < s.smoulderPctM || m.ts - w[0]!.ts < span * 0.9 || w.length < 6) return false;
  const third = Math.floor(w.length / 3);
  const mean = (xs: { v: number }[]) => xs.reduce((a, x) => a + x.v, 0) / xs.length;
  const [a, b, c] = [mean(w.slice(0, third)), mean(w.slice(third, 2 * third)), mean(w.slice(2 * third))];
  mem.smoulder = b > a && c > b && v - w[0]!.v >= s.smoulderRisePctM;
  return mem.smoulder;
}

export const fireRule = defineRule({
  name: 'fire',
  settings,
  create: perDevice<Memory, SmokeRuleSettings>(
    (m, mem, emit, s) => {
      const d = m.data;
      if (m.channel === 'event' && d['type'] === 'alarm') {
        mem.alarm = d['active'] === true;
        if (mem.alarm) emit('fire', true, `${String(d['source'])} alarm from the detector`, { source: d['source'] });
        return;
      }
      if (m.channel !== 'telemetry') return;
      const t = d as { temperature_c: number; obscuration_pct_m: number; eco2_ppm: number };
      const evidence = { obscuration_pct_m: t.obscuration_pct_m, temperature_c: t.temperature_c, eco2_ppm: t.eco2_ppm };
      const smoke = t.obscuration_pct_m >= s.smokeObscurationPctM;
      const heat = t.temperature_c >= s.heatC;
      if (smoke || heat) {
        const why = [
          smoke && `smoke ${t.obscuration_pct_m.toFixed(1)} %/m (alarm level ${s.smokeObscurationPctM})`,
          heat && `temperature ${t.temperature_c.toFixed(1)} °C`,
          `eCO2 ${Math.round(t.eco2_ppm)} ppm`,
        ]
          .filter(Boolean)
          .join(', ');
        emit('fire', true, why, evidence);
      } else if (smoulder(m, mem, t.obscuration_pct_m, s)) {
        emit(
          'fire',
          true,
          `smoke rising steadily: ${t.obscuration_pct_m.toFixed(1)} %/m after ${Math.round(s.smoulderWindowS / 60)} min of increase (smouldering fire)`,
          evidence,
        );
      } else if (!mem.alarm && t.obscuration_pct_m < s.smokeObscurationPctM / 4) {
        mem.smoulder = false;
        emit('fire', false, 'readings back to normal');
      }
    },
    () => ({ obscuration: [] }),
  ),
});

export const faultRule = defineRule({
  name: 'fault',
  create: perDevice(
    (m, _mem, emit) => {
      if (m.channel !== 'event' || m.data['type'] !== 'fault') return;
      emit('device_fault', m.data['active'] !== false, `fault: ${String(m.data['code']).replace(/_/g, ' ')}`, { code: m.data['code'] });
    },
    () => ({}),
  ),
});
