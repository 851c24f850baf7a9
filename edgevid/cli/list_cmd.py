"""``edgevid list``: tasks, their models and variants, and which installed backends can run each variant."""

from __future__ import annotations

import json

from ..models import store
from ..models.catalog import variants
from ..registry import get_registry
from ._table import print_table


def add_parser(sub) -> None:
    """Register the ``list`` command."""
    p = sub.add_parser("list", help="list tasks, models, variants and the backends that run them")
    p.add_argument("tasks", nargs="*", help="only these tasks")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def catalog(tasks: list[str] | None = None) -> list[dict]:
    """JSON-ready description of every task (or just ``tasks``) and its variants."""
    reg = get_registry()
    installed = reg.available_backends()
    out = []
    for name in tasks or sorted(reg.tasks):
        cls = reg.task(name)
        models = []
        for role, card in cls.models.items():
            card = variants(card)
            models.append({
                "role": role, "id": card.id, "title": card.title, "license": card.license,
                "input": {"size": list(card.input.size), "layout": card.input.layout, "color": card.input.color},
                "variants": [{
                    "name": v.name, "format": v.format, "precision": v.precision, "compression": v.compression,
                    "sha256": v.sha256, "source": v.source.describe(), "cached": store.is_cached(v),
                    "accuracy": v.accuracy, "reference": v.reference,
                    "backends": sorted(b for b, cls_ in installed.items()
                                       if cls_.reads(v.format) and not v.incompatible_reason(b)),
                } for v in card.variants],
            })
        out.append({"task": name, "summary": cls.summary, "result_key": cls.result_key, "models": models})
    return out


def run(args) -> int:
    """Print the catalogue as a table or JSON."""
    data = catalog(args.tasks)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    rows = []
    for t in data:
        if not t["models"]:
            rows.append([t["task"], "(no model)", "", "", "", "", "any"])
        for m in t["models"]:
            for v in m["variants"]:
                acc = "ref" if v["reference"] else ("" if v["accuracy"] is None else f"{v['accuracy']:.3f}")
                rows.append([t["task"], f"{m['role']}: {m['id']}", v["name"], v["format"],
                             f"{v['precision']}/{v['compression']}", acc, ", ".join(v["backends"]) or "none installed"])
    print_table(["task", "model", "variant", "format", "precision", "accuracy", "backends"], rows)
    return 0
