/**
 * Configurations: a push form generated from the kind's configuration schema (GET /api/v1/kinds, JSON
 * Schema of the zod schema the gateway validates with), so a field has the same bounds and choices the
 * API checks, and a refused value shows the API's own message at the field. A push is a staged rollout
 * (canary first) whose progress by wave is shown as it converges; a rollout can be rolled back.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, quietly, type ApiError, type Me } from '../api.ts';
import { html } from '../html.ts';

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
};

/** One field of the form; objects become a fieldset of their fields. Values are kept as text until sent. */
function Field({
  name,
  s,
  values,
  set,
  errors,
}: {
  name: string;
  s: Schema;
  values: Record<string, string>;
  set: (k: string, v: string) => void;
  errors: Record<string, string>;
}) {
  if (s.type === 'object' && s.properties)
    return html`<fieldset>
      <legend>${name}</legend>
      ${Object.entries(s.properties).map(([k, c]) => html`<${Field} name=${`${name}.${k}`} s=${c} values=${values} set=${set} errors=${errors} />`)}
    </fieldset>`;
  const id = `f-${name.replace(/\W/g, '-')}`;
  const err = errors[name];
  const hint = [
    s.minimum !== undefined ? `≥ ${s.minimum}` : '',
    s.maximum !== undefined ? `≤ ${s.maximum}` : '',
    s.default !== undefined ? `default ${JSON.stringify(s.default)}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const common = { id, name, 'aria-invalid': err ? 'true' : 'false', 'aria-describedby': `${id}-hint${err ? ` ${id}-err` : ''}` };
  const input = s.enum
    ? html`<select ...${common} value=${values[name] ?? ''} onChange=${(e: any) => set(name, e.currentTarget.value)}>
        <option value="">(unchanged)</option>
        ${s.enum.map((o) => html`<option>${String(o)}</option>`)}
      </select>`
    : s.type === 'boolean'
      ? html`<select ...${common} value=${values[name] ?? ''} onChange=${(e: any) => set(name, e.currentTarget.value)}>
          <option value="">(unchanged)</option>
          <option>true</option>
          <option>false</option>
        </select>`
      : html`<input
          ...${common}
          inputmode=${s.type === 'integer' || s.type === 'number' ? 'decimal' : 'text'}
          placeholder="(unchanged)"
          value=${values[name] ?? ''}
          onInput=${(e: any) => set(name, e.currentTarget.value)}
        />`;
  return html`<div class=${`field ${err ? 'invalid' : ''}`}>
    <label for=${id}>${name}</label>${input}<small id=${`${id}-hint`}>${hint}</small>
    ${err && html`<div id=${`${id}-err`} class="error" role="alert">${err}</div>`}
  </div>`;
}

/** Form text → a JSON merge patch: numbers as numbers, true/false as booleans, nested by the dotted name. */
function patchOf(values: Record<string, string>, schema: Schema): Record<string, unknown> {
  const out: Record<string, any> = {};
  for (const [name, raw] of Object.entries(values)) {
    if (raw.trim() === '') continue;
    const path = name.split('.');
    let s: Schema | undefined = schema;
    for (const p of path) s = s?.properties?.[p];
    const v = s?.type === 'integer' || s?.type === 'number' ? (Number.isFinite(Number(raw)) ? Number(raw) : raw) : s?.type === 'boolean' ? raw === 'true' : raw;
    let o = out;
    for (const p of path.slice(0, -1)) o = o[p] ??= {};
    o[path.at(-1)!] = v;
  }
  return out;
}

export function ConfigsView({ me }: { me: Me }) {
  const [kinds, setKinds] = useState<any[]>([]);
  const [sites, setSites] = useState<string[]>([]);
  const [site, setSite] = useState('');
  const [kind, setKind] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [note, setNote] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [rollouts, setRollouts] = useState<any[]>([]);
  useEffect(() => {
    void quietly(api('GET', '/api/v1/kinds').then((r) => setKinds(r.kinds)));
    void quietly(api('GET', '/api/v1/devices').then((r) => setSites([...new Set<string>(r.devices.map((d: any) => d.site))].sort())));
    const load = () => quietly(api('GET', '/api/v1/config/rollouts').then((r) => setRollouts(r.rollouts.slice(0, 5))));
    load();
    const t = setInterval(load, 1000);
    return () => clearInterval(t);
  }, []);
  const schema: Schema | undefined = kinds.find((k) => k.kind === kind)?.config;
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setMessage('');
    const patch = patchOf(values, schema ?? {});
    if (!Object.keys(patch).length) return setMessage('Change at least one field.');
    try {
      const r = await api('POST', '/api/v1/config/rollouts', { selector: { site, kind }, patch, ...(note ? { note } : {}) });
      setMessage(`Rollout ${r.id} started: ${r.total} devices.`);
      setValues({});
    } catch (err) {
      const a = err as ApiError;
      const byField: Record<string, string> = {};
      // Rollout problems are per device ("door-01: heldOpenTimeoutS"): the field is what follows the device.
      for (const d of a.details)
        byField[
          d.path
            .replace(/^[^:]*: /, '')
            .replace(/^\/?(patch|config)[./]/, '')
            .replace(/\//g, '.')
        ] = d.message;
      setErrors(byField);
      setMessage(a.message);
    }
  };
  const canPush = me.role === 'engineer' || me.role === 'admin';
  return html`<section aria-labelledby="configs-h">
    <h2 id="configs-h">Configurations</h2>
    ${!canPush && html`<p class="muted">Pushing configurations takes an engineer or admin.</p>`}
    ${
      canPush &&
      html`<form onSubmit=${submit} aria-label="Push a configuration">
        <div class="filters">
          <label
            >Site
            <select required value=${site} onChange=${(e: any) => setSite(e.currentTarget.value)}>
              <option value="">choose</option>
              ${sites.map((s) => html`<option>${s}</option>`)}
            </select></label
          >
          <label
            >Kind
            <select required value=${kind} onChange=${(e: any) => (setKind(e.currentTarget.value), setValues({}), setErrors({}))}>
              <option value="">choose</option>
              ${kinds.map((k) => html`<option value=${k.kind}>${k.title}</option>`)}
            </select></label
          >
        </div>
        ${schema && Object.entries(schema.properties ?? {}).map(([k, s]) => html`<${Field} name=${k} s=${s} values=${values} set=${(n: string, v: string) => setValues({ ...values, [n]: v })} errors=${errors} />`)}
        ${schema && html`<label>Note <input value=${note} onInput=${(e: any) => setNote(e.currentTarget.value)} /></label> <button type="submit">Push to ${kind} devices of ${site || '…'} (canary first)</button>`}
        ${message && html`<p role="status" class=${Object.keys(errors).length ? 'error' : ''}>${message}</p>`}
      </form>`
    }
    <h3>Recent rollouts</h3>
    <ul class="rollouts">
      ${rollouts.map(
        (r) =>
          html`<li data-rollout=${r.id} data-state=${r.state}>
            <strong>${r.id}</strong> ${r.selector.site}/${r.selector.kind} — <span class="state">${r.state}</span>${r.reason ? ` (${r.reason})` : ''}
            <ol>
              ${r.waves.map((w: any, i: number) => {
                const st = Object.values(w.status ?? {}) as string[];
                return html`<li data-wave=${i + 1}>
                  wave ${i + 1}${i === 0 ? ' (canary)' : ''}: ${st.filter((x) => x === 'in_sync').length}/${w.devices.length} in sync, ${w.failed} failed,
                  ${st.filter((x) => x === 'pending').length} pending${w.done ? ' ✓' : ''}
                </li>`;
              })}
            </ol>
            ${canPush && r.state !== 'rolled_back' && html`<button onClick=${() => api('POST', `/api/v1/config/rollouts/${r.id}/rollback`).catch((e) => setMessage(e.message))}>Roll back</button>`}
          </li>`,
      )}
    </ul>
  </section>`;
}
