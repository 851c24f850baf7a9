"""pytest fixtures for edgevid and its plugin authors (auto-loaded through the ``pytest11`` entry point).

* ``edgevid_registry`` — a registry built from a fresh plugin manager, for isolated tests;
* ``module_home`` — a private ``$EDGEVID_HOME`` for one module (builds, stored results);
* :func:`registered` — register a throwaway plugin for the duration of a ``with`` block.

Every test session runs against its own ``$EDGEVID_HOME`` (see :func:`pytest_configure`), so variants a
developer built or bench results stored on this host never change what the tests select.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


#: Read-only caches shared with the real home: fetching models again per session would cost minutes.
SHARED = ("blobs", "wheels", "samples")


def private_home(root: Path | None = None) -> Path:
    """A fresh ``$EDGEVID_HOME`` whose model caches link to the real home's; returns its path (not yet active)."""
    from edgevid.models.store import home

    real = home()
    session = Path(tempfile.mkdtemp(prefix="edgevid-test-home-", dir=root))
    for name in SHARED:
        (real / name).mkdir(parents=True, exist_ok=True)
        (session / name).symlink_to(real / name, target_is_directory=True)
    return session


def pytest_configure(config: pytest.Config) -> None:
    """Point ``$EDGEVID_HOME`` at a fresh per-session home whose model caches link to the real ones.

    Built variants (``built/``), stored bench results (``bench/``) and spools stay private to the session;
    they would otherwise make selection depend on what ran on this machine before. Subprocesses inherit it.
    """
    if os.environ.get("EDGEVID_TEST_KEEP_HOME"):
        return
    session = private_home()
    config._edgevid_home = (os.environ.get("EDGEVID_HOME"), session)
    os.environ["EDGEVID_HOME"] = str(session)


def _leave(previous: str | None, home: Path) -> None:
    """Point ``$EDGEVID_HOME`` back at ``previous`` (unset if None) and remove the private ``home``."""
    if previous is None:
        os.environ.pop("EDGEVID_HOME", None)
    else:
        os.environ["EDGEVID_HOME"] = previous
    shutil.rmtree(home, ignore_errors=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore ``$EDGEVID_HOME`` and remove the session home (links only; the shared caches stay)."""
    saved = getattr(config, "_edgevid_home", None)
    if saved is None:
        return
    _leave(*saved)


@contextlib.contextmanager
def registered(plugin: object, name: str | None = None) -> Iterator[object]:
    """Register ``plugin`` (a module or object with ``@hookimpl``s) on the shared manager, then remove it."""
    from edgevid import plugins

    pm = plugins.get_manager()
    pm.register(plugin, name=name)
    plugins.reset_registry()
    try:
        yield plugin
    finally:
        pm.unregister(plugin)
        plugins.reset_registry()


@pytest.fixture(scope="module")
def module_home() -> Iterator[Path]:
    """A private ``$EDGEVID_HOME`` for one test module, for tests that build variants or store results
    the rest of the session must not see."""
    previous = os.environ.get("EDGEVID_HOME")
    path = private_home()
    os.environ["EDGEVID_HOME"] = str(path)
    try:
        yield path
    finally:
        _leave(previous, path)


@pytest.fixture
def edgevid_registry():
    """A :class:`~edgevid.registry.Registry` from a fresh plugin manager with entry points loaded."""
    from edgevid import plugins, registry

    return registry.build(plugins.new_manager())


@pytest.fixture(scope="session")
def real_model():
    """Callable fixture: ``real_model("blazeface_short")`` -> verified local Path (see ``edgevid.testing.models``)."""
    from edgevid.testing.models import real_model_path

    return real_model_path
