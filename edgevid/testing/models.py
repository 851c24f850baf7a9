"""Real pretrained models for tests, from pinned registry wheels, verified by sha256 (never committed)."""

from __future__ import annotations

from edgevid.models import store
from edgevid.models.card import Variant, WheelSource

MEDIAPIPE = "mediapipe==0.10.14"
RAPIDOCR = "rapidocr_onnxruntime==1.4.4"

#: key -> (wheel, member, sha256); the same files the task plugins declare, used here without plugins
REAL_MODELS = {
    "blazeface_short": (MEDIAPIPE, "mediapipe/modules/face_detection/face_detection_short_range.tflite",
                        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    "blazeface_full": (MEDIAPIPE, "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
                       "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"),
    "selfie": (MEDIAPIPE, "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
               "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"),
    "pose_detection": (MEDIAPIPE, "mediapipe/modules/pose_detection/pose_detection.tflite",
                       "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"),
    "ppocr_det": (RAPIDOCR, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                  "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"),
    "ppocr_cls": (RAPIDOCR, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                  "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c"),
}


def real_model_path(key: str):
    """Local verified path of a real model (fetched from its pinned wheel on first use)."""
    req, member, sha = REAL_MODELS[key]
    fmt = "tflite" if member.endswith(".tflite") else "onnx"
    return store.fetch(Variant(name="fp32", format=fmt, precision="fp32", sha256=sha, source=WheelSource(req, member)))
