// The API client every app shares: same-origin /v1 calls, bearer tokens with one refresh at a
// time (across tabs, through a Web Lock), problem+json errors in the person's language.

import { currentLang, t } from './i18n.js';

/** An error answer (problem+json), or the network failing (status 0, code `network`). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code || (status === 0 ? 'network' : `http_${status}`);
    this.problem = problem || {};
    /** Per-field errors: [{field, message}] (validation_failed). */
    this.fields = Array.isArray(problem?.errors) ? problem.errors : [];
  }
  /** What to show a person: the server's message (already in their language) or ours. */
  get message() {
    if (this.status === 0) return navigator.onLine === false ? t('net.offline') : t('net.error');
    return super.message;
  }
}

/** The 401 codes that mean the session itself is over (anything else is about the request). */
const TOKEN_CODES = new Set(['missing_token', 'invalid_token', 'account_disabled', 'invalid_refresh_token', 'refresh_token_reused']);

/** The problem code of an answer, read from a clone so the body stays readable. */
async function problemCode(r) {
  try {
    const p = await r.clone().json();
    return p?.code || '';
  } catch {
    return '';
  }
}

/** A fresh idempotency key (kept with a draft so a retry is the same request). */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function decodeJwt(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(part), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
    return JSON.parse(json);
  } catch {
    return {};
  }
}

/**
 * A client for one app. `app` names the storage slot (`resident`, `staff`, `doctor`), so the
 * three apps on one origin keep separate sign-ins.
 */
export function createClient({ app, base = '' } = {}) {
  const slot = `wl.${app}.tokens`;
  const listeners = new Set();
  let tokens = load();

  function load() {
    try { return JSON.parse(localStorage.getItem(slot)) || null; } catch { return null; }
  }
  function save(next) {
    tokens = next;
    try {
      if (next) localStorage.setItem(slot, JSON.stringify(next));
      else localStorage.removeItem(slot);
    } catch { /* private mode: tokens live in memory */ }
    for (const f of listeners) f(!!next);
  }
  function accept(body) {
    const claims = decodeJwt(body.access_token);
    save({
      access: body.access_token,
      refresh: body.refresh_token,
      // Refresh a little early: clocks differ and requests take time.
      expiresAt: Date.now() + Math.max(0, (body.expires_in - 30)) * 1000,
      claims,
    });
  }
  // Another tab signed in or out, or refreshed: follow it.
  window.addEventListener('storage', (e) => {
    if (e.key === slot) {
      tokens = load();
      for (const f of listeners) f(!!tokens);
    }
  });

  async function refresh() {
    const run = async () => {
      const seen = load();
      // Another tab may have refreshed while we waited for the lock.
      if (seen && seen.expiresAt > Date.now() && seen.access !== tokens?.access) {
        tokens = seen;
        return true;
      }
      const current = seen || tokens;
      if (!current?.refresh) return false;
      let r;
      try {
        r = await fetch(base + '/v1/auth/refresh', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'accept-language': currentLang() },
          body: JSON.stringify({ refresh_token: current.refresh }),
        });
      } catch {
        throw new ApiError(0, null);
      }
      if (!r.ok) {
        save(null);
        return false;
      }
      accept(await r.json());
      return true;
    };
    if (navigator.locks?.request) return navigator.locks.request(slot + '.refresh', run);
    return run();
  }

  // One refresh at a time in this page too: calls sent together (a view's first requests) with
  // an expired token wait for the same refresh instead of queueing one each behind the lock.
  let refreshing = null;
  function refreshOnce() {
    if (!refreshing) refreshing = refresh().finally(() => { refreshing = null; });
    return refreshing;
  }

  async function bearer() {
    if (!tokens) return null;
    if (tokens.expiresAt <= Date.now()) {
      if (!(await refreshOnce())) return null;
    }
    return tokens?.access || null;
  }

  /**
   * One call. `body` is JSON unless it is FormData/Blob. Options: `query` (object),
   * `idempotencyKey`, `headers`, `signal`, `raw` (return the Response), `auth` (default true).
   */
  async function request(method, path, body, opts = {}) {
    const url = new URL(base + path, location.origin);
    if (opts.query) {
      for (const [k, v] of Object.entries(opts.query)) {
        if (v === undefined || v === null || v === '') continue;
        if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
        else url.searchParams.set(k, v);
      }
    }
    const send = async (retried) => {
      const headers = { 'accept-language': currentLang(), ...(opts.headers || {}) };
      if (opts.auth !== false) {
        const tok = await bearer();
        if (tok) headers.authorization = 'Bearer ' + tok;
      }
      if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
      let payload;
      if (body instanceof FormData || body instanceof Blob) payload = body;
      else if (body !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(body);
      }
      let r;
      try {
        r = await fetch(url, { method, headers, body: payload, signal: opts.signal });
      } catch (e) {
        if (e?.name === 'AbortError') throw e;
        throw new ApiError(0, null);
      }
      // Only a token problem is worth a refresh: a wrong current password (401
      // `invalid_credentials`) says nothing about the session.
      const tokenTrouble = r.status === 401 && TOKEN_CODES.has(await problemCode(r));
      if (tokenTrouble && !retried && tokens && opts.auth !== false) {
        if (await refreshOnce()) return send(true);
      }
      if (opts.raw) return r;
      if (!r.ok) {
        let problem = null;
        try { problem = await r.json(); } catch { /* not JSON */ }
        const err = new ApiError(r.status, problem);
        if (tokenTrouble && opts.auth !== false) save(null);
        throw err;
      }
      if (r.status === 204) return null;
      const ct = r.headers.get('content-type') || '';
      return ct.includes('json') ? r.json() : r.text();
    };
    return send(false);
  }

  return {
    request,
    get: (p, o) => request('GET', p, undefined, o),
    post: (p, b, o) => request('POST', p, b ?? {}, o),
    put: (p, b, o) => request('PUT', p, b ?? {}, o),
    patch: (p, b, o) => request('PATCH', p, b ?? {}, o),
    del: (p, o) => request('DELETE', p, undefined, o),
    /** Is someone signed in (tokens held, maybe expired but refreshable)? */
    get signedIn() { return !!tokens; },
    /** The access token's claims (`sub`, `role`, …). */
    get claims() { return tokens?.claims || {}; },
    /** A valid access token (refreshed if needed), for the WebSocket URLs that take one. */
    accessToken: bearer,
    onAuthChange(f) { listeners.add(f); return () => listeners.delete(f); },
    async login(phone, password) {
      accept(await request('POST', '/v1/auth/login', { phone, password }, { auth: false }));
    },
    async requestOtp(phone) {
      return request('POST', '/v1/auth/otp', { phone }, { auth: false });
    },
    async verifyOtp(phone, code) {
      accept(await request('POST', '/v1/auth/otp/verify', { phone, code }, { auth: false }));
    },
    async logout() {
      const refreshToken = tokens?.refresh;
      try {
        if (refreshToken) await request('POST', '/v1/auth/logout', { refresh_token: refreshToken });
      } catch { /* signed out locally whatever the server says */ }
      save(null);
    },
    /** Forget the tokens without calling the server (e.g. after a 401). */
    forget() { save(null); },
  };
}
