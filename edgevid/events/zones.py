"""Zones and lines, read from a JSON file (``edgevid run --zones zones.json``).

Format::

    {
      "zones": [{"name": "door", "polygon": [[100, 50], [300, 50], [300, 400], [100, 400]]}],
      "lines": [{"name": "entry", "points": [[0, 240], [640, 240]]}],
      "normalized": false
    }

Coordinates are source-frame pixels, or fractions of the frame's width and height with
``"normalized": true``. A line's direction is from its first point's left side to its right side
as seen walking from the first point to the second ("a_to_b"), or back ("b_to_a").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Zone:
    """A named polygon (n, 2)."""

    name: str
    polygon: np.ndarray

    def contains(self, point: np.ndarray) -> bool:
        """True if ``point`` (x, y) is inside or on the edge."""
        import cv2

        return cv2.pointPolygonTest(self.polygon.astype(np.float32).reshape(-1, 1, 2),
                                    (float(point[0]), float(point[1])), False) >= 0


@dataclass(frozen=True)
class Line:
    """A named segment from ``a`` to ``b``."""

    name: str
    a: np.ndarray
    b: np.ndarray

    def side(self, point: np.ndarray) -> float:
        """Signed distance (pixels) of ``point`` from the line: > 0 on the right of a->b, < 0 on the left."""
        d = self.b - self.a
        return float((d[0] * (point[1] - self.a[1]) - d[1] * (point[0] - self.a[0])) / max(np.hypot(*d), 1e-9))

    def spans(self, point: np.ndarray) -> bool:
        """True if ``point`` projects onto the segment (not beyond its ends)."""
        d = self.b - self.a
        t = float(np.dot(point - self.a, d) / max(np.dot(d, d), 1e-9))
        return 0.0 <= t <= 1.0


@dataclass(frozen=True)
class Layout:
    """Every zone and line; in pixels, or in fractions of the frame when ``normalized``."""

    zones: tuple[Zone, ...] = ()
    lines: tuple[Line, ...] = ()
    normalized: bool = False

    def in_pixels(self, width: int, height: int) -> Layout:
        """This layout for a ``width x height`` frame."""
        if not self.normalized:
            return self
        k = np.array([width, height], np.float64)
        return Layout(tuple(Zone(z.name, z.polygon * k) for z in self.zones),
                      tuple(Line(ln.name, ln.a * k, ln.b * k) for ln in self.lines))


def _points(value, where: str, count: int | None) -> np.ndarray:
    try:
        pts = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: points must be [[x, y], ...] numbers") from None
    if pts.ndim != 2 or pts.shape[1] != 2 or (count and len(pts) != count) or (not count and len(pts) < 3):
        need = f"exactly {count}" if count else "at least 3"
        raise ConfigError(f"{where}: needs {need} [x, y] points, got {value!r}")
    return pts


def parse(data: dict, origin: str = "zones") -> Layout:
    """A :class:`Layout` from the JSON structure (normalised layouts are scaled per frame size later)."""
    if not isinstance(data, dict) or not set(data) <= {"zones", "lines", "normalized"}:
        raise ConfigError(f"{origin}: expected an object with 'zones', 'lines' and optional 'normalized'")
    scale = np.array([1.0, 1.0])
    zones, lines, names = [], [], set()
    for i, z in enumerate(data.get("zones", [])):
        name = z.get("name") if isinstance(z, dict) else None
        if not name or name in names:
            raise ConfigError(f"{origin}: zones[{i}] needs a unique 'name'")
        names.add(name)
        zones.append(Zone(name, _points(z.get("polygon"), f"{origin}: zone {name!r}", None) * scale))
    for i, ln in enumerate(data.get("lines", [])):
        name = ln.get("name") if isinstance(ln, dict) else None
        if not name or name in names:
            raise ConfigError(f"{origin}: lines[{i}] needs a unique 'name'")
        names.add(name)
        a, b = _points(ln.get("points"), f"{origin}: line {name!r}", 2) * scale
        lines.append(Line(name, a, b))
    return Layout(tuple(zones), tuple(lines), bool(data.get("normalized")))


def load(path: str | Path) -> Layout:
    """Read and validate a zones file."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"--zones {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"--zones {path}: not valid JSON ({exc})") from None
    return parse(data, origin=str(path))
