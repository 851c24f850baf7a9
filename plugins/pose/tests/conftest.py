"""Fixtures for the pose tests: loaded tasks per backend, and the reference keypoints of the person photo.

Ground-truth methodology (see ``edgevid.testing.scenes_pose``): the untouched astronaut() portrait is
run once per backend with the detector (no tracking); its in-frame keypoints with visibility >= 0.5 are
the reference. A composed scene places the portrait by a known affine, so the reference keypoints
mapped through it are the expected keypoints there. That checks geometry and robustness of the
whole pipeline; the hand-marked face points in ``ASTRONAUT_FACE`` check absolute accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import edgevid

pytest.importorskip("cv2")
pytest.importorskip("skimage")

from edgevid.testing import scenes_pose  # noqa: E402

BACKENDS = ["tflite", "openvino"]


def load_pose(backend: str, **options):
    """The pose task on ``backend``, forced to f32 execution so backends are comparable."""
    return edgevid.load("pose", backend=backend, precision="f32", variant="fp32", **options)


@dataclass
class Reference:
    """Keypoints found on the untouched portrait: indices evaluated, their (x, y), and the normalising size."""

    index: np.ndarray
    xy: np.ndarray
    size: float  # longest side of the evaluated keypoints' box, in portrait pixels


def reference_of(task) -> Reference:
    """Run ``task`` (without tracking state) on the portrait and keep in-frame, visible keypoints."""
    task.reset()
    poses = task(scenes_pose.person())
    task.reset()
    assert len(poses) == 1, "BlazePose no longer finds the astronaut: the reference is gone"
    k = poses.keypoints[0]
    inside = (k[:, 0] >= 0) & (k[:, 0] < 512) & (k[:, 1] >= 0) & (k[:, 1] < 512)
    idx = np.flatnonzero(inside & (k[:, 2] >= 0.5))
    xy = k[idx, :2].astype(np.float64)
    return Reference(idx, xy, float(np.ptp(xy, axis=0).max()))


@pytest.fixture(scope="session")
def pose_loader():
    """``pose_loader(backend, **options)`` -> a loaded pose task in f32 (see :func:`load_pose`)."""
    return load_pose


@pytest.fixture(scope="session")
def pose_reference():
    """``pose_reference(task)`` -> the :class:`Reference` keypoints of the portrait for that task."""
    return reference_of


@pytest.fixture(scope="session", params=BACKENDS)
def pose_backend(request):
    """(backend name, single-frame pose task without tracking, its reference) for each backend."""
    task = load_pose(request.param, track=False)
    yield request.param, task, reference_of(task)
    task.close()


@pytest.fixture(scope="module", params=BACKENDS)
def tracker(request):
    """(tracking pose task, its reference) for each backend."""
    task = load_pose(request.param)
    yield task, reference_of(task)
    task.close()
