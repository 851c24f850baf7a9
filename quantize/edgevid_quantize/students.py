"""Student architectures for distillation: small, and built from ops every edge runtime runs fast."""

from __future__ import annotations

import torch
from torch import nn


def as_maps(y) -> list:
    """A model's output as a list of tensors: ONNX-converted modules return one tensor or a tuple of them."""
    return list(y) if isinstance(y, (tuple, list)) else [y]


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


class TinyRec(nn.Module):
    """A line reader: NCHW crop (height 48, any width that is a multiple of 8) in, per-step class
    probabilities out (N, W / 8, ``classes``), one step per 8 columns as PP-OCR's recogniser has.

    Separable convs bring height 48 to 3 (strides 2, 2, 2, 2x1) and width to an eighth; height is
    averaged away, then two separable 1x5 convs along the line (residual) give each step the context of
    its neighbours, about three characters either side; a 1x1 conv makes the classes.
    """

    def __init__(self, classes: int, width: int = 32) -> None:
        super().__init__()
        w = [width, width * 3 // 2, width * 2, width * 3, width * 4]
        self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.Hardswish())
        self.down = nn.Sequential(_block(w[0], w[1], 2), _block(w[1], w[2], 2), _block(w[2], w[3], (2, 1)),
                                  _block(w[3], w[4], 1))
        self.context = nn.ModuleList([nn.Sequential(
            nn.Conv2d(w[4], w[4], (1, 5), 1, (0, 2), groups=w[4], bias=False), nn.BatchNorm2d(w[4]), nn.Hardswish(),
            nn.Conv2d(w[4], w[4], 1, bias=False), nn.BatchNorm2d(w[4]), nn.Hardswish()) for _ in range(2)])
        self.head = nn.Conv2d(w[4], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, 48, W) in [-1, 1] -> (N, W / 8, classes), each step summing to 1."""
        y = self.down(self.stem(x)).mean(2, keepdim=True)
        for block in self.context:
            y = y + block(y)
        return torch.softmax(self.head(y)[:, :, 0].transpose(1, 2), -1)


class _OnTrunk(nn.Module):
    """A student whose ``trunk`` (if not None) is its teacher's own layers, frozen: in training mode only the
    student's own layers train, and the trunk's batch norms keep the teacher's statistics."""

    def train(self, mode: bool = True):
        """Training mode for the student's own layers only."""
        super().train(mode)
        if getattr(self, "trunk", None) is not None:  # a module attribute: a class default would shadow it
            self.trunk.eval()
        return self

    def forward(self, x: torch.Tensor):
        """The model's input -> the student's outputs: its own layers on what the trunk gives."""
        return self.from_trunk(self.trunk(x))


class TrunkCls(_OnTrunk):
    """An image classifier that starts as its teacher does: NCHW crop in, class probabilities out (N, ``classes``).

    ``trunk`` is the teacher's own first layers, with its weights, frozen (batch norms included); a small head of
    the student's own follows: a 1x1 conv to ``width`` channels and one separable block halving the height, then
    global average pooling and a 1x1 conv to the classes. DistilBERT's student likewise starts from its teacher's
    layers: students trained from scratch on unlabeled crops of random strings did not carry over to real words.
    """

    def __init__(self, trunk: nn.Module, channels: int, classes: int, width: int = 64) -> None:
        super().__init__()
        self.trunk = trunk.requires_grad_(False)
        self.expand = nn.Sequential(nn.Conv2d(channels, width, 1, bias=False), nn.BatchNorm2d(width), nn.Hardswish())
        self.block = _block(width, width, (2, 1))
        self.head = nn.Conv2d(width, classes, 1)

    def from_trunk(self, got) -> torch.Tensor:
        """The trunk's output for (N, 3, H, W) crops -> (N, classes), each row summing to 1."""
        y = self.block(self.expand(as_maps(got)[0])).mean((2, 3), keepdim=True)
        return torch.softmax(self.head(y).flatten(1), -1)


class TinyDet(_OnTrunk):
    """A single-class SSD detector with MediaPipe's output contract: image in (NHWC, or NCHW with ``nchw``),
    per-anchor regressors (N, A, ``values``) and score logits (N, A, 1) out, in that order or scores first
    with ``scores_first``, anchors in the teacher's order (feature map by feature map, cell by cell).

    ``layout`` lists (stride, anchors per cell) of each feature map. Separable convs go down to the
    coarsest stride (at least 16), two at each stride past 4; a top-down path (upsample, add a 1x1 lateral) carries that
    context back to the finer maps, and 1x1 heads make each map's anchors.

    With ``trunk``, the encoder starts from the teacher's own first layers, frozen (batch norms included), which
    take the model's input as it comes and give NCHW maps of ``trunk_out`` = (channels, stride), or a list of
    them, one per map it gives, in its output order, at consecutive strides; the student's own layers go on
    from the coarsest. Feature maps finer than the trunk's finest are that map, upsampled.
    """

    def __init__(self, size: int, layout, values: int, width: int = 16, scores_first: bool = False,
                 nchw: bool = False, trunk: nn.Module | None = None,
                 trunk_out: tuple[int, int] | list[tuple[int, int]] = (0, 2)) -> None:
        super().__init__()
        self.layout, self.values, self.nchw, self.scores_first = tuple(layout), values, nchw, scores_first
        self.reg_scale = size / 8  # regressors are input pixels (a face box is 10-100): the head starts near 1
        # log2 of the coarsest stride, and at least 16: BlazeFace full-range's one stride-4 map needs the
        # context of a coarser one (encoding to stride 4 only read 0.900 F1 of fp32)
        deepest = max(16, *(s for s, _ in layout)).bit_length() - 1
        w = [int(width * k) for k in (1, 1.5, 2, 3, 4, 5, 6)[:deepest]]
        out_levels = sorted({s for s, _ in layout})
        self.levels = [s.bit_length() - 2 for s in out_levels]  # index into the encoder's maps (stride 2 is 0)
        # start: the index of the first map the student's layers see; own: of the first they make
        self.trunk, self.start, own, self.order = None, 0, 1, []
        if trunk is None:
            self.stem = nn.Sequential(nn.Conv2d(3, w[0], 3, 2, 1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU())
        else:
            maps = [trunk_out] if isinstance(trunk_out, tuple) else list(trunk_out)
            self.order = sorted(range(len(maps)), key=lambda k: maps[k][1])  # finest first
            strides = [maps[k][1] for k in self.order]
            if any(b != 2 * a for a, b in zip(strides, strides[1:])):
                raise ValueError(f"the trunk's maps must be at consecutive strides, not {strides}")
            self.trunk, self.start = trunk.requires_grad_(False), strides[0].bit_length() - 2
            own = self.start + len(maps)
            if own > deepest:
                raise ValueError(f"the trunk ends at stride {strides[-1]}, past the coarsest feature map's")
            for k, i in zip(self.order, range(self.start, own)):
                w[i] = maps[k][0]
        self.down = nn.ModuleList(
            nn.Sequential(_block(w[i], w[i + 1], 2), *([_block(w[i + 1], w[i + 1], 1)] if i >= 1 else []))
            for i in range(own - 1, deepest - 1))
        lat = w[self.levels[0]]
        self.lat0 = max(self.levels[0], self.start)  # the first map with a lateral: maps finer than a trunk's have none
        self.lateral = nn.ModuleList(nn.Conv2d(w[i], lat, 1) for i in range(self.lat0, deepest))
        self.refine = nn.ModuleList(_block(lat, lat, 1) for _ in out_levels)
        per = {s: sum(a for t, a in layout if t == s) for s in out_levels}
        self.reg = nn.ModuleList(nn.Conv2d(lat, per[s] * values, 1) for s in out_levels)
        self.cls = nn.ModuleList(nn.Conv2d(lat, per[s], 1) for s in out_levels)
        self.first = self.levels[0]

    def forward(self, x: torch.Tensor):
        """Image in the model's input scale -> (regressors, score logits), or (score logits, regressors)."""
        if self.trunk is not None:
            return self.from_trunk(self.trunk(x))
        return self._rest([self.stem(x if self.nchw else x.permute(0, 3, 1, 2))])

    def from_trunk(self, got):
        """What the trunk gives for an image (a map, or its maps in output order) -> the model's outputs."""
        got = as_maps(got)
        return self._rest([None] * self.start + [got[k] for k in self.order])  # maps before the trunk's: unread

    def _rest(self, feats: list):
        """The encoder's maps so far, by stride (finest first) -> the model's outputs."""
        for block in self.down:
            feats.append(block(feats[-1]))
        # top-down, coarsest first: each finer map adds the coarser map's context
        maps, y = {}, None
        for i in range(len(feats) - 1, self.first - 1, -1):
            if i < self.lat0:
                y = nn.functional.interpolate(y, scale_factor=2, mode="nearest")
            else:
                lat = self.lateral[i - self.lat0](feats[i])
                y = lat if y is None else nn.functional.interpolate(y, size=lat.shape[-2:], mode="nearest") + lat
            maps[i] = y
        regs, scores = [], []
        for k, level in enumerate(self.levels):
            f = self.refine[k](maps[level])
            n = f.shape[0]
            regs.append(self.reg[k](f).permute(0, 2, 3, 1).reshape(n, -1, self.values) * self.reg_scale)
            scores.append(self.cls[k](f).permute(0, 2, 3, 1).reshape(n, -1, 1))
        reg, score = torch.cat(regs, 1), torch.cat(scores, 1)
        return (score, reg) if self.scores_first else (reg, score)


class TrunkMask(_OnTrunk):
    """A landmark model that keeps its teacher's layers for every output but its segmentation mask, and learns
    that mask with a small head of its own. BlazePose's landmark model makes its mask with 8 channels at the
    input's full 256x256, half of its time on ONNX Runtime, though the pose task never reads it.

    ``trunk`` is the teacher's graph cut to give its other outputs, in output order, and then the taps the head
    reads (NCHW, coarsest first, ``channels`` deep each). The head works as a small top-down path: a separable
    block on the coarsest tap, and at each finer one, the upsampled map plus a 1x1 lateral, refined by a
    separable block; a 1x1 conv makes mask logits, upsampled to ``size`` and put at output index ``at`` (NHWC,
    or NCHW with ``nchw``)."""

    def __init__(self, trunk: nn.Module, channels: list[int], at: int, size: tuple[int, int], width: int = 16,
                 nchw: bool = False) -> None:
        super().__init__()
        self.trunk, self.at, self.size, self.nchw = trunk.requires_grad_(False), at, tuple(size), nchw
        self.taps = len(channels)
        self.top = _block(channels[0], width, 1)
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in channels[1:])
        self.refine = nn.ModuleList(_block(width, width, 1) for _ in channels[1:])
        self.head = nn.Conv2d(width, 1, 1)

    def from_trunk(self, got):
        """What the trunk gives for a crop -> the teacher's outputs, the student's own mask logits among them."""
        got = list(got)
        outs, taps = got[:-self.taps], got[-self.taps:]
        y = self.top(taps[0])
        for lateral, refine, tap in zip(self.lateral, self.refine, taps[1:]):
            y = refine(nn.functional.interpolate(y, size=tap.shape[-2:], mode="bilinear", align_corners=False)
                       + lateral(tap))
        mask = nn.functional.interpolate(self.head(y), size=self.size, mode="bilinear", align_corners=False)
        outs.insert(self.at, mask if self.nchw else mask.permute(0, 2, 3, 1))
        return tuple(outs)
