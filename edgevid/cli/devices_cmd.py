"""``edgevid devices``: this host's CPU, accelerators, backends with their devices, and the matched profile."""

from __future__ import annotations

import json

from ._table import print_table


def add_parser(sub) -> None:
    """Register the ``devices`` command."""
    p = sub.add_parser("devices", help="probe this host: CPU/ISA, memory, accelerators, backends, matched profile")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--profiles", action="store_true", help="also list every known device profile")
    p.set_defaults(func=run)


def report() -> dict:
    """The probe plus the matched profile, JSON-ready."""
    from ..devices import profiles
    from ..devices.probe import this_host

    host = this_host()
    prof, why = profiles.match(host)
    return {**host.as_dict(), "profile": {"id": prof.id, "name": prof.name, "matched_because": why},
            "profiles": sorted(profiles.load_all())}


def run(args) -> int:
    """Print the host report."""
    data = report()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    cpu = data["cpu"]
    family = f", family {cpu['family']}" if cpu["family"] else ""
    print(f"cpu          {cpu['vendor']} {cpu['model']} ({cpu['arch']}{family}), {cpu['cores']} usable cores"
          + (f", board {cpu['board']}" if cpu["board"] else ""))
    print(f"isa          {', '.join(cpu['features']) or '(none recognised)'}")
    print(f"memory       {data['memory_mb']} MB" + (f", governor {data['governor']}" if data["governor"] else ""))
    acc = data["accelerators"]
    print(f"accelerators {', '.join(f'{k} ({v})' for k, v in acc.items()) or 'none seen'}")
    print(f"profile      {data['profile']['id']}: {data['profile']['name']}  [{'; '.join(data['profile']['matched_because'])}]")
    print()
    rows = [[name, "yes" if b["available"] else "no", b["version"] or "", ", ".join(b["devices"]),
             ", ".join(b["formats"])] for name, b in data["backends"].items()]
    print_table(["backend", "installed", "version", "devices", "reads"], rows)
    if args.profiles:
        from ..devices import profiles

        print()
        print_table(["profile", "name"], [[p.id, p.name] for p in sorted(profiles.load_all().values(), key=lambda p: p.id)])
    return 0
