"""Text scenes with exact ground truth: known strings rendered with ``cv2.putText`` onto real photos.

Each :class:`TextScene` is a BGR frame built from a scikit-image photo plus the lines drawn on it.
A line's ground-truth box is its *ink* box: the tight bounding box of the pixels ``putText``
actually painted, found by rendering the same call into an empty mask. (The layout box from
``cv2.getTextSize`` + baseline is kept too; it adds the descender band even when a string has no
descenders, so it is looser than what a text detector can be expected to find.)

Used by the ``text`` plugin's accuracy tests; importing this module needs OpenCV and scikit-image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

SIMPLEX = cv2.FONT_HERSHEY_SIMPLEX
DUPLEX = cv2.FONT_HERSHEY_DUPLEX

#: plate: dark text on a light plate over the photo; "light": light text straight onto the photo
PLATE, LIGHT = "plate", "light"


@dataclass(frozen=True)
class LineSpec:
    """One string to render: baseline-left ``origin`` (x, y), OpenCV font, scale, thickness and style."""

    text: str
    origin: tuple[int, int]
    font: int = SIMPLEX
    scale: float = 1.0
    thickness: int = 2
    style: str = PLATE


@dataclass(frozen=True)
class TextLine:
    """A rendered line: its string, the ink box and the layout box (both ``x1, y1, x2, y2``, exclusive end)."""

    text: str
    ink_xyxy: tuple[int, int, int, int]
    layout_xyxy: tuple[int, int, int, int]


@dataclass
class TextScene:
    """A composed frame and its ground truth."""

    name: str
    image: np.ndarray
    lines: list[TextLine] = field(default_factory=list)

    @property
    def boxes(self) -> np.ndarray:
        """Ink boxes (n,4) float32."""
        return np.array([ln.ink_xyxy for ln in self.lines], np.float32).reshape(-1, 4)

    @property
    def strings(self) -> list[str]:
        """The rendered strings, in the order drawn."""
        return [ln.text for ln in self.lines]


def background(name: str, size: tuple[int, int]) -> np.ndarray:
    """scikit-image photo ``name`` as BGR, scaled to cover ``size`` (w, h) and centre-cropped to it."""
    from skimage import data

    img = np.asarray(getattr(data, name)())
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = cv2.cvtColor(img[:, :, :3], cv2.COLOR_RGB2BGR)
    w, h = size
    s = max(w / img.shape[1], h / img.shape[0])
    img = cv2.resize(img, (max(w, round(img.shape[1] * s)), max(h, round(img.shape[0] * s))),
                     interpolation=cv2.INTER_AREA)
    y0, x0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return np.ascontiguousarray(img[y0 : y0 + h, x0 : x0 + w])


def _ink_box(shape: tuple[int, int], spec: LineSpec) -> tuple[int, int, int, int]:
    mask = np.zeros(shape, np.uint8)
    cv2.putText(mask, spec.text, spec.origin, spec.font, spec.scale, 255, spec.thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise ValueError(f"line {spec.text!r} at {spec.origin} falls outside the frame")
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def render_line(image: np.ndarray, spec: LineSpec, pad: int = 10) -> TextLine:
    """Draw ``spec`` onto ``image`` in place and return its ground truth."""
    (tw, th), base = cv2.getTextSize(spec.text, spec.font, spec.scale, spec.thickness)
    x, y = spec.origin
    layout = (x, y - th, x + tw, y + base)
    ink = _ink_box(image.shape[:2], spec)
    if spec.style == PLATE:
        x1, y1, x2, y2 = ink
        roi = image[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
        # a light plate that still lets the photo show through, like a sign over a scene
        roi[:] = cv2.addWeighted(roi, 0.2, np.full_like(roi, 235), 0.8, 0)
        color = (25, 25, 25)
    elif spec.style == LIGHT:
        color = (245, 245, 245)
    else:
        raise ValueError(f"unknown style {spec.style!r}")
    cv2.putText(image, spec.text, spec.origin, spec.font, spec.scale, color, spec.thickness, cv2.LINE_AA)
    return TextLine(spec.text, ink, layout)


def compose(name: str, bg: str, size: tuple[int, int], specs: list[LineSpec]) -> TextScene:
    """Render ``specs`` onto photo ``bg`` at ``size`` (w, h); lines (with their plates) must not overlap."""
    image = background(bg, size)
    lines = [render_line(image, s) for s in specs]
    boxes = np.array([ln.ink_xyxy for ln in lines], np.float64)
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i] + (-12, -12, 12, 12), boxes[j]
            if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                raise ValueError(f"scene {name}: lines {lines[i].text!r} and {lines[j].text!r} overlap")
    return TextScene(name, image, lines)


def standard_scenes() -> list[TextScene]:
    """Six frames (640x480 and 1280x720), 27 lines: mixed case, digits, two fonts, 0.7x to 2.2x scale."""
    S, D = SIMPLEX, DUPLEX
    return [
        compose("coffee-640", "coffee", (640, 480), [
            LineSpec("EDGEVID 2026", (40, 70), D, 1.4, 2),
            LineSpec("Hello World", (330, 170), S, 1.0, 2),
            LineSpec("EXIT 12", (60, 300), D, 2.0, 3),
            LineSpec("Gate B7", (420, 420), S, 0.9, 2),
        ]),
        compose("rocket-640", "rocket", (640, 480), [
            LineSpec("NO ENTRY", (30, 60), D, 1.2, 2, LIGHT),
            LineSpec("Platform 9", (380, 120), S, 1.0, 2, LIGHT),
            LineSpec("Launch 0730", (40, 420), D, 1.1, 2),
            LineSpec("SPEED 30", (400, 440), S, 0.8, 2),
        ]),
        compose("chelsea-640", "chelsea", (640, 480), [
            LineSpec("Loading Dock", (30, 50), S, 1.1, 2),
            LineSpec("Camera 3", (420, 60), D, 0.9, 2),
            LineSpec("OPEN 24h", (40, 440), D, 1.6, 2),
            LineSpec("Room 404", (440, 450), S, 0.8, 2),
        ]),
        compose("brick-640", "brick", (640, 480), [
            LineSpec("WAREHOUSE", (60, 90), D, 1.8, 3),
            LineSpec("Bay 17", (80, 220), S, 1.2, 2),
            LineSpec("Fire Exit", (330, 300), D, 1.0, 2),
            LineSpec("Zone C 42", (120, 410), S, 1.4, 3),
        ]),
        compose("coffee-1280", "coffee", (1280, 720), [
            LineSpec("Parking Level 2", (60, 90), D, 1.6, 2),
            LineSpec("Max Height 2.1m", (720, 150), S, 1.2, 2),
            LineSpec("EXIT 12", (80, 600), D, 2.2, 3),
            LineSpec("Welcome Home", (700, 640), S, 1.0, 2),
            LineSpec("Lane 5", (560, 380), D, 0.9, 2),
        ]),
        compose("rocket-1280", "rocket", (1280, 720), [
            LineSpec("MISSION 2026", (60, 100), D, 2.0, 3, LIGHT),
            LineSpec("Stage One", (900, 160), S, 1.3, 2, LIGHT),
            LineSpec("Tower B", (80, 660), D, 1.2, 2),
            LineSpec("Countdown 10", (760, 660), S, 1.1, 2),
            LineSpec("Hello World", (980, 420), S, 0.7, 2),
            LineSpec("Pad 39A", (300, 300), D, 0.9, 2, LIGHT),
        ]),
    ]


def long_line_scenes() -> list[TextScene]:
    """Two 1280x720 frames, five lines: four of 32 to 42 characters, three to four times longer than the
    recogniser's 320-pixel training width once scaled to its 48-pixel height."""
    S, D = SIMPLEX, DUPLEX
    return [
        compose("long-coffee", "coffee", (1280, 720), [
            LineSpec("Platform 9 Departures to Harbour Gate 31", (30, 120), S, 1.1, 2),
            LineSpec("Cycle Lane closed between Row K and Hall 9", (30, 400), D, 1.0, 2),
            LineSpec("Visitor Bay", (700, 640), S, 1.0, 2),
        ]),
        compose("long-brick", "brick", (1280, 720), [
            LineSpec("Meeting Room 404 Floor 7 Kitchen", (40, 200), D, 1.3, 2),
            LineSpec("Wet Floor! Storage 2 Checkout 4 Press Here", (20, 520), S, 0.9, 2, LIGHT),
        ]),
    ]


def heldout_long_scenes() -> list[TextScene]:
    """Two 1280x720 frames, six lines: four of 32 to 44 characters (long lines, which a fixed-width
    recogniser reads in windows) and two short ones, none holding a line the toolchain calibrates on (unlike
    :func:`long_line_scenes`, whose long lines are made of them): the text domain's held-out long lines."""
    S, D = SIMPLEX, DUPLEX
    return [
        compose("held-long-camera", "camera", (1280, 720), [
            LineSpec("Northbound trains depart from Quay 12", (30, 110), D, 1.1, 2),
            LineSpec("Lost property desk open 8am to 6pm", (40, 360), S, 1.2, 2, LIGHT),
            LineSpec("Bridge End", (880, 620), D, 1.3, 3),
        ]),
        compose("held-long-astronaut", "astronaut", (1280, 720), [
            LineSpec("Quarry Road 55 via Mill Lane and Ferry Point", (20, 150), S, 1.0, 2),
            LineSpec("Fire door keep shut at all times", (60, 430), D, 1.2, 2),
            LineSpec("Zone 6", (1000, 640), S, 1.5, 3),
        ]),
    ]


def no_text_frame(bg: str = "grass", size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A real photo with no text in it (default: scikit-image's grass), at ``size`` (w, h)."""
    return background(bg, size)


@dataclass
class TextScore:
    """How a reader did on scenes: one row per ground-truth line, plus unmatched detections.

    ``iou`` is the axis-aligned IoU of the matched detection's enclosing box with the ink box (0 when
    missed); ``read`` the string read (``None`` when missed).
    """

    truth: list[str] = field(default_factory=list)
    read: list[str | None] = field(default_factory=list)
    iou: list[float] = field(default_factory=list)
    false_positives: int = 0

    @property
    def recall(self) -> float:
        """Share of ground-truth lines matched by a detection."""
        return sum(r is not None for r in self.read) / max(len(self.truth), 1)

    def char_accuracy(self, ignore_spaces: bool = False) -> float:
        """Mean over ground-truth lines of 1 - normalised Levenshtein distance (a missed line scores 0)."""
        from rapidfuzz.distance import Levenshtein

        def norm(s: str) -> str:
            return s.replace(" ", "") if ignore_spaces else s

        accs = [0.0 if r is None else 1.0 - Levenshtein.normalized_distance(norm(t), norm(r))
                for t, r in zip(self.truth, self.read)]
        return float(np.mean(accs)) if accs else 0.0

    def mean_iou(self) -> float:
        """Mean IoU over matched lines."""
        hits = [i for i, r in zip(self.iou, self.read) if r is not None]
        return float(np.mean(hits)) if hits else 0.0


def score(scenes: list[TextScene], results: list, iou_threshold: float = 0.5) -> TextScore:
    """Match each scene's lines to a result's ``xyxy``/``text`` one-to-one, greedily by IoU, at ``iou_threshold``."""
    from edgevid.tasks.results import box_iou

    out = TextScore()
    for scene, res in zip(scenes, results):
        iou = box_iou(scene.boxes, res.xyxy) if len(res) else np.zeros((len(scene.lines), 0))
        read: list[str | None] = [None] * len(scene.lines)
        best = [0.0] * len(scene.lines)
        taken: set[int] = set()
        for flat in np.argsort(-iou, axis=None):
            i, j = np.unravel_index(flat, iou.shape)
            if iou[i, j] < iou_threshold:
                break
            if read[i] is None and j not in taken:
                read[i], best[i] = res.text[j], float(iou[i, j])
                taken.add(int(j))
        out.truth += scene.strings
        out.read += read
        out.iou += best
        out.false_positives += len(res) - len(taken)
    return out
