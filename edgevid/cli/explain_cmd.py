"""``edgevid explain``: which backend, device and variant each model of a task gets here, and why."""

from __future__ import annotations

import json

from ._table import print_table


def add_parser(sub) -> None:
    """Register the ``explain`` command."""
    p = sub.add_parser("explain", help="show the backend/device/variant selection for a task, and why")
    p.add_argument("task")
    p.add_argument("--device", dest="profile", metavar="PROFILE",
                   help="explain for this device profile instead of the detected one (see `edgevid devices --profiles`)")
    p.add_argument("--backend", help="pin the backend")
    p.add_argument("--on", dest="device_name", metavar="DEVICE", help="pin the backend device (CPU, GPU, NPU, ...)")
    p.add_argument("--variant", help="pin the variant")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    """Print each model role's choice, its reason and the rejected candidates."""
    from ..api import plan

    choices = plan(args.task, backend=args.backend, device=args.device_name, variant=args.variant,
                   profile=args.profile)
    if args.json:
        print(json.dumps({role: c.as_dict() for role, c in choices.items()}, indent=2))
        return 0
    for role, c in choices.items():
        hint = f", precision hint {c.precision}" if c.precision else ""
        threads = f", {c.threads} threads" if c.threads else ""
        print(f"{args.task}/{role}: {c.card.id} {c.variant.name} ({c.variant.format}) on {c.backend} {c.device}{hint}{threads}")
        print(f"  why: {c.why}")
        if c.rejected:
            print_table(["  rejected backend", "device", "variant", "reason"],
                        [[f"  {r.backend}", r.device, r.variant, r.reason] for r in c.rejected])
        print()
    return 0
