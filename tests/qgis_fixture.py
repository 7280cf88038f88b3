"""What the tests that ask real QGIS need: its python (the system python3: Debian's
python3-qgis), the start of a script that opens a project, a database of their own, the
project written with a pg service file, and a script run there whose last printed line is its
JSON answer. QGIS is slow to start, so each test runs one script and reads all it needs from
that one answer."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SAMPLE_BUILDINGS, TestDB, drop_database, make_db, run_cli, server_url

SYSTEM_PYTHON = "/usr/bin/python3"
# the start of a script QGIS's python runs on a project (its path the first argument): the
# project read, ``p`` and ``ok`` for what the test's own lines ask of it
OPEN_PROJECT = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication, QgsProject
app = QgsApplication([], False)
app.initQgis()
p = QgsProject.instance()
ok = p.read(sys.argv[1])
'''


def qgis_missing() -> str | None:
    """Why QGIS's python cannot import qgis.core, or None when it can."""
    try:
        proc = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True,
                              text=True, timeout=120, env={**os.environ,
                                                           "QT_QPA_PLATFORM": "offscreen"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if proc.returncode == 0 else proc.stderr.strip().splitlines()[-1]


@contextlib.contextmanager
def qgis_db(profile, suffix: str, *, buildings: bool = False) -> Iterator[TestDB]:
    """A database of its own (the sample buildings loaded when asked), dropped when the block
    ends; the test skips, saying why, where QGIS is not installed — before any database is
    made."""
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    d = make_db(suffix, profile)
    try:
        if buildings:
            from loaders.buildings import load_buildings

            load_buildings(d.conninfo, profile, SAMPLE_BUILDINGS)
        yield d
    finally:
        drop_database(server_url(), d.name)


def service_project(d: TestDB, folder: Path, service: str) -> tuple[Path, Path]:
    """`cim qgis-project` into ``folder`` (p.qgs, connecting through ``service`` of the
    pg_service.conf it writes there; not saved in the database); the two paths."""
    project, service_file = folder / "p.qgs", folder / "pg_service.conf"
    run_cli(["qgis-project", str(project), "--service", service,
             "--service-file", str(service_file), "--no-db"], d.env(), check=True)
    return project, service_file


def run_in_qgis(script: str, *args: str, service_file: Path) -> dict[str, Any]:
    """``script`` run by QGIS's python with ``args`` (its ``sys.argv[1:]``), the service file
    libpq reads; the JSON of the last line it printed (a failure shows its stderr's end)."""
    proc = subprocess.run([SYSTEM_PYTHON, "-c", script, *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PGSERVICEFILE": str(service_file),
                                            "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
