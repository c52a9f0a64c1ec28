"""engine.data.Dataset and generators through fit/evaluate/predict; weights; validation_split."""

import re
import warnings

import numpy
import pytest

import engine
from engine import layers
from engine.data import Dataset
from engine.models import Sequential


def make_data(n=60, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    return x, y


def make_model(seed=0):
    engine.utils.set_random_seed(seed)
    model = Sequential([layers.Dense(2, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_from_tensor_slices_batch_map():
    x, y = make_data(10)
    batches = list(Dataset.from_tensor_slices((x, y)).batch(4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    numpy.testing.assert_array_equal(numpy.concatenate([b[0] for b in batches]), x)
    doubled = list(Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 2, b)).batch(5))
    numpy.testing.assert_array_equal(doubled[1][0], x[5:] * 2)
    assert [len(b) for b in Dataset.from_tensor_slices(x).batch(3, drop_remainder=True)] == [3] * 3
    with pytest.raises(ValueError, match="different lengths"):
        Dataset.from_tensor_slices((x, y[:3]))


def test_shuffle_is_a_permutation_reshuffled_each_pass_and_seeded():
    x = numpy.arange(20)
    dataset = Dataset.from_tensor_slices(x).shuffle(8, seed=1)
    first, second = list(dataset), list(dataset)
    assert sorted(first) == list(range(20)) and sorted(second) == list(range(20))
    assert first != second and first != list(range(20))
    assert list(Dataset.from_tensor_slices(x).shuffle(8, seed=1)) == first


def test_prefetch_moves_batches_to_the_backend_and_reraises(backend):
    x, y = make_data(10)
    batches = list(Dataset.from_tensor_slices((x, y)).batch(4).prefetch(2).iterate(backend))
    assert all(backend.is_native(b[0]) for b in batches)
    numpy.testing.assert_array_equal(backend.to_numpy(batches[2][0]), x[8:])

    def broken(a):
        raise RuntimeError("bad element")

    with pytest.raises(RuntimeError, match="bad element"):
        list(Dataset.from_tensor_slices(x).map(broken).prefetch(1))
    partial = iter(Dataset.from_tensor_slices(x).batch(1).prefetch(1))
    next(partial)
    partial.close()  # stops the producer thread


def test_fit_on_dataset_matches_fit_on_arrays(backend):
    x, y = make_data()
    arrays = make_model()
    arrays.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0)
    dataset = make_model()
    data = Dataset.from_tensor_slices((x, y)).batch(10).prefetch(2)
    history = dataset.fit(data, epochs=2, verbose=0, validation_data=data)
    for a, b in zip(arrays.get_weights(), dataset.get_weights()):
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert dataset.evaluate(data, verbose=0) == pytest.approx(arrays.evaluate(x, y, verbose=0))
    # batches of 10 against predict's 32: a GPU's GEMM may round the rows differently
    numpy.testing.assert_allclose(
        dataset.predict(data, verbose=0), arrays.predict(x, verbose=0), rtol=1e-6
    )
    limited = make_model()
    limited.fit(data, epochs=2, steps_per_epoch=2, verbose=0)
    assert limited.optimizer.iterations == 4


def test_fit_on_a_generator_with_steps_per_epoch():
    x, y = make_data()
    weights = numpy.ones(len(x), dtype="float32")

    def batches():
        while True:
            for start in range(0, len(x), 10):
                yield x[start : start + 10], y[start : start + 10], weights[start : start + 10]

    generated = make_model()
    generated.fit(batches(), steps_per_epoch=6, epochs=2, verbose=0)
    arrays = make_model()
    arrays.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(arrays.get_weights(), generated.get_weights()):
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    loss = generated.evaluate(batches(), steps=6, verbose=0)
    assert loss == pytest.approx(generated.evaluate(x, y, verbose=0))


def test_finite_generator_runs_out_with_a_warning():
    x, y = make_data()
    model = make_model()
    finite = ((x[i : i + 20], y[i : i + 20]) for i in range(0, 60, 20))
    with pytest.warns(UserWarning, match="ran out of data in epoch 2"):
        history = model.fit(finite, epochs=3, verbose=0)
    assert history.epoch == [0] and model.optimizer.iterations == 3


def test_bad_batches_and_options_have_clear_errors():
    x, y = make_data()
    model = make_model()
    with pytest.raises(ValueError, match="each batch must be a tuple"):
        model.fit(iter([x]), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(Dataset.from_tensor_slices((x, y)).batch(8), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="yielded no batches"):
        model.fit(iter([]), verbose=0)
    bad = x.copy()
    bad[3, 1] = numpy.nan
    with pytest.raises(ValueError, match="`x` contains nan"):
        model.fit(Dataset.from_tensor_slices((bad, y)).batch(8), verbose=0)
    with pytest.raises(ValueError, match="expects input of shape"):
        model.fit(Dataset.from_tensor_slices((x[:, :3], y)).batch(8), verbose=0)


def test_sample_weight_and_class_weight():
    x, y = make_data()
    # a zero weight removes a sample; the loss still divides by the batch size (as Keras's
    # "sum_over_batch_size" does), hence the halved weights on the half-size subset
    weights = numpy.ones(len(x), dtype="float32")
    weights[30:] = 0
    weighted = make_model()
    weighted.fit(x, y, sample_weight=weights, batch_size=60, epochs=3, verbose=0)
    subset = make_model()
    half = numpy.full(30, 0.5, dtype="float32")
    subset.fit(x[:30], y[:30], sample_weight=half, batch_size=30, epochs=3, verbose=0)
    for a, b in zip(weighted.get_weights(), subset.get_weights()):
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    # class_weight is per-sample weights looked up by label
    by_class = make_model()
    by_class.fit(x, y, class_weight={0: 0.5, 1: 2.0}, batch_size=60, epochs=2, verbose=0)
    explicit = make_model()
    explicit.fit(
        x, y, sample_weight=numpy.where(y == 1, 2.0, 0.5), batch_size=60, epochs=2, verbose=0
    )
    for a, b in zip(by_class.get_weights(), explicit.get_weights()):
        numpy.testing.assert_allclose(a, b, atol=1e-7)
    with pytest.raises(ValueError, match="no weight for classes"):
        make_model().fit(x, y, class_weight={0: 1.0}, verbose=0)


def test_validation_split_takes_the_last_fraction():
    x, y = make_data()
    model = make_model()
    history = model.fit(x, y, validation_split=0.25, epochs=1, shuffle=False, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x[45:], y[45:], verbose=0)[0]
    )


def test_progress_for_a_generator_of_unknown_length(capsys):
    x, y = make_data()
    batches = ((x[i : i + 20], y[i : i + 20]) for i in range(0, 60, 20))
    make_model().fit(batches, epochs=1, verbose=2)
    out = capsys.readouterr().out
    assert "3/Unknown - " in out and "loss:" in out


def test_class_weight_leaves_validation_unweighted(backend):
    x, y = make_data()
    model = make_model()
    history = model.fit(
        x,
        y,
        validation_split=0.25,
        class_weight={0: 1.0, 1: 100.0},
        epochs=1,
        shuffle=False,
        verbose=0,
    )
    assert history.history["val_loss"][0] == pytest.approx(
        model.evaluate(x[45:], y[45:], verbose=0)[0], rel=1e-6
    )


def test_class_weight_and_sample_weight_together_are_refused(backend):
    x, y = make_data()
    model = make_model()
    weights = numpy.ones(len(x), "float32")
    with pytest.raises(ValueError, match="fit: give `class_weight` or `sample_weight`"):
        model.fit(x, y, sample_weight=weights, class_weight={0: 1, 1: 2}, verbose=0)
    with pytest.raises(ValueError, match="train_on_batch: give `class_weight`"):
        model.train_on_batch(x, y, sample_weight=weights, class_weight={0: 1, 1: 2})
    dataset = Dataset.from_tensor_slices((x, y, weights)).batch(20)
    with pytest.raises(ValueError, match="fit: give `class_weight`"):
        model.fit(dataset, class_weight={0: 1, 1: 2}, verbose=0)


def test_only_weighted_metrics_see_sample_weights(backend, tmp_path):
    x, y = make_data()
    model = make_model()
    model.compile(
        optimizer="sgd",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", "accuracy"],
        weighted_metrics=["accuracy"],
    )
    weights = numpy.zeros(len(x), "float32")
    weights[:20] = 1.0
    logs = model.evaluate(x, y, sample_weight=weights, return_dict=True, verbose=0)
    assert list(logs) == ["accuracy", "accuracy_1", "weighted_accuracy", "loss"]
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    assert logs["accuracy"] == pytest.approx((predicted == y).mean())
    assert logs["weighted_accuracy"] == pytest.approx((predicted == y)[:20].mean())
    history = model.fit(
        x, y, sample_weight=weights, validation_data=(x, y, weights), epochs=1, verbose=0
    )
    assert sorted(history.history) == sorted(
        ["accuracy", "accuracy_1", "weighted_accuracy", "loss"]
        + ["val_accuracy", "val_accuracy_1", "val_weighted_accuracy", "val_loss"]
    )
    model.save(tmp_path / "weighted.safetensors")
    loaded = engine.models.load_model(tmp_path / "weighted.safetensors")
    assert loaded.evaluate(
        x, y, sample_weight=weights, return_dict=True, verbose=0
    ) == model.evaluate(x, y, sample_weight=weights, return_dict=True, verbose=0)


def test_class_weight_reaches_weighted_metrics_only(backend):
    x, y = make_data()
    model = make_model()
    model.compile(
        optimizer=engine.optimizers.SGD(learning_rate=0.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=["acc"],
    )
    history = model.fit(x, y, class_weight={0: 0.0, 1: 1.0}, batch_size=60, verbose=0)
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    assert history.history["accuracy"][0] == pytest.approx((predicted == y).mean())
    assert history.history["acc"][0] == pytest.approx((predicted == y)[y == 1].mean())


def test_progress_knows_a_datasets_length_after_the_first_epoch(capsys):
    x, y = make_data()
    dataset = engine.data.Dataset.from_tensor_slices((x, y)).batch(20)
    make_model().fit(dataset, epochs=2, verbose=2)
    out = capsys.readouterr().out
    first, second = out.split("Epoch 2/2")
    assert "3/Unknown - " in first
    assert "3/3 - " in second and "Unknown" not in second


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_finite_check_finds_every_nan_and_inf_and_accepts_huge_finite_values(dtype):
    """Values near the dtype's largest are finite; a NaN or an inf anywhere (also in a
    strided view) is named with its index."""
    from engine.models.data import check_finite

    huge = numpy.full((4, 3), numpy.finfo(dtype).max / 2, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing overflows on the way: no RuntimeWarning
        check_finite(huge, "x", "fit")
    check_finite(numpy.zeros((0, 3), dtype), "x", "fit")
    for bad, shown in ((numpy.nan, "nan"), (numpy.inf, "inf"), (-numpy.inf, "-inf")):
        array = numpy.ones((6, 5), dtype)
        array[4, 2] = bad
        with pytest.raises(ValueError, match=re.escape(f"`x` contains {shown} at index (4, 2)")):
            check_finite(array, "x", "fit")
        with pytest.raises(ValueError, match=re.escape(f"contains {shown} at index (2, 2)")):
            check_finite(array[::2], "y", "fit")  # a strided view
