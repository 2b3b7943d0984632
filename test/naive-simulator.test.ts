import { describe, expect, it } from 'vitest';
import { NAIVE_107NM, simulateNaive } from '../lib/naive-simulator.js';
import { moments } from './helpers/moments.js';

describe('the naive simulator (lib/naive-simulator.ts), which bench:estimate and bench:accuracy judge by', () => {
  it('draws a camera of one gain: variance g^2 (background + read noise^2) without EM gain, g^2 (2 background + r^2) with it', () => {
    const flat = { ...NAIVE_107NM, sizePx: 32, densityPerUm2: 0 };
    const scmos = moments(simulateNaive(flat, 1, 100).stack.data);
    expect(scmos.mean).toBeCloseTo(400 + 2 * 40, 0);
    expect(scmos.variance / (4 * (40 + 1.5 ** 2)) - 1).toBeCloseTo(0, 1);
    const em = moments(simulateNaive({ ...flat, emGain: 100, readNoiseElectrons: 0.5 }, 1, 100).stack.data);
    expect(em.mean).toBeCloseTo(480, 0);
    expect(em.variance / (4 * (2 * 40 + 0.5 ** 2)) - 1).toBeCloseTo(0, 1);
  });

  it('draws density x area emitters a frame, anywhere in the field, and returns them with their photons', () => {
    const c = { ...NAIVE_107NM, densityPerUm2: 2 };
    const { emitters, stack } = simulateNaive(c, 2, 50);
    const areaUm2 = ((64 * 107) / 1000) ** 2;
    expect(emitters.length / 50 / areaUm2 / 2 - 1).toBeCloseTo(0, 1);
    const xs = emitters.map((e) => e.xNm);
    expect(Math.min(...xs)).toBeLessThan(107);
    expect(Math.max(...xs)).toBeGreaterThan(63 * 107);
    expect(emitters.every((e) => e.frame >= 1 && e.frame <= 50 && e.photons >= 2000 && e.photons <= 3000)).toBe(true);
    // The light: the stack's mean above the background is the emitters' photons over the field's pixels (edges lose
    // a little to the outside).
    const { mean } = moments(stack.data);
    const photons = emitters.reduce((s, e) => s + e.photons, 0);
    expect((mean - 480) / 2 / (photons / (50 * 64 * 64))).toBeGreaterThan(0.95);
    expect((mean - 480) / 2 / (photons / (50 * 64 * 64))).toBeLessThan(1.0);
  });
});
