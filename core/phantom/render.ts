// Rasterizes one phantom frontal (PA) chest radiograph and its lesion mask.
// Pure and deterministic: the same (anatomy, findings, pixel-noise stream) give the same bytes.
// Image convention: the patient's right is on the image left.
import { seededRng } from '../rng';
import { Anatomy, Finding, Side } from './catalogue';
// Module-local Math bindings: hot loops avoid global lookups (slow inside vm contexts such as jest).
const { PI, abs, cos, exp, floor, hypot, max, min, pow, round, sqrt } = Math;

export interface Rendered {
  size: number;
  /** 8-bit grayscale, row-major. */
  pixels: Uint8Array;
  /** Bit i set where finding i covers the pixel (at most 8 findings). */
  mask: Uint8Array;
  /** Per finding: [x0, y0, x1, y1] in pixels, inclusive-exclusive; null when it covers nothing. */
  boxes: ([number, number, number, number] | null)[];
  /** Pixels covered per finding. */
  areas: number[];
}

function smoothstep(e0: number, e1: number, x: number): number {
  const t = min(1, max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
}

interface LungGeom {
  side: Side;
  /** Lung centre x. */
  lx: number;
  lw: number;
  top: number;
  dome: number;
  sign: number; // −1 right lung (image left), +1 left lung
}

function lungs(a: Anatomy): LungGeom[] {
  return [
    { side: 'right', lx: a.cx - 0.19, lw: a.lwR, top: a.top, dome: a.domeR, sign: -1 },
    { side: 'left', lx: a.cx + 0.2, lw: a.lwL, top: a.top + 0.01, dome: a.domeL, sign: 1 },
  ];
}

/** Lung membership in [0,1] (soft edge) and the lung-local coordinates. */
function lungField(g: LungGeom, u: number, v: number): { m: number; t: number; lat: number } {
  const t = (v - g.top) / (g.dome - g.top); // 0 apex … 1 dome
  if (t < -0.05 || t > 1.15) return { m: 0, t, lat: 0 };
  // Width grows from the apex, widest near the base; the base follows the dome.
  const half = g.lw * (0.45 + 0.55 * sqrt(max(0, min(1, t * 1.25))));
  const centre = g.lx + g.sign * 0.02 * t;
  const dx = (u - centre) / max(half, 1e-6);
  // Dome: the lung base is highest in the middle of the hemithorax.
  const domeY = g.dome - 0.035 * (1 - dx * dx) + (1 - abs(dx)) * 0; // lateral costophrenic angle lower
  const apexY = g.top + 0.04 * dx * dx;
  const inY = smoothstep(apexY - 0.006, apexY + 0.006, v) * (1 - smoothstep(domeY - 0.006, domeY + 0.006, v));
  const inX = 1 - smoothstep(0.93, 1.03, abs(dx));
  // lat: 0 medial … 1 lateral
  const lat = max(0, min(1, 0.5 + 0.5 * dx * g.sign));
  return { m: inX * inY, t, lat };
}

function bilinearGrid(grid: number[], n: number, u: number, v: number): number {
  const x = min(n - 1.001, max(0, u * (n - 1)));
  const y = min(n - 1.001, max(0, v * (n - 1)));
  const x0 = floor(x), y0 = floor(y);
  const fx = x - x0, fy = y - y0;
  const g = (i: number, j: number) => grid[j * n + i]!;
  return (g(x0, y0) * (1 - fx) + g(x0 + 1, y0) * fx) * (1 - fy) + (g(x0, y0 + 1) * (1 - fx) + g(x0 + 1, y0 + 1) * fx) * fy;
}

/** Centre of a zone of a lung (normalized coords), given lateral and vertical fractions. */
function zonePoint(g: LungGeom, zone: 'upper' | 'middle' | 'lower', latFrac: number, vFrac: number): [number, number] {
  const zi = zone === 'upper' ? 0 : zone === 'middle' ? 1 : 2;
  const t = (zi + 0.2 + 0.6 * vFrac) / 3; // inside the zone, away from its borders
  const tt = 0.12 + 0.72 * t; // stay off the apex and the dome
  const half = g.lw * (0.45 + 0.55 * sqrt(min(1, tt * 1.25)));
  const centre = g.lx + g.sign * 0.02 * tt;
  const u = centre + g.sign * (latFrac - 0.5) * 1.1 * half;
  return [u, g.top + tt * (g.dome - g.top)];
}

export function renderStudy(seed: number | string, studyId: string, a: Anatomy, findings: Finding[], size: number): Rendered {
  const S = size;
  const n = S * S;
  const img = new Float32Array(n);
  const mask = new Uint8Array(n);
  const L = lungs(a);
  const pxPerMm = (2 * a.tw) / 320; // normalized units per mm (thorax ≈ 32 cm wide)

  const cardio = findings.find((f) => f.type === 'cardiomegaly');
  const ctr = cardio?.ctr ?? a.ctr;
  const heartW = ctr * 2 * a.tw;
  const heartCy = a.domeL - 0.1;
  const heartCx = a.cx + 0.1 * heartW; // more of the heart lies to the patient's left
  const heartRx = heartW / 2;
  const heartRy = 0.1 + 0.35 * (heartW - 0.3) * 0.5;

  // Finding-specific precomputation.
  type Painter = (u: number, v: number, lungM: number, lungSide: Side | null, lt: number, llat: number) => { add: number; set?: number; setW?: number; m: boolean };
  const painters: Painter[] = findings.map((f): Painter => {
    switch (f.type) {
      case 'nodule':
      case 'mass': {
        const g = L.find((l) => l.side === f.side)!;
        const [u0, v0] = zonePoint(g, f.zone!, f.geom[0]!, f.geom[1]!);
        const r = (f.sizeMm! * pxPerMm) / 2;
        const lobes = f.type === 'mass' ? 3 : 1;
        const centres: [number, number, number][] = [[u0, v0, r]];
        for (let i = 1; i < lobes + 1; i++) {
          centres.push([u0 + 0.45 * r * f.geom[2 * i]!, v0 + 0.45 * r * f.geom[2 * i + 1]!, r * (0.6 + 0.15 * f.geom[i + 5]!)]);
        }
        const amp = f.type === 'mass' ? 80 : 75;
        return (u, v) => {
          let best = 0;
          for (const [cu, cv, cr] of centres) {
            const d = hypot(u - cu, v - cv) / cr;
            if (d < 1.15) best = max(best, 1 - smoothstep(0.75, 1.1, d));
          }
          return { add: amp * best, m: best > 0.5 };
        };
      }
      case 'effusion': {
        const sides: Side[] = f.side === 'bilateral' ? ['right', 'left'] : [f.side as Side];
        const frac = f.grade === 'small' ? 0.16 : f.grade === 'moderate' ? 0.32 : 0.52;
        return (u, v, lm, ls, lt, llat) => {
          if (!ls || !sides.includes(ls) || lm <= 0) return { add: 0, m: false };
          // Fluid level: meniscus rising laterally.
          const level = 1 - frac - f.geom[0]! * 3 * llat * llat + f.geom[1]!;
          const w = smoothstep(level - 0.03, level + 0.04, lt) * lm;
          return { add: 0, set: 150, setW: w, m: w > 0.5 };
        };
      }
      case 'cardiomegaly':
        return (u, v) => {
          const d = hypot((u - heartCx) / heartRx, (v - heartCy) / heartRy);
          return { add: 0, m: d < 1 && v < a.domeL + 0.02 };
        };
      case 'pneumothorax': {
        const rim = f.grade === 'small' ? 0.22 : f.grade === 'moderate' ? 0.38 : 0.55;
        return (u, v, lm, ls, lt, llat) => {
          if (ls !== f.side || lm <= 0.5) return { add: 0, m: false };
          // Collapsed lung retracts toward the hilum (medial, mid-height): the rim is lateral and apical.
          const apical = max(0, 0.45 - lt) / 0.45;
          const edge = max(llat, apical * 0.9 + f.geom[0]!);
          const inPtx = edge > 1 - rim;
          const line = abs(edge - (1 - rim)) < 0.025;
          if (line) return { add: 45, m: false };
          return inPtx ? { add: 0, set: 16, setW: 0.9 * lm, m: true } : { add: 0, m: false };
        };
      }
      case 'consolidation': {
        const g = L.find((l) => l.side === f.side)!;
        const [u0, v0] = zonePoint(g, f.zone!, 0.5, 0.5);
        const blobs: [number, number, number][] = [];
        for (let i = 0; i < 5; i++) {
          blobs.push([u0 + 0.06 * f.geom[3 * i]!, v0 + 0.045 * f.geom[3 * i + 1]!, 0.03 + 0.01 * f.geom[3 * i + 2]!]);
        }
        return (u, v, lm, ls) => {
          if (ls !== f.side || lm <= 0) return { add: 0, m: false };
          let s = 0;
          for (const [bu, bv, br] of blobs) {
            const d2 = ((u - bu) ** 2 + (v - bv) ** 2) / (br * br);
            if (d2 < 9) s += exp(-d2);
          }
          const w = smoothstep(0.25, 0.75, s) * lm;
          return { add: 55 * w * (0.8 + 0.2 * cos(u * 160) * cos(v * 140)), m: w > 0.5 };
        };
      }
    }
  });

  const noise = seededRng(seed, studyId, 'phantom-pixel-noise');
  const bodyA = a.tw + 0.075;
  for (let y = 0; y < S; y++) {
    const v = (y + 0.5) / S;
    for (let x = 0; x < S; x++) {
      const u = (x + 0.5) / S;
      const i = y * S + x;
      // Body: super-ellipse torso + neck.
      const bx = abs((u - a.cx) / bodyA), by = abs((v - 0.6) / 0.55);
      const torso = 1 - smoothstep(0.95, 1.02, pow(bx, 2.6) + pow(by, 2.6));
      const neck = v < 0.2 ? 1 - smoothstep(0.08, 0.1, abs(u - a.cx)) : 0;
      const body = max(torso * (v > 0.08 ? 1 : 0), neck);
      let val = 12 + 108 * body;
      // Abdomen below the diaphragm is denser.
      const domeY = u < a.cx ? a.domeR : a.domeL;
      if (body > 0) val += 30 * smoothstep(domeY - 0.01, domeY + 0.03, v) * body;
      // Lungs.
      let lungM = 0, lungSide: Side | null = null, lt = 0, llat = 0;
      for (const g of L) {
        const f = lungField(g, u, v);
        if (f.m > lungM) {
          lungM = f.m;
          lungSide = g.side;
          lt = f.t;
          llat = f.lat;
        }
      }
      const tex = bilinearGrid(a.texture, 8, u, v);
      const lungVal = 58 + 9 * tex + 12 * (1 - llat); // vascular markings denser toward the hila
      val = val * (1 - lungM) + lungVal * lungM;
      // Mediastinum and spine.
      const mw = 0.055 + 0.02 * smoothstep(0.2, 0.5, v);
      const med = (1 - smoothstep(mw - 0.01, mw + 0.01, abs(u - a.cx))) * smoothstep(0.08, 0.14, v) * (1 - smoothstep(domeY, domeY + 0.05, v));
      val = max(val, (100 + 70 * med) * min(1, body) * (med > 0 ? 1 : 0));
      const spine = 1 - smoothstep(0.018, 0.028, abs(u - a.cx));
      if (spine > 0 && v > 0.06) val += 18 * spine * (0.7 + 0.3 * cos(v * 2 * PI * 28));
      // Heart.
      const hd = hypot((u - heartCx) / heartRx, (v - heartCy) / heartRy);
      const heart = (1 - smoothstep(0.96, 1.03, hd)) * (v < a.domeL + 0.03 ? 1 : 0);
      val = val * (1 - heart) + 172 * heart;
      // Ribs: posterior arcs over each hemithorax, clavicles on top.
      if (body > 0.5 && v > a.top - 0.04 && v < max(a.domeR, a.domeL) + 0.02) {
        const lat = abs(u - a.cx) / a.tw;
        if (lat > 0.12 && lat < 1.02) {
          const arc = v - 0.09 * lat * lat + 0.03 * lat;
          const ph = (arc - a.top) / a.ribSpacing + a.ribPhase;
          const frac = ph - floor(ph);
          const band = smoothstep(0.0, 0.08, frac) * (1 - smoothstep(0.24, 0.34, frac));
          val += 24 * band * (1 - 0.4 * heart);
        }
      }
      const clav = abs(v - (0.115 + 0.05 * pow(abs(u - a.cx) / a.tw - 0.45, 2)));
      if (abs(u - a.cx) > 0.04 && abs(u - a.cx) < a.tw * 0.95) val += 28 * (1 - smoothstep(0.008, 0.016, clav));
      // Findings.
      let bits = 0;
      for (let k = 0; k < painters.length; k++) {
        const p = painters[k]!(u, v, lungM, lungSide, lt, llat);
        if (p.set !== undefined && p.setW) val = val * (1 - p.setW) + p.set * p.setW;
        val += p.add;
        if (p.m) bits |= 1 << k;
      }
      mask[i] = bits;
      img[i] = val;
    }
  }
  // Acquisition: gain/offset, quantum noise, 8-bit.
  const pixels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const val = img[i]! * a.gain + a.offset + 4 * noise.normal();
    pixels[i] = max(0, min(255, round(val)));
  }
  const boxes: Rendered['boxes'] = [];
  const areas: number[] = [];
  for (let k = 0; k < findings.length; k++) {
    let x0 = S, y0 = S, x1 = -1, y1 = -1, area = 0;
    const bit = 1 << k;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        if (mask[y * S + x]! & bit) {
          area++;
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    boxes.push(area ? [x0, y0, x1 + 1, y1 + 1] : null);
    areas.push(area);
  }
  return { size: S, pixels, mask, boxes, areas };
}
