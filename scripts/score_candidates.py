#!/usr/bin/env python3
"""Scores smlm-rt ONNX models on evaluation stacks (scripts/evaluation.py's format) in PyTorch, without onnxruntime:
the weights are loaded into the architecture named in the model's metadata (train_loc.load_onnx_weights), so the
candidates of a training round can be compared here or on the GPU host with the same code.

  python3 scripts/score_candidates.py --stacks DIR/validation-* --models a.onnx b.onnx [--render-sigmas 0 0.5 1]
Prints, per model, NMSE sigma0 / sigma1 (least-squares scaled) on every stack and the selection score: the mean of
NMSE sigma0 and sigma1 over the stacks, for the model's own rendering (its smlm.head) and each fixed render width.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluation  # noqa: E402
import simulate_torch as sim  # noqa: E402
from models import ARCHITECTURES, UPSAMPLING  # noqa: E402
from train_loc import decode, load_onnx_weights, render  # noqa: E402


def load_model(path):
    import onnx
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    training = json.loads(meta.get("smlm.training", "{}"))
    norm = json.loads(meta["smlm.normalization"])
    head = json.loads(meta.get("smlm.head", '{"kind": "maps"}'))
    arch = meta["smlm.architecture"]
    kwargs = {}
    if arch in ("unet", "unet-loc"):
        kwargs = {"widths": tuple(training.get("widths") or (64, 128, 256)), "head_width": training.get("head_width") or 64}
        if training.get("head_hidden"):
            kwargs["head_hidden"] = training["head_hidden"]
    if arch == "unet-loc":
        kwargs["grid"] = head.get("grid", 1)
    model = ARCHITECTURES[arch](**kwargs)
    load_onnx_weights(model, path)
    model.eval()
    return model, (norm["mean"], norm["std"]), head, float(meta["smlm.output_scale"])


def stack_pixel_nm(prefix):
    return float(json.load(open(prefix + ".json")).get("pixelSizeNm", 100.0))


def score(model, norm, head, output_scale, prefix, sigmas):
    data, xs, ys = evaluation.load_stack(prefix)
    frames, h, w = data.shape
    gt = evaluation.ground_truth_image(xs, ys, h * UPSAMPLING, w * UPSAMPLING, stack_pixel_nm(prefix) / UPSAMPLING)
    outs = []
    with torch.no_grad():
        for s in range(0, frames, 32):
            x = torch.from_numpy(data[s:s + 32].astype(np.float32))
            x = ((sim.minmax(x) - norm[0]) / norm[1])[:, None]
            outs.append(model(x).float())
    raw = torch.cat(outs)
    res = {}
    if head["kind"] == "localization":
        grid = head.get("grid", 1)
        res["count"] = float(decode(raw, grid)[0].sum()) / len(xs)
        r = head["render"]
        pred = render(raw, UPSAMPLING, r["sigma"], grid, r["radius"], r["minProbability"], r.get("sigmaRange")).numpy()
        res["as-shipped"] = [evaluation.scores(pred, gt, b)["scaled"]["nmse"] for b in (0, 1)]
        for sg in sigmas:
            pred = render(raw, UPSAMPLING, sg, grid).numpy()
            res[f"render{sg:g}"] = [evaluation.scores(pred, gt, b)["scaled"]["nmse"] for b in (0, 1)]
    else:
        pred = (raw.clamp_min(0).sum((0, 1)) / output_scale).double().numpy()
        res["maps"] = [evaluation.scores(pred, gt, b)["scaled"]["nmse"] for b in (0, 1)]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stacks", nargs="+", required=True, help="stack prefixes (NAME for NAME.u16/.json/.csv)")
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--render-sigmas", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    ap.add_argument("--json", help="write every figure here")
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    stacks = sorted({p[:-5] if p.endswith(".json") else p for p in a.stacks if not p.endswith((".u16", ".csv"))})
    everything = {}
    for path in a.models:
        model, norm, head, output_scale = load_model(path)
        name = os.path.basename(path)
        everything[name] = per_stack = {os.path.basename(p): score(model, norm, head, output_scale, p, a.render_sigmas) for p in stacks}
        for key in next(iter(per_stack.values())):
            if key == "count":
                continue
            cells = [f"{os.path.basename(s)[:26]} {v[key][0] * 100:.2f}/{v[key][1] * 100:.2f}" for s, v in per_stack.items()]
            mean = np.mean([(v[key][0] + v[key][1]) for v in per_stack.values()])
            print(f"{name} {key}: score {mean:.4f} | " + " | ".join(cells), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
