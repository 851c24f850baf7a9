"""LiteRT's full-integer int8 in activation ranges measured on the float model (:mod:`.tflite_ranges`).

BlazePose's landmark model, converted back to a TF graph by onnx2tf, quantized once in the ranges LiteRT's
calibrator records and once in NNCF's mean-quantile ranges measured on the float model, each measured with
the pose task's metric on held-out frames against fp32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def test_an_unknown_range_estimator_is_refused():
    from edgevid_quantize.tflite_ranges import measure

    with pytest.raises(ValueError, match="no range estimator 'mean_max'"):
        measure(b"", [], "mean_max")


@pytest.mark.slow
def test_measured_ranges_lift_the_landmark_models_full_integer_accuracy(module_home):
    """Calibrated as the build calibrates it, the calibrator's ranges (some of them a later op's, see the
    module) read 0.922 of fp32 on the Zen 5 host; mean-quantile ranges from the float model read 0.986,
    integer throughout either way. (On the six crops alone the calibrator's read better, 0.966 against
    0.941: no estimator wins everywhere, which is why the build tries each and keeps the best.)"""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edgevid.api import load
    from edgevid.bench.accuracy import agreement
    from edgevid.registry import get_registry
    from edgevid.tasks.feeds import capture
    from edgevid_quantize import onnx_tflite
    from edgevid_quantize.build import MIN_CALIB_FEEDS, build
    from edgevid_quantize.frames import frames
    from edgevid_quantize.scoring import file_variant, load_at_f32, run_each, stretched_feeds, task_with
    from edgevid_quantize.workers import in_fresh_process

    card = get_registry().task("pose").models["landmarks"]
    (onnx,) = [e for e in build("pose", ("fp32",), models=(card.id,), say=lambda _: None)[card.id]
               if e["name"] == "fp32-onnx"]
    calib, held = frames("pose")
    ref_task = load("pose", backend="tflite", variant="fp32", precision="f32")
    try:
        feeds = capture(ref_task, calib)["landmarks"]
        held = [f for f in held if capture(ref_task, [f])["landmarks"]]
        reference = run_each(ref_task, held)
    finally:
        ref_task.close()
    assert len(held) >= 8
    src = module_home / onnx["path"]
    shape = onnx_tflite.static_shape(src, feeds)
    made = in_fresh_process(onnx_tflite.convert, src, module_home / "lab", shape, calib)
    # as the build calibrates it: the crops the task makes of the calibration frames are fewer than
    # MIN_CALIB_FEEDS, so the frames stretched to its input join them
    assert len(feeds) < MIN_CALIB_FEEDS
    ref = load_at_f32(card, card.reference, "tflite")
    try:
        feeds = feeds + stretched_feeds(card, ref, calib)
    finally:
        ref.close()
    samples = [s for f in feeds for s in onnx_tflite.nhwc(next(iter(f.values())), shape)][:64]

    scores = {}
    for ranges in ("calibrator", "mean_quantile"):
        out = module_home / "lab" / f"{ranges}.tflite"
        recipe = in_fresh_process(onnx_tflite.quantize, made["saved_model"], out, samples, [], ranges)
        assert recipe["range_estimator"] == ranges and recipe["excluded_nodes"] == []
        interp = Interpreter(model_path=str(out),
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interp.allocate_tensors()
        float_ops = {o["op_name"] for o in interp._get_ops_details()
                     if o["result_types"] and o["result_types"][0] == np.float32}
        assert float_ops == {"DEQUANTIZE"}, (ranges, float_ops)
        task = task_with("pose", "landmarks", load_at_f32(card, file_variant(Path(out)), "tflite"), {})
        try:
            scores[ranges] = agreement(reference, run_each(task, held))
        finally:
            task.close()
    assert scores["mean_quantile"] >= 0.98, scores
    assert scores["mean_quantile"] > scores["calibrator"], scores
