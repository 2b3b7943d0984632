#!/usr/bin/env python3
"""Picks the shipped unet among trained candidates and renames it to unet.onnx. Usage: select_unet.py OUTDIR NAME...

Criterion: the mean over the simulated validation stacks (validation-*, benchmark conditions with filament labels
and with uniformly scattered emitters, listed in benchmarks/evaluation-data.ts, made by scripts/make-eval-stacks.ts,
never trained on) of NMSE at sigma 0 plus NMSE at sigma 1, i.e. the issue's own image metrics on whole stacks. Why
not the validation loss on patches: between U-Net candidates it differs by ~0.05 % while their image NMSE differs
by whole points. The held-out stack and the ../shared stacks play no part.
Falls back to the validation loss when a candidate was not scored on validation stacks."""
import json
import os
import sys


def score(result):
    stacks = [v for k, v in result.get("evaluation", {}).items() if k.startswith("validation-")]
    if not stacks:
        return ("validation loss", result["provenance"]["validation_loss"])
    total = sum(s["sigma0"]["scaled"]["nmse"] + s["sigma1"]["scaled"]["nmse"] for s in stacks) / len(stacks)
    return ("validation stacks mean NMSE(sigma0) + NMSE(sigma1)", total)


out, names = sys.argv[1], sys.argv[2:]
scores = {}
for n in names:
    path = os.path.join(out, n + ".json")
    if os.path.exists(path):
        scores[n] = score(json.load(open(path)))
if len({kind for kind, _ in scores.values()}) > 1:
    raise SystemExit(f"candidates were scored differently: {scores}")
best = min(scores, key=lambda n: scores[n][1])
print("score per unet candidate:", json.dumps(scores), "-> shipping", best)
for n in scores:
    onnx_path = os.path.join(out, n + ".onnx")
    if n == best:
        if n != "unet":
            os.replace(onnx_path, os.path.join(out, "unet.onnx"))
    elif os.path.exists(onnx_path):
        os.remove(onnx_path)
