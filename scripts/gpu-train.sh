#!/usr/bin/env bash
# Trains the shipped models on the GPU host (the device tool; no Node there) and evaluates them.
# Needs, made here beforehand (npm run build first):
#   node dist/scripts/make-training-data.js   -> .gpu/train/train.bin
#   node dist/scripts/make-eval-stacks.js     -> .gpu/eval/{validation-515151,validation-626262,heldout,demo-artificial,demo1}.*
# Usage there: scripts/gpu-train.sh smoke|full|heads|sr [training seconds per model]   (writes to $OUT, else ./gpu-out)
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
if [ "$MODE" = smoke ]; then
  python3 scripts/train.py --arch deepstorm --data $DATA --out "$OUT" --epochs 2 --max-iters 150 --eval $EVAL > "$OUT/deepstorm.log" 2>&1 &
  python3 scripts/train.py --arch unet --data $DATA --out "$OUT" --epochs 2 --max-iters 150 --eval $EVAL > "$OUT/unet.log" 2>&1 &
elif [ "$MODE" = heads ]; then
  LOGS=/tmp/train-logs; mkdir -p $LOGS
  CANDIDATES="unet-mlp unet-wide-mlp unet-mlp-cos-ema unet-wide-mlp-cos-ema unet-wide-s1"
  T="--arch unet --data $DATA --out $OUT --time-budget $BUDGET --eval $EVAL"
  python3 scripts/train.py $T --name unet-mlp --head-hidden 128 > $LOGS/unet-mlp.log 2>&1 &
  python3 scripts/train.py $T --name unet-wide-mlp --widths 64 128 256 --head-hidden 128 > $LOGS/unet-wide-mlp.log 2>&1 &
  python3 scripts/train.py $T --name unet-mlp-cos-ema --head-hidden 128 --schedule cosine --ema 0.999 > $LOGS/unet-mlp-cos-ema.log 2>&1 &
  python3 scripts/train.py $T --name unet-wide-mlp-cos-ema --widths 64 128 256 --head-hidden 128 --schedule cosine --ema 0.999 > $LOGS/unet-wide-mlp-cos-ema.log 2>&1 &
  python3 scripts/train.py $T --name unet-wide-s1 --widths 64 128 256 --seed 1 > $LOGS/unet-wide-s1.log 2>&1 &
elif [ "$MODE" = sr ]; then
  LOGS=/tmp/train-logs; mkdir -p $LOGS
  CANDIDATES="unet-wide-sr1 unet-wide-sr2 unet-sr2 unet-wide-sr2-s1 unet-wide-s1"
  T="--arch unet --data $DATA --out $OUT --time-budget $BUDGET --eval $EVAL"
  python3 scripts/train.py $T --name unet-wide-sr1 --widths 64 128 256 --sr-stages 1 > $LOGS/unet-wide-sr1.log 2>&1 &
  python3 scripts/train.py $T --name unet-wide-sr2 --widths 64 128 256 --sr-stages 2 > $LOGS/unet-wide-sr2.log 2>&1 &
  python3 scripts/train.py $T --name unet-sr2 --sr-stages 2 > $LOGS/unet-sr2.log 2>&1 &
  python3 scripts/train.py $T --name unet-wide-sr2-s1 --widths 64 128 256 --sr-stages 2 --seed 1 > $LOGS/unet-wide-sr2-s1.log 2>&1 &
  python3 scripts/train.py $T --name unet-wide-s1 --widths 64 128 256 --seed 1 > $LOGS/unet-wide-s1.log 2>&1 &
else
  LOGS=/tmp/train-logs; mkdir -p $LOGS
  CANDIDATES="unet-base unet-base-lr1e-4 unet-wide"
  python3 scripts/train.py --arch deepstorm --data $DATA --out "$OUT" --lr 1e-3 --schedule plateau --time-budget "$BUDGET" --eval $EVAL > $LOGS/deepstorm.log 2>&1 &
  python3 scripts/train.py --arch unet --name unet-base --data $DATA --out "$OUT" --lr 1e-3 --schedule plateau --time-budget "$BUDGET" --eval $EVAL > $LOGS/unet-base.log 2>&1 &
  python3 scripts/train.py --arch unet --name unet-base-lr1e-4 --data $DATA --out "$OUT" --lr 1e-4 --schedule constant --time-budget "$BUDGET" --eval $EVAL > $LOGS/unet-base-lr1e-4.log 2>&1 &
  python3 scripts/train.py --arch unet --name unet-wide --widths 64 128 256 --data $DATA --out "$OUT" --lr 1e-3 --schedule plateau --time-budget "$BUDGET" --eval $EVAL > $LOGS/unet-wide.log 2>&1 &
fi
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
if [ "$MODE" != smoke ]; then
  # At most 8 files come back from the GPU host: the pick, the fallback and one archive of every JSON and log.
  [ "$MODE" = sr ] && cp "$OUT/unet-wide-s1.onnx" /tmp/unet-wide-s1.onnx 2>/dev/null
  python3 scripts/select_unet.py "$OUT" $CANDIDATES | tee -a "$OUT/gpu.txt" || status=1
  [ "$MODE" = sr ] && { [ -f "$OUT/unet-wide-s1.onnx" ] || cp /tmp/unet-wide-s1.onnx "$OUT/" 2>/dev/null; }
  cat $LOGS/*.log > "$OUT/train-logs.txt"
  (cd "$OUT" && tar czf results.tgz *.json train-logs.txt && rm -f *.json train-logs.txt)
fi
echo "all done in $(( $(date +%s) - start )) s, status $status" | tee -a "$OUT/gpu.txt"
grep -h -E "time budget|epoch (1|10|50|100) " /tmp/train-logs/*.log "$OUT"/*.log 2>/dev/null | tail -n 40
exit $status
