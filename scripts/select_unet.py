#!/usr/bin/env python3
"""Picks the shipped unet among trained candidates. Usage: select_unet.py OUTDIR [--keep K] NAME...

The best candidate becomes unet.onnx; with --keep K (default 1) the next best K-1 stay too, as unet-2.onnx ...
unet-K.onnx, so that scripts/refit-head.ts (run where Node is, after the call) can refit each and the pick can be
made among the refit models; every other candidate's ONNX is deleted (at most 8 files come back from the GPU host).

Criterion: the mean over the simulated validation stacks (validation-*, benchmark conditions with filament labels
and with uniformly scattered emitters, listed in scripts/evaluation-data.ts, made by scripts/make-eval-stacks.ts,
never trained on) of NMSE at sigma 0 plus NMSE at sigma 1, i.e. the issue's own image metrics on whole stacks. Why
not the validation loss on patches: between U-Net candidates it differs by ~0.05 % while their image NMSE differs
by whole points. The held-out stack and the ../shared stacks play no part.
Falls back to the validation loss when a candidate was not scored on validation stacks."""
import argparse
import json
import os
import sys


def score(result):
    stacks = [v for k, v in result.get("evaluation", {}).items() if k.startswith("validation-")]
    if not stacks:
        return ("validation loss", result["provenance"]["validation_loss"])
    total = sum(s["sigma0"]["scaled"]["nmse"] + s["sigma1"]["scaled"]["nmse"] for s in stacks) / len(stacks)
    return ("validation stacks mean NMSE(sigma0) + NMSE(sigma1)", total)


def main(argv):
    ap = argparse.ArgumentParser(description="pick the shipped unet among trained candidates")
    ap.add_argument("out", help="the folder holding each candidate's NAME.json and NAME.onnx")
    ap.add_argument("--keep", type=int, default=1, help="keep the K best (unet.onnx, unet-2.onnx, ...)")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args(argv)
    if a.keep < 1:
        raise SystemExit("--keep must be >= 1")
    out, rest, keep = a.out, a.names, a.keep
    scores = {}
    for n in rest:
        path = os.path.join(out, n + ".json")
        if os.path.exists(path):
            scores[n] = score(json.load(open(path)))
    if not scores:
        raise SystemExit(f"no candidate of {rest} left a JSON in {out}")
    if len({kind for kind, _ in scores.values()}) > 1:
        raise SystemExit(f"candidates were scored differently: {scores}")
    ranked = sorted(scores, key=lambda n: scores[n][1])
    kept = {n: ("unet" if i == 0 else f"unet-{i + 1}") for i, n in enumerate(ranked[:keep])}
    print("score per unet candidate:", json.dumps(scores), "-> shipping", ranked[0],
          *(f"(kept as {kept[n]}.onnx: {n})" for n in ranked[1:keep]))
    # Move the kept files aside first, so that a candidate already named like a target is not overwritten.
    staged = {}
    for n in ranked:
        onnx_path = os.path.join(out, n + ".onnx")
        if not os.path.exists(onnx_path):
            continue
        if n in kept:
            staged[n] = onnx_path + ".keep"
            os.replace(onnx_path, staged[n])
        else:
            os.remove(onnx_path)
    for n, path in staged.items():
        os.replace(path, os.path.join(out, kept[n] + ".onnx"))


if __name__ == "__main__":
    main(sys.argv[1:])
