"""Structured pruning's least-squares refit (:mod:`edgevid_quantize.prune`) on PP-OCRv4's text detector, whose
neck and head are full 3x3 convs and upsampling transposed convs: each such layer solved from its own input
and output gives that output back, and pruning those layers' channels, then refitting, keeps the teacher's map.

Inputs are unlabeled text frames made of real photos (:func:`edgevid_quantize.frames.unlabeled`), 320x320 as
the shipped recipe trains on.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    """The detector as the toolchain trains it (onnx2torch), and six unlabeled text frames as it takes them."""
    import torch

    from edgevid.models import store
    from edgevid.registry import get_registry
    from edgevid_quantize.frames import unlabeled
    from edgevid_quantize.pools import image_inputs
    from edgevid_quantize.to_torch import torch_teacher

    card = get_registry().task("text").models["detector"]
    net = torch_teacher(store.fetch(card.reference), tmp_path_factory.mktemp("det"), card)
    return net, torch.from_numpy(image_inputs(np.stack(unlabeled("text", 6, seed=3, height=320, width=320)), card))


def _io(net, module, x):
    """``module``'s input and output when ``net`` runs on ``x``."""
    import torch

    got = {}
    hook = module.register_forward_hook(lambda m, a, o: got.update(x=a[0], y=o))
    with torch.no_grad():
        net(x)
    hook.remove()
    return got["x"], got["y"]


def test_refit_runs_each_model_once_on_the_maps_its_refit_layers_give(detector):
    """The refit walks both models layer by layer in one forward pass each (:func:`prune._conv_inputs`): each
    conv's input is what a plain forward pass gives it, a weight changed when a conv comes up is what it runs
    with, and refitting a copy whose neck was disturbed runs each model's first conv once, not once per layer
    refit (that cost a pruned BlazePose detector 348 s of refit, against 13 s)."""
    import torch

    from edgevid_quantize import prune

    teacher, x = detector
    convs = [n for n, m in teacher.named_modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        for name, inp in prune._conv_inputs(teacher, x):
            assert torch.equal(inp, _io(teacher, teacher.get_submodule(name), x)[0]), name

    # a changed conv: the convs after it read the maps it now makes
    net, changed = copy.deepcopy(teacher), convs[len(convs) // 2]
    with torch.no_grad():
        walk = prune._conv_inputs(net, x)
        for name, _ in walk:
            if name == changed:
                net.get_submodule(name).weight.mul_(0.5)
                break
        after, got = next(walk)
    assert torch.equal(got, _io(net, net.get_submodule(after), x)[0])
    assert not torch.equal(got, _io(teacher, teacher.get_submodule(after), x)[0])

    net = copy.deepcopy(teacher)
    with torch.no_grad():
        net.get_submodule(changed).weight.mul_(0.5)
    runs = {"net": 0, "teacher": 0}
    hooks = [model.get_submodule(convs[0]).register_forward_hook(lambda *_, w=who: runs.__setitem__(w, runs[w] + 1))
             for who, model in (("net", net), ("teacher", teacher))]
    try:
        done = prune.refit(net, teacher, {}, x, seed=0, full_convs=True)
    finally:
        for h in hooks:
            h.remove()
    assert done > 5 and runs == {"net": 1, "teacher": 1}, (done, runs)


@pytest.mark.parametrize("kind", ["Conv2d", "ConvTranspose2d"])
def test_refit_solves_full_and_transposed_convs_exactly(detector, kind):
    """For every 3x3 conv of the neck and head and every upsampling transposed conv, weights solved from the
    layer's own input and output, with its weights zeroed, reproduce that output to 1e-3 of its spread
    (root mean square; 1e-2 at worst)."""
    import torch

    from edgevid_quantize import prune

    net, x = detector
    layers = [(n, m) for n, m in net.named_modules() if type(m).__name__ == kind and prune._full(m)
              and (kind == "Conv2d" and m.in_channels > 3 or kind == "ConvTranspose2d")]
    assert len(layers) == (5 if kind == "Conv2d" else 2), [n for n, _ in layers]
    for name, m in layers:
        inp, out = _io(net, m, x)
        layer = copy.deepcopy(m)
        with torch.no_grad():
            layer.weight.zero_()
            if layer.bias is not None:  # the neck's convs have none: a batch norm or nothing follows
                layer.bias.zero_()
            fit = prune._fit_transposed if kind == "ConvTranspose2d" else prune._fit_full
            assert kind == "Conv2d" or prune._upsampling(layer)
            weight, bias = fit(layer, inp, out, ridge=1e-8)  # the refit's own ridge (1e-4) shrinks a little
            layer.weight.copy_(weight.float())
            if layer.bias is not None:
                layer.bias.copy_(bias.float())
            err = (layer(inp) - out) / out.std()
        # the 10x10 level gives 600 rows for 864 unknowns here: a fit, not the one solution
        assert err.pow(2).mean().sqrt() < 1e-3 and err.abs().max() < 1e-2, (name, float(err.abs().max()))


def test_pruning_the_neck_and_head_then_refitting_keeps_the_map(detector):
    """With ``full_convs``, the neck's and head's 24-wide outputs lose channels while the 96-wide pyramid they
    read stays whole; refit with no training, the pruned detector's text map matches the teacher's far better
    than the pruned one straight after pruning, and closely."""
    import torch

    from edgevid_quantize import prune

    teacher, x = detector
    with torch.no_grad():
        want = teacher(x)
    net = copy.deepcopy(teacher)
    kept = prune.prune(net, x, want, torch.nn.functional.mse_loss, 0.4, 8, 24, 0, full_convs=True)
    convs = dict(net.named_modules())
    full = [n for n in kept if prune._full(convs[n])]
    assert any(type(convs[n]).__name__ == "Conv2d" for n in full), sorted(kept)
    # the pyramid the neck's four 3x3 convs read is summed across levels: never pruned; the head's 3x3 conv
    # reads the concat of their pruned outputs
    reads = sorted(convs[n].in_channels for n, m in teacher.named_modules()
                   if type(m).__name__ == "Conv2d" and prune._full(m) and m.in_channels == 96)
    assert reads[0] < 96 and reads[1:] == [96] * 4, reads

    def agreement(model):
        with torch.no_grad():
            a, b = want > 0.3, model(x) > 0.3
        return float((a & b).sum() / (a | b).sum())

    before = agreement(net)
    done = prune.refit(net, teacher, kept, x, seed=0, full_convs=True)
    after = agreement(net)
    assert done > len(full), (done, full)
    assert after > before and after > 0.8, (before, after)


def test_refit_pull_keeps_the_teachers_weights_where_the_inputs_do_not_decide():
    """Two input channels that always agree leave least squares free to split their weight: a ridge toward
    zero halves it across both, the pull toward the teacher's weights keeps the teacher's, and both fit."""
    import torch

    from edgevid_quantize import prune

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(500, 1, generator=gen)
    x = torch.cat([a, a, torch.randn(500, 1, generator=gen)], 1)  # channels 0 and 1 are one signal
    teacher = torch.tensor([[2.0], [0.0], [-1.0]])
    y = x @ teacher
    toward_zero = prune._solve(x, y, bias=False)
    pulled = prune._solve(x, y, bias=False, ridge=0.01, prior=teacher)
    assert torch.allclose(toward_zero[:2, 0].double(), torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-3)
    assert torch.allclose(pulled.double(), teacher.double(), atol=1e-3)
    for w in (toward_zero, pulled):
        assert torch.allclose((x.double() @ w), y.double(), atol=1e-2)


@pytest.mark.parametrize("pull", [0.0, 0.01])
def test_refit_solves_each_depthwise_channel_for_its_own_input(pull):
    """A depthwise conv wider than the refit's batch of channels (40 > 32) whose input the layer before scales
    channel by channel: each channel's refit weight is the teacher's divided by its own scale, the exact answer.
    Toward zero from zeroed weights, or pulled toward weights that are already that answer (a pull toward
    another channel's would move them). Input: scikit-image's astronaut."""
    import torch
    from skimage import data

    from edgevid_quantize import prune

    torch.manual_seed(0)
    # 1x1 taps: one weight and a bias per channel, which a 256x256 image pins down (a smooth image's 3x3
    # patches leave the light ridge a few percent to decide)
    teacher = torch.fx.symbolic_trace(torch.nn.Sequential(
        torch.nn.Conv2d(3, 40, 1), torch.nn.Conv2d(40, 40, 1, groups=40), torch.nn.Conv2d(40, 8, 1)))
    with torch.no_grad():  # each input channel one colour, spread over [-1, 1] as the image is
        teacher.get_submodule("0").weight.copy_(torch.eye(3).repeat(14, 1)[:40, :, None, None])
    scale = torch.linspace(0.4, 2.0, 40)[:, None, None, None]
    want = teacher.get_submodule("1").weight / scale
    net = copy.deepcopy(teacher)
    with torch.no_grad():
        net.get_submodule("0").weight.mul_(scale)
        net.get_submodule("0").bias.mul_(scale[:, 0, 0, 0])
        net.get_submodule("1").weight.copy_(want if pull else torch.zeros_like(want))
    x = torch.from_numpy(data.astronaut()[None, ::2, ::2].transpose(0, 3, 1, 2) / np.float32(127.5) - 1)
    assert prune.refit(net, teacher, {}, x, seed=0, pull=pull) == 1  # the first conv reads the same image
    got = net.get_submodule("1")
    assert torch.allclose(got.weight, want, rtol=1e-2, atol=1e-4), (got.weight - want).abs().flatten()
    assert torch.allclose(got.bias, teacher.get_submodule("1").bias, atol=1e-3)
