"""Compare the 3-D, depthwise/separable, adaptive pooling, normalization, EinsumDense,
padding/cropping/upsampling and encoding layers with Keras 3 on the same weights.

Not part of the test suite (Keras is not a dependency): run it where both are
installed, with Keras on PyTorch (gradients come from PyTorch's autograd):

    KERAS_BACKEND=torch python scripts/compare_more_layers_keras.py

For each case and each available backend of this library it checks that the
configs (every value, defaults included), the weights' names, shapes and
order, the config keys and the output shape agree with Keras, then prints the
largest difference in the outputs and in the gradients of the input and of
every weight (float32; the loss is a random projection of the output).
"""

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import torch  # noqa: E402

import backends  # noqa: E402
import engine  # noqa: E402

# (layer name, constructor arguments, input shape); integer inputs for the encoders
CASES = [
    ("Conv3D", dict(filters=4, kernel_size=3), (2, 5, 6, 7, 3)),
    (
        "Conv3D",
        dict(filters=4, kernel_size=(2, 3, 1), strides=(2, 1, 2), padding="same"),
        (2, 5, 6, 7, 3),
    ),
    (
        "Conv3D",
        dict(filters=2, kernel_size=2, dilation_rate=(2, 1, 2), padding="same"),
        (2, 5, 6, 7, 3),
    ),
    ("Conv3DTranspose", dict(filters=4, kernel_size=3), (2, 3, 4, 5, 3)),
    (
        "Conv3DTranspose",
        dict(filters=4, kernel_size=(2, 3, 3), strides=2, padding="same"),
        (2, 3, 4, 5, 3),
    ),
    (
        "Conv3DTranspose",
        dict(filters=2, kernel_size=3, strides=(2, 1, 3), output_padding=(1, 0, 2)),
        (2, 3, 4, 5, 3),
    ),
    ("DepthwiseConv2D", dict(kernel_size=3, depth_multiplier=2), (2, 7, 8, 3)),
    ("DepthwiseConv2D", dict(kernel_size=(3, 2), strides=2, padding="same"), (2, 7, 8, 3)),
    (
        "DepthwiseConv2D",
        dict(kernel_size=3, dilation_rate=2, padding="same", depth_multiplier=3),
        (2, 7, 8, 2),
    ),
    ("DepthwiseConv1D", dict(kernel_size=3, depth_multiplier=2, strides=2), (2, 9, 3)),
    ("SeparableConv2D", dict(filters=5, kernel_size=3, depth_multiplier=2), (2, 7, 8, 3)),
    ("SeparableConv2D", dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 7, 8, 3)),
    ("SeparableConv1D", dict(filters=4, kernel_size=3, dilation_rate=2, padding="same"), (2, 9, 3)),
    ("MaxPooling3D", dict(), (2, 4, 5, 6, 3)),
    ("MaxPooling3D", dict(pool_size=(2, 3, 2), strides=(1, 2, 2), padding="same"), (2, 4, 5, 6, 3)),
    ("AveragePooling3D", dict(pool_size=2), (2, 4, 5, 6, 3)),
    # AveragePooling3D with padding="same" is left out: Keras on PyTorch pads the odd cell with
    # zeros that it then counts in the mean; this library leaves padded cells out (TensorFlow's
    # rule, as its AveragePooling2D), which the tests check against a NumPy reference
    ("GlobalAveragePooling3D", dict(), (2, 3, 4, 5, 3)),
    ("GlobalMaxPooling3D", dict(keepdims=True), (2, 3, 4, 5, 3)),
    ("AdaptiveAveragePooling1D", dict(output_size=4), (2, 10, 3)),
    ("AdaptiveMaxPooling1D", dict(output_size=3), (2, 10, 3)),
    ("AdaptiveAveragePooling2D", dict(output_size=(3, 4)), (2, 7, 9, 3)),
    ("AdaptiveMaxPooling2D", dict(output_size=(4, 2)), (2, 7, 9, 3)),
    ("AdaptiveAveragePooling3D", dict(output_size=(2, 3, 2)), (2, 5, 7, 4, 2)),
    ("AdaptiveMaxPooling3D", dict(output_size=2), (2, 5, 7, 4, 2)),
    ("GroupNormalization", dict(groups=2), (2, 5, 6)),
    ("GroupNormalization", dict(groups=-1, axis=1), (2, 4, 5, 3)),
    ("UnitNormalization", dict(), (2, 5, 6)),
    ("UnitNormalization", dict(axis=[1, 2]), (2, 5, 6)),
    ("RMSNormalization", dict(), (2, 5, 6)),
    ("EinsumDense", dict(equation="ab,bc->ac", output_shape=4, bias_axes="c"), (3, 5)),
    (
        "EinsumDense",
        dict(equation="abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de"),
        (3, 4, 5),
    ),
    ("EinsumDense", dict(equation="...b,bc->...c", output_shape=4, bias_axes="c"), (3, 2, 5)),
    (
        "EinsumDense",
        dict(equation="abc,cd->abd", output_shape=(None, 6), activation="relu"),
        (3, 4, 5),
    ),
    ("ZeroPadding1D", dict(padding=(1, 2)), (2, 5, 3)),
    ("ZeroPadding3D", dict(padding=((1, 0), 2, (0, 3))), (2, 3, 4, 2, 3)),
    ("Cropping3D", dict(cropping=((1, 0), 1, (0, 2))), (2, 4, 5, 6, 3)),
    ("UpSampling3D", dict(size=(2, 1, 3)), (2, 2, 3, 2, 3)),
    ("CategoryEncoding", dict(num_tokens=6, output_mode="one_hot"), "ids:(3,)"),
    ("CategoryEncoding", dict(num_tokens=6, output_mode="multi_hot"), "ids:(4, 3)"),
    ("CategoryEncoding", dict(num_tokens=6, output_mode="count"), "ids:(4, 5)"),
    ("Discretization", dict(bin_boundaries=[-0.5, 0.0, 0.7]), (3, 4)),
    ("Discretization", dict(bin_boundaries=[-0.5, 0.0, 0.7], output_mode="count"), (3, 4)),
]


def _plain(value):
    """Config values as JSON would give them (tuples as lists), to compare."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):  # Keras 3.15's initializers add input_axes/output_axes: None
        ignored = {"seed", "input_axes", "output_axes"}
        return {k: _plain(v) for k, v in value.items() if k not in ignored}
    return value


def config_differences(ours: dict, theirs: dict) -> list[str]:
    """Keys whose values differ (names, dtypes and Keras-only module paths aside)."""
    differences = []
    for key in sorted(set(ours) & set(theirs) - {"name", "dtype"}):
        a, b = _plain(ours[key]), _plain(theirs[key])
        if isinstance(b, dict) and "module" in b:  # Keras's serialized objects
            b = {"class_name": b["class_name"], "config": _plain(b["config"])}
            if isinstance(a, str):
                a = {"class_name": b["class_name"], "config": b["config"]} if a else a
        if a != b:
            differences.append(f"{key}: ours {a!r}, Keras {b!r}")
    return differences


def keras_step(layer, x, projection):
    inputs = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    y = layer(inputs, training=False) if "Dropout" in type(layer).__name__ else layer(inputs)
    outputs = [keras.ops.convert_to_numpy(y)]
    if y.requires_grad:
        (y * torch.tensor(projection, dtype=y.dtype)).sum().backward()
        grads = [inputs.grad] + [w.value.grad for w in layer.trainable_weights]
        outputs += [
            numpy.zeros(x.shape) if g is None else keras.ops.convert_to_numpy(g) for g in grads
        ]
    return outputs


def engine_step(layer, x, projection, backend):
    floating = x.dtype.kind == "f"
    inputs = engine.tensor(x, requires_grad=floating, backend=backend)
    y = layer(inputs)
    outputs = [y.numpy()]
    if y.requires_grad:
        (y * engine.tensor(projection, backend=backend)).sum().backward()
        grads = [inputs.grad] + [w.grad for w in layer.trainable_weights]
        outputs += [numpy.zeros(x.shape) if g is None else g.numpy() for g in grads]
    return outputs


def compare(name, kwargs, shape, rng) -> None:
    if isinstance(shape, str):  # integer ids
        shape = eval(shape.split(":")[1])  # noqa: S307 (a literal of this file)
        x = rng.integers(0, kwargs["num_tokens"], shape).astype("int32")
    else:
        x = rng.standard_normal(shape).astype("float32")
    theirs = getattr(keras.layers, name)(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected_shape = tuple(theirs.compute_output_shape(x.shape))
    y_shape = keras.ops.convert_to_numpy(theirs(torch.tensor(x))).shape
    theirs_weights = [(w.path.split("/")[-1], tuple(w.shape)) for w in theirs.weights]
    config_keys = set(theirs.get_config())
    projection = rng.standard_normal(y_shape).astype("float32")
    expected = keras_step(theirs, x, projection)
    label = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) on {shape}"
    for backend in backends.available():
        with engine.use_backend(backend):
            ours = getattr(engine.layers, name)(**kwargs)
            ours.build_from_shape(x.shape)
            names = [(w.name.split("/")[-1], tuple(w.shape)) for w in ours.weights]
            assert names == theirs_weights, (label, names, theirs_weights)
            ours.set_weights(theirs.get_weights())
            assert ours.compute_output_shape(x.shape) == expected_shape, (
                label,
                ours.compute_output_shape(x.shape),
                expected_shape,
            )
            for line in config_differences(ours.get_config(), theirs.get_config()):
                print(f"config {label}: {line}")
            ours_keys = set(ours.get_config()) - {"input_shape"}
            missing = config_keys - ours_keys - {"build_config", "lora_rank", "lora_alpha"}
            extra = ours_keys - config_keys
            assert not missing and not extra, (label, "config", missing, extra)
            got = engine_step(ours, x, projection, backend)
            assert len(got) == len(expected), (label, len(got), len(expected))
            worst = max(
                float(numpy.max(numpy.abs(a.astype("float64") - b), initial=0.0))
                for a, b in zip(got, expected)
            )
            print(f"{backend:6s} {label}: {len(got)} arrays, largest difference {worst:.2e}")
            assert worst < 1e-4, label


def keras_adapt(batches, num_bins: int, epsilon: float) -> list:
    """Keras 3.15's Discretization.adapt (which needs TensorFlow to run) from its own summary
    functions, batch by batch as its update_state and finalize_state do."""
    from keras.src.layers.preprocessing import discretization as theirs

    summary = numpy.array([[], []], dtype="float32")
    for batch in batches:
        batch_summary = theirs.summarize(numpy.array(batch).astype("float32"), epsilon)
        summary = theirs.merge_summaries(batch_summary, summary, epsilon)
    return theirs.get_bin_boundaries(summary, num_bins).tolist()


def compare_adapt(rng) -> None:
    """Discretization.adapt learns Keras's boundaries from one array and from batches."""
    data = rng.standard_normal(1000).astype("float32")
    batches = [data[:300], data[300:700].reshape(20, 20), data[700:]]
    for num_bins, epsilon, source in [(4, 0.01, data), (5, 0.01, batches), (3, 0.1, batches)]:
        expected = keras_adapt([source] if source is data else source, num_bins, epsilon)
        ours = engine.layers.Discretization(num_bins=num_bins, epsilon=epsilon)
        ours.adapt(source)
        difference = numpy.max(numpy.abs(numpy.subtract(ours.bin_boundaries, expected)))
        print(f"Discretization(num_bins={num_bins}).adapt: {expected}, difference {difference}")
        assert difference < 1e-6


def main() -> None:
    rng = numpy.random.default_rng(0)
    compare_adapt(rng)
    for name, kwargs, shape in CASES:
        compare(name, kwargs, shape, rng)
    print("all cases agree")


if __name__ == "__main__":
    main()
