/**
 * The Vigil console: served by the box at `/`, working with the uplink cut. Sign in with a principal token
 * (kept in this tab's session storage only); every view asks the API and the broker with that token, so
 * it shows only what the principal's role and sites allow. Signing out closes the live connection and
 * forgets the token and everything shown.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, quietly, session, type ApiError, type Me } from './api.ts';
import { connectLive, type Live } from './live.ts';
import { html } from './html.ts';
import { AlertsView, defaultMarks, type Alert, type Marks } from './views/alerts.ts';
import { DevicesView, DeviceView } from './views/devices.ts';
import { HealthView } from './views/health.ts';
import { ConfigsView } from './views/configs.ts';
import { AdminView } from './views/admin.ts';

function SignIn({ onIn, notice }: { onIn: (me: Me) => void; notice: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    session.set(token.trim());
    try {
      onIn(await api<Me>('GET', '/api/v1/me'));
      setToken('');
    } catch (err) {
      session.clear();
      setError((err as ApiError).status === 401 ? 'This token is not valid (wrong, rotated or revoked).' : (err as Error).message);
    }
  };
  return html`<main class="signin">
    <h1>Vigil</h1>
    <form onSubmit=${submit} aria-label="Sign in">
      <label for="token">Token <small>(principalId.secret — the demo prints one)</small></label>
      <input id="token" type="password" autocomplete="off" required value=${token} onInput=${(e: any) => setToken(e.currentTarget.value)} />
      <button type="submit">Sign in</button>
      ${(error || notice) && html`<p role="alert" class="error">${error || notice}</p>`}
    </form>
  </main>`;
}

const tabs = [
  ['#/alerts', 'Alerts'],
  ['#/devices', 'Devices'],
  ['#/configs', 'Configs'],
  ['#/health', 'Box health'],
  ['#/admin', 'Admin'],
] as const;

function App() {
  const [me, setMe] = useState<Me | null>(null);
  const [checked, setChecked] = useState(!session.token);
  const [hash, setHash] = useState(location.hash || '#/alerts');
  const [alerts, setAlerts] = useState(new Map<string, Alert>());
  const [connected, setConnected] = useState(false);
  const [marks, setMarks] = useState<Marks>(defaultMarks);
  const [notice, setNotice] = useState('');
  /** What a screen reader announces: a newly raised alert, said once. */
  const [announce, setAnnounce] = useState('');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/alerts');
    addEventListener('hashchange', on);
    if (session.token)
      api<Me>('GET', '/api/v1/me')
        .then(setMe)
        .catch(() => session.clear())
        .finally(() => setChecked(true));
    return () => removeEventListener('hashchange', on);
  }, []);
  // A token that stops working (revoked or rotated by an admin) ends the session.
  useEffect(() => {
    const off = () => {
      signOut();
      setNotice('Your token is no longer valid (revoked or rotated): sign in again.');
    };
    addEventListener('vigil:unauthorized', off);
    return () => removeEventListener('vigil:unauthorized', off);
  }, []);
  // Live alerts: the open ones now, then every change as it happens (a higher version wins). After the live
  // connection comes back, the open list is read again: what changed while it was down is not missed.
  useEffect(() => {
    if (!me) return;
    let live: Live | undefined;
    const reload = () =>
      api('GET', '/api/v1/alerts?state=open&limit=500')
        .then((r) => setAlerts(new Map((r.alerts as Alert[]).map((a) => [a.id, a]))))
        .catch(() => undefined);
    let first = true;
    const merge = (a: Alert) =>
      setAlerts((m) => {
        const cur = m.get(a.id);
        if (cur && cur.version > a.version) return m;
        if (!cur && a.state === 'raised' && a['event'] === 'raised') setAnnounce(`New ${a.severity} alert: ${a.type} at ${a.site}/${a.deviceId}. ${a.reason}`);
        return new Map(m).set(a.id, a);
      });
    api('GET', `/api/v1/sla?since=${encodeURIComponent(new Date().toISOString())}`)
      .then((r) => setMarks(r.marks))
      .catch(() => undefined);
    void quietly(api('GET', '/api/v1/alerts?state=open&limit=500')).then((r) => {
      for (const a of r?.alerts ?? []) merge(a);
      live = connectLive(session.token!, me, merge, (up) => {
        setConnected(up);
        if (up && !first) void reload();
        if (up) first = false;
      });
    });
    return () => live?.close();
  }, [me]);
  const go = (h: string) => {
    location.hash = h;
  };
  function signOut() {
    session.clear();
    setAlerts(new Map());
    setMe(null);
    setConnected(false);
    location.hash = '';
  }
  if (!checked) return html`<p>…</p>`;
  if (!me) return html`<${SignIn} notice=${notice} onIn=${(m: Me) => (setNotice(''), setMe(m))} />`;
  const tabsShown = tabs.filter(([h]) => h !== '#/admin' || me.role === 'admin');
  const open = [...alerts.values()].filter((a) => a.state === 'raised' || a.state === 'acknowledged').length;
  const device = /^#\/devices\/(.+)$/.exec(hash)?.[1];
  const view = device
    ? html`<${DeviceView} id=${decodeURIComponent(device)} />`
    : hash.startsWith('#/devices')
      ? html`<${DevicesView} go=${go} />`
      : hash.startsWith('#/configs')
        ? html`<${ConfigsView} me=${me} />`
        : hash.startsWith('#/health')
          ? html`<${HealthView} />`
          : hash.startsWith('#/admin') && me.role === 'admin'
            ? html`<${AdminView} />`
            : html`<${AlertsView} alerts=${alerts} marks=${marks} canAct=${true} onChange=${(a: Alert) => setAlerts((m) => new Map(m).set(a.id, a))} />`;
  return html`<div class="shell">
    <header class="top">
      <h1>Vigil</h1>
      <nav aria-label="Views">
        ${tabsShown.map(([h, label]) => html`<a href=${h} aria-current=${hash.startsWith(h) ? 'page' : undefined}>${label}${h === '#/alerts' && open ? html` <span class="count">${open}</span>` : ''}</a>`)}
      </nav>
      <span class=${`live ${connected ? 'on' : 'off'}`} role="status">${connected ? 'live' : 'connecting…'}</span>
      <span class="who">${me.id} (${me.role}, ${me.sites.join(', ')})</span>
      <button onClick=${signOut}>Sign out</button>
    </header>
    <main>${view}</main>
    <div class="sr" aria-live="assertive" data-announce>${announce}</div>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
