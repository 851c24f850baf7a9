"""Model cards: MediaPipe BlazeFace short-range (128x128) and full-range sparse (192x192), from the mediapipe wheel.

Both take RGB scaled to [-1, 1] on a letterboxed square. The fp32 ``.tflite`` files are the variants
as they come from the source; built variants (ONNX, IR, int8) are merged from the model store by
``edgevid.models.catalog`` and run unchanged, because the task reads tensor specs from the session.
"""

from edgevid import InputSpec, ModelCard, Variant, WheelSource

MEDIAPIPE = "mediapipe==0.10.14"
_INPUT = dict(layout="NHWC", color="RGB", scale=1 / 255, mean=(0.5,) * 3, std=(0.5,) * 3, resize="letterbox")

SHORT = ModelCard(
    id="blazeface-short",
    task="face",
    title="MediaPipe BlazeFace short-range",
    license="Apache-2.0",
    homepage="https://github.com/google-ai-edge/mediapipe",
    description="Faces within ~2 m of the camera (large in the frame); 896 anchors, box + 6 keypoints.",
    input=InputSpec(size=(128, 128), **_INPUT),
    outputs=("regressors 1x896x16", "score logits 1x896x1"),
    variants=(
        Variant(name="fp32", format="tflite", precision="fp32", reference=True,
                sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
                source=WheelSource(MEDIAPIPE, "mediapipe/modules/face_detection/face_detection_short_range.tflite")),
    ),
)

FULL = ModelCard(
    id="blazeface-full",
    task="face",
    title="MediaPipe BlazeFace full-range (sparse)",
    license="Apache-2.0",
    homepage="https://github.com/google-ai-edge/mediapipe",
    description="Faces up to ~5 m from the camera (small in the frame); 2304 anchors, box + 6 keypoints.",
    input=InputSpec(size=(192, 192), **_INPUT),
    outputs=("regressors 1x2304x16", "score logits 1x2304x1"),
    variants=(
        Variant(name="fp32", format="tflite", precision="fp32", reference=True,
                sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
                source=WheelSource(MEDIAPIPE,
                                   "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite")),
    ),
)

#: MediaPipe's SsdAnchorsCalculator options per model (face_detection_*_range.pbtxt)
ANCHORS = {"blazeface-short": ((8, 16, 16, 16), 2), "blazeface-full": ((4,), 1)}
#: MediaPipe's default score thresholds per model
THRESHOLDS = {"blazeface-short": 0.5, "blazeface-full": 0.6}
