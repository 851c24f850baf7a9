"""The plugin manager: built once, lazily, never as an import side effect.

Environment knobs (read when plugins first load):

* ``EDGEVID_LOAD_PLUGINS`` — comma-separated entry-point names to load; ``""`` loads
  none. Unset loads every plugin in the ``edgevid`` group.
* ``EDGEVID_BLOCK_PLUGINS`` — comma-separated entry-point names never to import.
* ``EDGEVID_TRACE_PLUGINS=1`` — print every hook call to stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import PluginError

#: Internal plugins: the built-in backends come through the same hooks as anyone's.
DEFAULT_PLUGINS = (
    "edgevid.backends.onnxruntime",
    "edgevid.backends.openvino",
    "edgevid.backends.tflite",
)

_pm: pluggy.PluginManager | None = None


def _names(var: str) -> list[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return [n.strip() for n in raw.split(",") if n.strip()]


def new_manager(load_entrypoints: bool = True, defaults: bool = True) -> pluggy.PluginManager:
    """Build a fresh plugin manager (tests build one each; the app shares one)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if defaults:
        for mod in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(mod), name=mod)
    if load_entrypoints:
        for name in _names("EDGEVID_BLOCK_PLUGINS") or []:
            pm.set_blocked(name)
        allow = _names("EDGEVID_LOAD_PLUGINS")
        try:
            if allow is None:
                pm.load_setuptools_entrypoints(hookspecs.PROJECT)
            else:
                for name in allow:
                    pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=name)
        except Exception as exc:  # a broken plugin must not take the CLI down with a traceback
            raise PluginError(f"a plugin failed to load: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    if os.environ.get("EDGEVID_TRACE_PLUGINS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def get_manager() -> pluggy.PluginManager:
    """Return the shared plugin manager, loading plugins on first use only."""
    global _pm
    if _pm is None:
        _pm = new_manager()
    return _pm


def reset() -> None:
    """Forget the shared manager (and the registry built from it); mainly for tests."""
    global _pm
    _pm = None
    reset_registry()


def reset_registry() -> None:
    """Rebuild the task/backend registry on next use (after registering a plugin by hand)."""
    from . import registry

    registry.reset()


def plugin_names() -> list[str]:
    """Entry-point names available in the ``edgevid`` group (nothing is imported)."""
    return sorted(ep.name for ep in entry_points(group=hookspecs.PROJECT))
