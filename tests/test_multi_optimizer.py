"""MultiOptimizer and OptimizerMap (Keras 3.15): each weight updated by its own optimizer."""

import numpy
import pytest

import engine
from engine import optimizers
from engine.distribute import DataParallel
from engine.models import load_model
from engine.optimizers import MultiOptimizer, OptimizerMap
from engine.tensor import Tensor

RNG = numpy.random.default_rng(0)
STARTS = {
    "enc/kernel": RNG.normal(size=(3, 2)),
    "enc/bias": RNG.normal(size=2),
    "dec/kernel": RNG.normal(size=(2, 2)),
}
GRADS = [{path: RNG.normal(size=start.shape) for path, start in STARTS.items()} for _ in range(3)]


def variables():
    return [Tensor(start.copy(), requires_grad=True, name=path) for path, start in STARTS.items()]


def train_by_hand(assignment, steps=GRADS):
    """The variables after ``steps``, each path updated alone by ``assignment[path]``."""
    result = {}
    for path, optimizer in assignment.items():
        (var,) = [v for v in variables() if v.path == path]
        for grads in steps:
            optimizer.apply([grads[path]], [var])
        result[path] = var.numpy()
    return result


def train(optimizer, steps=GRADS, vs=None):
    vs = variables() if vs is None else vs
    for grads in steps:
        optimizer.apply([grads[v.path] for v in vs], vs)
    return {v.path: v.numpy() for v in vs}


def assert_same(got: dict, expected: dict):
    assert got.keys() == expected.keys()
    for path in got:
        numpy.testing.assert_allclose(got[path], expected[path], rtol=1e-12, err_msg=path)


# -- OptimizerMap -----------------------------------------------------------------------


def test_map_takes_the_exact_key_then_the_one_fullmatching_pattern_then_the_default():
    adam, sgd, rms, default = optimizers.Adam(), optimizers.SGD(), optimizers.RMSprop(), None
    default = optimizers.Adagrad()
    mapping = OptimizerMap(default, {"encoder/layer_0/dense": adam})
    mapping["encoder/.*"] = sgd
    mapping["decoder"] = rms
    assert mapping["encoder/layer_0/dense"] is adam  # exact, although the pattern matches too
    assert mapping["encoder/layer_0/attention/query"] is sgd
    assert mapping["decoder"] is rms
    assert mapping["decoder/layer_0/dense"] is default  # a full match, not a prefix
    assert mapping["my_encoder/x"] is default
    assert mapping.default_optimizer is default
    assert list(mapping) == ["encoder/layer_0/dense", "encoder/.*", "decoder"] and len(mapping) == 3
    assert mapping(Tensor(numpy.zeros(2), name="encoder/k")) is sgd  # by the variable's path
    assert mapping(Tensor(numpy.zeros(2))) is default  # no path: nothing can match
    del mapping["decoder"]
    assert mapping["decoder"] is default


def test_map_refuses_a_path_that_two_patterns_match():
    mapping = OptimizerMap(
        optimizers.SGD(), {"enc/.*": optimizers.Adam(), ".*/kernel": optimizers.SGD()}
    )
    assert mapping["enc/bias"] is mapping["enc/.*"]
    with pytest.raises(
        ValueError,
        match="Multiple optimizers assigned to variable enc/kernel.*'enc/.*'.*'.*/kernel'",
    ):
        mapping["enc/kernel"]
    mapping["enc/kernel"] = optimizers.RMSprop()  # an exact key settles it
    assert isinstance(mapping["enc/kernel"], optimizers.RMSprop)


def test_map_errors_name_the_argument():
    with pytest.raises(TypeError, match="`default_optimizer` must be an Optimizer instance"):
        OptimizerMap("adam")
    with pytest.raises(TypeError, match="`optimizer_map` must be a dict"):
        OptimizerMap(optimizers.SGD(), [("a", optimizers.Adam())])
    with pytest.raises(ValueError, match="`optimizer_map`: the value of 'a' must be an Optimizer"):
        OptimizerMap(optimizers.SGD(), {"a": "adam"})
    with pytest.raises(ValueError, match="`optimizer_map`: the key '\\(' is not a valid regular"):
        OptimizerMap(optimizers.SGD(), {"(": optimizers.Adam()})
    mapping = OptimizerMap(optimizers.SGD(), {"a": optimizers.Adam()})
    with pytest.raises(ValueError, match="'a' already exists"):
        mapping["a"] = optimizers.Adam()
    with pytest.raises(ValueError, match="a key must be a string"):
        mapping[3] = optimizers.Adam()
    with pytest.raises(ValueError, match="cannot be a MultiOptimizer"):
        mapping["b"] = MultiOptimizer(OptimizerMap(optimizers.SGD()))
    with pytest.raises(TypeError, match="look up a variable path"):
        mapping[None]


# -- MultiOptimizer -------------------------------------------------------------------


def test_each_variable_is_updated_by_exactly_its_optimizer(backend):
    def mapping():
        return {
            "default": optimizers.SGD(0.1, momentum=0.9),
            "enc/kernel": optimizers.Adam(0.01),  # exact key
            "enc/.*": optimizers.RMSprop(0.01, clipnorm=0.5),  # pattern: enc/bias only
        }

    given = mapping()
    default = given.pop("default")
    multi = MultiOptimizer(OptimizerMap(default, given))
    assert multi.optimizers == [given["enc/kernel"], given["enc/.*"], default]
    vs = variables()
    got = train(multi, vs=vs)
    by_hand = mapping()
    expected = train_by_hand(
        {
            "enc/kernel": by_hand["enc/kernel"],
            "enc/bias": by_hand["enc/.*"],
            "dec/kernel": by_hand["default"],
        }
    )
    assert_same(got, expected)
    assert multi.iterations == 3 and [o.iterations for o in multi.optimizers] == [3, 3, 3]
    assert [multi.optimizer_for(v) for v in vs] == [given["enc/kernel"], given["enc/.*"], default]
    assert multi.slots(vs[0]) is given["enc/kernel"].slots(vs[0])  # its optimizer's state
    assert multi.slots(variables()[0]) is None  # a variable it never saw
    assert {name.split("/")[0] for name, _ in multi.variables()} == {"0", "1", "2"}


def test_apply_gradients_and_apply_without_variables_route_alike(backend):
    multi = MultiOptimizer(OptimizerMap(optimizers.SGD(0.1), {"dec/.*": optimizers.Adam(0.01)}))
    vs = variables()
    multi.apply_gradients([(GRADS[0][v.path], v) for v in vs])
    multi.apply([GRADS[1][v.path] for v in vs])  # the variables it was built with, in order
    multi.apply([None, GRADS[2]["enc/bias"], None], vs)  # None skips a variable
    adam, sgd = optimizers.Adam(0.01), optimizers.SGD(0.1)
    expected = train_by_hand({"enc/kernel": sgd, "dec/kernel": adam}, GRADS[:2])
    expected["enc/bias"] = train_by_hand({"enc/bias": optimizers.SGD(0.1)})["enc/bias"]
    assert_same({v.path: v.numpy() for v in vs}, expected)
    assert multi.iterations == 3 and [o.iterations for o in multi.optimizers] == [2, 3]


def test_a_callable_selects_each_variables_optimizer(backend):
    made = []

    def select(variable):  # as in Keras's example: a new optimizer per variable
        optimizer = optimizers.Adam(0.01) if "enc" in variable.path else optimizers.SGD(0.1)
        made.append(optimizer)
        return optimizer

    multi = MultiOptimizer(select)
    got = train(multi)
    assert multi.optimizers == made and len(made) == 3  # chosen once per variable
    expected = train_by_hand(
        {
            "enc/kernel": optimizers.Adam(0.01),
            "enc/bias": optimizers.Adam(0.01),
            "dec/kernel": optimizers.SGD(0.1),
        }
    )
    assert_same(got, expected)
    assert multi.optimizer_for(variables()[0]) is None


def test_wrong_arguments_give_clear_errors():
    with pytest.raises(
        TypeError, match="`optimizer_map` must be an OptimizerMap or a callable.*Wrap it"
    ):
        MultiOptimizer(optimizers.Adam())
    with pytest.raises(
        TypeError, match="`optimizer_map` must be an OptimizerMap or a callable.*Wrap it"
    ):
        MultiOptimizer({"enc/.*": optimizers.Adam()})
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        MultiOptimizer(OptimizerMap(optimizers.SGD()), learning_rate=0.1)
    for wrong, match in (("adam", "must be an Optimizer instance"), (None, "must be an Optimizer")):
        multi = MultiOptimizer(lambda v, wrong=wrong: wrong)
        with pytest.raises(
            ValueError, match=f"given for variable 'enc/kernel' by `optimizer_map` {match}"
        ):
            multi.build(variables())
    nested = MultiOptimizer(OptimizerMap(optimizers.SGD()))
    with pytest.raises(ValueError, match="cannot be a MultiOptimizer"):
        MultiOptimizer(lambda v: nested).build(variables())


def test_learning_rate_is_on_the_sub_optimizers_only():
    multi = MultiOptimizer(OptimizerMap(optimizers.SGD(0.5)))
    with pytest.raises(AttributeError, match="cannot be accessed on a MultiOptimizer"):
        multi.learning_rate  # noqa: B018
    with pytest.raises(AttributeError, match="cannot be set on a MultiOptimizer"):
        multi.learning_rate = 0.1
    assert multi.optimizers[0].learning_rate == 0.5
    assert multi.name == "multi_optimizer"


def test_gradients_are_combined_once_for_all_variables_before_each_optimizer_clips(backend):
    class Doubling:  # a data-parallel strategy whose "other rank" has the same gradients
        calls = []

        def reduce_gradients(self, params, grads):
            self.calls.append([p.path for p in params])
            return [g * 2 for g in grads]

    def mapping():
        return OptimizerMap(
            optimizers.SGD(0.1, clipvalue=0.3),
            {"enc/.*": optimizers.Adam(0.01, global_clipnorm=0.5)},
        )

    multi = MultiOptimizer(mapping())
    multi.distribution = Doubling()
    got = train(multi, GRADS[:2])
    assert Doubling.calls == [list(STARTS)] * 2
    doubled = [{path: 2 * g for path, g in grads.items()} for grads in GRADS[:2]]
    plain = MultiOptimizer(mapping())
    assert_same(got, train(plain, doubled))
    assert all(o.distribution is None for o in multi.optimizers)


# -- models -----------------------------------------------------------------------------


def data():
    rng = numpy.random.default_rng(1)
    x = rng.normal(size=(32, 3)).astype("float32")
    return x, (x @ rng.normal(size=(3, 2))).astype("float32")


def model(optimizer):
    engine.random.set_seed(0)
    net = engine.Sequential(
        [
            engine.layers.Input((3,)),
            engine.layers.Dense(4, activation="tanh", name="enc"),
            engine.layers.Dense(2, name="dec"),
        ]
    )
    net.compile(optimizer=optimizer, loss="mse")
    return net


def test_fit_updates_each_layer_with_its_optimizer(backend):
    x, y = data()
    frozen, moving = optimizers.SGD(0.0), optimizers.Adam(0.01)
    net = model(MultiOptimizer(OptimizerMap(frozen, {"enc/.*": moving})))
    before = net.get_weights()
    history = net.fit(x, y, batch_size=8, epochs=2, verbose=0)
    after = net.get_weights()
    assert all(numpy.abs(a - b).max() > 1e-4 for a, b in zip(after[:2], before[:2]))
    assert all(numpy.array_equal(a, b) for a, b in zip(after[2:], before[2:]))
    assert history.history["loss"][1] < history.history["loss"][0]
    assert net.optimizer.iterations == moving.iterations == frozen.iterations == 8
    assert (
        moving.slots(net.layers[0].kernel) is not None
        and frozen.slots(net.layers[0].kernel) is None
    )


def test_a_saved_model_resumes_with_each_optimizers_state(backend, tmp_path):
    x, y = data()

    def multi():
        mapping = OptimizerMap(optimizers.SGD(0.05), {"enc/kernel": optimizers.Adam(0.01)})
        mapping["dec/.*"] = optimizers.RMSprop(0.01, momentum=0.5, centered=True)
        return MultiOptimizer(mapping, name="split")

    net, reference = model(multi()), model(multi())
    for trained in (net, reference):
        trained.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    net.save(tmp_path / "multi.safetensors")
    loaded = load_model(tmp_path / "multi.safetensors")
    assert isinstance(loaded.optimizer, MultiOptimizer) and loaded.optimizer.name == "split"
    assert loaded.optimizer.get_config() == net.optimizer.get_config()
    assert [o.iterations for o in loaded.optimizer.optimizers] == [4, 4, 4]
    for saved, restored in zip(net.trainable_weights, loaded.trainable_weights):
        old, new = net.optimizer.slots(saved), loaded.optimizer.slots(restored)
        assert old.keys() == new.keys()
        for name in old:
            numpy.testing.assert_array_equal(
                backend.to_numpy(old[name]), backend.to_numpy(new[name])
            )
    for trained in (loaded, reference):
        trained.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(loaded.get_weights(), reference.get_weights()):
        numpy.testing.assert_array_equal(a, b)


def test_config_round_trips_through_serialize():
    mapping = OptimizerMap(
        optimizers.SGD(0.1, momentum=0.9), {"enc/.*": optimizers.Adam(0.01, clipnorm=1.0)}
    )
    multi = MultiOptimizer(mapping, name="two")
    config = optimizers.serialize(multi)
    assert config["class_name"] == "MultiOptimizer"
    assert config["config"]["optimizer_map"]["class_name"] == "OptimizerMap"
    restored = optimizers.deserialize(config)
    assert isinstance(restored, MultiOptimizer) and restored.get_config() == multi.get_config()
    assert [type(o) for o in restored.optimizers] == [optimizers.Adam, optimizers.SGD]
    assert MultiOptimizer.from_config(multi.get_config()).get_config() == multi.get_config()
    assert OptimizerMap.from_config(mapping.get_config()).get_config() == mapping.get_config()


def test_a_callable_is_saved_only_when_registered(tmp_path):
    def pick(variable):
        return optimizers.Adam(0.01) if "enc" in variable.path else optimizers.SGD(0.1)

    multi = MultiOptimizer(pick)
    with pytest.raises(
        ValueError, match="`optimizer_map` callable .* cannot be saved; register it"
    ):
        multi.get_config()
    with engine.saving.CustomObjectScope({"pick": pick}):
        config = optimizers.serialize(multi)
        assert optimizers.deserialize(config)._optimizer_map is pick
    net = model(multi)
    net.fit(*data(), epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="without its compile config"):
        net.save(tmp_path / "pick.safetensors")
    assert load_model(tmp_path / "pick.safetensors").optimizer is None


def test_data_parallel_ranks_train_as_one_process(backend):
    if getattr(backend, "simulated", False):
        pytest.skip("the CUDA simulator runs one kernel at a time; thread ranks launch together")
    from tests.test_distribute import run_ranks

    x, y = data()

    def multi():
        return MultiOptimizer(
            OptimizerMap(
                optimizers.SGD(0.1, momentum=0.9),
                {"enc/.*": optimizers.Adam(0.01, global_clipnorm=0.2)},
            )
        )

    single = model(multi())
    start = single.get_weights()  # the ranks' too: their threads share the global RNG

    def body(rank, host):
        with engine.use_backend(backend.name):
            net = model(multi())
            net.set_weights(start)
            net.fit(
                x,
                y,
                batch_size=16,
                epochs=2,
                shuffle=False,
                verbose=0,
                distribute=DataParallel(host),
            )
            return net.get_weights()

    first, second = run_ranks(2, body)
    single.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b, c in zip(first, second, single.get_weights()):
        numpy.testing.assert_array_equal(a, b)
        numpy.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)


def test_learning_rate_callbacks_and_backups_act_on_each_sub_optimizer(backend, tmp_path):
    """As Keras 3: ReduceLROnPlateau and LearningRateScheduler set every sub-optimizer's
    rate and log ``learning_rate_<name>``; BackupAndRestore resumes them."""
    import engine
    from engine import callbacks, layers, optimizers

    def make():
        engine.utils.set_random_seed(0)
        model = engine.Sequential(
            [layers.Input((3,)), layers.Dense(4, name="enc"), layers.Dense(1, name="dec")]
        )
        chooser = optimizers.OptimizerMap(
            optimizers.SGD(0.1, name="sgd"), {"enc/.*": optimizers.Adam(0.01, name="adam")}
        )
        model.compile(optimizers.MultiOptimizer(chooser), "mse")
        return model

    x = numpy.random.default_rng(0).random((16, 3)).astype("float32")
    y = numpy.random.default_rng(1).random((16, 1)).astype("float32")
    model = make()
    history = model.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        callbacks=[
            callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
            callbacks.ReduceLROnPlateau("loss", patience=0, factor=0.1, min_delta=100),
        ],
    )
    assert sorted(history.history) == ["learning_rate_adam", "learning_rate_sgd", "loss"]
    rates = [o.learning_rate for o in model.optimizer.optimizers]
    numpy.testing.assert_allclose(rates, [0.01 * 0.25 * 0.1, 0.1 * 0.25 * 0.1])

    class Interrupt(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("interrupted")

    backup = str(tmp_path / "backup")
    halved = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    with pytest.raises(RuntimeError, match="interrupted"):
        make().fit(
            x,
            y,
            epochs=3,
            verbose=0,
            callbacks=[halved, callbacks.BackupAndRestore(backup), Interrupt()],
        )
    resumed = make()
    resumed.fit(x, y, epochs=3, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)])
    assert [o.iterations for o in resumed.optimizer.optimizers] == [3, 3]
    numpy.testing.assert_allclose(
        [o.learning_rate for o in resumed.optimizer.optimizers], [0.005, 0.05]
    )
