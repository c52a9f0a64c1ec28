"""Name -> class allow-lists, used to resolve strings and to load configs safely.

Configs never name importable classes: a class is found only if it was
registered here, which is what keeps loading a file from running its code.
"""

import contextlib
import contextvars
import re

#: classes the caller of ``load_model(custom_objects=...)`` allows for this load only
_custom_objects: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "custom_objects", default=None
)


@contextlib.contextmanager
def custom_object_scope(objects: dict | None):
    """Resolve the names in ``objects`` (``{"MyLayer": MyLayer}``) within the block, as
    Keras's ``custom_object_scope``: the caller vouches for them, so they are allowed."""
    if objects is not None and not isinstance(objects, dict):
        raise TypeError(
            f"custom_objects must be a dict of name -> class, got {type(objects).__name__}."
        )
    token = _custom_objects.set({**(_custom_objects.get() or {}), **(objects or {})})
    try:
        yield
    finally:
        _custom_objects.reset(token)


def snake_case(name: str) -> str:
    """``BatchNormalization`` -> ``batch_normalization``, as Keras names things."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Registry:
    """Classes of one kind (layer, loss, ...) by name, with Keras-style lookup."""

    def __init__(self, kind: str, entries: dict | None = None, hint: str = ""):
        """``hint`` ends the error for an unknown name (``{name}`` is replaced by it)."""
        self.kind = kind
        self.hint = hint
        self._entries: dict[str, type] = {}
        self._display_names: dict[type, str] = {}  # the first name each class was given
        for name, cls in (entries or {}).items():
            self.register(cls, name)

    def register(self, cls, name: str | None = None):
        """Register ``cls`` under ``name``, its class name and the snake-case form."""
        for key in {name or cls.__name__, cls.__name__, snake_case(cls.__name__)}:
            self._entries[key.lower()] = cls
        self._display_names.setdefault(cls, name or snake_case(cls.__name__))
        return cls

    def names(self) -> list[str]:
        """The names to suggest: ``adamw`` and ``rmsprop``, as given, not ``adam_w``."""
        return sorted({self._display_names[cls] for cls in self._entries.values()})

    @property
    def plural(self) -> str:
        return self.kind + ("es" if self.kind.endswith("s") else "s")

    def lookup(self, name: str):
        if not isinstance(name, str):
            raise TypeError(f"Expected a {self.kind} name (a string), got {type(name).__name__}.")
        custom = _custom_objects.get() or {}
        cls = custom.get(name) or self._entries.get(name.lower())
        if cls is None:
            cls = self._entries.get(name.lower().replace("_", ""))
        if cls is None:
            hint = " " + self.hint.format(name=name) if self.hint else ""
            raise ValueError(
                f"Unknown {self.kind}: '{name}'. Valid {self.plural} are: "
                f"{', '.join(self.names())}.{hint}"
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
