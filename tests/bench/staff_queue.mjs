// The staff console's queue with 1,000 open reports (issue 18): how long from the data to the
// rendered list, and what the console transfers on its first load. Debian's chromium through
// playwright-core (the browser tests' packages), a desktop window (1366×768), no throttling: the
// console runs on the ward office's PCs.
//
// Seeding (once, through the public API, as the ward would fill it): the admin made by the CLI
// (WL_ADMIN_PHONE / WL_ADMIN_PASSWORD) changes the one-time password; a staff account
// (`POST /v1/admin/accounts`, then its own password change), a unit (`POST /v1/admin/units`) with
// the staff member in it, every photo-free category but `other` routed to that unit
// (`PATCH /v1/admin/categories/{code}`; `other` stays unrouted, which the queue also shows); four
// residents signed in by SMS code (read from the `sms_outbox` table of WL_DB: no SMS gateway);
// then REPORTS reports (default 1000) through `POST /v1/reports`, 16 in flight, without photos
// (the categories that require one are left out), answers to required questions filled in,
// positions spread over about 2 km around 10.77, 106.70. The staff member's queue is then paged
// through the API to check it holds them all.
//
// Per run, a fresh browser context (empty HTTP cache) with the staff member's tokens in the
// console's storage slot (`wl.staff.tokens`, fresh from `POST /v1/auth/login`), as after a
// sign-in:
//   cold load: navigation to /staff/ until the first page of the queue is rendered;
//   reload:    page.reload() of the same view (HTTP cache warm, immutable assets not refetched);
//   in-app:    from the statistics view, a click on "Hàng đợi" (the SPA's own navigation).
// "Rendered" (checked in the page on every DOM mutation): the queue's heading "Hàng đợi phản
//   ánh" is in <main> and all rows of the first page (min(50, open reports): the console's page
//   size) are in the DOM, each a list item with its report link, and the last row has a layout
//   box (width and height > 0, not display:none or visibility:hidden); the time is taken at the
//   first animation frame after that (rAF, then a posted message: the frame that paints them has
//   been produced). Confirmed afterwards by role: the heading, and as many list items holding a
//   "Chọn" checkbox as rows expected.
// Times, from the page's clock (performance.now()):
//   navigation → rendered: from the navigation's start (cold load, reload) or from the click's
//     event time (in-app);
//   queue API answered → rendered: from the Resource Timing responseEnd of the last
//     GET /v1/staff/reports before the rows appeared (the body fully received) to rendered: the
//     console's own work (JSON parse, lanes, 50 cards, layout, paint);
//   the queue API's own time: its requestStart → responseEnd.
// Bytes (cold load only): what the page transferred from the navigation until the network has
//   been quiet for 1 s after rendered, compressed as on the wire (CDP Network.loadingFinished
//   encodedDataLength: body and headers), split HTML / JS / CSS / API (/v1/…) / other; photos
//   (/v1/media/…, /v1/objects/…) are counted apart and left out of the total (the goal is
//   without photos). The WebSocket's frames (live updates) are not in it. The codings the
//   server chose are printed (Chromium asks for br on loopback, which it counts as a secure
//   origin; over plain HTTP elsewhere it would not), with the same responses' body sizes fetched
//   again as br, gzip and uncompressed. WATERFALL=1 prints the first cold load's requests in order.
//
// Usage: node tests/bench/staff_queue.mjs <base URL> [runs]   (tests/bench/staff_queue.sh starts
// a server, makes the admin and calls this).

import http from 'node:http';
import {
  BASE, api, firstSignIn, kb, launch, login, median, ms, must, printTable, runsArg, smsCode, tokenSet,
} from './lib/bench.mjs';

const RUNS = runsArg(5);
const REPORTS = Math.max(1, Number(process.env.REPORTS || 1000));
const CONCURRENCY = 16;
const DB = process.env.WL_DB;
const ADMIN_PHONE = process.env.WL_ADMIN_PHONE;
const ADMIN_OTP = process.env.WL_ADMIN_PASSWORD;
const ADMIN_PASSWORD = 'Bench-admin-2026!';
const STAFF_PHONE = '0912000111';
const STAFF_PASSWORD = 'Bench-staff-2026!';
const RESIDENTS = ['0913000001', '0913000002', '0913000003', '0913000004'];
const PAGE_SIZE = 50; // web/staff/queue.js
const GOAL_BYTES = 150 * 1024;
const TITLE = 'Hàng đợi phản ánh';

if (!DB || !ADMIN_PHONE || !ADMIN_OTP) {
  console.error('WL_DB, WL_ADMIN_PHONE and WL_ADMIN_PASSWORD must be set (tests/bench/staff_queue.sh sets them)');
  process.exit(2);
}

// --- the API (api, must, login, firstSignIn, smsCode, tokenSet: lib/bench.mjs) --------------------
async function residentToken(phone) {
  must(await api('POST', '/v1/auth/otp', { body: { phone } }), 202, `otp ${phone}`);
  const r = await api('POST', '/v1/auth/otp/verify', { body: { phone, code: smsCode(DB, phone) } });
  if (r.status !== 200 && r.status !== 201) throw new Error(`verify ${phone}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.access_token;
}

// --- seeding -------------------------------------------------------------------------------------
/** A small deterministic generator (the same reports every time). */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const STREETS = ['Lê Lợi', 'Nguyễn Huệ', 'Pasteur', 'Hai Bà Trưng', 'Đồng Khởi', 'Lý Tự Trọng', 'Tôn Đức Thắng', 'Mạc Thị Bưởi', 'Nam Kỳ Khởi Nghĩa', 'Thái Văn Lung'];
const WHAT = {
  drain_blocked: 'Cống thoát nước bị rác làm nghẹt, nước đọng sau mưa',
  flooding: 'Ngập sau cơn mưa chiều, xe máy chết máy giữa đường',
  tree_hazard: 'Cây xanh nghiêng sát dây điện, cành khô có thể gãy',
  open_manhole: 'Nắp hố ga bị mất, rất nguy hiểm cho người đi bộ ban đêm',
  street_light: 'Đèn đường không sáng cả đoạn, đi lại buổi tối rất tối',
  traffic_sign: 'Biển báo giao thông bị cong, che mất một nửa',
  water_leak: 'Ống nước bể, nước chảy tràn ra vỉa hè suốt từ sáng',
  other: 'Có người đổ xà bần trên lề đường',
  noise: 'Quán karaoke mở nhạc lớn quá giờ quy định',
};
function answersFor(cat, rand) {
  const out = {};
  for (const q of cat.questions || []) {
    if (!q.required) continue;
    if (q.kind === 'single_choice') out[q.key] = q.choices[Math.floor(rand() * q.choices.length)];
    else if (q.kind === 'multi_choice') out[q.key] = [q.choices[0]];
    else if (q.kind === 'number') out[q.key] = 1;
    else if (q.kind === 'datetime') out[q.key] = new Date().toISOString();
    else out[q.key] = 'Khoảng 1 mét';
  }
  return out;
}

async function seed() {
  const started = Date.now();
  const admin = (await firstSignIn(ADMIN_PHONE, ADMIN_OTP, ADMIN_PASSWORD)).access_token;
  const staff = must(await api('POST', '/v1/admin/accounts', {
    token: admin, body: { phone: STAFF_PHONE, display_name: 'Trần Thị Cán Bộ', role: 'staff' },
  }), 201, 'staff account');
  await firstSignIn(STAFF_PHONE, staff.one_time_password, STAFF_PASSWORD);
  const unit = must(await api('POST', '/v1/admin/units', { token: admin, body: { name: 'Tổ trật tự đô thị', kind: 'team' } }), 201, 'unit');
  const put = await api('PUT', `/v1/admin/units/${unit.id}/members/${staff.account.id}`, { token: admin });
  if (put.status !== 204 && put.status !== 200) throw new Error(`membership: ${put.status} ${JSON.stringify(put.body)}`);
  const cats = must(await api('GET', '/v1/categories'), 200, 'categories').filter((c) => !c.photo_required && c.active !== false);
  if (!cats.length) throw new Error('no category takes a report without a photo');
  for (const c of cats) {
    if (c.code === 'other') continue;
    must(await api('PATCH', `/v1/admin/categories/${encodeURIComponent(c.code)}`, { token: admin, body: { unit_id: unit.id } }), 200, `route ${c.code}`);
  }
  const residents = [];
  for (const p of RESIDENTS) residents.push(await residentToken(p));
  const rand = rng(20261207);
  const bodies = Array.from({ length: REPORTS }, (_, i) => {
    const cat = cats[Math.floor(rand() * cats.length)];
    const street = STREETS[Math.floor(rand() * STREETS.length)];
    const no = 1 + Math.floor(rand() * 200);
    return {
      token: residents[i % residents.length],
      body: {
        category_code: cat.code,
        description: `${WHAT[cat.code] || 'Sự cố cần xử lý'}, trước số ${no} ${street} (phản ánh ${i + 1})`,
        lat: 10.77 + (rand() - 0.5) * 0.02,
        lon: 106.70 + (rand() - 0.5) * 0.02,
        accuracy_m: 5 + Math.floor(rand() * 20),
        address: `${no} ${street}, Phường Bến Nghé`,
        answers: answersFor(cat, rand),
      },
    };
  });
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const { token, body } = bodies[next++];
      must(await api('POST', '/v1/reports', { token, body, headers: { 'idempotency-key': crypto.randomUUID() } }), 201, 'report');
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const createSecs = (Date.now() - t0) / 1000;
  // The staff member's queue holds them all (open, in their unit or unrouted).
  const staffToken = (await login(STAFF_PHONE, STAFF_PASSWORD)).access_token;
  let seen = 0;
  for (let offset = 0; offset <= 5000; offset += 200) {
    const page = must(await api('GET', `/v1/staff/reports?limit=200&offset=${offset}`, { token: staffToken }), 200, 'queue');
    seen += page.length;
    if (page.length < 200) break;
  }
  if (seen !== REPORTS) throw new Error(`the staff queue holds ${seen} reports, ${REPORTS} were filed`);
  console.log(`seeded: ${REPORTS} reports (${cats.length} photo-free categories, ${residents.length} residents, ` +
    `${CONCURRENCY} in flight) in ${createSecs.toFixed(1)} s (${(REPORTS / createSecs).toFixed(0)}/s); ` +
    `the staff queue holds ${seen}; set-up ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  return { rows: Math.min(PAGE_SIZE, seen) };
}

// --- in the page ---------------------------------------------------------------------------------
const probe = (rows, title) => `(() => {
  const ROWS = ${rows};
  const TITLE = ${JSON.stringify(title)};
  const st = { t0: 0, inDom: null, rendered: null, armed: true };
  Object.defineProperty(window, '__wlq', { value: st });
  const check = () => {
    if (!st.armed || st.inDom !== null) return;
    const main = document.getElementById('main');
    const h1 = main && main.querySelector('h1');
    if (!h1 || h1.textContent.trim() !== TITLE) return;
    const items = [...main.querySelectorAll('li')].filter((li) => li.querySelector('a[href^="/staff/reports/"]'));
    if (items.length < ROWS) return;
    const last = items[items.length - 1];
    const r = last.getBoundingClientRect();
    const cs = getComputedStyle(last);
    if (!r.width || !r.height || cs.display === 'none' || cs.visibility !== 'visible') return;
    st.inDom = performance.now();
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => { st.rendered = performance.now(); };
      ch.port2.postMessage(0);
    });
  };
  st.arm = () => { st.inDom = null; st.rendered = null; st.t0 = null; st.armed = true; };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  // In-app navigation: time from the click on a queue link.
  document.addEventListener('click', (e) => {
    const a = e.target.closest && e.target.closest('a[href]');
    if (a && st.t0 === null && new URL(a.href).pathname.replace(/\\/+$/, '') === '/staff') st.t0 = e.timeStamp;
  }, true);
  st.timings = () => {
    const q = performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/staff/reports?') &&
      e.responseEnd <= st.inDom && (st.t0 === null || e.startTime >= st.t0));
    const last = q[q.length - 1];
    return {
      t0: st.t0 || 0, inDom: st.inDom, rendered: st.rendered,
      apiStart: last ? last.startTime : null, apiRequest: last ? last.requestStart : null, apiEnd: last ? last.responseEnd : null,
      apiBody: last ? last.encodedBodySize : null, apiDecoded: last ? last.decodedBodySize : null,
    };
  };
})();`;

/** Network accounting for one page through its CDP session. */
function watchNetwork(cdp) {
  const reqs = new Map();
  const acc = { inFlight: 0, lastActivity: Date.now(), list: [] };
  cdp.on('Network.requestWillBeSent', (e) => {
    if (!reqs.has(e.requestId)) acc.inFlight += 1;
    reqs.set(e.requestId, { url: e.request.url, type: e.type, method: e.request.method, start: e.timestamp });
    acc.lastActivity = Date.now();
  });
  cdp.on('Network.responseReceived', (e) => {
    const r = reqs.get(e.requestId);
    if (!r) return;
    r.type = e.type;
    r.mime = e.response.mimeType;
    r.status = e.response.status;
    r.headerBytes = e.response.encodedDataLength || 0;
    const hs = e.response.headers || {};
    r.encoding = Object.entries(hs).find(([k]) => k.toLowerCase() === 'content-encoding')?.[1] || 'identity';
    r.fromCache = e.response.fromDiskCache || e.response.fromMemoryCache;
    acc.lastActivity = Date.now();
  });
  const done = (e, bytes, failed) => {
    const r = reqs.get(e.requestId);
    if (!r || r.done) return;
    r.done = true;
    r.bytes = bytes;
    r.failed = failed;
    r.end = e.timestamp;
    acc.inFlight -= 1;
    acc.lastActivity = Date.now();
    if (r.url.startsWith('data:') || r.url.startsWith('blob:')) return;
    acc.list.push(r);
  };
  cdp.on('Network.loadingFinished', (e) => done(e, e.encodedDataLength || 0, false));
  cdp.on('Network.loadingFailed', (e) => done(e, 0, true));
  return acc;
}

/** The cold load's requests in order, times from the document request's start (WATERFALL=1). */
function waterfall(list) {
  const t0 = Math.min(...list.map((r) => r.start));
  console.log('cold load, run 1 (start → end ms, bytes on the wire, coding):');
  for (const r of [...list].sort((a, b) => a.start - b.start)) {
    const u = new URL(r.url);
    const path = (u.pathname + u.search).replace(/\/assets\/[0-9a-f]+\//, '/assets/…/');
    console.log(`  ${String(Math.round((r.start - t0) * 1000)).padStart(5)} → ${String(Math.round((r.end - t0) * 1000)).padStart(5)}` +
      `  ${String(r.bytes).padStart(6)}  ${r.encoding.padEnd(8)} ${path.length > 90 ? path.slice(0, 90) + '…' : path}`);
  }
}

function kind(r) {
  const path = new URL(r.url).pathname;
  if (/^\/v1\/(media|objects)\//.test(path) || r.type === 'Image') return 'photos';
  if (path.startsWith('/v1/')) return 'api';
  if (r.type === 'Document' || /html/.test(r.mime || '')) return 'html';
  if (r.type === 'Script' || /javascript/.test(r.mime || '')) return 'js';
  if (r.type === 'Stylesheet' || /css/.test(r.mime || '')) return 'css';
  return 'other';
}
function split(list) {
  const out = { html: 0, js: 0, css: 0, api: 0, other: 0, photos: 0, requests: 0, headers: 0 };
  for (const r of list) {
    const k = kind(r);
    out[k] += r.bytes;
    if (k !== 'photos') { out.requests += 1; out.headers += Math.min(r.headerBytes || 0, r.bytes); }
  }
  out.total = out.html + out.js + out.css + out.api + out.other;
  return out;
}

async function quiet(net, ms = 1000) {
  const end = Date.now() + 30000;
  while (Date.now() < end && (net.inFlight > 0 || Date.now() - net.lastActivity < ms)) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function confirmByRole(page, rows, label) {
  const heading = page.getByRole('heading', { name: TITLE, exact: true });
  if (!(await heading.isVisible())) throw new Error(`${label}: the heading "${TITLE}" is not visible`);
  const n = await page.getByRole('listitem').filter({ has: page.getByRole('checkbox') })
    .filter({ has: page.getByRole('link') }).count();
  if (n !== rows) throw new Error(`${label}: ${n} rows by role, ${rows} expected`);
}

async function waitRendered(page, label) {
  await page.waitForFunction(() => window.__wlq && window.__wlq.rendered !== null, null, { timeout: 60000 });
  const t = await page.evaluate(() => window.__wlq.timings());
  if (t.apiEnd === null) throw new Error(`${label}: no GET /v1/staff/reports before the rows appeared`);
  return {
    total: t.rendered - t.t0,
    dom: t.inDom - t.t0,
    afterApi: t.rendered - t.apiEnd,
    apiTime: t.apiEnd - t.apiRequest,
    apiFromStart: t.apiEnd - t.t0,
    apiBody: t.apiBody,
    apiDecoded: t.apiDecoded,
  };
}

/** The raw (still compressed) length of a GET's body with this Accept-Encoding. */
function rawLength(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => resolve(n));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** The same responses' brotli, gzip and plain body sizes (Chromium asks for br over HTTPS only). */
async function codings(list, token) {
  const out = { br: 0, gzip: 0, identity: 0 };
  for (const r of list) {
    if (kind(r) === 'photos' || r.failed || r.method !== 'GET' || r.url.startsWith('ws')) continue;
    for (const enc of ['br', 'gzip', 'identity']) {
      const headers = { 'accept-encoding': enc, 'accept-language': 'vi' };
      if (new URL(r.url).pathname.startsWith('/v1/')) headers.authorization = 'Bearer ' + token;
      out[enc] += await rawLength(r.url, headers);
    }
  }
  return out;
}

// --- the runs ------------------------------------------------------------------------------------
const { rows } = await seed();
const browser = await launch();
const results = [];
let encodings = new Map();
let alt = null;
try {
  for (let i = 1; i <= RUNS; i++) {
    const tokens = tokenSet(await login(STAFF_PHONE, STAFF_PASSWORD));
    const context = await browser.newContext({
      viewport: { width: 1366, height: 768 }, locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh', baseURL: BASE,
    });
    await context.addInitScript((v) => {
      if (!localStorage.getItem('wl.staff.tokens')) localStorage.setItem('wl.staff.tokens', v);
    }, JSON.stringify(tokens));
    await context.addInitScript(probe(rows, TITLE));
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(e.message));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const net = watchNetwork(cdp);

    await page.goto('/staff/', { waitUntil: 'commit', timeout: 60000 });
    const cold = await waitRendered(page, `run ${i}, cold load`);
    await confirmByRole(page, rows, `run ${i}, cold load`);
    await quiet(net);
    const bytes = split(net.list);
    for (const r of net.list) if (kind(r) !== 'photos') encodings.set(`${kind(r)} ${r.encoding}`, (encodings.get(`${kind(r)} ${r.encoding}`) || 0) + 1);
    if (i === 1) alt = await codings(net.list, tokens.access);
    if (i === 1 && process.env.WATERFALL === '1') waterfall(net.list);

    net.list = [];
    await page.reload({ waitUntil: 'commit', timeout: 60000 });
    const reload = await waitRendered(page, `run ${i}, reload`);
    await confirmByRole(page, rows, `run ${i}, reload`);
    await quiet(net);
    const reloadBytes = split(net.list);

    await page.getByRole('link', { name: 'Thống kê', exact: true }).click();
    await page.getByRole('heading', { name: 'Thống kê phản ánh' }).waitFor({ timeout: 60000 });
    await quiet(net, 500);
    await page.evaluate(() => window.__wlq.arm());
    await page.getByRole('link', { name: 'Hàng đợi', exact: true }).click();
    const inApp = await waitRendered(page, `run ${i}, in-app`);
    await confirmByRole(page, rows, `run ${i}, in-app`);
    if (problems.length) throw new Error(`run ${i}: page errors: ${problems.join('; ')}`);
    await context.close();

    const row = { cold, reload, inApp, bytes, reloadBytes };
    results.push(row);
    console.log(`run ${i}: cold load rendered ${ms(cold.total)} (queue API answered at ${ms(cold.apiFromStart)}, ` +
      `then ${ms(cold.afterApi)}) | reload ${ms(reload.total)} (API → rendered ${ms(reload.afterApi)}) | ` +
      `in-app ${ms(inApp.total)} (API → rendered ${ms(inApp.afterApi)}) | queue API ${ms(cold.apiTime)}, ` +
      `${kb(cold.apiBody)} (${kb(cold.apiDecoded)} decoded) | first load ${kb(bytes.total)} in ${bytes.requests} requests ` +
      `(HTML ${kb(bytes.html)}, JS ${kb(bytes.js)}, CSS ${kb(bytes.css)}, API ${kb(bytes.api)}, other ${kb(bytes.other)}; ` +
      `photos ${kb(bytes.photos)} left out) | reload ${kb(reloadBytes.total)}`);
  }
} finally {
  await browser.close();
}

const med = (f) => median(results.map(f));
const total = med((r) => r.bytes.total);
console.log('');
console.log(`Medians of ${results.length} run(s); ${REPORTS} open reports, first page ${rows} rows; ` +
  'desktop 1366×768, no network or CPU throttling, loopback');
const table = [
  ['measure', 'median', 'goal', ''],
  ['cold load: navigation → rows rendered', ms(med((r) => r.cold.total)), '', ''],
  ['cold load: navigation → queue API answered', ms(med((r) => r.cold.apiFromStart)), '', ''],
  ['cold load: queue API answered → rows rendered', ms(med((r) => r.cold.afterApi)), '', ''],
  ['reload: navigation → rows rendered', ms(med((r) => r.reload.total)), '', ''],
  ['reload: queue API answered → rows rendered', ms(med((r) => r.reload.afterApi)), '', ''],
  ['in-app (click "Hàng đợi") → rows rendered', ms(med((r) => r.inApp.total)), '', ''],
  ['in-app: queue API answered → rows rendered', ms(med((r) => r.inApp.afterApi)), '', ''],
  ['queue API (request → response end)', ms(med((r) => r.cold.apiTime)), '', ''],
  ['first load transferred (no photos)', kb(total), '≤ 150 KB', total !== null && total <= GOAL_BYTES ? 'met' : 'MISSED'],
  ['  HTML', kb(med((r) => r.bytes.html)), '', ''],
  ['  JS', kb(med((r) => r.bytes.js)), '', ''],
  ['  CSS', kb(med((r) => r.bytes.css)), '', ''],
  ['  API', kb(med((r) => r.bytes.api)), '', ''],
  ['  other', kb(med((r) => r.bytes.other)), '', ''],
  ['  of which response headers', kb(med((r) => r.bytes.headers)), '', ''],
  ['reload transferred', kb(med((r) => r.reloadBytes.total)), '', ''],
];
printTable(table);
console.log(`first-load requests: ${med((r) => r.bytes.requests)}; encodings seen (kind coding: responses over all runs): ` +
  [...encodings.entries()].map(([k, v]) => `${k}: ${v}`).join(', '));
if (alt) {
  console.log(`the same first-load responses' bodies fetched again: br ${kb(alt.br)}, gzip ${kb(alt.gzip)}, ` +
    `uncompressed ${kb(alt.identity)} (bodies only, no headers)`);
}
