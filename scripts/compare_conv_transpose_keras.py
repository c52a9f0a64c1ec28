"""Compare Conv2DTranspose and Conv1DTranspose with Keras 3 on the same weights.

Not part of the test suite (Keras is not a dependency): run it in an
environment that has both installed, with Keras on PyTorch (the gradients
are read from PyTorch's autograd):

    KERAS_BACKEND=torch python scripts/compare_conv_transpose_keras.py

For each configuration and each available backend of this library it checks
that the output shapes and weight shapes agree, and prints the largest
difference in the outputs and in the gradients of the input, kernel and bias
(float32, with a random projection of the output as the loss).
"""

import itertools
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy  # noqa: E402
import torch  # noqa: E402

import backends  # noqa: E402
import engine  # noqa: E402

# (input shape, kernel size, strides, padding, output_padding, dilation)
CASES_2D = [
    ((64, 7, 7, 64), 4, 2, "same", None, 1),  # the GAN upsampling step of the benchmark
    *(
        ((4, 5, 6, 3), k, s, padding, op, 1)
        for k, s, padding, op in itertools.product(
            (1, 2, 3, 4, 5), (1, 2, 3), ("valid", "same"), (None, 0, "max")
        )
    ),
    ((4, 5, 6, 3), (3, 2), (1, 1), "same", None, (2, 3)),
    ((4, 5, 6, 3), (2, 3), (2, 3), "valid", (1, 2), 1),
]
CASES_1D = [
    ((4, 9, 3), k, s, padding, op, d)
    for k, s, padding, op, d in [
        (3, 1, "valid", None, 1),
        (4, 2, "same", None, 1),
        (3, 2, "same", 1, 1),
        (5, 3, "valid", 2, 1),
        (3, 1, "same", None, 2),
    ]
]


def keras_step(layer, x, projection):
    """Keras's output and the gradients of ``sum(output * projection)``."""
    inputs = torch.tensor(x, requires_grad=True)
    y = layer(inputs)
    (y * torch.tensor(projection)).sum().backward()
    grads = [inputs.grad] + [w.value.grad for w in layer.trainable_weights]
    return [keras.ops.convert_to_numpy(a) for a in (y, *grads)]


def engine_step(layer, x, projection, backend):
    inputs = engine.tensor(x, requires_grad=True, backend=backend)
    y = layer(inputs)
    (y * engine.tensor(projection, backend=backend)).sum().backward()
    return [a.numpy() for a in (y, inputs.grad, *(w.grad for w in layer.trainable_weights))]


def compare(rank, shape, kernel_size, strides, padding, output_padding, dilation, rng):
    """Largest absolute and relative differences per array, worst over our backends."""
    if output_padding == "max":
        output_padding = (strides if isinstance(strides, int) else max(strides)) - 1
    kwargs = dict(
        strides=strides, padding=padding, output_padding=output_padding, dilation_rate=dilation
    )
    name = "Conv2DTranspose" if rank == 2 else "Conv1DTranspose"
    x = rng.standard_normal(shape).astype("float32")
    theirs = getattr(keras.layers, name)(5, kernel_size, **kwargs)
    with warnings.catch_warnings():  # Keras on torch warns about some paddings
        warnings.simplefilter("ignore")
        theirs.build(shape)
        weights = theirs.get_weights()
        weights[1] = rng.standard_normal(weights[1].shape).astype("float32")
        theirs.set_weights(weights)
        expected_shape = tuple(theirs.compute_output_shape(shape))
        projection = rng.standard_normal(expected_shape).astype("float32")
        reference = keras_step(theirs, x, projection)
    worst = numpy.zeros((2, 4))
    for backend in backends.available():
        with engine.use_backend(backend):
            ours = getattr(engine.layers, name)(5, kernel_size, **kwargs)
            ours(engine.tensor(x[:1]))
            assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
            ours.set_weights(weights)
            assert tuple(ours.compute_output_shape(shape)) == expected_shape
            got = engine_step(ours, x, projection, backend)
        for i, (a, b) in enumerate(zip(got, reference)):
            assert a.shape == b.shape, (name, kwargs, a.shape, b.shape)
            # gradients summed over many pixels are large: also relative to the largest entry
            difference = numpy.abs(a - b).max()
            worst[0, i] = max(worst[0, i], difference)
            worst[1, i] = max(worst[1, i], difference / max(1.0, numpy.abs(b).max()))
    return worst


def main():
    rng = numpy.random.default_rng(0)
    print(f"Keras {keras.__version__} on {keras.backend.backend()}; ours on {backends.available()}")
    overall = numpy.zeros((2, 4))
    for rank, cases in ((2, CASES_2D), (1, CASES_1D)):
        for case in cases:
            worst = compare(rank, *case, rng)
            overall = numpy.maximum(overall, worst)
            if worst[1].max() > 1e-5:
                print(f"  {rank}-D {case[1:]}: relative differences {worst[1]}")
        print(f"{rank}-D: {len(cases)} configurations compared")
    labels = ("output", "input gradient", "kernel gradient", "bias gradient")
    print("largest difference: absolute, and relative to max(1, Keras's largest |value|)")
    for label, absolute, relative in zip(labels, *overall):
        print(f"  {label:16s} {absolute:.2e}  {relative:.2e}")


if __name__ == "__main__":
    main()
