/** `npm run eval` on other recordings: the shipped models score files of the same format, as a user runs it. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../simulators/random.ts';
import { runScript } from './helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-eval-'));

/** 20 min of a quiet room, then a flaming fire growing over 3 minutes (one reading per second). */
function smokeCsv(): string {
  const rng = new Rng('eval-test');
  const lines = ['temperature_c,humidity_pct,eco2_ppm,fire_alarm'];
  for (let s = 0; s < 1500; s++) {
    const f = s < 1200 ? 0 : Math.min(1, ((s - 1200) / 180) ** 2);
    lines.push(
      [
        (22 + rng.gauss(0, 0.05) + 30 * f).toFixed(2),
        (45 + rng.gauss(0, 0.3) - 15 * f).toFixed(2),
        Math.round(450 + rng.gauss(0, 8) + 8000 * f),
        s >= 1200 ? 1 : 0,
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

describe('npm run eval on other files', () => {
  it('scores a smoke recording and a stairs recording with the shipped models, as tables and JSON', async () => {
    writeFileSync(join(dir, 'room.csv'), smokeCsv());
    const p = runScript('models/eval.ts', [
      '--smoke',
      join(dir, 'room.csv'),
      '--stairs',
      'models/data/falls/assist_stairs_p03.csv',
      '--json',
      join(dir, 'out.json'),
    ]);
    const { code } = await p.exit;
    expect(code, p.stderr()).toBe(0);
    expect(p.stdout()).toMatch(/## smoke-fire 1\.0\.0 \(sha256 [0-9a-f]{12}…\)/);
    expect(p.stdout()).toMatch(/\| shipped on room\.csv \| all \|/);
    const figures = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as {
      'smoke-fire': { report: { detectors: { detector: string; recall: number; falseAlarms: number; onsetDelayS: number | null }[] } }[];
      'bodycam-man-down': { recordings: { alarms: number; minutes: number }[] };
    };
    const [model, heat] = figures['smoke-fire'][0]!.report.detectors;
    expect(model!.detector).toBe('smoke-fire model');
    expect(model!.falseAlarms).toBe(0);
    expect(model!.onsetDelayS).not.toBeNull();
    expect(model!.onsetDelayS!).toBeLessThan(120);
    // The fire never reaches 57 °C: the single heat threshold misses it.
    expect(heat!.onsetDelayS).toBeNull();
    const stairs = figures['bodycam-man-down'].recordings;
    expect(stairs.length).toBe(2);
    expect(stairs.reduce((a, r) => a + r.alarms, 0)).toBe(0);
  }, 60_000);

  it('a file without the expected columns is refused with its name and the missing column', async () => {
    writeFileSync(join(dir, 'bad.csv'), 'temp,humidity\n20,40\n');
    const p = runScript('models/eval.ts', ['--smoke', join(dir, 'bad.csv')]);
    const { code } = await p.exit;
    expect(code).not.toBe(0);
    expect(p.stderr()).toMatch(/bad\.csv: missing column temperature_c/);
  }, 30_000);
});
