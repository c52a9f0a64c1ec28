"""``plot_history`` (a PNG of the training curves) and ``plot_model`` (a text diagram)."""

import os

from ..layers.base import format_shape


def plot_history(history, path, metrics=None, title: str | None = None) -> str:
    """Write a PNG of loss and metric curves from ``fit``'s History; returns the path.

    One panel per quantity (``loss``, ``accuracy``...), training and ``val_``
    curves together, against the epoch (1-based, as ``fit`` prints it); with
    ``validation_freq > 1`` the ``val_`` points sit at the epochs validated.
    Needs matplotlib (the optional extra ``plot``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)  # no display needed
        from matplotlib import pyplot
    except ImportError:
        raise ImportError(
            "plot_history needs matplotlib: pip install matplotlib "
            "(or install this library with its 'plot' extra)."
        ) from None
    records = getattr(history, "history", history)
    if not isinstance(records, dict) or not records:
        raise ValueError("plot_history: expected a History from fit (or its .history dict).")
    epochs = list(getattr(history, "epoch", [])) or list(range(len(next(iter(records.values())))))
    epochs_by_key = getattr(history, "epochs_by_key", {})

    def epochs_of(key: str) -> list[int]:
        if key in epochs_by_key:
            return epochs_by_key[key]
        if len(records[key]) != len(epochs):
            raise ValueError(
                f"plot_history: '{key}' has {len(records[key])} values for {len(epochs)} epochs "
                f"(validation_freq > 1?); pass the History object itself, which knows the "
                f"epochs each value was logged at."
            )
        return epochs

    names = metrics or sorted(
        {name.removeprefix("val_") for name in records if name != "learning_rate"},
        key=lambda n: (n != "loss", n),
    )
    figure, axes = pyplot.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        for key, label in ((name, "training"), ("val_" + name, "validation")):
            if key in records:
                axis.plot([e + 1 for e in epochs_of(key)], records[key], marker="o", label=label)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = os.fspath(path)
    from .. import distribute

    if distribute.is_chief():  # in data-parallel training only rank 0 writes the picture
        figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def plot_model(model, to_file=None, show_shapes: bool = True, show_layer_names: bool = True):
    """A text diagram of the layers, their shapes and parameter counts (printed and returned).

    Keras draws this with pydot and Graphviz; a box per layer in text needs
    neither. With ``to_file`` the diagram is also written there.
    """
    if not model.built:
        raise ValueError(
            f"plot_model: model '{model.name}' has not been built yet; give the first layer an "
            f"input_shape or call model.build(input_shape)."
        )
    boxes = []
    shape = model.input_shape
    for name, output_shape, params in model.layer_summaries():
        lines = [name if show_layer_names else name.split(" (")[-1].rstrip(")")]
        if show_shapes:
            lines.append(f"{format_shape(shape)} -> {format_shape(output_shape)}")
        lines.append(f"params: {params:,}")
        boxes.append(lines)
        shape = output_shape
    width = max(len(line) for box in boxes for line in box) if boxes else 10
    out = [f'{type(model).__name__} "{model.name}"', f"input {format_shape(model.input_shape)}"]
    for lines in boxes:
        out += [" " * (width // 2 + 2) + "│", " " * (width // 2 + 2) + "▼"]
        out.append("┌" + "─" * (width + 2) + "┐")
        out += [f"│ {line:<{width}} │" for line in lines]
        out.append("└" + "─" * (width + 2) + "┘")
    text = "\n".join(out)
    if to_file is not None:
        with open(to_file, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)
    return text
