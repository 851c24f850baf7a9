"""What every training target shares: the pool of inputs as the model takes them, the fp32 task's feeds, and
an ONNX Runtime session on the teacher."""

from __future__ import annotations

import numpy as np


def nchw(card) -> bool:
    """Whether the card's model takes channels first."""
    return card.input.layout == "NCHW"


def image_inputs(pool: np.ndarray, card) -> np.ndarray:
    """uint8 pool images as the model takes them (the card's layout, scale, mean and std), float32."""
    from edgevid.vision.image import image_tensor

    return np.concatenate([image_tensor(np.ascontiguousarray(img), card.input, nchw(card)) for img in pool])


def map_loss(out, y):
    """Binary cross-entropy plus (1 - soft IoU) of a student's probability map ``out`` against the teacher's
    ``y`` (torch tensors)."""
    import torch

    out = out.clamp(1e-6, 1 - 1e-6)
    # BCE alone is ruled by the background; the soft-IoU term weighs the subject the way the metric does.
    # Its minimum is a sharpened map rather than the teacher's, yet it scored higher than BCE alone
    # (0.866 against 0.857 at twice the steps; docs/quantize.md lists what else was tried)
    soft_iou = (out * y).sum() / (out + y - out * y).sum().clamp_min(1.0)
    return torch.nn.functional.binary_cross_entropy(out, y) + (1.0 - soft_iou)


def task_feeds(job, frames):
    """What the fp32 task (every model on its native runtime) feeds model ``job.role`` on ``frames``, one feed
    at a time (a pool of float feeds would take GBs), each frame on its own: they are unrelated stills, and
    a tracking task would skip its detector on all but the first."""
    from edgevid.tasks.feeds import capture

    from .scoring import reference_task

    task = reference_task(job.task, job.options)
    try:
        for f in frames:
            yield from capture(task, [f])[job.role]
    finally:
        task.close()


def task_pool(job, frames) -> np.ndarray:
    """What the fp32 task feeds model ``job.role`` on ``frames``, back as the uint8 pixels each feed was made of
    (exact: a feed is whole pixels scaled), so that a pool takes a quarter of the memory of float feeds."""
    spec = job.card.input
    scale, mean, std = spec.scale, np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
    return np.concatenate([np.round((next(iter(f.values())) * std + mean) / scale).clip(0, 255).astype(np.uint8)
                           for f in task_feeds(job, frames)])


def session(src):
    """An ONNX Runtime CPU session on ``src`` and its input's name."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    return sess, sess.get_inputs()[0].name


class Pool:
    """What targets whose examples are the rows of ``self.pool`` share: size, first rows, random batches, and
    batches as they are, and the latency input (a target that flips its inputs or sizes them overrides
    :meth:`batch` or :meth:`latency_input`)."""

    #: :meth:`batch` gives ``inputs(idx)`` as they are, the same at every step (a target that flips them does not)
    fixed_inputs = True

    def __len__(self) -> int:
        return len(self.pool)

    def head(self, n: int) -> range:
        """The first ``n`` pool rows (what pruning ranks channels on and the refit solves on)."""
        return range(min(n, len(self.pool)))

    def draw(self, rng, batch: int) -> np.ndarray:
        """A random batch of pool indices."""
        return np.sort(rng.choice(len(self.pool), batch, replace=False))

    def batch(self, idx, rng):
        """(inputs, targets) for ``idx``, unflipped."""
        import torch

        return torch.from_numpy(self.inputs(idx)), self.targets(idx)

    def trunk_out(self, trunk) -> list[tuple[int, int, int]]:
        """The (channels, height, width) of each output ``trunk`` (a teacher's first layers, put in eval mode)
        makes of the first pool input: what a student's own layers go on from."""
        import torch

        from .students import as_maps

        with torch.no_grad():
            y = trunk.eval()(torch.from_numpy(self.inputs([0])))
        return [tuple(t.shape[1:]) for t in as_maps(y)]

    @staticmethod
    def trunk_ends(trunk: str | tuple[str, ...]) -> list[str]:
        """The tensors a student's trunk is cut to, given the recipe's ``trunk``: those tensors."""
        return [trunk] if isinstance(trunk, str) else list(trunk)

    @staticmethod
    def output_agreement(job, src, candidate) -> dict[str, float]:
        """Agreement of outputs the task's metric does not read, candidate against ``src`` on the held-out
        frames, by name: none here."""
        return {}

    @staticmethod
    def latency_input(job, dynamic: bool, h: int, w: int) -> np.ndarray:
        """What the task fed the model on the first held-out frame."""
        return next(iter(job.heldout_feeds[0].values()))
