// Administration: categories (names, deadlines per severity, questions, rounding, unit), units and
// their members, staff/doctor/admin accounts (one-time passwords shown once), health stations,
// the ward's areas (imported from a GeoJSON file), Open311 client keys, webhooks. Each section is a page under /staff/admin/<section>.

import { t } from '../shared/i18n.js';
import { h, mount, focusHeading, errorSummary } from '../shared/dom.js';
import { formatDateTime } from '../shared/time.js';
import { ApiError } from '../shared/api.js';
import { SEVERITIES, selectField } from './util.js';
import { templatesAdmin } from './templates.js';

const SECTIONS = ['categories', 'units', 'accounts', 'stations', 'areas', 'open311', 'webhooks', 'templates'];

export async function adminView(ctx, main, { section }) {
  if (!SECTIONS.includes(section)) section = 'categories';
  const body = h('div');
  mount(main,
    h('h1', {}, `${t('nav.admin')}: ${t(`admin.${section}`)}`),
    h('nav', { 'aria-label': t('admin.sections') }, h('ul', { class: 'subnav' },
      SECTIONS.map((s) => h('li', {}, h('a', { href: `/staff/admin/${s}`, 'aria-current': s === section ? 'page' : null }, t(`admin.${s}`)))))),
    body);
  document.title = `${t('nav.admin')} · Wardline`;
  const fn = { categories, units, accounts, stations, areas, open311, webhooks, templates: templatesAdmin }[section];
  await fn(ctx, body);
  focusHeading(main);
}

/** Show `e` in `box`: field errors as a summary linking to `#<prefix><field>`. */
function showProblem(ctx, box, e, map = (f) => f) {
  if (e instanceof ApiError && e.fields.length) {
    mount(box, errorSummary(t('err.title'), e.fields.map((f) => ({ text: f.message, field: map(f.field) }))));
  } else {
    mount(box, ctx.problemNotice(e));
  }
}

function input(id, label, attrs = {}, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    h('input', { id, name: id, type: 'text', 'aria-describedby': hint ? `${id}-hint` : null, ...attrs }));
}
function check(id, label, checked) {
  return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name: id, checked }), h('label', { for: id }, label));
}
const val = (root, id) => root.querySelector(`#${id}`)?.value.trim() ?? '';
const checked = (root, id) => !!root.querySelector(`#${id}`)?.checked;

function oneTime(label, secret, note = t('admin.shown_once')) {
  return h('div', { class: 'notice ok', role: 'status', tabindex: '-1' },
    h('p', {}, h('strong', {}, label)),
    h('p', {}, h('code', { class: 'secret' }, secret)),
    h('p', { class: 'small' }, note));
}

// --- categories ---------------------------------------------------------------------------------
async function categories(ctx, body) {
  const list = h('div');
  const formBox = h('div');
  const status = h('div', { 'aria-live': 'polite' });
  mount(body, status, formBox, h('h2', {}, t('cat.list')), list);

  async function refresh() {
    try {
      ctx.ref.categories = await ctx.api.get('/v1/admin/categories');
    } catch (e) { ctx.showError(list, e); return; }
    mount(list, h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('cat.code'), t('cat.name_vi'), t('cat.group'), t('cat.unit'), t('cat.default_severity'), t('cat.state'), ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, ctx.ref.categories.map((c) => h('tr', {},
        h('td', {}, h('code', {}, c.code)),
        h('td', {}, c.name_vi, h('br'), h('span', { class: 'muted', lang: 'en' }, c.name_en)),
        h('td', {}, c.group),
        h('td', {}, c.unit_id ? ctx.unitName(c.unit_id) : t('cat.unit_by_area')),
        h('td', {}, t(`severity.${c.default_severity}`)),
        h('td', {}, c.active ? t('cat.active') : t('cat.inactive')),
        h('td', {}, h('button', { type: 'button', class: 'secondary small', onclick: () => edit(c) }, `${t('common.edit')} ${c.name_vi}`))))))));
  }

  function edit(c) {
    const isNew = !c;
    const errors = h('div');
    const questions = (c?.questions || []).map((q) => ({ ...q }));
    const qBox = h('div');
    const dl = Object.fromEntries((c?.deadlines || []).map((d) => [d.severity, d]));
    const drawQuestions = () => mount(qBox, questions.map((q, i) => h('fieldset', { class: 'question' },
      h('legend', {}, `${t('cat.question')} ${i + 1}`),
      input(`q${i}_key`, `${t('cat.q_key')} (${i + 1})`, { value: q.key || '', autocomplete: 'off' }, t('cat.q_key_hint')),
      input(`q${i}_label_vi`, `${t('cat.q_label_vi')} (${i + 1})`, { value: q.label_vi || '' }),
      input(`q${i}_label_en`, `${t('cat.q_label_en')} (${i + 1})`, { value: q.label_en || '', lang: 'en' }),
      selectField(`q${i}_kind`, `${t('cat.q_kind')} (${i + 1})`, ['text', 'string', 'number', 'datetime', 'single_choice', 'multi_choice'].map((k) => [k, t(`qkind.${k}`)]), q.kind || 'text'),
      input(`q${i}_choices`, `${t('cat.q_choices')} (${i + 1})`, { value: (q.choices || []).join(', ') }, t('cat.q_choices_hint')),
      check(`q${i}_required`, `${t('cat.q_required')} (${i + 1})`, q.required),
      h('button', { type: 'button', class: 'secondary small', onclick: () => { read(); questions.splice(i, 1); drawQuestions(); } }, `${t('cat.q_remove')} ${i + 1}`))));
    const form = h('form', { novalidate: true, onsubmit: save },
      h('h2', { id: 'cat-form-h', tabindex: '-1' }, isNew ? t('cat.new') : `${t('common.edit')}: ${c.name_vi}`),
      errors,
      isNew ? input('cat_code', t('cat.code'), { autocomplete: 'off' }, t('cat.code_hint')) : h('p', {}, `${t('cat.code')}: `, h('code', {}, c.code)),
      input('cat_name_vi', t('cat.name_vi'), { value: c?.name_vi || '' }),
      input('cat_name_en', t('cat.name_en'), { value: c?.name_en || '', lang: 'en' }),
      input('cat_group', t('cat.group'), { value: c?.group || '' }, t('cat.group_hint')),
      selectField('cat_unit', t('cat.unit'), [['', t('cat.unit_by_area')], ...ctx.ref.units.map((u) => [u.id, u.name])], c?.unit_id || ''),
      selectField('cat_severity', t('cat.default_severity'), SEVERITIES.map((s) => [s, t(`severity.${s}`)]), c?.default_severity || 'normal'),
      h('fieldset', {}, h('legend', {}, t('cat.deadlines')),
        h('p', { class: 'hint' }, t('cat.deadlines_hint')),
        h('div', { class: 'deadline-grid' }, SEVERITIES.map((s) => h('div', { class: 'deadline-row' },
          input(`dl_${s}_ack`, `${t(`severity.${s}`)}: ${t('cat.ack_hours')}`, { type: 'number', min: '0', step: '0.5', inputmode: 'decimal', value: dl[s]?.ack_hours ?? '' }),
          input(`dl_${s}_resolve`, `${t(`severity.${s}`)}: ${t('cat.resolve_hours')}`, { type: 'number', min: '0', step: '0.5', inputmode: 'decimal', value: dl[s]?.resolve_hours ?? '' }))))),
      selectField('cat_rounding', t('cat.rounding'), [['', t('cat.rounding_none')], ['4', t('cat.rounding_4')], ['3', t('cat.rounding_3')]], c?.public_decimals ?? ''),
      input('cat_radius', t('cat.radius'), { type: 'number', min: '0', step: '1', value: c?.duplicate_radius_m ?? 50 }),
      check('cat_photo', t('cat.photo_required'), c?.photo_required),
      check('cat_anonymous', t('cat.anonymous'), c?.anonymous),
      check('cat_active', t('cat.active_label'), c ? c.active : true),
      h('fieldset', {}, h('legend', {}, t('cat.questions')), qBox,
        h('button', { type: 'button', class: 'secondary small', onclick: () => { read(); questions.push({ kind: 'text' }); drawQuestions(); } }, t('cat.q_add'))),
      h('div', { class: 'row' },
        h('button', { type: 'submit' }, isNew ? t('cat.create') : t('common.save')),
        h('button', { type: 'button', class: 'secondary', onclick: () => { mount(formBox, newButton()); } }, t('common.cancel'))));

    function read() {
      questions.forEach((q, i) => {
        q.key = val(form, `q${i}_key`);
        q.label_vi = val(form, `q${i}_label_vi`);
        q.label_en = val(form, `q${i}_label_en`);
        q.kind = val(form, `q${i}_kind`);
        q.choices = val(form, `q${i}_choices`).split(',').map((x) => x.trim()).filter(Boolean);
        q.required = checked(form, `q${i}_required`);
      });
    }

    async function save(e) {
      e.preventDefault();
      read();
      const problems = [];
      const deadlines = [];
      for (const s of SEVERITIES) {
        const a = val(form, `dl_${s}_ack`);
        const r = val(form, `dl_${s}_resolve`);
        if (!a && !r) continue;
        if (!a || !r || Number(a) <= 0 || Number(r) <= 0) { problems.push({ text: t('cat.deadline_bad', { s: t(`severity.${s}`) }), field: `dl_${s}_${a ? 'resolve' : 'ack'}` }); continue; }
        deadlines.push({ severity: s, ack_hours: Number(a), resolve_hours: Number(r) });
      }
      if (isNew && !val(form, 'cat_code')) problems.push({ text: t('cat.code_missing'), field: 'cat_code' });
      if (!val(form, 'cat_name_vi')) problems.push({ text: t('cat.name_missing'), field: 'cat_name_vi' });
      if (problems.length) { mount(errors, errorSummary(t('err.title'), problems)); return; }
      const rounding = val(form, 'cat_rounding');
      const unit = val(form, 'cat_unit');
      const payload = {
        name_vi: val(form, 'cat_name_vi'),
        name_en: val(form, 'cat_name_en') || val(form, 'cat_name_vi'),
        group: val(form, 'cat_group') || 'other',
        default_severity: val(form, 'cat_severity'),
        duplicate_radius_m: Number(val(form, 'cat_radius') || 50),
        photo_required: checked(form, 'cat_photo'),
        anonymous: checked(form, 'cat_anonymous'),
        active: checked(form, 'cat_active'),
        deadlines,
        questions: questions.map((q) => ({ key: q.key, label_vi: q.label_vi, label_en: q.label_en || q.label_vi, kind: q.kind, required: q.required, choices: q.choices })),
      };
      if (isNew) {
        payload.code = val(form, 'cat_code');
        if (unit) payload.unit_id = unit;
        if (rounding) payload.public_decimals = Number(rounding);
      } else {
        payload.unit_id = unit || null;
        payload.public_decimals = rounding ? Number(rounding) : null;
      }
      try {
        const saved = isNew ? await ctx.api.post('/v1/admin/categories', payload) : await ctx.api.patch(`/v1/admin/categories/${encodeURIComponent(c.code)}`, payload);
        await refresh();
        mount(formBox, newButton());
        const msg = t(isNew ? 'cat.created' : 'cat.saved', { name: saved.name_vi });
        mount(status, h('div', { class: 'notice ok', role: 'status' }, msg));
      } catch (err) {
        showProblem(ctx, errors, err, (f) => {
          const m = /^deadlines/.test(f) ? 'dl_normal_ack' : /^questions\/?\[?(\d+)/.exec(f);
          if (typeof m === 'string') return m;
          if (m) return `q${m[1]}_key`;
          return { code: 'cat_code', name_vi: 'cat_name_vi', name_en: 'cat_name_en', group: 'cat_group', unit_id: 'cat_unit', duplicate_radius_m: 'cat_radius', public_decimals: 'cat_rounding' }[f] || 'cat_name_vi';
        });
      }
    }
    drawQuestions();
    mount(formBox, form);
    form.querySelector('#cat-form-h').focus();
  }

  function newButton() {
    return h('p', {}, h('button', { type: 'button', onclick: () => edit(null) }, t('cat.new')));
  }
  mount(formBox, newButton());
  await refresh();
}

// --- units and members --------------------------------------------------------------------------
async function units(ctx, body) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const errors = h('div');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const name = val(form, 'unit_name');
      if (!name) { mount(errors, errorSummary(t('err.title'), [{ text: t('unit.name_missing'), field: 'unit_name' }])); return; }
      try {
        const u = await ctx.api.post('/v1/admin/units', { name, kind: val(form, 'unit_kind') });
        form.reset();
        mount(errors);
        await refresh();
        say(t('unit.created', { name: u.name }));
      } catch (err) { showProblem(ctx, errors, err, (f) => (f === 'kind' ? 'unit_kind' : 'unit_name')); }
    },
  }, h('h2', {}, t('unit.new')), errors,
  input('unit_name', t('unit.name')),
  selectField('unit_kind', t('unit.kind'), ['team', 'neighbourhood', 'office'].map((k) => [k, t(`unitkind.${k}`)]), 'team'),
  h('button', { type: 'submit' }, t('unit.create')));
  mount(body, status, form, h('h2', {}, t('unit.list')), list);

  const say = (msg) => { mount(status, h('div', { class: 'notice ok', role: 'status' }, msg)); };

  async function refresh() {
    try {
      await ctx.loadAccounts();
      ctx.ref.units = await ctx.api.get('/v1/units');
    } catch (e) { ctx.showError(list, e); return; }
    const staff = [...ctx.ref.accounts.values()].filter((a) => (a.role === 'staff' || a.role === 'admin') && !a.disabled);
    mount(list, ctx.ref.units.length ? ctx.ref.units.map((u, ui) => {
      const addable = staff.filter((a) => !u.members.includes(a.id));
      const sel = `add_${ui}`;
      return h('section', { class: 'card-block', 'aria-labelledby': `unit-${ui}` },
        h('h3', { id: `unit-${ui}` }, u.name, ' ', h('span', { class: 'muted' }, `(${t(`unitkind.${u.kind}`)})`)),
        u.members.length ? h('ul', {}, u.members.map((m) => h('li', { class: 'row' },
          h('span', {}, ctx.personName(m)),
          h('button', {
            type: 'button', class: 'secondary small',
            onclick: async () => {
              try { await ctx.api.del(`/v1/admin/units/${u.id}/members/${m}`); await refresh(); say(t('unit.removed', { who: ctx.personName(m), unit: u.name })); } catch (err) { ctx.showError(status, err); }
            },
          }, t('unit.remove', { who: ctx.personName(m), unit: u.name }))))) : h('p', { class: 'muted' }, t('unit.no_members')),
        addable.length ? h('div', { class: 'row' },
          selectField(sel, t('unit.add_who', { unit: u.name }), addable.map((a) => [a.id, `${a.display_name || a.phone} (${a.phone})`]), ''),
          h('button', {
            type: 'button', class: 'secondary',
            onclick: async () => {
              const who = body.querySelector(`#${sel}`).value;
              try { await ctx.api.put(`/v1/admin/units/${u.id}/members/${who}`); await refresh(); say(t('unit.added', { who: ctx.personName(who), unit: u.name })); } catch (err) { ctx.showError(status, err); }
            },
          }, t('unit.add', { unit: u.name }))) : null);
    }) : h('p', { class: 'muted' }, t('unit.none')));
  }
  await refresh();
}

// --- accounts -----------------------------------------------------------------------------------
async function accounts(ctx, body) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const errors = h('div');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const problems = [];
      if (!val(form, 'acc_phone')) problems.push({ text: t('acc.phone_missing'), field: 'acc_phone' });
      if (!val(form, 'acc_name')) problems.push({ text: t('acc.name_missing'), field: 'acc_name' });
      if (problems.length) { mount(errors, errorSummary(t('err.title'), problems)); return; }
      try {
        const r = await ctx.api.post('/v1/admin/accounts', { phone: val(form, 'acc_phone'), display_name: val(form, 'acc_name'), role: val(form, 'acc_role') });
        form.reset();
        mount(errors);
        mount(status, oneTime(t('acc.created', { name: r.account.display_name, phone: r.account.phone }), r.one_time_password));
        status.firstChild.focus();
        await refresh();
      } catch (err) { showProblem(ctx, errors, err, (f) => ({ phone: 'acc_phone', display_name: 'acc_name', role: 'acc_role' }[f] || 'acc_phone')); }
    },
  }, h('h2', {}, t('acc.new')), errors,
  input('acc_phone', t('acc.phone'), { type: 'tel', autocomplete: 'off', inputmode: 'tel' }, t('acc.phone_hint')),
  input('acc_name', t('acc.name'), { autocomplete: 'off' }),
  selectField('acc_role', t('acc.role'), [['staff', t('role.staff')], ['doctor', t('role.doctor')], ['admin', t('role.admin')]], 'staff'),
  h('button', { type: 'submit' }, t('acc.create')));
  mount(body, status, form, h('h2', {}, t('acc.list')), list);

  async function refresh() {
    await ctx.loadAccounts();
    const all = [...ctx.ref.accounts.values()].filter((a) => a.role !== 'resident');
    mount(list, h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('acc.name'), t('acc.phone'), t('acc.role'), t('acc.state'), ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, all.map((a) => h('tr', {},
        h('td', {}, a.display_name),
        h('td', {}, a.phone),
        h('td', {}, t(`role.${a.role}`)),
        h('td', {}, a.disabled ? t('acc.disabled') : a.password_must_change ? t('acc.must_change') : t('acc.ok')),
        h('td', { class: 'row' },
          a.id === ctx.me.id ? h('span', { class: 'muted' }, t('common.me')) : [
            h('button', {
              type: 'button', class: 'secondary small',
              onclick: async () => {
                try {
                  await ctx.api.post(`/v1/admin/accounts/${a.id}/${a.disabled ? 'enable' : 'disable'}`);
                  await refresh();
                  const msg = t(a.disabled ? 'acc.enabled_done' : 'acc.disabled_done', { name: a.display_name });
                  mount(status, h('div', { class: 'notice ok', role: 'status' }, msg));
                } catch (err) { ctx.showError(status, err); }
              },
            }, `${t(a.disabled ? 'acc.enable' : 'acc.disable')} ${a.display_name}`),
            h('button', {
              type: 'button', class: 'secondary small',
              onclick: async () => {
                try {
                  const r = await ctx.api.post(`/v1/admin/accounts/${a.id}/reset-password`);
                  mount(status, oneTime(t('acc.reset_done', { name: a.display_name }), r.one_time_password));
                  status.firstChild.focus();
                  await refresh();
                } catch (err) { ctx.showError(status, err); }
              },
            }, `${t('acc.reset')} ${a.display_name}`)])))))));
  }
  await refresh();
}

// --- health stations ----------------------------------------------------------------------------
async function stations(ctx, body) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const errors = h('div');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      if (!val(form, 'st_name')) { mount(errors, errorSummary(t('err.title'), [{ text: t('st.name_missing'), field: 'st_name' }])); return; }
      try {
        await ctx.api.post('/v1/admin/stations', { name: val(form, 'st_name'), address: val(form, 'st_address') });
        form.reset();
        mount(errors);
        await refresh();
      } catch (err) { showProblem(ctx, errors, err, (f) => (f === 'address' ? 'st_address' : 'st_name')); }
    },
  }, h('h2', {}, t('st.new')), errors, input('st_name', t('st.name')), input('st_address', t('st.address')), h('button', { type: 'submit' }, t('st.create')));
  mount(body, status, form, h('h2', {}, t('st.list')), list);

  async function refresh() {
    let all;
    try {
      await ctx.loadAccounts();
      all = await ctx.api.get('/v1/stations');
    } catch (e) { ctx.showError(list, e); return; }
    const doctors = [...ctx.ref.accounts.values()].filter((a) => a.role === 'doctor');
    mount(list, all.length ? all.map((s, si) => {
      const addable = doctors.filter((d) => !s.doctors.includes(d.id));
      return h('section', { class: 'card-block', 'aria-labelledby': `st-${si}` },
        h('h3', { id: `st-${si}` }, s.name),
        s.address ? h('p', {}, s.address) : null,
        s.doctors.length ? h('ul', {}, s.doctors.map((d) => h('li', { class: 'row' }, ctx.personName(d),
          h('button', {
            type: 'button', class: 'secondary small',
            onclick: async () => { try { await ctx.api.del(`/v1/admin/stations/${s.id}/doctors/${d}`); await refresh(); } catch (err) { ctx.showError(status, err); } },
          }, t('st.remove', { who: ctx.personName(d), st: s.name }))))) : h('p', { class: 'muted' }, t('st.no_doctors')),
        addable.length ? h('div', { class: 'row' },
          selectField(`st_add_${si}`, t('st.add_who', { st: s.name }), addable.map((d) => [d.id, `${d.display_name} (${d.phone})`]), ''),
          h('button', {
            type: 'button', class: 'secondary',
            onclick: async () => {
              const who = body.querySelector(`#st_add_${si}`).value;
              try { await ctx.api.put(`/v1/admin/stations/${s.id}/doctors/${who}`); await refresh(); } catch (err) { ctx.showError(status, err); }
            },
          }, t('st.add', { st: s.name }))) : null);
    }) : h('p', { class: 'muted' }, t('st.none')));
  }
  await refresh();
}

// --- areas (khu phố) ----------------------------------------------------------------------------
async function areas(ctx, body) {
  const status = h('div', { 'aria-live': 'polite' });
  const errors = h('div');
  const list = h('div');
  const form = h('form', { novalidate: true, onsubmit: importFile },
    h('h2', {}, t('area.import')),
    h('p', { class: 'small', id: 'area_file-hint' }, t('area.import_format')),
    errors,
    h('div', { class: 'field' },
      h('label', { for: 'area_file' }, t('area.file')),
      h('input', { id: 'area_file', name: 'area_file', type: 'file', accept: '.geojson,.json,application/geo+json,application/json', 'aria-describedby': 'area_file-hint' })),
    h('button', { type: 'submit' }, t('area.import_button')));
  mount(body, form, status, h('h2', {}, t('area.list')), list,
    h('p', { class: 'muted small' }, t('area.cli_hint'), ' ', h('code', {}, 'wardline admin import-areas khu-pho.geojson')));

  async function importFile(e) {
    e.preventDefault();
    mount(errors);
    const file = form.querySelector('#area_file').files[0];
    if (!file) { mount(errors, errorSummary(t('err.title'), [{ text: t('area.file_missing'), field: 'area_file' }])); return; }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    mount(status, h('p', { role: 'status' }, t('area.importing', { name: file.name })));
    try {
      let doc;
      try { doc = JSON.parse(await file.text()); } catch {
        mount(status);
        mount(errors, errorSummary(t('area.import_failed'), [{ text: t('area.not_json') }]));
        return;
      }
      const r = await ctx.api.post('/v1/admin/areas/import', doc);
      form.reset();
      mount(status, h('div', { class: 'notice ok', role: 'status' }, t('area.imported', r)));
      await refresh();
    } catch (err) {
      mount(status);
      if (err instanceof ApiError && err.fields.length) {
        mount(errors, errorSummary(t('area.import_failed'), err.fields.map((f) => {
          const n = /^features\/(\d+)$/.exec(f.field);
          return { text: n ? `${t('area.feature', { n: Number(n[1]) + 1 })}: ${f.message}` : f.message };
        })));
      } else {
        mount(errors, ctx.problemNotice(err));
      }
    } finally {
      button.disabled = false;
    }
  }

  async function refresh() {
    let all;
    try { all = await ctx.api.get('/v1/areas'); } catch (e) { ctx.showError(list, e); return; }
    mount(list, all.length ? h('ul', {}, all.map((a) => h('li', {}, a.name, ' ', h('span', { class: 'muted' }, `(${a.kind === 'ward' ? t('area.ward') : t('area.neighbourhood')})`))))
      : h('p', { class: 'muted' }, t('area.none')));
  }
  await refresh();
}

// --- Open311 client keys ------------------------------------------------------------------------
async function open311(ctx, body) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const errors = h('div');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      if (!val(form, 'o_name')) { mount(errors, errorSummary(t('err.title'), [{ text: t('o311.name_missing'), field: 'o_name' }])); return; }
      try {
        const r = await ctx.api.post('/v1/admin/open311/clients', { name: val(form, 'o_name'), contact: val(form, 'o_contact') });
        form.reset();
        mount(errors);
        mount(status, oneTime(t('o311.issued', { name: r.client.name }), r.api_key));
        status.firstChild.focus();
        await refresh();
      } catch (err) { showProblem(ctx, errors, err, (f) => (f === 'contact' ? 'o_contact' : 'o_name')); }
    },
  }, h('h2', {}, t('o311.new')), errors, input('o_name', t('o311.name')), input('o_contact', t('o311.contact')), h('button', { type: 'submit' }, t('o311.create')));
  mount(body, h('p', {}, t('o311.about')), status, form, h('h2', {}, t('o311.list')), list);

  async function refresh() {
    let all;
    try { all = await ctx.api.get('/v1/admin/open311/clients'); } catch (e) { ctx.showError(list, e); return; }
    mount(list, all.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('o311.name'), t('o311.contact'), t('o311.prefix'), t('o311.last_used'), ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, all.map((c) => h('tr', {},
        h('td', {}, c.name), h('td', {}, c.contact), h('td', {}, h('code', {}, `${c.key_prefix}…`)),
        h('td', {}, c.last_used_at ? formatDateTime(c.last_used_at) : '–'),
        h('td', {}, c.revoked_at ? t('o311.revoked', { at: formatDateTime(c.revoked_at) }) : h('button', {
          type: 'button', class: 'secondary small',
          onclick: async () => { try { await ctx.api.post(`/v1/admin/open311/clients/${c.id}/revoke`); await refresh(); } catch (err) { ctx.showError(status, err); } },
        }, `${t('o311.revoke')} ${c.name}`))))))) : h('p', { class: 'muted' }, t('o311.none')));
  }
  await refresh();
}

// --- webhooks -----------------------------------------------------------------------------------
const EVENTS = ['report.created', 'report.changed', 'report.resolved', 'consultation.ended'];

async function webhooks(ctx, body) {
  const status = h('div', { 'aria-live': 'polite' });
  const list = h('div');
  const errors = h('div');
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      const url = val(form, 'wh_url');
      const events = EVENTS.filter((_, i) => checked(form, `wh_ev_${i}`));
      const problems = [];
      if (!url) problems.push({ text: t('wh.url_missing'), field: 'wh_url' });
      if (!events.length) problems.push({ text: t('wh.events_missing'), field: 'wh_ev_0' });
      if (problems.length) { mount(errors, errorSummary(t('err.title'), problems)); return; }
      try {
        const r = await ctx.api.post('/v1/admin/webhooks', { url, events, description: val(form, 'wh_desc') });
        form.reset();
        mount(errors);
        mount(status, oneTime(t('wh.created', { url: r.url }), r.secret, t('wh.secret_note')));
        status.firstChild.focus();
        await refresh();
      } catch (err) {
        showProblem(ctx, errors, err, (f) => (/^events/.test(f) ? 'wh_ev_0' : f === 'description' ? 'wh_desc' : 'wh_url'));
      }
    },
  }, h('h2', {}, t('wh.new')), errors,
  input('wh_url', t('wh.url'), { type: 'url', inputmode: 'url', autocomplete: 'off', spellcheck: 'false' }, t('wh.url_hint')),
  h('fieldset', {}, h('legend', {}, t('wh.events')), EVENTS.map((ev, i) => check(`wh_ev_${i}`, t(`wh.ev.${ev}`), false))),
  input('wh_desc', t('wh.description')),
  h('button', { type: 'submit' }, t('wh.create')));
  mount(body, h('p', {}, t('wh.about')), status, form, h('h2', {}, t('wh.list')), list);

  const say = (msg) => { mount(status, h('div', { class: 'notice ok', role: 'status' }, msg)); };

  async function refresh() {
    let all;
    try { all = await ctx.api.get('/v1/admin/webhooks'); } catch (e) { ctx.showError(list, e); return; }
    mount(list, all.length ? all.map((w, wi) => {
      const more = h('div');
      const confirmBox = h('div');
      const state = w.disabled_at ? t('wh.removed', { at: formatDateTime(w.disabled_at) }) : w.last_error && w.pending ? t('wh.failing') : t('wh.active');
      return h('section', { class: 'card-block', 'aria-labelledby': `wh-${wi}` },
        h('h3', { id: `wh-${wi}`, class: 'wrap-anywhere' }, w.url),
        w.description ? h('p', {}, w.description) : null,
        h('dl', { class: 'facts' },
          h('dt', {}, t('wh.events')), h('dd', {}, w.events.map((ev) => t(`wh.ev.${ev}`)).join(', ')),
          h('dt', {}, t('wh.state')), h('dd', {}, state),
          h('dt', {}, t('wh.pending')), h('dd', {}, String(w.pending)),
          h('dt', {}, t('wh.dead')), h('dd', {}, String(w.dead)),
          h('dt', {}, t('wh.last_delivered')), h('dd', {}, w.last_delivered_at ? formatDateTime(w.last_delivered_at) : t('wh.never')),
          w.last_error ? [h('dt', {}, t('wh.last_error')), h('dd', {}, w.last_error)] : null),
        h('div', { class: 'row' },
          h('button', { type: 'button', class: 'secondary small', 'aria-expanded': 'false', onclick: (e) => deliveries(w, more, e.currentTarget) }, `${t('wh.show_deliveries')} ${w.url}`),
          w.disabled_at ? null : h('button', { type: 'button', class: 'secondary small', onclick: () => askRemove(w, confirmBox) }, `${t('wh.remove')} ${w.url}`)),
        confirmBox, more);
    }) : h('p', { class: 'muted' }, t('wh.none')));
  }

  async function deliveries(w, box, button) {
    if (button.getAttribute('aria-expanded') === 'true') {
      button.setAttribute('aria-expanded', 'false');
      mount(box);
      return;
    }
    let all;
    try { all = await ctx.api.get(`/v1/admin/webhooks/${w.id}/deliveries`, { query: { limit: 20 } }); } catch (e) { ctx.showError(box, e); return; }
    button.setAttribute('aria-expanded', 'true');
    mount(box, h('h4', {}, t('wh.deliveries')), all.length ? h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, [t('wh.d_event'), t('wh.d_status'), t('wh.d_attempts'), t('wh.d_result'), t('wh.d_created')].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, all.map((d) => h('tr', {},
        h('td', {}, t(`wh.ev.${d.event}`)),
        h('td', {}, t(`wh.st.${d.status}`)),
        h('td', {}, String(d.attempts)),
        h('td', {}, [d.last_status ? `HTTP ${d.last_status}` : '', d.last_error || ''].filter(Boolean).join(' · ') || '–'),
        h('td', {}, formatDateTime(d.created_at))))))) : h('p', { class: 'muted' }, t('wh.no_deliveries')));
  }

  function askRemove(w, box) {
    const text = h('p', { tabindex: '-1' }, t('wh.confirm', { url: w.url }));
    mount(box, h('div', { class: 'notice warn' }, text,
      h('div', { class: 'row' },
        h('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            try {
              await ctx.api.del(`/v1/admin/webhooks/${w.id}`);
              await refresh();
              say(t('wh.removed_done', { url: w.url }));
            } catch (err) { ctx.showError(box, err); }
          },
        }, t('wh.confirm_yes')),
        h('button', { type: 'button', class: 'secondary', onclick: () => mount(box) }, t('common.cancel')))));
    text.focus();
  }
  await refresh();
}
