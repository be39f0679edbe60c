// Photos are made small on the phone before they travel: a 12-megapixel camera JPEG of 4–8 MB
// becomes a ~2-megapixel one of a few hundred KB, which is what the ward needs to see a pothole
// and what a weak 3G line can carry. Where the photo was taken (EXIF GPS) is read first from the
// original, because redrawing it drops all metadata (which is also what we want to send).

export const MAX_SIDE = 2048;
export const QUALITY = 0.8;

/**
 * Downscale `file` to at most MAX_SIDE on the long side, orientation applied, as a JPEG Blob.
 * Returns `{blob, width, height, gps, takenAt}` (gps/takenAt from the original's EXIF, if any).
 */
export async function preparePhoto(file) {
  const meta = await readExif(file).catch(() => ({}));
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    bitmap = await decodeWithImg(file);
  }
  const w0 = bitmap.width;
  const h0 = bitmap.height;
  const scale = Math.min(1, MAX_SIDE / Math.max(w0, h0));
  const width = Math.max(1, Math.round(w0 * scale));
  const height = Math.max(1, Math.round(h0 * scale));
  let blob;
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    blob = await canvas.convertToBlob({ type: 'image/jpeg', quality: QUALITY });
  } else {
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    blob = await new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('encode'))), 'image/jpeg', QUALITY));
    canvas.width = 0; // give the memory back at once on small phones
  }
  if (bitmap.close) bitmap.close();
  return { blob, width, height, gps: meta.gps || null, takenAt: meta.takenAt || null };
}

/** Older browsers: decode through an <img> (orientation is applied by CSS image-orientation). */
function decodeWithImg(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
    img.onerror = () => { URL.revokeObjectURL(url); reject(new Error('decode')); };
    img.src = url;
  });
}

/**
 * GPS position and capture time from a JPEG's EXIF block (APP1), if present. Reads only the first
 * 256 KB. Returns `{gps: {lat, lon}, takenAt: ISO string}` with what it found.
 */
export async function readExif(file) {
  const buf = await file.slice(0, 256 * 1024).arrayBuffer();
  const v = new DataView(buf);
  if (v.byteLength < 4 || v.getUint16(0) !== 0xffd8) return {};
  let off = 2;
  while (off + 4 <= v.byteLength) {
    const marker = v.getUint16(off);
    const size = v.getUint16(off + 2);
    if (marker === 0xffe1 && off + 10 <= v.byteLength && v.getUint32(off + 4) === 0x45786966) {
      return parseTiff(v, off + 10, Math.min(v.byteLength, off + 2 + size));
    }
    if ((marker & 0xff00) !== 0xff00 || marker === 0xffda) break;
    off += 2 + size;
  }
  return {};
}

function parseTiff(v, start, end) {
  const little = v.getUint16(start) === 0x4949;
  const u16 = (o) => v.getUint16(start + o, little);
  const u32 = (o) => v.getUint32(start + o, little);
  const inRange = (o, n) => start + o + n <= end;
  const entries = (ifd) => {
    const out = new Map();
    if (!inRange(ifd, 2)) return out;
    const n = u16(ifd);
    for (let i = 0; i < n; i++) {
      const e = ifd + 2 + i * 12;
      if (!inRange(e, 12)) break;
      out.set(u16(e), { type: u16(e + 2), count: u32(e + 4), at: e + 8 });
    }
    return out;
  };
  const rationals = (ent) => {
    const o = u32(ent.at);
    const vals = [];
    for (let i = 0; i < ent.count && inRange(o + i * 8, 8); i++) {
      const den = u32(o + i * 8 + 4);
      vals.push(den ? u32(o + i * 8) / den : 0);
    }
    return vals;
  };
  const ascii = (ent) => {
    const o = ent.count > 4 ? u32(ent.at) : ent.at;
    let s = '';
    for (let i = 0; i < ent.count - 1 && inRange(o + i, 1); i++) s += String.fromCharCode(v.getUint8(start + o + i));
    return s;
  };
  const out = {};
  const ifd0 = entries(u32(4));
  const gpsPtr = ifd0.get(0x8825);
  if (gpsPtr) {
    const g = entries(u32(gpsPtr.at));
    const lat = g.get(2);
    const lon = g.get(4);
    if (lat && lon && lat.count === 3 && lon.count === 3) {
      const dms = (r) => r[0] + r[1] / 60 + r[2] / 3600;
      let la = dms(rationals(lat));
      let lo = dms(rationals(lon));
      if (g.get(1) && ascii(g.get(1)) === 'S') la = -la;
      if (g.get(3) && ascii(g.get(3)) === 'W') lo = -lo;
      if (Number.isFinite(la) && Number.isFinite(lo) && (la !== 0 || lo !== 0) && Math.abs(la) <= 90 && Math.abs(lo) <= 180) {
        out.gps = { lat: la, lon: lo };
      }
    }
  }
  const exifPtr = ifd0.get(0x8769);
  if (exifPtr) {
    const ex = entries(u32(exifPtr.at));
    const dt = ex.get(0x9003);
    if (dt) {
      // "2026:12:07 14:05:00", camera local time: the ward's (+07:00).
      const m = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})/.exec(ascii(dt));
      if (m) {
        const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+07:00`);
        if (!Number.isNaN(d.getTime()) && d.getTime() <= Date.now() + 86400000) out.takenAt = d.toISOString();
      }
    }
  }
  return out;
}
