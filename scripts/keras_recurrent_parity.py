"""Compare SimpleRNN, LSTM and GRU with Keras 3 on the same weights, inputs and dropout masks.

Not part of the test suite (Keras is not a dependency): run it where both are
installed, with Keras on PyTorch (the gradients are taken with torch.autograd):

    KERAS_BACKEND=torch python scripts/keras_recurrent_parity.py [--backend numba]

Per case it prints the largest difference of the outputs and returned states,
and of the gradients of ``sum(outputs * projection)`` with respect to the
input, the initial states and the weights. Everything runs in float64; Keras's
fused LSTM and GRU (``reset_after=True``, no mask, no recurrent dropout) then
agree to ~1e-16, but its generic loop goes through ``keras.ops.matmul``, which
on PyTorch rounds float64 products to ~1e-7 (measured: 2e-7 off NumPy on a
3x4 @ 4x5 product), so differences of ~1e-7 there are Keras's rounding; a
wrong formula or mask shows as ~1e-1. Dropout cases give
both libraries the same masks (Keras's cached cell masks, our layer's
``_dropout_masks``) and run in training mode.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import torch  # noqa: E402

import engine  # noqa: E402

BATCH, TIMESTEPS, FEATURES, UNITS = 3, 5, 4, 3
N_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}
N_STATES = {"SimpleRNN": 1, "LSTM": 2, "GRU": 1}

CASES = [
    ("go_backwards, sequences", {"go_backwards": True, "return_sequences": True}, {}),
    ("go_backwards, last", {"go_backwards": True}, {}),
    ("return_state", {"return_state": True}, {}),
    ("initial_state", {"return_sequences": True}, {"initial_state": True}),
    (
        "initial_state + return_state + go_backwards",
        {"return_state": True, "return_sequences": True, "go_backwards": True},
        {"initial_state": True},
    ),
    ("initial_state + mask", {"return_state": True}, {"initial_state": True, "mask": True}),
    ("dropout", {"dropout": 0.3, "return_sequences": True}, {"training": True}),
    (
        "dropout + recurrent_dropout",
        {"dropout": 0.3, "recurrent_dropout": 0.4, "return_state": True},
        {"training": True, "initial_state": True},
    ),
    ("recurrent_dropout, inference", {"recurrent_dropout": 0.4}, {}),
]
GRU_VARIANTS = [{"reset_after": True}, {"reset_after": False}]


def masks_for(rng, kind, options):
    """Shared dropout masks: ours as (n_masks, batch, size) arrays, Keras's as its cell caches."""
    n_masks = N_GATES[kind] if options.get("recurrent_dropout") else 1
    result = {}
    for name, rate, size in (
        ("input", options.get("dropout", 0), FEATURES),
        ("recurrent", options.get("recurrent_dropout", 0), UNITS),
    ):
        if rate:
            keep = rng.random((n_masks, BATCH, size)) >= rate
            result[name] = keep / (1 - rate)
    return result


def keras_masks(masks, n_masks):
    def convert(array):
        tensors = [torch.tensor(m) for m in array]
        return tensors if n_masks > 1 else tensors[0]

    return {name: convert(array) for name, array in masks.items()}


def run_keras(kind, options, weights, x, states, mask, masks, training, projections):
    layer = getattr(keras.layers, kind)(UNITS, **options)
    layer.build((BATCH, TIMESTEPS, FEATURES))
    layer.set_weights(weights)
    n_masks = N_GATES[kind] if options.get("recurrent_dropout") else 1
    cached = keras_masks(masks, n_masks)
    if "input" in cached:
        layer.cell._dropout_mask = cached["input"]
    if "recurrent" in cached:
        layer.cell._recurrent_dropout_mask = cached["recurrent"]
    x_t = torch.tensor(x, requires_grad=True)
    state_t = [torch.tensor(s, requires_grad=True) for s in states]
    kwargs = {"training": training}
    if state_t:
        kwargs["initial_state"] = state_t
    if mask is not None:
        kwargs["mask"] = torch.tensor(mask)
    outputs = layer(x_t, **kwargs)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    loss = sum((o * torch.tensor(p)).sum() for o, p in zip(outputs, projections))
    variables = [v.value for v in layer.trainable_weights]
    grads = torch.autograd.grad(loss, [x_t, *state_t, *variables])
    values = [o.detach().numpy() for o in outputs]
    return values, [g.numpy() for g in grads], [w.shape for w in layer.get_weights()]


def run_ours(kind, options, weights, x, states, mask, masks, training, projections, backend):
    with engine.use_backend(backend):
        layer = getattr(engine.layers, kind)(UNITS, **options)
        layer.build_from_shape((BATCH, TIMESTEPS, FEATURES))
        layer.set_weights(weights)
        if masks:
            layer._dropout_masks = lambda inputs: tuple(
                None if masks.get(name) is None else inputs.backend.asarray(masks[name])
                for name in ("input", "recurrent")
            )
        x_t = engine.tensor(x, requires_grad=True)
        state_t = [engine.tensor(s, requires_grad=True) for s in states]
        kwargs = {"training": training}
        if state_t:
            kwargs["initial_state"] = state_t
        if mask is not None:
            kwargs["mask"] = mask
        outputs = layer(x_t, **kwargs)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        loss = None
        for output, projection in zip(outputs, projections):
            term = (output * engine.tensor(projection)).sum()
            loss = term if loss is None else loss + term
        loss.backward()
        grads = [t.grad.numpy() for t in [x_t, *state_t, *layer.weights]]
        return [o.numpy() for o in outputs], grads, [w.shape for w in layer.get_weights()]


def largest(a, b):
    return max(float(numpy.max(numpy.abs(p - q))) for p, q in zip(a, b))


def compare(kind, variant, title, options, call, backend, rng):
    options = {**options, **variant}
    x = rng.standard_normal((BATCH, TIMESTEPS, FEATURES))
    probe = getattr(keras.layers, kind)(UNITS, **options)
    probe.build((BATCH, TIMESTEPS, FEATURES))
    weights = [rng.standard_normal(w.shape) * 0.6 for w in probe.get_weights()]
    states = []
    if call.get("initial_state"):
        states = [rng.standard_normal((BATCH, UNITS)) for _ in range(N_STATES[kind])]
    mask = None
    if call.get("mask"):
        mask = numpy.ones((BATCH, TIMESTEPS), dtype=bool)
        mask[0, -2:] = False
        mask[1, 0] = False
    training = call.get("training", False)
    masks = masks_for(rng, kind, options) if training else {}
    n_outputs = 1 + (N_STATES[kind] if options.get("return_state") else 0)
    shapes = [(BATCH, TIMESTEPS, UNITS) if options.get("return_sequences") else (BATCH, UNITS)] + [
        (BATCH, UNITS)
    ] * (n_outputs - 1)
    projections = [rng.standard_normal(shape) for shape in shapes]
    arguments = (weights, x, states, mask, masks, training, projections)
    theirs, their_grads, their_shapes = run_keras(kind, options, *arguments)
    ours, our_grads, our_shapes = run_ours(kind, options, *arguments, backend)
    assert their_shapes == our_shapes, (their_shapes, our_shapes)
    assert len(theirs) == len(ours) == n_outputs
    name = kind + ("" if not variant else f"(reset_after={variant['reset_after']})")
    output_diff, gradient_diff = largest(theirs, ours), largest(their_grads, our_grads)
    print(f"| {name} | {title} | {output_diff:.1e} | {gradient_diff:.1e} |")
    return max(output_diff, gradient_diff)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", choices=["numpy", "numba", "cupy"])
    backend = parser.parse_args().backend
    keras.config.set_floatx("float64")
    engine.set_floatx("float64")
    rng = numpy.random.default_rng(0)
    print(f"keras {keras.__version__} ({keras.backend.backend()}), ours on {backend}, float64\n")
    print("| layer | case | max output diff | max gradient diff |")
    print("|---|---|---|---|")
    worst = 0.0
    for kind in N_GATES:
        for variant in GRU_VARIANTS if kind == "GRU" else [{}]:
            for title, options, call in CASES:
                worst = max(worst, compare(kind, variant, title, options, call, backend, rng))
    print(f"\nlargest difference: {worst:.1e}")


if __name__ == "__main__":
    main()
