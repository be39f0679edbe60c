// One report as staff handle it: what was reported (text, photos before and after, place on a
// map, the reporter where the role may see them), the nearby open reports of the same category
// (possible duplicates, first), the actions its status allows (contract names), the severity
// re-grade, the conversation with the resident and internal notes, and the history.

import { t } from '../shared/i18n.js';
import { h, mount, focusHeading, errorSummary } from '../shared/dom.js';
import { formatDateTime, ago } from '../shared/time.js';
import { ApiError } from '../shared/api.js';
import { templatePicker } from './templates.js';
import { OPEN, SEVERITIES, deadlineClock, statusBadge, severityBadge, short, distanceM, selectField } from './util.js';

/** A proof-of-fix photo further than this from the report needs a reason. */
const EVIDENCE_MAX_M = 100;

export async function reportView(ctx, main, { id }) {
  let detail = null;
  let nearby = [];
  let open = null; // the action whose form is open: assign | resolve | reject | duplicate | close
  const blobs = [];
  let mapHandle = null;
  let mapPending = false;
  let left = false;
  const mapEl = h('div', { class: 'map small-map' });

  mount(main, h('p', { class: 'muted' }, t('common.loading')));

  async function load() {
    detail = await ctx.api.get(`/v1/reports/${id}`);
    const r = detail.report;
    nearby = [];
    if (OPEN.includes(r.status)) {
      try {
        const found = await ctx.api.get('/v1/reports/nearby', { query: { lat: r.lat, lon: r.lon, category: r.category_code } });
        nearby = found.filter((n) => n.report.id !== r.id);
      } catch { /* suggestions are a help, not a must */ }
    }
  }

  try {
    await load();
  } catch (e) {
    mount(main, h('h1', {}, t('report.title_plain')), ctx.problemNotice(e));
    focusHeading(main);
    return;
  }

  // --- photos: fetched with the bearer (photos not yet public are staff-only) -----------------
  function photo(ref, alt, big = false) {
    const img = h('img', { alt, loading: 'lazy', class: big ? 'zoom-img' : 'thumb' });
    ctx.api.request('GET', big ? ref.url : ref.thumbnail_url, undefined, { raw: true })
      .then(async (r) => {
        if (!r.ok) return;
        const u = URL.createObjectURL(await r.blob());
        blobs.push(u);
        img.src = u;
      })
      .catch(() => {});
    return img;
  }

  const dialog = h('dialog', { class: 'zoom', 'aria-labelledby': 'zoom-title' });
  function zoom(ref, alt) {
    let scale = 1;
    const img = photo(ref, alt, true);
    const apply = () => { img.style.width = `${Math.round(scale * 100)}%`; };
    mount(dialog,
      h('div', { class: 'zoom-bar row' },
        h('h2', { id: 'zoom-title' }, alt),
        h('button', { type: 'button', class: 'secondary', onclick: () => { scale = Math.min(4, scale * 1.5); apply(); } }, t('photo.zoom_in')),
        h('button', { type: 'button', class: 'secondary', onclick: () => { scale = Math.max(0.5, scale / 1.5); apply(); } }, t('photo.zoom_out')),
        h('button', { type: 'button', onclick: () => dialog.close() }, t('photo.close'))),
      h('div', { class: 'zoom-body' }, img));
    apply();
    dialog.showModal();
  }

  function gallery(refs, label, empty) {
    return h('div', { class: 'gallery-col' },
      h('h3', {}, label),
      refs.length ? h('ul', { class: 'thumbs' }, refs.map((p, i) => {
        const alt = `${label} ${i + 1}`;
        return h('li', {}, h('button', { type: 'button', class: 'thumb-button', onclick: () => zoom(p, alt) },
          photo(p, alt),
          h('span', { class: 'sr-only' }, t('photo.open'))));
      })) : h('p', { class: 'muted' }, empty));
  }

  // --- the page ---------------------------------------------------------------------------------
  const notices = h('div', { 'aria-live': 'polite' });

  function draw() {
    const r = detail.report;
    const cat = ctx.ref.categories.find((c) => c.code === r.category_code);
    const row = (k, v) => (v === null || v === undefined || v === '' ? null : [h('dt', {}, k), h('dd', {}, v)]);
    const reporter = r.reporter
      ? [r.reporter.display_name || t('report.no_name'), ' · ', h('a', { href: `tel:${r.reporter.phone}` }, r.reporter.phone)]
      : cat?.anonymous ? t('report.anonymous') : t('report.no_reporter');

    const nearbyOpen = nearby.filter((n) => OPEN.includes(n.report.status));

    mount(main,
      h('p', {}, h('a', { href: '/staff/' + (sessionStorage.getItem('wl.staff.queue') || '') }, t('report.back'))),
      h('h1', {}, `${t('report.title')}: ${ctx.categoryName(r.category_code)}`),
      h('p', { class: 'row meta' }, statusBadge(r.status), severityBadge(r.severity), h('span', { class: 'muted' }, `${t('report.code')} ${r.id.slice(0, 8).toUpperCase()}`)),
      h('p', { class: 'deadline-line' }, deadlineClock(r)),
      h('blockquote', { class: 'description' }, r.description),
      notices,
      nearbyOpen.length ? h('section', { class: 'notice warn', 'aria-labelledby': 'dup-h' },
        h('h2', { id: 'dup-h' }, t('dup.title', { n: nearbyOpen.length })),
        h('p', {}, t('dup.hint')),
        h('ul', {}, nearbyOpen.map((n) => h('li', {},
          h('a', { href: `/staff/reports/${n.report.id}` }, short(n.report.description, 80)),
          ` · ${t(`status.${n.report.status}`)} · ${t('dup.distance', { m: Math.round(n.distance_m) })} · ${ago(n.report.created_at)}`)))) : null,
      actionsSection(r),
      h('div', { class: 'two-col' },
        h('section', { 'aria-labelledby': 'info-h' },
          h('h2', { id: 'info-h' }, t('report.info')),
          h('dl', { class: 'facts' },
            row(t('report.received'), `${formatDateTime(r.created_at)} (${ago(r.created_at)})`),
            row(t('report.ack_by'), formatDateTime(r.ack_by)),
            row(t('report.resolve_by'), formatDateTime(r.resolve_by)),
            row(t('report.channel'), r.channel ? t(`channel.${r.channel}`) : ''),
            row(t('report.area'), r.area?.name),
            row(t('report.address'), r.address),
            row(t('report.coords'), `${r.lat.toFixed(6)}, ${r.lon.toFixed(6)}${r.accuracy_m ? ` (±${Math.round(r.accuracy_m)} m)` : ''}`),
            row(t('report.unit'), ctx.unitName(r.unit_id)),
            row(t('report.assignee'), r.assignee_id ? ctx.personName(r.assignee_id) : t('report.nobody')),
            row(t('report.reporter'), reporter),
            row(t('report.me_too_label'), String(r.me_too_count)),
            row(t('report.rating'), r.rating ? `${r.rating}/5${r.rating_comment ? ` — ${r.rating_comment}` : ''}` : null),
            row(t('report.public_reply'), r.public_reply),
            row(t('report.duplicate_of'), r.duplicate_of ? h('a', { href: `/staff/reports/${r.duplicate_of}` }, r.duplicate_of.slice(0, 8).toUpperCase()) : null)),
          answersList(r, cat)),
        h('section', { 'aria-labelledby': 'map-h' },
          h('h2', { id: 'map-h' }, t('report.location')),
          mapEl,
          h('p', { class: 'muted small' }, t('report.map_note')))),
      h('section', { 'aria-labelledby': 'photos-h' },
        h('h2', { id: 'photos-h' }, t('photo.title')),
        h('div', { class: 'gallery' },
          gallery(r.photos, t('photo.before'), t('photo.none')),
          gallery(r.evidence, t('photo.after'), t('photo.no_after')))),
      OPEN.includes(r.status) ? severitySection(r) : null,
      conversationSection(),
      historySection(),
      dialog);
    document.title = `${short(r.description, 40)} · Wardline`;
    // One map for the page's life (redraws move the same element); made once it is in the page.
    const points = () => [
      ...nearbyOpen.map((n) => ({ lat: n.report.lat, lon: n.report.lon, kind: 'other', title: short(n.report.description, 60), href: `/staff/reports/${n.report.id}` })),
      { lat: r.lat, lon: r.lon, kind: 'focus', title: short(r.description, 60) },
    ];
    if (mapHandle) {
      mapHandle.invalidate();
      mapHandle.points(points());
    } else if (!mapPending) {
      mapPending = true;
      import('../shared/map.js').then(({ createMap }) => {
        if (left) return;
        mapHandle = createMap(mapEl, { label: t('report.map_label'), zoomIn: t('map.zoom_in'), zoomOut: t('map.zoom_out'), onOpen: (href) => ctx.navigate(href) });
        mapHandle.points(points());
        mapHandle.fit(17);
      }).catch(() => mount(mapEl, h('p', { class: 'muted' }, t('map.unavailable'))));
    }
  }

  function answersList(r, cat) {
    const answers = r.answers && typeof r.answers === 'object' ? Object.entries(r.answers) : [];
    if (!answers.length) return null;
    const label = (key) => {
      const q = cat?.questions?.find((x) => x.key === key);
      return q ? q.label_vi : key;
    };
    return h('div', {}, h('h3', {}, t('report.answers')),
      h('dl', { class: 'facts' }, answers.map(([k, v]) => [h('dt', {}, label(k)), h('dd', {}, Array.isArray(v) ? v.join(', ') : String(v))])));
  }

  // --- actions ----------------------------------------------------------------------------------
  function allowed(status) {
    switch (status) {
      case 'submitted': return ['receive', 'assign', 'reject', 'duplicate'];
      case 'received':
      case 'reopened': return ['assign', 'reject', 'duplicate'];
      case 'assigned': return ['start', 'resolve', 'assign', 'reject', 'duplicate'];
      case 'in_progress': return ['resolve', 'assign', 'reject', 'duplicate'];
      case 'resolved': return ['close'];
      default: return [];
    }
  }
  const LABEL = { receive: 'act.receive', assign: 'act.assign', start: 'act.start', resolve: 'act.resolve', reject: 'act.reject', duplicate: 'act.duplicate', close: 'act.close' };

  function actionsSection(r) {
    const acts = allowed(r.status);
    const body = h('div', { id: 'actions-body' });
    const sec = h('section', { class: 'actions', 'aria-labelledby': 'act-h' }, h('h2', { id: 'act-h' }, t('act.title')), body);
    if (!acts.length) {
      mount(body, h('p', { class: 'muted' }, t('act.none')));
      return sec;
    }
    if (open) {
      mount(body, actionForm(r, open));
      return sec;
    }
    mount(body, h('div', { class: 'row action-buttons' }, acts.map((a) => h('button', {
      type: 'button',
      class: a === 'reject' || a === 'duplicate' ? 'secondary' : null,
      onclick: () => {
        if (a === 'receive' || a === 'start') return doTransition({ action: a });
        open = a;
        draw();
        const first = main.querySelector('#actions-body input:not([type=hidden]), #actions-body select, #actions-body textarea');
        first?.focus();
      },
    }, t(LABEL[a])))));
    return sec;
  }

  async function doTransition(body, errorsBox) {
    try {
      const updated = await ctx.api.post(`/v1/staff/reports/${id}/transition`, body);
      open = null;
      await refresh({ quiet: true });
      const msg = t('act.done', { status: t(`status.${updated.status}`) });
      mount(notices, h('div', { class: 'notice ok', role: 'status', tabindex: '-1' }, msg));
      notices.firstChild?.focus();
      return true;
    } catch (e) {
      const box = errorsBox || notices;
      if (e instanceof ApiError && e.fields.length) {
        mount(box, errorSummary(t('err.title'), e.fields.map((f) => ({ text: f.message, field: fieldId(f.field) }))));
      } else {
        mount(box, ctx.problemNotice(e));
        if (e instanceof ApiError && e.status === 409) await refresh({ quiet: true, keepNotices: true });
      }
      return false;
    }
  }
  const fieldId = (f) => ({ public_reply: 'public_reply', evidence_media_ids: 'evidence', reason: 'reason', unit_id: 'assign_unit', assignee_id: 'assign_person', duplicate_of: 'dup_other', note: 'note' }[f] || f);

  function actionForm(r, action) {
    const errors = h('div');
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { open = null; draw(); main.querySelector('#act-h')?.focus(); } }, t('common.cancel'));
    const note = h('div', { class: 'field' },
      h('label', { for: 'note' }, t('act.note')),
      h('p', { class: 'hint', id: 'note-hint' }, t('act.note_hint')),
      h('textarea', { id: 'note', rows: 2, 'aria-describedby': 'note-hint' }));
    const noteValue = () => main.querySelector('#note')?.value.trim() || '';

    if (action === 'assign') {
      const unitSel = selectField('assign_unit', t('act.unit'), [['', t('act.pick_unit')], ...ctx.ref.units.map((u) => [u.id, u.name])], r.unit_id || '');
      const personBox = h('div');
      const fillPeople = () => {
        const u = ctx.ref.units.find((x) => x.id === unitSel.querySelector('select').value);
        const members = u ? u.members : [];
        mount(personBox, selectField('assign_person', t('act.person'), [['', t('act.no_person')], ...members.map((m) => [m, ctx.personName(m)])], members.includes(r.assignee_id) ? r.assignee_id : ''));
      };
      unitSel.querySelector('select').addEventListener('change', fillPeople);
      fillPeople();
      return h('form', {
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const unit = unitSel.querySelector('select').value;
          if (!unit) { mount(errors, errorSummary(t('err.title'), [{ text: t('act.unit_missing'), field: 'assign_unit' }])); return; }
          const person = personBox.querySelector('select')?.value || undefined;
          await doTransition({ action: 'assign', unit_id: unit, assignee_id: person, note: noteValue() }, errors);
        },
      }, h('h3', {}, t('act.assign')), errors, unitSel, personBox, note,
      h('div', { class: 'row' }, h('button', { type: 'submit' }, t('act.assign')), cancel));
    }

    if (action === 'reject') {
      return h('form', {
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const reason = main.querySelector('#reason').value.trim();
          if (!reason) { mount(errors, errorSummary(t('err.title'), [{ text: t('act.reason_missing'), field: 'reason' }])); return; }
          await doTransition({ action: 'reject', reason, note: noteValue() }, errors);
        },
      }, h('h3', {}, t('act.reject')), errors, templatePicker(ctx, r, 'rejected', 'reason'),
      h('div', { class: 'field' }, h('label', { for: 'reason' }, t('act.reject_reason')), h('p', { class: 'hint', id: 'reason-hint' }, t('act.reject_hint')),
        h('textarea', { id: 'reason', rows: 3, 'aria-describedby': 'reason-hint' })),
      note, h('div', { class: 'row' }, h('button', { type: 'submit', class: 'danger' }, t('act.reject')), cancel));
    }

    if (action === 'duplicate') {
      const candidates = nearby.filter((n) => OPEN.includes(n.report.status) || n.report.status === 'resolved');
      return h('form', {
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const picked = main.querySelector('input[name=dup_of]:checked')?.value;
          const typed = main.querySelector('#dup_other').value.trim();
          const of = typed || picked;
          if (!of) { mount(errors, errorSummary(t('err.title'), [{ text: t('dup.missing'), field: candidates.length ? 'dup_0' : 'dup_other' }])); return; }
          if (!/^[0-9a-fA-F-]{36}$/.test(of)) { mount(errors, errorSummary(t('err.title'), [{ text: t('dup.bad_id'), field: 'dup_other' }])); return; }
          await doTransition({ action: 'duplicate', duplicate_of: of, note: noteValue() }, errors);
        },
      }, h('h3', {}, t('act.duplicate')), errors,
      candidates.length ? h('fieldset', {}, h('legend', {}, t('dup.pick')),
        candidates.map((n, i) => h('div', { class: 'check' },
          h('input', { type: 'radio', name: 'dup_of', id: `dup_${i}`, value: n.report.id }),
          h('label', { for: `dup_${i}` }, `${short(n.report.description, 80)} (${t(`status.${n.report.status}`)}, ${t('dup.distance', { m: Math.round(n.distance_m) })})`)))) : h('p', { class: 'muted' }, t('dup.none_near')),
      h('div', { class: 'field' }, h('label', { for: 'dup_other' }, t('dup.other')), h('p', { class: 'hint', id: 'dup_other-hint' }, t('dup.other_hint')),
        h('input', { id: 'dup_other', type: 'text', 'aria-describedby': 'dup_other-hint', autocomplete: 'off' })),
      note, h('div', { class: 'row' }, h('button', { type: 'submit' }, t('act.duplicate')), cancel));
    }

    if (action === 'close') {
      return h('form', {
        novalidate: true,
        onsubmit: async (e) => { e.preventDefault(); await doTransition({ action: 'close', note: noteValue() }, errors); },
      }, h('h3', {}, t('act.close')), h('p', {}, t('act.close_hint')), errors, note,
      h('div', { class: 'row' }, h('button', { type: 'submit' }, t('act.close')), cancel));
    }

    // resolve: public reply + after-photos, each checked against the report's place.
    const uploads = []; // {file, media, error, distance, preview}
    const thumbs = h('ul', { class: 'thumbs' });
    const gps = h('div', { 'aria-live': 'polite' });
    const reasonBox = h('div');
    let pending = 0;
    const fileInput = h('input', {
      type: 'file', id: 'evidence', accept: 'image/jpeg,image/png,image/webp', multiple: true, 'aria-describedby': 'evidence-hint',
      onchange: async () => {
        const files = [...fileInput.files];
        fileInput.value = '';
        for (const file of files) {
          if (uploads.length >= 5) break;
          const u = { file, preview: URL.createObjectURL(file), media: null, error: null };
          blobs.push(u.preview);
          uploads.push(u);
          pending += 1;
          drawUploads();
          try {
            const fd = new FormData();
            fd.append('file', file);
            u.media = await ctx.api.post('/v1/media', fd);
            const hint = u.media.location_hint;
            u.distance = hint ? distanceM({ lat: r.lat, lon: r.lon }, hint) : null;
          } catch (e) {
            u.error = e.message;
          }
          pending -= 1;
          drawUploads();
        }
      },
    });
    function drawUploads() {
      mount(thumbs, uploads.map((u, i) => h('li', { class: 'upload' },
        h('img', { src: u.preview, alt: `${t('photo.after')} ${i + 1}`, class: 'thumb' }),
        h('p', { class: 'small' },
          u.error ? h('span', { class: 'field-error' }, u.error)
            : !u.media ? t('upload.sending')
              : u.distance === null ? h('span', { class: 'badge risk' }, t('gps.missing'))
                : u.distance > EVIDENCE_MAX_M ? h('span', { class: 'badge late' }, t('gps.far', { m: Math.round(u.distance) }))
                  : h('span', { class: 'badge ok' }, t('gps.near', { m: Math.round(u.distance) }))),
        h('button', { type: 'button', class: 'secondary small', onclick: () => { uploads.splice(i, 1); drawUploads(); } }, `${t('upload.remove')} ${i + 1}`))));
      const off = uploads.filter((u) => u.media && (u.distance === null || u.distance > EVIDENCE_MAX_M));
      if (off.length) {
        mount(gps, h('div', { class: 'notice warn' }, h('p', {}, t('gps.warning', { n: off.length, m: EVIDENCE_MAX_M }))));
        if (!reasonBox.firstChild) {
          mount(reasonBox, h('div', { class: 'field' },
            h('label', { for: 'gps_reason' }, t('gps.reason')),
            h('p', { class: 'hint', id: 'gps_reason-hint' }, t('gps.reason_hint')),
            h('textarea', { id: 'gps_reason', rows: 2, 'aria-describedby': 'gps_reason-hint' })));
        }
      } else {
        mount(gps);
        mount(reasonBox);
      }
    }
    return h('form', {
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const reply = main.querySelector('#public_reply').value.trim();
        const problems = [];
        if (!reply) problems.push({ text: t('resolve.reply_missing'), field: 'public_reply' });
        if (pending) problems.push({ text: t('upload.wait'), field: 'evidence' });
        const ready = uploads.filter((u) => u.media);
        if (!ready.length && !pending) problems.push({ text: t('resolve.photo_missing'), field: 'evidence' });
        const reasonEl = main.querySelector('#gps_reason');
        const reason = reasonEl?.value.trim() || '';
        if (reasonEl && !reason) problems.push({ text: t('gps.reason_missing'), field: 'gps_reason' });
        for (const [fid, bad] of [['public_reply', !reply], ['gps_reason', reasonEl && !reason]]) {
          main.querySelector(`#${fid}`)?.setAttribute('aria-invalid', String(!!bad));
        }
        if (problems.length) { mount(errors, errorSummary(t('err.title'), problems)); return; }
        const notes = [];
        if (reason) {
          const off = ready.filter((u) => u.distance === null || u.distance > EVIDENCE_MAX_M)
            .map((u) => (u.distance === null ? t('gps.note_missing') : t('gps.note_far', { m: Math.round(u.distance) })));
          notes.push(`${t('gps.note_prefix')} (${off.join('; ')}): ${reason}`);
        }
        if (noteValue()) notes.push(noteValue());
        await doTransition({ action: 'resolve', public_reply: reply, evidence_media_ids: ready.map((u) => u.media.id), note: notes.join('\n') }, errors);
      },
    }, h('h3', {}, t('act.resolve')), errors, templatePicker(ctx, r, 'resolved', 'public_reply'),
    h('div', { class: 'field' },
      h('label', { for: 'public_reply' }, t('resolve.reply')),
      h('p', { class: 'hint', id: 'public_reply-hint' }, t('resolve.reply_hint')),
      h('textarea', { id: 'public_reply', rows: 4, 'aria-describedby': 'public_reply-hint' })),
    h('div', { class: 'field' },
      h('label', { for: 'evidence' }, t('resolve.photos')),
      h('p', { class: 'hint', id: 'evidence-hint' }, t('resolve.photos_hint', { m: EVIDENCE_MAX_M })),
      fileInput),
    thumbs, gps, reasonBox, note,
    h('div', { class: 'row' }, h('button', { type: 'submit' }, t('act.resolve')), cancel));
  }

  // --- severity ---------------------------------------------------------------------------------
  function severitySection(r) {
    const errors = h('div');
    const idx = SEVERITIES.indexOf(r.severity);
    const choices = SEVERITIES.filter((s, i) => s !== r.severity && (ctx.isAdmin || i > idx));
    if (!choices.length) return null;
    return h('section', { 'aria-labelledby': 'sev-h' },
      h('h2', { id: 'sev-h' }, t('sev.title')),
      h('p', { class: 'hint' }, ctx.isAdmin ? t('sev.hint_admin') : t('sev.hint_staff')),
      h('form', {
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const severity = main.querySelector('#new_severity').value;
          const reason = main.querySelector('#sev_reason').value.trim();
          if (!reason) { mount(errors, errorSummary(t('err.title'), [{ text: t('sev.reason_missing'), field: 'sev_reason' }])); return; }
          try {
            await ctx.api.post(`/v1/staff/reports/${id}/severity`, { severity, reason });
            await refresh({ quiet: true });
            const msg = t('sev.done', { s: t(`severity.${severity}`) });
            mount(notices, h('div', { class: 'notice ok', role: 'status' }, msg));
          } catch (err) {
            mount(errors, err instanceof ApiError && err.fields.length
              ? errorSummary(t('err.title'), err.fields.map((f) => ({ text: f.message, field: f.field === 'reason' ? 'sev_reason' : 'new_severity' })))
              : ctx.problemNotice(err));
          }
        },
      }, errors,
      selectField('new_severity', t('sev.new'), choices.map((s) => [s, t(`severity.${s}`)]), choices[0]),
      h('div', { class: 'field' }, h('label', { for: 'sev_reason' }, t('sev.reason')), h('input', { id: 'sev_reason', type: 'text' })),
      h('button', { type: 'submit', class: 'secondary' }, t('sev.submit'))));
  }

  // --- conversation and notes -------------------------------------------------------------------
  function conversationSection() {
    const errors = h('div');
    return h('section', { 'aria-labelledby': 'conv-h' },
      h('h2', { id: 'conv-h' }, t('conv.title')),
      h('p', { class: 'hint' }, t('conv.hint')),
      h('form', {
        novalidate: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const text = main.querySelector('#message').value.trim();
          const internal = main.querySelector('#internal').checked;
          if (!text) { mount(errors, errorSummary(t('err.title'), [{ text: t('conv.missing'), field: 'message' }])); return; }
          try {
            await ctx.api.post(`/v1/reports/${id}/comments`, { text, internal });
            await refresh({ quiet: true });
            const msg = internal ? t('conv.note_saved') : t('conv.sent');
            mount(notices, h('div', { class: 'notice ok', role: 'status' }, msg));
          } catch (err) {
            mount(errors, ctx.problemNotice(err));
          }
        },
      }, errors,
      h('div', { class: 'field' }, h('label', { for: 'message' }, t('conv.message')), h('textarea', { id: 'message', rows: 3 })),
      h('div', { class: 'check' }, h('input', { type: 'checkbox', id: 'internal' }), h('label', { for: 'internal' }, t('conv.internal'))),
      h('button', { type: 'submit', class: 'secondary' }, t('conv.send'))));
  }

  function historySection() {
    const items = [...detail.history].reverse();
    return h('section', { 'aria-labelledby': 'hist-h' },
      h('h2', { id: 'hist-h' }, t('hist.title')),
      items.length ? h('ol', { class: 'history' }, items.map((ev) => h('li', { class: ev.internal ? 'internal' : null },
        h('p', { class: 'row meta' },
          h('strong', {}, eventLabel(ev)),
          ev.internal ? h('span', { class: 'badge risk' }, t('hist.internal')) : null,
          h('span', { class: 'muted' }, `${formatDateTime(ev.at)} · ${ev.actor ? t(`actor.${ev.actor}`) : ''}`)),
        ev.note ? h('p', { class: 'note' }, ev.note) : null,
        ev.photos?.length ? h('ul', { class: 'thumbs' }, ev.photos.map((p, i) => h('li', {},
          h('button', { type: 'button', class: 'thumb-button', onclick: () => zoom(p, `${t('hist.photo')} ${i + 1}`) },
            photo(p, `${t('hist.photo')} ${i + 1}`))))) : null))) : h('p', { class: 'muted' }, t('hist.empty')));
  }

  function eventLabel(ev) {
    if (ev.to_status && ev.kind !== 'comment' && ev.kind !== 'internal_note') {
      return `${t(`event.${ev.kind}`, {})} → ${t(`status.${ev.to_status}`)}`;
    }
    return t(`event.${ev.kind}`);
  }

  async function refresh({ quiet, keepNotices } = {}) {
    const focusedId = document.activeElement?.id;
    try {
      await load();
      if (!keepNotices && !quiet) mount(notices);
      draw();
      if (focusedId) document.getElementById(focusedId)?.focus();
    } catch (e) {
      mount(notices, ctx.problemNotice(e));
    }
  }

  // Live: this report changed elsewhere. Redraw unless a form is being filled in.
  ctx.onLive = (msg) => {
    if (msg.event === 'resync' || msg.report?.id === id) {
      if (open) {
        // Keep what is being typed: say it changed, offer a reload.
        mount(notices, h('div', { class: 'notice warn', role: 'status' }, t('report.changed_elsewhere'), ' ',
          h('button', { type: 'button', class: 'secondary small', onclick: () => { open = null; refresh(); } }, t('report.reload'))));
      } else {
        refresh({ quiet: true });
      }
    }
  };

  draw();
  focusHeading(main);
  return {
    leave() {
      left = true;
      mapHandle?.remove();
      for (const u of blobs) URL.revokeObjectURL(u);
    },
  };
}
