// Web Push: the "Nhận thông báo" switch on the notifications screen. Turning it on asks the
// browser's permission, subscribes this browser's push service with the server's VAPID key and
// hands the subscription to the server (`POST /v1/me/push-subscriptions`); turning it off removes
// it there and in the browser. The service worker (sw.js) shows what arrives. Loaded on demand.

import { h, mount } from '../shared/dom.js';
import { t } from '../shared/i18n.js';

/** Can this browser receive pushes at all (iPhones only once the app is on the home screen)? */
export function supported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function sameKey(buffer, b64url) {
  if (!buffer) return false;
  const a = new Uint8Array(buffer);
  const b = keyBytes(b64url);
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function registration() {
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg || navigator.serviceWorker.ready;
}

/** This browser's subscription, if it has one. */
export async function currentSubscription() {
  if (!supported()) return null;
  const reg = await navigator.serviceWorker.getRegistration('/');
  return reg ? reg.pushManager.getSubscription() : null;
}

/** Ask, subscribe, and tell the server. Throws `Error('denied')` when permission is refused. */
export async function enable(api) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') throw new Error('denied');
  const reg = await registration();
  const { public_key: key } = await api.get('/v1/push/vapid-public-key', { auth: false });
  let sub = await reg.pushManager.getSubscription();
  // Made with another server key (it was replaced): the push service would refuse our pushes.
  if (sub && !sameKey(sub.options?.applicationServerKey, key)) {
    await sub.unsubscribe();
    sub = null;
  }
  if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  await api.post('/v1/me/push-subscriptions', sub.toJSON());
}

/** Remove this browser's subscription from the server and from the push service. */
export async function disable(api) {
  const sub = await currentSubscription();
  if (!sub) return;
  try {
    await api.request('DELETE', '/v1/me/push-subscriptions', { endpoint: sub.endpoint });
  } catch (e) {
    if (e?.status !== 404) throw e;
  }
  await sub.unsubscribe();
}

/** Tell the server again about a subscription the browser still holds (on every start: the
 * account may have changed, or the server forgotten it). Quiet on failure. */
export async function refresh(api) {
  try {
    if (!supported() || Notification.permission !== 'granted') return;
    const sub = await currentSubscription();
    if (sub) await api.post('/v1/me/push-subscriptions', sub.toJSON());
  } catch { /* next start */ }
}

/** The switch, with its explanation and a status line, into `el`. */
export async function pushSwitch(el, api) {
  const status = h('p', { class: 'muted', role: 'status' });
  if (!supported()) {
    mount(el, h('p', { class: 'muted' }, t('push.unsupported')));
    return;
  }
  let on = Notification.permission === 'granted' && !!(await currentSubscription().catch(() => null));
  const button = h('button', { type: 'button', role: 'switch', class: 'switch', 'aria-checked': String(on) },
    h('span', { class: 'switch-track', 'aria-hidden': 'true' }, h('span', { class: 'switch-thumb' })),
    h('span', {}, t('push.switch')));
  const show = (text) => { status.textContent = text; };
  const hint = h('p', { class: 'muted', id: 'push-hint' }, t('push.hint'));
  button.setAttribute('aria-describedby', 'push-hint');
  if (Notification.permission === 'denied') show(t('push.denied'));
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      if (on) {
        await disable(api);
        on = false;
        show(t('push.off'));
      } else {
        await enable(api);
        on = true;
        show(t('push.on'));
      }
    } catch (e) {
      show(e?.message === 'denied' ? t('push.denied') : t('push.failed'));
    } finally {
      button.disabled = false;
      button.setAttribute('aria-checked', String(on));
    }
  });
  mount(el, button, hint, status);
}
