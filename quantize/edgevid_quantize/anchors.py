"""An SSD detector's training target (MediaPipe's BlazeFace, BlazePose's detector): per-anchor scores and
box-and-keypoint regression, learned from what the fp32 task feeds the detector on unlabeled frames."""

from __future__ import annotations

import numpy as np

from .pools import Pool, image_inputs, nchw, session, task_pool


class Anchors(Pool):
    """What the fp32 task feeds an SSD detector (MediaPipe's BlazeFace, BlazePose's detector) on unlabeled
    frames, and the teacher's per-anchor score and box-and-keypoint regression for each. No flips: a
    mirrored face swaps its eyes' and ears' keypoints."""

    def __init__(self, job, src, frames: list[np.ndarray], h: int, w: int, recipe=None) -> None:
        self.card = job.card
        # (stride, anchors per cell) per feature map, which the student emits and the peak term pools over
        self.layout, self.peak_weight, self.score_weight = recipe.anchors, recipe.peak_weight, recipe.score_weight
        self.pool = task_pool(job, frames)
        sess, name = session(src)
        outs = sess.get_outputs()
        self.outputs = [o.name for o in outs]
        # which output is which by its width (names differ between the .tflite and its conversions)
        self.score_at = next(i for i, o in enumerate(outs) if o.shape[-1] == 1)
        self.reg_at = 1 - self.score_at
        got = [sess.run(None, {name: self.inputs([i])}) for i in range(len(self.pool))]
        # float16: half the memory (the full-range model's 2304 x 16 regressors on five feeds a frame); a
        # regressor is pixels of the input, within 0.1 of them
        self.reg = np.concatenate([g.pop(self.reg_at).astype(np.float16) for g in got])
        logits = np.concatenate([g[0][..., 0] for g in got])  # the scores, all that is left
        self.prob = (0.5 * (1 + np.tanh(0.5 * np.clip(logits, -100, 100)))).astype(np.float32)  # MediaPipe's clip
        self.size = job.card.input.size[0]
        self.anchors = self.reg.shape[1]
        self.keypoints = (self.reg.shape[2] - 4) // 2

    def inputs(self, idx) -> np.ndarray:
        """Pool inputs ``idx`` as the model takes them."""
        return image_inputs(self.pool[np.asarray(idx)], self.card)

    def targets(self, idx):
        """The teacher's regressors and score probabilities for inputs ``idx``, as torch tensors."""
        import torch

        idx = np.asarray(idx)
        return torch.from_numpy(self.reg[idx].astype(np.float32)), torch.from_numpy(self.prob[idx])

    def loss(self, out, y):
        """Binary cross-entropy of the student's scores against the teacher's probabilities, anchors weighted
        up where the teacher or the student sees a subject (times the recipe's ``score_weight``), the same for
        the highest score around each anchor (times its ``peak_weight``), plus the mean absolute regression
        error (input pixels / 8) on the anchors in proportion to the teacher's score: the decoder reads a box
        only where the score is high, so elsewhere the regressors are noise to ignore."""
        import torch

        reg_t, p_t = y
        logits = out[self.score_at][..., 0]
        # ~10 of 896 anchors fire on a face: unweighted, the empty background rules the loss. Anchors where
        # the student fires weigh as much: its false alarms were on parts of faces cut by a tile's border
        weight = 1 + 20 * torch.maximum(p_t, torch.sigmoid(logits.detach()))
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, p_t, reduction="none")
        cls = (self.score_weight * bce * weight).sum() / weight.sum()
        err = (out[self.reg_at] - reg_t).abs().mean(-1)
        # the decoder keeps an anchor whose score clears a fixed threshold (0.5-0.6): a student that cannot
        # place a face's peak on one anchor as sharply as the teacher spreads it over its neighbours, each
        # under the threshold (0.3-0.5 where the teacher says 0.9). The peak term asks only that the
        # highest score near each anchor match the teacher's
        reg = (p_t * err).sum() / p_t.sum().clamp_min(1.0) / 8
        if not self.peak_weight:
            return cls + reg
        peak_s, peak_t = self._peaks(torch.sigmoid(logits)), self._peaks(p_t)
        w_peak = 1 + 20 * peak_t
        peak = (torch.nn.functional.binary_cross_entropy(peak_s.clamp(1e-6, 1 - 1e-6), peak_t, reduction="none")
                * w_peak).sum() / w_peak.sum()
        return cls + self.peak_weight * peak + reg

    def _peaks(self, p):
        """Per feature map, the highest of ``p`` (N, anchors) over a cell's anchors and its 3x3 neighbours."""
        import torch

        out, at = [], 0
        for stride, per in self.layout:
            n = self.size // stride
            cells = p[:, at:at + n * n * per].reshape(-1, n, n, per).amax(-1)
            out.append(torch.nn.functional.max_pool2d(cells[:, None], 3, 1, 1).flatten(1))
            at += n * n * per
        return torch.cat(out, 1)

    ranking_loss = loss

    def student(self, width: int, trunk=None):
        """A :class:`~.students.TinyDet` of ``width`` emitting the teacher's anchors in its output order; on
        ``trunk`` (the teacher's first layers, one NCHW map out or several at consecutive strides), if given."""
        from .students import TinyDet

        out = {}
        if trunk is not None:
            out = {"trunk": trunk, "trunk_out": [(c, self.size // cols) for c, _, cols in self.trunk_out(trunk)]}
        return TinyDet(self.size, self.layout, 4 + 2 * self.keypoints, width, scores_first=self.score_at == 0,
                       nchw=nchw(self.card), **out)

    @staticmethod
    def free_axes(dynamic: bool) -> None:
        """None: a fixed-size detector, run one input at a time."""
        return None
