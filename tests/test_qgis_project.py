"""`cim qgis-project` opened with REAL QGIS (Debian python3-qgis, headless): every layer
valid, in the storage CRS, styled with a categorized/rule-based renderer, exactly the current
features of its class (counted here with SQL), a render that is not blank and shows the pipe
class colours; the copy saved in qgis_projects opens too; layers added by hand get the default
style from public.layer_styles.

QGIS's python is the system python3, so tests/qgis_check.py runs there in a subprocess; the
test skips with a message when QGIS cannot be imported (`make test` installs it when it can).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import zipfile

import pytest
from sqlalchemy.engine import make_url

from cim.profile import DICTIONARY_DIR
from layers.styles import load_styles
from tests.conftest import (
    PROJECT_ROOT,
    SAMPLE_BUILDINGS,
    assess_risks,
    drop_database,
    load_network_samples,
    load_plan_and_base_samples,
    load_sensor_samples,
    make_db,
    replay_sample_day,
    run_cli,
    server_url,
)
from tests.qgis_fixture import OPEN_PROJECT as OPEN_PROJECT  # other test files import it here
from tests.qgis_fixture import SYSTEM_PYTHON, qgis_missing

HEALTH_YEAR = 2026
GEOMETRY = {"点": ("ST_Point", "ST_MultiPoint"), "线": ("ST_LineString", "ST_MultiLineString"),
            "面": ("ST_Polygon", "ST_MultiPolygon")}


def dictionary(name: str) -> list[dict[str, str]]:
    with open(DICTIONARY_DIR / f"{name}.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def qdb(jining_profile):
    """A database of its own: the samples loaded, then a few features retired (valid_to set)
    so "current features only" is visible in the counts."""
    why = qgis_missing()
    if why:
        pytest.skip(f"QGIS is not installed for {SYSTEM_PYTHON} (apt-get install python3-qgis): "
                    f"{why}")
    from loaders.buildings import load_buildings

    d = make_db("qgis", jining_profile)
    load_buildings(d.conninfo, jining_profile, SAMPLE_BUILDINGS)
    load_network_samples(d, jining_profile)
    # as `make demo`: the base layers, the health check of the year and the risk list
    load_plan_and_base_samples(d, jining_profile)
    from layers.health.compute import compute

    compute(d.conninfo, HEALTH_YEAR - 1, jining_profile)  # an earlier year: not on the map
    compute(d.conninfo, HEALTH_YEAR, jining_profile)
    assess_risks(d, jining_profile)
    load_sensor_samples(d, jining_profile)  # issue 14: sensors, and the day's alarms and cases
    replay_sample_day(d, jining_profile)
    for table, where in (("buildings", "TRUE"), ("pipe_segments", "pipe_class = '01'"),
                         ("pipe_points", "pipe_class = '02'"), ("components", "TRUE")):
        d.rows(f"UPDATE {table} SET valid_to = now() WHERE id IN (SELECT id FROM {table} "
               f"WHERE {where} ORDER BY id LIMIT 5) RETURNING id")
    yield d
    drop_database(server_url(), d.name)


@pytest.fixture(scope="module")
def checked(qdb, tmp_path_factory):
    out = tmp_path_factory.mktemp("qgis")
    env = qdb.env()
    run_cli(["styles", "apply"], env, check=True)
    proc = run_cli(["qgis-project", str(out / "onemap.qgs"), "--service", "cimtest",
                    "--service-file", str(out / "pg_service.conf"), "--json"], env, check=True)
    result = json.loads(proc.stdout)
    zoom = qdb.scalar("SELECT concat_ws(',', ST_X(c) - 300, ST_Y(c) - 300, ST_X(c) + 300, "
                      "ST_Y(c) + 300) FROM (SELECT ST_Centroid(geom) c FROM pipe_segments "
                      "WHERE pipe_class = '01' AND valid_to IS NULL ORDER BY id LIMIT 1) s")
    qenv = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CIM_QGIS_SERVICE": "cimtest",
            "PGSERVICEFILE": str(out / "pg_service.conf")}
    password = make_url(qdb.url).password
    if password:  # the project and the service file never hold it: libpq's .pgpass does
        pgpass = out / "pgpass"
        u = make_url(qdb.url)
        pgpass.write_text(f"{u.host}:{u.port}:{u.database}:{u.username}:{password}\n")
        pgpass.chmod(0o600)
        qenv["PGPASSFILE"] = str(pgpass)
    by_hand = {"buildings": "MultiPolygon", "pipe_segments": "LineStringZ", "components": "Point"}
    proc = subprocess.run([SYSTEM_PYTHON, str(PROJECT_ROOT / "tests" / "qgis_check.py"),
                           str(out / "onemap.qgs"), str(out), zoom, json.dumps(by_hand),
                           result["database"]],
                          capture_output=True, text=True, env=qenv, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out, result, json.loads(proc.stdout.strip().splitlines()[-1])


QGIS_RENDERERS = {"single": "singleSymbol", "categorized": "categorizedSymbol",
                  "rule-based": "RuleRenderer", "graduated": "graduatedSymbol"}


def expected_count(db, info: dict) -> int:
    """The SQL count of the current features a project layer should show, from its place in
    the tree (group names) and its table, never from the layer's own subset string."""
    table, path = info["table"], info["path"]
    where = ["valid_to IS NULL"]
    if path[0] == "地下管线":
        code = next(r["code"] for r in dictionary("pipe_classes") if r["name"] + "管线" == path[1])
        where.append(f"pipe_class = '{code}'")
    elif path[0] == "城市部件":
        code = next(r["major"] for r in dictionary("components") if r["major_name"] == path[1])
        kinds = GEOMETRY[info["name"][-2]]
        where.append(f"major_code = '{code}' AND ST_GeometryType(geom) IN {kinds!r}")
    elif info["name"][-1:] == "）" and info["name"][-2] in GEOMETRY:  # a mixed table's kind
        where.append(f"ST_GeometryType(geom) IN {GEOMETRY[info['name'][-2]]!r}")
    if table in ("alarms", "cases"):  # the active alarms and the open cases
        where.append({"alarms": "status = 'active'",
                      "cases": "state NOT IN ('结案', '作废')"}[table])
    if path[0] == "城市体检":  # the district health index of the year computed last
        where.append(f"year = {HEALTH_YEAR} AND unit_kind = 'district' "
                     "AND indicator_id = 'health_index'")
    return db.scalar(f"SELECT count(*) FROM {table} WHERE {' AND '.join(where)}")


def test_project_file_holds_no_password_and_names_the_service(qdb, checked):
    out, result, _ = checked
    text = (out / "onemap.qgs").read_text(encoding="utf-8")
    assert "service='cimtest'" in text and "password" not in text.lower()
    assert "user=" not in text and "host=" not in text
    service = (out / "pg_service.conf").read_text()
    u = make_url(qdb.url)
    assert "[cimtest]" in service and f"dbname={u.database}" in service
    assert f"port={u.port}" in service and "password" not in service
    content = qdb.scalar("SELECT content FROM public.qgis_projects WHERE name = 'cim_onemap'")
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        assert z.namelist() == ["cim_onemap.qgs"]


def test_qgis_opens_every_layer_valid_styled_with_current_counts(qdb, checked):
    _, result, q = checked
    assert q["read"] and q["crs"] == f"EPSG:{qdb.profile.srid}"
    layers = q["layers"]
    assert len(layers) == result["layers"]
    assert {tuple(x["path"][:1]) for x in layers} == {("规划底图",), ("建筑",), ("地下管线",),
                                                        ("城市部件",), ("规划管控",),
                                                        ("城市基础",), ("城市治理风险",),
                                                        ("城市体检",), ("城市运行监测",)}
    for info in layers:
        assert info["valid"], info
        assert info["crs"] == f"EPSG:{qdb.profile.srid}", info
        assert info["count"] == expected_count(qdb, info), info
        # the renderer the styles file declares for the layer (population: one symbol)
        declared = load_styles(qdb.profile).layer(info["table"]).renderer
        assert info["renderer"] == QGIS_RENDERERS[declared], info
    # every current feature of a split table is in exactly one sublayer
    for table in ("pipe_segments", "pipe_points", "components", "buildings"):
        current = qdb.scalar(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL")
        assert current < qdb.scalar(f"SELECT count(*) FROM {table}")  # some are retired
        assert sum(x["count"] for x in layers if x["table"] == table) == current
    for table in ("control_lines", "population"):  # mixed tables outside a split group
        current = qdb.scalar(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL")
        assert sum(x["count"] for x in layers if x["table"] == table) == current > 0
    water = next(x for x in layers if x["path"] == ["地下管线", "给水管线"]
                 and x["table"] == "pipe_segments")
    colour = next(r["colour"] for r in dictionary("pipe_classes") if r["code"] == "01")
    assert water["colors"] == {"01": "#" + "".join(f"{int(p):02x}" for p in colour.split(","))}


def test_health_and_risk_layers_valid_with_their_counts(qdb, checked):
    """Issue 13 acceptance: the health check and the risk list are in the QGIS project."""
    _, _, q = checked
    health = [x for x in q["layers"] if x["path"] == ["城市体检"]]
    risk = [x for x in q["layers"] if x["path"] == ["城市治理风险"]]
    assert [x["table"] for x in health] == ["health_indicators"]
    assert [x["table"] for x in risk] == ["risk_points"]
    districts = qdb.scalar("SELECT count(DISTINCT unit_code) FROM health_indicators "
                           "WHERE unit_kind = 'district'")
    assert health[0]["valid"] and health[0]["count"] == districts > 0
    assert risk[0]["valid"] and risk[0]["count"] == qdb.scalar(
        "SELECT count(*) FROM risk_points WHERE valid_to IS NULL") > 0
    spec = load_styles(qdb.profile).layer("health_indicators")
    assert health[0]["attr"] == "value"
    assert health[0]["ranges"] == [[c.lower, c.upper, c.color.hex] for c in spec.classes]


def test_operations_layers_valid_with_their_counts(qdb, checked):
    """Issue 14: sensors, the active alarms and the open cases are in the QGIS project."""
    _, _, q = checked
    ops = {x["table"]: x for x in q["layers"] if x["path"] == ["城市运行监测"]}
    assert sorted(ops) == ["alarms", "cases", "sensors"]
    for table, where in (("sensors", "TRUE"), ("alarms", "status = 'active'"),
                         ("cases", "state NOT IN ('结案', '作废')")):
        n = qdb.scalar(f"SELECT count(*) FROM {table} WHERE valid_to IS NULL AND {where}")
        assert ops[table]["valid"] and ops[table]["count"] == n > 0, (table, ops[table])
    assert qdb.scalar("SELECT count(*) FROM alarms WHERE status = 'cleared'") > 0  # not shown


def test_render_is_not_blank_and_shows_pipe_colours(checked):
    out, _, q = checked
    assert (out / "onemap.png").stat().st_size > 0
    assert q["full"]["nonwhite"] > 0.01 * 800 * 800
    assert q["zoom"]["scale"] < 10000  # pipes are drawn at 1:25 000 and larger
    for code in ("01", "02"):  # the sample has water and drainage pipes there
        colour = next(r["colour"] for r in dictionary("pipe_classes") if r["code"] == code)
        hexc = "#" + "".join(f"{int(p):02x}" for p in colour.split(","))
        assert q["zoom"]["colors"].get(hexc, 0) >= 50, (hexc, q["zoom"]["colors"])


def test_database_copy_and_default_styles(checked):
    _, result, q = checked
    assert result["database"].startswith("postgresql:?service=cimtest&")
    assert q["db_read"] and len(q["db_layers"]) == result["layers"] and all(q["db_layers"])
    assert q["by_hand"]["buildings"] == {"valid": True, "renderer": "categorizedSymbol",
                                         "attr": "use_code"}
    assert q["by_hand"]["pipe_segments"]["attr"] == "pipe_class"
    assert q["by_hand"]["components"]["attr"] == "major_code"


def test_an_output_qgis_cannot_open_is_refused_before_anything_is_written(db, tmp_path):
    out = tmp_path / "onemap.txt"
    proc = run_cli(["qgis-project", str(out), "--no-db"], db.env())
    assert proc.returncode == 2 and ".qgs or .qgz" in proc.stderr, proc.stderr
    assert not out.exists()
