/**
 * The API client: the principal's token lives in this tab's session storage only (never in a URL, never in
 * local storage), and signing out forgets it. Errors carry the API's code, message and field details.
 */
const KEY = 'vigil.token';

export interface Me {
  id: string;
  role: 'consumer' | 'engineer' | 'admin';
  sites: string[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export const session = {
  get token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  set(token: string): void {
    sessionStorage.setItem(KEY, token);
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};

export async function api<T = any>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
  const token = session.token;
  const res = await fetch(path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': contentType } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  // The token stopped working mid-session (revoked, rotated): the page signs out rather than show stale data.
  if (res.status === 401 && token) dispatchEvent(new CustomEvent('vigil:unauthorized', { detail: data.message ?? 'signed out' }));
  if (!res.ok) throw new ApiError(res.status, data.code ?? 'VIGIL_ERR_INTERNAL', data.message ?? res.statusText, data.details ?? []);
  return data as T;
}

/** An evidence picture as an object URL (the API wants the token, so no plain <img src>). */
export async function picture(path: string): Promise<string> {
  const res = await fetch(path, { headers: { authorization: `Bearer ${session.token ?? ''}` } });
  if (!res.ok) throw new ApiError(res.status, 'VIGIL_ERR_NOT_FOUND', `picture ${path}: ${res.status}`);
  return URL.createObjectURL(await res.blob());
}

export const can = (me: Me | null, ...roles: Me['role'][]) => !!me && roles.includes(me.role);

/** A background read (a refresh): an API refusal is shown by the view's next state or by signing out, never thrown. */
export function quietly<T>(p: Promise<T>): Promise<T | undefined> {
  return p.catch((err: unknown) => {
    if (!(err instanceof ApiError)) console.error(err);
    return undefined;
  });
}
