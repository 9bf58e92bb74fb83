"""The layers point one way: each package of src/tumbler imports only the layers beneath it.

core is pure and imports nothing of ours; wire only itself and core; ports core; ops core, ports and
wire; rotation core and ports; an adapter core, ports, wire and its own package. server and cli
assemble everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "tumbler"
ALLOWED = {
    "core": {"core"},
    "wire": {"wire", "core"},
    "ports": {"ports", "core"},
    "ops": {"ops", "core", "ports", "wire"},
    "rotation": {"rotation", "core", "ports"},
    "adapters": {"core", "ports", "wire"},  # and the adapter's own package
}


def imported(path: Path) -> set[str]:
    """The modules under tumbler that ``path`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {name for name in names if name.startswith("tumbler.")}


def violations(layer: str) -> list[str]:
    found = []
    for path in sorted((SRC / layer).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        allowed = {f"tumbler.{name}" for name in ALLOWED[layer]}
        if layer == "adapters":
            allowed.add(f"tumbler.adapters.{parts[1]}")
        for name in imported(path):
            if not any(name == prefix or name.startswith(prefix + ".") for prefix in allowed):
                found.append(f"{'/'.join(parts)}.py imports {name}")
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_is_beneath_it(layer: str) -> None:
    assert violations(layer) == []


def test_the_check_sees_a_backwards_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tumbler.ops.context import Context\n")
    assert imported(module) == {"tumbler.ops.context"}
