/**
 * The data of README's "Fit a model to your microscope": two microscopes that are not the benchmark's, drawn by the
 * independent simulator (lib/independent-simulator: code the training simulators share nothing with), each as
 *   NAME-acquisition.tif      what a user would hand to `smlm-rt estimate` (and fit a model to)
 *   NAME-heldout.tif + .csv   another field of the same microscope, never used to fit anything: before/after NMSE
 * Both stacks carry their pixel size in the file, as a camera's software writes it.
 *
 * Usage (after `npm run build`): node dist/scripts/make-fit-demo.js [--out .gpu/fit] [--frames 200]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SCMOS_107NM, simulateIndependentStack, writeTruthCsv, type IndependentConditions } from '../lib/independent-simulator/index.js';
import { writeStackTiff } from '../lib/io/tiff-write.js';

/** The example microscopes: the sCMOS at 107 nm, and a 160 nm camera behind a lower magnification. */
export const FIT_DEMO_MICROSCOPES: readonly { name: string; conditions: IndependentConditions; seeds: [number, number] }[] = [
  { name: 'scmos-107nm', conditions: SCMOS_107NM, seeds: [515001, 515002] },
  {
    name: 'scmos-160nm',
    conditions: {
      ...SCMOS_107NM,
      pixelSizeNm: 160,
      width: 48,
      height: 48,
      optics: { wavelengthNm: 660, numericalAperture: 1.4 },
      photons: { median: 1800, logSigma: 0.35 },
      background: { ...SCMOS_107NM.background, meanPhotons: 25 },
      densityPerUm2: 2.5,
      camera: { ...SCMOS_107NM.camera, chipSeed: 7160 } as typeof SCMOS_107NM.camera,
    },
    seeds: [516001, 516002],
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string', default: '.gpu/fit' }, frames: { type: 'string', default: '200' } } });
  const out = values.out!;
  mkdirSync(out, { recursive: true });
  for (const { name, conditions, seeds } of FIT_DEMO_MICROSCOPES) {
    for (const [role, seed] of [
      ['acquisition', seeds[0]],
      ['heldout', seeds[1]],
    ] as const) {
      const sim = simulateIndependentStack({ ...conditions, seed, frames: Number(values.frames) });
      const path = join(out, `${name}-${role}.tif`);
      await writeStackTiff(path, sim.stack, { force: true });
      if (role === 'heldout') writeTruthCsv(join(out, `${name}-heldout.csv`), sim.truth);
      console.log(`${path}: ${sim.stack.frames} frames of ${sim.stack.width}x${sim.stack.height} px at ${conditions.pixelSizeNm} nm, ${sim.truth.length} emitters`);
    }
  }
}

// Run as a script only: importing FIT_DEMO_MICROSCOPES must not write files.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
