/**
 * The alert model (schema version 1): what consumers receive on
 * `vigil/v1/{site}/alerts/...` and what GET /api/v1/alerts returns.
 */
import { z } from 'zod';

export const ALERT_SCHEMA_VERSION = 1;

export { severities, type Severity } from '../../devices/index.ts';
import { alertTypeSchema, severities, type Severity } from '../../devices/index.ts';
import { dispatchSchema } from './dispatch.ts';
export const raise = (s: Severity, by = 1): Severity => severities[Math.min(severities.length - 1, severities.indexOf(s) + by)]!;

/**
 * Alert types are declared by the device kinds (devices/kinds/<kind>: `alerts`) and the fleet
 * (devices/index.ts coreAlertTypes), each with its default severity; `alertTypeNames()` lists them.
 */
export type AlertType = string;
export { alertTypeNames, alertTypeSchema, severityOf } from '../../devices/index.ts';

/** A device that announces one of these reasons when going offline is not an incident (coverage still counts the gap). */
export const plannedOffline: ReadonlySet<string> = new Set(['shutdown', 'maintenance', 'reboot']);

export const alertStates = ['raised', 'acknowledged', 'resolved', 'auto_resolved'] as const;
export type AlertState = (typeof alertStates)[number];
export const openStates: readonly AlertState[] = ['raised', 'acknowledged'];

/** What happened to an alert; each publication and history row carries one. */
export const alertEvents = [
  'raised',
  'updated',
  'reopened',
  'escalated',
  'reinforcement_requested',
  'acknowledged',
  'resolved',
  'auto_resolved',
  'evidence_attached',
  // Reinforcement dispatch (edge/alerts/dispatch.ts): each step of the roster.
  'dispatch_requested',
  'dispatch_accepted',
  'dispatch_declined',
  'dispatch_unanswered',
  'dispatch_arrived',
  'dispatch_exhausted',
  'dispatch_overdue',
  'dispatch_failed',
  'dispatch_stood_down',
] as const;
export type AlertEvent = (typeof alertEvents)[number];

export const alertSchema = z.object({
  schema: z.literal(ALERT_SCHEMA_VERSION),
  id: z.string().describe('stable id of this alert'),
  version: z.number().int().describe('increases with every change: consumers keep the highest they saw'),
  incidentId: z.string().describe('alerts in the same zone within the grouping window share it'),
  site: z.string(),
  zone: z.string().nullable(),
  deviceId: z.string().describe('the device, coverage-{kind} for a site coverage alert, or crowd-{zone} for a zone crowd alert'),
  kind: z.string(),
  type: alertTypeSchema,
  severity: z.enum(severities).describe('current severity, raised by escalation'),
  baseSeverity: z.enum(severities),
  state: z.enum(alertStates),
  reason: z.string().describe('for an operator: what was seen'),
  evidence: z.record(z.string(), z.unknown()),
  repeatCount: z.number().int().describe('times the condition was seen again while open'),
  reopenCount: z.number().int().describe('times it came back within the hold-down after resolving'),
  escalationLevel: z.number().int().describe('0 none; 1 not acknowledged in time; 2 not resolved in time either'),
  reinforcementRequested: z.boolean(),
  raisedAt: z.string(),
  lastSeenAt: z.string(),
  acknowledgedAt: z.string().nullable(),
  acknowledgedBy: z.string().nullable(),
  escalatedAt: z.string().nullable(),
  reinforcementRequestedAt: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  dispatch: dispatchSchema,
});
export type Alert = z.infer<typeof alertSchema>;

/** A rule's or detector's verdict on one condition of one device (or one site, for coverage). */
export interface Condition {
  site: string;
  deviceId: string;
  /** The zone it is in, when it is about a place rather than one device (a zone's crowd); else the device's zone. */
  zone?: string | null;
  kind: string;
  type: AlertType;
  active: boolean;
  severity: Severity;
  reason: string;
  evidence?: Record<string, unknown>;
  /** When it was observed (device time). */
  ts: number;
  /** Who says so: "rules" when absent, "model:<id>" for a detector. */
  source?: string;
}

export const conditionKey = (c: { deviceId: string; type: string; site: string }) => `${c.site}/${c.deviceId}/${c.type}`;

/** Public topics (README "Alerts"). */
export const alertTopic = (a: Pick<Alert, 'site' | 'severity' | 'type' | 'deviceId'>) => `vigil/v1/${a.site}/alerts/${a.severity}/${a.type}/${a.deviceId}`;
export const escalationTopic = (a: Pick<Alert, 'site' | 'type' | 'deviceId'>, what: 'escalated' | 'reinforcement' | 'dispatch') =>
  `vigil/v1/${a.site}/alerts/escalations/${what}/${a.type}/${a.deviceId}`;
export const summaryTopic = (site: string) => `vigil/v1/${site}/alerts/summary`;
export const commandTopic = (site: string) => `vigil/v1/${site}/alerts/command`;
export const commandReplyTopic = (site: string, clientId: string) => `vigil/v1/${site}/alerts/command/reply/${clientId}`;
