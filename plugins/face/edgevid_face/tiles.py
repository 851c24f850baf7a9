"""Which regions of a frame each model looks at: the whole frame, and overlapping tiles for small faces."""

from __future__ import annotations


def grid(height: int, width: int, n: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """``n x n`` tiles (x0, y0, x1, y1) covering the frame, neighbours overlapping by ``overlap`` of a tile.

    The overlap keeps a face cut by one tile border whole in the neighbouring tile.
    """
    if n <= 1:
        return [(0, 0, width, height)]
    th = int(height / (n - (n - 1) * overlap))
    tw = int(width / (n - (n - 1) * overlap))
    out = []
    for gy in range(n):
        for gx in range(n):
            y0, x0 = round(gy * (height - th) / (n - 1)), round(gx * (width - tw) / (n - 1))
            out.append((x0, y0, x0 + tw, y0 + th))
    return out


def auto_tiles(height: int, width: int, model_size: int) -> int:
    """Grid size that keeps each tile's short side within ~1.7x the model input (a 30 px face stays >= ~10 px)."""
    short = min(height, width)
    if short <= 1.7 * model_size:
        return 1
    return 2 if short <= 3.4 * model_size else 3
