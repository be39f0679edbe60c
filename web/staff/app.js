// The staff and admin console: sign-in (with the forced change of a one-time password), the
// shell (navigation, language, live connection state) and a small router over the views.
// Every view gets one `ctx`: the API client, who is signed in, the ward's reference data
// (categories, units, areas, names) and helpers to navigate and show errors.
//
// First load: only the shell and the queue are loaded with the page (index.html preloads exactly
// these modules); the other views, with the chart and map code they use, are imported when
// first opened. The account, the reference data and the queue's first page are asked for at
// the same time.

import { createClient, ApiError } from '../shared/api.js';
import { t, currentLang, setLang, onLangChange } from '../shared/i18n.js';
import { h, mount, announce, focusHeading, errorSummary } from '../shared/dom.js';
import { liveSocket } from '../shared/ws.js';
import './strings.js';
import { queueView, queueRequest } from './queue.js';

/** The views: the queue is part of the first load, the others come when first opened. */
const VIEWS = {
  queue: async () => queueView,
  report: () => import('./report.js').then((m) => m.reportView),
  map: () => import('./mapview.js').then((m) => m.mapView),
  stats: () => import('./stats.js').then((m) => m.statsView),
  admin: () => import('./admin.js').then((m) => m.adminView),
};
/** A report link about to be followed (pointer over it, or focus): fetch its view's code now. */
function warmReportView(e) {
  if (e.target.closest?.('a[href^="/staff/reports/"]')) VIEWS.report().catch(() => {});
}
document.addEventListener('pointerover', warmReportView, { passive: true });
document.addEventListener('focusin', warmReportView);

const raw = createClient({ app: 'staff' });
const top = document.getElementById('top');
const main = document.getElementById('main');

/** The signed-in account (`GET /v1/me`), or null. */
let me = null;
/** The password typed at sign-in, kept in memory only until the forced change is done. */
let signInPassword = null;
let socket = null;
let liveState = 'connecting';
let mustChange = false;

// --- the API, with the forced password change caught on every call ---------------------------
function guarded(fn) {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (e) {
      if (e instanceof ApiError && e.status === 403 && e.code === 'password_change_required') {
        mustChange = true;
        render();
      } else if (e instanceof ApiError && e.status === 401 && !raw.signedIn) {
        render({ expired: true });
      }
      throw e;
    }
  };
}
const api = {
  get: guarded(raw.get),
  post: guarded(raw.post),
  put: guarded(raw.put),
  patch: guarded(raw.patch),
  del: guarded(raw.del),
  request: guarded(raw.request),
  accessToken: raw.accessToken,
};

// --- reference data, loaded once per sign-in ----------------------------------------------------
const ref = { categories: [], units: [], areas: [], accounts: new Map() };
const categoriesPath = (admin) => (admin ? '/v1/admin/categories' : '/v1/categories');

/**
 * The first requests of a session, sent together before `/v1/me` answers: the reference data
 * (the categories' endpoint guessed from the token's role, checked against the account later)
 * and, on the queue, its first page. Sent through the plain client: a refusal here (a password
 * to change, a resident's token) is only a prefetch lost, the guarded calls after it say it.
 */
let early = null;
function startEarly() {
  const quiet = (p) => { p.catch(() => {}); return p; };
  const admin = raw.claims?.role === 'admin';
  early = {
    catPath: categoriesPath(admin),
    cats: quiet(raw.get(categoriesPath(admin))),
    units: quiet(raw.get('/v1/units')),
    areas: quiet(raw.get('/v1/areas')),
    accounts: admin ? quiet(fetchAccounts(raw.get)) : null,
    queue: null,
  };
  if (route().view === 'queue') {
    const { path, query, key } = queueRequest();
    early.queue = { key, at: Date.now(), promise: quiet(raw.get(path, { query })) };
  }
}

async function loadReference() {
  const isAdmin = me?.role === 'admin';
  const pre = early;
  early = null;
  const catPath = categoriesPath(isAdmin);
  const take = (p, again) => (p ? p.catch(again) : again());
  const [cats, units, areas, accounts] = await Promise.all([
    take(pre && pre.catPath === catPath ? pre.cats : null, () => api.get(catPath)).catch(() => []),
    take(pre?.units, () => api.get('/v1/units')).catch(() => []),
    take(pre?.areas, () => api.get('/v1/areas')).catch(() => []),
    isAdmin ? take(pre?.accounts, () => fetchAccounts(api.get)).catch(() => []) : [],
  ]);
  ref.categories = cats;
  ref.units = units;
  ref.areas = areas;
  ref.accounts = new Map();
  if (me) ref.accounts.set(me.id, me);
  for (const a of accounts) ref.accounts.set(a.id, a);
  if (pre?.queue) earlyQueue = pre.queue;
}
/** Every staff, admin and doctor account, the three roles at once (`get`: which client). */
async function fetchAccounts(get) {
  const lists = await Promise.all(['staff', 'admin', 'doctor'].map(async (role) => {
    const out = [];
    let after;
    for (let i = 0; i < 10; i += 1) {
      const page = await get('/v1/admin/accounts', { query: { role, limit: 200, after } }).catch(() => null);
      if (!page) break;
      out.push(...page.items);
      if (!page.next_after) break;
      after = page.next_after;
    }
    return out;
  }));
  return lists.flat();
}
/** Admins: every staff, doctor and admin account (names for ids; residents are not needed). */
async function loadAccounts() {
  for (const a of await fetchAccounts(api.get)) ref.accounts.set(a.id, a);
}
/** The queue's first page asked for with the account (see startEarly), for the queue to take once. */
let earlyQueue = null;

const ctx = {
  api,
  ref,
  get me() { return me; },
  get isAdmin() { return me?.role === 'admin'; },
  reloadReference: loadReference,
  loadAccounts,
  /**
   * The queue's page requested at start-up for this `key` (its query), if still fresh: a
   * promise of the reports, to be taken once; else null.
   */
  takeEarlyQueue(key) {
    const e = earlyQueue;
    earlyQueue = null;
    return e && e.key === key && Date.now() - e.at < 15000 ? e.promise : null;
  },
  /** The category's name in the current language. */
  categoryName(code) {
    const c = ref.categories.find((x) => x.code === code);
    if (!c) return code || '';
    return currentLang() === 'en' ? (c.name_en || c.name_vi) : c.name_vi;
  },
  unitName(id) {
    if (!id) return t('common.unrouted');
    return ref.units.find((u) => u.id === id)?.name || t('common.unknown_unit');
  },
  /** A colleague's name: from the accounts (admins) or the units' staff lists (everyone). */
  personName(id) {
    if (!id) return '';
    if (id === me?.id) return t('common.me');
    const a = ref.accounts.get(id);
    if (a) return a.display_name || a.phone;
    for (const u of ref.units) {
      const s = (u.staff || []).find((x) => x.id === id);
      if (s && s.display_name) return s.display_name;
    }
    return t('common.staff_member', { short: id.slice(0, 4).toUpperCase() });
  },
  navigate,
  /** Subscribe the current view to live report events (replaced at each navigation). */
  onLive: null,
  get liveState() { return liveState; },
  /** Show an API error in `box` (a notice), or a clear message for refusals. */
  showError(box, e, title) {
    mount(box, problemNotice(e, title));
  },
  problemNotice,
  render,
};

function problemNotice(e, title) {
  if (e instanceof ApiError && e.status === 403) {
    return h('div', { class: 'notice danger', role: 'alert' },
      h('p', {}, h('strong', {}, t('err.forbidden_title'))),
      h('p', {}, t('err.forbidden_body')));
  }
  if (e instanceof ApiError && e.status === 404) {
    return h('div', { class: 'notice warn', role: 'alert' }, h('p', {}, t('err.not_found')));
  }
  const msg = e instanceof ApiError ? e.message : t('net.error');
  if (e instanceof ApiError && e.fields.length) {
    return errorSummary(title || t('err.title'), e.fields.map((f) => ({ text: f.message, field: f.field })));
  }
  return h('div', { class: 'notice danger', role: 'alert' },
    title ? h('p', {}, h('strong', {}, title)) : null,
    h('p', {}, msg));
}

// --- routing ----------------------------------------------------------------------------------
function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}
window.addEventListener('popstate', () => render());
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[href]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith('/staff')) return;
  e.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

function route() {
  const p = location.pathname.replace(/\/+$/, '') || '/staff';
  let m;
  if (p === '/staff') return { view: 'queue' };
  if ((m = p.match(/^\/staff\/reports\/([0-9a-fA-F-]{36})$/))) return { view: 'report', id: m[1] };
  if (p === '/staff/map') return { view: 'map' };
  if (p === '/staff/stats') return { view: 'stats' };
  if ((m = p.match(/^\/staff\/admin(?:\/([a-z0-9-]+))?$/))) return { view: 'admin', section: m[1] || 'categories' };
  return { view: 'notfound' };
}

// --- the header -------------------------------------------------------------------------------
function langButton() {
  const other = currentLang() === 'vi' ? 'en' : 'vi';
  return h('button', {
    type: 'button',
    class: 'secondary small',
    lang: other,
    onclick: () => setLang(other),
  }, t('common.language'));
}
function signOutButton() {
  return h('button', { type: 'button', class: 'secondary small', onclick: signOut }, t('common.signout'));
}

function renderHeader(full) {
  const r = route();
  const link = (href, key, active) => h('a', { href, 'aria-current': active ? 'page' : null }, t(key));
  const nav = full ? h('nav', { 'aria-label': t('nav.label') }, h('ul', { class: 'nav' },
    h('li', {}, link('/staff/', 'nav.queue', r.view === 'queue' || r.view === 'report')),
    h('li', {}, link('/staff/map', 'nav.map', r.view === 'map')),
    h('li', {}, link('/staff/stats', 'nav.stats', r.view === 'stats')),
    me?.role === 'admin' ? h('li', {}, link('/staff/admin', 'nav.admin', r.view === 'admin')) : null)) : null;
  const state = full ? h('p', { class: 'live-state', 'data-state': liveState, role: 'status' }, t(`live.${liveState === 'open' ? 'online' : liveState === 'closed' ? 'offline' : 'connecting'}`)) : null;
  mount(top,
    h('div', { class: 'top-row' },
      h('p', { class: 'brand' }, h('span', { class: 'brand-name' }, 'Wardline'), ' ', h('span', { class: 'muted' }, t('app.subtitle'))),
      nav,
      h('div', { class: 'row who' },
        state,
        me ? h('span', { class: 'muted' }, me.display_name || me.phone) : null,
        langButton(),
        raw.signedIn ? signOutButton() : null)));
}

function setLiveState(s) {
  liveState = s;
  const el = top.querySelector('.live-state');
  if (el) {
    el.dataset.state = s;
    el.textContent = t(`live.${s === 'open' ? 'online' : s === 'closed' ? 'offline' : 'connecting'}`);
  }
}

// --- live updates -----------------------------------------------------------------------------
function startLive() {
  if (socket) return;
  socket = liveSocket({
    url: async () => {
      const tok = await raw.accessToken();
      return tok ? `/v1/staff/reports/live?access_token=${encodeURIComponent(tok)}` : null;
    },
    onState: setLiveState,
    onOpen: (_ws, again) => {
      // Coming back after a drop: whatever changed meanwhile was missed; the view refetches.
      if (again) ctx.onLive?.({ event: 'resync' });
    },
    onMessage: (msg) => {
      if (msg && typeof msg === 'object') ctx.onLive?.(msg);
    },
  });
}
function stopLive() {
  socket?.close();
  socket = null;
}

// --- signing in and out -----------------------------------------------------------------------
async function signOut() {
  stopLive();
  me = null;
  await raw.logout();
  signInPassword = null;
  mustChange = false;
  announce(t('auth.signed_out'));
  history.replaceState(null, '', '/staff/');
  render();
}

function field(id, label, input, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null,
    input);
}

function renderSignIn({ expired } = {}) {
  renderHeader(false);
  const errors = h('div');
  const phone = h('input', { id: 'phone', name: 'phone', type: 'tel', autocomplete: 'username', inputmode: 'tel', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, t('auth.signin'));
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const missing = [];
      if (!phone.value.trim()) missing.push({ text: t('auth.phone_missing'), field: 'phone' });
      if (!password.value) missing.push({ text: t('auth.password_missing'), field: 'password' });
      phone.setAttribute('aria-invalid', String(!phone.value.trim()));
      password.setAttribute('aria-invalid', String(!password.value));
      if (missing.length) { mount(errors, errorSummary(t('err.title'), missing)); return; }
      submit.disabled = true;
      try {
        await raw.login(phone.value.trim(), password.value);
        signInPassword = password.value;
        await afterSignIn();
      } catch (err) {
        submit.disabled = false;
        if (err instanceof ApiError && err.status === 401) {
          password.setAttribute('aria-invalid', 'true');
          mount(errors, errorSummary(t('err.title'), [{ text: t('auth.bad_credentials'), field: 'password' }]));
        } else if (err instanceof ApiError && err.fields.length) {
          mount(errors, errorSummary(t('err.title'), err.fields.map((f) => ({ text: f.message, field: f.field === 'phone' ? 'phone' : 'password' }))));
        } else {
          mount(errors, problemNotice(err));
        }
      }
    },
  },
  field('phone', t('auth.phone'), phone, t('auth.phone_hint')),
  field('password', t('auth.password'), password),
  h('p', {}, submit));
  mount(main,
    h('div', { class: 'narrow' },
      h('h1', {}, t('auth.title')),
      expired ? h('div', { class: 'notice warn', role: 'status' }, t('auth.expired')) : null,
      errors,
      form,
      h('p', { class: 'muted' }, t('auth.residents_elsewhere'))));
  document.title = `${t('auth.title')} · Wardline`;
}

function renderChangePassword() {
  renderHeader(false);
  const errors = h('div');
  const needCurrent = !signInPassword;
  const current = needCurrent ? h('input', { id: 'current_password', type: 'password', autocomplete: 'current-password', required: true }) : null;
  const next = h('input', { id: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: '10', 'aria-describedby': 'new_password-hint' });
  const again = h('input', { id: 'new_password_again', type: 'password', autocomplete: 'new-password', required: true });
  const submit = h('button', { type: 'submit' }, t('pw.submit'));
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const problems = [];
      if (needCurrent && !current.value) problems.push({ text: t('pw.current_missing'), field: 'current_password' });
      if (next.value.length < 10) problems.push({ text: t('pw.too_short'), field: 'new_password' });
      else if (next.value !== again.value) problems.push({ text: t('pw.mismatch'), field: 'new_password_again' });
      if (needCurrent) current.setAttribute('aria-invalid', String(!current.value));
      next.setAttribute('aria-invalid', String(next.value.length < 10));
      again.setAttribute('aria-invalid', String(next.value.length >= 10 && next.value !== again.value));
      if (problems.length) { mount(errors, errorSummary(t('err.title'), problems)); return; }
      submit.disabled = true;
      // `raw: true`: a wrong current password answers 401, which must not end the session.
      const r = await raw.request('POST', '/v1/me/password',
        { current_password: needCurrent ? current.value : signInPassword, new_password: next.value }, { raw: true })
        .catch(() => null);
      submit.disabled = false;
      if (r && r.status === 204) {
        signInPassword = null;
        mustChange = false;
        await afterSignIn({ changed: true });
        return;
      }
      let problem = null;
      try { problem = r ? await r.json() : null; } catch { /* not JSON */ }
      const err = new ApiError(r ? r.status : 0, problem);
      if (err.status === 401) {
        mount(errors, errorSummary(t('err.title'), [{ text: t('pw.current_wrong'), field: needCurrent ? 'current_password' : 'new_password' }]));
      } else if (err.fields.length) {
        mount(errors, errorSummary(t('err.title'), err.fields.map((f) => ({ text: f.message, field: f.field === 'current_password' && needCurrent ? 'current_password' : 'new_password' }))));
      } else {
        mount(errors, problemNotice(err));
      }
    },
  },
  needCurrent ? field('current_password', t('pw.current'), current, t('pw.current_hint')) : null,
  field('new_password', t('pw.new'), next, t('pw.new_hint')),
  field('new_password_again', t('pw.again'), again),
  h('p', {}, submit));
  mount(main, h('div', { class: 'narrow' },
    h('h1', {}, t('pw.title')),
    h('p', {}, t('pw.why')),
    errors,
    form));
  document.title = `${t('pw.title')} · Wardline`;
  focusHeading(main);
}

function renderNoAccess() {
  renderHeader(false);
  mount(main, h('div', { class: 'narrow' },
    h('h1', {}, t('noaccess.title')),
    h('div', { class: 'notice danger', role: 'alert' },
      h('p', {}, t('err.forbidden_body')),
      h('p', {}, t('noaccess.body')))));
  document.title = `${t('noaccess.title')} · Wardline`;
  focusHeading(main);
}

/** After a sign-in (or a reload with tokens): who is this, must they change the password? */
async function afterSignIn({ changed } = {}) {
  // Who this is, and (in parallel) what the first screen will need.
  const who = raw.get('/v1/me');
  startEarly();
  try {
    me = await who;
  } catch (e) {
    me = null;
    early = null;
    if (e instanceof ApiError && e.status === 403 && e.code === 'password_change_required') {
      mustChange = true;
      return render();
    }
    if (!raw.signedIn) return render({ expired: true });
    mount(main, problemNotice(e));
    return;
  }
  mustChange = !!me.password_must_change;
  if (me.role === 'staff' || me.role === 'admin') {
    if (!mustChange) {
      // The socket first: it opens while the reference data arrives.
      startLive();
      await loadReference();
    }
  }
  early = null;
  if (changed) announce(t('pw.done'));
  render();
}

// --- rendering --------------------------------------------------------------------------------
let currentView = null;
async function render(opts = {}) {
  if (currentView?.leave) currentView.leave();
  currentView = null;
  ctx.onLive = null;
  if (!raw.signedIn) {
    stopLive();
    me = null;
    return renderSignIn(opts);
  }
  if (!me) {
    mount(main, h('p', { class: 'muted' }, t('common.loading')));
    return afterSignIn();
  }
  if (mustChange) return renderChangePassword();
  if (me.role !== 'staff' && me.role !== 'admin') return renderNoAccess();
  renderHeader(true);
  const r = route();
  const load = VIEWS[r.view];
  if (!load) {
    mount(main, h('h1', {}, t('err.page_not_found')), h('p', {}, h('a', { href: '/staff/' }, t('nav.queue'))));
    focusHeading(main);
    return;
  }
  if (r.view === 'admin' && me.role !== 'admin') {
    mount(main, h('h1', {}, t('nav.admin')), problemNotice(new ApiError(403, null)));
    focusHeading(main);
    return;
  }
  const token = {};
  currentView = token;
  let view;
  try {
    view = await load();
  } catch (e) {
    // The view's code did not arrive (network): say so, the header still works.
    if (currentView === token) mount(main, problemNotice(e));
    return;
  }
  if (currentView !== token) return;
  const v = await view(ctx, main, r);
  if (currentView === token) {
    currentView = v || token;
  } else {
    v?.leave?.();
  }
}

raw.onAuthChange((signedIn) => {
  if (!signedIn && me) {
    // Signed out elsewhere (another tab) or the session ended.
    stopLive();
    me = null;
    render({ expired: true });
  }
});
onLangChange(() => render());

render();
