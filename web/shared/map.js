// A small map on vendored Leaflet that needs no tile server: it draws only what the ward owns
// (GeoJSON outlines of its areas, when the API gives them) and reports as circle markers, and
// groups markers that would overlap into numbered clusters. Works under the strict CSP (Leaflet
// sets styles through the CSSOM only; no marker images are used).
//
//   const m = createMap(el, { label: 'Bản đồ phản ánh' });
//   m.outlines(geojson);                    // optional: area outlines
//   m.points([{lat, lon, kind, title, href}], { cluster: true });
//   m.fit();
//
// A map is not usable by everyone: pages should also list what it shows.

import * as L from '../vendor/leaflet/leaflet-src.esm.js';

/**
 * Leaflet's stylesheet comes with the map, not with the page: a `<link>` added here (CSP
 * `style-src 'self'` allows it), placed before the app's own stylesheet so the app's rules on
 * `.leaflet-*` still win. The module finishes loading once it has arrived (or after 4 s without
 * it), so `await import('…/map.js')` gives a map that is styled from its first frame.
 */
async function leafletCss() {
  const href = new URL('../vendor/leaflet/leaflet.css', import.meta.url).href;
  let link = [...document.querySelectorAll('link[rel="stylesheet"]')].find((l) => l.href === href);
  if (link && link.sheet) return;
  if (!link) {
    link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    // After the shared base stylesheet, before the app's (the order the pages used to have).
    const sheets = [...document.querySelectorAll('link[rel="stylesheet"]')];
    const base = sheets.filter((l) => l.href.includes('/shared/')).pop();
    if (base) base.after(link);
    else if (sheets[0]) sheets[0].before(link);
    else document.head.append(link);
  }
  await new Promise((resolve) => {
    link.addEventListener('load', resolve, { once: true });
    link.addEventListener('error', resolve, { once: true });
    setTimeout(resolve, 4000);
  });
}
await leafletCss();

/** Leaflet puts string contents in with innerHTML: give it elements holding text instead. */
function textEl(text) {
  const span = document.createElement('span');
  span.textContent = text;
  return span;
}

/** Colours of point kinds (AA contrast on white for the outlines). */
const KIND = {
  late: { color: '#8f1d17', fill: '#d93a2f' },
  risk: { color: '#6b3a00', fill: '#f0a030' },
  ok: { color: '#0b4f94', fill: '#3d8fe0' },
  done: { color: '#175c2c', fill: '#3fa35f' },
  focus: { color: '#1b1f24', fill: '#ffbf47' },
  other: { color: '#4a5360', fill: '#9aa5b1' },
};

/**
 * A map in `el`. Options: `label` (accessible name of the map region), `zoomIn`/`zoomOut`
 * (button titles, for the page's language), `onOpen(href)` (a marker was activated).
 */
export function createMap(el, { label = 'Map', zoomIn = '+', zoomOut = '−', onOpen } = {}) {
  el.setAttribute('role', 'region');
  el.setAttribute('aria-label', label);
  const map = L.map(el, {
    attributionControl: false,
    zoomControl: false,
    zoomSnap: 0.5,
    // No animations: views redraw and remove maps at any moment, and a running animation on a
    // removed map throws; people who prefer reduced motion get none either way.
    zoomAnimation: false,
    fadeAnimation: false,
    markerZoomAnimation: false,
    minZoom: 10,
    maxZoom: 20,
    preferCanvas: false,
  });
  L.control.zoom({ zoomInTitle: zoomIn, zoomOutTitle: zoomOut }).addTo(map);
  map.setView([10.7769, 106.7009], 14);
  const outlineLayer = L.featureGroup().addTo(map);
  const pointLayer = L.featureGroup().addTo(map);
  let lastPoints = [];
  let clusterOn = false;

  function drawPoints() {
    pointLayer.clearLayers();
    const groups = clusterOn ? cluster(lastPoints) : lastPoints.map((p) => [p]);
    for (const g of groups) {
      if (g.length === 1) {
        const p = g[0];
        const k = KIND[p.kind] || KIND.other;
        const m = L.circleMarker([p.lat, p.lon], {
          radius: p.kind === 'focus' ? 11 : 8,
          color: k.color,
          weight: 2,
          fillColor: k.fill,
          fillOpacity: 0.9,
        });
        if (p.title) m.bindTooltip(textEl(p.title));
        if (p.href && onOpen) m.on('click', () => onOpen(p.href));
        m.addTo(pointLayer);
      } else {
        const lat = g.reduce((s, p) => s + p.lat, 0) / g.length;
        const lon = g.reduce((s, p) => s + p.lon, 0) / g.length;
        const worst = ['late', 'risk', 'ok', 'done', 'other'].find((k) => g.some((p) => p.kind === k)) || 'other';
        const k = KIND[worst];
        const m = L.circleMarker([lat, lon], {
          radius: Math.min(26, 12 + Math.sqrt(g.length) * 3),
          color: k.color,
          weight: 3,
          fillColor: k.fill,
          fillOpacity: 0.75,
        });
        m.bindTooltip(textEl(String(g.length)), { permanent: true, direction: 'center', className: 'map-count' });
        m.on('click', () => map.fitBounds(L.latLngBounds(g.map((p) => [p.lat, p.lon])).pad(0.3), { animate: false }));
        m.addTo(pointLayer);
      }
    }
  }

  /** Points closer than 36 px on screen at the current zoom fall in one cluster. */
  function cluster(points) {
    const cell = 36;
    const cells = new Map();
    for (const p of points) {
      const pt = map.project([p.lat, p.lon], map.getZoom());
      const key = `${Math.floor(pt.x / cell)}:${Math.floor(pt.y / cell)}`;
      if (!cells.has(key)) cells.set(key, []);
      cells.get(key).push(p);
    }
    return [...cells.values()];
  }
  map.on('zoomend', () => { if (clusterOn) drawPoints(); });

  return {
    leaflet: map,
    /** Outlines from a GeoJSON object (FeatureCollection, Feature or geometry); `name` property shown on hover. */
    outlines(geojson) {
      outlineLayer.clearLayers();
      L.geoJSON(geojson, {
        style: () => ({ color: '#0b5cad', weight: 2, fillColor: '#0b5cad', fillOpacity: 0.06 }),
        onEachFeature: (f, layer) => { if (f.properties?.name) layer.bindTooltip(textEl(String(f.properties.name)), { sticky: true }); },
      }).addTo(outlineLayer);
    },
    /** Replace the points: `[{lat, lon, kind, title, href}]`. */
    points(points, { cluster: c = false } = {}) {
      lastPoints = points.filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon));
      clusterOn = c;
      drawPoints();
    },
    /** Fit the view to what is drawn (or keep the default view when nothing is). */
    fit(maxZoom = 18) {
      const b = L.latLngBounds([]);
      if (outlineLayer.getLayers().length) b.extend(outlineLayer.getBounds());
      for (const p of lastPoints) b.extend([p.lat, p.lon]);
      if (b.isValid()) map.fitBounds(b.pad(0.15), { maxZoom, animate: false });
      if (clusterOn) drawPoints();
    },
    invalidate() { map.invalidateSize(); },
    remove() { map.remove(); },
  };
}
