"""Utilities: seeding, progress display, plots of training and architecture."""

from ..layers.base import reset_names
from ..random import set_seed as set_random_seed
from .plotting import plot_history, plot_model
from .progbar import Progbar
from .sequences import pad_sequences, to_categorical


def clear_session() -> None:
    """Reset the automatic layer and model names (``dense``, ``dense_1``...)."""
    reset_names()


__all__ = [
    "Progbar",
    "clear_session",
    "pad_sequences",
    "plot_history",
    "plot_model",
    "set_random_seed",
    "to_categorical",
]
