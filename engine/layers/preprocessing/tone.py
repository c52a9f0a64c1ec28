"""Tone and filter layers as Keras 3: AutoContrast, Equalization, RandomSharpness and
RandomGaussianBlur.

AutoContrast and Equalization are deterministic and active at inference too
(Keras documents both so). The filters convolve each channel with a 3x3 or
Gaussian kernel zero-padded to the image size ("same"), as Keras does on
every backend.
"""

import numpy

from ... import functional as F
from ...functional.depthwise import depthwise_conv2d
from ...tensor import Tensor
from ..base import register_layer
from .augmentation import _is_number
from .augmentation_base import ColorAugmentation, FactorColorAugmentation, keras_factor, rescale


class DeterministicColorLayer(ColorAugmentation):
    """A colour layer with no random draws and no seed, applied in training and inference."""

    def __init__(self, value_range=(0, 255), data_format=None, **kwargs):
        super().__init__(value_range=value_range, seed=None, data_format=data_format, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["seed"]
        return config


@register_layer
class AutoContrast(DeterministicColorLayer):
    """Stretch each channel of each image linearly so that its smallest value becomes the low
    end of ``value_range`` and its largest the high end (a constant channel is kept)."""

    def __init__(self, value_range=(0, 255), **kwargs):
        super().__init__(value_range=value_range, **kwargs)

    def transform(self, images, training: bool):
        scaled = rescale(images, self.value_range, (0.0, 255.0))
        low = F.min(scaled, axis=(1, 2), keepdims=True)
        high = F.max(scaled, axis=(1, 2), keepdims=True)
        flat = high.data <= low.data  # Keras's 0 / 0 there is NaN, replaced by the input
        span = F.where(flat, 1.0, high - low)
        stretched = F.clip((scaled - low) * (255.0 / span), 0.0, 255.0)
        return F.where(flat, images, rescale(stretched, (0.0, 255.0), self.value_range))


@register_layer
class Equalization(DeterministicColorLayer):
    """Histogram equalization of each channel of each image over ``bins`` bins, on values
    mapped from ``value_range`` to [0, 255] (Keras's lookup table: the rounded, rescaled
    cumulative histogram). A channel with one occupied bin is kept.

    Keras 3.15 equalizes only when training and pools a batch's images into one
    histogram per channel; this layer equalizes each image, in training and at
    inference, as Keras documents (the same numbers for one image).
    A step function: no gradient reaches the input.
    """

    def __init__(self, value_range=(0, 255), bins: int = 256, data_format=None, **kwargs):
        super().__init__(value_range=value_range, data_format=data_format, **kwargs)
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise ValueError(
                f"Equalization '{self.name}': `bins` must be an integer of at least 2, "
                f"got {bins!r}."
            )
        self.bins = bins

    def transform(self, images, training: bool):
        xp = images.backend.xp
        bins = self.bins
        batch, height, width, channels = images.shape
        values = rescale(images, self.value_range, (0.0, 255.0)).data.astype(numpy.float32)
        # Keras's two bin indices: one to count, one to look up (different roundings)
        counted = xp.clip((values * (bins - 1) / 255.0).astype(numpy.int32), 0, bins - 1)
        looked_up = xp.clip(values / 255.0 * (bins - 1), 0, bins - 1).astype(numpy.int32)
        offsets = (xp.arange(batch * channels) * bins).reshape(batch, 1, 1, channels)
        histogram = xp.bincount(
            (counted + offsets).ravel(), minlength=batch * channels * bins
        ).reshape(batch, 1, 1, channels, bins)
        cdf = xp.cumsum(histogram, axis=-1)
        cdf_min = xp.where(cdf > 0, cdf, cdf[..., -1:]).min(axis=-1, keepdims=True)
        denominator = cdf[..., -1:] - cdf_min
        denominator = xp.where(denominator == 0, 1, denominator).astype(numpy.float32)
        table = ((cdf - cdf_min) * 255).astype(numpy.float32) / denominator
        table = xp.clip(xp.round(table), 0, 255).reshape(-1)
        equalized = table[(looked_up + offsets).ravel()].reshape(values.shape)
        occupied = (histogram > 0).sum(axis=-1)
        equalized = xp.where(occupied <= 1, values, equalized).astype(images.dtype)
        return rescale(Tensor._wrap(equalized, images.backend), (0.0, 255.0), self.value_range)

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


def _smoothing(images: Tensor, kernel: numpy.ndarray) -> Tensor:
    """Each channel convolved with the 2-D ``kernel``, zero-padded to keep the size."""
    channels = images.shape[-1]
    weights = numpy.repeat(kernel[:, :, None, None], channels, axis=2).astype(images.dtype)
    weights = Tensor._wrap(images.backend.asarray(weights), images.backend)
    return depthwise_conv2d(images, weights, padding="same")


@register_layer
class RandomSharpness(FactorColorAugmentation):
    """Sharpen (or soften) each image: ``image + (1 - s) * (smooth - image)`` with ``s`` twice
    a draw from ``factor`` (a number ``f`` in [0, 1] means ``[0, f]``; 0.5 keeps the image)
    and ``smooth`` the image under Keras's 3x3 kernel (1/13 around, 5/13 in the middle);
    clipped to ``value_range``."""

    KERNEL = numpy.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13.0

    def transform(self, images, training: bool):
        if not training:
            return images
        sharpness = 2 * self.uniform(images.backend, images.shape[0], *self.factor)
        blend = self.per_image(images, 1.0 - sharpness)
        sharpened = images + blend * (_smoothing(images, self.KERNEL) - images)
        return F.clip(sharpened, *self.value_range)


def gaussian_kernel(size: int, sigma: float) -> numpy.ndarray:
    """The normalized 1-D Gaussian of ``size`` taps centred on the middle one."""
    offsets = numpy.arange(size) - (size - 1) / 2
    weights = numpy.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / weights.sum()


@register_layer
class RandomGaussianBlur(FactorColorAugmentation):
    """Blur images with a Gaussian, each when a draw from [0, 1) falls below a probability
    drawn from ``factor``; one ``(sigma_x, sigma_y)`` per call, each drawn from ``sigma``
    (plus 1e-6). ``kernel_size`` is an odd size or a pair ``(width, height)`` of them. Every
    image is clipped to ``value_range``.

    ``sigma``: a number ``s`` in [0, 1] means ``[0, s]`` (Keras's bounds); a pair of
    non-negative numbers is the range. Keras 3.15 garbles a kernel of two different sizes;
    here each axis has its own.
    """

    def __init__(
        self,
        factor=1.0,
        kernel_size=3,
        sigma=1.0,
        value_range=(0, 255),
        data_format=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(factor, value_range, data_format=data_format, seed=seed, **kwargs)
        sizes = list(kernel_size) if isinstance(kernel_size, (list, tuple)) else [kernel_size] * 2
        if len(sizes) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 and s % 2 for s in sizes
        ):
            raise ValueError(
                f"RandomGaussianBlur '{self.name}': `kernel_size` must be an odd positive "
                f"integer or a pair of them; got {kernel_size!r}."
            )
        self.kernel_size = tuple(sizes)
        if isinstance(sigma, (list, tuple)):
            if len(sigma) != 2 or not all(_is_number(s) and s >= 0 for s in sigma):
                raise ValueError(
                    f"RandomGaussianBlur '{self.name}': `sigma` must be a number in [0, 1] or a "
                    f"pair of non-negative numbers; got {sigma!r}."
                )
            self.sigma = tuple(sorted(float(s) for s in sigma))
        else:
            self.sigma = keras_factor(self, "sigma", sigma, 0.0, 1.0)

    def transform(self, images, training: bool):
        if not training:
            return images
        chosen = self.chosen(images, self.factor)
        sigma_x, sigma_y = self.uniform(images.backend, 2, *self.sigma) + 1e-6
        kernel = numpy.outer(
            gaussian_kernel(self.kernel_size[1], sigma_y),
            gaussian_kernel(self.kernel_size[0], sigma_x),
        )
        mask = images.backend.asarray(chosen.reshape(-1, 1, 1, 1))
        blurred = F.where(mask, _smoothing(images, kernel), images)
        return F.clip(blurred, *self.value_range)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "sigma": list(self.sigma),
        }
