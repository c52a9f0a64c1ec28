"""Custom training as Keras 3 does it on PyTorch, with this library's autograd.

The models follow Keras's guide "Customizing what happens in fit() with PyTorch",
with ``torch.no_grad()`` replaced by ``engine.no_grad()``.
"""

import numpy
import pytest

import engine
from engine import layers, optimizers


def _data(n=64, seed=0):
    rng = numpy.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ numpy.array([[1.0], [-2.0], [0.5], [0.0]], "float32")).astype("float32")


def _dense_stack():
    return [layers.Dense(8, activation="tanh"), layers.Dense(1)]


class GuideModel(engine.Model):
    """The guide's first example: compiled loss and metrics, updated through self.metrics."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stack = _dense_stack()

    def call(self, x):
        for layer in self.stack:
            x = layer(x)
        return x

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with engine.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class Plain(engine.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stack = _dense_stack()

    def call(self, x):
        for layer in self.stack:
            x = layer(x)
        return x


def _twins(first_cls, second_cls):
    engine.utils.set_random_seed(4)
    x, _ = _data()
    first, second = first_cls(), second_cls()
    first(x[:1])
    second(x[:1])
    second.set_weights(first.get_weights())
    return first, second


def test_guide_train_step_equals_default_fit(backend):
    custom, plain = _twins(GuideModel, Plain)
    x, y = _data()
    histories = []
    for model in (custom, plain):
        model.compile(optimizers.Adam(0.01), "mse", metrics=["mae"])
        histories.append(model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0))
    assert set(histories[0].history) == {"loss", "mae"}
    for key in ("loss", "mae"):
        assert histories[0].history[key] == pytest.approx(histories[1].history[key], rel=1e-5)
    for a, b in zip(custom.get_weights(), plain.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class Trackers(Plain):
    """The guide's second example: its own loss function and metric trackers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_tracker = engine.metrics.Mean(name="loss")
        self.mae_metric = engine.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = engine.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)
        loss.backward()
        gradients = [v.value.grad for v in self.trainable_weights]
        with engine.no_grad():
            self.optimizer.apply(gradients, self.trainable_weights)
        self.loss_tracker.update_state(loss.item())
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(self.loss_fn(y, y_pred).item())
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_own_trackers_reset_each_epoch_and_test_step(backend):
    custom, plain = _twins(Trackers, Plain)
    x, y = _data()
    custom.compile(optimizers.SGD(0.05))  # no loss: train_step has its own
    plain.compile(optimizers.SGD(0.05), "mse", metrics=["mae"])
    got = custom.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    expected = plain.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert got["mae"] == pytest.approx(expected["mae"], rel=1e-5)
    assert custom.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
        plain.evaluate(x, y, verbose=0, return_dict=True), rel=1e-5
    )


def test_python_loop_equals_fit(backend):
    looped, fitted = _twins(Plain, Plain)
    x, y = _data()
    optimizer = optimizers.Adam(0.01)
    loss_fn = engine.losses.MeanSquaredError()
    dataset = engine.data.Dataset.from_tensor_slices((x, y)).batch(16)
    for _ in range(2):
        for xb, yb in dataset:
            looped.zero_grad()
            loss = loss_fn(yb, looped(xb, training=True))
            loss.backward()
            optimizer.apply([v.grad for v in looped.trainable_weights], looped.trainable_weights)
    fitted.compile(optimizers.Adam(0.01), "mse")
    fitted.fit(dataset, epochs=2, verbose=0)
    for a, b in zip(looped.get_weights(), fitted.get_weights()):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


class TinyGAN(engine.Model):
    """Two optimizers held as attributes, alternating updates (the guide's GAN, smaller)."""

    def __init__(self, latent_dim=3):
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = engine.Sequential([layers.Input((latent_dim,)), layers.Dense(4)])
        self.discriminator = engine.Sequential(
            [layers.Input((4,)), layers.Dense(1, activation="sigmoid")]
        )
        self.d_loss_tracker = engine.metrics.Mean(name="d_loss")
        self.g_loss_tracker = engine.metrics.Mean(name="g_loss")
        self.rng = numpy.random.default_rng(0)
        self.built = True

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

    def _noise(self, n):
        return engine.tensor(self.rng.normal(size=(n, self.latent_dim)).astype("float32"))

    def discriminator_step(self, real):
        n = real.shape[0]
        fake = self.generator(self._noise(n))
        combined = engine.functional.concatenate([fake.detach(), real], axis=0)
        labels = numpy.concatenate([numpy.ones((n, 1)), numpy.zeros((n, 1))]).astype("float32")
        self.zero_grad()
        d_loss = self.loss_fn(labels, self.discriminator(combined))
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        with engine.no_grad():
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)
        return d_loss

    def generator_step(self, n):
        misleading = numpy.zeros((n, 1), "float32")
        self.zero_grad()
        g_loss = self.loss_fn(misleading, self.discriminator(self.generator(self._noise(n))))
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with engine.no_grad():
            self.g_optimizer.apply(grads, self.generator.trainable_weights)
        return g_loss

    def train_step(self, real):
        if isinstance(real, tuple):
            real = real[0]
        self.d_loss_tracker.update_state(self.discriminator_step(real).item())
        self.g_loss_tracker.update_state(self.generator_step(real.shape[0]).item())
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def _gan():
    gan = TinyGAN()
    gan.compile(optimizers.Adam(0.01), optimizers.Adam(0.01), engine.losses.BinaryCrossentropy())
    return gan


def test_gan_steps_change_only_their_side(backend):
    gan = _gan()
    real = engine.tensor(numpy.ones((8, 4), "float32"))
    generator, discriminator = gan.generator.get_weights(), gan.discriminator.get_weights()
    gan.discriminator_step(real)
    assert all(numpy.array_equal(a, b) for a, b in zip(generator, gan.generator.get_weights()))
    assert not numpy.array_equal(discriminator[0], gan.discriminator.get_weights()[0])
    discriminator = gan.discriminator.get_weights()
    gan.generator_step(8)
    assert all(
        numpy.array_equal(a, b) for a, b in zip(discriminator, gan.discriminator.get_weights())
    )
    assert not numpy.array_equal(generator[0], gan.generator.get_weights()[0])


def test_gan_fits_on_x_alone(backend):
    gan = _gan()
    real = numpy.random.default_rng(1).normal(2.0, 0.1, size=(64, 4)).astype("float32")
    history = gan.fit(real, epochs=3, batch_size=16, verbose=0).history
    assert set(history) == {"d_loss", "g_loss"} and len(history["d_loss"]) == 3
    assert all(numpy.isfinite(history["d_loss"]))


def test_bad_custom_steps_and_missing_loss(backend):
    class Bad(Plain):
        def train_step(self, data):
            return 3.0

    x, y = _data(8)
    bad = Bad()
    bad.compile("sgd", "mse")
    with pytest.raises(TypeError, match="Bad.train_step must return a dict.*float"):
        bad.fit(x, y, verbose=0)

    class Stringy(Plain):
        def train_step(self, data):
            return {"loss": "low"}

    stringy = Stringy()
    stringy.compile("sgd", "mse")
    with pytest.raises(TypeError, match="Stringy.train_step returned 'loss': 'low'"):
        stringy.fit(x, y, verbose=0)
    plain = Plain()
    plain.compile("sgd")
    with pytest.raises(ValueError, match="compiled without a loss"):
        plain.fit(x, y, verbose=0)


def test_optimizer_apply_checks_its_arguments(backend):
    w = engine.tensor(numpy.ones((2, 2), "float32"), requires_grad=True)
    optimizer = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="got 1 gradients for 2 variables"):
        optimizer.apply([numpy.ones((2, 2))], [w, w])
    with pytest.raises(ValueError, match=r"has shape \(3,\), but the variable has shape \(2, 2\)"):
        optimizer.apply([numpy.ones(3)], [w])
    optimizer.apply([numpy.ones((2, 2), "float32")], [w])
    numpy.testing.assert_allclose(w.numpy(), numpy.full((2, 2), 0.9))
    w.assign(numpy.zeros((2, 2)))
    w.assign_add(numpy.ones((2, 2)))
    numpy.testing.assert_array_equal(w.numpy(), numpy.ones((2, 2)))
