// Signing in by SMS code, one question per page (GOV.UK): the phone number, then the code.

import { ApiError } from '../shared/api.js';
import { t } from '../shared/i18n.js';
import { h, mount, errorSummary, focusHeading } from '../shared/dom.js';
import { field, setFieldErrors } from './ui.js';

const PHONE_SLOT = 'wl.resident.signin.phone';

function rememberedPhone() {
  try { return sessionStorage.getItem(PHONE_SLOT) || ''; } catch { return ''; }
}
function rememberPhone(p) {
  try {
    if (p) sessionStorage.setItem(PHONE_SLOT, p);
    else sessionStorage.removeItem(PHONE_SLOT);
  } catch { /* private mode */ }
}

/**
 * The sign-in steps inside `el`. `ctx.why` says why (for a gated page), `ctx.after` is where to
 * go once signed in.
 */
export function signInView(el, ctx) {
  const phone = rememberedPhone();
  if (phone && sessionStorage.getItem(PHONE_SLOT + '.sent')) return codeStep(el, ctx, phone, false);
  return phoneStep(el, ctx, phone);
}

function phoneStep(el, ctx, initial, refocus) {
  const errBox = h('div');
  const input = h('input', {
    id: 'phone', name: 'phone', type: 'tel', inputmode: 'tel', autocomplete: 'tel',
    value: initial || '', 'aria-describedby': 'phone-hint', spellcheck: 'false',
  });
  const button = h('button', { type: 'submit' }, t('signin.send'));
  const form = h('form', { novalidate: true, class: 'stack' },
    field({ id: 'phone', label: t('signin.phone'), hint: t('signin.phone.hint'), control: input }),
    h('div', {}, button));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) {
      showErrors(errBox, form, [{ field: 'phone', text: t('signin.err.phone') }]);
      return;
    }
    button.disabled = true;
    try {
      await ctx.api.requestOtp(value);
      rememberPhone(value);
      sessionStorage.setItem(PHONE_SLOT + '.sent', '1');
      codeStep(el, ctx, value, true);
    } catch (err) {
      button.disabled = false;
      showErrors(errBox, form, problemItems(err, 'phone'));
    }
  });
  mount(el,
    h('h1', {}, t('signin.title')),
    ctx.why ? h('p', { class: 'lead' }, ctx.why) : null,
    errBox,
    h('p', {}, t('signin.lead')),
    form);
  if (refocus) focusHeading(el);
}

function codeStep(el, ctx, phone, refocus) {
  const errBox = h('div');
  const note = h('div', { role: 'status' });
  const input = h('input', {
    id: 'code', name: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code',
    maxlength: '6', 'aria-describedby': 'code-hint', class: 'code-input', spellcheck: 'false',
  });
  const button = h('button', { type: 'submit' }, t('signin.submit'));
  const form = h('form', { novalidate: true, class: 'stack' },
    field({ id: 'code', label: t('signin.code'), hint: t('signin.code.hint'), control: input }),
    h('div', {}, button));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const code = input.value.replace(/\D/g, '');
    if (code.length < 4) {
      showErrors(errBox, form, [{ field: 'code', text: t('signin.err.code') }]);
      return;
    }
    button.disabled = true;
    try {
      await ctx.api.verifyOtp(phone, code);
      rememberPhone(null);
      sessionStorage.removeItem(PHONE_SLOT + '.sent');
      ctx.setFlash(t('signin.done'));
      ctx.navigate(ctx.after || '#/');
    } catch (err) {
      button.disabled = false;
      showErrors(errBox, form, problemItems(err, 'code'));
    }
  });
  const resend = h('button', {
    type: 'button', class: 'link-button',
    onclick: async () => {
      try {
        await ctx.api.requestOtp(phone);
        note.textContent = t('signin.resent');
      } catch (err) {
        showErrors(errBox, form, problemItems(err, 'code'));
      }
    },
  }, t('signin.resend'));
  const change = h('button', {
    type: 'button', class: 'link-button',
    onclick: () => {
      sessionStorage.removeItem(PHONE_SLOT + '.sent');
      phoneStep(el, ctx, phone, true);
    },
  }, t('signin.change'));
  mount(el,
    h('h1', {}, t('signin.code.title')),
    errBox,
    h('p', {}, t('signin.code.lead', { phone })),
    form,
    note,
    h('p', { class: 'row' }, resend, change));
  if (refocus) focusHeading(el);
}

/** An API failure as error-summary items (each field error linked to our field). */
function problemItems(err, fallbackField) {
  if (err instanceof ApiError) {
    if (err.fields.length) return err.fields.map((f) => ({ field: fallbackField, text: f.message }));
    return [{ field: fallbackField, text: err.message }];
  }
  return [{ field: fallbackField, text: t('err.generic') }];
}

function showErrors(box, form, items) {
  mount(box, errorSummary(t('signin.err.title'), items));
  setFieldErrors(form, items);
}
