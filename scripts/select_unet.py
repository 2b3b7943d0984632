#!/usr/bin/env python3
"""Picks the shipped unet among trained candidates by validation loss (simulated validation patches only; the
evaluation stacks play no part) and renames it to unet.onnx. Usage: select_unet.py OUTDIR NAME [NAME ...]"""
import json
import os
import sys

out, names = sys.argv[1], sys.argv[2:]
scores = {}
for n in names:
    path = os.path.join(out, n + ".json")
    if os.path.exists(path):
        scores[n] = json.load(open(path))["provenance"]["validation_loss"]
best = min(scores, key=scores.get)
print("validation loss per unet candidate:", json.dumps(scores), "-> shipping", best)
for n in scores:
    onnx_path = os.path.join(out, n + ".onnx")
    if n == best:
        if n != "unet":
            os.replace(onnx_path, os.path.join(out, "unet.onnx"))
    elif os.path.exists(onnx_path):
        os.remove(onnx_path)
