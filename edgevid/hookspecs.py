"""The hooks a plugin implements: the one page a plugin author reads.

A plugin is a module (or class instance) with functions marked ``@hookimpl``,
advertised through the ``edgevid`` entry-point group::

    [project.entry-points.edgevid]
    mytask = "edgevid_mytask"

Hooks receive a ``register`` callback rather than returning values, so the core can
grow keyword arguments later without breaking plugins. No hook runs per frame.
"""

from __future__ import annotations

import pluggy

PROJECT = "edgevid"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_tasks(register):
    """Register task classes: ``register(MyTask)``; each is a subclass of ``edgevid.Task``."""


@hookspec
def register_backends(register):
    """Register runtime backends: ``register(MyBackend)``; each subclasses ``edgevid.Backend``."""
