/**
 * Admin: provision a device (one, or a CSV) and see its password once; the devices waiting to be approved
 * (onboarding); principals; the audit log with filters.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, quietly, type ApiError } from '../api.ts';
import { ago, html, time } from '../html.ts';

function Provision({ kinds }: { kinds: string[] }) {
  const [f, setF] = useState({ deviceId: '', kind: '', site: '', zone: '' });
  const [csv, setCsv] = useState('');
  const [shown, setShown] = useState<{ username: string; password: string }[]>([]);
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    setShown([]);
    try {
      if (csv.trim()) {
        const r = await api('POST', '/api/v1/devices/bulk', csv, 'text/csv');
        setShown(r.devices.map((d: any) => d.credentials));
        setCsv('');
      } else {
        const r = await api('POST', '/api/v1/devices', { deviceId: f.deviceId, kind: f.kind, site: f.site, ...(f.zone ? { zone: f.zone } : {}) });
        setShown([r.credentials]);
        setF({ ...f, deviceId: '' });
      }
    } catch (err) {
      const a = err as ApiError;
      setError(`${a.message}${a.details.length ? `: ${a.details.map((d) => `${d.path} ${d.message}`).join('; ')}` : ''}`);
    }
  };
  const input = (k: keyof typeof f, label: string) =>
    html`<label>${label} <input name=${k} value=${f[k]} onInput=${(e: any) => setF({ ...f, [k]: e.currentTarget.value })} /></label>`;
  return html`<form onSubmit=${submit} aria-labelledby="prov-h">
    <h3 id="prov-h">Provision a device</h3>
    <div class="filters">
      ${input('deviceId', 'Device id')}
      <label
        >Kind
        <select name="kind" value=${f.kind} onChange=${(e: any) => setF({ ...f, kind: e.currentTarget.value })}>
          <option value="">choose</option>
          ${kinds.map((k) => html`<option>${k}</option>`)}
        </select></label
      >
      ${input('site', 'Site')} ${input('zone', 'Zone')}
    </div>
    <label>…or a CSV (deviceId,kind,site,zone,tags) <textarea rows="3" value=${csv} onInput=${(e: any) => setCsv(e.currentTarget.value)}></textarea></label>
    <button type="submit">Provision</button>
    ${error && html`<p role="alert" class="error">${error}</p>`}
    ${
      shown.length > 0 &&
      html`<div class="secret" role="status">
        <strong>Shown once — store these in the devices now:</strong>
        <table>
          <tbody>
            ${shown.map(
              (c) =>
                html`<tr>
                  <td>${c.username}</td>
                  <td><code data-password=${c.username}>${c.password}</code></td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`
    }
  </form>`;
}

function Pending() {
  const [list, setList] = useState<any[]>([]);
  const [shown, setShown] = useState<any>(null);
  const [error, setError] = useState('');
  const [site, setSite] = useState<Record<number, string>>({});
  const load = () => quietly(api('GET', '/api/v1/pending').then((r) => setList(r.pending)));
  useEffect(() => {
    load();
    const t = setInterval(load, 5000);
    return () => clearInterval(t);
  }, []);
  const decide = async (p: any, how: 'approve' | 'reject') => {
    setError('');
    try {
      const r = await api('POST', `/api/v1/pending/${p.id}/${how}`, how === 'approve' && site[p.id] ? { site: site[p.id] } : {});
      if (how === 'approve') setShown(r.credentials);
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section aria-labelledby="pending-h">
    <h3 id="pending-h">Waiting for approval <span class="count">${list.length}</span></h3>
    ${error && html`<p role="alert" class="error">${error}</p>`}
    ${shown && html`<p class="secret" role="status">${shown.username}: <code>${shown.password}</code> (shown once)</p>`}
    <table>
      <thead>
        <tr>
          <th scope="col">Claimed id</th>
          <th scope="col">From</th>
          <th scope="col">Looks like</th>
          <th scope="col">Tries</th>
          <th scope="col">Last seen</th>
          <th scope="col">Decide</th>
        </tr>
      </thead>
      <tbody>
        ${list.map(
          (p) =>
            html`<tr>
              <td>${p.claimedId}</td>
              <td>${p.source} ${p.address ?? ''}</td>
              <td>${p.kind ?? '?'}${p.site ? ` at ${p.site}` : ''}</td>
              <td>${p.attempts}</td>
              <td>${ago(p.lastSeen)}</td>
              <td>
                ${!p.site && html`<label class="sr" for=${`ps-${p.id}`}>Site for ${p.claimedId}</label><input id=${`ps-${p.id}`} placeholder="site" value=${site[p.id] ?? ''} onInput=${(e: any) => setSite({ ...site, [p.id]: e.currentTarget.value })} />`}
                <button onClick=${() => decide(p, 'approve')}>Approve</button> <button onClick=${() => decide(p, 'reject')}>Reject</button>
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function Audit() {
  const [rows, setRows] = useState<any[]>([]);
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  useEffect(() => {
    const q = new URLSearchParams({ limit: '50', ...(action ? { action } : {}), ...(actor ? { actor } : {}) });
    void quietly(api('GET', `/api/v1/audit?${q}`).then((r) => setRows(r.records ?? r.audit ?? [])));
  }, [action, actor]);
  return html`<section aria-labelledby="audit-h">
    <h3 id="audit-h">Audit log</h3>
    <div class="filters">
      <label>Action <input value=${action} placeholder="e.g. device.provision" onChange=${(e: any) => setAction(e.currentTarget.value)} /></label>
      <label>Actor <input value=${actor} onChange=${(e: any) => setActor(e.currentTarget.value)} /></label>
    </div>
    <table>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr>
              <td>${time(r.ts)}</td>
              <td>${r.actor}</td>
              <td>${r.action}</td>
              <td>${r.target}</td>
              <td>${r.outcome}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function Principals() {
  const [list, setList] = useState<any[]>([]);
  const [f, setF] = useState({ id: '', role: 'consumer', sites: '' });
  const [token, setToken] = useState<{ id: string; token: string } | null>(null);
  const [error, setError] = useState('');
  const load = () => quietly(api('GET', '/api/v1/principals').then((r) => setList(r.principals ?? [])));
  useEffect(() => {
    load();
  }, []);
  const add = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const sites = f.sites
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
      const r = await api('POST', '/api/v1/principals', { id: f.id, role: f.role, sites });
      setToken({ id: f.id, token: r.token });
      setF({ id: '', role: 'consumer', sites: '' });
      load();
    } catch (err) {
      const a = err as ApiError;
      setError(`${a.message}${a.details.length ? `: ${a.details.map((d) => `${d.path} ${d.message}`).join('; ')}` : ''}`);
    }
  };
  const revoke = async (id: string) => {
    if (!confirm(`Revoke ${id}? Its token stops working and its live sessions are closed.`)) return;
    await api('POST', `/api/v1/principals/${encodeURIComponent(id)}/revoke`).catch((err) => setError((err as Error).message));
    load();
  };
  return html`<section aria-labelledby="principals-h">
    <h3 id="principals-h">Principals</h3>
    <form onSubmit=${add} class="filters" aria-label="Add a principal">
      <label>Id <input name="principal-id" value=${f.id} onInput=${(e: any) => setF({ ...f, id: e.currentTarget.value })} /></label>
      <label
        >Role
        <select name="principal-role" value=${f.role} onChange=${(e: any) => setF({ ...f, role: e.currentTarget.value })}>
          <option>consumer</option>
          <option>engineer</option>
          <option>admin</option>
        </select></label
      >
      <label
        >Sites <input name="principal-sites" placeholder="hub1,hub2 or *" value=${f.sites} onInput=${(e: any) => setF({ ...f, sites: e.currentTarget.value })}
      /></label>
      <button type="submit">Add principal</button>
    </form>
    ${error && html`<p role="alert" class="error">${error}</p>`}
    ${token && html`<p class="secret" role="status">API token of ${token.id}, shown once: <code data-token=${token.id}>${token.token}</code></p>`}
    <table>
      <thead>
        <tr>
          <th scope="col">Id</th>
          <th scope="col">Role</th>
          <th scope="col">Sites</th>
          <th scope="col">State</th>
          <th scope="col"></th>
        </tr>
      </thead>
      <tbody>
        ${list.map(
          (p) =>
            html`<tr data-principal=${p.id}>
              <td>${p.id}</td>
              <td>${p.role}</td>
              <td>${p.sites.join(', ')}</td>
              <td>${p.state}</td>
              <td>${p.state === 'enabled' && html`<button onClick=${() => revoke(p.id)}>Revoke</button>`}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

export function AdminView() {
  const [kinds, setKinds] = useState<string[]>([]);
  useEffect(() => {
    void quietly(api('GET', '/api/v1/kinds').then((r) => setKinds(r.kinds.map((k: any) => k.kind))));
  }, []);
  return html`<section aria-labelledby="admin-h">
    <h2 id="admin-h">Admin</h2>
    <${Provision} kinds=${kinds} /><${Pending} /><${Principals} /><${Audit} />
  </section>`;
}
