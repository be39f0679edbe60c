// Offline drafts (after FixMyStreet's offline_draft.js): a report the resident pressed "Gửi" on is
// first written to IndexedDB — its answers, its already-downscaled photos as Blobs and the
// Idempotency-Key made when the form was opened — and only then sent. Sending uploads the photos
// (remembering each media id as soon as it has it), then creates the report with that same key, so
// a create whose answer was lost and is sent again gets the first report back, never a second one.
// The draft is deleted only after the create succeeded. Every send runs under one lock (tabs
// included), so the form, the `online` event and the service worker's sync never race.

import { ApiError } from '../shared/api.js';

const DB_NAME = 'wl-resident';
const STORE = 'drafts';
let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: 'id' });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => { dbPromise = null; reject(req.error); };
    });
  }
  return dbPromise;
}

async function tx(mode, fn) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const store = t.objectStore(STORE);
    let result;
    const r = fn(store);
    if (r) r.onsuccess = () => { result = r.result; };
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

/** Every draft, oldest first. */
export async function listDrafts() {
  try {
    const all = (await tx('readonly', (s) => s.getAll())) || [];
    return all.sort((a, b) => a.createdAt - b.createdAt);
  } catch {
    return [];
  }
}
export const getDraft = (id) => tx('readonly', (s) => s.get(id));
export async function putDraft(d) {
  d.updatedAt = Date.now();
  await tx('readwrite', (s) => s.put(d));
  events.dispatchEvent(new CustomEvent('change'));
  return d;
}
export async function deleteDraft(id) {
  await tx('readwrite', (s) => s.delete(id));
  events.dispatchEvent(new CustomEvent('change'));
}

/** `change` (the list changed) and `sent` ({detail: {draftId, report}}). */
export const events = new EventTarget();

/** Run `fn` alone: one sender at a time across this device's tabs. */
let localChain = Promise.resolve();
function exclusive(fn) {
  if (navigator.locks?.request) return navigator.locks.request('wl.resident.drafts', fn);
  const run = localChain.then(fn, fn);
  localChain = run.catch(() => {});
  return run;
}

/** Is this a failure worth retrying later (network, overload), rather than a refusal? */
export function isTransient(e) {
  if (!(e instanceof ApiError)) return false;
  return e.status === 0 || e.status === 408 || e.status === 429 || e.status === 409 || e.status >= 500 || e.status === 401;
}

/** The JSON the create sends (stable for a given draft: same key, same body). */
function body(d) {
  const b = {
    category_code: d.category_code,
    description: d.description,
    lat: d.lat,
    lon: d.lon,
    media_ids: d.photos.map((p) => p.mediaId),
    answers: d.answers || {},
  };
  if (d.accuracy_m != null) b.accuracy_m = d.accuracy_m;
  if (d.address) b.address = d.address;
  if (d.captured_at) b.captured_at = d.captured_at;
  return b;
}

/**
 * Send one draft now (under the lock). `onProgress({step, i, n})` for the form's status line.
 * Resolves to the created report; throws an ApiError (the draft is kept, marked with it).
 */
export function sendDraft(api, id, onProgress) {
  return exclusive(() => sendLocked(api, id, onProgress, true));
}

async function sendLocked(api, id, onProgress, retryPhotos) {
  const d = await getDraft(id);
  if (!d) return null; // sent by someone else meanwhile
  if (d.account && api.claims?.sub && d.account !== api.claims.sub) {
    throw new ApiError(403, { detail: 'draft of another account', code: 'other_account' });
  }
  d.state = 'sending';
  d.error = null;
  await putDraft(d);
  try {
    const n = d.photos.length;
    for (let i = 0; i < n; i++) {
      const p = d.photos[i];
      if (p.mediaId) continue;
      onProgress?.({ step: 'photo', i: i + 1, n });
      const form = new FormData();
      form.append('file', p.blob, `photo-${i + 1}.jpg`);
      // One key per photo, kept with the draft: a photo whose answer was lost is not processed
      // again, and the server answers with the first upload.
      if (!p.key) {
        p.key = `${d.key}-photo-${i + 1}`;
        await putDraft(d);
      }
      const media = await api.post('/v1/media', form, { idempotencyKey: p.key });
      p.mediaId = media.id;
      if ((d.lat == null || d.lon == null) && media.location_hint) {
        d.lat = media.location_hint.lat;
        d.lon = media.location_hint.lon;
        d.locationSource = 'photo';
      }
      await putDraft(d); // keep each id at once: a retry must not send the photo again
    }
    onProgress?.({ step: 'create' });
    const report = await api.post('/v1/reports', body(d), { idempotencyKey: d.key });
    await deleteDraft(d.id);
    events.dispatchEvent(new CustomEvent('sent', { detail: { draftId: d.id, report } }));
    return report;
  } catch (e) {
    // Photos the server no longer knows (kept too long unattached): upload them again, once. The
    // create failed validation, so its key was released and may carry the new ids.
    if (retryPhotos && e instanceof ApiError && e.status === 422 &&
        e.fields.some((f) => f.field === 'media_ids' && f.code !== 'too_many_photos' && f.code !== 'photo_required')) {
      d.photos.forEach((p) => { p.mediaId = null; });
      await putDraft(d);
      return sendLocked(api, id, onProgress, false);
    }
    const fresh = (await getDraft(id)) || d;
    fresh.state = isTransient(e) || !(e instanceof ApiError) ? 'waiting' : 'failed';
    fresh.error = e instanceof ApiError ? { status: e.status, code: e.code, message: e.message, fields: e.fields } : { status: -1, message: String(e) };
    await putDraft(fresh);
    throw e;
  }
}

/**
 * Send every waiting draft of the signed-in resident, oldest first. Stops at the first network
 * failure (the rest would fail the same way). Returns how many were sent.
 */
let flushing = null;
export function flushDrafts(api) {
  if (!api.signedIn || navigator.onLine === false) return Promise.resolve(0);
  if (flushing) return flushing;
  flushing = (async () => {
    let sent = 0;
    for (const d of await listDrafts()) {
      if (d.state === 'failed') continue; // needs the resident: they edit it or press retry
      if (d.account && api.claims?.sub && d.account !== api.claims.sub) continue;
      try {
        if (await sendDraft(api, d.id)) sent += 1;
      } catch (e) {
        if (isTransient(e)) break;
      }
    }
    return sent;
  })().finally(() => { flushing = null; });
  return flushing;
}

/** Ask the browser to wake the app's worker when the network is back (Background Sync). */
export async function requestBackgroundSync() {
  try {
    const reg = await navigator.serviceWorker?.ready;
    if (reg?.sync?.register) await reg.sync.register('wl-drafts');
  } catch { /* not supported or not allowed: the online event and the next start do it */ }
}
