"""The error tree: every leaf has its own exit code, and the README documents each."""

from __future__ import annotations

from pathlib import Path

from edgevid import errors


def _leaves(cls):
    subs = cls.__subclasses__()
    return [cls] if not subs else [leaf for s in subs for leaf in _leaves(s)]


def test_leaf_exit_codes_are_distinct():
    leaves = _leaves(errors.EdgevidError)
    codes = [c.exit_code for c in leaves]
    assert len(codes) == len(set(codes)), {c.__name__: c.exit_code for c in leaves}
    assert 0 not in codes and 130 not in codes


def test_readme_documents_every_exit_code():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name, code in errors.EXIT_CODES.items():
        assert f"| {code} |" in readme and name in readme, name
