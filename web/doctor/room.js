// The consultation: the call (shared/call.js) on one side, the record on the other (SOAP, ICD-10
// codes, prescription, follow-up; saved as a draft, signed, amended), the patient's earlier records
// below, and the doctor's tools: invite a colleague, put back in the waiting room, end.

import { ApiError } from '../shared/api.js';
import { Call, callStage, endReasonText, openLocalMedia } from '../shared/call.js';
import { h, mount, announce, focusHeading } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { formatDateTime, formatTime, formatDate } from '../shared/time.js';
import { api, me, onLeave, go, showError } from './session.js';

const LIVE = new Set(['admitted', 'in_call']);

export async function callView(main, id) {
  const errors = h('div');
  let c = await api.get(`/v1/telehealth/consultations/${id}`);
  const name = c.resident.name || t('doc.queue.noname');
  const statusLine = h('p', { class: 'muted' });
  const stageBox = h('div', { class: 'stage-box' });
  const tools = h('div', { class: 'stack' });
  const recordBox = h('section', { class: 'record', 'aria-labelledby': 'rec-title' });
  const earlier = h('section', { class: 'earlier', 'aria-labelledby': 'earlier-title' });

  mount(main,
    h('h1', {}, t('room.title', { name })),
    errors,
    h('p', {}, h('strong', {}, t('room.reason'), ': '), c.reason),
    statusLine,
    h('div', { class: 'consult' },
      h('div', { class: 'consult-call' }, stageBox, tools),
      recordBox),
    earlier);
  focusHeading(main);

  const drawStatus = () => { statusLine.textContent = t('room.status', { s: t('room.status.' + c.status) }); };
  drawStatus();

  let call = null;
  let stage = null;
  const refresh = async () => {
    try {
      c = await api.get(`/v1/telehealth/consultations/${id}`);
      // Missed, ended elsewhere, declined: the call is over whatever the socket says.
      if (!LIVE.has(c.status) && call && call.state !== 'ended') call.finish(c.status);
      drawStatus();
      drawTools();
      record.consultationChanged(c);
    } catch { /* next time */ }
  };

  function drawTools() {
    const live = LIVE.has(c.status) && call && call.state !== 'ended';
    const others = (me.allDoctors || []).filter((d) => d.id !== me.account.id && !c.doctors.some((x) => x.id === d.id));
    const pick = h('select', { id: 'invite-who' }, others.map((d) => h('option', { value: d.id }, [d.title, d.name].filter(Boolean).join(' ') + (d.specialty ? ` — ${d.specialty}` : ''))));
    const phone = c.resident.phone;
    mount(tools,
      live && others.length ? h('details', { class: 'invite' },
        h('summary', {}, t('room.invite')),
        h('label', { for: 'invite-who' }, t('room.invite.who')), pick,
        h('button', { type: 'button', class: 'secondary', onclick: async () => {
          try {
            c = await api.post(`/v1/telehealth/consultations/${id}/specialists`, { doctor_id: pick.value });
            announce(t('room.invite.done', { name: pick.selectedOptions[0]?.textContent || '' }));
            drawTools();
          } catch (e) { showError(errors, e); }
        } }, t('room.invite.send'))) : null,
      live ? h('details', { class: 'fallback' },
        h('summary', {}, t('room.fallback')),
        h('p', {}, t('room.fallback.steps')),
        h('p', {}, phone ? t('room.fallback.phone', { phone }) : t('room.fallback.nophone'))) : null,
      c.status === 'admitted' ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try {
          await api.post(`/v1/telehealth/consultations/${id}/requeue`);
          call?.leave();
          go('#/');
        } catch (e) { showError(errors, e); }
      } }, t('room.requeue')) : null,
      !live ? h('p', {}, h('a', { href: '#/' }, t('room.back'))) : null);
  }

  const record = recordForm(recordBox, c, errors);
  earlierRecords(earlier, c);

  if (LIVE.has(c.status)) {
    const local = await openLocalMedia();
    call = new Call({ api, consultationId: id, localStream: local });
    const endBtn = h('button', { type: 'button', class: 'danger', onclick: async () => {
      endBtn.disabled = true;
      await call.endForAll();
    } }, t('room.end'));
    stage = callStage(call, { endButton: endBtn, waitingText: t('call.waiting_patient'), names: { [c.resident.id]: name } });
    mount(stageBox, stage.el);
    call.addEventListener('state', (e) => {
      if (e.detail.state === 'connected' || e.detail.state === 'ended') refresh();
      if (e.detail.state === 'ended') {
        stage.destroy();
        // Why, when it is not the ordinary end (no longer a participant, room full, another tab).
        const why = endReasonText(e.detail.reason);
        mount(stageBox, h('p', { class: 'notice', role: 'status' }, why ? `${why} ${t('room.ended')}` : t('room.ended')));
      }
    });
    onLeave(() => { stage?.destroy(); call?.leave(); });
    try {
      await call.start();
    } catch (e) {
      stage.destroy();
      mount(stageBox, h('p', { class: 'notice warn' }, t('call.failed', { why: e.message })));
      for (const tr of local.getTracks()) tr.stop();
    }
  } else {
    mount(stageBox, h('p', { class: 'notice' }, c.status === 'missed' ? t('room.missed') : t('room.ended')));
  }
  drawTools();
  const timer = setInterval(refresh, 10000);
  onLeave(() => clearInterval(timer));
}

// --- the record --------------------------------------------------------------------------------

const EMPTY = { subjective: '', objective: '', assessment: '', plan: '', diagnoses: [], prescriptions: [], follow_up_on: '', in_person_advised: false };

function recordForm(box, consultation, errors) {
  let c = consultation;
  let rec = null; // the server's RecordView of my current version
  const draftKey = `wl.doctor.record.${c.id}`;
  const status = h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const body = h('div');

  mount(box, h('h2', { id: 'rec-title' }, t('rec.title')), status, body);

  function textarea(id, label, value, rows = 3) {
    return h('div', {}, h('label', { for: id }, label), h('textarea', { id, name: id, rows, value: value || '' }));
  }

  function drawForm(content) {
    const v = { ...EMPTY, ...content };
    const dx = h('div', { class: 'stack' });
    const rx = h('div', { class: 'stack' });
    const dxRow = (d = { code: '', text: '' }) => {
      const n = dx.children.length + 1;
      const row = h('fieldset', { class: 'dx-row' },
        h('legend', {}, t('rec.item', { n })),
        h('div', { class: 'row' },
          h('div', {}, h('label', { for: `dx-code-${n}` }, t('rec.dx.code')), h('input', { id: `dx-code-${n}`, name: 'dx-code', value: d.code, autocomplete: 'off', class: 'code' })),
          h('div', { class: 'grow' }, h('label', { for: `dx-text-${n}` }, t('rec.dx.text')), h('input', { id: `dx-text-${n}`, name: 'dx-text', value: d.text }))),
        h('button', { type: 'button', class: 'secondary', onclick: () => row.remove() }, t('rec.dx.remove', { n })));
      dx.append(row);
    };
    const rxRow = (p = {}) => {
      const n = rx.children.length + 1;
      const f = (k, label) => h('div', {}, h('label', { for: `rx-${k}-${n}` }, label), h('input', { id: `rx-${k}-${n}`, name: `rx-${k}`, value: p[k] || '' }));
      const row = h('fieldset', { class: 'rx-row' },
        h('legend', {}, t('rec.item', { n })),
        h('div', { class: 'grid' },
          f('drug', t('rec.rx.drug')), f('strength', t('rec.rx.strength')), f('dose', t('rec.rx.dose')),
          f('frequency', t('rec.rx.frequency')), f('duration', t('rec.rx.duration')), f('instructions', t('rec.rx.instructions'))),
        h('button', { type: 'button', class: 'secondary', onclick: () => row.remove() }, t('rec.rx.remove', { n })));
      rx.append(row);
    };
    for (const d of v.diagnoses) dxRow(d);
    for (const p of v.prescriptions) rxRow(p);
    const form = h('form', { class: 'stack', novalidate: true, onsubmit: (e) => { e.preventDefault(); sign(); }, oninput: () => keepLocal() },
      textarea('rec-s', t('rec.s'), v.subjective),
      textarea('rec-o', t('rec.o'), v.objective),
      textarea('rec-a', t('rec.a'), v.assessment, 2),
      h('fieldset', {}, h('legend', {}, t('rec.dx')), dx, h('button', { type: 'button', class: 'secondary', onclick: () => dxRow() }, t('rec.dx.add'))),
      textarea('rec-p', t('rec.p'), v.plan),
      h('fieldset', {}, h('legend', {}, t('rec.rx')), rx, h('button', { type: 'button', class: 'secondary', onclick: () => rxRow() }, t('rec.rx.add'))),
      h('div', {}, h('label', { for: 'rec-follow' }, t('rec.follow')), h('input', { id: 'rec-follow', type: 'date', value: v.follow_up_on || '' })),
      h('div', { class: 'check' }, h('input', { id: 'rec-inperson', type: 'checkbox', checked: v.in_person_advised }), h('label', { for: 'rec-inperson' }, t('rec.inperson'))),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', onclick: () => save(true) }, t('rec.save')),
        h('button', { type: 'submit' }, t('rec.sign'))));
    mount(body, form);
    return form;
  }

  function read() {
    const f = body.querySelector('form');
    if (!f) return null;
    const val = (sel) => f.querySelector(sel)?.value || '';
    const diagnoses = [...f.querySelectorAll('.dx-row')].map((r) => ({
      code: r.querySelector('[name=dx-code]').value.trim(),
      text: r.querySelector('[name=dx-text]').value.trim(),
    })).filter((d) => d.code || d.text);
    const prescriptions = [...f.querySelectorAll('.rx-row')].map((r) => {
      const o = {};
      for (const k of ['drug', 'strength', 'dose', 'frequency', 'duration', 'instructions']) o[k] = r.querySelector(`[name=rx-${k}]`).value.trim();
      return o;
    }).filter((p) => Object.values(p).some(Boolean));
    const out = {
      subjective: val('#rec-s'), objective: val('#rec-o'), assessment: val('#rec-a'), plan: val('#rec-p'),
      diagnoses, prescriptions, in_person_advised: f.querySelector('#rec-inperson').checked,
    };
    const follow = val('#rec-follow');
    if (follow) out.follow_up_on = follow;
    return out;
  }

  function keepLocal() {
    try { sessionStorage.setItem(draftKey, JSON.stringify(read())); } catch { /* full */ }
  }

  /** Create or update my draft on the server. */
  async function save(explicit) {
    const content = read();
    if (!content) return null;
    try {
      if (!rec) rec = await api.post(`/v1/telehealth/consultations/${c.id}/records`, content);
      else rec = await api.put(`/v1/telehealth/records/${rec.id}`, content);
      status.textContent = t('rec.saved', { time: formatTime(rec.updated_at) });
      return rec;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'consultation_not_started') {
        keepLocal();
        status.textContent = t('rec.local');
        return null;
      }
      if (e instanceof ApiError && e.code === 'record_exists') {
        await load();
        return save(explicit);
      }
      showError(errors, e);
      throw e;
    }
  }

  async function sign() {
    errors.replaceChildren();
    let saved;
    try { saved = await save(false); } catch { return; }
    if (!saved) { showError(errors, { message: t('rec.local') }); return; }
    try {
      rec = await api.post(`/v1/telehealth/records/${rec.id}/sign`);
      try { sessionStorage.removeItem(draftKey); } catch { /* none */ }
      drawSigned();
      announce(t('rec.signed', { time: formatTime(rec.signed_at) }));
    } catch (e) { showError(errors, e); }
  }

  function drawSigned() {
    status.textContent = '';
    mount(body,
      h('p', { class: 'notice ok' }, t('rec.signed', { time: formatDateTime(rec.signed_at) })),
      recordSummary(rec),
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try {
          rec = await api.post(`/v1/telehealth/records/${rec.id}/amend`);
          drawForm(rec);
          status.textContent = t('rec.version', { n: rec.version });
          body.querySelector('textarea')?.focus();
        } catch (e) { showError(errors, e); }
      } }, t('rec.amend')));
  }

  /** My latest version of this consultation's record, if any. */
  async function load() {
    try {
      const mine = (await api.get('/v1/telehealth/records', { query: { consultation_id: c.id } }))
        .filter((r) => r.author.id === me.account.id && !r.superseded_by)
        .sort((a, b) => b.version - a.version);
      rec = mine[0] || null;
    } catch { rec = null; }
  }

  (async () => {
    await load();
    if (rec && rec.status === 'signed') return drawSigned();
    let local = null;
    try { local = JSON.parse(sessionStorage.getItem(draftKey)); } catch { /* none */ }
    drawForm(local || rec || EMPTY);
    if (rec) status.textContent = t('rec.version', { n: rec.version });
  })();

  return {
    consultationChanged(next) {
      const started = c.status === 'admitted' && next.status !== 'admitted';
      c = next;
      // Kept locally while the call had not begun: now the server takes it.
      if (started && !rec) {
        let local = null;
        try { local = sessionStorage.getItem(draftKey); } catch { /* none */ }
        if (local) save(false).catch(() => {});
      }
    },
  };
}

/** A record as read-only text. */
export function recordSummary(r) {
  const none = t('rec.none');
  const dl = h('dl', { class: 'record-view' },
    h('dt', {}, t('rec.s')), h('dd', {}, r.subjective || none),
    h('dt', {}, t('rec.o')), h('dd', {}, r.objective || none),
    h('dt', {}, t('rec.a')), h('dd', {}, r.assessment || none),
    h('dt', {}, t('rec.dx')), h('dd', {}, r.diagnoses.length ? h('ul', {}, r.diagnoses.map((d) => h('li', {}, `${d.code} — ${d.text}`))) : none),
    h('dt', {}, t('rec.p')), h('dd', {}, r.plan || none),
    h('dt', {}, t('rec.rx')), h('dd', {}, r.prescriptions.length ? h('ul', {}, r.prescriptions.map((p) => h('li', {},
      [p.drug, p.strength].filter(Boolean).join(' '), ': ', [p.dose, p.frequency, p.duration].filter(Boolean).join(', '), p.instructions ? ` (${p.instructions})` : ''))) : none),
    r.follow_up_on ? [h('dt', {}, t('rec.follow')), h('dd', {}, formatDate(r.follow_up_on + 'T12:00:00+07:00'))] : null,
    r.in_person_advised ? [h('dt', {}, t('rec.inperson')), h('dd', {}, '✓')] : null);
  return dl;
}

/** The patient's earlier signed records, from consultations this doctor took part in. */
async function earlierRecords(box, c) {
  mount(box, h('h2', { id: 'earlier-title' }, t('rec.earlier')));
  try {
    const all = await api.get('/v1/telehealth/records', { query: { limit: 100 } });
    const past = all.filter((r) => r.resident_id === c.resident.id && r.consultation_id !== c.id && r.status === 'signed' && !r.superseded_by);
    if (!past.length) { box.append(h('p', { class: 'muted' }, t('rec.earlier.none'))); return; }
    for (const r of past) {
      box.append(h('details', {},
        h('summary', {}, t('rec.by', { date: formatDateTime(r.signed_at || r.created_at), doctor: r.author.name }), r.assessment ? ` — ${r.assessment}` : ''),
        recordSummary(r)));
    }
  } catch {
    box.append(h('p', { class: 'muted' }, t('rec.earlier.none')));
  }
}
