/**
 * `npm run train`: every model of `models/<id>/` that has a `train.ts`, found on disk (a new model is
 * a new folder, not an edit here), each in its own process, in name order; stops at the first failure.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const models = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'train.ts')) && (!only.length || only.includes(d.name)))
  .map((d) => d.name)
  .sort();
if (!models.length) {
  console.error(`train: no model ${only.length ? `named ${only.join(', ')} ` : ''}with a train.ts under ${dir}`);
  process.exit(2);
}
for (const m of models) {
  console.log(`train: ${m}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, m, 'train.ts')], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`train: ${m} failed (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
}
