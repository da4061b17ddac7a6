/**
 * The README's "Layout" section, generated from the tree (`npm run docs:layout`): every source
 * folder with its files, and what the folder is for. A folder without a line here fails
 * tests/process.test.ts, as does a README that differs from what this prints.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What each folder is for. Source folders are listed with their files; the others by name. */
export const purposes: Record<string, string> = {
  'devices/': 'the domain: defineDevice, capabilities, the rule vocabulary, the kind registry, topics, units, what a zone means',
  'console/': 'the on-site web console (Preact + htm, built by Vite into console/dist, served at /): src/views per screen',
  'devices/adapters/': 'vendor adapters (the seam is devices/adapters.ts): Hikvision ISAPI, zigbee2mqtt, the generic JSON mapping',
  'devices/kinds/bodycam/': 'body-worn camera: definition, rules (SOS, man down), IMU window summary',
  'devices/kinds/camera/': 'smart camera: definition, rules (intrusion and loitering where the zone says so; its tamper events raise camera_tamper)',
  'devices/kinds/door/': 'door controller: definition, rules (forced entry, held open, brute force)',
  'devices/kinds/smoke/': 'smoke alarm: definition, rules (alarm, thresholds, smoulder, faults), two-stage fire confirmation',
  'edge/': 'pure processing, no I/O: ingest, pipeline, device state, messages, the listener mechanism',
  'edge/alerts/':
    'the alert pipeline: rule stage, condition sources, engine, fleet health, model, store port, the 1-3-5 measures, dispatch geometry and roster',
  'edge/features/': 'feature extractors the detectors read, one per detector',
  'edge/inference/': 'detectors by name, manifests, decisions, the detector pipeline stage',
  'gateway/': 'the composition root (gateway.ts), features, config, database, errors, backup, retention, metrics, entry points',
  'gateway/adapters/':
    'devices through adapters and bridges, the same ingest and pipeline; onboarding (pending devices, provisioning keys); site brokers read upstream',
  'gateway/alerts/': 'alerts feature: SQLite store, MQTT publication and summary, operator commands',
  'gateway/broker/': 'aedes: hooks, publish steps, refusals, listeners, durable persistence, the aedes compatibility module',
  'gateway/cli/': 'the `vigil` CLI and what the command-line tools share (exit codes)',
  'gateway/commands/': 'commands feature: device commands (RPC) declared per kind, delivery, answers, timeouts, queueing',
  'gateway/configs/': 'signed device configurations: versions, site keys, rollouts',
  'gateway/dispatch/': 'dispatch feature: reinforcement sent to the nearest officers by GPS, answers, arrival, the 5-minute mark',
  'gateway/evidence/': 'evidence feature: snapshots gathered for alerts, sha256, views (chain of custody), retention',
  'gateway/forward/': 'disk spool, InfluxDB forwarder, central MQTT uplink, line-protocol encoder, aggregation',
  'gateway/http/': 'fastify: the app, the vigil-auth plugin, shared schemas',
  'gateway/http/routes/': 'one plugin per resource',
  'gateway/inference/': 'inference feature: model files and onnxruntime sessions, micro-batching, checkpoints',
  'gateway/sites/': 'the zones of each site: names, coordinates, arrival radius; versioned',
  'gateway/security/': 'security feature: registry, authentication, ACL, identities, limits, audit, secrets at rest',
  'simulators/': 'devices over real MQTT: the base device, fleet, scenario, scenes, crowds, faulty device, `npm run sim`',
  'simulators/kinds/': 'one simulator per shipped kind',
  'models/': 'the detectors: <id>/ (model.onnx, manifest.json, train.ts, eval-section.ts, REPORT.md), data/, lib/, train-all.ts, eval.ts',
  'bench/': 'benchmarks (`npm run bench`) and their latest results',
  'scripts/': 'setup, certificates, the demo, this layout, and the local servers tests and benchmarks run',
  'deploy/': 'gateway config, systemd unit, Grafana dashboards, the central broker configuration and ACL',
  'tests/': 'vitest suites, helpers, and fixtures (a fifth kind registered only in tests)',
};

const sourceRoots = ['devices', 'edge', 'gateway', 'simulators'];
const otherRoots = ['console', 'models', 'bench', 'scripts', 'deploy', 'tests'];

function dirs(dir: string): string[] {
  const subs = readdirSync(join(ROOT, dir))
    .filter((f) => statSync(join(ROOT, dir, f)).isDirectory())
    .sort();
  return [dir, ...subs.flatMap((s) => dirs(join(dir, s)))];
}

export function layout(): string {
  const lines: string[] = [];
  const missing: string[] = [];
  const row = (d: string) => {
    const key = `${relative(ROOT, join(ROOT, d))}/`;
    const purpose = purposes[key];
    if (!purpose) missing.push(key);
    lines.push(`${key.padEnd(26)}${purpose ?? ''}`);
    return key;
  };
  for (const root of sourceRoots) {
    for (const d of dirs(root)) {
      const files = readdirSync(join(ROOT, d))
        .filter((f) => f.endsWith('.ts'))
        .sort();
      if (!files.length) continue;
      row(d);
      lines.push(`${' '.repeat(28)}${files.join(' ')}`);
    }
  }
  for (const d of otherRoots) row(d);
  if (missing.length) throw new Error(`scripts/layout.ts: no purpose for ${missing.join(', ')}`);
  return ['```', ...lines.map((l) => l.trimEnd()), '```'].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(layout());
