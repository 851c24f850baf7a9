"""LiteRT's full-integer int8 in activation ranges measured on the float model (:mod:`.tflite_ranges`).

BlazePose's landmark model through ``edgevid build``'s own LiteRT path (its tf2onnx conversion, onnx2tf,
the range trials and the search), measured with the pose task's metric on held-out frames against fp32.
"""

from __future__ import annotations

import numpy as np
import pytest


def test_an_unknown_range_estimator_is_refused():
    from edgevid_quantize.tflite_ranges import measure

    with pytest.raises(ValueError, match="no range estimator 'mean_max'"):
        measure(b"", [], ("mean_minmax", "mean_max"))


@pytest.mark.slow
def test_measured_ranges_lift_the_landmark_models_full_integer_accuracy(module_home, monkeypatch):
    """In the calibrator's ranges (some of them a later op's, see the module) the landmark model reads 0.922
    of fp32 (as on the Zen 5 of earlier stops), in mean-quantile ranges from the float model 0.986 (stop 50's
    AVX2-only EPYC): the build tries each estimator, keeps the best, searches in it, and ships a model that
    is integer throughout."""

    from edgevid.models import store
    from edgevid.registry import get_registry
    from edgevid_quantize import build as build_mod
    from edgevid_quantize import tflite_variants
    from edgevid_quantize.litert import builtin_interpreter
    from edgevid_quantize.tflite_ranges import ESTIMATORS

    def tflite_only(job, variants):
        # the build's own job and LiteRT path; OpenVINO's and ONNX Runtime's int8 are other tests' business
        conv = build_mod._fp32_onnx(job, store.fetch(job.card.reference))
        return [conv] + tflite_variants.tflite(job, module_home / conv["path"], variants)

    monkeypatch.setattr(build_mod, "_build_model", tflite_only)
    card = get_registry().task("pose").models["landmarks"]
    made = build_mod.build("pose", ("int8",), models=(card.id,), say=lambda _: None, max_kept=4)[card.id]
    e = {x["name"]: x for x in made}["int8-tflite"]
    trials = {t["ranges"]: t["accuracy"] for t in e["recipe"]["range_trials"]}
    assert list(trials) == list(ESTIMATORS), trials  # none met the floor, so each was tried
    assert trials["mean_quantile"] >= 0.98 and trials["calibrator"] < trials["mean_quantile"], trials
    assert e["recipe"]["range_estimator"] == max(trials, key=trials.get)
    # the search starts from the chosen ranges; 4 nodes float read no better here, so full integer ships
    assert e["recipe"]["accuracy_search"][0]["accuracy"] == max(trials.values())
    assert e["accuracy"] == max(t["accuracy"] for t in e["recipe"]["accuracy_search"])
    path = module_home / e["path"]
    assert store.sha256_of(path) == e["sha256"]
    if not e["recipe"]["excluded_nodes"]:
        float_ops = {o["op_name"] for o in builtin_interpreter(path)._get_ops_details()
                     if o["result_types"] and o["result_types"][0] == np.float32}
        assert float_ops == {"DEQUANTIZE"}, float_ops
