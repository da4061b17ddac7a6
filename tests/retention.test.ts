/**
 * Retention on an injected clock: old audit records, resolved alerts, config versions and local
 * telemetry go, oldest first, in bounded batches; what must stay stays; and the audit log's hash
 * chain still verifies after a cut, while an edit or a removal in the middle is caught.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../gateway/config.ts';
import { openStore } from '../gateway/db.ts';
import { Spool } from '../gateway/forward/spool.ts';
import { Retention } from '../gateway/retention.ts';
import { AuditLog } from '../gateway/security/audit.ts';

const DAY = 86_400_000;
const setup = (retention: Record<string, number> = {}) => {
  let now = 1_000 * DAY;
  const clock = () => now;
  const db = openStore(join(mkdtempSync(join(tmpdir(), 'vigil-ret-')), 'vigil.db'));
  const audit = new AuditLog(db, clock);
  const config = loadConfig({ env: {}, overrides: { retention } }).retention;
  const r = new Retention({ db, audit, config, log: pino({ level: 'silent' }), now: clock });
  return { db, audit, r, advance: (ms: number) => (now += ms), clock };
};

describe('audit retention keeps the chain verifiable', () => {
  it('removes records past auditDays oldest first, in batches, and records the anchor; the chain still verifies', () => {
    const { db, audit, r, advance } = setup({ auditDays: 30, batchRows: 40 });
    for (let i = 0; i < 100; i++) audit.record({ actor: 'a', action: 'device.provision', target: `d${i}`, outcome: 'ok' });
    advance(31 * DAY);
    for (let i = 0; i < 10; i++) audit.record({ actor: 'b', action: 'device.rotate', target: `d${i}`, outcome: 'ok' });
    expect(audit.verify()).toMatchObject({ ok: true, checked: 110 });
    expect(r.run().audit).toBe(40); // one batch per run
    expect(r.run().audit).toBe(40);
    expect(r.run().audit).toBe(20);
    expect(r.run().audit).toBe(0);
    const left = audit.query({ limit: 1000 });
    expect(left.filter((x) => x.action === 'device.provision')).toHaveLength(0);
    expect(left.filter((x) => x.action === 'device.rotate')).toHaveLength(10);
    expect(left.filter((x) => x.action === 'audit.retention').map((x) => x.detail['deleted'])).toEqual([40, 40, 20]);
    expect(audit.verify()).toMatchObject({ ok: true });
    // Outside the retention job the log still refuses edits and deletes.
    expect(() => db.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    expect(() => db.prepare(`UPDATE audit SET actor = 'x'`).run()).toThrow(/append-only/);
  });

  it('caps the number of records; an edit or a removal in the middle is caught by verify', () => {
    const { db, audit, r } = setup({ auditDays: 0, auditMaxRecords: 50, batchRows: 1000 });
    for (let i = 0; i < 80; i++) audit.record({ actor: 'a', action: 'mqtt.connect', target: `c${i}`, outcome: 'denied' });
    expect(r.run().audit).toBe(30);
    expect(audit.verify().ok).toBe(true);
    // Someone with raw access to the file: drops the trigger and edits a record.
    db.exec('DROP TRIGGER audit_no_update');
    db.prepare(`UPDATE audit SET outcome = 'ok' WHERE target = 'c60'`).run();
    expect(audit.verify()).toMatchObject({ ok: false, problem: expect.stringMatching(/do not match its hash \(edited\)/) });
    db.prepare(`UPDATE audit SET outcome = 'denied' WHERE target = 'c60'`).run();
    expect(audit.verify().ok).toBe(true);
    db.exec('INSERT INTO audit_retention_permit (id) VALUES (1)');
    db.prepare(`DELETE FROM audit WHERE target = 'c70'`).run();
    expect(audit.verify()).toMatchObject({ ok: false, problem: expect.stringMatching(/does not follow/) });
  });
});

describe('alerts, config versions and local telemetry', () => {
  it('removes resolved alerts past alertsDays with their history; open and recent ones stay', () => {
    const { db, r, clock } = setup({ alertsDays: 90 });
    const ins = db.prepare('INSERT INTO alerts (id, key, site, zone, type, state, raised_at, data) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)');
    const hist = db.prepare(`INSERT INTO alert_history (alert_id, ts, event, actor, version, detail) VALUES (?, ?, 'raised', 'gateway', 1, '{}')`);
    const old = clock() - 100 * DAY;
    for (const [id, state, at] of [
      ['al-old-resolved', 'resolved', old],
      ['al-old-auto', 'auto_resolved', old],
      ['al-old-open', 'raised', old],
      ['al-new-resolved', 'resolved', clock() - DAY],
    ] as const) {
      ins.run(id, `k-${id}`, 'hub1', 'fire', state, at, '{}');
      hist.run(id, at);
    }
    expect(r.run().alerts).toBe(2);
    expect((db.prepare('SELECT id FROM alerts ORDER BY id').all() as { id: string }[]).map((x) => x.id)).toEqual(['al-new-resolved', 'al-old-open']);
    expect((db.prepare('SELECT count(*) AS n FROM alert_history').get() as { n: number }).n).toBe(2);
  });

  it('keeps the newest configVersionsKept versions per device, and always the desired one', () => {
    const { db, r } = setup({ configVersionsKept: 5 });
    const ins = db.prepare(`INSERT INTO device_configs (device_id, version, config, author, created_at) VALUES (?, ?, '{}', 'eng', 0)`);
    for (let v = 1; v <= 12; v++) ins.run('hub1-door-01', v);
    for (let v = 1; v <= 3; v++) ins.run('hub1-door-02', v);
    db.prepare(`INSERT INTO device_config_state (device_id, desired_version, status, updated_at) VALUES ('hub1-door-01', 2, 'in_sync', 0)`).run();
    expect(r.run().configVersions).toBe(6);
    const versions = (db.prepare(`SELECT version FROM device_configs WHERE device_id = 'hub1-door-01' ORDER BY version`).all() as { version: number }[]).map(
      (x) => x.version,
    );
    expect(versions).toEqual([2, 8, 9, 10, 11, 12]);
    expect((db.prepare(`SELECT count(*) AS n FROM device_configs WHERE device_id = 'hub1-door-02'`).get() as { n: number }).n).toBe(3);
  });

  it('trims the local telemetry store to localTelemetryMaxRows, oldest first, in batches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-ret-spool-'));
    const spool = new Spool({
      file: join(dir, 'spool.db'),
      deadLetterFile: join(dir, 'dl.jsonl'),
      maxBytes: 1 << 24,
      maxAgeMs: DAY,
      durability: 'process',
      commitIntervalMs: 0,
    });
    await spool.append(
      [],
      Array.from({ length: 120 }, (_, i) => ({ device: 'd1', ts: i, fields: '{}' })),
    );
    expect(spool.trimLocal(100, 15)).toBe(15);
    expect(spool.trimLocal(100, 15)).toBe(5);
    expect(spool.trimLocal(100, 15)).toBe(0);
    const ts = (spool.db.prepare('SELECT ts FROM local_telemetry ORDER BY ts').all() as { ts: number }[]).map((x) => x.ts);
    expect(ts).toHaveLength(100);
    expect(ts[0]).toBe(20);
    spool.close();
  });
});
