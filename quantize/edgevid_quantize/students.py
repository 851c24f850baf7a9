"""Student architectures for distillation: small, and built from ops every edge runtime runs fast."""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1 (MobileNet's separable convolution), batch-normed, hard-swish."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.Hardswish(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.Hardswish(),
    )


class TinySeg(nn.Module):
    """A U-shaped dense predictor: float image in, a probability map of the same size out, both NHWC, or
    both NCHW with ``nchw`` (the layout of the teacher it stands in for).

    Encoder strides 2-4-8-16-32 with widths ``w, 1.5w, 2w, 3w, 4w``; the decoder upsamples and adds the
    skip at each level, and a transposed convolution restores full resolution. With ``w = 16`` it has
    about 1/3 of selfie segmentation's parameters and a fifth of its multiply-adds.
    """

    def __init__(self, width: int = 16, nchw: bool = False) -> None:
        super().__init__()
        self.nchw = nchw
        w = [width, width * 3 // 2, width * 2, width * 3, width * 4]
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.Hardswish())
        self.down = nn.ModuleList([_block(w[i], w[i + 1], 2) for i in range(4)])
        self.lateral = nn.ModuleList([nn.Conv2d(w[i], w[0], 1) for i in range(4)])
        self.top = nn.Conv2d(w[4], w[0], 1)
        self.refine = _block(w[0], w[0], 1)
        self.head = nn.ConvTranspose2d(w[0], 1, 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, H, W, 3) in the model's input scale -> (N, H, W, 1) probability; (N, 3, H, W) -> (N, 1, H, W)
        with ``nchw``. H and W must be multiples of 32."""
        feats = [self.stem(x if self.nchw else x.permute(0, 3, 1, 2))]
        for block in self.down:
            feats.append(block(feats[-1]))
        y = self.top(feats[-1])
        for i in range(3, -1, -1):
            skip = feats[i]
            y = nn.functional.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False) + self.lateral[i](skip)
        out = torch.sigmoid(self.head(self.refine(y)))
        return out if self.nchw else out.permute(0, 2, 3, 1)
