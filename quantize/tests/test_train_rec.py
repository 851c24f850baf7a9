"""Pruning and distilling PP-OCRv4's recogniser: a CTC line reader learns from the line crops the fp32 text
task cuts out of unlabeled frames, one distribution over 6625 classes per step, and keeps a free batch and
width. The pruned copy has its convolutional backbone pruned; its attention neck is joined on from the
source graph, whose reshapes compute the sequence length at run time.

Budgets are small (pruned: a tenth of the shipped recipe's steps and frames; distilled: an eighth of its
steps, a sixth of its frames); each variant is still measured with the text task's character accuracy on
the held-out scenes, against fp32.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

pytestmark = pytest.mark.slow

MODEL = "ppocrv4-rec"
#: character accuracy against fp32 each small budget must reach. Pruned starts from the refit, near the
#: teacher (30 steps here gave 0.932, the shipped 300 steps 0.985). An untrained student reads nothing
#: (0.0); 300 steps gave 0.51, the shipped 2500 steps 0.925
SMALL_BUDGET_FLOOR = {"pruned": 0.9, "distilled": 0.4}


@pytest.fixture(scope="module")
def trained(module_home, small_budget):
    """Both variants built once with small budgets: manifest entries by name."""
    from edgevid_quantize.build import build

    with small_budget(MODEL, pruned={"steps": 30, "frames": 64, "refit_images": 32},
                      distilled={"steps": 300, "frames": 256}):
        return {e["name"]: e for e in build("text", ("pruned", "distilled"), models=(MODEL,), say=print)[MODEL]}


@pytest.fixture(scope="module")
def distilled(trained):
    """The distilled recogniser's manifest entry."""
    return trained["distilled"]


def test_distilled_recogniser_reads_what_the_teacher_reads(distilled):
    """A student of a tenth of the teacher's work, trained from scratch, reads the held-out scenes' lines as
    the fp32 recogniser does, well past an untrained start."""
    r = distilled["recipe"]
    assert distilled["name"] == "distilled" and distilled["compression"] == "distilled"
    assert r["macs"] < 0.1 * r["fp32_macs"], (r["macs"], r["fp32_macs"])
    assert r["training_examples"] > r["frames"], "fewer line crops than frames: the crops were not cut"
    assert r["loss_every_tenth"][-1] < 0.2 * r["loss_every_tenth"][0]
    assert distilled["accuracy"] >= SMALL_BUDGET_FLOOR["distilled"], distilled["accuracy"]


def test_pruned_recogniser_is_smaller_and_reads_the_same_text(trained):
    """The backbone's inner channels pruned and refit, the rest the teacher's: fewer multiply-adds, and the text
    task with it reads the held-out scenes nearly as with fp32."""
    e = trained["pruned"]
    r = e["recipe"]
    assert e["compression"] == "pruned" and r["prune_until"]
    assert r["macs"] < 0.6 * r["fp32_macs"], (r["macs"], r["fp32_macs"])
    assert r["refit_layers"] > 10
    # halves, not the first and last tenth: a tenth of 30 steps is 3 batches, each of one line width, and
    # their loss varies with the width drawn more than with 3 steps of training
    losses = r["loss_every_tenth"]
    assert np.mean(losses[5:]) < np.mean(losses[:5]), losses
    assert e["accuracy"] >= SMALL_BUDGET_FLOOR["pruned"], e["accuracy"]


@pytest.mark.parametrize("kind", ["pruned", "distilled"])
def test_recogniser_takes_any_batch_and_width(trained, kind, module_home):
    """The export keeps batch and width free and carries the teacher's dictionary; ONNX Runtime and OpenVINO
    agree at two widths and a batch of three, one step per 8 columns as the teacher has."""
    import onnx
    import onnxruntime as ort
    import openvino as ov

    from edgevid.models import store
    from edgevid.registry import get_registry

    e = trained[kind]
    path = module_home / e["path"]
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param != "" for d in dims] == [True, False, False, True]
    card = get_registry().task("text").models["recognizer"]
    teacher = onnx.load(str(store.fetch(card.reference)), load_external_data=False)
    assert {p.key: p.value for p in model.metadata_props} == {p.key: p.value for p in teacher.metadata_props}
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    for width in (320, 448):
        x = np.linspace(-1, 1, 3 * 3 * 48 * width, dtype=np.float32).reshape(3, 3, 48, width)
        got = sess.run(None, {"input": x})[0]
        assert got.shape == (3, width // 8, 6625)
        np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-4)
        np.testing.assert_allclose(compiled(x)[0], got, atol=1e-4)


def test_line_crops_are_what_the_task_fed_its_recogniser(module_home):
    """The training crops are recovered exactly from the feeds the fp32 task gave its recogniser: its pixels,
    its own width, and zeros (grey) to the right."""
    from edgevid.api import load
    from edgevid.registry import get_registry
    from edgevid.tasks.feeds import capture
    from edgevid.models import store
    from edgevid_quantize.frames import frames
    from edgevid_quantize.targets import Sequences

    held = frames("text")[1][:2]
    card = get_registry().task("text").models["recognizer"]
    job = types.SimpleNamespace(task="text", role="recognizer", card=card, options={})
    data = Sequences(job, store.fetch(card.reference), held, 480, 640)
    task = load("text", backend="onnxruntime", precision="f32", variant="fp32")
    try:
        fed = [row for feed in capture(task, held)["recognizer"] for row in next(iter(feed.values()))]
    finally:
        task.close()
    assert len(data) == len(fed) > 2
    for i, want in enumerate(fed):
        got = data.inputs([i])[0]
        n = min(got.shape[-1], want.shape[-1])
        np.testing.assert_array_equal(got[..., :n], want[..., :n])
        assert not got[..., n:].any() and not want[..., n:].any()
        assert data.top_i[i].shape == (got.shape[-1] // 8, 4)
        np.testing.assert_allclose(data.top_p[i].sum(-1), 1.0, rtol=1e-5)
