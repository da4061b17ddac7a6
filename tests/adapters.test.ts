/**
 * Device adapters (#18, first adapter): a Hikvision camera pushes ISAPI event notifications over HTTP
 * (XML, JSON, multipart with pictures, payloads from Hikvision's developer guides in
 * tests/fixtures/hikvision) as the camera it is provisioned as. They become the camera kind's own
 * messages through the same ingest as MQTT, and raise the same alerts as a native camera (line
 * crossing on a platform edge → critical intrusion; shelter alarm → camera_tamper). Malformed and
 * unmapped pushes are refused with a reason and counted; wrong, missing or borrowed credentials, a
 * device not tagged for the adapter, and a principal's token get nothing in.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, scrape, startTestGateway, until, type TestGateway } from './helpers/gateway.ts';

const fixture = (f: string) => readFileSync(new URL(`./fixtures/hikvision/${f}`, import.meta.url));
const site = 'hik';
let t: TestGateway;
const secrets = new Map<string, string>();
let consumerToken = '';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const push = async (
  deviceId: string,
  body: Buffer | string,
  contentType: string,
  auth = basic(deviceId, secrets.get(deviceId) ?? 'x'),
  adapter = 'hikvision-isapi',
) => {
  const res = await fetch(`${t.httpUrl}/adapters/${adapter}/${deviceId}`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(auth ? { authorization: auth } : {}) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};
/** multipart/form-data as ISAPI sends it: the document, then the pictures. */
const multipart = (doc: Buffer, docType: string, pictures: Buffer[]) => {
  const b = 'MIME_boundary';
  const parts: Buffer[] = [
    Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="event"; filename="event.json"\r\nContent-Type: ${docType}\r\n\r\n`),
    doc,
    Buffer.from('\r\n'),
  ];
  pictures.forEach((p, i) => {
    parts.push(
      Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="picture${i}"; filename="picture${i}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      p,
      Buffer.from('\r\n'),
    );
  });
  parts.push(Buffer.from(`--${b}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${b}` };
};
const alertsOf = (deviceId: string, type: string) => t.gw.alerts.store.query({ site, type }).filter((a) => a.deviceId === deviceId);

beforeAll(async () => {
  t = await startTestGateway({ security: { allowAnonymous: false }, alerts: { startupGraceS: 0 } });
  const reg = t.gw.security.registry;
  const ps = await reg.provisionMany(
    [
      { deviceId: 'hik-cam-1', kind: 'camera', site, zone: 'platform-2', tags: ['adapter:hikvision-isapi'] },
      { deviceId: 'hik-cam-2', kind: 'camera', site, zone: 'concourse', tags: ['adapter:hikvision-isapi'] },
      { deviceId: 'hik-cam-untagged', kind: 'camera', site },
      { deviceId: 'hik-door-1', kind: 'door', site, tags: ['adapter:hikvision-isapi'] },
    ],
    { id: 'test' },
  );
  for (const p of ps) secrets.set(p.device.deviceId, p.credentials.password);
  consumerToken = (await reg.addPrincipal({ id: 'hik-ops', role: 'consumer', sites: [site] }, { id: 'test' })).token;
  t.gw.sites.put(site, 'platform-2', { type: 'platform_edge', name: 'Platform 2 edge' }, { id: 'test' });
}, 20_000);
afterAll(async () => {
  await closeAll();
  await t?.stop();
});

describe('Hikvision ISAPI event notification', () => {
  it('a line crossing (XML) on a platform-edge camera is a critical intrusion, as from a native camera', async () => {
    const r = await push('hik-cam-1', fixture('linedetection.xml'), 'application/xml');
    expect(r).toEqual({ status: 200, body: { adapter: 'hikvision-isapi', deviceId: 'hik-cam-1', accepted: [{ channel: 'event', type: 'intrusion' }] } });
    const a = await until(() => alertsOf('hik-cam-1', 'intrusion')[0], 'intrusion raised');
    expect(a).toMatchObject({ severity: 'critical', zone: 'platform-2', state: 'raised' });
    expect(a.reason).toMatch(/^person in platform-2 \(a platform edge zone\), confidence 0\.90$/);
    expect(t.gw.states.get('hik-cam-1')).toMatchObject({ online: true, lastEvent: { data: { type: 'intrusion', zone: 'region-2', object: 'person' } } });
    // The guide's example is dated 2017: taken at the receive time and counted, as for any device with a wrong clock.
    expect(t.gw.states.get('hik-cam-1')?.clockSkewed).toBe(1);
    expect(await scrape(t.httpUrl)).toMatch(/vigil_ingest_clock_skewed_total(\{[^}]*\})? [1-9]/);
  });

  it('a shelter alarm (JSON) raises camera_tamper; the heartbeat keeps the camera online and raises nothing', async () => {
    const r = await push('hik-cam-2', fixture('shelteralarm.json'), 'application/json');
    expect(r.body['accepted']).toEqual([{ channel: 'event', type: 'tamper' }]);
    await until(() => alertsOf('hik-cam-2', 'camera_tamper')[0], 'camera_tamper raised');
    const hb = await push('hik-cam-2', fixture('heartbeat.xml'), 'text/xml');
    expect(hb).toEqual({ status: 200, body: { adapter: 'hikvision-isapi', deviceId: 'hik-cam-2', accepted: [{ channel: 'status' }] } });
    expect(t.gw.states.get('hik-cam-2')?.status?.data).toMatchObject({ online: true });
  });

  it('multipart: the document and its JPEG pictures become the event and snapshots', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#406080' } })
      .jpeg()
      .toBuffer();
    const m = multipart(fixture('linedetection.xml'), 'application/xml', [jpeg, jpeg]);
    const r = await push('hik-cam-2', m.body, m.contentType);
    expect(r.status).toBe(200);
    expect(r.body['accepted']).toEqual([{ channel: 'event', type: 'intrusion' }, { channel: 'snapshot' }, { channel: 'snapshot' }]);
    expect(t.gw.states.get('hik-cam-2')?.lastSnapshot).toMatchObject({ width: 64, height: 48 });
  });

  it('malformed, unmapped and mis-typed pushes are refused with a reason an installer can act on, and counted', async () => {
    const before = t.gw.states.get('hik-cam-2')?.refusedByReason['schema_violation'] ?? 0;
    const broken = await push('hik-cam-2', '<EventNotificationAlert><eventType>linedetection</eventType>', 'application/xml');
    expect(broken.status).toBe(422);
    expect(broken.body).toMatchObject({ code: 'VIGIL_ERR_VENDOR_REFUSED', message: expect.stringMatching(/XML EventNotificationAlert does not parse/) });
    const faceSnap = await push('hik-cam-2', fixture('linedetection.xml').toString().replace('>linedetection<', '>faceSnap<'), 'application/xml');
    expect(faceSnap.body['message']).toMatch(/eventType "faceSnap" is not mapped \(mapped: linedetection, fielddetection, .*\); turn it off/);
    const badTime = await push('hik-cam-2', JSON.stringify({ eventType: 'shelteralarm', eventState: 'active', dateTime: 'yesterday' }), 'application/json');
    expect(badTime.body['message']).toMatch(/<dateTime> "yesterday" is not an ISO 8601 time/);
    const notJson = await push('hik-cam-2', '{"eventType": ', 'application/json');
    expect(notJson.body['message']).toMatch(/JSON EventNotificationAlert does not parse/);
    expect(t.gw.states.get('hik-cam-2')?.refusedByReason['schema_violation']).toBe(before + 4);
    expect(await scrape(t.httpUrl)).toMatch(/vigil_ingest_refused_total\{[^}]*reason="schema_violation"[^}]*\} [1-9]/);
  });

  it('nothing gets in without the device’s own credentials, its adapter tag, the right kind', async () => {
    const doc = fixture('linedetection.xml');
    const count = () => alertsOf('hik-cam-untagged', 'intrusion').length + alertsOf('hik-cam-2', 'intrusion').length;
    const n = count();
    expect((await push('hik-cam-2', doc, 'application/xml', '')).status).toBe(401);
    expect((await push('hik-cam-2', doc, 'application/xml', basic('hik-cam-2', 'wrong-password'))).status).toBe(401);
    // Another device's valid credentials do not speak for this one, nor does a person's token.
    expect((await push('hik-cam-2', doc, 'application/xml', basic('hik-cam-1', secrets.get('hik-cam-1')!))).status).toBe(401);
    expect((await push('hik-cam-2', doc, 'application/xml', `Bearer ${consumerToken}`)).status).toBe(401);
    const untagged = await push('hik-cam-untagged', doc, 'application/xml');
    expect(untagged).toMatchObject({ status: 403, body: { message: expect.stringMatching(/an admin adds the tag "adapter:hikvision-isapi"/) } });
    const door = await push('hik-door-1', doc, 'application/xml');
    expect(door).toMatchObject({ status: 403, body: { message: expect.stringMatching(/carries camera devices; "hik-door-1" is a door/) } });
    expect((await push('hik-cam-2', doc, 'application/xml', undefined, 'no-such-adapter')).status).toBe(404);
    expect(count()).toBe(n);
    // Audited (repeats within a second are folded into one record with a count).
    const audit = t.gw.security.audit.query({ action: 'adapter.auth' }).filter((e) => e.outcome === 'denied');
    expect(audit.find((e) => e.actor === 'hik-cam-2')).toMatchObject({ target: 'hikvision-isapi/hik-cam-2' });
    expect(audit.find((e) => e.actor === 'hik-cam-1')).toMatchObject({ detail: { reason: 'user "hik-cam-1" is not the device of the URL' } });
  });
});
