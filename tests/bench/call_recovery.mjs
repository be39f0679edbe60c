// A telehealth call's set-up and its recovery after a network cut (issue 19): a doctor page and a
// resident page, each in its own Chromium context with the fake camera and microphone
// (tests/web/lib.mjs's flags), over the real server with its embedded STUN/TURN server.
//
// The cut has to be real. Chromium's offline emulation (Playwright's context.setOffline, which is
// CDP Network.emulateNetworkConditions {offline: true} on every page of the context) fails HTTP
// requests and makes the page go `offline`, but WebRTC's UDP does not pass through the emulated
// network stack: media keeps flowing. So the resident's media is forced through a path this
// script can cut:
//   - the resident's page is given an RTCPeerConnection that always uses
//     iceTransportPolicy 'relay' (the constructor and setConfiguration wrapped by an init script:
//     web/shared/call.js has no switch for it), and whose TURN/STUN URLs for the embedded server
//     (127.0.0.1:WL_TURN_PORT) point at a UDP forwarder in this process instead;
//   - the forwarder passes datagrams between the resident's browser and the TURN server, and
//     drops every one of them, both ways, while the cut lasts.
// Everything the resident sends or receives as media then crosses the forwarder (the doctor's
// packets reach the resident's relay address on the TURN server, which forwards them to the
// resident through it); before each cut the resident's selected candidate pair is checked to sit
// on its relay allocation (a relay candidate, or the peer-reflexive address the doctor saw on the
// relay's port: the TURN server's relay sockets listen on every interface and reach the doctor's
// 192.0.2.x/10.x host address from that interface's address, not the advertised 127.0.0.1).
//
// CUT (default `full`) says what is cut for CUT_SECS (default 5) seconds:
//   full      - the resident's network: media (forwarder drops) and signaling/HTTP
//               (context.setOffline(true)); as a phone losing its connection;
//   media     - the media path only (forwarder drops), the signaling socket stays up;
//   signaling - context.setOffline(true) only (the control: shows whether media stops).
// Every run prints how many video frames each side presented during the cut (after a 1 s grace
// for what was already buffered): with `full` or `media` it must be 0 on both sides, else the cut
// was not a media cut and the run is labelled so.
//
// Per run (fresh contexts; the doctor on duty, the resident in the station's waiting room):
//   (1) admit → both videos playing: from the click on "Mời vào khám" to both remote videos
//       playing as tests/web/doctor.test.mjs defines it (readyState >= 2, videoWidth > 0,
//       currentTime advancing, not paused), sampled every 50 ms in the pages; with the parts:
//       admit → the resident's page opens the call (it learns of the admission by polling every
//       2 s), → both peer connections `connected`, → first frame presented on each side
//       (requestVideoFrameCallback);
//   (2) network back → media flowing again: from the moment the cut ends to a new video frame
//       presented (requestVideoFrameCallback) on both sides AND the decoder's frame count
//       (getStats inbound-rtp framesDecoded, sampled every 100 ms) rising on both sides; with the
//       video packets arriving again (packetsReceived rising) and the first keyframe decoded
//       (keyFramesDecoded) apart; and → the resident's call status saying "Đã kết nối" again
//       (signaling resumed and a connection up; 0 when it never left it, as in a media-only cut).
// The resident is relay-only in every mode (CUT=signaling included), so the modes differ only in
// what is cut. Each run also prints the selected candidate pairs, the connections' state changes,
// the resident's call status and the doctor's quality line during the cut.
// Medians over the runs; a run where media did not come back within 30 s counts as a failure
// (listed, left out of the medians).
//
// WL_DEBUG=1 prints both sides' call logs (the debug panel's) after each recovery.
//
// Usage: node tests/bench/call_recovery.mjs <base URL> [runs]   (tests/bench/call_recovery.sh
// starts the server with the embedded TURN on WL_TURN_PORT, makes the admin and calls this).

import dgram from 'node:dgram';
import {
  BASE, api, firstSignIn, launch, login, median, ms, must, printTable, runsArg, smsCode, tokenSet,
} from './lib/bench.mjs';

const RUNS = runsArg(10);
const DB = process.env.WL_DB;
const TURN_PORT = Number(process.env.WL_TURN_PORT);
const ADMIN_PHONE = process.env.WL_ADMIN_PHONE;
const ADMIN_OTP = process.env.WL_ADMIN_PASSWORD;
const CUT = process.env.CUT || 'full';
const CUT_MS = Math.round(Number(process.env.CUT_SECS || 5) * 1000);
const SETTLE_MS = 3000;
const RECOVER_TIMEOUT_MS = 30000;
const GRACE_MS = 1000;
const ADMIN_PASSWORD = 'Bench-admin-2026!';
const DOCTOR_PHONE = '0900000301';
const DOCTOR_PASSWORD = 'Bench-doctor-2026!';
const RESIDENT_PHONE = '0900000302';
const RESIDENT_NAME = 'Nguyễn Văn Dân';
const DOCTOR_VIDEO = 'Video của bác sĩ'; // on the resident's page
const PATIENT_VIDEO = 'Video của người bệnh'; // on the doctor's page

if (!DB || !TURN_PORT || !ADMIN_PHONE || !ADMIN_OTP) {
  console.error('WL_DB, WL_TURN_PORT, WL_ADMIN_PHONE and WL_ADMIN_PASSWORD must be set (tests/bench/call_recovery.sh sets them)');
  process.exit(2);
}
if (!['full', 'media', 'signaling'].includes(CUT)) {
  console.error(`CUT must be full, media or signaling (got ${CUT})`);
  process.exit(2);
}

// --- the forwarder between the resident's browser and the TURN server ------------------------------
async function udpForwarder(targetPort) {
  const st = { drop: false, port: 0, passed: 0, dropped: 0 };
  const front = dgram.createSocket('udp4');
  const ups = new Map();
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let up = ups.get(key);
    if (!up) {
      up = dgram.createSocket('udp4');
      up.on('error', () => {});
      up.on('message', (back) => {
        if (st.drop) { st.dropped += 1; return; }
        st.passed += 1;
        front.send(back, from.port, from.address);
      });
      up.bind(0, '127.0.0.1');
      ups.set(key, up);
    }
    if (st.drop) { st.dropped += 1; return; }
    st.passed += 1;
    up.send(msg, targetPort, '127.0.0.1');
  });
  front.on('error', (e) => console.error('forwarder: ' + e.message));
  await new Promise((resolve) => front.bind(0, '127.0.0.1', resolve));
  st.port = front.address().port;
  st.close = () => { front.close(); for (const u of ups.values()) u.close(); };
  return st;
}

// --- in the pages --------------------------------------------------------------------------------
// Wraps RTCPeerConnection (relay only and through the forwarder when `relay`), keeps the
// connections and their state changes, and samples the remote video named `label`: frames
// presented (requestVideoFrameCallback), frames decoded (getStats), the doctor test's "playing"
// check, the call status text and when the call page opened. Times are Date.now() (the same
// clock as this script's).
const probe = ({ label, relay, turnPort, proxyPort, callHash }) => `(() => {
  const LABEL = ${JSON.stringify(label)};
  const RELAY = ${relay ? 'true' : 'false'};
  const st = { pcs: [], pcLog: [], frames: [], decoded: [], advanced: [], status: [], quality: [], callPageAt: null, playingAt: null, lastDecoded: 0 };
  Object.defineProperty(window, '__wlc', { value: st });
  const keep = (a, t) => { a.push(t); if (a.length > 6000) a.shift(); };
  const Native = window.RTCPeerConnection;
  const fix = (cfg) => {
    if (!RELAY) return cfg;
    const c = { ...(cfg || {}) };
    c.iceTransportPolicy = 'relay';
    c.iceServers = (c.iceServers || []).map((s) => ({
      ...s,
      urls: [].concat(s.urls || []).map((u) => u.replace(/^(stun|turn):127\\.0\\.0\\.1:${turnPort}(?![0-9])/, '$1:127.0.0.1:${proxyPort}')),
    }));
    return c;
  };
  class PC extends Native {
    constructor(cfg, ...rest) {
      super(fix(cfg), ...rest);
      st.pcs.push(this);
      st.pcLog.push([Date.now(), 'new']);
      this.addEventListener('connectionstatechange', () => st.pcLog.push([Date.now(), this.connectionState]));
    }
    setConfiguration(cfg) { return super.setConfiguration(fix(cfg)); }
  }
  window.RTCPeerConnection = PC;

  const watched = new WeakSet();
  const watch = (v) => {
    if (watched.has(v) || !v.requestVideoFrameCallback) return;
    watched.add(v);
    const cb = () => { keep(st.frames, Date.now()); v.requestVideoFrameCallback(cb); };
    v.requestVideoFrameCallback(cb);
  };
  let prev = null;
  let prevEl = null;
  setInterval(() => {
    if (st.callPageAt === null && location.hash.startsWith(${JSON.stringify(callHash)})) st.callPageAt = Date.now();
    const v = [...document.querySelectorAll('video')].find((x) => x.getAttribute('aria-label') === LABEL);
    if (v) {
      watch(v);
      if (v !== prevEl) { prev = null; prevEl = v; }
      if (v.readyState >= 2 && v.videoWidth > 0 && !v.paused) {
        if (prev !== null && v.currentTime > prev) {
          keep(st.advanced, Date.now());
          if (st.playingAt === null) st.playingAt = Date.now();
        }
        prev = v.currentTime;
      } else prev = null;
    }
    const s = document.querySelector('.call-status');
    const text = s ? s.textContent.trim() : '';
    if (!st.status.length || st.status[st.status.length - 1][1] !== text) st.status.push([Date.now(), text]);
    const q = document.querySelector('.call-quality');
    const qt = q ? q.textContent.trim() : '';
    if (!st.quality.length || st.quality[st.quality.length - 1][1] !== qt) st.quality.push([Date.now(), qt]);
  }, 50);
  st.packets = [];
  st.keyframes = [];
  let lastPackets = 0;
  let lastKeys = 0;
  setInterval(async () => {
    let f = 0;
    let p = 0;
    let k = 0;
    for (const pc of st.pcs) {
      if (pc.connectionState === 'closed') continue;
      try {
        (await pc.getStats()).forEach((s) => {
          if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
          f += s.framesDecoded || 0;
          p += s.packetsReceived || 0;
          k += s.keyFramesDecoded || 0;
        });
      } catch { /* closed meanwhile */ }
    }
    const now = Date.now();
    if (f > st.lastDecoded) keep(st.decoded, now);
    if (p > lastPackets) keep(st.packets, now);
    if (k > lastKeys) keep(st.keyframes, now);
    st.lastDecoded = f;
    lastPackets = p;
    lastKeys = k;
  }, 100);
  /** The candidate types of the selected pair of each live connection. */
  st.path = async () => {
    const out = [];
    for (const pc of st.pcs) {
      if (pc.connectionState !== 'connected') continue;
      const rep = await pc.getStats();
      const by = new Map();
      let pair = null;
      rep.forEach((s) => { by.set(s.id, s); if (s.type === 'transport' && s.selectedCandidatePairId) pair = s.selectedCandidatePairId; });
      const cp = pair && by.get(pair);
      if (!cp) continue;
      const local = by.get(cp.localCandidateId) || {};
      // A relayed packet leaves the TURN server's relay socket (bound to every interface) from
      // whichever address routes to the peer, which may not be the advertised relay address:
      // the peer then reports a peer-reflexive address on the relay's port. Still the relay.
      const relayPorts = new Set([...rep.values()].filter((x) => x.type === 'local-candidate' && x.candidateType === 'relay').map((x) => x.port));
      const viaRelay = local.candidateType === 'relay' || (local.candidateType === 'prflx' && relayPorts.has(local.port));
      out.push({ local: local.candidateType, remote: by.get(cp.remoteCandidateId)?.candidateType, viaRelay, policy: pc.getConfiguration().iceTransportPolicy || 'all' });
    }
    return out;
  };
  st.firstAfter = (name, t) => { const a = st[name]; for (const x of a) if (x > t) return x; return null; };
  st.countBetween = (name, a, b) => st[name].filter((x) => x > a && x < b).length;
  /** When the call status said \`text\` at or after t (t itself if it already did then). */
  st.statusFrom = (text, t) => {
    let before = null;
    for (const [at, s] of st.status) {
      if (at <= t) { before = s; continue; }
      if (before === text) return t;
      if (s === text) return at;
    }
    return before === text ? t : null;
  };
  st.connectedAfter = (t) => { for (const [at, s] of st.pcLog) if (at > t && s === 'connected') return at; return null; };
})();`;

// --- set-up --------------------------------------------------------------------------------------
async function setUp() {
  const admin = (await firstSignIn(ADMIN_PHONE, ADMIN_OTP, ADMIN_PASSWORD)).access_token;
  const station = must(await api('POST', '/v1/admin/stations', { token: admin, body: { name: 'Trạm Y tế Phường Bến Nghé', address: '1 Lê Lợi' } }), 201, 'station');
  const doc = must(await api('POST', '/v1/admin/accounts', { token: admin, body: { phone: DOCTOR_PHONE, display_name: 'BS Trần Thị Lan', role: 'doctor' } }), 201, 'doctor account');
  must(await api('PUT', `/v1/admin/stations/${station.id}/doctors/${doc.account.id}`, { token: admin }), [200, 204], 'doctor in station');
  const doctorLogin = await firstSignIn(DOCTOR_PHONE, doc.one_time_password, DOCTOR_PASSWORD);
  must(await api('PUT', '/v1/telehealth/duty', { token: doctorLogin.access_token, body: { station_id: station.id } }), 204, 'duty');
  // The resident: signed in by SMS code (the first sign-in makes the account), named, consenting.
  must(await api('POST', '/v1/auth/otp', { body: { phone: RESIDENT_PHONE } }), 202, 'otp');
  const res = must(await api('POST', '/v1/auth/otp/verify', { body: { phone: RESIDENT_PHONE, code: smsCode(DB, RESIDENT_PHONE) } }), [200, 201], 'verify');
  must(await api('PATCH', '/v1/me', { token: res.access_token, body: { display_name: RESIDENT_NAME } }), 200, 'resident name');
  const texts = must(await api('GET', '/v1/telehealth/consent'), 200, 'consent texts');
  const text = texts.find((x) => x.kind === 'telehealth');
  if (text) must(await api('POST', '/v1/telehealth/consent', { token: res.access_token, body: { kind: 'telehealth', version: text.version, accepted: true } }), [200, 201, 204], 'consent');
  return { station, resident: { refresh: res.refresh_token } };
}

// --- one run -------------------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(f, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function context(browser, slot, tokens, probeOpts) {
  const ctx = await browser.newContext({ locale: 'vi-VN', timezoneId: 'Asia/Ho_Chi_Minh', baseURL: BASE, viewport: { width: 1280, height: 800 } });
  await ctx.addInitScript(([k, v]) => { if (!localStorage.getItem(k)) localStorage.setItem(k, v); }, [slot, JSON.stringify(tokens)]);
  await ctx.addInitScript(probe(probeOpts));
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(e.message));
  return { ctx, page };
}

async function oneRun(browser, i, setup, fwd) {
  // Fresh tokens for both (the resident's through its refresh token: no new SMS each run).
  const doctorTokens = tokenSet(await login(DOCTOR_PHONE, DOCTOR_PASSWORD));
  const refreshed = must(await api('POST', '/v1/auth/refresh', { body: { refresh_token: setup.resident.refresh } }), 200, 'resident refresh');
  setup.resident.refresh = refreshed.refresh_token;
  const residentTokens = tokenSet(refreshed);
  const consultation = must(await api('POST', '/v1/telehealth/queue', {
    token: residentTokens.access,
    body: { station_id: setup.station.id, reason: `Sốt và ho (lần ${i})`, symptom: 'fever' },
    headers: { 'idempotency-key': crypto.randomUUID() },
  }), [200, 201], 'join the waiting room');

  const doctor = await context(browser, 'wl.doctor.tokens', doctorTokens, { label: PATIENT_VIDEO, relay: false, callHash: '#/call/' });
  const resident = await context(browser, 'wl.resident.tokens', residentTokens,
    { label: DOCTOR_VIDEO, relay: true, turnPort: TURN_PORT, proxyPort: fwd.port, callHash: '#/telehealth/call/' });
  const out = { i };
  try {
    await resident.page.goto('/#/telehealth');
    await resident.page.getByRole('heading', { name: 'Khám từ xa', level: 1 }).waitFor();
    await doctor.page.goto('/doctor/');
    const entry = doctor.page.getByRole('listitem').filter({ has: doctor.page.getByRole('heading', { name: RESIDENT_NAME }) });
    await entry.waitFor({ timeout: 20000 });
    const admitButton = entry.getByRole('button', { name: 'Mời vào khám' });
    await admitButton.waitFor();
    const admit = Date.now();
    await admitButton.click();

    // (1) admit → both playing.
    const d = (p) => p.evaluate(() => window.__wlc && window.__wlc.playingAt);
    await until(async () => (await d(doctor.page)) && (await d(resident.page)), 30000, 'both videos playing');
    const dv = await doctor.page.evaluate(() => ({ playing: window.__wlc.playingAt, frame: window.__wlc.frames[0] || null, connected: window.__wlc.connectedAfter(0) }));
    const rv = await resident.page.evaluate(() => ({ playing: window.__wlc.playingAt, frame: window.__wlc.frames[0] || null, connected: window.__wlc.connectedAfter(0), callPage: window.__wlc.callPageAt }));
    out.admit = {
      both: Math.max(dv.playing, rv.playing) - admit,
      doctor: dv.playing - admit,
      resident: rv.playing - admit,
      callPage: rv.callPage - admit,
      connected: Math.max(dv.connected || Infinity, rv.connected || Infinity) - admit,
      firstFrames: Math.max(dv.frame || Infinity, rv.frame || Infinity) - admit,
    };

    // The media path, settled.
    await sleep(SETTLE_MS);
    out.path = { resident: await resident.page.evaluate(() => window.__wlc.path()), doctor: await doctor.page.evaluate(() => window.__wlc.path()) };
    if (CUT !== 'signaling' && !(out.path.resident.length && out.path.resident.every((p) => p.viaRelay))) {
      throw new Error(`the resident's media does not go through the relay (selected pairs ${JSON.stringify(out.path.resident)}): the cut would not be real`);
    }

    // (2) the cut.
    const cutAt = Date.now();
    if (CUT !== 'signaling') fwd.drop = true;
    if (CUT !== 'media') await resident.ctx.setOffline(true);
    await sleep(CUT_MS);
    const midDoctorPlaying = await doctor.page.evaluate((t) => window.__wlc.countBetween('advanced', t, Date.now()), cutAt + GRACE_MS);
    const back = Date.now();
    if (CUT !== 'signaling') fwd.drop = false;
    if (CUT !== 'media') await resident.ctx.setOffline(false);
    const during = {
      doctorFrames: await doctor.page.evaluate(([a, b]) => window.__wlc.countBetween('frames', a, b), [cutAt + GRACE_MS, back]),
      residentFrames: await resident.page.evaluate(([a, b]) => window.__wlc.countBetween('frames', a, b), [cutAt + GRACE_MS, back]),
      doctorDecoded: await doctor.page.evaluate(([a, b]) => window.__wlc.countBetween('decoded', a, b), [cutAt + GRACE_MS, back]),
      residentDecoded: await resident.page.evaluate(([a, b]) => window.__wlc.countBetween('decoded', a, b), [cutAt + GRACE_MS, back]),
      doctorCurrentTimeAdvanced: midDoctorPlaying,
      residentStatus: await resident.page.evaluate(([a, b]) => window.__wlc.status.filter(([t]) => t > a && t < b).map(([, s]) => s), [cutAt, back]),
      // The quality line shown during the cut: what it said when the cut began, and its changes.
      doctorQuality: await doctor.page.evaluate(([a, b]) => { const q = window.__wlc.quality; const before = q.filter(([t]) => t <= a).pop(); return [...(before ? [before[1]] : []), ...q.filter(([t]) => t > a && t < b).map(([, s]) => s)]; }, [cutAt, back]),
      residentPc: await resident.page.evaluate(([a, b]) => window.__wlc.pcLog.filter(([t]) => t > a && t < b).map(([t, s]) => `${s}@+${t - a}`), [cutAt, back]),
    };
    out.during = during;
    out.mediaStopped = during.doctorFrames === 0 && during.residentFrames === 0;

    // Back: media flowing both ways again, and the resident's call says connected.
    const flowing = async (p) => p.evaluate((t) => {
      const f = window.__wlc.firstAfter('frames', t);
      const dcd = window.__wlc.firstAfter('decoded', t);
      return f && dcd ? { frame: f, decoded: dcd, packets: window.__wlc.firstAfter('packets', t), key: window.__wlc.firstAfter('keyframes', t) } : null;
    }, back);
    let dBack = null;
    let rBack = null;
    let status = null;
    try {
      await until(async () => {
        dBack = dBack || await flowing(doctor.page);
        rBack = rBack || await flowing(resident.page);
        status = status || await resident.page.evaluate((t) => window.__wlc.statusFrom('Đã kết nối', t), back);
        return dBack && rBack && status;
      }, RECOVER_TIMEOUT_MS, 'media both ways and "Đã kết nối" after the cut');
    } catch (e) {
      out.failed = `${e.message} (doctor ${dBack ? 'ok' : 'no frames'}, resident ${rBack ? 'ok' : 'no frames'}, status ${status ? 'ok' : 'not connected'})`;
    }
    if (dBack && rBack) {
      out.back = {
        both: Math.max(dBack.frame, dBack.decoded, rBack.frame, rBack.decoded) - back,
        doctorSees: Math.max(dBack.frame, dBack.decoded) - back,
        residentSees: Math.max(rBack.frame, rBack.decoded) - back,
        packets: Math.max(dBack.packets || Infinity, rBack.packets || Infinity) - back,
        doctorKey: dBack.key ? dBack.key - back : null,
        residentKey: rBack.key ? rBack.key - back : null,
      };
    }
    // 0 when the status never left "Đã kết nối" (a media cut neither the socket nor the
    // connection's state noticed).
    out.backStatus = status ? status - back : null;
    out.statusNeverLeft = status === back;
    out.pcAfter = {
      resident: await resident.page.evaluate((t) => window.__wlc.pcLog.filter(([at]) => at > t).map(([at, s]) => `${s}@+${at - t}`), back),
      doctor: await doctor.page.evaluate((t) => window.__wlc.pcLog.filter(([at]) => at > t).map(([at, s]) => `${s}@+${at - t}`), back),
    };
    if (process.env.WL_DEBUG) {
      // The call's own log (shared/call.js keeps it for its debug panel), refreshed every 2 s.
      await sleep(2500);
      for (const [who, p] of [['resident', resident.page], ['doctor', doctor.page]]) {
        const log = await p.locator('.call-debug-log').textContent().catch(() => '');
        console.log(`  ${who}'s call log (network back at ${new Date(back).toISOString().slice(11, 23)}):\n    ${log.split('\n').join('\n    ')}`);
      }
    }
    const problems = [...doctor.page.problems, ...resident.page.problems];
    if (problems.length) out.pageErrors = problems;
  } finally {
    fwd.drop = false;
    await api('POST', `/v1/telehealth/consultations/${consultation.id}/end`, { token: doctorTokens.access }).catch(() => {});
    await doctor.ctx.close();
    await resident.ctx.close();
  }
  return out;
}

// --- main ----------------------------------------------------------------------------------------
const setup = await setUp();
const fwd = await udpForwarder(TURN_PORT);
// The fake camera and microphone, and the permission to use them granted without a prompt.
const browser = await launch(['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']);
const runs = [];
const cutLabel = {
  full: `the resident's network cut for ${CUT_MS / 1000} s: media (relay path dropped) and signaling/HTTP (offline)`,
  media: `the resident's media path cut for ${CUT_MS / 1000} s (relay path dropped; signaling socket up)`,
  signaling: `the resident's signaling/HTTP cut for ${CUT_MS / 1000} s (Chromium offline emulation; media path untouched)`,
}[CUT];
console.log(`cut: ${cutLabel}; resident relay-only through a UDP forwarder on 127.0.0.1:${fwd.port} → TURN 127.0.0.1:${TURN_PORT}`);
try {
  for (let i = 1; i <= RUNS; i++) {
    let r;
    try {
      r = await oneRun(browser, i, setup, fwd);
    } catch (e) {
      r = { i, failed: e.message.split('\n')[0] };
    }
    runs.push(r);
    const parts = [];
    if (r.admit) {
      parts.push(`admit → both playing ${ms(r.admit.both)} (resident's page in the call ${ms(r.admit.callPage)}, ` +
        `both connected ${ms(r.admit.connected)}, first frames ${ms(r.admit.firstFrames)})`);
    }
    const pair = (p) => `${p.local}${p.local !== 'relay' && p.viaRelay ? ' (relay port)' : ''}→${p.remote}`;
    if (r.path) parts.push(`path resident ${r.path.resident.map(pair).join(',') || '–'}, doctor ${r.path.doctor.map(pair).join(',') || '–'}`);
    if (r.during) {
      parts.push(`during the cut: frames presented doctor ${r.during.doctorFrames}, resident ${r.during.residentFrames}` +
        ` (decoded ${r.during.doctorDecoded}/${r.during.residentDecoded}); doctor's currentTime advanced in ${r.during.doctorCurrentTimeAdvanced} samples; ` +
        `resident status ${JSON.stringify(r.during.residentStatus)}; doctor's quality line ${JSON.stringify(r.during.doctorQuality)}; resident pc ${r.during.residentPc.join(' ') || 'unchanged'}` +
        (r.mediaStopped ? '' : ' — MEDIA DID NOT STOP'));
    }
    if (r.back) parts.push(`back → media both ways ${ms(r.back.both)} (doctor sees ${ms(r.back.doctorSees)}, resident sees ${ms(r.back.residentSees)}; video packets arriving both ways ${ms(r.back.packets)}, first keyframe decoded doctor ${ms(r.back.doctorKey)}, resident ${ms(r.back.residentKey)}), → "Đã kết nối" ${ms(r.backStatus)}${r.statusNeverLeft ? ' (it never left it)' : ''}`);
    if (r.pcAfter) parts.push(`pc after: resident ${r.pcAfter.resident.join(' ') || 'unchanged'}, doctor ${r.pcAfter.doctor.join(' ') || 'unchanged'}`);
    if (r.pageErrors) parts.push(`page errors: ${r.pageErrors.join('; ')}`);
    if (r.failed) parts.push(`FAILED: ${r.failed}`);
    console.log(`run ${i}: ${parts.join(' | ')}`);
  }
} finally {
  await browser.close();
  fwd.close();
}

const ok = runs.filter((r) => !r.failed);
const med = (f) => median(ok.map(f));
const real = ok.filter((r) => r.mediaStopped).length;
console.log('');
console.log(`Medians of ${ok.length} of ${runs.length} run(s) (${runs.length - ok.length} failed); cut: ${cutLabel}`);
console.log(`media stopped on both sides during the cut in ${real} of ${ok.length} run(s)` +
  (CUT !== 'signaling' && real < ok.length ? ' — the others were NOT media cuts' : ''));
const fooled = ok.filter((r) => r.during && r.during.doctorFrames === 0 && r.during.doctorCurrentTimeAdvanced > 0).length;
if (fooled) {
  console.log(`in ${fooled} run(s) the doctor's video showed no new frame during the cut while its currentTime kept ` +
    'advancing: the "playing" check of tests/web/doctor.test.mjs (currentTime advancing) passes on a frozen picture');
}
const table = [
  ['measure', 'median'],
  ['admit → both videos playing', ms(med((r) => r.admit.both))],
  ["  admit → the resident's page opens the call (its 2 s poll)", ms(med((r) => r.admit.callPage))],
  ['  admit → both peer connections connected', ms(med((r) => r.admit.connected))],
  ['  admit → first frame presented on both sides', ms(med((r) => r.admit.firstFrames))],
  ['  admit → doctor sees the resident playing', ms(med((r) => r.admit.doctor))],
  ['  admit → resident sees the doctor playing', ms(med((r) => r.admit.resident))],
  [CUT === 'signaling' ? 'network back → media frames both ways (never stopped?)' : 'network back → media flowing both ways again', ms(med((r) => r.back && r.back.both))],
  ['  network back → the doctor sees the resident again', ms(med((r) => r.back && r.back.doctorSees))],
  ['  network back → the resident sees the doctor again', ms(med((r) => r.back && r.back.residentSees))],
  ['  network back → video packets arriving both ways', ms(med((r) => r.back && r.back.packets))],
  ['network back → resident\'s call says "Đã kết nối"', ms(med((r) => r.backStatus))],
];
printTable(table);
if (runs.length - ok.length) process.exitCode = 1;
