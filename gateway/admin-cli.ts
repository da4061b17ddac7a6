/**
 * `npm run admin -- ...`: credential management on the box itself, directly on the
 * embedded database (for the first admin, and for field engineers provisioning a
 * site from a file). A running gateway closes sessions revoked here within 2 s.
 * Secrets are printed once and cannot be read back.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { CliError, cliProgram, EXIT, failWith, intArg, runProgram } from './cli/common.ts';
import { exitCodeOf, statusOf } from './errors.ts';
import { ConfigError, loadConfig } from './config.ts';
import { AuditLog } from './security/audit.ts';
import { dbFile } from './security/index.ts';
import { parseBulk, Registry, roles, type Role } from './security/registry.ts';
import { openStore } from './db.ts';
import { BackupError, createBackup, restoreBackup } from './backup.ts';

const program = cliProgram('vigil-admin')
  .description('Manage device credentials, principals and the audit log of a Vigil gateway (local database)')
  .option('-c, --config <file>', 'gateway config file (for dataDir; VIGIL_DATA_DIR overrides)')
  .option('--json', 'machine-readable output');

function config() {
  const o = program.opts<{ config?: string }>();
  try {
    return loadConfig({ file: o.config });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }
}

function open() {
  const cfg = config();
  const db = openStore(dbFile(cfg));
  const audit = new AuditLog(db);
  return { db, audit, registry: new Registry(db, audit) };
}

const actor = () => ({ id: `cli:${userInfo().username}`, address: 'local' });
const json = () => program.opts<{ json?: boolean }>().json === true;

function fail(message: string, code: number = EXIT.failed): never {
  return failWith(program, new CliError(message, code));
}

function out(data: unknown, human: () => void) {
  if (json()) console.log(JSON.stringify(data, null, 2));
  else human();
}

async function run(fn: (r: ReturnType<typeof open>) => Promise<void> | void) {
  const ctx = open();
  try {
    await fn(ctx);
  } catch (err) {
    const e = err as Error & { details?: { path: string; message: string }[]; statusCode?: number; code?: string };
    // The catalogue's exit code (gateway/errors.ts): a bad line is invalid input, an unknown device not found, anything else failed.
    const code = e.details ? EXIT.invalid : e.statusCode !== undefined || e.code?.startsWith('VIGIL_ERR_') ? exitCodeOf(statusOf(e)) : EXIT.failed;
    failWith(program, new CliError(e.message, code, e.details ?? []));
  } finally {
    ctx.db.close();
  }
}

/** `--since`: an ISO time, or an age (30m, 12h, 7d) back from now. */
function sinceArg(v: string): number {
  const age = /^(\d+)\s*([smhd])$/.exec(v.trim());
  if (age) return Date.now() - Number(age[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's']!;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError('expected an ISO time (2026-11-29T08:00Z) or an age such as 30m, 12h, 7d');
  return t;
}

const splitList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const device = program.command('device').description('devices: add, import, rotate, revoke, list');
device
  .command('add <deviceId>')
  .requiredOption('--kind <kind>', 'camera, door, smoke or bodycam')
  .requiredOption('--site <site>', 'site id')
  .option('--zone <zone>', 'zone within the site')
  .option('--tags <list>', 'comma-separated tags', '')
  .action((deviceId: string, o: { kind: string; site: string; zone?: string; tags: string }) =>
    run(async ({ registry }) => {
      const r = await registry.provision({ deviceId, kind: o.kind as 'camera', site: o.site, zone: o.zone, tags: splitList(o.tags) }, actor());
      out(r, () =>
        console.log(
          `provisioned ${deviceId} (${o.kind} at ${o.site})\n  MQTT username ${r.credentials.username}\n  MQTT password ${r.credentials.password}   (shown once)`,
        ),
      );
    }),
  );
device
  .command('import <file>')
  .description('provision every device of a CSV (deviceId,kind,site,zone,tags) or JSON file; all or nothing')
  .action((file: string) =>
    run(async ({ registry }) => {
      const list = parseBulk(readFileSync(file, 'utf8'), file.toLowerCase().endsWith('.json') ? 'json' : 'csv');
      const r = await registry.provisionMany(list, actor());
      out(
        r.map((x) => x.credentials),
        () => {
          console.log(`provisioned ${r.length} devices; passwords are shown once:`);
          console.log('deviceId,password');
          for (const x of r) console.log(`${x.credentials.username},${x.credentials.password}`);
        },
      );
    }),
  );
device.command('rotate <deviceId>').action((id: string) =>
  run(async ({ registry }) => {
    const c = await registry.rotateDevice(id, actor());
    out(c, () => console.log(`new password for ${id}: ${c.password}   (shown once; the old one no longer works)`));
  }),
);
device.command('revoke <deviceId>').action((id: string) =>
  run(({ registry }) => {
    const d = registry.revokeDevice(id, actor());
    out(d, () => console.log(`revoked ${id}; a running gateway closes its session within 2 s`));
  }),
);
device
  .command('list')
  .option('--site <site>')
  .option('--kind <kind>')
  .action((o: { site?: string; kind?: string }) =>
    run(({ registry }) => {
      const ds = registry.listDevices(o);
      out(ds, () => {
        console.log(`${'DEVICE'.padEnd(28)} ${'KIND'.padEnd(8)} ${'SITE'.padEnd(14)} ${'STATE'.padEnd(9)} LAST SEEN`);
        for (const d of ds)
          console.log(
            `${d.deviceId.padEnd(28)} ${d.kind.padEnd(8)} ${d.site.padEnd(14)} ${d.state.padEnd(9)} ${d.lastSeen ? new Date(d.lastSeen).toISOString() : '-'}`,
          );
      });
    }),
  );

const principal = program.command('principal').description('people and services: add, rotate, revoke, list');
principal
  .command('add <id>')
  .addOption(new Option('--role <role>', 'what the principal may do').choices(roles).makeOptionMandatory())
  .requiredOption('--sites <list>', 'comma-separated site ids, or * for all')
  .action((id: string, o: { role: string; sites: string }) =>
    run(async ({ registry }) => {
      const r = await registry.addPrincipal({ id, role: o.role as Role, sites: splitList(o.sites) }, actor());
      out({ principal: r.principal, token: r.token, mqtt: r.credentials }, () =>
        console.log(
          `added ${o.role} ${id} (sites ${o.sites})\n  API token      ${r.token}\n  MQTT username  ${id}\n  MQTT password  ${r.credentials.password}   (shown once)`,
        ),
      );
    }),
  );
principal.command('rotate <id>').action((id: string) =>
  run(async ({ registry }) => {
    const r = await registry.rotatePrincipal(id, actor());
    out(r, () => console.log(`new API token for ${id}: ${r.token}\nMQTT password: ${r.credentials.password}   (shown once)`));
  }),
);
principal.command('revoke <id>').action((id: string) =>
  run(({ registry }) => {
    out(registry.revokePrincipal(id, actor()), () => console.log(`revoked ${id}`));
  }),
);
principal.command('list').action(() =>
  run(({ registry }) => {
    const ps = registry.listPrincipals();
    out(ps, () => {
      for (const p of ps) console.log(`${p.id.padEnd(24)} ${p.role.padEnd(9)} ${p.state.padEnd(8)} ${p.sites.join(',')}`);
    });
  }),
);

program
  .command('audit')
  .description('the audit log, oldest first')
  .option('--action <action>', 'e.g. mqtt.connect, mqtt.subscribe, device.provision')
  .addOption(new Option('--outcome <outcome>').choices(['ok', 'denied', 'failed']))
  .option('--limit <n>', 'records', intArg(1, 1000), 50)
  .option('--tail', 'the newest records (still oldest first), instead of the oldest')
  .option('--since <when>', 'records at or after: an ISO time, or an age such as 30m, 12h, 7d', sinceArg)
  .option('--verify', 'check the hash chain of the whole log instead (exit 1 if a record was edited or removed)')
  .action((o: { action?: string; outcome?: 'ok'; limit: number; tail?: boolean; since?: number; verify?: boolean }) =>
    run(({ audit }) => {
      if (o.verify) {
        const v = audit.verify();
        out(v, () =>
          console.log(
            v.ok
              ? `audit log intact: ${v.checked} records chained${v.unchained ? `, ${v.unchained} older records from before the chain` : ''}`
              : `audit log NOT intact: ${v.problem}`,
          ),
        );
        if (!v.ok) process.exitCode = 1;
        return;
      }
      const rs = audit.query({ action: o.action, outcome: o.outcome, limit: o.limit, newest: o.tail, since: o.since });
      out(rs, () => {
        for (const r of rs)
          console.log(
            `${new Date(r.ts).toISOString()} ${r.outcome.padEnd(6)} ${r.actor} ${r.action} ${r.target ?? ''} ${r.address ?? ''} ${JSON.stringify(r.detail)}`,
          );
      });
    }),
  );

program
  .command('backup <file>')
  .description(
    'consistent online copy of the box (registry, credentials, sealed site keys, configs, alerts, audit, broker sessions, spool) to a .tar.gz (0600)',
  )
  .option('--with-master-key', 'include the master key that seals the site signing keys (the archive can then sign configs: keep it like a key)')
  .action(async (file: string, o: { withMasterKey?: boolean }) => {
    const cfg = config();
    try {
      const m = await createBackup(cfg, file, o);
      const db = openStore(dbFile(cfg));
      new AuditLog(db).record({
        actor: actor().id,
        address: 'local',
        action: 'box.backup',
        target: file,
        outcome: 'ok',
        detail: { files: m.files, masterKeyIncluded: m.masterKeyIncluded },
      });
      db.close();
      out(m, () =>
        console.log(
          `backed up ${cfg.dataDir} to ${file}: ${m.counts.devices} devices, ${m.counts.principals} principals, ${m.counts.alerts} alerts, ${m.counts.siteKeys} site keys, ${m.counts.auditRecords} audit records (${m.files.join(', ')})${m.masterKeyIncluded ? '\n  the archive holds the master key: store it as you would the key itself' : '\n  master key not included: the restored box needs it (VIGIL_SECURITY_MASTER_KEY or its key file)'}`,
        ),
      );
    } catch (err) {
      if (err instanceof BackupError) fail(err.message, 2);
      throw err;
    }
  });
program
  .command('restore <file>')
  .description('bring this box up from a backup: into an empty dataDir (stop the gateway first); devices reconnect with their old credentials')
  .option('--force', 'replace the box already in dataDir')
  .action(async (file: string, o: { force?: boolean }) => {
    const cfg = config();
    try {
      const m = await restoreBackup(cfg, file, o);
      const db = openStore(dbFile(cfg));
      new AuditLog(db).record({
        actor: actor().id,
        address: 'local',
        action: 'box.restore',
        target: file,
        outcome: 'ok',
        detail: { createdAt: m.createdAt, files: m.files },
      });
      db.close();
      out(m, () =>
        console.log(
          `restored ${file} (made ${m.createdAt} on ${m.gatewayId}) into ${cfg.dataDir}: ${m.counts.devices} devices, ${m.counts.principals} principals, ${m.counts.alerts} alerts; start the gateway`,
        ),
      );
    } catch (err) {
      if (err instanceof BackupError) fail(err.message, 2);
      throw err;
    }
  });

await runProgram(program);
