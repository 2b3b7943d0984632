#!/usr/bin/env node
// Copies the files of onnxruntime-web that the `cpu` backend's WebAssembly runtime needs in Node (its Node
// entry point, the threaded-SIMD WebAssembly module and that module's loader) and a licence note into vendor/onnxruntime-web/,
// which the npm package ships. Why not depend on onnxruntime-web: its package is 139 MB installed (WebGL, WebGPU,
// JSPI and asyncify builds for browsers), these files are 14 MB, and the package must stay within 100 MB installed.
// The JavaScript API comes from onnxruntime-common, a real dependency pinned to the same version (the entry point
// imports it by name). Runs after tsc in `npm run build` / `prepare`; onnxruntime-web is a devDependency.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The source map too (150 KB): the entry point names it, and tools that follow the name (vitest) complain without it.
const FILES = ['dist/ort.node.min.mjs', 'dist/ort.node.min.mjs.map', 'dist/ort-wasm-simd-threaded.mjs', 'dist/ort-wasm-simd-threaded.wasm'];

// onnxruntime-web's package has no LICENSE file (its package.json says MIT; the licence is the onnxruntime
// repository's). MIT asks that copies carry the notice: this is it.
const license = (version) => `These files are copied unmodified from onnxruntime-web ${version} (https://github.com/microsoft/onnxruntime)
by scripts/vendor-onnxruntime-web.mjs. Their licence:

MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`;

const require = createRequire(join(root, 'package.json'));
let source;
try {
  // Its exports map hides package.json: resolve its Node entry point (dist/ort.node.min.js) and go up from there.
  source = join(dirname(require.resolve('onnxruntime-web')), '..');
} catch {
  // An installed copy of smlm-rt (npm runs `prepare` only for git dependencies) keeps the files it was packed with.
  console.error('smlm-rt: onnxruntime-web is not installed (a devDependency): vendor/onnxruntime-web/ left as it is.');
  process.exit(0);
}
const { version } = JSON.parse(readFileSync(join(source, 'package.json'), 'utf8'));
const common = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies['onnxruntime-common'];
if (common !== version) {
  console.error(`smlm-rt: onnxruntime-web ${version} needs onnxruntime-common ${version}, but package.json pins ${common}: make them equal.`);
  process.exit(1);
}
const target = join(root, 'vendor', 'onnxruntime-web');
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
for (const file of FILES) copyFileSync(join(source, file), join(target, file.replace(/^dist\//, '')));
writeFileSync(join(target, 'LICENSE'), license(version));
