#!/usr/bin/env python3
"""Trains one smlm-rt model on the patches of scripts/make-training-data.ts, exports it to ONNX with the metadata
contract of lib/model/metadata.ts, and (optionally) evaluates it on stacks with ground truth.

Loss (the paper's eq. 1, as in Deep-STORM): ||g*x' - g*x||^2 + ||x'||_1, both terms means over pixels, g a Gaussian
of sigma 1 fine pixel (7x7, sum 1; --loss-sigma changes sigma), x the target: emitter counts on the 12.5 nm grid times
OUTPUT_SCALE (100, Deep-STORM's spike height; exported as smlm.output_scale). Adam, batch 16, best-validation checkpoint, bf16
autocast + channels_last. Training stops after --epochs or when the next epoch would overrun --time-budget seconds.

Input normalization (smlm.normalization = minmax-zscore): each patch is min-max scaled with the min and max of the
whole 64x64 frame it was cut from (at inference smlm-rt scales each whole frame, so train and test agree), then
z-scored with the mean over training patches of each patch's mean, and likewise for the std (Deep-STORM's
definition of the constants; computed here from this data set, not Deep-STORM's 0.19608/0.17764).

Runs on a CUDA GPU only:  python3 scripts/train.py --arch unet --data .gpu/train/train.bin --out OUTDIR
"""
import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import ARCHITECTURES, UPSAMPLING, gmac_per_frame  # noqa: E402
import evaluation  # noqa: E402
from onnx_metadata import write_metadata  # noqa: E402

OUTPUT_SCALE = 100.0
CAMERA_PIXEL_NM = 100.0


def load_training_file(path):
    raw = open(path, "rb").read()
    if raw[:8] != b"SMLMTD01":
        raise SystemExit(f"{path}: not an smlm-rt training file")
    header_len = int.from_bytes(raw[8:12], "little")
    header = json.loads(raw[12:12 + header_len].decode("utf8").rstrip())
    sec = header["sections"]

    def section(name, dtype):
        item = np.dtype(dtype).itemsize
        return np.frombuffer(raw, dtype, sec[name]["bytes"] // item, sec[name]["offset"])

    n, p = header["count"], header["patch"]
    patches = section("patches", "<u2").reshape(n, p, p)
    minmax = section("frameMinMax", "<u2").reshape(n, 2)
    counts = section("counts", "<u4").astype(np.int64)
    positions = section("positions", "u1").reshape(-1, 2).astype(np.int64)
    return header, patches, minmax, counts, positions


def gaussian_kernel(sigma=1.0, device="cuda"):
    size = max(7, 2 * math.ceil(3 * sigma) + 1)  # 7x7 up to sigma 1, as Deep-STORM's; wider beyond, so the tails fit
    r = torch.arange(size, dtype=torch.float32, device=device) - size // 2
    g = torch.exp(-r ** 2 / (2 * sigma ** 2))
    k = g[:, None] * g[None, :]
    return (k / k.sum())[None, None]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=sorted(ARCHITECTURES), required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="output folder: <arch>.onnx, log JSON")
    ap.add_argument("--name", help="file stem of the outputs (default: arch)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--schedule", choices=["plateau", "constant", "cosine"], default="plateau",
                    help="plateau: Deep-STORM's ReduceLROnPlateau(factor 0.1, patience 5, min 5e-5); "
                         "cosine: per iteration from lr to 0 over --epochs")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="decay of an exponential moving average of the weights (0: off); validation, the checkpoint "
                         "and the export then use the averaged weights")
    ap.add_argument("--time-budget", type=float, default=1e9, help="seconds of training, then stop at an epoch end")
    ap.add_argument("--max-iters", type=int, default=0, help="smoke test: stop each epoch after this many iterations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--widths", type=int, nargs=3, help="unet: channels of its three levels (default 48 96 192)")
    ap.add_argument("--head-width", type=int, help="unet: channels of the last decoder block before the head (default 64)")
    ap.add_argument("--head-hidden", type=int, help="unet: channels of the per-pixel renderer before the head (default 0: none)")
    ap.add_argument("--sr-stages", type=int, help="unet: super-resolving decoder stages beyond camera resolution (default 0)")
    ap.add_argument("--loss-sigma", type=float, default=1.0,
                    help="sigma of the loss's Gaussian g, fine pixels (Deep-STORM's: 1). Why smaller: under a blur of 1 fine "
                         "pixel the loss hardly sees how much of an emitter's mass lands on its own pixel, which NMSE "
                         "without blur scores")
    ap.add_argument("--eval", nargs="*", default=[], help="evaluation stacks (evaluation.py format) to score after export")
    a = ap.parse_args()
    name = a.name or a.arch
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    torch.backends.cudnn.benchmark = True
    dev = "cuda"
    gpu = torch.cuda.get_device_name()
    t_start = time.time()

    header, patches, minmax, counts, positions = load_training_file(a.data)
    n, p, n_train = header["count"], header["patch"], header["train"]
    fine = p * UPSAMPLING

    # Inputs: frame-wise min-max, then z-score with training-set constants (see module doc).
    lo = minmax[:, 0].astype(np.float32)[:, None, None]
    hi = minmax[:, 1].astype(np.float32)[:, None, None]
    x01 = (patches.astype(np.float32) - lo) / np.maximum(hi - lo, 1.0)
    norm_mean = float(x01[:n_train].mean(axis=(1, 2)).mean())
    norm_std = float(x01[:n_train].std(axis=(1, 2)).mean())
    inputs = torch.from_numpy((x01 - norm_mean) / norm_std).to(dev)[:, None]

    # Targets densified on the GPU: emitter counts per fine pixel, uint8 (never > 255 per 12.5 nm pixel).
    owner = torch.from_numpy(np.repeat(np.arange(n), counts)).to(dev)
    pos = torch.from_numpy(positions).to(dev)
    flat = owner * fine * fine + pos[:, 1] * fine + pos[:, 0]
    dense = torch.zeros(n * fine * fine, dtype=torch.int32, device=dev)
    dense.scatter_add_(0, flat, torch.ones_like(flat, dtype=torch.int32))
    targets = dense.clamp_(max=255).to(torch.uint8).view(n, 1, fine, fine)
    del dense, flat, owner, pos

    kwargs = {}
    if a.arch == "unet" and a.widths:
        kwargs["widths"] = tuple(a.widths)
    if a.arch == "unet" and a.head_width:
        kwargs["head_width"] = a.head_width
    if a.arch == "unet" and a.head_hidden:
        kwargs["head_hidden"] = a.head_hidden
    if a.arch == "unet" and a.sr_stages:
        kwargs["sr_stages"] = a.sr_stages
    model = ARCHITECTURES[a.arch](**kwargs).to(dev).to(memory_format=torch.channels_last)
    gmac = gmac_per_frame(model, 64)
    mult = model.size_multiple
    crop = (p // mult) * mult  # unet trains on random 24x24 crops of the 26x26 patches (also an augmentation)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, fused=True)
    iters_per_epoch = min(n_train // a.batch, a.max_iters or n_train)
    sched = step_sched = None
    if a.schedule == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=5, min_lr=5e-5)
    elif a.schedule == "cosine":
        total = a.epochs * iters_per_epoch
        step_sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total)))
    # The averaged copy is what gets validated and exported; BatchNorm's running statistics are copied, not averaged.
    ema = copy.deepcopy(model) if a.ema else None
    if ema is not None:
        ema.eval()
        ema_params, live_params = list(ema.parameters()), list(model.parameters())

    def update_ema():
        with torch.no_grad():
            torch._foreach_lerp_(ema_params, live_params, 1.0 - a.ema)
            for eb, mb in zip(ema.buffers(), model.buffers()):
                eb.copy_(mb)
    if not 0.2 <= a.loss_sigma <= 3.0:
        raise SystemExit(f"--loss-sigma {a.loss_sigma}: expected 0.2 to 3 fine pixels")
    kernel = gaussian_kernel(a.loss_sigma, device=dev)

    def blur(t):
        return F.conv2d(t, kernel, padding=kernel.shape[-1] // 2)

    def loss_terms(pred, target):
        pred = pred.float()
        err = blur(pred) - blur(target)
        return (err ** 2).mean(), pred.abs().mean(), err, blur(target)

    gen = torch.Generator(device="cpu").manual_seed(a.seed)

    def batch(idx, train):
        x = inputs[idx]
        y = targets[idx].float() * OUTPUT_SCALE
        if crop != p:
            if train:
                oy, ox = (int(v) for v in torch.randint(0, p - crop + 1, (2,), generator=gen))
            else:
                oy = ox = (p - crop) // 2
            x = x[..., oy:oy + crop, ox:ox + crop]
            y = y[..., oy * UPSAMPLING:(oy + crop) * UPSAMPLING, ox * UPSAMPLING:(ox + crop) * UPSAMPLING]
        if train:
            # The fine grid nests exactly in the camera grid, so rotations/flips transform input and target alike.
            k = int(torch.randint(0, 4, (1,), generator=gen))
            if k:
                x, y = torch.rot90(x, k, (2, 3)), torch.rot90(y, k, (2, 3))
            if int(torch.randint(0, 2, (1,), generator=gen)):
                x, y = torch.flip(x, (3,)), torch.flip(y, (3,))
        return x.contiguous(memory_format=torch.channels_last), y

    def validate():
        net = ema if ema is not None else model
        model.eval()
        tot_loss = tot_err = tot_ref = 0.0
        with torch.no_grad():
            for s in range(n_train, n, 250):
                idx = torch.arange(s, min(s + 250, n), device=dev)
                x, y = batch(idx, False)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    out = net(x)
                mse, l1, err, ref = loss_terms(out, y)
                tot_loss += float(mse + l1) * len(idx)
                tot_err += float((err ** 2).sum())
                tot_ref += float((ref ** 2).sum())
        model.train()
        return tot_loss / (n - n_train), tot_err / tot_ref

    history = []
    best = (math.inf, None, -1)
    epoch_times = []
    model.train()
    for epoch in range(a.epochs):
        t0 = time.time()
        perm = torch.randperm(n_train, generator=gen).to(dev)
        iters = iters_per_epoch
        run_loss = torch.zeros((), device=dev)
        for it in range(iters):
            x, y = batch(perm[it * a.batch:(it + 1) * a.batch], True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                out = model(x)
            mse, l1, _, _ = loss_terms(out, y)
            loss = mse + l1
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step_sched is not None:
                step_sched.step()
            if ema is not None:
                update_ema()
            run_loss += loss.detach()
        val_loss, val_nmse = validate()
        if sched is not None:
            sched.step(val_loss)
        dt = time.time() - t0
        epoch_times.append(dt)
        history.append({"epoch": epoch + 1, "train_loss": float(run_loss) / iters, "val_loss": val_loss,
                        "val_nmse_blurred": val_nmse, "lr": opt.param_groups[0]["lr"], "seconds": round(dt, 2)})
        print(f"[{name}] epoch {epoch + 1} train {history[-1]['train_loss']:.4f} val {val_loss:.4f} "
              f"val-nmse {val_nmse:.4f} lr {opt.param_groups[0]['lr']:.1e} {dt:.1f}s", flush=True)
        if val_loss < best[0]:
            best = (val_loss, copy.deepcopy((ema if ema is not None else model).state_dict()), epoch + 1)
        elapsed = time.time() - t_start
        if elapsed + max(epoch_times[-3:]) > a.time_budget:
            print(f"[{name}] time budget {a.time_budget:.0f}s reached after {epoch + 1} epochs", flush=True)
            break
    train_seconds = time.time() - t_start
    model.load_state_dict(best[1])
    model.eval()
    best_hist = history[best[2] - 1]

    provenance = {
        "architecture": a.arch, "model_name": name, "widths": list(getattr(model, "widths", [])), "head_width": getattr(model, "head_width", None), "data": os.path.basename(a.data), "data_seed": header["seed"],
        "data_format": header["format"], "patches": {"train": n_train, "validation": n - n_train, "size": p},
        "conditions": header["conditions"], "epochs_done": len(history), "epochs_requested": a.epochs,
        "best_epoch": best[2], "batch": a.batch, "optimizer": "Adam", "lr": a.lr,
        "lr_schedule": {"plateau": "ReduceLROnPlateau(0.1, patience 5, min 5e-5)", "constant": "constant",
                        "cosine": f"cosine to 0 over {a.epochs} epochs, per iteration"}[a.schedule],
        "weight_average": f"EMA decay {a.ema}" if a.ema else "none", "head_hidden": getattr(model, "head_hidden", None),
        "sr_stages": getattr(model, "sr_stages", None),
        "final_lr": opt.param_groups[0]["lr"], "loss": f"mse(g*x', g*x) + mean|x'|, g {kernel.shape[-1]}x{kernel.shape[-1]} Gaussian sigma {a.loss_sigma:g} fine px",
        "validation_loss": best_hist["val_loss"], "validation_nmse_blurred": best_hist["val_nmse_blurred"],
        "amp": "bf16 autocast, channels_last", "gpu": gpu, "torch": torch.__version__,
        "train_seconds": round(train_seconds, 1), "gmac_per_64x64_frame": round(gmac, 4), "torch_seed": a.seed,
        "normalization_constants": "computed over training patches (frame-wise min-max)",
    }
    onnx_path = os.path.join(a.out, f"{name}.onnx")
    export_onnx(model, onnx_path, a.arch, norm_mean, norm_std, provenance)
    check = check_onnx(model, onnx_path)
    result = {"name": name, "provenance": provenance, "history": history, "onnx_check": check,
              "normalization": {"mean": norm_mean, "std": norm_std}}
    if a.eval:
        result["evaluation"] = {}
        for path in a.eval:
            result["evaluation"][os.path.basename(path)] = evaluation.evaluate_stack(
                lambda xb: model(xb), path, norm_mean, norm_std, OUTPUT_SCALE, UPSAMPLING, dev)
    with open(os.path.join(a.out, f"{name}.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k != "history"}, indent=1), flush=True)


def export_onnx(model, path, arch, mean, std, provenance):
    cpu_model = copy.deepcopy(model).float().cpu().to(memory_format=torch.contiguous_format).eval()
    torch.onnx.export(cpu_model, torch.zeros(1, 1, 64, 64), path, input_names=["frames"], output_names=["maps"],
                      opset_version=17, dynamo=False, do_constant_folding=True,
                      dynamic_axes={"frames": {0: "n", 2: "h", 3: "w"}, "maps": {0: "n", 2: "H", 3: "W"}})
    props = {
        "smlm.format": "1", "smlm.architecture": arch, "smlm.upsampling": str(UPSAMPLING),
        "smlm.camera_pixel_nm": str(int(CAMERA_PIXEL_NM)), "smlm.output_pixel_nm": str(CAMERA_PIXEL_NM / UPSAMPLING),
        "smlm.normalization": json.dumps({"kind": "minmax-zscore", "mean": mean, "std": std}),
        "smlm.output_scale": str(int(OUTPUT_SCALE)), "smlm.size_multiple": str(model.size_multiple),
        "smlm.min_size": str(model.min_size), "smlm.training": json.dumps(provenance),
    }
    write_metadata(path, props, f"smlm-rt {arch}: normalized frames [N,1,H,W] -> maps [N,1,{UPSAMPLING}H,{UPSAMPLING}W]")


def check_onnx(model, path):
    """Runs the exported file in onnxruntime (CPU) on a 64x64 and a 32x48 frame and compares with PyTorch fp32."""
    import onnx
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ops = sorted({node.op_type for node in onnx.load(path).graph.node})
    out = {"ops": ops}
    cpu_model = copy.deepcopy(model).float().cpu().eval()
    for h, w in [(64, 64), (32, 48)]:
        x = torch.randn(2, 1, h, w)
        ref = cpu_model(x).detach().numpy()
        got = sess.run(["maps"], {"frames": x.numpy()})[0]
        out[f"{h}x{w}"] = {"shape": list(got.shape), "max_abs_diff": float(np.abs(got - ref).max()),
                           "ref_max_abs": float(np.abs(ref).max())}
    return out


if __name__ == "__main__":
    main()
