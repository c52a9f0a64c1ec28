"""Every ``xp.<name>`` that shared code uses exists in CuPy, so it runs on the cupy backend.

The generic kernels (``backends/base.py``, ``backends/kernels/``) and the
engine reach arrays through ``xp`` (``self.xp``, ``backend.xp``, a local
``xp = self.xp``). A NumPy-only function there would pass every test on the
CPU and fail only on a GPU; this test finds such uses statically (CuPy imports
without a GPU). Array methods (``a.sum()``) and random Generator methods are not
covered.
"""

import ast
import pathlib

import pytest

cupy = pytest.importorskip("cupy", reason="CuPy is not installed (pip install '.[gpu]')")

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = [ROOT / "backends" / "base.py", *sorted((ROOT / "backends" / "kernels").glob("*.py"))]
SHARED += sorted((ROOT / "engine").rglob("*.py"))


def _is_xp(node) -> bool:
    """``xp`` itself, or any ``<expr>.xp``."""
    return (isinstance(node, ast.Name) and node.id == "xp") or (
        isinstance(node, ast.Attribute) and node.attr == "xp"
    )


def xp_uses(source: str) -> set[str]:
    """Dotted names used after ``xp``: ``xp.lib.stride_tricks.as_strided`` gives that path."""
    uses = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        chain = []
        current = node
        while isinstance(current, ast.Attribute) and not _is_xp(current):
            chain.append(current.attr)
            current = current.value
        if _is_xp(current) and chain:
            uses.add(".".join(reversed(chain)))
    # keep only the longest chains: "add.at" implies "add"
    return {u for u in uses if not any(o.startswith(u + ".") for o in uses)}


def _resolve(module, dotted: str) -> bool:
    target = module
    for part in dotted.split("."):
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


def test_the_scan_finds_known_uses():
    uses = xp_uses("def f(self, b):\n    xp = self.xp\n    xp.add.at(1)\n    b.backend.xp.zeros(2)")
    assert uses == {"add.at", "zeros"}


@pytest.mark.parametrize("path", SHARED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_xp_name_exists_in_cupy(path):
    missing = sorted(u for u in xp_uses(path.read_text()) if not _resolve(cupy, u))
    assert not missing, (
        f"{path.relative_to(ROOT)} uses xp.{', xp.'.join(missing)}, which CuPy does not "
        f"have: the code would fail on the cupy backend. Use a function both provide."
    )
