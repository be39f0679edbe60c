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
const STATS_EVERY_MS = 2000;

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
  }
}

/**
 * A call. `new Call({api, consultationId, localStream})`, then `await call.start()`.
 * Events (`addEventListener`): `state` {state, reason} with state `connecting` | `connected` |
 * `reconnecting` | `ended`; `peers` (the roster changed); `track` {peer, stream}; `quality`
 * {level, rtt, loss, jitter, bitrate, candidateType}; `audioonly` {on, suggested}.
 */
export class Call extends EventTarget {
  constructor({ api, consultationId, localStream }) {
    super();
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
    const ok = peers.some((p) => p.pc && p.pc.connectionState === 'connected');
    const trouble = peers.some((p) => p.reconnecting || (p.pc && ['disconnected', 'failed'].includes(p.pc.connectionState)));
    if (ok && !trouble) this.setState('connected');
    else if (trouble || (this.state === 'reconnecting')) this.setState('reconnecting');
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

  /** A fresh ticket (a refused socket looks like a plain 1006 close, and tickets expire). */
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
        return this.finish(e.reason || 'forbidden');
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

  reconnect() {
    if (this.ended || this.ws || this.reconnectTimer) return;
    // Offline: wait for the network (the `online` event), checking now and then in case the
    // browser's idea of being online is wrong.
    const delay = navigator.onLine === false ? 3000 : Math.min(4000, 300 * 2 ** Math.min(this.failures, 4));
    this.reconnectTimer = this.later(delay, async () => {
      this.reconnectTimer = null;
      if (this.ended || this.ws) return;
      if (navigator.onLine === false) return this.reconnect();
      const expired = this.ticket && new Date(this.ticket.expires_at).getTime() < Date.now() + 5000;
      if (this.failures >= 2 || expired) {
        const ok = await this.refreshTicket();
        if (this.ended) return;
        if (!ok) { this.failures += 1; return this.reconnect(); }
        this.failures = 0;
      }
      this.open();
    });
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
    clearTimeout(this.reconnectTimer);
    this.timers.delete(this.reconnectTimer);
    this.reconnectTimer = null;
    this.failures = 0;
    this.reconnect();
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
      try { p.pc?.setConfiguration({ ...p.pc.getConfiguration(), iceServers: list }); } catch { /* keep */ }
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
        this.setIceServers(m.ice_servers);
        this.startPing(this.ticket?.ping_interval_ms, this.ticket?.ping_timeout_ms);
        for (const p of this.peers.values()) {
          if (!p.pc) continue;
          if (p.pc.signalingState === 'have-local-offer' && p.pc.localDescription) {
            // Our offer may have gone nowhere while the socket was down.
            this.send({ type: 'offer', to: p.id, sdp: p.pc.localDescription.sdp });
          } else if (m.ice_restart || m.gap) {
            this.restart(p, 'resumed');
          }
        }
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
          if (m.ice_restart) this.restart(p, 'peer_resumed');
        }
        this.emit('peers');
        this.refreshState();
        break;
      }
      case 'ice_restart':
        this.setIceServers(m.ice_servers);
        for (const p of this.peers.values()) this.restart(p, 'network_changed', true);
        break;
      case 'peer_network_changed': {
        const p = this.peers.get(m.participant_id);
        if (p) this.restart(p, 'peer_network_changed');
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
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
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
   * An ICE restart towards a peer. The server tells both sides of a pair to restart after a
   * resume or a network change; only the impolite one does, unless `anyway` (our own network
   * changed, or the connection failed).
   */
  restart(p, why, anyway = false) {
    if (!p.pc || this.ended) return;
    if (p.polite && !anyway) {
      // The other side restarts; if the connection is still down after a while, we do.
      clearTimeout(p.restartTimer);
      p.restartTimer = this.later(6000, () => {
        if (p.pc && p.pc.connectionState !== 'connected') this.restart(p, why + ' (late)', true);
      });
      return;
    }
    this.note('ice restart ' + p.role + ' (' + why + ')');
    try { p.pc.restartIce(); } catch { /* old browser */ }
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

  /** The first connected peer's figures (the doctor–resident pair in a two-way call). */
  async measure() {
    if (this.ended) return;
    const p = [...this.peers.values()].find((x) => x.pc && x.pc.connectionState === 'connected');
    if (!p) return;
    let report;
    try { report = await p.pc.getStats(); } catch { return; }
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
    if (!prev) return;
    const dRecv = received - prev.received;
    const dLost = lost - prev.lost;
    const dt = (now - prev.at) / 1000;
    const loss = dRecv + dLost > 0 ? (100 * dLost) / (dRecv + dLost) : 0;
    const bitrate = dt > 0 ? ((bytes - prev.bytes) * 8) / dt / 1000 : 0;
    const rtt = cp && typeof cp.currentRoundTripTime === 'number' ? cp.currentRoundTripTime * 1000 : null;
    const level = loss > 8 || (rtt !== null && rtt > 700) ? 'poor' : loss > 2 || (rtt !== null && rtt > 300) ? 'fair' : 'good';
    this.quality = {
      level, rtt, loss, jitter, bitrate,
      candidateType: local?.candidateType || null,
      signalRtt: this.signalRtt ?? null,
    };
    this.sum = this.sum || { n: 0, rtt: 0, rttN: 0, loss: 0, jitter: 0, bitrate: 0 };
    this.sum.n += 1;
    if (rtt !== null) { this.sum.rtt += rtt; this.sum.rttN += 1; }
    this.sum.loss += loss;
    this.sum.jitter += jitter;
    this.sum.bitrate += bitrate;
    this.adapt(level);
    this.emit('quality', this.quality);
  }

  /** The quality ladder: full video → smaller, cheaper video → suggest audio only. */
  adapt(level) {
    if (level === 'poor') { this.poorStreak += 1; this.goodStreak = 0; } else if (level === 'good') { this.goodStreak += 1; this.poorStreak = 0; }
    if (!this.stepDown && this.poorStreak >= 3) {
      this.stepDown = true;
      this.setVideoEncoding({ maxBitrate: 250000, scaleResolutionDownBy: 2, maxFramerate: 15 });
    } else if (this.stepDown && this.goodStreak >= 10) {
      this.stepDown = false;
      this.setVideoEncoding({ maxBitrate: undefined, scaleResolutionDownBy: 1, maxFramerate: undefined });
    }
    if (!this.audioOnly && this.poorStreak === 8) this.emit('audioonly', { on: false, suggested: true });
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
    const mediaUp = [...call.peers.values()].some((p) => p.pc && p.pc.connectionState === 'connected');
    overlay.hidden = !(state === 'reconnecting' && (!call.ws || !mediaUp));
    let text;
    if (state === 'connecting') text = reason === 'waiting' ? (waitingText || t('call.connecting')) : t('call.connecting');
    else if (state === 'connected') text = t('call.connected');
    else if (state === 'reconnecting') {
      const away = [...call.peers.values()].find((p) => p.reconnecting);
      text = away && call.ws ? t('call.peer_reconnecting', { who: roleWord(away.role) }) : t('call.reconnecting');
    } else text = reason === 'replaced' ? t('call.replaced') : t('call.ended');
    status.textContent = text;
    status.dataset.state = state;
  };
  const onQuality = (e) => {
    const q = e.detail;
    quality.dataset.level = q.level;
    quality.textContent = t('call.quality', { level: t('call.q.' + q.level) }) + (q.candidateType === 'relay' ? ' ' + t('call.q.relay') : '');
    debugList.textContent = [
      `rtt: ${q.rtt === null ? '–' : Math.round(q.rtt)} ms`,
      `loss: ${q.loss.toFixed(1)} %`,
      `jitter: ${Math.round(q.jitter)} ms`,
      `bitrate: ${Math.round(q.bitrate)} kbps`,
      `candidate: ${q.candidateType || '–'}`,
      `signaling rtt: ${q.signalRtt ?? '–'} ms`,
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
 * non-trickle offer; `GET /v1/rtc/echo/{id}` for the report). Resolves to the last EchoReport
 * (with `verdict`), or `{verdict: 'no_devices'}` when the browser gives no camera or microphone.
 * `onProgress(report)` sees the reports as they come.
 */
export async function precallTest(api, { onProgress, forceRelay = false } = {}) {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch {
    try { stream = await navigator.mediaDevices.getUserMedia({ audio: true }); } catch { return { verdict: 'no_devices' }; }
  }
  const pc = new RTCPeerConnection();
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
