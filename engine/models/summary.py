"""``model.summary()``: Keras 3's table of layers, output shapes and parameter counts."""

from ..layers.base import format_shape


def format_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} GB"


def _row(cells, widths, left="│", mid="│", right="│"):
    texts = []
    for i, (cell, width) in enumerate(zip(cells, widths)):
        texts.append(f" {cell:>{width - 2}} " if i == len(widths) - 1 else f" {cell:<{width - 2}} ")
    return left + mid.join(texts) + right


def summarize(model, line_length: int = 80, print_fn=print) -> None:
    widths = [33, 24, 15]
    scale = max(line_length, 50) / sum(widths)
    widths = [max(12, int(w * scale)) for w in widths]
    lines = [f'Model: "{model.name}"']
    lines.append("┏" + "┳".join("━" * w for w in widths) + "┓")
    lines.append(_row(["Layer (type)", "Output Shape", "Param #"], widths, "┃", "┃", "┃"))
    lines.append("┡" + "╇".join("━" * w for w in widths) + "┩")
    rows = model.layer_summaries()
    for i, (name, shape, params) in enumerate(rows):
        lines.append(_row([name, format_shape(shape), f"{params:,}"], widths))
        if i < len(rows) - 1:
            lines.append("├" + "┼".join("─" * w for w in widths) + "┤")
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    itemsize = 4 if model.dtype == "float32" else 8
    total = model.count_params()
    trainable = sum(w.size for w in model.trainable_weights)
    lines.append(f" Total params: {total:,} ({format_bytes(total * itemsize)})")
    lines.append(f" Trainable params: {trainable:,} ({format_bytes(trainable * itemsize)})")
    frozen = total - trainable
    lines.append(f" Non-trainable params: {frozen:,} ({format_bytes(frozen * itemsize)})")
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.variables():
        count = sum(int(a.size) for _, a in optimizer.variables()) + 1  # + iterations
        lines.append(f" Optimizer params: {count:,} ({format_bytes(count * itemsize)})")
    print_fn("\n".join(lines))
