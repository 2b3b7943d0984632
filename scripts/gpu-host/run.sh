#!/usr/bin/env bash
# Everything smlm-rt measures on a GPU host, in one device call, from the repository root:
#   bash scripts/gpu-host/run.sh          (after scripts/gpu-host/pack.sh here; carry [".gpu/run"])
# 1. unpacks node, the addon, dist/ and node_modules from .gpu/run/;
# 2. prints what the addon sees (devices, features);
# 3. runs the GPU tests (vitest run test/gpu): cuda vs cpu, memory, abort, frame sizes;
# 4. runs bench:gpu (deepstorm + the default model, 64x64 and 256x256, batch 1..256);
# 5. runs the PyTorch reference (deepstorm_torch_bench.py) on the same GPU: 64x64 with torch.compile, 256x256 eager;
# 6. prints smlm-rt and PyTorch side by side.
# Logs go to $OUT (at most 8 files come back): status.txt selftest.log tests.log bench.log bench.json torch64.log
# torch256.log summary.txt. Each phase has its own time limit so that one slow phase cannot eat the whole call (600 s).
#
# Knobs (environment): SKIP_TESTS=1, SKIP_BENCH=1, SKIP_TORCH=1, TEST_TIMEOUT (s, 120), BENCH_TIMEOUT (200),
# TORCH64_TIMEOUT (300), TORCH256_TIMEOUT (60), BENCH_ARGS (extra bench:gpu arguments, e.g. "--batches 1,16,64,256"),
# TORCH64_BATCHES ("64 256"), TORCH256_BATCHES ("1 4"), TORCH256_COMPILE=1 (compile at 256x256 too).
# Measured on an H100 (first run): unpack 3 s, tests 10 s, bench:gpu with 4 batch sizes 73 s, torch.compile
# max-autotune about 75 s per batch size at 64x64, torch eager 256x256 13 s. The defaults fit one 600 s call;
# more torch batch sizes need a second call (SKIP_TESTS=1 SKIP_BENCH=1 TORCH64_BATCHES="1 16").
set -uo pipefail
cd "$(dirname "$0")/../.."
G=.gpu/run
OUT=${OUT:-/tmp/smlm-rt-out}
mkdir -p "$OUT"
started=$(date +%s)
say() { echo "[run.sh +$(($(date +%s) - started))s] $*"; }
status=0

# ---- 1. unpack ----
for f in node.xz smlm_rt.node.xz dist.tar.xz node_modules.tar.xz deepstorm_torch_bench.py; do
  [ -f "$G/$f" ] || { say "missing $G/$f: run scripts/gpu-host/pack.sh first and carry .gpu/run"; exit 1; }
done
mkdir -p /tmp/smlm-node
xz -dc "$G/node.xz" > /tmp/smlm-node/node && chmod +x /tmp/smlm-node/node
export PATH=/tmp/smlm-node:$PATH
mkdir -p build/Release
xz -dc "$G/smlm_rt.node.xz" > build/Release/smlm_rt.node
rm -rf dist && tar -xJf "$G/dist.tar.xz"
[ -d node_modules ] || tar -xJf "$G/node_modules.tar.xz"
# Kernel choices are timed and cached per GPU: a fresh host starts with an empty cache, as a first-time user does.
export SMLM_RT_CACHE_DIR=/tmp/smlm-rt-cache
say "node $(node --version), unpacked"

# ---- 2. what the addon sees ----
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  node --input-type=module -e "
    const { cudaStatus } = await import('./dist/lib/backends/cuda.js');
    const { loadAddon } = await import('./dist/lib/native/binding.js');
    const loaded = loadAddon();
    console.log(JSON.stringify({ status: cudaStatus(), features: loaded.ok ? loaded.addon.features : loaded.reason }, null, 2));
  " 2>&1
} | tee "$OUT/status.txt"

# ---- 2b. the engine's self-test (every tile configuration vs a CPU fp32 reference, determinism, memory) ----
if [ -z "${SKIP_SELFTEST:-}" ] && [ -f "$G/selftest.xz" ]; then
  say "engine self-test"
  xz -dc "$G/selftest.xz" > /tmp/smlm-selftest && chmod +x /tmp/smlm-selftest
  timeout "${SELFTEST_TIMEOUT:-150}" /tmp/smlm-selftest > "$OUT/selftest.log" 2>&1
  rc=$?
  grep -E "PASS|FAIL|pass|fail" "$OUT/selftest.log" | tail -40
  say "engine self-test exit $rc"
  [ "$rc" = 0 ] || status=1
fi

# ---- 3. GPU tests ----
if [ -z "${SKIP_TESTS:-}" ]; then
  say "GPU tests"
  # One file at a time: the memory checks read device-wide free memory, another test process would disturb them.
  timeout "${TEST_TIMEOUT:-120}" node node_modules/vitest/vitest.mjs run --no-file-parallelism test/gpu 2>&1 | sed 's/\x1b\[[0-9;]*m//g' > "$OUT/tests.log"
  rc=${PIPESTATUS[0]}
  grep -E "^\[|Test Files|Tests |✓|×|FAIL|Error" "$OUT/tests.log" | head -80
  say "GPU tests exit $rc"
  [ "$rc" = 0 ] || status=1
fi

# ---- 4. bench:gpu ----
if [ -z "${SKIP_BENCH:-}" ]; then
  say "bench:gpu"
  # shellcheck disable=SC2086
  timeout "${BENCH_TIMEOUT:-200}" node dist/benchmarks/gpu.js --json "$OUT/bench.json" ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.log"
  rc=${PIPESTATUS[0]}
  say "bench:gpu exit $rc"
  [ "$rc" = 0 ] || status=1
fi

# ---- 5. PyTorch reference ----
if [ -z "${SKIP_TORCH:-}" ]; then
  export PYTHONUNBUFFERED=1
  say "PyTorch reference, 64x64 (torch.compile max-autotune)"
  # shellcheck disable=SC2086
  timeout "${TORCH64_TIMEOUT:-300}" python3 "$G/deepstorm_torch_bench.py" --size 64 --frames 361 --batches ${TORCH64_BATCHES:-64 256} > "$OUT/torch64.log" 2>&1
  say "torch 64x64 exit $?"
  say "PyTorch reference, 256x256"
  compile_flag=--no-compile
  [ -n "${TORCH256_COMPILE:-}" ] && compile_flag=
  # shellcheck disable=SC2086
  timeout "${TORCH256_TIMEOUT:-60}" python3 "$G/deepstorm_torch_bench.py" --size 256 --frames 64 --batches ${TORCH256_BATCHES:-1 4} $compile_flag > "$OUT/torch256.log" 2>&1
  say "torch 256x256 exit $?"
fi

# ---- 6. side by side ----
{
  echo "== smlm-rt bench:gpu =="
  [ -f "$OUT/bench.log" ] && grep -v "^wrote " "$OUT/bench.log"
  for size in 64 256; do
    if [ -f "$OUT/torch$size.log" ]; then
      echo
      echo "== PyTorch reference $size x $size (deepstorm_torch_bench.py) =="
      sed -n '/== summary ==/,$p' "$OUT/torch$size.log" | tail -n +2
      grep -q "== summary ==" "$OUT/torch$size.log" || tail -5 "$OUT/torch$size.log"
    fi
  done
  if [ -f "$OUT/bench.json" ] && ls "$OUT"/torch*.log > /dev/null 2>&1; then
    # The per-batch lines do not name the frame size: mark each file's size for the parser.
    : > /tmp/smlm-torch-all.log
    for size in 64 256; do
      [ -f "$OUT/torch$size.log" ] && { echo "== torch size $size =="; cat "$OUT/torch$size.log"; } >> /tmp/smlm-torch-all.log
    done
    echo
    node dist/benchmarks/gpu.js --from-json "$OUT/bench.json" --torch-log /tmp/smlm-torch-all.log
  fi
  echo
  echo "GPU tests: $(grep -E "^ *Tests " "$OUT/tests.log" 2>/dev/null || echo 'not run')"
  echo "engine self-test: $(tail -n 1 "$OUT/selftest.log" 2>/dev/null || echo 'not run')"
} 2>&1 | tee "$OUT/summary.txt"
say "done (exit $status)"
exit $status
