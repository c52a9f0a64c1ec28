"""``engine.ops`` re-exports every op of its family modules, each recording symbolic calls."""

import sys

import pytest

from engine import (
    ops,
    ops_control,
    ops_conv,
    ops_ctc,
    ops_fft,
    ops_image,
    ops_linalg,
    ops_math,
    ops_nn,
    ops_reduction,
    ops_search,
    ops_shape,
)

FAMILIES = [
    ops_math,
    ops_reduction,
    ops_linalg,
    ops_nn,
    ops_shape,
    ops_control,
    ops_conv,
    ops_search,
    ops_fft,
    ops_ctc,
]
#: functions that take no tensors to record (a shape, a conversion to NumPy), or take
#: callables, or answer with Python values
NOT_RECORDED = ops._EAGER_ONLY


def _ops_of(module) -> set:
    """The names of the public functions ``module`` defines (not the ones it imports)."""
    return {
        name
        for name, value in vars(module).items()
        if callable(value)
        and not name.startswith("_")
        and getattr(value, "__module__", None) == module.__name__
    }


@pytest.mark.parametrize("family", FAMILIES, ids=lambda module: module.__name__)
def test_every_op_of_a_family_is_exported(family):
    missing = sorted(_ops_of(family) - set(ops.__all__))
    assert not missing, f"{family.__name__} defines {missing}, absent from engine.ops.__all__"


def test_each_op_lives_in_one_family():
    seen: dict = {}
    for family in FAMILIES:
        for name in _ops_of(family):
            assert name not in seen, f"{name} is defined in {seen[name]} and {family.__name__}"
            seen[name] = family.__name__


@pytest.mark.parametrize("name", sorted(set(ops.__all__) - NOT_RECORDED))
def test_exported_ops_record_symbolic_calls(name):
    exported = getattr(ops, name)
    original = exported.__wrapped__
    assert exported.__name__ == original.__name__
    home = sys.modules[original.__module__]
    assert home is ops or home in FAMILIES
    assert home is ops or getattr(home, name) is original


@pytest.mark.parametrize("name", sorted(ops_image.__all__))
def test_image_ops_are_under_ops_image_and_record_dotted_names(name):
    """``keras.ops.image`` is a namespace: its ops live at ``ops.image.<name>`` only and
    are recorded as ``"image.<name>"``, which ``OpCall`` (and so loading) resolves."""
    from engine.layers.op_call import _function

    exported = getattr(ops.image, name)
    assert exported.__wrapped__ is getattr(ops_image, name)
    assert _function(f"image.{name}") is exported
    assert name not in ops.__all__


def test_linalg_and_nn_namespaces_hold_the_top_level_ops():
    for namespace in (ops.linalg, ops.nn):
        for name, function in vars(namespace).items():
            assert function is getattr(ops, name), name
