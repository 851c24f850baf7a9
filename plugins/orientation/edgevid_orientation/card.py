"""The model card: PaddleOCR's text-direction classifier, as shipped in the rapidocr_onnxruntime wheel."""

from edgevid import InputSpec, ModelCard, Variant, WheelSource

DIRECTION_CLS = ModelCard(
    id="ppocr-direction-cls-v2",
    task="orientation",
    title="PP-OCR mobile v2.0 text direction classifier",
    license="Apache-2.0",
    homepage="https://github.com/PaddlePaddle/PaddleOCR",
    description="Classifies a 48x192 text-line crop as upright (0) or rotated 180 degrees.",
    # (pixel/255 - 0.5) / 0.5 in RGB, NCHW; width is padded to 192 after an aspect-keeping resize.
    input=InputSpec(size=(48, 192), layout="NCHW", color="RGB", scale=1 / 255, mean=(0.5,) * 3, std=(0.5,) * 3,
                    resize="pad-right"),
    outputs=("probabilities over [0, 180] degrees, Nx2",),
    variants=(
        Variant(
            name="fp32",
            format="onnx",
            precision="fp32",
            reference=True,
            sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
            source=WheelSource("rapidocr_onnxruntime==1.4.4",
                               "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
        ),
    ),
)
