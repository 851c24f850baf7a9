"""Model cards: MediaPipe's BlazePose detector and full landmark model, from the pinned mediapipe wheel.

Only the fp32 ``.tflite`` files exist as they come from the source; OpenVINO and LiteRT read them
directly. Variants built later into the model store (ONNX, IR, int8) are merged in by
``edgevid.models.catalog`` and need no change here: the task reads tensor names and shapes from
the loaded session.
"""

from edgevid import InputSpec, ModelCard, Variant, WheelSource

MEDIAPIPE = "mediapipe==0.10.14"

DETECTOR = ModelCard(
    id="blazepose-detector",
    task="pose",
    title="MediaPipe BlazePose person detector (pose_detection)",
    license="Apache-2.0",
    homepage="https://github.com/google-ai-edge/mediapipe",
    description=("SSD-style single-class detector on a 224x224 letterbox; per anchor a box and 4 alignment "
                 "keypoints (hip centre, full-body scale point, shoulder centre, upper-body scale point)."),
    # pixel/127.5 - 1 in RGB; letterboxed (aspect kept, black padding) as MediaPipe's ImageToTensor does
    input=InputSpec(size=(224, 224), layout="NHWC", color="RGB", scale=1 / 255, mean=(0.5,) * 3, std=(0.5,) * 3,
                    resize="letterbox"),
    outputs=("regressors 1x2254x12", "score logits 1x2254x1"),
    variants=(
        Variant(
            name="fp32",
            format="tflite",
            precision="fp32",
            reference=True,
            sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
            source=WheelSource(MEDIAPIPE, "mediapipe/modules/pose_detection/pose_detection.tflite"),
        ),
    ),
)

LANDMARKS = ModelCard(
    id="blazepose-landmark-full",
    task="pose",
    title="MediaPipe BlazePose GHUM 3D landmarks, full complexity",
    license="Apache-2.0",
    homepage="https://github.com/google-ai-edge/mediapipe",
    description=("33 body landmarks (+2 alignment points) with visibility from a 256x256 rotated person crop; "
                 "also a pose-presence score, segmentation, heatmap and world landmarks."),
    # pixel/255 in RGB, from the rotated square ROI (edges replicated)
    input=InputSpec(size=(256, 256), layout="NHWC", color="RGB", scale=1 / 255, resize="rotated-roi"),
    outputs=("landmarks 1x195 (39x5)", "pose presence 1x1", "segmentation 1x256x256x1", "heatmap 1x64x64x39",
             "world landmarks 1x117"),
    variants=(
        Variant(
            name="fp32",
            format="tflite",
            precision="fp32",
            reference=True,
            sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
            source=WheelSource(MEDIAPIPE, "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"),
        ),
    ),
)
