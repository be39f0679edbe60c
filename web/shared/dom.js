// Small DOM helpers: build elements without innerHTML (text is always text), announce changes to
// screen readers, move focus to what a view is about.

/**
 * `h('button', {type: 'button', onclick: f, class: 'x'}, 'Gửi')`. Attributes starting with `on`
 * become listeners; `null`/`false` attributes are skipped; children may be strings, nodes or arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden' || k === 'multiple') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let liveRegion = null;
/** Say something to screen readers (polite), e.g. "3 new reports". */
export function announce(text) {
  if (!liveRegion) {
    liveRegion = h('div', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
    document.body.append(liveRegion);
  }
  liveRegion.textContent = '';
  setTimeout(() => { liveRegion.textContent = text; }, 50);
}

/** Focus the main heading of a freshly rendered view (keyboard and screen-reader users). */
export function focusHeading(root) {
  const hd = root.querySelector('h1, h2');
  if (hd) {
    if (!hd.hasAttribute('tabindex')) hd.setAttribute('tabindex', '-1');
    hd.focus({ preventScroll: false });
  }
}

/** An error box that names the problem and links to each field with an error (GOV.UK style). */
export function errorSummary(title, items) {
  const box = h('div', { class: 'error-summary', role: 'alert', tabindex: '-1' },
    h('h2', {}, title),
    items.length ? h('ul', {}, items.map(({ text, field }) => h('li', {}, field ? h('a', { href: '#' + field }, text) : text))) : null);
  setTimeout(() => box.focus(), 0);
  return box;
}
