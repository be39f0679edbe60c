// Tiny SVG bar charts a ward chairman can read: horizontal bars with their numbers written on
// them, each chart also given as a table (screen readers, printing, copying the figures). No
// styles needed: colours are SVG presentation attributes (allowed under the strict CSP).

const NS = 'http://www.w3.org/2000/svg';
let seq = 0;

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Colours with AA contrast against white for text and bars. */
export const PALETTE = ['#0b5cad', '#1b6e35', '#8a4b00', '#b3261e', '#5b3a9e'];

/**
 * A horizontal bar chart.
 * `rows`: `[{label, values: [n, …]}]`; `series`: `[{name, color?}]`; `format(n)` writes a value.
 * Returns a `<figure>` holding the SVG (role img, named by the caption) and a `<details>` table.
 */
export function barChart({ title, rows, series, format = (n) => String(n), max, tableLabel = 'Table', groupLabel = '' }) {
  const id = `chart-${(seq += 1)}`;
  const labelW = 190;
  const barH = 18;
  const gap = 4;
  const groupGap = 14;
  const width = 640;
  const plotW = width - labelW - 70;
  const top = 8 + series.length * 22;
  const top2 = top + 6;
  const groupH = series.length * (barH + gap) + groupGap;
  const height = top2 + rows.length * groupH + 4;
  const biggest = max ?? Math.max(1, ...rows.flatMap((r) => r.values.map((v) => (Number.isFinite(v) ? v : 0))));
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-cap`, class: 'chart', width: '100%' });

  // Legend.
  series.forEach((s, i) => {
    const color = s.color || PALETTE[i % PALETTE.length];
    root.append(svg('rect', { x: labelW, y: 6 + i * 22, width: 14, height: 14, fill: color }));
    root.append(svg('text', { x: labelW + 20, y: 18 + i * 22, 'font-size': 14, fill: '#1b1f24' }, s.name));
  });

  rows.forEach((r, ri) => {
    const y0 = top2 + ri * groupH;
    const label = r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label;
    root.append(svg('text', { x: labelW - 8, y: y0 + (series.length * (barH + gap)) / 2 + 5, 'text-anchor': 'end', 'font-size': 14, fill: '#1b1f24' }, label));
    r.values.forEach((v, si) => {
      const color = series[si].color || PALETTE[si % PALETTE.length];
      const n = Number.isFinite(v) ? v : 0;
      const w = Math.max(n > 0 ? 2 : 0, (n / biggest) * plotW);
      const y = y0 + si * (barH + gap);
      root.append(svg('rect', { x: labelW, y, width: w, height: barH, fill: color }));
      root.append(svg('text', { x: labelW + w + 6, y: y + barH - 4, 'font-size': 14, fill: '#1b1f24' }, Number.isFinite(v) ? format(v) : '–'));
    });
  });

  const fig = document.createElement('figure');
  fig.className = 'chart-figure';
  const cap = document.createElement('figcaption');
  cap.id = `${id}-cap`;
  cap.textContent = title;
  fig.append(cap, root);

  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = `${tableLabel}: ${title}`;
  const table = document.createElement('table');
  const thead = table.createTHead().insertRow();
  const th0 = document.createElement('th');
  th0.scope = 'col';
  th0.textContent = groupLabel;
  thead.append(th0);
  for (const s of series) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = s.name;
    thead.append(th);
  }
  const tbody = table.createTBody();
  for (const r of rows) {
    const tr = tbody.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = r.label;
    tr.append(th);
    for (const v of r.values) tr.insertCell().textContent = Number.isFinite(v) ? format(v) : '–';
  }
  details.append(summary, table);
  fig.append(details);
  return fig;
}
