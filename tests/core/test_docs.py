"""Docs stay in step with the code: every hook has a section in the plugin guide, every doc exists."""

from __future__ import annotations

import inspect
from pathlib import Path

from edgevid import hookspecs

ROOT = Path(__file__).parents[2]


def test_every_hook_has_a_signature_headed_section():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "edgevid_spec")]
    assert hooks, "no hookspecs found"
    for name in hooks:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### `{name}({params})`" in guide, name


def test_docs_named_by_the_readme_exist():
    for doc in ["architecture.md", "plugins.md", "devices.md", "bench.md", "pipeline.md", "quantize.md"]:
        assert (ROOT / "docs" / doc).is_file(), doc
