/** Door controller rules: forced entry, held open, and a burst of refused credentials (brute force). */
import { z } from 'zod';
import { defineRule, perDevice } from '../../rules.ts';

export const doorStateRule = defineRule({
  name: 'door-state',
  create: perDevice(
    (m, _mem, emit) => {
      if (m.channel !== 'event') return;
      const d = m.data;
      if (d['type'] === 'forced_open') emit('forced_entry', true, 'door opened without a valid credential (forced open)');
      else if (d['type'] === 'held_open') emit('door_held_open', true, `door held open ${String(d['duration_s'])} s`, { duration_s: d['duration_s'] });
      else if (d['type'] === 'door_closed') {
        emit('door_held_open', false, 'door closed');
        emit('forced_entry', false, 'door closed');
      }
    },
    () => ({}),
  ),
});

interface Attempt {
  site: string;
  kind: string;
  denials: { ts: number; credential: string }[];
  active: boolean;
}

/** Denials at one door within a window; the attempt ends by silence (no denial for a whole window), seen on the tick. */
export const bruteForceRule = defineRule({
  name: 'brute-force',
  settings: z.object({
    bruteForceDenials: z.number().int().min(2).default(5).describe('Access denials at one door within bruteForceWindowS that raise brute_force.'),
    bruteForceWindowS: z.number().min(1).default(60).describe('Window for bruteForceDenials, seconds.'),
  }),
  create(ctx) {
    const doors = new Map<string, Attempt>();
    const trim = (a: Attempt, now: number) => {
      a.denials = a.denials.filter((x) => now - x.ts < ctx.settings.bruteForceWindowS * 1000);
    };
    return {
      accept(m) {
        if (m.channel !== 'event' || m.data['type'] !== 'access_denied') return;
        let a = doors.get(m.deviceId);
        if (!a) doors.set(m.deviceId, (a = { site: m.site, kind: m.kind, denials: [], active: false }));
        const cred = m.data['credential'] as { type: string; id: string };
        a.denials.push({ ts: m.ts, credential: `${cred.type}:${cred.id}` });
        trim(a, m.ts);
        if (a.denials.length < ctx.settings.bruteForceDenials) return;
        a.active = true;
        const creds = new Set(a.denials.map((x) => x.credential));
        ctx.emit({
          site: m.site,
          deviceId: m.deviceId,
          kind: m.kind,
          type: 'brute_force',
          active: true,
          reason: `${a.denials.length} access denials in ${ctx.settings.bruteForceWindowS} s with ${creds.size} different credentials`,
          evidence: { denials: a.denials.length, credentials: [...creds].slice(0, 10) },
          ts: m.ts,
        });
      },
      tick(now) {
        for (const [deviceId, a] of doors) {
          trim(a, now);
          if (a.denials.length) continue;
          doors.delete(deviceId);
          if (a.active)
            ctx.emit({
              site: a.site,
              deviceId,
              kind: a.kind,
              type: 'brute_force',
              active: false,
              reason: `no denial for ${ctx.settings.bruteForceWindowS} s`,
              ts: now,
            });
        }
      },
    };
  },
});
