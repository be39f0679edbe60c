// What the doctor console's views share: the API client, the signed-in doctor, the view's
// clean-ups, navigation and the error box. The views (app.js, room.js, week.js) import it; it
// imports none of them (app.js renders on `hashchange`).

import { createClient, ApiError } from '../shared/api.js';
import { errorSummary } from '../shared/dom.js';
import { t } from '../shared/i18n.js';

export const api = createClient({ app: 'doctor' });

/** What the console knows about the signed-in doctor. */
export const me = { account: null, card: null, stations: [], station: null, onDuty: false, password: null };

// Each view may leave timers and listeners behind; the next render clears them.
let cleanups = [];
export function onLeave(f) { cleanups.push(f); }
export function leaveView() {
  const fs = cleanups;
  cleanups = [];
  for (const f of fs) { try { f(); } catch { /* keep going */ } }
}

/** `#/`, `#/call/<id>`, `#/week`: the same hash renders the view again. */
export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

export function showError(where, e) {
  const items = e instanceof ApiError && e.fields.length
    ? e.fields.map((f) => ({ text: f.message, field: f.field }))
    : [{ text: e?.message || String(e) }];
  const box = errorSummary(t('doc.error'), items);
  where.replaceChildren(box);
}
