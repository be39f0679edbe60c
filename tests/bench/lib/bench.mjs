// What the browser benchmarks (resident_load.mjs, staff_queue.mjs, call_recovery.mjs) share: the
// browser, the command line, the API client and sign-in, the medians and the printed table: one
// copy, so the three launch the browser, call the API and summarise the same way.
//
// Not tests/web/lib.mjs: that is the browser tests' harness, with a line channel to the Rust test
// on stdin and the test runner, which a benchmark started by a shell script has no use for.

import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';

// --- the browser ---------------------------------------------------------------------------------
// playwright-core from the browser tests' packages (tests/web/node_modules): no browser download
// and no second install; Debian's chromium is the browser.
const require = createRequire(new URL('../../web/package.json', import.meta.url));
let playwright;
try {
  playwright = require('playwright-core');
} catch {
  console.error('playwright-core is not installed in tests/web/node_modules: run scripts/test-all once ' +
    '(it installs the browser tests\' packages), or `cd tests/web && npm ci`.');
  process.exit(2);
}
export const { chromium, devices } = playwright;

export const CHROMIUM = process.env.WARDLINE_TEST_CHROMIUM || '/usr/bin/chromium';

/**
 * Headless chromium with the browser tests' flags (tests/web/lib.mjs's launch): no sandbox, GPU
 * or QUIC, none of the browser's own background traffic (first run, component updates, sync)
 * during a measurement, Vietnamese like the apps. `extraArgs` (call_recovery.mjs: the fake
 * camera and microphone) go before --lang.
 */
export function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs, '--lang=vi-VN'],
  });
}

// --- the command line ----------------------------------------------------------------------------
// `node tests/bench/<name>.mjs <base URL> [runs]`: the .sh scripts start a server and pass both.
export const BASE = process.argv[2] || process.env.WL_BASE || 'http://127.0.0.1:8080';
/** The runs asked for on the command line, at least 1. */
export const runsArg = (byDefault) => Math.max(1, Number(process.argv[3] || byDefault));

// --- the API -------------------------------------------------------------------------------------
/** One JSON call to the server at BASE, in Vietnamese; the body parsed when it is JSON. */
export async function api(method, path, { token, body, headers = {} } = {}) {
  const h = { 'accept-language': 'vi', ...headers };
  if (token) h.authorization = 'Bearer ' + token;
  let payload;
  if (body !== undefined) {
    h['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(BASE + path, { method, headers: h, body: payload });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: r.status, body: json };
}
/** The body when the status is the one (or one of the list) expected; else a set-up error. */
export function must(r, statuses, what) {
  const ok = Array.isArray(statuses) ? statuses : [statuses];
  if (!ok.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}
export async function login(phone, password) {
  return must(await api('POST', '/v1/auth/login', { body: { phone, password } }), 200, `login ${phone}`);
}
/**
 * Sign in with a one-time password and change it (every other call answers 403 until then);
 * returns the sign-in with the new password (its `access_token`, `refresh_token`, …).
 */
export async function firstSignIn(phone, oneTime, next) {
  const t = await login(phone, oneTime);
  must(await api('POST', '/v1/me/password', { token: t.access_token, body: { current_password: oneTime, new_password: next } }), 204, `password change ${phone}`);
  return login(phone, next);
}
/**
 * The last code texted to `phone` (local form 09…), read from the `sms_outbox` table of the
 * server's SQLite database `db` (WL_DB): there is no SMS gateway in a benchmark.
 */
export function smsCode(db, phone) {
  const e164 = '+84' + phone.replace(/\D/g, '').replace(/^0/, '');
  const py = 'import re,sqlite3,sys\n' +
    'c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro",uri=True)\n' +
    'r=c.execute("select body from sms_outbox where phone=? order by created_at desc limit 1",(sys.argv[2],)).fetchone()\n' +
    'm=re.search(r"\\b(\\d{6})\\b",r[0]) if r else None\n' +
    'print(m.group(1) if m else "")';
  const code = execFileSync('python3', ['-c', py, db, e164], { encoding: 'utf8' }).trim();
  if (!code) throw new Error(`no SMS code for ${e164} in ${db}`);
  return code;
}
/**
 * The token set the apps keep in localStorage (`wl.<app>.tokens`), from a sign-in's answer: put
 * there by an init script, a page starts signed in without going through the sign-in form.
 */
export function tokenSet(b) {
  const claims = JSON.parse(Buffer.from(b.access_token.split('.')[1], 'base64url').toString('utf8'));
  return { access: b.access_token, refresh: b.refresh_token, expiresAt: Date.now() + (b.expires_in - 30) * 1000, claims };
}

// --- the summary ---------------------------------------------------------------------------------
/** The median of the finite numbers in `xs` (a failed or missing measure is left out), or null. */
export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
export const kb = (b) => (b === null ? '–' : `${(b / 1024).toFixed(1)} KB`);
/** Milliseconds, rounded; '–' for a measure that is missing (null, undefined, not finite). */
export const ms = (x) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : `${Math.round(x)} ms`);

/** Prints rows of strings as columns: the first row a header underlined, the first column left. */
export function printTable(table) {
  const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
  for (const [n, r] of table.entries()) {
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    if (n === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
