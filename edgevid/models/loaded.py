"""A model variant loaded into a backend session, with the card that describes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..backends.base import Session
from .card import ModelCard, Variant


@dataclass
class LoadedModel:
    """A session plus the card and variant it came from. Tasks hold one per model role."""

    card: ModelCard
    variant: Variant
    session: Session
    path: Path

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the session on ``feeds``."""
        return self.session.run(feeds)

    def __call__(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run a single-input model on one tensor."""
        return self.session.run({self.session.inputs[0].name: tensor})

    @property
    def input_name(self) -> str:
        """Name of the first input."""
        return self.session.inputs[0].name

    def info(self) -> dict[str, Any]:
        """Model id, variant and what actually runs it (backend, device, precision)."""
        return {"model": self.card.id, "variant": self.variant.name, **self.session.info()}

    def close(self) -> None:
        """Release the session."""
        self.session.close()
