"""``plot_history`` (a PNG of the training curves) and ``plot_model`` (a text diagram, or
Keras's graph picture through Graphviz)."""

import os
import shutil
import subprocess

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


#: the pictures Graphviz's ``dot`` draws; ``.dot`` is the graph's text, written directly
_GRAPH_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "gif", "ps")


def plot_model(
    model,
    to_file=None,
    show_shapes: bool = True,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    dpi: int = 200,
    show_dtype: bool = False,
    expand_nested: bool = False,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
):
    """A diagram of the layers, their shapes and parameter counts.

    With ``to_file`` None or a ``.txt`` file: a box per layer in text (printed and
    returned; written to ``to_file`` too). With a ``.dot`` file: the graph in
    Graphviz's language, as Keras draws it. With a picture (``.png``, ``.svg``,
    ``.pdf``...): that graph drawn by the Graphviz program ``dot``, which must be
    installed (Keras needs the pydot package as well; this library writes the graph
    itself and does not). Keras's ``show_dtype``, ``expand_nested``,
    ``show_layer_activations``, ``show_trainable`` and ``splines`` are accepted and have
    no effect.
    """
    if not model.built:
        raise ValueError(
            f"plot_model: model '{model.name}' has not been built yet; give the first layer an "
            f"input_shape or call model.build(input_shape)."
        )
    extension = os.path.splitext(os.fspath(to_file))[1].lower().lstrip(".") if to_file else ""
    if extension in ("", "txt"):
        return _text_diagram(model, to_file, show_shapes, show_layer_names)
    if extension != "dot" and extension not in _GRAPH_FORMATS:
        raise ValueError(
            f"plot_model: cannot tell what to write from the extension of {os.fspath(to_file)!r}; "
            f"use .txt (text), .dot (Graphviz's language) or a picture: "
            f"{', '.join('.' + f for f in _GRAPH_FORMATS)}."
        )
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"plot_model: `rankdir` must be 'TB' or 'LR', got {rankdir!r}.")
    graph = _dot_graph(model, show_shapes, show_layer_names, rankdir, dpi)
    if extension == "dot":
        with open(to_file, "w", encoding="utf-8") as handle:
            handle.write(graph)
        return graph
    program = shutil.which("dot")
    if program is None:
        raise ImportError(
            f"plot_model: drawing {os.fspath(to_file)!r} needs the Graphviz program `dot`, "
            f"which was not found on PATH: install Graphviz (apt-get install graphviz, brew "
            f"install graphviz, conda install graphviz). Keras also needs the pydot package "
            f"(pip install pydot); this library writes the graph itself and does not. Without "
            f"Graphviz, save to a .dot or .txt file instead."
        )
    subprocess.run(
        [program, f"-T{extension}", "-o", os.fspath(to_file)],
        input=graph.encode(),
        check=True,
        capture_output=True,
    )
    return graph


def _quote(*lines: str) -> str:
    """A DOT string of ``lines`` (joined by DOT's ``\\n`` line break)."""
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    return '"' + "\\n".join(escaped) + '"'


def model_to_dot(
    model,
    show_shapes: bool = False,
    show_dtype: bool = False,
    show_layer_names: bool = True,
    rankdir: str = "TB",
    expand_nested: bool = False,
    dpi: int = 200,
    subgraph: bool = False,
    show_layer_activations: bool = False,
    show_trainable: bool = False,
    splines: str = "ortho",
    **kwargs,
) -> str:
    """The model as a graph in Graphviz's DOT language, with Keras 3's arguments and
    defaults. Keras returns a ``pydot.Dot``; this returns its text (``pydot.
    graph_from_dot_data(text)`` makes one), so neither pydot nor Graphviz is needed.
    ``show_dtype``, ``expand_nested``, ``subgraph``, ``show_layer_activations``,
    ``show_trainable`` and ``splines`` are accepted and have no effect."""
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: `rankdir` must be 'TB' or 'LR', got {rankdir!r}.")
    if not model.built:
        raise ValueError(
            f"model_to_dot: model '{model.name}' has not been built yet; give the first layer "
            f"an input_shape or call model.build(input_shape)."
        )
    return _dot_graph(model, show_shapes, show_layer_names, rankdir, dpi)


def _dot_graph(
    model, show_shapes: bool = True, show_layer_names: bool = True, rankdir="TB", dpi=200
) -> str:
    """The model's layers as a Graphviz graph: one box per layer, an arrow per connection."""
    rows = model.layer_summaries()
    lines = [
        f"digraph {_quote(model.name)} {{",
        f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
        "  node [shape=box, fontname=Helvetica];",
    ]
    names = []
    for name, shape, params, *connected in rows:
        layer_name, _, kind = name.partition(" (")
        label = [name if show_layer_names else kind.rstrip(")")]
        if show_shapes:
            label.append(f"output: {_format_output(shape)}")
        label.append(f"params: {params:,}")
        lines.append(f"  {_quote(layer_name)} [label={_quote(*label)}];")
        names.append((layer_name, connected[0] if connected else None))
    for index, (layer_name, connected) in enumerate(names):
        if connected is None:  # Sequential and subclassed models: a chain
            if index:
                lines.append(f"  {_quote(names[index - 1][0])} -> {_quote(layer_name)};")
            continue
        if connected == "-":
            continue
        for entry in connected.split(", "):
            origin = entry.split("[")[0]
            lines.append(f"  {_quote(origin)} -> {_quote(layer_name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _format_output(shape) -> str:
    if isinstance(shape, str):
        return shape
    if shape and isinstance(shape[0], (tuple, list)):
        return ", ".join(format_shape(s) for s in shape)
    return format_shape(shape)


def _text_diagram(model, to_file, show_shapes: bool, show_layer_names: bool) -> str:
    """A box per layer in text, printed and returned (and written to ``to_file``)."""
    boxes = []
    shape = model.input_shape
    for name, output_shape, params, *_ in model.layer_summaries():
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
