/** `smlm-rt train --like conditions.json -o my-model.onnx`: a model trained at a microscope's conditions (PyTorch, GPU). */
import { InvalidArgumentError, type Command } from 'commander';
import { trainModel } from '../train/train.js';
import { integerOption } from './options.js';

export interface TrainCliOptions {
  like: string;
  output: string;
  base?: string;
  minutes?: number;
  python: string;
  seed?: number;
  force?: boolean;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number > 0, got "${value}"`);
  return n;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train a model for your microscope at the conditions of `estimate --json` (needs Python 3, PyTorch and a CUDA GPU)')
    .requiredOption('--like <conditions.json>', 'imaging conditions (the output of `smlm-rt estimate --json`)')
    .requiredOption('-o, --output <model.onnx>', 'the trained model; its training log goes beside it (<name>.json)')
    .option('--base <name|path>', 'fine-tune this model (bundled name or .onnx path; "none": train from scratch)', 'unet')
    .option('--minutes <m>', 'training time budget, minutes', positiveNumber)
    .option('--python <interpreter>', 'Python 3 with torch', 'python3')
    .option('--seed <n>', 'random seed', integerOption(0, 2 ** 31 - 1))
    .option('-f, --force', 'overwrite existing output files')
    .action(async (opts: TrainCliOptions) => {
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      try {
        // The script's own output (progress, losses) goes to stderr, so stdout holds only the result line.
        // Fine-tuning the bundled default takes minutes; from scratch takes far longer for the same accuracy.
        const base = opts.base === 'none' ? undefined : opts.base;
        const r = await trainModel({ ...opts, base, signal: controller.signal, onStdout: (t) => process.stderr.write(t) });
        const m = r.metadata;
        process.stdout.write(
          `wrote ${r.output} (${m.architecture}, ${m.cameraPixelNm} nm camera pixels, ${m.upsampling}x)${r.log ? ` and ${r.log}` : ''} in ${r.minutes.toFixed(1)} min on ${r.environment.gpu || 'the GPU'}\n`,
        );
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });
}
