"""The rendering rule a trained localization model is exported with (smlm.head "render", lib/model/metadata.ts).

A model fine-tuned from a base keeps the base's rule unless told otherwise. The bundled unet was chosen rendering each
detection as wide as its predicted uncertainty (sigma "predicted"); its fits were exported with the fixed 1 fine pixel
of a model trained from scratch, and rendered that way they scored NMSE sigma0 / sigma1 68.51 / 8.42 % on the naive
simulator's 160 nm held-out field, against 53.88 / 6.61 % with the base's rule (README, "Fit a model to your
microscope"). Kept free of torch so that it can be checked where PyTorch is not installed.
"""
import json

# Fine pixels: the width a model trained from scratch is rendered with, unless told.
FIXED_SIGMA = 1.0


def render_rule(render_sigma, base_head_json, radius, min_probability):
    """render_sigma: the --render-sigma option (fine px) or None; base_head_json: the base model's smlm.head, or None."""
    if render_sigma is not None:
        return {"sigma": float(render_sigma), "radius": radius, "minProbability": min_probability}
    if base_head_json:
        base = json.loads(base_head_json).get("render")
        if isinstance(base, dict) and "sigma" in base:
            return dict(base)
    return {"sigma": FIXED_SIGMA, "radius": radius, "minProbability": min_probability}
