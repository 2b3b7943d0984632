#!/usr/bin/env bash
# Trains the shipped models on the GPU host (the device tool; no Node there) and evaluates them.
# Needs, made here beforehand (npm run build first):
#   node dist/scripts/make-training-data.js   -> .gpu/train/train.bin
#   node dist/scripts/make-eval-stacks.js     -> .gpu/eval/{heldout,demo-artificial,demo1}.*
# Usage there: scripts/gpu-train.sh smoke|full [training seconds per model]   (writes to $OUT, else ./gpu-out)
#   smoke: both architectures for 2 short epochs, export, onnxruntime check, evaluation
#   full:  deepstorm (Adam 1e-3 + ReduceLROnPlateau, Deep-STORM's), unet with the same, and unet with the paper's
#          constant 1e-4 (the lr comparison) concurrently on the one GPU, each stopped at the time budget
set -uo pipefail
MODE=${1:-smoke}
BUDGET=${2:-400}
OUT=${OUT:-./gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi -L | tee "$OUT/gpu.txt"
python3 -c 'import torch, onnx, onnxruntime; print("torch", torch.__version__, "onnx", onnx.__version__, "ort", onnxruntime.__version__)' | tee -a "$OUT/gpu.txt"
EVAL=".gpu/eval/heldout .gpu/eval/demo-artificial .gpu/eval/demo1"
DATA=.gpu/train/train.bin
start=$(date +%s)
if [ "$MODE" = smoke ]; then
  python3 scripts/train.py --arch deepstorm --data $DATA --out "$OUT" --epochs 2 --max-iters 150 --eval $EVAL > "$OUT/deepstorm.log" 2>&1 &
  python3 scripts/train.py --arch unet --data $DATA --out "$OUT" --epochs 2 --max-iters 150 --eval $EVAL > "$OUT/unet.log" 2>&1 &
else
  python3 scripts/train.py --arch deepstorm --data $DATA --out "$OUT" --lr 1e-3 --schedule plateau --time-budget "$BUDGET" --eval $EVAL > "$OUT/deepstorm.log" 2>&1 &
  python3 scripts/train.py --arch unet --data $DATA --out "$OUT" --lr 1e-3 --schedule plateau --time-budget "$BUDGET" --eval $EVAL > "$OUT/unet.log" 2>&1 &
  python3 scripts/train.py --arch unet --name unet-lr1e-4 --data $DATA --out "$OUT" --lr 1e-4 --schedule constant --time-budget "$BUDGET" --eval $EVAL > "$OUT/unet-lr1e-4.log" 2>&1 &
fi
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
echo "all done in $(( $(date +%s) - start )) s, status $status" | tee -a "$OUT/gpu.txt"
tail -n 4 "$OUT"/*.log
exit $status
