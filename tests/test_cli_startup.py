"""What the ``cim`` command imports before it runs a command: the core and the rooms'
registrations only, never the heavy libraries a command imports when it runs (the approval
check's 2 s budget, issue 11, is mostly imports: docs/benchmarks.md)."""

from __future__ import annotations

import json
import subprocess
import sys

from cim.config import PROJECT_ROOT

HEAVY = ("numpy", "shapely", "pyproj", "psycopg", "sqlalchemy", "pandas", "geopandas",
         "pyogrio", "pyarrow", "matplotlib", "yaml", "flask", "pygeoapi")


def _imported_after(code: str) -> list[str]:
    probe = (f"import json, sys\n{code}\n"
             f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_registering_every_command_imports_no_heavy_library():
    assert _imported_after("from cim.cli import register_rooms\nregister_rooms()") == []


def test_help_imports_no_heavy_library():
    code = ("import click\nfrom cim.cli import cli, register_rooms\nregister_rooms()\n"
            "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit:\n"
            "    pass")
    assert _imported_after(code) == []


def test_a_deliverys_dataset_is_told_without_heavy_libraries(tmp_path):
    """A reload's early key read (loaders.cli._early_keys) starts beside the command's
    imports; telling its dataset (loaders.field_names.delivery_dataset: --dataset, a rejects
    export's, else the file name) imported cim.profile and with it pyproj and NumPy first
    (0.1 s), and a 1 % reload of a million footprints went from 28–30 % of a first load to
    31 %."""
    f = tmp_path / "楼栋.csv"
    f.write_text("编号,名称\n1,a\n", encoding="utf-8")
    code = ("from loaders.field_names import delivery_dataset\n"
            f"assert delivery_dataset({str(f)!r}, None) == '楼栋'")
    assert _imported_after(code) == []
