"""Utilities: seeding, progress display."""

from ..layers.base import reset_names
from ..random import set_seed as set_random_seed
from .progbar import Progbar


def clear_session() -> None:
    """Reset the automatic layer and model names (``dense``, ``dense_1``...)."""
    reset_names()


__all__ = ["Progbar", "clear_session", "set_random_seed"]
