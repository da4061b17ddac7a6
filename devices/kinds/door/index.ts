/** Door access controller: card/face/PIN decisions, door contact, forced and held-open, exit button. */
import { z } from 'zod';
import { defineDevice } from '../../define.ts';
import { reporting, tamper } from '../../capabilities.ts';
import { bruteForceRule, doorStateRule } from './rules.ts';

export const credential = z.object({
  type: z.enum(['card', 'face', 'pin']),
  /** Card number, face-template id or PIN slot: never the PIN itself. */
  id: z.string().min(1).max(64),
});

export const door = defineDevice({
  kind: 'door',
  title: 'Door access controller',
  description: 'Access controller with reader (card, face, PIN), door contact, lock and request-to-exit button.',
  telemetryPeriodS: 60,
  telemetry: {
    door: z.enum(['open', 'closed']),
    locked: z.boolean(),
    mains_ok: z.boolean().optional(),
  },
  units: {},
  forward: { door: (v) => ({ door_open: v === 'open' }) },
  events: [
    z.object({ type: z.literal('access_granted'), credential, direction: z.enum(['in', 'out']).optional() }),
    z.object({
      type: z.literal('access_denied'),
      credential,
      reason: z.enum(['unknown_credential', 'expired', 'out_of_schedule', 'wrong_pin', 'face_mismatch', 'blocked']),
    }),
    z.object({ type: z.literal('door_opened') }),
    z.object({ type: z.literal('door_closed') }),
    z.object({ type: z.literal('forced_open') }),
    z.object({ type: z.literal('held_open'), duration_s: z.number().nonnegative() }),
    z.object({ type: z.literal('exit_request') }),
  ],
  config: {
    heldOpenTimeoutS: z.number().int().min(5).max(600).default(30),
    unlockDurationS: z.number().int().min(1).max(60).default(5),
    /** Hours (local, 0-23) during which the door unlocks for valid credentials. */
    schedule: z.strictObject({ from: z.number().int().min(0).max(23), to: z.number().int().min(0).max(24) }).default({ from: 0, to: 24 }),
  },
  capabilities: [reporting(60), tamper(['enclosure_opened', 'reader_removed', 'wiring_cut'])],
  alerts: {
    forced_entry: { severity: 'critical', title: 'The door opened without a valid credential.' },
    door_held_open: { severity: 'major', title: 'The door stayed open past its held-open timeout.' },
    brute_force: { severity: 'major', title: 'A burst of refused credentials at one door.' },
    access_anomaly: { severity: 'major', title: "The door model finds the access pattern unusual for this door's history." },
  },
  rules: [doorStateRule, bruteForceRule],
  commands: {
    lock: { title: 'Lock the door now', params: z.object({}) },
    unlock: {
      title: 'Unlock for a number of seconds',
      params: z.object({ seconds: z.number().int().min(1).max(600).default(5), force: z.boolean().optional() }),
      roles: ['engineer', 'admin'],
      // Opening a door somebody forced would help whoever forced it: it takes a deliberate `force: true`.
      refusedDuring: 'forced_entry',
    },
    hold_open_release: { title: 'Release a door held open (re-arm the held-open timer)', params: z.object({}) },
  },
  detector: 'door-access',
});
