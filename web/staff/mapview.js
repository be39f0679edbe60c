// The map: the reports of my queue as circle markers (clustered when they crowd), coloured by
// deadline lane, over the ward's own outlines when the API gives them; no tile server. The same
// reports are listed below the map for keyboard and screen-reader users.

import { t } from '../shared/i18n.js';
import { h, mount, focusHeading } from '../shared/dom.js';
import { deadlineOf, deadlineClock, statusBadge, short, params, selectField, OPEN, ALL_STATUSES } from './util.js';

export async function mapView(ctx, main) {
  const q = params();
  const mapEl = h('div', { class: 'map big-map' });
  const listBox = h('div');
  const status = h('div', { 'aria-live': 'polite' });
  const outlinesNote = h('p', { class: 'muted small' });
  const form = h('form', {
    class: 'row',
    onsubmit: (e) => {
      e.preventDefault();
      const v = form.querySelector('#map_status').value;
      ctx.navigate('/staff/map' + (v ? `?status=${encodeURIComponent(v)}` : ''));
    },
  },
  selectField('map_status', t('filter.status'), [['', t('filter.open_default')], ['all', t('filter.all_statuses')], ...ALL_STATUSES.map((s) => [s, t(`status.${s}`)])], q.status),
  h('button', { type: 'submit', class: 'secondary' }, t('filter.apply')));

  mount(main,
    h('h1', {}, t('map.title')),
    form,
    h('p', { class: 'row legend' }, h('span', {}, `${t('map.legend')}:`),
      h('span', { class: 'dot dot-late' }), t('lane.late'),
      h('span', { class: 'dot dot-risk' }), t('lane.risk'),
      h('span', { class: 'dot dot-ok' }), t('lane.ok'),
      h('span', { class: 'dot dot-done' }), t('lane.done')),
    status,
    mapEl,
    outlinesNote,
    h('h2', {}, t('map.list')),
    listBox);
  document.title = `${t('map.title')} · Wardline`;
  focusHeading(main);

  let handle = null;
  let reports = [];
  try {
    const { createMap } = await import('../shared/map.js');
    handle = createMap(mapEl, { label: t('map.label'), zoomIn: t('map.zoom_in'), zoomOut: t('map.zoom_out'), onOpen: (href) => ctx.navigate(href) });
  } catch {
    mount(mapEl, h('p', { class: 'notice warn' }, t('map.unavailable')));
  }

  // The ward's outlines (`GET /v1/areas?geometry=true`): the imported GeoJSON, no tile server.
  let withShapes = [];
  try {
    withShapes = await ctx.api.get('/v1/areas', { query: { geometry: 'true' } });
  } catch {
    withShapes = ctx.ref.areas;
  }
  const shapes = (withShapes || []).filter((a) => a.geometry).map((a) => ({ type: 'Feature', properties: { name: a.name }, geometry: a.geometry }));
  if (shapes.length && handle) handle.outlines({ type: 'FeatureCollection', features: shapes });
  else mount(outlinesNote, t('map.no_outlines'));

  async function load() {
    const statusQ = q.status === 'all' ? ALL_STATUSES.join(',') : q.status || OPEN.join(',');
    const all = [];
    try {
      for (let offset = 0; offset < 1000; offset += 200) {
        const page = await ctx.api.get('/v1/staff/reports', { query: { status: statusQ, limit: 200, offset } });
        all.push(...page);
        if (page.length < 200) break;
      }
    } catch (e) {
      ctx.showError(status, e);
      return;
    }
    reports = all;
    handle?.points(reports.map((r) => ({ lat: r.lat, lon: r.lon, kind: deadlineOf(r).lane, title: short(r.description, 60), href: `/staff/reports/${r.id}` })), { cluster: true });
    handle?.fit();
    mount(status, h('p', { class: 'muted' }, t('map.count', { n: reports.length })));
    mount(listBox, reports.length ? h('ul', { class: 'cards' }, reports.map((r) => h('li', { class: `card lane-${deadlineOf(r).lane}` },
      h('div', { class: 'card-body' },
        h('p', {}, h('a', { href: `/staff/reports/${r.id}` }, short(r.description, 100))),
        h('p', { class: 'row meta' }, statusBadge(r.status), h('span', {}, ctx.categoryName(r.category_code)), r.area ? h('span', {}, r.area.name) : null),
        h('p', {}, deadlineClock(r)))))) : h('p', { class: 'notice' }, t('queue.empty')));
  }

  let timer = null;
  ctx.onLive = () => { clearTimeout(timer); timer = setTimeout(load, 500); };
  await load();
  return { leave() { clearTimeout(timer); handle?.remove(); } };
}
