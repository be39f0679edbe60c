// Small pieces every resident view uses: a labelled field with hint and error (labels always
// visible, GOV.UK style), status badges, the category list (kept for offline use).

import { t, currentLang } from '../shared/i18n.js';
import { h } from '../shared/dom.js';

/**
 * A form field: visible label, optional hint and error slot, then the control. The control must
 * have `id` = `id`; the hint gets `<id>-hint`, the error `<id>-error`.
 */
export function field({ id, label, hint, control, optional, required, extra }) {
  return h('div', { class: 'field', dataset: { field: id } },
    h('label', { for: id }, label,
      required ? h('span', { class: 'req' }, ' ', t('form.required')) : null,
      optional ? h('span', { class: 'opt' }, ' ', t('form.optional')) : null),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }),
    control,
    extra || null);
}

/**
 * Mark fields with errors (`[{field, text}]`, field = control id): message above the control,
 * `aria-invalid`, described by the message. Clears every other field's error.
 */
export function setFieldErrors(root, items) {
  const byField = new Map();
  for (const it of items) if (it.field && !byField.has(it.field)) byField.set(it.field, it.text);
  for (const box of root.querySelectorAll('.field, .fieldset-field')) {
    const id = box.dataset.field;
    const err = box.querySelector(`#${CSS.escape(id)}-error`);
    const ctl = root.querySelector(`#${CSS.escape(id)}`);
    const msg = byField.get(id);
    if (err) {
      err.hidden = !msg;
      err.textContent = msg || '';
    }
    box.classList.toggle('has-error', !!msg);
    if (ctl && ctl.matches('input, select, textarea')) {
      if (msg) ctl.setAttribute('aria-invalid', 'true');
      else ctl.removeAttribute('aria-invalid');
      const ids = new Set((ctl.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean));
      if (msg) ids.add(`${id}-error`);
      else ids.delete(`${id}-error`);
      if (ids.size) ctl.setAttribute('aria-describedby', [...ids].join(' '));
      else ctl.removeAttribute('aria-describedby');
    }
  }
}

/** A status as a badge, in the person's language. */
export function statusBadge(status) {
  const done = status === 'resolved' || status === 'closed';
  const stopped = status === 'rejected' || status === 'duplicate';
  return h('span', { class: `badge status status-${status}${done ? ' ok' : stopped ? ' stopped' : ''}` }, t(`status.${status}`));
}

export const OPEN = ['submitted', 'received', 'assigned', 'in_progress', 'reopened'];

// --- categories: public, so kept on the device for the offline form ------------------------------
const CAT_SLOT = 'wl.resident.categories';
let categories = null;

function storedCategories() {
  try { return JSON.parse(localStorage.getItem(CAT_SLOT)) || null; } catch { return null; }
}

/** The categories (from memory, the network, or the device's copy when offline). */
export async function loadCategories(api, { fresh = false } = {}) {
  if (categories && !fresh) return categories;
  try {
    const list = await api.get('/v1/categories', { auth: false });
    categories = list.filter((c) => c.active !== false);
    try { localStorage.setItem(CAT_SLOT, JSON.stringify(categories)); } catch { /* full */ }
  } catch (e) {
    categories = categories || storedCategories();
    if (!categories) throw e;
  }
  return categories;
}

/** Best-known categories without waiting (for names in lists). */
export function knownCategories() {
  return categories || storedCategories() || [];
}

export function categoryName(code) {
  const c = knownCategories().find((x) => x.code === code);
  if (!c) return code;
  return currentLang() === 'en' ? c.name_en : c.name_vi;
}

export function questionLabel(q) {
  return currentLang() === 'en' ? q.label_en : q.label_vi;
}

/** A choice value in words (the API gives codes such as `ankle`). */
export function choiceLabel(value) {
  const key = `choice.${value}`;
  const s = t(key);
  return s === key ? value.replace(/_/g, ' ') : s;
}

// Links to a field inside the page (`#description` in an error summary) must not become routes:
// move focus to the field instead.
document.addEventListener('click', (e) => {
  const a = e.target.closest?.('a[href^="#"]');
  if (!a) return;
  const href = a.getAttribute('href');
  if (href.startsWith('#/') || href === '#') return;
  const target = document.getElementById(href.slice(1));
  if (!target) return;
  e.preventDefault();
  target.scrollIntoView({ block: 'center' });
  if (!target.matches('input, select, textarea, button, a, [tabindex]')) target.setAttribute('tabindex', '-1');
  target.focus({ preventScroll: true });
});
