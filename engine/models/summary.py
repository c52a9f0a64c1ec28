"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts."""

import numpy

from ..layers.base import format_shape


def format_bytes(count: float) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width``: broken at spaces, over-long words folded."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
            continue
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        lines.append(word)
    return lines or [""]


def _rows(cells, widths, left="│", mid="│", right="│", align_last=True) -> list[str]:
    """One table row, several lines high where a cell wraps; the ``Param #`` column
    right-aligned (the last one, unless "Connected to" follows it)."""
    wrapped = [_wrap(cell, width - 2) for cell, width in zip(cells, widths)]
    numbers = len(widths) - 1 if align_last else 2
    lines = []
    for index in range(max(len(cell) for cell in wrapped)):
        texts = []
        for column, (cell, width) in enumerate(zip(wrapped, widths)):
            text = cell[index] if index < len(cell) else ""
            right_aligned = column == numbers
            texts.append(f" {text:>{width - 2}} " if right_aligned else f" {text:<{width - 2}} ")
        lines.append(left + mid.join(texts) + right)
    return lines


def _nbytes(weights) -> int:
    return sum(int(w.size) * numpy.dtype(w.dtype).itemsize for w in weights)


def optimizer_params(model) -> tuple[int, int] | None:
    """``(count, bytes)`` of the optimizer's variables, or None before its first step.

    As in Keras 3: every slot, plus the ``iterations`` counter (int64) and the
    ``learning_rate`` variable.
    """
    optimizer = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or optimizer is None or not optimizer.iterations:
        return None
    slots = [array for _, array in optimizer.variables()]
    learning_rate_bytes = numpy.dtype(model.dtype).itemsize
    count = sum(int(a.size) for a in slots) + 2
    return count, sum(int(a.nbytes) for a in slots) + 8 + learning_rate_bytes


def _format_shapes(shape) -> str:
    if isinstance(shape, str):
        return shape
    if shape and isinstance(shape[0], (tuple, list)):  # a layer with several outputs
        return ", ".join(format_shape(s) for s in shape)
    return format_shape(shape)


def summarize(model, line_length: int | None = None, print_fn=print) -> None:
    """Keras 3's table; a functional model's rows (4-tuples) add "Connected to"."""
    rows = model.layer_summaries()
    connected = bool(rows) and len(rows[0]) == 4
    widths = [24, 19, 12, 23] if connected else [33, 24, 15]
    line_length = line_length or (84 if connected else 80)
    scale = max(line_length, 50) / sum(widths)
    widths = [max(12, int(w * scale)) for w in widths]
    headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"][: len(widths)]
    lines = [f'Model: "{model.name}"']
    lines.append("┏" + "┳".join("━" * w for w in widths) + "┓")
    lines += _rows(headers, widths, "┃", "┃", "┃", align_last=not connected)
    lines.append("┡" + "╇".join("━" * w for w in widths) + "┩")
    for i, (name, shape, params, *rest) in enumerate(rows):
        cells = [name, _format_shapes(shape), f"{params:,}", *rest]
        lines += _rows(cells, widths, align_last=not connected)
        if i < len(rows) - 1:
            lines.append("├" + "┼".join("─" * w for w in widths) + "┤")
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    trainable, frozen = model.trainable_weights, model.non_trainable_weights
    counts = [sum(int(w.size) for w in trainable), sum(int(w.size) for w in frozen)]
    sizes = [_nbytes(trainable), _nbytes(frozen)]
    optimizer = optimizer_params(model)
    total, total_bytes = sum(counts), sum(sizes)
    if optimizer is not None:
        total, total_bytes = total + optimizer[0], total_bytes + optimizer[1]
    lines.append(f" Total params: {total:,} ({format_bytes(total_bytes)})")
    lines.append(f" Trainable params: {counts[0]:,} ({format_bytes(sizes[0])})")
    lines.append(f" Non-trainable params: {counts[1]:,} ({format_bytes(sizes[1])})")
    if optimizer is not None:
        lines.append(f" Optimizer params: {optimizer[0]:,} ({format_bytes(optimizer[1])})")
    print_fn("\n".join(lines))
