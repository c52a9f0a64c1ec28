"""Utilities: seeding, progress display, plots of training and architecture."""

from ..layers.base import reset_names
from ..random import set_seed as set_random_seed
from .plotting import plot_history, plot_model
from .progbar import Progbar


def clear_session() -> None:
    """Reset the automatic layer and model names (``dense``, ``dense_1``...)."""
    reset_names()


__all__ = ["Progbar", "clear_session", "plot_history", "plot_model", "set_random_seed"]
