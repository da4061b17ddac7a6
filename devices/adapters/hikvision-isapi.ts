/**
 * Hikvision ISAPI event notification (HTTP host push): the camera POSTs an `EventNotificationAlert`
 * (XML, or JSON on newer firmware; with its pictures as `multipart/form-data`) to a listening host.
 * Documented in Hikvision's Device Network SDK developer guides, "XML_EventNotificationAlert_AlarmEventInfo"
 * and "XML_EventNotificationAlert_HeartbeatInfo" (fields: channelID, dateTime, activePostCount,
 * eventType, eventState, eventDescription, DetectionRegionList), and the multipart layout of
 * "JSON_EventNotificationAlert_PeopleQueuingUpAlarmMsg". The mapping, declared per event type:
 *
 * | ISAPI eventType | eventState | camera message |
 * |---|---|---|
 * | `linedetection`, `fielddetection`, `regionEntrance` | active | `intrusion` (person unless the target says vehicle), region `region-<regionID>` |
 * | `shelteralarm`, `tamperdetection` | active / inactive | `tamper` covered, active / not |
 * | `videoloss` | active | `tamper` dark (the picture is gone) |
 * | `videoloss` | inactive, activePostCount 0 | heartbeat: `status` online |
 * | `VMD` | active | `motion` |
 * | pictures (image/jpeg parts) | — | `snapshot` each |
 *
 * The detections carry no score; the camera's own decision is taken at 0.9. Other event types are
 * refused by name, so an installer can turn them off on the camera or ask for a mapping.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { defineAdapter, type AdaptedMessage, type Translation } from '../adapters.ts';

export const hikvisionDocs = [
  'Hikvision Device Network SDK (Person Arming / Behavior Analysis / Thermal) Developer Guide V6.1.x, 2022: XML_EventNotificationAlert_AlarmEventInfo, XML_EventNotificationAlert_HeartbeatInfo',
  'Hikvision Device Network SDK (Queue Management) Developer Guide V6.0.2.x, 2022: JSON_EventNotificationAlert_PeopleQueuingUpAlarmMsg (multipart/form-data with binary pictures)',
] as const;

interface IsapiAlert {
  channelID?: string | number;
  dateTime?: string;
  activePostCount?: string | number;
  eventType?: string;
  eventState?: string;
  eventDescription?: string;
  DetectionRegionList?: unknown;
  targetType?: string;
}

const parser = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true });

/** The alert document, XML or JSON, or why it cannot be read. */
export function parseIsapi(contentType: string, body: Buffer): { ok: true; alert: IsapiAlert } | { ok: false; message: string } {
  const text = body.toString('utf8').trim();
  if (!text) return { ok: false, message: 'empty EventNotificationAlert' };
  if (/json/i.test(contentType) || text.startsWith('{')) {
    try {
      const v = JSON.parse(text) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, message: 'the JSON EventNotificationAlert is not an object' };
      return { ok: true, alert: v as IsapiAlert };
    } catch (err) {
      return { ok: false, message: `the JSON EventNotificationAlert does not parse: ${(err as Error).message}` };
    }
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) return { ok: false, message: `the XML EventNotificationAlert does not parse: ${valid.err.msg} (line ${valid.err.line})` };
  const doc = parser.parse(text) as Record<string, unknown>;
  const alert = doc['EventNotificationAlert'];
  if (!alert || typeof alert !== 'object')
    return { ok: false, message: `expected an <EventNotificationAlert> document, got <${Object.keys(doc).find((k) => k !== '?xml') ?? 'nothing'}>` };
  return { ok: true, alert: alert as IsapiAlert };
}

/** The first regionID in a DetectionRegionList, however the XML or JSON nests it. */
function regionOf(a: IsapiAlert): string {
  const find = (v: unknown): string | undefined => {
    if (Array.isArray(v)) {
      for (const x of v) {
        const r = find(x);
        if (r) return r;
      }
      return undefined;
    }
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (o['regionID'] !== undefined) return String(o['regionID']);
      for (const x of Object.values(o)) {
        const r = find(x);
        if (r) return r;
      }
    }
    return undefined;
  };
  return `region-${find(a.DetectionRegionList) ?? '1'}`;
}

const active = (a: IsapiAlert) => String(a.eventState ?? '').toLowerCase() === 'active';
const event = (data: Record<string, unknown>): AdaptedMessage => ({ channel: 'event', data });
const intrusion = (a: IsapiAlert) =>
  active(a)
    ? [event({ type: 'intrusion', zone: regionOf(a), confidence: 0.9, object: /vehicle/i.test(String(a.targetType ?? '')) ? 'vehicle' : 'person' })]
    : [];
const covered = (a: IsapiAlert) => [event({ type: 'tamper', reason: 'covered', active: active(a) })];

/** Per ISAPI event type: the camera messages it becomes (the table above). */
const mapping: Record<string, (a: IsapiAlert) => AdaptedMessage[]> = {
  linedetection: intrusion,
  fielddetection: intrusion,
  regionEntrance: intrusion,
  shelteralarm: covered,
  tamperdetection: covered,
  videoloss: (a) =>
    active(a)
      ? [event({ type: 'tamper', reason: 'dark', active: true })]
      : Number(a.activePostCount ?? 0) === 0
        ? [{ channel: 'status', data: { online: true } }]
        : [event({ type: 'tamper', reason: 'dark', active: false })],
  VMD: (a) => (active(a) ? [event({ type: 'motion', zone: regionOf(a), confidence: 0.9 })] : []),
};
export const mappedEventTypes = Object.keys(mapping);

export const hikvisionIsapi = defineAdapter({
  name: 'hikvision-isapi',
  title: 'Hikvision ISAPI event notification (HTTP host push, XML or JSON, with pictures)',
  docs: hikvisionDocs,
  transport: 'http-push',
  kinds: ['camera'],
  guessKind: () => 'camera',
  fromDevice(push): Translation {
    const parsed = parseIsapi(push.contentType, push.body);
    if (!parsed.ok) return parsed;
    const a = parsed.alert;
    const type = String(a.eventType ?? '');
    if (!type) return { ok: false, message: 'the EventNotificationAlert has no <eventType>' };
    const map = mapping[type];
    if (!map)
      return {
        ok: false,
        message: `ISAPI eventType "${type}" is not mapped (mapped: ${mappedEventTypes.join(', ')}); turn it off on the camera's "Notify surveillance center" linkage`,
      };
    const ts = a.dateTime ? Date.parse(a.dateTime) : NaN;
    if (a.dateTime && Number.isNaN(ts)) return { ok: false, message: `<dateTime> "${a.dateTime}" is not an ISO 8601 time (e.g. 2017-07-19T10:06:41+08:00)` };
    const at = Number.isNaN(ts) ? {} : { ts };
    const messages = [...map(a), ...push.pictures.map((jpeg): AdaptedMessage => ({ channel: 'snapshot', jpeg }))].map((m) => ({ ...m, ...at }));
    return { ok: true, messages, ...(messages.length ? {} : { note: `${type} ${a.eventState ?? ''}: nothing for Vigil` }) };
  },
});
