"""Fixtures shared by the toolchain's tests."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest


@contextlib.contextmanager
def _budget(model: str, **changes: dict):
    from edgevid_quantize import recipes

    saved = recipes.RECIPES[model]
    recipes.RECIPES[model] = {kind: dataclasses.replace(saved[kind], **c) for kind, c in changes.items()}
    try:
        yield recipes.RECIPES[model]
    finally:
        recipes.RECIPES[model] = saved


@pytest.fixture(scope="session")
def small_budget():
    """``with small_budget(model, pruned={"steps": 30}, ...) as recipes:`` the model's training recipes, only
    the kinds named, with the fields given replaced (a test's budget); the shipped ones come back after."""
    return _budget
