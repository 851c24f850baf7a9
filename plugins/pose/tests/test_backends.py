"""TFLite and OpenVINO (f32) agree on the same frames.

Measured on 24 scenes: PCK@0.05 between backends 1.0 in every scene, mean keypoint distance at most
0.0006 of the pose box's longest side.
"""

from __future__ import annotations

import numpy as np

from edgevid.testing import scenes_pose


def test_tflite_and_openvino_agree(pose_loader):
    a, b = pose_loader("tflite", track=False), pose_loader("openvino", track=False)
    assert a.info()["landmarks"]["backend"] == "tflite" and b.info()["landmarks"]["backend"] == "openvino"
    agree, dist, compared = [], [], 0
    for bg in scenes_pose.BACKGROUNDS:
        for angle in (0.0, -30.0, 60.0, 180.0):
            sc = scenes_pose.scene(bg, scale=0.7, angle=angle)
            pa, pb = a(sc.image), b(sc.image)
            assert len(pa) == len(pb), f"{sc.name}: tflite found {len(pa)}, openvino {len(pb)}"
            if not len(pa):
                continue
            compared += 1
            size = float(np.ptp(pa.xyxy[0].reshape(2, 2), axis=0).max())
            ka, kb = pa.keypoints[0, :, :2], pb.keypoints[0, :, :2]
            agree.append(scenes_pose.pck(ka, kb, size, 0.05))
            dist.append(float(np.linalg.norm(ka - kb, axis=1).mean()) / size)
            assert abs(float(pa.score[0]) - float(pb.score[0])) < 0.02
    assert compared >= 20
    assert min(agree) >= 0.95, f"PCK@0.05 between backends {np.round(agree, 3)}"
    assert max(dist) < 0.01, f"mean distance / box size {np.round(dist, 4)}"
    a.close()
    b.close()
