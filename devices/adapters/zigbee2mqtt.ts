/**
 * zigbee2mqtt: a Zigbee network behind one bridge. zigbee2mqtt publishes each device's whole state as
 * JSON on `<base_topic>/<friendly_name>` (the "exposes" of the device's definition in
 * zigbee-herdsman-converters) and its availability on `<base_topic>/<friendly_name>/availability`
 * (`{"state":"online"}`, or the bare `online` of older releases). The bridge reaches Vigil either by
 * publishing to its broker directly (z2m's `mqtt.server` pointed at the box, with the bridge's
 * credentials) or from the site's existing z2m broker, which the box subscribes to (gateway/adapters/upstream.ts).
 *
 * As zigbee2mqtt sends the whole state each time, an event is a change of it; the adapter remembers
 * each device's last state. The mapping, declared per exposed property:
 *
 * | kind | z2m property | canonical message |
 * |---|---|---|
 * | smoke | `smoke` (binary) | `alarm` {active, source: smoke}, on a change (or first seen true); not while `test` is true: a test is not a fire |
 * | smoke | `test` (binary) turns true | `test` {result: pass}: the detector ran its test and said so |
 * | smoke | `fault` (binary) | `fault` {code: sensor_fault, active}, on a change |
 * | smoke | `battery_low` turns true | `low_battery` {battery_pct: `battery` when reported} |
 * | door | `contact` (binary; true = closed) | `door_closed` / `door_opened`, on a change and when first seen |
 * | both | `tamper` (binary) | `tamper` {reason: enclosure_opened, active}, on a change (or first seen true) |
 * | both | availability | `status` {online} |
 *
 * Commands go back through `<base_topic>/<friendly_name>/set` (`toDevice`): the smoke alarm's `hush` is
 * zigbee2mqtt's siren stop, `{"alarm": "OFF"}` (documented for sounders such as the Develco SMSZB-120; the
 * detector keeps sensing and sounds again on smoke); zigbee2mqtt gives no answer to a set, so the command
 * is `ok` once the bridge has it. Other commands (self-test, door locks) are rejected with the reason.
 *
 * `last_seen` (when z2m is set to add it, ISO 8601 or epoch ms) is the message's time. Other properties
 * (linkquality, voltage, temperature of a smoke alarm that reports none of the other readings ...) are
 * not Vigil's: ignored. A payload that is not a JSON object is refused.
 */
import { defineAdapter, type AdaptedMessage, type AdapterMemory, type BridgeRoute, type Translation, type VendorPush } from '../adapters.ts';

export const zigbee2mqttDocs = [
  'Zigbee2MQTT, "MQTT Topics and Messages": zigbee2mqtt/FRIENDLY_NAME (device state), zigbee2mqtt/FRIENDLY_NAME/availability, zigbee2mqtt/bridge/state — https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html',
  'Zigbee2MQTT device pages (exposes): Develco SMSZB-120 (smoke, battery_low, test, fault, temperature, battery, voltage) https://www.zigbee2mqtt.io/devices/SMSZB-120.html; Bitron 902010/24 (smoke, battery_low, tamper) https://www.zigbee2mqtt.io/devices/902010_24.html; Aqara MCCGQ11LM (contact: true = closed) https://www.zigbee2mqtt.io/devices/MCCGQ11LM.html',
] as const;

/** Topics of the bridge itself and commands to devices: not a device's report. */
const COMMAND_SUFFIX = /\/(set|get)(\/[^/]+)?$/;

export function routeZ2m(subtopic: string): BridgeRoute {
  if (subtopic === 'bridge' || subtopic.startsWith('bridge/')) return { ignore: 'the bridge’s own topic' };
  if (COMMAND_SUFFIX.test(subtopic)) return { ignore: 'a command to a device' };
  if (subtopic.endsWith('/availability')) return { device: subtopic.slice(0, -'/availability'.length), part: '/availability' };
  if (!subtopic) return { ignore: 'the base topic itself' };
  return { device: subtopic, part: '' };
}

function whenOf(state: Record<string, unknown>): number | undefined {
  const v = state['last_seen'];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isFinite(t) ? t : undefined;
  }
  return undefined;
}

function readJson(push: VendorPush): { ok: true; value: unknown } | { ok: false; message: string } {
  const text = push.body.toString('utf8').trim();
  if (!text) return { ok: false, message: 'empty payload' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    // Availability before zigbee2mqtt 1.32 is the bare word.
    if (text === 'online' || text === 'offline') return { ok: true, value: text };
    return { ok: false, message: `not JSON: ${JSON.stringify(text.slice(0, 40))}` };
  }
}

/** A binary property's change: true/false when it changed (or was first seen, `whenFirst` deciding which first values count). */
function changed(state: Record<string, unknown>, memory: AdapterMemory, key: string, whenFirst: (v: boolean) => boolean): boolean | undefined {
  const v = state[key];
  if (typeof v !== 'boolean') return undefined;
  const before = memory[key];
  memory[key] = v;
  if (before === undefined) return whenFirst(v) ? v : undefined;
  return before === v ? undefined : v;
}

export const zigbee2mqtt = defineAdapter({
  name: 'zigbee2mqtt',
  title: 'zigbee2mqtt (Zigbee smoke alarms and contact sensors through a bridge)',
  docs: zigbee2mqttDocs,
  transport: 'mqtt-bridge',
  kinds: ['smoke', 'door'],
  bridge: { defaultBaseTopic: 'zigbee2mqtt', route: routeZ2m },

  guessKind(push) {
    const r = readJson(push);
    if (!r.ok || !r.value || typeof r.value !== 'object') return undefined;
    const v = r.value as Record<string, unknown>;
    if ('smoke' in v) return 'smoke';
    if ('contact' in v) return 'door';
    return undefined;
  },

  toDevice(command, kind) {
    if (kind === 'smoke' && command.name === 'hush')
      return {
        ok: true,
        part: '/set',
        payload: { alarm: 'OFF' },
        note: 'siren stopped through zigbee2mqtt ({"alarm":"OFF"}); zigbee2mqtt gives no answer to a set',
      };
    return { ok: false, message: `zigbee2mqtt ${kind} devices take no "${command.name}" command through Vigil (mapped: smoke hush)` };
  },

  fromDevice(push, kind, memory): Translation {
    const r = readJson(push);
    if (!r.ok) return { ok: false, message: `the zigbee2mqtt ${push.part ? 'availability' : 'state'} is unreadable: ${r.message}` };
    if (push.part === '/availability') {
      const s = typeof r.value === 'string' ? r.value : (r.value as { state?: unknown } | null)?.state;
      if (s !== 'online' && s !== 'offline') return { ok: false, message: `availability must be {"state":"online"|"offline"}, got ${JSON.stringify(r.value)}` };
      return { ok: true, messages: [{ channel: 'status', data: { online: s === 'online', reason: 'zigbee2mqtt availability' } }] };
    }
    if (!r.value || typeof r.value !== 'object' || Array.isArray(r.value)) return { ok: false, message: 'a device state must be a JSON object' };
    const state = r.value as Record<string, unknown>;
    const ts = whenOf(state);
    const out: AdaptedMessage[] = [];
    const event = (data: Record<string, unknown>) => out.push({ channel: 'event', data, ...(ts !== undefined ? { ts } : {}) });
    const firstTrue = (v: boolean) => v;

    if (kind === 'smoke') {
      const testing = state['test'] === true;
      const test = changed(state, memory, 'test', firstTrue);
      if (test === true) event({ type: 'test', result: 'pass' });
      // A test sounds the alarm: while the detector says it is testing, smoke is not a fire (nor remembered,
      // so smoke still there once the test is over is one).
      const smoke = testing ? undefined : changed(state, memory, 'smoke', firstTrue);
      if (smoke !== undefined) event({ type: 'alarm', active: smoke, source: 'smoke' });
      const fault = changed(state, memory, 'fault', firstTrue);
      if (fault !== undefined) event({ type: 'fault', code: 'sensor_fault', active: fault });
      const low = changed(state, memory, 'battery_low', firstTrue);
      if (low === true) event({ type: 'low_battery', ...(typeof state['battery'] === 'number' ? { battery_pct: state['battery'] } : {}) });
    }
    if (kind === 'door') {
      const contact = changed(state, memory, 'contact', () => true);
      if (contact !== undefined) event({ type: contact ? 'door_closed' : 'door_opened' });
    }
    const tamper = changed(state, memory, 'tamper', firstTrue);
    if (tamper !== undefined) event({ type: 'tamper', reason: 'enclosure_opened', active: tamper });
    return { ok: true, messages: out, ...(out.length ? {} : { note: 'no change Vigil acts on' }) };
  },
});
