/**
 * Bundled models: every `.onnx` file in the package's models/ folder is a model named after the file. The default
 * is `unet` when present, else `deepstorm`; nothing about a model is hard-coded here, it all comes from its metadata.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SmlmError } from '../errors.js';
import type { ModelMetadata } from './metadata.js';
import { loadOnnxModel, type LoadedModel } from './onnx.js';

/** Bundled model names in order of preference for the default. */
export const DEFAULT_MODEL_PREFERENCE = ['unet', 'deepstorm'] as const;

/** The package root: the nearest folder above this file with a package.json (works from lib/ and from dist/lib/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('smlm-rt: cannot locate the package root');
    dir = parent;
  }
}

/** The folder holding bundled models. `SMLM_RT_MODELS_DIR` overrides it (tests, custom deployments). */
export function modelsDir(): string {
  return process.env.SMLM_RT_MODELS_DIR ? resolve(process.env.SMLM_RT_MODELS_DIR) : join(packageRoot(), 'models');
}

/** Names of the bundled models (the .onnx files in modelsDir()), sorted. */
export function bundledModelNames(): string[] {
  const dir = modelsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => extname(f).toLowerCase() === '.onnx')
    .map((f) => basename(f, extname(f)))
    .sort();
}

/** The default model's name, or undefined when no bundled model exists. */
export function defaultModelName(): string | undefined {
  const names = bundledModelNames();
  return DEFAULT_MODEL_PREFERENCE.find((n) => names.includes(n)) ?? names[0];
}

export interface ModelInfo {
  name: string;
  path: string;
  isDefault: boolean;
  /** Present when the file is a valid smlm-rt model. */
  metadata?: ModelMetadata;
  /** sha256 of the file, when it could be read. */
  hash?: string;
  /** Why the file is not usable, when it is not. */
  error?: string;
}

/** Every bundled model with its metadata; broken files are listed with their error instead of failing the list. */
export async function listModels(): Promise<ModelInfo[]> {
  const dir = modelsDir();
  const fallback = defaultModelName();
  const infos: ModelInfo[] = [];
  for (const name of bundledModelNames()) {
    const path = join(dir, `${name}.onnx`);
    try {
      const model = await loadOnnxModel(path, name);
      infos.push({ name, path, isDefault: name === fallback, metadata: model.metadata, hash: model.hash });
    } catch (err) {
      infos.push({ name, path, isDefault: name === fallback, error: (err as Error).message });
    }
  }
  return infos;
}

/**
 * A spec is a path (not a bundled name) when it has a folder separator or an .onnx extension, or when it names an
 * existing file and no bundled model: `--model README.md` must say what is wrong with that file, not "unknown model".
 */
function looksLikePath(spec: string): boolean {
  if (spec.includes('/') || spec.includes('\\') || extname(spec).toLowerCase() === '.onnx') return true;
  return !bundledModelNames().includes(spec) && existsSync(spec);
}

/** The ONNX file a model spec names (bundled name, path, or undefined for the default), without reading it. */
export function modelFilePath(spec?: string): string | undefined {
  if (spec === undefined) {
    const name = defaultModelName();
    return name === undefined ? undefined : join(modelsDir(), `${name}.onnx`);
  }
  return looksLikePath(spec) ? resolve(spec) : join(modelsDir(), `${spec}.onnx`);
}

/**
 * Loads a model by bundled name or ONNX path (default: the bundled default). Throws E_MODEL_NOT_FOUND for unknown
 * names, missing files or when no model is bundled and none was given; E_MODEL_INVALID for broken files.
 */
export async function resolveModel(spec?: string): Promise<LoadedModel> {
  if (spec !== undefined && (typeof spec !== 'string' || spec.trim() === '')) {
    throw new SmlmError('E_BAD_OPTIONS', `model must be a bundled model name or a path to an .onnx file, got ${JSON.stringify(spec)}`);
  }
  if (spec === undefined) {
    const name = defaultModelName();
    if (!name) {
      throw new SmlmError('E_MODEL_NOT_FOUND', `no model given and no bundled model in ${modelsDir()}; pass a model (an .onnx file with smlm-rt metadata)`);
    }
    return loadOnnxModel(join(modelsDir(), `${name}.onnx`), name);
  }
  if (looksLikePath(spec)) return loadOnnxModel(resolve(spec), spec);
  const names = bundledModelNames();
  if (!names.includes(spec)) {
    const known = names.length > 0 ? `bundled models: ${names.join(', ')}` : 'no model is bundled';
    throw new SmlmError('E_MODEL_NOT_FOUND', `unknown model "${spec}" (${known}); or pass a path to an .onnx file`, { model: spec });
  }
  return loadOnnxModel(join(modelsDir(), `${spec}.onnx`), spec);
}
