/**
 * `npm run eval`: every shipped model's figures on its data, reproducibly, using the committed
 * .onnx files loaded the way the gateway loads them (manifest, sha256, onnxruntime).
 *
 *   npm run eval                                   all four, on models/data (and the held-out simulated sets)
 *   npm run eval -- --smoke other.csv              the smoke model on your recordings (same columns)
 *   npm run eval -- --falls upfall.csv --stairs assist.csv
 *   npm run eval -- --json figures.json            also write every figure as JSON
 *   npm run eval -- --readme                       rewrite the README's summary table from this run
 *
 * Held-out figures retrain a model per fold (leave one session / round out) with the training
 * scripts' code; the shipped model itself is then scored on each file.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { mdTable } from './lib/metrics.ts';
import { MODELS_DIR } from './lib/export.ts';
import type { EvalContext, EvalOptions, EvalSection } from './lib/evaluation.ts';

const program = new Command()
  .name('npm run eval --')
  .description("Score Vigil's shipped detectors on the development data, or on your own files of the same format.")
  .option('--smoke <csv...>', 'smoke CSV(s): temperature_c, humidity_pct, eco2_ppm, fire_alarm [, row, session]')
  .option('--falls <csv...>', 'UP-Fall impact CSV(s) in the Koffi et al. layout (Belt*/Neck* ACC columns, LABEL, round)')
  .option('--stairs <csv...>', "ASSIST-IoT '|'-separated CSV(s) with a belt TAG: counts man-down alarms")
  .option('--json <file>', 'write every figure as JSON')
  .option('--readme', "rewrite the README's summary table (between <!-- eval:start --> and <!-- eval:end -->)")
  .parse();
const opts = program.opts<EvalOptions>();
const custom = !!(opts.smoke || opts.falls || opts.stairs);
const figures: Record<string, unknown> = {};
const summary: (string | number)[][] = [];
const out = (s: string) => process.stdout.write(s + '\n');
const ctx: EvalContext = { opts, custom, out, summary, figures };

/** Every model folder with an eval-section.ts: a new model is a new folder, not an edit here. */
async function sections(): Promise<{ id: string; section: EvalSection }[]> {
  const found: { id: string; section: EvalSection }[] = [];
  for (const d of readdirSync(MODELS_DIR, { withFileTypes: true })) {
    const file = join(MODELS_DIR, d.name, 'eval-section.ts');
    if (d.isDirectory() && existsSync(file)) found.push({ id: d.name, section: ((await import(file)) as { section: EvalSection }).section });
  }
  return found.sort((a, b) => a.section.order - b.section.order || a.id.localeCompare(b.id));
}

try {
  for (const { section } of await sections()) if (section.runs(opts, custom)) await section.run(ctx);
} catch (err) {
  console.error(`eval: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
if (summary.length) {
  const table = mdTable(['model', 'evaluation', 'shipped detector', 'baseline'], summary);
  out(`\n## Summary\n\n${table}`);
  if (opts.readme) {
    const path = `${MODELS_DIR}../README.md`;
    const readme = readFileSync(path, 'utf8');
    const [head, rest] = readme.split('<!-- eval:start -->');
    if (!rest) throw new Error('README has no <!-- eval:start --> marker');
    writeFileSync(path, `${head}<!-- eval:start -->\n${table}\n<!-- eval:end -->${rest.split('<!-- eval:end -->')[1]}`);
    out('README summary table rewritten.');
  }
}
if (opts.json) writeFileSync(opts.json, JSON.stringify(figures, null, 2));
