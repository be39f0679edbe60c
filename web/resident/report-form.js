// The report form: what kind of problem, a description, photos (downscaled on the phone), where it
// is, and the category's own questions; nearby reports of the same kind are offered as "me too"
// before a second report is filed. "Gửi" always writes a draft first (drafts.js) and sends it when
// it can; without a network the draft waits and the page says so ("Bản nháp").

import { ApiError, newIdempotencyKey } from '../shared/api.js';
import { t, currentLang } from '../shared/i18n.js';
import { h, mount, announce, errorSummary } from '../shared/dom.js';
import { formatDateTime } from '../shared/time.js';
import { preparePhoto } from './photos.js';
import { getDraft, putDraft, deleteDraft, sendDraft, isTransient, requestBackgroundSync, events as draftEvents } from './drafts.js';
import { field, setFieldErrors, loadCategories, questionLabel, choiceLabel, statusBadge, categoryName } from './ui.js';

const MAX_PHOTOS = 5;

// The report being written, kept while the person looks elsewhere (or switches language) and
// comes back; forgotten once it is sent or saved as a draft.
let inProgress = null;
/** Forget the report being written (signing out on a shared phone). */
export function forgetInProgress() { inProgress = null; }
const MAX_DESCRIPTION = 4000;

export async function reportFormView(el, ctx) {
  const { api } = ctx;
  let cats = [];
  try {
    cats = await loadCategories(api);
  } catch { /* offline and never loaded: said below */ }
  if (!ctx.current()) return;

  // The draft being written: its Idempotency-Key is made now, once, and travels with it.
  let draft;
  if (ctx.draftId) draft = await getDraft(ctx.draftId).catch(() => null);
  if (!ctx.current()) return;
  if (!draft && !ctx.draftId && inProgress) draft = inProgress;
  if (!draft) {
    draft = {
      id: newIdempotencyKey(),
      key: newIdempotencyKey(),
      createdAt: Date.now(),
      category_code: '', description: '', answers: {}, address: '',
      lat: null, lon: null, accuracy_m: null, captured_at: null, locationSource: null,
      photos: [],
    };
  }
  draft.account = api.claims?.sub || null;
  if (!ctx.draftId) inProgress = draft;
  const previews = new Map(); // photo → object URL

  const errBox = h('div');
  const progress = h('p', { class: 'progress', role: 'status', 'aria-live': 'polite' });

  // 1. Category.
  const select = h('select', { id: 'category', name: 'category', 'aria-describedby': null },
    h('option', { value: '' }, t('form.category.choose')),
    cats.map((c) => h('option', { value: c.code, selected: c.code === draft.category_code },
      currentLang() === 'en' ? c.name_en : c.name_vi)));
  const questionsBox = h('div', { class: 'questions' });
  const photoNeed = h('p', { class: 'hint photo-need', hidden: true }, t('form.photos.required'));
  questionsBox.addEventListener('change', () => { draft.answers = collectAnswers().answers; });
  select.addEventListener('change', () => {
    draft.category_code = select.value;
    draft.answers = {};
    renderQuestions();
    lookNearby();
  });

  // 2. Description.
  const desc = h('textarea', { id: 'description', name: 'description', rows: '5', 'aria-describedby': 'description-hint', maxlength: String(MAX_DESCRIPTION) });
  desc.value = draft.description || '';

  // 3. Photos.
  const fileInput = h('input', { id: 'photos', name: 'photos', type: 'file', accept: 'image/*', multiple: true, 'aria-describedby': 'photos-hint photos-count' });
  const photoCount = h('p', { id: 'photos-count', class: 'hint', 'aria-live': 'polite' });
  const photoList = h('ul', { class: 'photo-list' });
  fileInput.addEventListener('change', async () => {
    const files = Array.from(fileInput.files || []);
    fileInput.value = '';
    for (const f of files) {
      if (draft.photos.length >= MAX_PHOTOS) {
        photoCount.textContent = t('form.photos.full');
        break;
      }
      photoCount.textContent = t('form.photos.preparing', { n: draft.photos.length + 1 });
      try {
        const p = await preparePhoto(f);
        draft.photos.push({ blob: p.blob, width: p.width, height: p.height, mediaId: null });
        if (p.takenAt && !draft.captured_at) draft.captured_at = p.takenAt;
        if (p.gps && draft.lat == null) {
          setLocation(p.gps.lat, p.gps.lon, null, 'photo');
        }
      } catch {
        photoCount.textContent = t('form.photos.bad');
        continue;
      }
      renderPhotos();
    }
  });

  // 4. Place.
  const locateStatus = h('p', { class: 'locate-status', id: 'locate-status', role: 'status' });
  const locateBtn = h('button', { type: 'button', id: 'locate', class: 'secondary', 'aria-describedby': 'place-hint locate-status' }, t('form.locate'));
  locateBtn.addEventListener('click', locate);
  const address = h('input', { id: 'address', name: 'address', type: 'text', autocomplete: 'street-address', 'aria-describedby': 'address-hint', maxlength: '300' });
  address.value = draft.address || '';

  // Nearby reports: "me too" instead of a second report.
  const nearbyBox = h('section', { class: 'nearby', 'aria-labelledby': 'nearby-title', hidden: true });

  const sendBtn = h('button', { type: 'submit', class: 'send' }, t('form.send'));
  const form = h('form', { novalidate: true, class: 'report-form' },
    field({ id: 'category', label: t('form.category'), required: true, control: select }),
    cats.length ? null : h('p', { class: 'notice warn' }, t('form.category.none')),
    questionsBox,
    field({ id: 'description', label: t('form.description'), required: true, hint: t('form.description.hint'), control: desc }),
    field({
      id: 'photos', label: t('form.photos'), hint: t('form.photos.hint'), control: fileInput,
      extra: [photoNeed, photoCount, photoList],
    }),
    h('fieldset', { class: 'fieldset-field place', dataset: { field: 'locate' } },
      h('legend', {}, t('form.place'), h('span', { class: 'req' }, ' ', t('form.required'))),
      h('p', { class: 'hint', id: 'place-hint' }, t('form.place.hint')),
      h('p', { class: 'field-error', id: 'locate-error', hidden: true }),
      locateBtn,
      locateStatus,
      field({ id: 'address', label: t('form.address'), optional: true, hint: t('form.address.hint'), control: address })),
    nearbyBox,
    progress,
    h('div', { class: 'actions' }, sendBtn));
  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  desc.addEventListener('input', () => { draft.description = desc.value; });
  address.addEventListener('input', () => { draft.address = address.value; });

  mount(el,
    h('h1', {}, t('form.title')),
    errBox,
    h('p', { class: 'lead' }, t('form.lead')),
    form);

  renderQuestions();
  renderPhotos();
  if (draft.lat != null) setLocation(draft.lat, draft.lon, draft.accuracy_m, draft.locationSource || 'gps');
  if (draft.error?.fields?.length || draft.error?.message) {
    showErrors(serverErrors(draft.error));
  }

  // --- pieces ---------------------------------------------------------------------------------
  function category() { return cats.find((c) => c.code === draft.category_code) || null; }

  function renderQuestions() {
    const c = category();
    photoNeed.hidden = !c?.photo_required;
    if (!c || !c.questions?.length) { mount(questionsBox); return; }
    mount(questionsBox, c.questions.map((q) => questionField(q, draft.answers, () => {})));
  }

  function renderPhotos() {
    for (const [p, url] of previews) if (!draft.photos.includes(p)) { URL.revokeObjectURL(url); previews.delete(p); }
    photoCount.textContent = draft.photos.length ? t('form.photos.count', { n: draft.photos.length }) : '';
    mount(photoList, draft.photos.map((p, i) => {
      if (!previews.has(p)) previews.set(p, URL.createObjectURL(p.blob));
      return h('li', {},
        h('img', { src: previews.get(p), alt: t('form.photos.item', { n: i + 1 }), width: '96', height: '96' }),
        h('button', {
          type: 'button', class: 'secondary small',
          onclick: () => {
            draft.photos.splice(i, 1);
            renderPhotos();
            fileInput.focus();
          },
        }, t('form.photos.remove', { n: i + 1 })));
    }));
  }

  function setLocation(lat, lon, accuracy, source) {
    draft.lat = lat;
    draft.lon = lon;
    draft.accuracy_m = accuracy != null ? Math.round(accuracy) : null;
    draft.locationSource = source;
    locateStatus.classList.add('ok');
    locateStatus.textContent = source === 'photo' ? t('form.located.photo')
      : source === 'map' ? t('form.located.map')
        : t('form.located', { m: draft.accuracy_m ?? '?' });
    lookNearby();
  }

  function locate() {
    if (!navigator.geolocation) {
      locateStatus.textContent = t('form.locate.none');
      return;
    }
    locateStatus.classList.remove('ok');
    locateStatus.textContent = t('form.locating');
    locateBtn.disabled = true;
    navigator.geolocation.getCurrentPosition((pos) => {
      locateBtn.disabled = false;
      setLocation(pos.coords.latitude, pos.coords.longitude, pos.coords.accuracy, 'gps');
    }, (err) => {
      locateBtn.disabled = false;
      locateStatus.textContent = err.code === 1 ? t('form.locate.denied') : t('form.locate.failed');
    }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }

  let nearbySeq = 0;
  async function lookNearby() {
    const seq = ++nearbySeq;
    if (!draft.category_code || draft.lat == null || navigator.onLine === false) {
      nearbyBox.hidden = true;
      return;
    }
    let items = [];
    try {
      items = await api.get('/v1/reports/nearby', { query: { lat: draft.lat, lon: draft.lon, category: draft.category_code } });
    } catch { return; }
    if (seq !== nearbySeq || !ctx.current()) return;
    items = items.filter((n) => !n.report.mine).slice(0, 5);
    nearbyBox.hidden = !items.length;
    if (!items.length) { mount(nearbyBox); return; }
    mount(nearbyBox,
      h('h2', { id: 'nearby-title' }, t('form.nearby.title')),
      h('p', {}, t('form.nearby.lead')),
      h('ul', { class: 'cards' }, items.map(({ report: r, distance_m: d }) => h('li', { class: 'card' },
        h('p', { class: 'row' }, statusBadge(r.status), h('span', { class: 'muted' }, t('form.nearby.distance', { m: Math.round(d) }))),
        h('p', { class: 'desc' }, r.description),
        r.photos?.[0] ? h('img', { src: r.photos[0].thumbnail_url, alt: '', width: '96', height: '96', loading: 'lazy' }) : null,
        h('p', {}, h('a', { href: `#/report/${r.id}` }, categoryName(r.category_code), ' – ', formatDateTime(r.created_at))),
        h('button', {
          type: 'button', class: 'secondary',
          onclick: async (e) => {
            e.currentTarget.disabled = true;
            try {
              await api.post(`/v1/reports/${r.id}/me-too`);
              ctx.setFlash(t('form.nearby.done'));
              ctx.navigate(`#/report/${r.id}`);
            } catch (err) {
              e.currentTarget.disabled = false;
              showErrors([{ text: err.message }]);
            }
          },
        }, t('form.nearby.metoo'))))));
  }

  function collectAnswers() {
    const c = category();
    const out = {};
    const items = [];
    for (const q of c?.questions || []) {
      const v = readAnswer(form, q);
      if (v === null || v === undefined || v === '' || (Array.isArray(v) && !v.length)) {
        if (q.required) items.push({ field: `q-${q.key}`, text: t('form.err.answer', { q: questionLabel(q) }) });
        continue;
      }
      if (q.kind === 'number' && !Number.isFinite(v)) {
        items.push({ field: `q-${q.key}`, text: t('form.err.answer', { q: questionLabel(q) }) });
        continue;
      }
      out[q.key] = v;
    }
    return { answers: out, items };
  }

  function validate() {
    const items = [];
    if (!draft.category_code) items.push({ field: 'category', text: t('form.err.category') });
    const d = desc.value.trim();
    if (!d) items.push({ field: 'description', text: t('form.err.description') });
    else if (d.length > MAX_DESCRIPTION) items.push({ field: 'description', text: t('form.err.description.long') });
    const { answers, items: qItems } = collectAnswers();
    items.splice(1, 0, ...qItems);
    if (category()?.photo_required && !draft.photos.length) items.push({ field: 'photos', text: t('form.err.photos') });
    if (draft.lat == null || draft.lon == null) items.push({ field: 'locate', text: t('form.err.location') });
    draft.answers = answers;
    draft.description = d;
    draft.address = address.value.trim();
    return items;
  }

  function showErrors(items) {
    mount(errBox, errorSummary(t('form.err.title'), items));
    setFieldErrors(form, items);
  }

  let busy = false;
  async function submit() {
    if (busy) return;
    const items = validate();
    if (items.length) {
      showErrors(items);
      return;
    }
    mount(errBox);
    setFieldErrors(form, []);
    busy = true;
    sendBtn.disabled = true;
    progress.textContent = t('form.sending');
    // Kept on the device before anything travels: nothing typed is lost to a dropped line.
    const saved = await getDraft(draft.id).catch(() => null);
    if (saved) {
      // Keep the photos' media ids a previous attempt got.
      draft.photos.forEach((p, i) => { if (saved.photos[i]?.blob === p.blob) p.mediaId = saved.photos[i].mediaId; });
    }
    draft.state = 'waiting';
    draft.error = null;
    await putDraft(stripForStore(draft));
    if (inProgress === draft) inProgress = null;
    if (navigator.onLine === false) {
      requestBackgroundSync();
      busy = false;
      ctx.navigate(`#/draft/${draft.id}`);
      return;
    }
    try {
      const report = await sendDraft(api, draft.id, (p) => {
        progress.textContent = p.step === 'photo' ? t('form.uploading', { i: p.i, n: p.n }) : t('form.creating');
      });
      busy = false;
      ctx.setFlash(t('form.created'));
      ctx.navigate(report ? `#/report/${report.id}` : '#/mine');
    } catch (e) {
      busy = false;
      sendBtn.disabled = false;
      progress.textContent = '';
      if (!(e instanceof ApiError) || isTransient(e)) {
        requestBackgroundSync();
        ctx.navigate(`#/draft/${draft.id}`);
        return;
      }
      const stored = await getDraft(draft.id).catch(() => null);
      if (stored) draft.photos = stored.photos; // with the media ids already uploaded
      if (!ctx.draftId) inProgress = draft; // still being written: keep it
      showErrors(serverErrors(e));
    }
  }
}

/** The draft as stored: plain data and Blobs only. */
function stripForStore(d) {
  return {
    id: d.id, key: d.key, createdAt: d.createdAt, account: d.account,
    category_code: d.category_code, description: d.description, answers: d.answers || {},
    address: d.address || '', lat: d.lat, lon: d.lon, accuracy_m: d.accuracy_m,
    captured_at: d.captured_at, locationSource: d.locationSource,
    photos: d.photos.map((p) => ({ blob: p.blob, width: p.width, height: p.height, mediaId: p.mediaId || null })),
    state: d.state || 'waiting', error: d.error || null,
  };
}

const FIELD_OF = { category_code: 'category', description: 'description', media_ids: 'photos', lat: 'locate', lon: 'locate', accuracy_m: 'locate', address: 'address' };

/** A server refusal as error-summary items, each linked to our field. */
function serverErrors(e) {
  const fields = e?.fields || [];
  if (fields.length) {
    return fields.map((f) => {
      const name = String(f.field || '');
      const fieldId = name.startsWith('answers.') ? `q-${name.slice(8)}` : FIELD_OF[name] || null;
      return { field: fieldId, text: f.message };
    });
  }
  if (e?.status === 429) return [{ text: t('err.ratelimited') }];
  return [{ text: e?.message || t('err.generic') }];
}

/** One of a category's questions as a field (radios and checkboxes for choices: big targets). */
function questionField(q, answers) {
  const id = `q-${q.key}`;
  const label = questionLabel(q);
  const value = answers?.[q.key];
  const reqMark = q.required ? h('span', { class: 'req' }, ' ', t('form.required')) : h('span', { class: 'opt' }, ' ', t('form.optional'));
  if (q.kind === 'single_choice' || q.kind === 'multi_choice') {
    const type = q.kind === 'single_choice' ? 'radio' : 'checkbox';
    return h('fieldset', { class: 'fieldset-field choices', dataset: { field: id } },
      h('legend', {}, label, reqMark),
      h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
      q.choices.map((c, i) => h('div', { class: 'choice' },
        h('input', {
          type, name: id, id: i === 0 ? id : `${id}-${i}`, value: c,
          checked: Array.isArray(value) ? value.includes(c) : value === c,
        }),
        h('label', { for: i === 0 ? id : `${id}-${i}` }, choiceLabel(c)))));
  }
  let control;
  if (q.kind === 'text') control = h('textarea', { id, name: id, rows: '3' });
  else if (q.kind === 'number') control = h('input', { id, name: id, type: 'text', inputmode: 'decimal' });
  else if (q.kind === 'datetime') control = h('input', { id, name: id, type: 'datetime-local' });
  else control = h('input', { id, name: id, type: 'text', maxlength: '200' });
  if (value != null) control.value = q.kind === 'datetime' ? String(value).slice(0, 16) : String(value);
  const box = field({ id, label, control, optional: !q.required, required: q.required });
  return box;
}

function readAnswer(form, q) {
  const id = `q-${q.key}`;
  if (q.kind === 'single_choice') return form.querySelector(`input[name="${id}"]:checked`)?.value ?? null;
  if (q.kind === 'multi_choice') return Array.from(form.querySelectorAll(`input[name="${id}"]:checked`), (x) => x.value);
  const el = form.querySelector(`#${CSS.escape(id)}`);
  const v = el?.value.trim() ?? '';
  if (!v) return null;
  if (q.kind === 'number') return Number(v.replace(',', '.'));
  if (q.kind === 'datetime') {
    const d = new Date(`${v}:00+07:00`);
    return Number.isNaN(d.getTime()) ? v : d.toISOString();
  }
  return v;
}

/**
 * After "Gửi" without a network: the report is a draft on this phone ("Bản nháp") and goes by
 * itself when the network is back; this page follows it and says when it has gone.
 */
export async function draftSavedView(el, ctx) {
  const d = await getDraft(ctx.draftId).catch(() => null);
  if (!ctx.current()) return;
  const state = h('p', { class: 'draft-state', role: 'status' });
  const sentBox = (report) => {
    mount(el,
      h('h1', {}, t('draft.saved.sent')),
      h('div', { class: 'notice ok' },
        report ? statusBadge(report.status) : null,
        report ? h('p', { class: 'desc' }, report.description) : null),
      h('p', {}, report ? h('a', { href: `#/report/${report.id}` }, t('draft.saved.open')) : null),
      h('p', {}, h('a', { href: '#/report' }, t('draft.saved.another'))));
  };
  if (!d) { sentBox(null); return; }
  const describe = (x) => {
    state.textContent = x.state === 'failed' ? t('draft.failed', { msg: x.error?.message || '' })
      : x.state === 'sending' ? t('draft.sending') : t('draft.waiting');
  };
  describe(d);
  mount(el,
    h('h1', {}, t('draft.saved.title')),
    h('div', { class: 'notice warn' },
      h('p', {}, t('draft.saved.lead')),
      state),
    h('p', { class: 'desc' }, categoryName(d.category_code), ': ', d.description),
    h('p', {}, h('a', { href: '#/report' }, t('draft.saved.another'))));
  const onSent = (e) => {
    if (e.detail.draftId !== d.id) return;
    if (ctx.current()) {
      sentBox(e.detail.report);
      announce(t('draft.saved.sent'));
    }
  };
  const onChange = async () => {
    if (!ctx.current()) return;
    const x = await getDraft(d.id).catch(() => null);
    if (x) describe(x);
  };
  draftEvents.addEventListener('sent', onSent);
  draftEvents.addEventListener('change', onChange);
  // Stop listening once the person has moved on.
  const stop = () => {
    if (ctx.current()) return;
    draftEvents.removeEventListener('sent', onSent);
    draftEvents.removeEventListener('change', onChange);
    window.removeEventListener('hashchange', stop);
  };
  window.addEventListener('hashchange', stop);
}

export { deleteDraft };
