"""Shared test configuration. Fixtures for real models live in ``edgevid.testing.fixtures`` (a pytest11
plugin, so plugin packages' tests get them too); the model list is ``edgevid.testing.models``."""
