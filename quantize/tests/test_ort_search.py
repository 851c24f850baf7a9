"""ONNX Runtime int8's accuracy search on a model whose int8 loses most at its outputs: BlazeFace short.

Its head convolutions write score logits and box offsets that the task thresholds. Plain int8 reads 0.56
of fp32's detection F1, and keeping the path from those heads to the outputs float restores most of it;
no single layer's SQNR shows it (30-40 dB). The search tries the whole output path float first, as one
step.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_output_path_goes_float_first_and_together(module_home, monkeypatch):
    """`edgevid build face --variants fp32,int8` for BlazeFace short: plain int8 is far below the floor; the
    output path (both output Concats back to the four head convolutions) float lifts it above 0.9 of fp32,
    and stays float in the later attempts because it helped."""
    import onnx

    from edgevid_quantize import build as build_mod
    from edgevid_quantize import ort_int8

    # only ONNX Runtime's search is under test: OpenVINO's and LiteRT's int8 are built in test_build.py
    monkeypatch.setattr(build_mod, "_int8_ov", lambda job, src: None)
    monkeypatch.setattr(build_mod, "_tflite", lambda job, src, variants: [])
    made = build_mod.build("face", ("fp32", "int8"), models=("blazeface-short",), say=lambda s: None, max_kept=16)
    entries = {e["name"]: e for e in made["blazeface-short"]}
    src = module_home / entries["fp32-onnx"]["path"]
    ops = {n.name: n.op_type for n in onnx.load(str(src)).graph.node}
    path = ort_int8.output_path(src)
    kinds = [ops[n] for n in path]
    assert kinds[0] == "Concat" and kinds.count("Concat") == 2 and kinds.count("Conv") == 4, kinds
    int8 = entries["int8"]
    search = int8["recipe"]["accuracy_search"]
    assert search[0]["kept_float"] == 0 and search[0]["accuracy"] < 0.8, search
    assert search[1]["kept_float"] == len(path) and search[1]["accuracy"] >= 0.9, search
    assert search[1]["accuracy"] - search[0]["accuracy"] > 0.2
    if search[1]["accuracy"] < 0.99:
        assert [a["kept_float"] for a in search[2:]] == [16], "the path, then the ranking's next 2 within 16"
    assert set(path) <= set(int8["recipe"]["excluded_nodes"])
    assert int8["accuracy"] == max(a["accuracy"] for a in search) and int8["below_floor"] == (int8["accuracy"] < 0.99)
