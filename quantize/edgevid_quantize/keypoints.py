"""A landmark regressor's training target (BlazePose's landmark model): what the fp32 task feeds it (the rotated
person crop) on unlabeled frames, and the teacher's keypoints, their scores, its heatmaps, mask and world
points for each."""

from __future__ import annotations

import numpy as np

from .pools import Pool, image_inputs, map_loss, session, task_feeds, task_pool

#: output role by element count of one example (the plugin finds them by shape too: :mod:`edgevid_pose.landmarks`)
_ROLES = {195: "points", 1: "flag", 256 * 256: "mask", 64 * 64 * 39: "heatmap", 117: "world"}


def _roles(sess) -> list[str]:
    """The role of each output of an ONNX Runtime session on a landmark model, in output order."""
    return [_ROLES[int(np.prod([d for d in o.shape if isinstance(d, int)]))] for o in sess.get_outputs()]


class Keypoints(Pool):
    """The crops the fp32 pose task feeds its landmark model on unlabeled frames, and every output the
    teacher gives for each. No flips: a mirrored person swaps left and right keypoints."""

    def __init__(self, job, src, frames: list[np.ndarray], h: int, w: int, recipe=None) -> None:
        self.card = job.card
        self.pool = task_pool(job, frames)
        sess, name = session(src)
        self.outputs = [o.name for o in sess.get_outputs()]
        self.role = _roles(sess)
        got = [sess.run(None, {name: self.inputs([i])}) for i in range(len(self.pool))]
        # float16: half the memory (the heatmap is 160k values a crop); crop pixels and logits keep 3-4 digits
        self.y = [np.concatenate([g[k] for g in got]).astype(np.float16) for k in range(len(self.outputs))]

    def inputs(self, idx) -> np.ndarray:
        """Pool crops ``idx`` as the model takes them."""
        return image_inputs(self.pool[np.asarray(idx)], self.card)

    def targets(self, idx):
        """The teacher's outputs for crops ``idx``, as torch tensors in output order."""
        import torch

        idx = np.asarray(idx)
        return tuple(torch.from_numpy(y[idx].astype(np.float32)) for y in self.y)

    def loss(self, out, y):
        """What the pose task reads, as the task reads it: the 39 keypoints' x and y (mean absolute error in crop
        pixels / 8), their visibility and presence (cross-entropy on the teacher's probabilities), the heatmaps'
        probabilities (cross-entropy, each cell weighted up where the teacher is confident: the task refines
        a keypoint by the centroid of its heatmap's sigmoid), and the pose-presence score; depth, mask (BCE
        plus soft IoU, as for a dense map) and world points weigh less, as the task does not read them but a
        user of the variant may."""
        import torch

        bce = torch.nn.functional.binary_cross_entropy_with_logits
        parts = dict(zip(self.role, zip(out, y)))
        s, t = (v.reshape(-1, 39, 5) for v in parts["points"])
        total = (s[..., :2] - t[..., :2]).abs().mean() / 8 + 0.25 * (s[..., 2] - t[..., 2]).abs().mean() / 8
        total = total + bce(s[..., 3:], torch.sigmoid(t[..., 3:]))
        hs, ht = parts["heatmap"]
        p = torch.sigmoid(ht)
        w = 1 + 20 * p
        total = total + (bce(hs, p, reduction="none") * w).sum() / w.sum()
        fs, ft = parts["flag"]
        total = total + torch.nn.functional.binary_cross_entropy(fs.clamp(1e-6, 1 - 1e-6), ft.clamp(0, 1))
        if "mask" in parts:
            ms, mt = parts["mask"]
            total = total + 0.25 * map_loss(torch.sigmoid(ms), torch.sigmoid(mt))
        if "world" in parts:
            ws, wt = parts["world"]
            total = total + 2.5 * (ws - wt).abs().mean()  # metres: 4 cm weighs as 0.8 crop pixels of x and y
        return total

    ranking_loss = loss

    def trunk_ends(self, trunk: str | tuple[str, ...]) -> list[str]:
        """What a student keeps of its teacher: every output but the mask, in output order, and then the
        tensor(s) ``trunk``, coarsest first, which its own mask head reads."""
        return [o for o, r in zip(self.outputs, self.role) if r != "mask"] + Pool.trunk_ends(trunk)

    def student(self, width: int, trunk=None):
        """A :class:`~.students.TrunkMask` on ``trunk`` (cut to :meth:`trunk_ends`), its mask head ``width``
        wide."""
        from .students import TrunkMask

        if trunk is None or "mask" not in self.role:
            raise ValueError("a landmark model's student keeps its teacher's layers for all but the mask: "
                             "the recipe names the tensors its mask head reads (trunk), and the model has a mask")
        at = self.role.index("mask")
        taps = [c for c, _, _ in self.trunk_out(trunk)[len(self.role) - 1:]]
        size = self.y[at].shape[1:3] if self.y[at].shape[-1] == 1 else self.y[at].shape[2:4]
        return TrunkMask(trunk, taps, at, size, width, nchw=self.y[at].shape[-1] != 1)

    @staticmethod
    def output_agreement(job, src, candidate) -> dict[str, float]:
        """The candidate's segmentation mask against ``src``'s on the crops the fp32 task cuts from the
        held-out frames: mean IoU of the two at probability 0.5 (the task's metric reads keypoints only)."""
        ref, ref_in = session(src)
        roles = _roles(ref)
        if "mask" not in roles:
            return {}
        got, got_in = session(candidate)
        k, ious = roles.index("mask"), []
        for feed in task_feeds(job, job.heldout):
            x = next(iter(feed.values()))
            a, b = ref.run(None, {ref_in: x})[k] > 0, got.run(None, {got_in: x})[k] > 0
            union = (a | b).sum()
            ious.append((a & b).sum() / union if union else 1.0)
        return {"mask_iou": round(float(np.mean(ious)), 4)} if ious else {}

    @staticmethod
    def free_axes(dynamic: bool) -> None:
        """None: a fixed-size model, run one crop at a time."""
        return None
