// The resident app's story in Chromium, on an emulated phone (Pixel 5, Vietnamese): a resident
// signs in by SMS code; the app keeps working without a network (service worker); offline she
// reports a pothole with a 12-megapixel photo, which is kept as a draft ("Bản nháp") and sent by
// itself when the network is back — once, with a photo made small on the phone; she follows it
// in "Phản ánh của tôi", writes to the ward, and rates the result once staff resolve it. A
// second resident, already signed in when the app starts, loses the answer to her create and
// still ends up with exactly one report. A third turns on "Nhận thông báo" (Web Push). axe-core
// on every page.

import assert from 'node:assert/strict';
import { launch, newPage, axe, assertClean, test, run, ask, api, eventually, devices, FIXTURE, BASE } from './lib.mjs';

const browser = await launch();
const PHONE = '0987 654 321';
const HERE = { latitude: 10.7769, longitude: 106.7009, accuracy: 12 };
const POTHOLE = 'Hư hỏng mặt đường, ổ gà';
const XSS = 'Ổ gà sâu trước số 12 <img src=x onerror=alert(1)>';
const phone = { ...devices['Pixel 5'], permissions: ['geolocation'], geolocation: HERE };

let context;
let page;
let token;
let photo;
let reportId;

/** A realistic camera photo: 4000×3000 JPEG (gradient + sensor noise) at quality 0.95. */
async function bigPhoto(p) {
  const b64 = await p.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 4000;
    c.height = 3000;
    const g = c.getContext('2d');
    const grad = g.createLinearGradient(0, 0, 4000, 3000);
    grad.addColorStop(0, '#5b6b3a');
    grad.addColorStop(0.5, '#8d8478');
    grad.addColorStop(1, '#a0522d');
    g.fillStyle = grad;
    g.fillRect(0, 0, 4000, 3000);
    const img = g.getImageData(0, 0, 4000, 3000);
    const d = img.data;
    let seed = 7;
    for (let i = 0; i < d.length; i += 4) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = ((seed >> 16) % 40) - 20;
      d[i] += n; d[i + 1] += n; d[i + 2] += n;
    }
    g.putImageData(img, 0, 0);
    const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.95));
    const buf = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode.apply(null, buf.subarray(i, i + 0x8000));
    return btoa(s);
  });
  return Buffer.from(b64, 'base64');
}

/** A small JPEG for the staff's "after" photo. */
async function smallPhoto(p) {
  const b64 = await p.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 64;
    c.height = 48;
    c.getContext('2d').fillRect(0, 0, 32, 24);
    const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.9));
    const buf = new Uint8Array(await blob.arrayBuffer());
    return btoa(String.fromCharCode(...buf));
  });
  return Buffer.from(b64, 'base64');
}

/** Screenshots for a person to look at, when WL_SHOTS names a folder. */
async function shot(p, name) {
  if (process.env.WL_SHOTS) await p.screenshot({ path: `${process.env.WL_SHOTS}/res-${name}.png`, fullPage: true });
}

function watchDialogs(p) {
  p.on('dialog', (d) => {
    p.problems.push(`unexpected dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
}

test('a resident signs in by SMS code on her phone', async () => {
  ({ context, page } = await newPage(browser, phone));
  watchDialogs(page);
  await page.goto('/');
  await page.getByRole('textbox', { name: 'Số điện thoại' }).waitFor();
  await axe(page, 'resident: sign in, phone');
  await shot(page, 'signin');
  await page.getByRole('textbox', { name: 'Số điện thoại' }).fill(PHONE);
  await page.getByRole('button', { name: 'Gửi mã' }).click();
  const codeBox = page.getByRole('textbox', { name: 'Mã xác nhận' });
  await codeBox.waitFor();
  await axe(page, 'resident: sign in, code');
  const { code } = await ask({ op: 'otp', phone: PHONE });
  await codeBox.fill(code);
  await page.getByRole('button', { name: 'Đăng nhập', exact: true }).click();
  await page.getByRole('button', { name: 'Đăng xuất' }).waitFor();
  await page.getByRole('heading', { name: 'Phường của bạn' }).waitFor();
  await axe(page, 'resident: start page, signed in');
  await shot(page, 'home');
  token = await page.evaluate(() => JSON.parse(localStorage.getItem('wl.resident.tokens')).access);
  assert.ok(token, 'tokens kept in wl.resident.tokens');
  assertClean(page);
});

test('after the first visit the app opens without a network (service worker)', async () => {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await eventually(() => page.evaluate(() => !!navigator.serviceWorker.controller), 'the worker to control the page');
  await context.setOffline(true);
  await page.reload();
  await page.getByRole('link', { name: 'Gửi phản ánh' }).waitFor();
  await page.getByText('Không có mạng').first().waitFor();
  await page.getByRole('button', { name: 'Đăng xuất' }).waitFor();
  await axe(page, 'resident: start page, offline');
  assertClean(page);
});

test('offline, a report with a 12-megapixel photo becomes a draft ("Bản nháp")', async () => {
  photo = await bigPhoto(page);
  assert.ok(photo.length > 2_000_000, `the test photo is camera-sized (${photo.length} bytes)`);
  await page.getByRole('link', { name: 'Gửi phản ánh' }).click();
  await page.getByRole('heading', { name: 'Gửi phản ánh' }).waitFor();
  // Sending an empty form names what is missing, each linked to its field.
  await page.getByRole('button', { name: 'Gửi', exact: true }).click();
  const summary = page.getByRole('alert');
  await summary.getByRole('link', { name: 'Chọn loại phản ánh' }).waitFor();
  await axe(page, 'resident: report form with errors');
  await shot(page, 'form-errors');
  await summary.getByRole('link', { name: 'Viết vài dòng mô tả vấn đề' }).click();
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'description', 'the summary link moves to the field');

  await page.getByRole('combobox', { name: 'Loại phản ánh' }).selectOption({ label: POTHOLE });
  await page.getByRole('textbox', { name: 'Mô tả' }).fill(XSS);
  await page.getByLabel('Ảnh').setInputFiles({ name: 'photo.jpg', mimeType: 'image/jpeg', buffer: photo });
  await page.getByRole('img', { name: 'Tấm 1' }).waitFor({ timeout: 20000 });
  await page.getByRole('button', { name: 'Dùng vị trí của tôi' }).click();
  await page.getByText('Đã có vị trí').waitFor();
  await axe(page, 'resident: report form filled');
  await shot(page, 'form');
  await page.getByRole('button', { name: 'Gửi', exact: true }).click();
  await page.getByText('Bản nháp').waitFor();
  await axe(page, 'resident: draft saved');
  await shot(page, 'draft');
  // Still a draft after the app is closed and opened again without a network.
  await page.reload();
  await page.getByText('Bản nháp').waitFor();
  await page.getByRole('link', { name: 'Phản ánh của tôi' }).click();
  await page.getByText('Đang chờ mạng để gửi').waitFor();
  await axe(page, 'resident: my reports, offline with a draft');
  const r = await api('GET', '/v1/me/reports', { token });
  assert.equal(r.body.items.length, 0, 'nothing reached the server while offline');
  assertClean(page);
});

test('back online, the draft is sent by itself: one report, one small photo', async () => {
  let uploaded = 0;
  const uploads = [];
  // The multipart body is a Blob (no post data for the driver to show): count its length.
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url().endsWith('/v1/media')) {
      uploads.push(req.allHeaders().then((h) => {
        uploaded += req.postDataBuffer()?.length || Number(h['content-length']) || 0;
      }));
    }
  });
  await context.setOffline(false);
  const mine = await eventually(async () => {
    const r = await api('GET', '/v1/me/reports', { token });
    return r.body.items.length ? r.body.items : null;
  }, 'the draft to arrive', 30000);
  await page.getByText('Đang chờ mạng để gửi').waitFor({ state: 'detached' });
  await Promise.all(uploads);
  // Give a second sender (a duplicate) the chance to show up: there must be none.
  await new Promise((r) => setTimeout(r, 1500));
  const again = (await api('GET', '/v1/me/reports', { token })).body.items;
  assert.equal(again.length, 1, 'exactly one report');
  assert.equal(mine[0].photos.length, 1, 'with its photo');
  assert.equal(mine[0].description, XSS);
  assert.equal(mine[0].category_code, 'road_damage');
  assert.ok(Math.abs(mine[0].lat - HERE.latitude) < 0.001, 'at the phone\'s position');
  reportId = mine[0].id;
  assert.ok(uploaded > 0, 'the photo upload was seen');
  assert.ok(uploaded <= photo.length * 0.25, `uploaded ${uploaded} bytes for a ${photo.length}-byte photo`);
  console.log(`     photo: ${photo.length} bytes taken, ${uploaded} bytes uploaded`);
  const full = await api('GET', `/v1/reports/${reportId}`, { token });
  assert.ok(full.body.report.photos[0], 'photo attached');
  assertClean(page);
});

test('"Phản ánh của tôi" shows the status in Vietnamese and the description as text', async () => {
  await page.reload();
  await page.getByRole('heading', { name: 'Phản ánh của tôi' }).waitFor();
  await page.getByText('Đã gửi', { exact: true }).waitFor();
  await page.getByText(XSS).waitFor();
  assert.equal(await page.evaluate(() => document.querySelectorAll('img[src="x"]').length), 0, 'no element made from the text');
  await axe(page, 'resident: my reports');
  await shot(page, 'mine');
  await page.getByRole('link', { name: POTHOLE }).click();
  await page.getByRole('heading', { name: 'Diễn biến' }).waitFor();
  await page.getByRole('img', { name: 'Ảnh hiện trường 1' }).waitFor();
  await axe(page, 'resident: one report');
  await page.getByRole('textbox', { name: 'Nhắn cho phường' }).fill('Hôm nay ổ gà rộng hơn.');
  await page.getByRole('button', { name: 'Gửi tin nhắn' }).click();
  await page.getByText('Đã gửi tin nhắn.').waitFor();
  await page.getByText('Hôm nay ổ gà rộng hơn.').waitFor();
  assertClean(page);
});

test('once the ward resolves it, the resident rates the result', async () => {
  const admin = FIXTURE.admin.token;
  const unit = await api('POST', '/v1/admin/units', { token: admin, body: { name: 'Tổ duy tu đường', kind: 'team' } });
  assert.equal(unit.status, 201, JSON.stringify(unit.body));
  const move = async (body) => {
    const r = await api('POST', `/v1/staff/reports/${reportId}/transition`, { token: admin, body });
    assert.ok(r.status < 300, `${body.action}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  await move({ action: 'receive' });
  await move({ action: 'assign', unit_id: unit.body.id });
  await move({ action: 'start' });
  const form = new FormData();
  form.append('file', new Blob([await smallPhoto(page)], { type: 'image/jpeg' }), 'after.jpg');
  const media = await api('POST', '/v1/media', { token: admin, body: form });
  assert.equal(media.status, 201, JSON.stringify(media.body));
  await move({ action: 'resolve', public_reply: 'Đã vá ổ gà.', evidence_media_ids: [media.body.id] });

  await page.getByRole('link', { name: /^Thông báo/ }).click();
  await page.getByRole('heading', { name: 'Thông báo' }).waitFor();
  await axe(page, 'resident: notifications');
  await page.getByRole('link', { name: 'Phản ánh của tôi' }).click();
  await page.getByText('Đã xử lý', { exact: true }).waitFor();
  await page.getByRole('link', { name: POTHOLE }).click();
  await page.getByRole('region', { name: 'Phường trả lời' }).getByText('Đã vá ổ gà.').waitFor();
  await page.getByRole('heading', { name: 'Đánh giá kết quả' }).waitFor();
  await page.getByRole('heading', { name: 'Chưa được xử lý?' }).waitFor();
  await axe(page, 'resident: resolved report');
  await shot(page, 'resolved');
  await page.getByRole('radio', { name: '5 sao – Rất hài lòng' }).check();
  await page.getByRole('button', { name: 'Gửi đánh giá' }).click();
  await page.getByText('Bạn đã đánh giá: 5 sao.').waitFor();
  const r = await api('GET', `/v1/reports/${reportId}`, { token });
  assert.equal(r.body.report.rating, 5);
  await page.getByRole('link', { name: 'Quanh đây' }).click();
  await page.getByRole('heading', { name: 'Phản ánh quanh đây' }).waitFor();
  await page.getByText(XSS).waitFor();
  await page.getByRole('button', { name: 'Xem trên bản đồ' }).click();
  await page.getByRole('region', { name: 'Bản đồ phản ánh' }).waitFor();
  await axe(page, 'resident: public feed with its map');
  await shot(page, 'feed');
  await page.getByRole('link', { name: 'Khám từ xa' }).click();
  await page.getByRole('heading').first().waitFor();
  await page.getByRole('button', { name: 'Đăng xuất' }).click();
  await page.getByRole('textbox', { name: 'Số điện thoại' }).waitFor();
  assertClean(page);
  await context.close();
});

test('a create whose answer is lost is sent again with its key: still one report', async () => {
  // A second resident, signed in before the app starts (tokens already on the phone).
  const phone2 = '0977 000 111';
  let r = await api('POST', '/v1/auth/otp', { body: { phone: phone2 } });
  assert.equal(r.status, 202);
  const { code } = await ask({ op: 'otp', phone: phone2 });
  r = await api('POST', '/v1/auth/otp/verify', { body: { phone: phone2, code } });
  const tok = r.body;
  const claims = JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url').toString());
  const { context: c2, page: p2 } = await newPage(browser, { ...phone, serviceWorkers: 'block' });
  watchDialogs(p2);
  await c2.addInitScript((t) => {
    if (!localStorage.getItem('wl.resident.tokens')) localStorage.setItem('wl.resident.tokens', JSON.stringify(t));
  }, { access: tok.access_token, refresh: tok.refresh_token, expiresAt: Date.now() + (tok.expires_in - 30) * 1000, claims });
  let lost = 0;
  await p2.route('**/v1/reports', async (route) => {
    if (route.request().method() === 'POST' && lost === 0) {
      lost += 1;
      await route.fetch(); // the server creates it…
      await route.abort('connectionreset'); // …and the answer never reaches the phone
      return;
    }
    await route.continue();
  });
  await p2.goto('/#/report');
  await p2.getByRole('button', { name: 'Đăng xuất' }).waitFor();
  await p2.getByRole('combobox', { name: 'Loại phản ánh' }).selectOption({ label: 'Ngập nước' });
  await p2.getByRole('radio', { name: 'Đến đầu gối' }).check();
  await p2.getByRole('textbox', { name: 'Mô tả' }).fill('Ngập sâu ở đầu hẻm 45');
  await p2.getByRole('button', { name: 'Dùng vị trí của tôi' }).click();
  await p2.getByText('Đã có vị trí').waitFor();
  await p2.getByRole('button', { name: 'Gửi', exact: true }).click();
  await p2.getByText('Bản nháp').waitFor();
  assert.equal(lost, 1);
  // The network "comes back": the draft goes again with the same key and gets the same report.
  await c2.setOffline(true);
  await c2.setOffline(false);
  await p2.getByRole('heading', { name: 'Phản ánh đã được gửi tới phường.' }).waitFor({ timeout: 15000 });
  const mine = (await api('GET', '/v1/me/reports', { token: tok.access_token })).body.items;
  assert.equal(mine.length, 1, 'exactly one report');
  assert.equal(mine[0].answers?.depth, 'knee');
  await p2.getByRole('link', { name: 'Xem phản ánh vừa gửi' }).click();
  await p2.getByText('Ngập sâu ở đầu hẻm 45').waitFor();
  assertClean(p2);
  await c2.close();
});

test('"Nhận thông báo": allowed, it subscribes (and off, unsubscribes) where the browser has a push service, and says so where it has none', async () => {
  const phone3 = '0977 000 222';
  let r = await api('POST', '/v1/auth/otp', { body: { phone: phone3 } });
  assert.equal(r.status, 202);
  const { code } = await ask({ op: 'otp', phone: phone3 });
  r = await api('POST', '/v1/auth/otp/verify', { body: { phone: phone3, code } });
  const tok = r.body;
  const claims = JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url').toString());
  const { context: c4, page: p4 } = await newPage(browser, phone);
  watchDialogs(p4);
  // The permission prompt answered "Allow" (CDP Browser.grantPermissions).
  await c4.grantPermissions(['notifications'], { origin: new URL(BASE).origin });
  await c4.addInitScript((t) => {
    if (!localStorage.getItem('wl.resident.tokens')) localStorage.setItem('wl.resident.tokens', JSON.stringify(t));
  }, { access: tok.access_token, refresh: tok.refresh_token, expiresAt: Date.now() + (tok.expires_in - 30) * 1000, claims });
  await p4.goto('/#/notifications');
  await p4.getByRole('heading', { name: 'Thông báo' }).waitFor();
  await p4.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  const toggle = p4.getByRole('switch', { name: 'Nhận thông báo' });
  await toggle.waitFor();
  assert.equal(await toggle.getAttribute('aria-checked'), 'false');
  await axe(p4, 'resident: notifications with the push switch');
  await toggle.click();
  const on = p4.getByText('Đã bật thông báo trên máy này.');
  const failed = p4.getByText('Chưa bật được thông báo. Vui lòng thử lại sau.');
  await on.or(failed).waitFor({ timeout: 20000 });
  const endpoint = await p4.evaluate(async () => {
    const reg = await navigator.serviceWorker.getRegistration('/');
    return (await reg?.pushManager.getSubscription())?.endpoint || null;
  });
  if (await on.isVisible()) {
    assert.equal(await toggle.getAttribute('aria-checked'), 'true');
    const held = await api('GET', '/v1/me/push-subscriptions', { token: tok.access_token });
    assert.deepEqual(held.body.map((s) => s.endpoint), [endpoint], 'the server holds this browser');
    await toggle.click();
    await p4.getByText('Đã tắt thông báo trên máy này.').waitFor();
    const left = await api('GET', '/v1/me/push-subscriptions', { token: tok.access_token });
    assert.deepEqual(left.body, [], 'turned off: the server forgot it');
  } else {
    // This Chromium has no push service to register with (no Google API keys in Debian's build):
    // the app says so plainly and holds nothing.
    console.log('note: this Chromium could not register with a push service; the server-side half is tests/api/push.rs');
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');
    assert.equal(endpoint, null);
    const held = await api('GET', '/v1/me/push-subscriptions', { token: tok.access_token });
    assert.deepEqual(held.body, []);
  }
  await axe(p4, 'resident: notifications after the switch');
  assertClean(p4);
  await c4.close();
});

test('English phones get the app in English', async () => {
  const { context: c3, page: p3 } = await newPage(browser, { ...phone, locale: 'en-GB' });
  await p3.goto('/');
  await p3.getByRole('textbox', { name: 'Phone number' }).waitFor();
  await p3.getByRole('button', { name: 'Send code' }).waitFor();
  await p3.getByRole('link', { name: 'My reports' }).waitFor();
  await axe(p3, 'resident: sign in, English');
  // …and a Vietnamese switch, remembered.
  await p3.getByRole('button', { name: 'Tiếng Việt' }).click();
  await p3.getByRole('textbox', { name: 'Số điện thoại' }).waitFor();
  assertClean(p3);
  await c3.close();
});

await run().finally(() => browser.close());
