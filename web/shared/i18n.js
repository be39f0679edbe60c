// i18n: Vietnamese first, English when the browser (or the person) prefers it.
// Each app registers its own strings; shared modules register theirs here.

const dicts = { vi: {}, en: {} };
const KEY = 'wl.lang';

function initialLang() {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === 'vi' || saved === 'en') return saved;
  } catch { /* storage may be off */ }
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'vi'];
  for (const p of prefs) {
    const l = String(p).toLowerCase();
    if (l.startsWith('vi')) return 'vi';
    if (l.startsWith('en')) return 'en';
  }
  return 'vi';
}

let lang = initialLang();
const listeners = new Set();

/** The current language, `vi` or `en`. */
export function currentLang() { return lang; }

/** Switch language (remembered on this device), re-render via listeners. */
export function setLang(l) {
  if (l !== 'vi' && l !== 'en') return;
  lang = l;
  try { localStorage.setItem(KEY, l); } catch { /* ignore */ }
  document.documentElement.lang = l;
  for (const f of listeners) f(l);
}

export function onLangChange(f) { listeners.add(f); return () => listeners.delete(f); }

/** Add strings: `register({vi: {...}, en: {...}})`. Later keys win. */
export function register(more) {
  for (const l of ['vi', 'en']) Object.assign(dicts[l], more[l] || {});
}

/** Translate `key`, filling `{name}` from `vars`. Falls back to Vietnamese, then the key. */
export function t(key, vars) {
  let s = dicts[lang][key] ?? dicts.vi[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] ?? m));
  return s;
}

/** Fill `data-i18n` (text), `data-i18n-label` (aria-label), `data-i18n-placeholder` under root. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
}

document.documentElement.lang = lang;

// Strings the shared modules use.
register({
  vi: {
    'net.offline': 'Không có mạng. Đang chờ kết nối lại…',
    'net.error': 'Không kết nối được máy chủ. Vui lòng thử lại.',
    'auth.expired': 'Phiên đăng nhập đã hết hạn. Vui lòng đăng nhập lại.',
    'auth.forbidden': 'Bạn không có quyền xem nội dung này.',
    'live.connecting': 'Đang kết nối…',
    'live.online': 'Đang cập nhật trực tiếp',
    'live.offline': 'Mất kết nối, đang thử lại…',
    'status.submitted': 'Đã gửi',
    'status.received': 'Đã tiếp nhận',
    'status.assigned': 'Đã chuyển xử lý',
    'status.in_progress': 'Đang xử lý',
    'status.resolved': 'Đã xử lý',
    'status.rejected': 'Từ chối',
    'status.duplicate': 'Trùng',
    'status.closed': 'Đã đóng',
    'status.reopened': 'Mở lại',
    'severity.low': 'Thấp',
    'severity.normal': 'Bình thường',
    'severity.high': 'Cao',
    'severity.urgent': 'Khẩn cấp',
    'time.now': 'vừa xong',
    'time.min_ago': '{n} phút trước',
    'time.hour_ago': '{n} giờ trước',
    'time.day_ago': '{n} ngày trước',
    'time.in_min': 'còn {n} phút',
    'time.in_hour': 'còn {h} giờ {m} phút',
    'time.in_day': 'còn {d} ngày {h} giờ',
    'time.late_min': 'trễ {n} phút',
    'time.late_hour': 'trễ {h} giờ {m} phút',
    'time.late_day': 'trễ {d} ngày {h} giờ',
    'common.signout': 'Đăng xuất',
    'common.language': 'English',
  },
  en: {
    'net.offline': 'No network. Waiting to reconnect…',
    'net.error': 'Cannot reach the server. Please try again.',
    'auth.expired': 'Your session has ended. Please sign in again.',
    'auth.forbidden': 'You are not allowed to see this.',
    'live.connecting': 'Connecting…',
    'live.online': 'Live updates on',
    'live.offline': 'Connection lost, retrying…',
    'status.submitted': 'Submitted',
    'status.received': 'Received',
    'status.assigned': 'Assigned',
    'status.in_progress': 'In progress',
    'status.resolved': 'Resolved',
    'status.rejected': 'Rejected',
    'status.duplicate': 'Duplicate',
    'status.closed': 'Closed',
    'status.reopened': 'Reopened',
    'severity.low': 'Low',
    'severity.normal': 'Normal',
    'severity.high': 'High',
    'severity.urgent': 'Urgent',
    'time.now': 'just now',
    'time.min_ago': '{n} min ago',
    'time.hour_ago': '{n} h ago',
    'time.day_ago': '{n} days ago',
    'time.in_min': '{n} min left',
    'time.in_hour': '{h} h {m} min left',
    'time.in_day': '{d} d {h} h left',
    'time.late_min': '{n} min late',
    'time.late_hour': '{h} h {m} min late',
    'time.late_day': '{d} d {h} h late',
    'common.signout': 'Sign out',
    'common.language': 'Tiếng Việt',
  },
});
