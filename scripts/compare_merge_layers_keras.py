"""Compare the merge, activation, shape and noise layers with Keras 3, on the same inputs.

Not part of the test suite (Keras is not a dependency): run it in an
environment that has both installed, with Keras on PyTorch, e.g.

    KERAS_BACKEND=torch PYTHONPATH=. /work/kvenv/bin/python scripts/compare_merge_layers_keras.py

For each case it prints the largest difference in the outputs and in the
gradients of the inputs (float32), whether ``compute_output_shape`` agrees
(for an unknown batch size too), and, for the error cases, whether both
libraries raise. The noise layers are random: they are compared at inference
and by the mean and spread of their training-mode noise.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import torch  # noqa: E402

import engine  # noqa: E402

rng = numpy.random.default_rng(0)
failures = []


def engine_run(layer, arrays, projection, call_kwargs, multiple):
    tensors = [engine.tensor(a, requires_grad=True) for a in arrays]
    output = layer(tensors if multiple else tensors[0], **call_kwargs)
    (output * engine.tensor(projection)).sum().backward()
    return output.numpy(), [t.grad.numpy() for t in tensors]


def compare(label, make_keras, make_ours, shapes, call_kwargs=None, weights=None, positive=False):
    call_kwargs = call_kwargs or {}
    multiple = isinstance(shapes, list)
    shape_list = shapes if multiple else [shapes]
    arrays = [rng.standard_normal(s).astype("float32") for s in shape_list]
    if positive:
        arrays = [numpy.abs(a) + 0.1 for a in arrays]
    theirs, ours = make_keras(), make_ours()
    keras_call = (lambda xs, **kw: theirs(xs, **kw)) if multiple else theirs
    keras_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    keras_output = keras_call(keras_inputs if multiple else keras_inputs[0], **call_kwargs)
    if weights is not None:
        theirs.set_weights(weights(theirs))
        keras_output = keras_call(keras_inputs if multiple else keras_inputs[0], **call_kwargs)
    projection = rng.standard_normal(tuple(keras_output.shape)).astype("float32")
    (keras_output * torch.tensor(projection)).sum().backward()
    keras_values = keras_output.detach().numpy()
    keras_grads = [t.grad.numpy() for t in keras_inputs]

    if weights is not None:
        ours(arrays if multiple else arrays[0])
        ours.set_weights(theirs.get_weights())
    our_values, our_grads = engine_run(ours, arrays, projection, call_kwargs, multiple)

    value_diff = float(numpy.max(numpy.abs(our_values - keras_values)))
    grad_diff = max(float(numpy.max(numpy.abs(g - k))) for g, k in zip(our_grads, keras_grads))
    none_shapes = [(None, *s[1:]) for s in shape_list]
    keras_shape = theirs.compute_output_shape(none_shapes if multiple else none_shapes[0])
    our_shape = ours.compute_output_shape(none_shapes if multiple else none_shapes[0])
    shape_ok = tuple(keras_shape) == tuple(our_shape)
    actual_ok = tuple(our_values.shape) == tuple(keras_values.shape)
    ok = value_diff < 1e-5 and grad_diff < 1e-5 and shape_ok and actual_ok
    if not ok:
        failures.append(label)
    print(
        f"{'ok  ' if ok else 'DIFF'} {label:55s} values {value_diff:.1e}  grads {grad_diff:.1e}  "
        f"shape keras {tuple(keras_shape)} ours {tuple(our_shape)}"
    )


def compare_error(label, keras_call, our_call):
    def outcome(call):
        try:
            call()
        except (ValueError, TypeError) as error:
            return type(error).__name__, str(error).splitlines()[0][:110]
        return None, ""

    keras_kind, keras_message = outcome(keras_call)
    our_kind, our_message = outcome(our_call)
    ok = keras_kind == our_kind
    if not ok:
        failures.append(label)
    print(f"{'ok  ' if ok else 'DIFF'} {label:55s} keras {keras_kind}, ours {our_kind}")
    print(f"       keras: {keras_message}\n       ours:  {our_message}")


K, E = keras.layers, engine.layers

# -- merge layers ----------------------------------------------------------
BROADCAST_SHAPES = [
    [(2, 3, 4), (2, 3, 4), (2, 3, 4)],
    [(2, 3, 4), (2, 1, 4)],
    [(2, 3, 1), (2, 1, 4)],
    [(2, 3, 4), (2, 4)],
    [(2, 4), (2, 3, 4), (2, 1, 1)],
]
for name in ("Add", "Multiply", "Average", "Maximum", "Minimum"):
    for shapes in BROADCAST_SHAPES:
        compare(f"{name} {shapes}", getattr(K, name), getattr(E, name), shapes)
compare("Subtract [(2,3,4),(2,4)]", K.Subtract, E.Subtract, [(2, 3, 4), (2, 4)])
for axis, shapes in [(-1, [(2, 3, 4), (2, 3, 2)]), (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)])]:
    compare(
        f"Concatenate axis={axis} {shapes}",
        lambda axis=axis: K.Concatenate(axis=axis),
        lambda axis=axis: E.Concatenate(axis=axis),
        shapes,
    )
for shapes, axes in [
    ([(2, 5), (2, 5)], -1),
    ([(2, 3, 5), (2, 10, 3)], (1, 2)),
    ([(2, 4), (2, 3, 4)], (1, 2)),
    ([(2, 3, 4), (2, 4)], (-1, 1)),
    ([(2, 3, 2, 4), (2, 4, 5, 2)], (3, 1)),
]:
    for normalize in (False, True):
        compare(
            f"Dot axes={axes} normalize={normalize} {shapes}",
            lambda axes=axes, normalize=normalize: K.Dot(axes=axes, normalize=normalize),
            lambda axes=axes, normalize=normalize: E.Dot(axes=axes, normalize=normalize),
            shapes,
        )

for shapes in (
    [(None, 3, 4), (None, 4)],
    [(None, None, 4), (None, 1, 4)],
    [(None, 1, 4), (5, 3, 1)],
):
    theirs, ours = K.Add().compute_output_shape(shapes), E.Add().compute_output_shape(shapes)
    ok = tuple(theirs) == tuple(ours)
    if not ok:
        failures.append(f"Add shape {shapes}")
    print(
        f"{'ok  ' if ok else 'DIFF'} Add.compute_output_shape{shapes}: keras {theirs} ours {ours}"
    )

zeros = numpy.zeros
compare_error(
    "Add incompatible (2,3,4)+(2,5)",
    lambda: K.Add()([zeros((2, 3, 4)), zeros((2, 5))]),
    lambda: E.Add()([zeros((2, 3, 4)), zeros((2, 5))]),
)
compare_error(
    "Subtract with 3 inputs",
    lambda: K.Subtract()([zeros((2, 3))] * 3),
    lambda: E.Subtract()([zeros((2, 3))] * 3),
)
compare_error(
    "Concatenate (2,3,4)+(2,5,2)",
    lambda: K.Concatenate()([zeros((2, 3, 4)), zeros((2, 5, 2))]),
    lambda: E.Concatenate()([zeros((2, 3, 4)), zeros((2, 5, 2))]),
)
compare_error(
    "Dot size mismatch",
    lambda: K.Dot(axes=1)([zeros((2, 3)), zeros((2, 4))]),
    lambda: E.Dot(axes=1)([zeros((2, 3)), zeros((2, 4))]),
)
compare_error(
    "Add on one input (not a list error expected: none)",
    lambda: K.Add()([zeros((2, 3))]),
    lambda: E.Add()([zeros((2, 3))]),
)

# -- activation layers -------------------------------------------------------
for arguments in (
    {},
    {"max_value": 6.0},
    {"negative_slope": 0.1},
    {"threshold": 0.5},
    {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3},
):
    compare(
        f"ReLU {arguments}",
        lambda a=arguments: K.ReLU(**a),
        lambda a=arguments: E.ReLU(**a),
        (4, 5, 6),
    )
compare("LeakyReLU()", K.LeakyReLU, E.LeakyReLU, (4, 7))
compare("LeakyReLU(0.05)", lambda: K.LeakyReLU(0.05), lambda: E.LeakyReLU(0.05), (4, 7))
compare("ELU(0.5)", lambda: K.ELU(alpha=0.5), lambda: E.ELU(alpha=0.5), (4, 7))
compare("Identity", K.Identity, E.Identity, (4, 7))
for axis in (-1, 1, [1, 2]):
    compare(
        f"Softmax axis={axis}",
        lambda axis=axis: K.Softmax(axis=axis),
        lambda axis=axis: E.Softmax(axis=axis),
        (2, 3, 4),
    )
mask = numpy.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
compare(
    "Softmax with a mask (a fully masked row)",
    K.Softmax,
    E.Softmax,
    (2, 3, 4),
    call_kwargs={"mask": mask},
)
for shared_axes in (None, [1], [1, 2]):
    compare(
        f"PReLU shared_axes={shared_axes}",
        lambda s=shared_axes: K.PReLU(shared_axes=s),
        lambda s=shared_axes: E.PReLU(shared_axes=s),
        (2, 3, 4),
        weights=lambda layer: [
            rng.uniform(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()
        ],
    )

# -- shape layers --------------------------------------------------------------
compare("RepeatVector(4)", lambda: K.RepeatVector(4), lambda: E.RepeatVector(4), (2, 3))
compare(
    "Permute((3, 1, 2))", lambda: K.Permute((3, 1, 2)), lambda: E.Permute((3, 1, 2)), (2, 3, 4, 5)
)
for cropping in ((1, 1), 2, (0, 3)):
    compare(
        f"Cropping1D({cropping})",
        lambda c=cropping: K.Cropping1D(c),
        lambda c=cropping: E.Cropping1D(c),
        (2, 6, 3),
    )
for cropping in (((0, 0), (0, 0)), 1, (2, 0), ((0, 1), (2, 1)), ((1, 2), 1)):
    compare(
        f"Cropping2D({cropping})",
        lambda c=cropping: K.Cropping2D(c),
        lambda c=cropping: E.Cropping2D(c),
        (2, 5, 6, 2),
    )
for size in (1, 3):
    compare(
        f"UpSampling1D({size})",
        lambda s=size: K.UpSampling1D(s),
        lambda s=size: E.UpSampling1D(s),
        (2, 4, 3),
    )
for size in ((2, 2), (1, 3), 2):
    for interpolation in ("nearest", "bilinear"):
        compare(
            f"UpSampling2D({size}, {interpolation})",
            lambda s=size, i=interpolation: K.UpSampling2D(s, interpolation=i),
            lambda s=size, i=interpolation: E.UpSampling2D(s, interpolation=i),
            (2, 3, 4, 2),
        )

# -- noise layers: inference is the identity; training noise has the same statistics --
x = numpy.ones((400, 64), "float32")
for name, arguments in (("GaussianNoise", {"stddev": 0.3}), ("GaussianDropout", {"rate": 0.3})):
    theirs, ours = getattr(K, name)(**arguments), getattr(E, name)(**arguments)
    same_at_inference = numpy.array_equal(ours(x).numpy(), theirs(x).numpy())
    k = numpy.asarray(theirs(x, training=True).detach().numpy())
    o = ours(x, training=True).numpy()
    print(
        f"{'ok  ' if same_at_inference else 'DIFF'} {name}{arguments}: inference identical; "
        f"training mean/std keras {k.mean():.3f}/{k.std():.3f} ours {o.mean():.3f}/{o.std():.3f}"
    )
for name, shape in (("SpatialDropout1D", (64, 10, 32)), ("SpatialDropout2D", (64, 4, 5, 32))):
    theirs, ours = getattr(K, name)(0.4), getattr(E, name)(0.4)
    x = numpy.ones(shape, "float32")
    k = theirs(x, training=True).detach().numpy().reshape(shape[0], -1, shape[-1])
    o = ours(x, training=True).numpy().reshape(shape[0], -1, shape[-1])
    whole = (k == k[:, :1]).all() and (o == o[:, :1]).all()
    print(
        f"{'ok  ' if whole else 'DIFF'} {name}(0.4): whole channels dropped in both; kept "
        f"fraction keras {(k[:, 0] != 0).mean():.2f} ours {(o[:, 0] != 0).mean():.2f}; "
        f"kept value keras {k.max():.4f} ours {o.max():.4f}"
    )

# -- configs: Keras's argument names ---------------------------------------------
CONFIGS = [
    ("Concatenate", {"axis": 1}),
    ("Dot", {"axes": [1, 2], "normalize": True}),
    ("ReLU", {"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.5}),
    ("LeakyReLU", {"negative_slope": 0.2}),
    ("Softmax", {"axis": -1}),
    ("ELU", {"alpha": 0.5}),
    ("PReLU", {"shared_axes": [1]}),
    ("RepeatVector", {"n": 3}),
    ("Permute", {"dims": (2, 1)}),
    ("Cropping1D", {"cropping": (1, 2)}),
    ("Cropping2D", {"cropping": ((1, 2), (3, 4))}),
    ("UpSampling1D", {"size": 3}),
    ("UpSampling2D", {"size": (2, 3), "interpolation": "bilinear"}),
    ("GaussianNoise", {"stddev": 0.1, "seed": 3}),
    ("GaussianDropout", {"rate": 0.1, "seed": 3}),
    ("SpatialDropout1D", {"rate": 0.1}),
    ("SpatialDropout2D", {"rate": 0.1}),
]
for name, arguments in CONFIGS:
    keras_keys = set(getattr(K, name)(**arguments).get_config())
    our_keys = set(getattr(E, name)(**arguments).get_config())
    generic = {"name", "trainable", "dtype"}
    missing = sorted(keras_keys - our_keys - generic)
    extra = sorted(our_keys - keras_keys - generic)
    # our configs must also load in Keras (argument names and values)
    try:
        getattr(K, name).from_config(
            {k: v for k, v in getattr(E, name)(**arguments).get_config().items() if k != "dtype"}
        )
        loads = "loads in Keras"
    except Exception as error:  # noqa: BLE001 (a report, not control flow)
        loads = f"does NOT load in Keras: {error}"
    status = "ok  " if not missing else "DIFF"
    if missing:
        failures.append(f"{name} config")
    print(f"{status} {name} config: missing {missing}, extra {extra}; {loads}")

print("\nall agree" if not failures else f"\n{len(failures)} differences: {failures}")
