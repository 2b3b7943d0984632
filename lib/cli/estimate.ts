/** `smlm-rt estimate <stack>`: the imaging conditions read from the frames (camera, background, photons, PSF, density). */
import { Option, type Command } from 'commander';
import { estimateConditions, type ImagingConditions } from '../estimate/estimate.js';
import { openStackInput } from '../io/stack-input.js';
import { frameRangeOption, gainSpreadOption, integerOption, pixelSizeOption, readNoiseOption } from './options.js';
import type { FrameRange } from '../io/frame-range.js';

export interface EstimateCliOptions {
  json?: boolean;
  pixelSize?: number;
  frames?: FrameRange;
  camera?: 'emccd' | 'scmos';
  readNoise?: number;
  gainSpread?: number;
  maxFrames?: number;
}

/** The most frames `--max-frames` takes (the API's limit of 64 Mi pixels caps it further for large frames). */
const MAX_FRAMES_OPTION = 100_000;

/** How the camera kind was settled, as the text output says it. */
const KIND_SOURCE: Record<ImagingConditions['cameraSource'], string> = { data: 'from the data', option: 'as --camera gave it', assumed: 'ASSUMED' };

/** Which window of larger frames was analysed, where not all of them. */
function windowNote(c: ImagingConditions, frameSize: { width: number; height: number } | undefined): string {
  const r = c.regionPx;
  if (!frameSize || (r.width === frameSize.width && r.height === frameSize.height)) return '';
  return ` (their central ${r.width} x ${r.height} px, from x ${r.x}, y ${r.y}, of ${frameSize.width} x ${frameSize.height})`;
}

/** How the camera kind was decided, after its name. */
function cameraNote(c: ImagingConditions, f: (v: number) => string): string {
  if (!c.cameraDecided) {
    return ": ASSUMED, not decided by the data (too little of the stack is free of emitters' light to tell EM gain from none); for an EMCCD run again with --camera emccd (the gain would read 2x, background and photons half)";
  }
  return c.cameraSource === 'data' ? ` (from the noise's skew where no emitter shines: ${f(c.skewRatio)}, ~1 without EM gain, ~1.5 with it)` : '';
}

/** The human-readable summary: one line per quantity, with its unit. */
export function formatConditions(c: ImagingConditions, frameSize?: { width: number; height: number }): string {
  const f = (v: number, digits = 3) => Number(v.toPrecision(digits)).toString();
  return [
    `camera            ${c.camera === 'emccd' ? 'EMCCD (EM gain, excess noise factor 2)' : 'sCMOS / CCD (no EM gain)'}${cameraNote(c, f)}`,
    `baseline          ${f(c.baselineAdu, 4)} ADU${c.readNoiseSource === 'assumed' ? ` (for a read noise of ${f(c.readNoiseElectrons)} e- rms, ASSUMED: a typical sCMOS chip's; give yours with --read-noise, each e-^2 more moves it ${f(c.aduPerPhoton)} ADU up)` : c.readNoiseSource === 'option' ? ` (for a read noise of ${f(c.readNoiseElectrons)} e- rms)` : ''}`,
    `gain              ${f(c.aduPerPhoton)} ADU per photon${c.gainSpreadSource === 'fitted' ? ` (the chip's pixel gains allowed a spread of ${f(c.gainSpreadPercent, 2)} %, fitted; give its data sheet's with --gain-spread)` : c.gainSpreadSource === 'option' ? ` (for a pixel gain spread of ${f(c.gainSpreadPercent, 2)} %)` : ''}`,
    `background        ${f(c.backgroundPhotons)} photons per pixel (${c.backgroundSource === 'dark-pixels' ? 'where no emitter shines' : c.backgroundSource === 'spots' ? "the isolated spots' fits" : "the pixels' low levels over time"})`,
    `emitter photons   ${c.photonsSource === 'fluctuations' ? `${f(c.photonsMedian)} (E[n^2]/E[n] from the frames' fluctuations, for both median and mean)` : `${f(c.photonsMedian)} (median), ${f(c.photonsMean)} (mean)`}`,
    `PSF sigma         ${f(c.psfSigmaNm)} nm (${f(c.psfSigmaPx)} px)`,
    `density           ${f(c.densityPerUm2)} emitters per um^2 per frame`,
    `pixel size        ${f(c.pixelSizeNm, 4)} nm (${c.pixelSizeSource})`,
    `from              ${c.spotsFitted} isolated spots in ${c.framesUsed} of ${c.framesTotal} frames${windowNote(c, frameSize)}; camera from ${c.cameraModel === 'spots' ? 'their residuals' : "the frames' finest detail"}${c.darkLineWeight > 0.005 ? ` and, for ${Math.round(100 * c.darkLineWeight)} % of the gain, the background's unevenness where no emitter shines` : ''}${c.darkLevelWeight > 0.005 ? `, its noise at the background level ${Math.round(100 * c.darkLevelWeight)} % from where no emitter shines` : ''}, its kind ${KIND_SOURCE[c.cameraSource]}`,
    ...c.notes.map((note) => `note              ${note}`),
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('estimate')
    .description('estimate the imaging conditions of a stack: baseline, gain, background, photons, PSF sigma, density, pixel size')
    .argument('<stack>', 'input TIFF stack, a folder of single-frame TIFFs, or a glob of them')
    .option('--json', 'print one JSON object (the input of `simulate --like` and `train --like`)')
    .option('--pixel-size <nm>', "camera pixel size in nm (overrides the file's calibration)", pixelSizeOption)
    .option('--frames <first:last>', 'only these frames (1-based, inclusive, e.g. 100:5000)', frameRangeOption)
    .option(
      '--max-frames <n>',
      'read at most this many frames, spread over the stack (default 300); more narrow the camera figures of a small field somewhat, at the cost of time',
      integerOption(1, MAX_FRAMES_OPTION),
    )
    .option(
      '--read-noise <electrons>',
      "the sCMOS camera's read noise, electrons rms, from its data sheet (default: 1.5, a typical chip's); the data cannot tell it from the baseline",
      readNoiseOption,
    )
    .option(
      '--gain-spread <percent>',
      "the sCMOS chip's pixel gain spread (photo-response non-uniformity), rms %, from its data sheet (default: fitted from the data; 0 for one gain everywhere)",
      gainSpreadOption,
    )
    .addOption(
      new Option('--camera <kind>', 'the camera kind, when known (otherwise the data decide; where too little of the stack is free of emitters to tell, sCMOS is assumed)').choices(['emccd', 'scmos']),
    )
    .action(async (stackPath: string, opts: EstimateCliOptions) => {
      const input = await openStackInput(stackPath);
      try {
        if (input.pixelSizeNote && opts.pixelSize === undefined) process.stderr.write(`smlm-rt: note: ${input.pixelSizeNote}\n`);
        const c = await estimateConditions(input.source, {
          pixelSizeNm: opts.pixelSize,
          frames: opts.frames,
          camera: opts.camera,
          readNoiseElectrons: opts.readNoise,
          gainSpreadPercent: opts.gainSpread,
          maxFrames: opts.maxFrames,
        });
        process.stdout.write(opts.json ? `${JSON.stringify(c, null, 2)}\n` : `${formatConditions(c, input.source)}\n`);
      } finally {
        await input.close();
      }
    });
}
