"""A shallower copy of the teacher: its least needed residual blocks bypassed (depth pruning).

Structured pruning for models whose channels cannot be cut apart: BlazeFace and BlazePose's detector keep all
their channels on one residual stream that grows by zero-padding, so ``torch-pruning`` ties every conv into a
single group. Their blocks can go instead. A residual block computes ``x + f(x)``; bypassing it leaves ``x``,
so the network stays whole and every other layer keeps the teacher's weights. :mod:`.train` then refits the
layers after each gap by least squares and fine-tunes by distillation, as for channel pruning (depth pruning
with a teacher-initialised student: Shleifer & Rush, "Pre-trained summarization distillation", 2020).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One residual block of a torch.fx graph: ``add`` = ``skip`` + the branch computed from ``skip``, or from
    the tensor ``skip`` pads or pools (a block that downsamples or widens the stream)."""

    add: str
    skip: str
    branch: tuple[str, ...]
    macs: int


def _is_add(gm, node) -> bool:
    """Whether fx ``node`` adds two tensors (onnx2torch's ``Add`` module, or ``torch.add`` / ``+``)."""
    import torch
    from onnx2torch.node_converters.binary_math_operations import OnnxBinaryMathOperation

    if node.op == "call_module":
        mod = gm.get_submodule(node.target)
        return isinstance(mod, OnnxBinaryMathOperation) and mod.math_op_function is torch.add
    return node.op == "call_function" and node.target in (torch.add, operator.add)


def _conv_macs(gm, example) -> dict[str, int]:
    """Multiply-accumulates of each conv node of ``gm`` for ``example`` (one image), by node name."""
    import torch

    macs: dict[str, int] = {}
    mods = {m: n for n, m in gm.named_modules()}
    convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)

    def count(m, a, o):
        # a conv computes each output from one filter; a transposed conv spreads each input over one filter
        macs[mods[m]] = int((o[0] if isinstance(m, torch.nn.Conv2d) else a[0][0]).numel() * m.weight[0].numel())

    hooks = [m.register_forward_hook(count) for m in gm.modules() if isinstance(m, convs)]
    try:
        with torch.no_grad():
            gm(example[:1])
    finally:
        for h in hooks:
            h.remove()
    return {n.name: macs[n.target] for n in gm.graph.nodes if n.op == "call_module" and n.target in macs}


def _unpadded(gm, node):
    """What ``node`` zero-pads or max-pools, through any chain of such ops (BlazeFace's shortcut widens the
    stream by zero channels and halves it by max pooling); ``node`` itself when it is neither."""
    import torch
    from onnx2torch.node_converters.pad import OnnxPadDynamic, OnnxPadStatic

    while node.op == "call_module" and isinstance(gm.get_submodule(node.target),
                                                  (OnnxPadDynamic, OnnxPadStatic, torch.nn.MaxPool2d)):
        (node,) = [a for a in node.all_input_nodes if a.op != "get_attr"]
    return node


def residual_blocks(gm, example) -> list[Block]:
    """The innermost residual blocks of the fx graph ``gm``: adds whose one input computes the other (or the
    tensor the other zero-pads or max-pools) through a branch with a conv, which nothing outside the branch
    reads, and which holds no other residual add (a U-Net's skip connection holds the whole deeper network,
    and is never a candidate)."""
    nodes = list(gm.graph.nodes)
    macs = _conv_macs(gm, example)
    blocks, adds = [], set()
    for add in nodes:
        if not _is_add(gm, add) or len(add.all_input_nodes) != 2:
            continue
        for skip, out in (add.all_input_nodes, add.all_input_nodes[::-1]):
            branch = _between(_unpadded(gm, skip), out)
            if branch is None:
                continue
            inside = set(branch)
            if any(u not in inside and u is not add for n in branch for u in n.users):
                continue  # another path reads the branch's maps: bypassing it would cut them
            work = sum(macs.get(n.name, 0) for n in branch)
            if work:
                blocks.append((add, skip, branch, work))
                adds.add(add)
            break
    return [Block(a.name, s.name, tuple(n.name for n in b), w) for a, s, b, w in blocks
            if not any(n in adds for n in b)]


def _between(skip, out) -> list | None:
    """Nodes on the paths from ``skip`` to ``out`` (``out`` included, ``skip`` not), or None when ``out``
    reads anything but ``skip``, its descendants and constants."""
    below, todo = set(), [skip]
    while todo:
        for u in todo.pop().users:
            if u not in below:
                below.add(u)
                todo.append(u)
    if out not in below:
        return None
    branch, todo = {out}, [out]
    while todo:
        for a in todo.pop().all_input_nodes:
            if a is skip or a in branch or a.op == "get_attr":
                continue
            if a not in below:
                return None
            branch.add(a)
            todo.append(a)
    order = {n: i for i, n in enumerate(out.graph.nodes)}
    return sorted(branch, key=order.get)


def bypass(gm, blocks: list[Block]) -> None:
    """Bypass ``blocks`` in ``gm``, in place: each add's readers read its skip input instead."""
    by_name = {n.name: n for n in gm.graph.nodes}
    order = {n: i for i, n in enumerate(by_name)}
    # last first: a block's skip may be the previous block's add, whose readers are then redirected in turn
    for b in sorted(blocks, key=lambda b: order[b.add], reverse=True):
        by_name[b.add].replace_all_uses_with(by_name[b.skip])
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()


def shallower(teacher, x, target, loss, drop: float):
    """A copy of ``teacher`` with its least needed residual blocks bypassed until ``drop`` of its conv work is
    gone; returns ``(student, bypassed blocks)``.

    Each block is ranked by the distillation loss ``loss(output, target)`` of the teacher with that block
    alone bypassed, on inputs ``x``: the cheapest in loss go first, whatever their size.
    """
    import copy

    import torch

    from .prune import rows_of

    blocks = residual_blocks(teacher, x)
    total = sum(_conv_macs(teacher, x).values())

    def cost(block: Block) -> float:
        trial = copy.deepcopy(teacher)
        bypass(trial, [block])
        with torch.no_grad():
            return float(sum(loss(trial(x[i:i + 16]), rows_of(target, i, i + 16)) for i in range(0, len(x), 16)))

    chosen, saved = [], 0
    for block in sorted(blocks, key=cost):
        if saved >= drop * total:
            break
        chosen.append(block)
        saved += block.macs
    student = copy.deepcopy(teacher)
    bypass(student, chosen)
    return student, chosen

