// First load of the resident app (`/`) on an emulated phone on a slow mobile network: Debian's
// chromium through playwright-core (the browser tests' packages), CDP network throttling with
// Lighthouse's mobile "slow 4G" DevTools numbers, CPU throttled 4×, Pixel 5 emulation.
//
// Per run, in a fresh browser context (empty HTTP cache, no service worker):
//   first visit: First Contentful Paint; "interactive" (see below); bytes transferred by the page
//     (all, and scripts + stylesheets), compressed as on the wire (CDP `Network.loadingFinished`
//     encodedDataLength: body and headers, what Lighthouse's transfer sizes count), from the
//     navigation until the network has been quiet for 1 s after interactive; and the service
//     worker's precache (the app shell it fetches once the page runs), counted apart;
//   repeat visit: a new tab in the same context once the service worker is active (its cache and
//     the HTTP cache warm): FCP, interactive and bytes.
//
// "Interactive": the moment (performance.now(), from the navigation's start) when both hold:
//   - DOMContentLoaded has fired: the main module (resident/app.js) and its static imports are
//     evaluated (module scripts run before it), so the router has rendered and the worker is
//     registered;
//   - the sign-in form's "Số điện thoại" text box is in the DOM, visible and enabled (checked
//     in the page on every DOM mutation, and confirmed afterwards with Playwright's
//     getByRole('textbox', { name: 'Số điện thoại' })).
//
// Throttling (Lighthouse 13's `mobileSlow4G` as its DevTools throttling applies it, i.e. the
// adjusted numbers): request latency 150 ms × 3.75 = 562.5 ms, download 1.6 Mbit/s × 0.9 =
// 1474.56 kbit/s = 188743 B/s, upload 750 kbit/s × 0.9 = 675 kbit/s = 86400 B/s, CPU 4× slower
// (Emulation.setCPUThrottlingRate). CDP throttling is per target: it is set on each page and on
// the page's service worker (auto-attached paused, throttled, then resumed), so the worker's
// precache goes over the same emulated line as on a phone (the output says if it could not be).
// Each target is throttled on its own: the page and its worker do not share one line's bandwidth.
//
// Usage: node tests/bench/resident_load.mjs <base URL> [runs]   (tests/bench/resident_load.sh
// starts a server and calls this).

import { BASE, devices, kb, launch, median, ms, printTable, runsArg } from './lib/bench.mjs';

const RUNS = runsArg(5);

export const NETWORK = {
  offline: false,
  latency: 150 * 3.75, // ms
  downloadThroughput: Math.floor((1.6 * 1024 * 0.9 * 1024) / 8), // bytes/s
  uploadThroughput: Math.floor((750 * 0.9 * 1024) / 8), // bytes/s
  connectionType: 'cellular3g',
};
export const CPU_SLOWDOWN = 4;
const GOAL_JS_CSS = 100 * 1024;
const GOAL_REPEAT_MS = 1000;
const LABEL = 'Số điện thoại';

// In the page, from its first instant: when DOMContentLoaded fired and when the phone box became
// usable.
const PROBE = `(() => {
  const st = { dcl: null, interactive: null };
  Object.defineProperty(window, '__wlBench', { value: st });
  const phoneBox = () => {
    for (const el of document.querySelectorAll('input')) {
      const names = [...(el.labels || [])].map((l) => l.textContent.trim());
      if (el.getAttribute('aria-label')) names.push(el.getAttribute('aria-label').trim());
      if (names.some((n) => n.startsWith(${JSON.stringify(LABEL)}))) return el;
    }
    return null;
  };
  const check = () => {
    if (st.interactive !== null || st.dcl === null) return;
    const el = phoneBox();
    if (!el || el.disabled || el.readOnly) return;
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    if (!r.width || !r.height || cs.visibility !== 'visible' || cs.display === 'none') return;
    st.interactive = performance.now();
    obs.disconnect();
  };
  const obs = new MutationObserver(check);
  obs.observe(document, { subtree: true, childList: true, attributes: true });
  document.addEventListener('DOMContentLoaded', () => { st.dcl = performance.now(); check(); });
})();`;

/** Network accounting for one page through its CDP session. */
function watchNetwork(cdp) {
  const reqs = new Map();
  const acc = { total: 0, jsCss: 0, requests: 0, fromSw: 0, inFlight: 0, lastActivity: Date.now(), byType: {} };
  cdp.on('Network.requestWillBeSent', (e) => {
    if (!reqs.has(e.requestId)) acc.inFlight += 1;
    reqs.set(e.requestId, { url: e.request.url, type: e.type });
    acc.lastActivity = Date.now();
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = reqs.get(e.requestId);
    if (!r) return;
    r.type = e.type;
    r.mime = e.response.mimeType;
    r.fromSw = e.response.fromServiceWorker;
    acc.lastActivity = Date.now();
  });
  const done = (e, bytes) => {
    const r = reqs.get(e.requestId);
    if (!r || r.done) return;
    r.done = true;
    acc.inFlight -= 1;
    acc.lastActivity = Date.now();
    if (r.url.startsWith('data:') || r.url.startsWith('blob:')) return;
    acc.requests += 1;
    if (r.fromSw) acc.fromSw += 1;
    acc.total += bytes;
    const isJsCss = r.type === 'Script' || r.type === 'Stylesheet' ||
      /javascript|css/.test(r.mime || '');
    if (isJsCss) acc.jsCss += bytes;
    const k = r.type || 'Other';
    acc.byType[k] = (acc.byType[k] || 0) + bytes;
  };
  cdp.on('Network.loadingFinished', (e) => done(e, e.encodedDataLength || 0));
  cdp.on('Network.loadingFailed', (e) => done(e, 0));
  return acc;
}

async function throttle(cdp) {
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', NETWORK);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_SLOWDOWN });
}

/**
 * The page's service worker gets the same network conditions, from its first instruction: the
 * page's session auto-attaches to it (the browser-level auto-attach works only in flat mode,
 * which Playwright's sessions do not expose), paused until it is throttled. Counts its bytes.
 */
async function throttleServiceWorker(cdp) {
  const sw = { attached: 0, bytes: 0, requests: 0 };
  let id = 0;
  const sendTo = (sessionId, method, params = {}) =>
    cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id: ++id, method, params }) });
  cdp.on('Target.receivedMessageFromTarget', (e) => {
    let m;
    try { m = JSON.parse(e.message); } catch { return; }
    if (m.method === 'Network.loadingFinished') {
      sw.bytes += m.params.encodedDataLength || 0;
      sw.requests += 1;
    }
  });
  cdp.on('Target.attachedToTarget', async (e) => {
    if (e.targetInfo.type !== 'service_worker') {
      if (e.waitingForDebugger) await sendTo(e.sessionId, 'Runtime.runIfWaitingForDebugger').catch(() => {});
      return;
    }
    sw.attached += 1;
    try {
      await sendTo(e.sessionId, 'Network.enable');
      await sendTo(e.sessionId, 'Network.emulateNetworkConditions', NETWORK);
    } finally {
      if (e.waitingForDebugger) await sendTo(e.sessionId, 'Runtime.runIfWaitingForDebugger').catch(() => {});
    }
  });
  try {
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
  } catch (e) {
    sw.error = e.message;
  }
  return sw;
}

async function visit(context, label) {
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  const cdp = await context.newCDPSession(page);
  await throttle(cdp);
  const net = watchNetwork(cdp);
  const sw = await throttleServiceWorker(cdp);
  await page.goto('/', { waitUntil: 'commit', timeout: 120000 });
  await page.waitForFunction(() => window.__wlBench && window.__wlBench.interactive !== null, null, {
    timeout: 120000,
  });
  const box = page.getByRole('textbox', { name: LABEL });
  if (!(await box.isVisible()) || !(await box.isEnabled())) {
    throw new Error(`${label}: the "${LABEL}" box is not visible and enabled by role`);
  }
  const t = await page.evaluate(() => {
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return { fcp: fcp ? fcp.startTime : null, interactive: window.__wlBench.interactive, dcl: window.__wlBench.dcl };
  });
  // Let the page finish what it started (on-demand modules, API calls): 1 s without a request.
  const end = Date.now() + 60000;
  while (Date.now() < end && (net.inFlight > 0 || Date.now() - net.lastActivity < 1000)) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (problems.length) throw new Error(`${label}: page errors: ${problems.join('; ')}`);
  return { page, t, net, sw };
}

const browser = await launch();
const { defaultBrowserType: _ignored, ...pixel5 } = devices['Pixel 5'];
const rows = [];
let swAttached = false;
try {
  for (let i = 1; i <= RUNS; i++) {
    const context = await browser.newContext({
      ...pixel5, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh', baseURL: BASE, serviceWorkers: 'allow',
    });
    await context.addInitScript(PROBE);
    const first = await visit(context, `run ${i}, first visit`);
    // The worker installed (its precache done) and in control before the repeat visit.
    const swStart = Date.now();
    await first.page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
      }
      return !!reg.active;
    });
    const swWait = Date.now() - swStart;
    const swBytes = first.sw.bytes;
    swAttached ||= first.sw.attached > 0;
    await first.page.close();
    const repeat = await visit(context, `run ${i}, repeat visit`);
    await repeat.page.close();
    await context.close();
    const row = {
      fcp: first.t.fcp, tti: first.t.interactive, total: first.net.total, jsCss: first.net.jsCss,
      requests: first.net.requests, swBytes: first.sw.attached ? swBytes : null, swWait,
      rFcp: repeat.t.fcp, rTti: repeat.t.interactive, rTotal: repeat.net.total, rFromSw: repeat.net.fromSw,
      rRequests: repeat.net.requests, byType: first.net.byType,
    };
    rows.push(row);
    console.log(`run ${i}: first FCP ${ms(row.fcp)}, interactive ${ms(row.tti)}, ${kb(row.total)} ` +
      `(${row.requests} requests; JS+CSS ${kb(row.jsCss)}), worker precache ${kb(row.swBytes)} ` +
      `(ready ${swWait} ms after interactive+idle) | repeat FCP ${ms(row.rFcp)}, interactive ${ms(row.rTti)}, ` +
      `${kb(row.rTotal)} over the network, ${row.rFromSw}/${row.rRequests} answered by the worker`);
  }
} finally {
  await browser.close();
}

const med = (k) => median(rows.map((r) => r[k]));
const jsCss = med('jsCss');
const rTti = med('rTti');
const firstTypes = Object.keys(rows[0].byType).sort()
  .map((k) => `${k} ${kb(median(rows.map((r) => r.byType[k] || 0)))}`).join(', ');
console.log('');
console.log(`Medians of ${rows.length} run(s); Pixel 5, network ${NETWORK.latency} ms latency, ` +
  `${NETWORK.downloadThroughput} B/s down, ${NETWORK.uploadThroughput} B/s up, CPU ${CPU_SLOWDOWN}× slower; ` +
  `service worker ${swAttached ? 'throttled too' : 'NOT throttled (could not attach)'}`);
const table = [
  ['measure', 'median', 'goal', ''],
  ['first visit: First Contentful Paint', ms(med('fcp')), '', ''],
  ['first visit: interactive', ms(med('tti')), '', ''],
  ['first visit: transferred, all', kb(med('total')), '', ''],
  ['first visit: transferred, JS+CSS', kb(jsCss), '≤ 100 KB', jsCss <= GOAL_JS_CSS ? 'met' : 'MISSED'],
  ['service worker precache (after)', kb(med('swBytes')), '', ''],
  ['repeat visit: First Contentful Paint', ms(med('rFcp')), '', ''],
  ['repeat visit: interactive', ms(rTti), '≤ 1000 ms', rTti !== null && rTti <= GOAL_REPEAT_MS ? 'met' : 'MISSED'],
  ['repeat visit: transferred', kb(med('rTotal')), '', ''],
];
printTable(table);
console.log(`first visit by type: ${firstTypes}`);
