"""Segmentation test scenes: the astronaut (a real person photo) pasted at known places onto real backgrounds.

The person crop is the astronaut's head and torso from scikit-image's ``astronaut``; the pasted
rectangle is the person's known region (the crop is mostly person, so a correct mask lies inside it
and covers most of it). Backgrounds have no people. Moving the paste moves the ground truth exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scenes_face import background, sample

#: x1, y1, x2, y2 of the person crop in the 512x512 astronaut photo (head, hair, suit and helmet)
PERSON = (110, 10, 380, 512)


@dataclass
class Scene:
    """A frame and the person's known region (x1, y1, x2, y2) in it, or ``None`` for an empty scene."""

    image: np.ndarray
    region: tuple[int, int, int, int] | None


def person(height: int) -> np.ndarray:
    """The person crop (BGR) scaled to ``height`` pixels."""
    import cv2

    x1, y1, x2, y2 = PERSON
    crop = sample("astronaut")[y1:y2, x1:x2]
    k = height / crop.shape[0]
    return cv2.resize(crop, (round(crop.shape[1] * k), height), interpolation=cv2.INTER_AREA)


def compose(bg: str, height: int, width: int, x: int, person_height: int) -> Scene:
    """The person standing on the bottom edge at column ``x`` of background ``bg``."""
    frame = background(bg, height, width).copy()
    p = person(person_height)
    y = height - p.shape[0]
    w = min(p.shape[1], width - x)
    frame[y:, x:x + w] = p[:, :w]
    return Scene(frame, (x, y, x + w, height))


def empty(bg: str, height: int = 480, width: int = 640) -> Scene:
    """A background with nobody in it."""
    return Scene(background(bg, height, width), None)


def walk(bg: str = "brick", frames: int = 8, height: int = 480, width: int = 640, step: int = 24) -> list[Scene]:
    """The person moving right by ``step`` pixels per frame."""
    return [compose(bg, height, width, 40 + step * i, int(height * 0.8)) for i in range(frames)]
