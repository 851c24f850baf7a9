"""Structured pruning that stays near the teacher: cut inner channels only, then refit by least squares.

:func:`prune` removes channels inside inverted residual blocks (``torch-pruning``, Taylor importance,
network-wide), and on request the outputs of full k x k and transposed convs that no residual stream
carries (a detector's neck and head); :func:`refit` then solves every downstream conv for the weights that
map the pruned network's own input to the teacher's output at that layer. Fine-tuning is :mod:`.train`'s.
"""

from __future__ import annotations


def _depthwise(m) -> bool:
    """A depthwise conv: one filter per channel."""
    import torch

    return isinstance(m, torch.nn.Conv2d) and m.groups > 1 and m.groups == m.in_channels == m.out_channels


def _full(m) -> bool:
    """A conv that mixes every input channel over a k x k window (k > 1), or a transposed conv."""
    import torch

    return isinstance(m, torch.nn.ConvTranspose2d) or (
        isinstance(m, torch.nn.Conv2d) and m.groups == 1 and m.kernel_size != (1, 1))


def _inner_groups_only(net, example, min_width: int, full_convs: bool = False) -> list:
    """The convs to keep whole so that only inner channels of inverted residual blocks are pruned: those of
    every channel group without a depthwise conv wider than ``min_width`` (the residual stream, the
    squeeze-excite bottlenecks, the decoder's narrow layers), and the output layer. With ``full_convs``, a
    group with no depthwise conv at all whose channels a full k x k or transposed conv makes is pruned too:
    PP-OCRv4 det's neck and head (half its work) are such convs, each feeding a concat or the next
    upsampling only, never a residual stream.

    A pruned inner channel changes only its block's projection, which :func:`refit` then solves for;
    a pruned stream channel changes every block it passes through. Pruning stream groups too left this
    BN-folded model at 0.03 mask IoU, which fine-tuning never brought back past 0.87.
    """
    import torch
    import torch_pruning as tp

    convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    graph = tp.DependencyGraph().build_dependency(net, example)
    whole = {[m for m in net.modules() if isinstance(m, convs)][-1]}
    for group in graph.get_all_groups():
        mods = [dep.target.module for dep, _ in group if graph.is_out_channel_pruning_fn(dep.handler)]
        if full_convs and any(_full(m) for m in mods) and not any(_depthwise(m) for m in mods):
            continue
        if not any(_depthwise(m) and m.out_channels > min_width for m in mods):
            whole.update(m for m in mods if isinstance(m, convs))
    return list(whole)


def prune(net, x, target, loss, ratio: float, round_to: int, min_width: int, seed: int,
          part=None, full_convs: bool = False) -> dict[str, list[int]]:
    """Remove ``ratio`` of ``net``'s inner channels, in place; returns, per conv whose outputs were cut, the
    output channels it kept (indices into the original layer).

    ``x`` are model inputs, ``target`` the teacher's outputs for them, and ``loss(output, target)`` the
    distillation loss. With ``part`` (a submodule taking the model's input), only it is pruned, its last conv
    kept whole; ``full_convs`` prunes the groups :func:`_inner_groups_only` names. Channels are ranked across
    the whole network by first-order Taylor importance (|weight x gradient| of the distillation loss), so thin,
    sensitive layers lose less than wide redundant ones: L2 magnitude, per layer, left this BN-folded model
    at 0.03-0.2 mask IoU that fine-tuning never recovered.
    """
    import torch
    import torch_pruning as tp

    part = net if part is None else part
    pruner = tp.pruner.MetaPruner(part, x[:1], importance=tp.importance.TaylorImportance(),
                                  pruning_ratio=ratio, global_pruning=True, round_to=round_to,
                                  ignored_layers=_inner_groups_only(part, x[:1], min_width, full_convs))
    net.zero_grad()
    gen = torch.Generator().manual_seed(seed)
    for i in range(0, len(x), 16):
        # at the teacher's own outputs the loss is at its minimum and the gradient ~0: small input noise
        # moves it off, so the gradient says which channels the output leans on
        xb = x[i:i + 16] + 0.05 * torch.randn(x[i:i + 16].shape, generator=gen)
        loss(net(xb), rows_of(target, i, i + 16)).backward()
    names = {m: n for n, m in net.named_modules()}
    width = {n: m.out_channels for n, m in net.named_modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))}
    removed: dict[str, set[int]] = {}
    for group in pruner.step(interactive=True):
        for dep, idxs in group:
            name = names.get(dep.target.module)
            if name in width and pruner.DG.is_out_channel_pruning_fn(dep.handler):
                removed.setdefault(name, set()).update(int(i) for i in idxs)
        group.prune()
    net.zero_grad()
    return {n: [i for i in range(width[n]) if i not in cut] for n, cut in removed.items()}


def rows_of(t, i: int, j: int):
    """Rows ``i:j`` of a tensor, or of each tensor of a tuple (a target of several parts)."""
    return tuple(p[i:j] for p in t) if isinstance(t, tuple) else t[i:j]


def _conv_inputs(gm, x):
    """Run fx graph module ``gm`` on ``x`` one node at a time (fx's ``Interpreter``, each value freed after its
    last use), and yield each conv module's name and input just before it runs: weights the caller changes
    then are the ones that conv runs with, and every later node computes from its new output."""
    import torch

    convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    run = torch.fx.Interpreter(gm)
    # what Interpreter.run sets up before its own loop, which cannot pause between nodes as this one must
    run.env, run.args_iter = {}, iter([x])
    for node in gm.graph.nodes:
        if node.op == "output":
            return
        if node.op == "call_module" and isinstance(gm.get_submodule(node.target), convs):
            yield node.target, run.env[node.args[0]]
        run.env[node] = run.run_node(node)
        for dead in run.user_to_last_uses.get(node, []):
            del run.env[dead]


def _solve(x, y, bias: bool, ridge: float = 1e-4, prior=None):
    """Least squares, lightly ridge-regularised: ``x`` (..., n, k), ``y`` (..., n, m) -> (..., k [+ 1], m),
    the last row the bias when ``bias``; with ``prior`` (the same shape as the answer), pulled toward it."""
    x = _with_ones(x, bias)
    return _normal_solve(x.transpose(-1, -2) @ x, x.transpose(-1, -2) @ y.double(), ridge, prior)


def _with_ones(x, bias: bool):
    """``x`` (..., n, k) in float64, with a column of ones appended when ``bias``."""
    import torch

    # written into one buffer: converting, then concatenating along a last axis of 10 copied element by element
    # at a quarter of the speed (BlazePose's detector: 41 of the refit's 101 s)
    out = torch.empty(*x.shape[:-1], x.shape[-1] + bias, dtype=torch.float64)
    out[..., :x.shape[-1]] = x
    if bias:
        out[..., -1] = 1
    return out


def _normal_solve(a, b, ridge: float = 1e-4, prior=None):
    """The solution of the normal equations ``a w = b``, ridge-regularised by ``ridge`` of ``a``'s mean
    diagonal (a pruned input's near-duplicate channels leave ``a`` near singular): toward zero, or toward
    ``prior``."""
    import torch

    lam = ridge * a.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None]
    a = a + lam * torch.eye(a.shape[-1], dtype=a.dtype)
    return torch.linalg.solve(a, b if prior is None else b + lam * prior.double())


def _fit_full(m, inp, target, ridge: float = 1e-4):
    """(weight, bias) of a full k x k conv by least squares over its unfolded patches (Cin x k x k unknowns per
    output), the normal equations summed a few images at a time: every patch at once would take GBs."""
    import torch
    import torch.nn.functional as F

    k = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
    bias = m.bias is not None
    a = torch.zeros(k + bias, k + bias, dtype=torch.float64)
    b = torch.zeros(k + bias, m.out_channels, dtype=torch.float64)
    for i in range(0, len(inp), 4):
        cols = F.unfold(inp[i:i + 4], m.kernel_size, dilation=m.dilation, padding=m.padding, stride=m.stride)
        xs = _with_ones(cols.transpose(1, 2).reshape(-1, k), bias)
        ys = target[i:i + 4].flatten(2).transpose(1, 2).reshape(-1, m.out_channels).double()
        a += xs.T @ xs
        b += xs.T @ ys
    sol = _normal_solve(a, b, ridge)  # unfold's rows run (channel, ky, kx), as the weight's do
    return sol[:k].T.reshape(m.weight.shape), sol[k:].reshape(-1)


def _fit_transposed(m, inp, target, ridge: float = 1e-4):
    """(weight, bias) of a transposed conv whose stride is its kernel (an upsampling: each input pixel writes
    its own k x k output block) by least squares: one 1x1 problem per block position, on the same inputs, all
    solved at once because the bias is shared by the positions."""
    import torch

    kh, kw = m.kernel_size
    cin, cout, blocks = m.in_channels, m.out_channels, kh * kw
    bias = m.bias is not None
    xs = inp.permute(0, 2, 3, 1).reshape(-1, cin).double()
    n, h, w = len(inp), inp.shape[2], inp.shape[3]
    # output pixel (i*kh + y, j*kw + x) is input pixel (i, j) through weight[:, :, y, x]
    ys = target.reshape(n, cout, h, kh, w, kw).permute(0, 2, 4, 3, 5, 1).reshape(-1, blocks, cout).double()
    a = torch.zeros(blocks * cin + bias, blocks * cin + bias, dtype=torch.float64)
    b = torch.zeros(blocks * cin + bias, cout, dtype=torch.float64)
    gram, sums = xs.T @ xs, xs.sum(0)
    for j in range(blocks):
        rows = slice(j * cin, (j + 1) * cin)
        a[rows, rows] = gram
        b[rows] = xs.T @ ys[:, j]
        if bias:
            a[rows, -1] = a[-1, rows] = sums
    if bias:
        a[-1, -1] = blocks * len(xs)
        b[-1] = ys.sum((0, 1))
    sol = _normal_solve(a, b, ridge)
    return sol[:blocks * cin].reshape(kh, kw, cin, cout).permute(2, 3, 0, 1), sol[blocks * cin:].reshape(-1)


def _ridge(pull: float, prior) -> dict:
    """:func:`_solve`'s regularisation: toward ``prior`` (the layer's weights as pruning left them: the
    teacher's) at ``pull`` of the mean diagonal, or the default light ridge toward zero."""
    return {"ridge": pull, "prior": prior} if pull else {}


def _upsampling(m) -> bool:
    """A transposed conv that :func:`_fit_transposed` can solve: stride equal to kernel, nothing padded."""
    return (tuple(m.stride) == tuple(m.kernel_size) and m.groups == 1 and not any(m.padding)
            and not any(m.output_padding) and tuple(m.dilation) == (1, 1))


def _solvable(m, full_convs: bool) -> bool:
    """Whether :func:`refit` solves layer ``m``: a 1x1 or depthwise conv, and with ``full_convs`` a full k x k
    conv or an upsampling transposed conv. Without it those are left to fine-tuning: an inner-channel pruning
    leaves their inputs exact."""
    import torch

    if _full(m):
        return full_convs and not isinstance(m.padding, str) and (isinstance(m, torch.nn.Conv2d) or _upsampling(m))
    return _depthwise(m) or (m.groups == 1 and m.kernel_size == (1, 1))


def refit(net, teacher, kept: dict[str, list[int]], x, seed: int, rows: int = 200_000, part=None,
          full_convs: bool = False, pull: float = 0.0) -> int:
    """Refit every 1x1 and depthwise conv of the pruned ``net`` (with ``full_convs``, every full k x k conv and
    upsampling transposed conv too), in graph order, by least squares: weights that
    map the pruned network's own input at that layer to the teacher's output at the kept channels. Each
    layer corrects the error of the layers before it instead of passing it on (He et al., "Channel pruning
    for accelerating very deep neural networks", 2017). ``kept`` is :func:`prune`'s answer, ``x`` the model
    inputs to solve on; with ``part``, only its layers are refit (what follows it stays the teacher's).
    With ``pull``, each 1x1 and depthwise layer's ridge pulls toward its weights as pruning left them (the
    teacher's) instead of toward zero: inputs that do not pin a weight down leave it the teacher's.
    Returns how many layers were refit.

    Selfie segmentation, 20% pruned: 0.0 mask IoU with no refit; refit, with no training, 0.856 (toward zero)
    and 0.923 (pulled at 0.01).
    """
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    last = [n for n, m in net.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    # the refit layers' graph, and its name inside ``net`` (``kept`` and ``last`` name layers from there)
    where = "" if part is None else next(n for n, m in net.named_modules() if m is part)
    body, teacher_body = (net, teacher) if part is None else (part, teacher.get_submodule(where))
    prefix = where and where + "."
    # one forward pass of each model, in step, layer by layer: each layer is refit on the maps the layers
    # before it, already refit, give. A pass from the input for every layer, in each model, cost BlazePose's
    # detector 348 s on 128 frames, against 13 s, for the same weights
    ahead = _conv_inputs(teacher_body, x)
    done = 0
    with torch.no_grad():
        for name, inp in _conv_inputs(body, x):
            want_x = next((t for n, t in ahead if n == name), None)
            if want_x is None:
                raise ValueError(f"refit: layer {prefix + name} comes in another order in the teacher, "
                                 "or not at all")
            m = body.get_submodule(name)
            if prefix + name == last or not _solvable(m, full_convs):
                continue
            if inp.shape == want_x.shape and torch.equal(inp, want_x):
                continue  # upstream of every pruned channel: already the teacher's layer, exactly
            want_y = teacher_body.get_submodule(name)(want_x)
            target = want_y[:, kept[prefix + name]] if prefix + name in kept else want_y
            depthwise, full = _depthwise(m), _full(m)
            if full:
                weight, bias = (_fit_transposed if isinstance(m, torch.nn.ConvTranspose2d) else _fit_full)(m, inp, target)
            elif depthwise:  # one small problem per channel: its k x k patch -> its output
                # only as many images as the row budget needs: unfolding all of them at full resolution is GBs
                n = -(-rows // (target.shape[2] * target.shape[3]))
                inp, target = inp[:n], target[:n]
                k = m.kernel_size[0] * m.kernel_size[1]
                cols = F.unfold(inp, m.kernel_size, dilation=m.dilation, padding=m.padding, stride=m.stride)
                xs = cols.reshape(len(inp), m.in_channels, k, -1).permute(1, 0, 3, 2).reshape(m.in_channels, -1, k)
                ys = target.reshape(len(inp), m.out_channels, -1).permute(1, 0, 2).reshape(m.out_channels, -1, 1)
                pick = torch.randperm(xs.shape[1], generator=gen)[:rows]
                prior = None
                if pull:
                    prior = m.weight.detach().reshape(m.out_channels, k, 1)
                    if m.bias is not None:
                        prior = torch.cat([prior, m.bias.detach().reshape(-1, 1, 1)], 1)
                # (C, k [+ 1])
                # a few channels at a time, each solving alone: all at once, BlazePose's detector's 480 channels of
                # 5x5 patches took 2.5 GB in one buffer, and its refit 60 s where it now takes 35 s
                sol = torch.cat([_solve(xs[c:c + 32, pick], ys[c:c + 32, pick], m.bias is not None,
                                        **_ridge(pull, None if prior is None else prior[c:c + 32]))[..., 0]
                                 for c in range(0, m.in_channels, 32)])
                weight, bias = sol[:, :k], sol[:, k:]
            else:
                xs = inp.permute(0, 2, 3, 1).reshape(-1, m.in_channels)
                ys = target.permute(0, 2, 3, 1).reshape(-1, m.out_channels)
                pick = torch.randperm(len(xs), generator=gen)[:rows]
                prior = None
                if pull:
                    prior = m.weight.detach().reshape(m.out_channels, m.in_channels).T
                    if m.bias is not None:
                        prior = torch.cat([prior, m.bias.detach().reshape(1, -1)], 0)
                sol = _solve(xs[pick], ys[pick], m.bias is not None, **_ridge(pull, prior))  # (Cin [+ 1], Cout)
                weight, bias = sol[:m.in_channels].T, sol[m.in_channels:].reshape(-1)
            m.weight.copy_(weight.reshape(m.weight.shape).float())
            if m.bias is not None:
                m.bias.copy_(bias.reshape(-1).float())
            done += 1
    return done
