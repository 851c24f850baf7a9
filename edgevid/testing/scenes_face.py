"""Face test scenes with exact ground truth: real faces pasted at known places and scales onto real backgrounds.

The faces are the two in scikit-image's sample photos (``astronaut`` and ``camera``); each is pasted
with its surrounding context (hair, neck) so it looks like a face to a detector, scaled so that its
face box has a chosen width. The ground-truth box follows from the paste geometry exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: face name -> (face box x1,y1,x2,y2 in the sample image, context crop x1,y1,x2,y2 pasted with it)
FACES = {
    "astronaut": ((179, 82, 271, 175), (140, 30, 310, 240)),
    "camera": ((176, 120, 267, 211), (140, 70, 300, 260)),
}
#: backgrounds without faces (the cat in ``chelsea`` is left out on purpose: it is a face-like false positive)
BACKGROUNDS = ("coffee", "rocket", "brick", "grass", "immunohistochemistry")


@lru_cache(maxsize=16)
def sample(name: str) -> np.ndarray:
    """A scikit-image sample as uint8 BGR (OpenCV's order, what edgevid tasks take)."""
    import cv2
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)


def background(name: str, height: int, width: int) -> np.ndarray:
    """A real background photo resized (cover, centre-cropped) to ``height x width``."""
    import cv2

    img = sample(name)
    k = max(height / img.shape[0], width / img.shape[1])
    big = cv2.resize(img, (round(img.shape[1] * k), round(img.shape[0] * k)), interpolation=cv2.INTER_AREA)
    y0, x0 = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return np.ascontiguousarray(big[y0:y0 + height, x0:x0 + width])


@dataclass(frozen=True)
class Placement:
    """A face whose face box is ``width`` pixels wide, with its top-left corner at ``(x, y)``."""

    face: str
    x: int
    y: int
    width: int


@dataclass
class Scene:
    """One composed frame and its ground-truth face boxes (n, 4) xyxy in frame pixels."""

    image: np.ndarray
    boxes: np.ndarray
    name: str = ""


def paste_face(frame: np.ndarray, p: Placement, mirror: bool = False) -> list[float]:
    """Paste placement ``p``'s face (with context; mirrored left-right with ``mirror``) onto ``frame`` in
    place, clipped to it; returns the exact face box x1, y1, x2, y2 in frame pixels."""
    import cv2

    height, width = frame.shape[:2]
    (fx1, fy1, fx2, fy2), (cx1, cy1, cx2, cy2) = FACES[p.face]
    k = p.width / (fx2 - fx1)
    crop = sample(p.face)[cy1:cy2, cx1:cx2]
    if mirror:  # the face box mirrored within the context crop
        crop = crop[:, ::-1]
        fx1, fx2 = cx1 + cx2 - fx2, cx1 + cx2 - fx1
    crop = cv2.resize(crop, (round(crop.shape[1] * k), round(crop.shape[0] * k)), interpolation=cv2.INTER_AREA)
    # where the crop's top-left lands so that the face box's top-left is at (p.x, p.y)
    ox, oy = p.x - round((fx1 - cx1) * k), p.y - round((fy1 - cy1) * k)
    sx1, sy1 = max(0, -ox), max(0, -oy)
    dx1, dy1 = max(0, ox), max(0, oy)
    w = min(crop.shape[1] - sx1, width - dx1)
    h = min(crop.shape[0] - sy1, height - dy1)
    if w > 0 and h > 0:
        frame[dy1:dy1 + h, dx1:dx1 + w] = crop[sy1:sy1 + h, sx1:sx1 + w]
    fx, fy = ox + (fx1 - cx1) * k, oy + (fy1 - cy1) * k
    return [fx, fy, fx + (fx2 - fx1) * k, fy + (fy2 - fy1) * k]


def compose(bg: str, height: int, width: int, placements: list[Placement], name: str = "") -> Scene:
    """Paste each placement's face (with context) onto background ``bg``; boxes are exact."""
    frame = background(bg, height, width).copy()
    boxes = [paste_face(frame, p) for p in placements]
    return Scene(frame, np.array(boxes, np.float64).reshape(-1, 4), name)


def standard_set() -> list[Scene]:
    """Frames of 640x480 and other aspect ratios with one or two faces of 50-200 px: the main accuracy set.

    Each face and its pasted context stay inside their own half of the frame, so no paste covers another.
    """
    scenes = []
    sizes = [(480, 640), (720, 1280), (640, 480), (400, 900)]
    for i, (h, w) in enumerate(sizes):
        for j, bg in enumerate(BACKGROUNDS):
            # context crops are at most ~1.9x the face width and ~2.3x its height
            limit = min(w / 2 / 1.95, h / 2.4)
            fw = round(min(limit, 50 + 35 * ((i + j) % 5)))
            first, second = ("astronaut", "camera") if j % 2 == 0 else ("camera", "astronaut")
            placements = [Placement(first, round(0.45 * fw) + 8 * j, round(0.55 * fw) + 6 * i, fw)]
            if w >= h:
                fw2 = round(fw * 0.8)
                placements.append(Placement(second, w // 2 + round(0.45 * fw2) + 10 * i, h - round(1.8 * fw2) - 4 * j, fw2))
            scenes.append(compose(bg, h, w, placements, f"{bg}-{w}x{h}"))
    return scenes


def small_face_set() -> list[Scene]:
    """640x480 frames with faces 28-44 px wide (people far from the camera)."""
    scenes = []
    for j, bg in enumerate(BACKGROUNDS):
        for k, fw in enumerate((28, 36, 44)):
            placements = [Placement("astronaut", 80 + 90 * k, 100 + 20 * j, fw),
                          Placement("camera", 420 - 40 * k, 300 - 15 * j, fw)]
            scenes.append(compose(bg, 480, 640, placements, f"{bg}-small{fw}"))
    return scenes


def empty_set() -> list[Scene]:
    """Backgrounds with no face: every detection on them is a false positive."""
    return [compose(bg, 480, 640, [], f"{bg}-empty") for bg in BACKGROUNDS]
