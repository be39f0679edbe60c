// What several views of the console share: the deadline clock (which deadline a report waits on,
// how much of its window is left, its lane), badges, short texts, distances.

import { t } from '../shared/i18n.js';
import { h } from '../shared/dom.js';
import { untilDeadline, formatDateTime } from '../shared/time.js';

export const OPEN = ['submitted', 'received', 'assigned', 'in_progress', 'reopened'];
export const ALL_STATUSES = ['submitted', 'received', 'assigned', 'in_progress', 'reopened', 'resolved', 'rejected', 'duplicate', 'closed'];
export const SEVERITIES = ['low', 'normal', 'high', 'urgent'];

/** Less than this share of the window left: the report is "at risk". */
const AT_RISK_SHARE = 0.25;

/**
 * The deadline a report waits on now and where it stands: `{kind: 'ack'|'resolve', at, left,
 * lane: 'late'|'risk'|'ok'|'done'}`. Working-time minutes come from the API when it gives them
 * (`working_minutes_left`); otherwise calendar time, from `created_at` to the deadline.
 */
export function deadlineOf(r, now = Date.now()) {
  if (!OPEN.includes(r.status)) return { kind: null, lane: 'done' };
  const kind = r.status === 'submitted' ? 'ack' : 'resolve';
  const at = kind === 'ack' ? r.ack_by : r.resolve_by;
  const left = untilDeadline(at, now);
  if (!left) return { kind, lane: 'ok' };
  const late = kind === 'ack' ? (r.ack_overdue || left.late) : (r.overdue || left.late);
  let lane = late ? 'late' : 'ok';
  if (!late) {
    const start = new Date(r.created_at).getTime();
    const end = new Date(at).getTime();
    const window = end - start;
    const remaining = typeof r.working_minutes_left === 'number' && typeof r.working_minutes_total === 'number'
      ? r.working_minutes_left / Math.max(1, r.working_minutes_total)
      : window > 0 ? (end - now) / window : 0;
    if (remaining < AT_RISK_SHARE) lane = 'risk';
  }
  return { kind, at, left, lane, late };
}

/** "Hạn xử lý: còn 3 giờ 5 phút (14:30 08/12/2026)" as a badge-bearing element. */
export function deadlineClock(r, now = Date.now()) {
  const d = deadlineOf(r, now);
  if (d.lane === 'done') {
    return h('span', { class: 'muted' }, r.resolved_at ? t('deadline.resolved_at', { at: formatDateTime(r.resolved_at) }) : '');
  }
  if (!d.left) return h('span', {}, '');
  const cls = d.lane === 'late' ? 'badge late' : d.lane === 'risk' ? 'badge risk' : 'badge ok';
  return h('span', { class: 'deadline' },
    h('span', {}, t(d.kind === 'ack' ? 'deadline.ack' : 'deadline.resolve'), ': '),
    h('span', { class: cls }, d.lane === 'late' ? `${t('lane.late_short')} · ${d.left.text}` : d.lane === 'risk' ? `${t('lane.risk_short')} · ${d.left.text}` : d.left.text),
    ' ',
    h('span', { class: 'muted' }, `(${formatDateTime(d.at)})`));
}

export function statusBadge(status) {
  return h('span', { class: `badge status-${status}` }, t(`status.${status}`));
}

export function severityBadge(sev) {
  return h('span', { class: `badge sev-${sev}` }, `${t('report.severity')}: ${t(`severity.${sev}`)}`);
}

/** The first `n` characters of a text, whole words, with an ellipsis. */
export function short(text, n = 140) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  if (s.length <= n) return s;
  const cut = s.slice(0, n);
  const sp = cut.lastIndexOf(' ');
  return (sp > n * 0.6 ? cut.slice(0, sp) : cut) + '…';
}

/** Metres between two points (haversine). */
export function distanceM(a, b) {
  const R = 6371000;
  const rad = (x) => (x * Math.PI) / 180;
  const dLat = rad(b.lat - a.lat);
  const dLon = rad(b.lon - a.lon);
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * R * Math.asin(Math.sqrt(s));
}

/** The query parameters of the current URL as a plain object. */
export function params() {
  return Object.fromEntries(new URLSearchParams(location.search));
}

/** A `<select>` with a label, options `[[value, text]]`. */
export function selectField(id, label, options, value, attrs = {}) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, name: id, ...attrs },
      options.map(([v, text]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, text))));
}

export function textField(id, label, attrs = {}, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    h(attrs.multiline ? 'textarea' : 'input', { id, name: id, ...attrs, multiline: null, 'aria-describedby': hint ? `${id}-hint` : null }));
}

export function checkField(id, label, checked) {
  return h('div', { class: 'check' },
    h('input', { type: 'checkbox', id, name: id, checked }),
    h('label', { for: id }, label));
}
