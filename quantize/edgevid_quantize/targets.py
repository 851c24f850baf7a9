"""What a trained variant learns from its teacher, and on what: one class per kind of model output.

* :class:`Maps` — a dense probability map (selfie segmentation, PP-OCRv4's text detector): unlabeled frames
  stretched to the training size, the teacher's map for each, binary cross-entropy plus soft IoU.
* :class:`Sequences` — per-step class distributions (PP-OCRv4's CTC recogniser): the line crops the fp32
  task itself cuts from unlabeled frames, the teacher's few most likely classes per step, soft
  cross-entropy.
* :class:`Anchors` (:mod:`.anchors`) — an SSD detector's per-anchor score and box-and-keypoint regression (BlazeFace,
  BlazePose's detector): what the fp32 task feeds it on unlabeled frames, weighted cross-entropy on the
  scores plus score-weighted regression error.
* :class:`Classes` — an image classifier's class probabilities (PP-OCR's text direction classifier): what
  the fp32 task feeds it on unlabeled line crops, soft cross-entropy.
* :class:`Keypoints` (:mod:`.keypoints`) — a landmark regressor's outputs (BlazePose's landmark model): the
  person crops the fp32 task feeds it on unlabeled frames, keypoints by absolute error, their scores and
  heatmaps by cross-entropy.

Each hands :mod:`.train` batches, a loss, and the export's names and free axes; the training loop,
pruning, caching and measuring are shared.
"""

from __future__ import annotations

import math

import numpy as np

from .anchors import Anchors
from .keypoints import Keypoints
from .pools import Pool, image_inputs, map_loss, nchw, session, task_feeds

#: a crop's padded width is a multiple of this (and at least the recogniser's 320): crops of one width batch
#: together with little padding
_WIDTH_STEP = 64
#: classes kept per step of the teacher's distribution: past the fourth, the mass left was below 1e-3
_TOP_K = 4


class Maps(Pool):
    """The teacher's dense map for each unlabeled frame, stretched to ``h x w``; with the recipe's ``flips``,
    half the batches mirrored, frames and maps alike."""

    outputs = ["map"]

    def __init__(self, job, src, frames: list[np.ndarray], h: int, w: int, recipe=None) -> None:
        from .scoring import stretched

        self.card = job.card
        self.pool = stretched(job.card, frames, h, w)  # uint8: a quarter of the memory of float
        sess, name = session(src)
        # float16: half the memory
        self.y = np.concatenate([sess.run(None, {name: self.inputs([i])})[0].astype(np.float16)
                                 for i in range(len(self.pool))])
        self.flips = bool(recipe and recipe.flips)
        self.fixed_inputs = not self.flips
        self.width_axis = 3 if nchw(job.card) else 2  # of the input and the map alike

    def inputs(self, idx) -> np.ndarray:
        """Pool images ``idx`` as the model takes them."""
        return image_inputs(self.pool[np.asarray(idx)], self.card)

    def targets(self, idx):
        """The teacher's maps for pool images ``idx``, as a torch tensor in [0, 1]."""
        import torch

        return torch.from_numpy(self.y[np.asarray(idx)].astype(np.float32)).clamp(0, 1)

    def batch(self, idx, rng):
        """(inputs, targets) for ``idx``; with ``flips``, both mirrored half the time."""
        import torch

        x, y = torch.from_numpy(self.inputs(idx)), self.targets(idx)
        if self.flips and rng.random() < 0.5:
            x, y = x.flip(self.width_axis), y.flip(self.width_axis)
        return x, y

    @staticmethod
    def ranking_loss(out, y):
        """Binary cross-entropy: what the pruning's Taylor importance differentiates."""
        import torch

        return torch.nn.functional.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), y)

    @staticmethod
    def loss(out, y):
        """Binary cross-entropy plus (1 - soft IoU) of the student's map against the teacher's."""
        return map_loss(out, y)

    def student(self, width: int):
        """A :class:`~.students.TinySeg` of ``width`` in the teacher's layout."""
        from .students import TinySeg

        return TinySeg(width, nchw=nchw(self.card))

    @staticmethod
    def latency_input(job, dynamic: bool, h: int, w: int) -> np.ndarray:
        """The first held-out frame as the model takes it: at the size the task runs it at (a dynamic-size
        model's own, to multiples of its step), or at the model's fixed size."""
        from .scoring import stretched

        if dynamic:
            step = job.card.input.multiple_of or 1
            h, w = (max(step, round(d / step) * step) for d in job.heldout[0].shape[:2])
        return image_inputs(stretched(job.card, job.heldout[:1], h, w), job.card)

    def free_axes(self, dynamic: bool) -> dict | None:
        """The export's free axes: height and width where the model's size is dynamic."""
        if not dynamic:
            return None
        h, w = (2, 3) if nchw(self.card) else (1, 2)
        return {k: {h: "height", w: "width"} for k in ("input", *self.outputs)}

class Sequences:
    """The line crops the fp32 task cuts from unlabeled frames, and the teacher's per-step distributions."""

    outputs = ["probs"]

    def __init__(self, job, src, frames: list[np.ndarray], h: int, w: int, recipe=None) -> None:
        self.card = job.card
        feeds = task_feeds(job, frames)
        # each crop back to the uint8 pixels it was made of (exact: (p / 255 - 0.5) / 0.5 of whole p), its
        # right padding (exact zeros, which no whole pixel gives) cut off
        self.crops: list[np.ndarray] = []
        for feed in feeds:
            for x in next(iter(feed.values())):
                used = np.flatnonzero((x != 0).any(axis=(0, 1)))
                if len(used):
                    self.crops.append(np.round((x[:, :, :used[-1] + 1] + 1) * 127.5).astype(np.uint8))
        self.padded = np.array([max(320, math.ceil(c.shape[2] / _WIDTH_STEP) * _WIDTH_STEP) for c in self.crops])
        sess, name = session(src)
        self.top_p, self.top_i = [], []
        for i in range(len(self.crops)):
            p = sess.run(None, {name: self.inputs([i])})[0][0]
            self.classes = p.shape[-1]
            top = np.argsort(-p, axis=-1)[:, :_TOP_K]
            probs = np.take_along_axis(p, top, -1)
            self.top_p.append((probs / probs.sum(-1, keepdims=True)).astype(np.float32))
            self.top_i.append(top.astype(np.int64))

    def __len__(self) -> int:
        return len(self.crops)

    def inputs(self, idx) -> np.ndarray:
        """Crops ``idx`` (all of one padded width) as the recogniser takes them: [-1, 1], zeros on the right."""
        idx = list(idx)
        out = np.zeros((len(idx), 3, self.crops[idx[0]].shape[1], int(self.padded[idx].max())), np.float32)
        for k, i in enumerate(idx):
            c = self.crops[i]
            out[k, :, :, :c.shape[2]] = c.astype(np.float32) * np.float32(2 / 255) - 1
        return out

    def head(self, n: int) -> np.ndarray:
        """The first ``n`` crops of the commonest padded width: one batch, one width."""
        widths, counts = np.unique(self.padded, return_counts=True)
        return np.flatnonzero(self.padded == widths[counts.argmax()])[:n]

    def draw(self, rng, batch: int) -> np.ndarray:
        """A random batch of crops of one padded width, the width picked in proportion to its crops."""
        width = self.padded[rng.integers(len(self.crops))]
        same = np.flatnonzero(self.padded == width)
        return np.sort(rng.choice(same, min(batch, len(same)), replace=False))

    def batch(self, idx, rng):
        """(inputs, (class indices, probabilities)) for crops ``idx``; no flips: text does not read mirrored."""
        import torch

        return (torch.from_numpy(self.inputs(idx)),
                (torch.from_numpy(np.stack([self.top_i[i] for i in idx])),
                 torch.from_numpy(np.stack([self.top_p[i] for i in idx]))))

    def targets(self, idx):
        """The teacher's top classes and their probabilities for crops ``idx``."""
        return self.batch(idx, None)[1]

    @staticmethod
    def loss(out, y):
        """Soft cross-entropy of the student's per-step distribution against the teacher's top classes."""
        top_i, top_p = y
        return -(top_p * out.gather(-1, top_i).clamp_min(1e-8).log()).sum(-1).mean()

    ranking_loss = loss

    def student(self, width: int):
        """A :class:`~.students.TinyRec` of ``width`` with the teacher's classes."""
        from .students import TinyRec

        return TinyRec(self.classes, width)

    @staticmethod
    def latency_input(job, dynamic: bool, h: int, w: int) -> np.ndarray:
        """One line crop as the task fed it on a held-out frame."""
        return next(iter(job.heldout_feeds[0].values()))[:1]

    #: a recogniser's one output is what the task reads
    output_agreement = staticmethod(Pool.output_agreement)

    def free_axes(self, dynamic: bool) -> dict:
        """Batch and width are free (the task batches lines of one width), and so the output's steps."""
        return {"input": {0: "batch", 3: "width"}, self.outputs[0]: {0: "batch", 1: "steps"}}

class Classes(Pool):
    """What the fp32 task feeds a classifier on unlabeled frames, and the teacher's class probabilities. No
    flips: a mirrored line is no line turned 180 degrees."""

    outputs = ["probs"]

    def __init__(self, job, src, frames: list[np.ndarray], h: int, w: int, recipe=None) -> None:
        self.card = job.card
        spec = job.card.input
        scale, mean, std = spec.scale, np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
        # back to the uint8 pixels each feed was made of (exact: whole pixels normalised), with the columns the
        # task padded (exact zeros, which no whole pixel normalises to) kept as a width, so they stay exact
        self.pool, self.width = [], []
        for feed in task_feeds(job, frames):
            x = next(iter(feed.values()))[0]
            used = np.flatnonzero((x != 0).any(axis=(0, 1)))
            self.width.append(int(used[-1]) + 1 if len(used) else 0)
            pixels = (x.transpose(1, 2, 0) * std + mean) / scale
            self.pool.append(np.round(pixels).clip(0, 255).astype(np.uint8))
        self.pool, self.width = np.stack(self.pool), np.asarray(self.width)
        sess, name = session(src)
        self.p = np.concatenate([sess.run(None, {name: self.inputs([i])})[0] for i in range(len(self.pool))])

    def inputs(self, idx) -> np.ndarray:
        """Pool inputs ``idx`` as the model takes them, zeros where the task padded."""
        idx = np.asarray(idx)
        x = image_inputs(self.pool[idx], self.card)
        for k, i in enumerate(idx):
            x[k, :, :, self.width[i]:] = 0
        return x

    def targets(self, idx):
        """The teacher's class probabilities for inputs ``idx``, as a torch tensor."""
        import torch

        return torch.from_numpy(self.p[np.asarray(idx)].astype(np.float32))

    @staticmethod
    def loss(out, y):
        """Soft cross-entropy of the student's class probabilities against the teacher's."""
        return -(y * out.clamp_min(1e-8).log()).sum(-1).mean()

    ranking_loss = loss

    def student(self, width: int, trunk=None):
        """A :class:`~.students.TrunkCls` on ``trunk`` (the teacher's first layers), its head ``width`` wide."""
        from .students import TrunkCls

        if trunk is None:
            raise ValueError("a classifier's student starts from its teacher's first layers: the recipe names a trunk")
        return TrunkCls(trunk, self.trunk_out(trunk)[0][0], self.p.shape[-1], width)

    def free_axes(self, dynamic: bool) -> dict:
        """The batch is free."""
        return {"input": {0: "batch"}, self.outputs[0]: {0: "batch"}}

#: Recipe.target -> what is learned
TARGETS = {"maps": Maps, "sequences": Sequences, "anchors": Anchors, "classes": Classes, "keypoints": Keypoints}
