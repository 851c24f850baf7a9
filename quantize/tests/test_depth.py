"""Depth pruning (:mod:`edgevid_quantize.depth`): which residual blocks a converted model has, and what bypassing
them does, on PP-OCR's direction classifier (MobileNetV3: seven stride-1 blocks whose input and output agree)
and on a small U-Net whose skip connections must never be taken for blocks."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """The classifier as the toolchain trains it (onnx2torch), and its feeds for five held-out line crops."""
    import edgevid
    from edgevid.models import store
    from edgevid.registry import get_registry
    from edgevid_quantize.frames import frames
    from edgevid_quantize.to_torch import torch_teacher

    card = get_registry().task("orientation").models["classifier"]
    net = torch_teacher(store.fetch(card.reference), tmp_path_factory.mktemp("cls"), card)
    task = edgevid.load("orientation", backend="onnxruntime", variant="fp32")
    try:
        x = np.concatenate([task.preprocess(c) for c in frames("orientation")[1][:5]])
    finally:
        task.close()
    return net, x


def test_finds_the_classifiers_residual_blocks(classifier):
    """Seven blocks, each a branch with a conv and no inner residual, whose work adds up to what bypassing them
    all removes, exactly."""
    import copy

    import torch

    from edgevid_quantize import depth

    net, x = classifier
    x = torch.from_numpy(x)
    blocks = depth.residual_blocks(net, x)
    assert len(blocks) == 7, [b.add for b in blocks]
    adds = {b.add for b in blocks}
    assert all(not adds & set(b.branch) for b in blocks)
    before = sum(depth._conv_macs(net, x).values())
    cut = copy.deepcopy(net)
    depth.bypass(cut, blocks)
    after = sum(depth._conv_macs(cut, x).values())
    assert after == before - sum(b.macs for b in blocks), (before, after)
    with torch.no_grad():
        assert cut(x).shape == net(x).shape
    assert depth.residual_blocks(cut, x) == []


def test_bypassing_a_block_keeps_the_rest_of_the_teacher(classifier):
    """Bypassing one block changes nothing upstream of it and keeps every other layer's weights; the least
    needed blocks come first, and the classifier still reads the held-out crops' angles as the teacher does
    with a tenth of its work gone (before any refit or training)."""
    import torch

    from edgevid_quantize import depth

    net, x = classifier
    x = torch.from_numpy(x)
    with torch.no_grad():
        want = net(x)
    student, gone = depth.shallower(net, x, want, lambda o, y: ((o - y) ** 2).sum(), 0.1)
    assert gone and sum(b.macs for b in gone) >= 0.1 * sum(depth._conv_macs(net, x).values())
    kept = dict(student.named_parameters())
    assert all(torch.equal(p, kept[n]) for n, p in net.named_parameters() if n in kept)
    assert len(kept) < len(dict(net.named_parameters()))
    with torch.no_grad():
        got = student(x)
    assert torch.equal(got.argmax(-1), want.argmax(-1)), (got, want)


def test_a_unet_skip_connection_is_not_a_block():
    """``up(down(x)) + x`` holds the whole deeper network, with its own residual block inside: only that inner
    block is a candidate."""
    import torch
    import torch.fx as fx

    from edgevid_quantize import depth

    class UNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.down = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1)
            self.inner = torch.nn.Conv2d(8, 8, 3, padding=1)
            self.up = torch.nn.ConvTranspose2d(8, 8, 2, stride=2)

        def forward(self, x):
            s = self.stem(x)
            d = self.down(s)
            d = torch.add(d, self.inner(d))
            return torch.add(s, self.up(d))

    gm = fx.symbolic_trace(UNet())
    blocks = depth.residual_blocks(gm, torch.zeros(1, 3, 16, 16))
    assert [b.skip for b in blocks] == ["down"], blocks


def test_blocks_whose_shortcut_pads_or_pools_are_found(tmp_path):
    """Short-range BlazeFace has 5 plain residual blocks and 11 whose shortcut zero-pads the stream's channels
    (and max-pools it, at stride 2): all 16 are candidates. Bypassing one that pools leaves its shortcut, so
    the network still runs, at the teacher's output shapes."""
    import copy

    import torch

    from edgevid.models import store
    from edgevid.registry import get_registry
    from edgevid_quantize import depth, tflite_onnx
    from edgevid_quantize.to_torch import torch_teacher

    card = get_registry().task("face").models["short"]
    tflite_onnx.convert(store.fetch(card.reference), tmp_path / "short.onnx")
    net = torch_teacher(tmp_path / "short.onnx", tmp_path, card)
    x = torch.zeros(1, 128, 128, 3)
    blocks = depth.residual_blocks(net, x)
    assert len(blocks) == 16, [b.add for b in blocks]
    padded = [b for b in blocks if b.skip.startswith(("channel_padding", "max_pooling2d"))]
    assert len(padded) == 11, [b.skip for b in blocks]
    nodes = {n.name: n for n in net.graph.nodes}
    pooled = next(b for b in blocks if any(isinstance(net.get_submodule(a.target), torch.nn.MaxPool2d)
                                           for a in nodes[b.skip].all_input_nodes if a.op == "call_module"))
    cut = copy.deepcopy(net)
    depth.bypass(cut, [pooled])
    with torch.no_grad():
        assert [o.shape for o in cut(x)] == [o.shape for o in net(x)]
    assert sum(depth._conv_macs(cut, x).values()) == sum(depth._conv_macs(net, x).values()) - pooled.macs
