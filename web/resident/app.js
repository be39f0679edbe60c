// The resident app's shell: header and navigation, the hash router (`#/report`, `#/mine`,
// `#/report/<id>`, `#/telehealth…`), sign-in state, the offline banner, the service worker (the
// app opens without a network after the first visit) and the drafts waiting to be sent.

import { createClient } from '../shared/api.js';
import { t, currentLang, setLang, onLangChange } from '../shared/i18n.js';
import { h, mount, announce, focusHeading } from '../shared/dom.js';
import './strings.js';
import { flushDrafts, events as draftEvents, listDrafts } from './drafts.js';
import { signInView } from './signin.js';
import { reportFormView, draftSavedView, forgetInProgress } from './report-form.js';
import { homeView, mineView, reportView, feedView, notificationsView } from './views.js';

export const api = createClient({ app: 'resident' });

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const tools = document.getElementById('tools');
const banner = document.getElementById('banner');

let renderSeq = 0;
let firstRender = true;
let flash = null;
let telehealthModule = null;
let inTelehealth = false;

/** Go to a route (`#/mine`). Re-renders even when the hash is already that. */
export function navigate(hash) {
  const target = hash.startsWith('#') ? hash : '#' + hash;
  if (location.hash === target) render();
  else location.hash = target;
}

/** A message shown once at the top of the next view (after a redirect). */
export function setFlash(text, kind = 'ok') { flash = { text, kind }; }

function route() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
  const [path, query = ''] = raw.split('?');
  return { path: path.startsWith('/') ? path : '/' + path, params: new URLSearchParams(query) };
}

// --- header -----------------------------------------------------------------------------------
const NAV = [
  { href: '#/report', key: 'nav.report', match: (p) => p === '/report' || p.startsWith('/edit/') },
  { href: '#/mine', key: 'nav.mine', match: (p) => p === '/mine' || p.startsWith('/report/') || p.startsWith('/draft/') },
  { href: '#/feed', key: 'nav.feed', match: (p) => p === '/feed' },
  { href: '#/telehealth', key: 'nav.telehealth', match: (p) => p.startsWith('/telehealth') },
];
let unread = 0;

function renderHeader() {
  const { path } = route();
  document.getElementById('brand').textContent = t('app.name');
  document.getElementById('skip').textContent = t('app.skip');
  nav.setAttribute('aria-label', t('nav.label'));
  const items = NAV.map((n) => ({ ...n, text: t(n.key) }));
  if (api.signedIn) {
    items.push({
      href: '#/notifications',
      text: unread ? t('nav.notifications.unread', { n: unread }) : t('nav.notifications'),
      match: (p) => p === '/notifications',
    });
  }
  mount(nav, h('ul', { class: 'nav-list' }, items.map((n) =>
    h('li', {}, h('a', { href: n.href, 'aria-current': n.match(path) ? 'page' : null }, n.text)))));
  const other = currentLang() === 'vi' ? 'en' : 'vi';
  mount(tools,
    h('button', { type: 'button', class: 'secondary small', lang: other, onclick: () => setLang(other) }, t('common.language')),
    api.signedIn
      ? h('button', { type: 'button', class: 'secondary small', onclick: signOut }, t('signout'))
      : null);
}

async function signOut() {
  forgetInProgress();
  // This browser stops getting the account's notifications (the next person may not be them).
  if (pushLoaded()) await import('./push.js').then((m) => m.disable(api)).catch(() => {});
  await api.logout();
  setFlash(t('signout.done'));
  navigate('#/');
}

async function refreshUnread() {
  if (!api.signedIn || navigator.onLine === false) { unread = 0; return; }
  try {
    const page = await api.get('/v1/notifications', { query: { unread: true, limit: 100 } });
    const n = page.items.length;
    if (n !== unread) {
      unread = n;
      renderHeader();
    }
  } catch { /* keep the last count */ }
}

function renderBanner() {
  const children = [];
  if (navigator.onLine === false) children.push(h('p', { class: 'notice warn offline-banner' }, t('app.offline')));
  if (waitingWorker) {
    children.push(h('div', { class: 'notice update-banner row' },
      h('span', {}, t('app.update')),
      h('button', { type: 'button', class: 'secondary small', onclick: applyUpdate }, t('app.update.button'))));
  }
  mount(banner, children);
}

// --- the router -------------------------------------------------------------------------------
async function render() {
  const seq = ++renderSeq;
  const { path, params } = route();
  renderHeader();
  const ctx = {
    api, navigate, params, setFlash,
    /** Is this render still the one on screen (the person did not move on meanwhile)? */
    current: () => seq === renderSeq,
  };
  if (inTelehealth && !path.startsWith('/telehealth')) {
    inTelehealth = false;
    try { telehealthModule?.unmount?.(); } catch { /* theirs */ }
  }
  const shown = flash;
  flash = null;
  main.replaceChildren();
  const flashBox = shown ? h('div', { class: `notice ${shown.kind}`, role: 'status' }, shown.text) : null;

  let m;
  try {
    if (path === '/' || path === '') await homeView(main, ctx);
    else if (path === '/signin') await signInView(main, { ...ctx, why: null, after: params.get('next') || '#/' });
    else if (path === '/report') await gate(main, ctx, 'signin.why.report', '#/report', () => reportFormView(main, ctx));
    else if ((m = /^\/edit\/([\w-]+)$/.exec(path))) await gate(main, ctx, 'signin.why.report', location.hash, () => reportFormView(main, { ...ctx, draftId: m[1] }));
    else if ((m = /^\/draft\/([\w-]+)$/.exec(path))) await draftSavedView(main, { ...ctx, draftId: m[1] });
    else if (path === '/mine') await gate(main, ctx, 'signin.why.mine', '#/mine', () => mineView(main, ctx));
    else if ((m = /^\/report\/([0-9a-fA-F-]{36})$/.exec(path))) await reportView(main, { ...ctx, id: m[1] });
    else if (path === '/feed') await feedView(main, ctx);
    else if (path === '/notifications') await gate(main, ctx, 'signin.why.mine', '#/notifications', () => notificationsView(main, ctx));
    else if (path.startsWith('/telehealth')) await telehealth(path.slice('/telehealth'.length), ctx);
    else notFound();
  } catch (e) {
    if (ctx.current()) {
      console.error(e);
      mount(main, h('h1', {}, t('err.generic')),
        h('p', {}, e?.message || ''),
        h('p', {}, h('button', { type: 'button', onclick: () => render() }, t('err.retry'))));
    }
  }
  if (!ctx.current()) return;
  if (flashBox) main.prepend(flashBox);
  const h1 = main.querySelector('h1');
  document.title = h1 ? `${h1.textContent} – ${t('app.name')}` : t('app.name');
  if (!firstRender && !path.startsWith('/telehealth')) focusHeading(main);
  firstRender = false;
}

/** Views that need a signed-in resident: the sign-in steps first, then back here. */
function gate(el, ctx, whyKey, after, view) {
  if (api.signedIn) return view();
  return signInView(el, { ...ctx, why: t(whyKey), after });
}

function notFound() {
  mount(main, h('h1', {}, t('app.notfound')), h('p', {}, h('a', { href: '#/' }, t('app.home.link'))));
}

// The video consultation pages are their own module (telehealth.js), mounted into <main>.
async function telehealth(rest, ctx) {
  try {
    telehealthModule = telehealthModule || (await import('./telehealth.js'));
  } catch {
    if (!ctx.current()) return;
    mount(main, h('h1', {}, t('th.placeholder.title')), h('p', {}, t('th.placeholder.lead')));
    return;
  }
  if (!ctx.current()) return;
  inTelehealth = true;
  await telehealthModule.mount(main, { api, route: rest, navigate });
}

// --- drafts: sent by themselves when the network is back ----------------------------------------
let retryTimer = null;
async function trySendDrafts() {
  clearTimeout(retryTimer);
  if (!api.signedIn) return;
  let sent = 0;
  try { sent = await flushDrafts(api); } catch { /* kept */ }
  if (sent) announce(t('draft.sent.one'));
  const left = (await listDrafts()).filter((d) => d.state !== 'failed');
  // Some still waiting (a flaky line, an overloaded server): try again a little later.
  if (left.length) retryTimer = setTimeout(trySendDrafts, navigator.onLine === false ? 60000 : 20000);
}

window.addEventListener('online', () => { renderBanner(); trySendDrafts(); refreshUnread(); });
window.addEventListener('offline', renderBanner);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') { trySendDrafts(); refreshUnread(); }
});
draftEvents.addEventListener('sent', () => refreshUnread());

// --- service worker ---------------------------------------------------------------------------
let waitingWorker = null;
function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).then((reg) => {
    const watch = (w) => {
      if (!w) return;
      w.addEventListener('statechange', () => {
        // A new version is ready while an older one runs this page: offer it, never force it
        // (the person may be halfway through a report).
        if (w.state === 'installed' && navigator.serviceWorker.controller) {
          waitingWorker = w;
          renderBanner();
        }
      });
    };
    if (reg.waiting && navigator.serviceWorker.controller) {
      waitingWorker = reg.waiting;
      renderBanner();
    }
    reg.addEventListener('updatefound', () => watch(reg.installing));
  }).catch(() => { /* no offline shell; the app still works online */ });
  navigator.serviceWorker.addEventListener('message', (e) => {
    if (e.data?.type === 'flush-drafts') trySendDrafts();
    // A tapped notification (sw.js): its report or screen.
    if (e.data?.type === 'open' && typeof e.data.hash === 'string' && e.data.hash.startsWith('#/')) navigate(e.data.hash);
  });
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (updateRequested && !reloading) {
      reloading = true;
      location.reload();
    }
  });
}
let updateRequested = false;

// --- Web Push ---------------------------------------------------------------------------------
/** Whether this browser may hold a push subscription (only then is push.js worth loading). */
function pushLoaded() {
  return 'PushManager' in window && 'Notification' in window && Notification.permission === 'granted';
}
/** Tell the server again about this browser's subscription (the account may have changed). */
function refreshPush() {
  if (api.signedIn && pushLoaded()) import('./push.js').then((m) => m.refresh(api)).catch(() => {});
}
function applyUpdate() {
  updateRequested = true;
  waitingWorker?.postMessage({ type: 'skip-waiting' });
}

// --- start ------------------------------------------------------------------------------------
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', render);
// Token refreshes also land here: only a change between signed in and out matters. Signing in
// re-draws the header (the sign-in view moves on by itself); signing out re-draws the view.
let wasSignedIn = api.signedIn;
api.onAuthChange((now) => {
  if (now === wasSignedIn) return;
  wasSignedIn = now;
  unread = 0;
  if (now) {
    renderHeader();
    refreshUnread();
    trySendDrafts();
    refreshPush();
  } else {
    render();
  }
});
onLangChange(() => render());

renderBanner();
render();
registerWorker();
refreshUnread();
trySendDrafts();
refreshPush();
