// The phantom-cxr finding catalogue and the per-study draw of anatomy and findings.
// Pure: every draw comes from core/rng.ts seededRng(seed, studyId, purpose).
import { Rng, seededRng } from '../rng';

export type Side = 'right' | 'left';
export type Zone = 'upper' | 'middle' | 'lower';
export type FindingType = 'nodule' | 'mass' | 'effusion' | 'cardiomegaly' | 'pneumothorax' | 'consolidation';
export type Grade = 'small' | 'moderate' | 'large';

export const FINDING_TYPES: readonly FindingType[] = ['nodule', 'mass', 'effusion', 'cardiomegaly', 'pneumothorax', 'consolidation'];

/** Radiological names used in reports and answers. */
export const FINDING_NAMES: Record<FindingType, string> = {
  nodule: 'pulmonary nodule',
  mass: 'lung mass',
  effusion: 'pleural effusion',
  cardiomegaly: 'cardiomegaly',
  pneumothorax: 'pneumothorax',
  consolidation: 'consolidation',
};

const LOBES: Record<Side, Record<Zone, string>> = {
  right: { upper: 'right upper lobe', middle: 'right middle lobe', lower: 'right lower lobe' },
  left: { upper: 'left upper lobe', middle: 'lingula', lower: 'left lower lobe' },
};
export function lobeOf(side: Side, zone: Zone): string {
  return LOBES[side][zone];
}

export interface Finding {
  type: FindingType;
  /** Patient side; 'bilateral' only for effusion; absent for cardiomegaly. */
  side?: Side | 'bilateral';
  zone?: Zone;
  lobe?: string;
  /** Nodule/mass diameter. */
  sizeMm?: number;
  /** Effusion / pneumothorax grade; cardiomegaly: mild→small, moderate, severe→large. */
  grade?: Grade;
  /** Cardiothoracic ratio (cardiomegaly). */
  ctr?: number;
  /** Rendering parameters (normalized image coordinates), drawn once here. */
  geom: number[];
}

export interface Anatomy {
  /** Mid-line x (normalized). */
  cx: number;
  /** Half thoracic width. */
  tw: number;
  /** Lung apex y. */
  top: number;
  /** Hemidiaphragm dome y, right and left. */
  domeR: number;
  domeL: number;
  /** Lung half-widths. */
  lwR: number;
  lwL: number;
  /** Cardiothoracic ratio of the (normal) heart. */
  ctr: number;
  ribSpacing: number;
  ribPhase: number;
  gain: number;
  offset: number;
  /** Lung-marking texture grid (8×8 values in [-1,1]). */
  texture: number[];
}

function uni(rng: Rng, a: number, b: number): number {
  return a + (b - a) * rng.next();
}

export function drawAnatomy(seed: number | string, studyId: string): Anatomy {
  const r = seededRng(seed, studyId, 'phantom-anatomy');
  const domeR = uni(r, 0.69, 0.75);
  return {
    cx: uni(r, 0.485, 0.515),
    tw: uni(r, 0.37, 0.42),
    top: uni(r, 0.12, 0.16),
    domeR,
    domeL: domeR + uni(r, 0.0, 0.03),
    lwR: uni(r, 0.145, 0.17),
    lwL: uni(r, 0.14, 0.165),
    ctr: uni(r, 0.38, 0.47),
    ribSpacing: uni(r, 0.055, 0.065),
    ribPhase: uni(r, 0, 1),
    gain: uni(r, 0.88, 1.12),
    offset: uni(r, -10, 10),
    texture: Array.from({ length: 64 }, () => uni(r, -1, 1)),
  };
}

const ZONES: readonly Zone[] = ['upper', 'middle', 'lower'];
const SIDES: readonly Side[] = ['right', 'left'];
const GRADES: readonly Grade[] = ['small', 'moderate', 'large'];

/** Share of studies without findings. */
export const NORMAL_FRACTION = 0.3;

/**
 * Findings of one study: ~30% none; else 1 (60%), 2 (30%) or 3 (10%) distinct types.
 * Pneumothorax and effusion never share a side (no hydropneumothorax in the catalogue);
 * nodule and mass never share a lobe.
 */
export function drawFindings(seed: number | string, studyId: string): Finding[] {
  const r = seededRng(seed, studyId, 'phantom-findings');
  if (r.next() < NORMAL_FRACTION) return [];
  const u = r.next();
  const count = u < 0.6 ? 1 : u < 0.9 ? 2 : 3;
  const types = r.shuffle([...FINDING_TYPES]).slice(0, count);
  // Fixed catalogue order so reports read top-down the same way each time.
  types.sort((a, b) => FINDING_TYPES.indexOf(a) - FINDING_TYPES.indexOf(b));
  const out: Finding[] = [];
  const usedLobes = new Set<string>();
  let effusionSides: Side[] = [];
  for (const type of types) {
    switch (type) {
      case 'nodule':
      case 'mass': {
        let side: Side, zone: Zone;
        do {
          side = r.pick(SIDES);
          zone = r.pick(ZONES);
        } while (usedLobes.has(`${side}/${zone}`));
        usedLobes.add(`${side}/${zone}`);
        const sizeMm = type === 'nodule' ? Math.round(uni(r, 12, 28)) : Math.round(uni(r, 38, 65));
        // geom: lateral position in the lung (0 medial … 1 lateral), position within the zone, lobulation draws
        const geom = [uni(r, 0.3, 0.7), uni(r, 0.3, 0.7), ...Array.from({ length: 8 }, () => uni(r, -1, 1))];
        out.push({ type, side, zone, lobe: lobeOf(side, zone), sizeMm, geom });
        break;
      }
      case 'effusion': {
        const v = r.next();
        const side: Side | 'bilateral' = v < 0.4 ? 'right' : v < 0.8 ? 'left' : 'bilateral';
        effusionSides = side === 'bilateral' ? ['right', 'left'] : [side];
        out.push({ type, side, grade: r.pick(GRADES), geom: [uni(r, 0.02, 0.05), uni(r, -0.02, 0.02)] });
        break;
      }
      case 'cardiomegaly': {
        const grade = r.pick(GRADES);
        const ctr = grade === 'small' ? uni(r, 0.56, 0.59) : grade === 'moderate' ? uni(r, 0.6, 0.64) : uni(r, 0.65, 0.7);
        out.push({ type, grade, ctr: Math.round(ctr * 100) / 100, geom: [] });
        break;
      }
      case 'pneumothorax': {
        const sides = SIDES.filter((s) => !effusionSides.includes(s));
        if (!sides.length) break;
        out.push({ type, side: r.pick(sides), grade: r.pick(GRADES), geom: [uni(r, -0.05, 0.05)] });
        break;
      }
      case 'consolidation': {
        let side: Side, zone: Zone;
        do {
          side = r.pick(SIDES);
          zone = r.pick(ZONES);
        } while (usedLobes.has(`${side}/${zone}`));
        usedLobes.add(`${side}/${zone}`);
        // geom: 5 blobs × (dx, dy, radius scale)
        const geom = Array.from({ length: 15 }, () => uni(r, -1, 1));
        out.push({ type, side, zone, lobe: lobeOf(side, zone), geom });
        break;
      }
    }
  }
  // Effusion drawn after pneumothorax in the shuffled order cannot see its side: resolve here.
  const ptx = out.find((f) => f.type === 'pneumothorax');
  const eff = out.find((f) => f.type === 'effusion');
  if (ptx && eff && (eff.side === 'bilateral' || eff.side === ptx.side)) {
    eff.side = ptx.side === 'right' ? 'left' : 'right';
  }
  return out;
}
