#!/usr/bin/env python3
"""Trains a U-Net with a localization head (lib/model/metadata.ts, head kind "localization") on frames simulated on the
GPU for every batch (scripts/simulate_torch.py), exports ONNX with smlm-rt's metadata and provenance, and optionally
scores it on evaluation stacks (scripts/evaluation.py's format) at several render widths.

The loss is a Gaussian-mixture likelihood of the true emitters under the predicted detections plus a count term:
  count: the number of true emitters N against sum(p) with variance sum(p(1-p))  (a Gaussian approximation of the
         Poisson-binomial count)  ->  (N - sum p)^2 / (2 var) + log(var) / 2
  place: every true emitter's position under the mixture sum_k p_k / sum(p) * Normal(mu_k, diag(sx_k^2, sy_k^2))
         ->  -sum_e log(...)
so probabilities, sub-pixel offsets and uncertainties are fitted together, and a detection is rewarded for sitting
on its emitter, not for spreading mass over the neighbourhood.

  python3 scripts/train_loc.py --out OUTDIR --name NAME [--like conditions.json] [--init-onnx base.onnx] [--minutes M]
Exit codes: 0 done, 2 usage, 3 no CUDA GPU or a missing Python package (the message says which).
"""
import argparse
import copy
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as err:  # the smlm-rt CLI relays this line
    print(f"train_loc.py: missing Python package: {err.name} (install PyTorch: python3 -m pip install torch numpy onnx onnxruntime)", file=sys.stderr)
    sys.exit(3)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import ARCHITECTURES, UPSAMPLING, gmac_per_frame  # noqa: E402
import simulate_torch as sim  # noqa: E402
from onnx_metadata import write_metadata  # noqa: E402
from render_rule import render_rule  # noqa: E402

MAX_OFFSET = 1.0
CHANNELS = ["p", "dx", "dy", "sx", "sy"]
RENDER_RADIUS = 4
MIN_PROBABILITY = 0.01


def decode(raw, grid=1, max_offset=MAX_OFFSET):
    """Raw head output [B,5*g*g,H,W] -> per detection cell of the [B,g*H,g*W] grid: p, centre x/y (camera px) and
    sigma x/y (camera px). Cell column c covers [c/g, (c+1)/g) camera px."""
    cells = F.pixel_shuffle(raw, grid) if grid > 1 else raw  # channel k*g*g + i*g + j -> quantity k of cell (i, j)
    _, _, h, w = cells.shape
    p = torch.sigmoid(cells[:, 0])
    cols = torch.arange(w, device=raw.device, dtype=raw.dtype)[None, None, :] + 0.5
    rows = torch.arange(h, device=raw.device, dtype=raw.dtype)[None, :, None] + 0.5
    x = (cols + max_offset * torch.tanh(cells[:, 1])) / grid
    y = (rows + max_offset * torch.tanh(cells[:, 2])) / grid
    sx = (0.01 + 3 * torch.sigmoid(cells[:, 3])) / grid
    sy = (0.01 + 3 * torch.sigmoid(cells[:, 4])) / grid
    return p, x, y, sx, sy


def mixture_loss(raw, pos, mask, grid=1, reach_px=3):
    """Mean over frames of count + placement terms (module doc). raw [B,5*g*g,H,W]; pos [B,M,2] camera px; mask [B,M].
    Each emitter's mixture is evaluated over the cells within `reach_px` camera pixels of it (the Gaussians of farther
    detections are negligible there), so memory grows with emitters, not with emitters x cells."""
    p, x, y, sx, sy = decode(raw.float(), grid)
    b, hc, wc = p.shape
    n = mask.sum(1).float()
    total = p.flatten(1).sum(1)
    var = (p * (1 - p)).flatten(1).sum(1) + 1e-3
    count = 0.5 * (n - total) ** 2 / var + 0.5 * torch.log(var)
    logw = torch.log(p + 1e-8) - torch.log(total + 1e-6)[:, None, None]
    r = reach_px * grid
    offs = torch.arange(-r, r + 1, device=raw.device)
    col = (pos[..., 0] * grid).floor().long()[..., None, None] + offs[None, None, None, :]  # [B,M,1,S]
    row = (pos[..., 1] * grid).floor().long()[..., None, None] + offs[None, None, :, None]  # [B,M,S,1]
    inside = ((col >= 0) & (col < wc) & (row >= 0) & (row < hc)).flatten(2)  # [B,M,S*S]
    index = (row.clamp(0, hc - 1) * wc + col.clamp(0, wc - 1)).flatten(2)
    take = lambda t: torch.gather(t.flatten(1), 1, index.flatten(1)).view(index.shape)  # noqa: E731
    zx = (pos[..., 0:1] - take(x)) / take(sx)
    zy = (pos[..., 1:2] - take(y)) / take(sy)
    logn = -0.5 * (zx * zx + zy * zy) - torch.log(take(sx) * take(sy)) - math.log(2 * math.pi)
    ll = torch.logsumexp(torch.where(inside, take(logw) + logn, torch.full_like(logn, -1e4)), dim=2)
    place = -(ll * mask).sum(1)
    return (count + place).mean(), count.mean(), place.mean()


def render(raw, upsampling, sigma, grid=1, radius=RENDER_RADIUS, min_p=MIN_PROBABILITY, sigma_range=None):
    """The image smlm-rt renders from raw detections (lib/model/head.ts), summed over the batch: [H*u, W*u].
    sigma: fine pixels, or "predicted": each detection as wide as its own uncertainty, clamped to sigma_range."""
    p, x, y, sx, sy = decode(raw.float(), grid)
    H, W = raw.shape[2] * upsampling, raw.shape[3] * upsampling
    keep = p >= min_p
    p, mx, my = p[keep], x[keep] * upsampling, y[keep] * upsampling
    if sigma == "predicted":
        lo, hi = sigma_range
        sgx, sgy = (sx[keep] * upsampling).clamp(lo, hi), (sy[keep] * upsampling).clamp(lo, hi)
    else:
        sgx = sgy = torch.full_like(p, float(sigma))
    img = torch.zeros(H * W, device=raw.device, dtype=torch.float64)
    if p.numel() == 0:
        return img.view(H, W)
    fx, fy = mx.floor(), my.floor()
    if sigma != "predicted" and sigma <= 0:
        ok = (fx >= 0) & (fx < W) & (fy >= 0) & (fy < H)
        img.index_add_(0, (fy[ok] * W + fx[ok]).long(), p[ok].double())
        return img.view(H, W)
    k = torch.arange(-radius, radius + 1, device=raw.device, dtype=p.dtype)

    def weights(mu, f, s):
        edges = f[:, None] + k[None, :]
        cdf = lambda e: torch.erf((e - mu[:, None]) / (math.sqrt(2) * s[:, None]))  # noqa: E731
        wt = 0.5 * (cdf(edges + 1) - cdf(edges))
        return edges, wt / wt.sum(1, keepdim=True)

    ex, wx = weights(mx, fx, sgx)
    ey, wy = weights(my, fy, sgy)
    val = p[:, None, None] * wy[:, :, None] * wx[:, None, :]
    X = ex[:, None, :].expand_as(val)
    Y = ey[:, :, None].expand_as(val)
    ok = (X >= 0) & (X < W) & (Y >= 0) & (Y < H)
    img.index_add_(0, (Y[ok] * W + X[ok]).long(), val[ok].double())
    return img.view(H, W)


def load_onnx_weights(model, path):
    """Initialises `model` from an exported smlm-rt ONNX (BatchNorm fused into its convs by the export): conv and
    transposed-conv weights in execution order; each BatchNorm becomes the identity plus the fused bias and stays in
    inference mode. A head of another shape (e.g. a maps-head base) is left at its random init."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    order = []
    hooks = [mod.register_forward_hook(lambda mod, i, o: order.append(mod))
             for mod in model.modules() if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 16, 16, device=next(model.parameters()).device))
    for hk in hooks:
        hk.remove()
    if len(order) != len(nodes):
        raise SystemExit(f"--init-onnx {path}: {len(nodes)} convolutions, this architecture has {len(order)}")
    bn_after = {}
    mods = list(model.modules())
    for i, mod in enumerate(mods):
        if isinstance(mod, nn.Conv2d) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d):
            bn_after[mod] = mods[i + 1]
    loaded = 0
    for mod, node in zip(order, nodes):
        w = init.get(node.input[1])
        b = init.get(node.input[2]) if len(node.input) > 2 else None
        if w is None or tuple(w.shape) != tuple(mod.weight.shape):
            if mod is model.head:
                print(f"--init-onnx: head {None if w is None else w.shape} differs from {tuple(mod.weight.shape)}: trained from scratch", flush=True)
                continue
            raise SystemExit(f"--init-onnx {path}: {node.name} has weights {None if w is None else w.shape}, expected {tuple(mod.weight.shape)}")
        with torch.no_grad():
            mod.weight.copy_(torch.from_numpy(w))
            bias = torch.from_numpy(b) if b is not None else torch.zeros(mod.weight.shape[0 if isinstance(mod, nn.Conv2d) else 1])
            if mod in bn_after:
                bn = bn_after[mod]
                bn.weight.fill_(1.0)
                bn.bias.copy_(bias)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
            elif mod.bias is not None:
                mod.bias.copy_(bias)
        loaded += 1
    return loaded


def freeze_batchnorm_stats(model):
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.eval()


def export_onnx(model, path, norm, ranges, head_meta, provenance):
    import inspect
    cpu = copy.deepcopy(model).float().cpu().eval()
    # torch >= 2.9 exports through dynamo by default; the TorchScript exporter is the one whose graphs smlm-rt's compiler knows.
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(cpu, torch.zeros(1, 1, 64, 64), path, input_names=["frames"], output_names=["detections"],
                      opset_version=17, do_constant_folding=True, **legacy,
                      dynamic_axes={"frames": {0: "n", 2: "h", 3: "w"}, "detections": {0: "n", 2: "h", 3: "w"}})
    props = {
        "smlm.format": "1", "smlm.architecture": "unet-loc", "smlm.upsampling": str(UPSAMPLING),
        "smlm.camera_pixel_nm": f"{ranges.pixel_nm:g}", "smlm.output_pixel_nm": f"{ranges.pixel_nm / UPSAMPLING:g}",
        "smlm.normalization": json.dumps({"kind": "minmax-zscore", "mean": norm[0], "std": norm[1]}),
        "smlm.output_scale": "1", "smlm.size_multiple": str(model.size_multiple), "smlm.min_size": str(model.min_size),
        "smlm.head": json.dumps(head_meta), "smlm.training": json.dumps(provenance),
    }
    write_metadata(path, props, f"smlm-rt unet-loc: normalized frames [N,1,H,W] -> raw detections [N,5*g*g,H,W], "
                                f"g = {head_meta['grid']} ({', '.join(CHANNELS)})")


def check_onnx(model, path):
    try:
        import onnxruntime as ort
    except ImportError:
        return {"skipped": "onnxruntime is not installed"}
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    cpu = copy.deepcopy(model).float().cpu().eval()
    out = {}
    for h, w in [(64, 64), (32, 48)]:
        x = torch.randn(2, 1, h, w)
        ref = cpu(x).detach().numpy()
        got = sess.run(["detections"], {"frames": x.numpy()})[0]
        out[f"{h}x{w}"] = {"shape": list(got.shape), "max_abs_diff": float(np.abs(got - ref).max())}
    return out


def evaluate(model, prefixes, norm, sigmas, device, grid):
    import evaluation
    res = {}
    for prefix in prefixes:
        data, xs, ys = evaluation.load_stack(prefix)
        frames, h, w = data.shape
        gt = evaluation.ground_truth_image(xs, ys, h * UPSAMPLING, w * UPSAMPLING, 100.0 / UPSAMPLING)
        raws = []
        with torch.no_grad():
            for s in range(0, frames, 64):
                x = torch.from_numpy(data[s:s + 64].astype(np.float32)).to(device)
                x = ((sim.minmax(x) - norm[0]) / norm[1])[:, None]
                raws.append(model(x).float())
        raw = torch.cat(raws)
        entry = {"frames": frames, "emitters": int(len(xs)), "predicted_total": float(decode(raw, grid)[0].sum())}
        for s in sigmas:
            pred = render(raw, UPSAMPLING, s, grid).cpu().numpy()
            entry[f"render{s:g}"] = {f"sigma{b}": evaluation.scores(pred, gt, b)["scaled"] for b in (0, 1)}
        res[os.path.basename(prefix)] = entry
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--name", default="unet-loc")
    ap.add_argument("--like", help="conditions JSON from `smlm-rt estimate --json`: train on ranges around them")
    ap.add_argument("--ranges", choices=["broad", "benchmark"], default="broad",
                    help="without --like: broad (cameras and conditions of many microscopes) or benchmark (narrower, "
                         "around the benchmark's EMCCD at 100 nm)")
    ap.add_argument("--init-onnx", help="start from this smlm-rt unet-loc ONNX (fine-tuning)")
    ap.add_argument("--minutes", type=float, default=8.0, help="training time; the learning rate follows a cosine over it")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=64, help="frame size simulated for training (camera px)")
    ap.add_argument("--widths", type=int, nargs=3, default=[64, 128, 256])
    ap.add_argument("--head-width", type=int, default=64)
    ap.add_argument("--head-hidden", type=int, default=0)
    ap.add_argument("--grid", type=int, default=2, choices=[1, 2, 4], help="detection cells per camera pixel and axis")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--render-sigma", type=float, default=None,
                    help="rendering width exported in smlm.head (fine px); default: the --init-onnx base's rule, else 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--commit", default=os.environ.get("SMLM_RT_COMMIT", "unknown"))
    ap.add_argument("--eval", nargs="*", default=[], help="evaluation stacks (scripts/evaluation.py format)")
    ap.add_argument("--max-iters", type=int, default=0, help="smoke test: stop after this many iterations")
    ap.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    a = ap.parse_args()
    dev = a.device
    if dev == "cuda" and not torch.cuda.is_available():
        print("train_loc.py: no CUDA GPU is visible to PyTorch (torch.cuda.is_available() is False)", file=sys.stderr)
        sys.exit(3)
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = True
    if a.like:
        with open(a.like) as f:
            ranges = sim.ranges_like(json.load(f))
    elif a.ranges == "benchmark":
        ranges = sim.Ranges(psf_sigma_px=(0.9, 1.3), photons=(500.0, 5000.0), background=(5.0, 50.0),
                            density_per_um2=(1.0, 9.0), scmos_probability=0.2)
    else:
        ranges = sim.Ranges()
    norm = sim.normalization_constants(ranges, a.size, dev)
    print(f"[{a.name}] normalization mean {norm[0]:.5f} std {norm[1]:.5f}", flush=True)

    base_head = None
    if a.init_onnx:
        # Fine-tuning continues the base's architecture (its widths, head and detection grid), whatever the flags say,
        # and its rendering rule unless --render-sigma says otherwise (scripts/render_rule.py).
        import onnx
        meta = {p.key: p.value for p in onnx.load(a.init_onnx).metadata_props}
        base_head = meta.get("smlm.head")
        base = json.loads(meta.get("smlm.training", "{}"))
        a.widths = base.get("widths") or a.widths
        a.head_width = base.get("head_width") or a.head_width
        a.head_hidden = base.get("head_hidden") or 0
        a.grid = json.loads(meta.get("smlm.head", "{}")).get("grid", 1) if meta.get("smlm.architecture") == "unet-loc" else a.grid
    model = ARCHITECTURES["unet-loc"](widths=tuple(a.widths), head_width=a.head_width, head_hidden=a.head_hidden,
                                      grid=a.grid).to(dev)
    init_note = "random"
    if a.init_onnx:
        n = load_onnx_weights(model, a.init_onnx)
        init_note = f"{os.path.basename(a.init_onnx)} ({n} convolutions loaded, BatchNorm frozen)"
    model = model.to(memory_format=torch.channels_last)
    gmac = gmac_per_frame(model, 64)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, fused=dev == "cuda")
    budget = a.minutes * 60.0

    gen_state = torch.random.get_rng_state()
    torch.manual_seed(a.seed + 1000)
    val = [sim.simulate_batch(ranges, 64, a.size, dev) for _ in range(4)]
    torch.random.set_rng_state(gen_state)

    def autocast():
        # bf16 on the GPU; the CPU smoke test (--device cpu) runs in fp32
        return torch.autocast("cuda", dtype=torch.bfloat16) if dev == "cuda" else torch.autocast("cpu", enabled=False)

    def prep(adu):
        return ((sim.minmax(adu) - norm[0]) / norm[1])[:, None].contiguous(memory_format=torch.channels_last)

    def validate(net):
        net.eval()
        tot = cnt = plc = 0.0
        with torch.no_grad():
            for adu, pos, mask, _ in val:
                with autocast():
                    raw = net(prep(adu))
                loss, c, p = mixture_loss(raw, pos, mask, a.grid)
                tot, cnt, plc = tot + float(loss), cnt + float(c), plc + float(p)
        return tot / len(val), cnt / len(val), plc / len(val)

    t0 = time.time()
    it = 0
    history = []
    best = (math.inf, None, 0)
    next_val = 30.0
    model.train()
    if a.init_onnx:
        freeze_batchnorm_stats(model)
    running = torch.zeros((), device=dev)
    while True:
        elapsed = time.time() - t0
        if elapsed >= budget or (a.max_iters and it >= a.max_iters):
            break
        for g in opt.param_groups:
            g["lr"] = a.lr * 0.5 * (1 + math.cos(math.pi * min(elapsed / budget, 1.0)))
        adu, pos, mask, _ = sim.simulate_batch(ranges, a.batch, a.size, dev)
        with autocast():
            raw = model(prep(adu))
        loss, _, _ = mixture_loss(raw, pos, mask, a.grid)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        with torch.no_grad():
            decay = min(a.ema, (1 + it) / (10 + it))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        running += loss.detach()
        it += 1
        if time.time() - t0 >= next_val or (a.max_iters and it >= a.max_iters):
            next_val += 30.0
            v = validate(ema)
            history.append({"seconds": round(time.time() - t0, 1), "iterations": it, "train_loss": float(running) / max(1, it),
                            "val_loss": v[0], "val_count": v[1], "val_place": v[2], "lr": opt.param_groups[0]["lr"]})
            print(f"[{a.name}] {history[-1]}", flush=True)
            if v[0] < best[0]:
                best = (v[0], copy.deepcopy(ema.state_dict()), it)
    if best[1] is None:
        best = (validate(ema)[0], copy.deepcopy(ema.state_dict()), it)
    model.load_state_dict(best[1])
    model.eval()
    seconds = time.time() - t0
    head_meta = {"kind": "localization", "channels": CHANNELS, "grid": a.grid, "maxOffset": MAX_OFFSET,
                 "render": render_rule(a.render_sigma, base_head, RENDER_RADIUS, MIN_PROBABILITY)}
    provenance = {
        "architecture": "unet-loc", "model_name": a.name, "widths": a.widths, "head_width": a.head_width,
        "head_hidden": a.head_hidden, "grid": a.grid, "data": "simulated on the fly on the GPU (scripts/simulate_torch.py)",
        "conditions_ranges": ranges.to_json(), "ranges_preset": "like " + os.path.basename(a.like) if a.like else a.ranges,
        "frame_size": a.size, "batch": a.batch, "iterations": it, "frames_seen": it * a.batch, "best_iteration": best[2],
        "optimizer": "Adam", "lr": a.lr, "lr_schedule": f"cosine to 0 over {a.minutes:g} min", "ema": a.ema,
        "loss": "Gaussian-mixture likelihood of true positions + Gaussian count term (scripts/train_loc.py)",
        "validation_loss": best[0], "init": init_note, "seed": a.seed, "commit": a.commit,
        "gpu": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__,
        "train_seconds": round(seconds, 1), "gmac_per_64x64_frame": round(gmac, 4),
        "normalization_constants": "mean/std of min-max scaled simulated frames (4096 frames, seed 1)",
    }
    path = os.path.join(a.out, f"{a.name}.onnx")
    export_onnx(model, path, norm, ranges, head_meta, provenance)
    result = {"name": a.name, "provenance": provenance, "history": history, "onnx_check": check_onnx(model, path)}
    if a.eval:
        result["evaluation"] = evaluate(model, a.eval, norm, [0, 0.5, 1.0, 1.5], dev, a.grid)
    with open(os.path.join(a.out, f"{a.name}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1), flush=True)


if __name__ == "__main__":
    main()
