"""Losses with Keras 3's names, formulas, defaults and reductions.

A loss object maps ``(y_true, y_pred)`` to one scalar tensor: the per-sample
losses (mean over the last axis where Keras takes it), weighted by an optional
``sample_weight``, summed and divided by the number of samples
("sum_over_batch_size", not the sum of the weights). Each loss is also a
function on ``(y_true, y_pred)`` returning the per-sample losses
(``engine.losses.kl_divergence``); every one is differentiable in ``y_pred``.
Families: ``regression`` (squared, absolute, percentage, logarithmic, Huber,
log-cosh, cosine), ``probabilistic`` (cross-entropies, focal, generalized, KL,
Poisson), ``hinge``, ``overlap`` (Dice, Tversky), ``embedding`` (Circle), ``ctc`` (CTC).
"""

from ..registry import Registry
from .base import EPSILON, REDUCTIONS, Loss, LossFunctionWrapper
from .ctc import CTC, ctc
from .embedding import Circle, circle
from .hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from .overlap import Dice, Tversky, dice, tversky
from .probabilistic import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    CategoricalGeneralizedCrossEntropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_generalized_cross_entropy,
    kl_divergence,
    poisson,
    sparse_categorical_crossentropy,
)
from .regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)

_registry = Registry(
    "loss",
    {
        "mean_squared_error": MeanSquaredError,
        "mean_absolute_error": MeanAbsoluteError,
        "mean_absolute_percentage_error": MeanAbsolutePercentageError,
        "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
        "huber": Huber,
        "log_cosh": LogCosh,
        "cosine_similarity": CosineSimilarity,
        "binary_crossentropy": BinaryCrossentropy,
        "categorical_crossentropy": CategoricalCrossentropy,
        "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
        "binary_focal_crossentropy": BinaryFocalCrossentropy,
        "categorical_focal_crossentropy": CategoricalFocalCrossentropy,
        "kl_divergence": KLDivergence,
        "poisson": Poisson,
        "hinge": Hinge,
        "squared_hinge": SquaredHinge,
        "categorical_hinge": CategoricalHinge,
        "categorical_generalized_cross_entropy": CategoricalGeneralizedCrossEntropy,
        "dice": Dice,
        "tversky": Tversky,
        "circle": Circle,
        "ctc": CTC,
    },
)
# Keras 3's aliases (its ``losses.ALL_OBJECTS_DICT``); lookups ignore case ("MSE", "KLD")
for _alias, _cls in {
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "kld": KLDivergence,
    "bce": BinaryCrossentropy,
    "huber_loss": Huber,
}.items():
    _registry.register(_cls, _alias)


def get(identifier) -> Loss:
    """A loss from a name (``"mse"``, ``"kld"``, ``"categorical_crossentropy"``...), config or
    instance; a function ``fn(y_true, y_pred)`` is wrapped as a ``Loss``."""
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier) and not isinstance(identifier, type):
        return LossFunctionWrapper(identifier)
    return _registry.create(identifier)


def serialize(loss: Loss) -> dict:
    """``{"class_name", "config"}`` of a registered loss class (for saving)."""
    return _registry.serialize(loss)


def deserialize(config: dict) -> Loss:
    return _registry.create(config)


__all__ = [
    "EPSILON",
    "REDUCTIONS",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "CategoricalHinge",
    "Circle",
    "CTC",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "ctc",
    "deserialize",
    "dice",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "tversky",
]
