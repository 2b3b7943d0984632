#!/usr/bin/env bash
# Trains the shipped models on the GPU host (the device tool; no Node there) and evaluates them.
# Needs, made here beforehand (npm run build first):
#   node dist/scripts/make-training-data.js   -> .gpu/train/train.bin
#   node dist/scripts/make-eval-stacks.js     -> .gpu/eval/{validation-*,heldout,demo-artificial,demo1}.*
# Usage there: scripts/gpu-train.sh smoke|full|heads|sr|mix|sharp|sigma0 [training seconds per model]   (writes to $OUT, else ./gpu-out)
#   smoke: both architectures for 2 short epochs, export, onnxruntime check, evaluation
#   full:  concurrently on the one GPU, each stopped at the time budget: deepstorm (Adam 1e-3 + ReduceLROnPlateau,
#          Deep-STORM's), unet-base with the same, unet-base with the paper's constant 1e-4 (the lr comparison) and
#          unet-wide (64-128-256) with 1e-3 + plateau (round 1 of models/README.md; it ran before the validation
#          stacks existed, so select_unet.py fell back to the validation loss)
#   heads: five unet candidates: the per-pixel renderer before the head (--head-hidden 128) at two widths, each with
#          1e-3 + plateau and with cosine + EMA of the weights, and unet-wide again with another seed (run-to-run
#          spread)
#   sr:    unet candidates with super-resolving decoder stages (--sr-stages 1 / 2) and unet-wide with seed 1 again;
#          unet-wide-s1.onnx is kept beside the pick as a fallback
#   mix:   round 4, after the training mix went to half uniform emitters, half reaching the frame's edge: deepstorm
#          again (same data and schedule as the unets, so the comparison stays fair) and five unet candidates (unet-wide
#          with three seeds, with a cosine schedule, with one super-resolving stage); meant for two GPUs (deepstorm
#          and one unet on the first, four unets on the second), so that deepstorm gets its 100 epochs in one call
#   sharp: round 5 on the same data: a second deepstorm seed (deepstorm-s1.onnx comes back beside the unet pick, so
#          that both architectures are chosen among seeds by the same criterion) and unet candidates aimed at the
#          U-Net's broader response at one fine pixel (two super-resolving stages, the per-pixel renderer head) plus
#          more seeds of unet-wide
#   sigma0: round 6 on the same data, aimed at NMSE without blur (sigma 0), where the U-Net trails Deep-STORM on the
#          ThunderSTORM stacks: the loss's Gaussian at 0.5 and 0.7 fine pixels instead of 1 (--loss-sigma), the
#          per-pixel renderer head (128 and 256 channels), a 128-channel last decoder block, three super-resolving
#          stages that end at full resolution, and a new seed of the plain unet-wide; ten U-Nets on the first GPU under
#          MPS (below), five without it; with a second GPU also deepstorm-ls05 (Deep-STORM with the loss at 0.5), which
#          comes back beside the three best U-Nets; then, where Node is, refit each one's head
#          (node dist/scripts/refit-head.js --models PATH --out PATH-refit.onnx) and ship the best refit validation score
#   loc:   round 7, localization-head U-Nets (scripts/train_loc.py: frames simulated on the GPU for every batch with
#          randomized conditions; no train.bin needed) for MINUTES (default 7) each, five under MPS (three without):
#          broad conditions with two seeds, the benchmark-centred ranges, a per-pixel renderer before the head, a larger
#          batch. Every candidate comes back (their ONNX files and results.tgz); the pick is made afterwards on the
#          validation stacks of both simulators (npm run bench:accuracy -- --validation)
#   loc2:  round 8, the same with 2x2 (and 4x4) detection cells per camera pixel (--grid), batch 64; three continue
#          from round 7's bodies (LOC_INIT: a folder holding loc-broad-b64-s2.onnx and loc-bench-s0.onnx, which come
#          back from a loc run), one from scratch
# Every mode but smoke ends with scripts/select_unet.py (the pick becomes unet.onnx; the scores are in gpu.txt) and
# results.tgz (every candidate's JSON and the training logs).
set -uo pipefail
MODE=${1:-smoke}
BUDGET=${2:-400}
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L | tee "$OUT/gpu.txt"
python3 -c 'import torch, onnx, onnxruntime; print("torch", torch.__version__, "onnx", onnx.__version__, "ort", onnxruntime.__version__)' | tee -a "$OUT/gpu.txt"
EVAL="$(ls .gpu/eval/validation-*.json 2>/dev/null | sed 's/\.json$//' | tr '\n' ' ').gpu/eval/heldout .gpu/eval/demo-artificial .gpu/eval/demo1"
DATA=.gpu/train/train.bin
start=$(date +%s)
LOGS=/tmp/train-logs; mkdir -p $LOGS
GPUS=$(nvidia-smi -L | wc -l)
# One candidate in the background: [GPU=n] train NAME [train.py arguments]; its log goes to $LOGS/NAME.log. GPU n
# wraps around on hosts with fewer GPUs.
train() {
  local name=$1; shift
  CUDA_VISIBLE_DEVICES=$(( ${GPU:-0} % GPUS )) python3 scripts/train.py --name "$name" --data $DATA --out "$OUT" --time-budget "$BUDGET" --eval $EVAL "$@" > "$LOGS/$name.log" 2>&1 &
}
# A U-Net training alone is launch-bound (small kernels on 16 patches of 24x24), so trainings that take turns on the
# GPU leave most of its multiprocessors idle; under MPS their kernels run side by side. Modes that can use more slots
# ask for it; where MPS cannot start, they train fewer candidates rather than cutting every one short of its epochs.
MPS=0
start_mps() {
  command -v nvidia-cuda-mps-control >/dev/null || { echo "MPS: nvidia-cuda-mps-control not found"; return 1; }
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  nvidia-cuda-mps-control -d || { echo "MPS: the control daemon did not start"; return 1; }
  if ! python3 -c 'import torch; assert float(torch.ones(8, device="cuda").sum()) == 8' >/dev/null 2>&1; then
    echo "MPS: a CUDA client failed under it; going on without"
    echo quit | nvidia-cuda-mps-control
    unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    return 1
  fi
  MPS=1
}
stop_mps() { [ "$MPS" = 1 ] && echo quit | nvidia-cuda-mps-control; }
# One localization-head candidate in the background: train_loc NAME [train_loc.py arguments].
train_loc() {
  local name=$1; shift
  python3 scripts/train_loc.py --name "$name" --out "$OUT" --minutes "${MINUTES:-7}" --eval $EVAL "$@" > "$LOGS/$name.log" 2>&1 &
}
# candidate SLOTS NAME [train.py arguments]: trains NAME only while fewer than SLOTS candidates are running.
candidate() {
  local slots=$1; shift
  [ "$(wc -w <<<"$CANDIDATES")" -lt "$slots" ] || return 0
  CANDIDATES="$CANDIDATES $1"
  train "$@"
}
if [ "$MODE" = smoke ]; then
  python3 scripts/train.py --arch deepstorm --data $DATA --out "$OUT" --epochs 2 --max-iters 150 --eval $EVAL > "$OUT/deepstorm.log" 2>&1 &
  python3 scripts/train.py --arch unet --data $DATA --out "$OUT" --epochs 2 --max-iters 150 --eval $EVAL > "$OUT/unet.log" 2>&1 &
elif [ "$MODE" = heads ]; then
  CANDIDATES="unet-mlp unet-wide-mlp unet-mlp-cos-ema unet-wide-mlp-cos-ema unet-wide-s1"
  train unet-mlp --arch unet --head-hidden 128
  train unet-wide-mlp --arch unet --widths 64 128 256 --head-hidden 128
  train unet-mlp-cos-ema --arch unet --head-hidden 128 --schedule cosine --ema 0.999
  train unet-wide-mlp-cos-ema --arch unet --widths 64 128 256 --head-hidden 128 --schedule cosine --ema 0.999
  train unet-wide-s1 --arch unet --widths 64 128 256 --seed 1
elif [ "$MODE" = sr ]; then
  CANDIDATES="unet-wide-sr1 unet-wide-sr2 unet-sr2 unet-wide-sr2-s1 unet-wide-s1"
  train unet-wide-sr1 --arch unet --widths 64 128 256 --sr-stages 1
  train unet-wide-sr2 --arch unet --widths 64 128 256 --sr-stages 2
  train unet-sr2 --arch unet --sr-stages 2
  train unet-wide-sr2-s1 --arch unet --widths 64 128 256 --sr-stages 2 --seed 1
  train unet-wide-s1 --arch unet --widths 64 128 256 --seed 1
elif [ "$MODE" = mix ]; then
  CANDIDATES="unet-wide unet-wide-s1 unet-wide-s2 unet-wide-cos-s1 unet-wide-sr1-s1"
  GPU=0 train deepstorm --arch deepstorm --lr 1e-3 --schedule plateau
  GPU=0 train unet-wide --arch unet --widths 64 128 256 --lr 1e-3 --schedule plateau
  GPU=1 train unet-wide-s1 --arch unet --widths 64 128 256 --seed 1
  GPU=1 train unet-wide-s2 --arch unet --widths 64 128 256 --seed 2
  GPU=1 train unet-wide-cos-s1 --arch unet --widths 64 128 256 --schedule cosine --seed 1
  GPU=1 train unet-wide-sr1-s1 --arch unet --widths 64 128 256 --sr-stages 1 --seed 1
elif [ "$MODE" = sharp ]; then
  CANDIDATES="unet-wide-sr2-s2 unet-wide-mlp-s2 unet-wide-s3 unet-wide-s4 unet-wide-s2b"
  GPU=0 train deepstorm-s1 --arch deepstorm --lr 1e-3 --schedule plateau --seed 1
  GPU=0 train unet-wide-sr2-s2 --arch unet --widths 64 128 256 --sr-stages 2 --seed 2
  GPU=1 train unet-wide-mlp-s2 --arch unet --widths 64 128 256 --head-hidden 128 --seed 2
  GPU=1 train unet-wide-s3 --arch unet --widths 64 128 256 --seed 3
  GPU=1 train unet-wide-s4 --arch unet --widths 64 128 256 --seed 4
  GPU=1 train unet-wide-s2b --arch unet --widths 64 128 256 --seed 2
elif [ "$MODE" = sigma0 ]; then
  # The three best come back (unet.onnx, unet-2.onnx, unet-3.onnx): the shipped U-Net's head is refit afterwards
  # (scripts/refit-head.ts, in Node), so the pick is made among the refit candidates.
  KEEP=3
  start_mps && SLOTS=10 || SLOTS=5
  echo "MPS $MPS: training $SLOTS unet candidates" | tee -a "$OUT/gpu.txt"
  CANDIDATES=""
  W="--arch unet --widths 64 128 256"
  candidate $SLOTS unet-wide-ls05-s2 $W --loss-sigma 0.5 --seed 2
  candidate $SLOTS unet-wide-mlp-s3 $W --head-hidden 128 --seed 3
  candidate $SLOTS unet-wide-ls07-s2 $W --loss-sigma 0.7 --seed 2
  candidate $SLOTS unet-wide-mlp256-s2 $W --head-hidden 256 --seed 2
  candidate $SLOTS unet-wide-s5 $W --seed 5
  candidate $SLOTS unet-wide-ls05-s3 $W --loss-sigma 0.5 --seed 3
  candidate $SLOTS unet-wide-mlp-ls05-s2 $W --head-hidden 128 --loss-sigma 0.5 --seed 2
  candidate $SLOTS unet-wide-mlp-s4 $W --head-hidden 128 --seed 4
  candidate $SLOTS unet-wide-sr3-s2 $W --sr-stages 3 --seed 2
  candidate $SLOTS unet-wide-hw128-s2 $W --head-width 128 --seed 2
  # Deep-STORM under the same smaller loss blur, so that a U-Net trained with it is compared with a Deep-STORM that
  # was too; it needs a GPU of its own to reach its 100 epochs in the budget.
  [ "$GPUS" -ge 2 ] && GPU=1 train deepstorm-ls05 --arch deepstorm --lr 1e-3 --schedule plateau --loss-sigma 0.5
elif [ "$MODE" = loc ] || [ "$MODE" = loc2 ]; then
  start_mps && SLOTS=5 || SLOTS=3
  echo "MPS $MPS: training $SLOTS localization-head candidates, ${MINUTES:-7} min each" | tee -a "$OUT/gpu.txt"
  E=${EVAL_DIR:-.gpu/eval}
  EVAL="$(ls $E/validation-*.json | sed 's/\.json$//' | tr '\n' ' ')$E/demo-artificial $E/demo1"
  if [ "$MODE" = loc ]; then
    SPECS=("loc-broad-s0 --seed 0 --grid 1" "loc-broad-s1 --seed 1 --grid 1" "loc-bench-s0 --ranges benchmark --seed 0 --grid 1"
           "loc-broad-hh128-s0 --head-hidden 128 --seed 0 --grid 1" "loc-broad-b64-s2 --batch 64 --seed 2 --grid 1")
  else
    I=${LOC_INIT:-.gpu/round7}
    SPECS=("g2-broad-b64-init --grid 2 --batch 64 --seed 3 --init-onnx $I/loc-broad-b64-s2.onnx"
           "g2-bench-b64-init --grid 2 --batch 64 --seed 3 --ranges benchmark --init-onnx $I/loc-bench-s0.onnx"
           "g4-broad-b64-init --grid 4 --batch 64 --seed 3 --init-onnx $I/loc-broad-b64-s2.onnx"
           "g2-broad-b64-s4 --grid 2 --batch 64 --seed 4"
           "g2-broad-b64-init-lr3e-4 --grid 2 --batch 64 --seed 5 --lr 3e-4 --init-onnx $I/loc-broad-b64-s2.onnx")
  fi
  n=0
  for spec in "${SPECS[@]}"; do
    [ "$n" -lt "$SLOTS" ] || break
    # shellcheck disable=SC2086
    train_loc $spec
    n=$((n + 1))
  done
else
  CANDIDATES="unet-base unet-base-lr1e-4 unet-wide"
  train deepstorm --arch deepstorm --lr 1e-3 --schedule plateau
  train unet-base --arch unet --lr 1e-3 --schedule plateau
  train unet-base-lr1e-4 --arch unet --lr 1e-4 --schedule constant
  train unet-wide --arch unet --widths 64 128 256 --lr 1e-3 --schedule plateau
fi
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
stop_mps
if [ "$MODE" = loc ] || [ "$MODE" = loc2 ]; then
  cat $LOGS/*.log > "$OUT/train-logs.txt"
  (cd "$OUT" && tar czf results.tgz *.json train-logs.txt && rm -f *.json train-logs.txt)
elif [ "$MODE" != smoke ]; then
  # At most 8 files come back from the GPU host: the pick, the fallback and one archive of every JSON and log.
  [ "$MODE" = sr ] && cp "$OUT/unet-wide-s1.onnx" /tmp/unet-wide-s1.onnx 2>/dev/null
  python3 scripts/select_unet.py "$OUT" --keep "${KEEP:-1}" $CANDIDATES | tee -a "$OUT/gpu.txt" || status=1
  [ "$MODE" = sr ] && { [ -f "$OUT/unet-wide-s1.onnx" ] || cp /tmp/unet-wide-s1.onnx "$OUT/" 2>/dev/null; }
  cat $LOGS/*.log > "$OUT/train-logs.txt"
  (cd "$OUT" && tar czf results.tgz *.json train-logs.txt && rm -f *.json train-logs.txt)
fi
echo "all done in $(( $(date +%s) - start )) s, status $status" | tee -a "$OUT/gpu.txt"
grep -h -E "time budget|epoch (1|10|50|100) " /tmp/train-logs/*.log "$OUT"/*.log 2>/dev/null | tail -n 40
exit $status
