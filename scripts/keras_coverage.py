"""Which of Keras 3's public names exist here, namespace by namespace (a dev-only check).

Run it where the ``keras`` package is installed next to this library (any Keras
backend works; nothing is computed):

    KERAS_BACKEND=torch python scripts/keras_coverage.py            # the table
    KERAS_BACKEND=torch python scripts/keras_coverage.py --missing  # and the names missing

It prints a Markdown table (the README shows it): per namespace, the names Keras
has, how many exist here, the share, and the share once the names deliberately
left out (listed below with the reason) are set aside. Submodules Keras re-exports
(``keras.layers.experimental``...) are not counted as names.
"""

import argparse
import importlib
import types

import engine

NAMESPACES = [
    "models",
    "layers",
    "ops",
    "metrics",
    "losses",
    "callbacks",
    "optimizers",
    "optimizers.schedules",
    "activations",
    "initializers",
    "regularizers",
    "constraints",
    "utils",
    "random",
    "config",
    "saving",
]

#: names left out on purpose, with the reason
LEFT_OUT = {
    "layers": {
        "TFSMLayer": "loads TensorFlow SavedModels: needs TensorFlow",
        "JaxLayer": "wraps JAX functions",
        "FlaxLayer": "wraps Flax modules",
        "TorchModuleWrapper": "wraps PyTorch modules (use this library's layers instead)",
        "InputSpec": None,  # exists
        "StringLookup": None,
        "Hashing": "hashes strings with TensorFlow's fingerprint functions",
        "HashedCrossing": "hashes with TensorFlow's fingerprint functions",
        "Discretization": None,
        "STFTSpectrogram": "audio front end: out of scope so far",
        "MelSpectrogram": "audio front end: out of scope so far",
        "MaxNumBoundingBoxes": "bounding boxes are not supported by the augmentation layers",
    },
    "optimizers": {
        "LossScaleOptimizer": "mixed precision (float16 loss scaling) is not supported",
        "Muon": "needs matrix orthogonalization kernels not written yet",
    },
    "callbacks": {
        "RemoteMonitor": "posts to an HTTP server: no network use at run time",
        "SwapEMAWeights": "needs the optimizers' EMA option, not implemented",
        "OrbaxCheckpoint": "JAX/Orbax checkpoint format",
    },
    "utils": {
        "get_file": "exists, and refuses: no downloads at run time",
        "image_dataset_from_directory": "needs TensorFlow's tf.data image decoding",
        "text_dataset_from_directory": "needs TensorFlow's tf.data",
        "timeseries_dataset_from_array": None,
        "audio_dataset_from_directory": "needs TensorFlow's audio decoding",
        "FeatureSpace": "built on tf.data pipelines",
    },
    "config": {
        "enable_flash_attention": None,
        "dtype_policy": "mixed precision policies are not supported",
        "set_dtype_policy": "mixed precision policies are not supported",
        "enable_unsafe_deserialization": "loading never runs code from a file",
    },
    "saving": {
        "KerasFileEditor": "edits Keras's .keras zip archives; our files are safetensors",
    },
    "ops": {
        "view_as_real": "returns complex tensors, which the engine does not have (the Fourier "
        "ops take and give (real, imag) pairs, as Keras's do)",
        "view_as_complex": "takes complex tensors, which the engine does not have",
        "polar": "returns complex tensors, which the engine does not have",
    },
}


def _public_names(module) -> set[str]:
    return {
        name
        for name in dir(module)
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    }


def _ours(namespace: str):
    try:
        return importlib.import_module(f"engine.{namespace}")
    except ImportError:
        module = engine
        for part in namespace.split("."):
            module = getattr(module, part, None)
            if module is None:
                return None
        return module


def coverage(show_missing: bool = False) -> str:
    import keras

    rows = ["| namespace | Keras names | here | share | share without those left out |"]
    rows.append("|---|---:|---:|---:|---:|")
    missing_lines = []
    for namespace in NAMESPACES:
        theirs = keras
        for part in namespace.split("."):
            theirs = getattr(theirs, part)
        wanted = _public_names(theirs)
        ours = _ours(namespace)
        present = {name for name in wanted if ours is not None and hasattr(ours, name)}
        reasons = {k: v for k, v in LEFT_OUT.get(namespace, {}).items() if v}
        excused = {name for name in wanted - present if name in reasons}
        counted = len(wanted) - len(excused)
        rows.append(
            f"| `{namespace}` | {len(wanted)} | {len(present)} | "
            f"{100 * len(present) / len(wanted):.0f}% | "
            f"{100 * len(present) / max(counted, 1):.0f}% |"
        )
        missing = sorted(wanted - present - excused)
        if show_missing and missing:
            missing_lines.append(f"- `{namespace}` ({len(missing)}): " + ", ".join(missing))
    left_out = [
        f"- `{namespace}.{name}`: {reason}"
        for namespace, names in LEFT_OUT.items()
        for name, reason in names.items()
        if reason
    ]
    text = "\n".join(rows) + "\n\nLeft out on purpose:\n\n" + "\n".join(left_out)
    if missing_lines:
        text += "\n\nMissing:\n\n" + "\n".join(missing_lines)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", action="store_true", help="list the names missing here")
    print(coverage(parser.parse_args().missing))


if __name__ == "__main__":
    main()
