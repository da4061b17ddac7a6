/**
 * Backup and restore of one edge box: everything needed to bring up a replacement box — the
 * registry and credentials (hashes), principals, sealed site signing keys, device configs and
 * rollouts, alerts and their history, the audit log (vigil.db), the durable broker state
 * (broker.db: persistent sessions, queued messages, retained status and configs) and the uplink
 * spool (spool.db). Each database is copied with SQLite's online backup API, so the copy is
 * consistent while the gateway runs. The archive is a gzipped tar (0600) with a manifest.
 *
 * The master key that seals the site signing keys is left out unless asked for: an archive
 * without it cannot sign a configuration, and restoring needs the key from the environment, the
 * key file, or an archive made with it.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as tar from 'tar';
import type { GatewayConfig } from './config.ts';
import { isSealed, loadMasterKey, privateDir, unseal } from './security/at-rest.ts';

export const BACKUP_FORMAT = 'vigil-backup';
const DATABASES = ['vigil.db', 'broker.db', 'spool.db'] as const;

export interface Manifest {
  format: typeof BACKUP_FORMAT;
  version: 1;
  createdAt: string;
  gatewayId: string;
  files: string[];
  masterKeyIncluded: boolean;
  counts: { devices: number; principals: number; alerts: number; siteKeys: number; auditRecords: number };
}

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

const masterKeyFile = (cfg: GatewayConfig) => cfg.security.masterKeyFile || join(cfg.dataDir, 'master.key');

export async function createBackup(cfg: GatewayConfig, file: string, o: { withMasterKey?: boolean } = {}): Promise<Manifest> {
  if (!existsSync(join(cfg.dataDir, 'vigil.db'))) throw new BackupError(`no box to back up: ${join(cfg.dataDir, 'vigil.db')} does not exist`);
  const work = mkdtempSync(join(tmpdir(), 'vigil-backup-'));
  try {
    const files: string[] = [];
    for (const name of DATABASES) {
      const src = join(cfg.dataDir, name);
      if (!existsSync(src)) continue;
      const db = new Database(src, { readonly: true, fileMustExist: true });
      try {
        await db.backup(join(work, name));
      } finally {
        db.close();
      }
      files.push(name);
    }
    let masterKeyIncluded = false;
    if (o.withMasterKey) {
      if (cfg.security.masterKey) writeFileSync(join(work, 'master.key'), cfg.security.masterKey + '\n', { mode: 0o600 });
      else if (existsSync(masterKeyFile(cfg))) copyFileSync(masterKeyFile(cfg), join(work, 'master.key'));
      else throw new BackupError(`--with-master-key: no master key (security.masterKey, ${masterKeyFile(cfg)})`);
      files.push('master.key');
      masterKeyIncluded = true;
    }
    const manifest: Manifest = {
      format: BACKUP_FORMAT,
      version: 1,
      createdAt: new Date().toISOString(),
      gatewayId: cfg.gatewayId,
      files,
      masterKeyIncluded,
      counts: counts(join(work, 'vigil.db')),
    };
    writeFileSync(join(work, 'manifest.json'), JSON.stringify(manifest, null, 2));
    await tar.c({ gzip: true, file, cwd: work, portable: true }, ['manifest.json', ...files]);
    chmodSync(file, 0o600);
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function counts(vigilDb: string): Manifest['counts'] {
  const db = new Database(vigilDb, { readonly: true });
  try {
    const n = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    return { devices: n('devices'), principals: n('principals'), alerts: n('alerts'), siteKeys: n('site_keys'), auditRecords: n('audit') };
  } finally {
    db.close();
  }
}

/** Bring a box up from an archive into cfg.dataDir (empty unless `force`). */
export async function restoreBackup(cfg: GatewayConfig, file: string, o: { force?: boolean } = {}): Promise<Manifest> {
  if (!existsSync(file)) throw new BackupError(`no such backup file: ${file}`);
  if (existsSync(join(cfg.dataDir, 'vigil.db')) && !o.force)
    throw new BackupError(`${cfg.dataDir} already holds a box (vigil.db); restoring replaces it: add --force`);
  const work = mkdtempSync(join(tmpdir(), 'vigil-restore-'));
  try {
    try {
      await tar.x({
        file,
        cwd: work,
        strict: true,
        filter: (p) => p === 'manifest.json' || p === 'master.key' || (DATABASES as readonly string[]).includes(p),
      });
    } catch (err) {
      throw new BackupError(`${file} is not a Vigil backup archive: ${(err as Error).message}`);
    }
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8')) as Manifest;
    } catch {
      throw new BackupError(`${file} has no readable manifest.json: not a Vigil backup archive`);
    }
    if (manifest.format !== BACKUP_FORMAT || manifest.version !== 1)
      throw new BackupError(`${file}: unknown backup format ${String(manifest.format)} v${String(manifest.version)}`);
    for (const name of manifest.files.filter((f) => f.endsWith('.db'))) {
      const db = new Database(join(work, name), { readonly: true, fileMustExist: true });
      const ok = db.pragma('integrity_check', { simple: true });
      db.close();
      if (ok !== 'ok') throw new BackupError(`${name} in ${file} is damaged: ${String(ok)}`);
    }
    // The site keys must open with the master key this box will use (the archive's, or the configured one).
    const key = manifest.masterKeyIncluded
      ? loadMasterKey({ masterKey: readFileSync(join(work, 'master.key'), 'utf8'), masterKeyFile: '', dataDir: work })
      : cfg.security.masterKey || existsSync(masterKeyFile(cfg))
        ? loadMasterKey({ ...cfg.security, dataDir: cfg.dataDir })
        : undefined;
    const sealed = (() => {
      const db = new Database(join(work, 'vigil.db'), { readonly: true });
      try {
        return db.prepare('SELECT site, private_key FROM site_keys').all() as { site: string; private_key: string }[];
      } finally {
        db.close();
      }
    })().filter((r) => isSealed(r.private_key));
    if (sealed.length) {
      if (!key)
        throw new BackupError(
          `the site signing keys in ${file} are sealed and no master key is available: set security.masterKey (VIGIL_SECURITY_MASTER_KEY) or the key file ${masterKeyFile(cfg)}, or use a backup made with --with-master-key`,
        );
      try {
        for (const r of sealed) unseal(key, r.private_key, `site_keys:${r.site}`);
      } catch {
        throw new BackupError(`the site signing keys in ${file} do not open with the available master key: it is not the key of the box that made the backup`);
      }
    }
    privateDir(cfg.dataDir);
    for (const name of DATABASES) for (const suffix of ['', '-wal', '-shm']) rmSync(join(cfg.dataDir, name + suffix), { force: true });
    for (const name of manifest.files) {
      const dest = name === 'master.key' ? masterKeyFile(cfg) : join(cfg.dataDir, name);
      if (name === 'master.key' && existsSync(dest) && !o.force)
        throw new BackupError(`${dest} exists; restoring the archive's master key replaces it: add --force`);
      privateDir(join(dest, '..'));
      copyFileSync(join(work, name), dest); // not rename: the temporary directory may be on another file system
      chmodSync(dest, 0o600);
    }
    return manifest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
