"""Model cards: PaddleOCR's PP-OCRv4 text detector and recogniser, as shipped in the rapidocr_onnxruntime wheel."""

from edgevid import InputSpec, ModelCard, Variant, WheelSource

WHEEL = "rapidocr_onnxruntime==1.4.4"
_IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}

DETECTOR = ModelCard(
    id="ppocrv4-det",
    task="text",
    title="PP-OCRv4 mobile text detector (DB)",
    license="Apache-2.0",
    homepage="https://github.com/PaddlePaddle/PaddleOCR",
    description="Differentiable-binarisation text detector: a per-pixel text probability map at input resolution.",
    # Dynamic H and W, multiples of 32, long side limited by the task's ``det_limit`` option.
    input=InputSpec(size=(None, None), layout="NCHW", color="RGB", scale=1 / 255, resize="aspect-limit",
                    multiple_of=32, **_IMAGENET),
    outputs=("text probability map, Nx1xHxW",),
    variants=(
        Variant(
            name="fp32",
            format="onnx",
            precision="fp32",
            reference=True,
            sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
            source=WheelSource(WHEEL, "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"),
        ),
    ),
)

RECOGNIZER = ModelCard(
    id="ppocrv4-rec",
    task="text",
    title="PP-OCRv4 mobile text recogniser (SVTR-LCNet, CTC)",
    license="Apache-2.0",
    homepage="https://github.com/PaddlePaddle/PaddleOCR",
    description="Reads one text-line crop (height 48) into per-step character probabilities over 6625 classes "
                "(blank + Chinese/Latin dictionary stored in the model metadata key 'character' + space).",
    # (pixel/255 - 0.5) / 0.5, NCHW; width follows the crop's aspect (at least 320), batched only with crops as wide.
    input=InputSpec(size=(48, None), layout="NCHW", color="RGB", scale=1 / 255, mean=(0.5,) * 3, std=(0.5,) * 3,
                    resize="pad-right"),
    outputs=("per-step class probabilities, NxTx6625",),
    variants=(
        Variant(
            name="fp32",
            format="onnx",
            precision="fp32",
            reference=True,
            sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
            source=WheelSource(WHEEL, "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"),
        ),
    ),
)

#: Optional: the 0/180-degree text direction classifier (loaded only with ``upside_down=True``).
DIRECTION = ModelCard(
    id="ppocr-direction-cls-v2",
    task="text",
    title="PP-OCR mobile v2.0 text direction classifier",
    license="Apache-2.0",
    homepage="https://github.com/PaddlePaddle/PaddleOCR",
    description="Classifies a 48x192 text-line crop as upright (0) or rotated 180 degrees.",
    input=InputSpec(size=(48, 192), layout="NCHW", color="BGR", scale=1 / 255, mean=(0.5,) * 3, std=(0.5,) * 3,
                    resize="pad-right"),
    outputs=("probabilities over [0, 180] degrees, Nx2",),
    variants=(
        Variant(
            name="fp32",
            format="onnx",
            precision="fp32",
            reference=True,
            sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
            source=WheelSource(WHEEL, "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
        ),
    ),
)
