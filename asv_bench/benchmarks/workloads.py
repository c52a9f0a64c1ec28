"""The seed workloads W1-W6, defined once for the asv benchmarks and ``compare.py``.

Each workload says how to build its model, once for this library (on a named
backend) and Keras 3 alike (its layer list takes the ``keras`` namespace:
``engine`` or ``keras``), and in PyTorch, and how to make one batch of
synthetic data. Speed does not depend on the values, so no dataset is loaded:
the inputs have the shapes and ranges of the real ones (digits pixels in [0, 1],
token ids below the vocabulary size, and so on).

Any workload can also be built with the functional API (``functional=True``):
the same layers, chained on the ``Input`` tensor into ``engine.Model``, so the
dashboard shows what the functional graph costs over ``Sequential``.

PyTorch and Keras are imported only inside the functions that need them; neither
is a dependency of the library.
"""

import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable

import numpy

SEED = 0


def thread_count() -> int:
    """Threads for every side of a comparison: ``ENGINE_BENCH_THREADS``, else all CPUs."""
    return int(os.environ.get("ENGINE_BENCH_THREADS", os.cpu_count() or 1))


def _numba_backend_loaded() -> bool:
    backends = sys.modules.get("backends")
    return backends is not None and "numba" in getattr(backends, "_instances", {})


def limit_threads(threads: int | None = None, side: str | None = None) -> int:
    """Cap BLAS, Numba and (if loaded) PyTorch at the same number of threads.

    BLAS gets one thread where the numba backend runs (``side == "numba"``, or
    by default once the numba backend is loaded): that is the backend's own
    policy, its kernel pool splits the products (``backends/thread_pool.py``).
    """
    threads = threads or thread_count()
    numba_side = side == "numba" if side is not None else _numba_backend_loaded()
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(threads, user_api="openmp")
        threadpoolctl.threadpool_limits(1 if numba_side else threads, user_api="blas")
    except ImportError:
        pass
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return threads


# -- data ---------------------------------------------------------------------


def _images(rng, batch, shape):
    return rng.random((batch, *shape), dtype=numpy.float32)


@dataclasses.dataclass(frozen=True)
class Workload:
    """One seed workload: its data, its model written once for this library and Keras 3 (the
    ``keras`` argument of ``build_layers`` and ``compile_arguments`` is ``engine`` or
    ``keras``), and the same model in PyTorch."""

    key: str
    title: str
    batch_size: int
    make_batch: Callable  # (rng, batch_size) -> (x, y) NumPy arrays, Keras layout
    build_layers: Callable  # (keras) -> layer list for keras.Sequential
    compile_arguments: Callable  # (keras) -> dict of compile() arguments
    build_torch: Callable  # () -> (module, optimizer, loss_fn, to_torch(x, y))
    epoch_samples: int  # samples in the "one epoch" of the peakmem benchmarks

    def batch(self, batch_size: int | None = None, seed: int = SEED):
        return self.make_batch(numpy.random.default_rng(seed), batch_size or self.batch_size)


def _digits_batch(rng, batch):
    x = rng.integers(0, 17, size=(batch, 64)).astype(numpy.float32) / 16
    return x, rng.integers(0, 10, size=batch)


def _mnist_flat_batch(rng, batch):
    return _images(rng, batch, (784,)), rng.integers(0, 10, size=batch)


def _mnist_image_batch(rng, batch):
    return _images(rng, batch, (28, 28, 1)), rng.integers(0, 10, size=batch)


def _text_batch(rng, batch):
    x = rng.integers(1, 1000, size=(batch, 50))
    return x, rng.integers(0, 2, size=(batch, 1)).astype(numpy.float32)


# W6: keras.io's "Text classification with Transformer" at sequence 128, embedding 64,
# 2 heads of 32, feed-forward 128: tokens and positions embedded, one post-norm block
TEXT_VOCABULARY, TEXT_LENGTH, TEXT_DIM, TEXT_HEADS, TEXT_FEED_FORWARD = 1000, 128, 64, 2, 128


def _sentence_batch(rng, batch):
    x = rng.integers(1, TEXT_VOCABULARY, size=(batch, TEXT_LENGTH))
    return x, rng.integers(0, 2, size=batch)


def _regression_batch(rng, batch):
    x = rng.standard_normal((batch, 1), dtype=numpy.float32)
    return x, (3 * x + 2 + 0.1 * rng.standard_normal((batch, 1), dtype=numpy.float32))


# -- models, for this library and Keras 3 alike -----------------------------------


def _w1_layers(keras):
    layers = keras.layers

    return [
        layers.Input(shape=(64,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]


def _w2_layers(keras):
    layers = keras.layers

    return [
        layers.Input(shape=(784,)),
        layers.Dense(256, activation="relu"),
        layers.Dense(256, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]


def _w3_layers(keras):
    layers = keras.layers

    return [
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ]


def _w4_layers(keras):
    layers = keras.layers

    return [
        layers.Input(shape=(50,)),
        layers.Embedding(1000, 32),
        layers.LSTM(64),
        layers.Dense(1, activation="sigmoid"),
    ]


def _w5_layers(keras):
    layers = keras.layers

    return [layers.Input(shape=(1,)), layers.Dense(1)]


def _w6_layers(keras):
    """keras.io's two custom layers, as written there (defined here so that this module
    imports neither library at load time)."""
    layers, ops = keras.layers, keras.ops

    class TokenAndPositionEmbedding(layers.Layer):
        def __init__(self, sequence_length, vocabulary, dim, **kwargs):
            super().__init__(**kwargs)
            self.tokens = layers.Embedding(vocabulary, dim)
            self.positions = layers.Embedding(sequence_length, dim)

        def call(self, x):
            return self.tokens(x) + self.positions(ops.arange(x.shape[-1]))

    class TransformerBlock(layers.Layer):
        def __init__(self, dim, num_heads, feed_forward_dim, rate=0.1, **kwargs):
            super().__init__(**kwargs)
            self.attention = layers.MultiHeadAttention(num_heads, key_dim=dim // num_heads)
            self.hidden = layers.Dense(feed_forward_dim, activation="relu")
            self.projection = layers.Dense(dim)
            self.norm_1 = layers.LayerNormalization(epsilon=1e-6)
            self.norm_2 = layers.LayerNormalization(epsilon=1e-6)
            self.dropout_1 = layers.Dropout(rate)
            self.dropout_2 = layers.Dropout(rate)

        def call(self, x, training=False):
            attended = self.dropout_1(self.attention(x, x), training=training)
            x = self.norm_1(x + attended)
            fed = self.dropout_2(self.projection(self.hidden(x)), training=training)
            return self.norm_2(x + fed)

    return [
        layers.Input(shape=(TEXT_LENGTH,)),
        TokenAndPositionEmbedding(TEXT_LENGTH, TEXT_VOCABULARY, TEXT_DIM),
        TransformerBlock(TEXT_DIM, TEXT_HEADS, TEXT_FEED_FORWARD),
        layers.GlobalAveragePooling1D(),
        layers.Dense(2, activation="softmax"),
    ]


def _sgd_momentum(keras):
    return {
        "optimizer": keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
        "loss": "sparse_categorical_crossentropy",
    }


def _adam(loss):
    def compile_arguments(keras):
        return {"optimizer": keras.optimizers.Adam(), "loss": loss}

    return compile_arguments


# -- the same models in PyTorch ------------------------------------------------


def _torch_classifier(module, optimizer_factory):
    import torch

    def to_torch(x, y):
        return torch.from_numpy(x), torch.from_numpy(y.astype(numpy.int64))

    return module, optimizer_factory(module.parameters()), torch.nn.CrossEntropyLoss(), to_torch


def _torch_w1():
    import torch
    from torch import nn

    module = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    return _torch_classifier(module, lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9))


def _torch_adam(parameters):
    import torch

    return torch.optim.Adam(parameters, lr=0.001, eps=1e-7)


def _torch_w2():
    from torch import nn

    module = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    return _torch_classifier(module, _torch_adam)


def _torch_w3():
    import torch
    from torch import nn

    module = nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 5 * 5, 10),
    )

    def to_torch(x, y):
        # channels-last in, as the Keras layout; PyTorch's convolutions want NCHW
        return (
            torch.from_numpy(numpy.ascontiguousarray(x.transpose(0, 3, 1, 2))),
            torch.from_numpy(y.astype(numpy.int64)),
        )

    return module, _torch_adam(module.parameters()), nn.CrossEntropyLoss(), to_torch


def _torch_w4():
    import torch
    from torch import nn

    class TextModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(1000, 32)
            self.lstm = nn.LSTM(32, 64, batch_first=True)
            self.dense = nn.Linear(64, 1)

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.embedding(tokens))
            return self.dense(h[-1])

    def to_torch(x, y):
        return torch.from_numpy(x.astype(numpy.int64)), torch.from_numpy(y)

    module = TextModel()
    return module, _torch_adam(module.parameters()), nn.BCEWithLogitsLoss(), to_torch


def _torch_w5():
    import torch
    from torch import nn

    module = nn.Linear(1, 1)

    def to_torch(x, y):
        return torch.from_numpy(x), torch.from_numpy(y)

    return module, _torch_adam(module.parameters()), nn.MSELoss(), to_torch


def _torch_w6():
    import torch
    from torch import nn

    class TextTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(TEXT_VOCABULARY, TEXT_DIM)
            self.positions = nn.Embedding(TEXT_LENGTH, TEXT_DIM)
            self.attention = nn.MultiheadAttention(TEXT_DIM, TEXT_HEADS, batch_first=True)
            self.hidden = nn.Linear(TEXT_DIM, TEXT_FEED_FORWARD)
            self.projection = nn.Linear(TEXT_FEED_FORWARD, TEXT_DIM)
            self.norm_1 = nn.LayerNorm(TEXT_DIM, eps=1e-6)
            self.norm_2 = nn.LayerNorm(TEXT_DIM, eps=1e-6)
            self.dropout_1 = nn.Dropout(0.1)
            self.dropout_2 = nn.Dropout(0.1)
            self.dense = nn.Linear(TEXT_DIM, 2)

        def forward(self, tokens):
            x = self.tokens(tokens) + self.positions(
                torch.arange(tokens.shape[1], device=tokens.device)
            )
            # need_weights=False: PyTorch's fused attention, as its TransformerEncoderLayer
            attended, _ = self.attention(x, x, x, need_weights=False)
            x = self.norm_1(x + self.dropout_1(attended))
            fed = self.projection(torch.relu(self.hidden(x)))
            x = self.norm_2(x + self.dropout_2(fed))
            return self.dense(x.mean(dim=1))

    def to_torch(x, y):
        return torch.from_numpy(x.astype(numpy.int64)), torch.from_numpy(y.astype(numpy.int64))

    module = TextTransformer()
    return module, _torch_adam(module.parameters()), nn.CrossEntropyLoss(), to_torch


WORKLOADS = {
    w.key: w
    for w in (
        Workload(
            "W1",
            "digits MLP 64-64-10, SGD momentum",
            128,
            _digits_batch,
            _w1_layers,
            _sgd_momentum,
            _torch_w1,
            epoch_samples=1797,
        ),
        Workload(
            "W2",
            "MLP 784-256-256-10, Adam",
            128,
            _mnist_flat_batch,
            _w2_layers,
            _adam("sparse_categorical_crossentropy"),
            _torch_w2,
            epoch_samples=4096,
        ),
        Workload(
            "W3",
            "CNN 28x28x1, Adam",
            64,
            _mnist_image_batch,
            _w3_layers,
            _adam("sparse_categorical_crossentropy"),
            _torch_w3,
            epoch_samples=1024,
        ),
        Workload(
            "W4",
            "Embedding-LSTM 64-Dense, Adam",
            64,
            _text_batch,
            _w4_layers,
            _adam("binary_crossentropy"),
            _torch_w4,
            epoch_samples=1024,
        ),
        Workload(
            "W5",
            "linear regression, full batch of 100",
            100,
            _regression_batch,
            _w5_layers,
            _adam("mse"),
            _torch_w5,
            epoch_samples=100,
        ),
        Workload(
            "W6",
            "text Transformer, seq 128, embed 64, 2 heads, Adam",
            32,
            _sentence_batch,
            _w6_layers,
            _adam("sparse_categorical_crossentropy"),
            _torch_w6,
            epoch_samples=1024,
        ),
    )
}

# the engine layers each workload needs, for a clear skip while one is missing
REQUIRED_LAYERS = {
    "W1": ("Dense",),
    "W2": ("Dense",),
    "W3": ("Conv2D", "MaxPooling2D", "Flatten", "Dense"),
    "W4": ("Embedding", "LSTM", "Dense"),
    "W5": ("Dense",),
    "W6": ("Embedding", "MultiHeadAttention", "LayerNormalization", "Dense", "Dropout"),
}


def missing_layers(key: str) -> list[str]:
    """The layers workload ``key`` needs that ``engine.layers`` does not have (yet)."""
    from engine import layers

    return [name for name in REQUIRED_LAYERS[key] if not hasattr(layers, name)]


# -- runners: one object per (workload, side) with step() and predict() ---------


def functional_model(layer_list: list):
    """``engine.Model`` of ``layer_list`` (an ``Input`` first), chained as ``Sequential`` would."""
    import engine

    inputs, *rest = layer_list
    outputs = inputs
    for layer in rest:
        outputs = layer(outputs)
    return engine.Model(inputs=inputs, outputs=outputs)


def subclassed_model(layer_list: list):
    """A subclassed ``engine.Model`` whose ``call`` runs ``layer_list`` (after its ``Input``)
    in a loop, as users write them: the same layers and weights as ``Sequential``."""
    import engine

    class Stack(engine.Model):
        def __init__(self, stack):
            super().__init__()
            self.stack = stack

        def call(self, x, training=None):
            for layer in self.stack:
                x = layer(x, training=training)
            return x

    inputs, *rest = layer_list
    model = Stack(rest)
    model.build_from_config({"input_shape": list(inputs.shape), "input_dtype": inputs.dtype})
    return model


class EngineRunner:
    """A compiled model of this library on ``backend_name``, with one batch ready.

    ``functional=True`` builds the workload with the functional API instead of
    ``Sequential``, ``subclassed=True`` as a subclassed Model: the same layers and
    initial weights.
    """

    def __init__(
        self,
        workload: Workload,
        backend_name: str,
        batch_size: int | None = None,
        functional: bool = False,
        subclassed: bool = False,
    ):
        import engine

        missing = missing_layers(workload.key)
        if missing:
            raise NotImplementedError(f"engine.layers has no {', '.join(missing)} yet")
        engine.utils.set_random_seed(SEED)
        with engine.use_backend(backend_name) as backend:
            self.backend = backend
            layer_list = workload.build_layers(engine)
            if functional:
                self.model = functional_model(layer_list)
            elif subclassed:
                self.model = subclassed_model(layer_list)
            else:
                self.model = engine.models.Sequential(layer_list)
            self.model.compile(**workload.compile_arguments(engine))
        self.workload = workload
        self.x, self.y = workload.batch(batch_size)
        self.samples = len(self.x)

    def step(self) -> None:
        self.model.train_on_batch(self.x, self.y)
        self.backend.synchronize()

    def predict(self) -> None:
        self.model.predict_on_batch(self.x)
        self.backend.synchronize()

    def test_batch(self) -> None:
        self.model.test_on_batch(self.x, self.y)
        self.backend.synchronize()

    def fit_epoch(self, x, y) -> None:
        self.model.fit(x, y, batch_size=self.workload.batch_size, epochs=1, verbose=0)
        self.backend.synchronize()


class TorchRunner:
    """The same workload in PyTorch (CPU, eager), with one batch ready."""

    def __init__(self, workload: Workload, threads: int | None = None):
        import torch

        torch.set_num_threads(threads or thread_count())
        torch.manual_seed(SEED)
        self.torch = torch
        self.module, self.optimizer, self.loss_fn, to_torch = workload.build_torch()
        x, y = workload.batch()
        self.x, self.y = to_torch(x, y)
        self.samples = len(x)

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.module(self.x), self.y)
        loss.backward()
        self.optimizer.step()

    def predict(self) -> None:
        with self.torch.no_grad():
            self.module(self.x)


def import_keras_on_jax(threads: int | None = None):
    """Keras 3 on its JAX backend, imported here if it is not yet (the backend is chosen
    at Keras's import). ``threads=1`` keeps XLA's CPU client on one thread (it must be
    set before JAX starts); otherwise XLA runs on all CPUs, having no cap in between.
    ImportError where Keras or JAX is missing, or Keras runs on another backend."""
    keras = sys.modules.get("keras")
    if keras is None:
        import jax  # noqa: F401  (an ImportError here: no JAX)

        os.environ["KERAS_BACKEND"] = "jax"
        if threads == 1:
            single = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
            os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {single}".strip()
        import keras
    if keras.backend.backend() != "jax":
        raise ImportError(f"Keras was imported with the {keras.backend.backend()} backend")
    return keras


class KerasRunner:
    """The same workload in Keras 3 on JAX (its jit-compiled steps), with one batch ready:
    the layers and compile arguments are this library's, written against ``keras``."""

    def __init__(self, workload: Workload, threads: int | None = None):
        keras = import_keras_on_jax(threads)
        keras.utils.set_random_seed(SEED)
        self.model = keras.Sequential(workload.build_layers(keras))
        self.model.compile(**workload.compile_arguments(keras))
        self.x, self.y = workload.batch()
        self.samples = len(self.x)

    def step(self) -> None:
        self.model.train_on_batch(self.x, self.y)  # returns the logs as host floats: waits

    def predict(self) -> None:
        self.model.predict_on_batch(self.x)


def seconds_per_call(function: Callable, min_seconds: float = 0.2, rounds: int = 1) -> float:
    """Median over ``rounds`` of the mean time of a block of calls lasting ``min_seconds``."""
    start = time.perf_counter()
    function()
    calls = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-7)))
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        results.append((time.perf_counter() - start) / calls)
    return statistics.median(results)
