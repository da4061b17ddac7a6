/** Preact with htm: components written as tagged templates, so the build needs no JSX transform. */
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

export const ago = (iso: string | null | undefined, now = Date.now()) => {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.floor(s / 60)} min ago` : s < 86_400 ? `${Math.floor(s / 3600)} h ago` : `${Math.floor(s / 86_400)} d ago`;
};

export const clock = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

export const time = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '—');
