"""The plugin manager: fresh per test, lazy, allow/block lists, duplicate ids and unknown hooks are errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import edgevid
from edgevid import plugins, registry
from edgevid.errors import PluginError, UnknownTaskError
from edgevid.testing.fixtures import registered


class _Toy(edgevid.Task):
    name = "toy"
    summary = "test task"

    def postprocess(self, raw, prepared):
        return raw


class _Toy2(_Toy):
    pass


class _ToyPlugin:
    @edgevid.hookimpl
    def register_tasks(self, register):
        register(_Toy)


class _Clash:
    @edgevid.hookimpl
    def register_tasks(self, register):
        register(_Toy2)


def test_fresh_manager_registers_builtin_backends():
    reg = registry.build(plugins.new_manager(load_entrypoints=False))
    assert {"onnxruntime", "openvino", "tflite"} <= set(reg.backends)
    assert reg.tasks == {}


def test_registered_plugin_is_visible_then_gone():
    with registered(_ToyPlugin()):
        assert registry.get_registry().task("toy") is _Toy
    with pytest.raises(UnknownTaskError, match="toy"):
        registry.get_registry().task("toy")


def test_duplicate_task_id_is_a_plugin_error():
    pm = plugins.new_manager(load_entrypoints=False)
    pm.register(_ToyPlugin())
    pm.register(_Clash())
    with pytest.raises(PluginError, match="registered twice"):
        registry.build(pm)


def test_implementation_of_unknown_hook_is_rejected():
    class Typo:
        @edgevid.hookimpl
        def register_taskz(self, register):  # misspelt on purpose
            pass

    pm = plugins.new_manager(load_entrypoints=False)
    pm.register(Typo())
    import pluggy

    with pytest.raises(pluggy.PluginValidationError):
        pm.check_pending()


def _tasks_in_subprocess(**env):
    code = "import json; from edgevid.registry import get_registry; print(json.dumps(sorted(get_registry().tasks)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return json.loads(out.stdout)


def test_load_plugins_allow_list_and_block_list():
    everything = _tasks_in_subprocess()
    assert "motion" in everything
    assert _tasks_in_subprocess(EDGEVID_LOAD_PLUGINS="") == []
    assert _tasks_in_subprocess(EDGEVID_LOAD_PLUGINS="motion") == ["motion"]
    blocked = _tasks_in_subprocess(EDGEVID_BLOCK_PLUGINS="motion")
    assert "motion" not in blocked and set(blocked) == set(everything) - {"motion"}


def test_trace_plugins_writes_hook_calls():
    code = "from edgevid.registry import get_registry; get_registry()"
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "EDGEVID_TRACE_PLUGINS": "1", "EDGEVID_LOAD_PLUGINS": "motion"}).stderr
    assert "register_tasks" in err


def test_importing_edgevid_loads_no_plugin():
    code = "import sys, edgevid; print(any(m.startswith('edgevid_') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
