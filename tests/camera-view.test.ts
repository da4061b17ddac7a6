/**
 * A camera re-aimed on purpose does not stay in alarm for ever: an engineer of its site accepts the
 * new view (API and `vigil camera accept-view`), the alarm clears, the detector re-learns its
 * reference from the new view and stays quiet on it. Consumers and other sites' engineers cannot.
 */
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { Condition } from '../edge/alerts/model.ts';
import { SceneRenderer } from '../simulators/scene.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { runScript } from './helpers/process.ts';

describe('accepting a new camera view', () => {
  it('clears the latched tamper alarm, re-learns the reference, and is for engineers of the site only (audited)', async () => {
    const t = await startTestGateway({
      inference: { modelsDir: fileURLToPath(new URL('../models', import.meta.url)) },
      security: { allowAnonymous: false, messagesPerSecond: 10_000, messageBurst: 10_000 },
      alerts: { startupGraceS: 0 },
    });
    try {
      const reg = t.gw.security.registry;
      const [cam] = await reg.provisionMany(
        [
          { deviceId: 'cv-cam-1', kind: 'camera', site: 'cv' },
          { deviceId: 'cv-door-1', kind: 'door', site: 'cv' },
        ],
        { id: 'test' },
      );
      const eng = await reg.addPrincipal({ id: 'eng', role: 'engineer', sites: ['cv'] }, { id: 'test' });
      const other = await reg.addPrincipal({ id: 'eng-elsewhere', role: 'engineer', sites: ['hub9'] }, { id: 'test' });
      const cons = await reg.addPrincipal({ id: 'screen', role: 'consumer', sites: ['cv'] }, { id: 'test' });
      const accept = async (token: string, id = 'cv-cam-1') =>
        await fetch(`${t.httpUrl}/api/v1/devices/${id}/accept-view`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ note: 'camera re-aimed at the new gate' }),
        });

      const decisions: Condition[] = [];
      const scores: number[] = [];
      t.gw.detectors.onDecision((_m, c) => decisions.push(c));
      t.gw.detectors.onScore((_m, msg, s) => msg.deviceId === 'cv-cam-1' && scores.push(s));
      const scene = new SceneRenderer('cv-cam-1', 9);
      const c = await mqtt.connectAsync(t.mqttUrl, { clientId: 'cv-cam-1', username: 'cv-cam-1', password: cam!.credentials.password, reconnectPeriod: 0 });
      const send = async (frames: Buffer[]) => {
        for (const f of frames) await c.publishAsync('vigil/v1/cv/camera/cv-cam-1/snapshot', f, { qos: 1 });
        await t.gw.detectors.idle();
      };
      await send([await scene.frame(5), await scene.frame(6), await scene.frame(4)]);
      // Turned towards another part of the concourse, and left there: one alarm, which stays.
      const moved = await scene.frame(5, 'moved');
      await send([moved, moved, moved, moved]);
      expect(decisions.filter((d) => d.active).map((d) => d.type)).toEqual(['camera_tamper']);
      expect(decisions.some((d) => !d.active)).toBe(false);

      expect((await accept(cons.token)).status).toBe(403);
      expect((await accept(other.token)).status).toBe(404);
      expect((await accept(eng.token, 'cv-door-1')).status).toBe(400);
      const ok = await accept(eng.token);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ deviceId: 'cv-cam-1', models: ['camera-tamper'], alarmCleared: true });
      expect(decisions.at(-1)).toMatchObject({
        active: false,
        type: 'camera_tamper',
        reason: expect.stringMatching(/new view accepted by eng \(camera re-aimed at the new gate\)/),
      });
      expect(t.gw.security.audit.query({ action: 'camera.accept_view', limit: 10 })).toEqual([
        expect.objectContaining({ actor: 'eng', target: 'cv-cam-1', outcome: 'ok' }),
      ]);

      // The new view is learnt (warm-up, not scored) and then normal: no new alarm.
      const scored = scores.length;
      await send([moved, moved, moved, moved, moved]);
      expect(scores.length - scored).toBe(2);
      expect(Math.max(...scores.slice(scored))).toBeLessThan(0.4);
      expect(decisions.filter((d) => d.active)).toHaveLength(1);

      // The same through the field engineers' CLI.
      const cli = runScript('gateway/cli/vigil.ts', ['camera', 'accept-view', 'cv-cam-1', '--note', 'maintenance'], {
        VIGIL_URL: t.httpUrl,
        VIGIL_TOKEN: eng.token,
      });
      expect((await cli.exit).code, cli.stderr()).toBe(0);
      expect(cli.stdout()).toMatch(/cv-cam-1: new view accepted; camera-tamper re-learning its reference/);
      await c.endAsync();
    } finally {
      await t.stop();
    }
  }, 60_000);
});
