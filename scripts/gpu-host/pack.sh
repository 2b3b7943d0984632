#!/usr/bin/env bash
# Prepares .gpu/run/ (git-ignored) for scripts/gpu-host/run.sh on a GPU host that has the NVIDIA driver and PyTorch but
# no Node.js and no network. Run here, in the repository root, then call the device with carry [".gpu/run"] and the
# command `bash scripts/gpu-host/run.sh`. What travels (working tree + .gpu) must stay under 64 MiB.
#
#   .gpu/run/node.xz             this machine's node binary (../shared/gpu-host/pack-node.sh)
#   .gpu/run/smlm_rt.node.xz     the addon, built here with nvcc (PACK_ARCHS, default 90: the H100/H200 only)
#   .gpu/run/dist.tar.xz         the compiled TypeScript (npm run build): lib/, benchmarks/, test helpers
#   .gpu/run/node_modules.tar.xz node_modules pruned to what the GPU tests and bench:gpu load on linux-x64 (vitest,
#                            onnxruntime-node's linux-x64 binary for the CPU reference, geotiff, onnx-proto, ...)
#   .gpu/run/deepstorm_torch_bench.py  the PyTorch reference, run in the same device call
#
# A folder of its own inside .gpu/ so that other files there (other runs) do not travel with it.
# Environment: PACK_ARCHS (e.g. "80,90"), SHARED (default ../shared), SKIP_NATIVE_BUILD=1 to reuse build/Release,
# PACK_NO_TESTS=1 for calls that run the CLI only (scripts/gpu-host/fit-demo.sh): leaves out the test runner (vitest and
# what it alone loads, ~7 MB), onnxruntime-node (~13 MB; the CLI's cpu backend runs the addon's plan executor) and the
# engine self-test, so that .gpu/run and .gpu/fit travel together under 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${SHARED:-../shared}
out=.gpu/run
mkdir -p "$out"
say() { echo "pack.sh: $*"; }

say "node runtime"
"$shared/gpu-host/pack-node.sh" "$out"

if [ -z "${SKIP_NATIVE_BUILD:-}" ]; then
  say "building the addon for sm_${PACK_ARCHS:-90}"
  SMLM_RT_CUDA_ARCHS="${PACK_ARCHS:-90}" node scripts/build-native.mjs > "$out/build-native.log" 2>&1 || { tail -30 "$out/build-native.log"; exit 1; }
fi
test -f build/Release/smlm_rt.node || { say "build/Release/smlm_rt.node is missing"; exit 1; }
xz -T2 -6 -c build/Release/smlm_rt.node > "$out/smlm_rt.node.xz"

say "compiling TypeScript"
npx tsc -p tsconfig.json
tar -cJf "$out/dist.tar.xz" dist

say "pruning node_modules"
test_runner_excludes=()
if [ -n "${PACK_NO_TESTS:-}" ]; then
  for m in vitest @vitest vite rolldown @rolldown chai onnxruntime-node; do test_runner_excludes+=("--exclude=node_modules/$m"); done
fi
# Everything vitest, the backends and the bench load on linux-x64; not: other platforms' onnxruntime binaries,
# onnxruntime-web (139 MB of browser builds; the GPU host's cpu backend runs onnxruntime-node),
# typescript (vitest transforms TS itself), build tools, type declarations, protobufjs's CLI, lightningcss (CSS only),
# docs and source maps.
tar -cf - \
  --exclude='node_modules/typescript' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
  --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
  --exclude='node_modules/onnxruntime-web' \
  --exclude='node_modules/eslint' --exclude='node_modules/@eslint' --exclude='node_modules/typescript-eslint' --exclude='node_modules/@typescript-eslint' \
  --exclude='node_modules/prettier' \
  --exclude='node_modules/@types' \
  --exclude='node_modules/cmake-js' \
  --exclude='node_modules/prebuildify' \
  --exclude='node_modules/node-api-headers' \
  --exclude='node_modules/node-addon-api' \
  --exclude='node_modules/onnx-proto/node_modules/protobufjs/cli' \
  --exclude='node_modules/lightningcss' --exclude='node_modules/lightningcss-linux-x64-gnu' \
  "${test_runner_excludes[@]}" \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' --exclude='*.md' \
  node_modules | xz -T2 -6 > "$out/node_modules.tar.xz"

cp "$shared/reference/deepstorm_torch_bench.py" "$out/"
# The shared reference's end-to-end section calls `mc or m16` and `if mc`, which ask a torch.compile'd module for its truth
# value and raises TypeError; the copy that travels tests for None instead (the only change; the timing code is as shipped).
sed -i -e 's/net = mc or m16/net = mc if mc is not None else m16/' -e "s/'compiled' if mc else 'eager'/'compiled' if mc is not None else 'eager'/" "$out/deepstorm_torch_bench.py"
grep -q 'net = mc if mc is not None else m16' "$out/deepstorm_torch_bench.py" || say "warning: the reference's end-to-end line was not found; left as is"

# The engine's standalone self-test (no Node): every tile configuration against a CPU fp32 reference of the plan.
rm -f "$out/selftest.xz"
if [ -z "${SKIP_SELFTEST:-}" ] && [ -z "${PACK_NO_TESTS:-}" ]; then
  say "building the engine self-test for sm_${PACK_ARCHS:-90}"
  ARCHS="${PACK_ARCHS:-90}" native/tests/build.sh build/selftest > /dev/null
  xz -T2 -6 -c build/selftest/selftest > "$out/selftest.xz"
fi

tree_bytes=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
gpu_bytes=$(du -cb "$out" | tail -1 | cut -f1)
rm -f "$out/build-native.log"
total=$((tree_bytes + gpu_bytes))
say "working tree $((tree_bytes / 1048576)) MiB + .gpu/run $((gpu_bytes / 1048576)) MiB = $((total / 1048576)) MiB (limit 64 MiB)"
ls -la "$out"
if [ "$total" -ge $((64 * 1048576)) ]; then say "too large to travel"; exit 1; fi
# fit-demo.sh carries .gpu/fit beside run/.
if [ -d .gpu/fit ]; then
  fit_bytes=$(du -cb .gpu/fit | tail -1 | cut -f1)
  with_fit=$((total + fit_bytes))
  say "with .gpu/fit (fit-demo.sh): $((with_fit / 1048576)) MiB$([ "$with_fit" -ge $((64 * 1048576)) ] && echo ': too large, pack with PACK_NO_TESTS=1')"
fi
