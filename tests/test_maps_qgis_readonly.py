"""The QGIS project is a map to look at: its layers open read-only in real QGIS, and the pg
service `cim qgis-project --service-file` writes names the read-only role. The entry named the
admin's user (the current connection) and the layers were editable: a planner could change or
delete features in place, outside any load and its history, unseen by the tiles."""

from __future__ import annotations

import os

import psycopg
import pytest

from cim.db.roles import DEFAULT_PLANNER
from tests.qgis_fixture import OPEN_PROJECT, qgis_db, run_in_qgis, service_project

CHECK = OPEN_PROJECT + r'''
from qgis.core import QgsVectorDataProvider
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
    with qgis_db(jining_profile, "mapsro", buildings=True) as d:
        yield d


def test_layers_open_read_only_through_the_reader(qdb, tmp_path):
    project, service = service_project(qdb, tmp_path, "cimro")
    entry = dict(line.split("=", 1) for line in service.read_text().splitlines()
                 if "=" in line)
    assert entry["user"] == DEFAULT_PLANNER and entry["dbname"] == qdb.name
    assert "password" not in entry
    got = run_in_qgis(CHECK, str(project), service_file=service)
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
