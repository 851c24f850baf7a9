"""The recipes: how each model's ``pruned`` and ``distilled`` variants are made (:mod:`.train` makes them),
the accuracy floors they are held to, and why a model has no recipe for a kind.

A recipe is data: its fields are hashed into the training cache key, so a change to one model's recipe
retrains that model only.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

#: Each held-out figure must reach this fraction of the fp32 task metric, or the variant is flagged below it.
FLOORS = {"pruned": 0.95, "distilled": 0.90}


@dataclass(frozen=True)
class Recipe:
    """How one model is pruned or distilled. Steps are the budget: minutes on 2 CPU cores."""

    kind: str
    steps: int
    batch: int = 16
    lr: float = 3e-3
    frames: int = 768
    prune_ratio: float = 0.2
    round_to: int = 8
    #: inner groups this narrow or narrower are kept whole: halving a 16-wide layer at full resolution
    #: cost 0.04 mask IoU for little work saved
    min_width: int = 24
    #: images the least-squares refit of each layer is solved on
    refit_images: int = 128
    #: the refit's ridge toward the layer's own (teacher's) weights, as a fraction of its inputs' mean energy;
    #: 0: a light ridge toward zero
    refit_pull: float = 0.0
    student_width: int = 16
    #: training size (h, w) for a model whose input size is dynamic; the unlabeled frames are made at it (an
    #: SSD detector's too: the task letterboxes and tiles camera frames for it)
    size: tuple[int, int] | None = None
    seed: int = 0
    #: what the model outputs, so what is learned (:data:`.targets.TARGETS`)
    target: str = "maps"
    #: a dense map's batches mirrored half the time, frame and map alike. The teacher's map of a mirrored frame
    #: is not its mirrored map (selfie segmentation: cross-entropy 0.20 between them, 0.025 to its own), so
    #: flips teach a map the teacher never gives; they cost the pruned selfie model 0.02 mask IoU and the
    #: teacher, fine-tuned, 0.035, yet students trained from scratch need the variety (text detector: 0.782 of
    #: fp32 without, 0.946 with; selfie segmentation: 0.827 without, 0.870 with)
    flips: bool = False
    #: the ONNX tensor that ends the part pruned; the rest is converted apart and kept whole (torch-pruning's
    #: grouping never finished on the recogniser's attention neck, 2% of its work)
    prune_until: str | None = None
    #: also prune (and refit) the outputs of full k x k and transposed convs off the residual stream: a
    #: detector's neck and head (:func:`.prune._inner_groups_only`)
    full_convs: bool = False
    #: an SSD detector's feature maps, (stride, anchors per cell) each, in output order: the student emits
    #: the teacher's anchors (MediaPipe's SsdAnchorsCalculator options, as the plugins decode them)
    anchors: tuple[tuple[int, int], ...] = ()
    #: weight of an SSD detector's peak term (:meth:`.anchors.Anchors.loss`)
    peak_weight: float = 1.0
    #: weight of an SSD detector's plain score term against its regression term (:meth:`.anchors.Anchors.loss`)
    score_weight: float = 1.0
    #: depth pruning: the fraction of the teacher's conv work to remove by bypassing its least needed residual
    #: blocks (:mod:`.depth`), for models whose channels all sit on one residual stream; 0 prunes channels
    drop: float = 0.0
    #: distilled: the ONNX tensor up to which the student is the teacher itself, frozen; the student's own, smaller
    #: layers follow (:class:`.students.TrunkCls`, :class:`.students.TinyDet`). Several, coarsest first, where the
    #: student's head reads more than one (:class:`.students.TrunkMask`). None: the student is trained from scratch
    trunk: str | tuple[str, ...] | None = None


#: model id -> kind -> recipe. Models whose output a loss can compare without decoding it: dense maps and
#: per-step class distributions.
# selfie segmentation pruned: the refit pulled toward the teacher's weights read 0.923 with no training, against
# 0.856 for the light ridge toward zero (pull 0.1: 0.917, 1.0: 0.902); then 300 steps at Adam 3e-4 / 3e-5 / 1e-5
# read 0.915 / 0.928 / 0.927 (at 3e-4 Adam's noise costs even the unpruned teacher 0.035), and 1000 steps over 1536
# frames at 3e-5 0.927; 10% of inner channels 0.937 (62 MMAC, 1.03x); distilled: flips (see Recipe.flips), and 2500
# steps over 1536 frames rather than 1000 over 768 (general 0.877 vs 0.870, landscape 0.805 vs 0.740); a wider
# student (w=32) read 0.845 and a deeper one (two blocks at strides 8-32) 0.856; the teacher's whole encoder,
# frozen, under a gated head 0.896 (1.1x); pruned in depth instead (10% of its work in residual blocks bypassed, 61
# MMAC, 1.09x), with the same refit and training, 0.899
RECIPES: dict[str, dict[str, Recipe]] = {
    mid: {"pruned": Recipe("pruned", steps=300, lr=3e-5, prune_ratio=0.2, frames=768, refit_pull=0.01),
          "distilled": Recipe("distilled", steps=2500, frames=1536, student_width=24, flips=True)}
    for mid in ("selfie-segmentation", "selfie-segmentation-landscape")
}
# PP-OCRv4 det is 28x the selfie model's work per frame (1.7 GMAC at 640x480): it trains on 320x320 crops,
# and fewer of them. Pruned: half its work is its neck's and head's full 3x3 convs; with the backbone's inner
# channels alone the same 40% left 514 of 638 MMAC (1.22x), with them too 259 (1.66x), both reading 0.981
RECIPES["ppocrv4-det"] = {"pruned": Recipe("pruned", steps=100, batch=8, lr=1e-4, prune_ratio=0.4, frames=256,
                                           refit_images=32, size=(320, 320), full_convs=True, flips=True),
                          "distilled": Recipe("distilled", steps=1500, frames=768, student_width=32, size=(320, 320),
                                              flips=True)}
# the recogniser learns from the line crops the fp32 task cuts out of 640x480 unlabeled frames (about 2.2 each);
# 768 frames and 1500 steps read 0.865 of fp32, twice both 0.925
# pruned: the backbone only; 40% of inner channels at Adam 1e-4 read 0.910 of fp32 (253 MMAC, 1.64x)
RECIPES["ppocrv4-rec"] = {"pruned": Recipe("pruned", steps=300, batch=16, lr=3e-4, prune_ratio=0.25, frames=768,
                                           refit_images=64, size=(480, 640), target="sequences",
                                           prune_until="p2o.AveragePool.1"),
                          "distilled": Recipe("distilled", steps=2500, batch=32, frames=1536, student_width=32,
                                              size=(480, 640), target="sequences")}

# PP-OCR's direction classifier learns from line crops of random strings, half of them upside down
# distilled: the teacher's layers up to its last stage (32 channels at 2x96, half its work), frozen, and a new head
# 64 wide; students trained from scratch (TinyCls, 3-5 MMAC) read 0.57-0.74 of the held-out crops' angles
RECIPES["ppocr-direction-cls-v2"] = {
    "pruned": Recipe("pruned", steps=600, batch=32, lr=3e-4, prune_ratio=0.3, frames=8192, min_width=8,
                     target="classes"),
    "distilled": Recipe("distilled", steps=1500, batch=64, frames=4096, student_width=64, target="classes",
                        trunk="batch_norm_27.tmp_2")}

# SSD detectors learn the teacher's per-anchor scores and regressors on what the fp32 task feeds them
# (BlazePose's detector, ((8, 2), (16, 2), (32, 6)), distilled the same way read 0.587 of fp32's keypoint score:
# see NO_RECIPE)
# The full-range model runs on a 480x640 frame and its four tiles, five feeds a frame: half the frames suffice
# The peak term took full-range from 0.900 to 1.000 F1 and short-range from 0.928 to 0.863 (its false alarms
# rose to 0.5-0.75): short-range goes without
for _mid, _layout, _frames, _peak in (("blazeface-short", ((8, 2), (16, 6)), 1536, 0.0),
                                      ("blazeface-full", ((4, 1),), 768, 1.0)):
    RECIPES[_mid] = {"distilled": Recipe("distilled", steps=3000, batch=32, frames=_frames, student_width=16,
                                         size=(480, 640), target="anchors", anchors=_layout, peak_weight=_peak)}


# BlazeFace full-range keeps every channel on one zero-padded residual stream: it is pruned in depth, 30% of its
# work (11 of its 16 blocks) bypassed, refit and fine-tuned at the pruned models' rate
RECIPES["blazeface-full"]["pruned"] = Recipe("pruned", steps=600, batch=32, lr=3e-4, frames=768, size=(480, 640),
                                             target="anchors", anchors=((4, 1),), drop=0.3)

# BlazePose's detector is pruned in depth as well: 15% of its work (3 of its 13 residual blocks) bypassed. Trained on
# the astronaut alone it read 0.572 of fp32 on the whole-person held-out frames; with the man in black on half the
# frames 0.903, its person scores there far under the teacher's (2 of 24 frames under the 0.5 threshold). Weighting
# the alignment keypoints' regressors 4x read 0.908, a peak term 3x 0.823, the score term 4x 0.911, and then 1800
# steps 0.703 and 1536 frames 0.779: more of the same frames fit them, not the task. More people
# (frames._POSE_PEOPLE: two more men and the cameraman), recoloured, with the score term 4x, read 0.951; seed 1
# (other frames and blocks) 0.904, 2 frames missed, and seed 2 0.955: the floor holds for two seeds of three. Seed 1
# with seed 0's three blocks bypassed read 0.860: the spread is the frames' and the training's, not the blocks'.
# All of those ran 600 steps; 60 steps read 0.976, 0.979 and 0.996 with seeds 0, 1 and 2 (stop 36): after the refit,
# the blocks' gaps close in a few steps, and more steps fit the training people. Seeds 3 and 4 read 0.883 and 0.933
# at 60 steps, and seed 3 0.948 at 600 (stop 37): the floor holds for three seeds of five, against two of four at 600
# All of those at Adam 3e-4. At 1e-4 (stop 38) the five seeds read 0.955, 0.987, 0.987, 0.943 and 0.951 (mean 0.965
# against 0.953): four of five, the worst 0.06 higher; at 3e-5 seeds 3 and 4 read 0.939 and 0.943. Refit only, with no
# training, seeds 3 and 4 read 0.017 and 0.0: the refit leaves the gaps' score maps to the training to close
# On an Intel AMX host (stop 39) seed 3 read 0.926 at 120 steps and 0.938 on 1536 frames (seed 4 0.951)
RECIPES["blazepose-detector"] = {"pruned": Recipe("pruned", steps=60, batch=32, lr=1e-4, frames=768, size=(480, 640),
                                                  target="anchors", anchors=((8, 2), (16, 2), (32, 6)), drop=0.15,
                                                  score_weight=4.0)}
# Distilled on the teacher's own layers to stride 32, frozen, and a TinyDet head of width 32 on its stride-16 and
# stride-32 maps, in place of its neck and heads: 340 vs 443 MMAC. Cut at stride 16 (228 MMAC; the student's own
# layers going on to stride 32) it read 0.956 with seed 0 but 0.795 and 0.778 with seeds 1 and 2: the student's
# own stride-32 layers decided whether a region holds a person, and they learnt the five people, not people.
# Students from scratch did worse: TinyDet of width 16 (15 MMAC) read 0.587 on the astronaut's frames, 0.356 on
# the whole-person held-out frames with half its frames the man in black, and on the five recoloured people 0.422
# (width 32: 0.131; peak term 4x: 0.272; 12000 steps: 0.292); on the teacher's layers to stride 8 (116 MMAC) 0.483
RECIPES["blazepose-detector"]["distilled"] = Recipe("distilled", steps=3000, batch=32, frames=1536, student_width=32,
                                                    size=(480, 640), target="anchors",
                                                    anchors=((8, 2), (16, 2), (32, 6)), score_weight=4.0,
                                                    trunk=("model_1/model/add_8/add", "model_1/model/add_5/add"))

# BlazePose's landmark model spends half its time on ONNX Runtime on its segmentation mask (8 channels at the full
# 256x256), which the pose task never reads; its keypoints did not survive pruning (see NO_RECIPE). Distilled: the
# teacher's layers for every other output kept, frozen, and a mask head of width 16 of its own on its 64x64 decoder
# map and 128x128 stem map: 386 vs 408 MMAC, 1.54x on ONNX Runtime, 1.16x on OpenVINO, mask IoU 0.907 of fp32's on
# the held-out crops (0.874 on fresh unlabeled ones). On 768 frames it read 0.82-0.88 (width 16 or 32, the 64x64
# map alone, Adam 1e-3), fitting its training crops' masks (0.93), and on 2304 frames 0.897
RECIPES["blazepose-landmark-full"] = {
    "distilled": Recipe("distilled", steps=3000, batch=16, frames=4608, student_width=16, size=(480, 640),
                        target="keypoints", trunk=("model_1/model/add_11/add", "Relu6__15:0"))}

#: model id -> kind -> why there is no recipe (what the manifest says instead of the generic note)
NO_RECIPE = {"blazeface-short": {
    "pruned": "BlazeFace's channels all sit on its residual stream, which grows by zero-padding: torch-pruning "
              "ties all 33 convs into one group, so there are no inner channels to prune apart; pruned in depth "
              "instead (16 blocks, 11 of them with a padding or pooling shortcut), bypassing 2 (28 vs 32 MMAC, "
              "1.15x on ONNX Runtime) read 0.86 of fp32's F1 and 4 (23 MMAC, 1.30x) 0.81; trained longer, at a "
              "higher rate or without the feature loss, 2-3 bypassed read 0.84-0.91 (floor 0.95; one wrong frame of "
              "the 20 held-out costs up to 0.05); with the refit pulled toward the teacher's weights "
              "(refit_pull=0.01), 2 bypassed read 0.645 untrained and 0.852 after 600 steps at Adam 3e-4, and "
              "without it after 60 steps (the pose detector's recipe) 0.805; the "
              "distilled variant is the smaller model"}}

# the landmark model learns every output the teacher gives for the crops the fp32 pose task cuts (:mod:`.keypoints`)
NO_RECIPE["blazepose-landmark-full"] = {
    "pruned": "its inner channels prune (386 conv MMAC, inverted residual blocks), but the 33 body keypoints do not "
              "stay put: 30% of inner channels (260 vs 408 MMAC, 1.31x on ONNX Runtime, 1.33x on OpenVINO), refit "
              "and fine-tuned 300 steps, read 0.374 of fp32's keypoint score (floor 0.95); refit only, 10% / 20% / "
              "30% left 10% / 17% / 19% of visible keypoints over 8 crop pixels off fp32's, and fine-tuning "
              "made it worse (10%: 29% after 300 steps at Adam 3e-4); bypassing 10% of its work in residual blocks "
              "left 98% over 8 pixels; with the refit pulled toward the teacher's weights (refit_pull=0.01) and no "
              "training, 30% read 0.797 and 10% (360 MMAC, 1.05x) 0.848, and 10% then fine-tuned 300 steps at "
              "Adam 3e-5 0.814; on the whole-person held-out frames, half its training frames a whole person too, 30% "
              "read 0.504 (1.24x) and 10% 0.560 (1.07x), where its int8-ov variant reads 0.994"}


def unavailable(model_id: str, kind: str, onnx_src: Path | None) -> str | None:
    """Why ``kind`` cannot be built for ``model_id`` here (one line), or None."""
    missing = [m for m in ("torch", "onnx2torch", "torch_pruning") if importlib.util.find_spec(m) is None]
    if missing:
        return f"needs {', '.join(missing)}: pip install 'edgevid-quantize[train]'"
    if kind in NO_RECIPE.get(model_id, {}):
        return NO_RECIPE[model_id][kind]
    if kind not in RECIPES.get(model_id, {}):
        have = sorted(f"{m} {k}" for m, kinds in RECIPES.items() for k in kinds)
        return f"no {kind} recipe for {model_id} (recipes exist for: {', '.join(have)})"
    if onnx_src is None:
        return "no fp32 ONNX to start from (the fp32 conversion failed)"
    return None
