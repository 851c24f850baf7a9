"""``pruned`` and ``distilled`` variants: real training on unlabeled frames, the fp32 model as the teacher.

* **pruned** — the fp32 ONNX is converted to torch (``onnx2torch``) and the inner channels of its inverted
  residual blocks (expand conv, depthwise conv, squeeze-excite) are pruned by structured pruning
  (``torch-pruning``, ranked network-wide by Taylor importance, counts kept multiples of 8 for the
  runtimes' vector kernels). Every 1x1 and depthwise conv is then refit by least squares to the
  teacher's own output at that layer, in graph order, and the network is fine-tuned by distillation
  from the teacher's feature maps and output, then exported to ONNX. A recipe may prune only the part
  up to one tensor (``prune_until``: the recogniser's backbone, 98% of its work); the part after it is
  converted apart, kept frozen, and joined on again from the source graph.
* **distilled** — a much smaller student (:mod:`.students`) trained on the teacher's outputs: from scratch, or
  (``trunk``) on the teacher's own first layers, frozen, with a small head of its own.

What is learned depends on the model's output (:mod:`.targets`): a dense map (selfie segmentation,
PP-OCRv4's text detector), per-step class distributions (PP-OCRv4's recogniser), an SSD detector's
per-anchor scores and regressors (BlazeFace, BlazePose's detector) or a landmark regressor's keypoints,
scores and heatmaps (BlazePose's landmark model); no loss needs the teacher's output decoded. A dense-map
model with a dynamic input size trains on crops of a fixed size (the recipe's) and is exported with height
and width still free; the recogniser trains on the line crops the fp32 task cuts, at their own widths, and
keeps its batch and width free.

The teacher labels frames that nobody labelled (:func:`.frames.unlabeled`, or the user's ``--calib``
source as well); every figure is measured on the held-out frames the toolchain scores every variant on.
Results are cached by a hash of the recipe (source, kind, hyper-parameters, frames, versions), so a
rebuild with the same inputs does no training and writes the same bytes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from .recipes import FLOORS, RECIPES, Recipe

#: the most memory a frozen trunk's outputs for the whole pool may take to be computed once rather than at
#: every step (BlazePose's detector: 1536 frames x 125 kB; its landmark model's outputs and taps,
#: 4608 crops x 2.9 MB, do not fit)
TRUNK_CACHE_BYTES = 2 * 2**30


def _key(source_sha256: str, recipe: Recipe, calib: str | None) -> str:
    from edgevid import testing
    from edgevid.models.store import sha256_of

    # the training code itself is part of the recipe: a change to the loss or the student retrains
    code = [sha256_of(Path(__file__).with_name(n)) for n in ("train.py", "prune.py", "students.py", "frames.py",
                                                             "targets.py", "pools.py", "anchors.py", "keypoints.py",
                                                             "to_torch.py", "depth.py", "losses.py")]
    # and the scenes the unlabeled frames are composed of (which photos, which people)
    code += [sha256_of(p) for p in sorted(Path(testing.__file__).parent.glob("scenes_*.py"))]
    # keyed on the pinned source, not on its ONNX conversion: tf2onnx's bytes may differ between runs
    blob = {"source": source_sha256, "recipe": asdict(recipe), "calib": calib, "code": code,
            "versions": {p: version(p) for p in ("torch", "onnx2torch", "torch-pruning", "tf2onnx", "edgevid-quantize")}}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _train_mode(net, frozen_norms: bool) -> None:
    """``net`` in training mode; with ``frozen_norms`` (a pruned copy of the teacher), its batch norms stay in
    eval mode: batches of 8-16 crops would replace the running statistics the teacher's features were made
    with. A student trained from scratch learns its own."""
    import torch

    net.train()
    for m in net.modules():
        if frozen_norms and isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


def _feature_taps(net, teacher, example) -> list[str]:
    """Names of the layers whose output maps have the same shape in ``net`` and ``teacher`` (every layer on
    the residual stream, once only inner channels are pruned): where the student can copy the teacher's
    features, not only its output."""
    import torch

    def maps(model):
        got = {}
        hooks = [m.register_forward_hook(lambda m, a, o, n=n: got.__setitem__(n, o))
                 for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
        with torch.no_grad():
            model(example)
        for h in hooks:
            h.remove()
        return got

    t, s = maps(teacher), maps(net)
    # spatial maps only: squeeze-excite's 1x1 vectors vary little across images, and normalised by that
    # variance they would outweigh every real feature map
    return [n for n in t if n in s and t[n].shape == s[n].shape and t[n].shape[-1] > 1 and t[n].shape[1] > 1]


def _trunk_outputs(net, data, say, limit: int = TRUNK_CACHE_BYTES) -> list | None:
    """What ``net``'s frozen trunk gives for every pool row, computed once: one tensor per trunk output, rows in
    pool order. None when ``net`` has no trunk, when ``data`` changes its inputs between steps (flips), or when
    they would take more than ``limit`` bytes. The trunk is in eval mode and never trains, so each row's outputs
    are the same at every step, and its forward pass was most of a step's work (BlazePose's detector: 320 of
    340 MMAC)."""
    import torch

    from .students import as_maps

    trunk = getattr(net, "trunk", None)
    if trunk is None or not getattr(data, "fixed_inputs", False):
        return None
    trunk.eval()
    chunk, n = 32, len(data)
    with torch.no_grad():
        first = trunk(torch.from_numpy(data.inputs(range(min(chunk, n)))))
        first = as_maps(first)
        need = n * sum(t[0].numel() * t.element_size() for t in first)
        if need > limit:
            say(f"    trunk outputs not kept: {need / 2**20:.0f} MB over {limit / 2**20:.0f} MB; "
                "the trunk runs at every step")
            return None
        kept = [torch.empty((n, *t.shape[1:]), dtype=t.dtype) for t in first]
        for i in range(0, n, chunk):
            got = first if i == 0 else trunk(torch.from_numpy(data.inputs(range(i, min(i + chunk, n)))))
            for k, t in zip(kept, as_maps(got)):
                k[i:i + len(t)] = t
    say(f"    trunk outputs kept for {n} examples ({need / 2**20:.0f} MB): the trunk ran once")
    return kept


def _fit(net, data, recipe: Recipe, say, teacher=None) -> list[float]:
    """Distillation: ``steps`` of Adam (warm-up, then cosine decay) on ``data``'s loss between the student's
    output and the teacher's, over batches ``data`` draws. With a torch ``teacher`` of the same layout
    (pruning), the mean squared difference of every feature map the two share, each normalised by the
    teacher's variance there, is added. A student on a frozen trunk runs only its own layers at each step, on
    the trunk's outputs kept for the pool (``_trunk_outputs``), when they fit. Returns the mean loss per tenth."""
    import torch
    from rich.progress import Progress

    from .losses import squared_error

    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    feats: dict[str, dict] = {"student": {}, "teacher": {}}
    hooks, scale = [], {}
    if teacher is not None:
        teacher.eval()
        sample = torch.from_numpy(data.inputs(range(32)))
        taps = _feature_taps(net, teacher, sample[:1])
        for who, model in (("student", net), ("teacher", teacher)):
            mods = dict(model.named_modules())
            hooks += [mods[n].register_forward_hook(lambda m, a, o, n=n, w=who: feats[w].__setitem__(n, o)) for n in taps]
        with torch.no_grad():
            teacher(sample)
        scale = {n: feats["teacher"][n].var().clamp_min(1e-6) for n in taps}
    opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
    # a warm-up, and clipped gradients: full-size Adam steps at the start collapsed the pruned (BN-free)
    # network to a constant map it never left (loss stuck at the entropy of the mask prior, 0.38)
    warm = max(1, recipe.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(1.0, i / recipe.steps))))
    kept = _trunk_outputs(net, data, say)
    _train_mode(net, frozen_norms=teacher is not None)
    tenth = max(1, recipe.steps // 10)
    losses, running = [], 0.0
    try:
        with Progress(transient=True) as bar:
            job = bar.add_task(f"{recipe.kind}: distilling", total=recipe.steps)
            for step in range(recipe.steps):
                idx = data.draw(rng, recipe.batch)
                if kept is not None:
                    rows = torch.from_numpy(np.asarray(idx))
                    out, yb = net.from_trunk([t[rows] for t in kept]), data.targets(idx)
                else:
                    xb, yb = data.batch(idx, rng)
                    if teacher is not None:
                        with torch.no_grad():
                            teacher(xb)
                    out = net(xb)
                loss = data.loss(out, yb)
                if scale:
                    loss = loss + sum(squared_error(feats["student"][n], feats["teacher"][n]) / v
                                      for n, v in scale.items()) / len(scale)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                sched.step()
                running += float(loss.detach())
                if (step + 1) % tenth == 0:
                    losses.append(round(running / tenth, 5))
                    running = 0.0
                bar.advance(job)
    finally:
        for h in hooks:
            h.remove()
    net.eval()
    say(f"    {recipe.kind}: distillation loss {' -> '.join(str(v) for v in losses[::3] + losses[-1:])}")
    return losses


def _export(net, example, out: Path, data, dynamic: bool, src: Path, rest: tuple[Path, str] | None = None) -> None:
    """``net`` to ONNX with ``data``'s output name and free axes, and ``src``'s metadata (the recogniser's
    dictionary is there). With ``rest`` (the ONNX part after tensor ``until``, kept whole), only ``net[0]`` is
    exported and ``rest`` joined after it: tracing bakes the sizes its run-time reshapes compute into
    constants, and the source graph computes them."""
    import onnx
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    axes = data.free_axes(dynamic)
    with torch.no_grad():
        # the TorchScript exporter: no onnxscript dependency
        torch.onnx.export(net[0] if rest else net, (example,), str(out), dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["features"] if rest else data.outputs,
                          dynamic_axes=axes and ({"input": axes["input"], "features": axes["input"]} if rest
                                                 else axes),
                          do_constant_folding=True)
    model = onnx.load(str(out))
    if rest:
        from onnx import compose, version_converter

        tail = version_converter.convert_version(onnx.load(str(rest[0])), 17)
        del tail.graph.value_info[:]  # the rank hints added for onnx2torch; the joined graph infers its own
        model = compose.merge_models(model, tail, io_map=[("features", rest[1])])
    model.metadata_props.extend(onnx.load(str(src), load_external_data=False).metadata_props)
    onnx.save(model, str(out))


def _macs(net, example) -> int:
    """Multiply-accumulates of one inference of a torch model (``torch-pruning``'s counter): the size of the
    work, independent of the machine."""
    import torch_pruning as tp

    macs, _ = tp.utils.count_ops_and_params(net, example)
    return int(macs)


def build(job, kind: str, onnx_src: Path) -> dict[str, Any]:
    """Train (or take from the cache) the ``kind`` variant of ``job.card``; returns its manifest entry."""
    import torch

    from edgevid.models import store

    from . import depth, prune
    from .frames import from_source, unlabeled
    from .latency import latency_ratio
    from .manifest import entry
    from .targets import TARGETS
    from .to_torch import FLEXIBLE, torch_teacher, torch_trunk
    from .workers import in_fresh_process

    recipe = RECIPES[job.card.id][kind]
    dynamic = None in job.card.input.size
    h, w = recipe.size or job.card.input.size
    cache = store.home() / "cache" / "train" / _key(job.card.reference.sha256, recipe, job.calib)
    out = job.folder / kind / f"{onnx_src.stem}.onnx"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not (cache / "model.onnx").is_file():
        work = cache.with_suffix(".partial")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        frames = unlabeled(job.task, recipe.frames, recipe.seed, h, w)
        if job.calib:
            frames += from_source(job.calib)
        t0 = time.perf_counter()
        data = TARGETS[recipe.target](job, onnx_src, frames, h, w, recipe)
        del frames
        example = torch.from_numpy(data.inputs([0]))
        teacher = torch_teacher(onnx_src, work, job.card, recipe.prune_until)
        fp32_macs = _macs(teacher, example)
        torch.manual_seed(recipe.seed)
        extra = {}
        if kind == "pruned":
            first = data.head(64)
            x, part = torch.from_numpy(data.inputs(first)), None
            if recipe.drop:  # in depth: the channels form one group
                net, gone = depth.shallower(teacher, x, data.targets(first), data.ranking_loss, recipe.drop)
                extra["bypassed_blocks"], kept = [b.add for b in gone], {}
            else:
                net = copy.deepcopy(teacher)
                if recipe.prune_until:  # the part after it is exported from its source graph: it must not change
                    part = net[0]
                    net[1].requires_grad_(False)
                kept = prune.prune(net, x, data.targets(first), data.ranking_loss, recipe.prune_ratio,
                                   recipe.round_to, recipe.min_width, recipe.seed, part=part,
                                   full_convs=recipe.full_convs)
            extra["refit_layers"] = prune.refit(net, teacher, kept, torch.from_numpy(
                data.inputs(data.head(recipe.refit_images))), recipe.seed, part=part, full_convs=recipe.full_convs,
                pull=recipe.refit_pull)
            losses = _fit(net, data, recipe, job.say, teacher=teacher)
        else:
            trunk = {"trunk": torch_trunk(work / FLEXIBLE, data.trunk_ends(recipe.trunk))} if recipe.trunk else {}
            net = data.student(recipe.student_width, **trunk)
            losses = _fit(net, data, recipe, job.say)
        _export(net, example, work / "model.onnx", data, dynamic, onnx_src,
                (work / "rest.onnx", recipe.prune_until) if kind == "pruned" and recipe.prune_until else None)
        macs = {"macs": _macs(net, example), "fp32_macs": fp32_macs}
        log = {**macs, **extra, "training_examples": len(data), "loss_every_tenth": losses,
               "train_seconds": round(time.perf_counter() - t0, 1), "threads": torch.get_num_threads(),
               "tool": ("onnx2torch + torch-pruning (inner channels, Taylor importance, global) + least-squares "
                        "refit + feature distillation" if kind == "pruned" and not recipe.drop else
                        "onnx2torch + depth pruning (the least needed residual blocks bypassed) + least-squares "
                        "refit + feature distillation" if kind == "pruned" else
                        f"distillation into {type(net).__name__}" + (
                            f" (the teacher's layers up to {', '.join(data.trunk_ends(recipe.trunk))}, frozen, "
                            "and a head of its own)" if recipe.trunk else ""))}
        (work / "log.json").write_text(json.dumps(log))
        shutil.rmtree(cache, ignore_errors=True)
        work.rename(cache)
        cached = False
    else:
        log = json.loads((cache / "log.json").read_text())
        cached = True
    shutil.copyfile(cache / "model.onnx", out)
    recipe_out = {"source": "fp32-onnx" if onnx_src.parent.name == "fp32-onnx" else job.card.reference.name,
                  **asdict(recipe), **log, "cache_key": cache.name, "from_cache": cached,
                  "reproducible": "same recipe hash gives these bytes: from the cache, or retrained on the same "
                                  "machine and thread count; a retrain elsewhere may sum in another order, and over "
                                  "thousands of steps that can move the accuracy (selfie segmentation's distilled "
                                  "recipe has read 0.877 and 0.859 in two sessions)"}
    # in a fresh process: torch's OpenMP threads spin for a while after training and slowed ONNX Runtime 3x
    recipe_out["latency"] = in_fresh_process(latency_ratio, onnx_src, out, TARGETS[recipe.target].latency_input(
        job, dynamic, h, w))
    e = entry(job.card.id, kind, "onnx", "fp32", kind, out, recipe_out)
    e["accuracy"] = job.score(e, "onnxruntime")
    e["floor"] = FLOORS[kind]
    # outputs the task's metric does not read (a landmark model's mask) are held to the same floor
    others = TARGETS[recipe.target].output_agreement(job, onnx_src, out)
    if others:
        e["output_agreement"] = others
    e["below_floor"] = min([e["accuracy"], *others.values()]) < FLOORS[kind]
    lat = " and ".join(f"{v['ms']:.2f} vs {v['fp32_ms']:.2f} ms on {k} ({v['speedup']:.2f}x)"
                       for k, v in recipe_out["latency"].items())
    job.say(f"  {job.card.id} {kind}: {e['size'] / 2**20:.2f} MB, {recipe_out['macs'] / 1e6:.0f} vs "
            f"{recipe_out['fp32_macs'] / 1e6:.0f} MMAC, {lat}, accuracy {e['accuracy']:.4f} (floor {FLOORS[kind]})"
            + "".join(f", {k} {v:.4f}" for k, v in others.items()) + (" [cached]" if cached else ""))
    return e
