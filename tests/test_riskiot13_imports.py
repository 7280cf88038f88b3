"""The risk list and lifeline monitoring depend on each other one way (review 13): the
monitoring room (layers/iot) calls the risk list (layers/risk) — an alarm raises and
restores a risk point through layers.risk.alarm — and the risk list imports nothing of the
monitoring room. `cim risk assess` imported layers.iot.alarms (lazily, inside a function) for
the raise of the alarms active on the points it wrote, and layers.iot.alarms imported
layers.risk.alarm: a cycle between the two rooms. What an alarm raises is now written on the
alarm (detail.raises_risk), which layers.risk.alarm reads."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def _imports(f):
    """Every module the file names in an import — also inside functions, and by
    importlib.import_module / __import__ with a literal name."""
    for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield node.lineno, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x inside layers/risk
                pkg = f.relative_to(PROJECT_ROOT).parent.as_posix().replace("/", ".")
                base = ".".join([pkg, base]) if base else pkg
            yield node.lineno, [base, *(f"{base}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Call) and node.args and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str) \
                and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                     or (isinstance(node.func, ast.Attribute)
                         and node.func.attr == "import_module")):
            yield node.lineno, [node.args[0].value]


def test_the_risk_list_imports_nothing_of_the_monitoring_room():
    bad = []
    for f in sorted((PROJECT_ROOT / "layers" / "risk").rglob("*.py")):
        for line, names in _imports(f):
            bad += [f"{f.relative_to(PROJECT_ROOT)}:{line}: {n}" for n in names
                    if n == "layers.iot" or n.startswith("layers.iot.")]
    assert bad == []


def test_the_monitoring_room_does_import_the_risk_list():
    """The one direction left is the monitoring room's: the check above is not vacuous."""
    found = [n for f in (PROJECT_ROOT / "layers" / "iot").rglob("*.py")
             for _, names in _imports(f) for n in names if n.startswith("layers.risk")]
    assert "layers.risk.alarm" in found


def test_importing_every_risk_module_loads_no_monitoring_module():
    """Also through a third module: every module of layers/risk imported in a fresh
    interpreter, and no layers.iot module is loaded."""
    code = ("import importlib, pkgutil, sys, layers.risk as r\n"
            "for m in pkgutil.iter_modules(r.__path__):\n"
            "    importlib.import_module('layers.risk.' + m.name)\n"
            "print(sorted(n for n in sys.modules if n == 'layers.iot' "
            "or n.startswith('layers.iot.')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
