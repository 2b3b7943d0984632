import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTrainingEnvironment } from '../lib/train/environment.js';
import { trainModel } from '../lib/train/train.js';
import { makeKnownModel } from './helpers/known-model.js';
import { REPO_ROOT, tempDir } from './helpers/paths.js';

const CLI = join(REPO_ROOT, 'dist', 'lib', 'cli', 'main.js');
const dir = tempDir('smlm-rt-train-');
const like = join(dir, 'conditions.json');
writeFileSync(like, JSON.stringify({ baselineAdu: 400, aduPerPhoton: 2, backgroundPhotons: 40, photonsMedian: 2500, psfSigmaNm: 125, densityPerUm2: 2, pixelSizeNm: 107, camera: 'scmos' }));
const validOnnx = join(dir, 'valid.onnx');
writeFileSync(validOnnx, makeKnownModel());
const noMetadataOnnx = join(dir, 'no-metadata.onnx');
writeFileSync(noMetadataOnnx, makeKnownModel(null));
// The training script's path only has to exist: the fake python below ignores it and plays train_loc.py's part.
const script = join(dir, 'train_loc.py');
writeFileSync(script, '# stand-in; the fake interpreter below does the work\n');

/**
 * A fake `python3`: answers the environment probe as FAKE_ENV says (ok | notorch | nocuda | py2), and a training run
 * as FAKE_TRAIN says (ok: writes NAME.onnx from FAKE_ONNX and NAME.json; fail: exit 1; nogpu: exit 3; none: exit 0
 * without a model). It records its arguments in FAKE_ARGS.
 */
const fakePython = join(dir, 'python3');
writeFileSync(
  fakePython,
  `#!/bin/sh
if [ "$1" = "-c" ]; then
  case "$FAKE_ENV" in
    notorch) echo '{"python": "3.12.1", "torchError": "ModuleNotFoundError: No module named torch"}' ;;
    nocuda) echo '{"python": "3.12.1", "torch": "2.5.0+cpu", "cuda": false, "devices": 0, "gpu": ""}' ;;
    py2) echo '{"python": "2.7.18"}' ;;
    *) echo '{"python": "3.12.1", "torch": "2.5.0", "cuda": true, "devices": 1, "gpu": "Fake GPU"}' ;;
  esac
  exit 0
fi
echo "$@" > "$FAKE_ARGS"
shift
while [ $# -gt 0 ]; do
  case "$1" in --out) out="$2"; shift ;; --name) name="$2"; shift ;; esac
  shift
done
echo "step 1/2 loss 0.9"
echo "warming up" >&2
case "$FAKE_TRAIN" in
  fail) echo "RuntimeError: CUDA error: an illegal memory access" >&2; exit 1 ;;
  nogpu) echo "no CUDA GPU" >&2; exit 3 ;;
  none) exit 0 ;;
esac
cp "$FAKE_ONNX" "$out/$name.onnx"
echo '{"steps": 2}' > "$out/$name.json"
echo "step 2/2 loss 0.5"
`,
);
chmodSync(fakePython, 0o755);

function smlm(args: string[], env: Record<string, string>) {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, SMLM_RT_TRAIN_SCRIPT: script, FAKE_ARGS: join(dir, 'args.txt'), FAKE_ONNX: validOnnx, ...env },
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('smlm-rt train (with a fake python first in PATH)', () => {
  it('runs the script with the contract arguments, streams its output, loads and publishes the model and its log', () => {
    const out = join(dir, 'my-model.onnx');
    const run = smlm(['train', '--like', like, '-o', out, '--base', validOnnx, '--minutes', '3'], {});
    expect(run.code, run.stderr).toBe(0);
    const args = readFileSync(join(dir, 'args.txt'), 'utf8').trim().split(' ');
    expect(args[0]).toBe(script);
    expect(args.slice(1, 3)).toEqual(['--out', args[2]]);
    expect(args).toEqual([script, '--out', args[2], '--name', 'my-model', '--like', like, '--init-onnx', validOnnx, '--minutes', '3']);
    expect(run.stderr).toMatch(/step 1\/2 loss 0\.9[\s\S]*step 2\/2 loss 0\.5/);
    expect(run.stderr).toMatch(/warming up/);
    expect(run.stdout).toMatch(/^wrote .*my-model\.onnx \(known-answer-1x1, 100 nm camera pixels, 2x\) and .*my-model\.json in .* on Fake GPU\n$/);
    expect(readFileSync(out).equals(readFileSync(validOnnx))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'my-model.json'), 'utf8'))).toEqual({ steps: 2 });
    // The temporary folder the script wrote into is gone.
    expect(existsSync(args[2])).toBe(false);
    // Again without --force: refused before any training.
    const again = smlm(['train', '--like', like, '-o', out], { FAKE_ARGS: join(dir, 'args2.txt') });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/E_OUTPUT_EXISTS/);
    expect(existsSync(join(dir, 'args2.txt'))).toBe(false);
  });

  it('missing pieces are E_BACKEND_UNAVAILABLE naming them and the install command', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ FAKE_ENV: 'notorch' }, /needs PyTorch.*No module named torch.*pip install torch/],
      [{ FAKE_ENV: 'nocuda' }, /needs a CUDA GPU, but torch 2\.5\.0\+cpu sees none.*nvidia-smi.*download\.pytorch\.org/],
      [{ FAKE_ENV: 'py2' }, /needs Python 3, but .* is Python 2\.7\.18/],
    ];
    for (const [env, message] of cases) {
      const run = smlm(['train', '--like', like, '-o', join(dir, 'x.onnx')], env);
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/^smlm-rt: error E_BACKEND_UNAVAILABLE: /);
      expect(run.stderr).toMatch(message);
    }
    const noPython = smlm(['train', '--like', like, '-o', join(dir, 'x.onnx'), '--python', join(dir, 'no-such-python')], {});
    expect(noPython.stderr).toMatch(/E_BACKEND_UNAVAILABLE: training needs Python 3, but .* cannot be run \(ENOENT\).*apt install python3/);
    expect(existsSync(join(dir, 'x.onnx'))).toBe(false);
  });

  it('script failures: exit 3 E_BACKEND_UNAVAILABLE, other exits E_TRAINING_FAILED with its last line, a bad model E_MODEL_INVALID', () => {
    const out = join(dir, 'y.onnx');
    expect(smlm(['train', '--like', like, '-o', out], { FAKE_TRAIN: 'nogpu' }).stderr).toMatch(/E_BACKEND_UNAVAILABLE: .*exited with 3: no CUDA GPU/);
    expect(smlm(['train', '--like', like, '-o', out], { FAKE_TRAIN: 'fail' }).stderr).toMatch(/E_TRAINING_FAILED: .*exited with 1: RuntimeError: CUDA error/);
    expect(smlm(['train', '--like', like, '-o', out], { FAKE_TRAIN: 'none' }).stderr).toMatch(/E_TRAINING_FAILED: .*wrote no y\.onnx/);
    expect(smlm(['train', '--like', like, '-o', out], { FAKE_ONNX: noMetadataOnnx }).stderr).toMatch(/E_MODEL_INVALID: .*not an smlm-rt model/);
    expect(existsSync(out)).toBe(false);
  });

  it('bad conditions or options are refused before Python is asked anything', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ camera: 'emccd' }));
    expect(smlm(['train', '--like', bad, '-o', join(dir, 'z.onnx')], {}).stderr).toMatch(/E_BAD_OPTIONS: .*"baselineAdu"/);
    expect(smlm(['train', '--like', like, '-o', join(dir, 'z.onnx'), '--minutes', '0'], {}).code).toBe(2);
    await expect(trainModel({ like, output: like, python: fakePython, script })).rejects.toMatchObject({ code: 'E_BAD_OPTIONS' });
  });

  it('the API reports the environment it found', async () => {
    const env = await checkTrainingEnvironment(fakePython);
    expect(env).toMatchObject({ pythonVersion: '3.12.1', torchVersion: '2.5.0', cudaDevices: 1, gpu: 'Fake GPU' });
  });
});
