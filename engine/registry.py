"""Name -> class allow-lists, used to resolve strings and to load configs safely.

Configs never name importable classes: a class is found only if it was
registered here, which is what keeps loading a file from running its code.
"""

import re


def snake_case(name: str) -> str:
    """``BatchNormalization`` -> ``batch_normalization``, as Keras names things."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Registry:
    """Classes of one kind (layer, loss, ...) by name, with Keras-style lookup."""

    def __init__(self, kind: str, entries: dict | None = None):
        self.kind = kind
        self._entries: dict[str, type] = {}
        for name, cls in (entries or {}).items():
            self.register(cls, name)

    def register(self, cls, name: str | None = None):
        """Register ``cls`` under ``name``, its class name and the snake-case form."""
        for key in {name or cls.__name__, cls.__name__, snake_case(cls.__name__)}:
            self._entries[key.lower()] = cls
        return cls

    def names(self) -> list[str]:
        return sorted({snake_case(cls.__name__) for cls in self._entries.values()})

    def lookup(self, name: str):
        if not isinstance(name, str):
            raise TypeError(f"Expected a {self.kind} name (a string), got {type(name).__name__}.")
        cls = self._entries.get(name.lower())
        if cls is None:
            cls = self._entries.get(name.lower().replace("_", ""))
        if cls is None:
            raise ValueError(
                f"Unknown {self.kind}: '{name}'. Valid {self.kind}s are: {', '.join(self.names())}."
            )
        return cls

    def create(self, identifier):
        """An instance from a name or a ``{"class_name": ..., "config": {...}}`` dict."""
        if isinstance(identifier, dict):
            cls = self.lookup(identifier.get("class_name", ""))
            return cls(**identifier.get("config", {}))
        if isinstance(identifier, str):
            return self.lookup(identifier)()
        raise TypeError(
            f"Cannot interpret {identifier!r} as a {self.kind}; expected a name, a config "
            f"dict or an instance. Valid names: {', '.join(self.names())}."
        )

    def serialize(self, instance) -> dict:
        cls = type(instance)
        if self._entries.get(cls.__name__.lower()) is not cls:
            raise ValueError(
                f"{cls.__name__} is not a registered {self.kind}; register it before saving."
            )
        return {"class_name": cls.__name__, "config": instance.get_config()}
