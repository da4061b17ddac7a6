/** What the ingest stage hands to the on-box pipeline: one validated, normalised device message. */
import type { DeviceChannel } from '../devices/index.ts';

export interface SnapshotFrame {
  jpeg: Buffer;
  width: number;
  height: number;
}

export interface DeviceMessage {
  site: string;
  kind: string;
  deviceId: string;
  channel: DeviceChannel;
  /** When it was measured, epoch ms: the device's clock if plausible, else `receivedAt`. */
  ts: number;
  /** Gateway clock at reception, epoch ms. */
  receivedAt: number;
  /** The device clock was missing or further off than `maxClockSkewMs`; `ts` is the receive time. */
  clockSkewed: boolean;
  /** The device's own timestamp as sent, epoch ms, when it sent one. */
  deviceTs?: number;
  /** Validated JSON body in canonical units (schema defaults applied); empty for snapshots. */
  data: Record<string, unknown>;
  snapshot?: SnapshotFrame;
  qos: 0 | 1 | 2;
  clientId: string;
}

/** Why a message was refused; published on the device's `/error` topic and counted by `code`. */
export type RefusalCode =
  | 'outside_namespace'
  | 'unknown_channel'
  | 'unknown_kind'
  | 'device_mismatch'
  | 'unknown_device'
  | 'not_permitted'
  | 'reserved_topic'
  | 'payload_too_large'
  | 'invalid_json'
  | 'invalid_unit'
  | 'schema_violation'
  | 'invalid_jpeg'
  | 'rate_limited'
  | 'pipeline_unavailable';

export const refusalCodes: readonly RefusalCode[] = [
  'outside_namespace',
  'unknown_channel',
  'unknown_kind',
  'device_mismatch',
  'unknown_device',
  'not_permitted',
  'reserved_topic',
  'payload_too_large',
  'invalid_json',
  'invalid_unit',
  'schema_violation',
  'invalid_jpeg',
  'rate_limited',
  'pipeline_unavailable',
];

export interface Issue {
  /** Dotted path of the offending field, '' for the whole payload. */
  path: string;
  message: string;
}

export interface Refusal {
  code: RefusalCode;
  message: string;
  issues?: Issue[];
}

export type IngestResult = { ok: true; message: DeviceMessage } | { ok: false; refusal: Refusal };
