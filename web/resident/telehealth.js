// The resident's video consultations, mounted by the resident app for every `#/telehealth…`
// route: `mount(main, {api, route, navigate})` with route '' (stations, doctors, the pre-call
// test, join the waiting room now, book a slot, my appointments, rate an ended consultation),
// '/call/<id>' (the call) or '/records' (my signed records).

import { ApiError, newIdempotencyKey } from '../shared/api.js';
import { Call, callStage, endReasonText, openLocalMedia, precallTest, verdictText } from '../shared/call.js';
import { h, mount as put, announce, focusHeading, errorSummary } from '../shared/dom.js';
import { register, t } from '../shared/i18n.js';
import { formatDateTime, formatDate, formatTime, wardDay } from '../shared/time.js';

register({
  vi: {
    'th.title': 'Khám từ xa',
    'th.lead': 'Gặp bác sĩ của trạm y tế phường qua video, ngay bây giờ hoặc theo lịch hẹn.',
    'th.signin': 'Đăng nhập để khám từ xa',
    'th.signin.why': 'Bạn cần đăng nhập (bằng mã gửi qua tin nhắn) để vào phòng chờ hoặc đặt lịch.',
    'th.error': 'Có lỗi',
    'th.test.title': 'Kiểm tra trước khi khám',
    'th.test.lead': 'Kiểm tra camera, micro và mạng của bạn trong khoảng 10 giây.',
    'th.test.run': 'Kiểm tra thiết bị', // contract
    'th.test.last': 'Lần kiểm tra trước ({when}): {verdict}',
    'th.test.advice.audio_only': 'Mạng hơi yếu: khi khám, bạn có thể tắt camera để giữ tiếng rõ.',
    'th.test.advice.cannot_connect': 'Hãy thử đổi sang Wi-Fi hoặc 4G khác, rồi kiểm tra lại. Nếu vẫn không được, hãy gọi điện cho trạm y tế.',
    'th.now.title': 'Khám ngay',
    'th.station': 'Trạm y tế',
    'th.on_duty': '{n} bác sĩ đang trực',
    'th.no_duty': 'Hiện chưa có bác sĩ trực. Bạn vẫn có thể vào phòng chờ hoặc đặt lịch.',
    'th.name': 'Họ và tên',
    'th.name.hint': 'Bác sĩ sẽ thấy tên này.',
    'th.reason': 'Lý do khám',
    'th.reason.hint': 'Ví dụ: sốt 2 ngày, ho nhiều về đêm.',
    'th.symptom': 'Vấn đề chính',
    'th.optional': '(không bắt buộc)',
    'th.consent.title': 'Đồng ý khám từ xa',
    'th.consent.by_click': 'Bấm “Vào phòng chờ” là bạn đồng ý với nội dung trên.',
    'th.join': 'Vào phòng chờ', // contract
    'th.err.reason': 'Hãy viết ngắn gọn lý do khám.',
    'th.waiting.title': 'Bạn đang trong phòng chờ',
    'th.waiting.pos': 'Vị trí của bạn: {n}.',
    'th.waiting.eta': 'Thời gian chờ dự kiến: khoảng {n} phút.',
    'th.waiting.keep': 'Hãy giữ trang này mở. Khi bác sĩ mời, cuộc gọi sẽ tự bắt đầu.',
    'th.waiting.consent': 'Bạn chưa đồng ý khám từ xa nên bác sĩ chưa mời được.',
    'th.waiting.leave': 'Rời phòng chờ',
    'th.waiting.left': 'Bạn đã rời phòng chờ.',
    'th.admitted': 'Bác sĩ đang gọi bạn!',
    'th.admitted.go': 'Vào cuộc gọi',
    'th.in_call': 'Bạn đang có cuộc khám chưa kết thúc.',
    'th.stations.title': 'Trạm y tế và bác sĩ',
    'th.stations.hours': 'Giờ mở cửa: {h}',
    'th.stations.phone': 'Điện thoại: {p}',
    'th.doctor.on_duty': 'Đang trực',
    'th.book.title': 'Đặt lịch khám',
    'th.book.doctor': 'Bác sĩ',
    'th.book.any': 'Bác sĩ bất kỳ',
    'th.book.day': 'Ngày khám',
    'th.book.time': 'Giờ khám',
    'th.book.none': 'Ngày này không còn giờ trống.',
    'th.book.reason': 'Lý do đặt lịch',
    'th.book.submit': 'Đặt lịch', // contract
    'th.book.pick': 'Hãy chọn một giờ khám.',
    'th.book.done': 'Đã đặt lịch lúc {when}.',
    'th.appts.title': 'Lịch hẹn của tôi',
    'th.appts.none': 'Bạn chưa có lịch hẹn nào.',
    'th.appts.cancel': 'Huỷ lịch hẹn {when}',
    'th.appts.checkin': 'Báo có mặt cho lịch {when}',
    'th.appts.cancelled': 'Đã huỷ lịch hẹn.',
    'th.appt.booked': 'Đã đặt',
    'th.appt.checked_in': 'Đã báo có mặt',
    'th.appt.fulfilled': 'Đã khám',
    'th.appt.cancelled': 'Đã huỷ',
    'th.appt.noshow': 'Vắng mặt',
    'th.past.title': 'Các buổi khám trước',
    'th.records.link': 'Kết quả khám của tôi',
    'th.rate.title': 'Đánh giá buổi khám ngày {when}',
    'th.rate.stars': 'Bạn hài lòng thế nào?',
    'th.rate.star': '{n} sao',
    'th.rate.comment': 'Góp ý thêm',
    'th.rate.send': 'Gửi đánh giá',
    'th.rate.thanks': 'Cảm ơn bạn đã đánh giá.',
    'th.rated': 'Bạn đã đánh giá {n} sao.',
    'th.call.title': 'Khám với bác sĩ',
    'th.call.leave': 'Rời cuộc gọi', // contract
    'th.call.left': 'Bạn đã rời cuộc gọi.',
    'th.call.rejoin': 'Vào lại cuộc gọi',
    'th.call.ended': 'Buổi khám đã kết thúc.',
    'th.call.records_soon': 'Khi bác sĩ ký hồ sơ, kết quả sẽ có ở mục “Kết quả khám của tôi”.',
    'th.call.back': 'Về trang Khám từ xa',
    'th.call.not_live': 'Cuộc gọi này không còn mở.',
    'th.records.title': 'Kết quả khám của tôi',
    'th.records.none': 'Chưa có kết quả khám nào được bác sĩ ký.',
    'th.records.by': 'Ngày {date}, bác sĩ {doctor}',
    'th.records.version': 'Bản sửa đổi lần {n}',
    'th.rec.s': 'Triệu chứng',
    'th.rec.o': 'Khám',
    'th.rec.a': 'Chẩn đoán',
    'th.rec.p': 'Hướng điều trị',
    'th.rec.dx': 'Mã bệnh',
    'th.rec.rx': 'Đơn thuốc',
    'th.rec.follow': 'Ngày hẹn lại',
    'th.rec.inperson': 'Bác sĩ khuyên bạn đến trạm y tế để khám trực tiếp.',
    'th.rec.none': '(không có)',
    'th.status.waiting': 'Đang chờ',
    'th.status.admitted': 'Bác sĩ đang gọi',
    'th.status.in_call': 'Đang khám',
    'th.status.ended': 'Đã khám',
    'th.status.missed': 'Lỡ cuộc gọi',
    'th.status.cancelled': 'Đã huỷ',
    'th.status.declined': 'Bác sĩ từ chối',
    'th.symptom.general': 'Khám chung',
    'th.symptom.fever': 'Sốt',
    'th.symptom.respiratory': 'Ho, khó thở',
    'th.symptom.digestive': 'Đau bụng, tiêu hoá',
    'th.symptom.skin': 'Da',
    'th.symptom.chronic_follow_up': 'Bệnh mạn tính (tái khám)',
    'th.symptom.maternal_child': 'Mẹ và bé',
    'th.symptom.mental_health': 'Tâm lý, giấc ngủ',
    'th.symptom.injury': 'Chấn thương',
    'th.symptom.other': 'Khác',
  },
  en: {
    'th.title': 'See a doctor online',
    'th.lead': 'Meet a doctor of the ward health station by video, now or by appointment.',
    'th.signin': 'Sign in to see a doctor',
    'th.signin.why': 'Sign in (with a code by text message) to join the waiting room or book.',
    'th.error': 'Something went wrong',
    'th.test.title': 'Check before the consultation',
    'th.test.lead': 'Checks your camera, microphone and network in about 10 seconds.',
    'th.test.run': 'Check my device',
    'th.test.last': 'Last check ({when}): {verdict}',
    'th.test.advice.audio_only': 'The network is a bit weak: during the call you can turn the camera off to keep the sound clear.',
    'th.test.advice.cannot_connect': 'Try another Wi-Fi or mobile network and check again. If it still fails, phone the health station.',
    'th.now.title': 'See a doctor now',
    'th.station': 'Health station',
    'th.on_duty': '{n} doctors on duty',
    'th.no_duty': 'No doctor is on duty right now. You can still join the waiting room or book.',
    'th.name': 'Full name',
    'th.name.hint': 'The doctor sees this name.',
    'th.reason': 'Reason for the visit',
    'th.reason.hint': 'For example: fever for 2 days, coughing at night.',
    'th.symptom': 'Main problem',
    'th.optional': '(optional)',
    'th.consent.title': 'Consent to telehealth',
    'th.consent.by_click': 'By pressing “Join the waiting room” you agree to the text above.',
    'th.join': 'Join the waiting room',
    'th.err.reason': 'Say briefly why you want to see a doctor.',
    'th.waiting.title': 'You are in the waiting room',
    'th.waiting.pos': 'Your place: {n}.',
    'th.waiting.eta': 'Expected wait: about {n} minutes.',
    'th.waiting.keep': 'Keep this page open. When the doctor admits you, the call starts by itself.',
    'th.waiting.consent': 'You have not consented to telehealth, so the doctor cannot admit you yet.',
    'th.waiting.leave': 'Leave the waiting room',
    'th.waiting.left': 'You left the waiting room.',
    'th.admitted': 'The doctor is calling you!',
    'th.admitted.go': 'Join the call',
    'th.in_call': 'You have a consultation that has not ended.',
    'th.stations.title': 'Health stations and doctors',
    'th.stations.hours': 'Opening hours: {h}',
    'th.stations.phone': 'Phone: {p}',
    'th.doctor.on_duty': 'On duty',
    'th.book.title': 'Book a consultation',
    'th.book.doctor': 'Doctor',
    'th.book.any': 'Any doctor',
    'th.book.day': 'Day',
    'th.book.time': 'Time',
    'th.book.none': 'No free times left on this day.',
    'th.book.reason': 'Reason for booking',
    'th.book.submit': 'Book',
    'th.book.pick': 'Choose a time.',
    'th.book.done': 'Booked for {when}.',
    'th.appts.title': 'My appointments',
    'th.appts.none': 'You have no appointments.',
    'th.appts.cancel': 'Cancel the appointment at {when}',
    'th.appts.checkin': 'Check in for {when}',
    'th.appts.cancelled': 'Appointment cancelled.',
    'th.appt.booked': 'Booked',
    'th.appt.checked_in': 'Checked in',
    'th.appt.fulfilled': 'Done',
    'th.appt.cancelled': 'Cancelled',
    'th.appt.noshow': 'Missed',
    'th.past.title': 'Earlier consultations',
    'th.records.link': 'My consultation notes',
    'th.rate.title': 'Rate the consultation of {when}',
    'th.rate.stars': 'How satisfied are you?',
    'th.rate.star': '{n} stars',
    'th.rate.comment': 'Anything else',
    'th.rate.send': 'Send rating',
    'th.rate.thanks': 'Thank you for your rating.',
    'th.rated': 'You gave {n} stars.',
    'th.call.title': 'Consultation',
    'th.call.leave': 'Leave the call',
    'th.call.left': 'You left the call.',
    'th.call.rejoin': 'Join the call again',
    'th.call.ended': 'The consultation has ended.',
    'th.call.records_soon': 'When the doctor signs the notes, they appear under “My consultation notes”.',
    'th.call.back': 'Back to telehealth',
    'th.call.not_live': 'This call is no longer open.',
    'th.records.title': 'My consultation notes',
    'th.records.none': 'No signed notes yet.',
    'th.records.by': '{date}, doctor {doctor}',
    'th.records.version': 'Amendment {n}',
    'th.rec.s': 'Symptoms',
    'th.rec.o': 'Examination',
    'th.rec.a': 'Assessment',
    'th.rec.p': 'Plan',
    'th.rec.dx': 'Diagnosis codes',
    'th.rec.rx': 'Prescription',
    'th.rec.follow': 'Follow-up date',
    'th.rec.inperson': 'The doctor advises you to come to the health station in person.',
    'th.rec.none': '(none)',
    'th.status.waiting': 'Waiting',
    'th.status.admitted': 'Doctor calling',
    'th.status.in_call': 'In consultation',
    'th.status.ended': 'Done',
    'th.status.missed': 'Missed',
    'th.status.cancelled': 'Cancelled',
    'th.status.declined': 'Declined by the doctor',
    'th.symptom.general': 'General check',
    'th.symptom.fever': 'Fever',
    'th.symptom.respiratory': 'Cough, breathing',
    'th.symptom.digestive': 'Stomach, digestion',
    'th.symptom.skin': 'Skin',
    'th.symptom.chronic_follow_up': 'Chronic illness (follow-up)',
    'th.symptom.maternal_child': 'Mother and child',
    'th.symptom.mental_health': 'Mood, sleep',
    'th.symptom.injury': 'Injury',
    'th.symptom.other': 'Other',
  },
});

const SYMPTOMS = ['general', 'fever', 'respiratory', 'digestive', 'skin', 'chronic_follow_up', 'maternal_child', 'mental_health', 'injury', 'other'];
const LIVE = ['waiting', 'admitted', 'in_call'];
const PRECALL_KEY = 'wl.resident.precall';

// What the current mount left running (timers, the call's view); the next mount or unmount stops it.
let cleanups = [];
let generation = 0;
/** The call survives a re-render of its own route (the shell re-mounts on language changes). */
let active = null; // { id, call, local }

function onLeave(f) { cleanups.push(f); }

/** Stop what the last view started (the shell calls this when leaving `#/telehealth…`). */
export function unmount() {
  generation += 1;
  const fs = cleanups;
  cleanups = [];
  for (const f of fs) { try { f(); } catch { /* keep going */ } }
  if (active && !location.hash.startsWith('#/telehealth/call/' + active.id)) {
    active.call.leave();
    active = null;
  }
}

export async function mount(main, { api, route = '', navigate }) {
  unmount();
  const gen = generation;
  const ctx = { api, navigate, main, live: () => gen === generation };
  const path = route.split('?')[0];
  let m;
  try {
    if ((m = /^\/call\/([0-9a-fA-F-]{36})$/.exec(path))) await callView(ctx, m[1]);
    else if (path === '/records') await recordsView(ctx);
    else await homeView(ctx);
  } catch (e) {
    if (!ctx.live()) return;
    put(main, h('h1', {}, t('th.error')), errorBox(e));
  }
  if (ctx.live()) focusHeading(main);
}

function errorBox(e) {
  const items = e instanceof ApiError && e.fields.length
    ? e.fields.map((f) => ({ text: f.message }))
    : [{ text: e?.message || String(e) }];
  return errorSummary(t('th.error'), items);
}

function field(id, label, control, { hint, optional } = {}) {
  return h('div', { class: 'field' },
    h('label', { for: id }, label, optional ? h('span', { class: 'opt' }, ' ', t('th.optional')) : null),
    hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null,
    control);
}

function ring() {
  try {
    const ac = new AudioContext();
    const now = ac.currentTime;
    [660, 880, 660, 880].forEach((f, i) => {
      const o = ac.createOscillator();
      const g = ac.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, now + i * 0.25);
      g.gain.exponentialRampToValueAtTime(0.4, now + i * 0.25 + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.25 + 0.22);
      o.connect(g).connect(ac.destination);
      o.start(now + i * 0.25);
      o.stop(now + i * 0.25 + 0.24);
    });
    setTimeout(() => ac.close(), 1500);
  } catch { /* no sound here */ }
}

// --- home --------------------------------------------------------------------------------------

async function homeView(ctx) {
  const { api, main } = ctx;
  const [stations, doctors] = await Promise.all([
    api.get('/v1/telehealth/stations', { auth: false }),
    api.get('/v1/telehealth/doctors', { auth: false }),
  ]);
  if (!ctx.live()) return;
  const errors = h('div');
  const liveBox = h('div', { 'aria-live': 'polite' });
  // Each box gets its section (named by its heading) when it has something to show.
  const nowBox = h('div');
  const apptsBox = h('div');
  const pastBox = h('div');
  put(main,
    h('h1', {}, t('th.title')),
    h('p', { class: 'lead' }, t('th.lead')),
    errors,
    api.signedIn ? null : h('div', { class: 'notice' },
      h('p', {}, t('th.signin.why')),
      h('p', {}, h('a', { href: '#/signin?next=' + encodeURIComponent('#/telehealth') }, t('th.signin')))),
    liveBox,
    precallSection(api),
    nowBox,
    bookSection(ctx, stations, doctors, errors, () => drawAppointments()),
    apptsBox,
    pastBox,
    stationsSection(stations, doctors),
    api.signedIn ? h('p', {}, h('a', { href: '#/telehealth/records' }, t('th.records.link'))) : null);

  if (!api.signedIn) { put(nowBox); return; }

  let me = null;
  let consents = null;
  let texts = [];
  try {
    [me, consents, texts] = await Promise.all([
      api.get('/v1/me'),
      api.get('/v1/me/consents'),
      api.get('/v1/telehealth/consent', { auth: false }),
    ]);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { ctx.navigate('#/signin?next=' + encodeURIComponent('#/telehealth')); return; }
    errors.replaceChildren(errorBox(e));
  }
  if (!ctx.live()) return;

  // The live consultation (waiting, being called, in a call) decides what the page offers.
  let current = null;
  let past = [];
  async function loadMine() {
    const mine = await api.get('/v1/telehealth/consultations', { query: { limit: 20 } });
    current = mine.find((c) => LIVE.includes(c.status)) || null;
    past = mine.filter((c) => !LIVE.includes(c.status));
  }
  try { await loadMine(); } catch (e) { errors.replaceChildren(errorBox(e)); }
  if (!ctx.live()) return;

  function drawLive() {
    if (!current) { put(liveBox); drawJoin(); return; }
    put(nowBox);
    const c = current;
    if (c.status === 'waiting') {
      put(liveBox, h('div', { class: 'notice th-waiting' },
        h('h2', {}, t('th.waiting.title')),
        c.position ? h('p', {}, t('th.waiting.pos', { n: c.position })) : null,
        c.estimated_wait_minutes != null ? h('p', {}, t('th.waiting.eta', { n: c.estimated_wait_minutes })) : null,
        c.consent_needed ? h('p', { class: 'notice warn' }, t('th.waiting.consent')) : null,
        h('p', {}, t('th.waiting.keep')),
        h('button', { type: 'button', class: 'secondary', onclick: async () => {
          try {
            await api.post(`/v1/telehealth/consultations/${c.id}/cancel`);
            current = null;
            announce(t('th.waiting.left'));
            drawLive();
          } catch (e) { errors.replaceChildren(errorBox(e)); }
        } }, t('th.waiting.leave'))));
    } else {
      put(liveBox, h('div', { class: 'notice ok' },
        h('h2', {}, c.status === 'admitted' ? t('th.admitted') : t('th.in_call')),
        h('p', {}, h('a', { class: 'button', href: '#/telehealth/call/' + c.id }, t('th.admitted.go')))));
    }
  }

  function drawJoin() {
    const needsConsent = consents && !consents.telehealth;
    const consentText = texts.find((x) => x.kind === 'telehealth');
    const stationSel = h('select', { id: 'th-now-station' }, stations.map((s) => h('option', { value: s.id }, s.name)));
    const duty = h('p', { class: 'muted', 'aria-live': 'polite' });
    const showDuty = () => {
      const s = stations.find((x) => x.id === stationSel.value);
      duty.textContent = s && s.doctors_on_duty > 0 ? t('th.on_duty', { n: s.doctors_on_duty }) : t('th.no_duty');
    };
    stationSel.addEventListener('change', showDuty);
    const name = h('input', { id: 'th-name', autocomplete: 'name', value: me?.display_name || '', 'aria-describedby': 'th-name-hint' });
    const reason = h('textarea', { id: 'th-reason', rows: 3, maxlength: 1000, 'aria-describedby': 'th-reason-hint' });
    const symptom = h('select', { id: 'th-symptom' }, SYMPTOMS.map((s) => h('option', { value: s }, t('th.symptom.' + s))));
    const formErrors = h('div');
    const form = h('form', { class: 'stack', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      formErrors.replaceChildren();
      const btn = form.querySelector('button[type=submit]');
      btn.disabled = true;
      // A click: the browser lets the page play the ring later.
      try { new AudioContext().close(); } catch { /* none */ }
      try {
        if (name.value.trim() && name.value.trim() !== (me?.display_name || '')) {
          me = await api.patch('/v1/me', { display_name: name.value.trim() });
        }
        if (needsConsent && consentText) {
          await api.post('/v1/telehealth/consent', { kind: 'telehealth', version: consentText.version, accepted: true });
          consents = { ...consents, telehealth: true };
        }
        const why = reason.value.trim() || t('th.symptom.' + symptom.value);
        current = await api.post('/v1/telehealth/queue', { station_id: stationSel.value, reason: why, symptom: symptom.value }, { idempotencyKey: form.dataset.key });
        form.dataset.key = newIdempotencyKey();
        announce(t('th.waiting.title'));
        drawLive();
        liveBox.querySelector('h2')?.setAttribute('tabindex', '-1');
        liveBox.querySelector('h2')?.focus();
      } catch (err) {
        formErrors.replaceChildren(errorBox(err));
        btn.disabled = false;
      }
    } },
    formErrors,
    stations.length > 1 ? field('th-now-station', t('th.station'), stationSel) : h('p', {}, t('th.station'), ': ', stations[0]?.name || ''),
    duty,
    field('th-name', t('th.name'), name, { hint: t('th.name.hint') }),
    field('th-symptom', t('th.symptom'), symptom),
    field('th-reason', t('th.reason'), reason, { hint: t('th.reason.hint'), optional: true }),
    needsConsent && consentText ? h('div', { class: 'th-consent' },
      h('h3', {}, t('th.consent.title')),
      h('div', { class: 'th-consent-text', tabindex: '0', role: 'region', 'aria-label': t('th.consent.title') }, consentText.text_vi),
      h('p', {}, h('strong', {}, t('th.consent.by_click')))) : null,
    h('button', { type: 'submit' }, t('th.join')));
    form.dataset.key = newIdempotencyKey();
    if (!stations.length) { put(nowBox); return; }
    showDuty();
    put(nowBox, h('section', { 'aria-labelledby': 'th-now' }, h('h2', { id: 'th-now' }, t('th.now.title')), form));
  }

  async function drawAppointments() {
    let appts = [];
    try { appts = await api.get('/v1/telehealth/appointments'); } catch { /* shown empty */ }
    if (!ctx.live()) return;
    const coming = appts.filter((a) => a.status === 'booked' || a.status === 'checked_in');
    put(apptsBox, h('section', { 'aria-labelledby': 'th-appts' }, h('h2', { id: 'th-appts' }, t('th.appts.title')),
      coming.length ? h('ul', { class: 'th-list' }, coming.map((a) => {
        const when = formatDateTime(a.start);
        const doc = doctors.find((d) => d.id === a.doctor_id);
        return h('li', {},
          h('p', {}, h('strong', {}, when), ' — ', doc ? doc.name : '', ' ', h('span', { class: 'badge' }, t('th.appt.' + a.status))),
          h('p', {}, a.reason),
          a.status === 'booked' ? h('div', { class: 'row' },
            h('button', { type: 'button', class: 'secondary', onclick: async () => {
              try {
                current = await api.post(`/v1/telehealth/appointments/${a.id}/check-in`);
                drawLive();
                drawAppointments();
              } catch (e) { errors.replaceChildren(errorBox(e)); }
            } }, t('th.appts.checkin', { when: formatTime(a.start) })),
            h('button', { type: 'button', class: 'secondary', onclick: async () => {
              try {
                await api.post(`/v1/telehealth/appointments/${a.id}/cancel`, {});
                announce(t('th.appts.cancelled'));
                drawAppointments();
              } catch (e) { errors.replaceChildren(errorBox(e)); }
            } }, t('th.appts.cancel', { when }))) : null);
      })) : h('p', { class: 'muted' }, t('th.appts.none'))));
  }

  function drawPast() {
    const shown = past.slice(0, 10);
    if (!shown.length) { put(pastBox); return; }
    put(pastBox, h('section', { 'aria-labelledby': 'th-past' }, h('h2', { id: 'th-past' }, t('th.past.title')),
      h('ul', { class: 'th-list' }, shown.map((c) => h('li', {},
        h('p', {}, h('strong', {}, formatDateTime(c.call_started_at || c.queued_at)), ' — ', t('th.status.' + c.status),
          c.doctors.length ? ' — ' + c.doctors.map((d) => d.name).join(', ') : ''),
        c.status === 'ended' ? (c.rating ? h('p', {}, t('th.rated', { n: c.rating })) : ratingForm(api, c, () => { loadMine().then(drawPast).catch(() => {}); })) : null)))));
  }

  drawLive();
  drawAppointments();
  drawPast();

  // Waiting: watch for the doctor's call (no push channel for residents' pages: poll).
  const poll = setInterval(async () => {
    if (!current || !ctx.live()) return;
    try {
      const before = current.status;
      current = await api.get(`/v1/telehealth/consultations/${current.id}`);
      if (!ctx.live()) return;
      if (current.status === 'admitted' && before !== 'admitted') {
        ring();
        announce(t('th.admitted'));
        ctx.navigate('#/telehealth/call/' + current.id);
        return;
      }
      if (!LIVE.includes(current.status)) {
        current = null;
        await loadMine();
        drawPast();
      }
      drawLive();
    } catch { /* next time */ }
  }, 2000);
  onLeave(() => clearInterval(poll));
}

function precallSection(api) {
  const result = h('div', { role: 'status', 'aria-live': 'polite', class: 'th-precall-result' });
  let last = null;
  try { last = JSON.parse(localStorage.getItem(PRECALL_KEY)); } catch { /* none */ }
  if (last?.verdict) result.append(h('p', { class: 'muted' }, t('th.test.last', { when: formatDateTime(last.at), verdict: verdictText(last.verdict) })));
  const btn = h('button', { type: 'button', class: 'secondary', disabled: !api.signedIn, onclick: async () => {
    btn.disabled = true;
    put(result, h('p', {}, t('precall.running')));
    let report;
    try {
      report = await precallTest(api);
    } catch (e) {
      report = { verdict: e instanceof ApiError && e.status === 0 ? 'cannot_connect' : 'cannot_connect', error: e };
    }
    btn.disabled = false;
    const v = report?.verdict || 'cannot_connect';
    try { localStorage.setItem(PRECALL_KEY, JSON.stringify({ verdict: v, at: new Date().toISOString() })); } catch { /* full */ }
    const cls = v === 'video_ok' ? 'notice ok' : v === 'audio_only' ? 'notice warn' : 'notice danger';
    put(result, h('div', { class: cls },
      h('p', { class: 'th-verdict' }, verdictText(v)),
      report && typeof report.rtt_ms === 'number' ? h('p', { class: 'muted' }, t('precall.details', {
        rtt: Math.round(report.rtt_ms), loss: ((report.loss || 0) * 100).toFixed(1), jitter: Math.round(report.jitter_ms || 0),
      })) : null,
      v === 'audio_only' || v === 'cannot_connect' ? h('p', {}, t('th.test.advice.' + v)) : null));
  } }, t('th.test.run'));
  return h('section', { 'aria-labelledby': 'th-test' },
    h('h2', { id: 'th-test' }, t('th.test.title')),
    h('p', {}, t('th.test.lead')),
    btn,
    result);
}

function stationsSection(stations, doctors) {
  return h('section', { 'aria-labelledby': 'th-stations' },
    h('h2', { id: 'th-stations' }, t('th.stations.title')),
    h('ul', { class: 'th-list' }, stations.map((s) => h('li', {},
      h('h3', {}, s.name),
      s.address ? h('p', {}, s.address) : null,
      s.phone ? h('p', {}, t('th.stations.phone', { p: '' }), h('a', { href: 'tel:' + s.phone }, s.phone)) : null,
      s.opening_hours ? h('p', { class: 'muted' }, t('th.stations.hours', { h: s.opening_hours })) : null,
      h('ul', {}, (s.doctors || doctors.filter((d) => d.stations.includes(s.id))).map((d) => h('li', {},
        [d.title, d.name].filter(Boolean).join(' '),
        d.specialty ? ` — ${d.specialty}` : '',
        d.on_duty_at === s.id ? [' ', h('span', { class: 'badge ok' }, t('th.doctor.on_duty'))] : null)))))));
}

function bookSection(ctx, stations, doctors, errors, booked) {
  const { api } = ctx;
  if (!api.signedIn || !stations.length) return null;
  const stationSel = h('select', { id: 'th-book-station' }, stations.map((s) => h('option', { value: s.id }, s.name)));
  const doctorSel = h('select', { id: 'th-book-doctor' });
  const days = [];
  for (let i = 0; i < 14; i += 1) days.push(wardDay(new Date(Date.now() + i * 86400000)));
  const daySel = h('select', { id: 'th-book-day' }, days.map((d) => h('option', { value: d }, formatDate(d + 'T12:00:00+07:00'))));
  const slotsBox = h('fieldset', { class: 'th-slots' });
  const reason = h('textarea', { id: 'th-book-reason', rows: 2, maxlength: 1000 });
  const formErrors = h('div');
  const done = h('p', { role: 'status' });
  let slots = [];
  function fillDoctors() {
    const here = doctors.filter((d) => d.stations.includes(stationSel.value));
    put(doctorSel, h('option', { value: '' }, t('th.book.any')), here.map((d) => h('option', { value: d.id }, [d.title, d.name].filter(Boolean).join(' '))));
  }
  async function loadSlots() {
    const day = daySel.value;
    try {
      slots = await api.get('/v1/telehealth/slots', { auth: false, query: {
        station: stationSel.value, doctor: doctorSel.value || undefined,
        from: new Date(`${day}T00:00:00+07:00`).toISOString(), to: new Date(`${day}T23:59:59+07:00`).toISOString(),
      } });
    } catch { slots = []; }
    if (!ctx.live()) return;
    put(slotsBox, h('legend', {}, t('th.book.time')),
      slots.length ? h('div', { class: 'th-slot-grid' }, slots.map((s, i) => {
        const doc = doctors.find((d) => d.id === s.doctor_id);
        const id = 'th-slot-' + i;
        return h('div', { class: 'choice' },
          h('input', { type: 'radio', name: 'th-slot', id, value: String(i) }),
          h('label', { for: id }, formatTime(s.start), doctorSel.value || !doc ? '' : ` — ${doc.name}`));
      })) : h('p', { class: 'muted' }, t('th.book.none')));
  }
  stationSel.addEventListener('change', () => { fillDoctors(); loadSlots(); });
  doctorSel.addEventListener('change', loadSlots);
  daySel.addEventListener('change', loadSlots);
  fillDoctors();
  loadSlots();
  let key = newIdempotencyKey();
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    formErrors.replaceChildren();
    const picked = form.querySelector('input[name=th-slot]:checked');
    if (!picked) { formErrors.append(errorSummary(t('th.error'), [{ text: t('th.book.pick') }])); return; }
    if (!reason.value.trim()) { formErrors.append(errorSummary(t('th.error'), [{ text: t('th.err.reason'), field: 'th-book-reason' }])); return; }
    const s = slots[Number(picked.value)];
    try {
      const a = await api.post('/v1/telehealth/appointments', { doctor_id: s.doctor_id, station_id: s.station_id, start: s.start, reason: reason.value.trim() }, { idempotencyKey: key });
      key = newIdempotencyKey();
      done.textContent = t('th.book.done', { when: formatDateTime(a.start) });
      reason.value = '';
      loadSlots();
      booked();
    } catch (err) { formErrors.replaceChildren(errorBox(err)); }
  } },
  formErrors,
  stations.length > 1 ? field('th-book-station', t('th.station'), stationSel) : null,
  field('th-book-doctor', t('th.book.doctor'), doctorSel),
  field('th-book-day', t('th.book.day'), daySel),
  slotsBox,
  field('th-book-reason', t('th.book.reason'), reason),
  h('button', { type: 'submit' }, t('th.book.submit')),
  done);
  return h('section', { 'aria-labelledby': 'th-book' }, h('h2', { id: 'th-book' }, t('th.book.title')), form);
}

function ratingForm(api, c, after) {
  const when = formatDate(c.call_started_at || c.queued_at);
  const gid = 'th-rate-' + c.id;
  const comment = h('textarea', { id: gid + '-comment', rows: 2, maxlength: 1000 });
  const errs = h('div');
  const form = h('form', { class: 'stack th-rate', novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    const picked = form.querySelector(`input[name="${gid}"]:checked`);
    if (!picked) return;
    try {
      await api.post(`/v1/telehealth/consultations/${c.id}/rating`, { stars: Number(picked.value), comment: comment.value.trim() || undefined });
      announce(t('th.rate.thanks'));
      put(form, h('p', { class: 'notice ok' }, t('th.rate.thanks')));
      after?.();
    } catch (err) { errs.replaceChildren(errorBox(err)); }
  } },
  h('h3', {}, t('th.rate.title', { when })),
  errs,
  h('fieldset', {}, h('legend', {}, t('th.rate.stars')),
    h('div', { class: 'row' }, [1, 2, 3, 4, 5].map((n) => h('div', { class: 'choice' },
      h('input', { type: 'radio', name: gid, id: `${gid}-${n}`, value: n }),
      h('label', { for: `${gid}-${n}` }, t('th.rate.star', { n })))))),
  field(gid + '-comment', t('th.rate.comment'), comment, { optional: true }),
  h('button', { type: 'submit', class: 'secondary' }, t('th.rate.send')));
  return form;
}

// --- the call ----------------------------------------------------------------------------------

async function callView(ctx, id) {
  const { api, main } = ctx;
  if (!api.signedIn) {
    put(main, h('h1', {}, t('th.call.title')), h('p', {}, h('a', { href: '#/signin?next=' + encodeURIComponent('#/telehealth/call/' + id) }, t('th.signin'))));
    return;
  }
  let c = await api.get(`/v1/telehealth/consultations/${id}`);
  if (!ctx.live()) return;
  const stageBox = h('div', { class: 'stage-box' });
  const after = h('div');
  const doctorNames = Object.fromEntries(c.doctors.map((d) => [d.id, d.name]));
  put(main, h('h1', {}, t('th.call.title')),
    c.doctors.length ? h('p', {}, c.doctors.map((d) => d.name).join(', ')) : null,
    stageBox, after);

  const endedView = (reason) => {
    // Why, when it is not the ordinary end (no longer a participant, room full, another tab).
    const why = endReasonText(reason);
    put(stageBox, h('p', { class: 'notice', role: 'status' }, why ? `${why} ${t('th.call.ended')}` : t('th.call.ended')));
    put(after,
      h('p', {}, t('th.call.records_soon')),
      h('p', {}, h('a', { href: '#/telehealth/records' }, t('th.records.link'))),
      c.status === 'ended' && !c.rating ? ratingForm(api, c) : null,
      h('p', {}, h('a', { href: '#/telehealth' }, t('th.call.back'))));
  };

  if (c.status === 'waiting') { ctx.navigate('#/telehealth'); return; }
  if (!LIVE.includes(c.status)) { endedView(); return; }

  if (!active || active.id !== id || active.call.state === 'ended') {
    const local = await openLocalMedia();
    if (!ctx.live()) { for (const tr of local.getTracks()) tr.stop(); return; }
    const call = new Call({ api, consultationId: id, localStream: local });
    active = { id, call };
    try {
      await call.start();
    } catch (e) {
      active = null;
      call.finish('failed');
      put(stageBox, h('p', { class: 'notice warn' }, t('call.failed', { why: e.message })));
      put(after, h('p', {}, h('a', { href: '#/telehealth' }, t('th.call.back'))));
      return;
    }
  }
  if (!ctx.live()) return;
  const call = active.call;
  const leaveBtn = h('button', { type: 'button', class: 'danger', onclick: () => {
    call.leave();
  } }, t('th.call.leave'));
  const stage = callStage(call, { endButton: leaveBtn, names: doctorNames, waitingText: t('call.waiting_doctor') });
  put(stageBox, stage.el);
  const onState = async (e) => {
    if (e.detail.state !== 'ended') return;
    stage.destroy();
    active = null;
    try { c = await api.get(`/v1/telehealth/consultations/${id}`); } catch { /* as it was */ }
    if (!ctx.live()) return;
    if (e.detail.reason === 'left' && LIVE.includes(c.status)) {
      put(stageBox, h('p', { class: 'notice', role: 'status' }, t('th.call.left')));
      put(after, h('button', { type: 'button', onclick: () => ctx.navigate('#/telehealth/call/' + id) }, t('th.call.rejoin')),
        h('p', {}, h('a', { href: '#/telehealth' }, t('th.call.back'))));
      return;
    }
    endedView(e.detail.reason);
  };
  call.addEventListener('state', onState);
  onLeave(() => { call.removeEventListener('state', onState); stage.destroy(); });
}

// --- records -----------------------------------------------------------------------------------

async function recordsView(ctx) {
  const { api, main } = ctx;
  if (!api.signedIn) {
    put(main, h('h1', {}, t('th.records.title')), h('p', {}, h('a', { href: '#/signin?next=' + encodeURIComponent('#/telehealth/records') }, t('th.signin'))));
    return;
  }
  const records = await api.get('/v1/telehealth/records', { query: { limit: 100 } });
  if (!ctx.live()) return;
  // Only the current version of each record (an amendment supersedes the earlier one).
  const current = records.filter((r) => !r.superseded_by);
  const none = t('th.rec.none');
  put(main, h('h1', {}, t('th.records.title')),
    current.length ? current.map((r) => h('article', { class: 'th-record', 'aria-labelledby': 'rec-' + r.id },
      h('h2', { id: 'rec-' + r.id }, t('th.records.by', { date: formatDate(r.signed_at || r.created_at), doctor: r.author.name })),
      r.version > 1 ? h('p', { class: 'muted' }, t('th.records.version', { n: r.version - 1 })) : null,
      h('dl', {},
        h('dt', {}, t('th.rec.s')), h('dd', {}, r.subjective || none),
        h('dt', {}, t('th.rec.o')), h('dd', {}, r.objective || none),
        h('dt', {}, t('th.rec.a')), h('dd', {}, r.assessment || none),
        r.diagnoses.length ? [h('dt', {}, t('th.rec.dx')), h('dd', {}, h('ul', {}, r.diagnoses.map((d) => h('li', {}, `${d.code} — ${d.text}`))))] : null,
        h('dt', {}, t('th.rec.p')), h('dd', {}, r.plan || none),
        r.prescriptions.length ? [h('dt', {}, t('th.rec.rx')), h('dd', {}, h('ul', {}, r.prescriptions.map((p) => h('li', {},
          h('strong', {}, [p.drug, p.strength].filter(Boolean).join(' ')), ': ', [p.dose, p.frequency, p.duration].filter(Boolean).join(', '),
          p.instructions ? ` (${p.instructions})` : ''))))] : null,
        r.follow_up_on ? [h('dt', {}, t('th.rec.follow')), h('dd', {}, formatDate(r.follow_up_on + 'T12:00:00+07:00'))] : null),
      r.in_person_advised ? h('p', { class: 'notice warn' }, t('th.rec.inperson')) : null))
      : h('p', { class: 'muted' }, t('th.records.none')),
    h('p', {}, h('a', { href: '#/telehealth' }, t('th.call.back'))));
}
