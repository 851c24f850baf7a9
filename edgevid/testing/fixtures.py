"""pytest fixtures for edgevid and its plugin authors (auto-loaded through the ``pytest11`` entry point).

* ``edgevid_registry`` — a registry built from a fresh plugin manager, for isolated tests;
* :func:`registered` — register a throwaway plugin for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest


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
