import { seededRng } from '../../core/rng';

describe('seeded rng', () => {
  it('is reproducible per (seed, item, purpose) and differs across them', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.next())(seededRng(7, 'item-1', 'noise')));
    const b = Array.from({ length: 5 }, ((r) => () => r.next())(seededRng(7, 'item-1', 'noise')));
    const c = Array.from({ length: 5 }, ((r) => () => r.next())(seededRng(7, 'item-2', 'noise')));
    const d = Array.from({ length: 5 }, ((r) => () => r.next())(seededRng(7, 'item-1', 'sample')));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).not.toEqual(d);
  });

  it('draws standard normals with mean ~0 and variance ~1', () => {
    const r = seededRng(1, 'x', 'normal');
    const n = 200_000;
    let s = 0,
      s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal();
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(s2 / n - mean * mean - 1)).toBeLessThan(0.01);
  });

  it('draws uniforms in [0,1) and ints in range', () => {
    const r = seededRng(3, 'y', 'u');
    for (let i = 0; i < 10_000; i++) {
      const u = r.next();
      expect(u >= 0 && u < 1).toBe(true);
      const k = r.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });
});
