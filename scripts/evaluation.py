"""Scores a model on a stack with ground truth, with the definitions of lib/metrics.ts (data/README.md):
ground truth = emitter counts on the 12.5 nm grid (fine pixel j covers [12.5 j, 12.5 (j+1)) nm), prediction
scaled by its least-squares factor a = <P,G>/<P,P>, NMSE = ||aP - G||^2 / ||G||^2,
PSNR = 10 log10(max(G)^2 / mean((aP - G)^2)); also unscaled (a = 1) and after blurring both images with a Gaussian
of sigma 1 fine pixel (radius round(4 sigma), zero padding).

Stack format (written by scripts/make-eval-stacks.ts): NAME.u16 (frames x H x W little-endian uint16), NAME.json
({frames, height, width} and, where the camera pixel is not 100 nm, pixelSizeNm), NAME.csv (ThunderSTORM ground
truth).
"""
import csv
import json
import math

import numpy as np
import torch


def camera_pixel_nm(prefix):
    """The stack's camera pixel size, nm: its NAME.json's pixelSizeNm, 100 where absent (the benchmark's)."""
    return float(json.load(open(prefix + ".json")).get("pixelSizeNm", 100.0))


def load_stack(prefix):
    meta = json.load(open(prefix + ".json"))
    data = np.fromfile(prefix + ".u16", dtype="<u2").reshape(meta["frames"], meta["height"], meta["width"])
    xs, ys = [], []
    with open(prefix + ".csv") as f:
        rows = csv.reader(f)
        header = [h.strip().strip('"') for h in next(rows)]
        ix, iy = header.index("x [nm]"), header.index("y [nm]")
        for r in rows:
            if r:
                xs.append(float(r[ix]))
                ys.append(float(r[iy]))
    return data, np.array(xs), np.array(ys)


def ground_truth_image(xs, ys, height, width, pixel_nm):
    img = np.zeros((height, width), np.float64)
    c = np.floor(xs / pixel_nm).astype(np.int64)
    r = np.floor(ys / pixel_nm).astype(np.int64)
    ok = (c >= 0) & (c < width) & (r >= 0) & (r < height)
    np.add.at(img, (r[ok], c[ok]), 1.0)
    return img


def gaussian_blur(img, sigma):
    if sigma <= 0:
        return img
    radius = int(round(4 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-t ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    pad = np.pad(img, radius)
    rows = sum(k[i] * pad[:, i:i + img.shape[1]] for i in range(len(k)))
    return sum(k[i] * rows[i:i + img.shape[0], :] for i in range(len(k)))


def scores(pred, gt, sigma):
    p = gaussian_blur(pred.astype(np.float64), sigma)
    g = gaussian_blur(gt, sigma)
    out = {}
    pp = float((p * p).sum())
    a = float((p * g).sum()) / pp if pp > 0 else 0.0
    for key, scale in (("scaled", a), ("unscaled", 1.0)):
        err = scale * p - g
        out[key] = {"nmse": float((err ** 2).sum() / (g ** 2).sum()),
                    "psnr": float(10 * math.log10(g.max() ** 2 / (err ** 2).mean()))}
    out["scale"] = a
    return out


def reconstruct(fn, data, mean, std, output_scale, upsampling, device, batch=32):
    frames, h, w = data.shape
    acc = torch.zeros(h * upsampling, w * upsampling, dtype=torch.float64, device=device)
    with torch.no_grad():
        for s in range(0, frames, batch):
            x = torch.from_numpy(data[s:s + batch].astype(np.float32)).to(device)[:, None]
            lo = x.amin((2, 3), keepdim=True)
            hi = x.amax((2, 3), keepdim=True)
            x = ((x - lo) / (hi - lo).clamp_min(1.0) - mean) / std
            acc += fn(x).float().clamp_min(0).sum((0, 1)).double()
    return (acc / output_scale).cpu().numpy()


def evaluate_stack(fn, prefix, mean, std, output_scale, upsampling, device):
    data, xs, ys = load_stack(prefix)
    frames, h, w = data.shape
    fine_nm = camera_pixel_nm(prefix) / upsampling
    gt = ground_truth_image(xs, ys, h * upsampling, w * upsampling, fine_nm)
    pred = reconstruct(fn, data, mean, std, output_scale, upsampling, device)
    widefield = np.kron(data.astype(np.float64).sum(0) - data.min(axis=(1, 2)).sum(), np.ones((upsampling, upsampling)))
    res = {"frames": frames, "emitters": int(len(xs)), "predicted_total": float(pred.sum())}
    for sigma in (0, 1):
        res[f"sigma{sigma}"] = scores(pred, gt, sigma)
        res[f"widefield_sigma{sigma}"] = scores(widefield, gt, sigma)
    return res
