"""Shared fixtures for the text plugin's tests: composed scenes and loaded readers, built once per session."""

from __future__ import annotations

import pytest

import edgevid

pytest.importorskip("cv2")
pytest.importorskip("skimage")


@pytest.fixture(scope="session")
def scenes():
    """Six frames with 27 rendered lines of known text (see edgevid.testing.scenes_text)."""
    from edgevid.testing.scenes_text import standard_scenes

    return standard_scenes()


@pytest.fixture(scope="session")
def reader():
    """``reader(backend, precision=None, **options)`` -> a loaded ``text`` task, cached for the session."""
    cache: dict = {}

    def get(backend: str, precision: str | None = None, **options):
        key = (backend, precision, tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = edgevid.load("text", backend=backend, precision=precision, variant="fp32", **options)
        return cache[key]

    yield get
    for task in cache.values():
        task.close()


@pytest.fixture(scope="session")
def readings(reader, scenes):
    """``readings(backend, precision)`` -> the task's results on every scene, cached."""
    cache: dict = {}

    def get(backend: str, precision: str | None = None):
        if (backend, precision) not in cache:
            task = reader(backend, precision)
            cache[(backend, precision)] = [task(s.image) for s in scenes]
        return cache[(backend, precision)]

    return get
