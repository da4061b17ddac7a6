/**
 * Alerts: the open alerts of the principal's sites, live (new ones and every change arrive over MQTT
 * without a reload), with the 1-3-5 clocks counting (respond within 1 minute, handle within 3,
 * reinforcement at 5), acknowledge and resolve with a note, and each alert's history and evidence pictures.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, picture, quietly, type ApiError } from '../api.ts';
import { clock, html, time } from '../html.ts';

export type Alert = Record<string, any> & { id: string; version: number; state: string; severity: string; raisedAt: string };

/** The gateway's 1-3-5 marks (GET /api/v1/sla), seconds; a box may run them compressed (the demo) or per site. */
export type Marks = { respondS: number; handleS: number; reinforceS: number };
export const defaultMarks: Marks = { respondS: 60, handleS: 180, reinforceS: 300 };

/** One mark of the 1-3-5 rule: met (when), running (time left), or missed. */
function Mark({ label, due, done, now }: { label: string; due: number; done: string | null; now: number }) {
  if (done) {
    const late = Date.parse(done) > due;
    return html`<span class=${`mark ${late ? 'late' : 'met'}`}>${label} ${late ? 'late' : 'met'} ${time(done)}</span>`;
  }
  const left = due - now;
  return html`<span class=${`mark ${left < 0 ? 'missed' : 'running'}`}>${label} ${left < 0 ? `overdue ${clock(-left)}` : `in ${clock(left)}`}</span>`;
}

function Detail({ alert, onClose }: { alert: Alert; onClose: () => void }) {
  const [full, setFull] = useState<any>(null);
  const [pics, setPics] = useState<{ id: string; url: string; label: string }[]>([]);
  useEffect(() => {
    let urls: string[] = [];
    void quietly(
      api('GET', `/api/v1/alerts/${encodeURIComponent(alert.id)}`).then(async (a) => {
        setFull(a);
        const items = ((a.evidence?.items ?? []) as any[]).filter((i) => i.id);
        const got = await Promise.all(
          items.map(async (i) => {
            try {
              const url = await picture(`/api/v1/evidence/${encodeURIComponent(i.id)}`);
              urls.push(url);
              return { id: i.id as string, url, label: `${i.deviceId ?? ''} ${time(i.ts ? new Date(i.ts).toISOString() : null)}` };
            } catch {
              return null;
            }
          }),
        );
        setPics(got.filter((x): x is { id: string; url: string; label: string } => !!x));
      }),
    );
    return () => urls.forEach((u) => URL.revokeObjectURL(u));
  }, [alert.id, alert.version]);
  return html`<section class="detail" aria-label=${`Alert ${alert.id}`}>
    <header>
      <h3>${alert.type} · ${alert.site}/${alert.deviceId}</h3>
      <button onClick=${onClose}>Close</button>
    </header>
    <p>${alert.reason}</p>
    ${
      pics.length > 0 &&
      html`<div class="pics">
        ${pics.map(
          (p) =>
            html`<figure>
              <img src=${p.url} alt=${`evidence ${p.id}`} />
              <figcaption>${p.label}</figcaption>
            </figure>`,
        )}
      </div>`
    }
    <h4>History</h4>
    <ol class="history">
      ${(full?.history ?? []).map(
        (h: any) =>
          html`<li><time>${time(h.ts)}</time> ${h.event} <span class="muted">by ${h.actor}</span>${h.detail?.note ? html` — “${h.detail.note}”` : ''}</li>`,
      )}
    </ol>
  </section>`;
}

export function AlertsView({ alerts, onChange, canAct, marks }: { alerts: Map<string, Alert>; onChange: (a: Alert) => void; canAct: boolean; marks: Marks }) {
  const [now, setNow] = useState(Date.now());
  const [open, setOpen] = useState<string | null>(null);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const act = async (a: Alert, action: 'ack' | 'resolve') => {
    setError('');
    try {
      const note = notes[a.id]?.trim();
      onChange(await api('POST', `/api/v1/alerts/${encodeURIComponent(a.id)}/${action}`, note ? { note } : {}));
      setNotes({ ...notes, [a.id]: '' });
    } catch (err) {
      setError((err as ApiError).message);
    }
  };
  const list = [...alerts.values()]
    .filter((a) => a.state !== 'resolved' && a.state !== 'auto_resolved')
    .sort((x, y) => sev(y.severity) - sev(x.severity) || Date.parse(y.raisedAt) - Date.parse(x.raisedAt));
  const groups = new Map<string, Alert[]>();
  for (const a of list) groups.set(a.incidentId ?? a.id, [...(groups.get(a.incidentId ?? a.id) ?? []), a]);
  const selected = open ? alerts.get(open) : undefined;
  return html`<section aria-labelledby="alerts-h">
    <h2 id="alerts-h">Open alerts <span class="count">${list.length}</span></h2>
    ${error && html`<p role="alert" class="error">${error}</p>`} ${list.length === 0 && html`<p class="muted">No open alert.</p>`}
    ${[...groups.entries()].map(
      ([incident, as]) =>
        html`<div class="incident" aria-label=${`incident ${incident}`}>
          ${as.length > 1 && html`<div class="incident-h">Incident ${incident}: ${as.length} alerts</div>`}
          <ul class="alerts">
            ${as.map((a) => {
              const raised = Date.parse(a.raisedAt);
              return html`<li class=${`alert sev-${a.severity} state-${a.state}`} data-alert=${a.id}>
                <div class="row">
                  <span class=${`sev sev-${a.severity}`}>${a.severity}</span>
                  <strong>${a.type}</strong>
                  <span>${a.site}/${a.deviceId}${a.zone ? ` · ${a.zone}` : ''}</span>
                  <span class="state" data-state=${a.state}>${a.state}</span>
                  <span class="elapsed" title="since raised">${clock(now - raised)}</span>
                </div>
                <div class="reason">${a.reason}</div>
                <div class="marks">
                  <${Mark} label="respond" due=${raised + marks.respondS * 1000} done=${a.acknowledgedAt} now=${now} />
                  <${Mark} label="handle" due=${raised + marks.handleS * 1000} done=${a.resolvedAt} now=${now} />
                  ${
                    a.severity === 'critical' || a.reinforcementRequested
                      ? html`<${Mark} label="reinforce" due=${raised + marks.reinforceS * 1000} done=${a.reinforcementRequestedAt} now=${now} />`
                      : ''
                  }
                </div>
                <div class="actions">
                  ${
                    canAct &&
                    html`<label class="sr" for=${`note-${a.id}`}>Note for ${a.type}</label>
                      <input
                        id=${`note-${a.id}`}
                        placeholder="note (optional)"
                        value=${notes[a.id] ?? ''}
                        onInput=${(e: any) => setNotes({ ...notes, [a.id]: e.currentTarget.value })}
                      />
                      ${a.state === 'raised' && html`<button onClick=${() => act(a, 'ack')}>Acknowledge</button>`}
                      <button onClick=${() => act(a, 'resolve')}>Resolve</button>`
                  }
                  <button class="link" onClick=${() => setOpen(open === a.id ? null : a.id)} aria-expanded=${open === a.id}>History</button>
                </div>
              </li>`;
            })}
          </ul>
        </div>`,
    )}
    ${selected && html`<${Detail} alert=${selected} onClose=${() => setOpen(null)} />`}
  </section>`;
}

const sev = (s: string) => ({ critical: 3, major: 2, minor: 1 })[s as 'critical'] ?? 0;
