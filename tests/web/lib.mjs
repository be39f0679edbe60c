// The browser tests' harness: Debian's chromium through playwright-core (no browser download),
// axe-core on every page, CSP violations and page errors fail the test, and a line channel to
// the Rust test that started the server (`ask`), for what only the server side knows (the SMS
// code sent to a phone, a new account's one-time password).
//
// Run by tests/api/web.rs: `node tests/web/<app>.test.mjs` with WL_BASE (the server) and
// WL_FIXTURE (JSON: accounts and objects made for the story).

import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, devices } from 'playwright-core';

const require = createRequire(import.meta.url);
export const BASE = process.env.WL_BASE || 'http://127.0.0.1:8080';
export const FIXTURE = JSON.parse(process.env.WL_FIXTURE || '{}');
export { devices };

// --- the line channel to the Rust test -------------------------------------------------------
const rl = createInterface({ input: process.stdin });
const waiting = [];
rl.on('line', (line) => {
  const w = waiting.shift();
  if (w) w(JSON.parse(line));
});
/** Ask the Rust side: `{op: 'otp', phone}` → `{code}`; `{op: 'account', role, phone, name}` → `{id, password}`. */
export function ask(req) {
  return new Promise((resolve) => {
    waiting.push(resolve);
    process.stdout.write('@@ask ' + JSON.stringify(req) + '\n');
  });
}

// --- the browser ---------------------------------------------------------------------------
export async function launch(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.WARDLINE_TEST_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--lang=vi-VN',
      ...extraArgs,
    ],
  });
}

/**
 * A fresh context (its own storage: one person) and a page that fails the test on a page error,
 * a CSP violation or a failed same-origin script.
 */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({
    locale: 'vi-VN',
    timezoneId: 'Asia/Ho_Chi_Minh',
    baseURL: BASE,
    ...opts,
  });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy|Refused to (load|execute|apply|connect)/i.test(text)) {
      page.problems.push('CSP: ' + text);
    }
  });
  return { context, page };
}

/** Fail if the page had errors or CSP violations so far. */
export function assertClean(page) {
  if (page.problems.length) throw new Error(page.problems.join('\n'));
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
/** axe-core on the page as it is now: any serious or critical violation fails. */
export async function axe(page, label) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    const lines = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('\n    ')}`);
    throw new Error(`axe on ${label}:\n  ${lines.join('\n  ')}`);
  }
  axeChecked.push(label);
}
export const axeChecked = [];

// --- API calls from the test (setting up what the story needs) -----------------------------
export async function api(method, path, { token, body, headers = {} } = {}) {
  const h = { 'accept-language': 'vi', ...headers };
  if (token) h.authorization = 'Bearer ' + token;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    h['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(BASE + path, { method, headers: h, body: payload });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  return { status: r.status, headers: r.headers, body: json };
}

/** Sign a resident in by code through the API; returns the token response. */
export async function residentToken(phone) {
  let r = await api('POST', '/v1/auth/otp', { body: { phone } });
  if (r.status !== 202) throw new Error(`otp: ${r.status} ${JSON.stringify(r.body)}`);
  const { code } = await ask({ op: 'otp', phone });
  r = await api('POST', '/v1/auth/otp/verify', { body: { phone, code } });
  // 201 on a resident's first sign-in (the account is made), 200 afterwards.
  if (r.status !== 200 && r.status !== 201) throw new Error(`verify: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.access_token;
}

// --- a tiny runner: sequential steps, a closing line the CI reads ----------------------------
const steps = [];
export function test(name, fn) { steps.push({ name, fn }); }

export async function run() {
  let passed = 0;
  let failed = 0;
  for (const { name, fn } of steps) {
    const started = Date.now();
    try {
      await fn();
      passed += 1;
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${name}\n${e && e.stack ? e.stack : e}`);
    }
  }
  console.log(`web: ${passed} passed, ${failed} failed`);
  rl.close();
  process.exit(failed ? 1 : 0);
}

/** Wait until `f()` is truthy (polling), or fail with `what`. */
export async function eventually(f, what, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}
