"""Device profiles: data files (``devices/*.toml``) that say how to run models well on a kind of target.

A profile has match rules against a :class:`~edgevid.devices.probe.Host` and an ordered list of
preferences, each a (backend, device, precision) with options and a one-line why. The schema is in
``docs/devices.md``. Profiles come from the installed package data, the source tree's ``devices/``,
and ``$EDGEVID_DEVICES`` (a folder of the user's own, which override by ``id``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .probe import Host

_TOP = {"id", "name", "description", "match", "prefer", "sources"}
_MATCH = {"arch", "features_all", "features_any", "accelerators_any", "cpu_model", "board", "priority"}
_PREFER = {"backend", "device", "precision", "variants", "threads", "options", "why"}


@dataclass(frozen=True)
class Preference:
    """One ranked way to run a model: backend, device, execution-precision hint and variant order."""

    backend: str
    device: str
    why: str
    precision: str | None = None
    #: variant names or weight precisions in order of preference, e.g. ["int8", "fp16", "fp32"]
    variants: tuple[str, ...] = ("fp32",)
    #: "all" (every usable core), "physical", or a number
    threads: str | int | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Profile:
    """A device profile as loaded from its TOML file."""

    id: str
    name: str
    match: dict[str, Any]
    prefer: tuple[Preference, ...]
    description: str = ""
    sources: tuple[str, ...] = ()
    path: str = ""

    def score(self, host: Host) -> tuple[int, list[str]] | None:
        """``(score, reasons)`` if every rule matches ``host``, else ``None``; higher scores are more specific."""
        m, why = self.match, []
        if "arch" in m:
            if host.cpu.arch not in m["arch"]:
                return None
            why.append(f"arch {host.cpu.arch}")
        if "features_all" in m:
            if not all(host.has(f) for f in m["features_all"]):
                return None
            why.append("has " + ", ".join(m["features_all"]))
        if "features_any" in m:
            hit = [f for f in m["features_any"] if host.has(f)]
            if not hit:
                return None
            why.append("has " + ", ".join(hit))
        if "accelerators_any" in m:
            hit = [a for a in m["accelerators_any"] if a in host.accelerators]
            if not hit:
                return None
            why.append("sees " + ", ".join(hit))
        for key, text in (("cpu_model", host.cpu.model), ("board", host.cpu.board)):
            if key in m:
                if not re.search(m[key], text or "", re.IGNORECASE):
                    return None
                why.append(f"{key} ~ /{m[key]}/")
        return int(m.get("priority", 0)) + 10 * len(why), why


def _fail(path: Path, msg: str):
    raise ConfigError(f"device profile {path.name}: {msg}")


def parse(path: Path) -> Profile:
    """Load and validate one profile file; every mistake is a :class:`ConfigError` naming file and key."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        _fail(path, f"cannot read: {exc}")
    for key in ("id", "name", "match", "prefer"):
        if key not in data:
            _fail(path, f"missing key {key!r}")
    if unknown := set(data) - _TOP:
        _fail(path, f"unknown key(s) {sorted(unknown)}")
    if unknown := set(data["match"]) - _MATCH:
        _fail(path, f"unknown match key(s) {sorted(unknown)}")
    for key in ("cpu_model", "board"):
        if key in data["match"]:
            try:
                re.compile(data["match"][key])
            except re.error as exc:
                _fail(path, f"match.{key} is not a valid regex: {exc}")
    prefs = []
    for i, p in enumerate(data["prefer"]):
        if unknown := set(p) - _PREFER:
            _fail(path, f"prefer[{i}] has unknown key(s) {sorted(unknown)}")
        for key in ("backend", "device", "why"):
            if key not in p:
                _fail(path, f"prefer[{i}] is missing {key!r}")
        threads = p.get("threads")
        if threads is not None and not (isinstance(threads, int) and threads > 0 or threads in ("all", "physical")):
            _fail(path, f"prefer[{i}].threads must be a positive integer, 'all' or 'physical'")
        prefs.append(Preference(backend=p["backend"], device=p["device"].upper(), why=p["why"],
                                precision=p.get("precision"), variants=tuple(p.get("variants", ("fp32",))),
                                threads=threads, options=dict(p.get("options", {}))))
    if not prefs:
        _fail(path, "prefer is empty")
    return Profile(id=data["id"], name=data["name"], match=dict(data["match"]), prefer=tuple(prefs),
                   description=data.get("description", ""), sources=tuple(data.get("sources", ())), path=str(path))


def search_path() -> list[Path]:
    """Folders profiles are read from, later ones overriding earlier ones by id."""
    here = Path(__file__).resolve().parent
    folders = [here / "profiles_data", here.parent.parent / "devices"]
    if os.environ.get("EDGEVID_DEVICES"):
        folders.append(Path(os.environ["EDGEVID_DEVICES"]))
    return [f for f in folders if f.is_dir()]


@lru_cache(maxsize=4)
def _load(folders: tuple[Path, ...]) -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.toml")):
            prof = parse(path)
            out[prof.id] = prof
    return out


def load_all() -> dict[str, Profile]:
    """Every profile by id."""
    profiles = _load(tuple(search_path()))
    if not profiles:
        raise ConfigError("no device profiles found; reinstall edgevid or set EDGEVID_DEVICES to a folder of .toml files")
    return profiles


def get(profile_id: str) -> Profile:
    """The profile called ``profile_id``, or a :class:`ConfigError` listing the known ids."""
    profiles = load_all()
    if profile_id not in profiles:
        raise ConfigError(f"unknown device profile {profile_id!r} (known: {', '.join(sorted(profiles))})")
    return profiles[profile_id]


def match(host: Host) -> tuple[Profile, list[str]]:
    """The most specific profile matching ``host`` and the reasons it matched."""
    best: tuple[int, str, Profile, list[str]] | None = None
    for prof in load_all().values():
        hit = prof.score(host)
        if hit is not None and (best is None or (hit[0], prof.id) > (best[0], best[1])):
            best = (hit[0], prof.id, prof, hit[1])
    if best is None:
        raise ConfigError("no device profile matches this host; add one (see docs/devices.md)")
    return best[2], best[3]
