"""FarmHash's ``Fingerprint64``: how Keras spreads out-of-vocabulary tokens over OOV indices.

Keras's lookup layers with ``num_oov_indices > 1`` put an unknown string in
bucket ``Fingerprint64(utf8 bytes) % num_oov_indices`` (TensorFlow's
``strings.to_hash_bucket_fast``), and an unknown integer there too when
``oov_method="farmhash"`` (the hash of its decimal digits). This is that
function (FarmHash's ``farmhashna::Hash64``, MIT licensed, by Geoff Pike), in
Python on 64-bit unsigned arithmetic, so that the buckets match Keras's. It
only runs on tokens missing from the vocabulary.
"""

_MASK = (1 << 64) - 1
_K0 = 0xC3A5C85C97CB3127
_K1 = 0xB492B66FBE98F273
_K2 = 0x9AE16A3B2F90404F


def _word(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 8], "little")


def _half_word(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


def _rotate(value: int, shift: int) -> int:
    return ((value >> shift) | (value << (64 - shift))) & _MASK if shift else value


def _shift_mix(value: int) -> int:
    return value ^ (value >> 47)


def _hash_pair(u: int, v: int, mul: int) -> int:
    """Murmur-style mix of two 64-bit words."""
    a = ((u ^ v) * mul) & _MASK
    a ^= a >> 47
    b = ((v ^ a) * mul) & _MASK
    b ^= b >> 47
    return (b * mul) & _MASK


def _up_to_16(data: bytes) -> int:
    n = len(data)
    if n >= 8:
        mul = _K2 + n * 2
        a = (_word(data, 0) + _K2) & _MASK
        b = _word(data, n - 8)
        c = (_rotate(b, 37) * mul + a) & _MASK
        d = ((_rotate(a, 25) + b) * mul) & _MASK
        return _hash_pair(c, d, mul)
    if n >= 4:
        mul = _K2 + n * 2
        return _hash_pair(n + (_half_word(data, 0) << 3), _half_word(data, n - 4), mul)
    if n > 0:
        y = data[0] + (data[n >> 1] << 8)
        z = n + (data[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & _MASK) * _K2) & _MASK
    return _K2


def _up_to_32(data: bytes) -> int:
    n = len(data)
    mul = _K2 + n * 2
    a = (_word(data, 0) * _K1) & _MASK
    b = _word(data, 8)
    c = (_word(data, n - 8) * mul) & _MASK
    d = (_word(data, n - 16) * _K2) & _MASK
    return _hash_pair(
        (_rotate((a + b) & _MASK, 43) + _rotate(c, 30) + d) & _MASK,
        (a + _rotate((b + _K2) & _MASK, 18) + c) & _MASK,
        mul,
    )


def _up_to_64(data: bytes) -> int:
    n = len(data)
    mul = _K2 + n * 2
    a = (_word(data, 0) * _K2) & _MASK
    b = _word(data, 8)
    c = (_word(data, n - 8) * mul) & _MASK
    d = (_word(data, n - 16) * _K2) & _MASK
    y = (_rotate((a + b) & _MASK, 43) + _rotate(c, 30) + d) & _MASK
    z = _hash_pair(y, (a + _rotate((b + _K2) & _MASK, 18) + c) & _MASK, mul)
    e = (_word(data, 16) * mul) & _MASK
    f = _word(data, 24)
    g = ((y + _word(data, n - 32)) * mul) & _MASK
    h = ((z + _word(data, n - 24)) * mul) & _MASK
    return _hash_pair(
        (_rotate((e + f) & _MASK, 43) + _rotate(g, 30) + h) & _MASK,
        (e + _rotate((f + a) & _MASK, 18) + g) & _MASK,
        mul,
    )


def _weak_pair(data: bytes, offset: int, a: int, b: int) -> tuple[int, int]:
    """A weak 128-bit hash of 32 bytes with two seeds, as two 64-bit words."""
    w, x, y, z = (_word(data, offset + 8 * i) for i in range(4))
    a = (a + w) & _MASK
    b = _rotate((b + a + z) & _MASK, 21)
    c = a
    a = (a + x + y) & _MASK
    b = (b + _rotate(a, 44)) & _MASK
    return (a + z) & _MASK, (b + c) & _MASK


def _chunk_step(data, offset, x, y, z, v, w, mul, weight):
    x = (_rotate((x + y + v[0] + _word(data, offset + 8)) & _MASK, 37) * mul) & _MASK
    y = (_rotate((y + v[1] + _word(data, offset + 48)) & _MASK, 42) * mul) & _MASK
    x ^= (w[1] * weight) & _MASK
    y = (y + v[0] * weight + _word(data, offset + 40)) & _MASK
    z = (_rotate((z + w[0]) & _MASK, 33) * mul) & _MASK
    v = _weak_pair(data, offset, (v[1] * mul) & _MASK, (x + w[0]) & _MASK)
    w = _weak_pair(data, offset + 32, (z + w[1]) & _MASK, (y + _word(data, offset + 16)) & _MASK)
    return z, y, x, v, w  # x and z trade places after every chunk


def fingerprint64(data: bytes) -> int:
    """FarmHash ``Fingerprint64`` of ``data`` as an unsigned 64-bit integer."""
    n = len(data)
    if n <= 16:
        return _up_to_16(data)
    if n <= 32:
        return _up_to_32(data)
    if n <= 64:
        return _up_to_64(data)
    seed = 81
    x = seed
    y = (seed * _K1 + 113) & _MASK
    z = (_shift_mix((y * _K2 + 113) & _MASK) * _K2) & _MASK
    v = w = (0, 0)
    x = (x * _K2 + _word(data, 0)) & _MASK
    end = ((n - 1) // 64) * 64
    for offset in range(0, end, 64):
        x, y, z, v, w = _chunk_step(data, offset, x, y, z, v, w, _K1, 1)
    mul = _K1 + ((z & 0xFF) << 1)
    last = n - 64
    w = ((w[0] + ((n - 1) & 63)) & _MASK, w[1])
    v = ((v[0] + w[0]) & _MASK, v[1])
    w = ((w[0] + v[0]) & _MASK, w[1])
    x, y, z, v, w = _chunk_step(data, last, x, y, z, v, w, mul, 9)
    return _hash_pair(
        (_hash_pair(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & _MASK,
        (_hash_pair(v[1], w[1], mul) + x) & _MASK,
        mul,
    )


def hash_bucket(token, buckets: int) -> int:
    """The bucket of a string (its UTF-8 bytes) or integer (its decimal digits), as Keras."""
    if isinstance(token, str):
        data = token.encode("utf-8")
    elif isinstance(token, bytes):
        data = token
    else:
        data = str(int(token)).encode("ascii")
    return fingerprint64(data) % buckets
