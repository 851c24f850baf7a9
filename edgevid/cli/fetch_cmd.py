"""``edgevid fetch``: download and verify every model variant of the installed tasks, once."""

from __future__ import annotations

from ..models import store
from ..models.catalog import variants
from ..registry import get_registry


def add_parser(sub) -> None:
    """Register the ``fetch`` command."""
    p = sub.add_parser("fetch", help="fetch and verify model artifacts into the store (once; offline afterwards)")
    p.add_argument("tasks", nargs="*", help="only these tasks (default: all installed)")
    p.set_defaults(func=run)


def run(args) -> int:
    """Fetch each declared variant; already cached ones are only re-verified."""
    reg = get_registry()
    seen: set[str] = set()
    for name in args.tasks or sorted(reg.tasks):
        for card in reg.task(name).models.values():
            for v in variants(card).variants:
                if v.sha256 in seen:
                    continue
                seen.add(v.sha256)
                cached = store.is_cached(v)
                path = store.fetch(v)
                print(f"{'ok     ' if cached else 'fetched'} {name:8s} {card.id}/{v.name}  {path.stat().st_size/1e6:6.2f} MB  {v.sha256[:12]}")
    print(f"{len(seen)} artifacts verified in {store.home()}")
    return 0
