"""Model cards: MediaPipe selfie segmentation, general (256x256) and landscape (144x256), from the mediapipe wheel.

Input: RGB in [0, 1], the frame stretched to the model's size (MediaPipe's ImageToTensor with
keep_aspect_ratio false). Output: a person probability per pixel, already through a sigmoid.

**Which backends run it today:** only TFLite/LiteRT. Both models use MediaPipe's custom op
``Convolution2DTransposeBias``: OpenVINO's TFLite frontend refuses the file and plain tf2onnx does
not convert it, and ONNX Runtime reads no ``.tflite``. ``edgevid build segment`` (the ``quantize``
toolchain) adds ONNX/IR variants to the model store by mapping that op to ConvTranspose plus a bias;
they are merged into these cards by ``edgevid.models.catalog`` and need no change here.
"""

from edgevid import InputSpec, ModelCard, Variant, WheelSource

MEDIAPIPE = "mediapipe==0.10.14"
_INPUT = dict(layout="NHWC", color="RGB", scale=1 / 255, resize="stretch")
#: why a backend that reads .tflite in general cannot run these files (shown by selection and docs)
CUSTOM_OP = "Convolution2DTransposeBias"
_INCOMPATIBLE = (("openvino", f"OpenVINO's TFLite frontend cannot read the custom op {CUSTOM_OP}; "
                              "`edgevid build segment` makes an ONNX/IR variant"),)

GENERAL = ModelCard(
    id="selfie-segmentation",
    task="segment",
    title="MediaPipe selfie segmentation (general, 256x256)",
    license="Apache-2.0",
    homepage="https://github.com/google-ai-edge/mediapipe",
    description=f"Person vs background, square input. TFLite only today (custom op {CUSTOM_OP}).",
    input=InputSpec(size=(256, 256), **_INPUT),
    outputs=("person probability 1x256x256x1",),
    variants=(
        Variant(name="fp32", format="tflite", precision="fp32", reference=True,
                sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
                source=WheelSource(MEDIAPIPE, "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite"),
                incompatible=_INCOMPATIBLE),
    ),
)

LANDSCAPE = ModelCard(
    id="selfie-segmentation-landscape",
    task="segment",
    title="MediaPipe selfie segmentation (landscape, 144x256)",
    license="Apache-2.0",
    homepage="https://github.com/google-ai-edge/mediapipe",
    description=f"Person vs background for wide frames; faster. TFLite only today (custom op {CUSTOM_OP}).",
    input=InputSpec(size=(144, 256), **_INPUT),
    outputs=("person probability 1x144x256x1",),
    variants=(
        Variant(name="fp32", format="tflite", precision="fp32", reference=True,
                sha256="a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
                source=WheelSource(MEDIAPIPE,
                                   "mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite"),
                incompatible=_INCOMPATIBLE),
    ),
)
