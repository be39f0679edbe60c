// A WebSocket that comes back by itself: reconnects with capped, jittered backoff, fetches a
// fresh URL (tokens expire) before each attempt, and reports its state for a visible indicator.

/**
 * `url` is an async function returning the URL to open (e.g. with a fresh token).
 * Callbacks: `onMessage(data)`, `onState(state)` with state `connecting` | `open` | `closed`,
 * `onOpen(ws, isReconnect)`, `onClose(event)` — return `false` from it to stop reconnecting.
 */
export function liveSocket({ url, onMessage, onState, onOpen, onClose, protocols }) {
  let ws = null;
  let stopped = false;
  let attempt = 0;
  let timer = null;
  let opened = false;

  const setState = (s) => onState?.(s);

  async function connect() {
    if (stopped) return;
    setState('connecting');
    let target;
    try {
      target = await url();
    } catch {
      target = null;
    }
    if (stopped) return;
    if (!target) return retry();
    const abs = new URL(target, location.href);
    abs.protocol = abs.protocol === 'https:' ? 'wss:' : abs.protocol === 'http:' ? 'ws:' : abs.protocol;
    try {
      ws = new WebSocket(abs, protocols);
    } catch {
      return retry();
    }
    ws.onopen = () => {
      const again = opened;
      opened = true;
      attempt = 0;
      setState('open');
      onOpen?.(ws, again);
    };
    ws.onmessage = (e) => {
      let data = e.data;
      if (typeof data === 'string') {
        try { data = JSON.parse(data); } catch { /* leave as text */ }
      }
      onMessage?.(data);
    };
    ws.onclose = (e) => {
      ws = null;
      if (stopped) return;
      setState('closed');
      if (onClose?.(e) === false) {
        stopped = true;
        return;
      }
      retry();
    };
  }

  function retry() {
    if (stopped) return;
    setState('closed');
    const delay = Math.min(15000, 500 * 2 ** Math.min(attempt, 5)) * (0.7 + Math.random() * 0.6);
    attempt += 1;
    clearTimeout(timer);
    timer = setTimeout(connect, navigator.onLine === false ? Math.max(delay, 1000) : delay);
  }

  // Back online: try now rather than at the end of the backoff.
  const kick = () => {
    if (!stopped && !ws) {
      clearTimeout(timer);
      attempt = 0;
      connect();
    }
  };
  window.addEventListener('online', kick);

  connect();
  return {
    send(msg) {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
        return true;
      }
      return false;
    },
    get socket() { return ws; },
    close(code = 1000, reason = '') {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener('online', kick);
      if (ws) ws.close(code, reason);
    },
  };
}
