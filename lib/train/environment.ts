/**
 * What training needs besides smlm-rt: Python 3 with PyTorch and a CUDA GPU that torch can use. Checked before
 * anything is started, so that a missing piece is one clear E_BACKEND_UNAVAILABLE naming it and the command that
 * installs it, not a Python traceback minutes in.
 */
import { spawn } from 'node:child_process';
import { SmlmError } from '../errors.js';

export interface TrainingEnvironment {
  python: string;
  pythonVersion: string;
  torchVersion: string;
  cudaDevices: number;
  /** torch.cuda.get_device_name(0). */
  gpu: string;
}

/** Prints one JSON line; never raises, so the answer is always parseable. */
const PROBE = [
  'import json, sys',
  'out = {"python": sys.version.split()[0]}',
  'try:',
  '    import torch',
  '    out["torch"] = torch.__version__',
  '    out["cuda"] = bool(torch.cuda.is_available())',
  '    out["devices"] = torch.cuda.device_count() if out["cuda"] else 0',
  '    out["gpu"] = torch.cuda.get_device_name(0) if out["cuda"] else ""',
  'except Exception as e:',
  '    out["torchError"] = f"{type(e).__name__}: {e}"',
  'print(json.dumps(out))',
].join('\n');

export const INSTALL_PYTHON = 'install Python 3 (e.g. `sudo apt install python3 python3-pip`), or pass --python <interpreter>';
export const INSTALL_TORCH = '`python3 -m pip install torch onnx` (a CUDA build; see https://pytorch.org/get-started/locally/)';
export const INSTALL_CUDA =
  'a CUDA GPU that torch can use: an NVIDIA driver (`nvidia-smi` must list the GPU) and a CUDA build of torch, e.g. `python3 -m pip install torch --index-url https://download.pytorch.org/whl/cu124`';

function unavailable(message: string, details: Record<string, unknown>): SmlmError {
  return new SmlmError('E_BACKEND_UNAVAILABLE', `training needs ${message}`, details);
}

/** Runs `python -c PROBE`; resolves with its stdout, or rejects when it cannot be started. */
function probe(python: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-c', PROBE], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Checks python, torch and a CUDA GPU; E_BACKEND_UNAVAILABLE naming what is missing and how to install it. */
export async function checkTrainingEnvironment(python = 'python3'): Promise<TrainingEnvironment> {
  let run: Awaited<ReturnType<typeof probe>>;
  try {
    run = await probe(python);
  } catch (err) {
    throw unavailable(`Python 3, but "${python}" cannot be run (${(err as NodeJS.ErrnoException).code ?? String(err)}): ${INSTALL_PYTHON}`, { missing: 'python', python });
  }
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  let info: { python?: string; torch?: string; cuda?: boolean; devices?: number; gpu?: string; torchError?: string };
  try {
    info = JSON.parse(line) as typeof info;
  } catch {
    const why = (run.stderr.trim().split('\n').at(-1) ?? '').slice(0, 200) || `exit code ${run.code}`;
    throw unavailable(`Python 3, but "${python}" did not run the check (${why}): ${INSTALL_PYTHON}`, { missing: 'python', python });
  }
  if (!info.python || !info.python.startsWith('3.')) throw unavailable(`Python 3, but "${python}" is Python ${info.python ?? '?'}: ${INSTALL_PYTHON}`, { missing: 'python', python });
  if (!info.torch) throw unavailable(`PyTorch, which "${python}" cannot import (${info.torchError ?? 'not installed'}): ${INSTALL_TORCH}`, { missing: 'torch', python });
  if (!info.cuda || !(info.devices! > 0)) throw unavailable(`a CUDA GPU, but torch ${info.torch} sees none (torch.cuda.is_available() is False): ${INSTALL_CUDA}`, { missing: 'cuda', python });
  return { python, pythonVersion: info.python, torchVersion: info.torch, cudaDevices: info.devices!, gpu: info.gpu ?? '' };
}
