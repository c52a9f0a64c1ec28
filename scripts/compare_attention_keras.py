"""Compare MultiHeadAttention, Attention, AdditiveAttention and Masking with Keras 3.

Not part of the test suite (Keras is not a dependency): run it in an
environment that has both installed, with Keras on PyTorch (gradients come
from PyTorch's autograd):

    KERAS_BACKEND=torch python scripts/compare_attention_keras.py

Each case builds the Keras layer, copies its initial weights into ours with
``set_weights`` (so weight shapes and order must agree), runs both on the same
inputs and masks on every available backend, and prints the largest
difference in the output, the attention scores and the gradients of the inputs
and weights (float32, a random projection of the output as the loss). Masks
reach the layers the way Keras users give them: ``Embedding(mask_zero=True)``
and ``Masking`` in a functional model, explicit ``attention_mask``, and
``use_causal_mask``. The last lines print the initial-weight statistics (Keras
3.15 initializes the projections with fans of the kernel as a matrix).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import torch  # noqa: E402

import backends  # noqa: E402
import engine  # noqa: E402

RNG = numpy.random.default_rng(0)

# (name, constructor kwargs, query shape, value shape, key shape or None, call kwargs)
MHA_CASES = [
    ("self", dict(num_heads=2, key_dim=4), (3, 5, 8), (3, 5, 8), None, {}),
    ("cross", dict(num_heads=3, key_dim=2, value_dim=5), (2, 4, 6), (2, 7, 3), None, {}),
    ("key", dict(num_heads=2, key_dim=3, output_shape=5), (2, 4, 6), (2, 7, 3), (2, 7, 9), {}),
    ("no bias", dict(num_heads=2, key_dim=3, use_bias=False), (2, 4, 6), (2, 4, 6), None, {}),
    ("causal", dict(num_heads=2, key_dim=4), (2, 6, 8), (2, 6, 8), None, {"use_causal_mask": True}),
    (
        "causal cross",
        dict(num_heads=2, key_dim=4),
        (2, 3, 8),
        (2, 5, 8),
        None,
        {"use_causal_mask": True},
    ),
    ("gate", dict(num_heads=2, key_dim=3, use_gate=True), (2, 4, 6), (2, 5, 6), None, {}),
    ("window", dict(num_heads=2, key_dim=3, sliding_window=2), (2, 5, 6), (2, 5, 6), None, {}),
    (
        "2-D output",
        dict(num_heads=2, key_dim=3, output_shape=(2, 3)),
        (2, 4, 6),
        (2, 4, 6),
        None,
        {},
    ),
]


def _torch(array, grad=False):
    return torch.tensor(array, requires_grad=grad)


def _keras_run(layer, arrays, kwargs, projection):
    """Keras output, scores and gradients of (output * projection).sum()."""
    tensors = [_torch(a, grad=True) for a in arrays]
    output, scores = layer(*tensors, return_attention_scores=True, **kwargs)
    (output * _torch(projection)).sum().backward()
    grads = [t.grad.numpy() for t in tensors] + [w.value.grad.numpy() for w in layer.weights]
    return output.detach().numpy(), scores.detach().numpy(), grads


def _ours_run(layer, arrays, kwargs, projection, backend):
    tensors = [engine.tensor(a, requires_grad=True, backend=backend) for a in arrays]
    for weight in layer.weights:
        weight.grad = None
    output, scores = layer(*tensors, return_attention_scores=True, **kwargs)
    (output * engine.tensor(projection, backend=backend)).sum().backward()
    grads = [t.grad.numpy() for t in tensors] + [w.grad.numpy() for w in layer.weights]
    return output.numpy(), scores.numpy(), grads


def _largest(a, b) -> float:
    return float(numpy.max(numpy.abs(numpy.asarray(a) - numpy.asarray(b))))


def compare_mha() -> None:
    print("MultiHeadAttention: largest |ours - keras| (float32)")
    for name, config, q_shape, v_shape, k_shape, call in MHA_CASES:
        arrays = [
            RNG.standard_normal(s).astype("float32")
            for s in (q_shape, v_shape, k_shape)
            if s is not None
        ]
        keras_layer = keras.layers.MultiHeadAttention(**config)
        with torch.no_grad():
            shape = keras_layer(*[_torch(a) for a in arrays], **call).shape
        projection = RNG.standard_normal(tuple(shape)).astype("float32")
        k_out, k_scores, k_grads = _keras_run(keras_layer, arrays, call, projection)
        weights = [w.numpy() for w in keras_layer.weights]
        for backend in backends.available():
            with engine.use_backend(backend):
                ours = engine.layers.MultiHeadAttention(**config)
                ours(*arrays)
                ours.set_weights(weights)
                o_out, o_scores, o_grads = _ours_run(ours, arrays, call, projection, backend)
            grad = max(_largest(a, b) for a, b in zip(o_grads, k_grads))
            print(
                f"  {name:13s} {backend:6s} output {_largest(o_out, k_out):.1e}  scores "
                f"{_largest(o_scores, k_scores):.1e}  gradients {grad:.1e}"
            )


def _mask_model(module, masking: bool):
    """Token ids (0: padding) -> Embedding(mask_zero) -> [Masking] -> self-attention."""
    layers = module.layers
    tokens = layers.Input((6,), dtype="int32")
    memory = layers.Input((5,), dtype="int32")
    x = layers.Embedding(10, 8, mask_zero=True)(tokens)
    m = layers.Embedding(10, 8, mask_zero=True)(memory)
    if masking:
        x = layers.Masking(mask_value=0.0)(layers.Dense(8)(x))
    out = layers.MultiHeadAttention(num_heads=2, key_dim=4)(x, m)
    out = layers.LSTM(3)(out)  # the query mask reaches the LSTM
    return module.Model([tokens, memory], out)


def compare_masks() -> None:
    print("Masks in a functional model (Embedding mask_zero, Masking, then an LSTM)")
    tokens = numpy.array([[3, 4, 5, 0, 0, 0], [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 0]], "int32")
    memory = numpy.array([[1, 2, 0, 0, 0], [4, 5, 6, 7, 8], [1, 0, 0, 0, 0]], "int32")
    for masking in (False, True):
        keras_model = _mask_model(keras, masking)
        expected = keras_model.predict([tokens, memory], verbose=0)
        for backend in backends.available():
            with engine.use_backend(backend):
                ours = _mask_model(engine, masking)
                ours.set_weights(keras_model.get_weights())
                got = ours.predict([tokens, memory], verbose=0)
            print(f"  masking={masking!s:5s} {backend:6s} {_largest(got, expected):.1e}")


def compare_attention_masks() -> None:
    """Explicit attention_mask, and a query row whose keys are all masked."""
    print("attention_mask, one query row all masked (ours: zero weights as Keras's scores path)")
    q = RNG.standard_normal((2, 3, 6)).astype("float32")
    v = RNG.standard_normal((2, 4, 6)).astype("float32")
    mask = RNG.random((2, 3, 4)) > 0.4
    mask[0, 1] = False
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    with torch.no_grad():
        k_out, k_scores = keras_layer(
            _torch(q), _torch(v), attention_mask=torch.tensor(mask), return_attention_scores=True
        )
        k_fused = keras_layer(_torch(q), _torch(v), attention_mask=torch.tensor(mask))
    difference = _largest(k_fused, k_out)
    print(f"  keras: fused path (uniform row) vs scores path (zero row) {difference:.1e}")
    print(f"  keras: all-masked row weights {k_scores.numpy()[0, :, 1]}")
    for backend in backends.available():
        with engine.use_backend(backend):
            ours = engine.layers.MultiHeadAttention(num_heads=2, key_dim=3)
            ours(q, v)
            ours.set_weights([w.numpy() for w in keras_layer.weights])
            out, scores = ours(q, v, attention_mask=mask, return_attention_scores=True)
        print(
            f"  {backend:6s} output {_largest(out.numpy(), k_out):.1e}  scores "
            f"{_largest(scores.numpy(), k_scores):.1e}"
        )


def compare_luong_bahdanau() -> None:
    print("Attention / AdditiveAttention: largest |ours - keras| (output, scores, gradients)")
    cases = [
        ("dot", lambda m: m.layers.Attention()),
        ("dot scaled", lambda m: m.layers.Attention(use_scale=True)),
        ("concat", lambda m: m.layers.Attention(score_mode="concat", use_scale=True)),
        ("additive", lambda m: m.layers.AdditiveAttention()),
    ]
    q = RNG.standard_normal((2, 3, 4)).astype("float32")
    v = RNG.standard_normal((2, 5, 4)).astype("float32")
    k = RNG.standard_normal((2, 5, 4)).astype("float32")
    q_mask = numpy.array([[True, True, False], [True, True, True]])
    v_mask = numpy.array([[True, True, True, False, False], [True] * 5])
    for name, make in cases:
        for causal in (False, True):
            keras_layer = make(keras)
            tensors = [_torch(a, grad=True) for a in (q, v, k)]
            k_out, k_scores = keras_layer(
                tensors,
                mask=[torch.tensor(q_mask), torch.tensor(v_mask)],
                return_attention_scores=True,
                use_causal_mask=causal,
            )
            projection = RNG.standard_normal(k_out.shape).astype("float32")
            (k_out * _torch(projection)).sum().backward()
            k_grads = [t.grad.numpy() for t in tensors]
            for backend in backends.available():
                with engine.use_backend(backend):
                    ours = make(engine)
                    ours([q, v, k])
                    ours.set_weights([w.numpy() for w in keras_layer.weights])
                    inputs = [engine.tensor(a, requires_grad=True) for a in (q, v, k)]
                    out, scores = ours(
                        inputs,
                        mask=[q_mask, v_mask],
                        return_attention_scores=True,
                        use_causal_mask=causal,
                    )
                    (out * engine.tensor(projection)).sum().backward()
                grad = max(_largest(t.grad.numpy(), g) for t, g in zip(inputs, k_grads))
                print(
                    f"  {name:10s} causal={causal!s:5s} {backend:6s} output "
                    f"{_largest(out.numpy(), k_out.detach().numpy()):.1e}  scores "
                    f"{_largest(scores.numpy(), k_scores.detach().numpy()):.1e}  gradients "
                    f"{grad:.1e}"
                )


def compare_initial_weights() -> None:
    print("Initial weights (std over 20 layers, num_heads=4, key_dim=16, 64 features)")
    for module in (keras, engine):
        stds = numpy.zeros(4)
        for _ in range(20):
            layer = module.layers.MultiHeadAttention(num_heads=4, key_dim=16)
            x = numpy.zeros((1, 2, 64), "float32")
            layer(x, x)
            kernels = [numpy.asarray(w) for w in layer.get_weights()[::2]]
            stds += [k.std() / 20 for k in kernels]
        print(f"  {module.__name__:6s} query/key/value/output kernel std {numpy.round(stds, 4)}")


if __name__ == "__main__":
    compare_mha()
    compare_masks()
    compare_attention_masks()
    compare_luong_bahdanau()
    compare_initial_weights()
