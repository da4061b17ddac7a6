/**
 * Devices per site and kind: online, last seen, refusals by reason, and coverage against the 90 % target
 * (online share of the registered devices of a kind at a site). A device's page shows its latest
 * telemetry with a small chart of the readings kept on the box, its config state, and recent refusals.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, quietly } from '../api.ts';
import { ago, html, time } from '../html.ts';

const TARGET = 0.9;

export function DevicesView({ go }: { go: (hash: string) => void }) {
  const [devices, setDevices] = useState<any[] | null>(null);
  const [site, setSite] = useState('');
  const [kind, setKind] = useState('');
  useEffect(() => {
    const load = () => quietly(api('GET', '/api/v1/devices').then((r) => setDevices(r.devices)));
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  if (!devices) return html`<p>Loading devices…</p>`;
  const sites = [...new Set(devices.map((d) => d.site))].sort();
  const kinds = [...new Set(devices.map((d) => d.kind))].sort();
  const shown = devices.filter((d) => (!site || d.site === site) && (!kind || d.kind === kind));
  const cover = new Map<string, { online: number; total: number }>();
  for (const d of devices.filter((x) => x.registration === 'enabled')) {
    const k = `${d.site} ${d.kind}`;
    const c = cover.get(k) ?? { online: 0, total: 0 };
    c.total++;
    if (d.online) c.online++;
    cover.set(k, c);
  }
  return html`<section aria-labelledby="devices-h">
    <h2 id="devices-h">Devices <span class="count">${shown.length}</span></h2>
    <div class="filters">
      <label
        >Site
        <select value=${site} onChange=${(e: any) => setSite(e.currentTarget.value)}>
          <option value="">all</option>
          ${sites.map((s) => html`<option>${s}</option>`)}
        </select></label
      >
      <label
        >Kind
        <select value=${kind} onChange=${(e: any) => setKind(e.currentTarget.value)}>
          <option value="">all</option>
          ${kinds.map((k) => html`<option>${k}</option>`)}
        </select></label
      >
    </div>
    <h3>Coverage (target ${TARGET * 100} % online)</h3>
    <table class="coverage">
      <thead>
        <tr>
          <th scope="col">Site</th>
          <th scope="col">Kind</th>
          <th scope="col">Online</th>
          <th scope="col">Coverage</th>
        </tr>
      </thead>
      <tbody>
        ${[...cover.entries()]
          .filter(([k]) => (!site || k.startsWith(`${site} `)) && (!kind || k.endsWith(` ${kind}`)))
          .map(([k, c]) => {
            const [s, kd] = k.split(' ');
            const share = c.total ? c.online / c.total : 0;
            return html`<tr class=${share < TARGET ? 'below' : ''}>
              <td>${s}</td>
              <td>${kd}</td>
              <td>${c.online}/${c.total}</td>
              <td>${Math.round(share * 100)} %${share < TARGET ? ' — below target' : ''}</td>
            </tr>`;
          })}
      </tbody>
    </table>
    <table class="devices">
      <thead>
        <tr>
          <th scope="col">Device</th>
          <th scope="col">Kind</th>
          <th scope="col">Site / zone</th>
          <th scope="col">State</th>
          <th scope="col">Last seen</th>
          <th scope="col">Messages</th>
          <th scope="col">Refused</th>
        </tr>
      </thead>
      <tbody>
        ${shown.map(
          (d) =>
            html`<tr data-device=${d.deviceId}>
              <td>
                <a
                  href=${`#/devices/${encodeURIComponent(d.deviceId)}`}
                  onClick=${(e: Event) => (e.preventDefault(), go(`#/devices/${encodeURIComponent(d.deviceId)}`))}
                  >${d.deviceId}</a
                >
              </td>
              <td>${d.kind}</td>
              <td>${d.site}${d.zone ? ` / ${d.zone}` : ''}</td>
              <td>
                <span class=${`dot ${d.online ? 'on' : 'off'}`} aria-hidden="true"></span
                >${d.registration !== 'enabled' ? d.registration : d.online ? 'online' : 'offline'}
              </td>
              <td>${ago(d.lastSeen)}</td>
              <td>${d.messages}</td>
              <td
                title=${Object.entries(d.refusedByReason)
                  .map(([r, n]) => `${r}: ${n}`)
                  .join(', ')}
              >
                ${d.refused}${d.refused ? ` (${Object.keys(d.refusedByReason).join(', ')})` : ''}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

/** A small line chart of one reading (SVG, no library). */
function Spark({ points, label }: { points: { t: number; v: number }[]; label: string }) {
  if (points.length < 2) return html`<span class="muted">too few readings</span>`;
  const w = 240;
  const hgt = 48;
  const t0 = points[0]!.t;
  const t1 = points.at(-1)!.t;
  const lo = Math.min(...points.map((p) => p.v));
  const hi = Math.max(...points.map((p) => p.v));
  const x = (t: number) => ((t - t0) / (t1 - t0 || 1)) * w;
  const y = (v: number) => hgt - ((v - lo) / (hi - lo || 1)) * (hgt - 4) - 2;
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  return html`<svg class="spark" viewBox=${`0 0 ${w} ${hgt}`} width=${w} height=${hgt} role="img" aria-label=${`${label} from ${lo} to ${hi}`}>
    <path d=${d} />
  </svg>`;
}

export function DeviceView({ id }: { id: string }) {
  const [d, setD] = useState<any>(null);
  const [readings, setReadings] = useState<any[]>([]);
  const [config, setConfig] = useState<any>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const load = () =>
      Promise.all([
        api('GET', `/api/v1/devices/${encodeURIComponent(id)}`).then(setD),
        api('GET', `/api/v1/devices/${encodeURIComponent(id)}/telemetry?limit=200`)
          .then((r) => setReadings(r.readings))
          .catch(() => setReadings([])),
        api('GET', `/api/v1/devices/${encodeURIComponent(id)}/config`)
          .then(setConfig)
          .catch(() => setConfig(null)),
      ]).catch((err) => setError(err.message));
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, [id]);
  if (error) return html`<p role="alert" class="error">${error}</p>`;
  if (!d) return html`<p>Loading ${id}…</p>`;
  const numeric = Object.entries(d.telemetry?.data ?? {}).filter(([, v]) => typeof v === 'number');
  return html`<section aria-labelledby="device-h">
    <h2 id="device-h">${d.deviceId} <span class="muted">${d.kind} at ${d.site}${d.zone ? ` / ${d.zone}` : ''}</span></h2>
    <p>
      <span class=${`dot ${d.online ? 'on' : 'off'}`} aria-hidden="true"></span>${d.online ? 'online' : 'offline'} · last seen ${ago(d.lastSeen)} ·
      ${d.messages} messages, ${d.refused} refused
    </p>
    ${
      d.refused > 0 &&
      html`<p>
        Refused by reason:
        ${Object.entries(d.refusedByReason)
          .map(([r, n]) => `${r} ${n}`)
          .join(', ')}
      </p>`
    }
    <h3>Latest telemetry ${d.telemetry ? html`<span class="muted">${time(d.telemetry.ts)}</span>` : ''}</h3>
    ${numeric.length === 0 && html`<p class="muted">No telemetry yet.</p>`}
    <dl class="readings">
      ${numeric.map(
        ([k, v]) =>
          html`<div>
            <dt>${k}</dt>
            <dd>
              ${Number(v).toFixed(2)}
              <${Spark}
                label=${k}
                points=${readings.filter((r) => typeof r.fields[k] === 'number').map((r) => ({ t: Date.parse(r.ts), v: r.fields[k] as number }))}
              />
            </dd>
          </div>`,
      )}
    </dl>
    <h3>Configuration</h3>
    ${
      config
        ? html`<p>
            State <strong data-config-state=${config.status}>${config.status}</strong>, desired version ${config.desiredVersion ?? '—'}, reported
            ${config.reportedVersion ?? '—'}${config.reason ? ` — ${config.reason}` : ''}
          </p>`
        : html`<p class="muted">Not visible to this role.</p>`
    }
    <h3>Recent event</h3>
    ${d.lastEvent ? html`<pre>${time(d.lastEvent.ts)} ${JSON.stringify(d.lastEvent.data)}</pre>` : html`<p class="muted">None yet.</p>`}
  </section>`;
}
