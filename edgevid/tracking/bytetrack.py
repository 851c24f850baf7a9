"""Multi-object tracking by ByteTrack's association (Zhang et al., ECCV 2022).

Each track has a constant-velocity Kalman filter (OpenCV's ``cv2.KalmanFilter``) over box centre,
aspect ratio and height. Every frame, high-score detections are matched to all tracks by IoU with
the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``); low-score detections then get a
second chance against the tracks still unmatched, which keeps ids through partial occlusion and
motion blur instead of dropping them. Tracks unmatched for ``track_buffer`` frames are removed; a
new track needs a detection of at least ``new_track_score`` and is confirmed on its second hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..tasks.results import Detections, box_iou


def _xyxy_to_z(b: np.ndarray) -> np.ndarray:
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([b[0] + w / 2, b[1] + h / 2, w / max(h, 1e-6), h], np.float32)


def _z_to_xyxy(z: np.ndarray) -> np.ndarray:
    cx, cy, a, h = (float(v) for v in z[:4])
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


class _Track:
    """One object's Kalman filter and bookkeeping."""

    def __init__(self, box: np.ndarray, track_id: int, frame: int) -> None:
        import cv2

        kf = cv2.KalmanFilter(8, 4)
        kf.transitionMatrix = np.eye(8, dtype=np.float32)
        for i in range(4):
            kf.transitionMatrix[i, 4 + i] = 1.0  # position += velocity
        kf.measurementMatrix = np.eye(4, 8, dtype=np.float32)
        z = _xyxy_to_z(box)
        h = float(z[3])
        # Noise scaled by the box height, as ByteTrack does: big boxes move and jitter more in pixels.
        kf.processNoiseCov = np.diag([(h / 20) ** 2, (h / 20) ** 2, 1e-4, (h / 20) ** 2,
                                      (h / 160) ** 2, (h / 160) ** 2, 1e-10, (h / 160) ** 2]).astype(np.float32)
        kf.measurementNoiseCov = np.diag([(h / 20) ** 2, (h / 20) ** 2, 1e-2, (h / 20) ** 2]).astype(np.float32)
        kf.errorCovPost = np.diag([(h / 10) ** 2] * 2 + [1e-2, (h / 10) ** 2] + [(h / 16) ** 2] * 2 + [1e-5, (h / 16) ** 2]
                                  ).astype(np.float32)
        kf.statePost = np.concatenate([z, np.zeros(4, np.float32)]).reshape(8, 1)
        self.kf, self.id, self.hits, self.last_seen, self.confirmed = kf, track_id, 1, frame, False
        self.box = box.astype(np.float32)

    def predict(self) -> np.ndarray:
        """Advance one frame; the predicted box."""
        if self.kf.statePost[3, 0] + self.kf.statePost[7, 0] <= 0:
            self.kf.statePost[7, 0] = 0.0  # a shrinking box must not invert
        self.box = _z_to_xyxy(self.kf.predict()[:4, 0])
        return self.box

    def update(self, box: np.ndarray, frame: int) -> None:
        """Correct with a matched detection."""
        self.kf.correct(_xyxy_to_z(box).reshape(4, 1))
        self.box = _z_to_xyxy(self.kf.statePost[:4, 0])
        self.hits += 1
        self.last_seen = frame
        if self.hits >= 2:
            self.confirmed = True


@dataclass
class ByteTracker:
    """Assigns stable ``tracker_id``s to :class:`~edgevid.Detections`, frame after frame."""

    high_score: float = 0.5
    low_score: float = 0.1
    new_track_score: float = 0.6
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    track_buffer: int = 30
    tracks: list[_Track] = field(default_factory=list)
    frame: int = 0
    next_id: int = 1

    def reset(self) -> None:
        """Forget every track (a new source)."""
        self.tracks, self.frame, self.next_id = [], 0, 1

    @staticmethod
    def _match(tracks: list[_Track], boxes: np.ndarray, min_iou: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        try:
            from scipy.optimize import linear_sum_assignment
        except ImportError:
            from ..errors import ConfigError

            raise ConfigError("tracking needs scipy: pip install 'edgevid[tracking]' (or run with --no-track)") from None

        if not tracks or len(boxes) == 0:
            return [], list(range(len(tracks))), list(range(len(boxes)))
        iou = box_iou(np.stack([t.box for t in tracks]), boxes)
        rows, cols = linear_sum_assignment(-iou)
        pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= min_iou]
        mt, md = {r for r, _ in pairs}, {c for _, c in pairs}
        return pairs, [i for i in range(len(tracks)) if i not in mt], [j for j in range(len(boxes)) if j not in md]

    def update(self, dets: Detections) -> Detections:
        """Track one frame's detections; returns only the detections on confirmed tracks, with ``tracker_id``."""
        out = self.assign(dets)
        return out[out.tracker_id >= 0]

    def assign(self, dets: Detections) -> Detections:
        """Track one frame's detections; returns all of them, ``tracker_id`` -1 where not on a confirmed track."""
        self.frame += 1
        for t in self.tracks:
            t.predict()
        scores = np.asarray(dets.score, np.float32)
        high = np.flatnonzero(scores >= self.high_score)
        low = np.flatnonzero((scores >= self.low_score) & (scores < self.high_score))
        ids = np.full(len(dets), -1, np.int64)

        pairs, free_tracks, free_high = self._match(self.tracks, dets.xyxy[high], self.match_iou)
        for ti, di in pairs:
            self.tracks[ti].update(dets.xyxy[high[di]], self.frame)
            ids[high[di]] = self.tracks[ti].id
        # second association: the tracks still free against low-score detections, stricter IoU
        remaining = [self.tracks[i] for i in free_tracks if self.tracks[i].last_seen == self.frame - 1]
        pairs2, _, _ = self._match(remaining, dets.xyxy[low], self.low_match_iou)
        for ti, di in pairs2:
            remaining[ti].update(dets.xyxy[low[di]], self.frame)
            ids[low[di]] = remaining[ti].id
        for di in free_high:
            if scores[high[di]] >= self.new_track_score:
                t = _Track(dets.xyxy[high[di]], self.next_id, self.frame)
                self.next_id += 1
                if self.frame == 1:
                    t.confirmed = True  # objects present from the start are real from the start
                self.tracks.append(t)
                ids[high[di]] = t.id
        self.tracks = [t for t in self.tracks if self.frame - t.last_seen <= self.track_buffer
                       and (t.confirmed or t.last_seen == self.frame)]
        confirmed = {t.id for t in self.tracks if t.confirmed}
        ids = np.array([i if i in confirmed else -1 for i in ids], np.int64)
        return replace(dets, tracker_id=ids)
