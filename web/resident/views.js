// The resident's pages besides the form: the start page, "Phản ánh của tôi" (with the drafts
// still waiting), one report (history, conversation, rating, reopening), the public feed and the
// notifications. Every text from the server goes in as text (h() never parses HTML).

import { ApiError } from '../shared/api.js';
import { t } from '../shared/i18n.js';
import { h, mount, announce } from '../shared/dom.js';
import { formatDateTime, ago } from '../shared/time.js';
import { listDrafts, deleteDraft, sendDraft, events as draftEvents } from './drafts.js';
import { field, setFieldErrors, statusBadge, loadCategories, categoryName, OPEN } from './ui.js';
import { errorSummary } from '../shared/dom.js';

// --- start page ---------------------------------------------------------------------------------
export async function homeView(el, ctx) {
  const { api } = ctx;
  loadCategories(api).catch(() => {}); // kept on the device for the offline form
  if (!api.signedIn) {
    const { signInView } = await import('./signin.js');
    const intro = h('div', { class: 'intro' },
      h('p', { class: 'lead' }, t('home.lead')),
      howTo());
    await signInView(el, { ...ctx, why: null, after: '#/' });
    if (!ctx.current()) return;
    // The sign-in question stays first; the explanation follows it.
    el.append(intro);
    return;
  }
  const drafts = await listDrafts();
  if (!ctx.current()) return;
  const me = await api.get('/v1/me').catch(() => null);
  if (!ctx.current()) return;
  const waiting = drafts.filter((d) => !d.account || d.account === api.claims?.sub);
  mount(el,
    h('h1', {}, t('home.title')),
    me ? h('p', {}, t('home.signedin', { phone: me.phone })) : null,
    waiting.length ? h('p', { class: 'notice warn' }, t('home.drafts', { n: waiting.length })) : null,
    h('p', { class: 'lead' }, t('home.lead')),
    howTo(),
    h('p', { class: 'muted' }, t('home.call')));
}

function howTo() {
  return h('section', { 'aria-labelledby': 'howto' },
    h('h2', { id: 'howto' }, t('home.steps.title')),
    h('ol', { class: 'steps' },
      h('li', {}, t('home.step1')),
      h('li', {}, t('home.step2')),
      h('li', {}, t('home.step3'))));
}

// --- my reports -------------------------------------------------------------------------------
export async function mineView(el, ctx) {
  const { api } = ctx;
  await loadCategories(api).catch(() => {});
  if (!ctx.current()) return;
  const draftsBox = h('section', { class: 'drafts', 'aria-labelledby': 'drafts-title' });
  const listBox = h('div', { class: 'mine-list' });
  const note = h('div');
  mount(el, h('h1', {}, t('mine.title')), note, draftsBox, listBox);

  async function renderDrafts() {
    if (!ctx.current()) return;
    const drafts = (await listDrafts()).filter((d) => !d.account || d.account === api.claims?.sub);
    if (!drafts.length) { mount(draftsBox); draftsBox.hidden = true; return; }
    draftsBox.hidden = false;
    mount(draftsBox,
      h('h2', { id: 'drafts-title' }, t('draft.list.title')),
      h('p', {}, t('draft.list.lead')),
      h('ul', { class: 'cards' }, drafts.map((d) => h('li', { class: 'card draft' },
        h('h3', {}, categoryName(d.category_code)),
        h('p', { class: 'desc' }, d.description),
        h('p', { class: 'muted' }, formatDateTime(new Date(d.createdAt).toISOString()), ' · ', t('draft.photos', { n: d.photos.length })),
        h('p', { class: `draft-state ${d.state}` }, d.state === 'failed' ? t('draft.failed', { msg: d.error?.message || '' })
          : d.state === 'sending' ? t('draft.sending') : t('draft.waiting')),
        h('div', { class: 'row' },
          d.state === 'failed' ? h('a', { class: 'button secondary small', href: `#/edit/${d.id}` }, t('draft.edit')) : null,
          h('button', {
            type: 'button', class: 'secondary small',
            onclick: async (e) => {
              e.currentTarget.disabled = true;
              try {
                const r = await sendDraft(api, d.id);
                if (r) announce(t('draft.sent.one'));
              } catch { /* shown by the state line */ }
              renderDrafts();
              renderList();
            },
          }, t('draft.retry')),
          h('button', {
            type: 'button', class: 'secondary small danger-text',
            onclick: async () => {
              if (!window.confirm(t('draft.delete.confirm'))) return;
              await deleteDraft(d.id);
              renderDrafts();
            },
          }, t('draft.delete')))))));
  }

  let items = [];
  let next = null;
  async function renderList(more = false) {
    try {
      const page = await api.get('/v1/me/reports', { query: { limit: 20, before: more ? next : undefined } });
      if (!ctx.current()) return;
      items = more ? items.concat(page.items) : page.items;
      next = page.next_before || null;
      mount(note);
    } catch (e) {
      if (!ctx.current()) return;
      mount(note, h('p', { class: 'notice warn' }, e.status === 0 ? t('mine.offline') : e.message));
      if (!more) return;
    }
    if (!items.length) { mount(listBox, h('p', {}, t('mine.empty'))); return; }
    mount(listBox,
      h('ul', { class: 'cards' }, items.map(reportCard)),
      next ? h('button', { type: 'button', class: 'secondary', onclick: () => renderList(true) }, t('mine.more')) : null);
  }

  const onChange = () => renderDrafts();
  const onSent = () => { renderDrafts(); renderList(); };
  draftEvents.addEventListener('change', onChange);
  draftEvents.addEventListener('sent', onSent);
  const stop = () => {
    if (ctx.current()) return;
    draftEvents.removeEventListener('change', onChange);
    draftEvents.removeEventListener('sent', onSent);
    window.removeEventListener('hashchange', stop);
  };
  window.addEventListener('hashchange', stop);
  await renderDrafts();
  await renderList();
}

/** One report in a list: its kind (the link), status, words, first photo, when. */
function reportCard(r) {
  return h('li', { class: 'card report-card' },
    h('h2', { class: 'card-title' }, h('a', { href: `#/report/${r.id}` }, categoryName(r.category_code))),
    h('p', { class: 'row' }, h('span', { class: 'sr-only' }, t('mine.status')), statusBadge(r.status)),
    r.photos?.[0] ? h('img', { class: 'thumb', src: r.photos[0].thumbnail_url, alt: '', width: '96', height: '96', loading: 'lazy' }) : null,
    h('p', { class: 'desc' }, r.description),
    h('p', { class: 'muted' }, t('mine.sent_at', { t: formatDateTime(r.created_at) })));
}

// --- one report -------------------------------------------------------------------------------
export async function reportView(el, ctx) {
  const { api, id } = ctx;
  await loadCategories(api).catch(() => {});
  let detail;
  try {
    detail = await api.get(`/v1/reports/${id}`);
  } catch (e) {
    if (!ctx.current()) return;
    const gone = e instanceof ApiError && (e.status === 404 || e.status === 403);
    mount(el, h('h1', {}, gone ? t('report.notfound') : t('err.generic')),
      gone ? null : h('p', {}, e.message),
      h('p', {}, h('a', { href: '#/' }, t('app.home.link'))));
    return;
  }
  if (!ctx.current()) return;
  const r = detail.report;
  const resolvedAt = r.resolved_at ? new Date(r.resolved_at) : null;
  const reopenUntil = resolvedAt ? new Date(resolvedAt.getTime() + 7 * 86400000) : null;

  const facts = h('dl', { class: 'facts' },
    h('dt', {}, t('report.status')), h('dd', {}, statusBadge(r.status)),
    h('dt', {}, t('report.sent_at')), h('dd', {}, formatDateTime(r.created_at)),
    OPEN.includes(r.status) && r.resolve_by ? [h('dt', {}, t('report.resolve_by')), h('dd', {}, formatDateTime(r.resolve_by))] : null,
    r.resolved_at ? [h('dt', {}, t('report.resolved_at')), h('dd', {}, formatDateTime(r.resolved_at))] : null,
    r.address ? [h('dt', {}, t('report.address')), h('dd', {}, r.address)] : null,
    r.area ? [h('dt', {}, t('report.area')), h('dd', {}, r.area.name)] : null);

  const photos = (list, key) => h('ul', { class: 'photo-list' }, list.map((p, i) =>
    h('li', {}, h('a', { href: p.url, target: '_blank', rel: 'noopener' },
      h('img', { src: p.thumbnail_url, alt: t(key, { n: i + 1 }), width: '120', height: '120', loading: 'lazy' })))));

  const sections = [];
  if (r.public_reply) {
    sections.push(h('section', { class: 'notice ok', 'aria-labelledby': 'reply-title' },
      h('h2', { id: 'reply-title' }, t('report.reply')), h('p', { class: 'desc' }, r.public_reply)));
  }
  if (r.evidence?.length) {
    sections.push(h('section', { 'aria-labelledby': 'evidence-title' },
      h('h2', { id: 'evidence-title' }, t('report.evidence')), photos(r.evidence, 'report.evidence.one')));
  }
  if (r.mine && (r.status === 'resolved' || r.status === 'closed')) sections.push(ratingBox(r, ctx));
  if (r.mine && r.status === 'resolved' && reopenUntil && reopenUntil > new Date()) sections.push(reopenBox(r, reopenUntil, ctx));
  if (!r.mine && api.signedIn && OPEN.includes(r.status)) {
    sections.push(h('p', {}, h('button', {
      type: 'button', class: 'secondary',
      onclick: async (e) => {
        e.currentTarget.disabled = true;
        try {
          await api.post(`/v1/reports/${r.id}/me-too`);
          ctx.setFlash(t('report.metoo.done'));
          ctx.navigate(`#/report/${r.id}`);
        } catch (err) {
          e.currentTarget.disabled = false;
          announce(err.message);
        }
      },
    }, t('report.metoo.button'))));
  }

  mount(el,
    h('h1', {}, categoryName(r.category_code)),
    h('p', { class: 'desc lead' }, r.description),
    facts,
    r.me_too_count ? h('p', {}, t('report.metoo', { n: r.me_too_count })) : null,
    r.duplicate_of ? h('p', {}, t('report.duplicate_of'), ' ', h('a', { href: `#/report/${r.duplicate_of}` }, t('report.duplicate_link'))) : null,
    r.photos?.length ? h('section', { 'aria-labelledby': 'photos-title' },
      h('h2', { id: 'photos-title' }, t('report.photos')), photos(r.photos, 'report.photo')) : null,
    sections,
    history(detail.history, r),
    api.signedIn && OPEN.includes(r.status) && (r.mine || detail.history.some((e) => e.actor === 'resident')) ? commentBox(r, ctx) : null);
}

function history(events, r) {
  const label = (e) => {
    if (e.to_status) return t(`status.${e.to_status}`);
    const key = `event.${e.kind}`;
    const s = t(key);
    return s === key ? e.kind : s;
  };
  const who = (e) => (e.actor === 'staff' ? t('report.actor.staff') : e.actor === 'resident' ? (r.mine ? t('report.actor.resident') : null) : null);
  return h('section', { 'aria-labelledby': 'history-title' },
    h('h2', { id: 'history-title' }, t('report.history')),
    events.length ? h('ol', { class: 'timeline' }, events.filter((e) => !e.internal).map((e) => h('li', {},
      h('p', { class: 'when muted' }, formatDateTime(e.at), who(e) ? ` · ${who(e)}` : ''),
      h('p', { class: 'what' }, h('strong', {}, label(e))),
      e.note ? h('p', { class: 'desc' }, e.note) : null,
      e.photos?.length ? h('ul', { class: 'photo-list' }, e.photos.map((p, i) => h('li', {},
        h('a', { href: p.url, target: '_blank', rel: 'noopener' },
          h('img', { src: p.thumbnail_url, alt: `${t('report.event.comment_photo')} ${i + 1}`, width: '96', height: '96', loading: 'lazy' }))))) : null)))
      : h('p', {}, t('report.history.empty')));
}

function commentBox(r, ctx) {
  const errBox = h('div');
  const ta = h('textarea', { id: 'comment', name: 'comment', rows: '3', maxlength: '2000', 'aria-describedby': 'comment-hint' });
  const btn = h('button', { type: 'submit' }, t('report.comment.send'));
  const form = h('form', { novalidate: true },
    field({ id: 'comment', label: t('report.comment'), hint: t('report.comment.hint'), control: ta }),
    h('div', { class: 'actions' }, btn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = ta.value.trim();
    if (!text) {
      const items = [{ field: 'comment', text: t('report.comment.empty') }];
      mount(errBox, errorSummary(t('form.err.title'), items));
      setFieldErrors(form, items);
      return;
    }
    btn.disabled = true;
    try {
      await ctx.api.post(`/v1/reports/${r.id}/comments`, { text });
      ctx.setFlash(t('report.comment.sent'));
      ctx.navigate(`#/report/${r.id}`);
    } catch (err) {
      btn.disabled = false;
      const items = [{ field: 'comment', text: err.message }];
      mount(errBox, errorSummary(t('form.err.title'), items));
      setFieldErrors(form, items);
    }
  });
  return h('section', { 'aria-labelledby': 'comment-title', class: 'comment-box' },
    h('h2', { id: 'comment-title' }, t('report.comment')), errBox, form);
}

function ratingBox(r, ctx) {
  if (r.rating) {
    return h('section', { 'aria-labelledby': 'rate-title' },
      h('h2', { id: 'rate-title' }, t('report.rate.title')),
      h('p', {}, t('report.rated', { n: r.rating })),
      r.rating_comment ? h('p', { class: 'desc' }, r.rating_comment) : null);
  }
  const errBox = h('div');
  const stars = [5, 4, 3, 2, 1];
  const comment = h('textarea', { id: 'rating-comment', name: 'rating-comment', rows: '3', maxlength: '2000' });
  const btn = h('button', { type: 'submit' }, t('report.rate.send'));
  const form = h('form', { novalidate: true },
    h('fieldset', { class: 'fieldset-field choices', dataset: { field: 'stars-5' } },
      h('legend', {}, t('report.rate.stars')),
      h('p', { class: 'field-error', id: 'stars-5-error', hidden: true }),
      stars.map((n) => h('div', { class: 'choice' },
        h('input', { type: 'radio', name: 'stars', id: `stars-${n}`, value: String(n) }),
        h('label', { for: `stars-${n}` }, t(`report.rate.${n}`))))),
    field({ id: 'rating-comment', label: t('report.rate.comment'), optional: true, control: comment }),
    h('div', { class: 'actions' }, btn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const picked = form.querySelector('input[name="stars"]:checked');
    if (!picked) {
      const items = [{ field: 'stars-5', text: t('report.rate.err') }];
      mount(errBox, errorSummary(t('form.err.title'), items));
      setFieldErrors(form, items);
      return;
    }
    btn.disabled = true;
    try {
      await ctx.api.post(`/v1/reports/${r.id}/rating`, { stars: Number(picked.value), comment: comment.value.trim() });
      ctx.setFlash(t('report.rate.done'));
      ctx.navigate(`#/report/${r.id}`);
    } catch (err) {
      btn.disabled = false;
      mount(errBox, errorSummary(t('form.err.title'), [{ text: err.message }]));
    }
  });
  return h('section', { 'aria-labelledby': 'rate-title', class: 'rate-box' },
    h('h2', { id: 'rate-title' }, t('report.rate.title')),
    h('p', {}, t('report.rate.lead')),
    errBox, form);
}

function reopenBox(r, until, ctx) {
  const errBox = h('div');
  const ta = h('textarea', { id: 'reopen-reason', name: 'reopen-reason', rows: '3', maxlength: '2000' });
  const btn = h('button', { type: 'submit', class: 'secondary' }, t('report.reopen.send'));
  const form = h('form', { novalidate: true },
    field({ id: 'reopen-reason', label: t('report.reopen.reason'), control: ta }),
    h('div', { class: 'actions' }, btn));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const reason = ta.value.trim();
    if (!reason) {
      const items = [{ field: 'reopen-reason', text: t('report.reopen.err') }];
      mount(errBox, errorSummary(t('form.err.title'), items));
      setFieldErrors(form, items);
      return;
    }
    btn.disabled = true;
    try {
      await ctx.api.post(`/v1/reports/${r.id}/reopen`, { reason });
      ctx.setFlash(t('report.reopen.done'));
      ctx.navigate(`#/report/${r.id}`);
    } catch (err) {
      btn.disabled = false;
      mount(errBox, errorSummary(t('form.err.title'), [{ field: 'reopen-reason', text: err.message }]));
    }
  });
  return h('section', { 'aria-labelledby': 'reopen-title', class: 'reopen-box' },
    h('h2', { id: 'reopen-title' }, t('report.reopen.title')),
    h('p', {}, t('report.reopen.lead', { t: formatDateTime(until.toISOString()) })),
    errBox, form);
}

// --- the public feed --------------------------------------------------------------------------
export async function feedView(el, ctx) {
  const { api } = ctx;
  await loadCategories(api).catch(() => {});
  if (!ctx.current()) return;
  const which = ctx.params.get('status') || 'all';
  const statusOf = { all: undefined, open: OPEN.join(','), done: 'resolved,closed' };
  const filter = h('select', { id: 'feed-status', name: 'status' },
    ['all', 'open', 'done'].map((k) => h('option', { value: k, selected: k === which }, t(`feed.status.${k}`))));
  filter.addEventListener('change', () => ctx.navigate(filter.value === 'all' ? '#/feed' : `#/feed?status=${filter.value}`));
  const mapBox = h('div', { class: 'map-box', hidden: true });
  const listBox = h('div', { 'aria-live': 'polite' }, h('p', {}, t('app.loading')));
  mount(el,
    h('h1', {}, t('feed.title')),
    h('p', { class: 'lead' }, t('feed.lead')),
    field({ id: 'feed-status', label: t('feed.status'), control: filter }),
    mapBox,
    listBox);
  let items = [];
  let next = null;
  async function load(more) {
    try {
      const page = await api.get('/v1/reports', { query: { status: statusOf[which], limit: 20, before: more ? next : undefined } });
      if (!ctx.current()) return;
      items = more ? items.concat(page.items) : page.items;
      next = page.next_before || null;
    } catch (e) {
      if (!ctx.current()) return;
      mount(listBox, h('p', { class: 'notice warn' }, e.message));
      return;
    }
    mount(listBox,
      items.length ? h('ul', { class: 'cards' }, items.map((r) => h('li', { class: 'card report-card' },
        h('h2', { class: 'card-title' }, h('a', { href: `#/report/${r.id}` }, categoryName(r.category_code))),
        h('p', { class: 'row' }, statusBadge(r.status), h('span', { class: 'muted' }, ago(r.created_at))),
        r.photos?.[0] ? h('img', { class: 'thumb', src: r.photos[0].thumbnail_url, alt: '', width: '96', height: '96', loading: 'lazy' }) : null,
        h('p', { class: 'desc' }, r.description),
        r.me_too_count ? h('p', { class: 'muted' }, t('report.metoo', { n: r.me_too_count })) : null)))
        : h('p', {}, t('feed.empty')),
      next ? h('button', { type: 'button', class: 'secondary', onclick: () => load(true) }, t('mine.more')) : null);
  }
  await load(false);
  if (ctx.current()) feedMap(mapBox, ctx, () => items);
}

/**
 * The reports on a map, on demand (the map library is large for a 3G line): a button shows it.
 * The ward draws no street tiles, so the list stays the main way to read the feed.
 */
function feedMap(box, ctx, itemsNow) {
  let handle = null;
  const holder = h('div', { class: 'feed-map', hidden: true });
  const btn = h('button', {
    type: 'button', class: 'secondary', 'aria-expanded': 'false',
    onclick: async () => {
      const open = holder.hidden;
      holder.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
      btn.textContent = open ? t('feed.map.hide') : t('feed.map.show');
      if (!open) return;
      if (!handle) {
        try {
          const { createMap } = await import('../shared/map.js');
          if (!ctx.current()) return;
          handle = createMap(holder, { label: t('feed.map'), zoomIn: t('feed.map.in'), zoomOut: t('feed.map.out'), onOpen: (href) => ctx.navigate(href) });
        } catch {
          holder.hidden = true;
          btn.hidden = true;
          return;
        }
      }
      handle.invalidate();
      handle.points(itemsNow().map((r) => ({
        lat: r.lat, lon: r.lon,
        kind: r.status === 'resolved' || r.status === 'closed' ? 'done' : OPEN.includes(r.status) ? 'ok' : 'other',
        title: `${categoryName(r.category_code)} – ${t(`status.${r.status}`)}`,
        href: `#/report/${r.id}`,
      })), { cluster: true });
      handle.fit(17);
    },
  }, t('feed.map.show'));
  mount(box, btn, holder);
  box.hidden = false;
}

// --- notifications ----------------------------------------------------------------------------
export async function notificationsView(el, ctx) {
  const { api } = ctx;
  let page;
  try {
    page = await api.get('/v1/notifications', { query: { limit: 50 } });
  } catch (e) {
    if (!ctx.current()) return;
    mount(el, h('h1', {}, t('notif.title')), h('p', { class: 'notice warn' }, e.message));
    return;
  }
  if (!ctx.current()) return;
  const link = (n) => (n.report_id ? `#/report/${n.report_id}` : n.appointment_id || n.consultation_id ? '#/telehealth' : null);
  // The switch loads on demand (push.js), after the list is on screen.
  const pushBox = h('div', { class: 'push-box' });
  import('./push.js').then((m) => (ctx.current() ? m.pushSwitch(pushBox, api) : null)).catch(() => { pushBox.hidden = true; });
  mount(el,
    h('h1', {}, t('notif.title')),
    pushBox,
    page.items.length ? h('ul', { class: 'cards' }, page.items.map((n) => h('li', { class: `card notif${n.read ? '' : ' unread'}` },
      h('p', { class: 'muted' }, !n.read ? h('span', { class: 'badge ok' }, t('notif.new')) : null, ' ', formatDateTime(n.created_at)),
      h('p', { class: 'desc' }, n.text),
      link(n) ? h('p', {}, h('a', { href: link(n) }, t('notif.open'), h('span', { class: 'sr-only' }, ': ', n.text))) : null)))
      : h('p', {}, t('notif.empty')));
  const unread = page.items.filter((n) => !n.read).map((n) => n.id);
  if (unread.length) api.post('/v1/notifications/read', { ids: unread }).catch(() => {});
}
