#!/usr/bin/env bash
# README's "Fit a model to your microscope", measured in ONE device call, from the repository root:
#   bash scripts/gpu-host/fit-demo.sh        (carry [".gpu/run", ".gpu/fit"])
# Prepared here: PACK_NO_TESTS=1 scripts/gpu-host/pack.sh (.gpu/run: node, addon, dist, node_modules) and
# `node dist/scripts/make-fit-demo.js` (.gpu/fit: NAME.conditions.json from `smlm-rt estimate --json` on an acquisition
# stack, NAME-heldout.tif + NAME-heldout.csv.gz, another field of the same microscope).
# On the host, for every .gpu/fit/NAME.conditions.json:
#   1. before: `smlm-rt reconstruct NAME-heldout.tif -b cuda` with the bundled default model, `smlm-rt evaluate` against
#      the held-out ground truth (NMSE, least-squares scaled, sigma 0 and 1 output px);
#   2. `smlm-rt train --like NAME.conditions.json -o fit-NAME.onnx --minutes FIT_MINUTES` (default 4), all NAMEs at
#      once on the one GPU, each timed;
#   3. after: the same reconstruct + evaluate with fit-NAME.onnx;
#   4. a before/after table (stdout and $OUT/fit-demo.txt) and $OUT/fit-demo.json.
# Comes back in $OUT: fit-demo.txt, fit-demo.json, fit-NAME.onnx, logs.tgz (the training logs fit-NAME.json, status.txt
# and every command's log): 3 + one file per microscope, since a call's reply brings back only so many files.
# Knobs: FIT_MINUTES (4), BACKEND (cuda), EVAL_FRAMES (all; e.g. 1:20), SKIP_UNPACK=1 (node and dist/ already here),
# TRAIN_TIMEOUT (s, FIT_MINUTES x 60 + 150), PYTHON (python3), DRY_RUN=1 (no GPU: trains with scripts/train_loc.py on
# the CPU for 3 steps instead of `smlm-rt train`, which requires CUDA; for checking this script, not for figures).
# Budget (9 min call): unpack ~10 s, 2 x 2 reconstruct + evaluate ~1-2 min (the first cuda run times its kernels),
# training FIT_MINUTES + ~40 s (both at once; 157 s for 2 minutes on the H200 before): ~6.5 min at the default 4.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/smlm-rt-out}
mkdir -p "$OUT"
LOGS=$(mktemp -d /tmp/fit-demo-logs.XXXX)
WORK=$(mktemp -d /tmp/fit-demo-work.XXXX)
FIT_MINUTES=${FIT_MINUTES:-4}
BACKEND=${BACKEND:-cuda}
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 SMLM_RT_CACHE_DIR=${SMLM_RT_CACHE_DIR:-/tmp/smlm-rt-cache}
started=$(date +%s)
say() { echo "[fit-demo +$(($(date +%s) - started))s] $*"; }
status=0

shopt -s nullglob
conditions=(.gpu/fit/*.conditions.json)
[ ${#conditions[@]} -gt 0 ] || { say "no .gpu/fit/*.conditions.json: run node dist/scripts/make-fit-demo.js here and carry .gpu/fit"; exit 1; }

# ---- unpack node, the addon, dist/ and node_modules (run.sh, every other phase skipped) ----
if [ -z "${SKIP_UNPACK:-}" ]; then
  OUT=$LOGS SKIP_SELFTEST=1 SKIP_TESTS=1 SKIP_BENCH=1 SKIP_TORCH=1 bash scripts/gpu-host/run.sh > "$LOGS/unpack.log" 2>&1 || {
    say "unpack failed:"; tail -n 20 "$LOGS/unpack.log"; exit 1; }
  export PATH=/tmp/smlm-node:$PATH
fi
say "node $(node --version); $(grep -m1 -i "h200\|h100\|nvidia" "$LOGS/status.txt" 2>/dev/null || echo 'GPU: see status.txt')"
CLI=(node dist/lib/cli/main.js)
frames=()
[ -n "${EVAL_FRAMES:-}" ] && frames=(--frames "$EVAL_FRAMES")

# score NAME LABEL [reconstruct options...]: reconstruct the held-out stack, evaluate it, keep the JSON.
score() {
  local name=$1 label=$2
  shift 2
  local t0
  t0=$(date +%s)
  if timeout 180 "${CLI[@]}" reconstruct ".gpu/fit/$name-heldout.tif" -b "$BACKEND" "${frames[@]}" "$@" -o "$WORK/$name-$label.tif" --force -q > "$LOGS/reconstruct-$name-$label.log" 2>&1 &&
    timeout 120 "${CLI[@]}" evaluate "$WORK/$name-$label.tif" "$WORK/$name-heldout.csv" --json > "$LOGS/evaluate-$name-$label.json" 2> "$LOGS/evaluate-$name-$label.log"; then
    say "$name $label: scored in $(($(date +%s) - t0)) s"
  else
    say "$name $label: FAILED (logs: reconstruct-$name-$label.log, evaluate-$name-$label.log)"
    tail -n 5 "$LOGS/reconstruct-$name-$label.log" "$LOGS/evaluate-$name-$label.log"
    status=1
  fi
}

names=()
for c in "${conditions[@]}"; do
  name=$(basename "$c" .conditions.json)
  names+=("$name")
  gzip -dc ".gpu/fit/$name-heldout.csv.gz" > "$WORK/$name-heldout.csv" || { say "missing .gpu/fit/$name-heldout.csv.gz"; status=1; }
done

# ---- 1. before: the bundled default model ----
for name in "${names[@]}"; do score "$name" bundled; done

# ---- 2. fit every microscope at once ----
say "training ${names[*]} at once, $FIT_MINUTES min each"
pids=()
for name in "${names[@]}"; do
  (
    t0=$(date +%s)
    if [ -n "${DRY_RUN:-}" ]; then
      mkdir -p "$WORK/train-$name"
      "$PYTHON" scripts/train_loc.py --out "$WORK/train-$name" --name "fit-$name" --like ".gpu/fit/$name.conditions.json" \
        --init-onnx models/unet.onnx --minutes 0.2 --max-iters 3 --device cpu > "$LOGS/train-$name.log" 2>&1 &&
        cp "$WORK/train-$name/fit-$name.onnx" "$OUT/fit-$name.onnx"
    else
      timeout "${TRAIN_TIMEOUT:-$((FIT_MINUTES * 60 + 150))}" "${CLI[@]}" train --like ".gpu/fit/$name.conditions.json" \
        -o "$OUT/fit-$name.onnx" --minutes "$FIT_MINUTES" --python "$PYTHON" --force > "$LOGS/train-$name.log" 2>&1
    fi
    rc=$?
    echo "$rc $(($(date +%s) - t0))" > "$LOGS/train-$name.status"
    exit "$rc"
  ) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
for name in "${names[@]}"; do
  read -r rc secs < "$LOGS/train-$name.status"
  say "train $name: exit $rc after $secs s; $(tail -n 1 "$LOGS/train-$name.log")"
done

# ---- 3. after: the fitted models ----
for name in "${names[@]}"; do
  if [ -f "$OUT/fit-$name.onnx" ]; then score "$name" fitted -m "$OUT/fit-$name.onnx"; else say "$name: no fitted model"; status=1; fi
done

# ---- 4. the table and the JSON ----
# The training logs travel in logs.tgz, so that the reply's file count leaves room for every model.
for name in "${names[@]}"; do [ -f "$OUT/fit-$name.json" ] && mv "$OUT/fit-$name.json" "$LOGS/"; done
node --input-type=module - "$LOGS" "$OUT/fit-demo.json" "$FIT_MINUTES" "$BACKEND" "${names[@]}" > "$OUT/fit-demo.txt" 2>&1 <<'EOF'
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const [logs, jsonPath, minutes, backend, ...names] = process.argv.slice(2);
const read = (p) => (existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : undefined);
const nmse = (r, sigma) => r?.results.find((c) => c.sigma === sigma)?.scaled.nmse;
const pct = (v) => (v === undefined ? 'n/a' : `${(100 * v).toFixed(2)} %`);
const out = { fitMinutes: Number(minutes), backend, microscopes: {} };
const lines = [`held-out stack | NMSE sigma0 / sigma1 before (bundled default) | after (fit-NAME.onnx) | training`, '|---|---|---|---|'];
for (const name of names) {
  const before = read(`${logs}/evaluate-${name}-bundled.json`);
  const after = read(`${logs}/evaluate-${name}-fitted.json`);
  const [rc, secs] = existsSync(`${logs}/train-${name}.status`) ? readFileSync(`${logs}/train-${name}.status`, 'utf8').trim().split(' ').map(Number) : [NaN, NaN];
  const conditions = read(`.gpu/fit/${name}.conditions.json`);
  const settings = read(`.gpu/fit/${name}.settings.json`);
  out.microscopes[name] = {
    conditions,
    settings,
    emitters: before?.emitters,
    before: { nmseSigma0: nmse(before, 0), nmseSigma1: nmse(before, 1), evaluate: before?.results },
    after: { nmseSigma0: nmse(after, 0), nmseSigma1: nmse(after, 1), evaluate: after?.results },
    train: { exit: rc, seconds: secs, steps: read(`${logs}/fit-${name}.json`)?.provenance?.iterations },
  };
  const size = conditions ? `${conditions.pixelSizeNm} nm px` : '';
  lines.push(`${name} (${size}, ${before?.emitters ?? '?'} emitters) | ${pct(nmse(before, 0))} / ${pct(nmse(before, 1))} | ${pct(nmse(after, 0))} / ${pct(nmse(after, 1))} | exit ${rc}, ${secs} s`);
}
writeFileSync(jsonPath, `${JSON.stringify(out, null, 2)}\n`);
console.log(lines.join('\n'));
EOF
[ $? = 0 ] || status=1
cat "$OUT/fit-demo.txt"
(cd "$LOGS" && tar czf "$OUT/logs.tgz" .)
say "done (exit $status)"
exit $status
