/**
 * Camera analytics become alerts where the zone says they matter (devices/zones.ts):
 * - `intrusion`: a person or vehicle detected in a staff-only zone (track or platform edge: critical;
 *   restricted: major), or in any zone outside its opening hours (major). In an open public zone a
 *   person is no news.
 * - `loitering`: someone staying longer than the zone's threshold (minor; three times as long, or in
 *   a staff-only zone: major).
 * Detections below the zone's minimum confidence are not acted on. The zone is the camera's analytics
 * region when a zone of the site has that name (a platform camera watching "track-2"), else the
 * zone the camera is provisioned in. An alert clears when the camera has reported nothing more for
 * `analyticsClearS`.
 */
import { z } from 'zod';
import { defineRule, type RuleContext, type Severity, type Signal } from '../../rules.ts';
import type { Observation } from '../../rules.ts';
import { defaultLoiteringS, defaultMinConfidence, isOpen, restrictedTypes, type ZoneProfile } from '../../zones.ts';

const settings = z.object({
  analyticsClearS: z
    .number()
    .min(10)
    .max(3600)
    .default(120)
    .describe('An intrusion or loitering alert clears when the camera has reported no more of it for this long, seconds.'),
});

/** The zone an analytics event is about, and what it means. */
function whereOf(ctx: RuleContext<unknown>, m: Observation): { name: string | null; profile: ZoneProfile | undefined } {
  const region = typeof m.data['zone'] === 'string' ? (m.data['zone'] as string) : undefined;
  const asRegion = region ? ctx.zone(m.site, region) : undefined;
  if (asRegion) return { name: region!, profile: asRegion };
  const own = ctx.zoneOf(m.deviceId);
  return { name: own ?? region ?? null, profile: own ? ctx.zone(m.site, own) : undefined };
}

const minutes = (s: number) => (s >= 120 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`);

export const analyticsRule = defineRule({
  name: 'camera-analytics',
  settings,
  create(ctx) {
    /** Open conditions by device and type: when the camera last reported one. */
    const open = new Map<string, { signal: Signal; last: number }>();
    const emit = (
      m: Observation,
      type: 'intrusion' | 'loitering',
      severity: Severity,
      reason: string,
      evidence: Record<string, unknown>,
      registered: string | null,
    ) => {
      // The alert belongs to the zone the event is about when the site registered it (a platform camera watching the track).
      const zone = registered ? { zone: registered } : {};
      const signal: Signal = { site: m.site, deviceId: m.deviceId, ...zone, kind: m.kind, type, active: true, severity, reason, evidence, ts: m.ts };
      open.set(`${m.deviceId}/${type}`, { signal, last: m.ts });
      ctx.emit(signal);
    };
    return {
      accept(m) {
        if (m.channel !== 'event') return;
        const t = m.data['type'];
        if (t !== 'intrusion' && t !== 'loitering') return;
        const { name, profile } = whereOf(ctx, m);
        const confidence = Number(m.data['confidence']);
        const min = profile?.minConfidence ?? defaultMinConfidence;
        if (confidence < min) return;
        const zt = profile?.type;
        const place = name ?? 'its view';
        const evidence = { zone: name, zoneType: zt ?? null, region: m.data['zone'], confidence };
        if (t === 'intrusion') {
          const object = String(m.data['object']);
          let severity: Severity;
          let why: string;
          if (zt === 'track' || zt === 'platform_edge') [severity, why] = ['critical', `a ${zt.replace('_', ' ')} zone`];
          else if (zt === 'restricted') [severity, why] = ['major', 'a staff-only zone'];
          else if (!isOpen(profile, m.ts)) [severity, why] = ['major', `outside opening hours ${profile!.hours}`];
          else return;
          emit(
            m,
            'intrusion',
            severity,
            `${object} in ${place} (${why}), confidence ${confidence.toFixed(2)}`,
            {
              ...evidence,
              object,
              ...(m.data['bbox'] ? { bbox: m.data['bbox'] } : {}),
            },
            profile ? name : null,
          );
          return;
        }
        const duration = Number(m.data['duration_s']);
        const threshold = profile?.loiteringS ?? defaultLoiteringS(zt);
        if (duration < threshold) return;
        const staffOnly = !!zt && restrictedTypes.has(zt);
        const severity: Severity = staffOnly || duration >= 3 * threshold ? 'major' : 'minor';
        emit(
          m,
          'loitering',
          severity,
          `someone has stayed ${minutes(duration)} in ${place} (threshold ${minutes(threshold)}${staffOnly ? ', staff-only zone' : ''})`,
          {
            ...evidence,
            duration_s: duration,
            threshold_s: threshold,
          },
          profile ? name : null,
        );
      },
      tick(now) {
        for (const [key, o] of open) {
          if (now - o.last < ctx.settings.analyticsClearS * 1000) continue;
          open.delete(key);
          ctx.emit({ ...o.signal, active: false, reason: `nothing reported for ${ctx.settings.analyticsClearS} s`, ts: now });
        }
      },
    };
  },
});
