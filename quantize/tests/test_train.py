"""Pruning and distillation of selfie segmentation: real training (torch, CPU) with the fp32 model as teacher.

Budgets here are small (a fraction of the shipped recipes' steps) so the suite stays within CI's time;
each variant is still measured with the task's metric on the held-out frames, against fp32, and must
do far better than where it started.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

MODEL = "selfie-segmentation"
#: mask IoU against fp32 a small budget must reach (the shipped recipes' figures are in docs/quantize.md).
#: Pruned starts from the least-squares refit (0.92 with no training), so its bar is the higher.
SMALL_BUDGET_FLOOR = {"pruned": 0.85, "distilled": 0.70}


@pytest.fixture(scope="module")
def trained(module_home, small_budget):
    """Both variants built once with small budgets: (entries by name, log lines). The small recipes stay in
    force for the whole module."""
    from edgevid_quantize.build import build

    small = {"steps": 150, "frames": 256}
    log: list[str] = []
    with small_budget(MODEL, pruned=small, distilled=small):
        made = build("segment", ("pruned", "distilled"), models=(MODEL,), say=log.append)
        yield {e["name"]: e for e in made[MODEL]}, log


@pytest.mark.parametrize("kind", ["pruned", "distilled"])
def test_variant_is_smaller_and_accurate(trained, kind):
    """Fewer multiply-adds than the teacher, and held-out mask IoU against fp32 well above an untrained start."""
    entries, _ = trained
    e = entries[kind]
    r = e["recipe"]
    assert e["format"] == "onnx" and e["compression"] == kind
    assert r["macs"] < r["fp32_macs"], (r["macs"], r["fp32_macs"])
    assert e["accuracy"] >= SMALL_BUDGET_FLOOR[kind], e["accuracy"]
    assert e["below_floor"] == (e["accuracy"] < e["floor"])
    # the loss fell: the training happened and worked (pruned starts near the teacher, after the refit)
    assert r["loss_every_tenth"][-1] < 0.9 * r["loss_every_tenth"][0]
    if kind == "pruned":
        assert r["refit_layers"] > 0
    assert r["training_examples"] == 256 and not r["from_cache"]


def test_pruning_keeps_the_teachers_architecture(trained, module_home):
    """Pruned: same layer types as the teacher, fewer channels; distilled: another, smaller network."""
    import onnx

    entries, _ = trained

    def convs(path):
        return [n for n in onnx.load(str(module_home / path)).graph.node if n.op_type in ("Conv", "ConvTranspose")]

    teacher = convs(entries["fp32-onnx"]["path"])
    pruned = convs(entries["pruned"]["path"])
    distilled = convs(entries["distilled"]["path"])
    assert len(pruned) == len(teacher)
    assert len(distilled) < len(teacher)
    assert entries["pruned"]["size"] < entries["fp32-onnx"]["size"]
    assert entries["distilled"]["size"] < entries["pruned"]["size"]


def test_training_is_cached_by_recipe(trained, module_home):
    """A rebuild with the same recipe trains nothing and writes the same bytes; the manifest says so."""
    from edgevid_quantize.build import build

    entries, _ = trained  # its small recipes are still in force
    again = {e["name"]: e for e in build("segment", ("distilled",), models=(MODEL,), say=lambda s: None)[MODEL]}
    assert again["distilled"]["recipe"]["from_cache"] is True
    assert again["distilled"]["sha256"] == entries["distilled"]["sha256"]
    assert again["distilled"]["recipe"]["cache_key"] == entries["distilled"]["recipe"]["cache_key"]


def test_retraining_gives_the_same_bytes(trained, module_home):
    """With its cache entry gone, the same recipe trains again from the start and writes the same bytes: training
    is deterministic on one machine and thread count (the manifest's ``reproducible`` says what may differ)."""
    import shutil

    from edgevid_quantize.build import build

    entries, _ = trained  # its small recipes are still in force
    key = entries["distilled"]["recipe"]["cache_key"]
    shutil.rmtree(module_home / "cache" / "train" / key)
    again = {e["name"]: e for e in build("segment", ("distilled",), models=(MODEL,), say=lambda s: None)[MODEL]}
    r = again["distilled"]["recipe"]
    assert r["from_cache"] is False and r["cache_key"] == key
    assert again["distilled"]["sha256"] == entries["distilled"]["sha256"]
    assert again["distilled"]["accuracy"] == entries["distilled"]["accuracy"]


def test_trained_variants_run_where_asked_and_never_unasked(trained, module_home):
    """Listed in the manifest; pinned by name they run on ONNX Runtime and OpenVINO with the same masks;
    below their floor, automatic selection passes them over."""
    from edgevid.api import load
    from edgevid.bench.accuracy import agreement
    from edgevid_quantize.scoring import run_each
    from edgevid_quantize.frames import frames

    entries, _ = trained
    manifest = json.loads((module_home / "built" / MODEL / "manifest.json").read_text())
    assert {"pruned", "distilled"} <= {v["name"] for v in manifest["variants"]}
    held = frames("segment")[1][:4]
    for kind in ("pruned", "distilled"):
        out = {}
        for backend in ("onnxruntime", "openvino"):
            task = load("segment", model="general", backend=backend, variant=kind, precision="f32")
            try:
                assert {m.variant.name for m in task.loaded.values()} == {kind}
                out[backend] = run_each(task, held)
            finally:
                task.close()
        assert agreement(out["onnxruntime"], out["openvino"]) >= 0.98
    auto = load("segment", model="general", backend="onnxruntime")
    try:
        chosen = {m.variant.name for m in auto.loaded.values()}
    finally:
        auto.close()
    for kind in ("pruned", "distilled"):
        if entries[kind]["below_floor"]:
            assert kind not in chosen


def test_each_training_map_is_the_teachers_map_of_that_input(trained, module_home):
    """Every batch selfie segmentation's recipes draw pairs each input with the teacher's own map of exactly
    that input. The teacher is not mirror-symmetric: a flipped frame paired with the flipped map taught the
    student a map the teacher does not give, and held even the teacher itself, fine-tuned, at 0.93 mask IoU."""
    from types import SimpleNamespace

    import numpy as np

    from edgevid.registry import get_registry
    from edgevid_quantize import recipes
    from edgevid_quantize.frames import unlabeled
    from edgevid_quantize.pools import session
    from edgevid_quantize.targets import Maps

    entries, _ = trained
    card = get_registry().task("segment").models["general"]
    h, w = card.input.size
    src = module_home / entries["fp32-onnx"]["path"]
    recipe = recipes.RECIPES[MODEL]["pruned"]
    assert not recipe.flips
    data = Maps(SimpleNamespace(card=card), src, unlabeled("segment", 12, seed=3, height=h, width=w), h, w, recipe)
    sess, name = session(src)
    rng = np.random.default_rng(0)
    for _ in range(6):
        x, y = data.batch(data.draw(rng, 4), rng)
        got = np.concatenate([sess.run(None, {name: row[None]})[0] for row in x.numpy()])  # a batch of 1
        # the targets are stored as float16: 1e-3 is their rounding, a mirrored map differs by up to 1.0
        assert np.abs(got - y.numpy()).max() < 2e-3


def test_every_target_scores_the_outputs_its_metric_does_not_read():
    from edgevid_quantize.targets import TARGETS

    # train.build asks each target for them; one without the method would end a build after its training
    missing = [name for name, target in TARGETS.items() if not callable(getattr(target, "output_agreement", None))]
    assert missing == []
    # a recogniser's one output is what the task reads: nothing else to hold to the floor
    assert TARGETS["sequences"].output_agreement(None, None, None) == {}


def test_the_feature_term_has_autograds_value_and_gradient_bit_for_bit():
    """:func:`edgevid_quantize.losses.squared_error`, the distillation's feature-map term with its backward
    pass written out, gives what autograd gives for ``((a - b) ** 2).mean()``: the same loss, and the same
    gradients for the maps and the conv weights behind them, to the last bit, so pruned recipes train as they
    did. On a real photo (scikit-image's astronaut) through two convs, one the target."""
    import torch
    from skimage import data

    from edgevid_quantize.losses import squared_error

    torch.manual_seed(0)
    image = torch.from_numpy(data.astronaut()).permute(2, 0, 1)[None].float() / 255
    student, teacher = torch.nn.Conv2d(3, 8, 3, 2), torch.nn.Conv2d(3, 8, 3, 2)
    with torch.no_grad():
        want = teacher(image)

    def grads(term):
        student.zero_grad()
        got = student(image)
        got.retain_grad()
        loss = term(got, want) / want.var()
        loss.backward()
        return loss.detach(), got.grad, student.weight.grad.clone(), student.bias.grad.clone()

    mine, autograd = grads(squared_error), grads(lambda a, b: ((a - b) ** 2).mean())
    assert all(torch.equal(m, a) for m, a in zip(mine, autograd)), [float((m - a).abs().max())
                                                                     for m, a in zip(mine, autograd)]
    assert float(mine[0]) > 0 and float(mine[2].abs().max()) > 0
