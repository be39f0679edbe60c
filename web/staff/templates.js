// Reply templates (mẫu trả lời): the picker next to a public reply box (fills the template's
// placeholders for this report, then leaves the text to edit), and the admins' section that keeps
// them (category or all, status or all, title, Vietnamese and English text, archive).

import { t } from '../shared/i18n.js';
import { h, mount, errorSummary } from '../shared/dom.js';
import { formatDateTime } from '../shared/time.js';
import { ApiError } from '../shared/api.js';
import { ALL_STATUSES, selectField, textField } from './util.js';

/** The template's Vietnamese text with `{id}`, `{category}` and `{deadline}` filled for `r`. */
export function fillTemplate(ctx, text, r) {
  const cat = ctx.ref.categories.find((c) => c.code === r.category_code);
  const values = {
    id: r.id.slice(0, 8).toUpperCase(),
    category: cat?.name_vi || ctx.categoryName(r.category_code),
    deadline: r.resolve_by ? formatDateTime(r.resolve_by) : '',
  };
  return text.replace(/\{(id|category|deadline)\}/g, (_, k) => values[k]);
}

/**
 * A "Mẫu trả lời" select for report `r` going to `status`: picking one puts its filled text in
 * the textarea `#targetId` and moves focus there. Removes itself when none fit.
 */
export function templatePicker(ctx, r, status, targetId) {
  const said = h('p', { class: 'small muted', 'aria-live': 'polite' });
  const field = selectField('reply_template', t('tpl.pick'), [['', t('tpl.none_picked')]], '', { 'aria-describedby': 'reply_template-hint' });
  field.insertBefore(h('p', { class: 'hint', id: 'reply_template-hint' }, t('tpl.pick_hint')), field.querySelector('select'));
  const box = h('div', { class: 'template-picker' }, field, said);
  const select = field.querySelector('select');
  let found = [];
  const drop = () => {
    const focused = document.activeElement === select;
    box.remove();
    if (focused) document.getElementById(targetId)?.focus();
  };
  ctx.api.get('/v1/staff/reply-templates', { query: { category: r.category_code, status } })
    .then((list) => {
      found = list;
      if (!found.length) { drop(); return; }
      for (const [i, tpl] of found.entries()) select.append(h('option', { value: String(i) }, tpl.title));
    })
    .catch(drop);
  select.addEventListener('change', () => {
    const tpl = found[Number(select.value)];
    const target = document.getElementById(targetId);
    if (!tpl || select.value === '' || !target) return;
    target.value = fillTemplate(ctx, tpl.body_vi, r);
    mount(said, t('tpl.inserted', { title: tpl.title }));
  });
  // Enter or a click on an option already chosen: go and edit the text.
  select.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && select.value !== '') { e.preventDefault(); document.getElementById(targetId)?.focus(); }
  });
  return box;
}

// --- the admins' section ------------------------------------------------------------------------
export async function templatesAdmin(ctx, body) {
  const status = h('div', { 'aria-live': 'polite' });
  const formBox = h('div');
  const list = h('div');
  mount(body, status, formBox, h('h2', {}, t('tpl.list')), list);
  const catName = (code) => (code ? ctx.categoryName(code) : t('tpl.any_category'));
  const statusName = (s) => (s ? t(`status.${s}`) : t('tpl.any_status'));

  function newButton() {
    return h('button', { type: 'button', onclick: () => edit(null) }, t('tpl.new'));
  }

  function edit(tpl) {
    const errors = h('div');
    const form = h('form', {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const v = (id) => form.querySelector(`#${id}`).value.trim();
        const problems = [];
        if (!v('tpl_title')) problems.push({ text: t('tpl.title_missing'), field: 'tpl_title' });
        if (!v('tpl_body_vi')) problems.push({ text: t('tpl.body_missing'), field: 'tpl_body_vi' });
        if (problems.length) { mount(errors, errorSummary(t('err.title'), problems)); return; }
        const input = {
          category_code: v('tpl_category') || null,
          status: v('tpl_status') || null,
          title: v('tpl_title'),
          body_vi: v('tpl_body_vi'),
          body_en: v('tpl_body_en'),
        };
        try {
          const saved = tpl
            ? await ctx.api.put(`/v1/admin/reply-templates/${tpl.id}`, input)
            : await ctx.api.post('/v1/admin/reply-templates', input);
          mount(formBox, newButton());
          mount(status, h('div', { class: 'notice ok', role: 'status', tabindex: '-1' }, t(tpl ? 'tpl.saved' : 'tpl.created', { title: saved.title })));
          status.firstChild.focus();
          await refresh();
        } catch (err) {
          if (err instanceof ApiError && err.fields.length) {
            mount(errors, errorSummary(t('err.title'), err.fields.map((f) => ({ text: f.message, field: `tpl_${f.field === 'category_code' ? 'category' : f.field}` }))));
          } else {
            mount(errors, ctx.problemNotice(err));
          }
        }
      },
    },
    h('h2', { id: 'tpl-form-h', tabindex: '-1' }, tpl ? `${t('common.edit')}: ${tpl.title}` : t('tpl.new')),
    errors,
    selectField('tpl_category', t('tpl.category'), [['', t('tpl.any_category')], ...ctx.ref.categories.map((c) => [c.code, c.name_vi])], tpl?.category_code || ''),
    selectField('tpl_status', t('tpl.status'), [['', t('tpl.any_status')], ...ALL_STATUSES.map((s) => [s, t(`status.${s}`)])], tpl?.status || ''),
    textField('tpl_title', t('tpl.title'), { value: tpl?.title || '', maxlength: 120, autocomplete: 'off' }),
    textField('tpl_body_vi', t('tpl.body_vi'), { multiline: true, rows: 4, maxlength: 2000 }, t('tpl.body_hint')),
    textField('tpl_body_en', t('tpl.body_en'), { multiline: true, rows: 3, maxlength: 2000, lang: 'en' }),
    h('div', { class: 'row' },
      h('button', { type: 'submit' }, tpl ? t('common.save') : t('tpl.create')),
      h('button', { type: 'button', class: 'secondary', onclick: () => mount(formBox, newButton()) }, t('common.cancel'))));
    // Textareas take their text as a value, not an attribute.
    form.querySelector('#tpl_body_vi').value = tpl?.body_vi || '';
    form.querySelector('#tpl_body_en').value = tpl?.body_en || '';
    mount(formBox, form);
    form.querySelector('#tpl-form-h').focus();
  }

  async function refresh() {
    let all;
    try { all = await ctx.api.get('/v1/admin/reply-templates'); } catch (e) { ctx.showError(list, e); return; }
    mount(list, all.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('tpl.title'), t('tpl.category'), t('tpl.status'), t('tpl.body_vi'), ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, all.map((tpl) => h('tr', {},
        h('td', {}, tpl.title),
        h('td', {}, catName(tpl.category_code)),
        h('td', {}, statusName(tpl.status)),
        h('td', { class: 'small' }, tpl.body_vi),
        h('td', {},
          h('button', { type: 'button', class: 'secondary small', onclick: () => edit(tpl) }, `${t('common.edit')} ${tpl.title}`),
          ' ',
          h('button', {
            type: 'button', class: 'secondary small',
            onclick: async () => {
              try {
                await ctx.api.del(`/v1/admin/reply-templates/${tpl.id}`);
                mount(status, h('div', { class: 'notice ok', role: 'status' }, t('tpl.archived', { title: tpl.title })));
                await refresh();
              } catch (err) { ctx.showError(status, err); }
            },
          }, `${t('tpl.archive')} ${tpl.title}`))))))) : h('p', { class: 'muted' }, t('tpl.none')));
  }
  mount(formBox, newButton());
  await refresh();
}
