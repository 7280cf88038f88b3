"""The live layers of the QGIS project redraw on their own (review 11): sensors, the active
alarms and the open cases (``layers.catalog.live_layers``) change while the platform runs, and
the web map reloads them as their data moves; QGIS kept drawing an alarm cleared or a case
closed long ago until the planner moved the map. Read back by real QGIS."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from cim.db.engine import drop_database
from layers.catalog import live_layers
from tests.conftest import make_db, run_cli, server_url
from tests.test_qgis_project import OPEN_PROJECT, SYSTEM_PYTHON, qgis_missing

READ = OPEN_PROJECT + r'''
print(json.dumps({"read": ok, "layers": [
    {"table": l.dataProvider().uri().table(), "valid": l.isValid(),
     "auto": l.hasAutoRefreshEnabled(), "ms": l.autoRefreshInterval()}
    for l in p.mapLayers().values()]}))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def pdb(jining_profile):
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    d = make_db("qgisproject11", jining_profile)
    yield d
    drop_database(server_url(), d.name)


def test_live_layers_refresh_on_their_own_and_the_others_do_not(pdb, tmp_path):
    service = tmp_path / "pg_service.conf"
    run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cimlive11",
             "--service-file", str(service), "--no-db"], pdb.env(), check=True)
    (tmp_path / "read.py").write_text(READ)
    proc = subprocess.run([SYSTEM_PYTHON, str(tmp_path / "read.py"), str(tmp_path / "p.qgs")],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PGSERVICEFILE": str(service),
                               "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["read"] and got["layers"]
    live = set(live_layers())
    assert {x["table"] for x in got["layers"]} >= live  # listed while still empty
    for x in got["layers"]:
        assert x["valid"], x
        if x["table"] in live:
            assert x["auto"] and 0 < x["ms"] <= 60000, x
        else:
            assert not x["auto"], x
