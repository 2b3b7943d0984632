"""Training frames simulated on the GPU, fresh for every batch, with the imaging conditions drawn at random per frame.

Why not lib/simulate's fixed patches: a model picked on one simulator's fixed conditions learned that simulator; drawn
conditions (PSF width and shape, photons, background and its slope, density, emitter layout, EMCCD or sCMOS with their
own gains, baselines and read noise) make the network rely on what every microscope shares. The frames are whole
frames (the engine min-max scales each whole frame, so training sees the same statistics).

Conventions (../shared/data/README.md): camera pixel c covers [c, c+1) in camera-pixel units, x is the column.
Positions here are in camera pixels.
"""
import math
from dataclasses import asdict, dataclass

import torch

SQRT2 = math.sqrt(2.0)


@dataclass
class Ranges:
    """What one frame's conditions are drawn from. Ranges are (low, high); log=True ones are drawn log-uniformly."""
    pixel_nm: float = 100.0
    psf_sigma_px: tuple = (0.8, 1.45)          # Gaussian-equivalent PSF sigma, camera pixels (80-145 nm at 100 nm)
    psf_sigma_spread: tuple = (1.0, 1.15)      # each emitter's sigma = frame sigma * U(1, this): defocus spread
    psf_tail_probability: float = 0.35         # frames whose PSF has wider tails (a second, 2-3x wider Gaussian)
    psf_tail_weight: tuple = (0.05, 0.3)
    photons: tuple = (300.0, 8000.0)           # frame's typical photons per emitter (log)
    photon_spread: tuple = (0.3, 1.0)          # emitter photons = typical * exp(N(0, spread/2))
    background: tuple = (2.0, 80.0)            # photons per pixel (log)
    background_slope: tuple = (0.0, 0.4)       # relative change of the background across the frame
    density_per_um2: tuple = (0.2, 9.0)        # emitters per um^2 per frame
    filament_probability: float = 0.5          # frames whose emitters lie on curved filament bundles
    scmos_probability: float = 0.4
    emccd_adu_per_photon: tuple = (0.5, 12.0)  # (log)
    emccd_read_noise_adu: tuple = (0.0, 8.0)
    scmos_adu_per_photon: tuple = (0.3, 3.0)   # (log)
    scmos_read_noise_e: tuple = (0.7, 3.0)     # per-pixel rms read noise is this * lognormal(0, 0.3)
    scmos_gain_spread: float = 0.05            # per-pixel gain variation (relative sd)
    baseline_adu: tuple = (0.0, 500.0)

    def to_json(self):
        return asdict(self)


def ranges_like(c):
    """Ranges around the conditions of `smlm-rt estimate --json` (a dict), for fitting a model to one microscope."""
    px = float(c["pixelSizeNm"])
    sig = float(c["psfSigmaNm"]) / px
    ph = float(c["photonsMedian"])
    bg = max(float(c["backgroundPhotons"]), 0.5)
    dens = max(float(c["densityPerUm2"]), 0.2)
    gain = float(c["aduPerPhoton"])
    base = float(c["baselineAdu"])
    scmos = c.get("camera") == "scmos"
    return Ranges(
        pixel_nm=px, psf_sigma_px=(0.85 * sig, 1.15 * sig), photons=(0.5 * ph, 2.0 * ph), background=(0.6 * bg, 1.6 * bg),
        density_per_um2=(0.4 * dens, 1.6 * dens), scmos_probability=1.0 if scmos else 0.0,
        emccd_adu_per_photon=(0.8 * gain, 1.25 * gain), scmos_adu_per_photon=(0.8 * gain, 1.25 * gain),
        baseline_adu=(0.95 * base, 1.05 * base + 1.0))


def _uniform(lo_hi, n, device, log=False):
    lo, hi = lo_hi
    u = torch.rand(n, device=device)
    if log:
        return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    return lo + u * (hi - lo)


def _positions(r, batch, size, counts, max_emitters, device):
    """Emitter positions [B, M, 2] (camera px) and a mask [B, M]: uniform, or on bundles of curved filaments."""
    m = max_emitters
    margin = 1.0  # emitters just outside the frame still shine into it; they are not targets (see targets mask)
    uniform = torch.rand(batch, m, 2, device=device) * (size + 2 * margin) - margin
    # Filament frames: a few bundles of 1-3 parallel arcs of constant curvature crossing the frame; emitters are spread
    # along them with 10-20 nm of label jitter. Candidates are over-drawn, then those inside are kept first.
    cand = 4 * m
    bundles = 4
    start = torch.rand(batch, bundles, 2, device=device) * size
    theta = torch.rand(batch, bundles, device=device) * 2 * math.pi
    kappa = (torch.rand(batch, bundles, device=device) - 0.5) * (4.0 / size)
    kappa = torch.where(kappa.abs() < 1e-4, torch.full_like(kappa, 1e-4), kappa)
    strands = torch.randint(1, 4, (batch, bundles), device=device)
    spacing = 0.2 + 0.4 * torch.rand(batch, bundles, device=device)  # 20-60 nm at 100 nm pixels
    which = torch.randint(0, bundles, (batch, cand), device=device)
    t = (torch.rand(batch, cand, device=device) - 0.5) * 2.2 * size
    g = lambda v: torch.gather(v, 1, which)  # noqa: E731
    th, ka = g(theta), g(kappa)
    x0, y0 = g(start[..., 0]), g(start[..., 1])
    x = x0 + (torch.sin(th + ka * t) - torch.sin(th)) / ka
    y = y0 - (torch.cos(th + ka * t) - torch.cos(th)) / ka
    strand = (torch.rand(batch, cand, device=device) * g(strands).float()).floor()
    offset = (strand - (g(strands).float() - 1) / 2) * g(spacing)
    nx, ny = -torch.sin(th + ka * t), torch.cos(th + ka * t)  # unit normal of the arc
    jitter = torch.randn(batch, cand, 2, device=device) * 0.15
    fil = torch.stack([x + offset * nx, y + offset * ny], -1) + jitter
    inside = ((fil > -margin) & (fil < size + margin)).all(-1)
    key = torch.rand(batch, cand, device=device) - inside.float() * 2  # inside first, random order within
    order = key.argsort(1)[:, :m]
    fil = torch.gather(fil, 1, order[..., None].expand(-1, -1, 2))
    fil_ok = torch.gather(inside, 1, order)
    use_fil = (torch.rand(batch, device=device) < r.filament_probability)[:, None]
    pos = torch.where(use_fil[..., None], fil, uniform)
    slot = torch.arange(m, device=device)[None]
    mask = (slot < counts[:, None]) & torch.where(use_fil, fil_ok, torch.ones_like(fil_ok))
    return pos, mask


def _axis_mass(centre, sigma, size):
    """[B, M, size]: the fraction of a 1-D Gaussian (centre, sigma per emitter) in each pixel [i, i+1)."""
    edges = torch.arange(size + 1, device=centre.device, dtype=centre.dtype)
    cdf = torch.erf((edges[None, None] - centre[..., None]) / (SQRT2 * sigma[..., None]))
    return 0.5 * (cdf[..., 1:] - cdf[..., :-1])


def simulate_batch(r, batch, size, device="cuda", max_emitters=None):
    """One batch of frames: (adu [B, size, size] float32, positions [B, M, 2] camera px, mask [B, M] bool,
    conditions dict of per-frame tensors). `mask` marks the emitters that are targets: present and inside the frame."""
    area_um2 = (size * r.pixel_nm / 1000.0) ** 2
    if max_emitters is None:
        max_emitters = int(math.ceil(r.density_per_um2[1] * area_um2 * 1.25)) + 8
    dens = _uniform(r.density_per_um2, batch, device)
    expected = dens * area_um2 * ((size + 2.0) / size) ** 2  # the margin ring holds emitters too
    counts = torch.poisson(expected).clamp(max=max_emitters).long()
    pos, present = _positions(r, batch, size, counts, max_emitters, device)

    sigma = _uniform(r.psf_sigma_px, batch, device)[:, None] * _uniform(r.psf_sigma_spread, batch * max_emitters, device).view(batch, -1)
    typical = _uniform(r.photons, batch, device, log=True)
    spread = _uniform(r.photon_spread, batch, device)
    photons = typical[:, None] * torch.exp(torch.randn(batch, max_emitters, device=device) * spread[:, None] / 2)
    photons = photons * present
    mx, my = _axis_mass(pos[..., 0], sigma, size), _axis_mass(pos[..., 1], sigma, size)
    image = torch.einsum("bm,bmy,bmx->byx", photons, my, mx)
    tail = torch.rand(batch, device=device) < r.psf_tail_probability
    if bool(tail.any()):
        # A frame with tails: the same photons, a fraction of them in a Gaussian 2-3x wider (out-of-focus light).
        w = _uniform(r.psf_tail_weight, batch, device) * tail
        wide = sigma * _uniform((2.0, 3.0), batch, device)[:, None]
        tx, ty = _axis_mass(pos[..., 0], wide, size), _axis_mass(pos[..., 1], wide, size)
        image = image * (1 - w)[:, None, None] + w[:, None, None] * torch.einsum("bm,bmy,bmx->byx", photons, ty, tx)

    bg = _uniform(r.background, batch, device, log=True)
    slope = _uniform(r.background_slope, batch, device)
    angle = torch.rand(batch, device=device) * 2 * math.pi
    coords = (torch.arange(size, device=device, dtype=torch.float32) + 0.5) / size - 0.5
    ramp = torch.cos(angle)[:, None, None] * coords[None, None, :] + torch.sin(angle)[:, None, None] * coords[None, :, None]
    image = image + bg[:, None, None] * (1 + slope[:, None, None] * ramp)

    detected = torch.poisson(image.clamp_min(0))
    scmos = torch.rand(batch, device=device) < r.scmos_probability
    baseline = _uniform(r.baseline_adu, batch, device)
    # EMCCD: the EM register multiplies each photo-electron count n by a gamma(n, G) draw (excess noise factor 2);
    # the gain G cancels against the A/D conversion, so draw the overall ADU per photon and keep G's shape only.
    em_gain = 100.0
    k = detected.clamp_min(1e-6)
    electrons = torch._standard_gamma(k) * em_gain * (detected > 0)
    em_adu_per_photon = _uniform(r.emccd_adu_per_photon, batch, device, log=True)
    em_read = _uniform(r.emccd_read_noise_adu, batch, device)
    emccd = electrons / em_gain * em_adu_per_photon[:, None, None] + em_read[:, None, None] * torch.randn_like(image)
    # sCMOS: per-pixel gain and read noise (lognormal spread), Gaussian read noise in electrons.
    sc_gain = _uniform(r.scmos_adu_per_photon, batch, device, log=True)[:, None, None] * (1 + r.scmos_gain_spread * torch.randn_like(image))
    sc_read = _uniform(r.scmos_read_noise_e, batch, device)[:, None, None] * torch.exp(0.3 * torch.randn_like(image))
    scmos_adu = (detected + sc_read * torch.randn_like(image)) * sc_gain
    adu = torch.where(scmos[:, None, None], scmos_adu, emccd) + baseline[:, None, None]
    adu = adu.round().clamp(0, 65535)

    inside = ((pos >= 0) & (pos < size)).all(-1)
    conditions = {"density": dens, "photons": typical, "background": bg, "scmos": scmos, "sigma": sigma[:, 0]}
    return adu, pos, present & inside, conditions


def normalization_constants(r, size, device="cuda", frames=4096, seed=1):
    """Deep-STORM's constants for these conditions: the mean over frames of each min-max scaled frame's mean and std."""
    state = torch.random.get_rng_state(), (torch.cuda.get_rng_state() if device == "cuda" else None)
    torch.manual_seed(seed)
    means, stds = [], []
    for _ in range(max(1, frames // 256)):
        adu, _, _, _ = simulate_batch(r, 256, size, device)
        x = minmax(adu)
        means.append(x.mean((1, 2)))
        stds.append(x.std((1, 2)))
    torch.random.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1])
    return float(torch.cat(means).mean()), float(torch.cat(stds).mean())


def minmax(adu):
    lo = adu.amin((-2, -1), keepdim=True)
    hi = adu.amax((-2, -1), keepdim=True)
    return (adu - lo) / (hi - lo).clamp_min(1.0)
