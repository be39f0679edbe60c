// Statistics for the ward's chairman: the on-time rate (open reports already past their deadline
// count as late, not only closed ones), received and resolved by month, by category, unit and
// khu phố, the online share and satisfaction, as bar charts with their tables, and the CSV.

import { t } from '../shared/i18n.js';
import { h, mount, focusHeading, errorSummary } from '../shared/dom.js';
import { wardDay } from '../shared/time.js';
import { barChart } from '../shared/chart.js';
import { params } from './util.js';

const pct = (x) => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : '–');
const num = (x, d = 1) => (Number.isFinite(x) ? x.toLocaleString('vi-VN', { maximumFractionDigits: d }) : '–');

/** On time among everything that was due: resolved on time / (resolved + still open and late). */
export function onTimeRate(f) {
  const due = f.resolved + f.overdue_open;
  return due ? f.resolved_on_time / due : NaN;
}

export async function statsView(ctx, main) {
  const q = params();
  const today = wardDay();
  const [y, m] = today.split('-').map(Number);
  const start = new Date(Date.UTC(y, m - 12, 1));
  const defFrom = `${start.getUTCFullYear()}-${String(start.getUTCMonth() + 1).padStart(2, '0')}-01`;
  const from = /^\d{4}-\d{2}-\d{2}$/.test(q.from || '') ? q.from : defFrom;
  const to = /^\d{4}-\d{2}-\d{2}$/.test(q.to || '') ? q.to : today;
  const range = { from: `${from}T00:00:00+07:00`, to: `${to}T23:59:59+07:00` };

  const errors = h('div');
  const body = h('div', { 'aria-live': 'polite' });
  const form = h('form', {
    class: 'row period',
    novalidate: true,
    onsubmit: (e) => {
      e.preventDefault();
      const f = form.querySelector('#from').value;
      const tt = form.querySelector('#to').value;
      if (!f || !tt || f > tt) {
        mount(errors, errorSummary(t('err.title'), [{ text: t('stats.bad_period'), field: 'from' }]));
        return;
      }
      ctx.navigate(`/staff/stats?from=${f}&to=${tt}`);
    },
  },
  h('div', { class: 'field' }, h('label', { for: 'from' }, t('stats.from')), h('input', { type: 'date', id: 'from', value: from })),
  h('div', { class: 'field' }, h('label', { for: 'to' }, t('stats.to')), h('input', { type: 'date', id: 'to', value: to })),
  h('button', { type: 'submit', class: 'secondary' }, t('stats.show')));

  const csv = h('button', { type: 'button', class: 'secondary', onclick: downloadCsv }, t('stats.csv'));
  mount(main, h('h1', {}, t('stats.title')), errors, form, h('p', {}, csv), body);
  document.title = `${t('stats.title')} · Wardline`;
  focusHeading(main);

  async function downloadCsv() {
    csv.disabled = true;
    try {
      const r = await ctx.api.request('GET', '/v1/stats/reports.csv', undefined, { query: { ...range, group_by: 'category' }, raw: true });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const url = URL.createObjectURL(await r.blob());
      const a = h('a', { href: url, download: `wardline-thong-ke-${from}-${to}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      ctx.showError(errors, e);
    } finally {
      csv.disabled = false;
    }
  }

  let data;
  try {
    const get = (g) => ctx.api.get('/v1/stats/reports', { query: { ...range, group_by: g } });
    const [month, category, unit, area] = await Promise.all([get('month'), get('category'), get('unit'), get('area')]);
    data = { month, category, unit, area };
  } catch (e) {
    ctx.showError(body, e);
    return;
  }

  const total = data.month.find((f) => f.group === 'all') || { received: 0, resolved: 0, resolved_on_time: 0, overdue_open: 0, rated: 0 };
  const groups = (rows) => rows.filter((f) => f.group !== 'all');
  const monthLabel = (g) => { const [yy, mm] = g.split('-'); return mm ? `${mm}/${yy}` : g; };
  const unitLabel = (g) => (g === 'unrouted' ? t('common.unrouted') : g);
  const areaLabel = (g) => (g === 'none' || g === 'unknown' || !g ? t('stats.no_area') : g);

  const card = (label, value, note) => h('div', { class: 'stat-card' },
    h('p', { class: 'stat-label' }, label),
    h('p', { class: 'stat-value' }, value),
    note ? h('p', { class: 'muted small' }, note) : null);

  const chartOpts = { tableLabel: t('stats.table'), groupLabel: t('stats.group') };
  const recRes = (rows, label) => barChart({
    ...chartOpts,
    title: label,
    series: [{ name: t('stats.received') }, { name: t('stats.resolved') }],
    rows: rows.map((f) => ({ label: f.label, values: [f.received, f.resolved] })),
  });
  const onTime = (rows, label) => barChart({
    ...chartOpts,
    title: label,
    max: 1,
    format: pct,
    series: [{ name: t('stats.on_time'), color: '#1b6e35' }],
    rows: rows.map((f) => ({ label: f.label, values: [onTimeRate(f)] })),
  });
  const labelled = (rows, fn) => groups(rows).map((f) => ({ ...f, label: fn(f.group) }));

  const months = labelled(data.month, monthLabel);
  const cats = labelled(data.category, (c) => ctx.categoryName(c)).sort((a, b) => b.received - a.received);
  const units = labelled(data.unit, unitLabel).sort((a, b) => b.received - a.received);
  const areas = labelled(data.area, areaLabel).sort((a, b) => b.received - a.received);

  mount(body,
    h('section', { 'aria-labelledby': 'sum-h' },
      h('h2', { id: 'sum-h' }, t('stats.summary')),
      h('div', { class: 'stat-cards' },
        card(t('stats.on_time'), pct(onTimeRate(total)), t('stats.on_time_note', { ok: total.resolved_on_time, due: total.resolved + total.overdue_open })),
        card(t('stats.received'), num(total.received, 0)),
        card(t('stats.resolved'), num(total.resolved, 0)),
        card(t('stats.overdue_open'), num(total.overdue_open, 0)),
        card(t('stats.median_ack'), Number.isFinite(total.median_ack_hours) ? t('stats.hours', { n: num(total.median_ack_hours) }) : '–'),
        card(t('stats.median_resolve'), Number.isFinite(total.median_resolve_hours) ? t('stats.hours', { n: num(total.median_resolve_hours) }) : '–'),
        card(t('stats.online'), pct(total.online_share)),
        card(t('stats.satisfaction'), Number.isFinite(total.satisfaction_avg) ? `${num(total.satisfaction_avg)}/5` : '–', t('stats.rated', { n: total.rated })))),
    h('section', { 'aria-labelledby': 'm-h' }, h('h2', { id: 'm-h' }, t('stats.by_month')),
      months.length ? recRes(months, t('stats.by_month_chart')) : h('p', { class: 'muted' }, t('stats.nothing'))),
    h('section', { 'aria-labelledby': 'c-h' }, h('h2', { id: 'c-h' }, t('stats.by_category')),
      cats.length ? [recRes(cats, t('stats.by_category_chart')), onTime(cats, t('stats.on_time_by_category'))] : h('p', { class: 'muted' }, t('stats.nothing'))),
    h('section', { 'aria-labelledby': 'u-h' }, h('h2', { id: 'u-h' }, t('stats.by_unit')),
      units.length ? [recRes(units, t('stats.by_unit_chart')), onTime(units, t('stats.on_time_by_unit'))] : h('p', { class: 'muted' }, t('stats.nothing'))),
    h('section', { 'aria-labelledby': 'a-h' }, h('h2', { id: 'a-h' }, t('stats.by_area')),
      areas.length ? [recRes(areas, t('stats.by_area_chart')), onTime(areas, t('stats.on_time_by_area'))] : h('p', { class: 'muted' }, t('stats.nothing'))),
    h('p', { class: 'muted small' }, t('stats.footnote')));
}
