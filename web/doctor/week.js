// The doctor's own week: weekly hours residents can book (per station), and leave days (booked
// appointments on them are cancelled by the server, and their residents told).

import { h, mount, announce, focusHeading } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { formatDate, wardDay } from '../shared/time.js';
import { api, me, showError } from './session.js';

export async function weekView(main) {
  const errors = h('div');
  const hoursBox = h('section', { 'aria-labelledby': 'hours-title' });
  const leaveBox = h('section', { 'aria-labelledby': 'leave-title' });
  mount(main, h('h1', {}, t('week.title')), errors, hoursBox, leaveBox);
  focusHeading(main);
  const id = me.account.id;

  // --- weekly hours
  let availability;
  try {
    availability = await api.get(`/v1/telehealth/doctors/${id}/availability`);
  } catch (e) { showError(errors, e); availability = { windows: [] }; }
  const rows = h('div', { class: 'stack' });
  const empty = h('p', { class: 'muted' }, t('week.none'));
  function windowRow(w) {
    const n = rows.children.length + 1;
    const sel = (k, label, options) => h('div', {}, h('label', { for: `w-${k}-${n}` }, label),
      h('select', { id: `w-${k}-${n}`, name: k }, options));
    const input = (k, label, attrs) => h('div', {}, h('label', { for: `w-${k}-${n}` }, label), h('input', { id: `w-${k}-${n}`, name: k, ...attrs }));
    const row = h('fieldset', { class: 'window-row' },
      h('legend', {}, t('rec.item', { n })),
      h('div', { class: 'grid' },
        sel('weekday', t('week.day'), [1, 2, 3, 4, 5, 6, 7].map((d) => h('option', { value: d, selected: d === w.weekday }, t('weekday.' + d)))),
        input('start', t('week.start'), { type: 'time', value: w.start, required: true }),
        input('end', t('week.end'), { type: 'time', value: w.end === '24:00' ? '23:59' : w.end, required: true }),
        input('slot', t('week.slot'), { type: 'number', min: 5, max: 120, value: w.slot_minutes || 15 }),
        me.stations.length > 1 ? sel('station', t('week.station'), me.stations.map((s) => h('option', { value: s.id, selected: s.id === w.station_id }, s.name))) : null),
      h('button', { type: 'button', class: 'secondary', onclick: () => { row.remove(); empty.hidden = rows.children.length > 0; } }, t('week.remove', { n })));
    rows.append(row);
    empty.hidden = true;
  }
  for (const w of availability.windows) windowRow(w);
  empty.hidden = availability.windows.length > 0;
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    const windows = [...rows.querySelectorAll('.window-row')].map((r) => ({
      station_id: r.querySelector('[name=station]')?.value || me.station?.id || me.stations[0]?.id,
      weekday: Number(r.querySelector('[name=weekday]').value),
      start: r.querySelector('[name=start]').value,
      end: r.querySelector('[name=end]').value === '23:59' ? '24:00' : r.querySelector('[name=end]').value,
      slot_minutes: Number(r.querySelector('[name=slot]').value) || 15,
    }));
    try {
      await api.put(`/v1/telehealth/doctors/${id}/availability`, { windows });
      announce(t('week.saved'));
      status.textContent = t('week.saved');
    } catch (err) { showError(errors, err); }
  } },
  rows, empty,
  h('div', { class: 'row' },
    h('button', { type: 'button', class: 'secondary', onclick: () => windowRow({ weekday: 1, start: '08:00', end: '11:00', slot_minutes: 15, station_id: me.station?.id }) }, t('week.add')),
    h('button', { type: 'submit' }, t('week.save'))));
  const status = h('p', { role: 'status', class: 'muted' });
  mount(hoursBox, h('h2', { id: 'hours-title' }, t('week.hours')), form, status);

  // --- leave
  const leaveList = h('ul');
  async function drawLeave() {
    let days = [];
    try { days = await api.get(`/v1/telehealth/doctors/${id}/leave`); } catch (e) { showError(errors, e); }
    mount(leaveList, days.length ? days.map((d) => h('li', { class: 'row' },
      h('span', {}, formatDate(d.day + 'T12:00:00+07:00'), d.reason ? ` — ${d.reason}` : ''),
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try { await api.del(`/v1/telehealth/doctors/${id}/leave/${d.day}`); drawLeave(); } catch (e) { showError(errors, e); }
      } }, t('week.leave.remove', { day: formatDate(d.day + 'T12:00:00+07:00') })))) : h('li', { class: 'muted' }, t('week.leave.none')));
  }
  const from = h('input', { id: 'leave-from', type: 'date', min: wardDay(), required: true });
  const to = h('input', { id: 'leave-to', type: 'date', min: wardDay() });
  const reason = h('input', { id: 'leave-reason', maxlength: 600 });
  const leaveForm = h('form', { class: 'stack narrow', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    try {
      const r = await api.post(`/v1/telehealth/doctors/${id}/leave`, { from: from.value, to: to.value || undefined, reason: reason.value || undefined });
      announce(t('week.leave.added', { n: r.cancelled_appointments }));
      from.value = ''; to.value = ''; reason.value = '';
      drawLeave();
    } catch (err) { showError(errors, err); }
  } },
  h('div', {}, h('label', { for: 'leave-from' }, t('week.leave.from')), from),
  h('div', {}, h('label', { for: 'leave-to' }, t('week.leave.to')), to),
  h('div', {}, h('label', { for: 'leave-reason' }, t('week.leave.reason')), reason),
  h('button', { type: 'submit' }, t('week.leave.add')));
  mount(leaveBox, h('h2', { id: 'leave-title' }, t('week.leave')), leaveList, leaveForm);
  drawLeave();
}
