"""The two architectures smlm-rt ships (see scripts/train.py).

Both map normalized camera frames [N,1,H,W] to maps [N,1,8H,8W] on the 12.5 nm grid, and use only the operators the
GPU engine compiles: Conv (3x3 pad 1 or 1x1), BatchNorm, ReLU, MaxPool 2x2/s2, nearest Upsample / ConvTranspose
k2/s2, Concat along channels, PixelShuffle at the end (and, for Deep-STORM, its nearest 8x input upsampling).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

UPSAMPLING = 8


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DeepSTORM(nn.Module):
    """Faithful Deep-STORM (Nehme et al., Optica 2018): nearest 8x upsampling of the input, then conv3x3-BN-ReLU
    32-64-128-512-128-64-32 with max-pooling down and nearest upsampling up, and a 1x1 output conv. The op pattern is
    that of /work/shared/reference/deepstorm_torch_bench.py. Accepts any frame size."""

    size_multiple = 1
    min_size = 1

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn_relu(1, 32), nn.MaxPool2d(2), *conv_bn_relu(32, 64), nn.MaxPool2d(2),
            *conv_bn_relu(64, 128), nn.MaxPool2d(2), *conv_bn_relu(128, 512), nn.Upsample(scale_factor=2),
            *conv_bn_relu(512, 128), nn.Upsample(scale_factor=2), *conv_bn_relu(128, 64), nn.Upsample(scale_factor=2),
            *conv_bn_relu(64, 32), nn.Conv2d(32, 1, 1, bias=False))

    def forward(self, x):
        return self.body(F.interpolate(x, scale_factor=UPSAMPLING, mode="nearest"))


class DoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(*conv_bn_relu(cin, cout), *conv_bn_relu(cout, cout))


class UNet(nn.Module):
    """The improved U-shaped network, working at camera resolution: a two-level encoder-decoder with skip
    connections (ConvTranspose k2/s2 up, Concat with the encoder's features), then a head of one 1x1 conv to
    64 = 8*8 channels and PixelShuffle(8) that writes each camera pixel's 8x8 block of the fine map. No convolution
    runs on an upsampled input, so the compute per frame is a few percent of Deep-STORM's. H and W must be multiples
    of 4 (two poolings).

    head_hidden > 0 puts a per-pixel nonlinear renderer before the head (1x1 conv to head_hidden channels + ReLU).
    Why: the head is linear, so the last ReLU layer alone has to turn a continuous sub-pixel position into a sharp
    spike on one of 64 fine pixels; one more ReLU layer at camera resolution is cheap (64*64*2*64*head_hidden MAC
    per 64x64 frame) and gives the rendering its own nonlinearity.

    sr_stages > 0 adds super-resolving decoder stages after the last camera-resolution block: each doubles the
    resolution (ConvTranspose k2/s2, channels halved) and runs conv3x3-BN-ReLU twice there, and the head's pixel
    shuffle shrinks to 8 / 2**sr_stages. Why: a shuffle head renders each camera pixel's 8x8 block linearly from one
    feature vector; the finer stages place emitters with convolutions on a 50 / 25 nm grid (translation-equivariant
    there, as Deep-STORM's full-resolution decoder is) at a fraction of Deep-STORM's cost."""

    size_multiple = 4
    min_size = 4

    def __init__(self, widths=(48, 96, 192), head_width=64, head_hidden=0, sr_stages=0):
        super().__init__()
        self.widths = tuple(widths)
        self.head_width = head_width
        self.head_hidden = head_hidden
        self.sr_stages = sr_stages
        w1, w2, w3 = widths
        self.enc1 = DoubleConv(1, w1)
        self.enc2 = DoubleConv(w1, w2)
        self.bottom = DoubleConv(w2, w3)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.dec2 = DoubleConv(2 * w2, w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = DoubleConv(2 * w1, head_width)
        stages, c = [], head_width
        for _ in range(sr_stages):
            stages += [nn.ConvTranspose2d(c, c // 2, 2, stride=2), DoubleConv(c // 2, c // 2)]
            c //= 2
        self.super_resolve = nn.Sequential(*stages)
        self.render = (nn.Sequential(nn.Conv2d(c, head_hidden, 1), nn.ReLU(inplace=True))
                       if head_hidden else nn.Identity())
        shuffle = UPSAMPLING >> sr_stages
        self.head = nn.Conv2d(head_hidden or c, shuffle * shuffle, 1)
        self.shuffle = nn.PixelShuffle(shuffle)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottom(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.shuffle(self.head(self.render(self.super_resolve(d1))))


class LocalizationUNet(UNet):
    """The U-Net body with a localization head (lib/model/metadata.ts, kind "localization"): one 1x1 conv to 5*g*g
    channels per camera pixel, raw: for each of the g x g detection cells of the pixel, a detection logit, x and y
    offsets (tanh, cells from the cell's centre) and x and y uncertainties (sigmoid); channel k*g*g + i*g + j holds
    quantity k of cell (i, j), the order of PixelShuffle's input. smlm-rt renders each detection at its sub-pixel
    position on the 12.5 nm grid, so an emitter's mass lands where it is instead of where a linear 8x8 pixel-shuffle
    head spreads it. Why g > 1: a cell holds at most one detection (p <= 1), and along a densely labelled filament two
    emitters share a 100 nm pixel often enough to lose a quarter of the count; 50 nm cells (g = 2) lose far fewer."""

    CHANNELS = ("p", "dx", "dy", "sx", "sy")

    def __init__(self, widths=(64, 128, 256), head_width=64, head_hidden=0, grid=1):
        super().__init__(widths=widths, head_width=head_width, head_hidden=head_hidden)
        self.grid = grid
        cells = grid * grid
        self.head = nn.Conv2d(head_hidden or head_width, len(self.CHANNELS) * cells, 1)
        with torch.no_grad():
            self.head.bias[:cells] = -4.0  # start near p = 0.02 per cell, about the density of a busy frame
        self.shuffle = nn.Identity()


ARCHITECTURES = {"deepstorm": DeepSTORM, "unet": UNet, "unet-loc": LocalizationUNet}


def gmac_per_frame(model, size=64):
    """Multiply-accumulates of one size x size frame, counted from the convolutions' output shapes (BN, ReLU,
    pooling and copies are not counted)."""
    total = [0]

    def conv_hook(m, _inp, out):
        total[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def convt_hook(m, inp, _out):
        # Each input pixel scatters into k*k outputs of out_channels each.
        total[0] += inp[0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1]

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.ConvTranspose2d):
            hooks.append(m.register_forward_hook(convt_hook))
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, size, size, device=device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0] / 1e9
