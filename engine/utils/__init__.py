"""Utilities: seeding, data helpers, progress display, plots of training and architecture."""

from ..backend import clear_session
from ..random import set_seed as set_random_seed
from .datasets import PyDataset, split_dataset
from .files import get_file
from .numerical import normalize
from .plotting import plot_history, plot_model
from .progbar import Progbar
from .sequences import pad_sequences, to_categorical

__all__ = [
    "Progbar",
    "pad_sequences",
    "PyDataset",
    "clear_session",
    "get_file",
    "normalize",
    "plot_history",
    "plot_model",
    "set_random_seed",
    "split_dataset",
    "to_categorical",
]
