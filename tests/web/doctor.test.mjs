// The doctor console's story in Chromium, with a resident on the other end of the call: the doctor
// signs in with a one-time password and changes it, goes on duty; a resident (own browser context)
// checks the device and joins the waiting room; the doctor admits; both see each other's video;
// the resident's network drops and the call comes back by itself; the doctor writes and signs the
// record and ends the call; the resident reads the signed record and rates the consultation; a
// second visit is relayed over TCP only, through the embedded TURN server.
// Driven only by role and accessible name; axe-core on every page.

import { launch, newPage, axe, assertClean, test, run, eventually, ask, api, FIXTURE } from './lib.mjs';
import assert from 'node:assert/strict';

const browser = await launch();
const admin = FIXTURE.admin;
const DOCTOR_PHONE = '0900000301';
const RESIDENT_PHONE = '0900000302';
const RESIDENT_NAME = 'Nguyễn Văn Dân';
const NEW_PASSWORD = 'mat-khau-rieng-2026';

let station;
let doctorAccount;
let doctor; // {context, page}
let resident; // {context, page}

// One story: once a step fails, the later ones only say so (they depend on it).
let broken = null;
function step(name, fn) {
  test(name, async () => {
    if (broken) throw new Error(`skipped: "${broken}" failed`);
    try { await fn(); } catch (e) { broken = name; throw e; }
  });
}

/**
 * Is the video with this label playing: new frames decoded and presented, counted by
 * requestVideoFrameCallback? (`currentTime` is not enough: it keeps advancing on a frozen picture
 * when no frame arrives.) The first call installs the counter on the element; the check then
 * wants at least 3 new frames within 600 ms (the fake camera sends about 24 a second).
 */
async function playing(page, label) {
  const video = page.getByLabel(label, { exact: true });
  const frames = () => video.evaluate((v) => {
    if (!v.requestVideoFrameCallback) throw new Error('no requestVideoFrameCallback in this browser');
    if (!v.wlFrames) {
      v.wlFrames = { n: 0 };
      const count = () => { v.wlFrames.n += 1; v.requestVideoFrameCallback(count); };
      v.requestVideoFrameCallback(count);
    }
    return v.readyState >= 2 && v.videoWidth > 0 && !v.paused ? v.wlFrames.n : -1;
  });
  const before = await frames();
  if (before < 0) return false;
  const end = Date.now() + 600;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await frames();
    if (now < 0) return false;
    if (now - before >= 3) return true;
  }
  return false;
}

/** A resident signed in through the API, with the token set the resident app keeps. */
async function residentTokens(phone) {
  let r = await api('POST', '/v1/auth/otp', { body: { phone } });
  if (r.status !== 202) throw new Error(`otp: ${r.status} ${JSON.stringify(r.body)}`);
  const { code } = await ask({ op: 'otp', phone });
  r = await api('POST', '/v1/auth/otp/verify', { body: { phone, code } });
  if (r.status !== 200 && r.status !== 201) throw new Error(`verify: ${r.status} ${JSON.stringify(r.body)}`);
  const b = r.body;
  const claims = JSON.parse(Buffer.from(b.access_token.split('.')[1], 'base64url').toString('utf8'));
  return { access: b.access_token, refresh: b.refresh_token, expiresAt: Date.now() + (b.expires_in - 30) * 1000, claims };
}

step('set up: a station with a new doctor', async () => {
  let r = await api('POST', '/v1/admin/stations', { token: admin.token, body: { name: 'Trạm Y tế Phường Bến Nghé', address: '1 Lê Lợi' } });
  if (r.status !== 201) throw new Error(`station: ${r.status} ${JSON.stringify(r.body)}`);
  station = r.body;
  doctorAccount = await ask({ op: 'account', role: 'doctor', phone: DOCTOR_PHONE, name: 'BS Trần Thị Lan' });
  r = await api('PUT', `/v1/admin/stations/${station.id}/doctors/${doctorAccount.id}`, { token: admin.token });
  if (r.status !== 204) throw new Error(`doctor in station: ${r.status} ${JSON.stringify(r.body)}`);
});

step('the doctor signs in, changes the one-time password and goes on duty', async () => {
  doctor = await newPage(browser);
  const { page } = doctor;
  // The waiting room is pushed: the console holds the station's socket.
  doctor.queueSocket = new Promise((resolve) => page.on('websocket', (ws) => {
    if (ws.url().includes('/queue/live')) resolve(ws);
  }));
  await page.goto('/doctor/');
  await axe(page, 'doctor: sign-in');
  await page.getByRole('textbox', { name: 'Số điện thoại' }).fill(DOCTOR_PHONE);
  await page.getByRole('textbox', { name: 'Mật khẩu', exact: true }).fill(doctorAccount.password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
  await page.getByRole('textbox', { name: 'Mật khẩu mới' }).fill(NEW_PASSWORD);
  await axe(page, 'doctor: new password');
  await page.getByRole('button', { name: 'Đổi mật khẩu' }).click();
  await page.getByRole('button', { name: 'Bắt đầu trực' }).click();
  await page.getByRole('button', { name: 'Kết thúc trực' }).waitFor();
  await page.getByRole('button', { name: 'Đăng xuất' }).waitFor();
  const socket = await Promise.race([doctor.queueSocket, new Promise((r) => setTimeout(() => r(null), 10000))]);
  if (!socket) throw new Error("the waiting room's socket did not open");
  doctor.queueMessages = [];
  socket.on('framereceived', (f) => doctor.queueMessages.push(String(f.payload)));
  await axe(page, 'doctor: waiting room');
  // The new password is the one that works now.
  const r = await api('POST', '/v1/auth/login', { body: { phone: DOCTOR_PHONE, password: NEW_PASSWORD } });
  if (r.status !== 200) throw new Error(`login with the new password: ${r.status}`);
  assertClean(page);
});

step('a resident checks the device and joins the waiting room', async () => {
  const tokens = await residentTokens(RESIDENT_PHONE);
  resident = await newPage(browser);
  await resident.context.addInitScript((v) => {
    if (!localStorage.getItem('wl.resident.tokens')) localStorage.setItem('wl.resident.tokens', v);
  }, JSON.stringify(tokens));
  const { page } = resident;
  await page.goto('/#/telehealth');
  await page.getByRole('heading', { name: 'Khám từ xa', level: 1 }).waitFor();
  await axe(page, 'resident: telehealth');
  await page.getByRole('button', { name: 'Kiểm tra thiết bị' }).click();
  await page.getByText(/^(Hình và tiếng tốt|Chỉ nên gọi thoại|Không kết nối được)$/).waitFor({ timeout: 30000 });
  const verdict = await page.getByText(/^(Hình và tiếng tốt|Chỉ nên gọi thoại|Không kết nối được)$/).textContent();
  console.log(`     pre-call test: ${verdict}`);
  await page.getByRole('textbox', { name: 'Họ và tên' }).fill(RESIDENT_NAME);
  await page.getByRole('textbox', { name: 'Lý do khám' }).fill('Sốt 2 ngày, ho về đêm');
  await page.getByRole('button', { name: 'Vào phòng chờ' }).click();
  await page.getByRole('heading', { name: 'Bạn đang trong phòng chờ' }).waitFor();
  await axe(page, 'resident: waiting room');
  assertClean(page);
});

step('the doctor admits the resident and both see each other within 10 s', async () => {
  const { page } = doctor;
  const entry = page.getByRole('listitem').filter({ has: page.getByRole('heading', { name: RESIDENT_NAME }) });
  await entry.waitFor({ timeout: 10000 });
  assert.ok(doctor.queueMessages.some((m) => m.includes('queue_changed')), 'the join was pushed to the doctor');
  // The resident's pre-call test, as the doctor sees it before admitting.
  const ready = await entry.getByText(/^Thiết bị: (hình và tiếng tốt|chỉ nên gọi thoại|không kết nối được)/).textContent({ timeout: 10000 });
  console.log(`     readiness in the queue: ${ready}`);
  await entry.getByRole('button', { name: 'Mời vào khám' }).click();
  const admitted = Date.now();
  await eventually(() => playing(page, 'Video của người bệnh'), "the doctor sees the resident's video", 10000);
  await eventually(() => playing(resident.page, 'Video của bác sĩ'), "the resident sees the doctor's video", Math.max(1000, 10000 - (Date.now() - admitted)));
  console.log(`     both videos playing ${Date.now() - admitted} ms after admit`);
  for (const p of [page, resident.page]) {
    await p.getByRole('button', { name: 'Tắt micro' }).waitFor();
    await p.getByRole('button', { name: 'Tắt camera' }).waitFor();
  }
  await page.getByRole('button', { name: 'Kết thúc', exact: true }).waitFor();
  await resident.page.getByRole('button', { name: 'Rời cuộc gọi' }).waitFor();
  // The fallback ladder's last rung: the resident's number, for the doctor only.
  await page.getByText(/^Số điện thoại của người bệnh: \+84\d{9}$/).waitFor({ state: 'attached' });
  assert.equal(await resident.page.getByText(/Số điện thoại của người bệnh/).count(), 0);
  // Mute says what it does next, and back.
  await resident.page.getByRole('button', { name: 'Tắt micro' }).click();
  await resident.page.getByRole('button', { name: 'Bật micro' }).click();
  await resident.page.getByRole('button', { name: 'Tắt micro' }).waitFor();
  await axe(page, 'doctor: in a call');
  await axe(resident.page, 'resident: in a call');
});

step("the resident's network drops for 5 s and the call comes back by itself", async () => {
  await resident.context.setOffline(true);
  await resident.page.getByText('Đang kết nối lại…').first().waitFor({ timeout: 5000 });
  await new Promise((r) => setTimeout(r, 5000));
  await resident.context.setOffline(false);
  const back = Date.now();
  await eventually(async () => (await resident.page.getByText('Đã kết nối', { exact: true }).count()) > 0, 'the resident reconnected', 10000);
  await eventually(() => playing(resident.page, 'Video của bác sĩ'), "the resident sees the doctor again", 10000 - (Date.now() - back));
  await eventually(() => playing(doctor.page, 'Video của người bệnh'), 'the doctor sees the resident again', 10000 - (Date.now() - back));
  console.log(`     call back ${Date.now() - back} ms after the network returned`);
  if (process.env.WL_DEBUG) {
    await new Promise((r) => setTimeout(r, 2500));
    for (const p of [resident.page, doctor.page]) console.log(await p.locator('.call-debug-log').textContent());
  }
});

step('the doctor writes and signs the record, then ends the call', async () => {
  const { page } = doctor;
  await page.getByRole('textbox', { name: 'Triệu chứng' }).fill('Sốt 38,5 độ hai ngày, ho khan về đêm');
  await page.getByRole('textbox', { name: 'Khám', exact: true }).fill('Họng đỏ, không khó thở');
  await page.getByRole('textbox', { name: 'Chẩn đoán' }).fill('Viêm họng cấp');
  await page.getByRole('textbox', { name: 'Hướng điều trị' }).fill('Uống nhiều nước, hạ sốt khi trên 38,5 độ');
  await page.getByRole('button', { name: 'Ký', exact: true }).click();
  await page.getByText(/^Đã ký lúc/).first().waitFor();
  await axe(page, 'doctor: signed record');
  await page.getByRole('button', { name: 'Kết thúc', exact: true }).click();
  await page.getByText('Cuộc khám đã kết thúc.', { exact: false }).first().waitFor();
  assertClean(page);
});

step('the resident sees the end, reads the signed record and rates the consultation', async () => {
  const { page } = resident;
  await page.getByText('Buổi khám đã kết thúc.').waitFor({ timeout: 10000 });
  await page.getByRole('radio', { name: '5 sao' }).check();
  await page.getByRole('button', { name: 'Gửi đánh giá' }).click();
  await page.getByText('Cảm ơn bạn đã đánh giá.').first().waitFor();
  await page.getByRole('link', { name: 'Kết quả khám của tôi' }).click();
  await page.getByRole('heading', { name: 'Kết quả khám của tôi', level: 1 }).waitFor();
  await page.getByText('Viêm họng cấp').waitFor();
  await page.getByText('Uống nhiều nước, hạ sốt khi trên 38,5 độ').waitFor();
  await axe(page, 'resident: records');
  assertClean(page);
});

step('the doctor keeps the week: weekly hours and a leave day', async () => {
  const { page } = doctor;
  await page.getByRole('link', { name: 'Lịch làm việc' }).click();
  await page.getByRole('heading', { name: 'Lịch làm việc của tôi', level: 1 }).waitFor();
  await page.getByRole('button', { name: 'Thêm khung giờ' }).click();
  await page.getByRole('button', { name: 'Lưu giờ làm việc' }).click();
  await page.getByText('Đã lưu giờ làm việc.', { exact: true }).first().waitFor();
  const r = await api('GET', `/v1/telehealth/slots?station=${station.id}`);
  if (r.status !== 200 || !r.body.length) throw new Error(`no bookable slots after saving hours: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  const day = new Date(Date.now() + 20 * 86400000).toISOString().slice(0, 10);
  await page.getByRole('textbox', { name: 'Nghỉ từ ngày' }).fill(day);
  await page.getByRole('textbox', { name: 'Lý do nghỉ' }).fill('Tập huấn');
  await page.getByRole('button', { name: 'Thêm ngày nghỉ' }).click();
  await page.getByRole('button', { name: /^Bỏ ngày nghỉ / }).waitFor();
  await axe(page, 'doctor: week');
  assertClean(page);
});

step('a second visit relayed over TCP only, through the embedded TURN', async () => {
  // call.js's test switch `?relay=tcp`: relay only, and only the ticket's `turn:…?transport=tcp`
  // URL. Each page records its peer connections so the test can read their stats.
  for (const who of [doctor, resident]) {
    await who.context.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      window.wlPeers = [];
      window.RTCPeerConnection = class extends Native {
        constructor(...args) { super(...args); window.wlPeers.push(this); }
      };
    });
  }
  await doctor.page.goto('/doctor/?relay=tcp');
  await doctor.page.getByRole('button', { name: 'Kết thúc trực' }).waitFor();
  const { page } = resident;
  await page.goto('/?relay=tcp#/telehealth');
  await page.getByRole('heading', { name: 'Khám từ xa', level: 1 }).waitFor();
  await page.getByRole('textbox', { name: 'Họ và tên' }).fill(RESIDENT_NAME);
  await page.getByRole('textbox', { name: 'Lý do khám' }).fill('Tái khám: còn ho về đêm');
  await page.getByRole('button', { name: 'Vào phòng chờ' }).click();
  await page.getByRole('heading', { name: 'Bạn đang trong phòng chờ' }).waitFor();
  const entry = doctor.page.getByRole('listitem').filter({ has: doctor.page.getByRole('heading', { name: RESIDENT_NAME }) });
  await entry.waitFor({ timeout: 10000 });
  await entry.getByRole('button', { name: 'Mời vào khám' }).click();
  const admitted = Date.now();
  await eventually(() => playing(doctor.page, 'Video của người bệnh'), "the doctor sees the resident's video over TCP relay", 15000);
  await eventually(() => playing(page, 'Video của bác sĩ'), "the resident sees the doctor's video over TCP relay", 15000);
  console.log(`     relayed over TCP: both videos playing ${Date.now() - admitted} ms after admit`);
  // The selected pair of every connected peer connection: a relay candidate reached over TCP.
  for (const [who, p] of [['doctor', doctor.page], ['resident', page]]) {
    const locals = await p.evaluate(async () => {
      const out = [];
      for (const pc of window.wlPeers || []) {
        if (pc.connectionState !== 'connected') continue;
        const stats = await pc.getStats();
        let pairId = null;
        stats.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
        const pair = pairId && stats.get(pairId);
        const local = pair && stats.get(pair.localCandidateId);
        out.push(local ? { candidateType: local.candidateType, relayProtocol: local.relayProtocol, url: local.url } : null);
      }
      return out;
    });
    console.log(`     ${who}: ${JSON.stringify(locals)}`);
    if (!locals.length || !locals.every((l) => l && l.candidateType === 'relay' && l.relayProtocol === 'tcp')) {
      throw new Error(`${who}: the selected local candidate is not a relay over TCP: ${JSON.stringify(locals)}`);
    }
  }
  await doctor.page.getByRole('button', { name: 'Kết thúc', exact: true }).click();
  await page.getByText('Buổi khám đã kết thúc.').waitFor({ timeout: 10000 });
  assertClean(doctor.page);
  assertClean(page);
});

await run().finally(() => browser.close());
