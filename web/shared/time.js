// Times in ward time (+07:00, Asia/Ho_Chi_Minh), whatever the device's own zone.

import { currentLang, t } from './i18n.js';

export const WARD_TZ = 'Asia/Ho_Chi_Minh';

function fmt(opts) {
  return new Intl.DateTimeFormat(currentLang() === 'en' ? 'en-GB' : 'vi-VN', { timeZone: WARD_TZ, ...opts });
}

/** "07/12/2026 14:05" */
export function formatDateTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return fmt({ day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false }).format(d);
}

/** "07/12/2026" */
export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return fmt({ day: '2-digit', month: '2-digit', year: 'numeric' }).format(d);
}

/** "14:05" */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return fmt({ hour: '2-digit', minute: '2-digit', hour12: false }).format(d);
}

/** The ward's calendar day of an instant, as `YYYY-MM-DD`. */
export function wardDay(date = new Date()) {
  const parts = fmt({ year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(date);
  const get = (k) => parts.find((p) => p.type === k)?.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** "5 phút trước" */
export function ago(iso, now = Date.now()) {
  const ms = now - new Date(iso).getTime();
  const min = Math.floor(ms / 60000);
  if (min < 1) return t('time.now');
  if (min < 60) return t('time.min_ago', { n: min });
  const h = Math.floor(min / 60);
  if (h < 24) return t('time.hour_ago', { n: h });
  return t('time.day_ago', { n: Math.floor(h / 24) });
}

/**
 * Time to (or past) a deadline in calendar time: `{text, late, minutes}`.
 * Working-time figures come from the API where it gives them; this is the clock's text.
 */
export function untilDeadline(iso, now = Date.now()) {
  if (!iso) return null;
  const minutes = Math.round((new Date(iso).getTime() - now) / 60000);
  const late = minutes < 0;
  const m = Math.abs(minutes);
  const d = Math.floor(m / 1440);
  const h = Math.floor((m % 1440) / 60);
  const mm = m % 60;
  let text;
  if (m < 60) text = t(late ? 'time.late_min' : 'time.in_min', { n: m });
  else if (m < 1440) text = t(late ? 'time.late_hour' : 'time.in_hour', { h: Math.floor(m / 60), m: mm });
  else text = t(late ? 'time.late_day' : 'time.in_day', { d, h });
  return { text, late, minutes };
}

/** "1:05" or "1:02:05" for a duration in seconds (call timers, waiting times). */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
