// The queue: reports of my units plus unrouted ones, soonest deadline first, in three lanes
// (overdue, at risk, on time); filters and the page live in the URL so a view can be bookmarked;
// live events refetch it; several reports can be acknowledged or assigned at once.

import { t } from '../shared/i18n.js';
import { h, mount, announce, focusHeading } from '../shared/dom.js';
import { ago } from '../shared/time.js';
import { ALL_STATUSES, deadlineOf, deadlineClock, statusBadge, severityBadge, short, params, selectField, checkField } from './util.js';

const PAGE = 50;

/** The API query for the queue's filters and page `q` (the URL's parameters). */
function queueQuery(q) {
  const offset = Math.max(0, parseInt(q.offset || '0', 10) || 0);
  const out = { limit: PAGE, offset };
  if (q.status && q.status !== 'all') out.status = q.status;
  if (q.status === 'all') out.status = ALL_STATUSES.join(',');
  for (const k of ['category', 'area_id', 'unit_id', 'assignee_id']) if (q[k]) out[k] = q[k];
  if (q.overdue === '1') out.overdue = true;
  if (q.ack_overdue === '1') out.ack_overdue = true;
  return out;
}

/**
 * The request the queue at the current URL starts with, so the shell can send it together with
 * `/v1/me` (`key` says which page of which filters it is).
 */
export function queueRequest() {
  const query = queueQuery(params());
  return { path: '/v1/staff/reports', query, key: JSON.stringify(query) };
}

export async function queueView(ctx, main) {
  const q = params();
  try { sessionStorage.setItem('wl.staff.queue', location.search); } catch { /* storage off */ }
  const offset = Math.max(0, parseInt(q.offset || '0', 10) || 0);
  const seen = new Set();
  const fresh = new Set();
  const selected = new Set();
  let reports = [];
  let first = true;

  // --- filters (kept in the URL) -------------------------------------------------------------
  const statusOptions = [['', t('filter.open_default')], ['all', t('filter.all_statuses')], ...ALL_STATUSES.map((s) => [s, t(`status.${s}`)])];
  const catOptions = [['', t('filter.all')], ...ctx.ref.categories.map((c) => [c.code, ctx.categoryName(c.code)])];
  const areaOptions = [['', t('filter.all')], ...ctx.ref.areas.filter((a) => a.kind !== 'ward').map((a) => [a.id, a.name])];
  const unitOptions = [['', ctx.isAdmin ? t('filter.all_units') : t('filter.my_units')], ...ctx.ref.units.map((u) => [u.id, u.name])];
  const people = new Set();
  for (const u of ctx.ref.units) for (const m of u.members) people.add(m);
  people.delete(ctx.me.id);
  const assigneeOptions = [['', t('filter.anyone')], [ctx.me.id, t('filter.assigned_to_me')], ...[...people].map((id) => [id, ctx.personName(id)])];

  const form = h('form', {
    class: 'filters',
    'aria-label': t('filter.label'),
    onsubmit: (e) => {
      e.preventDefault();
      const fd = new FormData(form);
      const next = new URLSearchParams();
      for (const k of ['status', 'category', 'area_id', 'unit_id', 'assignee_id']) {
        const v = fd.get(k);
        if (v) next.set(k, v);
      }
      if (fd.get('overdue')) next.set('overdue', '1');
      if (fd.get('ack_overdue')) next.set('ack_overdue', '1');
      const s = next.toString();
      ctx.navigate('/staff/' + (s ? `?${s}` : ''));
    },
  },
  h('div', { class: 'filter-grid' },
    selectField('status', t('filter.status'), statusOptions, q.status),
    selectField('category', t('filter.category'), catOptions, q.category),
    selectField('area_id', t('filter.area'), areaOptions, q.area_id),
    selectField('unit_id', t('filter.unit'), unitOptions, q.unit_id),
    selectField('assignee_id', t('filter.assignee'), assigneeOptions, q.assignee_id)),
  h('div', { class: 'row' },
    checkField('overdue', t('filter.overdue'), q.overdue === '1'),
    checkField('ack_overdue', t('filter.ack_overdue'), q.ack_overdue === '1')),
  h('div', { class: 'row' },
    h('button', { type: 'submit' }, t('filter.apply')),
    h('a', { href: '/staff/', class: 'button secondary' }, t('filter.clear'))));

  const status = h('div', { 'aria-live': 'polite' });
  const bulk = h('div', { class: 'bulk' });
  // Busy until the first page is drawn (and again while a refetch runs).
  const list = h('div', { class: 'lanes', 'aria-busy': 'true' }, h('p', { class: 'muted' }, t('common.loading')));
  const pager = h('nav', { 'aria-label': t('queue.pages') });
  const live = h('p', { class: 'sr-only', role: 'status' });

  mount(main,
    h('h1', {}, t('queue.title')),
    h('details', { class: 'filter-box', open: Object.keys(q).some((k) => k !== 'offset') ? true : null },
      h('summary', {}, t('filter.label')),
      form),
    status, bulk, list, pager, live);
  document.title = `${t('queue.title')} · Wardline`;

  const query = () => queueQuery(q);

  async function load({ quiet } = {}) {
    list.setAttribute('aria-busy', 'true');
    try {
      // The first page may already be on its way (asked for with the account at start-up).
      const early = first ? ctx.takeEarlyQueue?.(JSON.stringify(query())) : null;
      const again = () => ctx.api.get('/v1/staff/reports', { query: query() });
      const next = await (early ? early.catch(again) : again());
      if (!first) {
        const added = next.filter((r) => !seen.has(r.id));
        for (const r of added) fresh.add(r.id);
        if (added.length) announce(t('queue.new_arrived', { n: added.length }));
      }
      for (const r of next) seen.add(r.id);
      reports = next;
      for (const id of [...selected]) if (!reports.some((r) => r.id === id)) selected.delete(id);
      draw();
      if (!quiet) mount(status);
    } catch (e) {
      reports = [];
      mount(list);
      mount(bulk);
      ctx.showError(status, e);
    }
    list.setAttribute('aria-busy', 'false');
    first = false;
  }

  function card(r) {
    const d = deadlineOf(r);
    const box = h('input', {
      type: 'checkbox',
      id: `sel-${r.id}`,
      checked: selected.has(r.id),
      'aria-label': `${t('queue.select')}: ${short(r.description, 60)}`,
      onchange: (e) => {
        if (e.target.checked) selected.add(r.id); else selected.delete(r.id);
        drawBulk();
      },
    });
    return h('li', { class: `card lane-${d.lane}` },
      h('div', { class: 'card-select' }, box, h('label', { for: `sel-${r.id}`, class: 'select-label' }, t('queue.select'))),
      h('div', { class: 'card-body' },
        h('h3', { class: 'card-title' },
          h('a', { href: `/staff/reports/${r.id}` }, short(r.description)),
          fresh.has(r.id) ? h('span', { class: 'badge new' }, t('queue.new')) : null),
        h('p', { class: 'row meta' },
          statusBadge(r.status),
          severityBadge(r.severity),
          h('span', {}, ctx.categoryName(r.category_code)),
          r.area ? h('span', {}, `${t('report.area')}: ${r.area.name}`) : null),
        h('p', { class: 'deadline-line' }, deadlineClock(r)),
        h('p', { class: 'muted small' },
          `${t('report.received')} ${ago(r.created_at)}`,
          ' · ', ctx.unitName(r.unit_id),
          r.assignee_id ? ` · ${t('report.assignee')}: ${ctx.personName(r.assignee_id)}` : '',
          r.me_too_count ? ` · ${t('report.me_too', { n: r.me_too_count })}` : '',
          r.address ? ` · ${short(r.address, 60)}` : '')));
  }

  function draw() {
    // A redraw (live event, clock tick) must not lose a keyboard user's place.
    const active = document.activeElement;
    const keep = active && (list.contains(active) || bulk.contains(active) || pager.contains(active))
      ? { id: active.id, href: active.getAttribute('href') } : null;
    drawLists();
    if (keep) {
      const again = (keep.id && document.getElementById(keep.id))
        || (keep.href && [...main.querySelectorAll('a[href]')].find((a) => a.getAttribute('href') === keep.href));
      again?.focus();
    }
  }

  function drawLists() {
    const lanes = { late: [], risk: [], ok: [], done: [] };
    for (const r of reports) lanes[deadlineOf(r).lane].push(r);
    const section = (key, items) => (items.length ? h('section', { class: `lane lane-box-${key}`, 'aria-labelledby': `lane-${key}` },
      h('h2', { id: `lane-${key}` }, `${t(`lane.${key}`)} (${items.length})`),
      h('ul', { class: 'cards' }, items.map(card))) : null);
    if (!reports.length) {
      mount(list, h('p', { class: 'notice' }, offset ? t('queue.empty_page') : t('queue.empty')));
    } else {
      mount(list, section('late', lanes.late), section('risk', lanes.risk), section('ok', lanes.ok), section('done', lanes.done));
    }
    drawBulk();
    const prev = new URLSearchParams(location.search);
    const link = (o, key) => {
      const p = new URLSearchParams(prev);
      if (o) p.set('offset', String(o)); else p.delete('offset');
      const s = p.toString();
      return h('a', { href: '/staff/' + (s ? `?${s}` : ''), class: 'button secondary' }, t(key));
    };
    mount(pager, h('div', { class: 'row' },
      offset > 0 ? link(Math.max(0, offset - PAGE), 'queue.prev') : null,
      h('span', { class: 'muted' }, t('queue.showing', { from: reports.length ? offset + 1 : 0, to: offset + reports.length })),
      reports.length === PAGE ? link(offset + PAGE, 'queue.next') : null));
  }

  function drawBulk() {
    if (!reports.length) { mount(bulk); return; }
    const all = h('input', {
      type: 'checkbox',
      id: 'select-all',
      checked: reports.length > 0 && reports.every((r) => selected.has(r.id)),
      onchange: (e) => {
        for (const r of reports) if (e.target.checked) selected.add(r.id); else selected.delete(r.id);
        draw();
      },
    });
    const unitSel = h('select', { id: 'bulk-unit' },
      h('option', { value: '' }, t('bulk.pick_unit')),
      ctx.ref.units.map((u) => h('option', { value: u.id }, u.name)));
    const result = h('div', { 'aria-live': 'polite' });
    const n = selected.size;
    mount(bulk, h('section', { class: 'bulk-bar', 'aria-labelledby': 'bulk-h' },
      h('h2', { id: 'bulk-h', class: 'sr-only' }, t('bulk.title')),
      h('div', { class: 'row' },
        h('div', { class: 'check' }, all, h('label', { for: 'select-all' }, t('bulk.select_all'))),
        h('span', { class: 'muted' }, t('bulk.count', { n }))),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', disabled: !n, onclick: () => act('receive') }, t('bulk.receive')),
        h('label', { for: 'bulk-unit', class: 'inline' }, t('bulk.unit')),
        unitSel,
        h('button', { type: 'button', class: 'secondary', disabled: !n, onclick: () => act('assign', unitSel.value) }, t('bulk.assign'))),
      result));

    async function act(action, unitId) {
      if (action === 'assign' && !unitId) {
        mount(result, h('p', { class: 'field-error', role: 'alert' }, t('bulk.unit_missing')));
        unitSel.focus();
        return;
      }
      const targets = reports.filter((r) => selected.has(r.id));
      let ok = 0;
      const failed = [];
      for (const r of targets) {
        if (action === 'receive' && r.status !== 'submitted') { failed.push(`${short(r.description, 40)}: ${t('bulk.not_new')}`); continue; }
        try {
          await ctx.api.post(`/v1/staff/reports/${r.id}/transition`, action === 'assign' ? { action, unit_id: unitId } : { action });
          ok += 1;
          selected.delete(r.id);
        } catch (e) {
          failed.push(`${short(r.description, 40)}: ${e.message}`);
        }
      }
      await load({ quiet: true });
      const msg = t('bulk.done', { n: ok });
      mount(status, h('div', { class: failed.length ? 'notice warn' : 'notice ok', role: 'status' },
        h('p', {}, msg),
        failed.length ? h('ul', {}, failed.map((f) => h('li', {}, f))) : null));
    }
  }

  // --- live: any event may change what this view shows; refetch (debounced) ---------------------
  let timer = null;
  ctx.onLive = () => {
    clearTimeout(timer);
    timer = setTimeout(() => load({ quiet: true }), 250);
  };
  // The clocks move: redraw them every minute.
  const tick = setInterval(() => { if (reports.length) draw(); }, 60000);

  await load();
  focusHeading(main);
  return { leave() { clearInterval(tick); clearTimeout(timer); } };
}
