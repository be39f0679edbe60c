// A consultation's video call, as both the doctor's console and the resident's app hold it: a
// ticket from the API, the signaling socket (join / resume, see src/rtc/signal.rs), one
// RTCPeerConnection per other participant negotiated the "perfect negotiation" way (the server
// says who is polite in each pair), recovery without a click (socket resume, ICE restart), a
// quality meter from getStats that also steps the video down, and the call-quality summaries the
// station's figures are made of. The page listens to events and draws; nothing here touches the DOM
// except `callStage`, the shared view of the call (videos, controls, reconnect overlay).

import { ApiError } from './api.js';
import { h } from './dom.js';
import { register, t } from './i18n.js';

register({
  vi: {
    'call.connecting': 'Đang kết nối…',
    'call.waiting_doctor': 'Đang chờ bác sĩ vào cuộc gọi…',
    'call.waiting_patient': 'Đang chờ người bệnh vào cuộc gọi…',
    'call.connected': 'Đã kết nối',
    'call.reconnecting': 'Đang kết nối lại…',
    'call.reconnecting_hint': 'Không cần bấm gì, cuộc gọi sẽ tự nối lại.',
    'call.peer_reconnecting': '{who} đang kết nối lại…',
    'call.ended': 'Cuộc gọi đã kết thúc',
    'call.replaced': 'Cuộc gọi đã được mở ở một thẻ hoặc thiết bị khác.',
    'call.failed': 'Không vào được cuộc gọi: {why}',
    'call.mic_off': 'Tắt micro',
    'call.mic_on': 'Bật micro',
    'call.cam_off': 'Tắt camera',
    'call.cam_on': 'Bật camera',
    'call.audio_only': 'Chỉ dùng âm thanh',
    'call.video_back': 'Dùng lại video',
    'call.audio_only_on': 'Đang gọi chỉ bằng âm thanh để giữ cuộc gọi ổn định.',
    'call.suggest_audio': 'Mạng yếu. Nếu hình bị đứng, hãy chuyển sang chỉ dùng âm thanh.',
    'call.self_video': 'Hình của tôi',
    'call.video_of': 'Video của {who}',
    'call.doctor': 'bác sĩ',
    'call.specialist': 'bác sĩ chuyên khoa',
    'call.patient': 'người bệnh',
    'call.quality': 'Chất lượng mạng: {level}',
    'call.q.good': 'Tốt',
    'call.q.fair': 'Trung bình',
    'call.q.poor': 'Yếu',
    'call.q.unknown': 'Đang đo',
    'call.q.relay': '(qua máy chủ chuyển tiếp)',
    'call.q.lost': 'Mất tín hiệu hình/tiếng',
    'call.media_lost': 'Mất tín hiệu hình/tiếng. Đang kết nối lại…',
    'call.not_participant': 'Bạn không còn tham gia được cuộc gọi này (buổi khám đã kết thúc hoặc quyền đã thay đổi).',
    'call.room_full': 'Cuộc gọi đã đủ người, không vào thêm được.',
    'call.no_media': 'Không mở được camera hoặc micro. Bạn vẫn nghe và xem được bên kia.',
    'call.debug': 'Thông số cuộc gọi',
    'call.timer': 'Thời gian gọi',
    'call.stage': 'Cuộc gọi',
    'call.sound_on': 'Bật âm thanh cuộc gọi',
    'precall.running': 'Đang kiểm tra camera, micro và mạng…',
    'precall.video_ok': 'Hình và tiếng tốt',
    'precall.audio_only': 'Chỉ nên gọi thoại',
    'precall.cannot_connect': 'Không kết nối được',
    'precall.no_devices': 'Không mở được camera hoặc micro. Hãy cho phép trình duyệt dùng chúng.',
    'precall.details': 'Độ trễ {rtt} ms, mất gói {loss} %, dao động {jitter} ms',
  },
  en: {
    'call.connecting': 'Connecting…',
    'call.waiting_doctor': 'Waiting for the doctor to join…',
    'call.waiting_patient': 'Waiting for the patient to join…',
    'call.connected': 'Connected',
    'call.reconnecting': 'Reconnecting…',
    'call.reconnecting_hint': 'No need to do anything: the call comes back by itself.',
    'call.peer_reconnecting': '{who} is reconnecting…',
    'call.ended': 'The call has ended',
    'call.replaced': 'The call was opened in another tab or device.',
    'call.failed': 'Could not join the call: {why}',
    'call.mic_off': 'Mute microphone',
    'call.mic_on': 'Unmute microphone',
    'call.cam_off': 'Turn camera off',
    'call.cam_on': 'Turn camera on',
    'call.audio_only': 'Audio only',
    'call.video_back': 'Use video again',
    'call.audio_only_on': 'Audio only, to keep the call steady.',
    'call.suggest_audio': 'Weak network. If the picture freezes, switch to audio only.',
    'call.self_video': 'My camera',
    'call.video_of': 'Video of the {who}',
    'call.doctor': 'doctor',
    'call.specialist': 'specialist',
    'call.patient': 'patient',
    'call.quality': 'Network: {level}',
    'call.q.good': 'Good',
    'call.q.fair': 'Fair',
    'call.q.poor': 'Weak',
    'call.q.unknown': 'Measuring',
    'call.q.relay': '(through the relay server)',
    'call.q.lost': 'Picture and sound lost',
    'call.media_lost': 'Picture and sound lost. Reconnecting…',
    'call.not_participant': 'You can no longer take part in this call (the consultation ended or your role changed).',
    'call.room_full': 'The call is full.',
    'call.no_media': 'Camera or microphone unavailable. You can still see and hear the other side.',
    'call.debug': 'Call details',
    'call.timer': 'Call time',
    'call.stage': 'Call',
    'call.sound_on': 'Turn call sound on',
    'precall.running': 'Checking camera, microphone and network…',
    'precall.video_ok': 'Picture and sound are good',
    'precall.audio_only': 'Better to make a voice call',
    'precall.cannot_connect': 'Cannot connect',
    'precall.no_devices': 'Cannot open the camera or microphone. Please allow the browser to use them.',
    'precall.details': 'Delay {rtt} ms, loss {loss} %, jitter {jitter} ms',
  },
});

const PROTOCOL = 1;
const QUALITY_EVERY_MS = 10000;
const STATS_EVERY_MS = 1000;
/** No media packet from a peer for this long, on a call that had media: the media is cut. */
const MEDIA_SILENT_MS = 2000;
/** A polite side's own ICE restart when the impolite one has not brought the connection back. */
const LATE_RESTART_MS = 6000;

/**
 * The test and diagnostic switch that sends a call's media only through the TURN relay
 * (`iceTransportPolicy: 'relay'`), as the pre-call test's `forceRelay` does for the echo: set
 * `localStorage['wl.call.forceRelay'] = '1'` (kept for this browser until removed), or open the
 * page with `?relay=1` (in the query or in the hash route's query, e.g. `/#/telehealth?relay=1`).
 * `?relay=0` turns it off for that page even when the storage key is set. `?relay=tcp` (or
 * `udp`, `tls`; also as the storage key's value) relays over that transport only: the page keeps
 * only the TURN URLs of it (`turn:…?transport=tcp`, `turn:…?transport=udp`, `turns:`).
 */
function relaySwitch() {
  try {
    const fromUrl = (q) => new URLSearchParams(q).get('relay');
    const hashQuery = location.hash.includes('?') ? location.hash.slice(location.hash.indexOf('?') + 1) : '';
    const v = fromUrl(location.search) ?? fromUrl(hashQuery) ?? localStorage.getItem('wl.call.forceRelay');
    if (v === null || v === '0' || v === 'false' || v === '') return '';
    return ['udp', 'tcp', 'tls'].includes(v) ? v : 'any';
  } catch {
    return '';
  }
}

export function forceRelayWanted() {
  return relaySwitch() !== '';
}

/** The one relay transport the page's switch asks for ('udp', 'tcp', 'tls'), or '' for any. */
export function relayTransportWanted() {
  const v = relaySwitch();
  return v === 'any' ? '' : v;
}

/** `servers` with only the TURN URLs of `transport` ('' keeps them all). */
export function onlyTransport(servers, transport) {
  if (!transport) return servers;
  const keep = (u) => (transport === 'tls' ? /^turns:/.test(u) : /^turn:/.test(u) && u.includes(`transport=${transport}`));
  return servers
    .map((s) => ({ ...s, urls: [].concat(s.urls || []).filter(keep) }))
    .filter((s) => s.urls.length);
}

/** Why a call ended, in words, when it is not the ordinary end ("" for those). */
export function endReasonText(reason) {
  if (reason === 'not_a_participant_now' || reason === 'forbidden') return t('call.not_participant');
  if (reason === 'room_full') return t('call.room_full');
  if (reason === 'replaced') return t('call.replaced');
  return '';
}

/** Camera and microphone, or the microphone alone, or nothing (the call still receives). */
export async function openLocalMedia() {
  const tries = [
    { audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24 } } },
    { audio: true, video: false },
  ];
  for (const c of tries) {
    try {
      return await navigator.mediaDevices.getUserMedia(c);
    } catch { /* next */ }
  }
  return new MediaStream();
}

/** One other participant: its connection and the perfect-negotiation flags. */
class Peer {
  constructor(id, role, polite) {
    this.id = id;
    this.role = role;
    this.polite = polite;
    this.pc = null;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.answerPending = false;
    this.stream = new MediaStream();
    this.reconnecting = false;
    this.restartTimer = null;
    this.stats = null;
    // Media watch: when packets last arrived, and whether they stopped (see Call.measure).
    this.hadMedia = false;
    this.lastPacketAt = 0;
    this.mediaLost = false;
  }
}

/**
 * A call. `new Call({api, consultationId, localStream})`, then `await call.start()`.
 * Events (`addEventListener`): `state` {state, reason} with state `connecting` | `connected` |
 * `reconnecting` (reason `media` when the connection is up but no media arrives) | `ended`;
 * `peers` (the roster changed); `track` {peer, stream}; `quality` {level, rtt, loss, jitter,
 * bitrate, candidateType, mediaLost, outages} with level `good` | `fair` | `poor` | `lost` (no
 * media packet for 2 s); `audioonly` {on, suggested}.
 * `forceRelay` (default: `forceRelayWanted()`, the page's switch) sends media only through TURN.
 */
export class Call extends EventTarget {
  constructor({ api, consultationId, localStream, forceRelay = forceRelayWanted(), relayTransport = relayTransportWanted() }) {
    super();
    this.forceRelay = !!forceRelay;
    this.relayTransport = this.forceRelay ? relayTransport : '';
    this.api = api;
    this.consultationId = consultationId;
    this.local = localStream || new MediaStream();
    this.ticket = null;
    this.ws = null;
    this.sessionId = null;
    this.me = null;
    this.role = null;
    this.lastSeq = 0;
    this.peers = new Map();
    this.iceServers = [];
    this.state = 'connecting';
    this.reason = '';
    this.joinedOnce = false;
    this.failures = 0;
    this.timers = new Set();
    this.pingTimer = null;
    this.lastHeard = 0;
    this.ended = false;
    this.audioOnly = false;
    this.poorStreak = 0;
    this.goodStreak = 0;
    this.stepDown = false;
    this.log = [];
    this.quality = { level: 'unknown' };
    // Media outages seen (no packet for MEDIA_SILENT_MS on a call that had media) and how long.
    this.outages = 0;
    this.mediaLostMs = 0;
    this.ticketRefused = 0;
    if (this.forceRelay) this.note(`relay only${this.relayTransport ? ' over ' + this.relayTransport : ''} (wl.call.forceRelay)`);
    this.onOnline = () => this.networkBack();
    this.onOffline = () => this.networkLost();
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }
  note(what) {
    this.log.push(`${new Date().toISOString().slice(11, 19)} ${what}`);
    if (this.log.length > 60) this.log.shift();
  }

  setState(state, reason = '') {
    if (this.ended && state !== 'ended') return;
    if (state === this.state && reason === this.reason) return;
    this.state = state;
    this.reason = reason;
    this.note('state ' + state + (reason ? ' ' + reason : ''));
    this.emit('state', { state, reason });
  }

  /** The call's state from the socket and the connections: what the person sees. */
  refreshState() {
    if (this.ended) return;
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.sessionId) {
      if (this.joinedOnce) this.setState('reconnecting');
      return;
    }
    const peers = [...this.peers.values()];
    if (!peers.length) return this.setState('connecting', 'waiting');
    const ok = peers.some((p) => p.pc && p.pc.connectionState === 'connected' && !p.mediaLost);
    const trouble = peers.some((p) => p.reconnecting || (p.pc && ['disconnected', 'failed'].includes(p.pc.connectionState)));
    // Connected on paper, but no media arrives from anyone: the picture is frozen, say so.
    const mediaGone = peers.some((p) => p.mediaLost) && !peers.some((p) => p.hadMedia && !p.mediaLost);
    if (ok && !trouble) this.setState('connected');
    else if (mediaGone && !trouble) this.setState('reconnecting', 'media');
    else if (trouble || (this.state === 'reconnecting')) this.setState('reconnecting', mediaGone ? 'media' : '');
    else this.setState('connecting');
  }

  later(ms, f) {
    const id = setTimeout(() => { this.timers.delete(id); f(); }, ms);
    this.timers.add(id);
    return id;
  }

  /** Get a ticket and open the socket. Throws ApiError when the call cannot be joined at all. */
  async start() {
    this.ticket = await this.api.post(`/v1/telehealth/consultations/${this.consultationId}/join`);
    this.iceServers = this.ticket.ice_servers || [];
    this.role = this.ticket.role;
    this.me = this.ticket.participant_id;
    this.open();
    this.statsTimer = setInterval(() => this.measure(), STATS_EVERY_MS);
    this.qualityTimer = setInterval(() => this.report(), QUALITY_EVERY_MS);
  }

  /** A fresh ticket (the server refused ours with 4401, or it expires, or the server was not reached twice). */
  async refreshTicket() {
    try {
      this.ticket = await this.api.post(`/v1/telehealth/consultations/${this.consultationId}/join`);
      this.iceServers = this.ticket.ice_servers || this.iceServers;
      return true;
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 409 || e.status === 403)) {
        this.finish('call_ended');
      }
      return false;
    }
  }

  signalUrl() {
    // Same origin as the page (the ticket names the server's public address, which a proxy may
    // present differently); the path and token are the ticket's.
    const u = new URL(this.ticket.url, location.href);
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}${u.pathname}${u.search}`;
  }

  open() {
    if (this.ended) return;
    const ws = new WebSocket(this.signalUrl());
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.lastHeard = Date.now();
      const first = this.sessionId
        ? { type: 'resume', protocol: PROTOCOL, session_id: this.sessionId, last_seq: this.lastSeq }
        : { type: 'join', protocol: PROTOCOL };
      this.note(first.type);
      ws.send(JSON.stringify(first));
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      this.lastHeard = Date.now();
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      if (typeof m.seq === 'number' && m.seq > this.lastSeq) this.lastSeq = m.seq;
      this.onMessage(m).catch((err) => this.note('handling ' + m.type + ': ' + err));
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.stopPing();
      this.onClose(e, opened);
    };
  }

  onClose(e, opened) {
    this.note(`closed ${e.code} ${e.reason || ''}`);
    if (this.ended) return;
    switch (e.code) {
      case 1000:
        // Left on purpose or the call ended for everyone.
        return this.finish(e.reason || 'call_ended');
      case 4409:
        return this.finish('replaced');
      case 4403:
        // `not_a_participant_now` (the consultation ended, the role changed) or `room_full`:
        // retrying cannot help; the page says why (endReasonText).
        return this.finish(e.reason || 'forbidden');
      case 4401:
        // Missing, invalid or expired ticket, refused at once: a fresh one from /join, now (no
        // need to wait for more failures). Several in a row back off like any failure.
        this.needTicket = true;
        this.ticketRefused += 1;
        if (this.ticketRefused > 1) this.failures += 1;
        this.refreshState();
        return this.reconnect(this.ticketRefused > 1 ? undefined : 0);
      case 4410:
        // Past the grace: join as new (the others see us leave and come back).
        this.sessionId = null;
        this.lastSeq = 0;
        for (const p of [...this.peers.values()]) this.dropPeer(p.id);
        break;
      case 4400:
        this.sessionId = null;
        this.lastSeq = 0;
        for (const p of [...this.peers.values()]) this.dropPeer(p.id);
        break;
      default:
        break;
    }
    if (!opened) this.failures += 1;
    this.refreshState();
    this.reconnect();
  }

  /**
   * Open a new socket after `delay` ms: by default 300 ms · 2^failures (at most 4 s), the backoff
   * for repeated failures; callers pass 0 to go at once (the network came back, or the server
   * refused the ticket a first time and a fresh one is fetched first).
   */
  reconnect(delay) {
    if (this.ended || this.ws || this.reconnectTimer) return;
    // Offline: wait for the network (the `online` event), checking now and then in case the
    // browser's idea of being online is wrong.
    if (navigator.onLine === false) delay = 3000;
    else if (delay === undefined) delay = Math.min(4000, 300 * 2 ** Math.min(this.failures, 4));
    const attempt = async () => {
      this.reconnectTimer = null;
      if (this.ended || this.ws) return;
      if (navigator.onLine === false) return this.reconnect();
      const expired = this.ticket && new Date(this.ticket.expires_at).getTime() < Date.now() + 5000;
      if (this.needTicket || this.failures >= 2 || expired) {
        this.reconnectTimer = -1; // a ticket on its way: no second attempt meanwhile
        const ok = await this.refreshTicket();
        this.reconnectTimer = null;
        if (this.ended || this.ws) return;
        if (!ok) { this.failures += 1; return this.reconnect(); }
        this.needTicket = false;
        this.failures = 0;
      }
      this.open();
    };
    if (delay <= 0) {
      this.reconnectTimer = -1;
      Promise.resolve().then(attempt);
    } else {
      this.reconnectTimer = this.later(delay, attempt);
    }
  }

  networkLost() {
    if (this.ended) return;
    this.note('offline');
    // The socket is most likely dead; do not wait for the ping timeout to find out.
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      this.stopPing();
      try { ws.close(4000, 'offline'); } catch { /* closed */ }
    }
    this.setState('reconnecting', 'offline');
    this.reconnect();
  }

  networkBack() {
    if (this.ended) return;
    this.note('online');
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      // Same socket, maybe a new path (Wi-Fi ↔ 4G): ask for an ICE restart.
      this.send({ type: 'network_changed' });
      return;
    }
    // Back online: try now, not after a backoff (a ticket being fetched is already on its way).
    if (this.reconnectTimer === -1) return;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.timers.delete(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    this.failures = 0;
    this.reconnect(0);
  }

  send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.sessionId) {
      this.ws.send(JSON.stringify(m));
      return true;
    }
    return false;
  }

  startPing(intervalMs, timeoutMs) {
    this.stopPing();
    const every = Math.max(2000, intervalMs || 15000);
    const timeout = Math.max(every * 2, timeoutMs || every * 3);
    this.pingTimer = setInterval(() => {
      if (!this.ws) return;
      if (Date.now() - this.lastHeard > timeout) {
        // Half-open socket: drop it and resume on a new one.
        const ws = this.ws;
        this.ws = null;
        this.stopPing();
        try { ws.close(4000, 'silent'); } catch { /* closed */ }
        this.onClose({ code: 4408, reason: 'silent' }, true);
        return;
      }
      this.send({ type: 'ping', ts: Date.now() });
    }, every);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  setIceServers(list) {
    if (!Array.isArray(list) || !list.length) return;
    this.iceServers = list;
    for (const p of this.peers.values()) {
      try {
        p.pc?.setConfiguration({ ...p.pc.getConfiguration(), iceServers: onlyTransport(list, this.relayTransport), iceTransportPolicy: this.forceRelay ? 'relay' : 'all' });
      } catch { /* keep */ }
    }
  }

  async onMessage(m) {
    switch (m.type) {
      case 'joined': {
        this.sessionId = m.session_id;
        this.me = m.participant_id;
        this.role = m.role;
        this.joinedOnce = true;
        this.failures = 0;
        this.ticketRefused = 0;
        this.setIceServers(m.ice_servers);
        this.startPing(m.ping_interval_ms, m.ping_timeout_ms);
        // We are the newcomer: we offer to everyone already here.
        for (const p of m.peers || []) {
          this.dropPeer(p.participant_id);
          const peer = this.addPeer(p.participant_id, p.role, p.polite);
          peer.reconnecting = !!p.reconnecting;
          this.connectPeer(peer);
        }
        this.emit('peers');
        this.refreshState();
        break;
      }
      case 'resumed': {
        this.failures = 0;
        this.ticketRefused = 0;
        this.setIceServers(m.ice_servers);
        this.startPing(this.ticket?.ping_interval_ms, this.ticket?.ping_timeout_ms);
        // Who is in the room now (the replayed messages said most of it; after a gap they may not).
        let rosterChanged = false;
        if (Array.isArray(m.peers)) {
          const here = new Set(m.peers.map((x) => x.participant_id));
          for (const p of [...this.peers.values()]) {
            if (!here.has(p.id)) { this.dropPeer(p.id); rosterChanged = true; }
          }
          for (const x of m.peers) {
            const known = this.peers.has(x.participant_id);
            const p = this.addPeer(x.participant_id, x.role, x.polite);
            p.reconnecting = !!x.reconnecting;
            if (!known) { this.connectPeer(p); rosterChanged = true; }
          }
        }
        // The server names the peers we restart ICE with (those toward whom we are impolite);
        // an older server only says `ice_restart`, and the politeness rule decides.
        const restartWith = Array.isArray(m.restart_with) ? new Set(m.restart_with) : null;
        for (const p of this.peers.values()) {
          if (!p.pc) continue;
          if (p.pc.signalingState === 'have-local-offer' && p.pc.localDescription) {
            // Our offer may have gone nowhere while the socket was down.
            this.send({ type: 'offer', to: p.id, sdp: p.pc.localDescription.sdp });
          } else if (restartWith) {
            if (restartWith.has(p.id)) this.restart(p, 'resumed', true);
            else if (m.gap || p.pc.connectionState !== 'connected') this.lateRestart(p, 'resumed');
          } else if (m.ice_restart || m.gap) {
            this.restart(p, 'resumed');
          }
        }
        if (rosterChanged) this.emit('peers');
        this.refreshState();
        break;
      }
      case 'peer_joined': {
        // The newcomer offers; a connection we had with an earlier session of theirs is gone.
        this.dropPeer(m.participant_id);
        this.addPeer(m.participant_id, m.role, m.polite);
        this.emit('peers');
        this.refreshState();
        break;
      }
      case 'peer_left':
        this.dropPeer(m.participant_id);
        this.emit('peers');
        this.refreshState();
        break;
      case 'peer_reconnecting': {
        const p = this.peers.get(m.participant_id);
        if (p) p.reconnecting = true;
        this.emit('peers');
        this.refreshState();
        break;
      }
      case 'peer_resumed': {
        const p = this.peers.get(m.participant_id);
        if (p) {
          p.reconnecting = false;
          // `ice_restart: true` only for the side that restarts toward that peer (us, then).
          if (m.ice_restart === true) this.restart(p, 'peer_resumed', true);
          else if (m.ice_restart === false && p.pc && p.pc.connectionState !== 'connected') this.lateRestart(p, 'peer_resumed');
        }
        this.emit('peers');
        this.refreshState();
        break;
      }
      case 'ice_restart': {
        // The answer to our `network_changed`: fresh servers, and `restart_with`, the peers we
        // restart with (the others restart toward us). An older server: restart with everyone.
        this.setIceServers(m.ice_servers);
        const restartWith = Array.isArray(m.restart_with) ? new Set(m.restart_with) : null;
        for (const p of this.peers.values()) {
          if (!restartWith || restartWith.has(p.id)) this.restart(p, 'network_changed', true);
          else this.lateRestart(p, 'network_changed');
        }
        break;
      }
      case 'peer_network_changed': {
        const p = this.peers.get(m.participant_id);
        if (!p) break;
        if (typeof m.ice_restart === 'boolean') {
          if (m.ice_restart) this.restart(p, 'peer_network_changed', true);
          else this.lateRestart(p, 'peer_network_changed');
        } else {
          this.restart(p, 'peer_network_changed');
        }
        break;
      }
      case 'offer':
      case 'answer':
        await this.onDescription(m.from, { type: m.type, sdp: m.sdp });
        break;
      case 'candidate': {
        const p = this.peers.get(m.from);
        if (!p || !p.pc) break;
        try {
          await p.pc.addIceCandidate(m.candidate);
        } catch (e) {
          if (!p.ignoreOffer) this.note('candidate refused: ' + e.message);
        }
        break;
      }
      case 'end_of_candidates': {
        const p = this.peers.get(m.from);
        if (p?.pc?.remoteDescription) {
          try { await p.pc.addIceCandidate(); } catch { /* fine */ }
        }
        break;
      }
      case 'pong':
        if (typeof m.ts === 'number') this.signalRtt = Date.now() - m.ts;
        break;
      case 'call_ended':
        this.finish(m.reason || 'call_ended');
        break;
      case 'error':
        this.note('server error ' + m.code + (m.ref ? ' (' + m.ref + ')' : ''));
        break;
      default:
        break;
    }
  }

  addPeer(id, role, polite) {
    let p = this.peers.get(id);
    if (!p) {
      // Unknown politeness (a message before the roster): the resident's side always yields.
      const yields = typeof polite === 'boolean' ? polite : this.role !== 'doctor';
      p = new Peer(id, role || 'doctor', yields);
      this.peers.set(id, p);
    } else {
      if (role) p.role = role;
      if (typeof polite === 'boolean') p.polite = polite;
    }
    return p;
  }

  dropPeer(id) {
    const p = this.peers.get(id);
    if (!p) return;
    clearTimeout(p.restartTimer);
    try { p.pc?.close(); } catch { /* closed */ }
    this.peers.delete(id);
    this.emit('track', { peer: p, stream: null });
  }

  /** Create the connection to a peer (with our tracks: adding them asks for a negotiation). */
  connectPeer(p) {
    if (p.pc) return p.pc;
    const pc = new RTCPeerConnection({ iceServers: onlyTransport(this.iceServers, this.relayTransport), iceTransportPolicy: this.forceRelay ? 'relay' : 'all' });
    p.pc = pc;
    for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
    if (!this.local.getAudioTracks().length) pc.addTransceiver('audio', { direction: 'recvonly' });
    if (!this.local.getVideoTracks().length) pc.addTransceiver('video', { direction: 'recvonly' });
    if (this.audioOnly) this.applyAudioOnly(p);
    pc.ontrack = ({ track, streams }) => {
      const s = streams && streams[0];
      if (s) p.stream = s;
      else if (!p.stream.getTracks().includes(track)) p.stream.addTrack(track);
      this.emit('track', { peer: p, stream: p.stream });
    };
    pc.onnegotiationneeded = async () => {
      if (p.pc !== pc) return;
      try {
        p.makingOffer = true;
        await pc.setLocalDescription();
        this.send({ type: 'offer', to: p.id, sdp: pc.localDescription.sdp });
      } catch (e) {
        this.note('offer failed: ' + e.message);
      } finally {
        p.makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (p.pc !== pc) return;
      if (candidate && candidate.candidate) this.send({ type: 'candidate', to: p.id, candidate: candidate.toJSON() });
      else if (!candidate) this.send({ type: 'end_of_candidates', to: p.id });
    };
    pc.onconnectionstatechange = () => {
      if (p.pc !== pc) return;
      const s = pc.connectionState;
      this.note(`peer ${p.role} ${s}`);
      clearTimeout(p.restartTimer);
      if (s === 'connected') {
        p.reconnecting = false;
      } else if (s === 'failed') {
        // The impolite side restarts at once; the polite one too if nothing happens soon.
        p.restartTimer = this.later(p.polite ? 2500 : 0, () => this.restart(p, 'failed', true));
      } else if (s === 'disconnected') {
        p.restartTimer = this.later(p.polite ? 5000 : 3000, () => {
          if (pc.connectionState !== 'connected') this.restart(p, 'disconnected', true);
        });
      }
      this.refreshState();
    };
    return pc;
  }

  /** Offer or answer from a peer, perfect-negotiation style. */
  async onDescription(from, desc) {
    const p = this.addPeer(from);
    const pc = this.connectPeer(p);
    const readyForOffer = !p.makingOffer && (pc.signalingState === 'stable' || p.answerPending);
    const collision = desc.type === 'offer' && !readyForOffer;
    p.ignoreOffer = !p.polite && collision;
    if (p.ignoreOffer) {
      this.note('offer collision: ignored (impolite)');
      return;
    }
    p.answerPending = desc.type === 'answer';
    try {
      await pc.setRemoteDescription(desc);
    } finally {
      p.answerPending = false;
    }
    if (desc.type === 'offer') {
      await pc.setLocalDescription();
      this.send({ type: 'answer', to: p.id, sdp: pc.localDescription.sdp });
    }
  }

  /**
   * An ICE restart towards a peer. The server says which side of a pair restarts (`restart_with`,
   * `ice_restart: true`): then `anyway` is true. Without that word (an older server), only the
   * impolite side does, unless `anyway` (the connection failed).
   */
  restart(p, why, anyway = false) {
    if (!p.pc || this.ended) return;
    if (p.polite && !anyway) return this.lateRestart(p, why);
    clearTimeout(p.restartTimer);
    this.note('ice restart ' + p.role + ' (' + why + ')');
    try { p.pc.restartIce(); } catch { /* old browser */ }
  }

  /** The other side restarts; if the connection is still not up after a while, we do. */
  lateRestart(p, why) {
    if (!p.pc || this.ended) return;
    clearTimeout(p.restartTimer);
    const pc = p.pc;
    p.restartTimer = this.later(LATE_RESTART_MS, () => {
      if (p.pc === pc && pc.connectionState !== 'connected') this.restart(p, why + ' (late)', true);
    });
  }

  // --- controls ------------------------------------------------------------------------------

  get micOn() { return this.local.getAudioTracks().some((t) => t.enabled); }
  get camOn() { return !this.audioOnly && this.local.getVideoTracks().some((t) => t.enabled); }
  get hasCamera() { return this.local.getVideoTracks().length > 0; }

  setMic(on) {
    for (const tr of this.local.getAudioTracks()) tr.enabled = on;
    this.emit('controls');
  }

  setCamera(on) {
    for (const tr of this.local.getVideoTracks()) tr.enabled = on;
    this.emit('controls');
  }

  applyAudioOnly(p) {
    for (const tr of p.pc.getTransceivers()) {
      if (tr.receiver.track?.kind !== 'video' || tr.stopped) continue;
      try { tr.direction = this.audioOnly ? 'inactive' : (tr.sender.track ? 'sendrecv' : 'recvonly'); } catch { /* stopped */ }
    }
  }

  /** Video off both ways (renegotiated), to keep a weak call going; `false` brings it back. */
  setAudioOnly(on) {
    this.audioOnly = !!on;
    for (const p of this.peers.values()) if (p.pc) this.applyAudioOnly(p);
    this.emit('audioonly', { on: this.audioOnly, suggested: false });
    this.emit('controls');
  }

  /** Leave (the call goes on for the others). */
  leave() {
    if (this.ended) return;
    this.send({ type: 'leave' });
    this.finish('left');
  }

  /** End the call for everyone (the doctor). The API's /end as well, in case the socket is down. */
  async endForAll() {
    if (this.ended) return;
    this.send({ type: 'end_call' });
    try {
      await this.api.post(`/v1/telehealth/consultations/${this.consultationId}/end`);
    } catch { /* the socket's end_call did it, or the call was not in progress */ }
    this.finish('doctor_ended');
  }

  finish(reason) {
    if (this.ended) return;
    this.report();
    this.ended = true;
    this.stopPing();
    clearInterval(this.statsTimer);
    clearInterval(this.qualityTimer);
    for (const id of this.timers) clearTimeout(id);
    this.timers.clear();
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    const ws = this.ws;
    this.ws = null;
    if (ws) { try { ws.close(1000, 'left'); } catch { /* closed */ } }
    for (const p of this.peers.values()) { try { p.pc?.close(); } catch { /* closed */ } }
    for (const tr of this.local.getTracks()) tr.stop();
    this.state = 'ended';
    this.reason = reason;
    this.note('ended ' + reason);
    this.emit('state', { state: 'ended', reason });
  }

  // --- quality -------------------------------------------------------------------------------

  /**
   * Every STATS_EVERY_MS: each peer's figures from getStats, and the worst of them shown. A peer
   * whose media stopped (no inbound packet for MEDIA_SILENT_MS after media had flowed) is `lost`
   * whatever its connection state says: "no packets" is not 0 % loss. Each outage is counted
   * (`outages`, `mediaLostMs`) and its samples go to the summaries as 100 % loss, 0 kbps.
   */
  async measure() {
    if (this.ended || this.measuring) return;
    this.measuring = true;
    try {
      const peers = [...this.peers.values()].filter((p) => p.pc && !['new', 'closed'].includes(p.pc.connectionState));
      const figures = (await Promise.all(peers.map((p) => this.measurePeer(p)))).filter(Boolean);
      if (this.ended) return;
      const rank = { lost: 3, poor: 2, fair: 1, good: 0 };
      let worst = null;
      for (const f of figures) if (f.level && (!worst || rank[f.level] > rank[worst.level])) worst = f;
      // A peer's media stopped or came back: the call's state says it (refreshState).
      if (figures.some((f) => f.changed)) this.refreshState();
      if (!worst) return;
      const { level, rtt, loss, jitter, bitrate, candidateType } = worst;
      this.quality = {
        level, rtt, loss, jitter, bitrate, candidateType,
        signalRtt: this.signalRtt ?? null,
        mediaLost: level === 'lost',
        outages: this.outages,
        mediaLostMs: Math.round(this.mediaLostMs),
      };
      this.sum = this.sum || { n: 0, rtt: 0, rttN: 0, loss: 0, jitter: 0, bitrate: 0 };
      this.sum.n += 1;
      if (rtt !== null) { this.sum.rtt += rtt; this.sum.rttN += 1; }
      this.sum.loss += loss;
      this.sum.jitter += jitter;
      this.sum.bitrate += bitrate;
      if (candidateType) this.sum.candidateType = candidateType;
      // An outage is not a weak network: the ladder below waits for figures from real media.
      if (level !== 'lost') this.adapt(level);
      this.emit('quality', this.quality);
    } finally {
      this.measuring = false;
    }
  }

  /** One peer's figures since its previous sample (null for the first sample). */
  async measurePeer(p) {
    const pc = p.pc;
    let report;
    try { report = await pc.getStats(); } catch { return null; }
    if (p.pc !== pc) return null;
    let pair = null;
    const byId = new Map();
    report.forEach((s) => {
      byId.set(s.id, s);
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = s.selectedCandidatePairId;
    });
    if (!pair) report.forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s.id; });
    const cp = pair ? byId.get(pair) : null;
    const local = cp ? byId.get(cp.localCandidateId) : null;
    let received = 0;
    let lost = 0;
    let bytes = 0;
    let jitter = 0;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        received += s.packetsReceived || 0;
        lost += Math.max(0, s.packetsLost || 0);
        bytes += s.bytesReceived || 0;
        jitter = Math.max(jitter, (s.jitter || 0) * 1000);
      }
    });
    const now = performance.now();
    const prev = p.stats;
    p.stats = { at: now, received, lost, bytes };
    // The media watch: packets arriving, or not since when.
    let changed = false;
    // Only a connection that should bring media in can lose it (not one the other side only
    // receives on, nor both ways inactive).
    const receiving = pc.getTransceivers().some((tr) => !tr.stopped && (tr.currentDirection === 'sendrecv' || tr.currentDirection === 'recvonly'));
    if (!prev || received !== prev.received || !receiving) {
      if (received > 0 || !receiving) {
        if (p.mediaLost) {
          p.mediaLost = false;
          changed = true;
          this.note(`media back from ${p.role} after ${Math.round((now - p.lastPacketAt) / 100) / 10} s`);
        }
        if (received > 0) p.hadMedia = true;
        p.lastPacketAt = now;
      }
    } else if (p.hadMedia && !p.mediaLost && now - p.lastPacketAt >= MEDIA_SILENT_MS) {
      p.mediaLost = true;
      changed = true;
      this.outages += 1;
      this.note(`no media from ${p.role} for ${Math.round((now - p.lastPacketAt) / 100) / 10} s (connection ${pc.connectionState})`);
    }
    if (!prev) return changed ? { changed } : null;
    const dt = (now - prev.at) / 1000;
    const rtt = cp && typeof cp.currentRoundTripTime === 'number' ? cp.currentRoundTripTime * 1000 : null;
    const candidateType = local?.candidateType || null;
    if (p.mediaLost) {
      this.mediaLostMs += now - prev.at;
      return { changed, level: 'lost', rtt, loss: 100, jitter, bitrate: 0, candidateType };
    }
    if (!p.hadMedia) return changed ? { changed } : null;
    const dRecv = received - prev.received;
    // The first sample after an outage: the packets lost in it were counted as the outage.
    const dLost = changed ? 0 : lost - prev.lost;
    const loss = dRecv + dLost > 0 ? (100 * Math.max(0, dLost)) / (dRecv + dLost) : 0;
    const bitrate = dt > 0 ? Math.max(0, (bytes - prev.bytes) * 8) / dt / 1000 : 0;
    const level = loss > 8 || (rtt !== null && rtt > 700) ? 'poor' : loss > 2 || (rtt !== null && rtt > 300) ? 'fair' : 'good';
    return { changed, level, rtt, loss, jitter, bitrate, candidateType };
  }

  /** The quality ladder: full video → smaller, cheaper video → suggest audio only. */
  adapt(level) {
    if (level === 'poor') { this.poorStreak += 1; this.goodStreak = 0; } else if (level === 'good') { this.goodStreak += 1; this.poorStreak = 0; }
    // Samples every STATS_EVERY_MS (1 s): 6 s weak steps down, 20 s good steps back up.
    if (!this.stepDown && this.poorStreak >= 6) {
      this.stepDown = true;
      this.setVideoEncoding({ maxBitrate: 250000, scaleResolutionDownBy: 2, maxFramerate: 15 });
    } else if (this.stepDown && this.goodStreak >= 20) {
      this.stepDown = false;
      this.setVideoEncoding({ maxBitrate: undefined, scaleResolutionDownBy: 1, maxFramerate: undefined });
    }
    if (!this.audioOnly && this.poorStreak === 16) this.emit('audioonly', { on: false, suggested: true });
  }

  async setVideoEncoding(e) {
    for (const p of this.peers.values()) {
      for (const sender of p.pc?.getSenders() || []) {
        if (sender.track?.kind !== 'video') continue;
        const params = sender.getParameters();
        if (!params.encodings || !params.encodings.length) continue;
        for (const enc of params.encodings) {
          for (const [k, v] of Object.entries(e)) {
            if (v === undefined) delete enc[k];
            else enc[k] = v;
          }
        }
        try { await sender.setParameters(params); } catch { /* not now */ }
      }
    }
  }

  /** The summary of the last ~10 s for the station's figures (QualitySample). */
  async report() {
    const s = this.sum;
    if (!s || !s.n || this.qualityOff) return;
    this.sum = null;
    const body = {
      loss_percent: round(s.loss / s.n),
      jitter_ms: round(s.jitter / s.n),
      bitrate_kbps: round(s.bitrate / s.n),
    };
    if (s.rttN) body.rtt_ms = round(s.rtt / s.rttN);
    const ct = this.quality.candidateType;
    if (['host', 'srflx', 'prflx', 'relay'].includes(ct)) body.candidate_type = ct;
    try {
      await this.api.post(`/v1/telehealth/consultations/${this.consultationId}/quality`, body);
    } catch (e) {
      // Too many (429) or not a participant any more: stop sending.
      if (e instanceof ApiError && e.status >= 400 && e.status < 500) this.qualityOff = true;
    }
  }
}

function round(x) { return Math.round(x * 10) / 10; }

/** Who a participant is, in words ("bác sĩ", "người bệnh"). */
export function roleWord(role) {
  return t(role === 'patient' ? 'call.patient' : role === 'specialist' ? 'call.specialist' : 'call.doctor');
}

// --- the shared view of a call -----------------------------------------------------------------

/**
 * The call's stage: remote videos (one per participant, labelled for assistive technology and
 * tests), the self view, mute / camera / audio-only buttons, the end button the page passes in,
 * a network indicator, a visible "reconnecting" overlay, and a small debug panel.
 * `endButton` is an element; `names` maps participant ids to display names (optional).
 * Returns `{el, destroy}`.
 */
export function callStage(call, { endButton, names = {}, waitingText } = {}) {
  const tiles = new Map();
  const remoteBox = h('div', { class: 'call-remotes' });
  const selfVideo = h('video', { class: 'call-self', 'aria-label': t('call.self_video'), autoplay: true, playsinline: true });
  selfVideo.muted = true;
  selfVideo.srcObject = call.local;
  const status = h('p', { class: 'call-status', role: 'status', 'aria-live': 'polite' }, t('call.connecting'));
  const overlay = h('div', { class: 'call-overlay', hidden: true, role: 'alert' },
    h('p', { class: 'call-overlay-title' }, t('call.reconnecting')),
    h('p', {}, t('call.reconnecting_hint')));
  const quality = h('p', { class: 'call-quality', 'data-level': 'unknown' }, t('call.quality', { level: t('call.q.unknown') }));
  const advice = h('p', { class: 'notice warn', hidden: true });
  const micBtn = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', onclick: () => call.setMic(!call.micOn) }, t('call.mic_off'));
  const camBtn = h('button', { type: 'button', class: 'secondary', 'aria-pressed': 'false', onclick: () => call.setCamera(!call.camOn) }, t('call.cam_off'));
  const audioBtn = h('button', { type: 'button', class: 'secondary', onclick: () => call.setAudioOnly(!call.audioOnly) }, t('call.audio_only'));
  const debugList = h('pre', { class: 'call-debug-log' });
  const debug = h('details', { class: 'call-debug' }, h('summary', {}, t('call.debug')), debugList);
  const noMedia = !call.local.getTracks().length ? h('p', { class: 'notice warn' }, t('call.no_media')) : null;

  function controls() {
    // The names the tests and screen readers hold on to: the button says what it will do.
    micBtn.textContent = call.micOn ? t('call.mic_off') : t('call.mic_on');
    micBtn.setAttribute('aria-pressed', String(!call.micOn));
    const camOn = call.local.getVideoTracks().some((tr) => tr.enabled);
    camBtn.textContent = camOn ? t('call.cam_off') : t('call.cam_on');
    camBtn.setAttribute('aria-pressed', String(!camOn));
    camBtn.disabled = !call.hasCamera || call.audioOnly;
    micBtn.disabled = !call.local.getAudioTracks().length;
    audioBtn.textContent = call.audioOnly ? t('call.video_back') : t('call.audio_only');
    selfVideo.hidden = !call.hasCamera || call.audioOnly;
  }

  function tileFor(peer) {
    let tile = tiles.get(peer.id);
    if (!tile) {
      const who = names[peer.id] ? `${roleWord(peer.role)} ${names[peer.id]}` : roleWord(peer.role);
      const video = h('video', { class: 'call-remote-video', 'aria-label': t('call.video_of', { who: roleWord(peer.role) }), autoplay: true, playsinline: true });
      const caption = h('p', { class: 'call-caption' }, who);
      tile = { el: h('figure', { class: 'call-tile' }, video, h('figcaption', {}, caption)), video, caption };
      tiles.set(peer.id, tile);
      remoteBox.append(tile.el);
    }
    return tile;
  }

  const onTrack = (e) => {
    const { peer, stream } = e.detail;
    if (!stream) {
      const tile = tiles.get(peer.id);
      if (tile) { tile.video.srcObject = null; tile.el.remove(); tiles.delete(peer.id); }
      return;
    }
    const tile = tileFor(peer);
    if (tile.video.srcObject !== stream) tile.video.srcObject = stream;
    tile.video.play().catch((err) => {
      // No click on this page yet: the browser refuses sound. Play muted and offer the sound.
      if (err?.name !== 'NotAllowedError') return;
      tile.video.muted = true;
      tile.video.play().catch(() => {});
      if (!soundBtn.isConnected) tile.el.after(soundBtn);
    });
  };
  const soundBtn = h('button', { type: 'button', class: 'secondary', onclick: () => {
    for (const tile of tiles.values()) { tile.video.muted = false; tile.video.play().catch(() => {}); }
    soundBtn.remove();
  } }, t('call.sound_on'));
  const onState = (e) => {
    const { state, reason } = e.detail;
    // The overlay covers the picture only when it is really gone: our own socket is down, or no
    // connection carries media. A peer's socket coming back while its media flows is only news.
    const mediaUp = [...call.peers.values()].some((p) => p.pc && p.pc.connectionState === 'connected' && !p.mediaLost);
    overlay.hidden = !(state === 'reconnecting' && (!call.ws || !mediaUp));
    let text;
    if (state === 'connecting') text = reason === 'waiting' ? (waitingText || t('call.connecting')) : t('call.connecting');
    else if (state === 'connected') text = t('call.connected');
    else if (state === 'reconnecting') {
      const away = [...call.peers.values()].find((p) => p.reconnecting);
      text = away && call.ws ? t('call.peer_reconnecting', { who: roleWord(away.role) })
        : reason === 'media' && call.ws ? t('call.media_lost') : t('call.reconnecting');
    } else text = endReasonText(reason) || t('call.ended');
    status.textContent = text;
    status.dataset.state = state;
  };
  const onQuality = (e) => {
    const q = e.detail;
    quality.dataset.level = q.level;
    quality.textContent = t('call.quality', { level: t('call.q.' + q.level) }) + (q.candidateType === 'relay' ? ' ' + t('call.q.relay') : '');
    debugList.textContent = [
      `rtt: ${q.rtt === null || q.rtt === undefined ? '–' : Math.round(q.rtt)} ms`,
      `loss: ${q.loss.toFixed(1)} %`,
      `jitter: ${Math.round(q.jitter)} ms`,
      `bitrate: ${Math.round(q.bitrate)} kbps`,
      `candidate: ${q.candidateType || '–'}`,
      `signaling rtt: ${q.signalRtt ?? '–'} ms`,
      `media outages: ${q.outages || 0} (${Math.round((q.mediaLostMs || 0) / 1000)} s)${call.forceRelay ? ', relay only' : ''}`,
      '',
      ...call.log.slice(-15),
    ].join('\n');
  };
  const onAudioOnly = (e) => {
    if (e.detail.suggested) { advice.textContent = t('call.suggest_audio'); advice.hidden = false; }
    else if (e.detail.on) { advice.textContent = t('call.audio_only_on'); advice.hidden = false; }
    else advice.hidden = true;
  };
  const onPeers = () => onState({ detail: { state: call.state, reason: call.reason } });
  call.addEventListener('track', onTrack);
  call.addEventListener('state', onState);
  call.addEventListener('quality', onQuality);
  call.addEventListener('audioonly', onAudioOnly);
  call.addEventListener('controls', controls);
  call.addEventListener('peers', onPeers);
  controls();
  onState({ detail: { state: call.state, reason: call.reason } });

  const el = h('section', { class: 'call-stage', 'aria-label': t('call.stage') },
    h('div', { class: 'call-videos' }, remoteBox, selfVideo, overlay),
    status,
    noMedia,
    advice,
    h('div', { class: 'call-controls row' }, micBtn, camBtn, audioBtn, endButton),
    quality,
    debug);
  return {
    el,
    destroy() {
      call.removeEventListener('track', onTrack);
      call.removeEventListener('state', onState);
      call.removeEventListener('quality', onQuality);
      call.removeEventListener('audioonly', onAudioOnly);
      call.removeEventListener('controls', controls);
      call.removeEventListener('peers', onPeers);
      for (const tile of tiles.values()) tile.video.srcObject = null;
      selfVideo.srcObject = null;
    },
  };
}

// --- the pre-call test -------------------------------------------------------------------------

/**
 * Camera, microphone and network against the server's echo peer (`POST /v1/rtc/echo`, a
 * non-trickle offer gathered with the STUN/TURN servers of `GET /v1/rtc/ice-servers`;
 * `GET /v1/rtc/echo/{id}` for the report). Resolves to the last EchoReport
 * (with `verdict`), or `{verdict: 'no_devices'}` when the browser gives no camera or microphone.
 * `onProgress(report)` sees the reports as they come. `forceRelay` (default: the page's switch,
 * `forceRelayWanted()`) asks the echo to answer through the relay only.
 */
export async function precallTest(api, { onProgress, forceRelay = forceRelayWanted() } = {}) {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch {
    try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch { return { verdict: 'no_devices' }; }
  }
  // The phone's own STUN/TURN path is part of what is tested: the same servers a call gets.
  let iceServers = [];
  try {
    iceServers = (await api.get('/v1/rtc/ice-servers')).ice_servers || [];
  } catch { /* the test still runs on host candidates */ }
  const pc = new RTCPeerConnection({ iceServers });
  try {
    for (const tr of stream.getTracks()) pc.addTrack(tr, stream);
    const dc = pc.createDataChannel('echo');
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
      pc.addEventListener('icegatheringstatechange', done);
      setTimeout(resolve, 4000);
    });
    const answer = await api.post('/v1/rtc/echo', { type: 'offer', sdp: pc.localDescription.sdp, force_relay: forceRelay || undefined });
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    const ping = setInterval(() => { if (dc.readyState === 'open') dc.send(String(Date.now())); }, 500);
    const started = Date.now();
    let report = null;
    try {
      for (;;) {
        await new Promise((r) => setTimeout(r, 800));
        report = await api.get(`/v1/rtc/echo/${answer.session_id}`);
        onProgress?.(report);
        const age = Date.now() - started;
        if (report.verdict === 'cannot_connect') break;
        if (report.verdict === 'video_ok' && age > 2500) break;
        if (report.verdict !== 'pending' && age > 6000) break;
        if (age > 25000) break;
      }
    } finally {
      clearInterval(ping);
    }
    return report;
  } finally {
    pc.close();
    for (const tr of stream.getTracks()) tr.stop();
  }
}

/** The verdict in plain words. */
export function verdictText(verdict) {
  if (verdict === 'video_ok') return t('precall.video_ok');
  if (verdict === 'audio_only') return t('precall.audio_only');
  if (verdict === 'no_devices') return t('precall.no_devices');
  if (verdict === 'pending') return t('precall.running');
  return t('precall.cannot_connect');
}
