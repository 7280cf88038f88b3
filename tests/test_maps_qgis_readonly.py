"""The QGIS project is a map to look at: its layers open read-only in real QGIS, and the pg
service `cim qgis-project --service-file` writes names the read-only role. The entry named the
admin's user (the current connection) and the layers were editable: a planner could change or
delete features in place, outside any load and its history, unseen by the tiles."""

from __future__ import annotations

import json
import os
import subprocess

import psycopg
import pytest

from cim.db.engine import drop_database
from cim.db.roles import DEFAULT_PLANNER
from loaders.buildings import load_buildings
from tests.conftest import SAMPLE_BUILDINGS, make_db, run_cli, server_url
from tests.test_qgis_project import SYSTEM_PYTHON, qgis_missing

CHECK = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication, QgsProject, QgsVectorDataProvider
app = QgsApplication([], False)
app.initQgis()
p = QgsProject.instance()
ok = p.read(sys.argv[1])
out = []
for lyr in p.mapLayers().values():
    caps = lyr.dataProvider().capabilities() if lyr.isValid() else 0
    out.append({"name": lyr.name(), "valid": lyr.isValid(), "read_only": lyr.readOnly(),
                "can_delete": bool(caps & QgsVectorDataProvider.DeleteFeatures),
                "edits": lyr.startEditing()})
    lyr.rollBack()
print(json.dumps({"read": ok, "layers": out}))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def qdb(jining_profile):
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    d = make_db("mapsro", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    yield d
    drop_database(server_url(), d.name)


def test_layers_open_read_only_through_the_reader(qdb, tmp_path):
    service = tmp_path / "pg_service.conf"
    run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cimro",
             "--service-file", str(service), "--no-db"], qdb.env(), check=True)
    entry = dict(line.split("=", 1) for line in service.read_text().splitlines()
                 if "=" in line)
    assert entry["user"] == DEFAULT_PLANNER and entry["dbname"] == qdb.name
    assert "password" not in entry
    env = {**os.environ, "PGSERVICEFILE": str(service)}
    (tmp_path / "check.py").write_text(CHECK)
    proc = subprocess.run([SYSTEM_PYTHON, str(tmp_path / "check.py"), str(tmp_path / "p.qgs")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["read"] and got["layers"]
    for lyr in got["layers"]:
        assert lyr["valid"] and lyr["read_only"] and not lyr["edits"], lyr
        assert not lyr["can_delete"], lyr
    # the service's connection cannot write a layer either
    os.environ["PGSERVICEFILE"] = str(service)
    try:
        with psycopg.connect("service=cimro") as conn, pytest.raises(psycopg.Error):
            conn.execute("UPDATE buildings SET valid_to = now() WHERE id = "
                         "(SELECT min(id) FROM buildings)")
    finally:
        del os.environ["PGSERVICEFILE"]
    assert qdb.scalar("SELECT count(*) FROM buildings WHERE valid_to IS NOT NULL") == 0
