"""The core imports no room above it (README, Architecture): nothing under cim/ imports
layers/, loaders/ or services/ — the planners' grants had the core import layers.catalog,
so `cim db upgrade` imported every room's layer module. The rooms reach the core through
entry points instead: their commands (cim.commands) and their catalog (cim.catalog), which
cim.layerdefs.declared_layers reads."""

from __future__ import annotations

import ast

from tests.conftest import PROJECT_ROOT

ROOMS = ("layers", "loaders", "services")


def test_nothing_in_the_core_imports_a_room():
    bad = []
    root = PROJECT_ROOT / "cim"
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(PROJECT_ROOT).as_posix()
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad += [f"{rel}:{node.lineno}: {n}" for n in names if n.split(".")[0] in ROOMS]
    assert bad == []


def test_declared_layers_are_the_catalogs():
    """The core's list of every layer is the one catalog's (layers.catalog.layer_defs), as
    registered under the cim.catalog entry point: the loaded layers and the result layers."""
    from cim.layerdefs import LAYERS, declared_layers
    from layers.catalog import layer_defs

    declared = declared_layers()
    assert list(declared) == list(layer_defs())
    assert set(LAYERS) < set(declared)
    assert {"cases", "alarms", "health_indicators"} <= set(declared) - set(LAYERS)
