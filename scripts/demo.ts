/**
 * `npm run demo`: the gateway on embedded defaults plus a simulated fleet of
 * all four kinds at two sites, a scripted tour of labelled incidents, one
 * misbehaving camera, and a live summary every few seconds. It opens with the
 * 1-3-5 loop closed: a fire in a concourse gets the snapshots of the zone's
 * two cameras, the two nearest officers are sent, accept, walk there and
 * arrive, and the operator resolves it; then the concourse crowd surges (one
 * alert for the zone, from its counting cameras), someone walks onto the
 * platform edge (a critical intrusion), and at the height of the surge people
 * flee the concourse (a critical dispersal); the SLA table is printed at the end.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import mqtt from 'mqtt';
import { kindNames } from '../devices/index.ts';
import { ConfigError, loadConfig } from '../gateway/config.ts';
import { Gateway } from '../gateway/gateway.ts';
import { FaultyCamera } from '../simulators/faulty.ts';
import { Fleet, fleetPlan } from '../simulators/fleet.ts';
import { offset } from '../edge/alerts/dispatch.ts';
import { LabelLog } from '../simulators/labels.ts';
import { Scenario, tour } from '../simulators/scenario.ts';
import { addFleetOptions, fleetShape } from '../simulators/cli-options.ts';
import { crowdZone } from '../simulators/crowd.ts';
import type { CameraSim } from '../simulators/kinds/camera.ts';
import { Zigbee2mqttSim } from '../simulators/zigbee2mqtt.ts';

const program = addFleetOptions(new Command('vigil-demo'), { sites: 'hub1,community2', camera: 3, door: 6, smoke: 10, bodycam: 4, speed: 10 })
  .description('Run the Vigil gateway with a simulated fleet and injected incidents')
  .option('--interval <s>', 'seconds between summaries', '3')
  .option('--data-dir <dir>', 'database of this demo run (emptied at start)', 'var/demo')
  .option('-c, --config <file>', 'gateway config file (ports etc.; environment overrides apply too)')
  .parse();
const o = program.opts<Record<string, string | undefined>>();
const shape = fleetShape(o);

let config;
try {
  // The live summary is the demo's output: the gateway logs only errors unless VIGIL_LOG_LEVEL says otherwise.
  // Alert timers follow the demo's time compression: 1-3-5 minutes become 6-18-30 s at ×10.
  const k = 1 / Number(o['speed'] ?? 10);
  config = loadConfig({
    file: o['config'],
    overrides: {
      dataDir: o['dataDir'],
      ...(process.env['VIGIL_LOG_LEVEL'] ? {} : { log: { level: 'error' } }),
      alerts: {
        escalation: { ackS: 60 * k, reinforceS: 180 * k, reescalateS: 300 * k },
        clearAfterS: 60 * k,
        holdDownS: 300 * k,
        repeatPublishS: 30 * k,
        startupGraceS: 10,
      },
      dispatch: { acceptTimeoutS: Math.max(5, 30 * k) },
    },
  });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`vigil-demo: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

// A fresh registry each run: the demo provisions its own devices and people below.
rmSync(config.dataDir, { recursive: true, force: true });
const gateway = new Gateway({ config, processMetrics: true });
try {
  await gateway.start();
} catch (err) {
  console.error(
    `vigil-demo: the gateway could not start: ${(err as Error).message}\n(ports in use? set VIGIL_MQTT_TCP_PORT, VIGIL_MQTT_WS_PORT, VIGIL_HTTP_PORT)`,
  );
  process.exit(1);
}
const url = `mqtt://127.0.0.1:${gateway.ports.mqtt}`;
const { sites, perKind: counts } = shape;
const labelFile = o['labels'] ?? 'var/demo-incidents.jsonl';
mkdirSync(labelFile.includes('/') ? labelFile.slice(0, labelFile.lastIndexOf('/')) : '.', { recursive: true });
const labels = new LabelLog(labelFile);

// Where each site is, and its two zones (a concourse and a platform, a hundred metres apart): officers
// patrol around the site, and are sent to a zone's coordinates.
const origins = new Map(sites.map((s, i) => [s, { lat: 22.5431 + 0.02 * i, lon: 114.0579 + 0.03 * i }]));
const zoneOf = (kind: string, deviceId: string): string => {
  if (kind === 'bodycam') return 'beat';
  const n = Number(deviceId.slice(deviceId.lastIndexOf('-') + 1));
  // The first two cameras watch the concourse; the first half of the doors and smoke alarms are there too.
  return (kind === 'camera' ? n <= 2 : n <= Math.ceil((counts[kind] ?? 0) / 2)) ? 'concourse' : 'platform';
};

// Provision the simulated devices (one bulk, all hashed) and three people, as an admin would.
const actor = { id: 'demo' };
const faultyId = `${sites[0]}-camera-faulty`;
const boxZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
for (const [site, o] of origins) {
  // The concourse holds 1200 people (its cameras count them: crowd surge and dispersal); the platform edge is staff-only (intrusion).
  gateway.sites.put(site, 'concourse', { name: 'Main concourse', location: offset(o, 40, -30), type: 'concourse', capacity: 1200, timezone: boxZone }, actor);
  gateway.sites.put(site, 'platform', { name: 'Platform 1 edge', location: offset(o, -60, 80), type: 'platform_edge' }, actor);
}
const provisioned = await gateway.security.registry.provisionMany(
  [
    ...fleetPlan(sites, counts).map((d) => ({ ...d, zone: zoneOf(d.kind, d.deviceId), tags: ['simulated'] })),
    { deviceId: faultyId, kind: 'camera', site: sites[0]!, tags: ['simulated', 'faulty'] },
  ],
  actor,
);
const secrets = new Map(provisioned.map((p) => [p.credentials.username, p.credentials]));
// A zigbee2mqtt bridge at the first site (#18): two Zigbee smoke detectors and a door contact, named by their
// friendly names, and one detector nobody registered, which waits in the pending list (the console's Admin view).
const z2mSite = sites[0]!;
const z2mBridge = await gateway.security.registry.addBridge({ id: `${z2mSite}-z2m`, site: z2mSite, adapter: 'zigbee2mqtt', baseTopic: 'zigbee2mqtt' }, actor);
const zigbee = [
  { deviceId: `${z2mSite}-zb-smoke-1`, kind: 'smoke', zone: 'concourse', name: 'kiosk/smoke', type: 'smoke' as const },
  { deviceId: `${z2mSite}-zb-smoke-2`, kind: 'smoke', zone: 'platform', name: 'staff room/smoke', type: 'smoke' as const },
  { deviceId: `${z2mSite}-zb-door-1`, kind: 'door', zone: 'platform', name: 'staff door', type: 'contact' as const },
];
await gateway.security.registry.provisionMany(
  zigbee.map((z) => ({ deviceId: z.deviceId, kind: z.kind, site: z2mSite, zone: z.zone, externalId: z.name, tags: ['simulated', 'adapter:zigbee2mqtt'] })),
  actor,
);
const people = {
  consumer: await gateway.security.registry.addPrincipal({ id: 'ops-center', role: 'consumer', sites: ['*'] }, actor),
  engineer: await gateway.security.registry.addPrincipal({ id: 'field-eng', role: 'engineer', sites }, actor),
  admin: await gateway.security.registry.addPrincipal({ id: 'demo-admin', role: 'admin', sites: ['*'] }, actor),
};
const credFile = join(config.dataDir, 'credentials.json');
writeFileSync(
  credFile,
  JSON.stringify(
    {
      mqtt: `mqtt://localhost:${gateway.ports.mqtt}`,
      http: `http://localhost:${gateway.ports.http}`,
      ...Object.fromEntries(
        Object.entries(people).map(([k, p]) => [
          k,
          { id: p.principal.id, role: p.principal.role, sites: p.principal.sites, mqttPassword: p.credentials.password, apiToken: p.token },
        ]),
      ),
    },
    null,
    2,
  ),
  { mode: 0o600 },
);
const fleet = new Fleet({
  url,
  ...shape,
  labels,
  credentials: (id) => secrets.get(id),
  configKeys: (site) => gateway.configs.keys.get(site).publicPem,
  origins: (site) => origins.get(site),
});
const faulty = new FaultyCamera(url, sites[0]!, faultyId, secrets.get(faultyId));
const z2m = new Zigbee2mqttSim({
  url,
  bridgeId: z2mBridge.bridge.id,
  password: z2mBridge.credentials.password,
  devices: [...zigbee.map((z) => ({ name: z.name, type: z.type })), { name: 'garage/smoke', type: 'smoke' }],
  speed: shape.speed,
  seed: shape.seed,
});
// The concourse cameras count its crowd (the simulated crowd of simulators/crowd.ts, in the box's time zone).
for (const site of sites) {
  const concourse = crowdZone({ site, zone: 'concourse', type: 'concourse', capacity: 1200, timezone: boxZone }, shape.seed);
  fleet
    .ofKind('camera')
    .filter((c) => c.site === site && zoneOf('camera', c.id) === 'concourse')
    .forEach((c, i) => ((c as CameraSim).crowd = { zone: concourse, camera: i }));
}

console.log(`Vigil demo: gateway ${gateway.config.gatewayId}`);
console.log(`  CONSOLE  open http://localhost:${gateway.ports.http} and sign in with the admin API token below`);
console.log(`  MQTT  mqtt://localhost:${gateway.ports.mqtt}   ws://localhost:${gateway.ports.ws}${gateway.config.mqtt.ws.path}`);
console.log(`  HTTP  http://localhost:${gateway.ports.http}/api/v1/devices   /docs   /metrics`);
console.log(`  ${fleet.devices.length} simulated devices at ${sites.join(', ')} (speed ×${o['speed']}), incidents logged to ${labelFile}`);
console.log(
  `  zigbee2mqtt bridge ${z2mBridge.bridge.id} at ${z2mSite}: ${zigbee.length} Zigbee devices, and "garage/smoke" nobody registered (pending: vigil pending list, or the console's Admin view)`,
);
console.log(`  credentials (shown once, also in ${credFile}):`);
console.log(`    consumer  ops-center  MQTT password ${people.consumer.credentials.password}`);
console.log(`    engineer  field-eng   API token     ${people.engineer.token}`);
console.log(`    admin     demo-admin  API token     ${people.admin.token}`);
console.log(
  `  try: mosquitto_sub -p ${gateway.ports.mqtt} -i ops-center:1 -u ops-center -P '${people.consumer.credentials.password}' -t 'vigil/v1/+/+/+/event' -v`,
);
console.log(`       curl -H 'Authorization: Bearer ${people.engineer.token}' localhost:${gateway.ports.http}/api/v1/devices`);
console.log(
  `       VIGIL_URL=http://localhost:${gateway.ports.http} VIGIL_TOKEN=${people.engineer.token} npx vigil config push --site ${sites[0]} --kind door --set heldOpenTimeoutS=45\n`,
);

await fleet.start();
await faulty.start();
await z2m.start();

// Alerts as they happen (with who was sent, how far, and why), and a simulated operator at the control
// room: acknowledges every critical alert and every other one of the rest after a few seconds (over MQTT,
// as ops-center) and resolves them later, once the officers sent are on scene; the alerts left alone show
// the 1-3-5 escalation.
const tsOf = () => new Date().toISOString().slice(11, 19);
const step = (event: string, d: Record<string, unknown> | undefined): string => {
  if (!d || !event.startsWith('dispatch_')) return '';
  if (event === 'dispatch_requested' && !d['deviceId']) return ` ${String(d['trigger'])}: sending the nearest officers`;
  const who = d['deviceId'] ? ` → ${String(d['deviceId'])}` : '';
  const far = d['distanceM'] !== undefined ? ` ${String(d['distanceM'])} m` : '';
  const eta = d['etaS'] !== undefined && event === 'dispatch_requested' ? `, ETA ${String(d['etaS'])} s` : '';
  const why = d['reason'] ?? d['why'];
  return `${who}${far}${eta}${why ? ` (${String(why)})` : ''}`;
};
gateway.alerts.onChange(({ alert: a, event, actor, detail }) => {
  const who = event === 'acknowledged' || event === 'resolved' ? ` by ${actor}` : '';
  const item = event === 'evidence_attached' ? ` snapshot of ${String((detail?.['item'] as { device?: string } | undefined)?.device)}` : '';
  const text = event.startsWith('dispatch_') || event === 'evidence_attached' ? `${step(event, detail)}${item}` : ` ${a.reason}`;
  console.log(`${tsOf()} ALERT ${event.padEnd(23)} ${a.severity.padEnd(8)} ${a.type.padEnd(14)} ${a.deviceId.padEnd(22)}${text}${who}`);
});
const operator = await mqtt.connectAsync(url, {
  clientId: 'ops-center:demo',
  username: 'ops-center',
  password: people.consumer.credentials.password,
  reconnectPeriod: 1000,
});
await operator.subscribeAsync('vigil/v1/+/alerts/+/+/+', { qos: 1 });
type Seen = {
  event: string;
  id: string;
  site: string;
  state: string;
  severity: string;
  raisedAt: string;
  dispatch: { target: unknown; arrivedAt: string | null } | null;
};
const latest = new Map<string, Seen>();
let seenAlerts = 0;
operator.on('message', (_topic, payload) => {
  const a = JSON.parse(payload.toString()) as Seen;
  latest.set(a.id, a);
  if (a.event !== 'raised' && a.event !== 'reopened') return;
  if (a.severity !== 'critical' && seenAlerts++ % 2 === 1) return; // left for escalation (never a critical one)
  const command = (action: string) =>
    operator.publish(`vigil/v1/${a.site}/alerts/command`, JSON.stringify({ action, alertId: a.id, note: 'demo operator' }), { qos: 1 });
  setTimeout(() => command('ack'), 2000 + Math.random() * 3000).unref();
  // Resolved once the officers sent are on scene (a minute at most), else after 12-20 s.
  const resolveWhenHandled = () => {
    const now = latest.get(a.id)!;
    const waiting = now.dispatch?.target && !now.dispatch.arrivedAt && Date.now() - Date.parse(now.raisedAt) < 60_000;
    if (now.state === 'resolved' || now.state === 'auto_resolved') return;
    if (waiting) return void setTimeout(resolveWhenHandled, 1000).unref();
    setTimeout(() => command('resolve'), now.dispatch?.arrivedAt ? 3000 : 0).unref();
  };
  setTimeout(resolveWhenHandled, 12_000 + Math.random() * 8000).unref();
});
const scenario = new Scenario(fleet, shape.seed);
const recent: string[] = [];
labels.onLabel((l) => {
  recent.push(`${new Date(l.start).toISOString().slice(11, 19)} ${l.type.padEnd(16)} ${l.deviceId}${l.note ? `  (${l.note})` : ''}`);
  if (recent.length > 6) recent.shift();
});
// The opening: a fire in the first site's concourse (its cameras photograph it, the nearest officers go); then the tour.
const showcase = setTimeout(() => void scenario.stage('fire', `${sites[0]}-smoke-01`), 3000);
// Then the concourse fills as a late train unloads (a crowd surge for the zone), and someone walks onto the platform edge.
const crowdShow = setTimeout(() => void scenario.stage('crowd_surge', `${sites[0]}-camera-01`), 8000);
const platformCam = fleet.ofKind('camera').find((c) => c.site === sites[0] && zoneOf('camera', c.id) === 'platform');
const intrusionShow = setTimeout(() => platformCam && void scenario.stage('intrusion', platformCam.id), 14_000);
// At the height of the surge, people flee the concourse: a critical dispersal for the zone.
const fleeShow = setTimeout(() => void scenario.stage('crowd_dispersal', `${sites[0]}-camera-02`), 30_000);
setTimeout(() => scenario.play(tour.slice(1), true), 20_000).unref();

const fmt = (n: number, w: number) => String(n).padStart(w);
let last = new Map<string, number>();
let lastT = Date.now();
const t0 = Date.now();
function summary(): string {
  const now = Date.now();
  const dt = (now - lastT) / 1000;
  const devices = gateway.states.list();
  const lines = [`── ${new Date(now).toISOString().slice(11, 19)}  up ${Math.round((now - t0) / 1000)} s ─────────────────────────────────────────`];
  lines.push(`kind       online/total    msgs/s    accepted   refused`);
  const next = new Map<string, number>();
  let totalRate = 0;
  for (const kind of kindNames()) {
    const ds = devices.filter((d) => d.kind === kind);
    const msgs = ds.reduce((n, d) => n + d.messages, 0);
    const refused = ds.reduce((n, d) => n + d.refused, 0);
    const rate = (msgs - (last.get(kind) ?? 0)) / dt;
    totalRate += rate;
    next.set(kind, msgs);
    const expected = (counts[kind] ?? 0) * sites.length + (kind === 'camera' ? 1 : 0);
    lines.push(
      `${kind.padEnd(10)} ${fmt(ds.filter((d) => d.online).length, 6)}/${String(Math.max(expected, ds.length)).padEnd(6)} ${rate.toFixed(1).padStart(9)} ${fmt(msgs, 11)} ${fmt(refused, 9)}`,
    );
  }
  last = next;
  lastT = now;
  lines.push(`total msgs/s ${totalRate.toFixed(1)}`);
  const byReason = new Map<string, number>();
  for (const d of devices) for (const [r, n] of Object.entries(d.refusedByReason)) byReason.set(r, (byReason.get(r) ?? 0) + (n ?? 0));
  lines.push(`refused inputs by reason: ${[...byReason].map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`);
  const open = gateway.alerts.store.query({ state: 'open', limit: 500 });
  lines.push(
    `open alerts: ${open.length} (${['critical', 'major', 'minor'].map((sev) => `${sev} ${open.filter((a) => a.severity === sev).length}`).join(', ')}); coverage below target: ${
      gateway.alerts.coverage
        .filter((c) => c.ratio < gateway.config.alerts.coverageTarget)
        .map((c) => `${c.site}/${c.kind} ${Math.round(c.ratio * 100)} %`)
        .join(', ') || 'none'
    }`,
  );
  lines.push(`incidents injected (${labels.labels.length}), latest:`);
  for (const r of recent) lines.push(`  ${r}`);
  return lines.join('\n');
}
const timer = setInterval(() => console.log(summary() + '\n'), Number(o['interval']) * 1000);

let stopping = false;
/** The 1-3-5 rule over this run, per site and alert type (GET /api/v1/sla has the same). */
function slaTable(): string {
  const { rows } = gateway.alerts.sla({ sites: ['*'], since: t0 });
  const pct = (x: number | null) => (x === null ? '-' : `${Math.round(x * 100)} %`).padStart(6);
  const sec = (x: number | null) => (x === null ? '-' : `${Math.round(x)}`).padStart(6);
  const lines = [
    'site         type            alerts   ack≤1   res≤3   res≤5  sent   there≤5  ack p50  res p50  accept p50  arrive p50 (s)',
    ...rows.map(
      (r) =>
        `${r.site.padEnd(12)} ${r.type.padEnd(15)} ${String(r.alerts).padStart(6)}  ${pct(r.respondedInTime)}  ${pct(r.handledInTime)}  ${pct(r.handledByReinforcementMark)}  ${String(r.dispatched).padStart(4)}  ${pct(r.arrivedByReinforcementMark).padStart(8)}  ${sec(r.toAckP50S).padStart(7)}  ${sec(r.toResolveP50S).padStart(7)}  ${sec(r.toAcceptP50S).padStart(10)}  ${sec(r.toArriveP50S).padStart(10)}`,
    ),
  ];
  return lines.join('\n');
}

async function shutdown(code = 0) {
  if (stopping) process.exit(1);
  stopping = true;
  clearInterval(timer);
  clearTimeout(showcase);
  clearTimeout(crowdShow);
  clearTimeout(intrusionShow);
  clearTimeout(fleeShow);
  await scenario.stop();
  await faulty.stop().catch(() => {});
  await z2m.stop();
  await operator.endAsync().catch(() => {});
  await fleet.stop();
  console.log('final ' + summary());
  console.log(
    `\nthe 1-3-5 rule over this run (times on the gateway's clock; the marks are scaled by --speed: ${gateway.config.alerts.escalation.ackS} / ${gateway.config.alerts.escalation.reinforceS} / ${gateway.config.alerts.escalation.reescalateS} s):`,
  );
  console.log(slaTable());
  await gateway.stop();
  process.exit(code);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
if (o['duration']) setTimeout(() => void shutdown(), Number(o['duration']) * 1000);
