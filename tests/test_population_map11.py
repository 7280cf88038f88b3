"""The one map shows a statistics unit's latest population, once (review 11): population keeps
a row per unit and year, every one current, and the map drew them all — the vector tiles and
the QGIS project stacked each year's figure on the cell with the labels over each other. The
map now shows, per unit, its latest year and of that year the delivery loaded last (the rule
the health check counts by); the OGC API items keep every year.

Known by construction: cell A has 2025 (10) and 2026 (20) → 20 of 2026; cell B only 2025 (30)
→ 30 (an older year is the latest of its unit, not hidden by another unit's newer one); cell C
has 2026 twice, 40 from the first delivery and 41 from a second loaded after it → 41. Read
over HTTP from the real app (tiles, items) and by real QGIS from the project `cim
qgis-project` writes."""

from __future__ import annotations

import json
import math
import os
import subprocess

import mapbox_vector_tile
import pyproj
import pytest
import requests
from sqlalchemy.engine import make_url

from cim.db.engine import drop_database
from loaders.population import load_population
from tests.conftest import make_db, run_cli, server_url, start_api
from tests.test_qgis_project import OPEN_PROJECT, SYSTEM_PYTHON, qgis_missing

# (cell, year, residents) of each delivery, in load order
FIRST = [("A", 2025, 10), ("A", 2026, 20), ("B", 2025, 30), ("C", 2026, 40)]
SECOND = [("C", 2026, 41)]
ON_MAP = {"A": (2026, 20), "B": (2025, 30), "C": (2026, 41)}
Z = 14  # population's detail zoom: every published column in the tile

READ = OPEN_PROJECT + r'''
out = []
for l in p.mapLayers().values():
    if l.dataProvider().uri().table() != "population":
        continue
    out.append({"valid": l.isValid(), "subset": l.subsetString(),
                "features": [[f["unit_code"], f["year"], f["residents"]]
                             for f in l.getFeatures()] if l.isValid() else None})
print(json.dumps({"read": ok, "layers": out}))
app.exitQgis()
'''


@pytest.fixture(scope="module")
def pdb(jining_profile, tmp_path_factory):
    d = make_db("popmap11", jining_profile)
    cells = d.rows("SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p "
                   "FROM grid_cells WHERE valid_to IS NULL ORDER BY code LIMIT 3) q")
    d.cells = {k: (code, x, y) for k, (code, x, y) in zip("ABC", cells)}
    work = tmp_path_factory.mktemp("popmap11")
    for n, (dataset, rows) in enumerate((("popmap11a", FIRST), ("popmap11b", SECOND))):
        path = work / f"population{n}.csv"
        path.write_text("网格编码,常住人口,年份\n" + "".join(
            f"{d.cells[k][0]},{residents},{year}\n" for k, year, residents in rows),
            encoding="utf-8")
        r = load_population(d.conninfo, d.profile, path, dataset=dataset)
        assert (r.read, r.rejected) == (len(rows), 0), r.to_dict()
    assert d.scalar("SELECT count(*) FROM population WHERE valid_to IS NULL") == 5
    yield d
    drop_database(server_url(), d.name)


def expected(pdb) -> dict[str, tuple[int, int]]:
    return {pdb.cells[k][0]: v for k, v in ON_MAP.items()}


def tile_of(x: float, y: float, srid: int) -> tuple[int, int]:
    """(column, row) of the z :data:`Z` tile holding the storage position (slippy-map
    formulas)."""
    lon, lat = pyproj.Transformer.from_crs(f"EPSG:{srid}", "OGC:CRS84",
                                           always_xy=True).transform(x, y)
    n = 2 ** Z
    r = math.radians(lat)
    return (int((lon + 180.0) / 360.0 * n),
            int((1.0 - math.log(math.tan(r) + 1.0 / math.cos(r)) / math.pi) / 2.0 * n))


def test_tiles_show_each_units_latest_year_once_and_the_items_every_year(pdb, tmp_path):
    proc, base = start_api(pdb.url, pdb.profile, tmp_path)
    try:
        seen: dict[str, list[tuple[int, int]]] = {}
        for code, x, y in pdb.cells.values():
            col, row = tile_of(x, y, pdb.profile.srid)
            r = requests.get(f"{base}/collections/population/tiles/WebMercatorQuad/"
                             f"{Z}/{row}/{col}", timeout=60)
            assert r.status_code == 200, r.text[:500]
            layer = mapbox_vector_tile.decode(r.content).get("population", {"features": []})
            seen[code] = [(f["properties"]["year"], f["properties"]["residents"])
                          for f in layer["features"] if f["properties"]["unit_code"] == code]
        assert seen == {c: [v] for c, v in expected(pdb).items()}
        items = requests.get(f"{base}/collections/population/items?f=json&limit=100",
                             timeout=60).json()
    finally:
        proc.terminate()
        proc.wait(10)
    listed = sorted((f["properties"]["unit_code"], f["properties"]["year"],
                     f["properties"]["residents"]) for f in items["features"])
    assert listed == sorted((pdb.cells[k][0], year, n) for k, year, n in FIRST + SECOND)


def test_the_qgis_project_shows_each_units_latest_year_once(pdb, tmp_path):
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON}: {why}")
    service = tmp_path / "pg_service.conf"
    run_cli(["qgis-project", str(tmp_path / "p.qgs"), "--service", "cimpop11",
             "--service-file", str(service), "--no-db"], pdb.env(), check=True)
    (tmp_path / "read.py").write_text(READ)
    env = {**os.environ, "PGSERVICEFILE": str(service), "QT_QPA_PLATFORM": "offscreen"}
    u = make_url(pdb.url)
    if u.password:  # the project and the service file never hold it: libpq's .pgpass does
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"{u.host}:{u.port}:{u.database}:{u.username}:{u.password}\n")
        pgpass.chmod(0o600)
        env["PGPASSFILE"] = str(pgpass)
    proc = subprocess.run([SYSTEM_PYTHON, str(tmp_path / "read.py"), str(tmp_path / "p.qgs")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["read"] and got["layers"], got
    features = []
    for lyr in got["layers"]:
        assert lyr["valid"], lyr
        features += lyr["features"]
    assert sorted(features) == sorted([c, *v] for c, v in expected(pdb).items())
