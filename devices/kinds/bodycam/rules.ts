/** Body camera rules: the SOS button, and man down (an impact, then stillness) from the IMU windows. */
import { z } from 'zod';
import { defineRule, perDevice } from '../../rules.ts';
import { imuStats, type ImuWindow } from './imu.ts';

export const sosRule = defineRule({
  name: 'sos',
  create: perDevice(
    (m, _mem, emit) => {
      if (m.channel === 'event' && m.data['type'] === 'sos' && m.data['pressed'] !== false)
        emit('sos', true, 'SOS button pressed', { officer: m.data['officer'] });
    },
    () => ({}),
  ),
});

interface Fall {
  impactAt?: number;
  impactG?: number;
  stillS: number;
  raised: boolean;
}

/** Fall impact, then stillness: durations come from the IMU windows themselves, so time compression in simulators does not matter. */
export const manDownRule = defineRule({
  name: 'man-down',
  settings: z.object({
    manDownImpactG: z.number().min(1.2).max(16).default(2.5).describe('Man down: an impact of at least this many g ...'),
    manDownStillS: z.number().min(1).default(10).describe('... then this many seconds without movement (device time, from the IMU windows).'),
  }),
  create: perDevice<Fall, { manDownImpactG: number; manDownStillS: number }>(
    (m, mem, emit, s) => {
      if (m.channel !== 'telemetry' || !m.data['imu']) return;
      const { peakG: peak, sdG, gyroMeanDps, seconds } = imuStats(m.data['imu'] as ImuWindow);
      const still = sdG < 0.05 && (gyroMeanDps ?? 0) < 5;
      if (peak >= s.manDownImpactG) {
        Object.assign(mem, { impactAt: m.ts, impactG: peak, stillS: 0, raised: false });
        return;
      }
      if (mem.impactAt === undefined) return;
      if (still) {
        mem.stillS += seconds;
        if (!mem.raised && mem.stillS >= s.manDownStillS) {
          mem.raised = true;
          emit('man_down', true, `impact ${mem.impactG!.toFixed(1)} g, then no movement for ${Math.round(mem.stillS)} s`, {
            impact_g: mem.impactG,
            still_s: mem.stillS,
            gps: m.data['gps'],
          });
        }
      } else {
        if (mem.raised) emit('man_down', false, 'moving again');
        Object.assign(mem, { impactAt: undefined, stillS: 0, raised: false });
      }
    },
    () => ({ stillS: 0, raised: false }),
  ),
});
