"""Compare a WGAN-GP gradient penalty and its weight gradients with PyTorch's autograd.

Not part of the test suite (PyTorch is not a dependency): run it in an
environment that has PyTorch, from the repository root:

    python scripts/compare_higher_order_torch.py

The same critic (Dense layers with leaky_relu, tanh and sigmoid; then a small
Conv2D critic with relu), the same real, fake and interpolation weights, in
float64: the penalty ``mean((||d critic / d x_hat|| - 1) ** 2)``, computed
with ``engine.tensor.grad(..., create_graph=True)`` and with
``torch.autograd.grad(..., create_graph=True)``, and the gradient of the
penalty with respect to every weight. Prints the largest differences.
"""

import sys
from pathlib import Path

import numpy
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import backends  # noqa: E402
import engine  # noqa: E402
from engine import functional as F  # noqa: E402
from engine.tensor import grad as engine_grad  # noqa: E402

ACTIVATIONS = ["leaky_relu", "tanh", "sigmoid", None]


def dense_critic_weights(rng, sizes=(4, 8, 6, 5, 1)):
    return [
        array
        for a, b in zip(sizes[:-1], sizes[1:])
        for array in (rng.standard_normal((a, b)) * 0.5, rng.standard_normal(b) * 0.1)
    ]


def engine_dense_critic(x, weights):
    for i, activation in enumerate(ACTIVATIONS):
        x = F.dense(x, weights[2 * i], weights[2 * i + 1])
        if activation == "leaky_relu":
            x = F.activation(x, "leaky_relu", negative_slope=0.2)
        elif activation is not None:
            x = F.activation(x, activation)
    return x


def torch_dense_critic(x, weights):
    for i, activation in enumerate(ACTIVATIONS):
        x = x @ weights[2 * i] + weights[2 * i + 1]
        if activation == "leaky_relu":
            x = torch.nn.functional.leaky_relu(x, 0.2)
        elif activation is not None:
            x = getattr(torch, activation)(x)
    return x


def conv_critic_weights(rng):
    return [
        rng.standard_normal((3, 3, 2, 4)) * 0.4,  # (kh, kw, in, out), Keras's layout
        rng.standard_normal(4) * 0.1,
        rng.standard_normal((3 * 3 * 4, 1)) * 0.3,
        rng.standard_normal(1) * 0.1,
    ]


def engine_conv_critic(x, weights):
    h = F.conv2d(x, weights[0], weights[1], strides=(2, 2), padding="same", activation="relu")
    return F.dense(h.reshape(h.shape[0], -1), weights[2], weights[3])


def torch_conv_critic(x, weights):
    kernel = weights[0].permute(3, 2, 0, 1)  # (out, in, kh, kw)
    # "same" with stride 2 on 6x6: TensorFlow pads (0, 1) on each spatial axis
    padded = torch.nn.functional.pad(x.permute(0, 3, 1, 2), (0, 1, 0, 1))
    h = torch.relu(torch.nn.functional.conv2d(padded, kernel, weights[1], stride=2))
    return h.permute(0, 2, 3, 1).reshape(x.shape[0], -1) @ weights[2] + weights[3]


def engine_penalty(critic, weights, x_hat):
    x_hat = engine.tensor(x_hat, requires_grad=True)
    (g,) = engine_grad(critic(x_hat, weights).sum(), x_hat, create_graph=True)
    norms = (g * g).reshape(g.shape[0], -1).sum(axis=1).sqrt()
    penalty = ((norms - 1.0) ** 2).mean()
    penalty.backward()
    return float(penalty.numpy()), [_numpy_grad(w) for w in weights]


def torch_penalty(critic, weights, x_hat):
    x_hat = torch.tensor(x_hat, requires_grad=True)
    (g,) = torch.autograd.grad(critic(x_hat, weights).sum(), x_hat, create_graph=True)
    penalty = ((g.reshape(g.shape[0], -1).norm(dim=1) - 1.0) ** 2).mean()
    penalty.backward()
    return float(penalty.detach()), [_numpy_grad(w) for w in weights]


def _numpy_grad(weight):
    """The gradient as a NumPy array; zeros where the penalty does not reach the weight
    (the critic's last bias: both libraries leave its ``.grad`` None)."""
    if weight.grad is None:
        return numpy.zeros(tuple(weight.shape))
    return weight.grad.numpy()


def compare(name, backend, engine_critic, torch_critic, weights, x_hat):
    with engine.use_backend(backend):
        ours = engine_penalty(
            engine_critic, [engine.tensor(w, requires_grad=True) for w in weights], x_hat
        )
    theirs = torch_penalty(
        torch_critic, [torch.tensor(w, requires_grad=True) for w in weights], x_hat
    )
    worst = max(float(numpy.max(numpy.abs(a - b))) for a, b in zip(ours[1], theirs[1]))
    print(
        f"{name:6s} {backend:6s} penalty {ours[0]:.12f} (torch {theirs[0]:.12f}), "
        f"largest weight-gradient difference {worst:.2e}"
    )


def main():
    rng = numpy.random.default_rng(0)
    engine.set_floatx("float64")
    real, fake = rng.standard_normal((8, 4)), rng.standard_normal((8, 4))
    alpha = rng.uniform(size=(8, 1))
    dense_x_hat = alpha * real + (1 - alpha) * fake
    dense_weights = dense_critic_weights(rng)
    conv_x_hat = rng.standard_normal((3, 6, 6, 2))
    conv_weights = conv_critic_weights(rng)
    for backend in backends.available():
        compare(
            "dense", backend, engine_dense_critic, torch_dense_critic, dense_weights, dense_x_hat
        )
        compare("conv", backend, engine_conv_critic, torch_conv_critic, conv_weights, conv_x_hat)


if __name__ == "__main__":
    main()
