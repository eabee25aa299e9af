/**
 * Token x token maps as one raster image (a BMP data URL, one pixel per cell) instead of T*T vega
 * marks: a 128-token map is 16,384 cells, which as marks costs hundreds of ms per update and shows
 * anti-aliasing seams. The colours come from a vega colour scheme through a 256-entry lookup table
 * (the maps are 8-bit quantised anyway).
 */
import { scheme } from 'vega';

export type Rgb = [number, number, number];

export function parseColor(c: string, fallback: Rgb = [255, 255, 255]): Rgb {
  const s = c.trim();
  let m = /^#([0-9a-f]{6})$/i.exec(s);
  if (m) return [parseInt(m[1].slice(0, 2), 16), parseInt(m[1].slice(2, 4), 16), parseInt(m[1].slice(4, 6), 16)];
  m = /^#([0-9a-f]{3})$/i.exec(s);
  if (m) return [0, 1, 2].map((i) => parseInt(m![1][i] + m![1][i], 16)) as Rgb;
  m = /^rgba?\(\s*([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)/i.exec(s);
  if (m) return [Math.round(+m[1]), Math.round(+m[2]), Math.round(+m[3])];
  if (/^white$/i.test(s)) return [255, 255, 255];
  if (/^black$/i.test(s)) return [0, 0, 0];
  return fallback;
}

/** The colour of each byte value b (value = min + b / 255 * (max - min)). Signed ranges use a
 * diverging scheme centred on 0. `domain` (default [min, max]) is the value range the colour scheme
 * spans: give one domain to every map that must be comparable (all heads, all checkpoints), and
 * values map to the same colour in all of them. Returns [256 * 3] RGB. */
export function colorLut(name: string, min: number, max: number, signed: boolean, domain?: [number, number]): Uint8Array {
  const interp = scheme(name) as (t: number) => string;
  const lut = new Uint8Array(256 * 3);
  const [d0, d1] = domain ?? [min, max];
  const M = Math.max(Math.abs(d0), Math.abs(d1)) || 1;
  for (let b = 0; b < 256; b++) {
    const v = min + (b / 255) * (max - min);
    const t = signed ? (v + M) / (2 * M) : d1 > d0 ? (v - d0) / (d1 - d0) : 0;
    const [r, g, bl] = parseColor(interp(Math.max(0, Math.min(1, t))));
    lut[b * 3] = r;
    lut[b * 3 + 1] = g;
    lut[b * 3 + 2] = bl;
  }
  return lut;
}

/** A CSS linear-gradient for a legend bar (bottom = min, top = max). */
export function lutGradient(lut: Uint8Array): string {
  const stops: string[] = [];
  for (let i = 0; i <= 8; i++) {
    const b = Math.round((i / 8) * 255);
    stops.push(`rgb(${lut[b * 3]},${lut[b * 3 + 1]},${lut[b * 3 + 2]}) ${(i / 8) * 100}%`);
  }
  return `linear-gradient(to top, ${stops.join(', ')})`;
}

function base64(bytes: Uint8Array): string {
  let s = '';
  const CH = 0x8000;
  for (let i = 0; i < bytes.length; i += CH) s += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + CH)));
  return btoa(s);
}

/**
 * An n x n 24-bit BMP: cell (q, k) at row q (top) and column k gets lut[bytes[q*n+k]]; cells with
 * present[q*n+k] = 0 (the unstored upper triangle of a causal map) get `empty`.
 */
export function bmpDataUrl(bytes: Uint8Array, present: Uint8Array | null, n: number, lut: Uint8Array, empty: Rgb): string {
  const rowSize = Math.ceil((n * 3) / 4) * 4;
  const size = 54 + rowSize * n;
  const buf = new Uint8Array(size);
  const dv = new DataView(buf.buffer);
  buf[0] = 0x42;
  buf[1] = 0x4d;
  dv.setUint32(2, size, true);
  dv.setUint32(10, 54, true);
  dv.setUint32(14, 40, true);
  dv.setInt32(18, n, true);
  dv.setInt32(22, n, true); // positive height: rows bottom-up
  dv.setUint16(26, 1, true);
  dv.setUint16(28, 24, true);
  dv.setUint32(34, rowSize * n, true);
  for (let q = 0; q < n; q++) {
    let o = 54 + (n - 1 - q) * rowSize;
    for (let k = 0; k < n; k++) {
      const i = q * n + k;
      if (present && !present[i]) {
        buf[o++] = empty[2];
        buf[o++] = empty[1];
        buf[o++] = empty[0];
      } else {
        const b = bytes[i] * 3;
        buf[o++] = lut[b + 2];
        buf[o++] = lut[b + 1];
        buf[o++] = lut[b];
      }
    }
  }
  return 'data:image/bmp;base64,' + base64(buf);
}
