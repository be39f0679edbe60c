// The doctor console (/doctor/): sign in (and change a one-time password), go on duty at a
// station, watch its waiting room live, admit a resident and hold the consultation (call.js) with
// the record beside the video (room.js), and keep one's own week (week.js).

import { ApiError } from '../shared/api.js';
import { h, mount, announce, focusHeading } from '../shared/dom.js';
import { register, t, setLang, currentLang, onLangChange } from '../shared/i18n.js';
import { clock } from '../shared/time.js';
import { liveSocket } from '../shared/ws.js';
import { strings } from './strings.js';
import { api, me, leaveView, onLeave, go, showError } from './session.js';

register(strings);

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');

function header() {
  const signedIn = api.signedIn && me.account && !me.account.password_must_change;
  mount(topbar,
    h('div', { class: 'topbar-inner' },
      h('p', { class: 'brand' }, 'Wardline · ', t('doc.brand')),
      signedIn ? h('nav', { 'aria-label': t('doc.nav') },
        h('a', { href: '#/', 'aria-current': location.hash === '' || location.hash === '#/' ? 'page' : null }, t('doc.nav.room')),
        h('a', { href: '#/week', 'aria-current': location.hash === '#/week' ? 'page' : null }, t('doc.nav.week'))) : null,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', lang: currentLang() === 'vi' ? 'en' : 'vi', onclick: () => setLang(currentLang() === 'vi' ? 'en' : 'vi') }, t('common.language')),
        signedIn ? h('button', { type: 'button', class: 'secondary', onclick: signOut }, t('common.signout')) : null)));
}

async function signOut() {
  leaveView();
  await api.logout();
  me.account = null;
  me.password = null;
  go('#/');
}

// --- signing in --------------------------------------------------------------------------------

function signInView() {
  const errors = h('div');
  const phone = h('input', { id: 'phone', name: 'phone', type: 'tel', autocomplete: 'username', required: true, inputmode: 'tel' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'stack narrow', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    if (!phone.value.trim() || !password.value) {
      showError(errors, { message: t('doc.signin.missing') });
      return;
    }
    const btn = form.querySelector('button[type=submit]');
    btn.disabled = true;
    try {
      await api.login(phone.value.trim(), password.value);
      me.password = password.value;
      await loadMe();
      render();
    } catch (err) {
      showError(errors, err);
    } finally {
      btn.disabled = false;
    }
  } },
  h('div', {}, h('label', { for: 'phone' }, t('doc.phone')), phone),
  h('div', {}, h('label', { for: 'password' }, t('doc.password')), password),
  h('button', { type: 'submit' }, t('doc.signin')));
  mount(main, h('h1', {}, t('doc.signin.title')), errors, form);
  phone.focus();
}

function changePasswordView() {
  const errors = h('div');
  const current = me.password ? null : h('input', { id: 'current-password', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 10, 'aria-describedby': 'new-password-hint' });
  const form = h('form', { class: 'stack narrow', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    errors.replaceChildren();
    if (next.value.length < 10) {
      showError(errors, { message: t('doc.pw.short') });
      return;
    }
    try {
      await api.post('/v1/me/password', { current_password: me.password || current.value, new_password: next.value });
      me.password = null;
      await loadMe();
      announce(t('doc.pw.done'));
      render();
    } catch (err) {
      showError(errors, err);
    }
  } },
  current ? h('div', {}, h('label', { for: 'current-password' }, t('doc.pw.current')), current) : null,
  h('div', {},
    h('label', { for: 'new-password' }, t('doc.pw.new')),
    h('p', { class: 'hint', id: 'new-password-hint' }, t('doc.pw.hint')),
    next),
  h('button', { type: 'submit' }, t('doc.pw.change')));
  mount(main, h('h1', {}, t('doc.pw.title')), h('p', {}, t('doc.pw.why')), errors, form);
  (current || next).focus();
}

/** The account, the doctor's card (stations, duty) and the stations' names. */
async function loadMe() {
  me.account = await api.get('/v1/me');
  if (me.account.password_must_change) return;
  const [doctors, stations] = await Promise.all([
    api.get('/v1/telehealth/doctors'),
    api.get('/v1/telehealth/stations'),
  ]);
  me.card = doctors.find((d) => d.id === me.account.id) || null;
  const mine = new Set(me.card?.stations || []);
  me.stations = stations.filter((s) => mine.has(s.id));
  me.allDoctors = doctors;
  me.onDuty = !!me.card?.on_duty_at;
  const saved = localStorage.getItem('wl.doctor.station');
  me.station = me.stations.find((s) => s.id === me.card?.on_duty_at)
    || me.stations.find((s) => s.id === saved)
    || me.stations[0] || null;
}

// --- the waiting room --------------------------------------------------------------------------

let audioCtx = null;
/** Two soft knocks, made on the spot (no sound file). */
function knock() {
  try {
    audioCtx = audioCtx || new AudioContext();
    const now = audioCtx.currentTime;
    for (const at of [0, 0.18]) {
      const o = audioCtx.createOscillator();
      const g = audioCtx.createGain();
      o.type = 'sine';
      o.frequency.value = 180;
      g.gain.setValueAtTime(0.0001, now + at);
      g.gain.exponentialRampToValueAtTime(0.6, now + at + 0.01);
      g.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.14);
      o.connect(g).connect(audioCtx.destination);
      o.start(now + at);
      o.stop(now + at + 0.15);
    }
  } catch { /* no audio here */ }
}

function notify(text) {
  try {
    if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
      const n = new Notification('Wardline', { body: text, tag: 'wl-waiting-room' });
      n.onclick = () => { window.focus(); n.close(); };
    }
  } catch { /* not allowed */ }
}

function symptomText(s) { return s ? t('symptom.' + s) : ''; }

async function homeView() {
  const errors = h('div');
  const dutyBox = h('div', { class: 'duty' });
  const list = h('ul', { class: 'queue', 'aria-labelledby': 'queue-title' });
  const empty = h('p', { class: 'muted' }, t('doc.queue.empty'));
  const liveState = h('p', { class: 'live-state', 'data-state': 'connecting' }, t('live.connecting'));
  const ongoing = h('div');
  const stationPick = me.stations.length > 1
    ? h('div', {}, h('label', { for: 'station' }, t('doc.station')),
      h('select', { id: 'station', onchange: (e) => {
        me.station = me.stations.find((s) => s.id === e.target.value);
        localStorage.setItem('wl.doctor.station', me.station.id);
        render();
      } }, me.stations.map((s) => h('option', { value: s.id, selected: s.id === me.station?.id }, s.name))))
    : null;

  mount(main,
    h('h1', {}, t('doc.home.title')),
    errors,
    me.station ? h('p', {}, t('doc.station.at', { name: me.station.name })) : h('p', { class: 'notice warn' }, t('doc.station.none')),
    stationPick,
    dutyBox,
    ongoing,
    h('div', { class: 'row between' }, h('h2', { id: 'queue-title' }, t('doc.queue.title')), liveState),
    empty,
    list);
  focusHeading(main);
  if (!me.station) return;

  function drawDuty() {
    const on = me.onDuty && me.card?.on_duty_at === me.station.id;
    mount(dutyBox,
      h('p', { class: on ? 'badge ok' : 'badge' }, on ? t('doc.duty.on') : t('doc.duty.off')),
      ' ',
      on
        ? h('button', { type: 'button', class: 'secondary', onclick: dutyOff }, t('doc.duty.stop'))
        : h('button', { type: 'button', onclick: dutyOn }, t('doc.duty.start')));
  }
  async function dutyOn() {
    // A click: the moment the browser lets us prepare sound and ask for notifications.
    try { audioCtx = audioCtx || new AudioContext(); audioCtx.resume?.(); } catch { /* none */ }
    try { if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission().catch(() => {}); } catch { /* none */ }
    try {
      await api.put('/v1/telehealth/duty', { station_id: me.station.id });
      me.onDuty = true;
      if (me.card) me.card.on_duty_at = me.station.id;
      announce(t('doc.duty.on'));
      drawDuty();
      dutyBox.querySelector('button')?.focus();
    } catch (e) { showError(errors, e); }
  }
  async function dutyOff() {
    try {
      await api.del('/v1/telehealth/duty');
      me.onDuty = false;
      if (me.card) me.card.on_duty_at = null;
      announce(t('doc.duty.off'));
      drawDuty();
      dutyBox.querySelector('button')?.focus();
    } catch (e) { showError(errors, e); }
  }
  drawDuty();

  // The room is pushed: the station's socket says when it changed and the list is fetched then
  // (also in a background tab, whose timers the browser slows down). A slow poll stays as the net
  // under it, and a quick one while the socket is down.
  const seen = new Set();
  let first = true;
  let entries = [];
  const rows = new Map();
  function row(c) {
    const nameId = 'q-' + c.id;
    const wait = h('span', { class: 'wait' });
    const admit = h('button', { type: 'button', 'aria-describedby': nameId, disabled: c.consent_needed, onclick: () => admitOne(c, admit) }, t('doc.queue.admit'));
    const li = h('li', { class: 'queue-item' },
      h('h3', { id: nameId }, c.resident.name || t('doc.queue.noname')),
      h('p', {}, h('strong', {}, t('doc.queue.reason')), ' ', c.reason, c.symptom ? ` (${symptomText(c.symptom)})` : ''),
      h('p', { class: 'row' },
        h('span', {}, t('doc.queue.waited'), ' ', wait),
        c.appointment_id ? h('span', { class: 'badge' }, t('doc.queue.booked')) : null,
        c.doctor_id ? h('span', { class: 'badge' }, t('doc.queue.for_me')) : null,
        c.consent_needed ? h('span', { class: 'badge risk' }, t('doc.queue.consent')) : null,
        readiness(c)),
      admit);
    return { li, wait, c };
  }
  function tick() {
    for (const r of rows.values()) r.wait.textContent = clock((Date.now() - new Date(r.c.queued_at).getTime()) / 1000);
  }
  async function admitOne(c, btn) {
    btn.disabled = true;
    try {
      const admitted = await api.post(`/v1/telehealth/stations/${me.station.id}/queue/admit`, { consultation_id: c.id });
      go('#/call/' + admitted.id);
    } catch (e) {
      btn.disabled = c.consent_needed;
      showError(errors, e);
      poll();
    }
  }
  async function poll() {
    try {
      entries = await api.get(`/v1/telehealth/stations/${me.station.id}/queue`);
      liveState.dataset.state = 'open';
      liveState.textContent = t('live.online');
    } catch (e) {
      liveState.dataset.state = 'closed';
      liveState.textContent = t('live.offline');
      if (e instanceof ApiError && e.status === 401) { render(); }
      return;
    }
    const ids = new Set(entries.map((c) => c.id));
    for (const [id, r] of rows) if (!ids.has(id)) { r.li.remove(); rows.delete(id); }
    const arrived = [];
    for (const c of entries) {
      const old = rows.get(c.id);
      if (!old || old.c.consent_needed !== c.consent_needed || old.c.reason !== c.reason) {
        const r = row(c);
        if (old) old.li.replaceWith(r.li);
        rows.set(c.id, r);
      }
      if (!seen.has(c.id)) { seen.add(c.id); if (!first) arrived.push(c); }
    }
    // Calling order, as the server gives it.
    for (const c of entries) list.append(rows.get(c.id).li);
    empty.hidden = entries.length > 0;
    tick();
    if (arrived.length) {
      const text = arrived.length === 1
        ? t('doc.queue.arrived', { name: arrived[0].resident.name || t('doc.queue.noname') })
        : t('doc.queue.arrived_n', { n: arrived.length });
      announce(text);
      if (me.onDuty) knock();
      notify(text);
    }
    first = false;
  }
  async function checkOngoing() {
    try {
      const mine = await api.get('/v1/telehealth/consultations', { query: { limit: 10 } });
      const live = mine.filter((c) => c.status === 'admitted' || c.status === 'in_call');
      mount(ongoing, live.length ? h('div', { class: 'notice' },
        h('h2', {}, t('doc.ongoing')),
        h('ul', {}, live.map((c) => h('li', {}, h('a', { href: '#/call/' + c.id }, t('doc.ongoing.back', { name: c.resident.name || t('doc.queue.noname') })))))) : null);
    } catch { /* shown on the next try */ }
  }
  await poll();
  checkOngoing();
  let pushed = false;
  const socket = liveSocket({
    url: async () => {
      const tok = await api.accessToken();
      return tok ? `/v1/telehealth/stations/${me.station.id}/queue/live?access_token=${encodeURIComponent(tok)}` : null;
    },
    onState: (s) => { pushed = s === 'open'; },
    // Back after a drop: whatever changed meanwhile was missed.
    onOpen: (_ws, again) => { if (again) poll(); },
    onMessage: (msg) => { if (msg?.event === 'queue_changed') poll(); },
  });
  let since = 0;
  const timer = setInterval(() => {
    since += 3;
    if (pushed ? since >= 30 : (!document.hidden || me.onDuty)) { since = 0; poll(); }
  }, 3000);
  const ticker = setInterval(tick, 1000);
  const ongoingTimer = setInterval(checkOngoing, 15000);
  onLeave(() => { socket.close(); clearInterval(timer); clearInterval(ticker); clearInterval(ongoingTimer); });
}

/** The resident's last pre-call test (within a day): verdict, round trip, relayed or not. */
function readiness(c) {
  const r = c.readiness;
  if (!r?.verdict) return h('span', { class: 'badge' }, t('doc.ready.none'));
  const cls = r.verdict === 'video_ok' ? 'badge ok' : r.verdict === 'audio_only' ? 'badge risk' : 'badge late';
  const details = [
    typeof r.rtt_ms === 'number' ? t('doc.ready.rtt', { ms: Math.round(r.rtt_ms) }) : null,
    r.relay ? t('doc.ready.relay') : null,
  ].filter(Boolean).join(', ');
  return h('span', { class: cls }, t('doc.ready.' + r.verdict) + (details ? ` (${details})` : ''));
}

// --- routing -----------------------------------------------------------------------------------

async function render() {
  leaveView();
  header();
  try {
    if (!api.signedIn) return signInView();
    if (!me.account) await loadMe();
    if (me.account.password_must_change) { header(); return changePasswordView(); }
    header();
    if (me.account.role !== 'doctor') {
      mount(main, h('h1', {}, t('doc.notdoctor.title')), h('p', {}, t('doc.notdoctor')));
      return;
    }
    const hash = location.hash.replace(/^#/, '') || '/';
    const call = hash.match(/^\/call\/([0-9a-f-]{36})$/i);
    if (call) {
      const { callView } = await import('./room.js');
      return callView(main, call[1]);
    }
    if (hash === '/week') {
      const { weekView } = await import('./week.js');
      return weekView(main);
    }
    return homeView();
  } catch (e) {
    if (e instanceof ApiError && e.status === 403 && e.code === 'password_change_required') {
      me.account = { ...(me.account || {}), password_must_change: true };
      header();
      return changePasswordView();
    }
    if (e instanceof ApiError && e.status === 401) {
      api.forget();
      me.account = null;
      return signInView();
    }
    const box = h('div');
    mount(main, h('h1', {}, t('doc.error')), box);
    showError(box, e);
  }
}

window.addEventListener('hashchange', render);
onLangChange(render);
api.onAuthChange((signedIn) => { if (!signedIn) { me.account = null; render(); } });
render();
