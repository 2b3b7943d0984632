#!/usr/bin/env bash
# One device call for a release (after scripts/gpu-host/pack.sh here; carry [".gpu/run", ".gpu/fit"]):
#   1. run.sh without benchmarks: unpack, what the addon sees, the engine self-test, the GPU tests;
#   2. "Fit a model to your microscope" (README): for every .gpu/fit/NAME.conditions.json (written here by
#      `smlm-rt estimate --json` on a stack of those conditions), `smlm-rt train --like` fine-tunes the default model
#      for FIT_MINUTES (default 2), all of them at once, and reports its wall time; the models come back;
#   3. run.sh's benchmarks alone on the idle GPU: bench:gpu and the PyTorch reference, side by side;
#   4. bench:pipeline on the cuda backend (issue #12's four stacks: engine, in memory, read, CLI from the file).
# Everything but the fitted models comes back in logs.tgz (at most 8 files come back from the host).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/smlm-rt-out}
export OUT PYTHONUNBUFFERED=1
LOGS=/tmp/verify-logs
mkdir -p "$LOGS"
status=0

OUT=$LOGS SKIP_BENCH=1 SKIP_TORCH=1 TEST_TIMEOUT=${TEST_TIMEOUT:-180} bash scripts/gpu-host/run.sh || status=1
export PATH=/tmp/smlm-node:$PATH

started=$(date +%s)
for conditions in .gpu/fit/*.conditions.json; do
  [ -f "$conditions" ] || continue
  name=$(basename "$conditions" .conditions.json)
  ( t0=$(date +%s)
    node dist/lib/cli/main.js train --like "$conditions" -o "$OUT/fit-$name.onnx" --minutes "${FIT_MINUTES:-2}" --force > "$LOGS/fit-$name.log" 2>&1
    echo "fit $name: exit $? after $(( $(date +%s) - t0 )) s" | tee -a "$LOGS/fit-summary.txt" ) &
done
wait
echo "fitting took $(( $(date +%s) - started )) s in all" | tee -a "$LOGS/fit-summary.txt"
tail -n 3 "$LOGS"/fit-*.log

OUT=$LOGS SKIP_SELFTEST=1 SKIP_TESTS=1 BENCH_ARGS=${BENCH_ARGS:-"--batches 1,16,64,256"} TORCH64_BATCHES=${TORCH64_BATCHES:-64} \
  bash scripts/gpu-host/run.sh || status=1
timeout "${PIPELINE_TIMEOUT:-150}" node dist/benchmarks/pipeline.js --backend cuda --json "$LOGS/pipeline.json" > "$LOGS/pipeline.log" 2>&1
echo "bench:pipeline exit $?"; tail -n 12 "$LOGS/pipeline.log"
cp "$LOGS/summary.txt" "$OUT/" 2>/dev/null
(cd "$LOGS" && tar czf "$OUT/logs.tgz" .)
exit $status
