/** Box health: readiness checks (uplinks and spool per target, models, bridges), version and uptime. */
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.ts';
import { html } from '../html.ts';

export function HealthView() {
  const [ready, setReady] = useState<any>(null);
  const [live, setLive] = useState<any>(null);
  const [models, setModels] = useState<any[] | null>(null);
  useEffect(() => {
    const load = () => {
      fetch('/readyz')
        .then(async (r) => setReady(await r.json()))
        .catch(() => setReady(null));
      fetch('/healthz')
        .then(async (r) => setLive(await r.json()))
        .catch(() => setLive(null));
      api('GET', '/api/v1/models')
        .then((r) => setModels(r.models ?? []))
        .catch(() => setModels(null));
    };
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  const up = live?.uptimeS ?? 0;
  return html`<section aria-labelledby="health-h">
    <h2 id="health-h">Box health</h2>
    <p>
      Version <strong>${live?.version ?? '—'}</strong> · up ${Math.floor(up / 3600)} h ${Math.floor((up % 3600) / 60)} min ·
      ${ready ? (ready.ready ? html`<strong class="ok">ready</strong>` : html`<strong class="bad">not ready</strong>`) : '…'}
    </p>
    <table>
      <thead>
        <tr>
          <th scope="col">Check</th>
          <th scope="col">State</th>
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        ${Object.entries(ready?.checks ?? {}).map(
          ([name, c]: [string, any]) =>
            html`<tr data-check=${name}>
              <td>${name}</td>
              <td class=${c.ok ? 'ok' : c.critical === false ? 'warn' : 'bad'}>${c.ok ? 'ok' : c.critical === false ? 'degraded' : 'failing'}</td>
              <td>${c.detail ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h3>Models</h3>
    ${
      models === null
        ? html`<p class="muted">Not visible to this role.</p>`
        : html`<ul>
            ${models.map((m) => html`<li>${m.id} <span class="muted">${m.version ?? ''} ${m.state ?? ''}</span></li>`)}
          </ul>`
    }
  </section>`;
}
