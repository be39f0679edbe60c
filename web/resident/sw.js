// The resident app's service worker: keeps the app shell (the page at `/`, its modules, styles
// and icons, all of one build) so the app opens without a network after the first visit. The
// server writes this build's hash in place of the __BUILD__ placeholders, so every deploy
// changes these bytes: the browser installs the new worker, which fills a new cache; the page
// offers the update (it never reloads under someone's half-written report); the old cache goes
// when the new worker takes over. API answers are never cached (they are personal), and the
// staff and doctor consoles under this scope pass straight through.

const CACHE = 'wl-__BUILD__';
const PREFIX = '/assets/__BUILD__/';

// The first screen: the page, its styles and every module index.html preloads (app.js's whole
// static import chain) — keep the three lists in sync — plus Leaflet's CSS, which shared/map.js
// adds when a map opens (so the map is styled offline too), and the icons.
const SHELL = [
  '/',
  '/manifest.webmanifest',
  PREFIX + 'shared/base.css',
  PREFIX + 'shared/api.js',
  PREFIX + 'shared/i18n.js',
  PREFIX + 'shared/dom.js',
  PREFIX + 'shared/time.js',
  PREFIX + 'vendor/leaflet/leaflet.css',
  PREFIX + 'resident/app.css',
  PREFIX + 'resident/telehealth.css',
  PREFIX + 'resident/app.js',
  PREFIX + 'resident/strings.js',
  PREFIX + 'resident/ui.js',
  PREFIX + 'resident/drafts.js',
  PREFIX + 'resident/photos.js',
  PREFIX + 'resident/signin.js',
  PREFIX + 'resident/report-form.js',
  PREFIX + 'resident/views.js',
  PREFIX + 'resident/icon.svg',
  PREFIX + 'resident/icon-192.png',
];
// Kept too when they exist (other modules the app loads on demand).
const OPTIONAL = [
  PREFIX + 'resident/telehealth.js',
  PREFIX + 'resident/push.js',
  PREFIX + 'shared/ws.js',
  PREFIX + 'shared/map.js',
  PREFIX + 'shared/call.js',
  PREFIX + 'resident/icon-512.png',
];
// This app's files under the build prefix (the consoles' own files are theirs).
const OURS = [PREFIX + 'resident/', PREFIX + 'shared/', PREFIX + 'vendor/'];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL.map((u) => new Request(u, { cache: 'reload' })));
    await Promise.all(OPTIONAL.map((u) => cache.add(new Request(u, { cache: 'reload' })).catch(() => {})));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('wl-') && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (req.mode === 'navigate') {
    if (path === '/' || path === '/index.html') event.respondWith(fromCache('/', req));
    return;
  }
  if (path === '/manifest.webmanifest' || path === '/favicon.ico') {
    event.respondWith(fromCache(path === '/favicon.ico' ? PREFIX + 'resident/icon.svg' : path, req));
    return;
  }
  if (OURS.some((p) => path.startsWith(p))) event.respondWith(fromCache(path, req, true));
});

/** This build's copy, else the network (and keep an immutable asset for next time). */
async function fromCache(key, req, keep = false) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(key, { ignoreSearch: true, ignoreVary: true });
  if (hit) return hit;
  const res = await fetch(req);
  if (keep && res.ok) cache.put(key, res.clone()).catch(() => {});
  return res;
}

// Background Sync: the network is back. Sending needs the signed-in resident's tokens, which
// live with the page, so wake any open window of the app to send its drafts.
self.addEventListener('sync', (event) => {
  if (event.tag !== 'wl-drafts') return;
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const w of wins) w.postMessage({ type: 'flush-drafts' });
  })());
});

// Web Push: a message from the server (decrypted by the browser) is JSON with its kind, its text
// in Vietnamese and English and the ids it is about. Show it; a tap opens the report, or the
// telehealth screen, or the notifications.
self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch { data = {}; }
  const en = (self.navigator.language || '').toLowerCase().startsWith('en');
  const body = (en ? data.en : data.vi) || data.vi || data.en || '';
  const hash = data.report_id ? `#/report/${data.report_id}`
    : data.appointment_id || data.consultation_id ? '#/telehealth' : '#/notifications';
  event.waitUntil(self.registration.showNotification(en ? 'Ward' : 'Phường', {
    body,
    lang: en ? 'en' : 'vi',
    icon: PREFIX + 'resident/icon-192.png',
    badge: PREFIX + 'resident/icon-192.png',
    // News of one report replaces the earlier one of the same report.
    tag: data.report_id || data.consultation_id || data.appointment_id || undefined,
    data: { hash },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const hash = event.notification.data?.hash || '#/notifications';
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const app = wins.find((w) => new URL(w.url).pathname === '/');
    if (app) {
      await app.focus();
      app.postMessage({ type: 'open', hash });
      return;
    }
    await self.clients.openWindow('/' + hash);
  })());
});
