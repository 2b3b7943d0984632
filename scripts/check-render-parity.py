#!/usr/bin/env python3
"""Cross-checks smlm-rt's rendering and localization of a localization-head model against the Python statement of the
contract, scripts/train_loc.py's decode() and render(): runs the model through smlm-rt's CPU backend on the first
frames of a stack (scripts/dump-detections.mjs), renders the very detections smlm-rt received with render(), and
reports the relative L2 difference of the two images and the localization counts (3x3 spatial integration, s >= 0.5).

    npm run build && python3 scripts/check-render-parity.py --model MODEL.onnx [--stack examples/microtubules.tif]
        [--frames 8] [--out DIR]

Exit 0 when the images agree to float rounding (relative L2 < --tolerance, default 1e-5) and the counts and positions
match; 1 otherwise; 2 usage. Needs node, numpy and torch (CPU is enough); not onnxruntime.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from train_loc import decode, render  # noqa: E402


def integrate(p, x, y, threshold=0.5):
    """The contract's localizations from decoded cells (update 19:16 item 2), written independently of
    lib/localize-detections.ts: a cell whose p is the largest of its 3x3 cells (ties: the lower row-major index wins)
    with s = sum of p over them >= threshold is one localization at the p-weighted mean of their positions.
    p, x, y: [B, Hc, Wc] float64 arrays; returns (frame, x, y, s) rows in frame, row, column order."""
    bad = ~(np.isfinite(p) & np.isfinite(x) & np.isfinite(y))
    p = np.where(bad, 0.0, p)
    x = np.where(bad, 0.0, x)
    y = np.where(bad, 0.0, y)
    b, hc, wc = p.shape
    index = np.arange(hc * wc).reshape(hc, wc)
    pad = lambda a, v: np.pad(a, ((0, 0), (1, 1), (1, 1)), constant_values=v)  # noqa: E731
    pp, px, py, pi = pad(p, -np.inf), pad(p * x, 0.0), pad(p * y, 0.0), np.pad(index, 1, constant_values=-1)
    peak = p > 0
    s = np.zeros_like(p)
    sx = np.zeros_like(p)
    sy = np.zeros_like(p)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            q = pp[:, 1 + dr:1 + dr + hc, 1 + dc:1 + dc + wc]
            if (dr, dc) != (0, 0):
                qi = pi[1 + dr:1 + dr + hc, 1 + dc:1 + dc + wc]
                peak &= (q < p) | ((q == p) & (qi > index))
            s += np.where(np.isfinite(q), q, 0.0)
            sx += px[:, 1 + dr:1 + dr + hc, 1 + dc:1 + dc + wc]
            sy += py[:, 1 + dr:1 + dr + hc, 1 + dc:1 + dc + wc]
    keep = peak & (s >= threshold)
    f, r, c = np.nonzero(keep)
    return np.stack([f, sx[keep] / s[keep], sy[keep] / s[keep], s[keep]], 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--stack", default=os.path.join(HERE, "..", "examples", "microtubules.tif"))
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--out", default=None, help="where the dump goes (default: a temporary directory)")
    ap.add_argument("--tolerance", type=float, default=1e-5)
    a = ap.parse_args()
    out = a.out or tempfile.mkdtemp(prefix="render-parity-")
    subprocess.run(["node", os.path.join(HERE, "dump-detections.mjs"), a.model, a.stack, str(a.frames), out], check=True)
    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    head = meta["head"]
    g = head.get("grid", 1)
    n, h, w, u = meta["frames"], meta["height"], meta["width"], meta["upsampling"]
    raw = np.fromfile(os.path.join(out, "detections.f32"), dtype="<f4").reshape(n, 5 * g * g, h, w)
    smlm = np.fromfile(os.path.join(out, "image.f32"), dtype="<f4").reshape(h * u, w * u).astype(np.float64)

    r = head["render"]
    det = torch.from_numpy(raw.copy())
    widths = {"sigma_range": r["sigmaRange"]} if r["sigma"] == "predicted" else {}
    py = render(det, u, r["sigma"], g, r["radius"], r["minProbability"], **widths).numpy() / meta["outputScale"]
    rel = float(np.linalg.norm(smlm - py) / np.linalg.norm(py))

    # Localizations: smlm-rt's (localizeDetections, 3x3 integration, s >= 0.5) against integrate() on decode()'s
    # cells (in float64), both ordered frame, cell row, cell column; positions compared for the first ones smlm-rt wrote
    # into meta.json.
    p, x, y, _, _ = (t.numpy() for t in decode(det.double(), g, head["maxOffset"]))
    py_locs = integrate(p, x, y, 0.5)
    py_count = len(py_locs)
    nm = meta["cameraPixelNm"]
    py_xy = py_locs[:, 1:3] * nm
    first = meta["firstLocalizations"]
    worst = max((abs(l["xNm"] - py_xy[i, 0]) + abs(l["yNm"] - py_xy[i, 1]) for i, l in enumerate(first)), default=0.0)

    print(f"model {a.model}: grid {g}, {n} frames {w}x{h}, upsampling {u}, sigma {r['sigma']} R{r['radius']}")
    print(f"image: sum smlm-rt {smlm.sum():.4f} / train_loc.render {py.sum():.4f}, relative L2 difference {rel:.3e}")
    print(f"localizations (3x3 integration, s >= 0.5): smlm-rt {meta['localizations']}, train_loc.decode {py_count}; "
          f"largest |dx|+|dy| over the first {len(first)}: {worst:.2e} nm")
    print(f"smlm-rt cpu backend: {meta['msPerFrame']:.1f} ms/frame")
    ok = rel < a.tolerance and meta["localizations"] == py_count and worst < 1e-2 and py.sum() > 0
    print("PARITY OK" if ok else "PARITY FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
