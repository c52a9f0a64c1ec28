"""Training steps of small models whose replay repeats host calls (``replay.py``): a
convnet with batch normalization (its moving statistics) and a text model with an
embedding (its id check), replayed and with ``run_eagerly=True``."""

from .common import BACKENDS, backend_or_skip, host_random
from .workloads import limit_threads

BATCH = 32


def _batch_norm_convnet(layers):
    return [
        layers.Input(shape=(12, 12, 1)),
        layers.Conv2D(8, 3, padding="same"),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(32),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Dense(10, activation="softmax"),
    ]


def _embedding_text(layers):
    return [
        layers.Input(shape=(40,), dtype="int32"),
        layers.Embedding(1000, 16),
        layers.GlobalAveragePooling1D(),
        layers.Dense(16, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]


MODELS = {"batch_norm_convnet": _batch_norm_convnet, "embedding_text": _embedding_text}


class ReplayedStep:
    """``train_on_batch`` of a small model, its ops replayed or its layers run."""

    params = [BACKENDS, list(MODELS), [False, True]]
    param_names = ["backend", "model", "run_eagerly"]
    timeout = 120

    def setup(self, backend_name, model_name, run_eagerly):
        import numpy

        import engine

        backend_or_skip(backend_name)
        engine.utils.set_random_seed(0)
        with engine.use_backend(backend_name) as backend:
            self.backend = backend
            self.model = engine.models.Sequential(MODELS[model_name](engine.layers))
            self.model.compile(
                optimizer="adam", loss="sparse_categorical_crossentropy", run_eagerly=run_eagerly
            )
        rng = numpy.random.default_rng(0)
        if model_name == "embedding_text":
            self.x = rng.integers(0, 1000, (BATCH, 40))
        else:
            self.x = host_random((BATCH, 12, 12, 1))
        self.y = rng.integers(0, 10, BATCH)
        limit_threads()
        for _ in range(3):
            self.time_train_step(backend_name, model_name, run_eagerly)

    def time_train_step(self, backend_name, model_name, run_eagerly):
        self.model.train_on_batch(self.x, self.y)
        self.backend.synchronize()
