"""``edgevid build``: make a task's model variants with the host toolchain (the ``edgevid-quantize`` package)."""

from __future__ import annotations


def add_parser(sub) -> None:
    """Register the ``build`` command."""
    p = sub.add_parser("build", help="convert and quantize a task's models into the store, measured against fp32")
    p.add_argument("task")
    p.add_argument("--variants", default="fp32,fp16,int8,pruned,distilled",
                   help="comma-separated kinds (default: all): fp32 (tf2onnx ONNX of a .tflite, fp32 OpenVINO IR), "
                        "fp16 (IR), int8 (NNCF IR and ONNX Runtime QDQ), pruned, distilled (torch, where the model "
                        "has a training recipe)")
    p.add_argument("--model", action="append", default=[], metavar="ID",
                   help="build only this model of the task (repeatable; default: all its models)")
    p.add_argument("--calib", metavar="SOURCE",
                   help="calibrate on frames from this video file, image folder or glob (default: built-in task frames)")
    p.add_argument("--floor", type=float, default=0.99, help="accuracy floor as a fraction of fp32 (default 0.99)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Build, then print what was made."""
    from ..errors import ConfigError

    try:
        from edgevid_quantize.build import build
    except ImportError:
        raise ConfigError("edgevid build needs the host toolchain: pip install edgevid-quantize "
                          "(it is host-only; devices never need it)") from None
    made = build(args.task, tuple(v.strip() for v in args.variants.split(",") if v.strip()), args.floor,
                 models=tuple(args.model), calib=args.calib)
    for model, entries in made.items():
        for e in entries:
            flag = " BELOW FLOOR" if e.get("below_floor") else ""
            print(f"{model:32s} {e['name']:9s} {e['format']:8s} {e['size'] / 2**20:7.2f} MB  "
                  f"accuracy {e['accuracy']:.4f}{flag}  sha256 {e['sha256'][:12]}")
    return 0
